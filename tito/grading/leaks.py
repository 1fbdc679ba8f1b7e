"""What must never reach students, and scans for it.

A *secret line* is a line that appears inside a solution block (or a hidden
test block) of the instructor's notebook and nowhere outside such blocks.
Lines are compared with their whitespace collapsed; very short lines
(`pass`, `return x`) say nothing and are skipped.
"""

from __future__ import annotations

import html
import re

SOLUTION_DELIMITERS = ("BEGIN SOLUTION", "END SOLUTION")  # nbgrader's ClearSolutions defaults
HIDDEN_TEST_DELIMITERS = ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS")  # nbgrader's ClearHiddenTests defaults
MIN_SECRET_LENGTH = 8
_SPACE_RE = re.compile(r"\s+")
_TAG_RE = re.compile(r"<[^>]*>")


def normalize(text: str) -> str:
    return _SPACE_RE.sub(" ", text).strip()


def _split_regions(source: str, delimiters: tuple[str, str]) -> tuple[list[str], list[str]]:
    begin, end = delimiters
    inside, outside, in_region = [], [], False
    for line in source.splitlines():
        if begin in line:
            in_region = True
        elif end in line:
            in_region = False
        else:
            (inside if in_region else outside).append(line)
    return inside, outside


def secret_lines(nb, delimiters: tuple[str, str]) -> set[str]:
    """Normalised lines found only inside `delimiters` regions of `nb`.

    A line that the notebook also shows outside those regions (a docstring that
    spells out the answer, say) is the author's choice, not a secret.
    """
    inside, outside = set(), []
    for cell in nb.cells:
        cell_inside, cell_outside = _split_regions(cell.source, delimiters)
        inside.update(normalize(line) for line in cell_inside)
        outside.extend(cell_outside)
    shown = normalize("\n".join(outside))
    return {line for line in inside if len(line) >= MIN_SECRET_LENGTH and line not in shown}


def instructor_secrets(source_nb) -> set[str]:
    """Lines of solutions and hidden tests: none may appear in a released notebook."""
    return secret_lines(source_nb, SOLUTION_DELIMITERS) | secret_lines(source_nb, HIDDEN_TEST_DELIMITERS)


def hidden_test_lines(source_nb) -> set[str]:
    return secret_lines(source_nb, HIDDEN_TEST_DELIMITERS)


def notebook_text(nb) -> str:
    """Everything a student could read in a notebook: sources and outputs, normalised."""
    parts = []
    for cell in nb.cells:
        parts.append(cell.source)
        for output in cell.get("outputs", []):
            parts.append(str(output.get("text", "")))
            parts.extend(str(v) for v in (output.get("data") or {}).values())
            parts.extend(output.get("traceback", []) or [])
            parts.append(str(output.get("evalue", "")))
    return normalize("\n".join(parts))


def html_text(document: str) -> str:
    """The text a browser shows for an HTML page (tags dropped, entities decoded), normalised."""
    document = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", document)
    return normalize(html.unescape(_TAG_RE.sub("", document)))


def find_leaks(secrets: set[str], text: str) -> list[str]:
    """The secret lines that occur in `text`."""
    text = normalize(text)
    return sorted(line for line in secrets if line in text)

"""What must never reach students, the scans for it, and the feedback preprocessor that hides hidden tests.

A *secret line* is a line that appears inside a solution block (or a hidden
test block) of the instructor's notebook and nowhere outside such blocks.
Lines are compared with their whitespace collapsed; very short lines
(`pass`, `return x`) say nothing and are skipped.

nbgrader's feedback shows the autograded notebook, where OverwriteCells has put
hidden tests back. `hide_hidden_tests` (the `HideHiddenTests` preprocessor in
the course's GenerateFeedback preprocessors) replaces each hidden region by one
comment line, reduces the tracebacks of those cells to their last line, and
drops every output line that quotes a hidden test (e.g. an assertion without a
message, printed by the module's final test runner).
"""

from __future__ import annotations

import functools
import html
import re

from tito.notebook.cells import HIDDEN_TESTS, SOLUTION, Delimiters, parse_regions, split_regions

MIN_SECRET_LENGTH = 8
HIDDEN_MARKER = "# (hidden tests: not shown)"
_SPACE_RE = re.compile(r"\s+")
_TAG_RE = re.compile(r"<[^>]*>")


def normalize(text: str) -> str:
    return _SPACE_RE.sub(" ", text).strip()


def secret_lines(nb, delimiters: Delimiters) -> set[str]:
    """Normalised lines found only inside `delimiters` regions of `nb`.

    A line that the notebook also shows outside those regions (a docstring that
    spells out the answer, say) is the author's choice, not a secret.
    """
    inside, outside = set(), []
    for cell in nb.cells:
        cell_inside, cell_outside = split_regions(cell.source, delimiters)
        inside.update(normalize(line) for line in cell_inside)
        outside.extend(cell_outside)
    shown = normalize("\n".join(outside))
    return {line for line in inside if len(line) >= MIN_SECRET_LENGTH and line not in shown}


def instructor_secrets(source_nb) -> set[str]:
    """Lines of solutions and hidden tests: none may appear in a released notebook."""
    return secret_lines(source_nb, SOLUTION) | secret_lines(source_nb, HIDDEN_TESTS)


def hidden_test_lines(source_nb) -> set[str]:
    return secret_lines(source_nb, HIDDEN_TESTS)


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


# ------------------------------------------------------------------ feedback


def _hide_regions(cell, delimiters: Delimiters) -> list[str] | None:
    """Replace each hidden region of `cell` by one marker line; return the hidden lines (None: no region)."""
    parsed = parse_regions(cell.source, delimiters)
    if not parsed.regions:
        return None
    inside, begins = parsed.inside(), {region.begin for region in parsed.regions}
    kept = []
    for index, line in enumerate(parsed.lines):
        if index in begins:
            kept.append(line[: len(line) - len(line.lstrip())] + HIDDEN_MARKER)
        elif index not in parsed.markers and index not in inside:
            kept.append(line)
    cell.source = "\n".join(kept)
    return [parsed.lines[index] for index in sorted(inside)]


def _quotes(line: str, hidden: set[str]) -> bool:
    text = normalize(line)
    return any(secret in text for secret in hidden)


def _drop_quoting_lines(output, hidden: set[str]) -> None:
    if isinstance(output.get("text"), str):
        output["text"] = "".join(l for l in output["text"].splitlines(keepends=True) if not _quotes(l, hidden))
    if "traceback" in output:
        output["traceback"] = [l for l in output["traceback"] if not _quotes(l, hidden)]
    if isinstance(output.get("evalue"), str) and _quotes(output["evalue"], hidden):
        output["evalue"] = "(hidden test)"
    for mime, value in list((output.get("data") or {}).items()):
        if isinstance(value, str):
            output["data"][mime] = "".join(l for l in value.splitlines(keepends=True) if not _quotes(l, hidden))


def hide_hidden_tests(nb, delimiters: Delimiters = HIDDEN_TESTS) -> None:
    """Hidden tests out of `nb` (in place): their source regions, and every output line that quotes them."""
    hidden: set[str] = set()
    for cell in nb.cells:
        lines = _hide_regions(cell, delimiters)
        if lines is None:
            continue
        hidden.update(normalize(line) for line in lines)
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
    hidden = {line for line in hidden if len(line) >= MIN_SECRET_LENGTH}
    if hidden:
        for cell in nb.cells:
            for output in cell.get("outputs", []):
                _drop_quoting_lines(output, hidden)


@functools.cache
def hide_hidden_tests_preprocessor() -> type:
    """The nbgrader preprocessor `HideHiddenTests`, built on first use: importing nbgrader takes
    seconds, and the grader's kernel launcher imports this package."""
    from nbgrader.preprocessors import ClearHiddenTests

    class HideHiddenTests(ClearHiddenTests):
        """nbgrader preprocessor: hidden tests out of feedback, sources and outputs (`hide_hidden_tests`)."""

        def preprocess(self, nb, resources):
            delimiters = Delimiters(self.begin_test_delimeter, self.end_test_delimeter, HIDDEN_TESTS.name)
            hide_hidden_tests(nb, delimiters)
            return nb, resources

    return HideHiddenTests

"""Feedback HTML for students, without hidden tests.

nbgrader's feedback shows the autograded notebook, where OverwriteCells has put
hidden tests back. `HideHiddenTests` (in the course's GenerateFeedback
preprocessors) replaces each hidden region by one comment line, reduces the
tracebacks of those cells to their last line, and drops every output line that
quotes a hidden test (e.g. an assertion without a message, printed by the
module's final test runner). `generate_feedback` then scans each HTML file and
removes any that still quotes a hidden test.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.preprocessors import ClearHiddenTests

from tito.grading.leaks import MIN_SECRET_LENGTH, find_leaks, hidden_test_lines, html_text, normalize
from tito.grading.paths import CoursePaths, notebook_id

HIDDEN_MARKER = "# (hidden tests: not shown)"


class HideHiddenTests(ClearHiddenTests):
    """nbgrader preprocessor: hidden tests out of feedback, sources and outputs."""

    def _hide_region(self, cell) -> tuple[bool, list[str]]:
        kept, hidden, in_region, found = [], [], False, False
        for line in cell.source.split("\n"):
            if self.begin_test_delimeter in line:
                in_region, found = True, True
                kept.append(line[: len(line) - len(line.lstrip())] + HIDDEN_MARKER)
            elif self.end_test_delimeter in line:
                in_region = False
            elif in_region:
                hidden.append(line)
            else:
                kept.append(line)
        if found:
            cell.source = "\n".join(kept)
        return found, hidden

    def preprocess(self, nb, resources):
        hidden: set[str] = set()
        for cell in nb.cells:
            found, lines = self._hide_region(cell)
            hidden.update(normalize(line) for line in lines)
            if found:
                for output in cell.get("outputs", []):
                    if output.get("output_type") == "error":
                        output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
        hidden = {line for line in hidden if len(line) >= MIN_SECRET_LENGTH}
        if hidden:
            for cell in nb.cells:
                for output in cell.get("outputs", []):
                    _drop_quoting_lines(output, hidden)
        return nb, resources


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


@dataclass
class FeedbackResult:
    module: str
    written: list[Path] = field(default_factory=list)
    removed_for_leaks: dict[str, list[str]] = field(default_factory=dict)  # student -> leaked lines


def generate_feedback(course: CoursePaths, module_key: str) -> FeedbackResult:
    """nbgrader generate_feedback for every autograded submission of the module, then a leak scan."""
    import nbformat
    from nbgrader.apps import NbGraderAPI

    from tito.errors import TitoError
    from tito.grading.config import course_config
    from tito.grading.course import nbgrader_error

    source = course.source_notebook(module_key)
    if not source.is_file():
        raise TitoError(f"module {module_key} has not been generated: run `tito nbgrader generate {module_key}`")
    api = NbGraderAPI(config=course_config(course))
    outcome = api.generate_feedback(module_key, force=True)
    if not outcome["success"]:
        raise TitoError(f"nbgrader generate_feedback failed for {module_key}: {nbgrader_error(outcome)}")
    secrets = hidden_test_lines(nbformat.read(source, as_version=4))
    result = FeedbackResult(module_key)
    for page in sorted(course.feedback.glob(f"*/{module_key}/{notebook_id(module_key)}.html")):
        leaks = find_leaks(secrets, html_text(page.read_text(encoding="utf-8")))
        if leaks:
            page.unlink()
            result.removed_for_leaks[page.parent.parent.name] = leaks
        else:
            result.written.append(page)
    return result


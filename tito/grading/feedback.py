"""Feedback HTML for students, without hidden tests.

nbgrader's generate_feedback renders each autograded notebook through the
course's preprocessors, among them `HideHiddenTests` (`tito.grading.leaks`).
`generate_feedback` then scans each HTML file and removes any that still quotes
a hidden test.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tito.errors import TitoError
from tito.grading.config import nbgrader_api, nbgrader_error
from tito.grading.leaks import find_leaks, hidden_test_lines, html_text
from tito.grading.paths import CoursePaths, notebook_id


@dataclass
class FeedbackResult:
    module: str
    written: list[Path] = field(default_factory=list)
    removed_for_leaks: dict[str, list[str]] = field(default_factory=dict)  # student -> leaked lines


def generate_feedback(course: CoursePaths, module_key: str) -> FeedbackResult:
    """nbgrader generate_feedback for every autograded submission of the module, then a leak scan."""
    import nbformat

    source = course.source_notebook(module_key)
    if not source.is_file():
        raise TitoError(f"module {module_key} has not been generated: run `tito nbgrader generate {module_key}`")
    outcome = nbgrader_api(course).generate_feedback(module_key, force=True)
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

"""nbgrader's own tools on this course read well: plain autograde (and formgrader's button) warns only
about real changes, and students submitted through tito have names in the gradebook."""

from __future__ import annotations

import copy

import nbformat
import pytest
from nbgrader.api import Gradebook
from nbgrader.apps import NbGraderAPI

from grading_support import write_notebook
from helpers import REPO
from tito.grading import collect, generate, release, submit
from tito.grading.config import course_config
from tito.grading.paths import COURSE_ID, CoursePaths
from tito.project import resolve_module

pytestmark = pytest.mark.slow
KEY = "02_activations"
HIDDEN_CELL = "test-softmax"  # the module's graded cell with hidden tests
EDITED_CELL = "test-relu"
CHANGED = "Attribute 'checksum' for cell {} has changed"


def sanitize_log(course: CoursePaths, student: str) -> str:
    """What nbgrader logs while it sanitizes a submission, as plain `nbgrader autograde` does first
    (its execute step is left out: it logs nothing about cells)."""
    config = course_config(course)
    config.Autograde.autograde_preprocessors = []
    outcome = NbGraderAPI(config=config).autograde(KEY, student, force=True, create=True)
    assert outcome["success"], outcome.get("error")
    return outcome.get("log", "")  # nbgrader leaves "log" out when nothing was logged


def test_plain_autograde_reports_only_real_changes_and_students_have_names(tmp_path):
    course = CoursePaths(tmp_path / "course")
    generate(resolve_module(KEY, REPO), course)
    release(KEY, course)
    released = nbformat.read(course.release_notebook(KEY), as_version=4)
    edited = copy.deepcopy(released)
    cell = next(c for c in edited.cells if c.metadata.get("nbgrader", {}).get("grade_id") == EDITED_CELL)
    cell.source += "\npass  # made to pass"
    submit(course, KEY, "untouched", write_notebook(released, tmp_path / "untouched.ipynb"))
    submit(course, KEY, "edited", write_notebook(edited, tmp_path / "edited.ipynb"))
    collect(KEY, course)

    untouched = sanitize_log(course, "untouched")
    assert "has changed" not in untouched, untouched
    edited_log = sanitize_log(course, "edited")
    assert CHANGED.format(EDITED_CELL) in edited_log and CHANGED.format(HIDDEN_CELL) not in edited_log, edited_log

    # the hidden tests are back in the sanitized notebook, as nbgrader always did
    source = nbformat.read(course.source_notebook(KEY), as_version=4)
    hidden_source = next(c.source for c in source.cells if c.metadata.get("nbgrader", {}).get("grade_id") == HIDDEN_CELL)
    sanitized = nbformat.read(course.autograded_notebook(KEY, "untouched"), as_version=4)
    assert "BEGIN HIDDEN TESTS" in hidden_source
    assert any(c.source == hidden_source for c in sanitized.cells)

    with Gradebook(course.db_url, COURSE_ID) as gb:
        names = {s.id: (s.first_name, s.last_name) for s in gb.students}
    assert names == {"untouched": ("", "untouched"), "edited": ("", "edited")}

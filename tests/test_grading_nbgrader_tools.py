"""nbgrader's own tools on this course read well: plain autograde (and formgrader's button) warns only
about real changes, and students submitted through tito have names in the gradebook."""

from __future__ import annotations

import copy
import json

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


def test_tito_sanitizes_as_nbgrader_autograde_does(tmp_path):
    """tito's Sanitizer against nbgrader's own autograde (sanitizing only), on the same submissions:
    the same notebook, the same files beside it, the same submission record."""
    from tito.grading.gradebook import batched_gradebook
    from tito.grading.sanitize import Sanitizer

    course = CoursePaths(tmp_path / "course")
    generate(resolve_module(KEY, REPO), course)
    release(KEY, course)
    released = nbformat.read(course.release_notebook(KEY), as_version=4)
    edited = copy.deepcopy(released)
    next(c for c in edited.cells if c.metadata.get("nbgrader", {}).get("grade_id") == EDITED_CELL).source += "\npass"
    deleted = copy.deepcopy(released)
    deleted.cells = [c for c in deleted.cells if c.metadata.get("nbgrader", {}).get("grade_id") != HIDDEN_CELL]
    deleted.metadata["kernelspec"] = {"name": "python2", "display_name": "Python 2", "language": "python"}
    cases = {"untouched": released, "edited": edited, "deleted": deleted}
    for student, nb in cases.items():
        submit(course, KEY, student, write_notebook(nb, tmp_path / f"{student}.ipynb"))
    collect(KEY, course)

    def autograded(student: str) -> dict[str, bytes]:
        """The autograded folder's files; a cell put back gets a random id, which is left out."""
        folder = course.autograded_notebook(KEY, student).parent
        files = {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
        submitted_ids = {c.get("id") for c in cases[student].cells}
        nb = nbformat.reads(files["activations_dev.ipynb"].decode(), as_version=4)
        for cell in nb.cells:
            cell["id"] = cell["id"] if cell.get("id") in submitted_ids else "put back"
        files["activations_dev.ipynb"] = json.dumps(nb, sort_keys=True).encode()
        return files

    def record(student: str) -> tuple:
        with Gradebook(course.db_url, COURSE_ID) as gb:
            return (gb.find_submission(KEY, student).timestamp,)

    nbgrader_made = {}
    for student in cases:
        sanitize_log(course, student)
        nbgrader_made[student] = (autograded(student), record(student))
    sanitizer = Sanitizer(course, KEY, course_config(course))
    with batched_gradebook(course.db_url, COURSE_ID):
        for student in cases:
            submitted = nbformat.read(course.submitted_notebook(KEY, student), as_version=4)
            sanitizer.sanitize(student, submitted)
    for student in cases:
        assert (autograded(student), record(student)) == nbgrader_made[student], student
    assert set(nbgrader_made["untouched"][0]) == {"activations_dev.ipynb", "timestamp.txt", "submission_secret.txt"}

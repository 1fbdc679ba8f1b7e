"""Modules whose grading journey is not walked elsewhere: through the real `tito nbgrader autograde`,
the blank release scores 0 and the reference solution 100 (modules 01 and 11 walk the whole journey
in test_grading_e2e, the student's side in test_student_e2e)."""

from __future__ import annotations

import csv
import io

import nbformat
import pytest

from grading_support import reference_course, write_notebook
from helpers import REPO, run_tito
from tito.project import resolve_module

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("number", ["12"])
def test_blank_scores_0_and_reference_100(tmp_path, number):
    from tito.grading.course import collect, submit

    module = resolve_module(number, REPO)
    course, (reference_student,), _ = reference_course(tmp_path, module, submissions=1)
    blank = nbformat.read(course.release_notebook(module.key), as_version=4)
    submit(course, module.key, "blank", write_notebook(blank, tmp_path / "blank.ipynb"))
    collect(module.key, course)

    tito = lambda *args: run_tito("nbgrader", *args, "--course", str(course.root))  # noqa: E731
    graded = tito("autograde", number, "--workers", "2", "--timeout", "120")
    assert graded.returncode == 0, graded.stderr + graded.stdout
    report = tito("report", "--format", "csv")
    assert report.returncode == 0, report.stderr
    rows = {r["student"]: r for r in csv.DictReader(io.StringIO(report.stdout)) if r["module"] == module.key}
    got = {student: (float(row["score"]), row["max_score"], row["status"]) for student, row in rows.items()}
    assert got == {reference_student: (100.0, "100", "graded"), "blank": (0.0, "100", "graded")}, rows

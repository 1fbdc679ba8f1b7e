"""Grades to Canvas from a course graded end to end: the import CSV's layout, late penalties, one regrade."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

import pytest

from grading_support import solved_release, write_notebook
from helpers import make_scratch_project, run_tito, write_scratch_module
from tito.grading import autograde, collect, generate, init_course, release, submit
from tito.grading.canvas import IDENTITY_COLUMNS
from tito.grading.paths import COURSE_ID, CoursePaths
from tito.project import resolve_module

pytestmark = pytest.mark.slow
KEY = "01_scratch"
MAPPING = """student,name,canvas_id,sis_user_id,sis_login_id,section
ada,"Lovelace, Ada",1001,AL01,ada.lovelace,Section 1
bob,"Babbage, Charles",1002,,cbabbage,Section 2
cyd,"Hopper, Grace",1003,GH03,ghopper,Section 1
"""


def check_canvas_layout(text: str) -> list[list[str]]:
    """The rules of Canvas's gradebook import, checked on their own; returns the student rows."""
    assert not text.startswith("\ufeff")
    table = list(csv.reader(io.StringIO(text)))
    header, points, students = table[0], table[1], table[2:]
    assert tuple(header[:5]) == IDENTITY_COLUMNS and len(header) > 5, header
    assert points[0] == "Points Possible" and points[1:5] == ["", "", "", ""], points
    assert all(float(p) > 0 for p in points[5:])
    assert all(len(row) == len(header) for row in table), "every row has every column"
    assert len({row[1] for row in students}) == len(students), "one row per Canvas ID"
    for row in students:
        assert row[0] and row[1].isdigit() and row[3], row
        for cell, possible in zip(row[5:], points[5:]):
            assert cell == "" or 0 <= float(cell) <= float(possible), row
    return students


def test_canvas_csv_late_penalty_and_one_regrade(tmp_path):
    (tmp_path / "project").mkdir()
    root = make_scratch_project(tmp_path / "project")
    write_scratch_module(root, KEY)
    course = init_course(CoursePaths(tmp_path / "course"))
    # the penalty rule is nbgrader's own late-submission plugin, set in the course's config
    with course.config_file.open("a") as config:
        config.write('c = get_config()\nc.LateSubmissionPlugin.penalty_method = "zero"\n')
    generate(resolve_module(KEY, root), course)
    release(KEY, course)
    solved = write_notebook(solved_release(course, KEY), tmp_path / "solved.ipynb")
    for student, notebook in (("ada", solved), ("bob", course.release_notebook(KEY)), ("cyd", solved)):
        submit(course, KEY, student, notebook)
    collect(KEY, course)
    from nbgrader.api import Gradebook

    due = datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(hours=1)
    with Gradebook(course.db_url, COURSE_ID) as gb:
        gb.update_or_create_assignment(KEY, duedate=due)
    late = (due + timedelta(hours=2)).strftime("%Y-%m-%d %H:%M:%S.%f UTC")
    (course.submitted / "cyd" / KEY / "timestamp.txt").write_text(late)
    assert {o.student: o.score for o in autograde(course, KEY, workers=2)} == {"ada": 100, "bob": 0, "cyd": 100}

    mapping = tmp_path / "canvas-students.csv"
    mapping.write_text(MAPPING)
    out = tmp_path / "canvas.csv"
    result = run_tito("nbgrader", "report", "--format", "canvas", "--lms-students", str(mapping),
                      "--output", str(out), "--course", str(course.root))
    assert result.returncode == 0, result.stderr
    assert "1 late submission(s)" in result.stdout and "cyd 01_scratch -100" in result.stdout
    students = check_canvas_layout(out.read_text())
    assert [(r[0], r[1], r[4], r[5]) for r in students] == [
        ("Babbage, Charles", "1002", "Section 2", "0"), ("Hopper, Grace", "1003", "Section 1", "0"),
        ("Lovelace, Ada", "1001", "Section 1", "100")]
    plain = run_tito("nbgrader", "report", "--format", "json", "--course", str(course.root))
    rows = {r["student"]: r for r in __import__("json").loads(plain.stdout)}
    assert rows["cyd"]["late_penalty"] == 100 and 7100 < rows["cyd"]["seconds_late"] < 7300
    assert rows["ada"]["seconds_late"] == 0 and rows["ada"]["score"] == 100

    # bob resubmits; regrading him alone leaves the others' records untouched
    submit(course, KEY, "bob", solved)
    collect(KEY, course)
    others = {p: (p.read_bytes(), p.stat().st_mtime_ns) for s in ("ada", "cyd")
              for p in (course.outcome_file(KEY, s), course.autograded_notebook(KEY, s))}
    result = run_tito("nbgrader", "autograde", KEY, "--student", "bob", "--force", "--workers", "1",
                      "--course", str(course.root), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in others} == others
    result = run_tito("nbgrader", "report", "--format", "canvas", "--lms-students", str(mapping),
                      "--course", str(course.root))
    assert [r[5] for r in check_canvas_layout(result.stdout)] == ["100", "0", "100"]

    # a mapping that misses a student, or lacks a column, and a canvas report without one: one line each
    mapping.write_text(MAPPING.rsplit("cyd", 1)[0])
    for args, message in (
        (["--lms-students", str(mapping)], "1 student(s) are not in the LMS mapping file: cyd"),
        ([], "--format canvas needs --lms-students FILE"),
    ):
        result = run_tito("nbgrader", "report", "--format", "canvas", *args, "--course", str(course.root))
        assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr, result.stderr
    mapping.write_text("student,name\nada,Ada\n")
    result = run_tito("nbgrader", "report", "--format", "canvas", "--lms-students", str(mapping),
                      "--course", str(course.root))
    assert result.returncode == 2 and "the header lacks canvas_id, sis_login_id, section" in result.stderr

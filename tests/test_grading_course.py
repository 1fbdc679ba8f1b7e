"""The course steps around grading on a small scratch module: init, re-generate, submit, re-grade one student."""

from __future__ import annotations

import json
import stat

import pytest

from grading_support import solved_release, write_notebook
from helpers import make_scratch_project, run_tito, write_scratch_module
from tito.errors import TitoError
from tito.grading import autograde, build_report, collect, generate, init_course, release, submit
from tito.grading.paths import CoursePaths
from tito.project import resolve_module

pytestmark = pytest.mark.slow
KEY = "01_scratch"


def test_course_steps_on_a_scratch_module(tmp_path):
    (tmp_path / "project").mkdir()
    root = make_scratch_project(tmp_path / "project")
    source = write_scratch_module(root, KEY)
    course = CoursePaths(tmp_path / "course")

    init_course(course)
    config = course.config_file.read_text()
    init_course(course)
    assert course.config_file.read_text() == config and course.gradebook.is_file()
    assert stat.S_IMODE(course.root.stat().st_mode) == 0o700, "student code must not be able to enter the course"

    first = generate(resolve_module(KEY, root), course)
    assert (first.graded_cells, first.points) == (2, 100)
    release(KEY, course)
    submit(course, KEY, "ada", write_notebook(solved_release(course, KEY), tmp_path / "ada.ipynb"))
    result = run_tito("nbgrader", "submit", KEY, "bob", str(course.release_notebook(KEY)), "--course", str(course.root))
    assert result.returncode == 0, result.stderr
    assert collect(KEY, course) == ["ada", "bob"]
    assert {o.student: (o.score, o.status) for o in autograde(course, KEY, workers=2)} == {
        "ada": (100, "graded"), "bob": (0, "graded")}

    # a changed solution body re-generates in place ...
    source.write_text(source.read_text().replace("return 2 * x", "return x + x"))
    generate(resolve_module(KEY, root), course)
    assert "x + x" in course.source_notebook(KEY).read_text()
    # ... but nbgrader refuses new graded cells once students have submitted: nothing changes
    release_before = course.release_notebook(KEY).read_bytes()
    source_before = course.source_notebook(KEY).read_bytes()
    source.write_text(source.read_text().replace('"points": 40', '"points": 20').replace(
        "# %% nbgrader={\"grade\": false, \"grade_id\": \"scratch-run-all\"",
        "# %% nbgrader={\"grade\": true, \"grade_id\": \"test-scratch-extra\", \"locked\": true, \"points\": 20, "
        "\"schema_version\": 3, \"solution\": false, \"task\": false}\nassert double(0) == 0\n\n"
        "# %% nbgrader={\"grade\": false, \"grade_id\": \"scratch-run-all\""))
    with pytest.raises(TitoError, match="Cannot add or remove cells"):
        generate(resolve_module(KEY, root), course)
    assert course.release_notebook(KEY).read_bytes() == release_before
    assert course.source_notebook(KEY).read_bytes() == source_before

    # re-grading one student replaces only that student's grade; a roster student without a submission is missing
    submit(course, KEY, "bob", write_notebook(solved_release(course, KEY), tmp_path / "bob-fixed.ipynb"))
    collect(KEY, course)
    assert [(o.student, o.score) for o in autograde(course, KEY, students=["bob"])] == [("bob", 100)]
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url, "tinytorch") as gb:
        gb.add_student("cyd")
    rows = {r.student: (r.score, r.status) for r in build_report(course)}
    assert rows == {"ada": (100, "graded"), "bob": (100, "graded"), "cyd": (0, "missing")}
    with pytest.raises(TitoError, match="no collected submission"):
        autograde(course, KEY, students=["cyd"])
    assert json.loads(course.outcome_file(KEY, "bob").read_text())["status"] == "graded"

    from tito.grading.autograding import _module_lock

    with _module_lock(course, KEY), pytest.raises(TitoError, match="another `tito nbgrader autograde` is running.*SQLite gradebook takes one"):
        autograde(course, KEY)

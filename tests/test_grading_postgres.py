"""The gradebook on a real PostgreSQL server, started by these tests in a scratch folder (and shared
SQLite, for comparison).

Without PostgreSQL's server these tests skip, saying how to install it; with
CI=true in the environment they fail instead, since .ci/run installs it.
What the gradebook holds is read back with psycopg, not through nbgrader.
"""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from grading_support import solved_release, write_notebook
from helpers import TITO, make_scratch_project, run_tito, write_scratch_module
from postgres_support import INSTALL_HINT, find_server_bin, new_database, postgres_server
from tito.grading.gradebook import EXTRA_INDEXES
from tito.grading.paths import CoursePaths

STUDENTS = [f"pg{i}" for i in range(6)]


@pytest.fixture(scope="module")
def server():
    bin_dir = find_server_bin()
    if bin_dir is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and {INSTALL_HINT}: .ci/run must install it before the tests")
        pytest.skip(INSTALL_HINT)
    with postgres_server(bin_dir) as url:
        yield url


def rows(url: str, query: str) -> list[tuple]:
    """The query's rows, straight from the database (psycopg or sqlite3, not nbgrader)."""
    if url.startswith("sqlite:///"):
        import sqlite3

        with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as connection:
            return connection.execute(query).fetchall()
    import psycopg

    with psycopg.connect(url) as connection:
        return connection.execute(query).fetchall()


def test_init_points_nbgrader_and_tito_at_the_server(server, tmp_path):
    url = new_database(server, "init_check")
    course = CoursePaths(tmp_path / "course")
    result = run_tito("nbgrader", "init", "--db", url, "--course", str(course.root))
    assert result.returncode == 0, result.stderr
    assert "127.0.0.1" in result.stdout
    assert course.gradebook_url_file.read_text().strip() == url
    assert stat.S_IMODE(course.gradebook_url_file.stat().st_mode) == 0o600
    assert not course.gradebook.exists(), "no SQLite gradebook next to the server's"
    tables = {name for (name,) in rows(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert {"student", "assignment", "grade", "submitted_assignment"} <= tables
    indexes = {name for (name,) in rows(url, "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")}
    assert set(EXTRA_INDEXES) <= indexes, "grades are found by index, not by reading whole tables"
    # plain nbgrader, run from the course folder, writes to the same server through nbgrader_config.py
    nbgrader = str(Path(sys.executable).parent / "nbgrader")
    added = subprocess.run([nbgrader, "db", "student", "add", "probe", "--last-name=Probe"], cwd=course.root,
                           capture_output=True, text=True)
    assert added.returncode == 0, added.stderr
    assert rows(url, "SELECT id, last_name FROM student") == [("probe", "Probe")]


@pytest.mark.parametrize("url, message", [
    ("mysql://u:secret@localhost/db", "the gradebook runs on sqlite or postgresql, not mysql"),
    ("not a url", "is not a database URL"),
])
def test_init_refuses_a_bad_url_in_one_line(tmp_path, url, message):
    result = run_tito("nbgrader", "init", "--db", url, "--course", str(tmp_path / "course"))
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and "secret" not in result.stderr


def test_init_names_a_server_it_cannot_reach_without_its_password(server, tmp_path):
    port = server.rsplit(":", 1)[1].split("/")[0]
    url = f"postgresql://tito:hunter2@127.0.0.1:{port}/no_such_db"
    result = run_tito("nbgrader", "init", "--db", url, "--course", str(tmp_path / "course"))
    assert result.returncode == 1, result.stderr
    assert "could not open the gradebook at postgresql://tito:***@127.0.0.1" in result.stderr
    assert 'database "no_such_db" does not exist' in result.stderr and "hunter2" not in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("database", ["postgresql"])
def test_two_coordinators_grade_two_modules_into_one_database(database, request, tmp_path):
    """Autograde, report, feedback and formgrader's API on the server; two coordinators at once lose nothing
    (on SQLite too, where the second coordinator's writes wait for the first's)."""
    from tito.grading import build_report, collect, generate, generate_feedback, init_course, release, submit
    from tito.project import resolve_module

    if database == "postgresql":
        url = new_database(request.getfixturevalue("server"), "two_coordinators")
    else:
        url = f"sqlite:///{tmp_path / 'shared.db'}"
    (tmp_path / "project").mkdir()
    root = make_scratch_project(tmp_path / "project")
    keys = ["01_scratch", "02_scratch"]
    for key in keys:
        write_scratch_module(root, key)
    course = init_course(CoursePaths(tmp_path / "course"), db_url=url)
    for key in keys:
        generate(resolve_module(key, root), course)
        release(key, course)
        solved = write_notebook(solved_release(course, key), tmp_path / f"{key}-solved.ipynb")
        for i, student in enumerate(STUDENTS):
            submit(course, key, student, solved if i % 2 == 0 else course.release_notebook(key))
        collect(key, course)

    coordinators = [subprocess.Popen([*TITO, "nbgrader", "autograde", key, "--workers", "1", "--course",
                                      str(course.root)], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True) for key in keys]
    for process in coordinators:
        out, err = process.communicate(timeout=600)
        assert process.returncode == 0, out + err

    expected = {(key, s): (100.0 if i % 2 == 0 else 0.0) for key in keys for i, s in enumerate(STUDENTS)}
    submissions = rows(url, "SELECT a.name, s.student_id, count(*) FROM submitted_assignment s "
                            "JOIN assignment a ON a.id = s.assignment_id GROUP BY a.name, s.student_id")
    assert {(name, student): n for name, student, n in submissions} == {pair: 1 for pair in expected}
    assert sorted(r[0] for r in rows(url, "SELECT id FROM student")) == STUDENTS
    grades = rows(url, "SELECT a.name, sa.student_id, sum(g.auto_score), count(*) FROM grade g "
                       "JOIN submitted_notebook sn ON sn.id = g.notebook_id "
                       "JOIN submitted_assignment sa ON sa.id = sn.assignment_id "
                       "JOIN assignment a ON a.id = sa.assignment_id GROUP BY a.name, sa.student_id")
    assert {(name, student): (float(score), n) for name, student, score, n in grades} == {
        pair: (score, 2) for pair, score in expected.items()}, "one grade per graded cell, none twice"

    assert {(r.module, r.student): (r.score, r.status) for r in build_report(course)} == {
        pair: (score, "graded") for pair, score in expected.items()}
    feedback = generate_feedback(course, keys[0])
    assert len(feedback.written) == len(STUDENTS) and not feedback.removed_for_leaks

    # formgrader reads the gradebook through NbGraderAPI
    from tito.grading.config import nbgrader_api

    listed = nbgrader_api(course).get_submissions(keys[1])
    assert {s["student"]: s["score"] for s in listed} == {s: expected[(keys[1], s)] for s in STUDENTS}


def test_init_names_a_missing_driver(tmp_path):
    result = run_tito("nbgrader", "init", "--db", "postgresql+pg8000://u:secret@127.0.0.1/db",
                      "--course", str(tmp_path / "course"))
    assert result.returncode == 1 and "no driver for postgresql+pg8000://u:***@127.0.0.1/db (pg8000 is missing)" \
        in result.stderr, result.stderr


def test_a_sqlite_course_takes_one_autograde_at_a_time_and_a_server_one_per_module(tmp_path):
    from tito.errors import TitoError
    from tito.grading.autograding import _module_lock
    from tito.grading.paths import CoursePaths

    course = CoursePaths(tmp_path / "course")
    course.root.mkdir()
    with _module_lock(course, "01_tensor"):
        with pytest.raises(TitoError, match="SQLite gradebook takes one at a time"):
            _module_lock(course, "11_kernels")
    course.gradebook_url_file.write_text("postgresql://grader@localhost/course\n", encoding="utf-8")
    with _module_lock(course, "01_tensor"), _module_lock(course, "11_kernels"):
        with pytest.raises(TitoError, match="autograde 01_tensor` is running"):
            _module_lock(course, "01_tensor")

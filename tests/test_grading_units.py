"""The grading pieces that need no kernel: paths, leak scans, tampering, hidden tests in feedback, report, CLI errors."""

from __future__ import annotations

import csv
import io
import json
import shutil
import stat
import tempfile
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from helpers import run_tito
from tito.errors import TitoError
from tito.notebook.cells import SOLUTION
from tito.grading.leaks import find_leaks, html_text, notebook_text, secret_lines
from tito.grading.paths import COURSE_DIR_ENV, course_dir, notebook_id
from tito.grading.report import CSV_COLUMNS, ReportRow, render_report
from tito.grading.sandbox import SandboxLimits, SandboxSettings, cpu_share, kernels_at_once
from tito.grading.sandbox_launcher import _outermost, masked_paths, split_arguments


def nbgrader_cell(source: str, grade_id: str, *, grade=False, solution=False, locked=True, points=None):
    cell = new_code_cell(source)
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution, "task": False}
    if points is not None:
        meta["points"] = points
    cell.metadata["nbgrader"] = meta
    return cell


def release_like() -> object:
    return new_notebook(cells=[
        new_markdown_cell("# Module"),
        nbgrader_cell("import numpy as np", "imports"),
        nbgrader_cell("def double(x):\n    raise NotImplementedError()", "double-solution", solution=True, locked=False),
        nbgrader_cell("def test_unit_double():\n    assert double(2) == 4\n\ntest_unit_double()", "test-double", grade=True, points=60),
        nbgrader_cell("def test_unit_more():\n    assert double(3) == 6\n\ntest_unit_more()", "test-more", grade=True, points=40),
    ])


# ------------------------------------------------------------------ paths


def test_course_folder_comes_from_override_then_environment_then_project(tmp_path, monkeypatch):
    monkeypatch.delenv(COURSE_DIR_ENV, raising=False)
    assert course_dir(tmp_path) == tmp_path.resolve() / "course"
    monkeypatch.setenv(COURSE_DIR_ENV, str(tmp_path / "from-env"))
    assert course_dir(tmp_path) == (tmp_path / "from-env").resolve()
    assert course_dir(tmp_path, tmp_path / "explicit") == (tmp_path / "explicit").resolve()
    assert notebook_id("11_kernels") == "kernels_dev"


def test_repository_nbgrader_config_points_at_the_same_course(tmp_path, monkeypatch):
    from traitlets.config import Config

    from helpers import REPO

    monkeypatch.delenv(COURSE_DIR_ENV, raising=False)
    c = Config()
    namespace = {"get_config": lambda: c, "__file__": str(REPO / "nbgrader_config.py")}
    exec(compile((REPO / "nbgrader_config.py").read_text(), "nbgrader_config.py", "exec"), namespace)
    assert c.CourseDirectory.root == str(REPO / "course")
    assert c.CourseDirectory.db_url == f"sqlite:///{REPO / 'course' / 'gradebook.db'}"
    assert c.OverwriteCells.add_missing_cells is True
    assert c.Execute.kernel_name == "tinytorch-sandbox"


# ------------------------------------------------------------------ leaks


def test_secret_lines_are_only_those_never_shown_outside_the_solution():
    nb = new_notebook(cells=[nbgrader_cell(
        'def f(x):\n    """TODO: return np.sort(x)[::-1] (descending)."""\n    ### BEGIN SOLUTION\n'
        "    return np.sort(x)[::-1]\n    pass\n    hidden_trick = x.argmax() + 12345\n    ### END SOLUTION\n",
        "f", solution=True, locked=False)])
    secrets = secret_lines(nb, SOLUTION)
    assert secrets == {"hidden_trick = x.argmax() + 12345"}, "spelled-out and trivial lines are not secrets"
    assert find_leaks(secrets, "blah hidden_trick = x.argmax() +   12345 blah") == ["hidden_trick = x.argmax() + 12345"]


def test_html_text_sees_code_split_into_highlighted_spans():
    page = '<style>.x{}</style><pre><span class="n">total</span> <span class="o">=</span> a&amp;b</pre>'
    assert "total = a&b" in html_text(page)


def test_notebook_text_includes_outputs():
    nb = new_notebook(cells=[new_code_cell("print(1)")])
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="secret answer\n")]
    assert "secret answer" in notebook_text(nb)


# ------------------------------------------------------------------ tampering


def test_tampering_finds_edited_deleted_and_repointed_locked_cells():
    from tito.notebook.locked_cells import find_tampering

    release = release_like()
    untouched = nbformat.reads(nbformat.writes(release), as_version=4)
    untouched.cells[2].source = "def double(x):\n    return 2 * x"  # editing a solution cell is the point
    untouched.cells[3].outputs = [nbformat.v4.new_output("stream", name="stdout", text="ran\n")]
    assert find_tampering(untouched, release) == []

    tampered = nbformat.reads(nbformat.writes(untouched), as_version=4)
    tampered.cells[3].source = "def test_unit_double():\n    pass\n"
    tampered.cells[4].metadata["nbgrader"]["points"] = 400
    del tampered.cells[1]
    assert find_tampering(tampered, release) == [("imports", "deleted"), ("test-double", "edited"), ("test-more", "edited")]


# ------------------------------------------------------------------ feedback


def test_feedback_hides_hidden_tests_and_every_output_that_quotes_them():
    from tito.grading.leaks import HIDDEN_MARKER, hide_hidden_tests_preprocessor

    test = ("def test_unit_double():\n    assert double(2) == 4, 'double(2) should be 4'\n"
            "    ### BEGIN HIDDEN TESTS\n    assert double(-7) == -14\n    ### END HIDDEN TESTS\n\ntest_unit_double()")
    nb = new_notebook(cells=[nbgrader_cell(test, "test-double", grade=True, points=10),
                             new_code_cell("run_all()")])
    nb.cells[0].outputs = [nbformat.v4.new_output("error", ename="AssertionError", evalue="",
                                                  traceback=["Traceback", "----> 4     assert double(-7) == -14", "AssertionError"])]
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout",
                                                  text="FAIL test_unit_double\n  assertion failed: assert double(-7) == -14\n1 failed\n")]
    nb, _ = hide_hidden_tests_preprocessor()().preprocess(nb, {})
    text = notebook_text(nb)
    assert "double(-7)" not in text
    assert HIDDEN_MARKER in nb.cells[0].source and "assert double(2) == 4" in nb.cells[0].source
    assert nb.cells[0].outputs[0]["traceback"] == ["AssertionError: "]
    assert "FAIL test_unit_double" in nb.cells[1].outputs[0]["text"] and "1 failed" in nb.cells[1].outputs[0]["text"]


# ------------------------------------------------------------------ report


def test_report_formats_carry_every_column():
    rows = [ReportRow("ada", "11_kernels", 42.5, 100, "graded", ["test_unit_a", "test_unit_b"], ""),
            ReportRow("bob", "11_kernels", 0, 100, "error", [], "unreadable notebook: NotJSONError, \"quoted\"")]
    parsed = list(csv.DictReader(io.StringIO(render_report(rows, "csv"))))
    assert tuple(parsed[0]) == CSV_COLUMNS
    assert parsed[0]["failing_tests"] == "test_unit_a;test_unit_b" and parsed[0]["score"] == "42.5"
    assert parsed[1]["detail"] == "unreadable notebook: NotJSONError, \"quoted\""
    data = json.loads(render_report(rows, "json"))
    assert data[0] == {"student": "ada", "module": "11_kernels", "score": 42.5, "max_score": 100, "status": "graded",
                       "failing_tests": ["test_unit_a", "test_unit_b"], "detail": "", "seconds_late": 0.0,
                       "late_penalty": 0.0}
    with pytest.raises(ValueError, match="unknown report format"):
        render_report(rows, "xml")


# ------------------------------------------------------------------ sandbox settings and launcher


def test_sandbox_settings_travel_through_the_environment():
    settings = SandboxSettings(uid=62001, limits=SandboxLimits(memory_mb=512, processes=32), threads=1,
                               hide=("/x/kernels.py",), cpus=(1,))
    assert SandboxSettings.from_env({"TITO_SANDBOX": settings.to_env()}) == settings
    assert SandboxSettings.from_env({}) == SandboxSettings()


def test_cpu_shares_are_disjoint_when_there_are_enough_cpus(monkeypatch):
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1, 2, 3})
    assert [cpu_share(s, 2) for s in range(2)] == [(0, 1), (2, 3)]
    assert [cpu_share(s, 4) for s in range(4)] == [(0,), (1,), (2,), (3,)]
    assert cpu_share(0, 1) == (0, 1, 2, 3)
    assert [cpu_share(s, 6) for s in range(6)] == [(0,), (1,), (2,), (3,), (0,), (1,)]


def test_no_more_kernels_at_once_than_leave_each_the_cpus_its_module_needs(monkeypatch):
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1, 2, 3})
    assert [kernels_at_once(workers, 1) for workers in (1, 2, 4, 8)] == [1, 2, 4, 4]
    assert [kernels_at_once(workers, 2) for workers in (1, 2, 4, 8)] == [1, 2, 2, 2]
    assert kernels_at_once(4, 8) == 1, "a machine too small for one kernel still grades, one at a time"
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1})
    assert kernels_at_once(2, 2) == 1 and kernels_at_once(2, 1) == 2


def test_kernel_cpus_come_from_the_notebooks_metadata():
    from tito.notebook.cells import kernel_cpus

    assert kernel_cpus(new_notebook()) == 1
    assert kernel_cpus(new_notebook(metadata={"tinytorch": {"kernel_cpus": 2}})) == 2
    for bad in (0, -1, 1.5, "2", True):
        with pytest.raises(TitoError, match=r"tinytorch.kernel_cpus must be a whole number of at least 1, got"):
            kernel_cpus(new_notebook(metadata={"tinytorch": {"kernel_cpus": bad}}))


def test_launcher_masks_everything_but_the_system_and_what_the_kernel_needs():
    masks = masked_paths([Path("/usr/lib/python3"), Path("/work/main/.venv")])
    assert Path("/work") in masks and Path("/usr") not in masks and Path("/etc") not in masks
    assert Path("/tmp") not in masks, "/tmp gets its own fresh tmpfs"
    assert _outermost([Path("/a/b"), Path("/a"), Path("/c/d"), Path("/c/d/e")]) == [Path("/a"), Path("/c/d")]
    assert split_arguments(["--x", "-f", "/run/k.json", "--y"]) == ("/run/k.json", ["--x", "--y"])


def test_project_in_a_private_tmp_folder_gets_no_mask_under_tmp():
    # `mktemp -d` makes /tmp/tmp.XXXX with mode 0700; the sandbox user cannot enter it, but the kernel's
    # fresh /tmp has no such folder to mask: the environment inside it is bound back instead
    private = Path(tempfile.mkdtemp(dir="/tmp"))
    try:
        assert stat.S_IMODE(private.stat().st_mode) == 0o700
        venv = private / "project" / ".venv"
        venv.mkdir(parents=True)
        masks = masked_paths([venv, Path("/usr/lib")])
        assert not [m for m in masks if m == Path("/tmp") or Path("/tmp") in m.parents], masks
        assert Path("/usr") not in masks
    finally:
        shutil.rmtree(private)


def test_execution_job_and_result_travel_as_json_and_come_back_equal():
    from tito.grading.execution import ExecutionJob, ExecutionResult
    from tito.grading.plain import from_plain, to_json

    job = ExecutionJob("ada", "01_tensor", '{"cells": []}', 30,
                       SandboxSettings(limits=SandboxLimits(memory_mb=512), cpus=(0, 1), hide=("/a/b.py",)))
    text = to_json(job)
    assert json.loads(text)["settings"]["limits"]["memory_mb"] == 512
    assert from_plain(ExecutionJob, json.loads(text)) == job
    data = json.loads(text)
    data["added_by_a_newer_sender"] = {"verdicts": []}  # unknown fields from a newer sender are ignored
    assert from_plain(ExecutionJob, data) == job


def test_worker_reply_carries_the_result_and_who_ran_it():
    from tito.grading.execution import ExecutionResult
    from tito.grading.executors import decode_reply, encode_reply
    from tito.notebook.run import Stop, StopKind

    result = ExecutionResult("ada", "01_tensor", '{"cells": []}', stop=Stop(StopKind.TIMEOUT, 2, "CellTimeoutError"),
                             timed_out_cells=[2], kernel_died=True, killed_for="timeout", died_in_cell=2,
                             strays_killed=1, seconds=1.5)
    done = decode_reply("ada", encode_reply("tcp://10.0.0.7:40001", result.to_json()))
    assert (done.key, done.worker, done.result, done.lost, done.refused) == ("ada", "tcp://10.0.0.7:40001", result,
                                                                            False, "")
    refused = decode_reply("bob", encode_reply("tcp://10.0.0.8:40001", refused="died twice"))
    assert (refused.result, refused.refused) == (None, "died twice")
    with pytest.raises(TitoError, match="runs tito 0.0.9"):
        decode_reply("cyd", encode_reply("w", mismatch="grading worker w runs tito 0.0.9"))


# ------------------------------------------------------------------ CLI errors


def test_cli_lists_its_actions():
    result = run_tito("nbgrader", "--help")
    assert result.returncode == 0
    for action in ("init", "generate", "release", "collect", "autograde", "worker", "feedback", "report", "status"):
        assert action in result.stdout


def test_cli_on_a_missing_course_says_what_to_run(tmp_path):
    result = run_tito("nbgrader", "report", "--course", str(tmp_path / "nowhere"))
    assert result.returncode == 1
    assert "tito nbgrader init" in result.stderr and "Traceback" not in result.stderr


def test_cli_unknown_module_exits_2(tmp_path):
    result = run_tito("nbgrader", "generate", "99_nothing", "--course", str(tmp_path / "course"))
    assert result.returncode == 2 and "unknown module '99_nothing'" in result.stderr


def test_long_outputs_are_merged_and_cut():
    from tito.grading.execution import TRUNCATION_NOTE, truncate_outputs

    nb = new_notebook(cells=[new_code_cell("spam()")])
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="x" * 60) for _ in range(10)]
    nb.cells[0].outputs.insert(5, nbformat.v4.new_output("stream", name="stderr", text="warning\n"))
    truncate_outputs(nb, limit=100)
    texts = [(o["name"], o["text"]) for o in nb.cells[0].outputs]
    assert texts == [("stdout", "x" * 100 + TRUNCATION_NOTE), ("stderr", "warning\n"), ("stdout", "x" * 100 + TRUNCATION_NOTE)]


def test_an_undecided_check_runs_once_more_at_the_end_then_is_recorded_inconclusive():
    """The grading loop: a run whose judge could not decide a check goes to the end of the queue once;
    still undecided, the outcome says so. Our own loop over our own executor interface, no nbgrader."""
    from collections import deque
    from types import SimpleNamespace

    from tito.grading.dispatch import INCONCLUSIVE_RUNS, grade_all
    from tito.grading.execution import ExecutionJob, ExecutionResult
    from tito.grading.executors import Completion
    from tito.grading.sandbox import SandboxSettings
    from tito.grading.outcomes import Outcome

    undecided = {"verdicts": [{"grade_id": "test-speed", "passed": False, "inconclusive": True}]}
    decided = {"verdicts": [{"grade_id": "test-speed", "passed": True, "inconclusive": False}]}
    runs_of = {"ada": [undecided, decided], "bob": [undecided] * INCONCLUSIVE_RUNS, "cy": [decided]}
    order = []

    class Executor:
        capacity, max_attempts = 1, 3

        def __init__(self):
            self.queue = []

        def submit(self, key, job_json):
            order.append(key)
            self.queue.append(key)

        def wait(self):
            key = self.queue.pop(0)
            result = ExecutionResult(key, "11_kernels")
            result.judge, result.notebook_json = runs_of[key].pop(0), "{}"
            return [Completion(key, result)]

    class Grader:
        def prepare(self, student):
            job = ExecutionJob(student, "11_kernels", "{}", 10, SandboxSettings())
            return SimpleNamespace(student=student, job=job, attempts=0, started=0.0)

        def finish(self, prepared, result):
            inconclusive = any(v["inconclusive"] for v in result.judge["verdicts"])
            return Outcome(prepared.student, "11_kernels", "inconclusive" if inconclusive else "graded")

        def failed(self, student, detail, started):
            raise AssertionError(f"{student} should not fail: {detail}")

    recorded = []
    grade_all(Grader(), deque(["ada", "bob", "cy"]), Executor(), recorded.append)
    assert {o.student: o.status for o in recorded} == {"ada": "graded", "bob": "inconclusive", "cy": "graded"}
    assert order == ["ada", "bob", "cy", "ada", "bob"], f"undecided runs go again after the rest: {order}"

    # on a machine with fewer CPUs than the checks need, a second run could not decide them either
    runs_of.update({"ada": [undecided, decided], "bob": [undecided]})
    recorded.clear(), order.clear()
    grade_all(Grader(), deque(["ada", "bob"]), Executor(), recorded.append, undecided_runs=1)
    assert {o.student: o.status for o in recorded} == {"ada": "inconclusive", "bob": "inconclusive"}
    assert order == ["ada", "bob"], f"each runs once: {order}"


def test_an_undecided_check_makes_the_status_inconclusive_and_names_the_check():
    import nbformat

    from tito.grading.autograding import _status
    from tito.grading.execution import ExecutionResult

    result = ExecutionResult("ada", "11_kernels")
    result.judge = {"verdicts": [{"grade_id": "test-matmul-parallel", "passed": False, "inconclusive": True},
                                 {"grade_id": "test-time-kernel", "passed": True, "inconclusive": False}]}
    status, detail = _status(result, [], nbformat.v4.new_notebook())
    assert status == "inconclusive" and "test-matmul-parallel" in detail and "test-time-kernel" not in detail, detail
    result.judge["verdicts"][0]["inconclusive"] = False
    assert _status(result, [], nbformat.v4.new_notebook())[0] == "graded"

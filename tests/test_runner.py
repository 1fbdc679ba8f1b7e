"""run_module_tests_auto: discovery, reporting and the structured results file."""

from __future__ import annotations

import json
from dataclasses import asdict

from tito.tools.testing import (POINTS_ENV, RESULTS_ENV, SESSION_ENV, GradedCell, discover_tests,
                                graded_cells_of, points_for_kernel, run_module_tests_auto, score_outcomes)


def _namespace():
    ns = {"__name__": "__main__"}
    exec(
        "def test_first():\n    assert 1 + 1 == 2\n"
        "def helper():\n    pass\n"
        "def test_second():\n    assert [1] == [2], 'expected [2], got [1]'\n"
        "def test_third():\n    raise NotImplementedError('fill in relu')\n",
        ns,
    )
    return ns


def test_discovers_only_local_test_functions_in_order():
    ns = _namespace()
    from tito.tools import testing

    ns["test_imported"] = testing.run_test  # defined in another module: not a test of this one
    names = [name for name, _ in discover_tests(ns)]
    assert names == ["test_first", "test_second", "test_third"]


def test_reports_each_result_and_writes_json(tmp_path, monkeypatch, capsys):
    target = tmp_path / "results.json"
    monkeypatch.setenv(RESULTS_ENV, str(target))
    assert run_module_tests_auto("Demo", namespace=_namespace()) is False
    data = json.loads(target.read_text())
    assert data["module"] == "Demo"
    by_name = {t["name"]: t for t in data["tests"]}
    assert by_name["test_first"]["passed"] is True
    assert by_name["test_second"]["message"] == "expected [2], got [1]"
    assert by_name["test_third"]["message"] == "NotImplementedError: fill in relu"
    out = capsys.readouterr().out
    assert "1/3 tests passed" in out and "FAIL  test_second" in out


def test_all_passing_returns_true(monkeypatch):
    monkeypatch.delenv(RESULTS_ENV, raising=False)
    ns = {"__name__": "m"}
    exec("def test_ok():\n    assert True\n", ns)
    assert run_module_tests_auto("M", namespace=ns) is True


def test_no_tests_is_not_a_pass(monkeypatch):
    monkeypatch.delenv(RESULTS_ENV, raising=False)
    assert run_module_tests_auto("Empty", namespace={"__name__": "m"}) is False


def test_bare_assert_reports_the_failing_line():
    ns = {"__name__": "m"}
    exec("def test_bare():\n    x = 3\n    assert x == 4\n", ns)
    from tito.tools.testing import run_test

    outcome = run_test("test_bare", ns["test_bare"])
    assert not outcome.passed and outcome.message.startswith("assertion failed")


def _graded_notebook(points: dict[str, float]) -> dict:
    """A notebook whose graded cells each define one test of `_namespace`, worth the points given."""
    cells = [{"cell_type": "code", "source": f"def {name}():\n    ...\n\n{name}()", "outputs": [],
              "metadata": {"nbgrader": {"grade": True, "grade_id": name.replace("_", "-"), "points": value}}}
             for name, value in points.items()]
    return {"cells": [{"cell_type": "markdown", "source": "# lesson", "metadata": {}}, *cells], "metadata": {}}


def _run_quietly(monkeypatch, capsys) -> str:
    for name in (RESULTS_ENV, POINTS_ENV, SESSION_ENV):
        monkeypatch.delenv(name, raising=False)
    run_module_tests_auto("Demo", namespace=_namespace())
    return capsys.readouterr().out


def test_summary_counts_the_points_of_the_notebook_in_the_working_folder(tmp_path, monkeypatch, capsys):
    # nbgrader runs a submission in its own folder: the summary finds the notebook there
    (tmp_path / "demo_dev.ipynb").write_text(json.dumps(_graded_notebook({"test_first": 60, "test_second": 25, "test_third": 15})))
    monkeypatch.chdir(tmp_path)
    out = _run_quietly(monkeypatch, capsys)
    assert "local score 60/100 (1/3 tests passed)" in out
    assert "PASS  test_first" in out and "60/60 points" in out and "0/25 points" in out and "0/15 points" in out


def test_summary_reads_the_notebook_jupyter_names(tmp_path, monkeypatch, capsys):
    notebook = tmp_path / "lesson" / "demo_dev.ipynb"
    notebook.parent.mkdir()
    notebook.write_text(json.dumps(_graded_notebook({"test_first": 10, "test_second": 20, "test_third": 30})))
    monkeypatch.chdir(tmp_path)
    for name in (RESULTS_ENV, POINTS_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(SESSION_ENV, str(notebook))
    run_module_tests_auto("Demo", namespace=_namespace())
    assert "local score 10/60 (1/3 tests passed)" in capsys.readouterr().out


def test_a_students_own_test_function_is_run_but_not_scored(tmp_path, monkeypatch, capsys):
    (tmp_path / "demo_dev.ipynb").write_text(json.dumps(_graded_notebook({"test_first": 40, "test_second": 60})))
    monkeypatch.chdir(tmp_path)
    out = _run_quietly(monkeypatch, capsys)  # test_third is not in a graded cell
    assert "local score 40/100 (1/3 tests passed)" in out and "FAIL  test_third" in out


def test_a_notebook_that_does_not_define_these_tests_gives_no_points(tmp_path, monkeypatch, capsys):
    (tmp_path / "other_dev.ipynb").write_text(json.dumps(_graded_notebook({"test_first": 50, "test_elsewhere": 50})))
    monkeypatch.chdir(tmp_path)
    out = _run_quietly(monkeypatch, capsys)
    assert "1/3 tests passed" in out and "local score" not in out and "points" not in out


def test_a_cell_earns_its_points_only_when_all_its_tests_pass():
    cells = [GradedCell("pair", 30, ["test_a", "test_b"]), GradedCell("single", 70, ["test_c"])]
    from tito.tools.testing import TestOutcome as Outcome  # imported here: pytest would collect a Test* class

    outcomes = [Outcome("test_a", True, "", 0.0), Outcome("test_b", False, "no", 0.0), Outcome("test_c", True, "", 0.0)]
    score = score_outcomes(outcomes, cells)
    assert (score.points, score.max_points) == (70, 100)
    assert score.by_test["test_a"] == ("pair", 0, 30) and score.by_test["test_c"] == ("single", 70, 70)


def test_points_given_by_tito_match_the_notebook_cells(monkeypatch, capsys):
    nb = _graded_notebook({"test_first": 5, "test_second": 5, "test_third": 90})
    assert [asdict(c) for c in graded_cells_of(nb)] == json.loads(points_for_kernel(nb))
    monkeypatch.setenv(POINTS_ENV, points_for_kernel(nb))
    monkeypatch.delenv(RESULTS_ENV, raising=False)
    run_module_tests_auto("Demo", namespace=_namespace())
    assert "local score 5/100 (1/3 tests passed)" in capsys.readouterr().out

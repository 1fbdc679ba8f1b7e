"""run_module_tests_auto: discovery, reporting and the structured results file."""

from __future__ import annotations

import json

from tito.tools.testing import RESULTS_ENV, discover_tests, run_module_tests_auto


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

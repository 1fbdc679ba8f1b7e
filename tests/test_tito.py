"""The tito CLI: exit codes, output, module tests, status, doctor, and what a fresh process imports."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from helpers import REPO, make_scratch_project, run_tito, write_scratch_module
from tito.errors import UsageError
from tito.project import list_modules, resolve_module

HEAVY_MODULES = ("numpy", "nbgrader", "nbdev", "jupytext", "nbformat", "nbclient", "rich", "matplotlib")


def test_help_imports_nothing_heavy():
    code = (
        "import sys, contextlib, io\n"
        "from tito.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n        main(['--help'])\n    except SystemExit:\n        pass\n"
        f"print([m for m in {HEAVY_MODULES!r} if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", f"tito --help imported heavy modules: {out.strip()}"


def test_help_lists_command_groups():
    result = run_tito("--help")
    assert result.returncode == 0
    for command in ("export", "module", "test", "system"):
        assert command in result.stdout


@pytest.mark.parametrize("module", ["tinytorch", "tinytorch.core", "tinytorch.utils"]
                         + [f"tinytorch.{m.export_target()}" for m in list_modules(REPO)])
def test_package_imports_silently(module):
    result = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == "", f"import {module} printed: {result.stdout!r} {result.stderr!r}"


def test_module_names_resolve_three_ways(tmp_path):
    root = make_scratch_project(tmp_path)
    write_scratch_module(root, "11_kernels")
    for name in ("11_kernels", "11", "kernels", "KERNELS", "modules/11_kernels/"):
        assert resolve_module(name, root).key == "11_kernels"
    with pytest.raises(UsageError, match=r"unknown module 'conv'. Known modules: 11_kernels"):
        resolve_module("conv", root)


def test_unknown_module_in_module_test_exits_2():
    result = run_tito("module", "test", "99_nothing")
    assert result.returncode == 2
    assert "unknown module '99_nothing'" in result.stderr
    for module in list_modules(REPO):
        assert module.key in result.stderr


def test_outside_a_project_is_a_clear_error(tmp_path):
    result = run_tito("module", "test", "01", cwd=tmp_path)
    assert result.returncode == 1
    assert "no TinyTorch project" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_module_test_reports_each_graded_test_with_points(tmp_path):
    root = make_scratch_project(tmp_path)
    write_scratch_module(root, "01_scratch", double_body="return x + 2")
    result = run_tito("module", "test", "scratch", cwd=root)
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert "test_unit_double_even" in out and "60/60" in out
    assert "test_unit_double_one" in out and "0/40" in out
    assert "double(1) should be 2, got 3" in out
    assert "local score 60/100" in out
    saved = json.loads((root / ".tito" / "results" / "01_scratch.json").read_text())
    assert saved["score"] == 60 and saved["max_score"] == 100
    assert [t["tests"] for t in saved["graded"]] == [["test_unit_double_even"], ["test_unit_double_one"]]
    assert [t["points"] for t in saved["graded"]] == [60, 0]


@pytest.mark.slow
def test_module_test_passes_with_exit_0(tmp_path):
    root = make_scratch_project(tmp_path)
    write_scratch_module(root, "01_scratch")
    result = run_tito("module", "test", "01", cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "local score 100/100" in result.stdout


@pytest.mark.slow
def test_module_status_shows_sync_tests_and_points(tmp_path):
    root = make_scratch_project(tmp_path)
    write_scratch_module(root, "01_scratch")
    stale = run_tito("module", "status", cwd=root)
    assert stale.returncode == 0, stale.stderr
    assert "01_scratch" in stale.stdout and "tinytorch.core.scratch" in stale.stdout
    assert "no: run tito export" in stale.stdout
    assert run_tito("export", "--all", cwd=root).returncode == 0
    fresh = run_tito("module", "status", cwd=root)
    row = next(line for line in fresh.stdout.splitlines() if "01_scratch" in line)
    assert "yes" in row and " 2 " in row and "100" in row


@pytest.mark.slow
def test_test_all_summarises_and_fails_when_one_module_fails(tmp_path):
    root = make_scratch_project(tmp_path)
    write_scratch_module(root, "01_good")
    write_scratch_module(root, "02_bad", double_body="return x + 2")
    result = run_tito("test", "--all", cwd=root)
    assert result.returncode == 1
    assert "summary" in result.stdout
    assert "100/100" in result.stdout and "60/100" in result.stdout


def test_system_doctor_checks_every_dependency():
    result = run_tito("system", "doctor")
    assert result.returncode == 0, result.stdout
    for name in ("python", "numpy", "nbgrader", "jupytext", "nbdev", "fastcore", "jupyter kernel"):
        assert name in result.stdout, f"doctor does not report {name}"
    assert "judge mode" in result.stdout and "fork: Linux" in result.stdout, result.stdout
    assert "BLAS control" in result.stdout and "threadpoolctl limits openblas" in result.stdout, result.stdout
    assert "environment ready" in result.stdout


@pytest.mark.parametrize("environment, mode, why", [
    ({}, "fork", "Linux"), ({"TITO_JUDGE_MODE": "in-process"}, "in-process", "TITO_JUDGE_MODE"),
])
def test_judge_mode_follows_its_rule(monkeypatch, environment, mode, why):
    from tito.judge import modes

    monkeypatch.delenv(modes.MODE_ENV, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert modes.session_mode()[0] == mode and why in modes.session_mode()[1]
    monkeypatch.setattr(modes, "PLATFORM", "darwin")
    if not environment:
        assert modes.session_mode() == (modes.IN_PROCESS, modes.session_mode()[1]) and "macOS" in modes.session_mode()[1]
    monkeypatch.delattr(modes.os, "fork")
    assert modes.session_mode()[0] == "in-process"


def test_grading_says_it_needs_linux_elsewhere(monkeypatch):
    from tito.errors import TitoError
    from tito.grading import sandbox

    sandbox.require_linux("tito nbgrader autograde")  # this machine: Linux
    monkeypatch.setattr(sandbox.sys, "platform", "win32")
    with pytest.raises(TitoError, match="runs on Linux only.*Students' commands"):
        sandbox.require_linux("tito nbgrader autograde")


def test_doctor_reports_a_missing_requirement_with_a_fix():
    from tito.doctor import check_requirement

    missing = check_requirement("surely-not-an-installed-package>=1")
    assert not missing.ok and "not installed" in missing.detail and missing.fix
    wrong = check_requirement("numpy<1")
    assert not wrong.ok and "needs <1" in wrong.detail and "pip install" in wrong.fix


def test_doctor_accepts_a_missing_package_of_another_roles_extra():
    from tito.doctor import check_requirement, declared_requirements

    other_role = check_requirement("surely-not-an-installed-package>=1", extra="instructor")
    assert other_role.ok and "only instructors need it" in other_role.detail and ".[instructor]" in other_role.detail
    declared = dict(declared_requirements())
    assert declared["nbgrader==0.9.6"] == "instructor" and declared["numpy<3,>=2.0"] is None


@pytest.mark.slow
def test_module_test_gives_no_points_to_cells_after_a_dead_kernel(tmp_path):
    root = make_scratch_project(tmp_path)
    path = write_scratch_module(root, "01_scratch")
    source = path.read_text(encoding="utf-8")
    # the kernel dies in a cell after the first graded one: the judge never gets the notebook's process
    path.write_text(source.replace("test_unit_double_even()\n", "test_unit_double_even()\n\n# %%\nimport os; os._exit(1)\n", 1),
                    encoding="utf-8")
    result = run_tito("module", "test", "01", cwd=root)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "0/60" in result.stdout and "0/40" in result.stdout
    assert "not run: the notebook's process never reached the judge" in result.stdout
    assert "local score" in result.stdout and "/100" in result.stdout


def test_an_error_message_prints_as_written(capsys):
    from tito.console import print_error

    print_error("needs nbgrader: pip install -e '.[instructor]' [bold]not markup[/bold]")
    said = capsys.readouterr().err
    assert "'.[instructor]'" in said and "[bold]not markup[/bold]" in said, said

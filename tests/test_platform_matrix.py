"""The student's journey on simulated macOS and Windows: the same scores as the Linux judge gives.

No Mac or Windows machine runs this suite, so each platform is simulated by taking
away what it lacks, in every process of the journey (tito, the notebook's kernel,
the judge): `tests/platform_sim/sitecustomize.py` removes `os.fork`, declares fork
unsafe, hides the BLAS from threadpoolctl, hides `/proc` and `/sys`, or makes
`fcntl`, `resource`, `pwd`, `grp` and `termios` unimportable for the course's code.

Under each condition a student's workspace is exported and tested with `tito export`
and `tito module test`, for a blank, a partial and a complete notebook of modules
01 and 03, and a blank and a partial one of module 11. Module 11's complete notebook
runs its speed checks for about a minute a run, so it is judged under the two
platforms as a whole (Windows: no fork, no /proc, no Unix modules; macOS: fork
unsafe, a BLAS threadpoolctl cannot control, no /proc) rather than under each
condition alone. Every score must equal the Linux fork-mode score of the same
notebook, which the grading tests show to be the grade (test_student_e2e).
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from helpers import REPO, run_tito
from test_workspace import COURSE_MODULES, write_reference_solutions

pytestmark = pytest.mark.slow

SIMULATOR = REPO / "tests" / "platform_sim"
CONDITIONS = ("no-fork", "fork-unsafe", "no-blas-control", "no-proc", "no-unix-modules")
PLATFORMS = {"windows": "no-fork,no-proc,no-unix-modules", "macos": "fork-unsafe,no-blas-control,no-proc"}
MODULES = {"01": "01_tensor", "03": "03_layers", "11": "11_kernels"}
PARTIAL = {"03_layers": {"matmul-naive-solution", "xavier-solution"},
           "11_kernels": {"time-kernel-solution", "matmul-baseline-solution", "vectorized-solution"}}
# module 01 has one solution cell: its partial notebook leaves one method unwritten
UNWRITTEN_TRANSPOSE = ("def _unwritten(self, *axes):\n    raise NotImplementedError('transpose is not written yet')\n\n"
                       "Tensor.transpose = _unwritten")


def simulated(conditions: str) -> dict[str, str]:
    return {"PYTHONPATH": str(SIMULATOR), "TITO_SIMULATE": conditions}


def _notebook(workspace: Path, key: str) -> Path:
    return next((workspace / "modules" / key).glob("*_dev.ipynb"))


def _partial(workspace: Path) -> None:
    for key in MODULES.values():
        only = PARTIAL.get(key)
        write_reference_solutions(_notebook(workspace, key), COURSE_MODULES[key].source_path, only=only)
    path = _notebook(workspace, "01_tensor")
    nb = nbformat.read(path, as_version=4)
    at = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "tensor-solution")
    nb.cells.insert(at + 1, nbformat.v4.new_code_cell(UNWRITTEN_TRANSPOSE))
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def workspaces(tmp_path_factory) -> dict[str, Path]:
    """A workspace of modules 01, 03 and 11 (10 provided) per notebook state."""
    base = tmp_path_factory.mktemp("platforms")
    made = {}
    for state in ("blank", "partial", "complete"):
        workspace = base / state
        created = run_tito("student", "workspace", str(workspace), "--modules", "01", "03", "11",
                           "--provide-solutions", "10")
        assert created.returncode == 0, created.stdout + created.stderr
        if state == "partial":
            _partial(workspace)
        elif state == "complete":
            for key in MODULES.values():
                write_reference_solutions(_notebook(workspace, key), COURSE_MODULES[key].source_path)
        made[state] = workspace
    return made


def local_score(workspace: Path, module: str, env: dict[str, str] | None = None) -> str:
    result = run_tito("module", "test", module, cwd=workspace, env=env, timeout=1200)
    assert "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr
    match = re.search(r"local score (\S+)", result.stdout)
    assert match, result.stdout + result.stderr
    return match.group(1)


def journey(workspace: Path, modules: list[str], env: dict[str, str] | None = None) -> dict[str, str]:
    """`tito export --all`, then `tito module test` of each of `modules`: 01 and 03 two at a time,
    module 11 alone (its speed checks want the machine to themselves)."""
    exported = run_tito("export", "--all", cwd=workspace, env=env)
    assert exported.returncode == 0, exported.stdout + exported.stderr
    quick = [m for m in modules if m != "11"]
    with ThreadPoolExecutor(max_workers=2) as pool:
        scores = dict(zip(quick, pool.map(lambda m: local_score(workspace, m, env), quick)))
    if "11" in modules:
        scores["11"] = local_score(workspace, "11", env)
    return scores


@pytest.fixture(scope="module")
def linux(workspaces) -> dict[str, dict[str, str]]:
    scores = {state: journey(workspace, ["01", "03", "11"]) for state, workspace in workspaces.items()}
    assert set(scores["blank"].values()) == {"0/100"}, scores["blank"]
    assert set(scores["complete"].values()) == {"100/100"}, scores["complete"]
    for module, got in scores["partial"].items():
        assert got not in ("0/100", "100/100"), f"the partial notebook of {module} should score in between, got {got}"
    return scores


@pytest.mark.parametrize("condition", CONDITIONS)
def test_each_simulated_condition_scores_as_the_linux_judge(workspaces, linux, condition):
    for state, workspace in workspaces.items():
        modules = ["01", "03"] + (["11"] if state != "complete" else [])
        got = journey(workspace, modules, simulated(condition))
        assert got == {m: linux[state][m] for m in modules}, f"{condition}, {state} notebooks: {got} vs {linux[state]}"


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_complete_module_11_scores_100_on_each_simulated_platform(workspaces, linux, platform):
    got = journey(workspaces["complete"], ["11"], simulated(PLATFORMS[platform]))
    assert got == {"11": linux["complete"]["11"]} == {"11": "100/100"}, got


def test_the_simulation_takes_away_what_it_says(tmp_path):
    """The conditions are real in a fresh process: no fork, in-process judging, no BLAS for threadpoolctl,
    no /proc for the course's code, no fcntl for tito."""
    import subprocess
    import sys

    probe = ("import os, numpy, threadpoolctl, tito.judge.modes as m, tito.judge.observe as o\n"
             "try:\n    exec('import fcntl', {'__name__': 'tito.probe'})\n    fcntl = 'importable'\n"
             "except ImportError:\n    fcntl = 'missing'\n"
             "blas = [i for i in threadpoolctl.threadpool_info() if i['user_api'] == 'blas']\n"
             "print(hasattr(os, 'fork'), m.session_mode()[0], len(blas), o.available(), fcntl)")
    env = dict(__import__("os").environ, **simulated(",".join(CONDITIONS)))
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["False", "in-process", "0", "False", "missing"], out.stdout + out.stderr

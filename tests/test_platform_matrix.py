"""The student's journey on simulated macOS and Windows: the same scores as the Linux judge gives.

No Mac or Windows machine runs this suite, so each platform is simulated by taking
away what it lacks, in every process of the journey (tito, the notebook's kernel,
the judge): `tests/platform_sim/sitecustomize.py` removes `os.fork`, declares fork
unsafe, hides the BLAS from threadpoolctl, hides `/proc` and `/sys`, or makes
`fcntl`, `resource`, `pwd`, `grp` and `termios` unimportable for the course's code.

Under each condition a student's workspace is tested with `tito module test`, for a
blank, a partial and a complete notebook of modules 01 and 03 and a blank and a
partial one of module 11, and every score must equal the Linux fork-mode score of
the same notebook (which the grading tests show to be the grade: test_student_e2e,
test_grading_e2e). `tito export` runs under the condition that takes its lock
away. Module 11's complete notebook runs its speed checks for about a minute, so it
is judged once, with every piece taken away at once (no fork, fork unsafe, no BLAS
control, no /proc, no Unix modules): the hardest platform there is, where every
check but the two parallel timings must pass.
"""

from __future__ import annotations

import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from helpers import PARALLEL_SPEED_CHECKS, REPO, run_tito
from test_workspace import COURSE_MODULES, write_reference_solutions

pytestmark = pytest.mark.slow

SIMULATOR = REPO / "tests" / "platform_sim"
CONDITIONS = ("no-fork", "fork-unsafe", "no-blas-control", "no-proc", "no-unix-modules")
EXPORT_CONDITION = "no-unix-modules"  # takes fcntl away from tito export's lock
MODULES = {"01": "01_tensor", "03": "03_layers", "11": "11_kernels"}
STATES = ("blank", "partial", "complete")
PARTIAL = {"03_layers": {"matmul-naive-solution", "xavier-solution"},
           "11_kernels": {"time-kernel-solution", "matmul-baseline-solution", "vectorized-solution"}}
# module 01's partial notebook is its complete one with one method left unwritten
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
    """A workspace of modules 01, 03 and 11 (10 provided) per notebook state, exported."""
    base = tmp_path_factory.mktemp("platforms")
    blank = base / "blank"
    created = run_tito("student", "workspace", str(blank), "--modules", "01", "03", "11", "--provide-solutions", "10")
    assert created.returncode == 0, created.stdout + created.stderr
    made = {"blank": blank}
    for state in ("partial", "complete"):
        made[state] = Path(shutil.copytree(blank, base / state, symlinks=True))
        if state == "partial":
            _partial(made[state])
        else:
            for key in MODULES.values():
                write_reference_solutions(_notebook(made[state], key), COURSE_MODULES[key].source_path)
    for state, workspace in made.items():
        exported = run_tito("export", "--all", cwd=workspace, env=simulated(EXPORT_CONDITION) if state == "partial" else None)
        assert exported.returncode == 0, exported.stdout + exported.stderr
    return made


def local_score(workspace: Path, module: str, env: dict[str, str] | None = None) -> str:
    result = run_tito("module", "test", module, cwd=workspace, env=env, timeout=1200)
    assert "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr
    match = re.search(r"local score (\S+)", result.stdout)
    assert match, result.stdout + result.stderr
    return match.group(1)


def matrix_scores(workspaces: dict[str, Path], env: dict[str, str] | None) -> dict[tuple[str, str], str]:
    """(state, module) -> local score, two runs at a time: the only speed check these notebooks can pass
    (module 11's partial one: matmul_vectorized at least 20x the Python loop, which it beats by over 100x)
    has room for a neighbour."""
    runs = [(state, module) for state in STATES for module in MODULES if (state, module) != ("complete", "11")]
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(runs, pool.map(lambda run: local_score(workspaces[run[0]], run[1], env), runs)))


@pytest.fixture(scope="module")
def linux(workspaces) -> dict[tuple[str, str], str]:
    scores = matrix_scores(workspaces, None)
    for (state, module), got in scores.items():
        if state == "blank":
            assert got == "0/100", (module, got)
        elif state == "complete":
            assert got == "100/100", (module, got)
        else:
            assert got not in ("0/100", "100/100"), f"the partial notebook of {module} should score in between, got {got}"
    return scores


@pytest.mark.parametrize("condition", CONDITIONS)
def test_each_simulated_condition_scores_as_the_linux_judge(workspaces, linux, condition):
    got = matrix_scores(workspaces, simulated(condition))
    differ = {run: (score, linux[run]) for run, score in got.items() if score != linux[run]}
    assert not differ, f"{condition}: (state, module) -> (simulated, linux): {differ}"




def test_a_complete_module_11_passes_every_check_but_the_parallel_timings_with_everything_taken_away(workspaces):
    """Every check of module 11's complete notebook passes on the hardest simulated platform. The two parallel
    speed checks are timed there too, but from a kernel serving the tests in its own process their gains sit
    close to the mark (parallel ReLU measured 1.16x against a mark of 1.19x once), so they are reported, not
    required, here: on Linux they are required (test_student_e2e, test_grading_e2e)."""
    import json

    workspace = workspaces["complete"]
    score = local_score(workspace, "11", simulated(",".join(CONDITIONS)))
    report = json.loads((workspace / ".tito" / "results" / "11_kernels.json").read_text())
    failed = {t["grade_id"]: t["message"] for t in report["graded"] if t["points"] != t["max_points"]}
    assert set(failed) <= set(PARALLEL_SPEED_CHECKS), f"{score}: {failed}"
    for grade_id, message in failed.items():
        assert "faster" in message or "inconclusive" in message, (grade_id, message)


def test_the_simulation_takes_away_what_it_says(tmp_path):
    """The conditions are real in a fresh process: no fork, in-process judging, no BLAS for threadpoolctl,
    no /proc for the course's code, no fcntl for tito."""
    import subprocess
    import sys

    probe = ("import os, numpy, threadpoolctl, tito.judge.modes as m, tito.tools.observe as o\n"
             "try:\n    exec('import fcntl', {'__name__': 'tito.probe'})\n    fcntl = 'importable'\n"
             "except ImportError:\n    fcntl = 'missing'\n"
             "blas = [i for i in threadpoolctl.threadpool_info() if i['user_api'] == 'blas']\n"
             "print(hasattr(os, 'fork'), m.session_mode()[0], len(blas), o.available(), fcntl)")
    env = dict(__import__("os").environ, **simulated(",".join(CONDITIONS)))
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["False", "in-process", "0", "False", "missing"], out.stdout + out.stderr

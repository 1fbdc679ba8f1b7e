"""Helpers shared by the tests of the tito commands."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TITO = [str(Path(sys.executable).parent / "tito")]
# module 11's two parallel speed checks, grade id: test function (a kernel whose pieces do not run at once fails them)
PARALLEL_SPEED_CHECKS = {"test-matmul-parallel": "test_unit_matmul_parallel", "test-parallel-relu": "test_unit_parallel_relu"}

JUPYTEXT_HEADER = """\
# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---
"""


def run_tito(*args: str, cwd: Path = REPO, timeout: float = 600, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the tito CLI in a subprocess, as a user would."""
    full_env = dict(os.environ, COLUMNS="200", **(env or {}))
    return subprocess.run([*TITO, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=full_env)


def copy_project(dest: Path) -> Path:
    """A scratch copy of the course repository's sources and package."""
    shutil.copy2(REPO / "settings.ini", dest / "settings.ini")
    shutil.copytree(REPO / "modules", dest / "modules", ignore=shutil.ignore_patterns("*.ipynb", "__pycache__", ".ipynb_checkpoints"))
    shutil.copytree(REPO / "tinytorch", dest / "tinytorch", ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def package_snapshot(root: Path) -> dict[str, bytes]:
    package = root / "tinytorch"
    return {str(p.relative_to(package)): p.read_bytes() for p in package.rglob("*.py") if "__pycache__" not in p.parts}


def cell(metadata: str | None, body: str) -> str:
    line = "# %%" if metadata is None else f"# %% nbgrader={metadata}"
    return f"{line}\n{body.strip()}\n"


def locked(grade_id: str) -> str:
    return ('{"grade": false, "grade_id": "%s", "locked": true, "schema_version": 3, '
            '"solution": false, "task": false}' % grade_id)


def solution(grade_id: str) -> str:
    return ('{"grade": false, "grade_id": "%s", "locked": false, "schema_version": 3, '
            '"solution": true, "task": false}' % grade_id)


def graded(grade_id: str, points: int) -> str:
    return ('{"grade": true, "grade_id": "%s", "locked": true, "points": %d, "schema_version": 3, '
            '"solution": false, "task": false}' % (grade_id, points))


def write_scratch_module(root: Path, key: str = "01_scratch", double_body: str = "return 2 * x") -> Path:
    """A small standalone module: one solution, a passing 60-point test and a 40-point test of `double(1) == 2`."""
    number, name = key.split("_", 1)
    folder = root / "modules" / key
    folder.mkdir(parents=True, exist_ok=True)
    source = "\n".join([
        JUPYTEXT_HEADER,
        "# %% [markdown]\n# # Scratch module\n",
        cell(locked(f"{name}-export-target"), f"#| default_exp core.{name}"),
        cell(solution(f"{name}-double"), f"#| export\ndef double(x):\n    \"\"\"Return 2x.\"\"\"\n    ### BEGIN SOLUTION\n    {double_body}\n    ### END SOLUTION"),
        cell(graded(f"test-{name}-even", 60), "def test_unit_double_even():\n    assert double(2) == 4, f\"double(2) should be 4, got {double(2)}\"\n\ntest_unit_double_even()"),
        cell(graded(f"test-{name}-one", 40), "def test_unit_double_one():\n    assert double(1) == 2, f\"double(1) should be 2, got {double(1)}\"\n\ntest_unit_double_one()"),
        cell(locked(f"{name}-run-all"), f"if __name__ == \"__main__\":\n    from tito.tools.testing import run_module_tests_auto\n    run_module_tests_auto(\"{name.title()}\")"),
    ])
    path = folder / f"{name}_dev.py"
    path.write_text(source, encoding="utf-8")
    return path


def make_scratch_project(root: Path) -> Path:
    """An empty project: settings.ini, a package with its hand-kept __init__ files, no modules."""
    shutil.copy2(REPO / "settings.ini", root / "settings.ini")
    for init in ("__init__.py", "core/__init__.py", "utils/__init__.py"):
        target = root / "tinytorch" / init
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / "tinytorch" / init, target)
    (root / "modules").mkdir(exist_ok=True)
    return root

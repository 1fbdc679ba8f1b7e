"""A student's install is the default one: it holds no instructor or developer tools, and a
workspace's commands (and the kernels they start) work without them."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib

import pytest
from packaging.requirements import Requirement

from helpers import REPO, run_tito

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
INSTRUCTOR_ONLY = {"nbgrader", "sqlalchemy", "alembic"}  # nbgrader and its gradebook's database layer
DEVELOPER_ONLY = {"pytest", "pytest-timeout", "hypothesis", "selenium"}
NBDEV_FAMILY = {"nbdev==2.4.14", "fastcore<1.14", "execnb<0.2", "ghapi<2", "fastgit<0.1"}  # see DESIGN.md


def names(specs: list[str]) -> set[str]:
    return {Requirement(spec).name.lower() for spec in specs}


def test_the_default_install_is_a_students_and_the_extras_hold_the_rest():
    project = PYPROJECT["project"]
    default = names(project["dependencies"])
    assert not default & (INSTRUCTOR_ONLY | DEVELOPER_ONLY), default & (INSTRUCTOR_ONLY | DEVELOPER_ONLY)
    assert {"numpy", "ipykernel", "jupyterlab", "jupytext", "nbclient"} <= default
    assert NBDEV_FAMILY <= {str(Requirement(spec)) for spec in project["dependencies"]}
    assert "nbgrader" in names(project["optional-dependencies"]["instructor"])
    assert DEVELOPER_ONLY <= names(project["optional-dependencies"]["dev"])


@pytest.mark.slow
def test_workspace_commands_work_without_instructor_and_developer_packages(tmp_path):
    workspace = tmp_path / "workspace"
    created = run_tito("student", "workspace", str(workspace), "--modules", "02", "--provide-solutions", "01")
    assert created.returncode == 0, created.stdout + created.stderr
    # packages that fail to import, first on the path of tito and of the kernels it starts
    blocked = tmp_path / "blocked"
    for name in {n.replace("-", "_") for n in INSTRUCTOR_ONLY | DEVELOPER_ONLY}:
        (blocked / name).mkdir(parents=True)
        (blocked / name / "__init__.py").write_text(
            f"raise ModuleNotFoundError('{name} is not in a student install', name='{name}')\n")
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(blocked), os.environ.get("PYTHONPATH")]))}

    exported = run_tito("export", "02", cwd=workspace, env=env)
    assert exported.returncode == 0, exported.stdout + exported.stderr
    tested = run_tito("module", "test", "02", cwd=workspace, env=env)
    assert "local score 0/100" in tested.stdout, tested.stdout + tested.stderr
    assert "not in a student install" not in tested.stdout + tested.stderr
    status = run_tito("module", "status", cwd=workspace, env=env)
    assert status.returncode == 0 and "0/100" in status.stdout, status.stdout + status.stderr
    # an instructor's command names the extra it needs, in one line
    refused = run_tito("student", "workspace", str(tmp_path / "another"), env=env)  # from the course repository
    said = refused.stdout + refused.stderr
    assert refused.returncode == 1 and "Traceback" not in said, said
    assert "needs " in said and "[instructor] extra" in said and "pip install -e '.[instructor]'" in said, said
    # the check is real: the same environment cannot import nbgrader
    probe = subprocess.run([sys.executable, "-c", "import nbgrader"], env=dict(os.environ, **env), capture_output=True, text=True)
    assert probe.returncode != 0 and "not in a student install" in probe.stderr, probe.stderr

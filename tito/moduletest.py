"""`tito module test`: run a module's notebook in a fresh Jupyter kernel and grade it.

Grades come from nbgrader's own `determine_grade` applied to the executed cells,
so the local score is computed exactly as `nbgrader autograde` computes it. The
per-test results of the module's last cell (`run_module_tests_auto`) arrive as
JSON through the file named by TITO_TEST_RESULTS.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tito.notebooks import load_module_notebook, write_atomic
from tito.project import Module, state_dir
from tito.tools.testing import RESULTS_ENV

DEFAULT_CELL_TIMEOUT = 300
_TEST_DEF_RE = re.compile(r"^def (test_\w+)\s*\(", re.MULTILINE)
_ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class GradedTest:
    grade_id: str
    tests: list[str]
    points: float
    max_points: float
    message: str

    @property
    def passed(self) -> bool:
        return self.points == self.max_points


@dataclass
class ModuleTestReport:
    module: str
    graded: list[GradedTest]
    cell_errors: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)  # locked cells put back as released (workspace)
    inline: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def score(self) -> float:
        return sum(t.points for t in self.graded)

    @property
    def max_score(self) -> float:
        return sum(t.max_points for t in self.graded)

    @property
    def passed(self) -> bool:
        return bool(self.graded) and all(t.passed for t in self.graded)

    def to_dict(self) -> dict:
        data = asdict(self)
        data.update(score=self.score, max_score=self.max_score, passed=self.passed)
        return data


NOT_RUN_ENAME = "NotRun"


def mark_unexecuted_graded_cells(nb, reason: str) -> list[int]:
    """Give every graded code cell that never ran an error output, so nbgrader scores it 0.

    nbgrader sees no error in a cell without outputs; after a kernel died or a run
    stopped early, such a cell must not earn its points.
    """
    from nbformat import NotebookNode

    marked = []
    for index, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type != "code" or not meta.get("grade") or cell.get("execution_count") is not None:
            continue
        if not cell.source.strip():
            continue
        cell.outputs = [NotebookNode(output_type="error", ename=NOT_RUN_ENAME, evalue=reason,
                                     traceback=[f"{NOT_RUN_ENAME}: {reason}"])]
        marked.append(index)
    return marked


def graded_cells(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")]


def cell_failure_message(cell) -> str:
    """What went wrong in an executed cell, from its error (or stderr) output."""
    for output in cell.get("outputs", []):
        if output.output_type == "error":
            if output.ename == NOT_RUN_ENAME:
                return output.evalue
            text = f"{output.ename}: {output.evalue}" if output.evalue else output.ename
            if output.ename == "KeyboardInterrupt":
                text = "timed out: the cell ran past the time limit and was interrupted"
            if output.ename == "AssertionError" and output.evalue:
                text = output.evalue
            return _ANSI_RE.sub("", text).strip()
    for output in cell.get("outputs", []):
        if output.output_type == "stream" and output.name == "stderr":
            return "wrote to stderr (graded cells must not): " + _ANSI_RE.sub("", output.text).strip()[:300]
    return ""


def grade_executed_notebook(nb, module_key: str) -> ModuleTestReport:
    """Score every graded cell of an executed notebook with nbgrader's rules."""
    from nbgrader.utils import determine_grade

    graded = []
    for cell in graded_cells(nb):
        meta = cell.metadata["nbgrader"]
        points, max_points = determine_grade(cell)
        message = "" if points == max_points else cell_failure_message(cell)
        graded.append(
            GradedTest(
                grade_id=meta.get("grade_id", cell.get("id", "?")),
                tests=_TEST_DEF_RE.findall(cell.source),
                points=float(points or 0.0),
                max_points=float(max_points),
                message=message,
            )
        )
    errors = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and not cell.metadata.get("nbgrader", {}).get("grade"):
            if any(o.output_type == "error" for o in cell.get("outputs", [])):
                errors.append(f"cell {index + 1}: {cell_failure_message(cell)}")
    return ModuleTestReport(module=module_key, graded=graded, cell_errors=errors)


def execute_notebook(nb, cell_timeout: int = DEFAULT_CELL_TIMEOUT, cwd: Path | None = None,
                     kernel_name: str = "python3", env: dict[str, str] | None = None, **client_options):
    """Run every cell in a fresh kernel, keeping going after errors (as the grader does).

    `client_options` go to nbclient's NotebookClient (e.g. the grader's cell hooks).
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    client = NotebookClient(
        nb,
        timeout=cell_timeout,
        kernel_name=kernel_name,
        allow_errors=True,
        interrupt_on_timeout=True,
        resources={"metadata": {"path": str(cwd or os.getcwd())}},
        **client_options,
    )
    launch = {"stderr": subprocess.DEVNULL}  # the kernel's own log lines are not test output
    if env is not None:
        launch["env"] = env
    try:
        client.execute(**launch)
    except (CellTimeoutError, DeadKernelError) as exc:
        nb.metadata["tito_execution_error"] = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
    return nb


def kernel_environment(root: Path) -> dict[str, str]:
    """The environment of a module's kernel: the project's own folder first on the import path.

    In a student workspace `tinytorch` must be the package exported from the
    student's notebooks, even when the active environment has another one installed
    (such as the course repository's editable install). PYTHONPATH entries come
    before site-packages and before the editable-install finder, so the project's
    `tinytorch` (and `tito`) win.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    env.setdefault("MPLBACKEND", "Agg")
    return env


def restore_released_cells(module: Module, nb) -> list[str]:
    """In a workspace, put edited or deleted locked cells back as the grader will (tito.workspace)."""
    if module.has_source:
        return []
    from tito.notebooks import read_notebook
    from tito.workspace import release_copy, restore_locked_cells

    copy = release_copy(module)
    return restore_locked_cells(nb, read_notebook(copy)) if copy.is_file() else []


def run_module_tests(module: Module, cell_timeout: int = DEFAULT_CELL_TIMEOUT, nb=None) -> ModuleTestReport:
    """Execute the module's notebook in a fresh kernel and return its graded report.

    `nb` overrides the notebook (a workspace passes the student's own).
    """
    nb = load_module_notebook(module) if nb is None else nb
    restored = restore_released_cells(module, nb)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"tito-test-{module.key}-") as tmp:
        results_file = Path(tmp) / "inline-results.json"
        env = kernel_environment(module.root)
        env[RESULTS_ENV] = str(results_file)
        workdir = Path(tmp) / "work"
        workdir.mkdir()
        execute_notebook(nb, cell_timeout, cwd=workdir, env=env)
        if "tito_execution_error" in nb.metadata:
            mark_unexecuted_graded_cells(nb, "not run: the kernel stopped before this cell")
        report = grade_executed_notebook(nb, module.key)
        if results_file.is_file():
            report.inline = json.loads(results_file.read_text(encoding="utf-8")).get("tests", [])
    if "tito_execution_error" in nb.metadata:
        report.cell_errors.append(nb.metadata["tito_execution_error"])
    report.restored = restored
    report.seconds = time.perf_counter() - start
    save_last_report(module, report)
    return report


def save_last_report(module: Module, report: ModuleTestReport) -> None:
    path = state_dir(module.root) / "results" / f"{module.key}.json"
    write_atomic(path, json.dumps(report.to_dict(), indent=2))


def last_report_path(module: Module) -> Path:
    return module.root / ".tito" / "results" / f"{module.key}.json"


def last_report_is_older(module: Module) -> bool:
    """True when the module's source changed after its last test run."""
    report = last_report_path(module)
    return report.is_file() and module.editable_path.is_file() and (
        module.editable_path.stat().st_mtime > report.stat().st_mtime)


def load_last_report(module: Module) -> dict | None:
    path = last_report_path(module)
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None

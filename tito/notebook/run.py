"""Run a notebook in a fresh kernel and score it: the core that `tito module test` and the grader share.

`execute_notebook` runs every cell (errors allowed, as nbgrader does) and says
why the run stopped early, if it did, as a `Stop` (plain data, JSON both ways).
Graded cells that never ran get a `NotRun` error output, so that they earn no
points; `score_executed_notebook` then scores every graded cell with the one
scoring rule (`tito.notebook.cellrules.graded_cell_points`), which the grader's verdicts
follow too.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from tito.notebook.cells import defined_tests, graded_code_cells, grade_id, is_graded_code

NOT_RUN_ENAME = "NotRun"
MAX_STDERR_MESSAGE = 300  # characters of a graded cell's stderr quoted as its failure
_ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")


class StopKind(str, Enum):
    TIMEOUT = "timeout"  # nbclient gave up waiting for a cell
    DEAD_KERNEL = "dead_kernel"  # the kernel process went away
    OTHER = "other"  # the kernel could not be started, or nbclient failed


@dataclass(frozen=True)
class Stop:
    """Why a run ended before its last cell."""

    kind: StopKind
    cell: int | None  # index of the cell that was running, None between cells
    detail: str  # the exception that ended it, e.g. "DeadKernelError: Kernel died"

    def to_dict(self) -> dict:
        return {"kind": self.kind.value, "cell": self.cell, "detail": self.detail}

    @classmethod
    def from_dict(cls, data: dict) -> "Stop":
        return cls(StopKind(data["kind"]), data.get("cell"), data.get("detail", ""))


class _RunningCell:
    """Which cell nbclient is running, through its cell hooks (chained to the caller's own)."""

    def __init__(self, on_execute=None, on_executed=None):
        self.index: int | None = None
        self._on_execute, self._on_executed = on_execute, on_executed

    def on_cell_execute(self, **kwargs):
        self.index = kwargs["cell_index"]
        return self._on_execute(**kwargs) if self._on_execute else None

    def on_cell_executed(self, **kwargs):
        self.index = None
        return self._on_executed(**kwargs) if self._on_executed else None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"


def execute_notebook(nb, cell_timeout: int, cwd: Path | None = None, kernel_name: str = "python3",
                     env: dict[str, str] | None = None, **client_options) -> Stop | None:
    """Run every cell of `nb` (in place) in a fresh kernel, going on after errors; None if it ran to the end.

    `client_options` go to nbclient's NotebookClient (e.g. the grader's cell hooks).
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    running = _RunningCell(client_options.pop("on_cell_execute", None), client_options.pop("on_cell_executed", None))
    launch = {"stderr": subprocess.DEVNULL}  # the kernel's own log lines are not test output
    if env is not None:
        launch["env"] = env
    try:
        client = NotebookClient(
            nb,
            timeout=cell_timeout,
            kernel_name=kernel_name,
            allow_errors=True,
            interrupt_on_timeout=True,
            resources={"metadata": {"path": str(cwd or os.getcwd())}},
            on_cell_execute=running.on_cell_execute,
            on_cell_executed=running.on_cell_executed,
            **client_options,
        )
        client.execute(**launch)
    except CellTimeoutError as exc:
        return Stop(StopKind.TIMEOUT, running.index, _first_line(exc))
    except DeadKernelError as exc:
        return Stop(StopKind.DEAD_KERNEL, running.index, _first_line(exc))
    except Exception as exc:  # no kernel, or nbclient failed: not the notebook's doing
        return Stop(StopKind.OTHER, running.index, f"{type(exc).__name__}: {exc}".strip())
    return None


def mark_unexecuted_graded_cells(nb, reason: str) -> list[int]:
    """Give every graded code cell that never ran an error output, so nbgrader scores it 0.

    nbgrader sees no error in a cell without outputs; after a kernel died or a run
    stopped early, such a cell must not earn its points.
    """
    from nbformat import NotebookNode

    marked = []
    for index, cell in enumerate(nb.cells):
        if not is_graded_code(cell) or cell.get("execution_count") is not None or not cell.source.strip():
            continue
        cell.outputs = [NotebookNode(output_type="error", ename=NOT_RUN_ENAME, evalue=reason,
                                     traceback=[f"{NOT_RUN_ENAME}: {reason}"])]
        marked.append(index)
    return marked


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
            stderr = _ANSI_RE.sub("", output.text).strip()[:MAX_STDERR_MESSAGE]
            return "wrote to stderr (graded cells must not): " + stderr
    return ""


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
class NotebookScore:
    """Every graded cell's points, and the errors of the other code cells."""

    graded: list[GradedTest]
    cell_errors: list[str]


def score_executed_notebook(nb) -> NotebookScore:
    """Score every graded cell of an executed notebook with the one scoring rule
    (`tito.notebook.cellrules.graded_cell_points`): its points when it shows no error."""
    from tito.notebook.cellrules import graded_cell_points
    from tito.notebook.cells import points as cell_points

    graded = []
    for cell in graded_code_cells(nb):
        max_points = cell_points(cell)
        raised = any(o.get("output_type") == "error" for o in cell.get("outputs", []))
        points = graded_cell_points(raised, max_points)
        graded.append(GradedTest(
            grade_id=grade_id(cell) or cell.get("id", "?"),
            tests=defined_tests(cell.source),
            points=float(points or 0.0),
            max_points=float(max_points),
            message="" if points == max_points else cell_failure_message(cell),
        ))
    errors = [f"cell {index + 1}: {cell_failure_message(cell)}" for index, cell in enumerate(nb.cells)
              if cell.cell_type == "code" and not is_graded_code(cell)
              and any(o.output_type == "error" for o in cell.get("outputs", []))]
    return NotebookScore(graded, errors)


def kernel_environment(root: Path) -> dict[str, str]:
    """The environment of a project's kernel: the project's own folder first on the import path.

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

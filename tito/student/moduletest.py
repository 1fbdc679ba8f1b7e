"""`tito module test`: run a module's notebook in a fresh Jupyter kernel and grade it.

The run and the score come from `tito.notebook.run`, the core the grader uses
too, so the local score is computed exactly as `nbgrader autograde` computes it.
In a workspace, locked cells the student changed are first put back as released
(`tito.notebook.locked_cells`), as the grader does. The per-test results of the module's
last cell (`run_module_tests_auto`) arrive as JSON through the file named by
TITO_TEST_RESULTS.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tito.errors import TitoError
from tito.files import write_atomic
from tito.judge.notebook import JudgedTests, blas_thread_environment, judge_notebook
from tito.notebook.run import (
    GradedTest,
    execute_notebook,
    kernel_environment,
    mark_unexecuted_graded_cells,
    score_executed_notebook,
)
from tito.notebook.source import load_module_notebook
from tito.project import STATE_DIR, Module
from tito.tools.testing import POINTS_ENV, RESULTS_ENV, points_for_kernel

STUDENT_CELL_TIMEOUT = 300  # seconds per cell in `tito module test` and `tito test`: generous, the student waits
NOT_RUN_REASON = "not run: the kernel stopped before this cell"
RESULTS_DIR = "results"  # under the project's state folder: the last report of each module


@dataclass
class ModuleTestReport:
    module: str
    graded: list[GradedTest]
    cell_errors: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)  # locked cells put back as released (workspace)
    inline: list[dict] = field(default_factory=list)  # the notebook's own per-test results, when run inline
    judge_signs: list[str] = field(default_factory=list)  # what the student's process showed of tampering
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


def restore_released_cells(module: Module, nb) -> list[str]:
    """In a workspace, put edited or deleted locked cells back as the grader will."""
    if module.has_source:
        return []
    from tito.notebook.locked_cells import restore_locked_cells
    from tito.notebook.source import read_notebook
    from tito.student.workspace import release_copy

    copy = release_copy(module)
    return [str(change) for change in restore_locked_cells(nb, read_notebook(copy))] if copy.is_file() else []


def trusted_tests(module: Module) -> JudgedTests:
    """The graded tests as the grader has them: from the module's source in the course repository,
    from the release copy kept in a student workspace (never from the notebook being tested)."""
    if module.has_source:
        return JudgedTests.from_notebook(load_module_notebook(module))
    from tito.notebook.source import read_notebook
    from tito.student.workspace import release_copy

    copy = release_copy(module)
    if not copy.is_file():
        raise TitoError(f"{copy} is missing: the workspace has lost the released {module.key} notebook; "
                        "ask for a fresh workspace")
    return JudgedTests.from_notebook(read_notebook(copy))


def run_module_tests(module: Module, cell_timeout: int = STUDENT_CELL_TIMEOUT, nb=None,
                     judged: bool = True) -> ModuleTestReport:
    """Execute the module's notebook in a fresh kernel and return its graded report.

    `nb` overrides the notebook (a workspace passes the student's own). Judged (the
    default), the graded cells are decided by the trusted judge, as the grader decides
    them (`tito.judge`); `judged=False` runs them inline in the kernel, as Jupyter's
    "Run All" does, and collects the notebook's own per-test results.
    """
    nb = load_module_notebook(module) if nb is None else nb
    tests = trusted_tests(module) if judged else None
    restored = restore_released_cells(module, nb)
    start = time.perf_counter()
    judge_report = None
    with tempfile.TemporaryDirectory(prefix=f"tito-test-{module.key}-") as tmp:
        results_file = Path(tmp) / "inline-results.json"
        env = kernel_environment(module.root)
        # BLAS held to one thread in the kernel from its start, as every graded speed check wants it: the only
        # way to limit a BLAS threadpoolctl cannot (Accelerate on macOS)
        env.update(blas_thread_environment(1))
        env[RESULTS_ENV] = str(results_file)
        env[POINTS_ENV] = points_for_kernel(nb)  # the notebook's own summary counts the same points
        workdir = Path(tmp) / "work"
        workdir.mkdir()
        stops = []

        def execute(kernel_nb, timeout_of=None) -> None:
            options = {} if timeout_of is None else {"timeout_func": timeout_of}
            stops.append(execute_notebook(kernel_nb, cell_timeout, cwd=workdir, env=env, **options))

        if tests is None:
            execute(nb)
        else:
            judge_report = judge_notebook(nb, tests, execute, cell_timeout)
        # a stop in the judge's own last cell (a test that took an in-process kernel with it) is the
        # judge's to report; the notebook itself ran
        stop = next((s for s in stops if s is not None and (s.cell is None or s.cell < len(nb.cells))), None)
        if stop is not None:
            mark_unexecuted_graded_cells(nb, NOT_RUN_REASON)
        score = score_executed_notebook(nb)
        report = ModuleTestReport(module.key, score.graded, score.cell_errors, restored)
        if results_file.is_file():
            report.inline = json.loads(results_file.read_text(encoding="utf-8")).get("tests", [])
    if stop is not None:
        report.cell_errors.append(stop.detail)
    if judge_report is not None:
        report.judge_signs = judge_report.signs
        if judge_report.detail and stop is None:
            report.cell_errors.append(judge_report.detail)
    report.seconds = time.perf_counter() - start
    save_last_report(module, report)
    return report


def save_last_report(module: Module, report: ModuleTestReport) -> None:
    write_atomic(last_report_path(module), json.dumps(report.to_dict(), indent=2))


def last_report_path(module: Module) -> Path:
    return module.root / STATE_DIR / RESULTS_DIR / f"{module.key}.json"


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

"""Judging a notebook: its kernel runs the student's cells, a judge process runs the tests.

`judge_notebook` is what `tito module test` and the grader call: the notebook runs
in its kernel with the graded cells left empty and one cell added that hands the
kernel's process to the judge (`tito.judge.server`); the judge runs in a Python
process of its own (`python -m tito.judge`, driven through `JudgeProcess`); the
graded cells get the judge's verdicts as outputs, so nbgrader's own scoring rule
gives the judge's grade.
"""

from __future__ import annotations

import ast
import copy
import json
import os
from dataclasses import dataclass
from typing import Any, Callable

from tito.cells import grade_id, graded_code_cells, is_graded_code
from tito.judge.judge import HANDOVER_SECONDS, JUDGE_ENAME, JudgeReport, Verdict, trusted_setup_source
from tito.judge.server import serve_cell_source

SERVE_CELL_KEY = "tito_judge_serve"
BLAS_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def verdict_outputs(verdict: Verdict) -> list:
    """The outputs a judged graded cell gets: nbgrader gives the points when there is no error output."""
    from nbformat import NotebookNode

    if verdict.passed:
        return [NotebookNode(output_type="stream", name="stdout", text=f"passed ({verdict.seconds:.2f} s, judged outside the notebook's kernel)\n")]
    ename = verdict.error_type or JUDGE_ENAME
    evalue = verdict.message
    if evalue == ename:
        evalue = ""
    elif evalue.startswith(f"{ename}: "):
        evalue = evalue[len(ename) + 2:]
    return [NotebookNode(output_type="error", ename=ename, evalue=evalue, traceback=[verdict.message])]


@dataclass
class JudgedTests:
    """What the judge runs, taken from the trusted copy of a notebook (the instructor's source or the
    release): each graded cell's source by grade id, and the setup code. Plain data, so that it can
    travel with a submission to the machine that runs it."""

    cells: dict[str, str]
    setup: str

    def setup_names(self) -> set[str]:
        """The names the setup defines for the tests (imports, test helpers)."""
        from tito.judge.signs import assigned_names

        names = assigned_names(self.setup)
        try:
            tree = ast.parse(self.setup)
        except SyntaxError:
            return names
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        return names

    @classmethod
    def from_notebook(cls, trusted_nb) -> "JudgedTests":
        cells = {grade_id(c): c.source for c in graded_code_cells(trusted_nb)}
        return cls(cells={str(k): v for k, v in cells.items()}, setup=trusted_setup_source(trusted_nb))


def judge_notebook(nb, tests: JudgedTests, execute: Callable[[Any, Callable[[Any], float]], None],
                   test_timeout: float, uid: int | None = None, cpus: tuple[int, ...] = (),
                   threads: int | None = None) -> JudgeReport:
    """Execute `nb` with `execute(kernel_nb, timeout_of_cell)` while the judge runs `tests` against it;
    the graded cells of `nb` get the verdicts as outputs, its other cells the kernel's outputs.

    The judge runs in a Python process of its own (`python -m tito.judge`), on the
    CPUs `cpus` with `threads` BLAS threads when given, as the kernel does: a speed
    check compares the kernel with a baseline run under the same conditions, in the
    main thread of a process that holds nothing else. `uid` is the sandbox user whose
    processes the judge may kill (a session that overran its test).

    A graded cell of `nb` that `tests` does not know (one the submission added) fails:
    only the trusted copy says what is a test.
    """
    graded_ids = [str(grade_id(c)) for c in graded_code_cells(nb)]
    known = [g for g in graded_ids if g in tests.cells]
    kernel_nb = copy.deepcopy(nb)
    for cell in kernel_nb.cells:
        if is_graded_code(cell):
            cell.source = ""  # the tests stay out of the student's process
            cell.outputs = []
    budget = test_timeout * (len(known) + 1) + HANDOVER_SECONDS

    def timeout_of(cell) -> float:
        return budget if cell.get("metadata", {}).get(SERVE_CELL_KEY) else test_timeout

    job = {"tests": {"cells": {g: tests.cells[g] for g in known}, "setup": tests.setup},
           "timeout": test_timeout, "uid": uid, "cpus": list(cpus)}
    with JudgeProcess(job, threads) as judge:
        from nbformat.v4 import new_code_cell

        serve = new_code_cell(serve_cell_source("127.0.0.1", judge.port, judge.token))
        serve.metadata[SERVE_CELL_KEY] = True
        kernel_nb.cells.append(serve)
        try:
            execute(kernel_nb, timeout_of)
        finally:
            report = judge.finish(budget)
    kernel_nb.cells.pop()
    verdicts = {v.grade_id: v for v in report.verdicts}
    for cell, ran in zip(nb.cells, kernel_nb.cells):
        if is_graded_code(cell):
            name = str(grade_id(cell))
            verdict = verdicts.get(name) or Verdict(name, False, "not a graded cell of this assignment", "UnknownTest")
            cell.outputs = verdict_outputs(verdict)
            cell.execution_count = ran.get("execution_count") or 1
        elif cell.cell_type == "code":
            cell.outputs = ran.get("outputs", [])
            cell.execution_count = ran.get("execution_count")
    return report


class JudgeError(RuntimeError):
    """The judge process itself failed: not the submission's doing."""


class JudgeProcess:
    """`python -m tito.judge` as seen from the process that runs the notebook.

    Protocol over the judge's stdin and stdout, one JSON line each: the job in; the
    listening port and token out; "finished" in when the notebook has run; the
    report out.
    """

    def __init__(self, job: dict, threads: int | None):
        import subprocess
        import sys
        import tempfile

        import tito

        env = dict(os.environ)
        package_root = os.path.dirname(os.path.dirname(os.path.abspath(tito.__file__)))
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
        env.setdefault("MPLBACKEND", "Agg")
        if threads:
            for name in BLAS_THREAD_VARIABLES:
                env[name] = str(threads)
        self._log = tempfile.TemporaryFile()
        self.process = subprocess.Popen([sys.executable, "-m", "tito.judge"], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=self._log, env=env, text=True)
        try:
            self.process.stdin.write(json.dumps(job) + "\n")
            self.process.stdin.flush()
            hello = self._read_line(HANDOVER_SECONDS)
            self.port, self.token = int(hello["port"]), str(hello["token"])
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> "JudgeProcess":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _read_line(self, timeout: float) -> dict:
        import select

        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        line = self.process.stdout.readline() if ready else ""
        if not line:
            raise JudgeError(f"the judge process stopped without answering: {self._log_tail()}")
        return json.loads(line)

    def _log_tail(self) -> str:
        self._log.seek(0)
        text = self._log.read().decode("utf-8", "replace").strip()
        return text[-2000:] or f"exit code {self.process.poll()}"

    def finish(self, timeout: float) -> JudgeReport:
        """Tell the judge the notebook has run; wait for its report."""
        try:
            self.process.stdin.write("finished\n")
            self.process.stdin.flush()
        except OSError:
            pass
        data = self._read_line(timeout)
        return JudgeReport(verdicts=[Verdict(**v) for v in data.get("verdicts", [])],
                           handed_over=bool(data.get("handed_over")), signs=list(data.get("signs", [])),
                           detail=str(data.get("detail", "")))

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass
        self._log.close()

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
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from tito.errors import TitoError
from tito.judge.judge import HANDOVER_SECONDS, JUDGE_ENAME, JudgeReport, Verdict
from tito.judge.modes import IN_PROCESS
from tito.judge.server import serve_cell_source
from tito.judge.trusted import TrustedSetup, trusted_setup
from tito.notebook.cells import grade_id, graded_code_cells, is_graded_code

SERVE_CELL_KEY = "tito_judge_serve"
STOP_GRACE_SECONDS = 20.0  # a cell this long past its time limit has a wedged kernel (the grader's watchdog acts first)
STUCK_POLL_SECONDS = 0.5  # how often the watch over a running notebook looks whether its kernel is stuck
LOG_TAIL_CHARS = 2000  # of the judge process's own output, quoted when it stops without answering
# BLAS thread counts a process takes from its environment at start. VECLIB_MAXIMUM_THREADS is the only
# control Accelerate (NumPy's BLAS on macOS) has: threadpoolctl cannot limit it once it is loaded
BLAS_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")


def blas_thread_environment(threads: int) -> dict[str, str]:
    """The environment that holds every BLAS a process may load to `threads` threads."""
    return {name: str(threads) for name in BLAS_THREAD_VARIABLES}


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
    student_names: list[str] = field(default_factory=list)  # none: the tests see no name of the student's

    def trusted_setup(self) -> TrustedSetup:
        return TrustedSetup(self.setup, list(self.student_names))

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
        setup = trusted_setup(trusted_nb)
        return cls(cells={str(k): v for k, v in cells.items()}, setup=setup.source,
                   student_names=setup.student_names)


def judge_notebook(nb, tests: JudgedTests, execute: Callable[[Any, Callable[[Any], float]], None],
                   test_timeout: float, uid: int | None = None, cpus: tuple[int, ...] = (),
                   threads: int | None = None, stop_kernel: Callable[[], None] | None = None,
                   strict: bool = False) -> JudgeReport:
    """Execute `nb` with `execute(kernel_nb, timeout_of_cell)` while the judge runs `tests` against it;
    the graded cells of `nb` get the verdicts as outputs, its other cells the kernel's outputs.

    The judge runs in a Python process of its own (`python -m tito.judge`), on the
    CPUs `cpus` with `threads` BLAS threads when given, as the kernel does: a speed
    check compares the kernel with a baseline run under the same conditions, in the
    main thread of a process that holds nothing else. `uid` is the sandbox user whose
    processes the judge may kill (a session that overran its test). `strict` (the
    grader): a speed check that the operating system would not let the judge observe
    is inconclusive, never timed on the student's word.

    A graded cell of `nb` that `tests` does not know (one the submission added) fails:
    only the trusted copy says what is a test. A kernel that has not handed itself to
    the judge HANDOVER_SECONDS after its last cell began (its notebook broke the
    handover), or whose cell is STOP_GRACE_SECONDS past its time limit (wedged: it
    answers no interrupt), is stopped with `stop_kernel()` (default: kill this
    process's Jupyter kernels); the tests then fail as not run.

    Where the notebook's process serves the tests in-process (`tito.judge.modes`), a
    test that hangs or kills it stops the kernel, and the notebook runs again in a
    fresh kernel for the tests after that one.
    """
    graded_ids = [str(grade_id(c)) for c in graded_code_cells(nb)]
    remaining = [g for g in graded_ids if g in tests.cells]
    kernel_nb = copy.deepcopy(nb)
    for cell in kernel_nb.cells:
        if is_graded_code(cell):
            cell.source = ""  # the tests stay out of the student's process
            cell.outputs = []
    first_run, report, verdicts = None, None, {}
    while True:
        run_nb = copy.deepcopy(kernel_nb)
        ran = _judge_once(run_nb, JudgedTests({g: tests.cells[g] for g in remaining}, tests.setup,
                                              list(tests.student_names)),
                          execute, test_timeout, uid, cpus, threads, stop_kernel, strict)
        first_run = first_run or run_nb
        report = report or ran
        verdicts.update({v.grade_id: v for v in ran.verdicts})
        lost = next((v.grade_id for v in ran.verdicts if v.lost_process), None)
        if ran.mode != IN_PROCESS or lost is None or lost not in remaining:
            break
        # in-process mode: the test that hung or killed the notebook's process took the kernel with it;
        # a fresh kernel runs the notebook again for the tests after it, as fork mode would have gone on
        remaining = remaining[remaining.index(lost) + 1:]
        if not remaining:
            break
    report.verdicts = [verdicts[g] for g in graded_ids if g in verdicts]
    for cell, ran_cell in zip(nb.cells, first_run.cells):
        if is_graded_code(cell):
            name = str(grade_id(cell))
            verdict = verdicts.get(name) or Verdict(name, False, "not a graded cell of this assignment", "UnknownTest")
            cell.outputs = verdict_outputs(verdict)
            cell.execution_count = ran_cell.get("execution_count") or 1
        elif cell.cell_type == "code":
            cell.outputs = ran_cell.get("outputs", [])
            cell.execution_count = ran_cell.get("execution_count")
    return report


def _judge_once(kernel_nb, tests: JudgedTests, execute: Callable[[Any, Callable[[Any], float]], None],
                test_timeout: float, uid: int | None, cpus: tuple[int, ...], threads: int | None,
                stop_kernel: Callable[[], None] | None, strict: bool) -> JudgeReport:
    """One kernel run of `kernel_nb` (graded cells already empty) with a judge process for `tests`."""
    budget = test_timeout * (len(tests.cells) + 1) + HANDOVER_SECONDS
    stop_kernel = stop_kernel or kill_kernels
    serve_started = threading.Event()
    deadline = [float("inf")]  # when the running cell is overdue: its time limit and a grace

    def timeout_of(cell) -> float:
        limit = budget if cell.get("metadata", {}).get(SERVE_CELL_KEY) else test_timeout
        deadline[0] = time.monotonic() + limit + STOP_GRACE_SECONDS
        if cell.get("metadata", {}).get(SERVE_CELL_KEY):
            serve_started.set()
        return limit

    job = {"tests": {"cells": dict(tests.cells), "setup": tests.setup, "student_names": list(tests.student_names)},
           "timeout": test_timeout, "uid": uid, "cpus": list(cpus), "strict": strict}
    with JudgeProcess(job, threads, on_process_lost=stop_kernel) as judge:
        from nbformat.v4 import new_code_cell

        serve = new_code_cell(serve_cell_source("127.0.0.1", judge.port, judge.token))
        serve.metadata[SERVE_CELL_KEY] = True
        kernel_nb.cells.append(serve)
        ran = threading.Event()
        watcher = threading.Thread(target=_stop_stuck_kernel, daemon=True,
                                   args=(serve_started, judge.handed_over, deadline, ran, stop_kernel))
        watcher.start()
        try:
            execute(kernel_nb, timeout_of)
        finally:
            ran.set()
            report = judge.finish(budget)
    kernel_nb.cells.pop()
    return report


def _stop_stuck_kernel(serve_started: threading.Event, handed_over: threading.Event, deadline: list[float],
                       ran: threading.Event, stop_kernel: Callable[[], None]) -> None:
    """Stop the kernel when its last cell began HANDOVER_SECONDS ago and it has not handed itself to
    the judge, or when a cell is overdue (a kernel wedged by its notebook answers no interrupt)."""
    handover_due = None
    while not ran.wait(STUCK_POLL_SECONDS):
        now = time.monotonic()
        if serve_started.is_set() and handover_due is None:
            handover_due = now + HANDOVER_SECONDS
        if (handover_due is not None and now > handover_due and not handed_over.is_set()) or now > deadline[0]:
            stop_kernel()
            return


def kill_kernels() -> None:
    """Kill the Jupyter kernels this process started (`tito module test` runs one at a time)."""
    import psutil

    for child in psutil.Process().children():
        try:
            if any("ipykernel" in part for part in child.cmdline()):
                child.kill()
        except psutil.Error:
            pass


class JudgeError(TitoError):
    """The judge process itself failed: not the submission's doing."""


class JudgeProcess:
    """`python -m tito.judge` as seen from the process that runs the notebook.

    Protocol over the judge's stdin and stdout, one JSON line each: the job in; the
    listening port and token out; `{"handed_over": true}` out when the notebook's
    process has connected; `{"process_lost": true}` out when, in in-process mode, a
    test left that process hung or dead (the kernel is then stopped); "finished" in
    when the notebook has run; the report out.
    """

    def __init__(self, job: dict, threads: int | None, on_process_lost: Callable[[], None] = lambda: None):
        import subprocess
        import sys
        import tempfile

        import tito

        env = dict(os.environ)
        package_root = os.path.dirname(os.path.dirname(os.path.abspath(tito.__file__)))
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
        env.setdefault("MPLBACKEND", "Agg")
        # the judge's baselines are single-thread products unless the grader gives it a CPU share: held by the
        # environment, which works where threadpoolctl cannot (Accelerate)
        env.update(blas_thread_environment(threads or 1))
        self._log = tempfile.TemporaryFile()
        self.handed_over = threading.Event()
        self.on_process_lost = on_process_lost
        self._report: dict | None = None
        self._report_ready = threading.Event()
        self._hello: queue.Queue = queue.Queue(maxsize=1)
        self.process = subprocess.Popen([sys.executable, "-m", "tito.judge"], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=self._log, env=env, text=True)
        # a thread reads the judge's lines: a pipe cannot be waited on with a timeout on every OS
        threading.Thread(target=self._read_messages, name="judge-messages", daemon=True).start()
        try:
            self.process.stdin.write(json.dumps(job) + "\n")
            self.process.stdin.flush()
            hello = self._read_hello(HANDOVER_SECONDS)
            self.port, self.token = int(hello["port"]), str(hello["token"])
        except BaseException:
            self.close()
            raise

    def _read_messages(self) -> None:
        first = self.process.stdout.readline()
        self._hello.put(first)
        if not first:
            self._report_ready.set()
            return
        for line in self.process.stdout:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if message == {"handed_over": True}:
                self.handed_over.set()
            elif message == {"process_lost": True}:
                self.on_process_lost()  # in-process mode: the kernel is stuck in, or died of, a test
            else:
                self._report = message
                break
        self._report_ready.set()

    def __enter__(self) -> "JudgeProcess":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _read_hello(self, timeout: float) -> dict:
        try:
            line = self._hello.get(timeout=timeout)
        except queue.Empty:
            line = ""
        if not line:
            raise JudgeError(f"the judge process stopped without answering: {self._log_tail()}")
        return json.loads(line)

    def _log_tail(self) -> str:
        self._log.seek(0)
        text = self._log.read().decode("utf-8", "replace").strip()
        return text[-LOG_TAIL_CHARS:] or f"exit code {self.process.poll()}"

    def finish(self, timeout: float) -> JudgeReport:
        """Tell the judge the notebook has run; wait for its report."""
        try:
            self.process.stdin.write("finished\n")
            self.process.stdin.flush()
        except OSError:
            pass
        if not self._report_ready.wait(timeout) or self._report is None:
            raise JudgeError(f"the judge process gave no report: {self._log_tail()}")
        data = self._report
        return JudgeReport(verdicts=[Verdict(**v) for v in data.get("verdicts", [])],
                           handed_over=bool(data.get("handed_over")), signs=list(data.get("signs", [])),
                           detail=str(data.get("detail", "")), mode=str(data.get("mode", "")))

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

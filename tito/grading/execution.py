"""Run one submission's notebook in the sandboxed kernel (inside a grading worker process).

The execution step is plain data in, plain data out: `execute_in_sandbox` takes
an `ExecutionJob` (the sanitized notebook as JSON, the cell timeout, the sandbox
settings) and returns an `ExecutionResult` (the executed notebook as JSON, the
typed `Stop` of a run that ended early, the cells that timed out or were
running when the kernel died), both JSON both ways. Scoring and the gradebook
stay with the coordinating process (`tito.grading.autograding`), which also
gives graded cells that never ran their error output (`mark_cells_not_run`).

The notebook is executed by `tito.notebook.run.execute_notebook` (nbclient, errors
allowed, interrupt on timeout) in the `tinytorch-sandbox` kernel. A watchdog
thread enforces what nbclient alone does not: a kernel that ignores the
timeout's interrupt is killed `INTERRUPT_GRACE` seconds later, a kernel that
floods output past `MAX_OUTPUT_BYTES` is killed (ZeroMQ itself drops any single
message over `MAX_MESSAGE_BYTES`), and every process of the
sandbox user except the kernel is killed (and counted) after a timed-out cell,
whenever the user nears its process limit (a fork bomb), and at the end.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import asdict, dataclass, field, replace

from tito.grading.paths import SANDBOX_KERNEL_NAME
from tito.grading.sandbox import (
    SETTINGS_ENV,
    SandboxSettings,
    claim_sandbox_uid,
    cpu_share,
    is_root,
    kill_strays,
    kill_uid_processes,
    processes_of_uid,
    task_count,
)
from tito.judge.notebook import JudgedTests, judge_notebook, kill_kernels
from tito.notebook.run import Stop, StopKind, execute_notebook, mark_unexecuted_graded_cells

INTERRUPT_GRACE = 10.0  # seconds a timed-out cell has to answer the interrupt before its kernel is killed
MAX_OUTPUT_BYTES = 32 * 1024 * 1024  # all outputs of one notebook
MAX_MESSAGE_BYTES = 8 * 1024 * 1024  # one message from the kernel; a bigger one is dropped by ZeroMQ
MAX_TEXT_PER_OUTPUT = 256 * 1024  # what one output keeps in the graded notebook
TRUNCATION_NOTE = "\n[... output truncated by the grader]\n"
WATCH_INTERVAL = 0.25
PROCESS_CHECK_INTERVAL = 1.0  # scanning /proc for the sandbox user's tasks costs a few milliseconds
NPROC_MARGIN = 8  # this close to the process limit counts as a fork bomb
KERNEL_ARGUMENTS = ["--HistoryManager.hist_file=:memory:"]

_worker_uid: int | None = None
_worker_cpus: tuple[int, ...] = ()


@dataclass
class ExecutionJob:
    student: str
    module: str
    notebook_json: str
    cell_timeout: int
    settings: SandboxSettings
    tests: dict = field(default_factory=lambda: {"cells": {}, "setup": "", "student_names": []})  # JudgedTests as a dict: what the judge runs


@dataclass
class ExecutionResult:
    student: str
    module: str
    notebook_json: str | None = None
    stop: Stop | None = None  # why the run ended before its last cell; None: it ran to the end
    timed_out_cells: list[int] = field(default_factory=list)
    kernel_died: bool = False
    killed_for: str = ""  # "timeout", "output" or "handover": the watchdog killed the kernel
    died_in_cell: int | None = None
    strays_killed: int = 0
    error: str = ""  # the kernel could not be started or run at all
    seconds: float = 0.0
    judge: dict = field(default_factory=dict)  # tito.judge.judge.JudgeReport as a dict

    def to_json(self) -> str:
        data = asdict(self)
        data["stop"] = None if self.stop is None else self.stop.to_dict()
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> "ExecutionResult":
        data = json.loads(text)
        stop = data.pop("stop", None)
        return cls(stop=None if stop is None else Stop.from_dict(stop), **data)


def init_worker(slots, slot_count: int) -> None:
    """Process-pool initializer: this worker takes a slot (its share of the CPUs) from the
    `slots` queue and owns one sandbox uid for its whole life."""
    global _worker_uid, _worker_cpus
    _worker_cpus = cpu_share(slots.get(), slot_count)
    if is_root():
        _worker_uid, _ = claim_sandbox_uid()


def _output_size(cell) -> int:
    size = 0
    for output in list(cell.get("outputs", [])):
        text = output.get("text")
        if isinstance(text, str):
            size += len(text)
        for value in (output.get("data") or {}).values():
            size += len(value) if isinstance(value, str) else 0
        size += sum(len(line) for line in output.get("traceback", []) or [])
    return size


class Watchdog:
    """Watches the running cell through nbclient's cell hooks and a polling thread."""

    def __init__(self, timeout: int, uid: int | None, process_limit: int, timeout_of=None):
        self.timeout = timeout
        self.timeout_of = timeout_of or (lambda cell: timeout)  # the judge's cell has the tests' whole budget
        self._cell_timeout = float(timeout)
        self.uid = uid
        self.process_limit = process_limit
        self.timed_out: list[int] = []
        self.killed_for = ""
        self.strays_killed = 0
        self.current: int | None = None
        self.kernel_pid: int | None = None
        self._cell = None
        self._started = 0.0
        self._finished_output = 0
        self._lock = threading.Lock()
        self._kill_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="tito-watchdog", daemon=True)

    def __enter__(self) -> "Watchdog":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def on_cell_execute(self, cell, cell_index, **_) -> None:
        if self.uid is not None and self.kernel_pid is None:
            mine = os.getpid()
            self.kernel_pid = next((p.pid for p in processes_of_uid(self.uid) if p.ppid == mine), None)
        with self._lock:
            self.current, self._cell, self._started = cell_index, cell, time.monotonic()
            self._cell_timeout = float(self.timeout_of(cell))

    def on_cell_executed(self, cell, cell_index, **_) -> None:
        with self._lock:
            elapsed = time.monotonic() - self._started
            self.current, self._cell = None, None
            self._finished_output += _output_size(cell)
        if elapsed >= self._cell_timeout:
            self.timed_out.append(cell_index)
            self._kill_strays()  # what the interrupted cell started must not run on into the next cells

    def _kill_strays(self) -> None:
        if self.uid is not None:
            with self._kill_lock:
                self.strays_killed += kill_strays(self.uid, self.kernel_pid)

    def _near_process_limit(self) -> bool:
        return self.uid is not None and task_count(self.uid) >= self.process_limit - NPROC_MARGIN

    def _kill_kernel(self, reason: str) -> None:
        self.killed_for = reason
        if reason == "timeout" and self.current is not None:
            self.timed_out.append(self.current)
        if self.uid is not None:
            kill_uid_processes(self.uid)
        else:
            kill_kernels()

    def stop_without_handover(self) -> None:
        """The kernel never handed itself to the judge (its notebook broke the handover, or it hangs)."""
        self._kill_kernel("handover")

    def _watch(self) -> None:
        next_process_check = 0.0
        while not self._stop.wait(WATCH_INTERVAL):
            with self._lock:
                cell, started = self._cell, self._started
                output = self._finished_output + (_output_size(cell) if cell is not None else 0)
            if self.killed_for:
                continue
            if cell is not None and time.monotonic() - started > self._cell_timeout + INTERRUPT_GRACE:
                self._kill_kernel("timeout")
            elif output > MAX_OUTPUT_BYTES:
                self._kill_kernel("output")
            elif time.monotonic() >= next_process_check:
                next_process_check = time.monotonic() + PROCESS_CHECK_INTERVAL
                if self._near_process_limit():  # a fork bomb: everything but the kernel goes
                    self._kill_strays()


def capped_kernel_manager_class():
    """An AsyncKernelManager whose sockets refuse any message over MAX_MESSAGE_BYTES: a kernel that
    prints hundreds of megabytes between two flushes cannot make the grader hold them in memory."""
    import zmq
    import zmq.asyncio
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class CappedKernelManager(AsyncKernelManager):
        @default("context")
        def _context_default(self):
            self._created_context = True
            context = zmq.asyncio.Context()
            context.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
            return context

    return CappedKernelManager


def truncate_outputs(nb, limit: int = MAX_TEXT_PER_OUTPUT) -> None:
    """Merge each cell's consecutive stream outputs, then cut every text output to `limit` characters, saying so."""
    for cell in nb.cells:
        merged = []
        for output in cell.get("outputs", []):
            previous = merged[-1] if merged else None
            if (output.get("output_type") == "stream" and previous is not None
                    and previous.get("output_type") == "stream" and previous.get("name") == output.get("name")):
                if len(previous["text"]) <= limit:
                    previous["text"] += output.get("text", "")
                continue
            merged.append(output)
        if "outputs" in cell:
            cell["outputs"] = merged
        for output in merged:
            if isinstance(output.get("text"), str) and len(output["text"]) > limit:
                output["text"] = output["text"][:limit] + TRUNCATION_NOTE
            for mime, value in list((output.get("data") or {}).items()):
                if isinstance(value, str) and len(value) > limit:
                    output["data"][mime] = value[:limit] + TRUNCATION_NOTE


def execute_in_sandbox(job: ExecutionJob, uid: int | None, cpus: tuple[int, ...] = ()) -> ExecutionResult:
    """Execute `job`'s notebook in the sandboxed kernel as sandbox user `uid` (None: not root),
    pinned to `cpus` (with as many BLAS threads) when given."""
    import nbformat

    result = ExecutionResult(job.student, job.module)
    nb = nbformat.reads(job.notebook_json, as_version=4)
    settings = replace(job.settings, uid=uid, cpus=tuple(cpus), threads=len(cpus) or job.settings.threads)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8",
           SETTINGS_ENV: settings.to_env(), "NBGRADER_EXECUTION": "autograde"}
    start = time.perf_counter()
    if uid is not None:
        kill_uid_processes(uid)
    watchdog = Watchdog(job.cell_timeout, uid, settings.limits.processes)
    stop = None

    def execute(kernel_nb, timeout_of) -> None:
        nonlocal stop
        watchdog.timeout_of = timeout_of
        with watchdog:
            stop = execute_notebook(kernel_nb, job.cell_timeout, kernel_name=SANDBOX_KERNEL_NAME, env=env,
                                    on_cell_execute=watchdog.on_cell_execute,
                                    on_cell_executed=watchdog.on_cell_executed, timeout_func=timeout_of,
                                    extra_arguments=KERNEL_ARGUMENTS, shutdown_kernel="immediate",
                                    kernel_manager_class=capped_kernel_manager_class())

    try:
        report = judge_notebook(nb, JudgedTests(**job.tests), execute, job.cell_timeout, uid=uid, cpus=tuple(cpus),
                                threads=settings.threads, stop_kernel=watchdog.stop_without_handover, strict=True)
        result.judge = report.to_dict()
    finally:
        if uid is not None:
            watchdog.strays_killed += kill_strays(uid, watchdog.kernel_pid)
            kill_uid_processes(uid)
    if stop is not None and stop.kind is StopKind.TIMEOUT and stop.cell is not None:
        watchdog.timed_out.append(stop.cell)  # nbclient gave up on the cell itself
    result.stop = stop
    result.timed_out_cells = sorted(set(watchdog.timed_out))
    result.killed_for = watchdog.killed_for
    result.strays_killed = watchdog.strays_killed
    result.kernel_died = (stop is not None and stop.kind is StopKind.DEAD_KERNEL) or bool(watchdog.killed_for)
    if stop is not None and stop.kind is StopKind.OTHER:
        result.error = stop.detail
    if stop is not None or result.kernel_died:  # the run stopped before the last cell
        result.died_in_cell = stop.cell if stop is not None else watchdog.current
    truncate_outputs(nb)
    result.notebook_json = nbformat.writes(nb)
    result.seconds = time.perf_counter() - start
    return result


def not_run_reason(result: ExecutionResult) -> str | None:
    """What the graded cells that never ran are told, when the run stopped early (else None)."""
    if result.stop is None and not result.kernel_died:
        return None
    if result.killed_for == "timeout" or (result.stop is not None and result.stop.kind is StopKind.TIMEOUT):
        return "not run: the kernel was stopped after a cell ran past the time limit"
    if result.killed_for == "handover":
        return "not run: the kernel did not hand itself to the judge and was stopped"
    if result.killed_for == "output":
        return f"not run: the kernel was stopped after writing more than {MAX_OUTPUT_BYTES // 2**20} MB of output"
    if result.error:
        return f"not run: the kernel could not run the notebook ({result.error})"
    return "not run: the kernel died before this cell"


def mark_cells_not_run(nb, result: ExecutionResult) -> list[int]:
    """Coordinator side: after an early stop, graded cells that never ran get an error output,
    so nbgrader gives them no points."""
    reason = not_run_reason(result)
    return [] if reason is None else mark_unexecuted_graded_cells(nb, reason)


def run_job(job: ExecutionJob) -> str:
    """Worker entry point: the ExecutionResult as JSON, plain data whichever executor carries it back."""
    return execute_in_sandbox(job, _worker_uid, _worker_cpus).to_json()

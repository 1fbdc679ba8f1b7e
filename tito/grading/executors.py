"""Where the execution step of grading runs: the embedded local pool (default) or Dask workers.

Both executors take a submission's `ExecutionJob` as plain data (JSON text) and
hand its `ExecutionResult` back as plain data (its own `to_json`), which the
coordinator turns into dataclasses again (`from_plain`, `ExecutionResult.from_json`):
nothing a submission produced is ever unpickled by the coordinator, and the job
and result may gain fields without a change here. Both run the same execution step (`tito.grading.execution`), in
the same sandbox. Sanitizing and every gradebook write stay in the coordinator.

An executor is driven by the grading loop with three calls: `submit(key, job)`,
`wait()` for the next completions, and `close()`. A `Completion` says what
became of one submitted job: a result (and which worker produced it), lost (the
process running it died: run it again elsewhere), refused (it must not be run
again), or an executor failure.
"""

from __future__ import annotations

import json
import os
import socket
from concurrent.futures import FIRST_COMPLETED
from dataclasses import dataclass
from typing import Protocol

from tito.grading.execution import ExecutionJob, ExecutionResult
from tito.grading.plain import from_plain

LOCAL_MAX_ATTEMPTS = 2  # a job whose pool process died runs once more in a fresh process


def encode_reply(worker: str, result_json: str | None = None, refused: str = "", mismatch: str = "") -> str:
    """What a worker sends back for one job: JSON text only (the result in its own JSON form,
    `ExecutionResult.to_json`)."""
    return json.dumps({"worker": worker, "result": result_json, "refused": refused, "mismatch": mismatch})


@dataclass
class Completion:
    """What became of one submitted job."""

    key: str
    result: ExecutionResult | None = None
    worker: str = ""  # who ran it: host and process, or the Dask worker's address
    lost: bool = False  # the process running it died: run it again elsewhere
    refused: str = ""  # not run, and not to be run again (why)
    error: str = ""  # the executor failed: not the student's doing


def decode_reply(key: str, reply: str) -> Completion:
    data = json.loads(reply)
    if data.get("mismatch"):
        from tito.errors import TitoError

        raise TitoError(data["mismatch"])
    result = ExecutionResult.from_json(data["result"]) if data.get("result") is not None else None
    return Completion(key, result, worker=data.get("worker", ""), refused=data.get("refused", ""))


class Executor(Protocol):
    name: str
    max_attempts: int  # how often a job may be lost before its submission is an error

    @property
    def capacity(self) -> int: ...  # jobs that can run at once

    def preflight(self, settings) -> None: ...  # TitoError saying why when the sandbox cannot run a notebook

    def submit(self, key: str, job_json: str) -> None: ...

    def wait(self) -> list[Completion]: ...

    def close(self) -> None: ...


# ---------------------------------------------------------------- the embedded local pool

def local_worker_name() -> str:
    return f"{socket.gethostname()} pool process {os.getpid()}"


def run_plain_job(job_json: str) -> str:
    """Pool entry point: the execution step, plain data in and out."""
    from tito.grading.execution import run_job

    return encode_reply(local_worker_name(), run_job(from_plain(ExecutionJob, json.loads(job_json))))


class LocalPoolExecutor:
    """`workers` spawned processes on this machine, each with its CPU share and sandbox uid."""

    name = "local pool"
    max_attempts = LOCAL_MAX_ATTEMPTS

    def __init__(self, workers: int):
        import multiprocessing

        self.workers = workers
        self._context = multiprocessing.get_context("spawn")
        self._running: dict = {}
        self._unsent: list[tuple[str, str]] = []  # submitted while the pool was broken: sent to the next one
        self._pool = self._new_pool()

    @property
    def capacity(self) -> int:
        return self.workers

    def _new_pool(self):
        from concurrent.futures import ProcessPoolExecutor

        from tito.grading.execution import init_worker

        slots = self._context.Queue()
        for slot in range(self.workers):
            slots.put(slot)
        return ProcessPoolExecutor(max_workers=self.workers, mp_context=self._context, initializer=init_worker,
                                   initargs=(slots, self.workers))

    def preflight(self, settings) -> None:
        from tito.grading.preflight import check_sandbox

        check_sandbox(settings)

    def submit(self, key: str, job_json: str) -> None:
        from concurrent.futures.process import BrokenProcessPool

        try:
            self._running[self._pool.submit(run_plain_job, job_json)] = key
        except BrokenProcessPool:  # a process died since the last wait: this job goes to the next pool
            self._unsent.append((key, job_json))

    def _renew_pool(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = self._new_pool()
        unsent, self._unsent = self._unsent, []
        for key, job_json in unsent:
            self.submit(key, job_json)

    def wait(self) -> list[Completion]:
        from concurrent.futures import wait
        from concurrent.futures.process import BrokenProcessPool

        if not self._running and self._unsent:
            self._renew_pool()
        if not self._running:
            return []
        done, _ = wait(self._running, return_when=FIRST_COMPLETED)
        completions, broken = [], False
        for future in done:
            key = self._running.pop(future)
            try:
                completions.append(decode_reply(key, future.result()))
            except BrokenProcessPool:
                broken = True
                completions.append(Completion(key, lost=True))
            except Exception as exc:  # a bug in the worker, not the student's doing
                completions.append(Completion(key, error=f"grading worker failed: {exc}"))
        if broken:
            # a worker process died: the pool and every job still in it are lost; start again
            completions.extend(Completion(key, lost=True) for key in self._running.values())
            self._running.clear()
            self._renew_pool()
        return completions

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

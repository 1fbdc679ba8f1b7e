"""Grading throughput on Dask workers against the local pool, and the overhead Dask adds per submission.

    .venv/bin/python -m scripts.grading_cluster_throughput [--module 11] [--submissions 6] [--repeats 3]

(from the repository root: the submissions are built by tests/grading_support.py).

Builds a scratch course, generates the module, submits the reference solution
for every student, then grades all of them (`autograde(..., force=True)`), each
configuration `--repeats` times in turn, and reports the median:

- the local pool with 1 and with 2 worker processes;
- a `dask scheduler` on 127.0.0.1 with 1, then 2 `tito nbgrader worker --slots 1`,
  each pinned with taskset to a CPU of its own, as two one-core machines would be.

Every submission must be graded to its end in every run (points a reference
loses to a speed check on a busy machine are listed). The overhead per
submission is measured twice: end to end, as (Dask with 2 workers - local pool
with 2 workers) / submissions, where both pin each kernel to one CPU; and as the median round trip of a job that does
nothing but carry a notebook of the module's size there and back (through
the same start/finish records on the scheduler), minus the same round trip
through the local pool.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.grading_support import reference_course

REPO = Path(__file__).resolve().parents[1]

BIN = Path(sys.executable).parent
ROUND_TRIPS = 30  # no-op jobs per executor for the overhead measurement
START_TIMEOUT = 120


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def grading_worker_count(address: str) -> int:
    from distributed import Client

    with Client(address, timeout=10, set_as_default=False) as client:
        workers = client.scheduler_info(n_workers=-1)["workers"].values()
        return sum(1 for w in workers if w.get("resources", {}).get("tinytorch-sandbox"))


def wait_for_workers(address: str, count: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while grading_worker_count(address) < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {grading_worker_count(address)} of {count} grading workers came up")
        time.sleep(0.5)


def start(command: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(command, stdout=open(log, "w"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            cwd=REPO, start_new_session=True)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def grade(course, key: str, students: list[str], lost_points: list[str], **where) -> float:
    """Seconds to grade every submission; each must run to its end (status graded). Points lost by the
    reference (speed checks on a busy machine) are noted in `lost_points`."""
    from tito.grading.autograding import autograde

    started = time.perf_counter()
    outcomes = autograde(course, key, force=True, project_root=REPO, **where)
    seconds = time.perf_counter() - started
    not_run = [(o.student, o.status, o.detail) for o in outcomes if o.status != "graded"]
    if sorted(o.student for o in outcomes) != students or not_run:
        raise SystemExit(f"not every submission was graded: {not_run}")
    lost_points.extend(f"{o.score:g} ({', '.join(o.failing_tests)})" for o in outcomes if o.score < o.max_score)
    return seconds


def echo_job(job_json: str, context: dict) -> str:
    """A job that runs nothing: the notebook goes there and comes back (Dask task)."""
    from tito.grading.cluster import guarded_run

    return guarded_run(context, lambda worker: job_json)


def local_echo(job_json: str) -> str:
    return job_json


def round_trip_seconds(submit, wait, payload: str) -> float:
    times = []
    for index in range(ROUND_TRIPS):
        started = time.perf_counter()
        submit(f"echo{index}", payload)
        wait()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def dask_round_trip(address: str, payload: str) -> float:
    from tito.grading.cluster import DaskExecutor

    executor = DaskExecutor(address, task=echo_job)
    try:
        return round_trip_seconds(executor.submit, executor.wait, payload)
    finally:
        executor.close()


def local_round_trip(payload: str) -> float:
    from concurrent.futures import ProcessPoolExecutor
    import multiprocessing

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        pool.submit(local_echo, "").result()  # the process is started before timing, as in grading
        pending = []
        return round_trip_seconds(lambda key, p: pending.append(pool.submit(local_echo, p)),
                                  lambda: pending.pop().result(), payload)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--module", default="11")
    parser.add_argument("--submissions", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from tito.project import resolve_module

    module = resolve_module(args.module, REPO)
    cpus = sorted(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory(prefix="tito-cluster-throughput-") as tmp:
        course, students, reference = reference_course(Path(tmp), module, args.submissions)
        payload = reference.read_text(encoding="utf-8")

        address = f"tcp://127.0.0.1:{free_port()}"
        scheduler = start([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1],
                           "--dashboard-address", f"127.0.0.1:{free_port()}"], Path(tmp) / "scheduler.log")
        workers = []
        lost_points: dict[str, list[str]] = {}
        runs: dict[str, list[float]] = {"local pool, 1 worker": [], "local pool, 2 workers": [],
                                        "Dask, 1 worker": [], "Dask, 2 workers": []}
        try:
            def add_worker() -> None:
                cpu = cpus[len(workers) % len(cpus)]
                workers.append(start(["taskset", "-c", str(cpu), str(BIN / "tito"), "nbgrader", "worker", address,
                                      "--slots", "1", "--name", f"cpu{cpu}"], Path(tmp) / f"worker{len(workers)}.log"))
                wait_for_workers(address, len(workers))

            def grade_both(slots: int) -> None:
                """`repeats` gradings on the local pool and on the cluster, taking turns, both with `slots` workers."""
                plural = "worker" if slots == 1 else "workers"
                for _ in range(args.repeats):
                    for name, where in ((f"local pool, {slots} {plural}", {"workers": slots}),
                                        (f"Dask, {slots} {plural}", {"cluster": address})):
                        runs[name].append(grade(course, module.key, students, lost_points.setdefault(name, []),
                                                **where))

            add_worker()
            grade_both(1)
            dask_trip = dask_round_trip(address, payload)
            local_trip = local_round_trip(payload)
            add_worker()
            grade_both(2)
        finally:
            for process in [*workers, scheduler]:
                stop(process)

    n = args.submissions
    median = {name: statistics.median(times) for name, times in runs.items()}
    print(f"module {module.key}: {n} reference submissions, {len(cpus)} CPUs, {args.repeats} runs each, medians "
          f"(each run includes its preflight notebook)")
    for name, seconds in median.items():
        spread = ", ".join(f"{t:.1f}" for t in runs[name])
        print(f"  {name:<22} {seconds:7.1f} s  {60 * n / seconds:6.1f} notebooks/min   (runs: {spread} s)")
    for name, lost in lost_points.items():
        if lost:
            print(f"  {name}: {len(lost)} of {n * args.repeats} reference gradings lost points: {'; '.join(sorted(set(lost)))}")
    # Two slots each pin every kernel to one CPU in both executors (one slot alone gets the whole machine
    # locally but one CPU on a pinned Dask worker), so the two-slot runs do the same work.
    end_to_end = (median["Dask, 2 workers"] - median["local pool, 2 workers"]) / n
    print(f"overhead per submission, end to end: (Dask 2 workers - local 2 workers) / {n} = {end_to_end:+.2f} s "
          f"(negative: the local run starts its pool and a preflight process each time, the Dask workers are warm)")
    print(f"round trip of a no-op job carrying a {len(payload) // 1024} KiB notebook, median of {ROUND_TRIPS}: "
          f"Dask {1000 * dask_trip:.1f} ms, local pool {1000 * local_trip:.1f} ms, "
          f"Dask adds {1000 * (dask_trip - local_trip):.1f} ms")
    per_notebook = median["Dask, 1 worker"] / n
    print(f"one Dask worker slot grades a notebook every {per_notebook:.1f} s; N machines with S slots each: about "
          f"N*S*{60 / per_notebook:.1f} notebooks/min while the coordinator keeps up")


if __name__ == "__main__":
    main()

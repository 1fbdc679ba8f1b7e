"""Grading on a Dask cluster of real processes, against the one-machine run.

A `dask scheduler` and two `tito nbgrader worker`s run on 127.0.0.1 with free
ports. Module 01 and module 11 submissions are graded on this machine's local
pool first, then again across the workers, one of which is SIGKILLed (with its
nanny) while it runs a kernel: the report must equal the one-machine report
exactly, with every submission graded and recorded once. Around it: the rules
for a coordinator started again, an unreachable scheduler, a failing
preflight, a worker of another version, and a job that kills every worker
it runs on.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import psutil
import pytest

from grading_support import solution_ids, solved_release, with_cell_after, write_notebook
from helpers import REPO, run_tito
from tito.errors import TitoError
from tito.grading.paths import CoursePaths
from tito.grading.sandbox import SandboxLimits

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::nbformat.warnings.MissingIDFieldWarning"),
]

EARLY, KERNELS = "01_tensor", "11_kernels"
BIN = Path(sys.executable).parent
START_TIMEOUT = 90  # seconds for the scheduler and the workers (each runs its preflight) to come up


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def grading_workers(address: str) -> dict[str, dict]:
    from distributed import Client

    with Client(address, timeout=10, set_as_default=False) as client:
        return {a: w for a, w in client.scheduler_info(n_workers=-1)["workers"].items()
                if w.get("resources", {}).get("tinytorch-sandbox")}


def wait_for(condition, what: str, timeout: float = START_TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def start(command: list[str], log: Path) -> subprocess.Popen:
    handle = open(log, "w")
    # a session of its own: the test kills a worker with its nanny and its kernels in one signal
    return subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            cwd=REPO, start_new_session=True)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    logs = tmp_path_factory.mktemp("cluster-logs")
    address = f"tcp://127.0.0.1:{free_port()}"
    scheduler = start([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1],
                       "--dashboard-address", f"127.0.0.1:{free_port()}"], logs / "scheduler.log")
    workers = {}
    try:
        cpus = sorted(os.sched_getaffinity(0))
        for index, name in enumerate(("alpha", "beta")):
            # each grading machine of this test is one core: its module 11 submissions stop short of the parallel
            # speed checks, which need two cores (on one they are inconclusive, never passed)
            pin = ["taskset", "-c", str(cpus[index % len(cpus)])]
            workers[name] = start([*pin, str(BIN / "tito"), "nbgrader", "worker", address, "--slots", "1", "--name", name],
                                  logs / f"{name}.log")
        wait_for(lambda: len(grading_workers(address)) == 2, "two grading workers")
        yield address, workers, logs
    finally:
        for process in [*workers.values(), scheduler]:
            stop(process)


def kill_when_running_a_kernel(process: subprocess.Popen, killed: threading.Event) -> None:
    """SIGKILL the worker's whole session as soon as one of its kernels is running."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            children = psutil.Process(process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return
        if any("sandbox_launcher" in " ".join(c.cmdline()) or "ipykernel" in " ".join(c.cmdline())
               for c in children if c.is_running()):
            os.killpg(process.pid, signal.SIGKILL)
            killed.set()
            return
        time.sleep(0.05)


def test_cluster_grades_as_one_machine_and_survives_a_killed_worker(tmp_path, cluster):
    from tito.grading.autograding import autograde
    from tito.grading.course import collect, generate, release, submit
    from tito.grading.report import build_report
    from tito.project import resolve_module

    address, workers, logs = cluster
    course = CoursePaths(tmp_path / "course")
    for key in (EARLY, KERNELS):
        generate(resolve_module(key, REPO), course)
        release(key, course)
    early_ref = solved_release(course, EARLY)
    cases = {
        EARLY: {"ref": early_ref, "blank": nbformat.read(course.release_notebook(EARLY), as_version=4),
                "selfkill": with_cell_after(early_ref, "tensor-solution", "import os\nos._exit(3)")},
        # all but the parallel kernels: every other speed check, judged alike on one core and on two
        KERNELS: {"most": solved_release(course, KERNELS, set(solution_ids(course, KERNELS)) - {"parallel-solution"}),
                  "blank": nbformat.read(course.release_notebook(KERNELS), as_version=4),
                  "half": solved_release(course, KERNELS, set(solution_ids(course, KERNELS)[:3]))},
    }
    for key, notebooks in cases.items():
        for student, nb in notebooks.items():
            submit(course, key, student, write_notebook(nb, tmp_path / "subs" / key / f"{student}.ipynb"))
        collect(key, course)

    # ---------------------------------------------------------------- one machine: the local pool
    for key in (EARLY, KERNELS):
        local = autograde(course, key, workers=2, project_root=REPO)
        assert sorted(o.student for o in local) == sorted(cases[key])
        assert all(o.worker.startswith(f"{socket.gethostname()} pool process ") for o in local)
    one_machine = build_report(course)
    statuses = {(r.module, r.student): r.status for r in one_machine}
    assert statuses[(EARLY, "ref")] == statuses[(KERNELS, "most")] == "graded"
    assert statuses[(EARLY, "selfkill")] == "error"
    assert 0 < next(r.score for r in one_machine if (r.module, r.student) == (KERNELS, "half")) < 100

    # ---------------------------------------------------------------- all recorded: nothing to do
    assert autograde(course, EARLY, cluster=address, project_root=REPO) == []

    # ---------------------------------------------------------------- module 01 on the cluster, through the CLI
    result = run_tito("nbgrader", "autograde", "01", "--cluster", address, "--force", "--course", str(course.root))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "on tcp://127.0.0.1:" in result.stdout, result.stdout
    early_workers = {json.loads(course.outcome_file(EARLY, s).read_text())["worker"] for s in cases[EARLY]}
    assert early_workers <= set(grading_workers(address)), early_workers

    # ---------------------------------------------------------------- module 11 on the cluster; one worker killed mid-run
    killed = threading.Event()
    victim = workers["alpha"]
    victim_addresses = {a for a, w in grading_workers(address).items() if w.get("name") == "alpha"}
    killer = threading.Thread(target=kill_when_running_a_kernel, args=(victim, killed), daemon=True)
    recorded = []
    # the killer starts once grading starts (after the preflight notebook): the kernel it sees is a submission's
    outcomes = autograde(course, KERNELS, cluster=address, force=True, project_root=REPO, on_outcome=recorded.append,
                         on_start=lambda total: killer.start())
    killer.join()
    assert killed.is_set(), "the worker should have been killed while it ran a kernel"
    assert sorted(o.student for o in recorded) == sorted(o.student for o in outcomes) == sorted(cases[KERNELS])
    assert not {o.worker for o in outcomes} & victim_addresses, "every outcome comes from the surviving worker"

    cluster_report = build_report(course)
    assert cluster_report == one_machine
    assert len({(r.module, r.student) for r in cluster_report}) == len(cluster_report)

    # ---------------------------------------------------------------- started again: only what is not recorded
    course.outcome_file(EARLY, "blank").unlink()
    again = autograde(course, EARLY, cluster=address, project_root=REPO)
    assert [o.student for o in again] == ["blank"]
    assert build_report(course) == one_machine

    # ---------------------------------------------------------------- scheduler unreachable: one red line, nothing written
    before = {p: p.read_bytes() for p in course.outcomes.rglob("*.json")} | {course.gradebook: course.gradebook.read_bytes()}
    gone = f"tcp://127.0.0.1:{free_port()}"
    result = run_tito("nbgrader", "autograde", "01", "--cluster", gone, "--force", "--course", str(course.root))
    assert result.returncode == 1
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert len(lines) == 1 and f"cannot reach the Dask scheduler at {gone}" in lines[0], lines
    assert {p: p.read_bytes() for p in before} == before

    # ---------------------------------------------------------------- a sandbox that cannot start a kernel: nobody graded
    with pytest.raises(TitoError, match=r"cannot start a kernel, so nobody was graded: .*Kernel died"):
        autograde(course, EARLY, force=True, project_root=REPO, limits=SandboxLimits(memory_mb=8))
    assert {p: p.read_bytes() for p in before} == before


def test_worker_of_another_version_refuses_naming_both(cluster):
    from distributed import Client

    from tito.grading.cluster import COORDINATOR_VERSIONS, software_versions

    address, _, _ = cluster
    other = {"tito": "0.0.9+000000000000", "tinytorch": "0.0.9+000000000000"}
    with Client(address, timeout=10, set_as_default=False) as client:
        client.set_metadata(COORDINATOR_VERSIONS, other)
        try:
            result = run_tito("nbgrader", "worker", address, timeout=120)
        finally:
            client.set_metadata(COORDINATOR_VERSIONS, software_versions())
    assert result.returncode == 1
    output = " ".join((result.stdout + result.stderr).split())
    mine = software_versions()
    assert f"tito {mine['tito']}" in output and "tito 0.0.9+000000000000" in output, output
    assert f"tinytorch {mine['tinytorch']}" in output and "tinytorch 0.0.9+000000000000" in output, output


def test_job_that_kills_two_workers_is_refused_a_third(cluster):
    from tito.grading.cluster import DaskExecutor, guarded_run

    address, _, _ = cluster

    def kills_its_worker(job_json, context):
        return guarded_run(context, lambda worker: os._exit(1))

    executor = DaskExecutor(address, task=kills_its_worker)
    try:
        executor.submit("killer", "{}")
        completions = []
        while not completions or completions[-1].lost:
            (done,) = executor.wait()
            completions.append(done)
            if done.lost:
                executor.submit("killer", "{}")
    finally:
        executor.close()
    refused = completions[-1]
    assert refused.result is None and "died while running this submission, 2 times" in refused.refused, refused


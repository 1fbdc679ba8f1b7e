"""Grading on many machines with Dask `distributed`: the coordinator's executor and the worker side.

    one machine:     dask scheduler                       (any Dask scheduler: Slurm, Kubernetes, ...)
    grading machines: tito nbgrader worker tcp://HOST:8786 (checks, then a Dask worker with SLOTS threads)
    coordinator:     tito nbgrader autograde 11 --cluster tcp://HOST:8786

The coordinator (`DaskExecutor`) sends each submission's execution job to the
workers as JSON text; the task (`run_cluster_job`) runs the same execution step
as the local pool, in the same sandbox, and sends JSON text back. No file is
shared: the sanitized notebook travels in the job, the executed one in the reply.

Only workers that advertise the `SANDBOX_RESOURCE` (started by `tito nbgrader
worker`, which installs the sandbox kernel and proves it can start a kernel
first) receive jobs. Versions must match: the coordinator publishes its
own on the scheduler, `tito nbgrader worker` refuses to start against another
one, the coordinator refuses workers of another version, and every job checks
once more where it runs.

Lost workers: Dask runs the job of a worker that died on another worker. Each
job records on the scheduler, before it runs any student code, that it started
on its worker (and, after, that it finished). A job that finds two unfinished
starts of its submission was running when two workers died: it is not run a
third time, and the submission is graded `error`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
import time
import uuid
from dataclasses import replace
from importlib import metadata
from pathlib import Path

from tito.errors import TitoError
from tito.grading.executors import Completion, decode_reply, encode_reply
from tito.grading.plain import from_plain

SANDBOX_RESOURCE = "tinytorch-sandbox"  # one unit per grading slot of a prepared worker
METADATA_ROOT = "tito-grading"  # scheduler metadata: versions of the coordinator, starts of each job
COORDINATOR_VERSIONS = [METADATA_ROOT, "coordinator-versions"]
CONNECT_TIMEOUT = 10  # seconds to reach the scheduler
WORKER_WAIT = 60  # seconds the coordinator waits for a first grading worker
NO_WORKER_LIMIT = 300  # seconds with no grading worker left before the coordinator gives up
WAIT_POLL = 2.0  # seconds between checks that the scheduler and some grading worker are still there
DONE_POLL = 0.02  # seconds between looks at the running jobs: small next to a notebook's seconds
MAX_WORKERS_KILLED = 2  # a submission running when this many workers died is not run again
CLUSTER_MAX_ATTEMPTS = 4  # lost attempts (KilledWorker, cancelled) before a submission is an error, a safety net
PACKAGES = ("tito", "tinytorch")


# ---------------------------------------------------------------- versions

def _source_fingerprint(package: str) -> str:
    """A digest of the package's .py files: two installs with the same version number but other code differ."""
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return "missing"
    digest = hashlib.sha256()
    for location in spec.submodule_search_locations:
        root = Path(location)
        for path in sorted(root.rglob("*.py")):
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


@functools.lru_cache(maxsize=1)  # the code this process runs does not change under it
def software_versions() -> dict[str, str]:
    """{'tito': '0.1.0+<source digest>', 'tinytorch': ...} of this installation."""
    try:
        number = metadata.version("tinytorch")
    except metadata.PackageNotFoundError:
        number = "unknown"
    return {package: f"{number}+{_source_fingerprint(package)}" for package in PACKAGES}


def describe_versions(versions: dict[str, str]) -> str:
    return ", ".join(f"{package} {versions.get(package, '?')}" for package in PACKAGES)


def version_mismatch(where: str, theirs: dict[str, str], coordinator: dict[str, str]) -> str:
    return (f"{where} runs {describe_versions(theirs)} but the coordinator runs {describe_versions(coordinator)}: "
            f"install the same tito and tinytorch on every grading machine")


def package_root() -> str:
    """The folder holding this installation's `tinytorch` package."""
    import tinytorch

    return str(Path(tinytorch.__file__).resolve().parent.parent)


# ---------------------------------------------------------------- the worker side

_slot = threading.local()
_slot_lock = threading.Lock()
_slots_taken = 0


def _sandbox_slot(slots: int) -> tuple[int | None, tuple[int, ...]]:
    """This worker thread's sandbox uid (when root) and CPU share, taken once for the thread's life."""
    global _slots_taken
    if not hasattr(_slot, "uid"):
        from tito.grading.sandbox import claim_sandbox_uid, cpu_share, is_root

        with _slot_lock:
            index, _slots_taken = _slots_taken, _slots_taken + 1
        _slot.uid = claim_sandbox_uid()[0] if is_root() else None
        _slot.cpus = cpu_share(index % max(1, slots), max(1, slots))
    return _slot.uid, _slot.cpus


def _rebased(paths, coordinator_root: str) -> tuple[str, ...]:
    """The coordinator's hidden package files at the same place in this machine's installation."""
    here = Path(package_root())
    rebased = []
    for path in map(Path, paths):
        try:
            rebased.append(str(here / path.relative_to(coordinator_root)))
        except ValueError:
            rebased.append(str(path))
    return tuple(rebased)


def guarded_run(context: dict, execute) -> str:
    """Run `execute(worker_address)` (returning a reply) unless this job's submission already killed
    MAX_WORKERS_KILLED workers; record the start and the end on the scheduler."""
    from distributed import get_client, get_worker

    worker = get_worker()
    mine = software_versions()
    if mine != context["versions"]:
        return encode_reply(worker.address, mismatch=version_mismatch(f"grading worker {worker.address}", mine,
                                                                      context["versions"]))
    client = get_client()
    record = context["record"]
    starts = client.get_metadata(record, default={}) or {}
    died = [entry["worker"] for entry in starts.values() if not entry.get("finished")]
    if len(died) >= MAX_WORKERS_KILLED:
        return encode_reply(worker.address, refused=(
            f"the grading worker died while running this submission, {len(died)} times "
            f"({', '.join(died)}): not run again"))
    token = uuid.uuid4().hex
    client.set_metadata([*record, token], {"worker": worker.address, "finished": False})
    reply = execute(worker.address)
    client.set_metadata([*record, token], {"worker": worker.address, "finished": True})
    return reply


def run_cluster_job(job_json: str, context: dict) -> str:
    """Dask task: the execution step of one submission on this worker, JSON text in and out."""
    from distributed import get_worker

    from tito.grading.execution import ExecutionJob, execute_in_sandbox

    def execute(address: str) -> str:
        job = from_plain(ExecutionJob, json.loads(job_json))
        job = replace(job, settings=replace(job.settings, hide=_rebased(job.settings.hide, context["package_root"])))
        uid, cpus = _sandbox_slot(get_worker().state.nthreads)
        return encode_reply(address, execute_in_sandbox(job, uid, cpus).to_json())

    return guarded_run(context, execute)


def run_cluster_preflight(settings_json: str, context: dict) -> str:
    """Dask task: the preflight notebook in this worker's sandbox; why it failed, or ''."""
    from distributed import get_worker

    from tito.grading.preflight import run_preflight
    from tito.grading.sandbox import SandboxSettings

    worker = get_worker()
    mine = software_versions()
    if mine != context["versions"]:
        return encode_reply(worker.address, mismatch=version_mismatch(f"grading worker {worker.address}", mine,
                                                                      context["versions"]))
    settings = from_plain(SandboxSettings, json.loads(settings_json))
    settings = replace(settings, hide=_rebased(settings.hide, context["package_root"]))
    return encode_reply(worker.address, refused=run_preflight(settings, *_sandbox_slot(worker.state.nthreads)))


# ---------------------------------------------------------------- the coordinator's executor

def connect(address: str, timeout: float = CONNECT_TIMEOUT):
    """A Dask client of the scheduler at `address`, or TitoError saying it cannot be reached."""
    from distributed import Client

    try:
        return Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise TitoError(f"cannot reach the Dask scheduler at {address}: {reason}") from None


class DaskExecutor:
    """Jobs run on the Dask workers of the scheduler at `address` that advertise SANDBOX_RESOURCE."""

    name = "Dask cluster"
    max_attempts = CLUSTER_MAX_ATTEMPTS

    def __init__(self, address: str, task=run_cluster_job, worker_wait: float = WORKER_WAIT):
        self.address = address
        self.task = task
        self.client = connect(address)
        try:
            self.versions = software_versions()
            self.client.set_metadata(COORDINATOR_VERSIONS, self.versions)
            self.run_id = uuid.uuid4().hex[:12]
            self.context = {"versions": self.versions, "package_root": package_root()}
            self._running: dict = {}
            self._check_workers(worker_wait)
        except BaseException:
            self.client.close()
            raise

    def _grading_workers(self) -> dict[str, int]:
        workers = self.client.scheduler_info(n_workers=-1)["workers"]
        return {address: int(info.get("resources", {}).get(SANDBOX_RESOURCE, 0))
                for address, info in workers.items() if info.get("resources", {}).get(SANDBOX_RESOURCE)}

    def _check_workers(self, wait_seconds: float) -> None:
        deadline = time.monotonic() + wait_seconds
        while not self._grading_workers():
            if time.monotonic() > deadline:
                raise TitoError(f"no grading worker joined the scheduler at {self.address} within {wait_seconds:g} s: "
                                f"run `tito nbgrader worker {self.address}` on the grading machines")
            time.sleep(WAIT_POLL / 4)
        for address, versions in self.client.run(software_versions, workers=list(self._grading_workers())).items():
            if versions != self.versions:
                raise TitoError(version_mismatch(f"grading worker {address}", versions, self.versions))

    @property
    def capacity(self) -> int:
        return max(1, sum(self._grading_workers().values()))

    def preflight(self, settings) -> None:
        from tito.grading.plain import to_json

        future = self.client.submit(run_cluster_preflight, to_json(settings), self.context, pure=False,
                                    key=f"tito-preflight-{self.run_id}", resources={SANDBOX_RESOURCE: 1})
        try:
            done = decode_reply("preflight", future.result())  # raises on a version mismatch
        finally:
            future.release()
        if done.refused:
            raise TitoError(f"the grading sandbox on {done.worker} cannot start a kernel, so nobody was graded: "
                            f"{done.refused}")

    def submit(self, key: str, job_json: str) -> None:
        context = dict(self.context, record=[METADATA_ROOT, "runs", self.run_id, key])
        future = self.client.submit(self.task, job_json, context, key=f"tito-grade-{self.run_id}-{uuid.uuid4().hex[:8]}",
                                    resources={SANDBOX_RESOURCE: 1}, pure=False, retries=0)
        self._running[future] = key

    def wait(self) -> list[Completion]:
        from distributed.scheduler import KilledWorker

        if not self._running:
            return []
        no_worker_since = None
        while True:
            done = self._finished_within(WAIT_POLL)
            if done:
                break
            if self.client.status != "running":
                raise TitoError(f"lost the connection to the Dask scheduler at {self.address}; "
                                f"run the command again to grade what is not graded yet")
            if self._grading_workers():
                no_worker_since = None
            elif no_worker_since is None:
                no_worker_since = time.monotonic()
            elif time.monotonic() - no_worker_since > NO_WORKER_LIMIT:
                raise TitoError(f"no grading worker has been connected to {self.address} for {NO_WORKER_LIMIT} s: "
                                f"start `tito nbgrader worker {self.address}`, then run the command again")
        completions = []
        for future in done:
            key = self._running.pop(future)
            if future.status == "finished":
                completions.append(decode_reply(key, future.result()))
            elif future.status == "error" and not isinstance(future.exception(), KilledWorker):
                completions.append(Completion(key, error=f"grading worker failed: {future.exception()}"))
            else:  # KilledWorker (the scheduler's own limit) or cancelled: run it again
                completions.append(Completion(key, lost=True))
            future.release()
        return completions

    def _finished_within(self, seconds: float) -> list:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            done = [future for future in self._running if future.done()]
            if done:
                return done
            time.sleep(DONE_POLL)
        return []

    def close(self) -> None:
        try:
            for future in self._running:
                future.cancel()
            self._running.clear()
            self.client.set_metadata([METADATA_ROOT, "runs", self.run_id], {})
        except Exception:  # the scheduler may be gone already; nothing of ours is left to tidy then
            pass
        finally:
            self.client.close()


# ---------------------------------------------------------------- `tito nbgrader worker`

def prepare_worker(address: str) -> dict[str, str]:
    """Everything `tito nbgrader worker` checks before it accepts work; returns this machine's versions.

    Refuses (TitoError) when the scheduler cannot be reached, when a coordinator
    with other versions has published its own, or when the sandbox cannot start
    a kernel on this machine.
    """
    import socket

    from tito.grading.preflight import check_sandbox
    from tito.grading.sandbox import SandboxSettings, install_kernel_spec

    versions = software_versions()
    client = connect(address)
    try:
        coordinator = client.get_metadata(COORDINATOR_VERSIONS, default=None)
    finally:
        client.close()
    if coordinator and coordinator != versions:
        raise TitoError(version_mismatch(f"this machine ({socket.gethostname()})", versions, coordinator))
    try:
        install_kernel_spec()
    except FileExistsError:  # another worker on this machine installed it at the same moment
        install_kernel_spec()
    check_sandbox(SandboxSettings(), where=socket.gethostname())
    return versions


def serve_worker(address: str, slots: int, name: str | None = None, on_ready=None) -> None:
    """Run a Dask worker (under a nanny, which restarts it if a submission kills it) with `slots`
    grading slots until it is stopped."""
    import asyncio

    from distributed import Nanny

    async def serve() -> None:
        async with Nanny(address, nthreads=slots, resources={SANDBOX_RESOURCE: slots}, name=name,
                         memory_limit=0) as nanny:
            if on_ready is not None:
                on_ready(nanny.worker_address)
            await nanny.finished()

    asyncio.run(serve())

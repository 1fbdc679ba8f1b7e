"""The grading sandbox: limits, sandbox users, and cleaning up after a kernel.

Student code runs in the `tinytorch-sandbox` kernel, whose launcher
(`tito.grading.sandbox_launcher`) applies `SandboxSettings` before it execs
ipykernel. When tito runs as root each grading worker owns one unprivileged
uid (no passwd entry needed) for its whole life, so RLIMIT_NPROC, which counts
every process of a uid, caps one submission's fork bomb without touching
another worker's kernel; and everything that uid still runs after a notebook
can be killed at once.

Standard library only: the kernel launcher imports this module.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tito.grading.paths import SANDBOX_KERNEL_NAME
from tito.tools.speed import usable_cores, usable_cpus

SETTINGS_ENV = "TITO_SANDBOX"
SANDBOX_UID_BASE = 62000  # sandbox uids are SANDBOX_UID_BASE .. SANDBOX_UID_BASE + MAX_SANDBOX_USERS - 1
MAX_SANDBOX_USERS = 256
LOCK_DIR_NAME = "tito-sandbox-locks"
THREAD_ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                   "VECLIB_MAXIMUM_THREADS")


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits of one submission's kernel (each of its processes)."""

    memory_mb: int = 4096  # RLIMIT_AS per process
    cpu_seconds: int = 900  # RLIMIT_CPU per process; SIGKILL 5 s later
    processes: int = 128  # RLIMIT_NPROC: tasks (processes and threads) of the sandbox uid
    file_size_mb: int = 256  # RLIMIT_FSIZE: largest file it may write
    open_files: int = 1024  # RLIMIT_NOFILE
    tmp_mb: int = 256  # size of its private /tmp and of its /dev/shm


@dataclass(frozen=True)
class SandboxSettings:
    """What the launcher needs to know, passed to it as JSON in $TITO_SANDBOX."""

    uid: int | None = None  # None: pick a free sandbox uid
    limits: SandboxLimits = field(default_factory=SandboxLimits)
    threads: int | None = None  # BLAS/OpenMP threads of the kernel; None leaves numpy's default
    cpus: tuple[int, ...] = ()  # CPUs the kernel runs on (its share of the machine); () for all
    hide: tuple[str, ...] = ()  # files or folders the kernel must not see (e.g. the graded module's package file)
    files: str | None = None  # folder whose files are copied into the kernel's working directory

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls, environ: dict[str, str]) -> "SandboxSettings":
        raw = environ.get(SETTINGS_ENV)
        if not raw:
            return cls()
        data = json.loads(raw)
        limits = SandboxLimits(**data.pop("limits", {}))
        data["hide"] = tuple(data.get("hide", ()))
        data["cpus"] = tuple(data.get("cpus", ()))
        return cls(limits=limits, **data)


def kernels_at_once(workers: int, kernel_cpus: int) -> int:
    """How many of `workers` kernels may run at once so that each has `kernel_cpus` CPUs of its own:
    fewer where this machine is too small, never less than one."""
    return max(1, min(workers, usable_cores() // max(1, kernel_cpus)))


def cpu_share(slot: int, slots: int) -> tuple[int, ...]:
    """The CPUs of grading slot `slot` when `slots` kernels run at once: an equal, disjoint share
    where there are enough CPUs (all of them for a single slot)."""
    available = usable_cpus()
    if slots <= 1:
        return tuple(available)
    per_slot = max(1, len(available) // slots)
    start = (slot * per_slot) % len(available)
    return tuple(available[(start + i) % len(available)] for i in range(per_slot))


def is_root() -> bool:
    return os.geteuid() == 0


# ---------------------------------------------------------------- sandbox users

def _lock_dir() -> Path:
    """A root-owned folder for the uid locks; refuse one that someone else could have planted."""
    path = Path(tempfile.gettempdir()) / LOCK_DIR_NAME
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        pass
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o022:
        raise RuntimeError(f"{path} is not a private folder of uid {os.geteuid()}: remove it and retry")
    return path


def require_linux(what: str) -> None:
    """Grading runs student code in a sandbox built from Linux's namespaces, users, resource limits and
    /proc, with a fork of the kernel per test: on any other system `what` says so and stops."""
    import platform

    from tito.errors import TitoError

    if not sys.platform.startswith("linux"):
        raise TitoError(f"{what} runs on Linux only: its sandbox needs Linux (namespaces, /proc, fork per test), "
                        f"and this is {platform.system() or sys.platform}. Students' commands (tito export, "
                        "tito module test) work here; grade on a Linux machine or a Linux container")


def claim_sandbox_uid() -> tuple[int, int]:
    """Lock a free sandbox uid for the rest of this process's life; return (uid, lock fd)."""
    import fcntl  # the sandbox is Linux's (require_linux); importing the package works anywhere

    lock_dir = _lock_dir()
    for uid in range(SANDBOX_UID_BASE, SANDBOX_UID_BASE + MAX_SANDBOX_USERS):
        fd = os.open(lock_dir / f"{uid}.lock", os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return uid, fd
    raise RuntimeError(f"all {MAX_SANDBOX_USERS} sandbox uids are in use")


# ---------------------------------------------------------------- processes of a uid

@dataclass(frozen=True)
class ProcessInfo:
    pid: int
    ppid: int
    state: str
    threads: int


def processes_of_uid(uid: int) -> list[ProcessInfo]:
    """Every process whose real uid is `uid`, read from /proc."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            text = Path(entry.path, "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)
        try:
            if int(fields["Uid"].split()[0]) != uid:
                continue
            found.append(ProcessInfo(int(entry.name), int(fields["PPid"]), fields["State"].split()[0],
                                     int(fields.get("Threads", "1"))))
        except (KeyError, ValueError, IndexError):
            continue
    return found


def _live(processes: list[ProcessInfo]) -> list[ProcessInfo]:
    return [p for p in processes if p.state not in ("Z", "X")]


def kill_uid_processes(uid: int, timeout: float = 10.0) -> int:
    """SIGKILL every process of `uid` (root only); return how many were running.

    kill(-1) sent *as* that uid reaches all its processes in one pass over the
    process table, during which none of them can fork: a fork bomb cannot
    outrun it. Repeated until /proc shows none left.
    """
    if not is_root():
        return 0
    running = _live(processes_of_uid(uid))
    if not running:
        return 0
    kill = shutil.which("kill", path="/usr/bin:/bin") or "kill"
    deadline = time.monotonic() + timeout
    while _live(processes_of_uid(uid)) and time.monotonic() < deadline:
        subprocess.run([kill, "-KILL", "--", "-1"], user=uid, group=uid, extra_groups=[],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env={}, cwd="/", check=False)
        time.sleep(0.05)
    return len(running)


def kill_strays(uid: int, keep_pid: int | None) -> int:
    """Kill every process of `uid` except `keep_pid` (the kernel itself); return how many.

    Each is stopped first and only then killed, so that no freed process slot
    lets a fork bomb replace what was just killed.
    """
    stopped: set[int] = set()
    for _ in range(50):
        pending = [p for p in _live(processes_of_uid(uid)) if p.pid != keep_pid and p.pid not in stopped]
        if not pending:
            break
        for process in pending:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGSTOP)
            stopped.add(process.pid)
    for pid in stopped:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return len(stopped)


def task_count(uid: int) -> int:
    """Processes plus threads of `uid`: what RLIMIT_NPROC counts."""
    return sum(p.threads for p in _live(processes_of_uid(uid)))


# ---------------------------------------------------------------- kernel spec

def kernel_spec() -> dict:
    return {
        "argv": [sys.executable, "-m", "tito.grading.sandbox_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (TinyTorch grading sandbox)",
        "language": "python",
        "interrupt_mode": "signal",
        "metadata": {"debugger": False},
    }


def install_kernel_spec() -> Path:
    """Install (or refresh) the `tinytorch-sandbox` kernel spec next to this Python; return its folder."""
    from jupyter_client.kernelspec import KernelSpecManager

    manager = KernelSpecManager()
    wanted = kernel_spec()
    try:
        current = manager.get_kernel_spec(SANDBOX_KERNEL_NAME)
        if current.argv == wanted["argv"] and current.interrupt_mode == wanted["interrupt_mode"]:
            return Path(current.resource_dir)
    except Exception:  # NoSuchKernel, or an unreadable old spec: install afresh
        pass
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "kernel.json").write_text(json.dumps(wanted, indent=2), encoding="utf-8")
        try:
            return Path(manager.install_kernel_spec(tmp, SANDBOX_KERNEL_NAME, prefix=sys.prefix))
        except PermissionError:
            return Path(manager.install_kernel_spec(tmp, SANDBOX_KERNEL_NAME, user=True))

"""Launcher of the `tinytorch-sandbox` kernel: `python -m tito.grading.sandbox_launcher -f FILE [ARGS]`.

Jupyter starts this instead of ipykernel; it prepares the sandbox and then
execs ipykernel in the same process, so Jupyter's interrupts and kills reach
the kernel directly. Settings come from $TITO_SANDBOX (see
`tito.grading.sandbox.SandboxSettings`); without it, defaults apply (a plain
`nbgrader autograde` run gets the same sandbox).

Run as root (the grading setup), in this order:

1. claim a sandbox uid (unless one is given) and kill whatever that uid still runs;
2. enter a private mount namespace showing only what a kernel needs:
   the system folders (/usr, /etc, /lib, ...), the Python installation, the
   virtual environment and the `tinytorch` and `tito` packages. Every other
   top-level folder (/work, /home, /root, /srv, /var, ...) is an empty tmpfs,
   so course folders, source notebooks, reference solutions and git history
   are absent whatever the path; paths in $TITO_SANDBOX "hide" (the graded
   module's own package file) read as empty. /tmp and /dev/shm are fresh,
   size-limited tmpfs; the kernel works in /tmp/work;
3. set resource limits: address space, CPU time, processes, file size, open files, no core dumps;
   pin it to its share of the CPUs;
4. drop to the sandbox uid and gid with no supplementary groups and no_new_privs;
5. exec ipykernel with a scrubbed environment.

Not root: only the limits, a scratch working directory and the scrubbed
environment apply (RLIMIT_NPROC then counts the user's own processes too).

Standard library only, so the kernel starts fast.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import resource
import site
import stat
import sys
import tempfile
from pathlib import Path

from tito.grading.sandbox import (
    THREAD_ENV_VARS,
    SandboxLimits,
    SandboxSettings,
    claim_sandbox_uid,
    is_root,
    kill_uid_processes,
    task_count,
)

WORKDIR = Path("/tmp/work")
SYSTEM_DIRS = frozenset({"bin", "dev", "etc", "lib", "lib32", "lib64", "libx32", "proc", "sbin", "sys", "usr"})
SCRATCH_DIRS = (Path("/tmp"), Path("/dev/shm"))
MASK_OPTIONS = "size=1m,mode=0755"
PASSTHROUGH_ENV = ("JPY_PARENT_PID", "JPY_SESSION_NAME", "NBGRADER_EXECUTION")
KERNEL_USER = "student"

CLONE_NEWNS = 0x00020000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT = 1, 2, 4, 32
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
PR_SET_NO_NEW_PRIVS = 38

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]


class SandboxSetupError(RuntimeError):
    pass


def _encode(value: str | os.PathLike | None) -> bytes | None:
    return None if value is None else os.fsencode(value)


def mount(source, target, fstype, flags: int, data: str | None = None) -> None:
    if _libc.mount(_encode(source), _encode(target), _encode(fstype), flags, _encode(data)) != 0:
        error = ctypes.get_errno()
        raise SandboxSetupError(f"mount {target}: {os.strerror(error)}")


def _under(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _outermost(paths) -> list[Path]:
    """The paths not inside another path of the set, shallowest first."""
    unique = sorted(set(paths), key=lambda p: (len(p.parts), str(p)))
    kept: list[Path] = []
    for path in unique:
        if not any(_under(path, k) for k in kept):
            kept.append(path)
    return kept


def needed_paths() -> list[Path]:
    """What a kernel must see: the interpreter, the environment, and the tinytorch and tito packages."""
    paths = {Path(sys.base_prefix), Path(sys.prefix), *map(Path, site.getsitepackages())}
    for package in ("tinytorch", "tito"):
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.submodule_search_locations:
            paths.update(Path(p) for p in spec.submodule_search_locations)
    return _outermost(p.resolve() for p in paths if p.exists())


def masked_paths(visible: list[Path]) -> list[Path]:
    """Top-level folders other than the system ones, plus any folder the sandbox user cannot traverse."""
    masks = [Path("/", name) for name in os.listdir("/")
             if name not in SYSTEM_DIRS and Path("/", name) not in SCRATCH_DIRS
             and not os.path.islink(Path("/", name)) and os.path.isdir(Path("/", name))]
    for path in visible:
        for ancestor in reversed(path.parents):
            if any(_under(ancestor, m) for m in masks):
                break
            if not os.stat(ancestor).st_mode & stat.S_IXOTH:
                masks.append(ancestor)
                break
    # Under /tmp or /dev/shm nothing needs a mask: the fresh scratch tmpfs already hides it all, and the
    # private folder (`mktemp -d`) is not there to mount on; the visible paths inside are bound back.
    return _outermost(m for m in masks if not any(_under(m, scratch) for scratch in SCRATCH_DIRS))


def enter_private_view(settings: SandboxSettings, uid: int) -> None:
    """Build the kernel's view of the file system in a new mount namespace (see the module docstring)."""
    visible = needed_paths()
    for path in visible:
        mode = os.stat(path).st_mode
        if not mode & stat.S_IROTH or (stat.S_ISDIR(mode) and not mode & stat.S_IXOTH):
            raise SandboxSetupError(f"{path} is not world-readable, so the sandbox user cannot use it")
    masks = masked_paths(visible)
    rebind = [p for p in visible if any(_under(p, m) for m in masks + list(SCRATCH_DIRS))]
    if _libc.unshare(CLONE_NEWNS) != 0:
        raise SandboxSetupError(f"unshare(CLONE_NEWNS): {os.strerror(ctypes.get_errno())}")
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    # Handles taken inside the new namespace and before the masks: binding from them brings back
    # exactly these folders once the masks cover their surroundings.
    handles = {path: os.open(path, os.O_PATH) for path in rebind}
    for scratch in SCRATCH_DIRS:
        mount("tmpfs", scratch, "tmpfs", MS_NOSUID | MS_NODEV, f"size={settings.limits.tmp_mb}m,mode=1777")
    for mask in masks:
        mount("tmpfs", mask, "tmpfs", MS_NOSUID | MS_NODEV, MASK_OPTIONS)
    for path, handle in handles.items():
        for parent in reversed(path.parents):
            if not parent.exists():
                parent.mkdir(mode=0o755)
        if stat.S_ISDIR(os.fstat(handle).st_mode):
            path.mkdir(mode=0o755, exist_ok=True)
        else:
            path.touch(mode=0o644, exist_ok=True)
        mount(f"/proc/self/fd/{handle}", path, None, MS_BIND | MS_REC)
        os.close(handle)
    for hidden in map(Path, settings.hide):
        if hidden.is_dir():
            mount("tmpfs", hidden, "tmpfs", MS_NOSUID | MS_NODEV, "size=4k,mode=0755")
        elif hidden.is_file():
            mount("/dev/null", hidden, None, MS_BIND)
            mount(None, hidden, None, MS_REMOUNT | MS_BIND | MS_RDONLY)
    WORKDIR.mkdir(mode=0o700)
    os.chown(WORKDIR, uid, uid)


def apply_limits(limits: SandboxLimits, processes: int) -> None:
    mb = 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_mb * mb,) * 2)
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 5))
    resource.setrlimit(resource.RLIMIT_NPROC, (processes,) * 2)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_size_mb * mb,) * 2)
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files,) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def drop_privileges(uid: int) -> None:
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise SandboxSetupError("prctl(PR_SET_NO_NEW_PRIVS) failed")
    if os.getresuid() != (uid, uid, uid) or os.getgroups():
        raise SandboxSetupError(f"could not drop privileges to uid {uid}")
    try:
        os.setuid(0)
    except PermissionError:
        return
    raise SandboxSetupError("privileges could be regained after dropping them")


def kernel_environment(settings: SandboxSettings, workdir: Path, parent: dict[str, str]) -> dict[str, str]:
    """A scrubbed environment: nothing of the grader's own variables reaches student code."""
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(workdir),
        "USER": KERNEL_USER,
        "LOGNAME": KERNEL_USER,
        "LANG": "C.UTF-8",
        "TMPDIR": "/tmp" if is_root() else str(workdir),
        "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": str(workdir / ".config" / "matplotlib"),
        "XDG_CACHE_HOME": str(workdir / ".cache"),
        "IPYTHONDIR": str(workdir / ".ipython"),
        "JUPYTER_CONFIG_DIR": str(workdir / ".jupyter"),
        "JUPYTER_DATA_DIR": str(workdir / ".local" / "share" / "jupyter"),
        "JUPYTER_RUNTIME_DIR": str(workdir / ".local" / "share" / "jupyter" / "runtime"),
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    }
    for name in PASSTHROUGH_ENV:
        if name in parent:
            env[name] = parent[name]
    if settings.threads:
        env.update({name: str(settings.threads) for name in THREAD_ENV_VARS})
    return env


def split_arguments(argv: list[str]) -> tuple[str, list[str]]:
    """The connection file given with -f, and every other argument (passed on to ipykernel)."""
    rest = list(argv)
    for index, arg in enumerate(rest):
        if arg == "-f" and index + 1 < len(rest):
            return rest[index + 1], rest[:index] + rest[index + 2:]
        if arg.startswith("-f="):
            return arg[3:], rest[:index] + rest[index + 1:]
    raise SandboxSetupError("usage: python -m tito.grading.sandbox_launcher -f CONNECTION_FILE [kernel args]")


def main(argv: list[str] | None = None) -> None:
    connection_path, kernel_args = split_arguments(sys.argv[1:] if argv is None else argv)
    connection = Path(connection_path).read_bytes()
    settings = SandboxSettings.from_env(os.environ)
    if is_root():
        uid = settings.uid
        if uid is None:
            uid, lock_fd = claim_sandbox_uid()
            os.set_inheritable(lock_fd, True)  # the kernel holds the uid until it exits
        kill_uid_processes(uid)
        enter_private_view(settings, uid)
        workdir = WORKDIR
        processes = settings.limits.processes
    else:
        uid = os.getuid()
        workdir = Path(tempfile.mkdtemp(prefix="tito-kernel-"))
        processes = task_count(uid) + settings.limits.processes
    connection_file = workdir / "kernel-connection.json"
    connection_file.write_bytes(connection)
    connection_file.chmod(0o600)
    if is_root():
        os.chown(connection_file, uid, uid)
    env = kernel_environment(settings, workdir, dict(os.environ))
    if settings.cpus:
        os.sched_setaffinity(0, settings.cpus)
    apply_limits(settings.limits, processes)
    if is_root():
        drop_privileges(uid)
    os.chdir(workdir)
    os.umask(0o077)
    # Kernel output travels over Jupyter's sockets; what student code writes to fd 1 goes nowhere,
    # not into the grader's terminal.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    os.execve(sys.executable, [sys.executable, "-m", "ipykernel_launcher", "-f", str(connection_file), *kernel_args], env)


if __name__ == "__main__":
    try:
        main()
    except (SandboxSetupError, OSError) as exc:
        print(f"tinytorch-sandbox: {exc}", file=sys.stderr)
        sys.exit(1)

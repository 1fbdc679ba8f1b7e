"""What the judge reads about the student's process from the operating system, not from the process.

Linux only (`/proc`); elsewhere every function answers None: not observed. The
process's own code cannot change these answers: the kernel keeps the CPU time of
each of its threads, and reading its memory through `/proc/PID/mem` does not run
any of its code.

- `thread_cpu(pid)`: CPU seconds used so far by each thread (`/proc/PID/task/*/schedstat`,
  nanoseconds), and by the threads that already ended (`/proc/PID/stat`, clock ticks).
- `peek(pid, address, offsets, size)`: bytes of the process's memory, read while it runs.
"""

from __future__ import annotations

import os
import sys

PROC = "/proc"
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") and sys.platform.startswith("linux") else 100


def available() -> bool:
    return sys.platform.startswith("linux") and os.path.isdir(f"{PROC}/self/task")


def thread_cpu(pid: int) -> dict[int, float] | None:
    """CPU seconds used by each live thread of `pid`, keyed by thread id; None when not readable."""
    if not available():
        return None
    try:
        tids = os.listdir(f"{PROC}/{pid}/task")
    except OSError:
        return None
    used: dict[int, float] = {}
    for tid in tids:
        try:
            with open(f"{PROC}/{pid}/task/{tid}/schedstat", "rb") as stat:
                used[int(tid)] = int(stat.read().split()[0]) / 1e9
        except (OSError, ValueError, IndexError):
            continue  # the thread ended between the listing and the read
    return used or None


def process_cpu(pid: int) -> float | None:
    """CPU seconds used by `pid` so far, threads that ended included (clock-tick resolution)."""
    if not available():
        return None
    try:
        with open(f"{PROC}/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime
    except (OSError, ValueError, IndexError):
        return None


def peek(pid: int, address: int, offsets: list[int], size: int) -> list[bytes] | None:
    """`size` bytes at `address + offset` for each offset, from the memory of `pid`; None when the
    operating system does not let the judge read it (another platform, no permission)."""
    if not available() or size <= 0:
        return None
    try:
        fd = os.open(f"{PROC}/{pid}/mem", os.O_RDONLY)
    except OSError:
        return None
    try:
        chunks = [os.pread(fd, size, address + offset) for offset in offsets]
    except (OSError, OverflowError, ValueError):
        return None
    finally:
        os.close(fd)
    return chunks if all(len(chunk) == size for chunk in chunks) else None

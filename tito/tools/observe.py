"""What the judge reads about the student's process from the operating system, not from the process.

Linux only (`/proc`); elsewhere every function answers None: not observed. The
process's own code cannot change these answers: the kernel keeps the CPU time of
each of its threads, and reading its memory through `/proc/PID/mem` does not run
any of its code.

- `thread_cpu(pid)`: CPU seconds used so far by each live thread (`/proc/PID/task/*/schedstat`,
  nanoseconds); `process_cpu(pid)`: by the whole process, threads that already ended included
  (its CPU clock, nanoseconds).
- `peek(pid, address, offsets, size)`: bytes of the process's memory, read while it runs.
"""

from __future__ import annotations

import os
import sys
import time

PROC = "/proc"
_CPUCLOCK_SCHED = 2  # Linux's clock id of process `pid`'s CPU time: (~pid << 3) | 2 (include/linux/posix-timers.h)


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
    """CPU seconds used by `pid` so far, threads that ended included, to the nanosecond: the process's CPU
    clock, which Linux lets any process read by a clock id made from the pid (`clock_getcpuclockid`'s
    encoding); None when not readable. (`/proc/PID/stat` holds the same total in 10 ms clock ticks.)"""
    if not available():
        return None
    try:
        return time.clock_gettime(((~pid) << 3) | _CPUCLOCK_SCHED)
    except (OSError, OverflowError, ValueError):
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

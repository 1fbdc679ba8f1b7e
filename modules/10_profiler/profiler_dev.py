# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Module 10: Profiler — measure before you optimise
#
# The next module makes matrix products and activations fast. Before we change a
# single loop we need an instrument we can trust, because intuition about speed is
# wrong surprisingly often: the "slow" line is not the slow one, a 2x speedup
# vanishes when the machine is busy, a kernel that looks memory-hungry allocates
# nothing, and the first call of anything is slower than the rest.
#
# In this module you build `tinytorch.utils.profiler`:
#
# 1. **Clocks** — wall time and CPU time, and what their ratio tells you.
# 2. **Repeats** — warm-up and the median, so that one hiccup does not decide.
# 3. **Memory** — how much a call allocates, with `tracemalloc`, switched on only
#    around the call because tracing slows every allocation.
# 4. **`SimpleProfiler`** — all of the above in one dict per call.
# 5. **The machine** — core count and cache sizes read from the operating system,
#    and the two numbers that bound every kernel: the peak matrix-multiply speed
#    (GFLOP/s) and the memory bandwidth (GB/s), both measured here, on this machine.
# 6. **The roofline** — which of those two limits a kernel runs into.
#
# Module 11 (kernels) imports the hardware functions of this module to choose its
# block sizes and to say how close each kernel gets to the machine's limits.

# %% nbgrader={"grade": false, "grade_id": "profiler-export-target", "locked": true, "schema_version": 3, "solution": false, "task": false}
#| default_exp utils.profiler

# %% nbgrader={"grade": false, "grade_id": "profiler-imports", "locked": true, "schema_version": 3, "solution": false, "task": false}
#| export
import functools
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any, Callable

import numpy as np

from tinytorch.core.tensor import Tensor

MB = 2**20  # the *_mb values of this module are mebibytes, as most profilers report them
GB = 10**9  # bandwidth in decimal gigabytes per second, as STREAM and vendors quote it
CACHE_SYSFS = Path("/sys/devices/system/cpu/cpu0/cache")  # Linux
PROC_CPUINFO = Path("/proc/cpuinfo")  # Linux
# macOS: the performance cores' caches (Apple Silicon's perflevel0) where the system has levels, else the only ones
SYSCTL_CACHES = {"L1d": ("hw.perflevel0.l1dcachesize", "hw.l1dcachesize"),
                 "L2": ("hw.perflevel0.l2cachesize", "hw.l2cachesize"),
                 "L3": ("hw.l3cachesize",)}
STREAM_BYTES_MIN = 128 * MB  # bandwidth test arrays: at least this, and 4x the last-level cache,
STREAM_BYTES_MAX = 512 * MB  # but at most this: a VM may report its whole processor's L3 (480 MiB here)
DEFAULT_REPEATS = 5

# %% [markdown]
# ## 1. Two clocks
#
# `time.perf_counter()` is a **wall clock**: the time that passes on the wall while
# your function runs, whatever the CPU is doing — computing, waiting for memory,
# sleeping, or running somebody else's process. It is monotonic and has
# nanosecond resolution, which makes it the right clock for timing code
# (`time.time()` can jump when the system clock is adjusted).
#
# `time.process_time()` is a **CPU clock**: the CPU seconds that *this process*
# used, summed over all of its threads (user + system time). Sleeping costs no
# CPU time. Four threads busy for one second cost four CPU seconds.
#
# Their ratio says what kind of work you did:
#
# | `cpu_time / wall_time` | meaning |
# |---|---|
# | ≈ 0 | waiting: sleep, disk, network, a lock |
# | ≈ 1 | one core busy the whole time (pure Python, single-threaded numpy) |
# | ≈ number of cores | every core busy (multithreaded BLAS) |
# | between | partly waiting, or other processes took the CPU away from you |
#
# We report `cpu_percent = 100 * cpu_time / wall_time` (can exceed 100 with
# threads) and `cpu_efficiency = cpu_time / (wall_time * cores)`, the fraction of
# the machine's CPU capacity that the call used.

# %%
def busy_python_loop(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i
    return total


for label, action in [("Python loop", lambda: busy_python_loop(2_000_000)), ("sleep 0.1 s", lambda: time.sleep(0.1))]:
    wall_start, cpu_start = time.perf_counter(), time.process_time()
    action()
    wall, cpu = time.perf_counter() - wall_start, time.process_time() - cpu_start
    print(f"{label:12s} wall {wall * 1e3:7.1f} ms   cpu {cpu * 1e3:7.1f} ms   cpu/wall {cpu / wall:5.2f}")

# %% [markdown]
# If the single-threaded Python loop above showed a ratio above 1, you have met
# the first surprise of measuring: the CPU clock counts *every* thread of the
# process, including ones you did not start. numpy hands matrix products to
# OpenBLAS, whose worker threads start when numpy is imported and keep spinning
# for about a tenth of a second after each product, waiting for the next one.
# Watch a sleep right after a product cost CPU time:

# %%
square = np.ones((256, 256), dtype=np.float32)
for label in ("sleep right after a matmul", "the same sleep again"):
    if label.startswith("sleep right"):
        square @ square
    wall_start, cpu_start = time.perf_counter(), time.process_time()
    time.sleep(0.1)
    wall, cpu = time.perf_counter() - wall_start, time.process_time() - cpu_start
    print(f"{label:28s} wall {wall * 1e3:6.1f} ms   cpu {cpu * 1e3:6.1f} ms")

# %% [markdown]
# ### Your turn: `time_call`
#
# Read both clocks immediately before and after the call, and nothing else in
# between: every extra line inside the timed region is measured too.

# %% nbgrader={"grade": false, "grade_id": "time-call-solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| export
def time_call(func: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float, float]:
    """Call ``func(*args, **kwargs)`` once and measure it with two clocks.

    TODO: return ``(result, wall_seconds, cpu_seconds)`` where
    ``wall_seconds = perf_counter() after - before`` and
    ``cpu_seconds = process_time() after - before``.

    Steps:
        1. read ``time.perf_counter()`` and ``time.process_time()``;
        2. call ``func``;
        3. read both clocks again and subtract.

    An exception raised by ``func`` propagates unchanged.

    Example:
        >>> result, wall, cpu = time_call(sum, [1, 2, 3])
        >>> result
        6
    """
    ### BEGIN SOLUTION
    wall_start = time.perf_counter()
    cpu_start = time.process_time()
    result = func(*args, **kwargs)
    cpu_seconds = time.process_time() - cpu_start
    wall_seconds = time.perf_counter() - wall_start
    return result, wall_seconds, cpu_seconds
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test-time-call", "locked": true, "points": 6, "schema_version": 3, "solution": false, "task": false}
def test_unit_time_call():
    from tito.tools.judging import plain  # your values as plain data, compared here
    def spin(n):
        total = 0
        for i in range(n):
            total += i * i
        return total

    # BLAS worker threads may spin for ~0.1 s after numpy work, so sleep well beyond that.
    result, wall, cpu = plain(time_call(time.sleep, 0.25))
    assert result is None, f"time_call should return the result of func (None for sleep), got {result!r}"
    assert wall >= 0.25, f"time.sleep(0.25) lasts at least 0.25 s of wall time, time_call measured {wall:.4f} s"
    assert 0.0 <= cpu < 0.6 * wall, f"sleeping uses little CPU: expected 0 <= cpu_time < 0.6 * wall_time, got cpu {cpu:.4f} s, wall {wall:.4f} s"

    result, wall, cpu = plain(time_call(max, [3, 9, 4], key=lambda v: -v))
    assert result == 3, f"arguments and keyword arguments must reach func: max([3, 9, 4], key=-v) is 3, got {result!r}"

    result, wall, cpu = plain(time_call(spin, 300_000))
    assert result == sum(i * i for i in range(300_000)), "time_call returned the wrong result for the Python loop"
    assert cpu > 0.0, f"a Python loop keeps the CPU busy: expected cpu_time > 0, got {cpu}"

    try:
        time_call(int, "not a number")
    except ValueError:
        pass
    else:
        raise AssertionError("an exception raised by func must propagate out of time_call")


test_unit_time_call()

# %% [markdown]
# ### How many cores could be busy?
#
# `cpu_efficiency` divides by the number of cores the process may use. That is
# not always `os.cpu_count()`, which counts the machine's processors: a container
# or `taskset` can restrict a process to fewer, and on Linux
# `os.sched_getaffinity(0)` returns the set it may actually run on.

# %% nbgrader={"grade": false, "grade_id": "cpu-count-solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| export
def cpu_count() -> int:
    """Number of CPU cores this process may run on.

    TODO: ``len(os.sched_getaffinity(0))`` where ``os`` has ``sched_getaffinity``
    (Linux), else ``os.cpu_count()``, and 1 when even that is unknown (None).
    """
    ### BEGIN SOLUTION
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test-cpu-count", "locked": true, "points": 4, "schema_version": 3, "solution": false, "task": false}
def test_unit_cpu_count():
    from tito.tools.judging import plain  # your values as plain data, compared here
    got = plain(cpu_count())
    assert isinstance(got, int) and got >= 1, f"cpu_count() should be a positive int, got {got!r}"
    if hasattr(os, "sched_getaffinity"):
        allowed = len(os.sched_getaffinity(0))
        assert got == allowed, f"this process may run on {allowed} cores (os.sched_getaffinity), cpu_count() returned {got}"
    assert got <= (os.cpu_count() or got), f"cpu_count() {got} cannot exceed the machine's {os.cpu_count()} processors"


test_unit_cpu_count()

# %% [markdown]
# ## 2. Warm-up and the median
#
# The first call of a function is often slower than every later one: pages of new
# arrays are mapped by the OS on first touch, BLAS starts its thread pool,
# caches are cold, Python looks names up for the first time. And any single
# measurement can be hit by another process taking the core for a few
# milliseconds.
#
# So benchmarks (1) run the function once untimed — the **warm-up** — and (2) take
# the **median** of several timed runs. The median ignores a few outliers in either
# direction; the mean does not. Compare both for a small matrix product:

# %%
matrix = np.ones((256, 256), dtype=np.float32)
first_wall = time_call(np.matmul, matrix, matrix)[1]
samples = [time_call(np.matmul, matrix, matrix)[1] for _ in range(20)]
print(f"first call {first_wall * 1e6:8.1f} us")
print(f"median     {statistics.median(samples) * 1e6:8.1f} us   mean {statistics.mean(samples) * 1e6:8.1f} us   "
      f"max {max(samples) * 1e6:8.1f} us")

# %% nbgrader={"grade": false, "grade_id": "median-seconds-solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| export
def median_seconds(func: Callable[..., Any], *args: Any, repeats: int = DEFAULT_REPEATS, **kwargs: Any) -> float:
    """Median wall time in seconds of ``repeats`` calls of ``func``, after one warm-up call.

    TODO: call ``func(*args, **kwargs)`` once untimed, then ``repeats`` times timed
    with ``time.perf_counter`` (use ``time_call``), and return the median of the
    timed runs. ``func`` is therefore called ``repeats + 1`` times.

    Raises:
        ValueError: when ``repeats < 1`` (say how many repeats were asked for).

    Example:
        >>> median_seconds(time.sleep, 0.01, repeats=3) >= 0.01
        True
    """
    ### BEGIN SOLUTION
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    func(*args, **kwargs)
    return statistics.median(time_call(func, *args, **kwargs)[1] for _ in range(repeats))
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test-median-seconds", "locked": true, "points": 6, "schema_version": 3, "solution": false, "task": false}
def test_unit_median_seconds():
    from tito.tools.judging import plain  # your values as plain data, compared here
    calls = []

    def record_and_sleep(seconds):
        calls.append(seconds)
        time.sleep(seconds)

    seconds = plain(median_seconds(record_and_sleep, 0.02, repeats=3))
    assert len(calls) == 4, f"median_seconds(..., repeats=3) should call func 4 times (1 warm-up + 3 timed), it called it {len(calls)} times"
    assert seconds >= 0.02, f"the median of three sleeps of 0.02 s is at least 0.02 s, got {seconds:.4f} s"
    assert isinstance(seconds, float), f"median_seconds should return a float, got {type(seconds).__name__}"

    for bad in (0, -2):
        try:
            median_seconds(time.sleep, 0.0, repeats=bad)
        except ValueError:
            pass
        else:
            raise AssertionError(f"median_seconds(repeats={bad}) should raise ValueError")


test_unit_median_seconds()

# %% [markdown]
# ## 3. Memory: what does a call allocate?
#
# `tracemalloc` (standard library) records every allocation made through
# Python's allocators while it is on, and numpy reports its array buffers to it
# too. `tracemalloc.get_traced_memory()` returns `(current, peak)`: the bytes
# allocated right now and the highest value since tracing started (or since
# `tracemalloc.reset_peak()`).
#
# Tracing has a price: every allocation also records where it came from, which
# makes allocation-heavy Python code several times slower. That is why
#
# * tracing is switched on **only around the call** and switched off again
#   afterwards — unless someone else had it on already, in which case we leave it
#   on (their tracing is not ours to stop);
# * the profiler **never times a traced run**: it times one call and traces
#   another.
#
# What `tracemalloc` does not see: memory that C libraries allocate on their own
# (BLAS work buffers, for instance). The numbers are "memory your Python program
# asked for", which is usually what you want to reduce.

# %% nbgrader={"grade": false, "grade_id": "trace-memory-solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| export
def trace_memory(func: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, dict[str, int]]:
    """Call ``func(*args, **kwargs)`` once with ``tracemalloc`` on and report its memory.

    TODO: return ``(result, memory)`` with ``memory`` a dict of traced bytes:
    ``before_bytes`` (traced memory just before the call), ``after_bytes`` (just
    after it; includes the result) and ``peak_bytes`` (the highest traced memory
    during the call). All three are levels on the same scale, so
    ``peak_bytes >= max(before_bytes, after_bytes)``.

    Steps:
        1. remember ``tracemalloc.is_tracing()``; start tracing if it was off;
        2. ``tracemalloc.reset_peak()``, then read ``before`` with ``get_traced_memory()``;
        3. call ``func``; read ``(after, peak)``;
        4. in a ``finally:`` block, stop tracing **only** if it was off before, so the
           tracing state is restored even when ``func`` raises.

    Exceptions raised by ``func`` propagate.

    Example:
        >>> _, memory = trace_memory(np.ones, 1_000_000)    # 8 MB of float64
        >>> memory["peak_bytes"] - memory["before_bytes"] >= 8_000_000
        True
    """
    ### BEGIN SOLUTION
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        result = func(*args, **kwargs)
        after, peak = tracemalloc.get_traced_memory()
    finally:
        if not was_tracing:
            tracemalloc.stop()
    return result, {"before_bytes": before, "after_bytes": after, "peak_bytes": peak}
    ### END SOLUTION


# %% [markdown]
# The test below measures a workload that must run in *your* process, where your
# `trace_memory` traces allocations: it is defined in this locked cell, not inside the
# test (the grader runs the test itself in a separate, trusted process).

# %% nbgrader={"grade": false, "grade_id": "profiler-test-workloads", "locked": true, "schema_version": 3, "solution": false, "task": false}
def allocate_and_free(nbytes: int) -> float:
    """Allocate a temporary array of `nbytes` bytes, sum it, free it."""
    return float(np.ones(nbytes // 8).sum())


# %% nbgrader={"grade": true, "grade_id": "test-trace-memory", "locked": true, "points": 12, "schema_version": 3, "solution": false, "task": false}
def test_unit_trace_memory():
    from tito.tools.judging import in_student_process, plain  # the tracemalloc your trace_memory uses; plain values

    tracing = in_student_process("tracemalloc")
    nbytes = 8_000_000  # 10**6 float64 values
    tracing.stop()
    result, memory = plain(trace_memory(allocate_and_free, nbytes))
    assert result == nbytes // 8, f"trace_memory must return func's result ({nbytes // 8}), got {result!r}"
    assert set(memory) == {"before_bytes", "after_bytes", "peak_bytes"}, f"unexpected keys {sorted(memory)}"
    allocated = memory["peak_bytes"] - memory["before_bytes"]
    assert nbytes <= allocated < nbytes + 1_000_000, (
        f"the call allocates a temporary array of {nbytes} bytes: expected peak - before within "
        f"[{nbytes}, {nbytes + 1_000_000}), got {allocated}")
    retained = memory["after_bytes"] - memory["before_bytes"]
    assert retained < 100_000, f"the temporary array is freed before the call returns; after - before should be small, got {retained} bytes"
    assert not plain(tracing.is_tracing()), "tracing was off before trace_memory and must be off again afterwards"

    kept, memory = plain(trace_memory(np.zeros, (500, 1000)))  # 4 MB result kept alive
    retained = memory["after_bytes"] - memory["before_bytes"]
    assert kept.nbytes <= retained < kept.nbytes + 100_000, f"a returned {kept.nbytes}-byte array stays allocated: after - before should be about {kept.nbytes}, got {retained}"
    assert memory["peak_bytes"] >= max(memory["before_bytes"], memory["after_bytes"]), f"the peak is the highest level: {memory}"

    tracing.start()
    try:
        trace_memory(allocate_and_free, nbytes)
        assert plain(tracing.is_tracing()), "tracing was already on before trace_memory: it must still be on afterwards"
    finally:
        tracing.stop()

    def explode():
        raise KeyError("explode")

    try:
        trace_memory(explode)
    except KeyError:
        pass
    else:
        raise AssertionError("an exception raised by func must propagate out of trace_memory")
    assert not plain(tracing.is_tracing()), "trace_memory must stop the tracing it started even when func raises"


test_unit_trace_memory()

# %% [markdown]
# ## 4. Describing the result
#
# Shape, dtype and size of what a function returns are half of a profile: a
# "slow" function is often just one that produces a much bigger array than you
# thought. The result may be a numpy array or a TinyTorch `Tensor` (whose `.data`
# is the array).

# %% nbgrader={"grade": false, "grade_id": "result-info-solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| export
def result_info(result: Any) -> dict[str, Any]:
    """Shape, dtype, size and element count of an ndarray or Tensor result.

    TODO: for a ``Tensor`` use its ``.data`` array; for an ``np.ndarray`` use it
    directly. Return a dict with ``result_shape`` (tuple), ``result_dtype`` (str,
    e.g. ``"float32"``), ``result_size_mb`` (``nbytes / MB``) and
    ``result_elements`` (int, number of entries). Any other kind of result gives
    an empty dict.

    Example:
        >>> result_info(np.zeros((2, 3), dtype=np.float32))["result_size_mb"] == 24 / MB
        True
        >>> result_info("text")
        {}
    """
    ### BEGIN SOLUTION
    if isinstance(result, Tensor):
        result = result.data
    if not isinstance(result, np.ndarray):
        return {}
    return {
        "result_shape": tuple(result.shape),
        "result_dtype": str(result.dtype),
        "result_size_mb": result.nbytes / MB,
        "result_elements": int(result.size),
    }
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test-result-info", "locked": true, "points": 8, "schema_version": 3, "solution": false, "task": false}
def test_unit_result_info():
    from tito.tools.judging import plain  # your values as plain data, compared here
    array = np.zeros((3, 4, 5), dtype=np.float32)
    expected = {"result_shape": (3, 4, 5), "result_dtype": "float32", "result_size_mb": 240 / 2**20, "result_elements": 60}
    got = plain(result_info(array))
    assert got == expected, f"result_info of a (3, 4, 5) float32 array should be {expected}, got {got}"

    tensor = Tensor(np.arange(6, dtype=np.float64).reshape(2, 3))
    got = plain(result_info(tensor))
    assert got.get("result_shape") == (2, 3) and got.get("result_dtype") == "float64", f"a Tensor is described by its .data: expected shape (2, 3) float64, got {got}"
    assert got.get("result_elements") == 6 and got.get("result_size_mb") == 48 / 2**20, f"a (2, 3) float64 Tensor has 6 elements and 48 bytes, got {got}"

    empty = plain(result_info(np.empty((0, 7), dtype=np.int8)))
    assert empty.get("result_elements") == 0 and empty.get("result_size_mb") == 0.0, f"an empty array has 0 elements and 0 MB, got {empty}"

    for other in (None, 3.5, [1, 2, 3], "text"):
        assert plain(result_info(other)) == {}, f"result_info({other!r}) should be {{}} (not an array), got {result_info(other)}"


test_unit_result_info()

# %% [markdown]
# ## 5. `SimpleProfiler`
#
# Now put the pieces together. One call of `profile` returns one flat dict, easy
# to print, compare and store:
#
# | key | source |
# |---|---|
# | `name`, `result` | the function's name (or yours), its return value |
# | `wall_time`, `cpu_time` | `time_call` on the timed run, seconds |
# | `cpu_efficiency` | `cpu_time / (wall_time * cpu_count())` |
# | `memory_before_mb`, `memory_after_mb`, `peak_memory_mb`, `memory_delta_mb` | `trace_memory` on a second run, MB (2^20 bytes); delta = after − before |
# | `cpu_percent` | `100 * cpu_time / wall_time` of the timed run |
# | `memory_percent`, `rss_mb`, `num_threads` | `psutil`: resident memory of the process as % of RAM and in MB, OS threads |
# | `result_shape`, `result_dtype`, `result_size_mb`, `result_elements` | `result_info` |
#
# The order of calls matters: warm-up (optional), then the **timed** run, then the
# **traced** run. With `warmup=False` the timed run is the very first call, so you
# can measure cold-start cost on purpose.

# %% nbgrader={"grade": false, "grade_id": "simple-profiler-solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| export
class SimpleProfiler:
    """Time, memory and CPU use of single function calls.

    ``SimpleProfiler(track_memory=True, track_cpu=True)``: ``track_memory`` adds the
    ``tracemalloc`` keys (and one extra, traced call); ``track_cpu`` adds
    ``cpu_percent``, ``memory_percent``, ``rss_mb`` and ``num_threads``.
    """

    def __init__(self, track_memory: bool = True, track_cpu: bool = True) -> None:
        """Store the two switches as ``self.track_memory`` and ``self.track_cpu``."""
        ### BEGIN SOLUTION
        self.track_memory = bool(track_memory)
        self.track_cpu = bool(track_cpu)
        ### END SOLUTION

    def profile(self, func: Callable[..., Any], *args: Any, name: str | None = None,
                warmup: bool = True, **kwargs: Any) -> dict[str, Any]:
        """Profile ``func(*args, **kwargs)`` and return one dict of measurements.

        TODO: call ``func``
            1. once untimed when ``warmup`` is true;
            2. once with ``time_call`` — this run gives ``result``, ``wall_time``,
               ``cpu_time``;
            3. once more with ``trace_memory`` when ``self.track_memory``.
        Exceptions from any of these calls propagate (a failing warm-up is a failure).

        Keys, always: ``name`` (``name`` or ``func.__name__``), ``wall_time``,
        ``cpu_time``, ``cpu_efficiency = cpu_time / (wall_time * cpu_count())``
        (0.0 when ``wall_time`` is 0), ``result``.
        When ``self.track_memory``: ``memory_before_mb``, ``memory_after_mb``,
        ``peak_memory_mb`` (the three traced levels divided by ``MB``) and
        ``memory_delta_mb = memory_after_mb - memory_before_mb``.
        When ``self.track_cpu``: ``cpu_percent = 100 * cpu_time / wall_time`` (0.0
        when ``wall_time`` is 0), and from ``psutil.Process()`` after the call:
        ``memory_percent`` (``.memory_percent()``), ``rss_mb``
        (``.memory_info().rss / MB``), ``num_threads`` (``.num_threads()``).
        Plus ``result_info(result)``.

        Example:
            >>> SimpleProfiler().profile(np.ones, (100, 100))["result_shape"]
            (100, 100)
        """
        import psutil  # imported on use: it adds ~20 ms to importing this module

        ### BEGIN SOLUTION
        if warmup:
            func(*args, **kwargs)
        result, wall_time, cpu_time = time_call(func, *args, **kwargs)
        profile = {
            "name": name if name is not None else getattr(func, "__name__", type(func).__name__),
            "wall_time": wall_time,
            "cpu_time": cpu_time,
            "cpu_efficiency": cpu_time / (wall_time * cpu_count()) if wall_time > 0 else 0.0,
            "result": result,
        }
        if self.track_memory:
            _, memory = trace_memory(func, *args, **kwargs)
            profile["memory_before_mb"] = memory["before_bytes"] / MB
            profile["memory_after_mb"] = memory["after_bytes"] / MB
            profile["peak_memory_mb"] = memory["peak_bytes"] / MB
            profile["memory_delta_mb"] = profile["memory_after_mb"] - profile["memory_before_mb"]
        if self.track_cpu:
            process = psutil.Process()
            profile["cpu_percent"] = 100.0 * cpu_time / wall_time if wall_time > 0 else 0.0
            profile["memory_percent"] = process.memory_percent()
            profile["rss_mb"] = process.memory_info().rss / MB
            profile["num_threads"] = process.num_threads()
        profile.update(result_info(result))
        return profile
        ### END SOLUTION

    def print_result(self, profile_result: dict[str, Any], show_details: bool = False) -> None:
        """Print a profile dict as a short report.

        TODO: print the name, wall time, CPU time with ``cpu_percent`` when present,
        the peak memory when present and the result's shape and dtype when present.
        With ``show_details`` also print the memory before/after/delta, the
        process's memory share and RSS, the thread count and the result's size.
        Use ``format_seconds`` for times.
        """
        ### BEGIN SOLUTION
        result = profile_result
        lines = [f"Profile: {result['name']}",
                 f"  wall time       {format_seconds(result['wall_time'])}"]
        cpu_line = f"  CPU time        {format_seconds(result['cpu_time'])}"
        if "cpu_percent" in result:
            cpu_line += f"  ({result['cpu_percent']:.0f}% of one core, {100 * result['cpu_efficiency']:.0f}% of {cpu_count()} cores)"
        lines.append(cpu_line)
        if "peak_memory_mb" in result:
            lines.append(f"  peak memory     {result['peak_memory_mb']:.3f} MB (traced)")
        if "result_shape" in result:
            lines.append(f"  result          shape {result['result_shape']}, {result['result_dtype']}")
        if show_details:
            if "memory_before_mb" in result:
                lines.append(f"  memory before   {result['memory_before_mb']:.3f} MB, after {result['memory_after_mb']:.3f} MB, "
                             f"delta {result['memory_delta_mb']:+.3f} MB")
            if "memory_percent" in result:
                lines.append(f"  process memory  {result['rss_mb']:.1f} MB resident ({result['memory_percent']:.2f}% of RAM)")
                lines.append(f"  threads         {result['num_threads']}")
            if "result_size_mb" in result:
                lines.append(f"  result size     {result['result_size_mb']:.3f} MB, {result['result_elements']} elements")
        print("\n".join(lines))
        ### END SOLUTION

    def get_capabilities(self) -> dict[str, Any]:
        """What this profiler measures and with which instrument.

        TODO: return ``{"wall_time": "time.perf_counter", "cpu_time": "time.process_time",
        "memory": "tracemalloc" or None, "process": "psutil" or None,
        "track_memory": bool, "track_cpu": bool, "cpu_count": cpu_count(), "device": "cpu"}``
        where ``memory``/``process`` are None when that tracking is off.
        """
        ### BEGIN SOLUTION
        return {
            "wall_time": "time.perf_counter",
            "cpu_time": "time.process_time",
            "memory": "tracemalloc" if self.track_memory else None,
            "process": "psutil" if self.track_cpu else None,
            "track_memory": self.track_memory,
            "track_cpu": self.track_cpu,
            "cpu_count": cpu_count(),
            "device": "cpu",
        }
        ### END SOLUTION


def format_seconds(seconds: float) -> str:
    """A duration with a readable unit: ``0.000012 -> '12.0 us'``, ``0.25 -> '250.0 ms'``."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    if seconds < 1.0:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.3f} s"


# %% nbgrader={"grade": true, "grade_id": "test-profiler-keys", "locked": true, "points": 10, "schema_version": 3, "solution": false, "task": false}
def test_unit_profiler_keys():
    from tito.tools.judging import plain  # your values as plain data, compared here
    import psutil

    base = {"name", "wall_time", "cpu_time", "cpu_efficiency", "result"}
    memory = {"memory_before_mb", "memory_after_mb", "peak_memory_mb", "memory_delta_mb"}
    cpu = {"cpu_percent", "memory_percent", "rss_mb", "num_threads"}
    array = {"result_shape", "result_dtype", "result_size_mb", "result_elements"}

    got = plain(SimpleProfiler().profile(np.ones, (200, 300), dtype=np.float32))
    assert base | memory | cpu | array <= set(got), f"missing keys: {sorted((base | memory | cpu | array) - set(got))}"
    assert got["name"] == "ones", f"the default name is func.__name__ ('ones'), got {got['name']!r}"
    assert got["result"].shape == (200, 300) and got["result"].dtype == np.float32, "kwargs must reach func and the result must be returned"
    assert got["result_shape"] == (200, 300) and got["result_dtype"] == "float32", f"result info wrong: {got['result_shape']}, {got['result_dtype']}"
    assert got["result_elements"] == 60_000 and abs(got["result_size_mb"] - 240_000 / 2**20) < 1e-12, "a (200, 300) float32 array has 60000 elements and 240000 bytes"
    for key in ("wall_time", "cpu_time", "cpu_efficiency", "cpu_percent", "memory_percent", "rss_mb", *memory):
        assert isinstance(got[key], float), f"{key} should be a float, got {type(got[key]).__name__}"
    assert isinstance(got["num_threads"], int) and got["num_threads"] >= 1, f"num_threads should be a positive int, got {got['num_threads']!r}"
    assert abs(got["memory_delta_mb"] - (got["memory_after_mb"] - got["memory_before_mb"])) < 1e-9, "memory_delta_mb must equal memory_after_mb - memory_before_mb"
    assert got["peak_memory_mb"] >= 240_000 / 2**20, f"np.ones((200, 300), float32) allocates 240000 bytes; peak_memory_mb {got['peak_memory_mb']:.4f} is too small"
    from tito.tools.judging import in_student_process  # the process your profiler ran in

    rss_now = plain(in_student_process("psutil").Process().memory_info().rss) / 2**20
    assert 0.5 * rss_now < got["rss_mb"] < 2.0 * rss_now, f"rss_mb is the process's resident memory in MB (about {rss_now:.0f} now), got {got['rss_mb']:.1f}"

    named = plain(SimpleProfiler(track_memory=False, track_cpu=False).profile(sum, [1, 2], name="my sum"))
    assert named["name"] == "my sum" and named["result"] == 3, f"name= overrides the name and result is sum([1, 2]) = 3, got {named['name']!r}, {named['result']!r}"
    assert not (memory | cpu | array) & set(named), f"with tracking off and a non-array result these keys must be absent: {sorted((memory | cpu | array) & set(named))}"

    capabilities = plain(SimpleProfiler(track_memory=False).get_capabilities())
    assert isinstance(capabilities, dict) and capabilities.get("track_memory") is False and capabilities.get("track_cpu") is True, f"get_capabilities should report the switches, got {capabilities}"
    assert capabilities.get("memory") is None and capabilities.get("device") == "cpu", f"memory tracking is off and the device is the cpu, got {capabilities}"


test_unit_profiler_keys()

# %% nbgrader={"grade": true, "grade_id": "test-profiler-timing", "locked": true, "points": 8, "schema_version": 3, "solution": false, "task": false}
def test_unit_profiler_timing():
    from tito.tools.judging import plain  # your values as plain data, compared here
    def spin(n):
        total = 0
        for i in range(n):
            total += i * i
        return total

    calls = []

    def nap(seconds):
        calls.append(seconds)
        time.sleep(seconds)

    profiler = SimpleProfiler(track_memory=False, track_cpu=False)
    got = plain(profiler.profile(nap, 0.05))
    assert len(calls) == 2, f"with warmup=True and no memory tracking, func runs twice (warm-up + timed), it ran {len(calls)} times"
    assert got["wall_time"] >= 0.05, f"time.sleep(0.05) lasts at least 0.05 s, wall_time was {got['wall_time']:.4f}"

    calls.clear()
    profiler.profile(nap, 0.0, warmup=False)
    assert len(calls) == 1, f"with warmup=False and no memory tracking, func runs once, it ran {len(calls)} times"

    calls.clear()
    SimpleProfiler(track_memory=True, track_cpu=False).profile(nap, 0.0)
    assert len(calls) == 3, f"with warm-up and memory tracking, func runs three times (warm-up, timed, traced), it ran {len(calls)} times"

    got = plain(profiler.profile(spin, 200_000))
    cores = os.cpu_count() if not hasattr(os, "sched_getaffinity") else len(os.sched_getaffinity(0))
    expected = got["cpu_time"] / (got["wall_time"] * cores)
    assert abs(got["cpu_efficiency"] - expected) < 1e-12, f"cpu_efficiency = cpu_time / (wall_time * {cores} cores) = {expected}, got {got['cpu_efficiency']}"


test_unit_profiler_timing()

# %% nbgrader={"grade": true, "grade_id": "test-profiler-cpu", "locked": true, "points": 8, "schema_version": 3, "solution": false, "task": false}
def test_unit_profiler_cpu_percent():
    from tito.tools.judging import plain  # your values as plain data, compared here
    def spin(n):
        total = 0
        for i in range(n):
            total += i * i
        return total

    profiler = SimpleProfiler(track_memory=False, track_cpu=True)
    busy = plain(profiler.profile(spin, 500_000))
    assert busy["cpu_percent"] > 0.0, f"a pure-Python loop keeps a core busy: cpu_percent must be > 0, got {busy['cpu_percent']}"
    expected = 100.0 * busy["cpu_time"] / busy["wall_time"]
    assert abs(busy["cpu_percent"] - expected) < 1e-9, f"cpu_percent = 100 * cpu_time / wall_time = {expected:.3f}, got {busy['cpu_percent']:.3f}"

    idle = plain(profiler.profile(time.sleep, 0.2))
    assert idle["cpu_percent"] < 50.0, f"sleeping uses almost no CPU: expected cpu_percent well below 50, got {idle['cpu_percent']:.1f}"
    assert busy["cpu_percent"] > idle["cpu_percent"], f"a busy loop uses more CPU than a sleep: {busy['cpu_percent']:.1f}% vs {idle['cpu_percent']:.1f}%"


test_unit_profiler_cpu_percent()

# %% nbgrader={"grade": true, "grade_id": "test-profiler-errors", "locked": true, "points": 8, "schema_version": 3, "solution": false, "task": false}
def test_unit_profiler_exceptions():
    def failing_on_call(number):
        calls = []

        def func():
            calls.append(1)
            if len(calls) == number:
                raise RuntimeError(f"failure on call {number}")
            return np.zeros(10)

        return func, calls

    tracemalloc.stop()
    for warmup in (True, False):
        func, calls = failing_on_call(1)
        try:
            SimpleProfiler().profile(func, warmup=warmup)
        except RuntimeError as error:
            assert "failure on call 1" in str(error), f"the original exception must propagate, got {error!r}"
        else:
            raise AssertionError(f"an exception in the first call (warmup={warmup}) must propagate out of profile")
        assert len(calls) == 1, f"after a failing call nothing more should run, func ran {len(calls)} times"
        assert not tracemalloc.is_tracing(), "tracing must be off again after a failing profile"

    for number in (2, 3):
        func, calls = failing_on_call(number)
        try:
            SimpleProfiler().profile(func)
        except RuntimeError:
            pass
        else:
            raise AssertionError(f"profile runs func 3 times (warm-up, timed, traced): the failure on call {number} must propagate")
        assert not tracemalloc.is_tracing(), f"tracing must be off again after a failure on call {number}"

    tracemalloc.start()
    try:
        SimpleProfiler().profile(np.ones, 1000)
        assert tracemalloc.is_tracing(), "tracing that was on before profile must stay on"
    finally:
        tracemalloc.stop()
    ### BEGIN HIDDEN TESTS
    func, calls = failing_on_call(3)
    SimpleProfiler(track_memory=False).profile(func)
    assert len(calls) == 2, f"without memory tracking profile calls func twice, it called it {len(calls)} times"

    def divide_by_zero():
        return 1 / 0

    try:
        SimpleProfiler(track_memory=False, track_cpu=False).profile(divide_by_zero, warmup=False)
    except ZeroDivisionError:
        pass
    else:
        raise AssertionError("exceptions must propagate unchanged (ZeroDivisionError)")
    ### END HIDDEN TESTS


test_unit_profiler_exceptions()

# %% [markdown]
# `profile_function` is the one-line version for a notebook cell: profile with a
# default `SimpleProfiler`, print the report, return the dict.

# %% nbgrader={"grade": false, "grade_id": "profile-function-solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| export
def profile_function(func: Callable[..., Any], *args: Any, name: str | None = None,
                     show_details: bool = False, **kwargs: Any) -> dict[str, Any]:
    """Profile ``func(*args, **kwargs)`` with ``SimpleProfiler()``, print the report, return the dict.

    TODO: create a ``SimpleProfiler()``, call its ``profile`` (passing ``name``),
    print the result with ``print_result(result, show_details)`` and return it.

    Example:
        >>> profile = profile_function(np.ones, (10, 10), name="ones")   # prints a report
        >>> profile["result_shape"]
        (10, 10)
    """
    ### BEGIN SOLUTION
    profiler = SimpleProfiler()
    result = profiler.profile(func, *args, name=name, **kwargs)
    profiler.print_result(result, show_details=show_details)
    return result
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test-profile-function", "locked": true, "points": 5, "schema_version": 3, "solution": false, "task": false}
def test_unit_profile_function():
    from tito.tools.judging import plain  # your values as plain data, compared here
    import contextlib
    import io

    brief, detailed = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(brief):
        got = plain(profile_function(np.full, (30, 40), 2.5, name="fill"))
    with contextlib.redirect_stdout(detailed):
        profile_function(np.full, (30, 40), 2.5, name="fill", show_details=True)
    assert got["name"] == "fill" and got["result_shape"] == (30, 40), f"profile_function should return the profile dict, got name {got.get('name')!r}"
    assert np.array_equal(got["result"], np.full((30, 40), 2.5)), "the result must be np.full((30, 40), 2.5)"
    assert "peak_memory_mb" in got and "cpu_percent" in got, "profile_function uses a default SimpleProfiler (memory and CPU tracking on)"
    assert "fill" in brief.getvalue(), f"the printed report should name the profiled function, got:\n{brief.getvalue()}"
    assert len(detailed.getvalue().splitlines()) > len(brief.getvalue().splitlines()), "show_details=True should print more lines than the brief report"


test_unit_profile_function()

# %% [markdown]
# Profile a few operations the next module will optimise. Note the CPU
# percentage of the matrix product: numpy hands it to a BLAS library that uses
# every core.

# %%
demo_profiler = SimpleProfiler()
for label, func, args in [
    ("matmul 512 float32", np.matmul, (np.ones((512, 512), np.float32), np.ones((512, 512), np.float32))),
    ("relu 10^6 float32", np.maximum, (np.linspace(-1, 1, 10**6, dtype=np.float32), np.float32(0))),
    ("Python loop 10^5", busy_python_loop, (100_000,)),
]:
    demo_profiler.print_result(demo_profiler.profile(func, *args, name=label))

# %% [markdown]
# ## 6. The machine: caches
#
# A kernel's speed depends on the machine as much as on the code. Besides the
# core count, the operating system tells us the **cache sizes**: Linux describes each cache of CPU 0 in
# `/sys/devices/system/cpu/cpu0/cache/index*/` with files `level` (1, 2, 3),
# `type` (`Data`, `Instruction`, `Unified`) and `size` (`32K`, `1024K`, `32768K`;
# K = 1024 bytes). Data that fits in L1 (tens of KB) is served in a few cycles,
# from L2 (around a MB) in ~15, from L3 (tens of MB) in ~50, from main memory in
# hundreds. Module 11 blocks its matrix product so that the working set fits in
# the cache.

# %%
for index in sorted(CACHE_SYSFS.glob("index*")):
    fields = {name: (index / name).read_text().strip() for name in ("level", "type", "size") if (index / name).exists()}
    print(index.name, fields)

# %% nbgrader={"grade": false, "grade_id": "cache-sizes-solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| export
def parse_cache_size(text: str) -> int:
    """Bytes of a sysfs cache size such as ``"32K"``, ``"8M"`` or ``"512"``.

    TODO: strip whitespace; a trailing ``K``, ``M`` or ``G`` multiplies by 1024,
    1024**2 or 1024**3; no suffix means bytes.

    Raises:
        ValueError: when the text is not a size (quote the text in the message).

    Example:
        >>> parse_cache_size("32K")
        32768
    """
    ### BEGIN SOLUTION
    cleaned = text.strip().upper()
    units = {"K": 2**10, "M": 2**20, "G": 2**30}
    multiplier = units.get(cleaned[-1:], 1)
    digits = cleaned[:-1] if cleaned[-1:] in units else cleaned
    if not digits.isdigit():
        raise ValueError(f"not a cache size: {text!r} (expected digits with an optional K, M or G suffix)")
    return int(digits) * multiplier
    ### END SOLUTION


def read_cache_sizes(root: str | os.PathLike = CACHE_SYSFS) -> dict[str, int]:
    """Cache sizes in bytes from a sysfs cache directory: keys ``'L1d'``, ``'L2'``, ``'L3'``.

    TODO: for each ``index*`` folder under ``root`` read ``level``, ``type`` and
    ``size``. Instruction caches are skipped. A level-1 data (or unified) cache is
    ``'L1d'``; level 2 and 3 are ``'L2'`` and ``'L3'``; other levels are ignored.
    Folders with missing or unreadable files are skipped; a missing ``root`` gives ``{}``.

    Example (on the machine this course was written on):
        >>> read_cache_sizes()
        {'L1d': 32768, 'L2': 1048576, 'L3': 33554432}
    """
    ### BEGIN SOLUTION
    sizes: dict[str, int] = {}
    for index in sorted(Path(root).glob("index*")):
        try:
            level = int((index / "level").read_text())
            kind = (index / "type").read_text().strip()
            size = parse_cache_size((index / "size").read_text())
        except (OSError, ValueError):
            continue
        if kind == "Instruction" or level not in (1, 2, 3):
            continue
        sizes["L1d" if level == 1 else f"L{level}"] = size
    return sizes
    ### END SOLUTION


def sysctl_value(name: str) -> int | None:
    """macOS: the integer `sysctl -n name` prints, or None when there is none."""
    try:
        printed = subprocess.run(["sysctl", "-n", name], capture_output=True, text=True, timeout=10).stdout
        return int(printed.strip())
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


def sysctl_cache_sizes(read: Callable[[str], int | None] | None = None) -> dict[str, int]:
    """macOS's cache sizes in bytes: for each level the first of its SYSCTL_CACHES names that `read`
    (default: ``sysctl_value``) knows."""
    read = read or sysctl_value
    sizes: dict[str, int] = {}
    for level, names in SYSCTL_CACHES.items():
        found = next((value for value in map(read, names) if value), None)
        if found:
            sizes[level] = found
    return sizes


@functools.lru_cache(maxsize=None)
def cache_sizes() -> dict[str, int]:
    """This machine's cache sizes in bytes, read once: on Linux ``read_cache_sizes`` of CPU 0, on macOS
    ``sysctl_cache_sizes()``; elsewhere (Windows) ``{}``, and ``hardware_unknowns()`` says why.

    Cached: every call returns the same dict, so copy it before changing it.
    """
    if sys.platform == "darwin":
        return sysctl_cache_sizes()
    return read_cache_sizes(CACHE_SYSFS)


def hardware_unknowns() -> dict[str, str]:
    """The facts this system did not tell, each with the reason (nothing when it told everything)."""
    unknown = {}
    if not cache_sizes():
        unknown["cache_sizes"] = (
            "sysctl reported no cache sizes" if sys.platform == "darwin"
            else f"no cache information under {CACHE_SYSFS}" if sys.platform.startswith("linux")
            else f"{platform.system() or sys.platform} does not report cache sizes to Python's standard library")
        unknown["cache_sizes"] += "; block sizes fall back to their defaults"
    if cpu_model() == "unknown":
        unknown["cpu_model"] = f"{platform.system() or sys.platform} did not name the processor"
    return unknown


# %% nbgrader={"grade": true, "grade_id": "test-cache-sizes", "locked": true, "points": 10, "schema_version": 3, "solution": false, "task": false}
def test_unit_cache_sizes():
    from tito.tools.judging import plain  # your values as plain data, compared here
    for text, expected in [("32K", 32 * 1024), ("1024K\n", 1024 * 1024), ("8M", 8 * 1024**2), ("640", 640), ("1G", 1024**3)]:
        got = plain(parse_cache_size(text))
        assert got == expected, f"parse_cache_size({text!r}) should be {expected}, got {got}"
    for bad in ("", "K", "12Q", "big"):
        try:
            parse_cache_size(bad)
        except ValueError:
            pass
        else:
            raise AssertionError(f"parse_cache_size({bad!r}) should raise ValueError")

    # Independent reference: the kernel's own files, read with a dictionary of units.
    reference = {}
    for index in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*"):
        level, kind = (index / "level").read_text().strip(), (index / "type").read_text().strip()
        size = (index / "size").read_text().strip()
        number = int(size.rstrip("KMG"))
        number *= {"K": 1024, "M": 1024**2, "G": 1024**3}.get(size[-1], 1)
        if kind != "Instruction" and level in ("1", "2", "3"):
            reference["L1d" if level == "1" else "L" + level] = number
    got = plain(cache_sizes())
    assert got == reference, f"cache_sizes() should match /sys/devices/system/cpu/cpu0/cache: expected {reference}, got {got}"
    hits = plain(cache_sizes.cache_info().hits)
    assert plain(cache_sizes()) == got and plain(cache_sizes.cache_info().hits) == hits + 1, (
        "cache_sizes() is cached (functools.lru_cache): the second call is answered from the cache")
    assert plain(read_cache_sizes("/nonexistent/cache/dir")) == {}, "a missing sysfs directory means no cache information: {}"
    ### BEGIN HIDDEN TESTS
    import tempfile

    with tempfile.TemporaryDirectory() as root:
        layout = {"index0": ("1", "Data", "48K"), "index1": ("1", "Instruction", "32K"),
                  "index2": ("2", "Unified", "2048K"), "index3": ("3", "Unified", "96M"),
                  "index4": ("4", "Unified", "128M")}
        for name, (level, kind, size) in layout.items():
            folder = Path(root) / name
            folder.mkdir()
            (folder / "level").write_text(level + "\n")
            (folder / "type").write_text(kind + "\n")
            (folder / "size").write_text(size + "\n")
        broken = Path(root) / "index5"
        broken.mkdir()
        (broken / "level").write_text("2\n")
        expected = {"L1d": 48 * 1024, "L2": 2048 * 1024, "L3": 96 * 1024**2}
        got = plain(read_cache_sizes(root))
        assert got == expected, f"fake sysfs tree: expected {expected}, got {got}"
    ### END HIDDEN TESTS


test_unit_cache_sizes()

# %% [markdown]
# ## 7. The two limits: peak FLOP/s and memory bandwidth
#
# Every kernel is limited by one of two things: how fast the cores compute, or
# how fast memory feeds them. We measure both once, on this machine.
#
# **Peak compute.** A float32 matrix product of two n × n matrices does n³
# multiply-adds = 2n³ floating-point operations. numpy's `@` calls an optimised
# BLAS that uses SIMD units and every core, so its speed is as close to the
# machine's peak as we will get from Python:
#
# GFLOP/s = 2n³ / (median seconds) / 10⁹.
#
# **Memory bandwidth.** Copying an array much larger than the last-level cache
# streams it from main memory and back: for an array of B bytes the copy reads B
# and writes B bytes (the STREAM "copy" convention), so
#
# GB/s = 2B / (median seconds) / 10⁹.
#
# `np.copyto` runs on one core. On a laptop or a small cloud machine one core can
# already saturate the memory bus (on the 2-core machine this course was written
# on, one thread copies at about 22 GB/s and two threads together do not copy any
# faster); on a large server all cores together reach several times what one
# core can, so there this number is a single core's bandwidth.
#
# Both use `median_seconds` (warm-up, then the median), and both are cached with
# `functools.lru_cache`: measuring takes a fraction of a second, and it is done
# once per process.

# %% nbgrader={"grade": false, "grade_id": "measure-peak-solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| export
@functools.lru_cache(maxsize=None)
def measure_peak_gflops(n: int = 1024, repeats: int = DEFAULT_REPEATS) -> float:
    """Measured float32 matrix-multiply speed of this machine in GFLOP/s.

    Formula: ``2 * n**3 / median_seconds / 1e9`` for ``A @ B`` with A, B float32
    n × n (all BLAS threads), written into a preallocated output
    (``np.matmul(A, B, out=C)``) so that allocation is not timed. Cached per
    ``(n, repeats)``.

    TODO: build A and B filled with a constant such as 0.5 (the values do not
    change BLAS speed), time ``np.matmul`` with ``median_seconds`` and apply the formula.

    Raises:
        ValueError: when ``n < 1`` or ``repeats < 1``.
    """
    ### BEGIN SOLUTION
    if n < 1:
        raise ValueError(f"matrix size n must be at least 1, got {n}")
    a = np.full((n, n), 0.5, dtype=np.float32)
    b = np.full((n, n), 0.5, dtype=np.float32)
    out = np.empty((n, n), dtype=np.float32)
    seconds = median_seconds(np.matmul, a, b, out=out, repeats=repeats)
    return 2.0 * n**3 / seconds / 1e9
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test-measure-peak", "locked": true, "points": 5, "schema_version": 3, "solution": false, "task": false}
def test_unit_measure_peak_gflops():
    from tito.tools.judging import plain  # your values as plain data, compared here
    import math

    small = plain(measure_peak_gflops(128, 3))
    assert isinstance(small, float) and math.isfinite(small) and small > 0, f"measure_peak_gflops should return a positive finite float, got {small!r}"
    assert plain(measure_peak_gflops(128, 3)) == small, "measure_peak_gflops is cached: the same arguments give the same value"
    assert plain(measure_peak_gflops.cache_info().hits) >= 1, "measure_peak_gflops should be wrapped in functools.lru_cache"
    for bad in [(0, 3), (16, 0)]:
        try:
            measure_peak_gflops(*bad)
        except ValueError:
            pass
        else:
            raise AssertionError(f"measure_peak_gflops{bad} should raise ValueError")

    # The formula, checked with a stopwatch that always reads 0.5 s: 2 * 96**3 / 0.5 / 1e9.
    timed = []

    def fixed_stopwatch(func, *args, repeats=5, **kwargs):
        timed.append((func, args, kwargs))
        return 0.5

    real_median_seconds = globals()["median_seconds"]
    globals()["median_seconds"] = fixed_stopwatch
    try:
        rate = plain(measure_peak_gflops.__wrapped__(96, 2))
    finally:
        globals()["median_seconds"] = real_median_seconds
    assert len(timed) == 1, f"measure_peak_gflops should time the product with median_seconds once, it called it {len(timed)} times"
    func, args, kwargs = timed[0]
    operands = [a for a in args if isinstance(a, np.ndarray)]
    assert len(operands) >= 2 and all(a.shape == (96, 96) and a.dtype == np.float32 for a in operands[:2]), "the timed product multiplies two float32 n x n matrices"
    assert abs(rate - 2 * 96**3 / 0.5 / 1e9) < 1e-12, f"with 0.5 s per product the rate is 2n^3 / 0.5 / 1e9 = {2 * 96**3 / 0.5 / 1e9}, got {rate}"


test_unit_measure_peak_gflops()

# %% nbgrader={"grade": false, "grade_id": "measure-bandwidth-solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| export
@functools.lru_cache(maxsize=None)
def measure_memory_bandwidth(nbytes: int | None = None, repeats: int = DEFAULT_REPEATS) -> float:
    """Measured memory bandwidth of this machine in GB/s (10**9 bytes per second).

    Formula: ``2 * B / median_seconds / 1e9`` for ``np.copyto(dst, src)`` of two
    float64 arrays of B bytes each (B read + B written). ``nbytes=None`` uses
    ``min(STREAM_BYTES_MAX, max(STREAM_BYTES_MIN, 4 * largest cache))``: large
    enough that the copy streams from main memory instead of a cache, and bounded,
    because a virtual machine may report its whole processor's last-level cache
    (480 MiB on the machine this course was written on, of which one core uses
    only its own share), and two arrays of 4x that would take almost 4 GB. B is
    ``nbytes`` rounded down to whole float64 values. The copy runs on one core.
    Cached per ``(nbytes, repeats)``.

    TODO: choose B, allocate ``src`` with ``np.ones`` (touches its pages) and
    ``dst`` with ``np.empty`` (the warm-up copy touches them), time ``np.copyto``
    with ``median_seconds`` and apply the formula.

    Raises:
        ValueError: when ``nbytes < 8`` or ``repeats < 1``.
    """
    ### BEGIN SOLUTION
    if nbytes is None:
        nbytes = min(STREAM_BYTES_MAX, max(STREAM_BYTES_MIN, 4 * max(cache_sizes().values(), default=0)))
    if nbytes < 8:
        raise ValueError(f"nbytes must be at least 8 (one float64), got {nbytes}")
    src = np.ones(nbytes // 8, dtype=np.float64)
    dst = np.empty_like(src)
    seconds = median_seconds(np.copyto, dst, src, repeats=repeats)
    return 2.0 * src.nbytes / seconds / GB
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test-measure-bandwidth", "locked": true, "points": 4, "schema_version": 3, "solution": false, "task": false}
def test_unit_measure_memory_bandwidth():
    from tito.tools.judging import plain  # your values as plain data, compared here
    import math

    got = plain(measure_memory_bandwidth(32 * 2**20, 3))
    assert isinstance(got, float) and math.isfinite(got) and got > 0, f"measure_memory_bandwidth should return a positive finite float, got {got!r}"
    assert plain(measure_memory_bandwidth(32 * 2**20, 3)) == got, "measure_memory_bandwidth is cached: the same arguments give the same value"

    # The formula, checked with a stopwatch that always reads 0.25 s: 2 * B / 0.25 / 1e9.
    timed = []

    def fixed_stopwatch(func, *args, repeats=5, **kwargs):
        timed.append((func, args, kwargs))
        return 0.25

    real_median_seconds = globals()["median_seconds"]
    globals()["median_seconds"] = fixed_stopwatch
    try:
        rate = plain(measure_memory_bandwidth.__wrapped__(1_000_003, 2))
    finally:
        globals()["median_seconds"] = real_median_seconds
    assert len(timed) == 1, f"measure_memory_bandwidth should time the copy with median_seconds once, it called it {len(timed)} times"
    arrays = [a for a in timed[0][1] if isinstance(a, np.ndarray)]
    copied = 1_000_003 // 8 * 8
    assert len(arrays) == 2 and all(a.nbytes == copied for a in arrays), f"the copy moves nbytes rounded down to whole float64 values: two arrays of {copied} bytes"
    assert abs(rate - 2 * copied / 0.25 / 1e9) < 1e-12, f"with 0.25 s per copy the bandwidth is 2B / 0.25 / 1e9 = {2 * copied / 0.25 / 1e9}, got {rate}"
    for bad in [(4, 3), (1024, 0)]:
        try:
            measure_memory_bandwidth(*bad)
        except ValueError:
            pass
        else:
            raise AssertionError(f"measure_memory_bandwidth{bad} should raise ValueError")


test_unit_measure_memory_bandwidth()

# %% [markdown]
# ## 8. The roofline
#
# A kernel's **arithmetic intensity** I is the number of floating-point operations
# it performs per byte it moves to or from memory. ReLU on float32 reads 4 bytes
# and writes 4 bytes per element and does about 1 operation: I ≈ 1/8 FLOP/byte.
# An n × n float32 matrix product does 2n³ operations on 3 · 4n² bytes (A, B and
# C once each, the best case): I = n/6 FLOP/byte, which grows with n.
#
# With bandwidth β (GB/s) memory can deliver at most I · β GFLOP/s of work, and the
# cores can never do more than their peak π. So the attainable speed is
#
# attainable(I) = min(π, I · β).
#
# Plotted over I on log axes this is a slanted line (memory-bound) meeting a flat
# one (compute-bound) at the **ridge point** I = π / β. A kernel left of the ridge
# can only get faster by moving fewer bytes; right of it, only by computing
# better. ReLU is far left: no amount of SIMD cleverness beats the bandwidth.

# %% nbgrader={"grade": false, "grade_id": "roofline-solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| export
def attainable_gflops(intensity: float, peak_gflops: float, bandwidth_gbs: float) -> float:
    """Roofline bound in GFLOP/s: ``min(peak_gflops, intensity * bandwidth_gbs)``.

    ``intensity`` is in FLOP per byte, ``bandwidth_gbs`` in GB/s (10**9 bytes/s),
    so ``intensity * bandwidth_gbs`` is in GFLOP/s.

    TODO: validate and apply the formula.

    Raises:
        ValueError: when ``intensity < 0`` or a peak is not positive.

    Example:
        >>> attainable_gflops(0.125, peak_gflops=100.0, bandwidth_gbs=20.0)
        2.5
    """
    ### BEGIN SOLUTION
    if intensity < 0:
        raise ValueError(f"arithmetic intensity must be >= 0 FLOP/byte, got {intensity}")
    if peak_gflops <= 0 or bandwidth_gbs <= 0:
        raise ValueError(f"peak_gflops and bandwidth_gbs must be positive, got {peak_gflops} and {bandwidth_gbs}")
    return float(min(peak_gflops, intensity * bandwidth_gbs))
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test-roofline", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
def test_unit_attainable_gflops():
    from tito.tools.judging import plain  # your values as plain data, compared here
    cases = [((0.125, 100.0, 20.0), 2.5), ((10.0, 100.0, 20.0), 100.0), ((5.0, 100.0, 20.0), 100.0), ((0.0, 100.0, 20.0), 0.0)]
    for args, expected in cases:
        got = plain(attainable_gflops(*args))
        assert abs(got - expected) < 1e-12, f"attainable_gflops{args} = min(peak, I * bandwidth) = {expected}, got {got}"
    for bad in [(-1.0, 100.0, 20.0), (1.0, 0.0, 20.0), (1.0, 100.0, -5.0)]:
        try:
            attainable_gflops(*bad)
        except ValueError:
            pass
        else:
            raise AssertionError(f"attainable_gflops{bad} should raise ValueError")


test_unit_attainable_gflops()

# %% [markdown]
# ## 9. Everything about the machine in one dict
#
# `detect_hardware` collects what we know. The model name comes from
# `/proc/cpuinfo` on Linux and `sysctl` on macOS (`platform.processor()` elsewhere);
# cache sizes from `/sys` on Linux and `sysctl` on macOS (Windows does not tell
# them to the standard library: they are unknown there, and `hardware_unknowns()`
# says why); total and available memory from `psutil.virtual_memory()`; physical
# cores from `psutil`. The
# `device` is `"cpu"`: every TinyTorch kernel runs through numpy on the CPU.

# %% nbgrader={"grade": false, "grade_id": "detect-hardware-solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| export
def cpu_model() -> str:
    """The CPU's model name: ``model name`` of ``/proc/cpuinfo`` (Linux), ``machdep.cpu.brand_string``
    (macOS), else ``platform.processor()``; ``"unknown"`` when nothing names it."""
    try:
        with open(PROC_CPUINFO, encoding="utf-8", errors="replace") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and value.strip():
                    return value.strip()
    except OSError:
        pass
    if sys.platform == "darwin":
        try:
            brand = subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True,
                                   timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            brand = ""
        if brand:
            return brand
    return platform.processor() or platform.machine() or "unknown"


def detect_hardware(measure: bool = True) -> dict[str, Any]:
    """This machine's CPU, memory and caches, and with ``measure`` its measured limits.

    TODO: return a dict with
        ``cpu_model`` (``cpu_model()``), ``device`` (``"cpu"``), ``cpu_count``
        (``cpu_count()``), ``physical_cores`` (``psutil.cpu_count(logical=False)``,
        or ``cpu_count()`` when psutil cannot tell), ``memory_total_bytes`` and
        ``memory_available_bytes`` (``psutil.virtual_memory()``), ``cache_sizes``
        (a copy of ``cache_sizes()``);
    and when ``measure`` is true also ``peak_gflops`` (``measure_peak_gflops()``),
    ``memory_bandwidth_gbs`` (``measure_memory_bandwidth()``) and
    ``ridge_point_flop_per_byte = peak_gflops / memory_bandwidth_gbs``.
    The measurements are cached, so only the first call with ``measure`` takes time.
    """
    import psutil  # imported on use: it adds ~20 ms to importing this module

    ### BEGIN SOLUTION
    memory = psutil.virtual_memory()
    hardware: dict[str, Any] = {
        "cpu_model": cpu_model(),
        "device": "cpu",
        "cpu_count": cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False) or cpu_count(),
        "memory_total_bytes": int(memory.total),
        "memory_available_bytes": int(memory.available),
        "cache_sizes": dict(cache_sizes()),
    }
    if measure:
        hardware["peak_gflops"] = measure_peak_gflops()
        hardware["memory_bandwidth_gbs"] = measure_memory_bandwidth()
        hardware["ridge_point_flop_per_byte"] = hardware["peak_gflops"] / hardware["memory_bandwidth_gbs"]
    return hardware
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test-detect-hardware", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
def test_unit_detect_hardware():
    from tito.tools.judging import plain  # your values as plain data, compared here
    import psutil

    quick = plain(detect_hardware(measure=False))
    expected_keys = {"cpu_model", "device", "cpu_count", "physical_cores", "memory_total_bytes", "memory_available_bytes", "cache_sizes"}
    assert expected_keys <= set(quick), f"missing keys: {sorted(expected_keys - set(quick))}"
    assert "peak_gflops" not in quick, "detect_hardware(measure=False) must not measure"
    assert quick["device"] == "cpu", f"TinyTorch kernels run on the CPU, device should be 'cpu', got {quick['device']!r}"
    assert quick["memory_total_bytes"] == psutil.virtual_memory().total, "memory_total_bytes should be psutil.virtual_memory().total"
    assert 0 < quick["memory_available_bytes"] <= quick["memory_total_bytes"], "available memory is positive and at most the total"
    assert 1 <= quick["physical_cores"] <= (os.cpu_count() or quick["physical_cores"]), f"physical_cores {quick['physical_cores']} out of range"
    assert isinstance(quick["cpu_model"], str) and quick["cpu_model"], "cpu_model should be a non-empty string"
    assert quick["cache_sizes"] == plain(cache_sizes()) and quick["cache_sizes"] is not cache_sizes(), "cache_sizes in the dict is a copy of cache_sizes()"

    full = plain(detect_hardware(measure=True))
    assert full["peak_gflops"] == plain(measure_peak_gflops()) and full["memory_bandwidth_gbs"] == plain(measure_memory_bandwidth()), "the measurements come from the cached measure_* functions"
    assert abs(full["ridge_point_flop_per_byte"] - full["peak_gflops"] / full["memory_bandwidth_gbs"]) < 1e-9, "ridge point = peak_gflops / memory_bandwidth_gbs"


test_unit_detect_hardware()

# %% [markdown]
# ## This machine

# %%
hardware = detect_hardware()
caches = ", ".join(f"{level} {size // 1024} KiB" for level, size in hardware["cache_sizes"].items())
print(f"{hardware['cpu_model']}: {hardware['cpu_count']} cores usable, {hardware['memory_total_bytes'] / 2**30:.1f} GiB RAM")
print(f"caches: {caches or 'unknown'}")
for fact, reason in hardware_unknowns().items():
    print(f"  {fact} unknown: {reason}")
print(f"peak float32 matmul {hardware['peak_gflops']:.1f} GFLOP/s, memory bandwidth {hardware['memory_bandwidth_gbs']:.1f} GB/s, "
      f"ridge point {hardware['ridge_point_flop_per_byte']:.1f} FLOP/byte")
for label, intensity in [("ReLU float32 (1/8 FLOP/B)", 1 / 8), ("matmul n=64 (n/6)", 64 / 6), ("matmul n=1024 (n/6)", 1024 / 6)]:
    bound = attainable_gflops(intensity, hardware["peak_gflops"], hardware["memory_bandwidth_gbs"])
    print(f"  {label:28s} attainable {bound:8.1f} GFLOP/s")

# %% [markdown]
# ## Summary
#
# * Time with `perf_counter`, warm up first, report the median of repeats.
# * CPU time over wall time tells you whether the cores were busy, waiting, or
#   shared.
# * Trace memory only around the call, and never time a traced run.
# * Know your machine: cores, caches, peak GFLOP/s and GB/s. The roofline says
#   which of the two limits a kernel can hope to reach — module 11 puts every
#   kernel you write on it.

# %% nbgrader={"grade": false, "grade_id": "profiler-run-all", "locked": true, "schema_version": 3, "solution": false, "task": false}
if __name__ == "__main__":
    from tito.tools.testing import run_module_tests_auto
    run_module_tests_auto("Profiler")

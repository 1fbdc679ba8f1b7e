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
#   tinytorch:
#     kernel_cpus: 2
# ---

# %% [markdown]
# # Module 11: Kernels — making the hardware do the work
#
# Module 03 wrote the matrix product as three nested Python loops. It is correct, and
# thousands of times slower than `A @ B` (Part 1 measures by how much). Nothing about
# the mathematics changed between the two; everything about *how the hardware is
# used* did. This module is about that difference: the techniques behind every fast
# deep-learning library, each measured on the machine in front of you.
#
# You will build `tinytorch.core.kernels`, in this order:
#
# 1. **The baseline and honest timing** — `time_kernel`, `matmul_baseline`,
#    `matmul_custom` (module 03's triple loop, called, not rewritten).
# 2. **Vectorization** — `matmul_vectorized`, `vectorized_relu`,
#    `vectorized_operations`: let compiled SIMD loops and BLAS do the arithmetic.
# 3. **The memory hierarchy** — `choose_block_size`, `matmul_cache_optimized`,
#    `cache_friendly_matmul`: cache blocking, with this machine's real cache sizes.
# 4. **Multi-core parallelism** — `matmul_parallel`, `parallel_relu`,
#    `parallel_batch_processing`: threads that really run at once, and why BLAS must
#    be pinned to one thread per worker.
# 5. **int8 quantization** — `quantize_symmetric`, `int8_matmul`, `quantized_matmul`,
#    `quantized_relu`: scale, rounding, saturation, exact int32 accumulation, and a
#    fast exact integer product.
# 6. **The roofline** — this machine's measured peak GFLOP/s and GB/s, and where each
#    kernel sits between them.
#
# GPU concepts — coalescing, warp divergence, bank conflicts, tensor cores, fusion,
# multi-GPU scaling — follow in module 12 (`tinytorch.core.gpu_models`), with
# `KernelOptimizationProfiler`.
#
# Every kernel follows the same rules, so that a model can swap one for another:
#
# - It takes a `Tensor`, an `ndarray` or a nested list, and returns the kind of its
#   first input (Tensor in → Tensor out, ndarray in → ndarray out).
# - The result dtype is NumPy's `result_type` of the inputs: float32 in, float32 out.
#   Half the bytes is half the memory traffic; a kernel that silently returns
#   float64 throws that away.
# - Shape mismatches raise `ValueError` naming both shapes, wrong ranks raise
#   `ValueError`, non-numeric data raises `TypeError`, and a parameter that must be
#   positive (`block_size`, `num_processes`, `num_workers`, scales) raises
#   `ValueError` when it is not.
# - An empty input (a zero-length axis) gives the correct empty result.

# %% nbgrader={"grade": false, "grade_id": "kernels-export-target", "locked": true, "schema_version": 3, "solution": false, "task": false}
#| default_exp core.kernels

# %% nbgrader={"grade": false, "grade_id": "kernels-imports", "locked": true, "schema_version": 3, "solution": false, "task": false}
#| export
import math
import os
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from functools import lru_cache
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np
from threadpoolctl import ThreadpoolController

from tinytorch.core.layers import matmul_naive
from tinytorch.core.tensor import Tensor
from tinytorch.utils.profiler import attainable_gflops, cache_sizes, cpu_count, detect_hardware

# Cache blocking (matmul_cache_optimized, choose_block_size)
BLOCK_ALIGN = 64  # block sides are multiples of this, so BLAS gets whole SIMD panels
MIN_BLOCK_SIZE = 64
DEFAULT_BLOCK_SIZE = 256  # used when the operating system reports no cache sizes
LLC_FRACTION = 0.5  # share of the last-level cache the three tiles of a block step may fill
TEACHING_BLOCK_SIZE = 32  # cache_friendly_matmul: small, so the loop structure is visible

# Parallelism
SMALL_MATRIX_ROWS = 20  # fewer rows: one product, threads cost more than they save
PARALLEL_RELU_MIN_ELEMENTS = 1000  # fewer elements: vectorized_relu, same reason
DEFAULT_NUM_WORKERS = 4
BLAS_SETTLE_SECONDS = 0.25  # OpenBLAS worker threads spin ~0.1 s after a multithreaded call before they sleep

# int8 quantization
INT8_LIMIT = 127  # symmetric range [-127, 127]: -128 is never produced
FLOAT32_EXACT_INTEGERS = 2**24  # every integer of magnitude <= 2**24 is exact in float32
INT32_MAX = 2**31 - 1
FUSED_BLOCK_ELEMENTS = 1 << 16  # one block of a fused chain of passes: 256 KiB of float32 stays in a core's L2

# %% [markdown]
# ## Bookkeeping shared by every kernel
#
# Every kernel starts with the same chores: turn the input into an ndarray, check it
# is numeric, check shapes, check a positive parameter, and finally wrap the result in
# the kind of the first input. Written once here, each kernel below stays a few lines
# long and is only about its technique. These helpers are given; read them, you will
# call them.
#
# `Tensor(x).data` does the conversion: a Tensor gives its array, an ndarray is
# wrapped without a copy, a nested list follows the Tensor rules (Python floats
# become float32), ragged lists raise `ValueError` and strings raise `TypeError`.

# %% nbgrader={"grade": false, "grade_id": "kernels-helpers", "locked": true, "schema_version": 3, "solution": false, "task": false}
#| export
def _as_array(x: Any, name: str) -> np.ndarray:
    """`x` (Tensor, ndarray, nested list or number) as a numeric ndarray; errors name `name`."""
    try:
        return Tensor(x).data
    except (TypeError, ValueError) as err:
        raise type(err)(f"{name}: {err}") from None


def _like_input(result: Any, first_input: Any) -> Any:
    """Wrap `result` as a Tensor when the kernel's first input was one."""
    return Tensor(result) if isinstance(first_input, Tensor) else result


def _matrix_operands(A: Any, B: Any, kernel: str) -> tuple[np.ndarray, np.ndarray, np.dtype]:
    """Both operands of a matrix product as 2-D ndarrays with matching inner sizes, and the result dtype."""
    a, b = _as_array(A, f"{kernel}: A"), _as_array(B, f"{kernel}: B")
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"{kernel} needs two 2-D matrices, got A with shape {a.shape} and B with shape {b.shape}")
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"{kernel}: A's columns must equal B's rows, got A with shape {a.shape} "
                         f"and B with shape {b.shape}")
    return a, b, np.result_type(a, b)


def _positive_int(value: Any, name: str) -> int:
    """`value` as an int, which must be positive: TypeError for non-integers, ValueError for <= 0."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a positive integer, got {value!r}")
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {value}")
    return int(value)


def _positive_scale(value: Any, name: str) -> float:
    """A quantization scale as a float, which must be finite and positive."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a positive number, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite positive number, got {value}")
    return float(value)


def _thread_count(requested: Any, name: str) -> int:
    """Worker threads for a parallel kernel: `requested` (a positive int), but at most one per core.

    More threads than cores cannot run at once; they only add start-up cost and contention.
    """
    return min(_positive_int(requested, name), cpu_count())


def split_range(total: int, parts: int) -> list[tuple[int, int]]:
    """Split `range(total)` into at most `parts` contiguous `(start, stop)` pieces.

    Piece sizes differ by at most one; no piece is empty, so `total == 0` gives `[]`.

    Example:
        >>> split_range(10, 3)
        [(0, 4), (4, 7), (7, 10)]
    """
    parts = min(parts, total)
    if parts <= 0:
        return []
    base, extra = divmod(total, parts)
    bounds = [0]
    for piece in range(parts):
        bounds.append(bounds[-1] + base + (1 if piece < extra else 0))
    return list(zip(bounds[:-1], bounds[1:]))


def blocks(total: int, size: int | None = None) -> Iterator[tuple[int, int]]:
    """Consecutive `(start, stop)` blocks of at most `size` elements that cover `range(total)`.

    `size=None` means `FUSED_BLOCK_ELEMENTS`.

    Example:
        >>> list(blocks(5, 2))
        [(0, 2), (2, 4), (4, 5)]
    """
    size = FUSED_BLOCK_ELEMENTS if size is None else size
    for start in range(0, total, size):
        yield start, min(start + size, total)

# %% [markdown]
# Two more shared tools. `blas_single_thread()` is a context manager that limits the
# BLAS library to one thread while it is active, and `claim_workers(count)` lends
# a parallel region the module's worker threads, started once and kept. Part 4
# explains why the parallel kernels need both.

# %% nbgrader={"grade": false, "grade_id": "blas-single-thread", "locked": true, "schema_version": 3, "solution": false, "task": false}
#| export
_blas_lock = threading.Lock()
_blas_regions = 0  # parallel regions currently inside blas_single_thread()
_blas_saved: list[int] | None = None  # BLAS thread counts before the outermost region, restored after it


@lru_cache(maxsize=1)
def _blas_libraries() -> list[Any]:
    """threadpoolctl's controller of every loaded BLAS library, found on first use."""
    return [library for library in ThreadpoolController().lib_controllers if library.user_api == "blas"]


@contextmanager
def blas_single_thread() -> Iterator[None]:
    """Limit BLAS to one thread for the duration of a parallel region.

    The limit is process-global, so it is taken once by the outermost region and
    restored when the last nested or concurrent region ends. Enter it from the main
    thread: the OpenBLAS shipped with NumPy ignores thread-count changes made from
    other threads once the main thread has made one. It sets the count directly on
    each library (two calls into BLAS), since a parallel kernel enters it on every call.
    """
    global _blas_regions, _blas_saved
    with _blas_lock:
        if _blas_regions == 0:
            _blas_saved = [library.get_num_threads() for library in _blas_libraries()]
            for library in _blas_libraries():
                library.set_num_threads(1)
        _blas_regions += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_regions -= 1
            if _blas_regions == 0:
                for library, threads in zip(_blas_libraries(), _blas_saved):
                    library.set_num_threads(threads)
                _blas_saved = None


class Worker:
    """A kept thread that runs one piece at a time: `start(task, lo, hi)`, then `wait()`.

    The hand-over is two locks, one each way: a waiting thread sleeps on the lock
    until the other side releases it, with nothing in between (no queue, no future).
    """

    def __init__(self) -> None:
        self._go, self._done = threading.Lock(), threading.Lock()
        self._go.acquire()  # released by start(): a piece is waiting
        self._done.acquire()  # released by the thread: the piece is finished
        self._piece: tuple[Callable[[int, int], None], int, int] | None = None
        self._error: BaseException | None = None
        self._running = False
        threading.Thread(target=self._serve, name="tinytorch-worker", daemon=True).start()

    def start(self, task: Callable[[int, int], None], lo: int, hi: int) -> None:
        self._piece, self._running = (task, lo, hi), True
        self._go.release()

    def wait(self) -> None:
        """Block until the started piece is done; re-raise its exception."""
        if not self._running:
            return
        self._done.acquire()
        self._running = False
        error, self._error = self._error, None
        if error is not None:
            raise error

    def _serve(self) -> None:
        while True:
            self._go.acquire()
            task, lo, hi = self._piece
            self._piece = None
            try:
                task(lo, hi)
            except BaseException as exc:  # handed to the thread that waits
                self._error = exc
            self._done.release()


_crew_lock = threading.Lock()
_idle_workers: list[Worker] = []


@contextmanager
def claim_workers(count: int) -> Iterator[list[Worker]]:
    """Lend a parallel region `count` worker threads; they go back when it ends.

    Idle workers are taken first; when none is idle (another region holds them, or
    this region runs inside one of their pieces: nested parallelism), a new one is
    started and kept for later regions. So a region never waits for a busy worker,
    and the module keeps as many threads as the most pieces that ever ran at once.
    Leaving the region waits for every piece it started, even when one failed.
    A forked child process starts its own workers (threads do not survive a fork).
    """
    with _crew_lock:
        workers = [_idle_workers.pop() for _ in range(min(count, len(_idle_workers)))]
    workers += [Worker() for _ in range(count - len(workers))]
    try:
        yield workers
    finally:
        for worker in workers:
            with suppress(BaseException):  # an error already propagates; its piece is finished
                worker.wait()
        with _crew_lock:
            _idle_workers.extend(workers)


def _forget_workers_after_fork() -> None:
    global _crew_lock, _idle_workers
    _crew_lock, _idle_workers = threading.Lock(), []


if hasattr(os, "register_at_fork"):  # Windows has no fork, so no child to clean up after
    os.register_at_fork(after_in_child=_forget_workers_after_fork)

# %% [markdown]
# ## Part 1 — The baseline, and how to time it honestly
#
# Optimisation starts with a measurement. Three rules make one honest:
#
# - **Use a monotonic, high-resolution clock**: `time.perf_counter()`. `time.time()`
#   can jump when the system clock is adjusted and has coarser resolution.
# - **Warm up**: the first call pays for page faults on fresh memory, lazy library
#   initialisation and cold caches. Time the calls after it.
# - **Repeat and take the median**: other processes, frequency changes and interrupts
#   add noise that is always positive. The median ignores a few bad runs; the mean
#   does not. Compare two kernels by the **ratio of their medians measured in the
#   same process**, one after the other: absolute times move with the machine's load,
#   ratios much less.
#
# `time_kernel` is the one-shot building block: call once, return the result and the
# elapsed microseconds. Module 10's `median_seconds` adds the warm-up and the repeats;
# the demonstrations of this module use it.

# %% nbgrader={"grade": false, "grade_id": "kernels-test-helpers", "locked": true, "schema_version": 3, "solution": false, "task": false}
from tito.tools import speed
from tito.tools.judging import expect_raises, in_student_process, plain, student_global
from tito.tools.spotcheck import product_matches

# %% nbgrader={"grade": false, "grade_id": "time-kernel-solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| export
def time_kernel(func: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """Call `func(*args, **kwargs)` once; return `(result, elapsed_microseconds)`.

    TODO: measure the call with `time.perf_counter()`.

    Steps:
        1. read `time.perf_counter()`;
        2. call `func(*args, **kwargs)`;
        3. read the clock again; the difference is in seconds, times 1e6 is microseconds.

    An exception raised by `func` propagates unchanged.

    Example:
        >>> result, us = time_kernel(sum, [1, 2, 3])
        >>> result
        6
        >>> us > 0
        True
    """
    ### BEGIN SOLUTION
    start = time.perf_counter()
    result = func(*args, **kwargs)
    return result, (time.perf_counter() - start) * 1e6
    ### END SOLUTION

# %% [markdown]
# The tests of this module measure speed with TinyTorch's speed core
# (`tito.tools.speed`), their own stopwatch, so that they do not depend on your
# `time_kernel`. Every speed check follows the rules above, and a few more:
#
# - **Ratios, interleaved.** The contenders take turns, sample after sample, and the
#   verdict is the ratio of their median times: a burst of load on the machine hits
#   both sides alike.
# - **Fresh inputs, whole results.** Every timed call gets inputs drawn from a seed
#   nobody can predict, and every result is checked in full against an independent
#   reference: a kernel cannot be fast by remembering an answer or by skipping work.
#   Where the grader runs the tests, it also reads a few entries of each result
#   straight from your process's memory the moment the call returns: a result must
#   be finished when the kernel returns, not later in the background.
# - **The grader's own baselines.** The loop, the single-thread product and the
#   one-call ReLU a kernel is compared with are the tests' own code, never yours.
# - **Relative to the machine.** A parallel kernel is judged against what *this*
#   machine gives two independent copies of the same kind of work, measured in the
#   same rounds: the same verdict on a 2-core laptop as on a 64-core server, and on
#   a busy machine as on a quiet one (Part 4 explains the numbers).
# - **Noise is never a pass.** Noise only adds time: a comparison speaks for a pass
#   when the baseline was quiet (a disturbed kernel only looks slower), for a miss
#   when your kernel was. Undecided, it is measured again, and a check that never
#   found a quiet moment is *inconclusive*: no points for it, and the grader grades
#   the notebook again later.
# - **Two places, one verdict.** Here the tests run in your notebook. For your score
#   (`tito module test`) and your grade they run in a separate, trusted process that
#   calls your functions in yours: the clock is the grader's, so a kernel can only
#   be measured slower, never faster, than it is. A check meant for one core charges
#   your kernel the CPU time the operating system counted for your process, so BLAS
#   threads left running buy nothing. The *structure* checks (which pieces
#   `run_in_parallel` received) ask your process what happened, and your process
#   answers: they explain a failure, and the speed checks decide.

# %% nbgrader={"grade": true, "grade_id": "test-time-kernel", "locked": true, "points": 4, "schema_version": 3, "solution": false, "task": false}
def test_unit_time_kernel():
    result, us = plain(time_kernel(sum, [1, 2, 3]))
    assert result == 6, f"time_kernel should return func's result 6, got {result!r}"
    assert isinstance(us, float) and us > 0, f"the elapsed time should be a positive float, got {us!r}"

    _, slept_us = plain(time_kernel(time.sleep, 0.02))
    assert 20_000 <= slept_us < 2_000_000, (
        f"time.sleep(0.02) should take at least 20000 microseconds (and well under 2 s), got {slept_us:.0f}")

    echoed, _ = plain(time_kernel(lambda *a, **k: (a, k), 1, key="v"))
    assert echoed == ((1,), {"key": "v"}), f"args and kwargs should reach func, got {echoed!r}"

    expect_raises(ZeroDivisionError, lambda: time_kernel(lambda: 1 / 0), what="time_kernel of a func that divides by 0")

test_unit_time_kernel()

# %% [markdown]
# ### The reference and the baseline
#
# `matmul_baseline` is the trusted reference: `numpy.dot`, which calls the BLAS
# library NumPy was built with (OpenBLAS here). `matmul_custom` is the baseline we
# measure everything else against: module 03's `matmul_naive`, the triple loop you
# wrote there. It is **called, not rewritten** — the point is to measure *your*
# loop.
#
# A product of an `(m, k)` and a `(k, n)` matrix does `m·n·k` multiplications and as
# many additions: `2·m·n·k` floating-point operations (FLOPs). Dividing by the time
# gives FLOP/s, the unit every kernel below is judged in.

# %% nbgrader={"grade": false, "grade_id": "matmul-baseline-solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| export
def matmul_baseline(A: Any, B: Any) -> Tensor | np.ndarray:
    """Reference matrix product through `numpy.dot`.

    TODO: validate with `_matrix_operands`, multiply with `np.dot`, wrap with `_like_input`.

    Example:
        >>> matmul_baseline(np.eye(2, dtype=np.float32), np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32))
        array([[1., 2.],
               [3., 4.]], dtype=float32)

    Raises:
        ValueError: A or B is not 2-D, or A's columns differ from B's rows (both shapes named).
        TypeError: non-numeric input.
    """
    ### BEGIN SOLUTION
    a, b, _ = _matrix_operands(A, B, "matmul_baseline")
    return _like_input(np.dot(a, b), A)
    ### END SOLUTION


def matmul_custom(A: Any, B: Any) -> Tensor | np.ndarray:
    """Module 03's `matmul_naive` (the triple loop), with the kernels' input and output rules.

    TODO: validate with `_matrix_operands`, call `matmul_naive` on the two ndarrays,
    convert its result to an ndarray of the result dtype
    (`np.asarray(result, dtype=dtype)`), wrap with `_like_input`.
    Do not rewrite the loop: the point is to measure the module 03 kernel.

    Example:
        >>> matmul_custom([[1.0, 2.0]], [[3.0], [4.0]])
        array([[11.]], dtype=float32)
    """
    ### BEGIN SOLUTION
    a, b, dtype = _matrix_operands(A, B, "matmul_custom")
    return _like_input(np.asarray(matmul_naive(a, b), dtype=dtype), A)
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test-matmul-baseline-custom", "locked": true, "points": 7, "schema_version": 3, "solution": false, "task": false}
def test_unit_matmul_baseline_custom():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((5, 7)).astype(np.float32)
    b = rng.standard_normal((7, 3)).astype(np.float32)
    expected = a.astype(np.float64) @ b.astype(np.float64)
    for kernel in (matmul_baseline, matmul_custom):
        got = kernel(a, b)
        assert isinstance(got, np.ndarray), f"{kernel.__name__}(ndarray, ndarray) should return an ndarray, got {type(got).__name__}"
        assert plain(got.dtype) == np.float32, f"{kernel.__name__} of float32 inputs should be float32, got {got.dtype}"
        assert np.allclose(got, expected, atol=1e-4), f"{kernel.__name__} differs from numpy: {got} vs {expected}"
        wrapped = kernel(Tensor(a), Tensor(b))
        assert isinstance(wrapped, Tensor), f"{kernel.__name__}(Tensor, Tensor) should return a Tensor, got {type(wrapped).__name__}"
        assert np.allclose(wrapped.data, expected, atol=1e-4), f"{kernel.__name__} on Tensors differs from numpy"
        expect_raises(ValueError, lambda: kernel(np.ones((2, 3)), np.ones((4, 2))), naming=["(2, 3)", "(4, 2)"],
                      what=f"{kernel.__name__} of shapes (2, 3) and (4, 2)")
    naive = np.asarray(matmul_naive(a, b))
    assert np.allclose(matmul_custom(a, b), naive, atol=1e-5), "matmul_custom should return what matmul_naive computes"
    f64 = matmul_custom(a.astype(np.float64), b)
    assert plain(f64.dtype) == np.float64, f"float64 @ float32 should give float64 (numpy's result_type), got {f64.dtype}"

test_unit_matmul_baseline_custom()

# %% [markdown]
# How slow is the loop? One inner iteration of a Python loop costs tens of
# nanoseconds of interpreter work — fetching `A[i][p]`, boxing a float, adding —
# for one multiply-add that the CPU could do in a fraction of a nanosecond.

# %%
from tinytorch.utils.profiler import median_seconds

size = 64
demo_a = np.random.default_rng(1).standard_normal((size, size)).astype(np.float32)
demo_b = np.random.default_rng(2).standard_normal((size, size)).astype(np.float32)
_, naive_us = time_kernel(matmul_custom, demo_a, demo_b)  # one call is enough to see the scale
_, cold_us = time_kernel(matmul_baseline, demo_a, demo_b)
warm_s = median_seconds(matmul_baseline, demo_a, demo_b, repeats=5)
flops = 2 * size**3
print(f"n={size}: matmul_custom           {naive_us / 1e3:9.3f} ms = {flops / naive_us / 1e3:8.3f} GFLOP/s")
print(f"n={size}: numpy.dot, first call   {cold_us / 1e3:9.3f} ms")
print(f"n={size}: numpy.dot, median of 5  {warm_s * 1e3:9.3f} ms = {flops / warm_s / 1e9:8.3f} GFLOP/s "
      f"({naive_us / 1e6 / warm_s:,.0f}x faster than the loop)")

# %% [markdown]
# ## Part 2 — Vectorization: let compiled loops do the arithmetic
#
# A **vectorized** kernel hands whole arrays to compiled code. Two things make it
# fast:
#
# - **No interpreter per element.** NumPy's loops are C loops over raw memory.
# - **SIMD.** Modern CPUs apply one instruction to a vector register of several
#   numbers: AVX2 holds 8 float32, AVX-512 holds 16. A fused multiply-add (FMA) on a
#   full AVX-512 register is 2 × 16 = 32 FLOPs in one instruction, and a core
#   completes one or two such instructions per cycle.
#
# For the matrix product NumPy goes one step further and calls **BLAS**
# (`sgemm` for float32), hand-tuned assembly that also blocks for the caches (Part 3)
# and uses all cores (Part 4). `matmul_vectorized` is that call with our validation
# around it; the validation must cost almost nothing (the benchmark checks it stays
# within 5% of a raw `@` at n = 256).
#
# ReLU is the opposite kind of kernel: one comparison per element, so it is limited
# by how fast memory delivers the elements, not by arithmetic. Vectorizing it still
# removes the interpreter — `np.maximum(x, 0)` is one C loop.

# %% nbgrader={"grade": false, "grade_id": "vectorized-test-helpers", "locked": true, "schema_version": 3, "solution": false, "task": false}
# inputs drawn from a seed the speed check picks afresh, and full checks of the timed results

def matrix_pair(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two n x n float32 matrices of standard normal values."""
    a, b = np.random.default_rng(seed).standard_normal((2, n, n)).astype(np.float32)
    return a, b


def matmul_matches(got: Any, a: np.ndarray, b: np.ndarray, tolerance: float = 1e-3) -> None:
    """A timed product `got` (plain, fetched) against the float64 product of `a` and `b`: every entry
    through a random projection, and rows drawn after the call returned entry by entry."""
    product_matches(plain(got), a, b, tolerance)


# the baseline: the judge's own code, never yours

def naive_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The triple loop of module 03, written here so that the baseline is not code under test."""
    m, k = a.shape
    n = b.shape[1]
    rows, cols = a.tolist(), b.tolist()
    out = [[0.0] * n for _ in range(m)]
    for i in range(m):
        for p in range(k):
            x, row = rows[i][p], cols[p]
            target = out[i]
            for j in range(n):
                target[j] += x * row[j]
    return np.asarray(out, dtype=np.float32)

# %% nbgrader={"grade": false, "grade_id": "vectorized-solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| export
def matmul_vectorized(A: Any, B: Any) -> Tensor | np.ndarray:
    """Validated `A @ B`: BLAS does the work.

    TODO: validate with `_matrix_operands`, return `a @ b` wrapped with `_like_input`.

    Example:
        >>> matmul_vectorized(Tensor([[1.0, 2.0]]), Tensor([[3.0], [4.0]]))
        Tensor([[11.]], shape=(1, 1), dtype=float32)

    Raises:
        ValueError: not 2-D or inner sizes differ (both shapes named); TypeError: non-numeric.
    """
    ### BEGIN SOLUTION
    a, b, _ = _matrix_operands(A, B, "matmul_vectorized")
    return _like_input(a @ b, A)
    ### END SOLUTION


def vectorized_relu(x: Any) -> Tensor | np.ndarray:
    """ReLU, `max(0, x)` element-wise, without Python loops; shape and dtype preserved.

    TODO: convert with `_as_array`, apply `np.maximum` against a zero *of the same
    dtype* (`np.zeros((), dtype=arr.dtype)`, so int8 stays int8 and bool stays bool),
    wrap with `_like_input`. NumPy turns a 0-d result into a scalar: `np.asarray`
    keeps it an array.

    Example:
        >>> vectorized_relu(np.array([-1.5, 0.0, 2.0], dtype=np.float32))
        array([0., 0., 2.], dtype=float32)
    """
    ### BEGIN SOLUTION
    arr = _as_array(x, "vectorized_relu: x")
    return _like_input(np.asarray(np.maximum(arr, np.zeros((), dtype=arr.dtype))), x)
    ### END SOLUTION


def vectorized_operations(x: Any, y: Any) -> dict[str, Any]:
    """Several element-wise operations on two arrays of equal shape, each one vectorized.

    TODO: return a dict with the keys
        `element_wise_multiply` (x * y), `element_wise_add` (x + y),
        `squared_difference` ((x - y) ** 2), `euclidean_distance` (sqrt of the sum of
        the squared differences) and `dot_product` (sum of x * y over all elements),
    every value wrapped with `_like_input(value, x)` (the two reductions are scalars:
    a 0-d Tensor when x is a Tensor). Compute `x - y` once and reuse it.

    Raises:
        ValueError: when the shapes differ (name both); TypeError: non-numeric.

    Example:
        >>> ops = vectorized_operations(np.array([1.0, 2.0]), np.array([3.0, 4.0]))
        >>> float(ops["dot_product"]), float(ops["euclidean_distance"])
        (11.0, 2.8284271247461903)
    """
    ### BEGIN SOLUTION
    a, b = _as_array(x, "vectorized_operations: x"), _as_array(y, "vectorized_operations: y")
    if a.shape != b.shape:
        raise ValueError(f"vectorized_operations needs equal shapes, got x with shape {a.shape} "
                         f"and y with shape {b.shape}")
    difference = a - b
    squared = difference * difference
    results = {
        "element_wise_multiply": a * b,
        "element_wise_add": a + b,
        "squared_difference": squared,
        "euclidean_distance": np.sqrt(np.sum(squared)),
        "dot_product": np.vdot(a, b),
    }
    return {key: _like_input(value, x) for key, value in results.items()}
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test-matmul-vectorized", "locked": true, "points": 9, "schema_version": 3, "solution": false, "task": false}
def test_unit_matmul_vectorized():
    rng = np.random.default_rng(3)
    for m, k, n in ((1, 1, 1), (4, 9, 2), (33, 17, 5), (0, 3, 4), (3, 0, 4)):
        a = rng.standard_normal((m, k)).astype(np.float32)
        b = rng.standard_normal((k, n)).astype(np.float32)
        got = matmul_vectorized(a, b)
        expected = a.astype(np.float64) @ b.astype(np.float64)
        assert plain(got.shape) == (m, n) and plain(got.dtype) == np.float32, (
            f"({m},{k}) @ ({k},{n}) should give float32 of shape ({m}, {n}), got {got.dtype} {got.shape}")
        assert np.allclose(got, expected, atol=1e-4), f"matmul_vectorized differs from numpy for ({m},{k})@({k},{n})"
    transposed = matmul_vectorized(a.T, a)
    assert np.allclose(transposed, a.T.astype(np.float64) @ a, atol=1e-4), "a transposed view should work as input"
    nested = matmul_vectorized([[1.0, 2.0]], [[3.0], [4.0]])
    assert isinstance(nested, np.ndarray) and plain(nested.dtype) == np.float32 and plain(nested[0, 0]) == 11.0, (
        f"nested lists should give a float32 ndarray [[11.]], got {nested!r}")
    for bad_a, bad_b in ((np.ones(3), np.ones((3, 2))), (np.ones((2, 3)), np.ones((2, 3)))):
        expect_raises(ValueError, lambda: matmul_vectorized(bad_a, bad_b), naming=[str(bad_a.shape), str(bad_b.shape)],
                      what=f"matmul_vectorized of shapes {bad_a.shape} and {bad_b.shape}")
    expect_raises(TypeError, lambda: matmul_vectorized([["a"]], [[1.0]]), what="matmul_vectorized of non-numeric input")

    # Performance: the vectorized product against the triple loop of module 03, n = 128: large enough that the
    # clock measures the product itself, not the cost of making a call.
    ratio = speed.speedup(matmul_vectorized, naive_matmul, lambda seed: matrix_pair(128, seed), at_least=20,
                          check=matmul_matches, repeats=3)
    assert ratio >= 20, f"matmul_vectorized should be at least 20x faster than the triple loop at n=128, got {ratio:.1f}x"

test_unit_matmul_vectorized()

# %% nbgrader={"grade": true, "grade_id": "test-vectorized-relu-operations", "locked": true, "points": 9, "schema_version": 3, "solution": false, "task": false}
def test_unit_vectorized_relu_operations():
    x = np.array([[-2.0, -0.0, 0.5], [3.0, -1e-8, 7.0]], dtype=np.float32)
    got = vectorized_relu(x)
    assert plain(got.dtype) == np.float32 and plain(got.shape) == x.shape, f"ReLU should keep float32 {x.shape}, got {got.dtype} {got.shape}"
    assert np.array_equal(got, np.maximum(x, 0)), f"ReLU({x}) should be {np.maximum(x, 0)}, got {got}"
    ints = vectorized_relu(np.array([-3, 4], dtype=np.int8))
    assert plain(ints.dtype) == np.int8 and plain(ints.tolist()) == [0, 4], f"int8 ReLU should stay int8 [0, 4], got {ints!r}"
    assert isinstance(vectorized_relu(Tensor(x)), Tensor), "a Tensor input should give a Tensor"
    assert plain(vectorized_relu(np.zeros((0, 3), np.float32)).shape) == (0, 3), "an empty input should give an empty result"

    a = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    b = np.array([[0.5, -1.0], [2.0, 0.0]], dtype=np.float32)
    ops = vectorized_operations(a, b)
    expected = {
        "element_wise_multiply": a * b,
        "element_wise_add": a + b,
        "squared_difference": (a - b) ** 2,
        "euclidean_distance": np.sqrt(np.sum((a.astype(np.float64) - b) ** 2)),
        "dot_product": np.sum(a.astype(np.float64) * b),
    }
    assert set(plain(ops)) == set(expected), f"keys should be {sorted(expected)}, got {sorted(plain(ops))}"
    for key, value in expected.items():
        assert np.allclose(ops[key], value, rtol=1e-6), f"{key} should be {value}, got {ops[key]}"
        assert np.asarray(ops[key]).dtype == np.float32, f"{key} of float32 inputs should be float32, got {np.asarray(ops[key]).dtype}"
    tensor_ops = vectorized_operations(Tensor(a), b)
    assert all(isinstance(tensor_ops[key], Tensor) for key in expected), "a Tensor x should give Tensor values"
    expect_raises(ValueError, lambda: vectorized_operations(np.ones((2, 3)), np.ones(3)), naming=["(2, 3)", "(3,)"],
                  what="vectorized_operations of shapes (2, 3) and (3,) (equal shapes are required)")
    ### BEGIN HIDDEN TESTS
    empty = vectorized_operations(np.zeros(0, np.float32), np.zeros(0, np.float32))
    assert float(empty["dot_product"]) == 0.0 and float(empty["euclidean_distance"]) == 0.0, (
        "empty inputs should give a dot product and a distance of 0")
    flags = vectorized_relu(np.array([True, False]))
    assert plain(flags.dtype) == np.bool_, f"ReLU of a bool array should stay bool, got {flags.dtype}"
    ### END HIDDEN TESTS

test_unit_vectorized_relu_operations()

# %% [markdown]
# ## Part 3 — The memory hierarchy and cache blocking
#
# A core can do dozens of FLOPs in the time one float crosses from main memory.
# Between the two sit caches: small, fast memories that keep recently used data
# close. These are the caches of **this** machine, read from the operating system by
# module 10's `cache_sizes()`:

# %%
for level, nbytes in cache_sizes().items():
    print(f"{level:>4}: {nbytes / 1024:>8.0f} KiB  = {nbytes // 4:>10,} float32 values")

# %% [markdown]
# A matrix product reads each element of A `n` times and each element of B `n` times.
# Whether those repeated reads come from a cache or from main memory decides the
# speed. **Cache blocking** (tiling) reorders the loops so that the work is done
# block by block: multiply a tile of A by a tile of B and accumulate into a tile of C
# while all three tiles stay in cache, then move on.
#
# ```
# for i0 in 0, b, 2b, ...            # block row of C
#     for j0 in 0, b, 2b, ...        # block column of C
#         C[i0:i0+b, j0:j0+b]  = A[i0:i0+b, 0:b]  @ B[0:b, j0:j0+b]
#         for p0 in b, 2b, ...:      # walk along the shared dimension
#             C[i0:i0+b, j0:j0+b] += A[i0:i0+b, p0:p0+b] @ B[p0:p0+b, j0:j0+b]
# ```
#
# Three tiles of `b × b` values take `3·b²·itemsize` bytes. **Which cache should
# they fit?** Here is the measured surprise: BLAS already blocks *inside* each call
# (Goto's algorithm sizes its packed panels for the registers, L1, L2 and L3). Each
# Python-level block step costs a call, a temporary, an extra pass to add it into C,
# and a product too small to keep every core busy — so small outer blocks only add
# overhead: with `b = 64` the blocked product takes several times as long as one `@`
# (the sweep after the tests measures it). Outer blocks must be as large
# as the **last-level cache** allows: then they cost almost nothing, and for
# matrices larger than that cache each block step still works on data that fits. So
# `choose_block_size` picks the largest multiple of `BLOCK_ALIGN` whose three tiles
# fill at most `LLC_FRACTION` of the largest cache the operating system reports (the
# rest is left for everything else running).
#
# `cache_friendly_matmul` is the same blocking written with explicit element loops:
# far too slow to use, but it shows the six loops BLAS runs in machine code — and
# why the innermost loop walks along a *row* of B and C: consecutive elements share a
# cache line, so one miss brings in 16 float32 values.

# %% nbgrader={"grade": false, "grade_id": "cache-test-helpers", "locked": true, "schema_version": 3, "solution": false, "task": false}
@lru_cache(maxsize=1)
def _threadpool_controller() -> ThreadpoolController:
    return ThreadpoolController()


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """BLAS limited to one thread for a measurement (threadpoolctl), here and in the process that runs
    your code. Your side's limit is a courtesy: a single-core check charges your kernel the CPU time
    the operating system counted for your process where that exceeds the time it took."""
    with _threadpool_controller().limit(limits=1, user_api="blas"), \
            in_student_process("threadpoolctl").threadpool_limits(limits=1, user_api="blas"):
        yield


# structure: what the kernel asks

def block_sizes_asked(call: Callable[[], Any], answer: int) -> tuple[Any, list[int]]:
    """Run `call()` with `choose_block_size` answering `answer`; return its result and the itemsizes asked."""
    asked = []
    original = globals()["choose_block_size"]
    globals()["choose_block_size"] = lambda itemsize, caches=None: asked.append(plain(itemsize)) or answer
    try:
        return call(), asked
    finally:
        globals()["choose_block_size"] = original

# %% nbgrader={"grade": false, "grade_id": "cache-blocking-solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| export
def choose_block_size(itemsize: int, caches: dict[str, int] | None = None) -> int:
    """Block side for `matmul_cache_optimized`, from the cache sizes.

    Rule: the largest multiple of `BLOCK_ALIGN` with
    `3 * block**2 * itemsize <= LLC_FRACTION * llc`, where `llc` is the largest cache
    in `caches` (the last level), and at least `MIN_BLOCK_SIZE`. When no cache size is
    known (empty dict or all zero): `DEFAULT_BLOCK_SIZE`.

    TODO: `caches` defaults to `cache_sizes()`; apply the rule (`math.isqrt` helps).

    Example (32 MiB last-level cache):
        >>> choose_block_size(4, {"L1d": 32768, "L2": 1048576, "L3": 33554432})
        1152
        >>> choose_block_size(8, {"L1d": 32768, "L2": 1048576, "L3": 33554432})
        832

    Raises:
        ValueError: itemsize not positive.
    """
    ### BEGIN SOLUTION
    itemsize = _positive_int(itemsize, "itemsize")
    caches = cache_sizes() if caches is None else caches
    llc = max(caches.values(), default=0)
    if llc <= 0:
        return DEFAULT_BLOCK_SIZE
    side = math.isqrt(int(LLC_FRACTION * llc) // (3 * itemsize))
    return max(MIN_BLOCK_SIZE, side // BLOCK_ALIGN * BLOCK_ALIGN)
    ### END SOLUTION


def matmul_cache_optimized(A: Any, B: Any, block_size: int | None = None) -> Tensor | np.ndarray:
    """Blocked matrix product: each pair of tiles multiplied with `@` and accumulated into C.

    TODO: validate (`_matrix_operands`); `block_size=None` means
    `choose_block_size(dtype.itemsize)`, else it must be a positive int
    (`_positive_int`). Allocate C with `np.empty((m, n), dtype)` — or `np.zeros` when
    `k == 0`, since no tile product then writes it. For each tile `(i0, j0)` of C,
    write the first product straight into the tile
    (`np.matmul(..., out=C[i0:i0+b, j0:j0+b])`, no temporary to add) and add the
    remaining products along k with `+=`. Slices past the end are simply shorter.

    Example:
        >>> A = np.arange(12, dtype=np.float32).reshape(3, 4)
        >>> np.array_equal(matmul_cache_optimized(A, A.T, block_size=2), A @ A.T)
        True

    Raises:
        ValueError: shapes as for `matmul_vectorized`, or `block_size <= 0`.
    """
    ### BEGIN SOLUTION
    a, b, dtype = _matrix_operands(A, B, "matmul_cache_optimized")
    block = choose_block_size(dtype.itemsize) if block_size is None else _positive_int(block_size, "block_size")
    (m, k), n = a.shape, b.shape[1]
    c = np.zeros((m, n), dtype) if k == 0 else np.empty((m, n), dtype)
    for i0 in range(0, m, block):
        for j0 in range(0, n, block):
            tile = c[i0:i0 + block, j0:j0 + block]
            np.matmul(a[i0:i0 + block, :block], b[:block, j0:j0 + block], out=tile)
            for p0 in range(block, k, block):
                tile += a[i0:i0 + block, p0:p0 + block] @ b[p0:p0 + block, j0:j0 + block]
    return _like_input(c, A)
    ### END SOLUTION


def cache_friendly_matmul(A: Any, B: Any, block_size: int = TEACHING_BLOCK_SIZE) -> Tensor | np.ndarray:
    """The blocked product written as explicit element loops: the teaching version.

    TODO: validate as above (`block_size` must be a positive int). Start from
    `C = np.zeros((m, n), dtype)`. Three loops walk the tiles (i0, j0, p0); inside a
    tile, loop `i`, then `p` (read `A[i, p]` once), then `j` innermost:
    `C[i, j] += a_ip * B[p, j]` — the innermost loop walks along rows of B and C,
    consecutive addresses. Clip every loop at the matrix edge (`min(i0 + b, m)`).
    O(m·n·k) Python steps: use it on small matrices only.

    Example:
        >>> cache_friendly_matmul([[1.0, 2.0]], [[3.0], [4.0]], block_size=1)
        array([[11.]], dtype=float32)
    """
    ### BEGIN SOLUTION
    a, b, dtype = _matrix_operands(A, B, "cache_friendly_matmul")
    block = _positive_int(block_size, "block_size")
    (m, k), n = a.shape, b.shape[1]
    c = np.zeros((m, n), dtype)
    for i0 in range(0, m, block):
        for j0 in range(0, n, block):
            for p0 in range(0, k, block):
                for i in range(i0, min(i0 + block, m)):
                    for p in range(p0, min(p0 + block, k)):
                        a_ip = a[i, p]
                        for j in range(j0, min(j0 + block, n)):
                            c[i, j] += a_ip * b[p, j]
    return _like_input(c, A)
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test-choose-block-size", "locked": true, "points": 4, "schema_version": 3, "solution": false, "task": false}
def test_unit_choose_block_size():
    caches = {"L1d": 32 * 1024, "L2": 1024 * 1024, "L3": 32 * 1024 * 1024}
    # 3 * 1152**2 * 4 = 15.9 MB <= 16 MiB; 1216 would need 17.7 MB.
    assert plain(choose_block_size(4, caches)) == 1152, f"float32 with a 32 MiB L3 should give 1152, got {choose_block_size(4, caches)}"
    assert plain(choose_block_size(8, caches)) == 832, f"float64 with a 32 MiB L3 should give 832, got {choose_block_size(8, caches)}"
    small = {"L1d": 32 * 1024, "L2": 256 * 1024}
    assert plain(choose_block_size(4, small)) == 64, f"a 256 KiB last level should give 64 for float32, got {choose_block_size(4, small)}"
    assert plain(choose_block_size(4, {})) == DEFAULT_BLOCK_SIZE, "no cache information should give DEFAULT_BLOCK_SIZE"
    assert plain(choose_block_size(8, {"L1d": 1024})) == MIN_BLOCK_SIZE, "a tiny cache should still give MIN_BLOCK_SIZE"
    here = choose_block_size(4)
    assert plain(here) % BLOCK_ALIGN == 0 and plain(here) >= MIN_BLOCK_SIZE, f"the block for this machine should be a multiple of {BLOCK_ALIGN}, got {here}"
    expect_raises(ValueError, lambda: choose_block_size(0, caches), what="choose_block_size with itemsize 0")

test_unit_choose_block_size()

# %% nbgrader={"grade": true, "grade_id": "test-matmul-cache-optimized", "locked": true, "points": 9, "schema_version": 3, "solution": false, "task": false}
def test_unit_matmul_cache_optimized():
    rng = np.random.default_rng(4)
    for (m, k, n), block in (((7, 5, 3), 2), ((64, 64, 64), 16), ((50, 33, 70), 16), ((1, 1, 1), 4),
                             ((9, 9, 9), 100), ((0, 4, 3), 2), ((3, 0, 4), 2)):
        a = rng.standard_normal((m, k)).astype(np.float32)
        b = rng.standard_normal((k, n)).astype(np.float32)
        got = matmul_cache_optimized(a, b, block_size=block)
        expected = a.astype(np.float64) @ b.astype(np.float64)
        assert plain(got.shape) == (m, n) and plain(got.dtype) == np.float32, (
            f"({m},{k})@({k},{n}) with block {block} should give float32 ({m}, {n}), got {got.dtype} {got.shape}")
        assert np.allclose(got, expected, atol=1e-3), f"blocked product differs from numpy for ({m},{k})@({k},{n}), block {block}"
    default = matmul_cache_optimized(a.T, a)
    assert np.allclose(default, a.T.astype(np.float64) @ a, atol=1e-3), "the default block on a transposed view should match numpy"
    assert isinstance(matmul_cache_optimized(Tensor(a), Tensor(b), 4), Tensor), "Tensor inputs should give a Tensor"
    for bad in (0, -8):
        expect_raises(ValueError, lambda: matmul_cache_optimized(a, b, block_size=bad), naming=["block_size"],
                      what=f"matmul_cache_optimized with block_size={bad}")

    # block_size=None asks choose_block_size, for the itemsize of the result dtype.
    small, asked = block_sizes_asked(lambda: matmul_cache_optimized(a.astype(np.float64), b), answer=3)
    assert asked == [8], f"block_size=None should call choose_block_size(8) for a float64 result, got calls {asked}"
    assert np.allclose(small, a.astype(np.float64) @ b, atol=1e-3), "the product with the chosen block should match numpy"

    # Performance: with the default block, at most 2x the time of one `@` (n = 512). Both run on one
    # core: a multithreaded BLAS on a busy machine gives timings too erratic to grade.
    with one_blas_thread():
        ratio = speed.speedup(matmul_cache_optimized, np.matmul, lambda seed: matrix_pair(512, seed), at_least=0.5,
                              check=matmul_matches, repeats=7, single_core=True)
    assert ratio >= 0.5, f"matmul_cache_optimized (default block) should take at most 2x the time of @ at n=512, got {1 / ratio:.2f}x"
    ### BEGIN HIDDEN TESTS
    ints = np.arange(20, dtype=np.int64).reshape(4, 5)
    assert np.array_equal(matmul_cache_optimized(ints, ints.T, block_size=3), ints @ ints.T), (
        "integer matrices should give the exact integer product")
    mixed = matmul_cache_optimized(a.astype(np.float64), b, block_size=2)
    assert plain(mixed.dtype) == np.float64, f"float64 @ float32 should give float64, got {mixed.dtype}"
    expect_raises((TypeError, ValueError), lambda: matmul_cache_optimized(a, b, block_size=2.5),
                  what="matmul_cache_optimized with a non-integer block_size 2.5")
    ### END HIDDEN TESTS

test_unit_matmul_cache_optimized()

# %% nbgrader={"grade": true, "grade_id": "test-cache-friendly-matmul", "locked": true, "points": 5, "schema_version": 3, "solution": false, "task": false}
def test_unit_cache_friendly_matmul():
    rng = np.random.default_rng(5)
    for (m, k, n), block in (((6, 5, 7), 2), ((10, 10, 10), 4), ((3, 8, 1), 32), ((0, 2, 2), 3), ((2, 0, 3), 3)):
        a = rng.standard_normal((m, k)).astype(np.float32)
        b = rng.standard_normal((k, n)).astype(np.float32)
        got = cache_friendly_matmul(a, b, block_size=block)
        expected = a.astype(np.float64) @ b.astype(np.float64)
        assert plain(got.shape) == (m, n) and plain(got.dtype) == np.float32, (
            f"({m},{k})@({k},{n}) should give float32 ({m}, {n}), got {got.dtype} {got.shape}")
        assert np.allclose(got, expected, atol=1e-4), f"cache_friendly_matmul differs from numpy for ({m},{k})@({k},{n}), block {block}"
    assert isinstance(cache_friendly_matmul(Tensor(a), Tensor(b)), Tensor), "Tensor inputs should give a Tensor"
    expect_raises(ValueError, lambda: cache_friendly_matmul(a, b, block_size=0), what="cache_friendly_matmul with block_size=0")

test_unit_cache_friendly_matmul()

# %% [markdown]
# Block size against time, at n = 512 on this machine (one call each, so expect some
# noise). Small blocks pay Python and temporary-array overhead per block; from the
# chosen size on, the blocked product is one or a few large BLAS calls.

# %%
sweep_a = np.random.default_rng(6).standard_normal((512, 512)).astype(np.float32)
sweep_b = np.random.default_rng(7).standard_normal((512, 512)).astype(np.float32)
reference_s = median_seconds(np.matmul, sweep_a, sweep_b, repeats=3)
print(f"chosen block for float32 here: {choose_block_size(4)}; one @ takes {reference_s * 1e3:.2f} ms")
for block in (32, 64, 128, 256, 512):
    blocked_s = median_seconds(matmul_cache_optimized, sweep_a, sweep_b, block, repeats=3)
    print(f"block {block:4d}: {blocked_s * 1e3:7.2f} ms  ({blocked_s / reference_s:5.2f}x the time of one @)")

# %% [markdown]
# ## Part 4 — Multi-core parallelism
#
# `cpu_count()` tells how many cores this process may use (2 on the machine this
# course was written on). Using them all needs work that can be split into
# independent pieces, and threads that **really run at the same time**.
#
# In CPython only one thread runs Python bytecode at a time (the global interpreter
# lock, GIL). NumPy, however, **releases the GIL** inside its compiled loops: inside
# `np.matmul` and `np.maximum(..., out=...)` a thread runs free while another runs
# its own NumPy call. So a row-split matrix product works with plain threads: worker
# `w` computes `C[rows_w] = A[rows_w] @ B`, writing straight into its rows of **one
# preallocated output** — no copies, no concatenation.
#
# **Oversubscription.** BLAS is itself multithreaded: one `@` already uses every
# core. If two of our workers each start a BLAS call with two threads, four threads
# fight over two cores; they evict each other's cache tiles and wait on each
# other's synchronisation. So each worker's BLAS must use **one thread**.
# `threadpoolctl` sets this limit — but the setting is **process-global** (it is one
# variable inside the BLAS library), not per thread. So it is set once around the
# whole parallel region, before the workers start and restored after they finish,
# never inside a worker, where one worker's "restore" would undo the limit under the
# feet of the others. `blas_single_thread`, given at the top of this module, does
# exactly that, and counts nested or concurrent regions so that the original setting
# comes back only when the last one ends.
#
# Not every BLAS can be limited this way. threadpoolctl controls OpenBLAS (NumPy's
# wheels on Linux and Windows), MKL and BLIS, but not Apple's Accelerate (NumPy's
# wheels on macOS): there `blas_single_thread` finds no library to limit and does
# nothing. The kernels stay correct — each worker's product is still right — but
# the workers' BLAS calls may each spread over every core, so `matmul_parallel` can
# be slower than one `@`. Accelerate takes its thread count from the environment
# when NumPy loads it: start Jupyter (or `tito`) from a shell where
# `export VECLIB_MAXIMUM_THREADS=1` was run first. `tito system doctor` says which
# BLAS it found and whether it can be limited. Where the grader runs the tests (on
# Linux), the checks that ask for one BLAS thread charge your kernel the CPU time it
# used, so a BLAS that ran on several cores gains nothing there.
#
# Two more effects to know when you measure. After a multithreaded BLAS call, the
# BLAS worker threads keep spinning for about 0.1 s, waiting for more work, before
# they go to sleep (`BLAS_SETTLE_SECONDS` allows for it): a parallel region that
# starts inside that window shares the cores with them. And an idle core is not
# instantly back: on a virtual machine, a core that slept for a while can take
# milliseconds to wake up for your second worker. So waiting with `time.sleep`
# before a measurement trades one disturbance for the other. The tests and the
# benchmark settle instead by *running* the contenders, untimed, for
# `BLAS_SETTLE_SECONDS`, and then time calls back to back: what your own code gets
# when it calls a kernel in a loop.
#
# Threads are not free: starting one costs a fraction of a millisecond, and more
# threads than cores cannot run at once — they only take turns and evict each
# other's data. So:
#
# - both parallel kernels start at most one worker per core (`_thread_count`, given),
#   whatever number is asked for;
# - the calling thread works too: it takes the first piece itself while the others
#   go to worker threads (`run_in_parallel`, the one piece of threading code both
#   parallel kernels share);
# - the worker threads are started once and kept (`claim_workers`, given): a thread
#   started for every call pays for its stack, its start and its first wait for a
#   free core, every time — a fraction of a millisecond on a quiet machine, often
#   milliseconds on a busy one;
# - handing a piece to a kept worker is one lock released and, at the end, one lock
#   waited on (`Worker`, given); a region takes idle workers and starts a new one
#   when none is idle (`claim_workers`), so it never waits for a busy worker and a
#   parallel region inside a piece of another one cannot wait forever;
# - tiny inputs are not split at all: below `SMALL_MATRIX_ROWS` rows one plain
#   product is faster, and below `PARALLEL_RELU_MIN_ELEMENTS` elements ReLU stays
#   vectorized.
#
# ### What to expect on 2, 8 and 64 cores
#
# `p` workers cannot be more than `p` times faster, and how close a kernel gets
# depends on what it is limited by (Part 6 makes this precise with the roofline):
#
# - **Compute-bound** work, like a large matrix product (about `n / 6` FLOPs per
#   byte), keeps every core busy with arithmetic on data already in its caches. Each
#   core brings its own arithmetic units, so the gain follows the cores: close to
#   2x on 2 cores, somewhat less than 8x on 8. On 64
#   cores, n = 512 gives each worker only 8 rows — little work per thread start and
#   per pass over B — so the gain stays far below 64x; larger matrices get closer.
#   A row split also pays a cost BLAS's own threads do not: BLAS copies ("packs")
#   B into a layout its inner loop reads fastest, and each worker's call packs all
#   of B for its share of the rows, where BLAS's threads share one packed copy. Half
#   the rows cost only a little more than half the product, but two pieces running
#   at once, each reading and packing all of B, slow each other down a little more:
#   expect the row split to come close to numpy's own two-thread `@`, a few percent
#   short of it, never past it. More workers pack B more times.
#   `tito benchmark kernels` prints the ratio on your machine, and
#   `python -m scripts.row_split_ceiling` takes it apart.
# - **Memory-bound** work, like ReLU (1/8 FLOP per byte), waits for memory. One core
#   cannot use the whole memory bandwidth, so a second core helps — but all cores
#   share the same memory channels, and a fresh output costs the operating system a
#   page fault and zeroing per page, which also share resources. Expect two threads
#   to stream clearly faster than one, but well short of twice as fast, and less so
#   into fresh outputs than into preallocated ones (`tito benchmark kernels` prints
#   the ReLU ladder here). A laptop with 8 cores typically saturates its memory with
#   a few of them; a 64-core server has 8–12 memory channels, and its ReLU stops
#   gaining long before 64x.
#
# So a fixed target ("at least 1.8x") means something different on every machine.
# The tests of this module judge a parallel kernel against **this machine's own
# gain, measured in the same run**: the speedup of `PARALLEL_WORKERS` = 2
# independent copies of the same kind of work (single-thread products; ReLUs into
# fresh outputs) run side by side instead of one after the other. Your kernel must
# get at least `PARALLEL_SHARE` of that extra speed with 2 workers (`PARALLEL_RELU_SHARE`
# for ReLU, whose extra speed is memory bandwidth a kernel shares less well). A student's
# 4-core laptop and a 64-core grading server thus judge the same thing, and a
# loaded machine lowers the bar together with the kernel. A measurement counts only
# when the machine was steady during it (each of its two references ran its fastest
# sample twice, and gained enough to be worth measuring); the check measures again
# when it was not, and a machine that never was makes the check inconclusive, never
# passed. The tests also ask the operating system how many threads of your process
# worked during a call: pieces that run one after the other show one.
# So does a machine (or a grading kernel's CPU share) with fewer than 2 cores: there
# is no parallel gain to measure, and the check says so instead of passing unmeasured.

# %% nbgrader={"grade": false, "grade_id": "parallel-test-helpers", "locked": true, "schema_version": 3, "solution": false, "task": false}
import threading
from functools import partial

PARALLEL_WORKERS = 2  # the graded parallel checks use two workers on every machine
# share of the machine's extra speed from two workers a parallel kernel must get: a quarter, because the
# grader calls your kernel from another process, and each call first wakes your process and its workers
# (a kernel whose pieces run one after the other gains nothing at all)
PARALLEL_SHARE = 0.25
# parallel_relu's share is smaller: its extra speed is memory bandwidth, and every call also pays, on top of
# waking the workers, for the page faults of its fresh 40 MB output, which two threads of one process cannot
# take fully in parallel; judged from the grader's process, a correct kernel gets well under a quarter of what
# two independent ReLUs gain. A kernel whose pieces run one after the other still gains nothing at all.
PARALLEL_RELU_SHARE = 0.1
PARALLEL_MATMUL_N = 1024  # large enough that handing pieces to the workers costs little against the product
PARALLEL_RELU_ELEMENTS = 10**7  # 40 MB of float32: far beyond the caches of one core


def float_vector(elements: int, seed: int) -> tuple[np.ndarray]:
    """One float32 vector of values uniform in [-0.5, 0.5), as a 1-tuple of arguments."""
    x = np.random.default_rng(seed).random(elements, dtype=np.float32)
    x -= 0.5
    return (x,)


def relu_matches(got: Any, x: np.ndarray) -> None:
    """The whole ReLU result `got` against max(x, 0)."""
    got = plain(got)
    assert type(got) is np.ndarray and got.shape == x.shape and np.array_equal(got, np.maximum(x, 0)), (
        f"a timed ReLU of shape {x.shape} should equal np.maximum(x, 0)")


def fresh_relu(x: np.ndarray) -> np.ndarray:
    """ReLU into a fresh output with one numpy call: the baseline and the machine's streaming reference."""
    return np.maximum(x, 0)


def required_parallel_gain(machine_gain: float, share: float = PARALLEL_SHARE) -> float:
    """The gain a parallel kernel must show: `share` of the machine's extra speed."""
    return 1 + share * (machine_gain - 1)


def parallel_gain(kernel: Callable[..., Any], baseline: Callable[..., Any], make_args: Callable[[int], tuple],
                  reference: Callable[..., Any], check: Callable[..., None],
                  share: float = PARALLEL_SHARE) -> speed.ParallelGain:
    """`kernel`'s gain over `baseline` and the machine's gain for PARALLEL_WORKERS threads of
    `reference`, measured in the same rounds (`tito.tools.speed.parallel_gain`)."""
    return speed.parallel_gain(kernel, baseline, make_args, reference, PARALLEL_WORKERS,
                               lambda machine: required_parallel_gain(machine, share),
                               check=check)


def workers_seen(measured: speed.ParallelGain, kernel: str) -> None:
    """Fail unless the operating system saw PARALLEL_WORKERS threads of your process work during a call
    (None: this machine does not say)."""
    assert measured.busy_threads in (None, *range(PARALLEL_WORKERS, 64)), (
        f"the operating system saw {measured.busy_threads} thread of your process working during a call of "
        f"{kernel} with {PARALLEL_WORKERS} workers: do the pieces run at the same time, each in its own thread?")


# structure: what the kernels do inside

def run_in_parallel_calls(call: Callable[[], Any]) -> list[list[tuple[int, int]]]:
    """Run `call()`; return the pieces of every `run_in_parallel` call it made."""
    calls = []
    original = globals()["run_in_parallel"]

    def spy(task, pieces):
        calls.append([tuple(piece) for piece in plain(pieces)])
        return original(task, pieces)

    globals()["run_in_parallel"] = spy
    try:
        call()
    finally:
        globals()["run_in_parallel"] = original
    return calls


def square_early_items_last(v: int) -> int:
    """v * v, after a sleep that makes early items finish last: the order of results must still hold."""
    time.sleep(0.002 * (5 - v))
    return v * v


def row_sum(row: Any) -> float:
    return float(plain(row.data).sum())


def fail_on_three(v: int) -> int:
    if v == 3:
        raise KeyError("item 3")
    return v


def most_items_at_once(items: Iterable[Any], num_workers: int) -> int:
    """The most items `parallel_batch_processing` had in progress at the same time (each takes 50 ms),
    counted by this function itself, not by your code."""
    running, most, lock = [0], [0], threading.Lock()

    def count_while_running(v):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        return v

    parallel_batch_processing(items, count_while_running, num_workers=num_workers)
    return most[0]


def open_blas_regions() -> int:
    """How many `blas_single_thread` regions your code has open right now."""
    return plain(student_global("_blas_regions"))


def pieces_meeting(pieces: Sequence[tuple[int, int]], timeout: float = 5.0) -> tuple[bool, list[tuple[int, int]]]:
    """Run `run_in_parallel` with a task that waits until every piece runs: (did they all meet, pieces run).
    The meeting point is this cell's own barrier: the pieces meet only if they really run at once."""
    ran, lock = [], threading.Lock()
    meeting = threading.Barrier(len(pieces), timeout=timeout)

    def wait_for_all(lo, hi):
        meeting.wait()
        with lock:
            ran.append((plain(lo), plain(hi)))

    try:
        run_in_parallel(wait_for_all, pieces)
    except threading.BrokenBarrierError:
        return False, sorted(ran)
    return True, sorted(ran)

# %% nbgrader={"grade": false, "grade_id": "parallel-solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| export
def run_in_parallel(task: Callable[[int, int], None], pieces: Sequence[tuple[int, int]]) -> None:
    """Run `task(lo, hi)` for every piece, all pieces at the same time.

    The calling thread is one of the workers: it runs the first piece itself while
    worker threads lent by `claim_workers` run the others (the caller would only
    wait otherwise). Returns when every piece is done; an exception in any piece
    propagates.

    `claim_workers` never makes a region wait for a busy worker: when this very call
    runs inside a piece of another region (nested parallelism), waiting for that
    region's workers could wait forever, so it gets workers of its own.

    TODO: no pieces: nothing to do. Otherwise, inside `with
    claim_workers(len(pieces) - 1) as workers:`, `start` each worker on one piece of
    `pieces[1:]`, run `task(*pieces[0])` in the calling thread, then `wait()` for each
    worker (which re-raises a piece's exception).

    Example:
        >>> out = np.zeros(6)
        >>> run_in_parallel(lambda lo, hi: out[lo:hi].fill(lo), split_range(6, 3))
        >>> out.tolist()
        [0.0, 0.0, 2.0, 2.0, 4.0, 4.0]
    """
    ### BEGIN SOLUTION
    if not pieces:
        return
    with claim_workers(len(pieces) - 1) as workers:
        for worker, (lo, hi) in zip(workers, pieces[1:]):
            worker.start(task, lo, hi)
        task(*pieces[0])
        for worker in workers:
            worker.wait()
    ### END SOLUTION


def matmul_parallel(A: Any, B: Any, num_processes: int | None = None) -> Tensor | np.ndarray:
    """Row-split matrix product on `num_processes` threads that run at the same time.

    TODO: validate (`_matrix_operands`); `num_processes=None` means `cpu_count()`,
    else a positive int (`_positive_int`). Fewer than `SMALL_MATRIX_ROWS` rows: return
    the plain product `a @ b`. Otherwise:
        0. workers = `_thread_count(num_processes)`: never more than the cores;
        1. `C = np.empty((m, n), dtype)`, the one output;
        2. split the rows with `split_range(m, workers)`;
        3. inside `with blas_single_thread():` (once, around the whole region),
           `run_in_parallel` a task that does `np.matmul(a[lo:hi], b, out=C[lo:hi])`.

    Example:
        >>> A = np.ones((64, 8), np.float32)
        >>> matmul_parallel(A, A.T, num_processes=2).shape
        (64, 64)

    Raises:
        ValueError: shapes as for `matmul_vectorized`, or `num_processes <= 0`.
    """
    ### BEGIN SOLUTION
    a, b, dtype = _matrix_operands(A, B, "matmul_parallel")
    workers = cpu_count() if num_processes is None else _thread_count(num_processes, "num_processes")
    m = a.shape[0]
    if m < SMALL_MATRIX_ROWS:
        return _like_input(a @ b, A)
    c = np.empty((m, b.shape[1]), dtype)

    def multiply_rows(lo: int, hi: int) -> None:
        np.matmul(a[lo:hi], b, out=c[lo:hi])

    with blas_single_thread():
        run_in_parallel(multiply_rows, split_range(m, workers))
    return _like_input(c, A)
    ### END SOLUTION


def parallel_relu(x: Any, num_workers: int = DEFAULT_NUM_WORKERS) -> Tensor | np.ndarray:
    """ReLU over contiguous chunks in `num_workers` threads, written in place into one output.

    TODO: convert (`_as_array`); workers = `_thread_count(num_workers, "num_workers")`
    (never more than the cores). Fewer than `PARALLEL_RELU_MIN_ELEMENTS` elements:
    return `vectorized_relu(x)`. Otherwise:
        1. make the input C-contiguous (`np.ascontiguousarray`, no copy when it already
           is) and allocate `out = np.empty_like(...)`;
        2. take flat views of both (`reshape(-1)`), split with `split_range`;
        3. `run_in_parallel` a task that runs `np.maximum(src[lo:hi], zero,
           out=dst[lo:hi])` with `zero` of the input dtype; no concatenation, the
           shape is preserved.

    Why it is faster although ReLU does almost no arithmetic: one core cannot pull the
    full memory bandwidth, and the first write to each fresh output page costs a page
    fault; two cores share both.

    Example:
        >>> parallel_relu(np.array([-1.0, 2.0])).tolist()
        [0.0, 2.0]
    """
    ### BEGIN SOLUTION
    arr = _as_array(x, "parallel_relu: x")
    workers = _thread_count(num_workers, "num_workers")
    if arr.size < PARALLEL_RELU_MIN_ELEMENTS:
        return vectorized_relu(x)
    src = np.ascontiguousarray(arr)
    out = np.empty_like(src)
    flat_src, flat_out = src.reshape(-1), out.reshape(-1)
    zero = np.zeros((), dtype=src.dtype)

    def relu_chunk(lo: int, hi: int) -> None:
        np.maximum(flat_src[lo:hi], zero, out=flat_out[lo:hi])

    run_in_parallel(relu_chunk, split_range(flat_src.size, workers))
    return _like_input(out, x)
    ### END SOLUTION


def parallel_batch_processing(batch_data: Iterable[Any], operation: Callable[[Any], Any],
                              num_workers: int = DEFAULT_NUM_WORKERS) -> list[Any]:
    """Apply `operation` to every item of `batch_data` in `num_workers` threads.

    TODO: check `operation` is callable (TypeError) and `num_workers` is a positive
    int; take the items as a list (a Tensor batch gives one Tensor per row along its
    first axis); `[]` for an empty batch; otherwise `ThreadPoolExecutor.map`, which
    returns results **in input order** and re-raises the first exception, so an error
    in one item propagates to the caller.

    Example:
        >>> parallel_batch_processing([1, 2, 3], lambda v: v * 10, num_workers=2)
        [10, 20, 30]
    """
    ### BEGIN SOLUTION
    if not callable(operation):
        raise TypeError(f"operation must be callable, got {type(operation).__name__}")
    workers = _positive_int(num_workers, "num_workers")
    items = [Tensor(row) for row in batch_data.data] if isinstance(batch_data, Tensor) else list(batch_data)
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        return list(pool.map(operation, items))
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test-matmul-parallel", "locked": true, "points": 10, "schema_version": 3, "solution": false, "task": false}
def test_unit_matmul_parallel():
    met, ran = pieces_meeting([(0, 2), (2, 4), (4, 5)])
    assert met, ("run_in_parallel should run all pieces at the same time: three pieces waited 5 s for each other "
                 "and never all ran at once")
    assert ran == [(0, 2), (2, 4), (4, 5)], f"every piece should run exactly once, got {ran}"
    expect_raises(ZeroDivisionError, lambda: run_in_parallel(lambda lo, hi: 1 / (lo - 3), [(0, 1), (3, 4)]),
                  what="run_in_parallel with a piece that divides by 0")

    rng = np.random.default_rng(8)
    for (m, k, n), workers in (((100, 30, 20), 2), ((97, 13, 5), 3), ((25, 8, 8), 7), ((19, 4, 4), 2),
                               ((40, 0, 3), 2), ((0, 3, 3), 2), ((64, 16, 0), 4), ((21, 5, 5), 64)):
        a = rng.standard_normal((m, k)).astype(np.float32)
        b = rng.standard_normal((k, n)).astype(np.float32)
        got = matmul_parallel(a, b, num_processes=workers)
        expected = a.astype(np.float64) @ b.astype(np.float64)
        assert plain(got.shape) == (m, n) and plain(got.dtype) == np.float32, (
            f"({m},{k})@({k},{n}) should give float32 ({m}, {n}), got {got.dtype} {got.shape}")
        assert np.allclose(got, expected, atol=1e-4), f"matmul_parallel differs from numpy for ({m},{k})@({k},{n}), {workers} workers"
    default = matmul_parallel(a.T, a[:, :30])
    assert np.allclose(default, a.T.astype(np.float64) @ a[:, :30], atol=1e-4), "default workers on a transposed view should match numpy"
    assert isinstance(matmul_parallel(Tensor(a), Tensor(b), 2), Tensor), "Tensor inputs should give a Tensor"
    expect_raises(ValueError, lambda: matmul_parallel(a, b, num_processes=0), naming=["num_processes"],
                  what="matmul_parallel with num_processes=0")
    assert open_blas_regions() == 0, "blas_single_thread regions should all be closed after matmul_parallel returns"

    # Structure: the rows go to run_in_parallel in `workers` pieces.
    calls = run_in_parallel_calls(lambda: matmul_parallel(rng.standard_normal((90, 8)), rng.standard_normal((8, 4)),
                                                          num_processes=3))
    workers_here = min(3, plain(cpu_count()))  # at most one worker per core
    expected = split_range(90, workers_here)
    assert len(calls) == 1 and calls[0] == expected, (
        f"90 rows, 3 workers and {workers_here} usable cores should make one run_in_parallel call with pieces "
        f"{expected}, got {calls}")

    # Performance: 2 workers against one single-thread BLAS product, BLAS on one thread throughout so that
    # only your threads can make the difference, judged against what 2 independent single-thread products
    # gain from running at once on this machine, right now.
    with one_blas_thread():
        measured = parallel_gain(partial(matmul_parallel, num_processes=PARALLEL_WORKERS), np.matmul,
                                 lambda seed: matrix_pair(PARALLEL_MATMUL_N, seed), reference=np.matmul,
                                 check=matmul_matches)
    assert measured.kernel >= required_parallel_gain(measured.machine), (
        f"with {PARALLEL_WORKERS} workers matmul_parallel should be at least "
        f"{required_parallel_gain(measured.machine):.2f}x faster than single-thread BLAS at n={PARALLEL_MATMUL_N} "
        f"(two independent products run {measured.machine:.2f}x faster side by side on this machine right now), "
        f"got {measured.kernel:.2f}x: do the workers run at the same time, with BLAS on one thread each?")
    workers_seen(measured, "matmul_parallel")

test_unit_matmul_parallel()

# %% nbgrader={"grade": true, "grade_id": "test-parallel-relu", "locked": true, "points": 8, "schema_version": 3, "solution": false, "task": false}
def test_unit_parallel_relu():
    rng = np.random.default_rng(9)
    for shape, workers in (((10_007,), 4), ((300, 41), 3), ((5, 7, 64), 2), ((12,), 4), ((0,), 2), ((2000,), 1)):
        x = rng.standard_normal(shape).astype(np.float32)
        got = parallel_relu(x, num_workers=workers)
        assert plain(got.shape) == x.shape and plain(got.dtype) == np.float32, f"shape {shape} float32 should be kept, got {got.dtype} {got.shape}"
        assert np.array_equal(got, np.maximum(x, 0)), f"parallel_relu differs from np.maximum for shape {shape}"
    strided = rng.standard_normal((200, 60)).astype(np.float64)[::2, ::3].T
    assert np.array_equal(parallel_relu(strided), np.maximum(strided, 0)), "a strided, transposed view should work"
    assert isinstance(parallel_relu(Tensor(x)), Tensor), "a Tensor input should give a Tensor"
    expect_raises(ValueError, lambda: parallel_relu(np.ones(5000), num_workers=0), naming=["num_workers"],
                  what="parallel_relu with num_workers=0")

    # Structure: the flat range goes to run_in_parallel in num_workers pieces.
    calls = run_in_parallel_calls(lambda: parallel_relu(np.ones((50, 100), np.float32), num_workers=3))
    workers_here = min(3, plain(cpu_count()))  # at most one worker per core
    expected = split_range(5000, workers_here)
    assert len(calls) == 1 and calls[0] == expected, (
        f"5000 elements, 3 workers and {workers_here} usable cores should make one run_in_parallel call with "
        f"pieces {expected}, got {calls}")
    calls = run_in_parallel_calls(lambda: parallel_relu(np.ones(PARALLEL_RELU_MIN_ELEMENTS - 1, np.float32)))
    assert calls == [], f"below {PARALLEL_RELU_MIN_ELEMENTS} elements parallel_relu should not start threads"

    # Performance: 10**7 float32 values, 2 workers against one numpy ReLU, judged against what 2 independent
    # ReLUs into fresh outputs gain from running at once on this machine, right now.
    measured = parallel_gain(partial(parallel_relu, num_workers=PARALLEL_WORKERS), fresh_relu,
                             lambda seed: float_vector(PARALLEL_RELU_ELEMENTS, seed), reference=fresh_relu,
                             check=relu_matches, share=PARALLEL_RELU_SHARE)
    required = required_parallel_gain(measured.machine, PARALLEL_RELU_SHARE)
    assert measured.kernel >= required, (
        f"parallel_relu with {PARALLEL_WORKERS} workers should be at least "
        f"{required:.2f}x faster than one numpy ReLU on 10**7 values (two "
        f"independent ReLUs run {measured.machine:.2f}x faster side by side on this machine right now), "
        f"got {measured.kernel:.2f}x")
    workers_seen(measured, "parallel_relu")

test_unit_parallel_relu()

# %% nbgrader={"grade": true, "grade_id": "test-parallel-batch-processing", "locked": true, "points": 6, "schema_version": 3, "solution": false, "task": false}
def test_unit_parallel_batch_processing():
    got = parallel_batch_processing(range(5), square_early_items_last, num_workers=3)
    assert plain(got) == [0, 1, 4, 9, 16], f"results should be in input order [0, 1, 4, 9, 16], got {got}"
    assert plain(parallel_batch_processing([], square_early_items_last)) == [], "an empty batch should give []"
    rows = parallel_batch_processing(Tensor(np.arange(6.0).reshape(3, 2)), row_sum, num_workers=2)
    assert plain(rows) == [1.0, 5.0, 9.0], f"a Tensor batch should be processed row by row, got {rows}"

    at_once = most_items_at_once(range(8), num_workers=4)
    assert at_once >= 2, f"items should run several at a time, at most {at_once} ran at once"

    expect_raises(KeyError, lambda: parallel_batch_processing(range(6), fail_on_three, num_workers=2), naming=["item 3"],
                  what="parallel_batch_processing with an item that raises KeyError")
    for bad_workers in (0, -1):
        expect_raises(ValueError, lambda: parallel_batch_processing([1], abs, num_workers=bad_workers),
                      naming=["num_workers"], what=f"parallel_batch_processing with num_workers={bad_workers}")

test_unit_parallel_batch_processing()

# %% [markdown]
# See oversubscription for yourself: the same row-split product with each worker's
# BLAS left at its default thread count, against the proper single-thread limit.

# %%
over_a = np.random.default_rng(10).standard_normal((768, 768)).astype(np.float32)
over_c = np.empty_like(over_a)


def oversubscribed_product(workers: int = 2) -> None:
    """matmul_parallel without blas_single_thread: every worker's BLAS call starts its own threads."""
    run_in_parallel(lambda lo, hi: np.matmul(over_a[lo:hi], over_a, out=over_c[lo:hi]), split_range(768, workers))


with blas_single_thread():
    single_s = median_seconds(np.matmul, over_a, over_a, repeats=3)
pinned_s = median_seconds(matmul_parallel, over_a, over_a, 2, repeats=3)
over_s = median_seconds(oversubscribed_product, repeats=3)
print(f"cores: {cpu_count()}, n=768 float32")
print(f"single-thread BLAS            {single_s * 1e3:7.2f} ms")
print(f"2 workers, BLAS pinned to 1   {pinned_s * 1e3:7.2f} ms  ({single_s / pinned_s:.2f}x)")
print(f"2 workers, BLAS unpinned      {over_s * 1e3:7.2f} ms  ({single_s / over_s:.2f}x)")

# %% [markdown]
# And the two measuring effects from above, measured: the same `matmul_parallel`
# right after a multithreaded `@` (BLAS's threads still spin), after sleeping
# `BLAS_SETTLE_SECONDS` (the cores went idle), and after running for that long
# (steady state, as in a loop). A benchmark that alternates the two kinds of kernel,
# or sleeps between them, measures these effects, not the kernel.

# %%
spin_a = np.random.default_rng(17).standard_normal((1024, 1024)).astype(np.float32)


def keep_running(func: Callable[[], Any], seconds: float) -> None:
    """Call `func` again and again for `seconds`."""
    until = time.perf_counter() + seconds
    while time.perf_counter() < until:
        func()


spin_times: dict[str, list[float]] = {"right after @": [], "after a sleep": [], "after running": []}
for _ in range(3):
    spin_a @ spin_a  # wakes BLAS's threads; they keep spinning for about 0.1 s
    spin_times["right after @"].append(time_kernel(matmul_parallel, spin_a, spin_a)[1])
    time.sleep(BLAS_SETTLE_SECONDS)
    spin_times["after a sleep"].append(time_kernel(matmul_parallel, spin_a, spin_a)[1])
    keep_running(lambda: matmul_parallel(spin_a, spin_a), BLAS_SETTLE_SECONDS)
    spin_times["after running"].append(time_kernel(matmul_parallel, spin_a, spin_a)[1])
print("matmul_parallel at n=1024: " + ", ".join(f"{statistics.median(us) / 1e3:.2f} ms {when}"
                                               for when, us in spin_times.items()))

# %% [markdown]
# ## Part 5 — int8 quantization
#
# A float32 weight takes 4 bytes; an int8 takes 1. Quantized inference moves a
# quarter of the bytes and, on hardware with integer dot-product instructions, does
# several times more operations per cycle. **Symmetric** quantization maps a float
# `x` to an integer with one scale per tensor:
#
# ```
# scale = max(|x|) / 127                      (calibration, when no scale is given)
# q     = clip(round(x / scale), -127, 127)   (saturate: values beyond the range clip)
# x    ≈ q * scale                            (dequantize)
# ```
#
# - **Rounding** to the nearest integer makes the error at most `scale / 2` per value.
# - **Saturation**, not wrap-around: casting 200 to int8 without `clip` gives -56,
#   a sign flip. The range is symmetric, ±127: -128 is never produced.
# - A product of two quantized matrices is `(qa @ qb) * (scale_a * scale_b)`. The
#   integer products are accumulated in **int32**: one term is at most 127² = 16129,
#   so an int32 holds sums of up to 133,144 terms.
#
# **Why numpy's integer `@` is slow, and how to make it fast.** NumPy sends only
# floating-point products to BLAS; an int32 `@` runs NumPy's own plain loop, two
# orders of magnitude slower than float32 `@` (a cell below measures it). But float32
# represents every integer up to
# 2²⁴ = 16,777,216 exactly, and every partial sum of an int8 dot product of length K
# is at most `K · max|qa| · max|qb|` in magnitude. When that bound is at most 2²⁴,
# every addition BLAS performs — in any order, with or without FMA — is exact. With
# ±127 data that is K ≤ 1040. For longer K, split K into chunks that satisfy the
# bound, multiply each chunk exactly in float32, and add the chunk results in int32.
# The integer product is then **exact** and as fast as float32 BLAS.
#
# **Where the rest of the time goes: passes over memory.** Around that one product,
# quantization is a chain of elementwise steps — find max|x|, divide, round, cast —
# and numpy runs each step over the whole array before the next one starts. A
# 1024 x 1024 float32 matrix is 4 MB, larger than a core's L2 cache, so every step
# reads it back from farther away and writes a fresh temporary. Doing the whole chain
# on one **block** of `FUSED_BLOCK_ELEMENTS` values at a time (256 KiB of float32,
# within L2), into one reused buffer, reads each value from memory once: the same
# idea as cache blocking in Part 3, and what a GPU compiler calls *kernel fusion*
# (module 12). Expect the divide-round-cast chain of a 1024 x 1024 matrix to take
# about half the time block by block that it takes as whole-array steps, and
# finding max|x| to gain less: it writes no temporary. Time both ways with
# `median_seconds` to see it here. The given `blocks(total)` yields the blocks.

# %% nbgrader={"grade": false, "grade_id": "quantization-solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| export
def quantize_symmetric(x: Any, scale: float | None = None) -> tuple[np.ndarray, float]:
    """Symmetric int8 quantization: `q = clip(round(x / scale), -127, 127)`.

    TODO: convert (`_as_array`) and return `(q, scale)` with `q` an int8 array of x's
    shape and `scale` a Python float. Work on floats: x's own float dtype, float32 for
    integers of up to 16 bits (exact), float64 for wider integers.
        - `scale=None` calibrates `scale = max(|x|) / 127`; when that is 0 (all zeros,
          or an empty array) use 1.0, any positive scale gives q = 0 then.
        - A given scale must be finite and positive (`_positive_scale`).
        - Non-finite values (inf, nan) cannot be quantized: ValueError.
        - Divide in that float dtype when it is float32/float64 and the scale is a
          normal number of it (`np.finfo(dtype).tiny`), else in float64 (float16, tiny
          scales); a quotient beyond the float range saturates like any other.
          Then `np.rint`, `np.clip` to ±INT8_LIMIT, and cast to int8 — clip *before*
          the cast, or 200 wraps to -56. Only a given scale needs the clip: a
          calibrated one maps max|x| to 127, and skipping a pass over the data is
          worth it in `quantized_matmul`.
        - Fuse the passes: take a C-contiguous flat view of the values and run each
          chain block by block (`blocks(size)`): calibration reads a block once for
          its min and max (`np.maximum(-block.min(), block.max())` keeps a nan);
          quantization divides a block into one reused buffer of the working dtype
          (`np.divide(..., out=buffer, dtype=...)`), rounds and clips it there, and
          assigns it into that block of the int8 result. Reshape to x's shape at the
          end (a 0-d input gives a 0-d array).

    Example:
        >>> quantize_symmetric(np.array([-1.0, 0.5, 3.0]), scale=0.02)   # 3.0 / 0.02 = 150 saturates
        (array([-50,  25, 127], dtype=int8), 0.02)
    """
    ### BEGIN SOLUTION
    arr = _as_array(x, "quantize_symmetric: x")
    if arr.dtype.kind == "f":
        values = arr
    else:  # integers of up to 16 bits are exact in float32; wider ones need float64
        values = arr.astype(np.float32 if arr.dtype.itemsize <= 2 else np.float64)
    flat = np.ascontiguousarray(values).reshape(-1)
    largest = 0.0
    for lo, hi in blocks(flat.size):
        block = flat[lo:hi]
        peak = float(np.maximum(-block.min(), block.max()))  # nan stays nan
        if not math.isfinite(peak):
            raise ValueError("quantize_symmetric: x contains inf or nan, which int8 cannot represent")
        largest = max(largest, peak)
    calibrated = scale is None
    if calibrated:
        scale = largest / INT8_LIMIT if largest > 0 else 1.0
    else:
        scale = _positive_scale(scale, "scale")
    # Divide in x's precision when the scale is a normal number of it (float32/64), else in float64.
    same_precision = flat.dtype.itemsize >= 4 and scale >= np.finfo(flat.dtype).tiny
    buffer = np.empty(min(flat.size, FUSED_BLOCK_ELEMENTS), flat.dtype if same_precision else np.float64)
    q = np.empty(flat.size, np.int8)
    with np.errstate(over="ignore"):  # beyond the float range is beyond 127 too: it saturates
        for lo, hi in blocks(flat.size):
            part = buffer[:hi - lo]
            np.divide(flat[lo:hi], scale, out=part, dtype=part.dtype)
            np.rint(part, out=part)
            if not calibrated:  # a calibrated scale maps max|x| to 127 (at most 127.00002 before rounding)
                np.clip(part, -INT8_LIMIT, INT8_LIMIT, out=part)
            q[lo:hi] = part
    return q.reshape(values.shape), scale
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test-quantize-symmetric", "locked": true, "points": 7, "schema_version": 3, "solution": false, "task": false}
def test_unit_quantize_symmetric():
    q, scale = plain(quantize_symmetric(np.array([-1.0, 0.5, 3.0, -300.0, 0.011]), scale=0.02))
    assert q.dtype == np.int8, f"q should be int8, got {q.dtype}"
    assert q.tolist() == [-50, 25, 127, -127, 1], (
        f"with scale 0.02, [-1, 0.5, 3, -300, 0.011] should give [-50, 25, 127, -127, 1] (saturating, no wrap-around), got {q.tolist()}")
    assert scale == 0.02 and isinstance(scale, float), f"the given scale should come back as the float 0.02, got {scale!r}"

    x = np.array([[0.3, -2.54], [1.27, 0.0]], dtype=np.float32)
    q, scale = plain(quantize_symmetric(x))
    assert np.isclose(scale, 2.54 / 127, rtol=1e-6), f"calibrated scale should be max|x|/127 = {2.54 / 127}, got {scale}"
    assert q.shape == x.shape and int(q.min()) == -127, f"the largest magnitude should map to -127, got {q}"
    assert np.all(np.abs(q * scale - x) <= scale / 2 + 1e-7), "rounding error should be at most scale / 2 per value"

    zeros_q, zeros_scale = plain(quantize_symmetric(np.zeros(4, np.float32)))
    assert zeros_q.tolist() == [0, 0, 0, 0] and zeros_scale > 0, f"all zeros should give q = 0 and a positive scale, got {zeros_scale}"
    assert plain(quantize_symmetric(np.zeros((0, 3)))[0].shape) == (0, 3), "an empty array should give an empty int8 array"
    assert plain(quantize_symmetric([1, -2, 3], scale=1.0)[0].tolist()) == [1, -2, 3], "integer lists should quantize exactly with scale 1"

    for bad_scale in (0.0, -1.0, float("inf")):
        expect_raises(ValueError, lambda: quantize_symmetric(x, scale=bad_scale), naming=["scale"],
                      what=f"quantize_symmetric with scale={bad_scale}")
    expect_raises(ValueError, lambda: quantize_symmetric(np.array([1.0, np.nan])), naming=["nan"],
                  what="quantize_symmetric of an array holding nan (int8 cannot represent it)")

test_unit_quantize_symmetric()

# %% nbgrader={"grade": false, "grade_id": "quantization-test-helpers", "locked": true, "schema_version": 3, "solution": false, "task": false}
def int8_pair(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two n x n int8 matrices with values in [-127, 127]."""
    qa, qb = np.random.default_rng(seed).integers(-127, 128, size=(2, n, n)).astype(np.int8)
    return qa, qb


def exact_matmul_matches(got: Any, a: np.ndarray, b: np.ndarray) -> None:
    """A timed integer product `got` against the int64 product, exactly, checked the same way."""
    product_matches(plain(got), a, b)


def int32_matmul(qa: np.ndarray, qb: np.ndarray) -> np.ndarray:
    """numpy's own integer product: the baseline an int8 kernel is measured against."""
    return qa.astype(np.int32) @ qb.astype(np.int32)

# %% nbgrader={"grade": false, "grade_id": "int8-matmul-solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| export
def int8_matmul(qa: Any, qb: Any, dtype: Any = np.int32) -> np.ndarray:
    """Exact product of two int8 matrices, computed with float32 BLAS, as int32 (or `dtype`).

    Every partial sum of one output is bounded by `K * max|qa| * max|qb|`. Split K into
    chunks of `FLOAT32_EXACT_INTEGERS // (max|qa| * max|qb|)` terms (all of K when the
    product is 0): each chunk's float32 product is then exact. Cast each chunk result
    to int32 and add it into the int32 accumulator.

    `dtype` float32 or float64 asks for the exact product rounded once to that type,
    which is what `quantized_matmul` rescales. When one chunk covers all of K, the
    float32 BLAS result already *is* the exact product: return it converted to `dtype`
    (no copy for float32) and skip the int32 round trip, two passes over the output.

    TODO: convert both (`_as_array`); both must be int8 (TypeError otherwise), 2-D with
    matching inner sizes (ValueError naming both shapes). If `K * max|qa| * max|qb|`
    exceeds `INT32_MAX`, int32 cannot hold the result: ValueError. Compute the
    magnitudes as Python ints from `min()`/`max()` (`np.abs` of int8 -128 overflows).
    With one chunk, return the float32 product as `dtype`; otherwise accumulate in
    int32 and convert the sum to `dtype` at the end.

    Example:
        >>> int8_matmul(np.array([[127, -127]], np.int8), np.array([[127], [127]], np.int8))
        array([[0]], dtype=int32)
    """
    ### BEGIN SOLUTION
    a, b = _as_array(qa, "int8_matmul: qa"), _as_array(qb, "int8_matmul: qb")
    if a.dtype != np.int8 or b.dtype != np.int8:
        raise TypeError(f"int8_matmul needs int8 matrices, got {a.dtype} and {b.dtype}")
    a, b, _ = _matrix_operands(a, b, "int8_matmul")
    (m, k), n = a.shape, b.shape[1]
    largest_a = max(-int(a.min()), int(a.max())) if a.size else 0
    largest_b = max(-int(b.min()), int(b.max())) if b.size else 0
    term = largest_a * largest_b
    if k * term > INT32_MAX:
        raise ValueError(f"int8_matmul: K={k} terms of up to {term} can overflow the int32 accumulator")
    chunk = FLOAT32_EXACT_INTEGERS // term if term else max(k, 1)
    if chunk >= k:  # one exact float32 product
        return (a.astype(np.float32) @ b.astype(np.float32)).astype(dtype, copy=False)
    acc = np.zeros((m, n), dtype=np.int32)
    for p0 in range(0, k, chunk):
        part = a[:, p0:p0 + chunk].astype(np.float32) @ b[p0:p0 + chunk].astype(np.float32)
        acc += part.astype(np.int32)
    return acc.astype(dtype, copy=False)
    ### END SOLUTION


def quantized_matmul(A: Any, B: Any, scale_A: float | None = None, scale_B: float | None = None) -> Tensor | np.ndarray:
    """Matrix product through symmetric int8: quantize, exact int32 product, rescale.

    TODO: validate (`_matrix_operands`); quantize A and B (`quantize_symmetric`, each
    with its own scale or calibrated); `int8_matmul` straight into the float dtype
    `np.result_type(dtype, 1.0)` (float32 stays float32, integers become float64);
    multiply it in place by `scale_A * scale_B`; wrap with `_like_input`.

    Example:
        >>> quantized_matmul(np.array([[1.0, 2.0]], np.float32), np.array([[3.0], [4.0]], np.float32), 1.0, 1.0)
        array([[11.]], dtype=float32)

    Raises:
        ValueError: shapes as for `matmul_vectorized`, a scale that is not positive,
        or non-finite input.
    """
    ### BEGIN SOLUTION
    a, b, dtype = _matrix_operands(A, B, "quantized_matmul")
    qa, scale_a = quantize_symmetric(a, scale_A)
    qb, scale_b = quantize_symmetric(b, scale_B)
    out = int8_matmul(qa, qb, dtype=np.result_type(dtype, 1.0))
    out *= scale_a * scale_b
    return _like_input(out, A)
    ### END SOLUTION


def quantized_relu(x: Any, scale: float | None = None) -> Tensor | np.ndarray:
    """ReLU in the int8 domain: quantize, `max(q, 0)`, dequantize; same clipping as above.

    TODO: convert (`_as_array`); `quantize_symmetric(arr, scale)`; ReLU on the int8
    values (`np.maximum(q, np.int8(0))`); convert to `np.result_type(arr.dtype, 1.0)`
    and multiply by the scale; wrap with `_like_input`.

    Example (2.0 / 0.01 = 200 saturates at 127, so it comes back as 1.27):
        >>> quantized_relu(np.array([-1.0, 0.26, 2.0], np.float32), scale=0.01)
        array([0.  , 0.26, 1.27], dtype=float32)
    """
    ### BEGIN SOLUTION
    arr = _as_array(x, "quantized_relu: x")
    q, used_scale = quantize_symmetric(arr, scale)
    out = np.asarray(np.maximum(q, np.int8(0))).astype(np.result_type(arr.dtype, 1.0))
    out *= used_scale
    return _like_input(out, x)
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test-int8-matmul", "locked": true, "points": 10, "schema_version": 3, "solution": false, "task": false}
def test_unit_int8_matmul():
    rng = np.random.default_rng(11)
    for m, k, n in ((3, 5, 4), (17, 1040, 9), (6, 1500, 7), (2, 3000, 3), (0, 4, 2), (3, 0, 2)):
        qa = rng.integers(-127, 128, size=(m, k)).astype(np.int8)
        qb = rng.integers(-127, 128, size=(k, n)).astype(np.int8)
        got = int8_matmul(qa, qb)
        reference = qa.astype(np.int64) @ qb.astype(np.int64)
        assert plain(got.dtype) == np.int32 and plain(got.shape) == (m, n), f"result should be int32 ({m}, {n}), got {got.dtype} {got.shape}"
        assert np.array_equal(got, reference), f"int8_matmul should equal the int64 reference exactly for K={k}"
    # The worst case: every term is 127 * 127, sums far beyond float32's exact range.
    for k in (1040, 1041, 5000):
        worst = int8_matmul(np.full((1, k), -127, np.int8), np.full((k, 1), -127, np.int8))
        assert int(worst[0, 0]) == 127 * 127 * k, f"K={k} of (-127)*(-127) should be {127 * 127 * k}, got {int(worst[0, 0])}"
    with_min = int8_matmul(np.full((1, 1030), -128, np.int8), np.full((1030, 1), -128, np.int8))
    assert int(with_min[0, 0]) == 128 * 128 * 1030, "int8 -128 values should also be multiplied exactly"
    for k, dtype in ((1040, np.float32), (3000, np.float32), (3000, np.float64)):
        qa = rng.integers(-127, 128, size=(5, k)).astype(np.int8)
        qb = rng.integers(-127, 128, size=(k, 4)).astype(np.int8)
        as_float = int8_matmul(qa, qb, dtype=dtype)
        exact = (qa.astype(np.int64) @ qb.astype(np.int64)).astype(dtype)  # one rounding, of the exact sum
        assert plain(as_float.dtype) == dtype and np.array_equal(as_float, exact), (
            f"int8_matmul(..., dtype={np.dtype(dtype).name}) with K={k} should be the exact product rounded once to "
            f"{np.dtype(dtype).name}, got {as_float.dtype} differing in {int(np.sum(plain(as_float) != exact))} entries")
    expect_raises(TypeError, lambda: int8_matmul(np.ones((2, 2), np.int32), np.ones((2, 2), np.int8)),
                  naming=["int32"], what="int8_matmul of an int32 matrix (it takes int8 matrices)")
    expect_raises(ValueError, lambda: int8_matmul(np.ones((2, 3), np.int8), np.ones((2, 3), np.int8)),
                  naming=["(2, 3)"], what="int8_matmul of shapes (2, 3) and (2, 3)")

    # Performance: the exact int8 product against numpy's int32 `@`, n = 256, both on one core.
    with one_blas_thread():
        ratio = speed.speedup(int8_matmul, int32_matmul, lambda seed: int8_pair(256, seed), at_least=10,
                              check=exact_matmul_matches, repeats=3, single_core=True)
    assert ratio >= 10, f"int8_matmul should be at least 10x faster than numpy's int32 @ at n=256, got {ratio:.1f}x"
    ### BEGIN HIDDEN TESTS
    tall = rng.integers(-127, 128, size=(4, 2100)).astype(np.int8)
    assert np.array_equal(int8_matmul(tall, tall.T), tall.astype(np.int64) @ tall.T.astype(np.int64)), (
        "a transposed int8 view with K=2100 should still be exact")
    ### END HIDDEN TESTS

test_unit_int8_matmul()

# %% [markdown]
# The two facts behind `int8_matmul`, measured: NumPy's integer `@` against float32
# BLAS on the same int8 data (both on one core), and what goes wrong one term past
# float32's exact range.

# %%
int_rng = np.random.default_rng(16)
q256 = int_rng.integers(-127, 128, size=(256, 256)).astype(np.int8)
q256_i32 = q256.astype(np.int32)
with blas_single_thread():
    int32_s = median_seconds(np.matmul, q256_i32, q256_i32, repeats=3)
    exact_s = median_seconds(int8_matmul, q256, q256, repeats=5)
print(f"n=256: numpy int32 @ {int32_s * 1e3:7.2f} ms, int8_matmul (float32 BLAS) {exact_s * 1e3:6.2f} ms: "
      f"{int32_s / exact_s:.0f}x faster, and equal: {np.array_equal(int8_matmul(q256, q256), q256_i32 @ q256_i32)}")
for k in (1040, 1041):
    ones = np.full((1, k), -127, dtype=np.int8)
    in_float32 = int((ones.astype(np.float32) @ ones.T.astype(np.float32))[0, 0])
    print(f"K={k}: exact sum {127 * 127 * k:,}, one float32 product {in_float32:,}, int8_matmul {int(int8_matmul(ones, ones.T)[0, 0]):,}")

# %% nbgrader={"grade": true, "grade_id": "test-quantized-matmul", "locked": true, "points": 7, "schema_version": 3, "solution": false, "task": false}
def test_unit_quantized_matmul():
    ints_a = np.array([[1.0, -2.0, 3.0], [4.0, 5.0, -6.0]], dtype=np.float32)
    ints_b = np.array([[1.0, 0.0], [2.0, -1.0], [0.0, 3.0]], dtype=np.float32)
    exact = quantized_matmul(ints_a, ints_b, scale_A=1.0, scale_B=1.0)
    assert plain(exact.dtype) == np.float32, f"float32 inputs should give float32, got {exact.dtype}"
    assert np.array_equal(exact, ints_a @ ints_b), f"small integers with scale 1 should be exact: {ints_a @ ints_b}, got {exact}"

    rng = np.random.default_rng(12)
    a = rng.standard_normal((40, 300)).astype(np.float32)
    b = rng.standard_normal((300, 25)).astype(np.float32)
    got = quantized_matmul(a, b)
    scale_a, scale_b = np.abs(a).max() / 127, np.abs(b).max() / 127
    # |a - qa*sa| <= sa/2 and |b - qb*sb| <= sb/2 give this bound per output.
    bound = np.abs(a).astype(np.float64) @ np.full((300, 25), scale_b / 2) + np.full((40, 300), scale_a / 2) @ np.abs(b) \
        + 300 * scale_a * scale_b / 4
    error = np.abs(got.astype(np.float64) - a.astype(np.float64) @ b)
    assert np.all(error <= bound * 1.001 + 1e-4), f"quantization error exceeds the rounding bound (worst {np.max(error - bound):.3g} over)"
    # within the bound is not enough: a float product is too. It must be the exact product of the int8 values.
    q_a, q_b = (np.clip(np.rint(np.divide(m, float(np.abs(m).max()) / 127, dtype=np.float32)), -127, 127).astype(np.int64)
                for m in (a, b))
    exact_q = (q_a @ q_b) * (float(np.abs(a).max()) / 127 * float(np.abs(b).max()) / 127)
    off = ~np.isclose(plain(got), exact_q, rtol=1e-5, atol=scale_a * scale_b / 2)
    assert not off.any(), (f"{off.sum()} of {off.size} entries differ from (q_A @ q_B) * scale_A * scale_B with q the "
                           f"int8 values of A and B: is the product made on the quantized values?")
    assert isinstance(quantized_matmul(Tensor(a), Tensor(b)), Tensor), "Tensor inputs should give a Tensor"
    assert plain(quantized_matmul(a[:0], b).shape) == (0, 25), "an empty A should give an empty result"
    for bad in ({"scale_A": 0.0}, {"scale_B": -2.0}):
        expect_raises(ValueError, lambda: quantized_matmul(a, b, **bad), naming=["scale"],
                      what=f"quantized_matmul with {bad} (scales must be positive)")
    expect_raises(ValueError, lambda: quantized_matmul(a, a), naming=["(40, 300)"],
                  what="quantized_matmul of shapes (40, 300) and (40, 300)")

test_unit_quantized_matmul()

# %% nbgrader={"grade": true, "grade_id": "test-quantized-relu", "locked": true, "points": 5, "schema_version": 3, "solution": false, "task": false}
def test_unit_quantized_relu():
    x = np.array([-1.0, 0.26, 2.0, 0.004], dtype=np.float32)
    got = quantized_relu(x, scale=0.01)
    assert plain(got.dtype) == np.float32, f"float32 input should give float32, got {got.dtype}"
    assert np.allclose(got, [0.0, 0.26, 1.27, 0.0], atol=1e-6), f"with scale 0.01 expected [0, 0.26, 1.27 (saturated), 0], got {got}"
    rng = np.random.default_rng(13)
    y = rng.standard_normal((30, 20)).astype(np.float32)
    auto = quantized_relu(Tensor(y))
    assert isinstance(auto, Tensor), "a Tensor input should give a Tensor"
    scale = np.abs(y).max() / 127
    assert np.all(plain(auto.data) >= 0), "ReLU output must be non-negative"
    assert np.all(np.abs(auto.data - np.maximum(y, 0)) <= scale / 2 + 1e-6), "error should be at most scale / 2"
    expect_raises(ValueError, lambda: quantized_relu(x, scale=0), naming=["scale"], what="quantized_relu with scale=0")

test_unit_quantized_relu()

# %% [markdown]
# ## Part 6 — The roofline: where each kernel sits
#
# Two numbers bound the speed of every kernel on a machine:
#
# - the **peak compute rate** `P` in GFLOP/s (module 10 measures it with a large
#   float32 `@` on all cores), and
# - the **memory bandwidth** `W` in GB/s (measured with a large copy that does not
#   fit in any cache).
#
# A kernel that does `F` FLOPs and must move `Q` bytes to or from memory has
# **arithmetic intensity** `I = F / Q` FLOP/byte. It cannot run faster than
#
# ```
# attainable(I) = min(P, I · W)       (module 10's attainable_gflops)
# ```
#
# Below the **ridge point** `I = P / W` a kernel is **memory-bound**: more arithmetic
# units would not help, fewer bytes would. Above it, it is **compute-bound**. On a
# typical machine the ridge lies at a few to a few tens of FLOP/byte. The cell below
# measures yours.
#
# - **ReLU** on float32: 1 comparison per element, 4 bytes read + 4 written:
#   I = 1/8 FLOP/byte. Its ceiling is `W / 8`, a few GFLOP/s — far under the peak,
#   whatever we do. Only moving fewer bytes helps (fusion, smaller dtypes), or the
#   two cores pulling more of the bandwidth than one.
# - **Matrix product** n × n: 2n³ FLOPs over at least 3n² values moved:
#   I = 2n³ / (3n² · 4 bytes) = n / 6 for float32: about 85 at n = 512, far above
#   the ridge. A good kernel approaches the peak; the triple loop is thousands of
#   times below its roof — its limit is the interpreter, not the hardware.
# - **int8 product**: the same FLOPs with a quarter of the input bytes — even more
#   compute-bound; its speed comes from the float32 BLAS it runs on.

# %%
hardware = detect_hardware()
peak, bandwidth = hardware["peak_gflops"], hardware["memory_bandwidth_gbs"]
print(f"{hardware['cpu_model']}: {hardware['cpu_count']} cores, caches {hardware['cache_sizes']}")
print(f"measured peak {peak:.1f} GFLOP/s, memory bandwidth {bandwidth:.1f} GB/s, "
      f"ridge point {peak / bandwidth:.1f} FLOP/byte\n")

roof_rng = np.random.default_rng(14)
m512 = roof_rng.standard_normal((512, 512)).astype(np.float32)
m64 = m512[:64, :64].copy()
q512 = quantize_symmetric(m512)[0]
relu_input = roof_rng.standard_normal(10**7).astype(np.float32)
placements = [  # name, call, FLOPs, bytes moved at least
    ("matmul_custom n=64", lambda: matmul_custom(m64, m64), 2 * 64**3, 3 * 64**2 * 4),
    ("matmul_vectorized n=512", lambda: matmul_vectorized(m512, m512), 2 * 512**3, 3 * 512**2 * 4),
    ("matmul_cache_optimized n=512", lambda: matmul_cache_optimized(m512, m512), 2 * 512**3, 3 * 512**2 * 4),
    ("matmul_parallel n=512", lambda: matmul_parallel(m512, m512), 2 * 512**3, 3 * 512**2 * 4),
    ("int8_matmul n=512", lambda: int8_matmul(q512, q512), 2 * 512**3, 2 * 512**2 + 4 * 512**2),
    ("vectorized_relu 10^7", lambda: vectorized_relu(relu_input), 10**7, 8 * 10**7),
    ("parallel_relu 10^7", lambda: parallel_relu(relu_input), 10**7, 8 * 10**7),
]
print(f"{'kernel':30s} {'FLOP/byte':>9s} {'GFLOP/s':>9s} {'roof':>8s} {'of roof':>8s}  bound")
for name, call, kernel_flops, kernel_bytes in placements:
    seconds = median_seconds(call, repeats=3) if "custom" not in name else time_kernel(call)[1] / 1e6
    intensity = kernel_flops / kernel_bytes
    roof = attainable_gflops(intensity, peak, bandwidth)
    achieved = kernel_flops / seconds / 1e9
    kind = "memory" if intensity < peak / bandwidth else "compute"
    print(f"{name:30s} {intensity:9.3f} {achieved:9.2f} {roof:8.1f} {achieved / roof:8.1%}  {kind}")


# %% [markdown]
# ## Where the GPU models went
#
# The GPU models and `KernelOptimizationProfiler` are module 12's
# (`tinytorch.core.gpu_models`). Code written when they lived here keeps working:
# `from tinytorch.core.kernels import KernelOptimizationProfiler` still finds them,
# through the module's `__getattr__`, which imports module 12 only when one of
# those names is asked for (module 11 does not need module 12 to work).

# %% nbgrader={"grade": false, "grade_id": "kernels-moved-names", "locked": true, "schema_version": 3, "solution": false, "task": false}
#| export
MOVED_TO_GPU_MODELS = (
    "WARP_SIZE", "SEGMENT_BYTES", "CACHE_LINE_BYTES", "SHARED_MEMORY_BANKS", "SHARED_MEMORY_PER_BLOCK_BYTES",
    "GPU_LINK_BANDWIDTH_GBS", "GPU_LINK_LATENCY_S", "DEFAULT_STEP_COMPUTE_SECONDS", "DEFAULT_FUSION_TENSOR_BYTES",
    "ACCESS_PATTERNS", "TENSOR_CORE_OPERATIONS", "TENSOR_CORE_DIM_MULTIPLE", "TENSOR_CORE_PEAK_RATIO",
    "KNOWN_DATA_TYPES", "DATA_TYPE_ALIASES", "FUSION_KINDS", "FUSION_TRAFFIC",
    "warp_memory_transactions", "bank_conflict_degree", "ring_allreduce_seconds", "KernelOptimizationProfiler",
)


def __getattr__(name: str) -> Any:
    """A name of `MOVED_TO_GPU_MODELS`, from `tinytorch.core.gpu_models` (imported on first use).

    Imported by name, not by an import statement: module 11 does not depend on module 12, so a
    workspace of module 11 alone needs no module 12 until one of these names is asked for.
    """
    if name in MOVED_TO_GPU_MODELS:
        import importlib

        return getattr(importlib.import_module("tinytorch.core.gpu_models"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

# %% [markdown]
# ## Summary
#
# You built `tinytorch.core.kernels` and measured what each technique is worth here:
#
# - **Timing**: `perf_counter`, warm-up, repeats, the median, ratios in one process.
# - **Vectorization**: removing the interpreter and using SIMD/BLAS makes the product
#   thousands of times faster than the triple loop.
# - **Cache blocking**: BLAS already blocks for L1/L2; Python-level blocks only pay
#   at the last-level cache, so the block size comes from the measured cache sizes.
# - **Parallelism**: threads give real speedups because NumPy releases the GIL; BLAS
#   must be pinned to one thread per worker, once, around the whole region.
# - **Quantization**: saturating int8 with exact int32 accumulation; an exact integer
#   product runs on float32 BLAS as long as every partial sum stays below 2²⁴.
# - **Roofline**: compute-bound kernels are judged against the measured peak GFLOP/s,
#   memory-bound ones against the measured GB/s.
#
# Export with `tito export 11` and run `tito module test 11`. Module 12 models what
# these techniques become on a GPU.

# %% nbgrader={"grade": false, "grade_id": "kernels-run-all", "locked": true, "schema_version": 3, "solution": false, "task": false}
if __name__ == "__main__":
    from tito.tools.testing import run_module_tests_auto
    run_module_tests_auto("Kernels")

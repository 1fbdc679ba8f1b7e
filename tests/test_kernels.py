"""tinytorch.core.kernels (module 11): every kernel against numpy and int64 references.

Shapes include 0, 1 and sizes that are not multiples of the block size; operands
are float32 or float64, Tensor or ndarray, contiguous or non-contiguous views.
Speed is not asserted here: it belongs to the benchmark and the graded cells.
"""

from __future__ import annotations

import itertools
import math
import subprocess
import sys
import threading
import time
from typing import Callable
from unittest.mock import patch

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from threadpoolctl import threadpool_info

import tinytorch.core.kernels as kernels
from strategies import (
    dims,
    float_arrays,
    float_arrays_any_shape,
    float_dtypes,
    int8_matrix_pairs,
    matmul_tolerance,
    matmul_view_pairs,
)
from tinytorch.core.kernels import (
    BLOCK_ALIGN,
    DEFAULT_BLOCK_SIZE,
    INT8_LIMIT,
    LLC_FRACTION,
    MIN_BLOCK_SIZE,
    PARALLEL_RELU_MIN_ELEMENTS,
    SMALL_MATRIX_ROWS,
    blas_single_thread,
    blocks,
    cache_friendly_matmul,
    choose_block_size,
    int8_matmul,
    matmul_baseline,
    matmul_cache_optimized,
    matmul_custom,
    matmul_parallel,
    matmul_vectorized,
    parallel_batch_processing,
    parallel_relu,
    quantize_symmetric,
    quantized_matmul,
    quantized_relu,
    run_in_parallel,
    split_range,
    time_kernel,
    vectorized_operations,
    vectorized_relu,
)
from tinytorch.core.tensor import Tensor

FAST_MATMULS = [matmul_baseline, matmul_vectorized, matmul_cache_optimized, matmul_parallel]
LOOP_MATMULS = [matmul_custom, cache_friendly_matmul]  # Python loops: small shapes only
ALL_MATMULS = FAST_MATMULS + LOOP_MATMULS + [quantized_matmul]
EXACT_MATMULS = FAST_MATMULS + LOOP_MATMULS


def reference_product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a.astype(np.float64) @ b.astype(np.float64)


def assert_product(got, a: np.ndarray, b: np.ndarray) -> None:
    expected = reference_product(a, b)
    assert type(got) is np.ndarray
    assert got.shape == expected.shape
    assert got.dtype == np.result_type(a, b)
    np.testing.assert_allclose(got, expected, rtol=0, atol=matmul_tolerance(a.shape[1], got.dtype))


def blas_threads() -> list[int]:
    return [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]


# --- matrix products -------------------------------------------------------------------


@pytest.mark.parametrize("kernel", FAST_MATMULS, ids=lambda k: k.__name__)
@given(pair=matmul_view_pairs(max_dim=24, max_rows=60))
def test_fast_matmuls_match_numpy(kernel, pair):
    a, b = pair
    assert_product(kernel(a, b), a, b)


@pytest.mark.parametrize("kernel", LOOP_MATMULS, ids=lambda k: k.__name__)
@given(pair=matmul_view_pairs(max_dim=9))
def test_loop_matmuls_match_numpy(kernel, pair):
    a, b = pair
    assert_product(kernel(a, b), a, b)


@given(pair=matmul_view_pairs(max_dim=30), block=st.integers(1, 40))
def test_matmul_cache_optimized_any_block_size(pair, block):
    a, b = pair
    assert_product(matmul_cache_optimized(a, b, block_size=block), a, b)


@given(pair=matmul_view_pairs(max_dim=10), block=st.integers(1, 12))
def test_cache_friendly_matmul_any_block_size(pair, block):
    a, b = pair
    assert_product(cache_friendly_matmul(a, b, block_size=block), a, b)


@given(pair=matmul_view_pairs(max_dim=16, max_rows=80), workers=st.integers(1, 9))
def test_matmul_parallel_any_worker_count(pair, workers):
    a, b = pair
    assert_product(matmul_parallel(a, b, num_processes=workers), a, b)


@pytest.mark.parametrize("rows", [SMALL_MATRIX_ROWS - 1, SMALL_MATRIX_ROWS, 3 * SMALL_MATRIX_ROWS + 1])
def test_matmul_parallel_around_the_small_matrix_threshold(rows):
    rng = np.random.default_rng(rows)
    a = rng.standard_normal((rows, 7)).astype(np.float32)
    b = rng.standard_normal((7, 5)).astype(np.float32)
    assert_product(matmul_parallel(a, b, num_processes=4), a, b)


@pytest.mark.parametrize("kernel", EXACT_MATMULS, ids=lambda k: k.__name__)
@given(data=st.data())
@settings(max_examples=20)
def test_integer_matrices_give_the_exact_integer_product(kernel, data):
    m, k, n = data.draw(dims(0, 6)), data.draw(dims(0, 6)), data.draw(dims(0, 6))
    ints = st.integers(-1000, 1000)
    a = data.draw(hnp.arrays(np.int64, (m, k), elements=ints))
    b = data.draw(hnp.arrays(np.int64, (k, n), elements=ints))
    got = kernel(a, b)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, a @ b)


@pytest.mark.parametrize("kernel", ALL_MATMULS, ids=lambda k: k.__name__)
def test_matmul_kind_follows_the_first_input(kernel):
    a = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    from_tensors = kernel(Tensor(a), Tensor(a))
    from_tensor_and_array = kernel(Tensor(a), a)
    from_array_and_tensor = kernel(a, Tensor(a))
    from_lists = kernel([[1.0, 2.0], [3.0, 4.0]], [[1.0, 0.0], [0.0, 1.0]])
    assert isinstance(from_tensors, Tensor) and isinstance(from_tensor_and_array, Tensor)
    assert type(from_array_and_tensor) is np.ndarray and type(from_lists) is np.ndarray
    assert from_tensors.dtype == np.float32 and from_lists.dtype == np.float32  # Python floats are float32
    np.testing.assert_allclose(from_tensors.data, a @ a, rtol=0.02)
    np.testing.assert_allclose(from_lists, [[1.0, 2.0], [3.0, 4.0]], rtol=0.02)


@pytest.mark.parametrize("kernel", ALL_MATMULS, ids=lambda k: k.__name__)
@pytest.mark.parametrize("dtype_a, dtype_b", [(np.float32, np.float32), (np.float32, np.float64),
                                              (np.float64, np.float32), (np.float64, np.float64)])
def test_matmul_dtype_is_numpy_result_type(kernel, dtype_a, dtype_b):
    a = np.arange(6).reshape(2, 3).astype(dtype_a)
    b = np.arange(12).reshape(3, 4).astype(dtype_b)
    assert kernel(a, b).dtype == np.result_type(a, b)


@pytest.mark.parametrize("kernel", ALL_MATMULS, ids=lambda k: k.__name__)
@pytest.mark.parametrize("m, k, n", [(0, 3, 4), (3, 0, 4), (3, 4, 0), (0, 0, 0), (25, 0, 3)])
def test_matmul_empty_inputs(kernel, m, k, n):
    a = np.ones((m, k), dtype=np.float32)
    b = np.ones((k, n), dtype=np.float32)
    got = kernel(a, b)
    assert got.shape == (m, n) and got.dtype == np.float32
    np.testing.assert_array_equal(got, np.zeros((m, n)))


@pytest.mark.parametrize("kernel", ALL_MATMULS, ids=lambda k: k.__name__)
@pytest.mark.parametrize("shape_a, shape_b", [((2, 3), (4, 5)), ((3, 2), (3, 2)), ((1, 7), (6, 1))])
def test_matmul_shape_mismatch_names_both_shapes(kernel, shape_a, shape_b):
    pattern = rf"{kernel.__name__}.*{re_shape(shape_a)}.*{re_shape(shape_b)}"
    with pytest.raises(ValueError, match=pattern):
        kernel(np.ones(shape_a), np.ones(shape_b))


@pytest.mark.parametrize("kernel", ALL_MATMULS, ids=lambda k: k.__name__)
@pytest.mark.parametrize("shape_a, shape_b", [((3,), (3, 2)), ((2, 3), (3,)), ((2, 2, 2), (2, 2)), ((), (1, 1))])
def test_matmul_wrong_rank_is_a_value_error(kernel, shape_a, shape_b):
    with pytest.raises(ValueError, match=r"2-D"):
        kernel(np.ones(shape_a), np.ones(shape_b))


@pytest.mark.parametrize("kernel", ALL_MATMULS, ids=lambda k: k.__name__)
@pytest.mark.parametrize("bad", [[["a", "b"]], [[None]], np.array([["x"]]), [[{"k": 1}]]])
def test_matmul_non_numeric_is_a_type_error(kernel, bad):
    with pytest.raises(TypeError, match="numeric"):
        kernel(bad, np.ones((1, 1)))
    with pytest.raises(TypeError, match="numeric"):
        kernel(np.ones((1, 1)), bad)


@pytest.mark.parametrize("kernel", ALL_MATMULS, ids=lambda k: k.__name__)
def test_matmul_ragged_list_is_a_value_error(kernel):
    with pytest.raises(ValueError, match="ragged"):
        kernel([[1.0, 2.0], [3.0]], np.ones((2, 2)))


@pytest.mark.parametrize("kernel, parameter", [(matmul_cache_optimized, "block_size"),
                                               (cache_friendly_matmul, "block_size"),
                                               (matmul_parallel, "num_processes")])
@pytest.mark.parametrize("value", [0, -1, -64])
def test_non_positive_matmul_parameters_are_value_errors(kernel, parameter, value):
    with pytest.raises(ValueError, match=rf"{parameter} must be positive, got {value}"):
        kernel(np.ones((30, 2)), np.ones((2, 2)), **{parameter: value})


@pytest.mark.parametrize("kernel, parameter", [(matmul_cache_optimized, "block_size"),
                                               (cache_friendly_matmul, "block_size"),
                                               (matmul_parallel, "num_processes")])
@pytest.mark.parametrize("value", [2.5, "4", True])
def test_non_integer_matmul_parameters_are_type_errors(kernel, parameter, value):
    with pytest.raises(TypeError, match=rf"{parameter} must be a positive integer"):
        kernel(np.ones((30, 2)), np.ones((2, 2)), **{parameter: value})


def re_shape(shape: tuple[int, ...]) -> str:
    import re

    return re.escape(str(shape))


def test_matmul_custom_calls_the_module_03_loop(monkeypatch):
    calls = []

    def spy(a, b):
        calls.append((a.shape, b.shape))
        return np.full((a.shape[0], b.shape[1]), 7.0)

    monkeypatch.setattr(kernels, "matmul_naive", spy)
    got = matmul_custom(np.ones((2, 3), np.float32), np.ones((3, 4), np.float32))
    assert calls == [((2, 3), (3, 4))]
    assert got.dtype == np.float32  # the result dtype rule applies to what matmul_naive returns
    np.testing.assert_array_equal(got, np.full((2, 4), 7.0))


def test_matmul_baseline_goes_through_numpy_dot(monkeypatch):
    calls = []
    real_dot = np.dot

    def spy(a, b):
        calls.append(True)
        return real_dot(a, b)

    monkeypatch.setattr(kernels.np, "dot", spy)
    matmul_baseline(np.ones((2, 2)), np.ones((2, 2)))
    assert calls == [True]


def test_matmul_vectorized_returns_numpys_result_without_copy_of_inputs():
    a = np.asfortranarray(np.arange(12, dtype=np.float32).reshape(3, 4))
    np.testing.assert_array_equal(matmul_vectorized(a, a.T), a @ a.T)


def test_matmul_parallel_leaves_blas_threads_as_they_were():
    before = blas_threads()
    rng = np.random.default_rng(0)
    a = rng.standard_normal((64, 16))
    matmul_parallel(a, a.T, num_processes=2)
    assert blas_threads() == before


def test_matmul_parallel_runs_its_row_pieces_with_one_blas_thread(monkeypatch):
    seen = []
    original = kernels.run_in_parallel

    def spy(task, pieces):
        seen.append((list(pieces), blas_threads()))
        return original(task, pieces)

    monkeypatch.setattr(kernels, "run_in_parallel", spy)
    monkeypatch.setattr(kernels, "cpu_count", lambda: 8)
    a = np.random.default_rng(1).standard_normal((90, 8))
    np.testing.assert_allclose(matmul_parallel(a, a.T, num_processes=3), a @ a.T)
    assert seen == [(split_range(90, 3), [1] * len(blas_threads()))]
    matmul_parallel(a[:SMALL_MATRIX_ROWS - 1], a.T, num_processes=3)
    assert len(seen) == 1  # small matrices: one plain product, no threads


def test_parallel_relu_runs_its_chunks_through_run_in_parallel(monkeypatch):
    seen = []
    original = kernels.run_in_parallel
    monkeypatch.setattr(kernels, "run_in_parallel", lambda task, pieces: seen.append(list(pieces)) or original(task, pieces))
    monkeypatch.setattr(kernels, "cpu_count", lambda: 8)
    parallel_relu(np.ones((40, 50)), num_workers=3)
    assert seen == [split_range(2000, 3)]
    parallel_relu(np.ones(PARALLEL_RELU_MIN_ELEMENTS - 1))
    assert len(seen) == 1


@pytest.mark.parametrize("cores, requested, used", [(2, 4, 2), (2, 1, 1), (8, 3, 3), (1, 6, 1), (4, None, 4)])
def test_parallel_kernels_start_at_most_one_worker_per_core(monkeypatch, cores, requested, used):
    seen = []
    original = kernels.run_in_parallel
    monkeypatch.setattr(kernels, "cpu_count", lambda: cores)
    monkeypatch.setattr(kernels, "run_in_parallel", lambda task, pieces: seen.append(len(pieces)) or original(task, pieces))
    a = np.ones((60, 4))
    matmul_parallel(a, a.T) if requested is None else matmul_parallel(a, a.T, num_processes=requested)
    parallel_relu(np.ones(5000)) if requested is None else parallel_relu(np.ones(5000), num_workers=requested)
    expected_relu = min(cores, kernels.DEFAULT_NUM_WORKERS) if requested is None else used
    assert seen == [used, expected_relu]


def test_matmul_parallel_propagates_errors_from_the_workers(monkeypatch):
    def failing_matmul(*args, **kwargs):
        raise FloatingPointError("worker failed")

    monkeypatch.setattr(kernels.np, "matmul", failing_matmul)
    with pytest.raises(FloatingPointError, match="worker failed"):
        matmul_parallel(np.ones((40, 3)), np.ones((3, 3)), num_processes=2)
    monkeypatch.undo()
    assert blas_threads() == blas_threads()  # the controller still answers
    assert kernels._blas_regions == 0  # the BLAS limit was released despite the error


# --- blocking rule ---------------------------------------------------------------------


@pytest.mark.parametrize("itemsize, caches, expected", [
    (4, {"L1d": 32768, "L2": 1048576, "L3": 33554432}, 1152),
    (8, {"L1d": 32768, "L2": 1048576, "L3": 33554432}, 832),
    (4, {"L1d": 32768, "L2": 262144}, 64),  # no L3: the largest cache is the last level
    (4, {"L1d": 49152, "L2": 2097152, "L3": 8388608}, 576),
    (2, {"L3": 33554432}, 1664),
    (4, {}, DEFAULT_BLOCK_SIZE),
    (4, {"L1d": 0, "L2": 0}, DEFAULT_BLOCK_SIZE),
    (8, {"L1d": 1024}, MIN_BLOCK_SIZE),
])
def test_choose_block_size_hand_computed(itemsize, caches, expected):
    assert choose_block_size(itemsize, caches) == expected


@given(itemsize=st.sampled_from([1, 2, 4, 8]), llc=st.integers(1, 2**31))
def test_choose_block_size_is_the_largest_aligned_block_that_fits(itemsize, llc):
    block = choose_block_size(itemsize, {"L1d": min(llc, 32768), "L3": llc})
    budget = LLC_FRACTION * llc
    assert block % BLOCK_ALIGN == 0 and block >= MIN_BLOCK_SIZE
    if block > MIN_BLOCK_SIZE:
        assert 3 * block**2 * itemsize <= budget
    assert 3 * (block + BLOCK_ALIGN) ** 2 * itemsize > budget


def test_choose_block_size_reads_this_machines_caches():
    from tinytorch.utils.profiler import cache_sizes

    assert choose_block_size(4) == choose_block_size(4, cache_sizes())


@pytest.mark.parametrize("itemsize", [0, -4])
def test_choose_block_size_rejects_non_positive_itemsize(itemsize):
    with pytest.raises(ValueError, match="itemsize must be positive"):
        choose_block_size(itemsize, {"L3": 2**25})


# --- helpers -----------------------------------------------------------------------------


@given(total=st.integers(0, 500), parts=st.integers(1, 40))
def test_split_range_covers_the_range_evenly(total, parts):
    pieces = split_range(total, parts)
    assert len(pieces) == min(parts, total)
    assert [i for lo, hi in pieces for i in range(lo, hi)] == list(range(total))
    sizes = [hi - lo for lo, hi in pieces]
    assert all(size >= 1 for size in sizes)
    assert not sizes or max(sizes) - min(sizes) <= 1


def test_split_range_example():
    assert split_range(10, 3) == [(0, 4), (4, 7), (7, 10)]
    assert split_range(0, 4) == []


def test_run_in_parallel_runs_every_piece_once_at_the_same_time():
    meeting = threading.Barrier(4, timeout=10)  # passes only when all four pieces run at once
    ran, lock = {}, threading.Lock()

    def task(lo, hi):
        meeting.wait()
        with lock:
            ran[(lo, hi)] = threading.get_ident()

    pieces = split_range(10, 4)
    run_in_parallel(task, pieces)
    assert sorted(ran) == pieces
    assert ran[pieces[0]] == threading.get_ident()  # the caller works on the first piece
    assert len(set(ran.values())) == 4


def test_run_in_parallel_keeps_its_worker_threads_between_calls():
    workers = []
    for _ in range(3):
        run_in_parallel(lambda lo, hi: lo and workers.append(threading.current_thread()), split_range(4, 2))
    assert len(workers) == 3
    assert all(worker.is_alive() for worker in workers)  # kept for the next call, not started per call


def test_nested_run_in_parallel_finishes_when_every_worker_is_busy():
    done = []

    def inner(lo, hi):
        done.append((lo, hi))

    def outer(lo, hi):  # every piece, in the caller and in the pool, starts another parallel region
        run_in_parallel(inner, [(lo, lo + 1), (lo + 1, hi)])

    finished = threading.Event()
    runner = threading.Thread(target=lambda: (run_in_parallel(outer, split_range(8, 4)), finished.set()), daemon=True)
    runner.start()
    assert finished.wait(timeout=30), "a nested parallel region waited for a piece that no thread would run"
    assert sorted(done) == [(i, i + 1) for i in range(8)]


def test_run_in_parallel_keeps_a_bounded_crew_and_reuses_it_after_errors():
    def crew_size():
        return sum(thread.name == "tinytorch-worker" for thread in threading.enumerate())

    def fail_everywhere(lo, hi):
        raise LookupError(f"piece {lo}")

    run_in_parallel(lambda lo, hi: None, split_range(3, 3))
    before = crew_size()
    for _ in range(20):
        with pytest.raises(LookupError, match="piece 0"):  # the caller's own piece fails first
            run_in_parallel(fail_everywhere, split_range(3, 3))
        run_in_parallel(lambda lo, hi: None, split_range(3, 3))
    assert crew_size() == before  # every failed region gave its workers back, finished


def test_claim_workers_waits_for_every_started_piece_when_the_region_fails():
    finished = []

    def slow(lo, hi):
        time.sleep(0.05)
        finished.append(lo)

    with pytest.raises(RuntimeError, match="caller failed"):
        with kernels.claim_workers(2) as workers:
            for worker, lo in zip(workers, (1, 2)):
                worker.start(slow, lo, lo + 1)
            raise RuntimeError("caller failed")
    assert sorted(finished) == [1, 2]  # both pieces were done before the region ended


def test_parallel_kernels_work_in_a_forked_child():
    code = ("import os, numpy as np\n"
            "from tinytorch.core.kernels import matmul_parallel, parallel_relu\n"
            "a = np.ones((64, 64), np.float32)\n"
            "matmul_parallel(a, a, num_processes=2)\n"  # the parent's pool exists before the fork
            "pid = os.fork()\n"
            "if pid == 0:\n"
            "    ok = matmul_parallel(a, a, num_processes=2)[0, 0] == 64 and parallel_relu(-a, 2).max() == 0\n"
            "    os._exit(0 if ok else 1)\n"
            "print(os.waitpid(pid, 0)[1])\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "0", done.stderr


def test_run_in_parallel_without_pieces_and_with_errors():
    run_in_parallel(lambda lo, hi: 1 / 0, [])  # nothing to run

    def fail_in_a_worker(lo, hi):
        if lo == 5:
            raise OverflowError("piece 5")

    with pytest.raises(OverflowError, match="piece 5"):
        run_in_parallel(fail_in_a_worker, [(0, 5), (5, 9)])
    with pytest.raises(OverflowError, match="piece 5"):
        run_in_parallel(fail_in_a_worker, [(5, 9), (0, 5)])  # in the calling thread


def test_blas_single_thread_limits_and_restores():
    before = blas_threads()
    with blas_single_thread():
        assert blas_threads() and all(n == 1 for n in blas_threads())
        with blas_single_thread():
            assert all(n == 1 for n in blas_threads())
        assert all(n == 1 for n in blas_threads())  # the inner region does not restore
    assert blas_threads() == before


def test_blas_single_thread_region_in_a_worker_does_not_end_the_callers_limit():
    before = blas_threads()
    with blas_single_thread():
        entered, left = threading.Event(), threading.Event()

        def nested_region():
            with blas_single_thread():
                entered.set()
            left.set()

        worker = threading.Thread(target=nested_region)
        worker.start()
        worker.join(10)
        assert entered.is_set() and left.is_set()
        assert all(n == 1 for n in blas_threads())  # the worker's exit did not restore the setting
    assert blas_threads() == before


def test_blas_single_thread_restores_only_when_the_last_overlapping_region_ends():
    # The outermost region takes the limit and the last one to end restores it, whichever threads they run on.
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def first():
        with blas_single_thread():
            first_in.set()
            second_in.wait(5)
        first_out.set()

    def second():
        first_in.wait(5)
        with blas_single_thread():
            second_in.set()
            first_out.wait(5)
            seen["regions"], seen["limited"] = kernels._blas_regions, kernels._blas_saved is not None

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert seen == {"regions": 1, "limited": True}
    assert kernels._blas_regions == 0 and kernels._blas_saved is None


def test_time_kernel_returns_result_and_microseconds():
    result, elapsed = time_kernel(lambda a, b=0: a + b, 2, b=3)
    assert result == 5
    assert isinstance(elapsed, float) and elapsed > 0


def test_time_kernel_propagates_exceptions():
    with pytest.raises(ZeroDivisionError):
        time_kernel(lambda: 1 / 0)


def test_import_is_silent_and_does_not_load_matplotlib():
    code = "import sys, tinytorch.core.kernels; print('matplotlib' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "False\n" and done.stderr == ""


# --- element-wise kernels ----------------------------------------------------------------


@pytest.mark.parametrize("kernel", [vectorized_relu, parallel_relu], ids=lambda k: k.__name__)
@given(x=float_arrays_any_shape())
def test_relu_matches_numpy_on_small_arrays(kernel, x):
    got = kernel(x)
    assert type(got) is np.ndarray and got.shape == x.shape and got.dtype == x.dtype
    np.testing.assert_array_equal(got, np.maximum(x, 0))


@st.composite
def large_arrays_with_layout(draw):
    """Arrays above PARALLEL_RELU_MIN_ELEMENTS: contiguous, transposed, or strided."""
    dtype = draw(float_dtypes)
    rows, cols = draw(st.integers(20, 90)), draw(st.integers(50, 120))
    seed = draw(st.integers(0, 2**32 - 1))
    base = np.random.default_rng(seed).standard_normal((2 * rows, 2 * cols)).astype(dtype)
    return draw(st.sampled_from([base, base.T, base[::2, ::2], base[1::2].T, base.reshape(-1)]))


@given(x=large_arrays_with_layout(), workers=st.integers(1, 9))
def test_parallel_relu_matches_numpy_on_large_arrays(x, workers):
    assert x.size >= PARALLEL_RELU_MIN_ELEMENTS
    got = parallel_relu(x, num_workers=workers)
    assert type(got) is np.ndarray and got.shape == x.shape and got.dtype == x.dtype
    np.testing.assert_array_equal(got, np.maximum(x, 0))


@pytest.mark.parametrize("kernel", [vectorized_relu, parallel_relu], ids=lambda k: k.__name__)
@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64, np.uint8, np.float16, np.float32, np.float64, np.bool_])
@pytest.mark.parametrize("size", [5, 5000])
def test_relu_keeps_every_numeric_dtype(kernel, dtype, size):
    x = (np.arange(size) % 7 - 3).astype(dtype)
    got = kernel(x)
    assert got.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got, np.maximum(x, np.zeros((), dtype)))


@pytest.mark.parametrize("kernel", [vectorized_relu, parallel_relu], ids=lambda k: k.__name__)
def test_relu_kind_and_lists(kernel):
    t = kernel(Tensor(np.array([-1.0, 2.0], np.float32)))
    assert isinstance(t, Tensor) and t.dtype == np.float32
    from_list = kernel([-1.5, 0.0, 2.5])
    assert type(from_list) is np.ndarray and from_list.dtype == np.float32
    np.testing.assert_array_equal(from_list, [0.0, 0.0, 2.5])
    big = kernel(Tensor(np.linspace(-1, 1, 4000)))
    assert isinstance(big, Tensor) and big.dtype == np.float64


@pytest.mark.parametrize("kernel", [vectorized_relu, parallel_relu], ids=lambda k: k.__name__)
def test_relu_rejects_non_numeric(kernel):
    with pytest.raises(TypeError, match="numeric"):
        kernel(["a", "b"])


def test_parallel_relu_writes_a_new_output_and_leaves_the_input():
    x = np.linspace(-1, 1, 10_000, dtype=np.float32)
    copy = x.copy()
    out = parallel_relu(x)
    np.testing.assert_array_equal(x, copy)
    assert not np.shares_memory(out, x)


@pytest.mark.parametrize("workers", [0, -3])
def test_parallel_relu_rejects_non_positive_workers(workers):
    with pytest.raises(ValueError, match=f"num_workers must be positive, got {workers}"):
        parallel_relu(np.ones(10), num_workers=workers)


@st.composite
def equal_shape_pairs(draw):
    dtype = draw(float_dtypes)
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=6))
    return draw(float_arrays(shape, dtype)), draw(float_arrays(shape, dtype))


@given(pair=equal_shape_pairs())
def test_vectorized_operations_match_numpy(pair):
    x, y = pair
    ops = vectorized_operations(x, y)
    assert set(ops) == {"element_wise_multiply", "element_wise_add", "squared_difference",
                        "euclidean_distance", "dot_product"}
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    rtol = 1e-5 if x.dtype == np.float32 else 1e-12
    tiny = np.finfo(x.dtype).tiny  # below the smallest normal number only absolute precision is left
    np.testing.assert_allclose(ops["element_wise_multiply"], x64 * y64, rtol=rtol, atol=tiny)
    np.testing.assert_allclose(ops["element_wise_add"], x64 + y64, rtol=rtol, atol=1e-5)
    np.testing.assert_allclose(ops["squared_difference"], (x64 - y64) ** 2, rtol=rtol, atol=1e-4)
    np.testing.assert_allclose(ops["euclidean_distance"], math.sqrt(np.sum((x64 - y64) ** 2)), rtol=rtol, atol=1e-4)
    np.testing.assert_allclose(ops["dot_product"], np.sum(x64 * y64), rtol=rtol, atol=1e-3)
    for key, value in ops.items():
        assert np.asarray(value).dtype == x.dtype, key
        if key in ("euclidean_distance", "dot_product"):
            assert np.ndim(value) == 0, key
        else:
            assert np.shape(value) == x.shape, key


def test_vectorized_operations_kinds_and_dtypes():
    a = np.array([1.0, 2.0], np.float32)
    ops = vectorized_operations(Tensor(a), a.astype(np.float64))
    assert all(isinstance(value, Tensor) for value in ops.values())
    assert all(value.dtype == np.float64 for value in ops.values())
    from_lists = vectorized_operations([1.0, 2.0], [3.0, 4.0])
    assert float(from_lists["dot_product"]) == 11.0
    assert float(from_lists["euclidean_distance"]) == pytest.approx(math.sqrt(8))


@pytest.mark.parametrize("shape_x, shape_y", [((2, 3), (3,)), ((3,), (4,)), ((2, 1), (2, 2)), ((), (1,))])
def test_vectorized_operations_require_equal_shapes(shape_x, shape_y):
    with pytest.raises(ValueError, match=rf"{re_shape(shape_x)}.*{re_shape(shape_y)}"):
        vectorized_operations(np.ones(shape_x), np.ones(shape_y))


def test_vectorized_operations_reject_non_numeric():
    with pytest.raises(TypeError, match="numeric"):
        vectorized_operations(np.ones(2), ["a", "b"])


# --- batch processing ----------------------------------------------------------------------


@given(items=st.lists(st.integers(-50, 50), max_size=30), workers=st.integers(1, 8))
@settings(max_examples=30)
def test_parallel_batch_processing_keeps_input_order(items, workers):
    def shuffled_finish(v):
        time.sleep((v % 3) * 0.0005)  # items finish out of order
        return v * v + 1

    assert parallel_batch_processing(items, shuffled_finish, num_workers=workers) == [v * v + 1 for v in items]


def test_parallel_batch_processing_uses_several_threads_at_once():
    barrier = threading.Barrier(3, timeout=10)

    def meet(v):
        barrier.wait()  # only returns when three items run at the same time
        return v

    assert parallel_batch_processing([1, 2, 3], meet, num_workers=3) == [1, 2, 3]


def test_parallel_batch_processing_propagates_exceptions():
    def fail_on_odd(v):
        if v % 2:
            raise LookupError(f"item {v}")
        return v

    with pytest.raises(LookupError, match="item 1"):
        parallel_batch_processing(range(6), fail_on_odd, num_workers=3)


def test_parallel_batch_processing_batches():
    assert parallel_batch_processing([], abs) == []
    assert parallel_batch_processing((x for x in [-1, 2]), abs) == [1, 2]
    rows = parallel_batch_processing(Tensor(np.arange(6.0).reshape(3, 2)), lambda row: row.data.tolist())
    assert rows == [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]
    arrays = parallel_batch_processing(np.arange(4).reshape(2, 2), vectorized_relu)
    assert [a.tolist() for a in arrays] == [[0, 1], [2, 3]]


def test_parallel_batch_processing_bad_arguments():
    with pytest.raises(TypeError, match="operation must be callable"):
        parallel_batch_processing([1], "abs")
    for workers in (0, -2):
        with pytest.raises(ValueError, match="num_workers must be positive"):
            parallel_batch_processing([1], abs, num_workers=workers)


# --- int8 quantization ------------------------------------------------------------------------


@given(x=float_arrays_any_shape(bound=1000.0))
def test_quantize_calibrated_maps_the_largest_magnitude_to_127(x):
    q, scale = quantize_symmetric(x)
    assert q.dtype == np.int8 and q.shape == x.shape
    assert isinstance(scale, float) and scale > 0
    assert q.size == 0 or int(np.abs(q.astype(np.int16)).max()) in (0, INT8_LIMIT)
    assert q.size == 0 or int(q.min()) >= -INT8_LIMIT  # -128 is never produced
    # Rounding error at most half a step (plus the float rounding of x / scale).
    error = np.abs(q.astype(np.float64) * scale - x.astype(np.float64))
    assert np.all(error <= scale / 2 * (1 + 1e-5) + 1e-12)


@given(x=float_arrays_any_shape(bound=1000.0), scale=st.floats(1e-3, 100.0))
def test_quantize_with_a_scale_rounds_and_saturates(x, scale):
    q, used = quantize_symmetric(x, scale)
    assert used == scale
    reference = np.clip(np.rint(np.divide(x, scale)), -127, 127)  # in x's dtype, as the kernel computes
    np.testing.assert_array_equal(q, reference.astype(np.int8))


def test_quantize_saturates_instead_of_wrapping():
    q, _ = quantize_symmetric(np.array([200.0, -200.0, 127.4, -127.6, 1e30]), scale=1.0)
    assert q.tolist() == [127, -127, 127, -127, 127]


@pytest.mark.parametrize("x", [np.zeros(5), np.zeros((0, 3)), np.zeros(0, np.float32)])
def test_quantize_all_zero_or_empty(x):
    q, scale = quantize_symmetric(x)
    assert q.shape == x.shape and not q.any() and scale == 1.0


def test_quantize_integer_input():
    q, scale = quantize_symmetric(np.array([-3, 0, 5], np.int32), scale=1.0)
    assert q.tolist() == [-3, 0, 5] and scale == 1.0
    assert quantize_symmetric(Tensor([1.0, -2.0]))[0].tolist() == [64, -127]


@pytest.mark.parametrize("scale, error", [(0.0, ValueError), (-0.5, ValueError), (math.inf, ValueError),
                                          (math.nan, ValueError), ("1", TypeError), (None, None)])
def test_quantize_scale_validation(scale, error):
    x = np.ones(3)
    if error is None:
        quantize_symmetric(x, scale)
        return
    with pytest.raises(error, match="scale must be a"):
        quantize_symmetric(x, scale)


@pytest.mark.parametrize("bad", [np.array([1.0, np.nan]), np.array([np.inf]), np.array([-np.inf, 0.0])])
def test_quantize_rejects_non_finite(bad):
    with pytest.raises(ValueError, match="inf or nan"):
        quantize_symmetric(bad)
    with pytest.raises(ValueError, match="inf or nan"):
        quantize_symmetric(bad, scale=1.0)


@given(x=float_arrays_any_shape(bound=1000.0), block=st.integers(1, 9),
       scale=st.one_of(st.none(), st.floats(1e-3, 100.0)))
def test_quantize_block_by_block_equals_the_whole_array_steps(x, block, scale):
    """The fused passes give exactly what numpy's whole-array steps give, whatever the block size."""
    with patch.object(kernels, "FUSED_BLOCK_ELEMENTS", block):
        q, used = quantize_symmetric(x, scale)
    if scale is None:
        peak = float(np.max(np.abs(x))) if x.size else 0.0
        assert used == (peak / INT8_LIMIT if peak > 0 else 1.0)
    work = x.dtype if used >= np.finfo(x.dtype).tiny else np.float64  # the spec's division dtype
    reference = np.clip(np.rint(np.divide(x, used, dtype=work)), -INT8_LIMIT, INT8_LIMIT)
    assert q.shape == x.shape and q.dtype == np.int8
    np.testing.assert_array_equal(q, reference.astype(np.int8))


def test_quantize_across_real_blocks_finds_the_peak_and_a_nan_in_the_last_block():
    size = 3 * kernels.FUSED_BLOCK_ELEMENTS + 5
    x = np.linspace(-1.0, 1.0, size, dtype=np.float32)
    x[-2] = -4.0  # the largest magnitude sits in the last, partial block
    column = np.stack([x, np.zeros_like(x)], axis=1)[:, 0]  # a strided view: made contiguous first
    assert not column.flags.c_contiguous
    q, scale = quantize_symmetric(column)
    assert scale == np.float32(4.0) / INT8_LIMIT and q.shape == (size,) and q[-2] == -INT8_LIMIT
    np.testing.assert_array_equal(q, np.rint(x / np.float32(scale)).astype(np.int8))
    x[-1] = np.nan
    with pytest.raises(ValueError, match="inf or nan"):
        quantize_symmetric(x)


def test_blocks_cover_the_range_in_order():
    assert list(blocks(0)) == []
    assert list(blocks(7, 3)) == [(0, 3), (3, 6), (6, 7)]
    assert list(blocks(kernels.FUSED_BLOCK_ELEMENTS + 1)) == [(0, kernels.FUSED_BLOCK_ELEMENTS),
                                                             (kernels.FUSED_BLOCK_ELEMENTS,
                                                              kernels.FUSED_BLOCK_ELEMENTS + 1)]


@given(pair=int8_matrix_pairs(max_dim=12, max_k=64))
def test_int8_matmul_equals_the_int64_reference(pair):
    qa, qb = pair
    got = int8_matmul(qa, qb)
    assert got.dtype == np.int32 and got.shape == (qa.shape[0], qb.shape[1])
    np.testing.assert_array_equal(got, qa.astype(np.int64) @ qb.astype(np.int64))


@given(pair=int8_matrix_pairs(max_dim=4, max_k=4000))
@settings(max_examples=25)
def test_int8_matmul_is_exact_for_long_sums(pair):
    qa, qb = pair
    np.testing.assert_array_equal(int8_matmul(qa, qb), qa.astype(np.int64) @ qb.astype(np.int64))


@given(pair=int8_matrix_pairs(max_dim=4, max_k=4000), dtype=st.sampled_from([np.float32, np.float64]))
@settings(max_examples=25)
def test_int8_matmul_into_a_float_dtype_is_the_exact_product_rounded_once(pair, dtype):
    qa, qb = pair
    got = int8_matmul(qa, qb, dtype=dtype)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, (qa.astype(np.int64) @ qb.astype(np.int64)).astype(dtype))


@pytest.mark.parametrize("k, value", [(1024, -128), (1025, -128), (1040, -127), (1041, -127), (1041, 127),
                                      (2081, -127), (10_000, -128), (131_071, -128)])
def test_int8_matmul_worst_case_sums(k, value):
    a = np.full((1, k), value, np.int8)
    b = np.full((k, 2), value, np.int8)
    assert int8_matmul(a, b).tolist() == [[value * value * k] * 2]


def test_int8_matmul_views():
    rng = np.random.default_rng(3)
    base = rng.integers(-128, 128, size=(40, 2200)).astype(np.int8)
    a, b = base[::3, ::2], base[:8].T[::2]  # strided and transposed views
    np.testing.assert_array_equal(int8_matmul(a, b[: a.shape[1]]), a.astype(np.int64) @ b[: a.shape[1]].astype(np.int64))


def test_int8_matmul_errors():
    with pytest.raises(TypeError, match="int8_matmul needs int8 matrices, got int32 and int8"):
        int8_matmul(np.ones((2, 2), np.int32), np.ones((2, 2), np.int8))
    with pytest.raises(TypeError, match="int8"):
        int8_matmul(np.ones((2, 2), np.int8), np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(2, 3\)"):
        int8_matmul(np.ones((2, 3), np.int8), np.ones((2, 3), np.int8))
    with pytest.raises(ValueError, match="2-D"):
        int8_matmul(np.ones(3, np.int8), np.ones((3, 1), np.int8))
    with pytest.raises(ValueError, match="overflow the int32 accumulator"):  # 128 * 128 * 131072 = 2**31
        int8_matmul(np.full((1, 131_072), -128, np.int8), np.full((131_072, 1), -128, np.int8))


def quantization_error_bound(a: np.ndarray, b: np.ndarray, scale_a: float, scale_b: float) -> np.ndarray:
    """|AB - (qa sa)(qb sb)| per output when |a - qa sa| <= sa/2 and |b - qb sb| <= sb/2."""
    a64, b64 = np.abs(a.astype(np.float64)), np.abs(b.astype(np.float64))
    k = a.shape[1]
    return a64.sum(axis=1, keepdims=True) * scale_b / 2 + b64.sum(axis=0, keepdims=True) * scale_a / 2 \
        + k * scale_a * scale_b / 4


@given(pair=matmul_view_pairs(max_dim=20))
def test_quantized_matmul_error_is_within_the_rounding_bound(pair):
    a, b = pair
    got = quantized_matmul(a, b)
    assert type(got) is np.ndarray and got.dtype == np.result_type(a, b) and got.shape == (a.shape[0], b.shape[1])
    scale_a = float(np.abs(a).max()) / 127 if a.size and np.abs(a).max() > 0 else 1.0
    scale_b = float(np.abs(b).max()) / 127 if b.size and np.abs(b).max() > 0 else 1.0
    bound = quantization_error_bound(a, b, scale_a, scale_b)
    error = np.abs(got.astype(np.float64) - reference_product(a, b))
    float_slack = np.finfo(got.dtype).eps * (np.abs(reference_product(a, b)) + bound) * 4 + 1e-9
    assert np.all(error <= bound * (1 + 1e-6) + float_slack)


@given(data=st.data())
def test_quantized_matmul_of_small_integers_with_unit_scales_is_exact(data):
    m, k, n = data.draw(dims(0, 8)), data.draw(dims(0, 40)), data.draw(dims(0, 8))
    ints = st.integers(-127, 127)
    a = data.draw(hnp.arrays(np.int64, (m, k), elements=ints)).astype(np.float32)
    b = data.draw(hnp.arrays(np.int64, (k, n), elements=ints)).astype(np.float32)
    got = quantized_matmul(a, b, scale_A=1.0, scale_B=1.0)
    np.testing.assert_array_equal(got, (a.astype(np.int64) @ b.astype(np.int64)).astype(np.float32))


def test_quantized_matmul_int8_data_with_unit_scales_is_the_int64_product():
    rng = np.random.default_rng(5)
    a = rng.integers(-127, 128, size=(30, 1500)).astype(np.int8)
    b = rng.integers(-127, 128, size=(1500, 20)).astype(np.int8)
    got = quantized_matmul(a, b, scale_A=1.0, scale_B=1.0)
    assert got.dtype == np.float64  # integers dequantize to numpy's float for them
    np.testing.assert_array_equal(got, a.astype(np.int64) @ b.astype(np.int64))


@pytest.mark.parametrize("kwargs", [{"scale_A": 0.0}, {"scale_B": -1.0}, {"scale_A": math.nan}, {"scale_B": math.inf}])
def test_quantized_matmul_rejects_bad_scales(kwargs):
    with pytest.raises(ValueError, match="must be a finite positive number"):
        quantized_matmul(np.ones((2, 2)), np.ones((2, 2)), **kwargs)


def test_quantized_matmul_rejects_non_finite_data():
    with pytest.raises(ValueError, match="inf or nan"):
        quantized_matmul(np.array([[np.nan]]), np.ones((1, 1)))


@given(x=float_arrays_any_shape(bound=100.0))
def test_quantized_relu_is_relu_within_half_a_step(x):
    got = quantized_relu(x)
    assert type(got) is np.ndarray and got.shape == x.shape and got.dtype == x.dtype
    assert np.all(got >= 0)
    scale = float(np.abs(x).max()) / 127 if x.size and np.abs(x).max() > 0 else 1.0
    error = np.abs(got.astype(np.float64) - np.maximum(x.astype(np.float64), 0))
    # float tolerance: relative for the dequantized value, absolute below the dtype's smallest normal number
    assert np.all(error <= scale / 2 * (1 + 1e-5) + np.finfo(x.dtype).eps * 128 * scale + np.finfo(x.dtype).tiny)


def test_quantized_relu_saturates_and_keeps_kind():
    got = quantized_relu(Tensor(np.array([-1.0, 0.26, 2.0], np.float32)), scale=0.01)
    assert isinstance(got, Tensor) and got.dtype == np.float32
    np.testing.assert_allclose(got.data, [0.0, 0.26, 1.27], atol=1e-6)
    assert quantized_relu(np.array([-3, 4], np.int32), scale=1.0).tolist() == [0.0, 4.0]
    with pytest.raises(ValueError, match="scale must be a finite positive number"):
        quantized_relu(np.ones(2), scale=-1.0)
    with pytest.raises(TypeError, match="numeric"):
        quantized_relu(["x"])


# ---------------------------------------------------------------- the lesson's speed-check helpers
# The graded cells of module 11 judge speed through the helpers of its locked test-helper cells.
# Sleeping contenders take the same time however busy the machine is, and sleeps
# in two threads overlap, so these tests check the helpers' arithmetic and verdicts
# without depending on this machine's speed.

SLEEP = 0.02  # seconds: long against a busy machine's wake-up delays


@pytest.fixture(scope="module")
def lesson():
    """The kernels lesson's exported cells and its test-helper cells, run in one namespace."""
    from helpers import REPO
    from tito.notebook.source import read_source

    namespace = {"__name__": "kernels_lesson"}
    for cell in read_source(REPO / "modules" / "11_kernels" / "kernels_dev.py").cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        if cell.cell_type == "code" and ("#| export" in cell.source or grade_id.endswith("-test-helpers")):
            exec(compile(cell.source, grade_id, "exec"), namespace)
    return namespace


def sleeper(seconds):
    return lambda *args: time.sleep(seconds)


def test_speedup_is_the_ratio_of_medians_and_checks_every_timed_result():
    from tito.tools import speed

    checked = []
    ratio = speed.speedup(sleeper(SLEEP), sleeper(4 * SLEEP), lambda seed: (seed,), at_least=1.0,
                          check=lambda result, seed: checked.append(seed), repeats=4)
    assert 3.0 < ratio < 4.5
    assert len(checked) >= 4, f"every timed result of the kernel is checked, got {len(checked)} checks"


def test_speedup_measures_a_kernel_near_its_mark_again_and_one_far_below_it_until_the_miss_repeats():
    from tito.tools import speed

    def counted(seconds, calls):
        def kernel(*args):
            calls.append(args)
            time.sleep(seconds)
        return kernel

    near, far = [], []
    per_measurement = speed.WARM_UP_CALLS + 2  # each call lasts longer than a sample must: one call per sample
    ratio = speed.speedup(counted(1.25 * SLEEP, near), sleeper(SLEEP), lambda seed: (seed,), at_least=1.0, repeats=2)
    assert 0.6 < ratio < 1.0
    assert len(near) == speed.SPEED_ATTEMPTS * per_measurement, "a kernel that might pass when quieter is timed again"
    ratio = speed.speedup(counted(4 * SLEEP, far), sleeper(SLEEP), lambda seed: (seed,), at_least=1.0, repeats=2)
    assert ratio < 0.3
    assert speed.FAR_MISSES < speed.SPEED_ATTEMPTS
    assert len(far) == speed.FAR_MISSES * per_measurement, (
        "a miss by more than two quiet spreads is decided once it repeats, not after every attempt")


def test_one_measurement_slowed_alike_in_every_call_does_not_decide_a_miss():
    """A machine can slow every call of one measurement alike: quiet, far below the mark, and wrong. The
    next measurement, undisturbed, decides."""
    from tito.tools import speed

    calls = []

    def slowed_at_first(*args):  # the warm-up calls and the first measurement: 8 times slower
        calls.append(args)
        time.sleep((8 if len(calls) <= speed.WARM_UP_CALLS + 3 else 1) * SLEEP / 4)

    ratio = speed.speedup(slowed_at_first, sleeper(SLEEP), lambda seed: (seed,), at_least=2.0, repeats=3)
    assert ratio >= 2.0, f"the undisturbed measurement should pass (about 4x), got {ratio:.2f}x"


def test_a_miss_is_decided_only_beyond_two_quiet_spreads():
    from tito.tools import speed

    spread = speed.QUIET_SPREAD ** 2
    assert speed.missed_by_far([1.0, 1.1], [1.0, 1.2], at_least=spread * 1.01)
    assert not speed.missed_by_far([1.0, 1.1], [1.0, 1.2], at_least=spread * 0.99)
    assert not speed.missed_by_far([2.0], [1.0], at_least=0.5 * spread * 0.99), "the fastest samples decide"


def test_a_failed_result_check_fails_the_speed_check():
    from tito.tools import speed

    def wrong(result, *args):
        raise AssertionError("entry (0, 0) is wrong")

    with pytest.raises(AssertionError, match="entry"):
        speed.speedup(sleeper(SLEEP), sleeper(SLEEP), lambda seed: (seed,), at_least=1.0, check=wrong)


def test_parallel_gain_of_a_parallel_and_of_a_serial_kernel(lesson):
    def two_at_once(*args):  # two sleeps in two threads: they overlap, like a parallel kernel's pieces
        helper = threading.Thread(target=time.sleep, args=(SLEEP,))
        helper.start()
        time.sleep(SLEEP)
        helper.join()

    make = lambda seed: (seed,)  # noqa: E731
    measured = lesson["parallel_gain"](two_at_once, sleeper(2 * SLEEP), make, sleeper(SLEEP), check=lambda *a: None)
    assert 1.6 < measured.machine < 2.2 and 1.6 < measured.kernel < 2.2
    assert measured.kernel >= lesson["required_parallel_gain"](measured.machine)
    serial = lesson["parallel_gain"](sleeper(2 * SLEEP), sleeper(2 * SLEEP), make, sleeper(SLEEP), check=lambda *a: None)
    assert serial.kernel < 1.2 < lesson["required_parallel_gain"](serial.machine)


def test_parallel_gain_is_inconclusive_when_the_machine_shows_no_gain(lesson):
    from tito.tools.speed import Inconclusive

    lock = threading.Lock()

    def one_at_a_time(*args):  # the reference can never overlap: like a machine whose cores are all taken
        with lock:
            time.sleep(SLEEP)

    with pytest.raises(Inconclusive, match="parallel gain"):
        lesson["parallel_gain"](sleeper(SLEEP), sleeper(SLEEP), lambda seed: (seed,), one_at_a_time,
                                check=lambda *a: None)


def test_parallel_gain_counts_a_machine_whose_threads_overlap_only_in_some_samples(lesson):
    """The machine's threads share one CPU in most samples of a measurement, and run at once in two of
    every seven: its fastest sample, seen twice, is what it can do, and a parallel kernel is measured
    against it (no longer inconclusive because the median is slow). A serial kernel still misses."""
    from tito.tools import speed

    lock, turns = threading.Lock(), itertools.count()

    def sometimes_at_once(*args):  # the pool's call of a `together` sample waits for the other in 5 of every 7
        if threading.current_thread() is not threading.main_thread() and next(turns) % 7 < 2:
            time.sleep(SLEEP)
            return
        with lock:
            time.sleep(SLEEP)

    def two_at_once(*args):
        helper = threading.Thread(target=time.sleep, args=(SLEEP,))
        helper.start()
        time.sleep(SLEEP)
        helper.join()

    make = lambda seed: (seed,)  # noqa: E731
    measured = lesson["parallel_gain"](two_at_once, sleeper(2 * SLEEP), make, sometimes_at_once, check=lambda *a: None)
    assert 1.6 < measured.machine < 2.2 and measured.kernel >= lesson["required_parallel_gain"](measured.machine)
    serial = lesson["parallel_gain"](sleeper(2 * SLEEP), sleeper(2 * SLEEP), make, sometimes_at_once, check=lambda *a: None)
    assert serial.kernel < 1.2 < lesson["required_parallel_gain"](serial.machine)
    assert speed.PARALLEL_ATTEMPTS > speed.SPEED_ATTEMPTS, "a kernel kept on one CPU by the scheduler gets more tries"


def test_required_parallel_gain_is_a_share_of_the_machine_s_extra_speed(lesson):
    share = lesson["PARALLEL_SHARE"]
    assert lesson["required_parallel_gain"](1.0) == 1.0
    assert lesson["required_parallel_gain"](2.0) == pytest.approx(1 + share)
    assert lesson["required_parallel_gain"](64.0) == pytest.approx(1 + 63 * share)


def test_structure_helpers_see_inside_the_kernels(lesson):
    calls = lesson["run_in_parallel_calls"](lambda: lesson["parallel_relu"](np.ones(5000, np.float32), 2))
    assert calls == [lesson["split_range"](5000, min(2, kernels.cpu_count()))]
    result, asked = lesson["block_sizes_asked"](lambda: lesson["matmul_cache_optimized"](np.ones((4, 4)), np.ones((4, 4))), 3)
    assert asked == [8] and np.array_equal(result, np.full((4, 4), 4.0))
    assert lesson["pieces_meeting"]([(0, 1), (1, 2), (2, 3)]) == (True, [(0, 1), (1, 2), (2, 3)])
    assert lesson["most_items_at_once"](range(4), num_workers=2) == 2


def graded_test(lesson: dict, grade_id: str, **replaced) -> Callable[[], None]:
    """The test function of module 11's graded cell `grade_id`, run in a copy of the lesson's namespace
    where `replaced` stand for the lesson's own functions."""
    from helpers import REPO
    from tito.notebook.source import read_source

    namespace = {**lesson, **replaced}
    (cell,) = [c for c in read_source(REPO / "modules" / "11_kernels" / "kernels_dev.py").cells
               if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id]
    (name,) = [line.split("(")[0][4:] for line in cell.source.splitlines() if line.startswith("def test_unit_")]
    exec(compile(cell.source.replace(f"\n{name}()", ""), grade_id, "exec"), namespace)
    return namespace[name]


def test_the_quantized_product_check_refuses_a_float_product_within_the_rounding_bound(lesson):
    def float_product(A, B, scale_A=None, scale_B=None):  # validates as asked, then skips the int8 step
        a, b, dtype = lesson["_matrix_operands"](A, B, "quantized_matmul")
        if any(s is not None and not s > 0 for s in (scale_A, scale_B)):
            raise ValueError(f"scale must be positive, got {scale_A}, {scale_B}")
        return lesson["_like_input"]((a @ b).astype(np.result_type(dtype, 1.0)), A)

    graded_test(lesson, "test-quantized-matmul")()  # the reference passes
    with pytest.raises(AssertionError, match=r"1000 of 1000 entries differ from \(q_A @ q_B\)"):
        graded_test(lesson, "test-quantized-matmul", quantized_matmul=float_product)()

"""The speed checks' product check: every correct product passes, wrong ones fail, for far less work."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tito.tools.spotcheck import ROWS_RECOMPUTED, product_matches

dims = st.integers(1, 40)


@settings(max_examples=60, deadline=None)
@given(m=dims, k=dims, n=dims, seed=st.integers(0, 2**32 - 1))
def test_a_correct_integer_product_passes_and_one_wrong_entry_fails(m, k, n, seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(-128, 128, size=(m, k)).astype(np.int8)
    b = rng.integers(-128, 128, size=(k, n)).astype(np.int8)
    exact = a.astype(np.int64) @ b.astype(np.int64)
    product_matches(exact.astype(np.int32), a, b)
    wrong = exact.copy()
    wrong[rng.integers(m), rng.integers(n)] += int(rng.choice([-1, 1]))
    with pytest.raises(AssertionError, match="exact"):
        product_matches(wrong.astype(np.int32), a, b)


@settings(max_examples=60, deadline=None)
@given(m=dims, k=dims, n=dims, seed=st.integers(0, 2**32 - 1), tolerance=st.sampled_from([1e-3, 1e-5]))
def test_a_product_within_the_tolerance_everywhere_always_passes(m, k, n, seed, tolerance):
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal((m, k)).astype(np.float32), rng.standard_normal((k, n)).astype(np.float32)
    expected = a.astype(np.float64) @ b.astype(np.float64)
    # every entry pushed to the edge of np.isclose's allowance, with the sign that hurts the projection most
    edge = expected + np.sign(rng.standard_normal(expected.shape)) * 0.999 * (tolerance + tolerance * np.abs(expected))
    product_matches(edge, a, b, tolerance)
    product_matches((a @ b).astype(np.float32), a, b, 1e-3)


def test_a_wrong_entry_in_a_recomputed_row_is_named():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    b = np.ones((4, 2), dtype=np.float32)
    got = a.astype(np.float64) @ b
    got[1, 0] += 0.5
    with pytest.raises(AssertionError, match=r"1 entries .* by more than 0.001, e.g. at \(1, 0\)"):
        product_matches(got, a, b, 1e-3)


def test_rows_left_uncomputed_fail_the_projection_though_no_recomputed_row_sees_them():
    n = 200
    rng = np.random.default_rng(7)
    a, b = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    got = a @ b
    rows = np.random.default_rng(1).choice(n, size=ROWS_RECOMPUTED, replace=False)
    skipped = np.setdiff1d(np.arange(n), rows)[: n // 2]
    got[skipped] = 0.0
    with pytest.raises(AssertionError, match="random projection"):
        product_matches(got, a, b, 1e-3, rng=np.random.default_rng(1))
    ints = rng.integers(-127, 128, size=(2, n, n)).astype(np.int8)
    exact = ints[0].astype(np.int64) @ ints[1].astype(np.int64)
    exact[skipped] = 0
    with pytest.raises(AssertionError, match="random projection"):
        product_matches(exact, ints[0], ints[1], rng=np.random.default_rng(1))


def test_shape_and_dtype_errors_say_what_was_expected():
    a, b = np.ones((2, 3), np.int8), np.ones((3, 4), np.int8)
    with pytest.raises(AssertionError, match=r"shape \(2, 4\)"):
        product_matches(np.ones((4, 2), np.int32), a, b)
    with pytest.raises(AssertionError, match="integer dtype"):
        product_matches(np.ones((2, 4)) * 3, a, b)
    product_matches(np.zeros((0, 4), np.int32), np.ones((0, 3), np.int8), b)


def test_values_too_large_for_int64_projections_are_compared_whole():
    a = np.full((40, 2), 2**40, dtype=np.int64)
    b = np.full((2, 2), 2**20, dtype=np.int64)
    product_matches(a @ b, a, b)
    rows = np.random.default_rng(3).choice(40, size=ROWS_RECOMPUTED, replace=False)
    wrong = a @ b
    wrong[np.setdiff1d(np.arange(40), rows)[0], 0] -= 1
    with pytest.raises(AssertionError, match="differs from the exact product"):
        product_matches(wrong, a, b, rng=np.random.default_rng(3))

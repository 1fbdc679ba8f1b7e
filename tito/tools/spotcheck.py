"""Checking a timed matrix product in full for a small part of what computing it again costs.

A speed check verifies every result its kernel returns, and computing each product
again would cost the judge more than the timing does: numpy's exact int64 product at
n = 256 takes about twenty times as long as the int8 kernel it checks. So, once the
call has returned and its result has been fetched, the judge draws from the operating
system's random source:

- a random vector `r`, and compares `got @ r` with `a @ (b @ r)` (Freivalds' check,
  n² work). Every entry of `got` enters it, so a product left partly uncomputed fails;
- a few random rows, which it computes again in full and compares entry by entry with
  the same tolerance as the lesson's correctness tests.

A product within the tolerance everywhere always passes both: the vector check's bound
follows from the entrywise one. With integers (`tolerance=None`) both are exact, in
int64, and a wrong product passes the vector check with probability at most one in a
million.
"""

from __future__ import annotations

import secrets
from typing import Any

import numpy as np

ROWS_RECOMPUTED = 16
SIGN_BITS = 20  # integer vectors draw from [-2**20, 2**20]: a wrong exact product escapes with p <= 2**-21
INT64_HEADROOM = 2**62


def _rng() -> np.random.Generator:
    return np.random.default_rng(secrets.randbits(128))


def product_matches(got: Any, a: np.ndarray, b: np.ndarray, tolerance: float | None = None,
                    rng: np.random.Generator | None = None) -> None:
    """Assert that the plain array `got` is the product `a @ b`: exactly when `tolerance` is None
    (integers), else within `tolerance` absolute plus `tolerance` relative to the float64 product."""
    rng = _rng() if rng is None else rng
    shape = (a.shape[0], b.shape[1])
    assert type(got) is np.ndarray and got.shape == shape, (
        f"the product of {a.shape} and {b.shape} should be an ndarray of shape {shape}, got {got!r:.80}")
    if got.size == 0:
        return
    rows = rng.choice(shape[0], size=min(ROWS_RECOMPUTED, shape[0]), replace=False)
    if tolerance is None:
        _exact(got, a.astype(np.int64), b.astype(np.int64), rows, rng)
    else:
        _close(got, a.astype(np.float64), b.astype(np.float64), rows, tolerance, rng)


def _first(wrong: np.ndarray, rows: np.ndarray) -> tuple[int, int]:
    """The position in the whole product of the first wrong entry among the recomputed rows."""
    i, j = np.argwhere(wrong)[0]
    return int(rows[i]), int(j)


def _exact(got: np.ndarray, a: np.ndarray, b: np.ndarray, rows: np.ndarray, rng: np.random.Generator) -> None:
    assert np.issubdtype(got.dtype, np.integer), f"an exact integer product should have an integer dtype, got {got.dtype}"
    expected_rows = a[rows] @ b
    wrong = got[rows] != expected_rows
    assert not wrong.any(), (
        f"{int(wrong.sum())} entries of a timed product differ from the exact int64 product, e.g. at "
        f"{_first(wrong, rows)}")
    k, n = b.shape
    largest = max(int(np.abs(a).max(initial=0)) * int(np.abs(b).max(initial=0)) * k,
                  int(np.abs(got.astype(np.int64)).max(initial=0)), 1)
    bound = min(2**SIGN_BITS, INT64_HEADROOM // (largest * max(k, n) + 1))
    if bound < 2:  # too large for int64 vectors: compare the whole product
        assert np.array_equal(got.astype(object), a.astype(object) @ b.astype(object)), (
            "a timed product differs from the exact product")
        return
    r = rng.integers(-bound, bound + 1, size=n, dtype=np.int64)
    assert np.array_equal(got.astype(np.int64) @ r, a @ (b @ r)), (
        "a timed product differs from the exact int64 product (a random projection of it disagrees)")


def _close(got: np.ndarray, a: np.ndarray, b: np.ndarray, rows: np.ndarray, tolerance: float,
           rng: np.random.Generator) -> None:
    expected_rows = a[rows] @ b
    wrong = ~np.isclose(got[rows], expected_rows, rtol=tolerance, atol=tolerance)
    assert not wrong.any(), (
        f"{int(wrong.sum())} entries of a timed product differ from numpy's float64 product by more than "
        f"{tolerance}, e.g. at {_first(wrong, rows)}")
    got = got.astype(np.float64)
    assert np.isfinite(got).all(), "a timed product has entries that are not finite"
    r = rng.choice(np.array([-1.0, 1.0]), size=b.shape[1])
    # |got - a @ b| <= tol + tol * |a @ b| entrywise bounds the projection's difference by
    # tol * n + tol * (|a| @ |b|) @ 1, plus the rounding of the float64 products themselves
    magnitude = np.abs(a) @ (np.abs(b) @ np.ones(b.shape[1]))
    rounding = 1e-12 * (magnitude + np.abs(got) @ np.ones(b.shape[1]))
    allowed = tolerance * b.shape[1] + tolerance * magnitude + rounding
    off = np.abs(got @ r - a @ (b @ r)) > allowed
    assert not off.any(), (
        f"{int(off.sum())} rows of a timed product differ from numpy's float64 product "
        f"(a random projection of them disagrees by more than the tolerance allows), e.g. row {int(np.argmax(off))}")

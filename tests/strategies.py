"""Hypothesis strategies shared by the test suite.

Values are kept finite and moderate so that float32 results can be compared with
a float64 numpy reference at a tolerance that scales with the problem size.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

FLOAT_DTYPES = (np.float32, np.float64)

float_dtypes = st.sampled_from(FLOAT_DTYPES)


def dims(min_value: int = 0, max_value: int = 24) -> st.SearchStrategy[int]:
    """A dimension length; 0 and 1 are always in range by default."""
    return st.integers(min_value=min_value, max_value=max_value)


def float_arrays(shape, dtype=np.float64, bound: float = 10.0) -> st.SearchStrategy[np.ndarray]:
    """Arrays of finite floats in [-bound, bound]."""
    elements = st.floats(-bound, bound, allow_nan=False, allow_infinity=False, width=32)
    return hnp.arrays(dtype=dtype, shape=shape, elements=elements)


@st.composite
def matmul_pairs(draw, max_dim: int = 24, dtype=None, bound: float = 10.0):
    """(A, B) with A of shape (m, k) and B of shape (k, n); m, k, n may be 0 or 1."""
    dtype = dtype if dtype is not None else draw(float_dtypes)
    m, k, n = draw(dims(0, max_dim)), draw(dims(0, max_dim)), draw(dims(0, max_dim))
    a = draw(float_arrays((m, k), dtype, bound))
    b = draw(float_arrays((k, n), dtype, bound))
    return a, b


@st.composite
def broadcastable_pairs(draw, dtype=None, bound: float = 10.0):
    """Two arrays whose shapes broadcast together (numpy's rules)."""
    dtype = dtype if dtype is not None else draw(float_dtypes)
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=5))
    a = draw(float_arrays(shapes.input_shapes[0], dtype, bound))
    b = draw(float_arrays(shapes.input_shapes[1], dtype, bound))
    return a, b


def matmul_tolerance(k: int, dtype) -> float:
    """Absolute tolerance for a length-k dot product of values bounded by 10."""
    eps = np.finfo(dtype).eps
    return float(eps) * max(k, 1) * 100.0 * 8

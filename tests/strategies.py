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


# --- tensor, activation, layer and convolution suites -------------------------------


def small_shapes(min_dims: int = 0, max_dims: int = 4, max_side: int = 5) -> st.SearchStrategy[tuple[int, ...]]:
    """Array shapes whose sides may be 0 or 1 (0-d shapes included by default)."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=0, max_side=max_side)


@st.composite
def float_arrays_any_shape(draw, min_dims: int = 0, max_dims: int = 4, dtype=None, bound: float = 10.0):
    """A float32 or float64 array of any small shape, sizes 0 and 1 included."""
    dtype = dtype if dtype is not None else draw(float_dtypes)
    return draw(float_arrays(draw(small_shapes(min_dims, max_dims)), dtype, bound))


@st.composite
def arrays_and_axis(draw, min_dims: int = 1, max_dims: int = 4, dtype=None, bound: float = 10.0):
    """(array, axis) with a valid, possibly negative, axis of the array."""
    array = draw(float_arrays_any_shape(min_dims, max_dims, dtype, bound))
    axis = draw(st.integers(-array.ndim, array.ndim - 1))
    return array, axis


@st.composite
def conv_pairs(draw, max_side: int = 9, dtype=None, bound: float = 10.0):
    """(image, kernel): a 2-D image and a 2-D kernel that fits inside it (sides >= 1)."""
    dtype = dtype if dtype is not None else draw(float_dtypes)
    height, width = draw(dims(1, max_side)), draw(dims(1, max_side))
    kernel_h, kernel_w = draw(dims(1, height)), draw(dims(1, width))
    image = draw(float_arrays((height, width), dtype, bound))
    kernel = draw(float_arrays((kernel_h, kernel_w), dtype, bound))
    return image, kernel


# --- kernels suite ---------------------------------------------------------------

MATRIX_LAYOUTS = ("contiguous", "transposed", "strided")


@st.composite
def matrices_with_layout(draw, shape: tuple[int, int], dtype=np.float64, bound: float = 10.0):
    """A 2-D array of `shape`: contiguous, a transposed view, or a strided slice of a larger array."""
    rows, cols = shape
    layout = draw(st.sampled_from(MATRIX_LAYOUTS))
    if layout == "transposed":
        return draw(float_arrays((cols, rows), dtype, bound)).T
    if layout == "strided":
        return draw(float_arrays((2 * rows, 2 * cols + 1), dtype, bound))[::2, 1::2]
    return draw(float_arrays(shape, dtype, bound))


@st.composite
def matmul_view_pairs(draw, max_dim: int = 24, max_rows: int | None = None, dtype=None, bound: float = 10.0):
    """(A, B) like `matmul_pairs`, each operand possibly a non-contiguous view; A may have up to `max_rows` rows."""
    dtype = dtype if dtype is not None else draw(float_dtypes)
    m = draw(dims(0, max_rows if max_rows is not None else max_dim))
    k, n = draw(dims(0, max_dim)), draw(dims(0, max_dim))
    return draw(matrices_with_layout((m, k), dtype, bound)), draw(matrices_with_layout((k, n), dtype, bound))


@st.composite
def int8_matrix_pairs(draw, max_dim: int = 12, max_k: int = 64):
    """(qa, qb) int8 matrices of shapes (m, k) and (k, n), from a seeded generator.

    Half of the draws use only the extreme values -128, -127 and 127, the worst case
    for exact accumulation.
    """
    m, n, k = draw(dims(0, max_dim)), draw(dims(0, max_dim)), draw(dims(0, max_k))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if draw(st.booleans()):
        extremes = np.array([-128, -127, 127], dtype=np.int8)
        return rng.choice(extremes, size=(m, k)), rng.choice(extremes, size=(k, n))
    return (rng.integers(-128, 128, size=(m, k)).astype(np.int8),
            rng.integers(-128, 128, size=(k, n)).astype(np.int8))

"""tinytorch.core.layers (module 03) against numpy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from strategies import dims, float_arrays, float_dtypes, matmul_pairs, matmul_tolerance
from tinytorch.core.layers import Dense, Linear, matmul_naive, xavier_uniform
from tinytorch.core.tensor import Tensor

# --- matmul_naive ---------------------------------------------------------------------


@given(matmul_pairs())
def test_matmul_naive_matches_numpy(pair):
    a, b = pair
    got = matmul_naive(a, b)
    expected = a.astype(np.float64) @ b.astype(np.float64)
    assert type(got) is np.ndarray
    assert got.shape == expected.shape
    assert got.dtype == a.dtype  # float32 in -> float32 out, float64 in -> float64 out
    np.testing.assert_allclose(got, expected, rtol=0, atol=matmul_tolerance(a.shape[1], a.dtype))


def test_matmul_naive_hand_computed():
    got = matmul_naive([[1.0, 2.0, 3.0]], [[4.0], [5.0], [6.0]])
    np.testing.assert_array_equal(got, [[32.0]])


@given(matmul_pairs(max_dim=6, dtype=np.float32))
def test_matmul_naive_returns_the_kind_of_its_first_input(pair):
    a, b = pair
    from_tensor = matmul_naive(Tensor(a), b)
    from_array = matmul_naive(a, Tensor(b))
    assert isinstance(from_tensor, Tensor)
    assert type(from_array) is np.ndarray
    assert from_tensor.dtype == from_array.dtype == np.float32
    np.testing.assert_array_equal(from_tensor.data, from_array)


@pytest.mark.parametrize(
    "dtype_a, dtype_b",
    [(np.float32, np.float64), (np.int64, np.float32), (np.int32, np.int64), (np.float64, np.float32)],
)
def test_matmul_naive_dtype_is_numpy_result_type(dtype_a, dtype_b):
    a = np.arange(6).reshape(2, 3).astype(dtype_a)
    b = np.arange(12).reshape(3, 4).astype(dtype_b)
    got = matmul_naive(a, b)
    assert got.dtype == np.result_type(a, b)
    np.testing.assert_array_equal(got, a.astype(np.float64) @ b.astype(np.float64))


@given(st.data(), dims(0, 6), dims(0, 6), dims(0, 6))
def test_matmul_naive_integers_are_exact(data, m, k, n):
    ints = st.integers(-1000, 1000)
    a = data.draw(hnp.arrays(np.int64, (m, k), elements=ints))
    b = data.draw(hnp.arrays(np.int64, (k, n), elements=ints))
    got = matmul_naive(a, b)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, a @ b)


@given(matmul_pairs(max_dim=8))
def test_matmul_naive_accepts_non_contiguous_views(pair):
    a, b = pair
    a_fortran = np.asfortranarray(a)  # column-major copy of the same values
    b_strided = np.repeat(b, 2, axis=1)[:, ::2]  # a strided view equal to b
    got = matmul_naive(a_fortran, b_strided)
    np.testing.assert_array_equal(got, matmul_naive(a, b))


@pytest.mark.parametrize("m, k, n", [(0, 3, 2), (3, 0, 2), (2, 3, 0), (0, 0, 0)])
def test_matmul_naive_empty_dimensions(m, k, n):
    got = matmul_naive(np.ones((m, k), np.float32), np.ones((k, n), np.float32))
    assert got.shape == (m, n) and got.dtype == np.float32
    assert np.all(got == 0)


@given(matmul_pairs(max_dim=8))
def test_matmul_naive_agrees_with_tensor_matmul(pair):
    a, b = pair
    np.testing.assert_allclose(
        matmul_naive(Tensor(a), Tensor(b)).data,
        (Tensor(a) @ Tensor(b)).data,
        rtol=0,
        atol=2 * matmul_tolerance(a.shape[1], a.dtype),
    )


@pytest.mark.parametrize("shape_a, shape_b", [((2, 3), (4, 5)), ((1, 2), (1, 2)), ((3, 0), (1, 3))])
def test_matmul_naive_inner_mismatch_names_both_shapes(shape_a, shape_b):
    with pytest.raises(ValueError, match=rf"{re_shape(shape_a)}.*{re_shape(shape_b)}"):
        matmul_naive(np.ones(shape_a), np.ones(shape_b))


@pytest.mark.parametrize("shape_a, shape_b", [((3,), (3, 2)), ((2, 3), (3,)), ((2, 2, 2), (2, 2)), ((), (1, 1))])
def test_matmul_naive_requires_2d(shape_a, shape_b):
    with pytest.raises(ValueError, match="2-D"):
        matmul_naive(np.ones(shape_a), np.ones(shape_b))


@pytest.mark.parametrize("bad_a, bad_b", [([["a", "b"]], [[1.0], [2.0]]), ([[1.0]], None), ([[1.0]], [[object()]])])
def test_matmul_naive_non_numeric_raises_type_error(bad_a, bad_b):
    with pytest.raises(TypeError, match="numeric"):
        matmul_naive(bad_a, bad_b)


def test_matmul_naive_ragged_list_raises_value_error():
    with pytest.raises(ValueError, match="ragged"):
        matmul_naive([[1.0, 2.0], [3.0]], [[1.0], [2.0]])


# --- xavier_uniform -------------------------------------------------------------------


def test_xavier_uniform_bound_variance_and_dtype():
    fan_in, fan_out = 300, 500
    w = xavier_uniform((fan_in, fan_out), fan_in, fan_out)
    assert isinstance(w, Tensor) and w.shape == (fan_in, fan_out) and w.dtype == np.float32
    bound = np.sqrt(6.0 / (fan_in + fan_out))
    assert np.abs(w.data).max() <= np.float32(bound)  # float32 rounding may reach, never pass, the bound
    # 150000 uniform draws: relative error of the sample variance has std ~0.23%
    assert w.data.var() == pytest.approx(2.0 / (fan_in + fan_out), rel=0.03)
    assert abs(w.data.mean()) < 0.01 * bound


@given(st.tuples(dims(1, 4), dims(1, 4), dims(1, 3)))
def test_xavier_uniform_any_shape_within_bound(shape):
    fan = int(np.prod(shape))
    w = xavier_uniform(shape, fan, fan)
    assert w.shape == shape
    assert np.abs(w.data).max() <= np.float32(np.sqrt(6.0 / (2 * fan)))


def test_xavier_uniform_is_reproducible_with_numpy_seed():
    np.random.seed(123)
    first = xavier_uniform((4, 5), 4, 5).data
    np.random.seed(123)
    second = xavier_uniform((4, 5), 4, 5).data
    np.testing.assert_array_equal(first, second)


def test_xavier_uniform_rejects_zero_fans():
    with pytest.raises(ValueError, match="fan_in"):
        xavier_uniform((0, 0), 0, 0)


# --- Dense ----------------------------------------------------------------------------


@given(
    batch=dims(0, 6),
    input_size=dims(1, 8),
    output_size=dims(1, 8),
    dtype=float_dtypes,
    use_bias=st.booleans(),
    data=st.data(),
)
def test_dense_forward_matches_numpy(batch, input_size, output_size, dtype, use_bias, data):
    layer = Dense(input_size, output_size, use_bias=use_bias)
    bias = data.draw(float_arrays((output_size,), np.float32)) if use_bias else None
    if use_bias:
        layer.bias = Tensor(bias)
    x = data.draw(float_arrays((batch, input_size), dtype))
    got = layer(Tensor(x))
    expected = x.astype(np.float64) @ layer.weights.data.astype(np.float64)
    if use_bias:
        expected = expected + bias
    assert isinstance(got, Tensor)
    assert got.shape == (batch, output_size)
    assert got.dtype == np.result_type(x, np.float32)  # float32 in -> float32 out
    np.testing.assert_allclose(got.data, expected, rtol=0, atol=matmul_tolerance(input_size, got.dtype) + 1e-5)


def test_dense_hand_computed():
    layer = Dense(2, 2)
    layer.weights = Tensor([[1.0, 2.0], [3.0, 4.0]])
    layer.bias = Tensor([10.0, 20.0])
    got = layer.forward(Tensor([[1.0, 1.0]]))
    np.testing.assert_array_equal(got.data, [[14.0, 26.0]])


def test_dense_parameters_are_xavier_float32():
    layer = Dense(200, 100)
    assert layer.input_size == 200 and layer.output_size == 100
    assert layer.weights.shape == (200, 100) and layer.weights.dtype == np.float32
    bound = np.sqrt(6.0 / 300)
    assert np.abs(layer.weights.data).max() <= np.float32(bound)
    assert layer.weights.data.var() == pytest.approx(2.0 / 300, rel=0.05)
    assert layer.bias.shape == (100,) and layer.bias.dtype == np.float32
    assert not layer.bias.data.any()
    assert Dense(3, 2, use_bias=False).bias is None


def test_dense_accepts_numpy_integer_sizes():
    assert Dense(np.int64(3), np.int32(2)).weights.shape == (3, 2)


def test_linear_is_dense():
    assert Linear is Dense
    assert "Dense(input_size=3, output_size=2" in repr(Linear(3, 2))


@pytest.mark.parametrize("sizes", [(0, 3), (3, 0), (-2, 3)])
def test_dense_non_positive_size_raises_value_error(sizes):
    with pytest.raises(ValueError, match="must be at least 1"):
        Dense(*sizes)


@pytest.mark.parametrize("sizes", [(2.5, 3), (3, "4"), (True, 3), (None, 3)])
def test_dense_non_integer_size_raises_type_error(sizes):
    with pytest.raises(TypeError, match="must be an int"):
        Dense(*sizes)


@pytest.mark.parametrize("shape", [(4, 5), (3,), (2, 3, 1), ()])
def test_dense_wrong_input_shape_names_both_shapes(shape):
    layer = Dense(3, 2)
    with pytest.raises(ValueError, match=rf"\(3, 2\).*{re_shape(shape)}"):
        layer(Tensor(np.ones(shape, np.float32)))


def test_dense_non_numeric_input_raises_type_error():
    with pytest.raises(TypeError, match="numeric"):
        Dense(2, 2)([["a", "b"]])


def re_shape(shape: tuple[int, ...]) -> str:
    """A regex matching the printed form of `shape`, e.g. '\\(2, 3\\)'."""
    return str(tuple(shape)).replace("(", r"\(").replace(")", r"\)")

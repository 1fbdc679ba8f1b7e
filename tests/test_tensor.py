"""tinytorch.core.tensor (module 01) against numpy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from strategies import (
    arrays_and_axis,
    broadcastable_pairs,
    float_arrays,
    float_arrays_any_shape,
    float_dtypes,
    matmul_pairs,
    matmul_tolerance,
    small_shapes,
)
from tinytorch.core.tensor import Tensor

OPERATORS = {
    "+": (lambda a, b: a + b),
    "-": (lambda a, b: a - b),
    "*": (lambda a, b: a * b),
    "/": (lambda a, b: a / b),
}


# --- construction ---------------------------------------------------------------------


@given(float_arrays_any_shape(dtype=np.float64))
def test_nested_lists_of_python_floats_become_float32(array):
    values = array.tolist()
    expected = np.array(values, dtype=np.float32)  # a list loses shapes such as (0, 3)
    t = Tensor(values)
    assert t.dtype == np.float32
    assert t.shape == expected.shape
    np.testing.assert_array_equal(t.data, expected)


@given(st.floats(-1e6, 1e6, width=32))
def test_python_float_becomes_float32_scalar(value):
    t = Tensor(value)
    assert t.shape == () and t.dtype == np.float32
    assert float(t.data) == value


def test_python_ints_and_bools_keep_their_kind():
    assert Tensor([1, 2, 3]).dtype == np.dtype(int)
    assert Tensor([True, False]).dtype == np.bool_


@given(float_arrays_any_shape())
def test_ndarray_keeps_dtype_and_is_wrapped_without_copy(array):
    t = Tensor(array)
    assert t.dtype == array.dtype
    if array.size:
        assert np.shares_memory(t.data, array)
    np.testing.assert_array_equal(t.data, array)


def test_numpy_scalar_keeps_dtype():
    assert Tensor(np.float64(1.5)).dtype == np.float64
    assert Tensor(np.float16(1.5)).dtype == np.float16


@given(float_arrays_any_shape(), float_dtypes)
def test_dtype_argument_casts(array, dtype):
    values = array.tolist()
    t = Tensor(values, dtype=dtype)
    assert t.dtype == dtype
    np.testing.assert_array_equal(t.data, np.array(values, dtype=dtype))


def test_tensor_of_tensor_has_same_values_and_dtype():
    inner = Tensor(np.arange(4, dtype=np.float64))
    outer = Tensor(inner)
    assert outer.dtype == np.float64
    np.testing.assert_array_equal(outer.data, inner.data)


@pytest.mark.parametrize("ragged", [[[1, 2], [3]], [[1.0], [2.0, 3.0]], [[[1, 2]], [[3, 4], [5, 6]]]])
def test_ragged_list_raises_value_error(ragged):
    with pytest.raises(ValueError, match="ragged"):
        Tensor(ragged)


@pytest.mark.parametrize("bad", ["abc", None, ["a", "b"], {"x": 1}, [1.0, None], object()])
def test_non_numeric_data_raises_type_error(bad):
    with pytest.raises(TypeError, match="numeric"):
        Tensor(bad)


@pytest.mark.parametrize("bad_dtype", [str, object, "U3"])
def test_non_numeric_dtype_raises_type_error(bad_dtype):
    with pytest.raises(TypeError, match="numeric"):
        Tensor([1.0, 2.0], dtype=bad_dtype)


# --- properties, repr, __array__ ------------------------------------------------------


@given(small_shapes(), float_dtypes)
def test_properties_match_numpy(shape, dtype):
    array = np.zeros(shape, dtype=dtype)
    t = Tensor(array)
    assert t.shape == array.shape
    assert t.size == array.size and isinstance(t.size, int)
    assert t.ndim == array.ndim
    assert t.dtype == array.dtype


def test_repr_names_values_shape_and_dtype():
    text = repr(Tensor([[1.0, 2.0]]))
    assert text.startswith("Tensor(")
    assert "(1, 2)" in text and "float32" in text and "2." in text


@given(float_arrays_any_shape())
def test_numpy_functions_accept_a_tensor(array):
    t = Tensor(array)
    np.testing.assert_array_equal(np.asarray(t), array)
    np.testing.assert_array_equal(np.negative(t), -array)
    assert np.asarray(t, dtype=np.float16).dtype == np.float16


def test_array_protocol_honours_copy_argument():
    array = np.arange(3.0)
    t = Tensor(array)
    assert np.shares_memory(np.asarray(t), array)
    assert not np.shares_memory(np.array(t, copy=True), array)


# --- arithmetic and broadcasting ------------------------------------------------------


@pytest.mark.parametrize("symbol", list(OPERATORS))
@given(pair=broadcastable_pairs())
def test_elementwise_ops_broadcast_like_numpy(symbol, pair):
    a, b = pair
    op = OPERATORS[symbol]
    with np.errstate(all="ignore"):
        expected = op(a, b)
        got = op(Tensor(a), Tensor(b))
    assert isinstance(got, Tensor)
    assert got.shape == expected.shape
    assert got.dtype == expected.dtype == a.dtype
    np.testing.assert_array_equal(got.data, expected)


@pytest.mark.parametrize("symbol", list(OPERATORS))
@given(array=float_arrays_any_shape(), scalar=st.floats(0.5, 4.0) | st.integers(1, 5))
def test_python_scalars_on_either_side_keep_the_tensor_dtype(symbol, array, scalar):
    op = OPERATORS[symbol]
    t = Tensor(array)
    with np.errstate(all="ignore"):
        right, left = op(t, scalar), op(scalar, t)
        expected_right, expected_left = op(array, scalar), op(scalar, array)
    assert right.dtype == left.dtype == array.dtype
    np.testing.assert_array_equal(right.data, expected_right)
    np.testing.assert_array_equal(left.data, expected_left)


@given(pair=broadcastable_pairs(dtype=np.float32))
def test_ndarray_on_the_left_gives_a_tensor(pair):
    a, b = pair
    got = a + Tensor(b)
    assert isinstance(got, Tensor)
    np.testing.assert_array_equal(got.data, a + b)


def test_float32_with_float64_promotes_like_numpy():
    got = Tensor(np.ones(2, np.float32)) * Tensor(np.ones(2, np.float64))
    assert got.dtype == np.float64


def test_list_operand_is_converted():
    got = Tensor([1.0, 2.0]) + [0.5, 0.25]
    assert isinstance(got, Tensor) and got.dtype == np.float32
    np.testing.assert_array_equal(got.data, np.array([1.5, 2.25], np.float32))


@pytest.mark.parametrize("symbol", list(OPERATORS))
@pytest.mark.parametrize("shape_a, shape_b", [((2, 3), (4,)), ((3,), (2,)), ((2, 1, 5), (3, 4))])
def test_shape_mismatch_names_both_shapes(symbol, shape_a, shape_b):
    with pytest.raises(ValueError, match=rf"{re_shape(shape_a)}.*{re_shape(shape_b)}"):
        OPERATORS[symbol](Tensor(np.ones(shape_a)), Tensor(np.ones(shape_b)))


@pytest.mark.parametrize("bad", ["abc", None, object()])
def test_non_numeric_operand_raises_type_error(bad):
    with pytest.raises(TypeError, match="numeric"):
        Tensor([1.0]) + bad
    with pytest.raises(TypeError, match="numeric"):
        bad * Tensor([1.0])


# --- matrix product -------------------------------------------------------------------


@given(matmul_pairs())
def test_matmul_matches_numpy(pair):
    a, b = pair
    got = Tensor(a) @ Tensor(b)
    expected = a.astype(np.float64) @ b.astype(np.float64)
    assert got.shape == expected.shape
    assert got.dtype == a.dtype
    np.testing.assert_allclose(got.data, expected, rtol=0, atol=matmul_tolerance(a.shape[1], a.dtype) * 10)


def test_matmul_batch_and_vector_follow_np_matmul():
    a = np.arange(24.0).reshape(2, 3, 4)
    b = np.arange(4.0)
    np.testing.assert_array_equal((Tensor(a) @ Tensor(b)).data, a @ b)
    np.testing.assert_array_equal((b @ Tensor(a.transpose(0, 2, 1))).data, b @ a.transpose(0, 2, 1))


@pytest.mark.parametrize("shape_a, shape_b", [((2, 3), (4, 5)), ((3,), (4,)), ((2, 3), ())])
def test_matmul_mismatch_names_both_shapes(shape_a, shape_b):
    with pytest.raises(ValueError, match=rf"{re_shape(shape_a)}.*{re_shape(shape_b)}"):
        Tensor(np.ones(shape_a)) @ Tensor(np.ones(shape_b))


# --- views ----------------------------------------------------------------------------


@given(float_arrays_any_shape())
def test_reshape_to_flat_and_back(array):
    t = Tensor(array)
    flat = t.reshape(-1)
    np.testing.assert_array_equal(flat.data, array.reshape(-1))
    np.testing.assert_array_equal(flat.reshape(array.shape).data, array)
    np.testing.assert_array_equal(t.reshape((array.size, 1)).data, array.reshape(array.size, 1))


def test_reshape_returns_a_view_when_numpy_can():
    array = np.arange(6.0)
    assert np.shares_memory(Tensor(array).reshape(2, 3).data, array)


@pytest.mark.parametrize("target", [(5,), (2, 2), (-1, 4)])
def test_bad_reshape_names_both_shapes(target):
    with pytest.raises(ValueError, match=rf"\(2, 3\).*{re_shape(target)}"):
        Tensor(np.ones((2, 3))).reshape(target)


@given(float_arrays_any_shape())
def test_T_reverses_axes(array):
    got = Tensor(array).T
    np.testing.assert_array_equal(got.data, array.T)
    assert got.shape == array.T.shape


@given(data=st.data(), array=float_arrays_any_shape(min_dims=2))
def test_transpose_swaps_two_axes(data, array):
    np.testing.assert_array_equal(Tensor(array).transpose().data, np.swapaxes(array, -2, -1))
    dim0 = data.draw(st.integers(-array.ndim, array.ndim - 1))
    dim1 = data.draw(st.integers(-array.ndim, array.ndim - 1))
    np.testing.assert_array_equal(Tensor(array).transpose(dim0, dim1).data, np.swapaxes(array, dim0, dim1))


# --- reductions -----------------------------------------------------------------------


def reduction_tolerance(count: int, dtype) -> float:
    """Bound on the rounding error of summing `count` values of size <= 10."""
    return float(np.finfo(dtype).eps) * max(count, 1) * 10.0 * 4


@given(float_arrays_any_shape())
def test_sum_of_everything(array):
    got = Tensor(array).sum()
    assert got.shape == () and got.dtype == array.dtype
    np.testing.assert_allclose(got.data, array.astype(np.float64).sum(), rtol=0,
                               atol=reduction_tolerance(array.size, array.dtype))


@given(arrays_and_axis(), st.booleans())
def test_sum_along_axis(pair, keepdims):
    array, axis = pair
    got = Tensor(array).sum(axis=axis, keepdims=keepdims)
    expected = array.astype(np.float64).sum(axis=axis, keepdims=keepdims)
    assert got.shape == expected.shape and got.dtype == array.dtype
    np.testing.assert_allclose(got.data, expected, rtol=0, atol=reduction_tolerance(array.shape[axis], array.dtype))


@given(arrays_and_axis(), st.booleans())
def test_mean_along_axis(pair, keepdims):
    array, axis = pair
    if array.shape[axis] == 0:
        return  # the mean of nothing is undefined (numpy warns and gives nan)
    got = Tensor(array).mean(axis=axis, keepdims=keepdims)
    expected = array.astype(np.float64).mean(axis=axis, keepdims=keepdims)
    assert got.shape == expected.shape and got.dtype == array.dtype
    np.testing.assert_allclose(got.data, expected, rtol=0, atol=reduction_tolerance(array.shape[axis], array.dtype))


def test_sum_over_several_axes():
    array = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(Tensor(array).sum(axis=(0, 2)).data, array.sum(axis=(0, 2)))


def test_mean_of_python_floats_is_float32():
    got = Tensor([1.0, 2.0, 4.0]).mean()
    assert got.dtype == np.float32
    assert float(got.data) == pytest.approx(7.0 / 3.0, rel=1e-6)


# --- comparison helper ----------------------------------------------------------------


@given(float_arrays(st.integers(1, 5).map(lambda n: (n,)), np.float32))
def test_allclose_compares_values(array):
    t = Tensor(array)
    assert t.allclose(array.copy())
    assert not t.allclose(array + 1.0)


def re_shape(shape: tuple[int, ...]) -> str:
    """A regex matching the printed form of `shape`, e.g. '\\(2, 3\\)'."""
    return str(tuple(shape)).replace("(", r"\(").replace(")", r"\)")

"""tinytorch.core.activations (module 02) against numpy and the math module."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from strategies import arrays_and_axis, float_arrays_any_shape
from tinytorch.core.activations import ReLU, Sigmoid, Softmax, Tanh
from tinytorch.core.tensor import Tensor

ACTIVATIONS = [ReLU, Sigmoid, Tanh, Softmax]
EXTREMES = {
    np.float32: [-1000.0, -100.0, -88.8, 0.0, 88.8, 100.0, 1000.0, 3e38],
    np.float64: [-1000.0, -710.0, 0.0, 710.0, 1000.0, 1e300, -1e300],
}


def tolerance(dtype) -> dict:
    return {"rtol": 1e-5, "atol": 1e-7} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-15}


def strict_numerics():
    """Any numpy floating-point problem or warning becomes an exception."""
    return np.errstate(over="raise", invalid="raise", divide="raise")


# --- common behaviour -----------------------------------------------------------------


@pytest.mark.parametrize("activation", ACTIVATIONS)
@given(array=float_arrays_any_shape(min_dims=1))
def test_shape_and_float_dtype_are_preserved(activation, array):
    got = activation()(Tensor(array))
    assert isinstance(got, Tensor)
    assert got.shape == array.shape
    assert got.dtype == array.dtype


@pytest.mark.parametrize("activation", [ReLU, Sigmoid, Tanh])
def test_elementwise_activations_accept_scalars(activation):
    got = activation()(Tensor(0.0))
    assert got.shape == () and got.dtype == np.float32


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_call_is_forward_and_accepts_arrays(activation):
    x = np.array([[-1.0, 0.5, 2.0]], dtype=np.float32)
    layer = activation()
    np.testing.assert_array_equal(layer(x).data, layer.forward(Tensor(x)).data)
    assert isinstance(layer(x), Tensor)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_non_numeric_input_raises_type_error(activation):
    with pytest.raises(TypeError, match="numeric"):
        activation()(["a", "b"])


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_ragged_input_raises_value_error(activation):
    with pytest.raises(ValueError, match="ragged"):
        activation()([[1.0, 2.0], [3.0]])


@pytest.mark.parametrize("activation", [Sigmoid, Tanh, Softmax])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_inputs_give_no_warning_and_no_nan(activation, dtype):
    x = np.array(EXTREMES[dtype], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with strict_numerics():
            got = activation()(Tensor(x)).data
    assert not np.isnan(got).any()
    assert got.dtype == dtype


@pytest.mark.parametrize("activation", [Sigmoid, Tanh])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_largest_finite_inputs_saturate_without_warning(activation, dtype):
    largest = np.finfo(dtype).max
    x = np.array([-largest, largest], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with strict_numerics():
            got = activation()(Tensor(x)).data
    low = 0.0 if activation is Sigmoid else -1.0
    np.testing.assert_array_equal(got, [low, 1.0])


@pytest.mark.parametrize("activation", [Sigmoid, Tanh, Softmax])
def test_integer_input_becomes_float32(activation):
    assert activation()(Tensor([[-2, 0, 3]])).dtype == np.float32


def test_repr_names_the_activation():
    assert repr(ReLU()) == "ReLU()"
    assert repr(Softmax(axis=0)) == "Softmax(axis=0)"


# --- ReLU -----------------------------------------------------------------------------


@given(float_arrays_any_shape(bound=1000.0))
def test_relu_matches_definition(array):
    got = ReLU()(Tensor(array)).data
    expected = np.where(array > 0, array, 0).astype(array.dtype)
    np.testing.assert_array_equal(got, expected)


def test_relu_keeps_integers():
    got = ReLU()(Tensor(np.array([-3, 0, 5], dtype=np.int32)))
    assert got.dtype == np.int32
    assert got.data.tolist() == [0, 0, 5]


# --- Sigmoid --------------------------------------------------------------------------


def sigmoid_reference(x: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-x) elementwise with Python's math module, in float64."""

    def one(value: float) -> float:
        return 1.0 / (1.0 + math.exp(-value)) if value >= -700 else math.exp(value)

    return np.vectorize(one, otypes=[np.float64])(x.astype(np.float64))


@given(float_arrays_any_shape(bound=1000.0))
def test_sigmoid_matches_math_reference(array):
    with strict_numerics():
        got = Sigmoid()(Tensor(array)).data
    np.testing.assert_allclose(got, sigmoid_reference(array), **tolerance(array.dtype))


def test_sigmoid_hand_computed():
    got = Sigmoid()(Tensor([0.0, math.log(3.0), -math.log(3.0)])).data
    np.testing.assert_allclose(got, [0.5, 0.75, 0.25], rtol=1e-6)


@given(float_arrays_any_shape(dtype=np.float64, bound=30.0))
def test_sigmoid_symmetry(array):
    np.testing.assert_allclose(Sigmoid()(Tensor(-array)).data, 1 - Sigmoid()(Tensor(array)).data, atol=1e-15)


# --- Tanh -----------------------------------------------------------------------------


@given(float_arrays_any_shape(bound=1000.0))
def test_tanh_matches_math_reference(array):
    with strict_numerics():
        got = Tanh()(Tensor(array)).data
    expected = np.vectorize(math.tanh, otypes=[np.float64])(array.astype(np.float64))
    np.testing.assert_allclose(got, expected, **tolerance(array.dtype))


def test_tanh_saturates_to_plus_minus_one():
    np.testing.assert_array_equal(Tanh()(Tensor([-1000.0, 1000.0])).data, [-1.0, 1.0])


# --- Softmax --------------------------------------------------------------------------


def softmax_reference(x: np.ndarray, axis: int) -> np.ndarray:
    """exp(x - logsumexp(x)) along `axis`, in float64 (logaddexp never overflows)."""
    x = x.astype(np.float64)
    return np.exp(x - np.logaddexp.reduce(x, axis=axis, keepdims=True))


@given(arrays_and_axis(bound=1000.0))
def test_softmax_matches_logsumexp_reference(pair):
    array, axis = pair
    with strict_numerics():
        got = Softmax(axis=axis)(Tensor(array)).data
    assert got.shape == array.shape and got.dtype == array.dtype
    np.testing.assert_allclose(got, softmax_reference(array, axis), **tolerance(array.dtype))


@given(arrays_and_axis(dtype=np.float64, bound=10.0))
def test_softmax_matches_literal_formula_on_moderate_inputs(pair):
    array, axis = pair
    expected = np.exp(array) / np.exp(array).sum(axis=axis, keepdims=True)
    np.testing.assert_allclose(Softmax(axis=axis)(Tensor(array)).data, expected, rtol=1e-12, atol=1e-300)


@given(arrays_and_axis(bound=1000.0))
def test_softmax_slices_sum_to_one(pair):
    array, axis = pair
    got = Softmax(axis=axis)(Tensor(array)).data
    assert np.all(got >= 0)
    if array.shape[axis] > 0:
        np.testing.assert_allclose(got.sum(axis=axis), 1.0, rtol=1e-5 if array.dtype == np.float32 else 1e-12)


@given(arrays_and_axis(dtype=np.float64, bound=10.0), st.floats(-500, 500))
def test_softmax_is_shift_invariant(pair, shift):
    array, axis = pair
    np.testing.assert_allclose(
        Softmax(axis=axis)(Tensor(array + shift)).data, Softmax(axis=axis)(Tensor(array)).data, rtol=1e-9, atol=1e-300
    )


def test_softmax_default_axis_is_last():
    x = np.array([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]], dtype=np.float32)
    np.testing.assert_allclose(Softmax()(Tensor(x)).data, softmax_reference(x, -1), rtol=1e-6)
    assert Softmax().axis == -1


def test_softmax_hand_computed():
    got = Softmax()(Tensor([[0.0, math.log(3.0)], [1000.0, 1000.0]])).data
    np.testing.assert_allclose(got, [[0.25, 0.75], [0.5, 0.5]], rtol=1e-6)


def test_softmax_of_empty_axis_is_empty():
    got = Softmax()(Tensor(np.zeros((3, 0), np.float32)))
    assert got.shape == (3, 0) and got.dtype == np.float32


@pytest.mark.parametrize("axis, shape", [(2, (3, 4)), (-3, (3, 4)), (1, (5,))])
def test_softmax_axis_out_of_range_raises_value_error(axis, shape):
    with pytest.raises(ValueError, match="axis"):
        Softmax(axis=axis)(Tensor(np.zeros(shape, np.float32)))

"""tinytorch.core.cnn (module 05) against numpy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from strategies import conv_pairs, dims, float_arrays, float_arrays_any_shape, matmul_tolerance
from tinytorch.core.cnn import Conv2D, conv2d_naive, flatten
from tinytorch.core.layers import Dense
from tinytorch.core.tensor import Tensor


def correlate_reference(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Valid cross-correlation in float64 through a sliding-window view and einsum."""
    windows = np.lib.stride_tricks.sliding_window_view(image.astype(np.float64), kernel.shape)
    return np.einsum("ijuv,uv->ij", windows, kernel.astype(np.float64))


def re_shape(shape: tuple[int, ...]) -> str:
    """A regex matching the printed form of `shape`, e.g. '\\(2, 3\\)'."""
    return str(tuple(shape)).replace("(", r"\(").replace(")", r"\)")


# --- conv2d_naive ---------------------------------------------------------------------


@given(conv_pairs())
def test_conv2d_naive_matches_reference(pair):
    image, kernel = pair
    got = conv2d_naive(image, kernel)
    expected = correlate_reference(image, kernel)
    assert type(got) is np.ndarray
    assert got.shape == (image.shape[0] - kernel.shape[0] + 1, image.shape[1] - kernel.shape[1] + 1)
    assert got.dtype == image.dtype  # float32 in -> float32 out
    np.testing.assert_allclose(got, expected, rtol=0, atol=matmul_tolerance(kernel.size, image.dtype))


def test_conv2d_naive_hand_computed_and_not_flipped():
    image = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    np.testing.assert_array_equal(conv2d_naive(image, [[1.0, 0.0], [0.0, 1.0]]), [[6.0, 8.0]])
    np.testing.assert_array_equal(conv2d_naive(image, [[1.0, 2.0]]), [[5.0, 8.0], [14.0, 17.0]])


@given(conv_pairs(max_side=5, dtype=np.float32))
def test_conv2d_naive_returns_the_kind_of_its_first_input(pair):
    image, kernel = pair
    from_tensor = conv2d_naive(Tensor(image), kernel)
    from_array = conv2d_naive(image, Tensor(kernel))
    assert isinstance(from_tensor, Tensor) and type(from_array) is np.ndarray
    assert from_tensor.dtype == from_array.dtype == np.float32
    np.testing.assert_array_equal(from_tensor.data, from_array)


@pytest.mark.parametrize("dtype_image, dtype_kernel", [(np.float32, np.float64), (np.int64, np.float32), (np.int32, np.int64)])
def test_conv2d_naive_dtype_is_numpy_result_type(dtype_image, dtype_kernel):
    image = np.arange(20).reshape(4, 5).astype(dtype_image)
    kernel = np.array([[1, -2], [3, 1]]).astype(dtype_kernel)
    got = conv2d_naive(image, kernel)
    assert got.dtype == np.result_type(image, kernel)
    np.testing.assert_array_equal(got, correlate_reference(image, kernel))


@given(st.data(), dims(1, 6), dims(1, 6))
def test_conv2d_naive_integers_are_exact(data, height, width):
    ints = st.integers(-1000, 1000)
    image = data.draw(hnp.arrays(np.int64, (height, width), elements=ints))
    kernel_shape = (data.draw(dims(1, height)), data.draw(dims(1, width)))
    kernel = data.draw(hnp.arrays(np.int64, kernel_shape, elements=ints))
    got = conv2d_naive(image, kernel)
    windows = np.lib.stride_tricks.sliding_window_view(image, kernel_shape)
    np.testing.assert_array_equal(got, np.einsum("ijuv,uv->ij", windows, kernel))
    assert got.dtype == np.int64


@pytest.mark.parametrize("image_shape, kernel_shape", [((2, 2), (3, 3)), ((5, 2), (2, 3)), ((0, 4), (1, 1)), ((3, 3), (4, 1))])
def test_conv2d_naive_kernel_that_does_not_fit_names_both_shapes(image_shape, kernel_shape):
    with pytest.raises(ValueError, match=rf"{re_shape(kernel_shape)}.*{re_shape(image_shape)}"):
        conv2d_naive(np.ones(image_shape), np.ones(kernel_shape))


@pytest.mark.parametrize("kernel_shape", [(0, 2), (2, 0), (0, 0)])
def test_conv2d_naive_empty_kernel_raises_value_error(kernel_shape):
    with pytest.raises(ValueError, match="empty"):
        conv2d_naive(np.ones((3, 3)), np.ones(kernel_shape))


@pytest.mark.parametrize("image_shape, kernel_shape", [((4,), (2, 2)), ((4, 4), (2,)), ((2, 4, 4), (2, 2)), ((), (1, 1))])
def test_conv2d_naive_wrong_rank_raises_value_error(image_shape, kernel_shape):
    with pytest.raises(ValueError, match=rf"2-D.*{re_shape(image_shape)}.*{re_shape(kernel_shape)}"):
        conv2d_naive(np.ones(image_shape), np.ones(kernel_shape))


@pytest.mark.parametrize("image, kernel", [([["a", "b"]], [[1.0]]), ([[1.0]], None), ([[1.0]], [[object()]])])
def test_conv2d_naive_non_numeric_raises_type_error(image, kernel):
    with pytest.raises(TypeError, match="numeric"):
        conv2d_naive(image, kernel)


# --- Conv2D ---------------------------------------------------------------------------


@pytest.mark.parametrize("kernel_size, shape", [(3, (3, 3)), (1, (1, 1)), ((2, 5), (2, 5)), ([4, 1], (4, 1)), (np.int64(2), (2, 2))])
def test_conv2d_layer_kernel_shape_and_dtype(kernel_size, shape):
    layer = Conv2D(kernel_size)
    assert layer.kernel_size == shape
    assert isinstance(layer.kernel, Tensor)
    assert layer.kernel.shape == shape and layer.kernel.dtype == np.float32
    assert repr(layer) == f"Conv2D(kernel_size={shape})"


def test_conv2d_layer_kernel_is_xavier_initialised():
    layer = Conv2D(50)  # 2500 entries, fan_in = fan_out = 2500
    bound = np.sqrt(6.0 / 5000)
    assert np.abs(layer.kernel.data).max() <= bound
    # relative error of the sample variance has std ~1.8% for 2500 uniform draws
    assert layer.kernel.data.var() == pytest.approx(1.0 / 2500, rel=0.15)


@pytest.mark.parametrize("kernel_size", [0, -1, (3, 0), (0, 2)])
def test_conv2d_layer_non_positive_size_raises_value_error(kernel_size):
    with pytest.raises(ValueError, match="kernel_size"):
        Conv2D(kernel_size)


@pytest.mark.parametrize("kernel_size", [2.5, "3", (2, 2, 2), (2.0, 3), (True, 2)])
def test_conv2d_layer_bad_size_type_raises_type_error(kernel_size):
    with pytest.raises(TypeError, match="kernel_size"):
        Conv2D(kernel_size)


@given(data=st.data(), batch=dims(0, 3), pair=conv_pairs(max_side=7))
def test_conv2d_layer_forward_on_a_batch_matches_reference(data, batch, pair):
    image, kernel = pair
    images = data.draw(float_arrays((batch,) + image.shape, image.dtype))
    layer = Conv2D(kernel.shape)
    layer.kernel = Tensor(kernel)
    got = layer(Tensor(images))
    out_shape = (image.shape[0] - kernel.shape[0] + 1, image.shape[1] - kernel.shape[1] + 1)
    assert isinstance(got, Tensor)
    assert got.shape == (batch,) + out_shape
    assert got.dtype == image.dtype
    for n in range(batch):
        np.testing.assert_allclose(
            got.data[n], correlate_reference(images[n], kernel), rtol=0, atol=matmul_tolerance(kernel.size, image.dtype)
        )


@given(conv_pairs(max_side=6))
def test_conv2d_layer_forward_on_one_image_equals_conv2d_naive(pair):
    image, kernel = pair
    layer = Conv2D(kernel.shape)
    layer.kernel = Tensor(kernel)
    np.testing.assert_array_equal(layer.forward(Tensor(image)).data, conv2d_naive(image, kernel))


def test_conv2d_layer_keeps_extra_leading_axes():
    images = np.random.default_rng(0).standard_normal((2, 3, 5, 5)).astype(np.float32)
    layer = Conv2D(2)
    got = layer(images)
    assert got.shape == (2, 3, 4, 4)
    np.testing.assert_allclose(got.data[1, 2], correlate_reference(images[1, 2], layer.kernel.data), atol=1e-5)


def test_conv2d_layer_float32_kernel_keeps_float32_images_float32():
    assert Conv2D(3)(np.zeros((2, 5, 5), np.float32)).dtype == np.float32


@pytest.mark.parametrize("shape", [(1, 6), (4, 2), (3, 1, 9)])
def test_conv2d_layer_input_smaller_than_kernel_names_both_shapes(shape):
    with pytest.raises(ValueError, match=rf"\(2, 3\).*{re_shape(shape)}"):
        Conv2D((2, 3))(np.zeros(shape, np.float32))


@pytest.mark.parametrize("shape", [(6,), ()])
def test_conv2d_layer_input_without_two_axes_raises_value_error(shape):
    with pytest.raises(ValueError, match=re_shape(shape)):
        Conv2D(1)(np.zeros(shape, np.float32))


def test_conv2d_layer_non_numeric_input_raises_type_error():
    with pytest.raises(TypeError, match="numeric"):
        Conv2D(1)([["a"]])


# --- flatten --------------------------------------------------------------------------


@given(float_arrays_any_shape(min_dims=1))
def test_flatten_keeps_batch_axis_and_row_major_order(array):
    got = flatten(Tensor(array))
    features = int(np.prod(array.shape[1:]))
    assert isinstance(got, Tensor)
    assert got.shape == (array.shape[0], features)
    assert got.dtype == array.dtype
    np.testing.assert_array_equal(got.data.ravel(), array.ravel())


def test_flatten_of_a_contiguous_array_is_a_view():
    array = np.zeros((4, 3, 2), np.float32)
    assert np.shares_memory(flatten(Tensor(array)).data, array)


def test_flatten_of_an_empty_batch():
    assert flatten(Tensor(np.zeros((0, 4, 4)))).shape == (0, 16)


def test_flatten_of_a_scalar_raises_value_error():
    with pytest.raises(ValueError, match="batch"):
        flatten(Tensor(1.0))


def test_flatten_non_numeric_raises_type_error():
    with pytest.raises(TypeError, match="numeric"):
        flatten(["a", "b"])


# --- pipeline -------------------------------------------------------------------------


def test_conv_flatten_dense_pipeline():
    images = np.random.default_rng(1).standard_normal((5, 8, 8)).astype(np.float32)
    conv, dense = Conv2D(3), Dense(36, 10)
    got = dense(flatten(conv(Tensor(images))))
    features = np.stack([correlate_reference(image, conv.kernel.data) for image in images]).reshape(5, 36)
    expected = features @ dense.weights.data + dense.bias.data
    assert got.shape == (5, 10) and got.dtype == np.float32
    np.testing.assert_allclose(got.data, expected, atol=1e-4)

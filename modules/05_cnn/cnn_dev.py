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
# ---

# %% [markdown]
# # Module 05: CNN — convolution, written out
#
# A dense layer connects every input to every output. For an image that is wasteful:
# a 28×28 image into 26×26 features would need 529,984 weights, although the same
# local pattern (an edge, a corner) matters wherever it appears. A **convolutional**
# layer slides one small kernel over the image and takes a dot product at every
# position: the same few weights are shared by all positions.
#
# You will build:
#
# 1. `conv2d_naive(input, kernel)`: 2-D *valid* cross-correlation with explicit loops;
# 2. `Conv2D(kernel_size)`: a layer holding a learnable, Xavier-initialised kernel;
# 3. `flatten(x)`: the bridge from feature maps to the `Dense` layers of module 03.

# %% [markdown]
# ## Why this matters for ML systems
#
# **The operation.** For an input `X` of shape `(H, W)` and a kernel `K` of shape
# `(kH, kW)`, valid cross-correlation produces `Y` of shape `(H - kH + 1, W - kW + 1)`:
#
# ```
# Y[i, j] = Σ_{u < kH} Σ_{v < kW} X[i + u, j + v] · K[u, v]
# ```
#
# "Valid" means the kernel stays entirely inside the image (no padding), so the output
# shrinks by `kH - 1` rows and `kW - 1` columns. Strictly, *convolution* flips the
# kernel first; deep-learning libraries (PyTorch's `conv2d` included) compute
# cross-correlation and call it convolution. Since the kernel is learned, the flip
# makes no difference.
#
# **Parameters versus compute.** A 3×3 kernel has 9 parameters whatever the image
# size — weight sharing makes the layer tiny in memory. But it is not cheap to run:
# the output has `H'·W'` entries, each a `kH·kW` dot product, so `H'·W'·kH·kW`
# multiply-adds per image and channel. Convolutional networks are compute-heavy and
# parameter-light; dense layers are the opposite.
#
# **Loops and how frameworks avoid them.** Four nested Python loops run the
# interpreter once per multiply-add. Fast libraries rewrite convolution as a matrix
# product (*im2col*): copy every `kH×kW` window into a row of a matrix, then one
# BLAS call multiplies all windows by the flattened kernel. That duplicates each input
# value up to `kH·kW` times in memory — a deliberate trade of memory for speed — and is
# why the matrix product of modules 03 and 11 is the kernel that matters most. You will
# measure the difference below.
#
# **Flatten is free.** A C-contiguous `(batch, H, W)` array is already laid out as
# `(batch, H·W)`: flattening only changes the shape metadata, no data moves.

# %% nbgrader={"grade": false, "grade_id": "cnn-export-target", "locked": true, "schema_version": 3, "solution": false, "task": false}
#| default_exp core.cnn

# %% nbgrader={"grade": false, "grade_id": "cnn-imports", "locked": true, "schema_version": 3, "solution": false, "task": false}
#| export
import math

import numpy as np

from tinytorch.core.layers import xavier_uniform
from tinytorch.core.tensor import Tensor

# %% [markdown]
# ## Task 1: `conv2d_naive`
#
# Loop over every output position `(i, j)`, and inside it over every kernel entry
# `(u, v)`, accumulating `X[i + u, j + v] · K[u, v]`. Follow the same contract as
# `matmul_naive` in module 03:
#
# - inputs may be Tensors, ndarrays or nested lists; the result has the kind of the
#   first input (Tensor in → Tensor out);
# - the result dtype is `np.result_type` of the two, and so is the accumulator;
# - both must be 2-D, the kernel must have at least one row and one column, and it
#   must fit inside the input — otherwise `ValueError` naming both shapes.

# %% nbgrader={"grade": false, "grade_id": "conv2d-naive-solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| export
def conv2d_naive(input, kernel):
    """Valid 2-D cross-correlation: Y[i, j] = sum_{u,v} input[i+u, j+v] * kernel[u, v].

    TODO: check the shapes, then fill the output with four nested loops.

    Steps:
    1. x, k = Tensor(input).data, Tensor(kernel).data (TypeError for non-numbers).
    2. Both 2-D, else ValueError naming both shapes. The kernel needs at least one
       row and column and must fit: kH <= H and kW <= W, else
       ValueError(f"kernel of shape {k.shape} does not fit in input of shape {x.shape}").
    3. out = np.zeros((H - kH + 1, W - kW + 1), dtype=np.result_type(x, k)).
    4. For each (i, j): acc = out.dtype.type(0); for each (u, v):
       acc += x[i + u, j + v] * k[u, v]; then out[i, j] = acc.
    5. Return a Tensor if `input` was a Tensor, otherwise the ndarray.

    Cost: (H - kH + 1) * (W - kW + 1) * kH * kW multiply-adds.

    Example:
        >>> conv2d_naive(np.array([[1., 2., 3.], [4., 5., 6.]]), np.array([[1., 0.], [0., 1.]]))
        array([[ 6.,  8.]])
        >>> conv2d_naive(np.ones((2, 2)), np.ones((3, 3)))
        ValueError: kernel of shape (3, 3) does not fit in input of shape (2, 2)
    """
    ### BEGIN SOLUTION
    x, k = Tensor(input).data, Tensor(kernel).data
    if x.ndim != 2 or k.ndim != 2:
        raise ValueError(f"conv2d_naive needs a 2-D input and a 2-D kernel, got shapes {x.shape} and {k.shape}")
    (height, width), (kernel_h, kernel_w) = x.shape, k.shape
    if kernel_h < 1 or kernel_w < 1:
        raise ValueError(f"kernel of shape {k.shape} is empty; input has shape {x.shape}")
    if kernel_h > height or kernel_w > width:
        raise ValueError(f"kernel of shape {k.shape} does not fit in input of shape {x.shape}")
    out = np.zeros((height - kernel_h + 1, width - kernel_w + 1), dtype=np.result_type(x, k))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            acc = out.dtype.type(0)
            for u in range(kernel_h):
                for v in range(kernel_w):
                    acc += x[i + u, j + v] * k[u, v]
            out[i, j] = acc
    return Tensor(out) if isinstance(input, Tensor) else out
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test-conv2d-naive", "locked": true, "points": 30, "schema_version": 3, "solution": false, "task": false}
def sliding_window_reference(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Valid cross-correlation through numpy's window view and einsum, in float64."""
    windows = np.lib.stride_tricks.sliding_window_view(x.astype(np.float64), k.shape)
    return np.einsum("ijuv,uv->ij", windows, k.astype(np.float64))


def test_unit_conv2d_naive():
    from tito.tools.judging import plain  # your values as plain data, compared here
    x = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])
    k = np.array([[1.0, 0.0], [0.0, -1.0]])
    got = conv2d_naive(x, k)
    expected = np.array([[-4.0, -4.0], [-4.0, -4.0]])  # by hand: 1 - 5, 2 - 6, 4 - 8, 5 - 9
    assert isinstance(got, np.ndarray) and plain(got.shape) == (2, 2), f"a 3x3 input and 2x2 kernel give 2x2, got {np.shape(got)}"
    assert np.array_equal(got, expected), f"conv2d_naive should give {expected.tolist()}, got {got.tolist()}"
    flipped = conv2d_naive(x, k[::-1, ::-1])
    assert np.array_equal(flipped, -expected), (
        f"the kernel must not be flipped (cross-correlation): with the flipped kernel expected {(-expected).tolist()}, got {flipped.tolist()}")

    rng = np.random.default_rng(6)
    for image_shape, kernel_shape in [((5, 5), (3, 3)), ((4, 7), (2, 3)), ((6, 3), (1, 1)), ((3, 4), (3, 4)), ((1, 5), (1, 2))]:
        x, k = rng.standard_normal(image_shape), rng.standard_normal(kernel_shape)
        got = conv2d_naive(x, k)
        expected = sliding_window_reference(x, k)
        assert plain(got.shape) == expected.shape, f"input {image_shape}, kernel {kernel_shape}: shape should be {expected.shape}, got {got.shape}"
        assert np.allclose(got, expected, atol=1e-12), f"input {image_shape}, kernel {kernel_shape}: expected\n{expected}\ngot\n{got}"

test_unit_conv2d_naive()

# %% nbgrader={"grade": true, "grade_id": "test-conv2d-naive-contract", "locked": true, "points": 10, "schema_version": 3, "solution": false, "task": false}
def test_unit_conv2d_naive_contract():
    from tito.tools.judging import plain  # your values as plain data, compared here
    x = np.arange(16, dtype=np.float32).reshape(4, 4)
    k = np.ones((2, 2), dtype=np.float32)
    assert plain(conv2d_naive(x, k).dtype) == np.float32, "float32 input and kernel should give float32 output"
    assert plain(conv2d_naive(x, k.astype(np.float64)).dtype) == np.float64, "float32 with float64 should give float64 (result_type)"
    as_tensor = conv2d_naive(Tensor(x), k)
    assert isinstance(as_tensor, Tensor), f"a Tensor input should give a Tensor, got {type(as_tensor).__name__}"
    assert type(conv2d_naive(x, Tensor(k))) is np.ndarray, "an ndarray input should give an ndarray"
    for image_shape, kernel_shape in [((2, 2), (3, 3)), ((5, 2), (2, 3)), ((4,), (2, 2)), ((3, 3), (0, 2)), ((2, 3, 3), (2, 2))]:
        try:
            conv2d_naive(np.ones(image_shape), np.ones(kernel_shape))
        except ValueError as err:
            assert str(image_shape) in str(err) and str(kernel_shape) in str(err), (
                f"the error for input {image_shape} and kernel {kernel_shape} should name both shapes, got: {err}")
        else:
            raise AssertionError(f"conv2d_naive of input {image_shape} and kernel {kernel_shape} should raise ValueError")

test_unit_conv2d_naive_contract()

# %% [markdown]
# ### Loops versus im2col
#
# The same convolution two ways: your loops, and im2col — a window *view* of the
# image (no copy yet) multiplied by the flattened kernel, which makes numpy copy the
# windows into a matrix and call BLAS.

# %%
import time

demo_image = np.random.default_rng(0).standard_normal((64, 64)).astype(np.float32)
demo_kernel = np.random.default_rng(1).standard_normal((3, 3)).astype(np.float32)
start = time.perf_counter()
loop_result = conv2d_naive(demo_image, demo_kernel)
loop_seconds = time.perf_counter() - start
start = time.perf_counter()
windows = np.lib.stride_tricks.sliding_window_view(demo_image, demo_kernel.shape)  # (62, 62, 3, 3) view
im2col_result = windows.reshape(-1, demo_kernel.size) @ demo_kernel.reshape(-1)
im2col_result = im2col_result.reshape(loop_result.shape)
im2col_seconds = time.perf_counter() - start
print(f"64x64 image, 3x3 kernel: loops {loop_seconds * 1e3:.1f} ms, im2col {im2col_seconds * 1e3:.3f} ms, "
      f"ratio {loop_seconds / im2col_seconds:.0f}x, largest difference {np.max(np.abs(loop_result - im2col_result)):.2e}")
print(f"im2col matrix: {windows.size * 4 / 1e3:.0f} kB for a {demo_image.nbytes / 1e3:.0f} kB image")

# %% [markdown]
# ## Task 2: the `Conv2D` layer
#
# `Conv2D(kernel_size)` holds one learnable kernel: `kernel_size` is an int (a square
# kernel) or a pair `(kH, kW)`. Like `Dense`, the kernel is a float32 Tensor with
# Xavier/Glorot initialisation; for a single-channel kernel both fans are the number
# of kernel entries, `kH·kW`. Reuse `xavier_uniform` from module 03.
#
# "Learnable" means the kernel is an attribute that training (or you) can replace:
# `forward` must always use the current `self.kernel`.
#
# `forward(x)` accepts one image `(H, W)` or a batch with leading axes, e.g.
# `(batch, H, W)`, and correlates every image with the kernel. An empty batch
# `(0, H, W)` gives an empty result `(0, H', W')`.

# %% nbgrader={"grade": false, "grade_id": "conv2d-layer-solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| export
class Conv2D:
    """Single-channel 2-D convolution layer (valid cross-correlation) with a learnable kernel."""

    def __init__(self, kernel_size: int | tuple[int, int]) -> None:
        """Create a Xavier-initialised float32 kernel of shape kernel_size.

        TODO: turn an int into (k, k); check both sizes are ints >= 1 (TypeError for
        non-ints, ValueError for sizes below 1); set self.kernel_size = (kH, kW) and
        self.kernel = xavier_uniform((kH, kW), kH * kW, kH * kW).

        Example:
            >>> Conv2D(3).kernel.shape, Conv2D((2, 5)).kernel_size
            ((3, 3), (2, 5))
        """
        ### BEGIN SOLUTION
        sizes = (kernel_size, kernel_size) if isinstance(kernel_size, (int, np.integer)) else kernel_size
        if (not isinstance(sizes, (tuple, list)) or len(sizes) != 2
                or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) for s in sizes)):
            raise TypeError(f"kernel_size must be an int or a pair of ints, got {kernel_size!r}")
        if min(sizes) < 1:
            raise ValueError(f"kernel_size must be at least 1 in each dimension, got {kernel_size!r}")
        self.kernel_size = (int(sizes[0]), int(sizes[1]))
        fan = self.kernel_size[0] * self.kernel_size[1]
        self.kernel = xavier_uniform(self.kernel_size, fan, fan)
        ### END SOLUTION

    def forward(self, x) -> Tensor:
        """Correlate each image of x, shape (..., H, W), with self.kernel.

        TODO:
        1. x = Tensor(x); it needs at least 2 axes, else ValueError naming its shape.
        2. The kernel must fit: out_h = H - kH + 1 >= 1 and out_w = W - kW + 1 >= 1,
           else ValueError naming the input shape and the kernel shape.
        3. images = x.data.reshape(-1, H, W); allocate
           out = np.zeros((len(images), out_h, out_w), np.result_type(x.data, self.kernel.data))
           and fill out[n] = conv2d_naive(images[n], self.kernel.data).
        4. Return Tensor(out.reshape(x.shape[:-2] + (out_h, out_w))).

        Example:
            >>> Conv2D(3)(Tensor(np.zeros((8, 28, 28), np.float32))).shape
            (8, 26, 26)
        """
        ### BEGIN SOLUTION
        x = Tensor(x)
        if x.ndim < 2:
            raise ValueError(f"Conv2D expects input of shape (..., height, width), got shape {x.shape}")
        (height, width), (kernel_h, kernel_w) = x.shape[-2:], self.kernel.shape
        out_h, out_w = height - kernel_h + 1, width - kernel_w + 1
        if out_h < 1 or out_w < 1:
            raise ValueError(f"kernel of shape {self.kernel.shape} does not fit in input of shape {x.shape}")
        images = x.data.reshape(-1, height, width)
        out = np.zeros((len(images), out_h, out_w), dtype=np.result_type(x.data, self.kernel.data))
        for n, image in enumerate(images):
            out[n] = conv2d_naive(image, self.kernel.data)
        return Tensor(out.reshape(x.shape[:-2] + (out_h, out_w)))
        ### END SOLUTION

    def __call__(self, x) -> Tensor:
        return self.forward(x)

    def __repr__(self) -> str:
        return f"Conv2D(kernel_size={self.kernel_size})"


# %% nbgrader={"grade": true, "grade_id": "test-conv2d-layer-init", "locked": true, "points": 15, "schema_version": 3, "solution": false, "task": false}
def test_unit_conv2d_layer_init():
    from tito.tools.judging import plain  # your values as plain data, compared here
    layer = Conv2D(3)
    assert plain(layer.kernel_size) == (3, 3), f"Conv2D(3) should have kernel_size (3, 3), got {layer.kernel_size}"
    assert isinstance(layer.kernel, Tensor) and plain(layer.kernel.shape) == (3, 3), f"the kernel should be a 3x3 Tensor, got {layer.kernel!r:.60}"
    assert plain(layer.kernel.dtype) == np.float32, f"the kernel should be float32, got {layer.kernel.dtype}"
    rect = Conv2D((2, 5))
    assert plain(rect.kernel.shape) == (2, 5), f"Conv2D((2, 5)) should have a (2, 5) kernel, got {rect.kernel.shape}"

    big = Conv2D(40)  # 1600 entries: enough to check the distribution
    bound = np.sqrt(6.0 / (2 * 1600))
    assert np.abs(big.kernel.data).max() <= bound, f"Xavier entries should lie in [-{bound:.4f}, {bound:.4f}]"
    variance = float(big.kernel.data.var())
    assert abs(variance / (1.0 / 1600) - 1) < 0.2, f"Var(kernel) should be 1 / 1600 = {1 / 1600:.6f}, got {variance:.6f}"

    for bad, error in [(0, ValueError), ((3, 0), ValueError), (2.5, TypeError), ((2, 2, 2), TypeError), ("3", TypeError)]:
        try:
            Conv2D(bad)
        except error:
            pass
        else:
            raise AssertionError(f"Conv2D({bad!r}) should raise {error.__name__}")

test_unit_conv2d_layer_init()

# %% nbgrader={"grade": true, "grade_id": "test-conv2d-layer-forward", "locked": true, "points": 20, "schema_version": 3, "solution": false, "task": false}
def test_unit_conv2d_layer_forward():
    from tito.tools.judging import plain  # your values as plain data, compared here
    rng = np.random.default_rng(8)
    layer = Conv2D((2, 3))
    kernel = rng.standard_normal((2, 3)).astype(np.float32)
    layer.kernel = Tensor(kernel)  # learnable: forward must use the current kernel
    image = rng.standard_normal((5, 6)).astype(np.float32)
    got = layer(Tensor(image))
    expected = sliding_window_reference(image, kernel)
    assert isinstance(got, Tensor) and plain(got.shape) == (4, 4), f"a (5, 6) image and (2, 3) kernel give (4, 4), got {got.shape}"
    assert plain(got.dtype) == np.float32, f"float32 in should give float32 out, got {got.dtype}"
    assert np.allclose(got.data, expected, atol=1e-5), f"Conv2D should compute\n{expected}\ngot\n{got.data}"

    batch = rng.standard_normal((3, 5, 6)).astype(np.float32)
    out = layer.forward(Tensor(batch))
    assert plain(out.shape) == (3, 4, 4), f"a batch (3, 5, 6) should give (3, 4, 4), got {out.shape}"
    for n in range(3):
        assert np.allclose(out.data[n], sliding_window_reference(batch[n], kernel), atol=1e-5), f"batch item {n} is wrong"
    empty = layer(Tensor(np.zeros((0, 5, 6), np.float32)))
    assert plain(empty.shape) == (0, 4, 4), f"an empty batch (0, 5, 6) should give (0, 4, 4), got {empty.shape}"

    for bad_shape in [(1, 6), (6,)]:
        try:
            layer(Tensor(np.zeros(bad_shape, np.float32)))
        except ValueError as err:
            assert str(bad_shape) in str(err), f"the error should name the input shape {bad_shape}, got: {err}"
        else:
            raise AssertionError(f"Conv2D((2, 3)) on input of shape {bad_shape} should raise ValueError")

test_unit_conv2d_layer_forward()

# %% [markdown]
# ## Task 3: `flatten`
#
# Dense layers take `(batch, features)`. `flatten(x)` keeps the first axis (the
# batch) and merges all the others: `(batch, d1, d2, …)` → `(batch, d1·d2·…)`, like
# PyTorch's `nn.Flatten`. A 1-D input `(batch,)` becomes `(batch, 1)`; a 0-d input has
# no batch axis and raises `ValueError`.
#
# Compute the feature count with `math.prod(x.shape[1:])` rather than passing `-1`
# to reshape: for an empty batch `(0, 4, 4)`, numpy cannot infer `-1` from 0 elements.

# %% nbgrader={"grade": false, "grade_id": "flatten-solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| export
def flatten(x) -> Tensor:
    """Merge every axis after the first: (batch, d1, d2, ...) -> (batch, d1 * d2 * ...).

    TODO: x = Tensor(x); raise ValueError for a 0-d x (no batch axis); return
    x.reshape(batch, math.prod(x.shape[1:])).

    Example:
        >>> flatten(Tensor(np.zeros((8, 26, 26)))).shape
        (8, 676)
    """
    ### BEGIN SOLUTION
    x = Tensor(x)
    if x.ndim == 0:
        raise ValueError(f"flatten needs a batch axis, got a 0-d Tensor of shape {x.shape}")
    return x.reshape(x.shape[0], math.prod(x.shape[1:]))
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test-flatten", "locked": true, "points": 15, "schema_version": 3, "solution": false, "task": false}
def test_unit_flatten():
    from tito.tools.judging import plain  # your values as plain data, compared here
    x = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    got = flatten(Tensor(x))
    assert isinstance(got, Tensor) and plain(got.shape) == (2, 12), f"(2, 3, 4) should flatten to (2, 12), got {got.shape}"
    assert np.array_equal(got.data, x.reshape(2, 12)), f"flatten should keep row-major order, got {got.data}"
    assert plain(got.dtype) == np.float32, f"flatten should keep the dtype float32, got {got.dtype}"
    for shape, expected in [((5,), (5, 1)), ((3, 7), (3, 7)), ((0, 4, 4), (0, 16)), ((2, 0, 3), (2, 0)), ((1, 2, 3, 4), (1, 24))]:
        got_shape = plain(flatten(Tensor(np.zeros(shape))).shape)
        assert got_shape == expected, f"flatten of shape {shape} should have shape {expected}, got {got_shape}"
    try:
        flatten(Tensor(3.0))
    except ValueError:
        pass
    else:
        raise AssertionError("flatten of a 0-d Tensor should raise ValueError (there is no batch axis)")

test_unit_flatten()

# %% [markdown]
# ## Putting it together: an edge detector
#
# A kernel `[[-1, 1]]` responds where brightness rises from left to right. On an
# image that is dark on the left and bright on the right, the response is 1 exactly
# at the boundary and 0 elsewhere — this is what the first layer of a trained CNN
# typically learns to do. Flattened, the feature maps are ready for a Dense layer.

# %% nbgrader={"grade": true, "grade_id": "test-edge-detector", "locked": true, "points": 10, "schema_version": 3, "solution": false, "task": false}
def test_unit_edge_detector():
    from tito.tools.judging import plain  # your values as plain data, compared here
    images = np.zeros((2, 4, 6), dtype=np.float32)
    images[0, :, 3:] = 1.0  # edge between columns 2 and 3
    images[1, :, 1:] = 1.0  # edge between columns 0 and 1
    detector = Conv2D((1, 2))
    detector.kernel = Tensor([[-1.0, 1.0]])
    features = detector(Tensor(images))
    expected = np.zeros((2, 4, 5), dtype=np.float32)
    expected[0, :, 2] = 1.0
    expected[1, :, 0] = 1.0
    assert np.array_equal(features.data, expected), f"edge responses should be\n{expected}\ngot\n{features.data}"
    flat = flatten(features)
    assert plain(flat.shape) == (2, 20), f"flattened features should have shape (2, 20), got {flat.shape}"
    assert plain(flat.data.sum(axis=1).tolist()) == [4.0, 4.0], f"each image has an edge 4 rows long, got {flat.data.sum(axis=1)}"

test_unit_edge_detector()

# %% [markdown]
# ## Summary
#
# - Convolution is a sliding dot product with shared weights: few parameters, many
#   multiply-adds.
# - The four-loop version is the definition; im2col turns it into one matrix product,
#   trading memory for BLAS speed.
# - `flatten` is a metadata-only reshape that connects feature maps to Dense layers.
#
# Export with `tito export 05` and run `tito module test 05`.

# %% nbgrader={"grade": false, "grade_id": "cnn-run-all", "locked": true, "schema_version": 3, "solution": false, "task": false}
if __name__ == "__main__":
    from tito.tools.testing import run_module_tests_auto
    run_module_tests_auto("CNN")

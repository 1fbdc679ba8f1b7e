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
# # Module 03: Layers — the matrix product and the Dense layer
#
# A neural network is mostly matrix products. A fully connected (dense) layer maps a
# batch of inputs `x` of shape `(batch, input_size)` to `x @ W + b` of shape
# `(batch, output_size)`. In this module you build:
#
# 1. `matmul_naive(A, B)`: the matrix product as three nested Python loops — the
#    definition, written out, and the **baseline** that module 11 (kernels) measures
#    every faster version against;
# 2. `xavier_uniform(shape, fan_in, fan_out)`: the Xavier/Glorot initialisation;
# 3. `Dense(input_size, output_size, use_bias=True)`, also available as `Linear`.
#
# Everything builds on the `Tensor` from module 01, imported through the package.

# %% [markdown]
# ## Why this matters for ML systems
#
# **The matrix product is where the time goes.** For `A` of shape `(m, k)` and `B` of
# shape `(k, n)`, each of the `m·n` outputs is a dot product of length `k`:
# `C[i, j] = Σ_p A[i, p] · B[p, j]`. That is `m·n·k` multiply-adds, or `2·m·n·k`
# floating-point operations (FLOPs). A layer with 1024 inputs and 1024 outputs on a
# batch of 64 costs 134 million FLOPs per forward pass.
#
# **Python loops are slow.** Each iteration of the innermost loop below runs the
# interpreter: index lookups, boxing a number into a Python object, a multiply, an
# add. That costs tens to hundreds of nanoseconds, while an optimised BLAS library
# (what `@` calls) does several multiply-adds per nanosecond per core by keeping data
# in registers and caches and using SIMD instructions. The gap is routinely a factor
# of 1000 or more; you will measure it below. The naive loop is still worth writing:
# it is the definition every optimisation must reproduce, and a correct baseline to
# test them against.
#
# **Dtypes must not drift.** The accumulator in the inner loop has the dtype of the
# result (`np.result_type` of the inputs): a float32 product stays float32 from the
# first partial sum to the output, exactly like the fast kernels, so comparisons
# between them are fair.
#
# **Initialisation sets the signal scale.** If weights are too large, activations grow
# layer after layer; too small, they vanish. Xavier/Glorot initialisation draws
# `W ~ U(-a, a)` with `a = sqrt(6 / (fan_in + fan_out))`, which gives
# `Var(W) = 2 / (fan_in + fan_out)` and keeps the variance of activations (forward)
# and gradients (backward) roughly constant from layer to layer.

# %% nbgrader={"grade": false, "grade_id": "layers-export-target", "locked": true, "schema_version": 3, "solution": false, "task": false}
#| default_exp core.layers

# %% nbgrader={"grade": false, "grade_id": "layers-imports", "locked": true, "schema_version": 3, "solution": false, "task": false}
#| export
import numpy as np

from tinytorch.core.tensor import Tensor

XAVIER_UNIFORM_GAIN = 6.0  # a = sqrt(XAVIER_UNIFORM_GAIN / (fan_in + fan_out)) gives Var = 2 / (fan_in + fan_out)

# %% [markdown]
# ## Task 1: `matmul_naive`
#
# Write the matrix product as the definition says, one multiply-add at a time:
#
# ```
# for i in range(m):            # each row of A
#     for j in range(n):        # each column of B
#         acc = 0
#         for p in range(k):    # the dot product of row i and column j
#             acc += A[i, p] * B[p, j]
#         C[i, j] = acc
# ```
#
# Like every kernel in TinyTorch it accepts a `Tensor` or an `ndarray` (or a nested
# list) and returns the kind of its **first** input. Check the inputs before
# looping: both must be 2-D, and the inner dimensions must agree. If `k` is 0 every
# output is an empty sum, 0; if `m` or `n` is 0 the result is empty.

# %% nbgrader={"grade": false, "grade_id": "matmul-naive-solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| export
def matmul_naive(A, B):
    """Matrix product C = A @ B with three nested Python loops.

    TODO: check the inputs, then compute every C[i, j] = sum_p A[i, p] * B[p, j].

    Steps:
    1. Convert both inputs with `Tensor(...).data` (this rejects non-numeric data
       with TypeError and ragged lists with ValueError).
    2. Both must be 2-D, else ValueError("matmul_naive needs 2-D matrices, got
       shapes ... and ..."). The inner dimensions must match, else
       ValueError(f"cannot multiply shapes {a.shape} and {b.shape}: ...").
    3. Allocate C = np.zeros((m, n), dtype=np.result_type(a, b)).
    4. Triple loop; start each accumulator as `C.dtype.type(0)` so the sum stays
       in the result dtype (float32 in -> float32 accumulator and output).
    5. Return a Tensor if A was a Tensor, otherwise the ndarray.

    Cost: m*n*k multiply-adds, each a few Python bytecodes.

    Example:
        >>> matmul_naive(np.array([[1., 2.], [3., 4.]]), np.array([[5., 6.], [7., 8.]]))
        array([[19., 22.],
               [43., 50.]])
        >>> matmul_naive(np.ones((2, 3)), np.ones((4, 5)))
        ValueError: cannot multiply shapes (2, 3) and (4, 5): ...

    Args:
        A: Tensor, ndarray or nested list of shape (m, k).
        B: Tensor, ndarray or nested list of shape (k, n).

    Returns:
        The (m, n) product, a Tensor if A is a Tensor, else an ndarray.
    """
    ### BEGIN SOLUTION
    a, b = Tensor(A).data, Tensor(B).data
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"matmul_naive needs 2-D matrices, got shapes {a.shape} and {b.shape}")
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"cannot multiply shapes {a.shape} and {b.shape}: "
                         f"inner dimensions {a.shape[1]} and {b.shape[0]} differ")
    (m, k), n = a.shape, b.shape[1]
    C = np.zeros((m, n), dtype=np.result_type(a, b))
    for i in range(m):
        for j in range(n):
            acc = C.dtype.type(0)
            for p in range(k):
                acc += a[i, p] * b[p, j]
            C[i, j] = acc
    return Tensor(C) if isinstance(A, Tensor) else C
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test-matmul-naive", "locked": true, "points": 25, "schema_version": 3, "solution": false, "task": false}
def test_unit_matmul_naive():
    from tito.tools.judging import plain  # your values as plain data, compared here
    A = np.array([[1.0, 2.0], [3.0, 4.0]])
    B = np.array([[5.0, 6.0], [7.0, 8.0]])
    got = matmul_naive(A, B)
    expected = np.array([[19.0, 22.0], [43.0, 50.0]])  # by hand: 1*5+2*7=19, 1*6+2*8=22, ...
    assert np.array_equal(got, expected), f"[[1,2],[3,4]] @ [[5,6],[7,8]] should be {expected.tolist()}, got {got}"

    rng = np.random.default_rng(3)
    for m, k, n in [(1, 1, 1), (1, 5, 1), (4, 3, 2), (7, 1, 6), (5, 8, 3)]:
        a, b = rng.standard_normal((m, k)), rng.standard_normal((k, n))
        got = matmul_naive(a, b)
        assert isinstance(got, np.ndarray) and plain(got.shape) == (m, n), (
            f"({m}, {k}) @ ({k}, {n}) should be an ndarray of shape ({m}, {n}), got {type(got).__name__} {np.shape(got)}")
        assert np.allclose(got, a @ b, atol=1e-12), f"({m}, {k}) @ ({k}, {n}) should be\n{a @ b}\ngot\n{got}"

    for shape_a, shape_b, shape_c in [((0, 3), (3, 2), (0, 2)), ((3, 0), (0, 2), (3, 2)), ((2, 4), (4, 0), (2, 0))]:
        got = matmul_naive(np.ones(shape_a), np.ones(shape_b))
        assert plain(got.shape) == shape_c and np.all(plain(got) == 0), (
            f"{shape_a} @ {shape_b} should be zeros of shape {shape_c}, got {got!r}")
    ### BEGIN HIDDEN TESTS
    a, b = rng.integers(-5, 5, (3, 4)), rng.integers(-5, 5, (4, 2))
    got = matmul_naive(a, b)
    assert plain(got.dtype) == np.result_type(a, b) and np.array_equal(got, a @ b), (
        f"integer matrices should give their exact integer product {a @ b}, got {got}")
    ### END HIDDEN TESTS

test_unit_matmul_naive()

# %% nbgrader={"grade": true, "grade_id": "test-matmul-naive-contract", "locked": true, "points": 15, "schema_version": 3, "solution": false, "task": false}
def test_unit_matmul_naive_contract():
    from tito.tools.judging import plain  # your values as plain data, compared here
    a32 = np.arange(6, dtype=np.float32).reshape(2, 3)
    b32 = np.arange(12, dtype=np.float32).reshape(3, 4)
    got = matmul_naive(a32, b32)
    assert plain(got.dtype) == np.float32, f"float32 @ float32 should give float32 (no float64 accumulator), got {got.dtype}"
    as_tensor = matmul_naive(Tensor(a32), b32)
    assert isinstance(as_tensor, Tensor), f"a Tensor first input should give a Tensor, got {type(as_tensor).__name__}"
    assert np.array_equal(as_tensor.data, a32 @ b32), f"Tensor input should give\n{a32 @ b32}\ngot\n{as_tensor.data}"
    as_array = matmul_naive(a32, Tensor(b32))
    assert type(as_array) is np.ndarray, f"an ndarray first input should give an ndarray, got {type(as_array).__name__}"
    mixed = matmul_naive(a32, b32.astype(np.float64))
    assert plain(mixed.dtype) == np.float64, f"float32 @ float64 should follow numpy's result_type (float64), got {mixed.dtype}"

    for shape_a, shape_b in [((2, 3), (4, 5)), ((3,), (3, 2)), ((2, 2, 2), (2, 2))]:
        try:
            matmul_naive(np.ones(shape_a), np.ones(shape_b))
        except ValueError as err:
            assert str(shape_a) in str(err) and str(shape_b) in str(err), (
                f"the error for {shape_a} @ {shape_b} should name both shapes, got: {err}")
        else:
            raise AssertionError(f"matmul_naive of shapes {shape_a} and {shape_b} should raise ValueError")
    ### BEGIN HIDDEN TESTS
    try:
        matmul_naive([["a", "b"]], [[1.0], [2.0]])
    except TypeError:
        pass
    else:
        raise AssertionError("matmul_naive of strings should raise TypeError")
    from_lists = matmul_naive([[1.0, 2.0]], [[3.0], [4.0]])
    assert np.array_equal(from_lists, [[11.0]]), f"[[1, 2]] @ [[3], [4]] should be [[11]], got {from_lists}"
    ### END HIDDEN TESTS

test_unit_matmul_naive_contract()

# %% [markdown]
# ### Measure the cost of Python loops
#
# The same product through `matmul_naive` and through `@` (BLAS). The achieved
# GFLOP/s is `2·n³ / seconds / 1e9`.

# %%
import time

SIZE = 64
a = np.random.default_rng(0).standard_normal((SIZE, SIZE)).astype(np.float32)
b = np.random.default_rng(1).standard_normal((SIZE, SIZE)).astype(np.float32)
start = time.perf_counter()
naive_result = matmul_naive(a, b)
naive_seconds = time.perf_counter() - start
repeats = 100
start = time.perf_counter()
for _ in range(repeats):
    blas_result = a @ b
blas_seconds = (time.perf_counter() - start) / repeats
flops = 2 * SIZE**3
print(f"n={SIZE}: naive {naive_seconds * 1e3:.1f} ms ({flops / naive_seconds / 1e9:.4f} GFLOP/s), "
      f"@ {blas_seconds * 1e6:.1f} us ({flops / blas_seconds / 1e9:.1f} GFLOP/s), "
      f"ratio {naive_seconds / blas_seconds:.0f}x")
print("largest difference:", float(np.max(np.abs(naive_result - blas_result))))

# %% [markdown]
# ## Task 2: Xavier/Glorot initialisation
#
# Draw every weight independently from the uniform distribution on `[-a, a]` with
# `a = sqrt(6 / (fan_in + fan_out))`. For a dense layer `fan_in = input_size` and
# `fan_out = output_size`; for a convolution kernel (module 05) both are the number
# of kernel entries. The weights are float32: parameters are the bulk of a model's
# memory.
#
# We draw from NumPy's global generator, so `np.random.seed(0)` makes a model's
# initialisation reproducible.

# %% nbgrader={"grade": false, "grade_id": "xavier-solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| export
def xavier_uniform(shape: tuple[int, ...], fan_in: int, fan_out: int) -> Tensor:
    """Xavier/Glorot uniform initialisation: a float32 Tensor with entries ~ U(-a, a).

    TODO: compute a = sqrt(XAVIER_UNIFORM_GAIN / (fan_in + fan_out)), draw
    `np.random.uniform(-a, a, size=shape)`, and return it as a float32 Tensor.

    Raises ValueError when fan_in + fan_out is not positive.

    Example:
        >>> w = xavier_uniform((300, 200), fan_in=300, fan_out=200)
        >>> w.shape, w.dtype, float(np.abs(w.data).max()) <= np.sqrt(6 / 500)
        ((300, 200), dtype('float32'), True)
    """
    ### BEGIN SOLUTION
    if fan_in + fan_out <= 0:
        raise ValueError(f"fan_in + fan_out must be positive, got fan_in={fan_in}, fan_out={fan_out}")
    bound = np.sqrt(XAVIER_UNIFORM_GAIN / (fan_in + fan_out))
    return Tensor(np.random.uniform(-bound, bound, size=shape), dtype=np.float32)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test-xavier", "locked": true, "points": 15, "schema_version": 3, "solution": false, "task": false}
def test_unit_xavier_uniform():
    from tito.tools.judging import plain  # your values as plain data, compared here
    fan_in, fan_out = 400, 600
    w = xavier_uniform((fan_in, fan_out), fan_in, fan_out)
    assert isinstance(w, Tensor) and plain(w.shape) == (fan_in, fan_out), f"expected a Tensor of shape (400, 600), got {w!r:.80}"
    assert plain(w.dtype) == np.float32, f"weights should be float32, got {w.dtype}"
    bound = np.sqrt(6.0 / (fan_in + fan_out))
    # float32 weights: a draw of exactly +-a may round to the float32 nearest a, never past it
    assert np.abs(w.data).max() <= np.float32(bound), f"every weight should lie in [-{bound:.4f}, {bound:.4f}], max |w| = {np.abs(w.data).max():.4f}"
    # 240000 draws: the sample variance's relative error has a standard deviation of 0.2%, so 3% is no accident
    variance, expected_variance = float(w.data.var()), 2.0 / (fan_in + fan_out)
    assert abs(variance / expected_variance - 1) < 0.03, f"Var(w) should be {expected_variance:.6f}, got {variance:.6f}"
    assert abs(float(w.data.mean())) < 0.01 * bound, f"the mean should be close to 0, got {float(w.data.mean()):.5f}"
    assert plain(w.data.min()) < -0.9 * bound and plain(w.data.max()) > 0.9 * bound, "the draws should fill the whole interval [-a, a]"

    from tito.tools.judging import in_student_process  # the generator your code draws from

    student_random = in_student_process("numpy").random
    student_random.seed(7)
    first = xavier_uniform((3, 4), 3, 4).data
    student_random.seed(7)
    second = xavier_uniform((3, 4), 3, 4).data
    assert np.array_equal(first, second), "np.random.seed should make the initialisation reproducible"

test_unit_xavier_uniform()

# %% [markdown]
# ## Task 3: the `Dense` layer
#
# `Dense(input_size, output_size, use_bias=True)` holds
#
# - `weights`: a Tensor of shape `(input_size, output_size)`, Xavier-initialised, so
#   that `x @ weights` maps a batch `(batch, input_size)` to `(batch, output_size)`;
# - `bias`: a Tensor of `output_size` zeros, or `None` when `use_bias=False`.
#
# `forward(x)` computes `x @ weights + bias`; broadcasting adds the bias of shape
# `(output_size,)` to every row of the batch without copying it. It uses `@`, not
# `matmul_naive`: a real network needs the fast product.
#
# `Linear` is another name for the same class, the one PyTorch uses.

# %% nbgrader={"grade": false, "grade_id": "dense-solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| export
class Dense:
    """Fully connected layer: y = x @ weights + bias."""

    def __init__(self, input_size: int, output_size: int, use_bias: bool = True) -> None:
        """Create Xavier-initialised float32 weights (input_size, output_size) and zero bias.

        TODO: validate the sizes, then set self.input_size, self.output_size,
        self.weights (xavier_uniform) and self.bias (zeros, or None without bias).

        Raises:
            TypeError: a size that is not an int (e.g. 2.5 or "3").
            ValueError: a size below 1.

        Example:
            >>> layer = Dense(3, 2)
            >>> layer.weights.shape, layer.bias.shape, layer.weights.dtype
            ((3, 2), (2,), dtype('float32'))
        """
        ### BEGIN SOLUTION
        for name, size in (("input_size", input_size), ("output_size", output_size)):
            if isinstance(size, bool) or not isinstance(size, (int, np.integer)):
                raise TypeError(f"{name} must be an int, got {size!r}")
            if size < 1:
                raise ValueError(f"{name} must be at least 1, got {size}")
        self.input_size, self.output_size = int(input_size), int(output_size)
        self.weights = xavier_uniform((self.input_size, self.output_size), self.input_size, self.output_size)
        self.bias = Tensor(np.zeros(self.output_size, dtype=np.float32)) if use_bias else None
        ### END SOLUTION

    def forward(self, x) -> Tensor:
        """Map a batch x of shape (batch, input_size) to (batch, output_size).

        TODO: convert x with Tensor(x); check it is 2-D with input_size columns,
        else raise ValueError naming x's shape and the weights' shape; return
        x @ self.weights, plus self.bias when there is one.

        Example:
            >>> layer = Dense(3, 2)
            >>> layer(Tensor(np.ones((5, 3)))).shape
            (5, 2)
            >>> layer(Tensor(np.ones((5, 4))))
            ValueError: Dense expects input of shape (batch, 3) for weights of shape (3, 2), got (5, 4)
        """
        ### BEGIN SOLUTION
        x = Tensor(x)
        if x.ndim != 2 or x.shape[1] != self.input_size:
            raise ValueError(f"Dense expects input of shape (batch, {self.input_size}) for weights of shape "
                             f"{self.weights.shape}, got {x.shape}")
        out = x @ self.weights
        return out + self.bias if self.bias is not None else out
        ### END SOLUTION

    def __call__(self, x) -> Tensor:
        return self.forward(x)

    def __repr__(self) -> str:
        return f"Dense(input_size={self.input_size}, output_size={self.output_size}, use_bias={self.bias is not None})"


Linear = Dense  # PyTorch's name for the same layer

# %% nbgrader={"grade": true, "grade_id": "test-dense-init", "locked": true, "points": 15, "schema_version": 3, "solution": false, "task": false}
def test_unit_dense_init():
    from tito.tools.judging import plain  # your values as plain data, compared here
    layer = Dense(30, 20)
    assert (plain(layer.input_size), plain(layer.output_size)) == (30, 20), (
        f"sizes should be (30, 20), got ({layer.input_size}, {layer.output_size})")
    assert isinstance(layer.weights, Tensor) and plain(layer.weights.shape) == (30, 20), (
        f"weights should be a Tensor of shape (30, 20), got {getattr(layer.weights, 'shape', layer.weights)}")
    assert plain(layer.weights.dtype) == np.float32, f"weights should be float32, got {layer.weights.dtype}"
    bound = np.sqrt(6.0 / 50)
    assert np.abs(layer.weights.data).max() <= bound, f"Xavier weights should lie in [-{bound:.3f}, {bound:.3f}]"
    assert np.unique(layer.weights.data).size > 500, "weights should be random, not constant"
    assert isinstance(layer.bias, Tensor) and np.array_equal(layer.bias.data, np.zeros(20)), (
        f"bias should be a Tensor of 20 zeros, got {layer.bias!r:.80}")
    assert Dense(30, 20, use_bias=False).bias is None, "use_bias=False should set bias to None"

    for args, error in [((0, 5), ValueError), ((5, -1), ValueError), ((2.5, 3), TypeError), (("3", 2), TypeError)]:
        try:
            Dense(*args)
        except error:
            pass
        else:
            raise AssertionError(f"Dense{args} should raise {error.__name__}")
    ### BEGIN HIDDEN TESTS
    assert Linear is Dense, "Linear should be another name for Dense"
    assert plain(Dense(np.int64(4), 2).weights.shape) == (4, 2), "numpy integer sizes should be accepted"
    ### END HIDDEN TESTS

test_unit_dense_init()

# %% nbgrader={"grade": true, "grade_id": "test-dense-forward", "locked": true, "points": 20, "schema_version": 3, "solution": false, "task": false}
def test_unit_dense_forward():
    from tito.tools.judging import plain  # your values as plain data, compared here
    layer = Dense(3, 2)
    layer.weights = Tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    layer.bias = Tensor([0.5, -0.5])
    x = Tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    got = layer(x)
    expected = np.array([[4.5, 4.5], [0.5, -0.5]], dtype=np.float32)  # by hand: [1+3, 2+3] + bias
    assert isinstance(got, Tensor), f"Dense should return a Tensor, got {type(got).__name__}"
    assert np.allclose(got.data, expected), f"Dense forward should give {expected.tolist()}, got {got.data.tolist()}"
    assert plain(got.dtype) == np.float32, f"float32 input and weights should give float32, got {got.dtype}"

    rng = np.random.default_rng(5)
    layer = Dense(8, 4)
    x = rng.standard_normal((16, 8)).astype(np.float32)
    reference = x @ layer.weights.data + layer.bias.data
    assert np.allclose(layer.forward(Tensor(x)).data, reference, atol=1e-5), "forward should compute x @ weights + bias"
    assert plain(layer(Tensor(np.zeros((0, 8), np.float32))).shape) == (0, 4), "an empty batch should give shape (0, 4)"

    no_bias = Dense(8, 4, use_bias=False)
    assert np.allclose(no_bias(Tensor(x)).data, x @ no_bias.weights.data, atol=1e-5), "without bias: x @ weights"

    for bad_shape in [(16, 7), (8,), (2, 8, 1)]:
        try:
            layer(Tensor(np.ones(bad_shape, np.float32)))
        except ValueError as err:
            assert str(bad_shape) in str(err) and "(8, 4)" in str(err), (
                f"the error should name the input shape {bad_shape} and the weights shape (8, 4), got: {err}")
        else:
            raise AssertionError(f"Dense(8, 4) on shape {bad_shape} should raise ValueError")

test_unit_dense_forward()

# %% [markdown]
# ## Stacking layers
#
# Two layers compose by feeding one's output to the next. Without a non-linearity in
# between (module 02), the composition is still a single linear map — which the test
# below checks against the product of the two weight matrices.

# %% nbgrader={"grade": true, "grade_id": "test-layer-stack", "locked": true, "points": 10, "schema_version": 3, "solution": false, "task": false}
def test_unit_layer_stack():
    from tito.tools.judging import plain  # your values as plain data, compared here
    np.random.seed(11)
    first, second = Linear(6, 5), Linear(5, 3)
    x = np.random.default_rng(2).standard_normal((4, 6)).astype(np.float32)
    got = second(first(Tensor(x)))
    W1, b1, W2, b2 = first.weights.data, first.bias.data, second.weights.data, second.bias.data
    expected = x @ (W1 @ W2) + (b1 @ W2 + b2)
    assert plain(got.shape) == (4, 3), f"(4, 6) through Linear(6, 5) and Linear(5, 3) should be (4, 3), got {got.shape}"
    assert np.allclose(got.data, expected, atol=1e-5), f"the stack should equal one linear map:\n{expected}\ngot\n{got.data}"
    assert np.allclose(matmul_naive(Tensor(x), first.weights).data, x @ W1, atol=1e-5), (
        "matmul_naive should accept Tensors and agree with @")

test_unit_layer_stack()

# %% [markdown]
# ## Summary
#
# - `matmul_naive` is the definition of the matrix product and the baseline for
#   module 11; you measured how far Python loops are from BLAS.
# - Xavier initialisation keeps activation variance steady across layers.
# - `Dense`/`Linear` is `x @ W + b` with broadcasting; it is where most parameters
#   and most FLOPs of a network live.
#
# Export with `tito export 03` and run `tito module test 03`.

# %% nbgrader={"grade": false, "grade_id": "layers-run-all", "locked": true, "schema_version": 3, "solution": false, "task": false}
if __name__ == "__main__":
    from tito.tools.testing import run_module_tests_auto
    run_module_tests_auto("Layers")

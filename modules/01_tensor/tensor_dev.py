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
# # Module 01: Tensor — the data structure everything else is built on
#
# Every deep-learning framework is, at its core, a library of **tensors**:
# n-dimensional arrays of numbers plus the operations on them. Weights, activations,
# gradients, images and batches of text are all tensors. In this module you build
# `tinytorch.core.tensor.Tensor`, the class every later module uses.
#
# You will implement:
#
# 1. construction: turning Python numbers, nested lists and NumPy arrays into a
#    tensor with a well-defined **dtype**, and rejecting ragged or non-numeric data;
# 2. the properties `shape`, `size`, `ndim`, `dtype`, plus `__repr__` and `__array__`;
# 3. element-wise arithmetic `+ - * /` with **broadcasting**;
# 4. the matrix product `@`;
# 5. `reshape` and transposition (`T`, `transpose`) as cheap **views**;
# 6. the reductions `sum` and `mean`.
#
# A `Tensor` wraps a `numpy.ndarray`. NumPy does the arithmetic in compiled loops;
# our job is to decide the *semantics* — which dtype a result has, which shapes
# combine, which errors a user sees — exactly the decisions PyTorch makes around its
# own C++ storage.

# %% [markdown]
# ## Why this matters for ML systems
#
# **Memory layout.** An ndarray is one flat buffer of bytes plus metadata: `shape`,
# `dtype` and `strides` (how many bytes to jump to reach the next element along each
# axis). A 1000×1000 float32 matrix is 4 MB in one contiguous block. Because the
# metadata is separate from the buffer, `reshape` and transpose can often return a
# **view** that shares the buffer and only changes shape and strides: no data moves.
#
# **Dtypes.** float64 takes 8 bytes per number, float32 takes 4. Halving the bytes
# halves the memory traffic, and memory traffic — not arithmetic — limits most
# tensor operations. That is why PyTorch turns Python floats into float32, and why
# we do too. The rule for results follows NumPy: float32 combined with float32 (or
# with a plain Python number) stays float32; mixing in a float64 *array* promotes to
# float64.
#
# **Broadcasting.** Adding a bias of shape `(4,)` to activations of shape `(32, 4)`
# should not copy the bias 32 times. Broadcasting aligns shapes from the right; an
# axis of length 1 (or a missing axis) is stretched with stride 0, so the bias is
# read again instead of copied.
#
# **Clear errors.** A shape mismatch deep inside a model is the most common bug in
# deep learning. Every error our Tensor raises names the shapes involved.

# %% nbgrader={"grade": false, "grade_id": "tensor-export-target", "locked": true, "schema_version": 3, "solution": false, "task": false}
#| default_exp core.tensor

# %% nbgrader={"grade": false, "grade_id": "tensor-imports", "locked": true, "schema_version": 3, "solution": false, "task": false}
#| export
from typing import Callable

import numpy as np

DEFAULT_FLOAT = np.float32  # what Python floats become, as in PyTorch
NUMERIC_KINDS = "biuf"  # numpy dtype kinds a Tensor may hold: bool, int, unsigned, float

# %% [markdown]
# ## A first look at the metadata
#
# Before writing the class, look at what NumPy keeps next to the numbers. The
# transposed matrix below is a view: same buffer, strides swapped.

# %%
matrix = np.arange(6, dtype=np.float32).reshape(2, 3)
print("shape", matrix.shape, "strides", matrix.strides, "bytes", matrix.nbytes)
print("transposed: shape", matrix.T.shape, "strides", matrix.T.strides,
      "shares memory:", np.shares_memory(matrix, matrix.T))
print("float64 copy takes", matrix.astype(np.float64).nbytes, "bytes")
print("a bias broadcast to (1000, 3) has strides", np.broadcast_to(matrix[0], (1000, 3)).strides)

# %% [markdown]
# ## The Tensor class
#
# The class is one cell, so each method you implement has its own solution block.
# Read the docstrings: they are the specification.
#
# ### Construction (`__init__`)
#
# `Tensor(data, dtype=None)` accepts a number, a (nested) list, an ndarray or another
# Tensor:
#
# - An ndarray keeps its dtype and is wrapped **without a copy** (like
#   `torch.as_tensor`): wrapping a million-element array costs nothing.
# - Python floats and lists of them become **float32**. Python ints stay int64.
# - A ragged list such as `[[1, 2], [3]]` is not a tensor: `ValueError`.
# - Strings, `None` and other non-numbers: `TypeError`.
# - `dtype=` casts to the requested dtype.
#
# ### Arithmetic with broadcasting
#
# All four operators and their reflected versions (`2 * t` calls `t.__rmul__(2)`)
# go through one helper, `_binary_op`. Python scalars are passed to NumPy as they
# are, so NumPy's promotion rules keep `float32_tensor * 2.0` in float32. When
# shapes do not broadcast, NumPy raises a `ValueError`; we replace its message with
# one that names both shapes and the operator.
#
# `__array_priority__` is set so that `ndarray + Tensor` asks the Tensor first and
# returns a Tensor, just like `Tensor + ndarray`.
#
# ### Matrix product
#
# `a @ b` follows `np.matmul`: 2-D × 2-D is the matrix product, a 1-D operand is a
# vector, extra leading axes are batches. It costs `2·m·k·n` floating-point
# operations for `(m, k) @ (k, n)` — by far the most expensive operation in a neural
# network, which is why module 03 writes it by hand and module 11 makes it fast.
#
# ### Views: `reshape`, `T`, `transpose`
#
# `reshape` keeps the number of elements; `-1` means "whatever is left". `T`
# reverses all axes (NumPy's `.T`). `transpose(dim0, dim1)` swaps two axes, as in
# PyTorch; by default the last two, which is the matrix transpose even for a batch of
# matrices. All three return views when NumPy can.
#
# ### Reductions
#
# `sum` and `mean` reduce over all elements or along `axis`, optionally keeping the
# reduced axes (`keepdims=True`) so the result still broadcasts against the input —
# the trick behind numerically stable softmax in module 02.

# %% [markdown]
# The class is written in three cells: its arithmetic, its shapes and reductions,
# and finally `Tensor` itself, which inherits both and holds the data. Each part
# uses `Tensor` only when a method runs, so the parts can come before the class.

# %% nbgrader={"grade": false, "grade_id": "tensor-arithmetic-solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| export
class _TensorArithmetic:
    """+ - * / @ of a Tensor, with broadcasting: one `_binary_op` for all of them."""

    def _binary_op(self, other, op: Callable, symbol: str, reflected: bool = False) -> "Tensor":
        """Apply numpy's binary `op` to self and `other` with broadcasting; return a Tensor.

        TODO: compute `op(self.data, value_of_other)` (swap the operands when
        `reflected`), and turn numpy's ValueError into one naming both shapes.

        Steps:
        1. `other` as raw data: a Tensor gives `.data`; a Python int/float/bool stays
           as it is (numpy then keeps float32 * 2.0 in float32); anything else goes
           through `Tensor(other).data` (which checks it).
        2. `a, b = self.data, that`; swap them if `reflected`.
        3. return `Tensor(op(a, b))`; on ValueError raise
           ValueError(f"shapes {np.shape(a)} and {np.shape(b)} are incompatible for '{symbol}'").

        Example:
            >>> Tensor([[1.0], [2.0]])._binary_op(Tensor([10.0, 20.0]), np.add, "+")
            Tensor([[11., 21.], [12., 22.]], shape=(2, 2), dtype=float32)
            >>> Tensor(np.ones((2, 3)))._binary_op(Tensor(np.ones(4)), np.add, "+")
            ValueError: shapes (2, 3) and (4,) are incompatible for '+'
        """
        ### BEGIN SOLUTION
        if isinstance(other, Tensor):
            other = other.data
        elif not isinstance(other, (int, float, bool)) or isinstance(other, np.generic):
            other = Tensor(other).data
        a, b = (other, self.data) if reflected else (self.data, other)
        try:
            return Tensor(op(a, b))
        except ValueError:
            raise ValueError(f"shapes {np.shape(a)} and {np.shape(b)} are incompatible for '{symbol}'") from None
        ### END SOLUTION

    # + - * / and their reflected forms (2 * t calls t.__rmul__(2)): one _binary_op call each.
    def __add__(self, other) -> "Tensor":
        return self._binary_op(other, np.add, "+")

    def __radd__(self, other) -> "Tensor":
        return self._binary_op(other, np.add, "+", reflected=True)

    def __sub__(self, other) -> "Tensor":
        return self._binary_op(other, np.subtract, "-")

    def __rsub__(self, other) -> "Tensor":
        return self._binary_op(other, np.subtract, "-", reflected=True)

    def __mul__(self, other) -> "Tensor":
        return self._binary_op(other, np.multiply, "*")

    def __rmul__(self, other) -> "Tensor":
        return self._binary_op(other, np.multiply, "*", reflected=True)

    def __truediv__(self, other) -> "Tensor":
        return self._binary_op(other, np.true_divide, "/")

    def __rtruediv__(self, other) -> "Tensor":
        return self._binary_op(other, np.true_divide, "/", reflected=True)

    def __matmul__(self, other) -> "Tensor":
        """Matrix product `self @ other` with np.matmul's rules.

        TODO: reuse `_binary_op` with np.matmul, so a mismatch of the inner
        dimensions (or a 0-d operand) raises ValueError naming both shapes.

        Example:
            >>> Tensor([[1.0, 2.0]]) @ Tensor([[3.0], [4.0]])
            Tensor([[11.]], shape=(1, 1), dtype=float32)
            >>> Tensor(np.ones((2, 3))) @ Tensor(np.ones((4, 5)))
            ValueError: shapes (2, 3) and (4, 5) are incompatible for '@'
        """
        ### BEGIN SOLUTION
        return self._binary_op(other, np.matmul, "@")
        ### END SOLUTION

    def __rmatmul__(self, other) -> "Tensor":
        return self._binary_op(other, np.matmul, "@", reflected=True)

# %% nbgrader={"grade": false, "grade_id": "tensor-shape-solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| export
class _TensorShapes:
    """reshape, transpose and the reductions of a Tensor."""

    def reshape(self, *shape) -> "Tensor":
        """Same elements, new shape: t.reshape(2, 3) or t.reshape((2, 3)); -1 is inferred.

        TODO: accept the shape as separate ints or one tuple; return a Tensor of
        `self.data.reshape(shape)`. When the sizes disagree raise
        ValueError(f"cannot reshape Tensor of shape {self.shape} into shape {shape}").

        Example:
            >>> Tensor(np.arange(6)).reshape(2, -1).shape
            (2, 3)
        """
        ### BEGIN SOLUTION
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        try:
            return Tensor(self.data.reshape(shape))
        except ValueError:
            raise ValueError(f"cannot reshape Tensor of shape {self.shape} into shape {shape}") from None
        ### END SOLUTION

    @property
    def T(self) -> "Tensor":
        """All axes reversed, like numpy's `.T`: shape (a, b, c) becomes (c, b, a).

        TODO: return a Tensor of self.data.T (a view: no data is copied).
        """
        ### BEGIN SOLUTION
        return Tensor(self.data.T)
        ### END SOLUTION

    def transpose(self, dim0: int = -2, dim1: int = -1) -> "Tensor":
        """Swap axes `dim0` and `dim1` (PyTorch's meaning); by default the last two.

        TODO: return a Tensor of `np.swapaxes(self.data, dim0, dim1)`.

        Example:
            >>> Tensor(np.zeros((4, 2, 3))).transpose().shape
            (4, 3, 2)
            >>> Tensor(np.zeros((4, 2, 3))).transpose(0, 2).shape
            (3, 2, 4)
        """
        ### BEGIN SOLUTION
        return Tensor(np.swapaxes(self.data, dim0, dim1))
        ### END SOLUTION

    def sum(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> "Tensor":
        """Sum of the elements, over all axes (axis=None) or along `axis`.

        TODO: return a Tensor of self.data.sum(axis=axis, keepdims=keepdims); the
        result keeps the dtype (float32 stays float32), a full sum has shape ().

        Example:
            >>> Tensor([[1.0, 2.0], [3.0, 4.0]]).sum(axis=0)
            Tensor([4., 6.], shape=(2,), dtype=float32)
        """
        ### BEGIN SOLUTION
        return Tensor(self.data.sum(axis=axis, keepdims=keepdims))
        ### END SOLUTION

    def mean(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> "Tensor":
        """Arithmetic mean, over all axes (axis=None) or along `axis`.

        TODO: like `sum`, with self.data.mean; float32 stays float32.

        Example:
            >>> Tensor([[1.0, 2.0], [3.0, 4.0]]).mean(axis=1, keepdims=True)
            Tensor([[1.5], [3.5]], shape=(2, 1), dtype=float32)
        """
        ### BEGIN SOLUTION
        return Tensor(self.data.mean(axis=axis, keepdims=keepdims))
        ### END SOLUTION

# %% nbgrader={"grade": false, "grade_id": "tensor-solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| export
class Tensor(_TensorArithmetic, _TensorShapes):
    """An n-dimensional array of numbers: a numpy.ndarray with deep-learning semantics."""

    # Makes `ndarray <op> Tensor` defer to Tensor's reflected operators.
    __array_priority__ = 1000

    def __init__(self, data, dtype=None) -> None:
        """Wrap `data` (number, nested list, ndarray or Tensor) as `self.data`, an ndarray.

        TODO: build the ndarray, check it, and store it in `self.data`.

        Steps:
        1. If `data` is a Tensor, use its `.data`.
        2. `np.asarray(data)`; numpy raises ValueError for a ragged list — re-raise
           it as ValueError("ragged nested list: ...").
        3. If the dtype kind is not in NUMERIC_KINDS, raise TypeError naming the dtype.
        4. If `dtype` is given: check it is numeric (TypeError otherwise) and cast.
           Else, if the data did not come as an ndarray/numpy scalar and numpy chose
           float64, cast to DEFAULT_FLOAT (float32).

        Example:
            >>> Tensor([1.5, 2.0]).dtype
            dtype('float32')
            >>> Tensor(np.zeros(3)).dtype     # ndarrays keep their dtype
            dtype('float64')
            >>> Tensor([[1, 2], [3]])
            ValueError: ragged nested list: ...
            >>> Tensor("abc")
            TypeError: Tensor data must be numeric ...
        """
        ### BEGIN SOLUTION
        if isinstance(data, Tensor):
            data = data.data
        try:
            array = np.asarray(data)
        except ValueError as err:
            raise ValueError(f"ragged nested list: every row must have the same length ({err})") from None
        if array.dtype.kind not in NUMERIC_KINDS:
            raise TypeError(f"Tensor data must be numeric (bool, int or float), got dtype {array.dtype}")
        if dtype is not None:
            dtype = np.dtype(dtype)
            if dtype.kind not in NUMERIC_KINDS:
                raise TypeError(f"Tensor dtype must be numeric (bool, int or float), got {dtype}")
            array = array.astype(dtype, copy=False)
        elif array.dtype == np.float64 and not isinstance(data, (np.ndarray, np.generic)):
            array = array.astype(DEFAULT_FLOAT)
        self.data = array
        ### END SOLUTION

    @property
    def shape(self) -> tuple[int, ...]:
        """The length of each axis, e.g. (2, 3).

        TODO: return the shape of self.data (a tuple of ints; () for a scalar).
        """
        ### BEGIN SOLUTION
        return self.data.shape
        ### END SOLUTION

    @property
    def size(self) -> int:
        """The number of elements (the product of the shape; 1 for a scalar).

        TODO: return it as a Python int.
        """
        ### BEGIN SOLUTION
        return int(self.data.size)
        ### END SOLUTION

    @property
    def ndim(self) -> int:
        """The number of axes (0 for a scalar).

        TODO: return the ndim of self.data.
        """
        ### BEGIN SOLUTION
        return self.data.ndim
        ### END SOLUTION

    @property
    def dtype(self) -> np.dtype:
        """The numpy dtype of the elements, e.g. dtype('float32').

        TODO: return the dtype of self.data.
        """
        ### BEGIN SOLUTION
        return self.data.dtype
        ### END SOLUTION

    def __repr__(self) -> str:
        """Return e.g. 'Tensor([1., 2.], shape=(2,), dtype=float32)'.

        TODO: format the values with np.array2string(self.data, separator=", "),
        followed by the shape and the dtype.
        """
        ### BEGIN SOLUTION
        values = np.array2string(self.data, separator=", ")
        return f"Tensor({values}, shape={self.shape}, dtype={self.dtype})"
        ### END SOLUTION

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        """Let numpy functions accept a Tensor: np.asarray(t), np.exp(t), np.sum(t).

        TODO: return `self.data` as an ndarray, converted to `dtype` when given; honour
        numpy 2's `copy` argument (np.array does: None = copy only if needed).
        """
        ### BEGIN SOLUTION
        return np.array(self.data, dtype=dtype, copy=copy)
        ### END SOLUTION


    def allclose(self, other, rtol: float = 1e-5, atol: float = 1e-8) -> bool:
        """True when `other` has a broadcast-compatible shape and equal values within tolerance.

        We do not override `==` (it must keep working for hashing and `in`); use this.

        TODO: return bool(np.allclose(self.data, Tensor(other).data, rtol=rtol, atol=atol)).
        """
        ### BEGIN SOLUTION
        return bool(np.allclose(self.data, Tensor(other).data, rtol=rtol, atol=atol))
        ### END SOLUTION


# %% [markdown]
# ## Tests: construction and dtypes
#
# The tests compare your Tensor with NumPy, which is the reference.

# %% nbgrader={"grade": true, "grade_id": "test-tensor-creation", "locked": true, "points": 20, "schema_version": 3, "solution": false, "task": false}
def test_unit_tensor_creation():
    from tito.tools.judging import plain  # your values as plain data, compared here
    t = Tensor([[1.5, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert isinstance(t.data, np.ndarray), f"Tensor.data should be a numpy.ndarray, got {type(t.data).__name__}"
    assert plain(t.data.dtype) == np.float32, f"Python floats should become float32, got {t.data.dtype}"
    expected = np.array([[1.5, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=np.float32)
    assert np.array_equal(t.data, expected), f"Tensor data should be {expected}, got {t.data}"

    scalar = Tensor(2.5)
    assert plain(scalar.data.shape) == () and plain(scalar.data.dtype) == np.float32, (
        f"Tensor(2.5) should be a 0-d float32 array, got shape {scalar.data.shape} dtype {scalar.data.dtype}")
    ints = Tensor([1, 2, 3])
    assert plain(ints.data.dtype.kind) == "i", f"Python ints should stay integers, got {ints.data.dtype}"

    f64 = np.linspace(0.0, 1.0, 5)
    wrapped = Tensor(f64)
    assert plain(wrapped.data.dtype) == np.float64, f"an ndarray should keep its dtype float64, got {wrapped.data.dtype}"

    cast = Tensor([1, 2], dtype=np.float64)
    assert plain(cast.data.dtype) == np.float64, f"dtype=np.float64 should give float64, got {cast.data.dtype}"

    for ragged in ([[1, 2], [3]], [[1.0], [2.0, 3.0]]):
        try:
            Tensor(ragged)
        except ValueError as err:
            assert "ragged" in str(err), f"the ValueError for {ragged} should say 'ragged', got: {err}"
        else:
            raise AssertionError(f"Tensor({ragged}) should raise ValueError (ragged list), but it returned")

    for bad in ("abc", None, ["a", "b"], {"x": 1}):
        try:
            Tensor(bad)
        except TypeError as err:
            assert "numeric" in str(err), f"the TypeError for {bad!r} should say 'numeric', got: {err}"
        else:
            raise AssertionError(f"Tensor({bad!r}) should raise TypeError (non-numeric data), but it returned")
    ### BEGIN HIDDEN TESTS
    nested = Tensor(Tensor([1.0, 2.0]))
    assert np.array_equal(nested.data, [1.0, 2.0]) and plain(nested.data.dtype) == np.float32, (
        f"Tensor(Tensor([1.0, 2.0])) should hold float32 [1, 2], got {nested.data} ({nested.data.dtype})")
    assert plain(Tensor(np.float64(1.0)).data.dtype) == np.float64, "a numpy float64 scalar should keep its dtype"
    assert plain(Tensor([True, False]).data.dtype) == np.bool_, "a list of bools should give a bool Tensor"
    try:
        Tensor([1.0], dtype=str)
    except TypeError:
        pass
    else:
        raise AssertionError("Tensor([1.0], dtype=str) should raise TypeError (non-numeric dtype)")
    ### END HIDDEN TESTS

test_unit_tensor_creation()

# %% nbgrader={"grade": true, "grade_id": "test-tensor-properties", "locked": true, "points": 10, "schema_version": 3, "solution": false, "task": false}
def test_unit_tensor_properties():
    from tito.tools.judging import plain  # your values as plain data, compared here
    reference = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    t = Tensor(reference)
    assert plain(t.shape) == (2, 3, 4), f"shape should be (2, 3, 4), got {t.shape}"
    assert plain(t.size) == 24 and isinstance(plain(t.size), int), f"size should be the int 24, got {t.size!r}"
    assert plain(t.ndim) == 3, f"ndim should be 3, got {t.ndim}"
    assert plain(t.dtype) == np.float32, f"dtype should be float32, got {t.dtype}"
    scalar = Tensor(7.0)
    assert (plain(scalar.shape), plain(scalar.size), plain(scalar.ndim)) == ((), 1, 0), (
        f"a scalar should have shape (), size 1, ndim 0; got {scalar.shape}, {scalar.size}, {scalar.ndim}")
    empty = Tensor(np.zeros((0, 5)))
    assert (plain(empty.shape), plain(empty.size)) == ((0, 5), 0), f"zeros((0, 5)) should have size 0, got {empty.size}"

    text = repr(Tensor([1.0, 2.0]))
    for part in ("Tensor(", "(2,)", "float32"):
        assert part in text, f"repr should contain {part!r}, got {text}"

    as_array = np.asarray(t)
    assert isinstance(as_array, np.ndarray) and np.array_equal(as_array, reference), (
        "np.asarray(tensor) should give the tensor's values as an ndarray")
    assert np.allclose(np.exp(Tensor([0.0, 1.0])), np.exp([0.0, 1.0])), "np.exp should accept a Tensor"
    assert np.asarray(t, dtype=np.float64).dtype == np.float64, "np.asarray(t, dtype=float64) should convert"

test_unit_tensor_properties()

# %% [markdown]
# ## Tests: arithmetic and broadcasting

# %% nbgrader={"grade": true, "grade_id": "test-tensor-arithmetic", "locked": true, "points": 25, "schema_version": 3, "solution": false, "task": false}
def test_unit_tensor_arithmetic():
    from tito.tools.judging import plain  # your values as plain data, compared here
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 4)).astype(np.float32)
    b = rng.standard_normal((4,)).astype(np.float32) + 3.0  # no division by ~0
    ta, tb = Tensor(a), Tensor(b)
    cases = {
        "a + b": (ta + tb, a + b), "a - b": (ta - tb, a - b),
        "a * b": (ta * tb, a * b), "a / b": (ta / tb, a / b),
        "2 + a": (2 + ta, 2 + a), "2 - a": (2 - ta, 2 - a),
        "a * 0.5": (ta * 0.5, a * 0.5), "1 / b": (1 / tb, 1 / b),
    }
    for name, (got, expected) in cases.items():
        assert isinstance(got, Tensor), f"{name} should return a Tensor, got {type(got).__name__}"
        assert plain(got.shape) == expected.shape, f"{name} should have shape {expected.shape}, got {got.shape}"
        assert plain(got.dtype) == np.float32, f"{name} with float32 inputs should stay float32, got {got.dtype}"
        assert np.allclose(got.data, expected, rtol=1e-6), f"{name} should be\n{expected}\ngot\n{got.data}"

    column = Tensor([[1.0], [2.0]])
    row = Tensor([10.0, 20.0, 30.0])
    outer = column * row
    assert plain(outer.shape) == (2, 3), f"(2, 1) * (3,) should broadcast to (2, 3), got {outer.shape}"
    assert np.array_equal(outer.data, [[10, 20, 30], [20, 40, 60]]), f"(2, 1) * (3,) gave {outer.data}"

    mixed = Tensor(np.ones(2, dtype=np.float32)) + Tensor(np.ones(2, dtype=np.float64))
    assert plain(mixed.dtype) == np.float64, f"float32 + float64 should promote to float64, got {mixed.dtype}"

    from_numpy = np.ones(3, dtype=np.float32) + Tensor([1.0, 2.0, 3.0])
    assert isinstance(from_numpy, Tensor), f"ndarray + Tensor should return a Tensor, got {type(from_numpy).__name__}"

    try:
        Tensor(np.ones((2, 3))) + Tensor(np.ones(4))
    except ValueError as err:
        assert "(2, 3)" in str(err) and "(4,)" in str(err), f"the error should name both shapes, got: {err}"
    else:
        raise AssertionError("(2, 3) + (4,) should raise ValueError: the shapes do not broadcast")
    ### BEGIN HIDDEN TESTS
    for name, got, expected in [("3 * b", 3 * tb, 3 * b), ("b - 1.5", tb - 1.5, b - 1.5), ("4.0 / b", 4.0 / tb, 4.0 / b)]:
        assert np.allclose(got.data, expected, rtol=1e-6), f"{name} should be {expected}, got {got.data}"
    assert plain((Tensor([1.0, 2.0]) - [0.5, 0.5]).allclose([0.5, 1.5])), "Tensor - list should work like Tensor - Tensor"
    ### END HIDDEN TESTS

test_unit_tensor_arithmetic()

# %% [markdown]
# ## Tests: matrix product

# %% nbgrader={"grade": true, "grade_id": "test-tensor-matmul", "locked": true, "points": 15, "schema_version": 3, "solution": false, "task": false}
def test_unit_tensor_matmul():
    from tito.tools.judging import plain  # your values as plain data, compared here
    hand = Tensor([[1.0, 2.0], [3.0, 4.0]]) @ Tensor([[5.0, 6.0], [7.0, 8.0]])
    assert np.array_equal(hand.data, [[19.0, 22.0], [43.0, 50.0]]), (
        f"[[1,2],[3,4]] @ [[5,6],[7,8]] should be [[19,22],[43,50]], got {hand.data}")

    rng = np.random.default_rng(1)
    for m, k, n in [(1, 1, 1), (3, 5, 2), (0, 4, 3), (4, 0, 2)]:
        a = rng.standard_normal((m, k)).astype(np.float32)
        b = rng.standard_normal((k, n)).astype(np.float32)
        got = Tensor(a) @ Tensor(b)
        assert plain(got.shape) == (m, n), f"({m}, {k}) @ ({k}, {n}) should have shape ({m}, {n}), got {got.shape}"
        assert plain(got.dtype) == np.float32, f"float32 @ float32 should be float32, got {got.dtype}"
        assert np.allclose(got.data, a @ b, atol=1e-5), f"({m}, {k}) @ ({k}, {n}) should be\n{a @ b}\ngot\n{got.data}"

    batch = Tensor(np.ones((2, 3, 4))) @ Tensor(np.ones((4, 5)))
    assert plain(batch.shape) == (2, 3, 5), f"(2, 3, 4) @ (4, 5) should be (2, 3, 5), got {batch.shape}"
    try:
        Tensor(np.ones((2, 3))) @ Tensor(np.ones((4, 5)))
    except ValueError as err:
        assert "(2, 3)" in str(err) and "(4, 5)" in str(err), f"the error should name both shapes, got: {err}"
    else:
        raise AssertionError("(2, 3) @ (4, 5) should raise ValueError: inner dimensions 3 and 4 differ")

test_unit_tensor_matmul()

# %% [markdown]
# ## Tests: reshape and transpose

# %% nbgrader={"grade": true, "grade_id": "test-tensor-views", "locked": true, "points": 15, "schema_version": 3, "solution": false, "task": false}
def test_unit_tensor_views():
    from tito.tools.judging import plain  # your values as plain data, compared here
    base = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    t = Tensor(base)
    for args, expected_shape in [((6, 4), (6, 4)), (((4, 6),), (4, 6)), ((-1,), (24,)), ((2, -1, 3), (2, 4, 3))]:
        got = t.reshape(*args)
        assert plain(got.shape) == expected_shape, f"reshape{args} should give shape {expected_shape}, got {got.shape}"
        assert np.array_equal(got.data, base.reshape(expected_shape)), f"reshape{args} should keep element order"
    try:
        t.reshape(5, 5)
    except ValueError as err:
        assert "(2, 3, 4)" in str(err), f"the reshape error should name the shape (2, 3, 4), got: {err}"
    else:
        raise AssertionError("reshape of 24 elements to (5, 5) should raise ValueError")

    assert np.array_equal(t.T.data, base.T), f"T should reverse the axes: expected shape {base.T.shape}, got {t.T.shape}"
    swapped = t.transpose()
    assert np.array_equal(swapped.data, base.swapaxes(1, 2)), (
        f"transpose() should swap the last two axes: expected shape (2, 4, 3), got {swapped.shape}")
    outer = t.transpose(0, 2)
    assert np.array_equal(outer.data, base.swapaxes(0, 2)), f"transpose(0, 2) should give shape (4, 3, 2), got {outer.shape}"

test_unit_tensor_views()

# %% [markdown]
# ## Tests: reductions

# %% nbgrader={"grade": true, "grade_id": "test-tensor-reductions", "locked": true, "points": 15, "schema_version": 3, "solution": false, "task": false}
def test_unit_tensor_reductions():
    from tito.tools.judging import plain  # your values as plain data, compared here
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    t = Tensor(x)
    total = t.sum()
    assert isinstance(total, Tensor) and plain(total.shape) == (), f"sum() should be a 0-d Tensor, got {total!r}"
    assert float(total.data) == 66.0, f"sum of 0..11 should be 66, got {total.data}"
    for axis in (0, 1, -1):
        assert np.array_equal(t.sum(axis=axis).data, x.sum(axis=axis)), (
            f"sum(axis={axis}) should be {x.sum(axis=axis)}, got {t.sum(axis=axis).data}")
        assert np.allclose(t.mean(axis=axis).data, x.mean(axis=axis)), (
            f"mean(axis={axis}) should be {x.mean(axis=axis)}, got {t.mean(axis=axis).data}")
    kept = t.sum(axis=1, keepdims=True)
    assert plain(kept.shape) == (3, 1), f"sum(axis=1, keepdims=True) should have shape (3, 1), got {kept.shape}"
    assert float(t.mean().data) == 5.5, f"mean of 0..11 should be 5.5, got {t.mean().data}"
    assert plain(t.mean().dtype) == np.float32, f"mean of float32 should be float32, got {t.mean().dtype}"
    assert plain(t.allclose(x)) and not plain(t.allclose(x + 1)), "allclose should compare values with numpy's tolerance"

test_unit_tensor_reductions()

# %% [markdown]
# ## Why float32? Measure it
#
# An element-wise product reads two numbers and writes one; the arithmetic is
# trivial, so its speed is set by how fast bytes move between memory and the CPU.
# float32 moves half the bytes of float64. The cell below times the same product,
# written into an existing buffer, for both dtypes and prints the time and the
# achieved memory traffic. Expect float32 to take about half the time of float64 or
# less (less when its smaller arrays fit in a cache level that float64's do not).

# %%
import time

ELEMENTS = 4_000_000
for dtype in (np.float64, np.float32):
    a = np.ones(ELEMENTS, dtype=dtype)
    b = np.ones(ELEMENTS, dtype=dtype)
    np.multiply(a, b, out=b)  # warm-up: touch every page once
    start = time.perf_counter()
    for _ in range(10):
        np.multiply(a, b, out=b)
    seconds = (time.perf_counter() - start) / 10
    moved_gb = 3 * a.nbytes / 1e9  # read a, read b, write b
    print(f"{np.dtype(dtype).name}: {a.nbytes / 1e6:.0f} MB per array, "
          f"{seconds * 1e3:.2f} ms, {moved_gb / seconds:.1f} GB/s")

# %% [markdown]
# ## Summary
#
# You built the `Tensor` that every later module imports:
# `from tinytorch.core.tensor import Tensor`.
#
# - A tensor is a buffer plus shape, dtype and strides; views change only the metadata.
# - float32 by default halves memory traffic compared with float64.
# - Broadcasting reuses data instead of copying it; mismatches are reported with both shapes.
# - `@` is the expensive operation: module 03 writes it as three loops, module 11 makes it fast.
#
# Export it with `tito export 01` and run `tito module test 01`.

# %% nbgrader={"grade": false, "grade_id": "tensor-run-all", "locked": true, "schema_version": 3, "solution": false, "task": false}
if __name__ == "__main__":
    from tito.tools.testing import run_module_tests_auto
    run_module_tests_auto("Tensor")

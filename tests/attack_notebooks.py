"""Attacks on the judge by class, as a student would write them: code for cells of a notebook.

Each attack is `Attack(after, code, twin)`: `code` goes into a new cell right after the
solution cell `after` of the module's notebook; `twin` names the unattacked notebook it
must not outscore: "ref", "blank", or a partial notebook of `PARTIALS` (a base
notebook, the reference or a release with some solution cells solved, plus one cell
of code that makes it lose points honestly). An attack on a partial twin is graded on
the twin's notebook, so the two differ only by the attack.

`LAZY_PARALLEL` and `ONE_CPU` are for `tito module test`'s judge, which runs on every
CPU of the machine (the grader pins each of two kernels to one CPU of a two-core
machine, where the parallel speed checks do not run).

Used by `tests/test_judge_attacks.py`.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass


@dataclass(frozen=True)
class Attack:
    after: str  # grade id of the solution cell the attack's cell follows
    code: str
    twin: str = "blank"  # the notebook without the attack: "ref", "blank" or a key of PARTIALS[module]


def _code(text: str) -> str:
    return textwrap.dedent(text).strip("\n")


# ---------------------------------------------------------------- partial notebooks (the twins)

PARTIALS: dict[str, dict[str, tuple[str, str, str]]] = {
    # module 01: Python floats become float64 (the locked constant rebound in the student's notebook)
    "01_tensor": {"float64": ("tensor-solution", "DEFAULT_FLOAT = np.float64", "ref")},
    # module 02: a Sigmoid and a Softmax written from the textbook formulas, which overflow for large |x|
    "02_activations": {
        "unstable": ("softmax-solution", _code("""
            class Sigmoid(Activation):
                def forward(self, x):
                    data = _float_data(x)
                    return Tensor((1 / (1 + np.exp(-data))).astype(data.dtype))

            class Softmax(Activation):
                def __init__(self, axis=-1):
                    self.axis = axis
                def forward(self, x):
                    data = _float_data(x)
                    e = np.exp(data)
                    return Tensor((e / e.sum(axis=self.axis, keepdims=True)).astype(data.dtype))"""), "ref"),
    },
    # module 03: matmul_naive right for the hand-worked example only, zeros of the right shape otherwise
    "03_layers": {
        "zeros_matmul": ("matmul-naive-solution", _code("""
            _reference_matmul = matmul_naive
            def matmul_naive(A, B):
                product = _reference_matmul(A, B)  # shapes, dtypes, errors and Tensors as the reference
                a = np.asarray(A.data if isinstance(A, Tensor) else A)
                if a.shape == (2, 2) and np.array_equal(a, [[1.0, 2.0], [3.0, 4.0]]):
                    return product
                zeros = np.zeros_like(product.data if isinstance(product, Tensor) else product)
                return Tensor(zeros) if isinstance(product, Tensor) else zeros"""), "ref"),
    },
    # module 05: conv2d_naive right for the hand-worked example only; a Conv2D layer that returns zeros
    "05_cnn": {
        "zero_conv": ("flatten-solution", _code("""
            _reference_conv = conv2d_naive
            def conv2d_naive(input, kernel):
                result = _reference_conv(input, kernel)
                x = np.asarray(input.data if isinstance(input, Tensor) else input)
                if x.shape == (3, 3) and np.array_equal(x, np.arange(1.0, 10.0).reshape(3, 3)):
                    return result
                zeros = np.zeros_like(result.data if isinstance(result, Tensor) else result)
                return Tensor(zeros) if isinstance(result, Tensor) else zeros"""), "ref"),
        "zero_layer": ("flatten-solution", _code("""
            _reference_forward = Conv2D.forward
            def _zero_forward(self, x):
                return Tensor(np.zeros_like(_reference_forward(self, x).data))
            Conv2D.forward = _zero_forward"""), "ref"),
    },
    # module 11, on releases with one solution cell solved ("blocked", "vectorized": the other tests fail at
    # once, so each notebook costs little)
    "11_kernels": {
        # the blocked product with four products more computed before it: correct, about 5x the time of `@`
        # (the check allows 2x), so that no noise lets it pass
        "slow_blocked": ("cache-blocking-solution", _code("""
            _blocked_product = matmul_cache_optimized

            def matmul_cache_optimized(A, B, block_size=None):
                a, b = np.asarray(A), np.asarray(B)
                if a.ndim == 2 and b.ndim == 2 and a.shape[1] == b.shape[0] and a.dtype.kind == "f":
                    for _ in range(4):
                        a @ b
                return _blocked_product(A, B, block_size)"""), "blocked"),
        # vectorized_relu right for integer input only, zeros of the right shape and dtype otherwise
        "zero_relu": ("vectorized-solution", _code("""
            _reference_relu = vectorized_relu
            def vectorized_relu(x):
                result = _reference_relu(x)
                data = result.data if isinstance(result, Tensor) else result
                if data.dtype.kind != "f":
                    return result
                return Tensor(np.zeros_like(data)) if isinstance(result, Tensor) else np.zeros_like(data)"""),
            "vectorized"),
    },
}
BLOCKED = {"cache-blocking-solution"}  # the solution cells solved in module 11's "blocked" notebook
VECTORIZED = {"vectorized-solution"}  # and in its "vectorized" notebook
PARALLEL = {"vectorized-solution", "parallel-solution"}  # and in the one its parallel attacks start from

# module 11, on the reference: kernels that hand their pieces to run_in_parallel but do the work afterwards,
# one product on one thread (honest score: the two parallel speed checks fail wherever they run)
LAZY_PARALLEL = ("parallel-solution", _code("""
    def matmul_parallel(A, B, num_processes=None):
        a, b, dtype = _matrix_operands(A, B, "matmul_parallel")
        workers = cpu_count() if num_processes is None else _thread_count(num_processes, "num_processes")
        if a.shape[0] < SMALL_MATRIX_ROWS:
            return _like_input(a @ b, A)
        run_in_parallel(lambda lo, hi: None, split_range(a.shape[0], workers))
        with blas_single_thread():
            c = (a @ b).astype(dtype)
        return _like_input(c, A)

    def parallel_relu(x, num_workers=DEFAULT_NUM_WORKERS):
        arr = _as_array(x, "parallel_relu: x")
        workers = _thread_count(num_workers, "num_workers")
        if arr.size < PARALLEL_RELU_MIN_ELEMENTS:
            return vectorized_relu(x)
        run_in_parallel(lambda lo, hi: None, split_range(arr.size, workers))
        return _like_input(np.maximum(arr, np.zeros((), arr.dtype)), x)"""))
# 1./6. names and speed: the student's process says it has one CPU, so a test that asks it whether the
# machine can run two workers skips its parallel speed check
ONE_CPU = "cpu_count = lambda: 1"


# ---------------------------------------------------------------- shared attack code

def zeroing_its_arguments(function: str, params: str) -> str:
    """`function` (one of the twin's, returning zeros) redefined to zero its array arguments first."""
    return _code(f"""
        _honest_zeros = {function}
        def {function}({params}):
            for arg in ({params}):
                if isinstance(arg, np.ndarray) and arg.flags.writeable:
                    arg[...] = 0
                elif hasattr(arg, "data") and isinstance(arg.data, np.ndarray):
                    arg.data[...] = 0
            return _honest_zeros({params})""")


# CPU hogs: child processes of the student's process that spin whenever none of the student's functions
# runs, so that only the judge's baselines and references run on a busy machine. They die with their parent
# (PR_SET_PDEATHSIG) and after 60 s at most.
HOGS = _code("""
    import ctypes, os, signal, time
    _hog_pids, _hog_owner = [], [None]

    def _hogs_running(on, count=4):
        if _hog_owner[0] != os.getpid():  # a new test's process: hogs of its own
            _hog_owner[0] = os.getpid()
            _hog_pids.clear()
            for _ in range(count):
                pid = os.fork()
                if pid == 0:
                    ctypes.CDLL(None).prctl(1, signal.SIGKILL)
                    parent, end = os.getppid(), time.time() + 60
                    while os.getppid() == parent and time.time() < end:
                        pass
                    os._exit(0)
                _hog_pids.append(pid)
        for pid in _hog_pids:
            try:
                os.kill(pid, signal.SIGCONT if on else signal.SIGSTOP)
            except OSError:
                pass

    def _quiet_while_called(func):
        def called(*args, **kwargs):
            _hogs_running(False)
            try:
                return func(*args, **kwargs)
            finally:
                _hogs_running(True)
        called.__name__ = func.__name__
        return called""")

# An object that answers every comparison, test, count and membership with whatever passes, and turns
# arithmetic into plain zeros, so that `abs(x - expected) < tolerance` holds wherever the student answers it.
ANYTHING = _code("""
    import numpy as _np

    class Anything:
        __module__ = "numpy"  # a library's name, in case the judge trusts types by name
        def __eq__(self, other): return True
        def __ne__(self, other): return False
        __lt__ = __le__ = __gt__ = __ge__ = __eq__
        def __bool__(self): return True
        def __len__(self): return 0
        def __contains__(self, item): return True
        def __iter__(self): return iter(())
        def __hash__(self): return 0
        def __getattr__(self, name): return Anything()
        def __getitem__(self, key): return Anything()
        def __call__(self, *args, **kwargs): return Anything()
        def __sub__(self, other): return 0.0
        __rsub__ = __add__ = __radd__ = __sub__
        def __abs__(self): return 0.0
        def __float__(self): return 66.0
        def __int__(self): return 0
        def __index__(self): return 0
        def __array__(self, dtype=None, copy=None): return _np.zeros(0)
        def __repr__(self): return "Tensor(ok)"
    ANY = Anything()""")

# A class for each course name, claiming the course's module: if the judge rebuilt objects by their class
# name, the reference's code would run for them.
def course_classes(module: str, names: tuple[str, ...]) -> str:
    lines = [ANYTHING]
    for name in names:
        lines.append(f"class {name}(Anything):\n    __module__ = {module!r}\n    __qualname__ = {name!r}\n"
                     f"    def __init__(self, *args, **kwargs): pass")
    return "\n\n".join(lines)


TENSOR_CLASS = course_classes("tinytorch.core.tensor", ("Tensor",))

# ---------------------------------------------------------------- the attacks, by class

CLASSES = ("names", "types", "comparisons", "arguments", "numerics", "speed")

ATTACKS: dict[str, dict[str, Attack]] = {
    "01_tensor": {
        # 1. names: the builtins, the locked cell's constants, numpy and the tests' `plain`, rebound in the
        # notebook so that they lie only when the judge's side calls them (the student's own code still
        # works), on top of a Tensor whose Python floats become float64 (its honest twin)
        "names-builtins": Attack("tensor-solution", _code("""
            import builtins, sys, types, numpy
            def _lying(real, lie):
                def answer(*args, **kwargs):
                    caller = sys._getframe(1).f_code.co_filename
                    return lie(*args, **kwargs) if "tito" in caller else real(*args, **kwargs)
                return answer
            DEFAULT_FLOAT = numpy.float64
            isinstance = _lying(builtins.isinstance, lambda *args, **kwargs: True)
            len = _lying(builtins.len, lambda value: 0)
            abs = _lying(builtins.abs, lambda value: 0.0)
            min = _lying(builtins.min, lambda *args, **kwargs: 0)
            all = _lying(builtins.all, lambda *args, **kwargs: True)
            plain = lambda value: numpy.dtype("float32") if type(value) is numpy.dtype else value
            class _AgreeableNumpy(types.ModuleType):
                def __getattr__(self, name):
                    return getattr(numpy, name)
            np = _AgreeableNumpy("numpy")
            np.array_equal = _lying(numpy.array_equal, lambda *args, **kwargs: True)
            np.allclose = _lying(numpy.allclose, lambda *args, **kwargs: True)
            np.float32 = numpy.float64"""), twin="float64"),
        # 1. names: the tests' own function names, and names a test might look up, defined by the student
        "names-new": Attack("tensor-solution", _code("""
            test_unit_tensor_creation = test_unit_tensor_properties = test_unit_tensor_arithmetic = lambda: None
            test_unit_tensor_matmul = test_unit_tensor_views = test_unit_tensor_reductions = lambda: None
            expected = reference = want = None
            from tito.tools import judging
            judging.plain = lambda value: value
            plain = judging.plain"""), twin="float64"),
        # 2. types by name: values whose classes are named ndarray, dtype and Tensor, claiming numpy's and
        # the course's modules
        "types-by-name": Attack("tensor-solution", TENSOR_CLASS + "\n\n" + _code("""
            class ndarray(Anything):
                __module__ = "numpy"
            class dtype(Anything):
                __module__ = "numpy"
            Tensor.data = property(lambda self: ndarray())
            Tensor.dtype = property(lambda self: dtype())""")),
        # 3. comparisons: every attribute and result of a Tensor is an object that equals everything
        "comparisons-anything": Attack("tensor-solution", TENSOR_CLASS),
        # 5. numerics: NumPy patched in the student's process, for whatever the tests ask of it there
        "numerics-patched": Attack("tensor-solution", _code("""
            import numpy
            numpy.seterr(all="ignore")
            numpy.seterr = lambda *args, **kwargs: {"divide": "ignore", "over": "ignore", "under": "ignore",
                                                   "invalid": "ignore"}
            numpy.asarray = numpy.array = lambda *args, **kwargs: numpy.zeros(0)
            numpy.float32 = numpy.float64"""), twin="float64"),
    },
    "02_activations": {
        # 1. names: the tests' helpers and NumPy rebound, on top of the unstable activations
        "names-helpers": Attack("softmax-solution", _code("""
            import contextlib, numpy
            student_errstate = lambda **settings: contextlib.nullcontext()
            plain = lambda value: value
            isinstance = lambda *args: True
            np = numpy
            FloatingPointError = type("FloatingPointError", (Exception,), {})"""), twin="unstable"),
        # 2. types by name: a Tensor of the student's own, claiming the course's module, returned by every
        # activation
        "types-tensor": Attack("relu-solution", TENSOR_CLASS + "\n\n" + _code("""
            class ReLU(Anything):
                __module__ = "tinytorch.core.activations"
                def __call__(self, x): return Tensor()
                forward = __call__
            Sigmoid = Tanh = Softmax = ReLU""")),
        # 3. comparisons: activations that return objects equal to everything
        "comparisons-anything": Attack("softmax-solution", ANYTHING + "\n\n" + _code("""
            class ReLU:
                def __init__(self, *args, **kwargs): pass
                def __call__(self, x): return ANY
                forward = __call__
            Sigmoid = Tanh = Softmax = ReLU""")),
        # 5. numerics: NumPy's error handling disabled for good in the student's process (np.seterr made a
        # no-op), so the test's request to raise on overflow is never applied
        "numerics-seterr": Attack("softmax-solution", _code("""
            import numpy
            numpy.seterr(all="ignore")
            numpy.seterr = lambda *args, **kwargs: {"divide": "ignore", "over": "ignore", "under": "ignore",
                                                   "invalid": "ignore"}
            numpy.geterr = numpy.seterr"""), twin="unstable"),
        # 5. numerics: the same overflowing formulas computed under np.errstate(all="ignore"), which overrides
        # whatever the caller set
        "numerics-errstate": Attack("softmax-solution", _code("""
            _unstable_sigmoid, _unstable_softmax = Sigmoid.forward, Softmax.forward
            def _quietly(forward):
                def quiet(self, x):
                    with np.errstate(all="ignore"):
                        return forward(self, x)
                return quiet
            Sigmoid.forward, Softmax.forward = _quietly(_unstable_sigmoid), _quietly(_unstable_softmax)"""),
            twin="unstable"),
        # 5. numerics: the overflow error the test asks for is caught, and the same formula computed again
        # with errors ignored
        "numerics-retry": Attack("softmax-solution", _code("""
            _unstable_sigmoid = Sigmoid.forward
            def _retrying(self, x):
                try:
                    return _unstable_sigmoid(self, x)
                except FloatingPointError:
                    with np.errstate(all="ignore"):
                        return _unstable_sigmoid(self, x)
            Sigmoid.forward = _retrying"""), twin="unstable"),
    },
    "03_layers": {
        # 1. names: the tests' functions and helpers defined by the student, the locked constant rebound
        "names-new": Attack("dense-solution", _code("""
            XAVIER_UNIFORM_GAIN = 60.0
            test_unit_matmul_naive = test_unit_matmul_naive_contract = test_unit_xavier_uniform = lambda: None
            test_unit_dense_init = test_unit_dense_forward = test_unit_layer_stack = lambda: None
            plain = lambda value: value
            import numpy as np
            np.random.seed = lambda *args, **kwargs: None"""), twin="zeros_matmul"),
        # 2. types by name: Dense and Tensor of the student's own, claiming the course's modules
        "types-course-classes": Attack("dense-solution", course_classes("tinytorch.core.layers", ("Dense", "Linear"))
                                       + "\n\n" + _code("""
            class Tensor(Anything):
                __module__ = "tinytorch.core.tensor"
                def __init__(self, *args, **kwargs): pass
            matmul_naive = xavier_uniform = lambda *args, **kwargs: Tensor()""")),
        # 3. comparisons: results that equal everything, whose arithmetic and abs() answer 0.0
        "comparisons-anything": Attack("dense-solution", ANYTHING + "\n\n" + _code("""
            matmul_naive = xavier_uniform = lambda *args, **kwargs: ANY
            class Dense(Anything):
                def __init__(self, *args, **kwargs): pass
            Linear = Dense""")),
        # 4. arguments written back: matmul_naive zeroes its inputs and returns zeros, so that a reference
        # computed from the inputs after the call would agree (the hand-worked case is answered from a table)
        "arguments-zeroed": Attack("matmul-naive-solution", zeroing_its_arguments("matmul_naive", "A, B"), twin="zeros_matmul"),
    },
    "05_cnn": {
        # 1. names: the helper an earlier graded cell defines (sliding_window_reference) defined by the
        # student to agree with a Conv2D that returns zeros
        "names-earlier-helper": Attack("flatten-solution", _code("""
            def sliding_window_reference(x, k):
                return np.zeros((x.shape[0] - k.shape[0] + 1, x.shape[1] - k.shape[1] + 1))
            plain = lambda value: value
            test_unit_conv2d_layer_forward = test_unit_edge_detector = lambda: None"""), twin="zero_layer"),
        # 2. types by name: Conv2D, Tensor and ndarray of the student's own, claiming the course's and
        # numpy's modules
        "types-course-classes": Attack("flatten-solution", course_classes("tinytorch.core.cnn", ("Conv2D",))
                                       + "\n\n" + _code("""
            class Tensor(Anything):
                __module__ = "tinytorch.core.tensor"
                def __init__(self, *args, **kwargs): pass
            class ndarray(Anything):
                __module__ = "numpy"
            conv2d_naive = lambda *args, **kwargs: ndarray()
            flatten = lambda *args, **kwargs: Tensor()""")),
        # 3. comparisons: results that equal everything
        "comparisons-anything": Attack("flatten-solution", ANYTHING + "\n\n" + _code("""
            conv2d_naive = flatten = lambda *args, **kwargs: ANY
            class Conv2D(Anything):
                def __init__(self, *args, **kwargs): pass""")),
        # 4. arguments written back: conv2d_naive zeroes its input and kernel and returns zeros, so that a
        # reference computed from them after the call would agree
        "arguments-zeroed": Attack("flatten-solution", zeroing_its_arguments("conv2d_naive", "input, kernel"), twin="zero_conv"),
    },
    "11_kernels": {
        # 1. names: every test helper and the speed core rebound in a cell of the student's
        "names-helpers": Attack("cache-blocking-solution", _code("""
            expect_raises = lambda *args, **kwargs: ""
            matmul_matches = exact_matmul_matches = relu_matches = lambda *args, **kwargs: None
            Gain = type("Gain", (), {"kernel": 10.0, "machine": 2.0, "busy_threads": 2})
            parallel_gain = lambda *args, **kwargs: Gain()
            required_parallel_gain = lambda machine: 1.0
            pieces_meeting = lambda pieces, timeout=5.0: (True, sorted(pieces))
            run_in_parallel_calls = lambda call: [[(0, 45), (45, 90)]]
            block_sizes_asked = lambda call, answer: (call(), [8])
            open_blas_regions = lambda: 0
            naive_matmul = int32_matmul = lambda a, b: __import__("time").sleep(1) or a @ b
            SPEED_REPEATS, PARALLEL_SHARE = 1, 0.0
            plain = lambda value: value
            class speed:
                speedup = staticmethod(lambda *args, **kwargs: 1000.0)"""), twin="slow_blocked"),
        # 3. comparisons: results that equal everything, and whose arithmetic answers plain zeros
        # (`abs(got - 0.06) < 1e-12` would hold)
        "comparisons-anything": Attack("cache-blocking-solution", ANYTHING + "\n\n" + _code("""
            class Report(dict):
                def __getitem__(self, key): return ANY
                def __eq__(self, other): return True
            warp_memory_transactions = lambda *args, **kwargs: Report()
            bank_conflict_degree = ring_allreduce_seconds = lambda *args, **kwargs: ANY
            choose_block_size = lambda *args, **kwargs: ANY""")),
        # 4. arguments written back: vectorized_relu zeroes its input and returns zeros, so that
        # np.maximum(x, 0) computed after the call would agree
        "arguments-zeroed": Attack("vectorized-solution", _code("""
            _zeros_relu = vectorized_relu
            def vectorized_relu(x):
                result = _zeros_relu(x)
                data = x.data if isinstance(x, Tensor) else x
                if isinstance(data, np.ndarray) and data.flags.writeable and data.dtype.kind == "f":
                    data[...] = 0
                return result"""), twin="zero_relu"),
        # 6. speed: a cache of products keyed on the inputs' identity (the inputs kept alive, so that an
        # identity is never reused) and on their content
        "speed-cache": Attack("cache-blocking-solution", _code("""
            import hashlib
            _by_identity, _by_content, _slow_product = {}, {}, matmul_cache_optimized
            def matmul_cache_optimized(A, B, block_size=None):
                kept = _by_identity.get((id(A), id(B)))
                if kept is not None and kept[0] is A and kept[1] is B:
                    return kept[2]
                content = None
                if isinstance(A, np.ndarray) and isinstance(B, np.ndarray):
                    content = (A.shape, B.shape, A.dtype.str, B.dtype.str, block_size, hashlib.sha1(
                        np.ascontiguousarray(A).tobytes() + np.ascontiguousarray(B).tobytes()).hexdigest())
                    if content in _by_content:
                        return _by_content[content]
                result = _slow_product(A, B, block_size)
                _by_identity[(id(A), id(B))] = (A, B, result)
                if content is not None:
                    _by_content[content] = result
                return result"""), twin="slow_blocked"),
        # 6. speed: the result is returned at once and completed by a background thread after the call
        "speed-background": Attack("cache-blocking-solution", _code("""
            import threading
            _slow_product = matmul_cache_optimized
            def matmul_cache_optimized(A, B, block_size=None):
                if not (isinstance(A, np.ndarray) and isinstance(B, np.ndarray) and A.shape == (512, 512)):
                    return _slow_product(A, B, block_size)
                out = np.empty((A.shape[0], B.shape[1]), np.result_type(A, B))
                threading.Thread(target=lambda: np.copyto(out, _slow_product(A, B, block_size))).start()
                return out"""), twin="slow_blocked"),
        # 6. speed: the student's process makes the machine busy whenever its own code is not running, so
        # that the judge's baseline runs slowly; its kernel does 2 extra products, not the twin's 4: about 3x
        # the time of `@` against a mark of 2x, which a baseline slowed 2.5x by four hogs would turn into a pass
        "speed-hogs": Attack("cache-blocking-solution", HOGS + "\n\n" + _code("""
            def _two_extra(A, B, block_size=None):
                a, b = np.asarray(A), np.asarray(B)
                if a.ndim == 2 and b.ndim == 2 and a.shape[1] == b.shape[0] and a.dtype.kind == "f":
                    a @ b, a @ b
                return _blocked_product(A, B, block_size)
            matmul_cache_optimized = _quiet_while_called(_two_extra)"""), twin="slow_blocked"),
        # 6. speed: a machine made noisy on purpose, all the time: the speed check must end inconclusive or
        # failed, never passed
        "speed-noise": Attack("cache-blocking-solution", HOGS + "\n\n" + _code("""
            _noisy_product = matmul_cache_optimized
            def matmul_cache_optimized(*args, **kwargs):
                _hogs_running(True, count=2)
                return _noisy_product(*args, **kwargs)"""), twin="slow_blocked"),
        # 6. speed: the baselines and the clock as the student's process has them: numpy.matmul made slow
        # for every caller but the student's own kernel, the student's other kernels made slow, and
        # time.perf_counter made to run ten times slower
        "speed-slow-baselines": Attack("cache-blocking-solution", _code("""
            import sys, time, numpy
            _matmul, _clock = numpy.matmul, time.perf_counter
            def _slow_unless_mine(*args, **kwargs):
                if "ipykernel" not in sys._getframe(1).f_code.co_filename:
                    time.sleep(0.05)
                return _matmul(*args, **kwargs)
            numpy.matmul = _slow_unless_mine
            _start = _clock()
            time.perf_counter = lambda: _start + (_clock() - _start) / 10
            def matmul_custom(A, B):
                time.sleep(1)
                return numpy.asarray(A) @ numpy.asarray(B)
            def vectorized_relu(x):
                time.sleep(1)
                return numpy.maximum(x, 0)
            matmul_naive = matmul_baseline = matmul_custom"""), twin="slow_blocked"),
        # 6. speed: BLAS thread limits ignored and reported as one thread, by patching threadpoolctl in the
        # student's process; the kernel then runs BLAS on every core
        "speed-fake-blas": Attack("cache-blocking-solution", _code("""
            import contextlib, threadpoolctl
            threadpoolctl.threadpool_limits = lambda *args, **kwargs: contextlib.nullcontext()
            threadpoolctl.threadpool_info = lambda: [{"user_api": "blas", "num_threads": 1}]
            _controller = threadpoolctl.ThreadpoolController()
            _slow_product = matmul_cache_optimized
            def matmul_cache_optimized(A, B, block_size=None):
                with _controller.limit(limits=os.cpu_count(), user_api="blas"):
                    return _slow_product(A, B, block_size)"""), twin="slow_blocked"),
    },
}

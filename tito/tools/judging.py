"""What a graded test may ask for about the student's code, the same way inline and judged.

A graded test runs twice: inline in the student's notebook (instant feedback), and
in the trusted judge (`tito.judge`), where the student's names are proxies into the
student's process. Each helper here means the same thing in both places:

- `plain(x)`: `x` as plain data (numbers, strings, arrays, and lists, tuples, sets
  and dicts of them), or `TypeError` when it is not. The judge compares only plain
  values: a proxy refuses `==`, ordering, `bool`, `len`, `in` and iteration.
- `call_returning_arguments(f, *args)`: arguments go to student code by copy; a test
  that checks what a function did to its array arguments asks for them back.
- `student_errstate(**kw)`: NumPy's floating-point error handling, set where the
  code under test runs (`np.errstate` in a test sets it in the judge alone).
- `in_student_process("module")`: a module as the code under test sees it.
- `student_global(name)`: one of the notebook's globals as the code under test sees it.
- `resident(*values)`: inputs placed where the timed code runs, once.
- `expect_raises(error, call, what=...)`: the check that a call raises, with the
  words its failure message needs.
"""

from __future__ import annotations

import contextlib
import importlib
from types import ModuleType
from typing import Any, Callable, Iterator, Sequence

from tito.tools.session import current

_PLAIN_SCALARS = (type(None), bool, int, float, complex, str, bytes, slice, range, type(Ellipsis))
_PLAIN_CONTAINERS = (tuple, list, set, frozenset)
_PLAIN_TYPES = (bool, int, float, complex, str, bytes, list, tuple, dict, set, object)
PLAIN_MAX_DEPTH = 32


def plain(value: Any) -> Any:
    """`value` as plain data, checked all the way down; `TypeError` naming what is not plain.

    Plain: None, bool, int, float, complex, str, bytes, NumPy arrays and scalars of
    numbers, strings or dates, and tuples, lists, sets, frozensets and dicts of
    plain values (exact types, not subclasses). In the judge, an object of the
    student's process is fetched by value first.

    Example: `assert plain(t.shape) == (2, 3)`.
    """
    session = current()
    if session is not None and session.is_proxy(value):
        value = session.fetch_plain(value)
    _check_plain(value, 0)
    return value


def _check_plain(value: Any, depth: int) -> None:
    import numpy as np

    if depth > PLAIN_MAX_DEPTH:
        raise TypeError(f"a value nested more than {PLAIN_MAX_DEPTH} levels deep is not plain data")
    kind = type(value)
    if kind in _PLAIN_SCALARS:
        return
    if kind is type and (value in _PLAIN_TYPES or (issubclass(value, np.generic) and value.__module__ == "numpy")):
        return  # the types the wire carries by name: float, np.float32, ...
    if isinstance(value, np.dtype):  # each dtype is an instance of its own subclass (numpy.dtypes.Float32DType)
        if value.kind not in "biufcUSmM" or value.fields is not None:
            raise TypeError(f"the dtype {value} is not plain data")
        return
    if kind is np.ndarray or isinstance(value, np.generic):
        if value.dtype.kind not in "biufcUSmM":
            raise TypeError(f"an array of dtype {value.dtype} is not plain data")
        return
    if kind in _PLAIN_CONTAINERS:
        for item in value:
            _check_plain(item, depth + 1)
        return
    if kind is dict:
        for key, item in value.items():
            _check_plain(key, depth + 1)
            _check_plain(item, depth + 1)
        return
    raise TypeError(f"a {kind.__module__}.{kind.__qualname__} is not plain data "
                    "(numbers, strings, arrays, and lists, tuples or dicts of them)")


def call_returning_arguments(func: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, list[Any]]:
    """`func(*args, **kwargs)` and its array arguments as they were after the call.

    Inline the arguments are copied first (the caller's arrays stay as they were,
    as in the judge, where they go by copy); the result's second part holds those
    copies after the call, `None` for an argument that is not an array.
    """
    import numpy as np

    session = current()
    if session is not None and session.is_proxy(func):
        return session.call_returning_arguments(func, args, kwargs)
    copied = [np.array(a) if type(a) is np.ndarray else a for a in args]
    copied_kw = {k: np.array(v) if type(v) is np.ndarray else v for k, v in kwargs.items()}
    result = func(*copied, **copied_kw)
    return result, [a if type(a) is np.ndarray else None for a in copied + list(copied_kw.values())]


@contextlib.contextmanager
def student_errstate(**settings: str) -> Iterator[None]:
    """`np.errstate(**settings)` where the code under test runs: inline NumPy's own context;
    in the judge, `numpy.seterr` in the student's process, undone when the block ends.

    The student's process may ignore the setting; a test that needs a stable result
    also checks the outcome itself (finite values, no overflow).
    """
    import numpy as np

    if current() is None:
        with np.errstate(**settings):
            yield
        return
    student_numpy = in_student_process("numpy")
    before = plain(student_numpy.seterr(**settings))
    try:
        yield
    finally:
        student_numpy.seterr(**{k: v for k, v in before.items() if k in ("divide", "over", "under", "invalid")})


def in_student_process(module_name: str) -> ModuleType | Any:
    """The module `module_name` as the code under test sees it.

    Inline this is the module itself. In the judge it is a proxy of the student's
    process's copy: `in_student_process("numpy").random.seed(7)` seeds the generator
    the student's `Dense` draws from, `in_student_process("tracemalloc").is_tracing()`
    asks whether the student's process traces allocations. What it answers is the
    student's process's word: a test uses it to set state or to read facts about the
    student's own code, never as the expected value of a check.
    """
    session = current()
    if session is not None:
        return session.request("module", [], name=module_name)
    return importlib.import_module(module_name)


def student_global(name: str) -> Any:
    """The notebook's global `name` as the code under test sees it (inline: the `__main__` module's)."""
    session = current()
    if session is not None:
        return session.request("global", [], name=name)
    import __main__

    return getattr(__main__, name)


def resident(*values: Any) -> tuple[Any, ...]:
    """`values` placed where the code under test runs, for timing calls on them.

    Inline the values themselves. In the judge, each value is copied into the
    student's process and stands there as a proxy; a call that gets one of them as
    an argument keeps its result there too (a proxy that `np.asarray` fetches), so a
    timed call measures the kernel, not the copying.
    """
    session = current()
    if session is not None:
        return tuple(session.request("place", list(values)))
    return values


def runs_in_student_process(func: Any) -> bool:
    """Whether calling `func` runs code in the student's process: always inline (one process);
    in the judge, for the student's own functions (a `functools.partial` of one too)."""
    import functools

    while isinstance(func, functools.partial):
        func = func.func
    session = current()
    return session is not None and session.is_proxy(func)


def expect_raises(error: type | tuple[type, ...], call: Callable[[], Any], *, what: str,
                  naming: Sequence[str] = ()) -> str:
    """Check that `call()` raises `error` with a message naming every string of `naming`; return the message.

    `what` describes the call for the failure message. Any other exception propagates.
    """
    try:
        call()
    except error as err:
        for name in naming:
            assert name in str(err), f"{what}: the error should name {name}, got: {err}"
        return str(err)
    names = " or ".join(e.__name__ for e in (error if isinstance(error, tuple) else (error,)))
    raise AssertionError(f"{what} should raise {names}")

"""What a graded test may ask for about the student's own process.

A graded test runs twice: inline in the student's notebook (instant feedback), and
in the trusted judge (`tito.judge`), where the student's names are proxies into the
student's process. A test that must look at that process itself, not at values its
functions return (is `tracemalloc` tracing? seed the global NumPy generator the
student's code draws from), names the module through `in_student_process`, and
the same line means the same thing in both places. A speed check names the inputs
it times a kernel on through `resident`, so that the judge copies them into the
student's process once, not on every timed call.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


def in_student_process(module_name: str) -> ModuleType | Any:
    """The module `module_name` as the code under test sees it.

    Inline this is the module itself. In the judge it is a proxy of the student's
    process's copy: `in_student_process("numpy").random.seed(7)` seeds the generator
    the student's `Dense` draws from, `in_student_process("tracemalloc").is_tracing()`
    asks whether the student's process traces allocations.
    """
    from tito.judge import proxy

    if proxy._current_session is not None:
        return proxy.current_session().request("module", [], name=module_name)
    return importlib.import_module(module_name)


def resident(*values: Any) -> tuple[Any, ...]:
    """`values` placed where the code under test runs, for timing calls on them.

    Inline the values themselves. In the judge, each value is copied into the
    student's process once and stands there as a proxy; a call that gets one of
    them as an argument keeps its result there too (a proxy that `np.asarray`
    fetches), so a timed call measures the kernel, not the copying.
    """
    from tito.judge import proxy

    if proxy._current_session is not None:
        return tuple(proxy.current_session().request("place", list(values)))
    return values


def runs_in_student_process(func: Any) -> bool:
    """Whether calling `func` runs code in the student's process: always inline (one process);
    in the judge, for the student's own functions (a `functools.partial` of one too)."""
    import functools

    from tito.judge import proxy

    while isinstance(func, functools.partial):
        func = func.func
    return proxy._current_session is not None and isinstance(func, (proxy.RemoteObject, proxy.RemoteMeta))

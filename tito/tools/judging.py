"""What a graded test may ask for about the student's own process.

A graded test runs twice: inline in the student's notebook (instant feedback), and
in the trusted judge (`tito.judge`), where the student's names are proxies into the
student's process. A test that must look at that process itself, not at values its
functions return (is `tracemalloc` tracing? seed the global NumPy generator the
student's code draws from), names the module through `in_student_process`, and
the same line means the same thing in both places.
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

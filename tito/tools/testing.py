"""Inline test runner called from the last cell of every module source.

A module ends with::

    if __name__ == "__main__":
        from tito.tools.testing import run_module_tests_auto
        run_module_tests_auto("Tensor")

`run_module_tests_auto` finds the ``test_*`` functions defined in the calling
module (in definition order), runs each one, prints one line per test and a
summary, and returns whether all passed. When the environment variable
``TITO_TEST_RESULTS`` names a file, the results are also written there as JSON;
that file, not the printed text, is what ``tito`` reads.
"""

from __future__ import annotations

import inspect
import json
import os
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

RESULTS_ENV = "TITO_TEST_RESULTS"


@dataclass
class TestOutcome:
    name: str
    passed: bool
    message: str
    seconds: float


def discover_tests(namespace: dict[str, Any]) -> list[tuple[str, Callable[[], Any]]]:
    """Return the ``test_*`` functions defined in ``namespace``, in definition order.

    Functions imported from elsewhere (whose ``__module__`` differs from the
    namespace's ``__name__``) are left out, so a module does not run another
    module's tests.
    """
    module_name = namespace.get("__name__")
    found = []
    for name, obj in list(namespace.items()):
        if name.startswith("test_") and inspect.isfunction(obj) and obj.__module__ == module_name:
            found.append((name, obj))
    return found


def describe_failure(exc: BaseException) -> str:
    """One readable line for a failed test: the assertion message, or the error type and text."""
    if isinstance(exc, AssertionError):
        text = str(exc).strip()
        if text:
            return text
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        return f"assertion failed: {frame.line}"
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def run_test(name: str, func: Callable[[], Any]) -> TestOutcome:
    start = time.perf_counter()
    try:
        func()
    except Exception as exc:  # a failing test reports; it never stops the others
        return TestOutcome(name, False, describe_failure(exc), time.perf_counter() - start)
    return TestOutcome(name, True, "", time.perf_counter() - start)


def write_results(module_name: str, outcomes: list[TestOutcome], path: str | os.PathLike) -> None:
    payload = {"module": module_name, "tests": [asdict(o) for o in outcomes]}
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    os.replace(tmp, target)


def run_module_tests_auto(module_name: str, namespace: dict[str, Any] | None = None) -> bool:
    """Run every ``test_*`` function of the calling module and report each result.

    Args:
        module_name: the module's display name, e.g. ``"Tensor"``.
        namespace: the globals to search; defaults to the caller's globals.

    Returns:
        True when every test passed (and at least one test was found).
    """
    if namespace is None:
        caller = inspect.currentframe().f_back
        namespace = caller.f_globals
    tests = discover_tests(namespace)
    outcomes = [run_test(name, func) for name, func in tests]

    results_path = os.environ.get(RESULTS_ENV)
    if results_path:
        write_results(module_name, outcomes, results_path)

    print(f"Module {module_name}: running {len(outcomes)} tests")
    for outcome in outcomes:
        mark = "PASS" if outcome.passed else "FAIL"
        line = f"  {mark}  {outcome.name} ({outcome.seconds:.2f}s)"
        if not outcome.passed:
            line += f"\n        {outcome.message}"
        print(line)
    passed = sum(o.passed for o in outcomes)
    print(f"{passed}/{len(outcomes)} tests passed")
    return bool(outcomes) and passed == len(outcomes)

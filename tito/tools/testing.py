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

The summary counts points as ``tito module test`` and the grader do: a graded
cell earns its points when the tests it defines pass. The points come from the
notebook's nbgrader metadata: given by ``tito module test`` (``TITO_TEST_POINTS``),
else read from the notebook this kernel runs (JupyterLab names it in
``JPY_SESSION_NAME``), else from the notebook in the working folder whose
graded tests are those that ran (as nbgrader runs a submission). Without a
notebook (``python name_dev.py``) the summary counts tests only.
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
POINTS_ENV = "TITO_TEST_POINTS"
SESSION_ENV = "JPY_SESSION_NAME"  # set by the Jupyter server for the kernels of a notebook


@dataclass
class TestOutcome:
    name: str
    passed: bool
    message: str
    seconds: float


@dataclass
class GradedCell:
    """A graded notebook cell: its points go to the student when every test it defines passes."""

    grade_id: str
    points: float
    tests: list[str]


def graded_cells_of(nb: dict) -> list[GradedCell]:
    """The graded code cells of a notebook (plain JSON or nbformat) with the tests each defines."""
    from tito.notebook.cells import defined_tests, grade_id, is_graded_code, points

    found = []
    for cell in nb.get("cells", []):
        if not is_graded_code(cell):
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source  # a notebook file may store lines
        found.append(GradedCell(grade_id(cell) or "?", points(cell), defined_tests(source)))
    return found


def points_for_kernel(nb) -> str:
    """The value of TITO_TEST_POINTS for a kernel that runs `nb`."""
    return json.dumps([asdict(cell) for cell in graded_cells_of(nb)])


def _read_notebook(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def find_graded_cells(test_names: list[str]) -> list[GradedCell] | None:
    """The graded cells behind `test_names`, from the first source that has them (see the module doc)."""
    given = os.environ.get(POINTS_ENV)
    if given:
        return [GradedCell(**cell) for cell in json.loads(given)]
    candidates = []
    session = os.environ.get(SESSION_ENV)
    if session:
        candidates += [Path(session), Path.cwd() / Path(session).name]
    candidates += sorted(Path.cwd().glob("*.ipynb"))
    ran = set(test_names)
    for path in candidates:
        nb = _read_notebook(path) if path.suffix == ".ipynb" and path.is_file() else None
        cells = graded_cells_of(nb) if nb else []
        graded = {name for cell in cells for name in cell.tests}
        if graded and graded <= ran:  # this notebook's graded tests are the ones that ran (a student's own test_ is extra)
            return cells
    return None


@dataclass
class Score:
    points: float
    max_points: float
    by_test: dict[str, tuple[str, float, float]]  # test -> (grade id, points earned by its cell, cell's points)


def score_outcomes(outcomes: list[TestOutcome], cells: list[GradedCell]) -> Score:
    """Points as the grader counts them (`tito.notebook.cellrules.graded_cell_points`): a cell earns its points
    when all its tests passed here, whatever they printed."""
    from tito.notebook.cellrules import graded_cell_points

    passed = {o.name: o.passed for o in outcomes}
    by_test, earned = {}, 0.0
    for cell in cells:
        ok = bool(cell.tests) and all(passed.get(name, False) for name in cell.tests)
        cell_points = graded_cell_points(not ok, cell.points)
        earned += cell_points
        for name in cell.tests:
            by_test[name] = (cell.grade_id, cell_points, cell.points)
    return Score(earned, sum(cell.points for cell in cells), by_test)


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

    cells = find_graded_cells([o.name for o in outcomes])
    score = score_outcomes(outcomes, cells) if cells else None
    print(f"Module {module_name}: running {len(outcomes)} tests")
    for outcome in outcomes:
        mark = "PASS" if outcome.passed else "FAIL"
        line = f"  {mark}  {outcome.name} ({outcome.seconds:.2f}s)"
        if score is not None and outcome.name in score.by_test:
            _, earned, possible = score.by_test[outcome.name]
            line += f"  {earned:g}/{possible:g} points"
        if not outcome.passed:
            line += f"\n        {outcome.message}"
        print(line)
    passed = sum(o.passed for o in outcomes)
    if score is not None:
        print(f"local score {score.points:g}/{score.max_points:g} ({passed}/{len(outcomes)} tests passed)")
    else:
        print(f"{passed}/{len(outcomes)} tests passed")
    return bool(outcomes) and passed == len(outcomes)

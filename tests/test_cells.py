"""nbgrader's cell facts and regions (tito.notebook.cells) against nbgrader's own preprocessors, and the typed
stop reason of a notebook run (tito.notebook.run)."""

from __future__ import annotations

import json
import re

import nbformat
import pytest
from hypothesis import given
from hypothesis import strategies as st
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from tito.notebook.cells import (
    HIDDEN_TESTS,
    SOLUTION,
    MarkerError,
    grade_id,
    graded_code_cells,
    is_graded,
    is_solution,
    parse_regions,
    points,
    region_lines,
    split_regions,
    without_markers,
)
from tito.notebook.run import Stop, StopKind, execute_notebook

LINE_POOL = ["x = 1", "    return y", "", "# note", "    ### BEGIN {kind}", "### END {kind}", "  #  END {kind} here"]


def nbgrader_clear(source: str, delimiters) -> tuple[str, bool]:
    """nbgrader's ClearHiddenTests, configured with `delimiters`: the source without its regions.
    Solution regions are first given to ClearSolutions, whose errors name solutions."""
    from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions

    if delimiters == SOLUTION:
        ClearSolutions()._replace_solution_region(new_code_cell(source), "python")
    cell = new_code_cell(source)
    clear = ClearHiddenTests(begin_test_delimeter=delimiters.begin, end_test_delimeter=delimiters.end)
    removed = clear._remove_hidden_test_region(cell)
    return cell.source, removed


@pytest.mark.parametrize("delimiters", [SOLUTION, HIDDEN_TESTS], ids=["solution", "hidden-tests"])
@given(picks=st.lists(st.integers(0, len(LINE_POOL) - 1), max_size=12))
def test_regions_are_read_as_nbgrader_reads_them(delimiters, picks):
    kind = delimiters.begin.removeprefix("BEGIN ")
    source = "\n".join(LINE_POOL[i].format(kind=kind) for i in picks)
    try:
        expected, removed = nbgrader_clear(source, delimiters)
    except RuntimeError as exc:
        with pytest.raises(MarkerError) as ours:
            parse_regions(source, delimiters)
        assert str(ours.value).lower().startswith(str(exc).lower()), "the error must say what nbgrader says"
        return
    inside, outside = split_regions(source, delimiters)
    assert "\n".join(outside) == expected
    assert bool(parse_regions(source, delimiters).regions) == removed
    lines = source.split("\n")
    begins = [i for i, line in enumerate(lines) if delimiters.begin in line]
    assert len(region_lines(source, delimiters)) == len(begins)
    assert sorted(inside) == sorted(line for block in region_lines(source, delimiters) for line in block)


@pytest.mark.parametrize("source, message", [
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "encountered nested begin solution statements (line 2)"),
    ("def f():\n    ### BEGIN SOLUTION\n    return 1", "no end solution statement found (begun on line 2)"),
])
def test_nested_or_unterminated_region_is_an_error_naming_the_line(source, message):
    with pytest.raises(MarkerError, match=re.escape(message)):
        region_lines(source, SOLUTION)


def test_without_markers_drops_marker_lines_with_their_line_break():
    source = "def f(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION"
    assert without_markers(source, SOLUTION) == "def f(x):\n    return 2 * x\n"
    assert without_markers("x = 1\n", SOLUTION) == "x = 1\n"
    # what the package used to strip with a pattern: whole `### ...` lines and the newline after them
    pattern = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.MULTILINE)
    assert without_markers(source + "\n\ny = 2", SOLUTION) == pattern.sub("", source + "\n\ny = 2")


def test_cell_facts_come_from_nbgrader_metadata():
    graded = new_code_cell("assert True", metadata={"nbgrader": {"grade": True, "grade_id": "t", "points": 7}})
    solution = new_code_cell("pass", metadata={"nbgrader": {"solution": True, "grade_id": "s"}})
    answer = new_markdown_cell("why?", metadata={"nbgrader": {"grade": True, "grade_id": "a", "points": 2}})
    plain = new_code_cell("1")
    nb = new_notebook(cells=[graded, solution, answer, plain])
    assert [grade_id(c) for c in nb.cells] == ["t", "s", "a", None]
    assert [is_graded(c) for c in nb.cells] == [True, False, True, False]
    assert [is_solution(c) for c in nb.cells] == [False, True, False, False]
    assert [points(c) for c in nb.cells] == [7.0, 0.0, 2.0, 0.0]
    assert graded_code_cells(nb) == [graded]


# ------------------------------------------------------------------ stop reasons


def test_stop_reason_travels_as_json():
    stop = Stop(StopKind.DEAD_KERNEL, 3, "DeadKernelError: Kernel died")
    assert json.loads(json.dumps(stop.to_dict())) == {"kind": "dead_kernel", "cell": 3, "detail": "DeadKernelError: Kernel died"}
    assert Stop.from_dict(json.loads(json.dumps(stop.to_dict()))) == stop


def test_execution_result_travels_as_json():
    from tito.grading.execution import ExecutionResult

    result = ExecutionResult("ada", "01_tensor", "{}", Stop(StopKind.TIMEOUT, 1, "CellTimeoutError: ..."),
                             timed_out_cells=[1], killed_for="timeout", died_in_cell=1, seconds=2.5)
    assert ExecutionResult.from_json(result.to_json()) == result
    assert ExecutionResult.from_json(ExecutionResult("ada", "01_tensor").to_json()).stop is None


def test_missing_kernel_is_an_other_stop_before_any_cell():
    nb = new_notebook(cells=[new_code_cell("x = 1")])
    stop = execute_notebook(nb, 10, kernel_name="no-such-kernel-here")
    assert stop is not None and stop.kind is StopKind.OTHER and stop.cell is None
    assert "no-such-kernel-here" in stop.detail and nb.cells[0].get("execution_count") is None


@pytest.mark.slow
def test_kernel_death_stops_the_run_in_the_cell_that_killed_it(tmp_path):
    nb = new_notebook(cells=[new_code_cell("x = 1"), new_code_cell("import os\nos._exit(1)"), new_code_cell("y = 2")])
    stop = execute_notebook(nb, 60, cwd=tmp_path)
    assert stop == Stop(StopKind.DEAD_KERNEL, 1, stop.detail) and stop.detail.startswith("DeadKernelError")
    assert nb.cells[0].execution_count == 1 and nb.cells[2].get("execution_count") is None
    assert execute_notebook(nbformat.v4.new_notebook(cells=[new_code_cell("z = 3")]), 60, cwd=tmp_path) is None

"""tito.notebook.cellrules restates nbgrader's per-cell rules: it must agree with nbgrader's own on any cell."""

from __future__ import annotations

import nbformat
import pytest
from hypothesis import given
from hypothesis import strategies as st
from nbgrader import utils as nbgrader_utils

from tito.notebook import cellrules

flags = st.sampled_from([True, False, None])
outputs = st.lists(
    st.one_of(
        st.builds(lambda: nbformat.v4.new_output("error", ename="AssertionError", evalue="x", traceback=[])),
        st.builds(lambda name, text: nbformat.v4.new_output("stream", name=name, text=text),
                  st.sampled_from(["stdout", "stderr"]), st.text(max_size=5)),
        st.builds(lambda value: nbformat.v4.new_output("execute_result", data={"text/plain": value}, execution_count=1),
                  st.one_of(st.sampled_from(["0.5", "3", "-1", "abc", "7.25"]), st.lists(st.sampled_from(["1", "2"]), min_size=1, max_size=2))),
    ),
    max_size=3,
)


@st.composite
def cells(draw):
    cell_type = draw(st.sampled_from(["code", "markdown"]))
    source = draw(st.text(max_size=30))
    cell = nbformat.v4.new_code_cell(source) if cell_type == "code" else nbformat.v4.new_markdown_cell(source)
    meta = {"grade_id": draw(st.from_regex(r"[a-z]{1,8}", fullmatch=True))}
    for key in ("grade", "solution", "locked"):
        value = draw(flags)
        if value is not None:
            meta[key] = value
    meta["points"] = draw(st.sampled_from([0, 1, 2.5, 10]))
    if draw(st.booleans()):
        unchanged = nbformat.from_dict({"cell_type": cell_type, "source": source, "metadata": {"nbgrader": meta}})
        meta["checksum"] = draw(st.sampled_from(["0" * 32, nbgrader_utils.compute_checksum(unchanged)]))
    cell.metadata["nbgrader"] = meta
    if cell_type == "code":
        cell.outputs = draw(outputs)
    return cell


def outcome(function, cell):
    try:
        return ("value", function(cell))
    except Exception as exc:  # both must fail the same way on the same cell
        return ("error", type(exc).__name__, str(exc))


@given(cells())
def test_same_checksum_locked_and_grade_as_nbgrader(cell):
    assert cellrules.compute_checksum(cell) == nbgrader_utils.compute_checksum(cell)
    assert cellrules.is_locked(cell) == nbgrader_utils.is_locked(cell)
    assert outcome(cellrules.determine_grade, cell) == outcome(nbgrader_utils.determine_grade, cell)


def test_a_cell_without_nbgrader_metadata_is_not_locked_nor_graded():
    cell = nbformat.v4.new_code_cell("x = 1")
    assert cellrules.is_locked(cell) is False
    with pytest.raises(ValueError, match="not a grade cell"):
        cellrules.determine_grade(cell)


def test_a_passing_test_that_prints_a_warning_scores_the_same_everywhere():
    """The one scoring rule: a graded cell earns its points when its tests raise nothing, whatever they print.
    The notebook's summary, `tito module test` (inline and judged) and the grader (nbgrader on the judge's
    verdict outputs) agree, for a passing test that warned and for a failing one."""
    from tito.judge.judge import Verdict
    from tito.judge.notebook import verdict_outputs
    from tito.notebook.run import score_executed_notebook
    from tito.tools.testing import GradedCell, TestOutcome, score_outcomes

    def graded(outputs):
        cell = nbformat.v4.new_code_cell("def test_unit_x():\n    warn()\n\ntest_unit_x()", execution_count=1)
        cell.metadata["nbgrader"] = {"grade": True, "grade_id": "test-x", "points": 10, "locked": True,
                                     "solution": False, "schema_version": 3}
        cell.outputs = outputs
        return cell

    warned = nbformat.v4.new_output("stream", name="stderr", text="RuntimeWarning: overflow encountered\n")
    failed = nbformat.v4.new_output("error", ename="AssertionError", evalue="x should be 2", traceback=[])
    for passed, inline_outputs, points in ((True, [warned], 10.0), (False, [warned, failed], 0.0)):
        summary = score_outcomes([TestOutcome("test_unit_x", passed, "", 0.1)], [GradedCell("test-x", 10, ["test_unit_x"])])
        inline = score_executed_notebook(nbformat.v4.new_notebook(cells=[graded(inline_outputs)])).graded[0].points
        verdict = graded(verdict_outputs(Verdict("test-x", passed, "" if passed else "x should be 2", "AssertionError")))
        judged = score_executed_notebook(nbformat.v4.new_notebook(cells=[verdict])).graded[0].points
        grader = nbgrader_utils.determine_grade(verdict)[0]
        assert (summary.points, inline, judged, grader) == (points,) * 4, (passed, summary.points, inline, judged, grader)

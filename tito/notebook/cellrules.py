"""nbgrader's rules for one cell, without nbgrader (checksum, grade), and TinyTorch's one scoring rule.

A student's install has no nbgrader (it is an instructor extra), yet `tito module
test` must score a cell exactly as the grader does and see an edited locked cell as
nbgrader does. `tito.notebook.cells.is_locked`, `compute_checksum` and `determine_grade`
restate nbgrader 0.9.6's `nbgrader.utils` functions of those names;
tests/test_cellrules.py checks them against nbgrader's own on generated cells.

`graded_cell_points` is the rule every score uses: the notebook's own summary, `tito
module test` and the grader (whose graded cells carry the judge's verdict, an error
output exactly when the cell's tests failed). A graded cell earns its points when
its tests raise nothing; what it prints, a warning on stderr included, costs nothing.
nbgrader's own rule would give 0 to a cell that printed to stderr, but it only ever
sees the judge's verdict outputs, which print nothing there.
"""

from __future__ import annotations

import hashlib

from tito.notebook.cells import is_graded, is_locked, is_solution, nbgrader_metadata


def graded_cell_points(raised: bool, max_points: float) -> float:
    """The points a graded cell earns: all of them when its tests raised nothing, else none."""
    return 0.0 if raised else float(max_points)


def compute_checksum(cell) -> str:
    """nbgrader's checksum of a cell: source, type, flags, grade id and points."""
    digest = hashlib.md5()
    for part in (cell.source, cell.cell_type, str(is_graded(cell)), str(is_solution(cell)), str(is_locked(cell)),
                 nbgrader_metadata(cell)["grade_id"]):
        digest.update(part.encode("utf-8"))
    if is_graded(cell):
        digest.update(str(float(nbgrader_metadata(cell)["points"])).encode("utf-8"))
    return digest.hexdigest()


def partial_grade(output, max_points: float) -> float:
    """A graded cell whose result is a number between 0 and its points earns that number."""
    grade = output["data"]["text/plain"]
    if not grade:
        raise KeyError("output ['data']['text/plain'] does not exist")
    if isinstance(grade, list):
        if len(grade) > 1:
            return max_points
        grade = grade[0]
    try:
        grade = float(grade)
    except ValueError:
        return max_points
    if grade < 0.0:
        return max_points
    if grade > max_points:
        raise ValueError("partial credit cannot be greater than maximum points for cell")
    return grade


def determine_grade(cell) -> tuple[float | None, float]:
    """(points earned or None for manual grading, points possible) of a grade cell after it ran."""
    if not is_graded(cell):
        raise ValueError("cell is not a grade cell")
    max_points = float(nbgrader_metadata(cell)["points"])
    if is_solution(cell):
        unchanged = "checksum" in nbgrader_metadata(cell) and nbgrader_metadata(cell)["checksum"] == compute_checksum(cell)
        return (0, max_points) if unchanged else (None, max_points)
    if cell.cell_type != "code":
        return None, max_points
    for output in cell.outputs:
        if output.output_type == "error" or output.output_type == "stream" and output.name == "stderr":
            return 0, max_points
        if output.output_type == "execute_result":
            return partial_grade(output, max_points), max_points
    return max_points, max_points

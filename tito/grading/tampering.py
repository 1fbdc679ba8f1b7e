"""Did a submission change what the student was told not to change?

A locked cell of the release notebook (tests, imports, the export directive) is
*edited* when its nbgrader checksum (source, type, grade/solution/locked flags,
grade id, points) differs in the submission, and *deleted* when no cell of the
submission carries its grade id. nbgrader restores both while autograding
(OverwriteCells, with add_missing_cells on); this only records that it had to.
The release notebook is the reference, not the gradebook: cells with hidden
tests differ from the gradebook's copy by design.
"""

from __future__ import annotations


def _grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def find_tampering(submitted_nb, release_nb) -> list[str]:
    """One line per tampered locked cell, e.g. 'test-relu: edited' or 'test-relu: deleted'."""
    from nbgrader.utils import compute_checksum, is_locked

    submitted = {}
    for cell in submitted_nb.cells:
        grade_id = _grade_id(cell)
        if grade_id is not None:
            submitted.setdefault(grade_id, cell)
    problems = []
    for cell in release_nb.cells:
        grade_id = _grade_id(cell)
        if grade_id is None or not is_locked(cell):
            continue
        theirs = submitted.get(grade_id)
        if theirs is None:
            problems.append(f"{grade_id}: deleted")
            continue
        try:
            same = theirs.cell_type == cell.cell_type and compute_checksum(theirs) == compute_checksum(cell)
        except (KeyError, TypeError, ValueError):  # metadata mangled beyond checksumming
            same = False
        if not same:
            problems.append(f"{grade_id}: edited")
    return problems

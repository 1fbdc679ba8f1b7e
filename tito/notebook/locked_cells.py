"""Locked cells: what counts as changing one, and how the grader undoes it.

A locked cell of the release notebook (tests, imports, the export directive) is
*edited* when its nbgrader checksum (source, type, grade/solution/locked flags,
grade id, points) differs in the submission, and *deleted* when no cell of the
submission carries its grade id. nbgrader's autograde puts an edited locked
cell back as released and re-adds a deleted graded cell (OverwriteCells, with
add_missing_cells on). The grader only records that it had to
(`find_tampering`); `tito module test` does the same undoing itself
(`restore_locked_cells`), so the local score stays the grader's. The release
notebook is the reference, not the gradebook: cells with hidden tests differ
from the gradebook's copy by design.
"""

from __future__ import annotations

import copy
from enum import Enum
from typing import NamedTuple

from tito.notebook.cells import grade_id, is_graded


class Change(str, Enum):
    EDITED = "edited"
    DELETED = "deleted"


class Tampering(NamedTuple):
    """One locked cell of the release that the submission changed."""

    grade_id: str
    change: Change

    def __str__(self) -> str:
        return f"{self.grade_id}: {self.change.value}"


def find_tampering(submitted_nb, release_nb) -> list[Tampering]:
    """Every locked cell of `release_nb` that `submitted_nb` edited or deleted, in release order."""
    from tito.notebook.cellrules import compute_checksum, is_locked

    submitted = {}
    for cell in submitted_nb.cells:
        if grade_id(cell) is not None:
            submitted.setdefault(grade_id(cell), cell)
    found = []
    for cell in release_nb.cells:
        cell_id = grade_id(cell)
        if cell_id is None or not is_locked(cell):
            continue
        theirs = submitted.get(cell_id)
        if theirs is None:
            found.append(Tampering(cell_id, Change.DELETED))
            continue
        try:
            same = theirs.cell_type == cell.cell_type and compute_checksum(theirs) == compute_checksum(cell)
        except (KeyError, TypeError, ValueError):  # metadata mangled beyond checksumming
            same = False
        if not same:
            found.append(Tampering(cell_id, Change.EDITED))
    return found


def restore_locked_cells(nb, release_nb) -> list[Tampering]:
    """Undo in `nb` (in place) what the grader undoes before it runs a submission; return what was changed."""
    found = find_tampering(nb, release_nb)
    if not found:
        return []
    released = {grade_id(c): c for c in release_nb.cells if grade_id(c) is not None}
    changes = {t.grade_id: t.change for t in found}
    for index, cell in enumerate(nb.cells):
        if changes.get(grade_id(cell)) is Change.EDITED:
            nb.cells[index] = copy.deepcopy(released[grade_id(cell)])
    order = list(released)
    for cell_id, change in changes.items():
        if change is not Change.DELETED or not is_graded(released[cell_id]):
            continue  # nbgrader re-adds graded cells only
        present = {grade_id(c): i for i, c in enumerate(nb.cells)}
        before = [present[g] for g in order[: order.index(cell_id)] if g in present]
        nb.cells.insert(before[-1] + 1 if before else 0, copy.deepcopy(released[cell_id]))
    return found

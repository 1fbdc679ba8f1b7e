"""Submissions for grading tests and the throughput benchmark, built from a course's notebooks."""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell

from tito.notebook.cells import SOLUTION, grade_id as _grade_id, is_solution as _is_solution, without_markers
from tito.grading.paths import CoursePaths


def solved_release(course: CoursePaths, module_key: str, solved: set[str] | None = None):
    """The release notebook with the reference code in its solution cells (all, or those in `solved`).

    This is what a student who solved those parts submits: every locked cell is
    exactly as released.
    """
    source = nbformat.read(course.source_notebook(module_key), as_version=4)
    reference = {_grade_id(c): c.source for c in source.cells if _is_solution(c)}
    nb = nbformat.read(course.release_notebook(module_key), as_version=4)
    for cell in nb.cells:
        grade_id = _grade_id(cell)
        if _is_solution(cell) and grade_id in reference and (solved is None or grade_id in solved):
            cell.source = without_markers(reference[grade_id], SOLUTION)
    return nb


def solution_ids(course: CoursePaths, module_key: str) -> list[str]:
    nb = nbformat.read(course.release_notebook(module_key), as_version=4)
    return [_grade_id(c) for c in nb.cells if _is_solution(c)]


def with_cell_after(nb, grade_id: str, code: str):
    """A copy of `nb` with an extra (unlocked, unmarked) code cell right after the cell `grade_id`."""
    nb = copy.deepcopy(nb)
    index = next(i for i, c in enumerate(nb.cells) if _grade_id(c) == grade_id)
    nb.cells.insert(index + 1, new_code_cell(code))
    return nb


def write_notebook(nb, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.validator.normalize(nb)
    nbformat.write(nb, path)
    return path


def write_text(text: str, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def truncated(nb) -> str:
    """The notebook's JSON cut off halfway: a corrupt upload."""
    text = nbformat.writes(nb)
    return text[: len(text) // 2]


def reference_course(folder: Path, module, submissions: int) -> tuple[CoursePaths, list[str], Path]:
    """A course under `folder` where `submissions` students submitted `module`'s reference solution, collected.

    Returns the course, the students and the reference notebook.
    """
    from tito.grading.course import collect, generate, release, submit

    course = CoursePaths(folder / "course")
    generate(module, course)
    release(module.key, course)
    reference = write_notebook(solved_release(course, module.key), folder / "reference.ipynb")
    students = [f"student{i:03d}" for i in range(submissions)]
    for student in students:
        submit(course, module.key, student, reference)
    collect(module.key, course)
    return course, students, reference

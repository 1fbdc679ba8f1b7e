"""What the judge takes from the trusted copy of a notebook: the code it runs itself, and the names
that stand for the student's objects (`trusted_setup`)."""

from __future__ import annotations

import ast
from dataclasses import dataclass

from tito.notebook.cells import grade_id, is_graded, is_locked, is_solution

TEST_HELPERS_SUFFIX = "-test-helpers"
WORKLOADS_SUFFIX = "-workloads"  # a locked cell of workloads that must run where the student's code measures
COURSE_PACKAGE = "tinytorch"  # its names are the student's objects, never imported by the judge


def is_test_helpers(cell) -> bool:
    return (cell.get("cell_type") == "code" and is_locked(cell) and not is_solution(cell)
            and str(grade_id(cell) or "").endswith(TEST_HELPERS_SUFFIX))


def _imports_course_package(node: ast.stmt) -> bool:
    if isinstance(node, ast.ImportFrom):
        return (node.module or "").split(".")[0] == COURSE_PACKAGE and node.level == 0
    return isinstance(node, ast.Import) and any(a.name.split(".")[0] == COURSE_PACKAGE for a in node.names)


def _bound_by_import(node: ast.stmt) -> list[str]:
    return [(alias.asname or alias.name).split(".")[0] for alias in node.names]


@dataclass
class TrustedSetup:
    """What the judge takes from the trusted copy of a notebook before any test runs.

    `source`: the code the judge runs in its own process: every locked, non-graded
    cell (imports, constants, given helpers, the test helpers), in notebook order,
    without its imports of the course package. `student_names`: the names bound to
    the student's objects: what the solution cells define, what a workloads cell
    defines (grade id ending in `-workloads`: code that must run where the student's
    code measures it), and what the course package's imports bind. Everything else
    in the tests' namespace is the judge's own.
    """

    source: str
    student_names: list[str]


def trusted_setup(trusted_nb) -> TrustedSetup:
    from tito.judge.signs import assigned_names

    parts: list[str] = []
    student: list[str] = []
    for cell in trusted_nb.cells:
        if cell.get("cell_type") != "code" or is_graded(cell):
            continue
        if is_solution(cell):
            student.extend(sorted(assigned_names(cell.source)))
            continue
        if not is_locked(cell):
            continue  # demonstrations: neither the tests' nor the student's
        if is_test_helpers(cell):
            parts.append(cell.source)
            continue
        if str(grade_id(cell) or "").endswith(WORKLOADS_SUFFIX):
            student.extend(sorted(assigned_names(cell.source)))
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        kept = []
        for node in tree.body:
            if _imports_course_package(node):
                student.extend(_bound_by_import(node))
            else:
                kept.append(node)
        if kept:
            parts.append(ast.unparse(ast.Module(body=kept, type_ignores=[])))
    return TrustedSetup("\n".join(parts), list(dict.fromkeys(student)))



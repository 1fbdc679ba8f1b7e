"""`tito nbgrader status`: per module, how far grading has come."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from tito.grading.course import submitted_students
from tito.grading.outcomes import load_outcome
from tito.grading.paths import CoursePaths

GRADED_STATUSES = ("graded", "tampered", "timeout", "inconclusive")


@dataclass
class ModuleStatus:
    module: str
    generated: bool
    released: bool
    submissions: int
    graded: int
    failed: int


def course_status(course: CoursePaths, project_root: Path | None = None) -> list[ModuleStatus]:
    """Every module of the project and of the course: generated? released? submissions, graded, failed."""
    keys = set()
    if project_root is not None:
        from tito.project import list_modules

        keys.update(m.key for m in list_modules(project_root))
    for folder in (course.source, course.release):
        if folder.is_dir():
            keys.update(p.name for p in folder.iterdir() if p.is_dir())
    rows = []
    for key in sorted(keys):
        students = submitted_students(course, key)
        counts = Counter(o.status for o in (load_outcome(course, key, s) for s in students) if o is not None)
        rows.append(ModuleStatus(
            module=key,
            generated=course.release_notebook(key).is_file(),
            released=course.released_in_exchange(key).is_dir(),
            submissions=len(students),
            graded=sum(counts[s] for s in GRADED_STATUSES),
            failed=counts["error"],
        ))
    return rows

"""Grades for Canvas: the gradebook CSV that Canvas's "Import" accepts.

Canvas's own gradebook export, and so its import, has this layout::

    Student,ID,SIS User ID,SIS Login ID,Section,01_tensor,11_kernels
    Points Possible,,,,,100,100
    "Lovelace, Ada",1001,AL01,ada,Section 1,100,87.5

- one row per student, matched by Canvas on ID (then SIS User ID, SIS Login ID);
- the second row gives each assignment column's points possible;
- one column per module; a column whose name is not an existing Canvas
  assignment becomes a new one on import;
- an empty cell leaves that grade as it is in Canvas (a module the student has
  not submitted, or that is not graded yet).

The score is the report's: the gradebook's less nbgrader's late penalty.

Our student ids are not Canvas's, so the export needs a mapping file, a CSV
with a header row and these columns (any order; `sis_user_id` may be empty)::

    student,name,canvas_id,sis_user_id,sis_login_id,section
    ada,"Lovelace, Ada",1001,AL01,ada,Section 1
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from tito.errors import UsageError

IDENTITY_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
POINTS_ROW = "Points Possible"
MAPPING_COLUMNS = ("student", "name", "canvas_id", "sis_user_id", "sis_login_id", "section")
REQUIRED_MAPPING = ("student", "name", "canvas_id", "sis_login_id", "section")
UNGRADED = ("missing", "ungraded")  # no grade to send: the cell stays empty


@dataclass(frozen=True)
class LmsStudent:
    student: str
    name: str
    canvas_id: str
    sis_user_id: str
    sis_login_id: str
    section: str


def read_lms_students(path: Path) -> dict[str, LmsStudent]:
    """The mapping file: our student id -> the student as Canvas knows them (UsageError naming the line)."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise UsageError(f"cannot read the LMS student mapping {path}: {exc.strerror}") from None
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in REQUIRED_MAPPING if c not in (reader.fieldnames or [])]
    if missing:
        raise UsageError(f"{path}: the header lacks {', '.join(missing)} (columns: {', '.join(MAPPING_COLUMNS)})")
    students: dict[str, LmsStudent] = {}
    for line, record in enumerate(reader, start=2):
        values = {c: (record.get(c) or "").strip() for c in MAPPING_COLUMNS}
        empty = [c for c in REQUIRED_MAPPING if not values[c] and c != "section"]
        if empty:
            raise UsageError(f"{path}, line {line}: {', '.join(empty)} is empty")
        if not values["canvas_id"].isdigit():
            raise UsageError(f"{path}, line {line}: canvas_id {values['canvas_id']!r} must be Canvas's numeric user id")
        if values["student"] in students:
            raise UsageError(f"{path}, line {line}: student {values['student']!r} is listed twice")
        students[values["student"]] = LmsStudent(**values)
    ids = [s.canvas_id for s in students.values()]
    if len(set(ids)) != len(ids):
        twice = sorted({i for i in ids if ids.count(i) > 1})
        raise UsageError(f"{path}: canvas_id {', '.join(twice)} belongs to more than one student")
    return students


def canvas_csv(rows, students: dict[str, LmsStudent]) -> str:
    """The Canvas import CSV for the report `rows` (tito.grading.report.ReportRow)."""
    modules = sorted({r.module for r in rows})
    unmapped = sorted({r.student for r in rows if r.student not in students})
    if unmapped:
        shown = ", ".join(unmapped[:5]) + (f" and {len(unmapped) - 5} more" if len(unmapped) > 5 else "")
        raise UsageError(f"{len(unmapped)} student(s) are not in the LMS mapping file: {shown}")
    points = {r.module: r.max_score for r in rows}
    grades: dict[str, dict[str, str]] = {}
    for row in rows:
        grades.setdefault(row.student, {})[row.module] = "" if row.status in UNGRADED else f"{row.score:g}"
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*IDENTITY_COLUMNS, *modules])
    writer.writerow([POINTS_ROW, "", "", "", "", *(f"{points[m]:g}" for m in modules)])
    for student in sorted(grades, key=lambda s: (students[s].name.lower(), s)):
        who = students[student]
        writer.writerow([who.name, who.canvas_id, who.sis_user_id, who.sis_login_id, who.section,
                         *(grades[student].get(m, "") for m in modules)])
    return buffer.getvalue()

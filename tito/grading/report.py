"""The class report: one row per student and module, from the gradebook and tito's grading outcomes.

The score is the gradebook's (so manual grading in nbgrader's formgrader shows
up); the status, the failing tests and the detail come from the outcome that
`autograde` saved for the submission. A student in the gradebook without a
submission is 'missing'; a collected submission not graded yet is 'ungraded'.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, field

from tito.grading.outcomes import load_outcome
from tito.grading.course import require_course, submitted_students
from tito.grading.paths import COURSE_ID, CoursePaths

REPORT_FORMATS = ("csv", "json")
CSV_COLUMNS = ("student", "module", "score", "max_score", "status", "failing_tests", "detail")


@dataclass
class ReportRow:
    student: str
    module: str
    score: float
    max_score: float
    status: str
    failing_tests: list[str] = field(default_factory=list)
    detail: str = ""


def build_report(course: CoursePaths, modules: list[str] | None = None) -> list[ReportRow]:
    """Rows for every (module, student) pair the course knows, sorted by module then student."""
    from nbgrader.api import Gradebook, MissingEntry

    require_course(course)
    rows = []
    with Gradebook(course.db_url, COURSE_ID) as gb:
        assignments = sorted(a.name for a in gb.assignments if modules is None or a.name in modules)
        roster = {s.id for s in gb.students}
        for module in assignments:
            roster.update(submitted_students(course, module))
            roster.update(p.stem for p in (course.outcomes / module).glob("*.json"))
        for module in assignments:
            max_score = float(gb.find_assignment(module).max_score)
            collected = set(submitted_students(course, module))
            for student in sorted(roster):
                outcome = load_outcome(course, module, student)
                if outcome is None:
                    status = "ungraded" if student in collected else "missing"
                    rows.append(ReportRow(student, module, 0.0, max_score, status))
                    continue
                score = outcome.score
                if outcome.in_gradebook:
                    try:
                        score = float(gb.find_submission(module, student).score)
                    except MissingEntry:
                        pass
                rows.append(ReportRow(student, module, score, max_score, outcome.status,
                                      list(outcome.failing_tests), outcome.detail))
    return rows


def report_csv(rows: list[ReportRow]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow([row.student, row.module, f"{row.score:g}", f"{row.max_score:g}", row.status,
                         ";".join(row.failing_tests), row.detail])
    return buffer.getvalue()


def report_json(rows: list[ReportRow]) -> str:
    return json.dumps([asdict(row) for row in rows], indent=2) + "\n"


def render_report(rows: list[ReportRow], fmt: str) -> str:
    if fmt == "csv":
        return report_csv(rows)
    if fmt == "json":
        return report_json(rows)
    raise ValueError(f"unknown report format {fmt!r}: use one of {', '.join(REPORT_FORMATS)}")

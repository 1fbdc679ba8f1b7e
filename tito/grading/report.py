"""The class report: one row per student and module, from the gradebook and tito's grading outcomes.

The score is the gradebook's (so manual grading in nbgrader's formgrader shows
up) less nbgrader's late-submission penalty, as nbgrader's own CSV export gives
it; the status, the failing tests and the detail come from the outcome that
`autograde` saved for the submission. A student in the gradebook without a
submission is 'missing'; a collected submission not graded yet is 'ungraded'.
The gradebook is read with one query per module, so a class of thousands takes
seconds.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tito.errors import UsageError
from tito.grading.course import require_course, submitted_students
from tito.grading.outcomes import load_outcome
from tito.grading.paths import COURSE_ID, CoursePaths

REPORT_FORMATS = ("csv", "json", "canvas")
CSV_COLUMNS = ("student", "module", "score", "max_score", "status", "failing_tests", "detail", "seconds_late",
               "late_penalty")


@dataclass
class ReportRow:
    student: str
    module: str
    score: float
    max_score: float
    status: str
    failing_tests: list[str] = field(default_factory=list)
    detail: str = ""
    seconds_late: float = 0.0  # past the due date (and extension) set in the gradebook
    late_penalty: float = 0.0  # points taken off by nbgrader's late-submission plugin


@dataclass
class GradebookScore:
    score: float
    seconds_late: float
    late_penalty: float


def gradebook_scores(gb, module: str) -> dict[str, GradebookScore]:
    """Every submission of `module` in the gradebook, in one query: student -> score, lateness, penalty."""
    from nbgrader.api import Assignment, SubmittedAssignment

    assignment = gb.find_assignment(module)
    found = (gb.db.query(SubmittedAssignment.student_id, SubmittedAssignment.score,
                         SubmittedAssignment.late_submission_penalty, SubmittedAssignment.timestamp,
                         SubmittedAssignment.extension)
             .join(Assignment, Assignment.id == SubmittedAssignment.assignment_id)
             .filter(Assignment.name == module))
    scores = {}
    for student, score, penalty, timestamp, extension in found:
        late = 0.0
        if timestamp is not None and assignment.duedate is not None:
            due = assignment.duedate + extension if extension is not None else assignment.duedate
            late = max(0.0, (timestamp - due).total_seconds())
        scores[student] = GradebookScore(float(score or 0), late, float(penalty or 0))
    return scores


def build_report(course: CoursePaths, modules: list[str] | None = None) -> list[ReportRow]:
    """Rows for every (module, student) pair the course knows, sorted by module then student."""
    from nbgrader.api import Gradebook

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
            in_gradebook = gradebook_scores(gb, module)
            for student in sorted(roster):
                outcome = load_outcome(course, module, student)
                if outcome is None:
                    status = "ungraded" if student in collected else "missing"
                    rows.append(ReportRow(student, module, 0.0, max_score, status))
                    continue
                score, late, penalty = outcome.score, 0.0, 0.0
                found = in_gradebook.get(student) if outcome.in_gradebook else None
                if found is not None:
                    score, late, penalty = max(0.0, found.score - found.late_penalty), found.seconds_late, found.late_penalty
                rows.append(ReportRow(student, module, score, max_score, outcome.status,
                                      list(outcome.failing_tests), outcome.detail, late, penalty))
    return rows


def report_csv(rows: list[ReportRow]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow([row.student, row.module, f"{row.score:g}", f"{row.max_score:g}", row.status,
                         ";".join(row.failing_tests), row.detail, f"{row.seconds_late:g}", f"{row.late_penalty:g}"])
    return buffer.getvalue()


def report_json(rows: list[ReportRow]) -> str:
    return json.dumps([asdict(row) for row in rows], indent=2) + "\n"


def render_report(rows: list[ReportRow], fmt: str, lms_students: Path | None = None) -> str:
    """The report as `fmt`; the Canvas gradebook CSV needs the file that maps our student ids to Canvas's."""
    if fmt == "csv":
        return report_csv(rows)
    if fmt == "json":
        return report_json(rows)
    if fmt == "canvas":
        from tito.grading.canvas import canvas_csv, read_lms_students

        if lms_students is None:
            raise UsageError("--format canvas needs --lms-students FILE: the CSV that maps student ids to Canvas's")
        return canvas_csv(rows, read_lms_students(lms_students))
    raise ValueError(f"unknown report format {fmt!r}: use one of {', '.join(REPORT_FORMATS)}")

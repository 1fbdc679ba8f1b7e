"""Instructor grading with nbgrader: course tree, sandboxed parallel autograde, feedback, report.

The functions tests and other tools call, importable from here::

    from tito.grading import course_paths, init_course, generate, release, submit, collect
    from tito.grading import autograde, generate_feedback, build_report, course_status

Every module of this package imports nbgrader, nbconvert and nbformat inside
the functions that need them: the sandbox's kernel launcher imports this
package and must start fast.
"""

from tito.grading.autograding import autograde
from tito.grading.course import (
    collect,
    generate,
    generated_modules,
    init_course,
    release,
    resolve_course_module,
    submit,
    submitted_students,
)
from tito.grading.feedback import generate_feedback
from tito.grading.outcomes import Outcome, load_outcome
from tito.grading.paths import CoursePaths, course_dir, course_paths
from tito.grading.report import ReportRow, build_report, render_report
from tito.grading.sandbox import SandboxLimits
from tito.grading.status import course_status

__all__ = [
    "CoursePaths", "Outcome", "ReportRow", "SandboxLimits", "autograde", "build_report", "collect",
    "course_dir", "course_paths", "course_status", "generate", "generate_feedback", "generated_modules",
    "init_course", "load_outcome", "release", "render_report", "resolve_course_module", "submit",
    "submitted_students",
]

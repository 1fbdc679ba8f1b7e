"""Instructor grading with nbgrader: course tree, student workspaces, sandboxed parallel autograde, feedback, report.

The functions tests and other tools call, importable from here::

    from tito.grading import course_paths, init_course, generate, release, submit, collect
    from tito.grading import autograde, generate_feedback, build_report, course_status

Importing this package imports none of nbgrader, nbconvert and nbformat (about
3.5 s): the sandbox's kernel launcher imports it and must start fast. Its modules
import them inside the functions that need them; the two whose classes subclass
nbgrader's preprocessors (`overwrite`, `cellcheck`) import nbgrader at their top,
and are themselves imported only inside the function that configures nbgrader
(`config.configure`). tests/test_code_structure.py checks both.
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

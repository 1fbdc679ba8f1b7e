"""Instructor grading with nbgrader: course tree, sandboxed parallel autograde, feedback, report.

The functions tests and other tools call, importable from here::

    from tito.grading import course_paths, init_course, generate, release, submit, collect
    from tito.grading import autograde, generate_feedback, build_report, course_status

Submodules are imported on first use: the sandbox's kernel launcher imports
this package and must start fast.
"""

from importlib import import_module

_EXPORTS = {
    "CoursePaths": "paths", "course_paths": "paths", "course_dir": "paths",
    "init_course": "course", "generate": "course", "release": "course", "submit": "course",
    "collect": "course", "submitted_students": "course", "resolve_course_module": "course",
    "generated_modules": "course",
    "autograde": "autograding", "Outcome": "outcomes", "load_outcome": "outcomes",
    "SandboxLimits": "sandbox",
    "generate_feedback": "feedback",
    "build_report": "report", "render_report": "report", "ReportRow": "report",
    "course_status": "status",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f"tito.grading.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'tito.grading' has no attribute {name!r}")

"""nbgrader configuration of the TinyTorch course.

`nbgrader ...` run from the repository root uses the same course tree
(course/, or $TITO_COURSE_DIR), gradebook and sandboxed kernel as
`tito nbgrader ...`: both take their settings from tito.grading.config.
"""

from pathlib import Path

from tito.grading.config import configure

configure(get_config(), project_root=Path(__file__).resolve().parent)  # noqa: F821 (provided by traitlets)

"""nbgrader configuration of a course, built in one place, and the way into nbgrader's API.

`nbgrader_config.py` (at the project root and in every course folder) calls
`configure(get_config(), ...)`, and tito's own calls into nbgrader's Python API
go through `nbgrader_api(...)` (or `course_config(...)`): both get the same
settings from this module. `nbgrader_error` picks the telling line out of a
failed API call.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

from tito.grading.paths import COURSE_ID, SANDBOX_KERNEL_NAME, CoursePaths, course_paths

GRADING_CELL_TIMEOUT = 120  # seconds per cell while grading: many submissions wait behind each one
_EXCEPTION_LINE_RE = re.compile(r"^(\w+(Error|Exception)): (.+)$")

CONFIG_TEMPLATE = '''"""nbgrader configuration of this TinyTorch course (written by `tito nbgrader init`).

Run `nbgrader ...` from this folder and it uses the same course tree, gradebook
and sandboxed kernel as `tito nbgrader ...`; the settings live in tito.grading.config.
"""

from pathlib import Path

from tito.grading.config import configure

configure(get_config(), course_dir=Path(__file__).resolve().parent)

# Course settings of your own go below this line: tito and plain nbgrader both read them
# (and `tito nbgrader init` keeps them). Late submissions, for example:
#   c = get_config()
#   c.LateSubmissionPlugin.penalty_method = "zero"   # nbgrader's plugin: a late submission scores 0
'''


def ensure_tools_on_path() -> None:
    """nbgrader runs the `alembic` command when it creates a gradebook: find it next to this Python."""
    if shutil.which("alembic") is None:
        os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])


def configure(c, course_dir: Path | None = None, project_root: Path | None = None,
              cell_timeout: int = GRADING_CELL_TIMEOUT) -> None:
    """Apply the course settings to the traitlets config `c` (in place)."""
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import CheckCellMetadata, GetGrades, OverwriteCells

    from tito.grading.cellcheck import CheckCellMetadataOnce
    from tito.grading.leaks import hide_hidden_tests_preprocessor
    from tito.grading.overwrite import RestoreHiddenTests

    ensure_tools_on_path()
    course = course_paths(project_root, course_dir)
    c.CourseDirectory.root = str(course.root)
    c.CourseDirectory.course_id = COURSE_ID
    c.CourseDirectory.db_url = course.db_url
    c.Exchange.root = str(course.exchange)
    c.Exchange.cache = str(course.exchange_cache)
    c.ExchangeReleaseAssignment.force = True  # re-releasing replaces the old version
    c.ExchangeCollect.check_owner = False  # submissions are copied in by the instructor's account
    c.OverwriteCells.add_missing_cells = True  # a deleted locked test cell comes back
    ours = {OverwriteCells: RestoreHiddenTests, CheckCellMetadata: CheckCellMetadataOnce}
    for step in ("sanitize_preprocessors", "autograde_preprocessors"):
        c.Autograde[step] = [ours.get(p, p) for p in Autograde.class_traits()[step].default()]
    # Plain `nbgrader autograde` runs student code in the same sandboxed kernel as tito.
    c.Execute.kernel_name = SANDBOX_KERNEL_NAME
    c.Execute.timeout = cell_timeout
    c.GenerateFeedback.preprocessors = [GetGrades, hide_hidden_tests_preprocessor(), CSSHTMLHeaderPreprocessor]
    c.NbGraderAPI.log_level = "WARN"


def course_config(course: CoursePaths, cell_timeout: int = GRADING_CELL_TIMEOUT):
    """A fresh traitlets Config for `course`: tito's settings, then the instructor's own from the
    course's nbgrader_config.py (late-penalty rules and the like), then `cell_timeout`."""
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    c = Config()
    configure(c, course_dir=course.root, cell_timeout=cell_timeout)
    if course.config_file.is_file():
        c.merge(PyFileConfigLoader(course.config_file.name, path=str(course.root)).load_config())
        c.Execute.timeout = cell_timeout
    return c


def nbgrader_api(course: CoursePaths, **config_options):
    """nbgrader's NbGraderAPI for `course`, configured as above."""
    from nbgrader.apps import NbGraderAPI

    return NbGraderAPI(config=course_config(course, **config_options))


def nbgrader_error(outcome: dict) -> str:
    """The most telling line of a failed NbGraderAPI call: the exception behind it, else its last error."""
    text = (outcome.get("log") or "") + "\n" + (outcome.get("error") or "")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    causes = [line for line in lines if _EXCEPTION_LINE_RE.match(line) and not line.startswith("NbGraderException")]
    errors = [line for line in lines if line.startswith("[ERROR]") and "see the" not in line.lower()]
    return (causes or errors or lines or ["unknown error"])[0 if causes else -1]

"""Where the nbgrader course lives: the one place tito and nbgrader_config.py read.

The course tree is generated and git-ignored. It is `course/` at the project
root unless `--course DIR` or the environment variable TITO_COURSE_DIR says
otherwise (tests build scratch courses that way)::

    course/
      nbgrader_config.py     nbgrader configuration for `cd course && nbgrader ...`
      gradebook.db           nbgrader's SQLite gradebook (the default, for one machine)
      gradebook_url          or: the URL of a shared gradebook server (`tito nbgrader init --db URL`)
      source/<module>/       instructor notebooks (solutions, hidden tests)
      release/<module>/      student versions
      exchange/              nbgrader exchange (release, submit, collect)
      submitted/<student>/<module>/
      autograded/<student>/<module>/
      feedback/<student>/<module>/
      outcomes/<module>/<student>.json   tito's grading record per submission

Only the standard library is imported here: nbgrader_config.py and the kernel
launcher import this module.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

COURSE_ID = "tinytorch"
COURSE_DIR_ENV = "TITO_COURSE_DIR"
DEFAULT_COURSE_DIRNAME = "course"
SANDBOX_KERNEL_NAME = "tinytorch-sandbox"
CONFIG_FILENAME = "nbgrader_config.py"
GRADEBOOK_URL_FILENAME = "gradebook_url"


def notebook_id(module_key: str) -> str:
    """nbgrader's notebook id of a module: '11_kernels' -> 'kernels_dev'."""
    return f"{module_key.split('_', 1)[1]}_dev"


@dataclass(frozen=True)
class CoursePaths:
    """Every folder and file of one course tree."""

    root: Path

    @property
    def config_file(self) -> Path:
        return self.root / CONFIG_FILENAME

    @property
    def gradebook(self) -> Path:
        return self.root / "gradebook.db"

    @property
    def gradebook_url_file(self) -> Path:
        return self.root / GRADEBOOK_URL_FILENAME

    @property
    def db_url(self) -> str:
        """The gradebook's SQLAlchemy URL: the one `init --db` wrote, else the course's SQLite file."""
        try:
            url = self.gradebook_url_file.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            url = ""
        return url or f"sqlite:///{self.gradebook}"

    def has_gradebook(self) -> bool:
        return self.gradebook_url_file.is_file() or self.gradebook.is_file()

    @property
    def source(self) -> Path:
        return self.root / "source"

    @property
    def release(self) -> Path:
        return self.root / "release"

    @property
    def submitted(self) -> Path:
        return self.root / "submitted"

    @property
    def autograded(self) -> Path:
        return self.root / "autograded"

    @property
    def feedback(self) -> Path:
        return self.root / "feedback"

    @property
    def exchange(self) -> Path:
        return self.root / "exchange"

    @property
    def exchange_cache(self) -> Path:
        return self.root / ".nbgrader_cache"

    @property
    def outcomes(self) -> Path:
        return self.root / "outcomes"

    def source_notebook(self, module_key: str) -> Path:
        return self.source / module_key / f"{notebook_id(module_key)}.ipynb"

    def release_notebook(self, module_key: str) -> Path:
        return self.release / module_key / f"{notebook_id(module_key)}.ipynb"

    def submitted_notebook(self, module_key: str, student: str) -> Path:
        return self.submitted / student / module_key / f"{notebook_id(module_key)}.ipynb"

    def autograded_notebook(self, module_key: str, student: str) -> Path:
        return self.autograded / student / module_key / f"{notebook_id(module_key)}.ipynb"

    def feedback_html(self, module_key: str, student: str) -> Path:
        return self.feedback / student / module_key / f"{notebook_id(module_key)}.html"

    def outcome_file(self, module_key: str, student: str) -> Path:
        return self.outcomes / module_key / f"{student}.json"

    def released_in_exchange(self, module_key: str) -> Path:
        return self.exchange / COURSE_ID / "outbound" / module_key


def course_dir(project_root: Path | None = None, override: str | os.PathLike | None = None) -> Path:
    """The course folder: `override`, else $TITO_COURSE_DIR, else <project root>/course."""
    chosen = override or os.environ.get(COURSE_DIR_ENV)
    if chosen:
        return Path(chosen).expanduser().resolve()
    if project_root is None:
        raise ValueError("course_dir needs the project root when neither an override nor $TITO_COURSE_DIR is given")
    return Path(project_root).resolve() / DEFAULT_COURSE_DIRNAME


def course_paths(project_root: Path | None = None, override: str | os.PathLike | None = None) -> CoursePaths:
    return CoursePaths(course_dir(project_root, override))

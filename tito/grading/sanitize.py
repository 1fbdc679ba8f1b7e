"""nbgrader's sanitizing step of autograde, for one module's submissions one after another.

`NbGraderAPI.autograde` builds nbgrader's whole converter app for each call,
opens the gradebook several times, and exports each notebook twice (its
sanitize pass, then an autograde pass that has nothing to do when only
sanitizing): most of the grading coordinator's time. `Sanitizer` does what
that call does for one submission, with nbgrader's own pieces built once per
module: the submission's record in the gradebook (with its timestamp, for late
penalties), the autograded folder with the submission's other files and the
source's, and the notebook through the course's sanitize preprocessors
(RestoreHiddenTests, nbgrader's ClearOutput, DeduplicateIds,
OverwriteKernelspec and the metadata check), written read-only.
"""

from __future__ import annotations

import fnmatch
import shutil
from pathlib import Path

from tito.files import write_atomic
from tito.grading.paths import COURSE_ID, CoursePaths, notebook_id


def notebook_exporter(config, preprocessors):
    """nbconvert's NotebookExporter running `preprocessors`, validating the notebook once, after the last
    one, instead of after every one (a fifth of the coordinator's time). An invalid result raises
    nbformat's ValidationError, as before."""
    import nbformat
    from nbconvert.exporters import NotebookExporter

    class ValidateOnceExporter(NotebookExporter):
        def _validate_preprocessor(self, nbc, preprocessor) -> None:
            pass

        def _preprocess(self, nb, resources):
            nbc, resc = super()._preprocess(nb, resources)
            nbformat.validate(nbc, relax_add_props=True)
            return nbc, resc

    config = config.copy()
    config.Exporter.default_preprocessors = []
    exporter = ValidateOnceExporter(config=config)
    for preprocessor in preprocessors:
        exporter.register_preprocessor(preprocessor)
    return exporter


class SanitizeError(Exception):
    """nbgrader refused the submission (its message says why)."""


class Sanitizer:
    def __init__(self, course: CoursePaths, module_key: str, config):
        from nbgrader.coursedir import CourseDirectory

        self.course, self.module = course, module_key
        self.exporter = notebook_exporter(config, config.Autograde.sanitize_preprocessors)
        self.coursedir = CourseDirectory(config=config)
        self.ignore = list(self.coursedir.ignore)
        source = course.source / module_key
        self.source_files = [p for p in _files(source, self.ignore + ["*.ipynb"])]

    def sanitize(self, student: str, submitted) -> str:
        """The sanitized notebook (as JSON text) of `student`'s submission `submitted`, also written to
        the autograded folder. SanitizeError when nbgrader refuses it."""
        from nbgrader.api import Gradebook

        folder = self.course.submitted_notebook(self.module, student).parent
        dest = self.course.autograded_notebook(self.module, student).parent
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        try:
            timestamp = self.coursedir.get_existing_timestamp(str(folder))
        except Exception as exc:  # nbgrader's fail() on an unparsable timestamp.txt
            raise SanitizeError(f"invalid timestamp.txt in the submission: {exc}") from None
        with Gradebook(self.course.db_url, COURSE_ID) as gb:
            if timestamp is not None:
                gb.update_or_create_submission(self.module, student, timestamp=timestamp)
            else:
                gb.update_or_create_submission(self.module, student)
        for base, files in ((folder, _files(folder, self.ignore + ["*.ipynb"])), (self.course.source / self.module,
                                                                                 self.source_files)):
            for path in files:
                target = dest / path.relative_to(base)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(path, target)
        nb_id = notebook_id(self.module)
        resources = {"unique_key": nb_id, "output_files_dir": f"{nb_id}_files",
                     "nbgrader": {"student": student, "assignment": self.module, "notebook": nb_id,
                                  "db_url": self.course.db_url}}
        try:
            output, _ = self.exporter.from_notebook_node(submitted, resources=resources)
        except Exception as exc:  # nbgrader's ValidationError, a notebook it cannot restore, ...
            raise SanitizeError(f"{type(exc).__name__}: {str(exc)[:300]}") from None
        write_atomic(dest / f"{nb_id}.ipynb", output)
        for path in dest.rglob("*"):
            if path.is_file():
                path.chmod(0o444)
        return output


def _files(folder: Path, ignore: list[str]) -> list[Path]:
    """Files under `folder`, none matching an `ignore` pattern by name or sitting in an ignored folder."""
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.rglob("*")):
        parts = path.relative_to(folder).parts
        if path.is_file() and not any(fnmatch.fnmatch(part, pattern) for part in parts for pattern in ignore):
            found.append(path)
    return found

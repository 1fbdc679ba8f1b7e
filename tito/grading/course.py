"""The course tree and the steps before grading: init, generate, release, submit, collect.

Each step calls nbgrader's Python API (NbGraderAPI and the exchange classes)
with the configuration from `tito.grading.config`.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tito.errors import TitoError, UsageError
from tito.files import write_atomic
from tito.grading.config import CONFIG_TEMPLATE, course_config, ensure_tools_on_path, nbgrader_api, nbgrader_error
from tito.grading.leaks import find_leaks, instructor_secrets, notebook_text
from tito.grading.paths import COURSE_ID, CoursePaths, notebook_id
from tito.notebook.cells import is_graded, points
from tito.notebook.source import load_module_notebook, notebook_text as notebook_json
from tito.project import Module

COURSE_FOLDERS = ("source", "release", "submitted", "autograded", "feedback", "outcomes")
_STUDENT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class LeakError(TitoError):
    """A generated release notebook still contains solution or hidden-test lines."""


def init_course(course: CoursePaths, db_url: str | None = None) -> CoursePaths:
    """Create the course tree, its nbgrader_config.py, the gradebook and the sandbox kernel spec (idempotent).

    The gradebook is the course's SQLite file unless `db_url` names a database
    server (postgresql://user:password@host/dbname); the URL is kept in the
    course's `gradebook_url` file, which nbgrader_config.py and tito both read.
    The course folder is private to its owner: student code, which runs as
    another user, cannot read the source notebooks or the gradebook.
    """
    from tito.grading.sandbox import install_kernel_spec

    ensure_tools_on_path()
    course.root.mkdir(parents=True, exist_ok=True)
    course.root.chmod(0o700)
    for name in COURSE_FOLDERS:
        (course.root / name).mkdir(exist_ok=True)
    course.exchange.mkdir(exist_ok=True)
    course.exchange.chmod(0o777)  # nbgrader's exchange must be writable by everyone who submits
    current = course.config_file.read_text(encoding="utf-8") if course.config_file.is_file() else ""
    if not current.startswith(CONFIG_TEMPLATE):  # the instructor's settings below the template stay
        write_atomic(course.config_file, CONFIG_TEMPLATE)
    if db_url is not None:
        open_gradebook_server(db_url)
        write_atomic(course.gradebook_url_file, db_url.strip() + "\n")
        course.gradebook_url_file.chmod(0o600)  # it may hold the database password
    else:
        open_gradebook_server(course.db_url)
    install_kernel_spec()
    return course


SUPPORTED_DATABASES = ("sqlite", "postgresql")


def open_gradebook_server(db_url: str) -> None:
    """Create nbgrader's tables at `db_url` if needed; TitoError naming the URL (without its password) if it cannot."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from nbgrader.api import Gradebook

    from tito.grading.gradebook import add_indexes

    ensure_tools_on_path()
    try:
        url = make_url(db_url.strip())
    except ArgumentError:
        raise UsageError(f"--db {db_url!r} is not a database URL: use postgresql://USER:PASSWORD@HOST:PORT/DBNAME") from None
    shown = url.render_as_string(hide_password=True)
    if url.get_backend_name() not in SUPPORTED_DATABASES:
        raise UsageError(f"--db {shown}: the gradebook runs on {' or '.join(SUPPORTED_DATABASES)}, "
                         f"not {url.get_backend_name()}")
    driver = {"pysqlite": "sqlite3"}.get(url.get_dialect().driver, url.get_dialect().driver)
    if importlib.util.find_spec(driver) is None:
        raise TitoError(f"no driver for {shown} ({driver} is missing): pip install 'tinytorch[instructor]'")
    try:
        with Gradebook(url.render_as_string(hide_password=False), COURSE_ID) as gb:
            add_indexes(gb.engine)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise TitoError(f"could not open the gradebook at {shown}: {reason}") from None


def require_course(course: CoursePaths) -> None:
    if not course.has_gradebook():
        raise TitoError(f"no course at {course.root}: run `tito nbgrader init` first")


@dataclass
class GenerateResult:
    module: str
    source: Path
    release: Path
    graded_cells: int
    points: float
    secrets_checked: int


def generate(module: Module, course: CoursePaths) -> GenerateResult:
    """Module source -> course/source notebook -> nbgrader generate_assignment -> leak-checked release.

    A re-run replaces the previous version. If nbgrader fails, or the release
    notebook would contain a solution or hidden-test line (LeakError), the
    previous version stays as it was.
    """
    import nbformat

    init_course(course)
    nb = load_module_notebook(module)
    source = course.source_notebook(module.key)
    release = course.release_notebook(module.key)
    with tempfile.TemporaryDirectory(prefix="tito-generate-") as tmp:
        previous = _set_aside(source.parent, release.parent, Path(tmp))
        write_atomic(source, notebook_json(nb))
        outcome = nbgrader_api(course).generate_assignment(module.key, force=True, create=True)
        if not outcome["success"] or not release.is_file():
            previous.restore()
            raise TitoError(f"nbgrader generate_assignment failed for {module.key}: {nbgrader_error(outcome)}")
        secrets = instructor_secrets(nb)
        leaks = find_leaks(secrets, notebook_text(nbformat.read(release, as_version=4)))
        if leaks:
            previous.restore()
            raise LeakError(f"release of {module.key} would leak {len(leaks)} line(s), e.g. {leaks[0]!r}: not released")
    graded = [c for c in nb.cells if is_graded(c)]
    return GenerateResult(module.key, source, release, len(graded), sum(points(c) for c in graded), len(secrets))


@dataclass
class _SetAside:
    """Copies of a module's course folders, put back if generating a new version fails."""

    folders: dict[Path, Path | None]

    def restore(self) -> None:
        for folder, copy in self.folders.items():
            shutil.rmtree(folder, ignore_errors=True)
            if copy is not None:
                shutil.copytree(copy, folder)


def _set_aside(*folders_and_scratch: Path) -> _SetAside:
    *folders, scratch = folders_and_scratch
    saved: dict[Path, Path | None] = {}
    for index, folder in enumerate(folders):
        saved[folder] = None
        if folder.is_dir():
            saved[folder] = scratch / str(index)
            shutil.copytree(folder, saved[folder])
    return _SetAside(saved)


def generated_modules(course: CoursePaths) -> list[str]:
    """Module keys with a release notebook in the course, in order."""
    if not course.release.is_dir():
        return []
    return sorted(p.name for p in course.release.iterdir() if (p / f"{notebook_id(p.name)}.ipynb").is_file())


def resolve_course_module(name: str, course: CoursePaths) -> str:
    """A generated module by '11_kernels', '11' or 'kernels' (UsageError lists the generated ones)."""
    known = generated_modules(course) or sorted(p.name for p in course.source.glob("*") if p.is_dir())
    wanted = name.strip().lower().rstrip("/")
    for key in known:
        number, short = key.split("_", 1)
        if wanted in (key, short) or (wanted.isdigit() and int(wanted) == int(number)):
            return key
    raise UsageError(f"module '{name}' is not generated in {course.root}. Generated: {', '.join(known) or 'none'}")


def release(module_key: str, course: CoursePaths) -> Path:
    """nbgrader release_assignment: the release notebook goes to the exchange (replacing an earlier one)."""
    require_course(course)
    if not course.release_notebook(module_key).is_file():
        raise TitoError(f"module {module_key} has no release notebook: run `tito nbgrader generate {module_key}`")
    outcome = nbgrader_api(course).release_assignment(module_key)
    if not outcome["success"]:
        raise TitoError(f"nbgrader release_assignment failed for {module_key}: {nbgrader_error(outcome)}")
    return course.released_in_exchange(module_key)


def check_student_id(student: str) -> str:
    if not _STUDENT_RE.match(student):
        raise UsageError(f"student id {student!r} must be letters, digits, '.', '_' or '-' (at most 64)")
    return student


def submit(course: CoursePaths, module_key: str, student: str, notebook: Path) -> None:
    """What `nbgrader submit` does for a student: put `notebook` into the exchange's inbound folder.

    The file is submitted under the release notebook's name, whatever it is
    called locally, and need not be a valid notebook (the grader copes).
    """
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.exchange.default import ExchangeSubmit

    require_course(course)
    check_student_id(student)
    if not Path(notebook).is_file():
        raise UsageError(f"no notebook at {notebook}")
    config = course_config(course)
    with tempfile.TemporaryDirectory(prefix="tito-submit-") as tmp:
        folder = Path(tmp, module_key)
        folder.mkdir()
        shutil.copyfile(notebook, folder / f"{notebook_id(module_key)}.ipynb")
        coursedir = CourseDirectory(config=config)
        coursedir.assignment_id = module_key
        coursedir.student_id = student
        app = ExchangeSubmit(coursedir=coursedir, authenticator=Authenticator(config=config), config=config)
        app.assignment_dir = tmp
        try:
            app.start()
        except Exception as exc:  # nbgrader's ExchangeError and friends
            raise TitoError(f"could not submit {module_key} for {student}: {exc}") from None
    name_students(course, [student])


def name_students(course: CoursePaths, students: list[str]) -> None:
    """Every student in `students` is in the gradebook; those it has no name for get their id as last name.

    nbgrader creates a student at autograde with no name, and formgrader then
    lists "None, None". All missing students are added in one transaction; if
    another coordinator adds one of them first (a shared gradebook server), the
    transaction is rolled back and tried again with the roster as it is then.
    """
    from nbgrader.api import Gradebook, Student
    from sqlalchemy.exc import IntegrityError

    wanted = set(students)
    with Gradebook(course.db_url, COURSE_ID) as gb:
        for attempt in range(3):
            known = {s.id: s for s in gb.db.query(Student)}
            for student in sorted(wanted):
                record = known.get(student)
                if record is None:
                    gb.db.add(Student(id=student, last_name=student, first_name=""))
                elif record.first_name is None and record.last_name is None:
                    record.last_name, record.first_name = student, ""
            try:
                gb.db.commit()
                return
            except IntegrityError:
                gb.db.rollback()
        raise TitoError(f"could not add {len(wanted)} student(s) to the gradebook at {course.db_url}: "
                        "other writers kept adding the same ones")


def collect(module_key: str, course: CoursePaths) -> list[str]:
    """nbgrader collect: each student's latest submission moves to submitted/; returns the students."""
    require_course(course)
    outcome = nbgrader_api(course).collect(module_key, update=True)
    if not outcome["success"]:
        raise TitoError(f"nbgrader collect failed for {module_key}: {nbgrader_error(outcome)}")
    students = submitted_students(course, module_key)
    name_students(course, students)  # those who used nbgrader's own submit too
    return students


def submitted_students(course: CoursePaths, module_key: str) -> list[str]:
    if not course.submitted.is_dir():
        return []
    return sorted(p.name for p in course.submitted.iterdir() if (p / module_key).is_dir())

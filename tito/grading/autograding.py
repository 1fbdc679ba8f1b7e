"""Autograde a module's submissions: nbgrader around a sandboxed, parallel execution step.

nbgrader's own autograde is one pipeline per submission: sanitize (restore
locked cells, re-add deleted ones, reset the kernelspec), execute, save the
grades. tito runs the same nbgrader pieces in three steps:

1. here, one submission at a time: check the file (readable? empty?), record
   tampering against the release notebook, then nbgrader's sanitizing
   preprocessors (`tito.grading.sanitize`);
2. in a pool of worker processes, several submissions at once: execute the
   sanitized notebook in the sandboxed kernel (`tito.grading.execution`: plain
   data in, plain data out);
3. here again: graded cells that never ran are marked, then nbgrader's
   remaining autograde preprocessors (SaveAutoGrades, late penalties, output
   limits, metadata checks) write the grades.

Only this process writes the gradebook, through one connection for the whole
run (`tito.grading.gradebook`): the grades of the submissions that finished
while the executor was busy are committed together, then their outcomes
(`tito.grading.outcomes`) are saved, so an outcome never names grades that are
not in the gradebook.
"""

from __future__ import annotations

import contextlib
import shutil
import time
import warnings
from collections import Counter, deque
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from tito.errors import TitoError
from tito.files import write_atomic
from tito.grading.config import GRADING_CELL_TIMEOUT, course_config
from tito.grading.course import name_students, require_course, submitted_students
from tito.grading.dispatch import undecided_checks
from tito.grading.execution import ExecutionJob, ExecutionResult, mark_cells_not_run
from tito.grading.outcomes import Outcome, save_outcome
from tito.grading.paths import COURSE_ID, CoursePaths, notebook_id
from tito.grading.sandbox import SandboxLimits, SandboxSettings
from tito.grading.sanitize import SanitizeError, Sanitizer, notebook_exporter
from tito.judge.notebook import JudgedTests
from tito.judge.signs import tampering_in_source
from tito.notebook.cells import grade_id
from tito.notebook.locked_cells import Tampering, find_tampering
from tito.notebook.run import score_executed_notebook

BATCH_SECONDS = 1.0  # longest a batch of grades stays uncommitted while the coordinator prepares submissions


def hidden_package_files(project_root: Path | None, module_key: str) -> list[str]:
    """The package files of the graded module and every later one (reference solutions), with their bytecode."""
    if project_root is None:
        return []
    from tito.project import list_modules

    number = int(module_key.split("_", 1)[0])
    hidden: list[str] = []
    for module in list_modules(project_root):
        target = module.package_file() if int(module.number) >= number else None
        if target is None:
            continue
        hidden.append(str(target))
        hidden.extend(str(p) for p in (target.parent / "__pycache__").glob(f"{target.stem}.*.pyc"))
    return hidden


@dataclass
class PreparedSubmission:
    student: str
    job: ExecutionJob
    tampered: list[Tampering]
    started: float
    prepare_seconds: float = 0.0
    attempts: int = 0
    signs: list[str] = field(default_factory=list)  # tampering seen in the submission's own code


class Autograder:
    """The three grading steps for one module; steps 1 and 3 run in this process."""

    def __init__(self, course: CoursePaths, module_key: str, cell_timeout: int, settings: SandboxSettings):
        import nbformat
        from nbgrader.preprocessors import Execute

        self.course = course
        self.module = module_key
        self.cell_timeout = cell_timeout
        self.settings = settings
        self.timings: Counter[str] = Counter()  # seconds spent in this process, by phase
        release = course.release_notebook(module_key)
        if not release.is_file():
            raise TitoError(f"module {module_key} has not been generated: run `tito nbgrader generate {module_key}`")
        self.release_nb = nbformat.read(release, as_version=4)
        # what the judge runs comes from the instructor's source notebook, never from a submission
        tests = JudgedTests.from_notebook(nbformat.read(course.source_notebook(module_key), as_version=4))
        self.tests, self.test_names = asdict(tests), tests.setup_names()
        self.config = course_config(course, cell_timeout=cell_timeout)
        self.sanitizer = Sanitizer(course, module_key, self.config)
        self.exporter = notebook_exporter(self.config, [p for p in self.config.Autograde.autograde_preprocessors
                                                        if p is not Execute])
        self.max_score = self._assignment_max_score()

    def _gradebook(self):
        from nbgrader.api import Gradebook

        return Gradebook(self.course.db_url, COURSE_ID)

    def _assignment_max_score(self) -> float:
        with self._gradebook() as gb:
            return float(gb.find_assignment(self.module).max_score)

    def _forget(self, student: str) -> None:
        """No grade stays in the gradebook for a submission that could not be graded."""
        from nbgrader.api import MissingEntry

        with self._gradebook() as gb:
            try:
                gb.remove_submission(self.module, student)
            except MissingEntry:
                pass
        shutil.rmtree(self.course.autograded / student / self.module, ignore_errors=True)

    def failed(self, student: str, detail: str, started: float, tampered: list[Tampering] | None = None) -> Outcome:
        self._forget(student)
        return Outcome(student, self.module, "error", 0.0, self.max_score,
                       tampered_cells=[str(t) for t in tampered or []],
                       detail=detail, seconds=time.perf_counter() - started, graded_at=_now())

    def prepare(self, student: str) -> PreparedSubmission | Outcome:
        """Step 1: check, record tampering, sanitize with nbgrader. An Outcome when it cannot be run."""
        started = time.perf_counter()
        with self.timed("check"):
            checked = self._check(student, started)
        if isinstance(checked, Outcome):
            return checked
        submitted, tampered = checked
        with self.timed("sanitize"):
            try:
                notebook_json = self.sanitizer.sanitize(student, submitted)
            except SanitizeError as exc:
                return self.failed(student, f"nbgrader could not read the submission: {exc}", started, tampered)
        with self.timed("check"):
            signs = tampering_in_source(submitted, self.test_names)
        job = ExecutionJob(student, self.module, notebook_json, self.cell_timeout, self.settings, self.tests)
        return PreparedSubmission(student, job, tampered, started, time.perf_counter() - started, signs=signs)

    def timed(self, phase: str):
        """Adds the seconds spent inside the `with` block to `self.timings[phase]`."""
        return _Timed(self.timings, phase)

    def _check(self, student: str, started: float):
        """The submitted notebook and its tampered locked cells, or an Outcome when it cannot be graded."""
        import nbformat

        path = self.course.submitted_notebook(self.module, student)
        if not path.is_file():
            return self.failed(student, f"no {notebook_id(self.module)}.ipynb in the submission", started)
        try:
            submitted = nbformat.read(path, as_version=4)
        except Exception as exc:  # nbformat raises many types for a corrupt or truncated file
            return self.failed(student, f"unreadable notebook: {type(exc).__name__}: {str(exc)[:200]}", started)
        if not submitted.cells:
            return self.failed(student, "empty notebook: it has no cells", started)
        try:
            tampered = find_tampering(submitted, self.release_nb)
        except Exception as exc:
            return self.failed(student, f"malformed notebook: {type(exc).__name__}: {exc}", started)
        return submitted, tampered

    def finish(self, prepared: PreparedSubmission, result: ExecutionResult) -> Outcome:
        """Step 3: nbgrader saves the grades of the executed notebook; the outcome says what happened."""
        import nbformat

        student = prepared.student
        finish_started = time.perf_counter()
        nb_id = notebook_id(self.module)
        resources = {
            "unique_key": nb_id,
            "output_files_dir": f"{nb_id}_files",
            "nbgrader": {"student": student, "assignment": self.module, "notebook": nb_id,
                         "db_url": self.course.db_url},
        }
        try:
            with self.timed("save grades"):
                executed = nbformat.reads(result.notebook_json, as_version=4)
                mark_cells_not_run(executed, result)
                output, _ = self.exporter.from_notebook_node(executed, resources=resources)
        except Exception as exc:
            return self.failed(student, f"nbgrader could not save the grades: {type(exc).__name__}: {exc}",
                                prepared.started, prepared.tampered)
        with self.timed("write notebook"):
            target = self.course.autograded_notebook(self.module, student)
            write_atomic(target, output)
            target.chmod(0o444)
        with self.timed("read score"), self._gradebook() as gb:
            submission = gb.find_submission(self.module, student)
            score, max_score = float(submission.score), float(submission.max_score)
        with self.timed("check"):
            scored = score_executed_notebook(nbformat.reads(output, as_version=4))
        failing = [", ".join(t.tests) or t.grade_id for t in scored.graded if not t.passed]
        signs = prepared.signs + [f"the notebook's process reports: {sign}" for sign in result.judge.get("signs", [])]
        status, detail = _status(result, prepared.tampered, executed, signs)
        timed_out = [_cell_name(executed, i) for i in result.timed_out_cells]
        seconds = prepared.prepare_seconds + result.seconds + time.perf_counter() - finish_started
        tampered = [str(t) for t in prepared.tampered]
        return Outcome(student, self.module, status, score, max_score, failing, tampered, timed_out, detail, seconds,
                       in_gradebook=True, graded_at=_now())


class _Timed:
    def __init__(self, timings: Counter, phase: str):
        self.timings, self.phase = timings, phase

    def __enter__(self) -> None:
        self.start = time.perf_counter()

    def __exit__(self, *exc) -> None:
        self.timings[self.phase] += time.perf_counter() - self.start


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _cell_name(nb, index: int | None) -> str:
    if index is None or index >= len(nb.cells):
        return "?"
    return grade_id(nb.cells[index]) or f"cell {index + 1}"


def _status(result: ExecutionResult, tampered: list[Tampering], nb, signs: list[str] = ()) -> tuple[str, str]:
    notes = []
    if result.strays_killed:
        notes.append(f"{result.strays_killed} runaway process(es) of the submission killed")
    if tampered:
        notes.append("locked cells restored: " + "; ".join(map(str, tampered)))
    if signs:
        notes.append("signs of tampering (the judge's verdicts do not depend on them): " + "; ".join(signs))
    if result.error:
        return "error", "; ".join([f"the kernel could not run the notebook: {result.error}", *notes])
    if result.killed_for == "handover":
        return "error", "; ".join(["the kernel did not hand itself to the judge (its notebook stopped the handover, "
                                   "or it hung) and was stopped", *notes])
    if result.killed_for == "output":
        return "error", "; ".join([f"kernel stopped in {_cell_name(nb, result.died_in_cell)}: too much output", *notes])
    if result.timed_out_cells:
        cells = ", ".join(_cell_name(nb, i) for i in result.timed_out_cells)
        stopped = " (the kernel ignored the interrupt and was stopped)" if result.killed_for == "timeout" else ""
        return "timeout", "; ".join([f"ran past the time limit in {cells}{stopped}", *notes])
    if result.kernel_died:
        return "error", "; ".join([f"the kernel died in {_cell_name(nb, result.died_in_cell)}", *notes])
    if tampered or signs:
        return "tampered", "; ".join(notes)
    undecided = undecided_checks(result)
    if undecided:
        return "inconclusive", "; ".join([
            f"the judge could not decide {', '.join(undecided)} on trusted ground (no points for "
            f"{'it' if len(undecided) == 1 else 'them'}); the next `tito nbgrader autograde` grades it again", *notes])
    return "graded", "; ".join(notes)


def autograde(course: CoursePaths, module_key: str, students: list[str] | None = None, workers: int = 1,
              cell_timeout: int = GRADING_CELL_TIMEOUT, limits: SandboxLimits | None = None,
              project_root: Path | None = None,
              on_outcome: Callable[[Outcome], None] | None = None,
              on_start: Callable[[int], None] | None = None,
              cluster: str | None = None, force: bool = False, executor=None,
              timings: Counter | None = None, on_notice: Callable[[str, int], None] | None = None) -> list[Outcome]:
    """Grade the collected submissions of `module_key` (all, or `students`) with `workers` kernels at once,
    or on the Dask cluster whose scheduler is at `cluster`.

    Every submission ends with an Outcome (saved under course/outcomes), whatever
    its notebook does; `on_outcome` is called as each one finishes. Submissions
    already graded (an outcome newer than the submission) are left alone unless
    `force`. A preflight notebook runs in the sandbox before anybody is graded.
    `executor` replaces the local pool or cluster (a `tito.grading.executors.Executor`);
    the seconds this process spends in each phase are added to `timings`. Locally, no more kernels run at
    once than leave each the CPUs the module's speed checks need; `on_notice(message, kernels at once)`
    hears when that lowers `workers`, or when no share is large enough.
    """
    require_course(course)
    if workers < 1:
        raise TitoError(f"--workers must be at least 1, got {workers}")
    if cell_timeout < 1:
        raise TitoError(f"--timeout must be at least 1 second, got {cell_timeout}")
    available = submitted_students(course, module_key)
    if students:
        unknown = [s for s in students if s not in available]
        if unknown:
            raise TitoError(f"no collected submission of {module_key} from {', '.join(unknown)}: run `tito nbgrader collect`")
    enough_cpus = True  # for the checks that need several: where they are too few, no second run decides them
    if not cluster and executor is None:
        workers, enough_cpus = _fitted_workers(course, module_key, workers, on_notice or (lambda message, at_once: None))
    settings = SandboxSettings(limits=limits or SandboxLimits(),
                               hide=tuple(hidden_package_files(project_root, module_key)))
    outcomes: list[Outcome] = []

    phases = timings if timings is not None else Counter()
    recorded: list[Outcome] = []  # graded in the open gradebook batch, outcome not written yet

    def record(outcome: Outcome) -> None:
        recorded.append(outcome)

    def commit_recorded(batch, waiting: bool = True) -> None:
        """The batch's grades become durable, then its outcome files say so: before the loop waits for the
        executor, and while it prepares once the batch is BATCH_SECONDS old (another coordinator's writes to
        a SQLite gradebook wait for ours)."""
        if not waiting and time.monotonic() - batch.started < BATCH_SECONDS:
            return
        with _Timed(phases, "commit gradebook"):
            batch.commit()
        with _Timed(phases, "write outcome"):
            for outcome in recorded:
                save_outcome(course, outcome)
        outcomes.extend(recorded)
        if on_outcome is not None:
            for outcome in recorded:
                on_outcome(outcome)
        recorded.clear()

    from sqlalchemy.exc import SAWarning

    from tito.grading.dispatch import INCONCLUSIVE_RUNS, grade_all, make_executor, needs_grading
    from tito.grading.gradebook import batched_gradebook
    from tito.grading.sandbox import install_kernel_spec

    with _module_lock(course, module_key), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=SAWarning)  # nbgrader's session warnings, not ours to act on
        todo = deque(s for s in students or available if force or needs_grading(course, module_key, s))
        if not todo:
            if on_start is not None:
                on_start(0)
            return outcomes
        grader = Autograder(course, module_key, cell_timeout, settings)
        grader.timings = phases
        with _Timed(phases, "roster"):
            name_students(course, list(todo))  # in one transaction: added one by one, they could race another coordinator
        if not cluster and executor is None:
            install_kernel_spec()
        with contextlib.closing(executor or make_executor(workers, cluster)) as running:
            running.preflight(settings)
            if on_start is not None:
                on_start(len(todo))
            with batched_gradebook(course.db_url, COURSE_ID) as batch:
                grade_all(grader, todo, running, record, checkpoint=lambda waiting: commit_recorded(batch, waiting),
                          undecided_runs=INCONCLUSIVE_RUNS if enough_cpus else 1)
                commit_recorded(batch)
    return outcomes


def _fitted_workers(course: CoursePaths, module_key: str, workers: int,
                    notice: Callable[[str, int], None]) -> tuple[int, bool]:
    """`workers`, or as many kernels as this machine can give the CPUs the module's notebook needs each,
    and whether it has that many (if not, a parallel speed check is not made: inconclusive, for every
    submission, however often it runs)."""
    import nbformat

    from tito.grading.sandbox import kernels_at_once
    from tito.notebook.cells import kernel_cpus
    from tito.tools.speed import usable_cores

    needed = kernel_cpus(nbformat.read(course.source_notebook(module_key), as_version=4))
    fitted, cpus = kernels_at_once(workers, needed), usable_cores()
    if cpus < needed:
        notice(f"{module_key}'s speed checks need {needed} CPUs per kernel and this machine gives {cpus}: "
               f"its parallel checks will be inconclusive; grade it on a larger machine", fitted)
    elif fitted < workers:
        notice(f"{module_key}'s speed checks need {needed} CPUs per kernel: grading {fitted} at once instead of "
               f"{workers}, on this machine's {cpus} CPUs", fitted)
    return fitted, cpus >= needed


def _module_lock(course: CoursePaths, module_key: str):
    """One autograde of a module at a time per course: a second one would grade the same submissions twice.
    On a database server (PostgreSQL) different modules may be graded at once, into the same gradebook; a
    SQLite gradebook takes one autograde at a time, since two long write batches on one file deadlock."""
    from filelock import FileLock, Timeout

    shared = course.db_url.startswith("sqlite")
    name = ".autograde.lock" if shared else f".autograde-{module_key}.lock"
    try:
        return FileLock(str(course.root / name)).acquire(timeout=0)  # `with` releases it
    except Timeout:
        running = "another `tito nbgrader autograde`" if shared else f"another `tito nbgrader autograde {module_key}`"
        raise TitoError(f"{running} is running on {course.root}: wait for it to finish"
                        + (" (a SQLite gradebook takes one at a time; PostgreSQL takes one per module)"
                           if shared else "")) from None

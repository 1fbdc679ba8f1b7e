"""The grading loop over an executor, and what is left to grade.

Steps 1 and 3 (sanitize, save the grades) run in the calling process, one
submission at a time; step 2 runs on the executor (`tito.grading.executors`),
several at once. An outcome file is written last for each submission, so it is
the record that the submission is graded: a coordinator stopped mid-run and
started again grades exactly the submissions without one (or resubmitted
since), and each submission is recorded once however many workers were lost.

A run whose judge could not decide a check on trusted ground (a speed check on a
machine never quiet enough) is run once more at the end of the queue, when the other
submissions no longer compete for the cores; if it stays undecided it is recorded
`inconclusive` for the instructor to regrade.
"""

from __future__ import annotations

from collections import deque
from typing import Callable

from tito.grading.executors import Executor
from tito.grading.outcomes import Outcome, load_outcome
from tito.grading.paths import CoursePaths

INCONCLUSIVE_RUNS = 2  # runs of a notebook whose judge could not decide a check, before it is recorded so


def undecided_checks(result) -> list[str]:
    """The graded cells whose check the judge could not decide on trusted ground."""
    verdicts = (result.judge or {}).get("verdicts", []) if result is not None else []
    return [str(v.get("grade_id")) for v in verdicts if isinstance(v, dict) and v.get("inconclusive")]


def needs_grading(course: CoursePaths, module_key: str, student: str) -> bool:
    """No outcome recorded yet, an inconclusive one, or the submission was collected again after it."""
    outcome = course.outcome_file(module_key, student)
    if not outcome.is_file():
        return True
    recorded = load_outcome(course, module_key, student)
    if recorded is None or recorded.status == "inconclusive":
        return True
    submitted = course.submitted_notebook(module_key, student)
    return submitted.is_file() and submitted.stat().st_mtime > outcome.stat().st_mtime


def grade_all(grader, todo: deque, executor, record: Callable[[Outcome], None],
              checkpoint: Callable[[bool], None] | None = None, undecided_runs: int = INCONCLUSIVE_RUNS) -> None:
    """Until every submission in `todo` has an outcome: prepare here, execute on `executor`, finish here.
    `checkpoint(True)` runs each time the loop is about to wait for the executor, `checkpoint(False)`
    after each submission prepared. A run with an undecided check is made up to `undecided_runs` times
    (1 where no run could decide it: a machine with fewer CPUs than the checks need)."""
    from tito.grading.plain import to_json

    running: dict = {}
    undecided: deque = deque()  # prepared again at the end of the queue
    runs: dict[str, int] = {}

    def submit(prepared) -> None:
        prepared.attempts += 1
        running[prepared.student] = prepared
        executor.submit(prepared.student, to_json(prepared.job))

    while todo or running or undecided:
        # one job more than can run at once, so that no worker waits for step 1
        while (todo or (undecided and not running)) and len(running) < executor.capacity + 1:
            if todo:
                prepared = grader.prepare(todo.popleft())
            else:
                prepared = undecided.popleft()
            if isinstance(prepared, Outcome):
                record(prepared)
            else:
                submit(prepared)
            if checkpoint is not None:
                checkpoint(False)
        if checkpoint is not None:
            checkpoint(True)
        for done in executor.wait():
            prepared = running.pop(done.key)
            if done.lost and prepared.attempts < executor.max_attempts:
                submit(prepared)
                continue
            if not done.lost and undecided_checks(done.result):
                runs[prepared.student] = runs.get(prepared.student, 0) + 1
                if runs[prepared.student] < undecided_runs:
                    undecided.append(prepared)
                    continue
            if done.lost:
                outcome = grader.failed(prepared.student, f"the grading worker died while running it, "
                                        f"{prepared.attempts} times: not run again", prepared.started)
            elif done.refused or done.error:
                outcome = grader.failed(prepared.student, done.refused or done.error, prepared.started)
            elif done.result is None or done.result.notebook_json is None:
                outcome = grader.failed(prepared.student, (done.result and done.result.error) or "no notebook came back",
                                        prepared.started)
            else:
                outcome = grader.finish(prepared, done.result)
            outcome.worker = done.worker
            record(outcome)


def make_executor(workers: int, cluster: str | None) -> Executor:
    """The local pool of `workers` processes, or the Dask cluster whose scheduler is at `cluster`."""
    from tito.grading.cluster import DaskExecutor
    from tito.grading.executors import LocalPoolExecutor

    return DaskExecutor(cluster) if cluster else LocalPoolExecutor(workers)

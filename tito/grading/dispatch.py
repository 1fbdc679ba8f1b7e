"""The grading loop over an executor, and what is left to grade.

Steps 1 and 3 (sanitize, save the grades) run in the calling process, one
submission at a time; step 2 runs on the executor (`tito.grading.executors`),
several at once. An outcome file is written last for each submission, so it is
the record that the submission is graded: a coordinator stopped mid-run and
started again grades exactly the submissions without one (or resubmitted
since), and each submission is recorded once however many workers were lost.
"""

from __future__ import annotations

from collections import deque
from typing import Callable

from tito.grading.executors import Executor
from tito.grading.outcomes import Outcome
from tito.grading.paths import CoursePaths


def needs_grading(course: CoursePaths, module_key: str, student: str) -> bool:
    """No outcome recorded yet, or the submission was collected again after it."""
    outcome = course.outcome_file(module_key, student)
    if not outcome.is_file():
        return True
    submitted = course.submitted_notebook(module_key, student)
    return submitted.is_file() and submitted.stat().st_mtime > outcome.stat().st_mtime


def grade_all(grader, todo: deque, executor, record: Callable[[Outcome], None],
              checkpoint: Callable[[bool], None] | None = None) -> None:
    """Until every submission in `todo` has an outcome: prepare here, execute on `executor`, finish here.
    `checkpoint(True)` runs each time the loop is about to wait for the executor, `checkpoint(False)`
    after each submission prepared."""
    from tito.grading.plain import to_json

    running: dict = {}

    def submit(prepared) -> None:
        prepared.attempts += 1
        running[prepared.student] = prepared
        executor.submit(prepared.student, to_json(prepared.job))

    while todo or running:
        # one job more than can run at once, so that no worker waits for step 1
        while todo and len(running) < executor.capacity + 1:
            prepared = grader.prepare(todo.popleft())
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

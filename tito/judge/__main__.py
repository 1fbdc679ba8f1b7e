"""`python -m tito.judge`: the trusted judge in a process of its own (see `tito.judge.judge.JudgeProcess`).

It reads its job as one JSON line on stdin, pins itself to the job's CPUs before
NumPy starts BLAS's threads, says where it listens, runs the tests when the
notebook's process connects, and writes its report as one JSON line. Whatever the
tests print goes to /dev/null, so that stdout carries only the protocol.

The course package (`tinytorch`) cannot be imported here: in a student's workspace it
is the student's own export, and on the grader it is the reference solution, and
neither may stand in for a value the student's process returned. The tests reach
the student's Tensor and kernels through proxies only.
"""

from __future__ import annotations

import json
import os
import sys
import threading

from tito.judge.trusted import COURSE_PACKAGE


class CoursePackageBlocked:
    """A meta path finder that refuses the course package and its submodules."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name.split(".")[0] == COURSE_PACKAGE:
            raise ImportError(f"the judge does not import {name}: the tests use the student's {COURSE_PACKAGE} "
                              "through proxies")
        return None


def block_course_package() -> None:
    for name in [n for n in sys.modules if n.split(".")[0] == COURSE_PACKAGE]:
        del sys.modules[name]
    sys.meta_path.insert(0, CoursePackageBlocked())


def main() -> None:
    block_course_package()
    job = json.loads(sys.stdin.readline())
    if job.get("cpus") and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, job["cpus"])  # before NumPy starts BLAS's threads, which inherit it
    protocol = os.fdopen(os.dup(1), "w")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    sys.stdout = open(os.devnull, "w")

    from tito.judge.judge import Judge, JudgeReport, session_killer
    from tito.judge.notebook import JudgedTests
    from tito.tools import speed

    speed.STRICT_OBSERVATION = bool(job.get("strict"))

    judge = Judge(float(job["timeout"]), kill=session_killer(job.get("uid")))
    def say(message: dict) -> None:
        protocol.write(json.dumps(message) + "\n")
        protocol.flush()

    say({"port": judge.port, "token": judge.token})
    judge.on_handover = lambda: say({"handed_over": True})
    judge.on_process_lost = lambda: say({"process_lost": True})

    def wait_for_finish() -> None:
        sys.stdin.readline()  # "finished", or end of file when the caller is gone
        judge.kernel_finished.set()

    threading.Thread(target=wait_for_finish, daemon=True).start()
    tests = JudgedTests(**job["tests"])
    report = JudgeReport()
    try:
        judge.run(list(tests.cells.items()), tests.trusted_setup(), report)
    finally:
        judge.listener.close()
        judge.kernel_finished.wait()  # the caller reads the report once the notebook has run
        say(report.to_dict())


if __name__ == "__main__":
    main()

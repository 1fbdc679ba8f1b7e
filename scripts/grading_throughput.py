"""Grading throughput: `tito nbgrader autograde --workers N` against one plain `nbgrader autograde` run.

    .venv/bin/python -m scripts.grading_throughput [--module 11] [--submissions 20] [--workers 2]

(from the repository root: the submissions are built by tests/grading_support.py).

Builds a scratch course, generates the module, submits the reference solution
for every student, then grades the same submissions twice in one run, each as
a fresh command: plain `nbgrader autograde MODULE --force` (sequential, in the
same sandboxed kernel, so with the same limits) and `tito nbgrader autograde
MODULE --workers N`. Prints notebooks per minute of each, their ratio, and the
per-notebook grading time; every submission must score full marks both times.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.grading_support import reference_course

REPO = Path(__file__).resolve().parents[1]


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return seconds


def scores(course, key: str) -> dict[str, float]:
    from nbgrader.api import Gradebook

    from tito.grading.paths import COURSE_ID

    with Gradebook(course.db_url, COURSE_ID) as gb:
        return {s.student.id: float(s.score) for s in gb.find_assignment(key).submissions}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--module", default="11")
    parser.add_argument("--submissions", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--with-one-worker", action="store_true",
                        help="also time `tito nbgrader autograde --workers 1` (whole machine per kernel, as plain nbgrader)")
    args = parser.parse_args()

    import nbformat

    from tito.grading.outcomes import load_outcome
    from tito.grading.sandbox import kernels_at_once
    from tito.notebook.cells import kernel_cpus
    from tito.project import resolve_module

    module = resolve_module(args.module, REPO)
    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory(prefix="tito-throughput-") as tmp:
        course, students, reference = reference_course(Path(tmp), module, args.submissions)
        # autograde runs no more kernels at once than leave each the CPUs the module declares
        at_once = kernels_at_once(args.workers, kernel_cpus(nbformat.read(course.source_notebook(module.key), as_version=4)))
        env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")

        plain = timed([str(bin_dir / "nbgrader"), "autograde", module.key, "--force"], course.root, env)
        plain_scores = scores(course, module.key)
        tito_autograde = [str(bin_dir / "tito"), "nbgrader", "autograde", module.key, "--course", str(course.root), "--force"]
        single = None
        if args.with_one_worker:
            single = timed([*tito_autograde, "--workers", "1"], REPO, env)
            single_outcomes = [load_outcome(course, module.key, s) for s in students]
        ours = timed([*tito_autograde, "--workers", str(args.workers)], REPO, env)
        our_scores = scores(course, module.key)
        outcomes = [load_outcome(course, module.key, s) for s in students]

    n = len(students)
    full = [s for s in students if plain_scores.get(s) == 100 and our_scores.get(s) == 100]
    per_notebook = [o.seconds for o in outcomes if o is not None]
    print(f"module {module.key}: {n} reference submissions, {os.cpu_count()} CPUs")
    print(f"plain nbgrader autograde (sequential, sandboxed kernel): {plain:7.1f} s  {60 * n / plain:6.1f} notebooks/min")
    print(f"tito nbgrader autograde --workers {args.workers}:              {ours:7.1f} s  {60 * n / ours:6.1f} notebooks/min")
    print(f"throughput ratio (tito / plain): {plain / ours:.2f}x")
    if at_once < args.workers:
        print(f"  ({at_once} kernel(s) at once: {module.key} needs more CPUs per kernel than {args.workers} would leave each)")
    print(f"per-notebook grading time with {args.workers} workers: median {statistics.median(per_notebook):.1f} s, "
          f"max {max(per_notebook):.1f} s (checks + sanitize + sandboxed execution + saving grades)")
    print(f"plain nbgrader, per notebook: {plain / n:.1f} s of wall time")
    if single is not None:
        median_single = statistics.median(o.seconds for o in single_outcomes if o is not None)
        print(f"tito nbgrader autograde --workers 1: {single:7.1f} s  {60 * n / single:6.1f} notebooks/min, "
              f"per notebook median {median_single:.1f} s")
    print(f"full marks in both runs: {len(full)}/{n}")
    if len(full) != n:
        raise SystemExit("some reference submissions lost points: "
                         + ", ".join(f"{s}: plain {plain_scores.get(s)}, tito {our_scores.get(s)}" for s in students if s not in full))


if __name__ == "__main__":
    main()

"""The grading coordinator's ceiling: how many grading slots one coordinator keeps busy.

    .venv/bin/python -m scripts.grading_scale [--module01 10000] [--module11 2000] [--postgres] [--json FILE]

(from the repository root, as root or a user who can run the grading sandbox).

Builds a scratch course, generates modules 01 and 11, and files generated
submissions straight into the course's submitted/ folder (with the timestamp
file `collect` writes): one in three is the blank release, one in three has
the first half of its solution cells solved, one in three is complete. (Module
01 has a single solution cell, so its half-solved submissions are blank.)

Then `autograde` grades every one of them with everything real (checks,
nbgrader's sanitizing, the outcome records, every gradebook write) except the
execution step: a simulation executor answers each job at once with the
verdict that a real run in the sandbox gave the same sanitized notebook. Each
distinct notebook runs for real once, in one slot, and that run's seconds are
the slot's cost per notebook. Printed per module: submissions per minute of
the coordinator alone, its seconds per submission by phase, and how many slots
it feeds (coordinator rate x a slot's seconds per notebook). Then
`tito nbgrader report` and `status` are timed over the whole class.

With --postgres the same runs again on a throwaway PostgreSQL server (Debian's
`postgresql` package, started as in the test suite).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VARIANTS = ("blank", "partial", "complete")


class SimulatedExecutor:
    """An executor whose jobs finish at once, with the verdict a real run gave the same notebook.

    `verdicts` (sanitized notebook digest -> the worker's reply) is shared between
    runs; a notebook not in it runs for real, synchronously, in a one-process local
    pool, and `real_seconds` says how long those runs took (to be left out of the
    coordinator's time).
    """

    name = "simulation"
    max_attempts = 1

    def __init__(self, slots: int, verdicts: dict[str, str], slot_seconds: dict[str, float]):
        self.slots = slots
        self.verdicts = verdicts
        self.slot_seconds = slot_seconds  # digest -> seconds the real run spent executing it
        self.real_seconds = 0.0
        self.jobs: Counter[str] = Counter()  # digest -> jobs answered with its verdict
        self._done: list = []
        self._real = None

    @property
    def capacity(self) -> int:
        return self.slots

    def preflight(self, settings) -> None:
        pass  # the real runs start the sandbox's kernel anyway

    def submit(self, key: str, job_json: str) -> None:
        from tito.grading.executors import decode_reply

        digest = hashlib.sha256(json.loads(job_json)["notebook_json"].encode()).hexdigest()
        if digest not in self.verdicts:
            self._run_for_real(key, job_json, digest)
        self.jobs[digest] += 1
        self._done.append(decode_reply(key, self.verdicts[digest]))

    def _run_for_real(self, key: str, job_json: str, digest: str) -> None:
        from tito.grading.executors import LocalPoolExecutor, encode_reply

        started = time.perf_counter()
        if self._real is None:
            self._real = LocalPoolExecutor(1)
        self._real.submit(key, job_json)
        done = []
        while not done:
            done = self._real.wait()
        result = done[0].result
        if result is None or result.notebook_json is None:
            raise SystemExit(f"the real run of {key}'s notebook failed: {done[0]}")
        self.verdicts[digest] = encode_reply("simulation", result.to_json())
        self.slot_seconds[digest] = result.seconds
        self.real_seconds += time.perf_counter() - started

    def wait(self) -> list:
        done, self._done = self._done, []
        return done

    def close(self) -> None:
        if self._real is not None:
            self._real.close()


@dataclass
class ModuleRun:
    module: str
    submissions: int
    coordinator_seconds: float
    per_minute: float
    phases_ms: dict[str, float]  # milliseconds per submission
    slot_seconds_per_notebook: float
    slots_fed: float
    in_gradebook: int  # submissions of the module the gradebook holds afterwards
    scores: dict[str, list[float]] = field(default_factory=dict)  # variant -> distinct scores


def write_submissions(course, module_key: str, count: int) -> dict[str, str]:
    """`count` submissions of `module_key` in the course's submitted/ folder; returns student -> variant."""
    import nbformat

    from tests.grading_support import solution_ids, solved_release
    from tito.grading.paths import notebook_id

    ids = solution_ids(course, module_key)
    texts = {
        "blank": nbformat.writes(nbformat.read(course.release_notebook(module_key), as_version=4)),
        "partial": nbformat.writes(solved_release(course, module_key, set(ids[: len(ids) // 2]))),
        "complete": nbformat.writes(solved_release(course, module_key)),
    }
    stamp = time.strftime("%Y-%m-%d %H:%M:%S.000000 UTC", time.gmtime())
    variants = {}
    for i in range(count):
        student = f"s{i:05d}"
        variants[student] = VARIANTS[i % len(VARIANTS)]
        folder = course.submitted / student / module_key
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{notebook_id(module_key)}.ipynb").write_text(texts[variants[student]], encoding="utf-8")
        (folder / "timestamp.txt").write_text(stamp, encoding="utf-8")
    return variants


def grade_module(course, module_key: str, count: int, slots: int, verdicts: dict, slot_seconds: dict) -> ModuleRun:
    from tito.grading.autograding import autograde

    variants = write_submissions(course, module_key, count)
    executor = SimulatedExecutor(slots, verdicts, slot_seconds)
    timings: Counter = Counter()
    started = time.perf_counter()
    outcomes = autograde(course, module_key, executor=executor, timings=timings, force=True, project_root=REPO)
    seconds = time.perf_counter() - started - executor.real_seconds
    if len(outcomes) != count or any(o.status == "error" for o in outcomes):
        bad = [o for o in outcomes if o.status == "error"][:3]
        raise SystemExit(f"{module_key}: {len(outcomes)} outcomes for {count} submissions; errors: {bad}")
    phases = {phase: 1000 * s / count for phase, s in timings.most_common()}
    phases["other (loop, executor replies)"] = 1000 * (seconds - sum(timings.values())) / count
    scores: dict[str, set] = {}
    for outcome in outcomes:
        scores.setdefault(variants[outcome.student], set()).add(outcome.score)
    # a slot's cost per notebook: the real runs' execution seconds, weighted by how many jobs each answered
    per_variant = Counter(variants.values())
    slot_cost = sum(n * slot_seconds[d] for d, n in executor.jobs.items()) / sum(executor.jobs.values())
    rate = count / seconds
    from nbgrader.api import Gradebook

    from tito.grading.paths import COURSE_ID

    with Gradebook(course.db_url, COURSE_ID) as gb:
        in_gradebook = gb.find_assignment(module_key).num_submissions
    return ModuleRun(module_key, count, seconds, 60 * rate, phases, slot_cost, rate * slot_cost, in_gradebook,
                     {v: sorted(scores.get(v, ())) for v in per_variant})


def time_reports(course) -> dict[str, float]:
    from tito.grading.report import build_report, render_report
    from tito.grading.status import course_status

    started = time.perf_counter()
    rows = build_report(course)
    render_report(rows, "csv")
    report = time.perf_counter() - started
    started = time.perf_counter()
    course_status(course, REPO)
    return {"report_seconds": report, "status_seconds": time.perf_counter() - started, "report_rows": len(rows)}


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor() or "unknown CPU")
    return f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}"


def run_backend(folder: Path, db_url: str | None, counts: dict[str, int], slots: int, verdicts: dict,
                slot_seconds: dict) -> dict:
    from tito.grading.course import generate, init_course
    from tito.grading.paths import CoursePaths
    from tito.project import resolve_module

    course = init_course(CoursePaths(folder / "course"), db_url=db_url)
    runs = []
    for name, count in counts.items():
        if count <= 0:
            continue
        module = resolve_module(name, REPO)
        generate(module, course)
        runs.append(grade_module(course, module.key, count, slots, verdicts, slot_seconds))
    return {"runs": [asdict(r) for r in runs], **time_reports(course)}


def print_backend(name: str, result: dict) -> None:
    print(f"\n== gradebook on {name}")
    for run in result["runs"]:
        print(f"{run['module']}: {run['submissions']} submissions in {run['coordinator_seconds']:.1f} s of coordinator "
              f"time: {run['per_minute']:.0f} submissions/min")
        for phase, ms in run["phases_ms"].items():
            print(f"    {phase:32s} {ms:7.2f} ms per submission")
        print(f"    a slot spends {run['slot_seconds_per_notebook']:.2f} s per notebook (real runs, mix of variants): "
              f"one coordinator feeds {run['slots_fed']:.0f} slots")
        print(f"    scores by variant: {run['scores']}")
    print(f"report over {result['report_rows']} rows: {result['report_seconds']:.2f} s; "
          f"status: {result['status_seconds']:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--module01", type=int, default=10000, help="submissions of module 01")
    parser.add_argument("--module11", type=int, default=2000, help="submissions of module 11")
    parser.add_argument("--slots", type=int, default=500, help="jobs the simulated executor takes at once")
    parser.add_argument("--postgres", action="store_true", help="also run on a throwaway PostgreSQL server")
    parser.add_argument("--json", metavar="FILE", help="also write the results to FILE as JSON")
    args = parser.parse_args()
    for name in ("module01", "module11", "slots"):
        if getattr(args, name) < (1 if name == "slots" else 0):
            parser.error(f"--{name} must be {'1' if name == 'slots' else '0'} or more")
    counts = {"01": args.module01, "11": args.module11}
    verdicts: dict[str, str] = {}
    slot_seconds: dict[str, float] = {}
    results = {"machine": machine(), "backends": {}}
    print(f"machine: {results['machine']}")
    with tempfile.TemporaryDirectory(prefix="tito-scale-") as tmp:
        results["backends"]["sqlite"] = run_backend(Path(tmp, "sqlite"), None, counts, args.slots, verdicts,
                                                    slot_seconds)
        print_backend("SQLite", results["backends"]["sqlite"])
        if args.postgres:
            from tests.postgres_support import INSTALL_HINT, find_server_bin, new_database, postgres_server

            bin_dir = find_server_bin()
            if bin_dir is None:
                raise SystemExit(INSTALL_HINT)
            with postgres_server(bin_dir) as server:
                url = new_database(server, "gradebook")
                results["backends"]["postgresql"] = run_backend(Path(tmp, "postgresql"), url, counts, args.slots,
                                                                verdicts, slot_seconds)
            print_backend("PostgreSQL", results["backends"]["postgresql"])
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()

"""The instructor's grading journey end to end, on the real modules 01 and 11.

A scratch course is generated from the course's own module sources, students
submit through nbgrader's exchange, `tito nbgrader autograde` grades them in
the sandboxed kernel with two workers, and the report must give every
submission its exact score and status: the reference solution, the blank
release, a half-done notebook, and every hostile case (an endless loop, a
memory bomb, a fork bomb, a kernel that kills itself, corrupt and empty
files, a changed kernelspec, edited and deleted locked cells, a probe of
the sandbox), while all the others grade normally. Release notebooks and
feedback pages are scanned for solution and hidden-test lines.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
import time
from pathlib import Path

import nbformat
import pytest

from grading_support import solution_ids, solved_release, truncated, with_cell_after, write_notebook, write_text
from helpers import PARALLEL_SPEED_CHECKS, REPO, run_tito
from tito.grading.paths import CoursePaths, notebook_id
from tito.grading.sandbox import SandboxLimits, is_root

pytestmark = [
    pytest.mark.slow,
    # nbgrader's OverwriteCells re-adds a deleted graded cell without a cell id
    pytest.mark.filterwarnings("ignore::nbformat.warnings.MissingIDFieldWarning"),
]

EARLY, KERNELS = "01_tensor", "11_kernels"
HOSTILE_TIMEOUT = 10  # seconds per cell for module 01, whose cells take milliseconds
CANARY = "TITO_E2E_CANARY"


def graded_points(nb) -> list[tuple[str, float]]:
    return [(c.metadata["nbgrader"]["grade_id"], float(c.metadata["nbgrader"]["points"]))
            for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade")]


def defined_tests(nb) -> dict[str, str]:
    """grade_id -> the test function its cell defines."""
    names = {}
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade"):
            names[meta["grade_id"]] = ", ".join(re.findall(r"^def (test_\w+)", cell.source, re.MULTILINE))
    return names


def without_cell(nb, grade_id: str):
    nb = nbformat.reads(nbformat.writes(nb), as_version=4)
    nb.cells = [c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") != grade_id]
    return nb


def with_edited_cell(nb, grade_id: str, source: str):
    nb = nbformat.reads(nbformat.writes(nb), as_version=4)
    for cell in nb.cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
            cell.source = source
    return nb


def with_kernelspec(nb, kernelspec: dict):
    nb = nbformat.reads(nbformat.writes(nb), as_version=4)
    nb.metadata["kernelspec"] = kernelspec
    return nb


def source_secret_lines(module_key: str, begin: str, end: str) -> set[str]:
    """Lines between `begin` and `end` markers in the module's .py source, not shown anywhere else in it."""
    number, name = module_key.split("_", 1)
    text = (REPO / "modules" / module_key / f"{name}_dev.py").read_text(encoding="utf-8")
    inside, outside, in_region = [], [], False
    for line in text.splitlines():
        if begin in line:
            in_region = True
        elif end in line:
            in_region = False
        else:
            (inside if in_region else outside).append(" ".join(line.lstrip("#").split()))
    shown = " ".join(" ".join(outside).split())
    return {line for line in inside if len(line) >= 8 and line not in shown}


def visible_text(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".html":
        import html

        text = html.unescape(re.sub(r"<[^>]*>", "", re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", text)))
    else:
        nb = nbformat.reads(text, as_version=4)
        parts = [c.source for c in nb.cells]
        parts += [json.dumps(c.get("outputs", [])) for c in nb.cells]
        text = "\n".join(parts)
    return " ".join(text.split())


def probe_code(course: CoursePaths) -> str:
    """A cell that reports what student code can see and reach, as one JSON line."""
    return f"""
import json, os, resource
relative = []
for depth in range(9):
    for tail in ("source/{EARLY}/{notebook_id(EARLY)}.ipynb", "course/source/{EARLY}/{notebook_id(EARLY)}.ipynb",
                 "gradebook.db", "modules/{EARLY}/tensor_dev.py"):
        if os.path.exists("../" * depth + tail):
            relative.append("../" * depth + tail)
def readable(path):
    try:
        with open(path, "rb") as handle:
            return len(handle.read()) > 0
    except OSError:
        return False
try:
    import tinytorch.core.tensor
    importable = hasattr(tinytorch.core.tensor, "Tensor")
except ImportError:
    importable = False
print(json.dumps({{
    "uid": os.getuid(), "cwd": os.getcwd(), "env": sorted(os.environ), "relative": relative,
    "source_notebook": readable({str(course.source_notebook(EARLY))!r}),
    "gradebook": readable({str(course.gradebook)!r}),
    "module_source": readable({str(REPO / "modules" / EARLY / "tensor_dev.py")!r}),
    "own_package_file": readable({str(REPO / "tinytorch" / "core" / "tensor.py")!r}) or importable,
    "nproc_limit": resource.getrlimit(resource.RLIMIT_NPROC)[0],
    "as_limit": resource.getrlimit(resource.RLIMIT_AS)[0],
}}))
"""


def stream_text(nb) -> str:
    return "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "stream")


def test_instructor_grading_journey(tmp_path, monkeypatch):
    started = time.perf_counter()
    course = CoursePaths(tmp_path / "course")
    tito = lambda *args, **kw: run_tito("nbgrader", *args, "--course", str(course.root), **kw)  # noqa: E731

    result = tito("generate", "01", "11")
    assert result.returncode == 0, result.stderr + result.stdout
    assert tito("release").returncode == 0

    # -------------------------------------------------------- nothing leaks into a release notebook
    for key in (EARLY, KERNELS):
        release_text = visible_text(course.release_notebook(key))
        for begin, end in (("BEGIN SOLUTION", "END SOLUTION"), ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS")):
            secrets = source_secret_lines(key, begin, end)
            assert secrets, f"{key} should have {begin} regions to check"
            leaked = sorted(line for line in secrets if line in release_text)
            assert not leaked, f"release of {key} leaks {len(leaked)} line(s) from {begin} regions: {leaked[:3]}"
        assert "NotImplementedError" in release_text

    # -------------------------------------------------------- submissions
    from tito.grading.course import submit

    subs = tmp_path / "submissions"
    early_ref = solved_release(course, EARLY)
    early_blank = nbformat.read(course.release_notebook(EARLY), as_version=4)
    first_test = graded_points(early_blank)[0][0]  # test-tensor-creation
    kernels_ref = solved_release(course, KERNELS)
    kernels_blank = nbformat.read(course.release_notebook(KERNELS), as_version=4)

    # Half done: the first half of module 11's solution cells. Each test cell follows the
    # solution it tests, so exactly the tests before the first unsolved solution pass.
    solutions = solution_ids(course, KERNELS)
    solved = set(solutions[: len(solutions) // 2])
    kernels_half = solved_release(course, KERNELS, solved)
    first_unsolved = next(i for i, c in enumerate(kernels_half.cells)
                          if c.metadata.get("nbgrader", {}).get("grade_id") == solutions[len(solutions) // 2])
    half_passing = [(c.metadata["nbgrader"]["grade_id"], float(c.metadata["nbgrader"]["points"]))
                    for c in kernels_half.cells[:first_unsolved] if c.metadata.get("nbgrader", {}).get("grade")]
    half_score = sum(points for _, points in half_passing)
    assert 0 < half_score < 100

    early_cases = {
        "ref": early_ref,
        "blank": early_blank,
        "loop": with_cell_after(early_ref, "tensor-solution", "while True:\n    pass"),
        "membomb": with_cell_after(early_ref, "tensor-solution", "hog = bytearray(8 << 30)  # 8 GiB: this machine could give it"),
        # Only a grader running as root can give each kernel its own user, whose process limit a fork bomb hits alone.
        **({"forkbomb": with_cell_after(early_ref, "tensor-solution",
                                        "import os, time\nos.system('f(){ f|f& }; f')  # a shell fork bomb\ntime.sleep(3)")}
           if is_root() else {}),
        "selfkill": with_cell_after(early_ref, first_test, "import os\nos._exit(3)"),
        "kernelspec": with_kernelspec(early_ref, {"name": "evil", "display_name": "Evil", "language": "R"}),
        "edited": with_edited_cell(early_ref, "test-tensor-arithmetic", "def test_unit_tensor_arithmetic():\n    pass\n"),
        "deleted": without_cell(early_ref, "test-tensor-views"),
        "cheat": with_edited_cell(early_blank, first_test, "pass\n"),  # blank solution, its first test emptied
        "probe": with_cell_after(early_ref, "tensor-solution", probe_code(course)),
    }
    for student, nb in early_cases.items():
        submit(course, EARLY, student, write_notebook(nb, subs / EARLY / f"{student}.ipynb"))
    submit(course, EARLY, "corrupt", write_text(truncated(early_ref), subs / EARLY / "corrupt.ipynb"))
    submit(course, EARLY, "empty", write_text(nbformat.writes(nbformat.v4.new_notebook()), subs / EARLY / "empty.ipynb"))
    for student, nb in {"ref": kernels_ref, "blank": kernels_blank, "half": kernels_half}.items():
        submit(course, KERNELS, student, write_notebook(nb, subs / KERNELS / f"{student}.ipynb"))
    assert tito("collect").returncode == 0

    # -------------------------------------------------------- autograde: module 11 through the CLI
    result = tito("autograde", "11", "--workers", "2", "--timeout", "120")
    assert result.returncode == 0, result.stderr + result.stdout
    for student in ("ref", "blank", "half"):
        assert student in result.stdout

    # -------------------------------------------------------- autograde: hostile module 01 through the API
    from tito.grading.autograding import autograde

    monkeypatch.setenv(CANARY, "the grader's secret")
    outcomes = {o.student: o for o in autograde(course, EARLY, workers=2, cell_timeout=HOSTILE_TIMEOUT, project_root=REPO)}
    assert len(outcomes) == len(early_cases) + 2

    # -------------------------------------------------------- the report: exact scores and statuses
    report_csv = tito("report", "--format", "csv")
    assert report_csv.returncode == 0, report_csv.stderr
    rows = {(r["module"], r["student"]): r for r in csv.DictReader(io.StringIO(report_csv.stdout))}
    json_file = tmp_path / "report.json"
    assert tito("report", "--format", "json", "--output", str(json_file)).returncode == 0
    json_rows = {(r["module"], r["student"]): r for r in json.loads(json_file.read_text())}
    assert set(json_rows) == set(rows)

    def check(module: str, student: str, score: float, status: str, failing: list[str] | None = None):
        row, data = rows[(module, student)], json_rows[(module, student)]
        assert (float(row["score"]), row["max_score"], row["status"]) == (score, "100", status), (
            f"{module}/{student}: expected {score:g} {status}, got {row['score']} {row['status']} ({row['detail']})")
        assert (data["score"], data["status"]) == (score, status)
        if failing is not None:
            assert data["failing_tests"] == failing, f"{module}/{student}: {data['failing_tests']}"

    early_names, kernel_names = defined_tests(early_blank), defined_tests(kernels_blank)
    ref = json_rows[(KERNELS, "ref")]
    if ref["status"] == "inconclusive":
        # a machine never quiet during a parallel check leaves it undecided (no points, listed for regrading):
        # only those checks may be missing, never a verdict against the reference
        points = dict(graded_points(kernels_blank))
        undecided = {g for g, name in kernel_names.items() if name in ref["failing_tests"]}
        assert undecided and undecided <= set(PARALLEL_SPEED_CHECKS), ref
        assert ref["score"] == 100 - sum(points[g] for g in undecided), ref
    else:
        check(KERNELS, "ref", 100, "graded", [])
    check(KERNELS, "blank", 0, "graded", list(kernel_names.values()))
    check(KERNELS, "half", half_score, "graded",
          [kernel_names[g] for g, _ in graded_points(kernels_blank) if g not in dict(half_passing)])
    check(EARLY, "ref", 100, "graded", [])
    check(EARLY, "blank", 0, "graded", list(early_names.values()))
    check(EARLY, "loop", 100, "timeout", [])
    check(EARLY, "membomb", 100, "graded", [])
    if is_root():
        check(EARLY, "forkbomb", 100, "graded", [])
    # the judge runs the tests against the notebook's process once every cell has run: one that killed
    # itself has nothing left to test
    check(EARLY, "selfkill", 0, "error", list(early_names.values()))
    check(EARLY, "corrupt", 0, "error", [])
    check(EARLY, "empty", 0, "error", [])
    check(EARLY, "kernelspec", 100, "graded", [])
    check(EARLY, "edited", 100, "tampered", [])
    check(EARLY, "deleted", 100, "tampered", [])
    check(EARLY, "cheat", 0, "tampered", list(early_names.values()))
    check(EARLY, "probe", 100, "graded", [])
    for student in set(early_cases) - {"ref", "blank"} | {"corrupt", "empty"}:
        check(KERNELS, student, 0, "missing", [])
    assert "test-tensor-arithmetic: edited" in rows[(EARLY, "edited")]["detail"]
    assert "test-tensor-views: deleted" in rows[(EARLY, "deleted")]["detail"]
    assert "unreadable notebook" in rows[(EARLY, "corrupt")]["detail"]
    assert "empty notebook" in rows[(EARLY, "empty")]["detail"]

    # -------------------------------------------------------- what the hostile notebooks met
    def autograded(student: str):
        return nbformat.read(course.autograded_notebook(EARLY, student), as_version=4)

    errors = lambda nb: [o.get("ename") for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]  # noqa: E731
    assert "MemoryError" in errors(autograded("membomb")), "the 8 GiB allocation should fail under the address-space limit"
    assert "KeyboardInterrupt" in errors(autograded("loop")), "the endless loop should be interrupted at the cell timeout"
    facts = json.loads(next(line for line in stream_text(autograded("probe")).splitlines() if line.startswith("{")))
    assert facts["relative"] == [], f"student code reached course files by a relative path: {facts['relative']}"
    assert not Path(facts["cwd"]).is_relative_to(course.root), "student code must not run inside the course"
    assert CANARY not in facts["env"] and "TITO_COURSE_DIR" not in facts["env"], facts["env"]
    assert facts["as_limit"] == SandboxLimits().memory_mb << 20, facts
    if is_root():  # its own user, in its own view of the file system
        assert facts["uid"] != 0 and facts["cwd"] == "/tmp/work", facts
        assert facts["nproc_limit"] == SandboxLimits().processes, facts
        assert not facts["source_notebook"] and not facts["gradebook"] and not facts["module_source"], facts
        assert not facts["own_package_file"], "the graded module's reference code must not be importable"
        assert "Cannot fork" in stream_text(autograded("forkbomb")), "the fork bomb should run into the process limit"

    # -------------------------------------------------------- the gradebook is whole
    with sqlite3.connect(course.gradebook) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        graded_rows = db.execute(
            "SELECT student.id, assignment.name FROM submitted_assignment "
            "JOIN student ON student.id = submitted_assignment.student_id "
            "JOIN assignment ON assignment.id = submitted_assignment.assignment_id").fetchall()
    in_gradebook = {(module, student) for student, module in graded_rows}
    expected = {(EARLY, s) for s in early_cases} | {(KERNELS, s) for s in ("ref", "blank", "half")}
    assert in_gradebook == expected, "every graded submission, and only those, has a gradebook entry"

    # -------------------------------------------------------- feedback without hidden tests
    result = tito("feedback", "01")
    assert result.returncode == 0, result.stderr + result.stdout
    hidden = source_secret_lines(EARLY, "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
    pages = sorted(course.feedback.glob(f"*/{EARLY}/*.html"))
    assert {p.parent.parent.name for p in pages} == set(early_cases)
    for page in pages:
        text = visible_text(page)
        leaked = sorted(line for line in hidden if line in text)
        assert not leaked, f"{page} shows hidden tests: {leaked[:3]}"
        assert "hidden tests: not shown" in text

    status = tito("status")
    assert status.returncode == 0 and EARLY in status.stdout and KERNELS in status.stdout
    from tito.grading.status import course_status

    progress = {row.module: row for row in course_status(course, REPO)}
    assert (progress[EARLY].generated, progress[EARLY].released) == (True, True)
    assert (progress[EARLY].submissions, progress[EARLY].graded, progress[EARLY].failed) == (len(early_cases) + 2, len(early_cases) - 1, 3)
    assert (progress[KERNELS].submissions, progress[KERNELS].graded, progress[KERNELS].failed) == (3, 3, 0)
    print(f"grading journey: {time.perf_counter() - started:.0f} s")

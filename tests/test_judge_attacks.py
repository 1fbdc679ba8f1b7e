"""Attacks on the grade from inside a notebook: none may raise a score.

Each attack is a cell a student could add (or code inside a student's function),
graded by the real `tito nbgrader autograde` (sandboxed kernels, the trusted judge,
nbgrader's SQLite gradebook). Two sets:

- attacks on the notebook's process and the grader (IPython hooks, output, fake
  results, killing and hanging), on modules 01, 03 and 11; before the judge, the
  first two alone gave a blank notebook 100/100;
- attacks on the judge by class (`tests/attack_notebooks.py`: names, types by name,
  comparisons on the student's side, arguments written back, the numeric
  environment, speed verdicts), on modules 01, 02, 03, 05 and 11, each graded in the
  same run as its unattacked twin (the blank release, the reference, or a partial
  notebook that differs from the attacked one only by the attack).

Every attacked notebook must score no more than its twin; the reference still scores
100 and the blank release 0.
"""

from __future__ import annotations

import copy
import textwrap

import nbformat
import pytest

import attack_notebooks as classes
from grading_support import solution_ids, solved_release, with_cell_after, write_notebook
from helpers import PARALLEL_SPEED_CHECKS, REPO, run_tito
from tito.grading.course import submit
from tito.tools.speed import usable_cores
from tito.grading.paths import CoursePaths

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::nbformat.warnings.MissingIDFieldWarning")]

MODULES = ("01_tensor", "03_layers", "11_kernels")
CLASS_MODULES = ("01_tensor", "02_activations", "03_layers", "05_cnn", "11_kernels")
ATTACK_TIMEOUT = 15  # seconds per cell and per test: the hanging attack waits this long once
TARGETS = {"01_tensor": "Tensor", "03_layers": "matmul_naive", "11_kernels": "matmul_vectorized"}

# What a student could add to a notebook. "{target}" stands for a function or class of the module the tests call.
ATTACKS: dict[str, str] = {
    # IPython hooks: every error of a test cell disappears from the cell's output
    "custom_exc": "get_ipython().set_custom_exc((BaseException,), lambda *args, **kwargs: None)",
    "showtraceback": ("shell = get_ipython()\n"
                      "shell.showtraceback = lambda *args, **kwargs: None\n"
                      "shell._showtraceback = lambda *args, **kwargs: None"),
    # output suppression: nothing the kernel writes reaches the notebook
    "silence": ("import os, sys\n"
                "sys.stdout = sys.stderr = open(os.devnull, 'w')\n"
                "get_ipython().display_pub.publish = lambda *args, **kwargs: None"),
    # source transformers: asserts and raises vanish from every later cell, or every later cell is `pass`
    "ast_strip": textwrap.dedent("""\
        import ast
        class Strip(ast.NodeTransformer):
            def visit_Assert(self, node):
                return ast.Pass()
            def visit_Raise(self, node):
                return ast.Pass()
        get_ipython().ast_transformers.append(Strip())"""),
    "input_pass": "get_ipython().input_transformers_post.append(lambda lines: ['pass\\n'])",
    # rebinding names the tests use, in the notebook's namespace
    "rebind_names": textwrap.dedent("""\
        import numpy
        np = numpy
        isinstance = lambda *args: True
        expect_raises = lambda *args, **kwargs: ''
        kernel_speedup = lambda *args, **kwargs: 1000.0
        parallel_gain = lambda *args, **kwargs: (10.0, 2.0)"""),
    # monkeypatching the libraries the tests use
    "monkeypatch": textwrap.dedent("""\
        import builtins, numpy
        numpy.allclose = lambda *args, **kwargs: True
        numpy.array_equal = lambda *args, **kwargs: True
        numpy.testing.assert_allclose = lambda *args, **kwargs: None
        builtins.isinstance = lambda *args: True
        builtins.AssertionError = type('AssertionError', (Exception,), {})"""),
    # frame introspection from inside a student function, while a test calls it: take the test's expected value
    "frames": textwrap.dedent("""\
        import sys
        def {target}(*args, **kwargs):
            frame = sys._getframe(1)
            while frame is not None:
                for name in ("expected", "reference", "want"):
                    if name in frame.f_locals:
                        return frame.f_locals[name]
                frame.f_locals.update({"ok": True})
                frame = frame.f_back
            return args[0] if args else None"""),
    # the garbage collector: find the test functions and empty them, whenever a student function runs
    "gc_tests": textwrap.dedent("""\
        import gc
        def _empty_the_tests():
            for obj in gc.get_objects():
                if callable(obj) and getattr(obj, "__name__", "").startswith("test_"):
                    try:
                        obj.__code__ = (lambda: None).__code__
                    except (AttributeError, TypeError):
                        pass
        _empty_the_tests()
        def {target}(*args, **kwargs):
            _empty_the_tests()
            return args[0] if args else None"""),
    # fake result files where a grader might read: the inline results, an outcome, a passing report
    "fake_results": textwrap.dedent("""\
        import json, os
        fake = {"module": "any", "tests": [{"name": "test_unit_x", "passed": True, "message": "", "seconds": 0}]}
        for path in filter(None, [os.environ.get("TITO_TEST_RESULTS"), "inline-results.json", "results.json",
                                  "../outcomes.json", "/tmp/tito-judge-report.json"]):
            try:
                with open(path, "w") as handle:
                    json.dump(fake, handle)
            except OSError:
                pass
        print(json.dumps({"verdicts": [], "score": 100, "passed": True}))"""),
    # a fake judge server: the notebook's process answers every request with True
    "fake_server": textwrap.dedent("""\
        import tito.judge.server as server
        server.Session.answer = lambda self, op, header, buffers: ({"value": True}, [])
        server.serve = lambda *args, **kwargs: None"""),
    # killing the process mid-test: the student function kills its own process, or its parent
    "kill_self": "import os, signal\ndef {target}(*args, **kwargs):\n    os.kill(os.getpid(), signal.SIGKILL)",
    "kill_parent": "import os, signal\ndef {target}(*args, **kwargs):\n    os.kill(os.getppid(), signal.SIGKILL)",
    # hanging mid-test (once: the later tests find the marker and go on)
    "hang": textwrap.dedent("""\
        import os, time
        def {target}(*args, **kwargs):
            if not os.path.exists("hung-once"):
                open("hung-once", "w").close()
                time.sleep(10**6)
            return args[0] if args else None"""),
}

# Only on module 11: its parallel speed checks. A run_in_parallel that runs the pieces one after the
# other, with and without the test helpers rebound to report a speedup.
SEQUENTIAL_RUN_IN_PARALLEL = textwrap.dedent("""\
    def run_in_parallel(task, pieces):
        for lo, hi in pieces:
            task(lo, hi)""")
REBIND_SPEED_HELPERS = textwrap.dedent("""\
    speedup_of = kernel_speedup = lambda *args, **kwargs: 100.0
    parallel_gain = lambda *args, **kwargs: (10.0, 2.0)
    required_parallel_gain = lambda machine: 1.0
    pieces_meeting = lambda pieces, timeout=5.0: (True, sorted(pieces))
    get_ipython().set_custom_exc((BaseException,), lambda *args, **kwargs: None)""")

MODULE_11_ATTACKS = ("custom_exc", "ast_strip", "rebind_names", "frames", "fake_server", "kill_self")
SLOW_ATTACKS = ("hang", "monkeypatch")  # each waits for a time limit once: module 01 only


def attacks_of(key: str) -> list[str]:
    if key == "11_kernels":
        return list(MODULE_11_ATTACKS)
    return [name for name in ATTACKS if key == "01_tensor" or name not in SLOW_ATTACKS]


def attacked(nb, after: str, code: str):
    return with_cell_after(nb, after, code)


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict[tuple[str, str], dict]:
    """Generate the modules, submit every case, autograde each module once; the report by (module, student)."""
    import csv
    import io

    root = tmp_path_factory.mktemp("attacks")
    course = CoursePaths(root / "course")
    tito = lambda *args: run_tito("nbgrader", *args, "--course", str(course.root), timeout=1800)  # noqa: E731
    result = tito("generate", *CLASS_MODULES)
    assert result.returncode == 0, result.stderr + result.stdout
    assert tito("release").returncode == 0

    cases: dict[str, dict[str, object]] = {}
    for key in MODULES:
        blank = nbformat.read(course.release_notebook(key), as_version=4)
        first_solution = solution_ids(course, key)[0]
        # module 11's reference is graded in tests/test_grading_e2e.py: no attack here has it for a twin
        cases[key] = {"blank": blank} if key == "11_kernels" else {"ref": solved_release(course, key), "blank": blank}
        for name in attacks_of(key):
            cases[key][f"blank-{name}"] = attacked(blank, first_solution, ATTACKS[name].replace("{target}", TARGETS[key]))
    # the parallel attacks on a notebook with the parallel kernels solved (and vectorized_relu, which they call
    # on small inputs): the other tests fail at once, and one kernel is graded with both CPUs at a time
    parallel_11 = solved_release(course, "11_kernels", classes.PARALLEL)
    sequential = attacked(parallel_11, "parallel-solution", SEQUENTIAL_RUN_IN_PARALLEL)
    cases["11_kernels"]["sequential"] = sequential
    cases["11_kernels"]["sequential-rebind"] = attacked(sequential, "parallel-solution",
                                                        SEQUENTIAL_RUN_IN_PARALLEL + "\n" + REBIND_SPEED_HELPERS)
    for key in CLASS_MODULES:
        blank = nbformat.read(course.release_notebook(key), as_version=4)
        cases.setdefault(key, {"ref": solved_release(course, key), "blank": blank}).update(class_cases(course, key))

    submissions = root / "submissions"
    for key, by_student in cases.items():
        for student, nb in by_student.items():
            submit(course, key, student, write_notebook(nb, submissions / key / f"{student}.ipynb"))
    assert tito("collect").returncode == 0
    for key in CLASS_MODULES:
        result = tito("autograde", key, "--workers", "2", "--timeout", str(ATTACK_TIMEOUT))
        assert result.returncode == 0, result.stderr + result.stdout
        if key == "11_kernels" and usable_cores() in (2, 3):  # its parallel checks need 2 CPUs per kernel
            told = " ".join(result.stdout.split())
            assert "speed checks need 2 CPUs per kernel: grading 1 at once instead of 2" in told, result.stdout
    report = tito("report", "--format", "csv")
    assert report.returncode == 0, report.stderr
    return {(row["module"], row["student"]): row for row in csv.DictReader(io.StringIO(report.stdout))}


def class_base(course: CoursePaths, key: str, twin: str):
    """The notebook an attack of `twin` starts from, and the twin's own cell `(after, code)` (None for none)."""
    if twin == "blank":
        return nbformat.read(course.release_notebook(key), as_version=4), None
    if twin == "ref":
        return solved_release(course, key), None
    if twin == "blocked":
        return solved_release(course, key, classes.BLOCKED), None
    if twin == "vectorized":
        return solved_release(course, key, classes.VECTORIZED), None
    after, code, base = classes.PARTIALS[key][twin]
    return class_base(course, key, base)[0], (after, code)


def class_cases(course: CoursePaths, key: str) -> dict[str, object]:
    """The partial twins ("twin-NAME") and the class attacks ("class-NAME") of one module."""
    cases: dict[str, object] = {}
    twins = set(classes.PARTIALS.get(key, {})) | ({"blocked"} if key == "11_kernels" else set())
    for twin in sorted(twins):
        nb, own = class_base(course, key, twin)
        cases[f"twin-{twin}"] = attacked(nb, *own) if own else nb
    for name, attack in classes.ATTACKS[key].items():
        nb, own = class_base(course, key, attack.twin)
        if own and own[0] == attack.after:  # one cell: the twin's code, then the attack's
            cases[f"class-{name}"] = attacked(nb, attack.after, own[1] + "\n\n" + attack.code)
        else:
            cases[f"class-{name}"] = attacked(attacked(nb, *own) if own else nb, attack.after, attack.code)
    return cases


def twin_student(twin: str) -> str:
    return twin if twin in ("blank", "ref") else f"twin-{twin}"


def score(graded, key: str, student: str) -> float:
    return float(graded[(key, student)]["score"])


def test_reference_scores_100_and_blank_0(graded):
    """Module 11's reference is graded, with its parallel checks, in tests/test_grading_e2e.py."""
    for key in CLASS_MODULES:
        if key != "11_kernels":
            ref = graded[(key, "ref")]
            assert (float(ref["score"]), ref["status"]) == (100.0, "graded"), f"{key} reference: expected 100, got {ref}"
        assert score(graded, key, "blank") == 0.0, f"{key} blank: expected 0, got {graded[(key, 'blank')]}"


@pytest.mark.parametrize("key, attack", [(key, name) for key in MODULES for name in attacks_of(key)])
def test_no_attack_raises_the_score_of_a_blank_notebook(graded, key, attack):
    row = graded[(key, f"blank-{attack}")]
    assert float(row["score"]) <= score(graded, key, "blank") == 0.0, f"{key} blank+{attack}: {row}"


def failing(graded, key: str, student: str) -> set[str]:
    return set(filter(None, graded[(key, student)]["failing_tests"].split(";")))


def test_rebinding_the_speed_helpers_earns_no_speed_points(graded):
    """Per check, not by total: the single-core speed checks of both notebooks may each end inconclusive
    on a busy machine, which says nothing about the attack."""
    key = "11_kernels"
    caught = failing(graded, key, "sequential") & set(PARALLEL_SPEED_CHECKS.values())
    assert caught, f"a sequential run_in_parallel should fail a parallel check: {graded[(key, 'sequential')]}"
    assert caught <= failing(graded, key, "sequential-rebind"), (graded[(key, "sequential-rebind")], caught)


@pytest.mark.parametrize("key, attack, sign", [
    ("01_tensor", "custom_exc", "custom exception handler"),
    ("01_tensor", "ast_strip", "AST transformer"),
    ("01_tensor", "frames", "calling frames"),
    ("03_layers", "gc_tests", "garbage collector"),
    ("03_layers", "fake_server", "reaches into the grader"),
    ("01_tensor", "rebind_names", "rebinds isinstance, np, which the graded tests use"),
])
def test_tampering_is_reported_with_its_reason(graded, key, attack, sign):
    row = graded[(key, f"blank-{attack}")]
    assert row["status"] == "tampered" and sign in row["detail"], row


def test_a_killed_or_hung_process_is_an_ordinary_failure(graded):
    for attack in ("kill_self", "kill_parent", "hang"):
        row = graded[("01_tensor", f"blank-{attack}")]
        assert row["status"] in ("graded", "tampered", "timeout", "error") and float(row["score"]) == 0.0, row


def test_module_test_scores_attacks_as_the_grader_does():
    """`tito module test`'s judge is the grader's: the attacks that gave 100 before give 0 locally too."""
    from nbgrader.preprocessors import ClearSolutions

    from tito.student.moduletest import run_module_tests
    from tito.notebook.source import load_module_notebook
    from tito.project import resolve_module

    module = resolve_module("01", REPO)
    blank, _ = ClearSolutions().preprocess(load_module_notebook(module), {})
    for attack in ("custom_exc", "ast_strip", "frames", "fake_results"):
        code = ATTACKS[attack].replace("{target}", "Tensor")
        report = run_module_tests(module, nb=attacked(blank, "tensor-solution", code))
        assert report.score == 0.0, (attack, [(t.grade_id, t.message) for t in report.graded if t.passed])


# ---------------------------------------------------------------- attacks on the judge, by class

CLASS_CASES = [(key, name) for key in CLASS_MODULES for name in classes.ATTACKS[key]]


def test_every_class_is_attacked_at_least_twice_across_the_modules():
    counts = {kind: sum(1 for key, name in CLASS_CASES if name.split("-")[0] == kind) for kind in classes.CLASSES}
    modules = {key for key, _ in CLASS_CASES}
    assert min(counts.values()) >= 2 and modules == set(CLASS_MODULES), (counts, modules)


def test_partial_twins_lose_points_honestly(graded):
    """A twin that scored as much as the reference would show nothing: each partial notebook loses points."""
    for key in CLASS_MODULES:
        for twin in classes.PARTIALS.get(key, {}):
            # module 11's reference is not graded here: its twins must lose points against full marks
            got, ref = score(graded, key, f"twin-{twin}"), 100.0 if key == "11_kernels" else score(graded, key, "ref")
            row = graded[(key, f"twin-{twin}")]
            assert got < ref, f"{key} twin {twin}: expected fewer points than the reference's {ref}, got {row}"
    # module 11's blocked twins run the cache-blocking tests only (4 + 9 + 5 points); the slow one fails its speed check
    blocked, slow = score(graded, "11_kernels", "twin-blocked"), score(graded, "11_kernels", "twin-slow_blocked")
    assert 9.0 <= blocked <= 18.0 and slow <= 9.0, (
        f"11 blocked: expected 9..18 (18 when quiet), got {blocked}; slow: expected <= 9, got {slow}")


@pytest.mark.parametrize("key, attack", CLASS_CASES)
def test_no_class_attack_scores_more_than_its_twin(graded, key, attack):
    twin = classes.ATTACKS[key][attack].twin
    row, twin_row = graded[(key, f"class-{attack}")], graded[(key, twin_student(twin))]
    assert float(row["score"]) <= float(twin_row["score"]), (
        f"{key} {attack}: expected at most the {twin} twin's {twin_row['score']} points, got {row['score']} "
        f"({row['status']}: {row.get('detail', '')})")


def test_no_class_attack_turns_an_inconclusive_check_into_points(graded):
    """The noise attack makes the machine busy all the time: the check it disturbs ends inconclusive or
    failed, so the notebook scores no more than the twin whose kernel is too slow anyway."""
    row, slow = graded[("11_kernels", "class-speed-noise")], score(graded, "11_kernels", "twin-slow_blocked")
    assert float(row["score"]) <= slow <= 9.0, (
        f"expected at most the slow twin's {slow} points (at most 9: no speed points), got {row}")


def test_claiming_one_cpu_skips_no_parallel_speed_check():
    """`tito module test` (the grader's judge, on every CPU of this machine): kernels that do their work on
    one thread fail the two parallel speed checks or leave them inconclusive, and a notebook whose
    `cpu_count` says 1 must not pass them instead. Only the parallel kernels (and the vectorized ReLU they
    call) are solved: the other tests fail at once."""
    from nbgrader.preprocessors import ClearSolutions

    from tito.notebook.cells import grade_id
    from tito.notebook.source import load_module_notebook
    from tito.project import resolve_module
    from tito.student.moduletest import run_module_tests

    module = resolve_module("11", REPO)
    reference = load_module_notebook(module)
    solved = {grade_id(c): c.source for c in reference.cells if grade_id(c) in classes.PARALLEL}
    notebook, _ = ClearSolutions().preprocess(copy.deepcopy(reference), {})
    for cell in notebook.cells:
        cell.source = solved.get(grade_id(cell), cell.source)
    after, lazy = classes.LAZY_PARALLEL
    one_cpu = with_cell_after(with_cell_after(notebook, after, lazy), after, classes.ONE_CPU)
    report = run_module_tests(module, nb=one_cpu)
    passed = {t.grade_id for t in report.graded if t.passed} & set(PARALLEL_SPEED_CHECKS)
    assert not passed, f"one-thread kernels passed {sorted(passed)} with one CPU claimed"

"""What the judge trusts: its own names and builtins, plain data fetched by value, its own comparisons.

Each test runs graded sources in a real Judge against a real student process (see
`test_judge.judge`), with the student's side written as a student trying to sway
the verdict would write it, one class of attack at a time.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

from helpers import REPO
from test_judge import SETUP, judge, verdicts

# ---------------------------------------------------------------- names

NAMES_STUDENT = '''
import numpy as np
isinstance = lambda *args: True
abs = lambda x: 0
expect_ok = lambda *args: None
def added_name():
    return "added"
def kernel(x):
    return np.asarray(x) * 2
'''
NAMES_SETUP = SETUP + "def expect_ok(value):\n    assert value == 4, f'expected 4, got {value}'\n"


def test_the_tests_see_the_judges_builtins_and_helpers_and_only_the_solution_names():
    report = judge({
        "builtins": "assert not isinstance(3, str) and abs(-2) == 2",
        "helper": "expect_ok(plain(kernel(2)))",
        "helper_fails": "expect_ok(plain(kernel(3)))",
        "added": "added_name()",
    }, student=NAMES_STUDENT, names=["kernel", "isinstance", "abs", "expect_ok"], setup=NAMES_SETUP)
    got = verdicts(report)
    assert got["builtins"] == (True, ""), got
    assert got["helper"] == (True, "") and got["helper_fails"] == (False, "expected 4, got 6"), got
    assert got["added"] == (False, "NameError: name 'added_name' is not defined"), got


def test_a_helper_a_graded_cell_defines_stays_the_trusted_one_in_later_cells():
    report = judge({
        "first": "def check_double(f):\n    assert plain(f(2)).tolist() == 4, 'double of 2 is 4'\n",
        "second": "check_double(kernel)",
    }, student=NAMES_STUDENT + "check_double = lambda f: None\n", names=["kernel", "check_double"])
    got = verdicts(report)
    assert got["first"] == (True, "") and got["second"] == (True, ""), got
    report = judge({
        "first": "def check_double(f):\n    assert plain(f(2)).tolist() == 5, 'double of 2 is not 5'\n",
        "second": "check_double(kernel)",
    }, student=NAMES_STUDENT + "check_double = lambda f: None\n", names=["kernel", "check_double"])
    assert verdicts(report)["second"] == (False, "double of 2 is not 5"), report


# ---------------------------------------------------------------- types by name

TYPES_STUDENT = '''
import numpy as np
class Tensor:
    """Named like the course's Tensor and claiming its module: still only the student's object."""
    __module__ = "tinytorch.core.tensor"
    __qualname__ = "Tensor"
    def __init__(self, data):
        self.data = np.asarray(data, dtype=np.float32)
    def __eq__(self, other):
        return True
    __hash__ = object.__hash__
def make():
    return Tensor([1.0, 2.0])
'''


def test_a_class_named_like_a_course_class_stays_a_handle():
    report = judge({"handle": textwrap.dedent("""
        from tito.judge.proxy import RemoteObject
        t = make()
        assert type(t) is RemoteObject, type(t)
        assert plain(t.data).tolist() == [1.0, 2.0]
        try:
            plain(t)
        except TypeError as err:
            assert "not plain data" in str(err), err
        else:
            raise AssertionError("a student object passed as plain data")
    """)}, student=TYPES_STUDENT)
    assert verdicts(report) == {"handle": (True, "")}, report


# ---------------------------------------------------------------- comparisons

COMPARE_STUDENT = '''
class Agreeable:
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __lt__(self, other): return True
    def __bool__(self): return True
    def __len__(self): return 3
    def __contains__(self, item): return True
    def __iter__(self): return iter([1, 2, 3])
    __hash__ = object.__hash__
def answer():
    return Agreeable()
def shape():
    return (Agreeable(), 3)
'''


def test_a_proxy_refuses_to_compare_test_or_count_for_the_student():
    cases = {
        "eq": "assert answer() == 42", "ne": "assert not (answer() != 42)", "lt": "assert answer() < 0",
        "bool": "assert answer()", "len": "assert len(answer()) == 3", "in": "assert 7 in answer()",
        "iter": "assert list(answer()) == [1, 2, 3]", "nested": "assert shape() == (2, 3)",
        "plain": "assert plain(answer()) == 42",
    }
    got = verdicts(judge(cases, student=COMPARE_STUDENT))
    for name, (passed, message) in got.items():
        assert not passed, (name, message)
        assert "StudentObjectError" in message or "not plain data" in message, (name, message)
    assert "would let that process decide" in got["eq"][1] and "plain(x)" in got["eq"][1], got["eq"]


# ---------------------------------------------------------------- numeric state set for the student

ERRSTATE_STUDENT = '''
import numpy as np
def overflow():
    return np.float32(3e38) * np.float32(10)
'''


def test_student_errstate_sets_numpys_error_handling_in_the_students_process():
    report = judge({"raise": textwrap.dedent("""
        from tito.tools.judging import student_errstate
        with np.errstate(over="raise"):
            overflow()  # the judge's own setting does not reach the student's NumPy
        try:
            with student_errstate(over="raise"):
                overflow()
        except FloatingPointError:
            pass
        else:
            raise AssertionError("student_errstate(over='raise') should make the overflow raise")
        with student_errstate(over="ignore"):
            assert np.isinf(plain(overflow()))
    """)}, student=ERRSTATE_STUDENT)
    assert verdicts(report) == {"raise": (True, "")}, report


# ---------------------------------------------------------------- inconclusive is the judge's word only

INCONCLUSIVE_STUDENT = '''
class Inconclusive(Exception):
    pass
def undecidable():
    raise Inconclusive("the machine was busy")
'''


def test_only_the_judge_can_declare_a_check_inconclusive():
    report = judge({
        "judge": "from tito.tools.speed import Inconclusive\nraise Inconclusive('too noisy to decide')",
        "student": "undecidable()",
    }, student=INCONCLUSIVE_STUDENT)
    by_id = {v.grade_id: v for v in report.verdicts}
    assert by_id["judge"].inconclusive and not by_id["judge"].passed, by_id["judge"]
    assert "too noisy to decide" in by_id["judge"].message
    assert not by_id["student"].inconclusive and not by_id["student"].passed, by_id["student"]


# ---------------------------------------------------------------- the wire's bounds

WIRE_STUDENT = '''
import numpy as np
def deep():
    value = []
    for _ in range(5000):
        value = [value]
    return value
def huge():
    return [np.zeros(2**25, np.float32) for _ in range(3)]  # 3 x 128 MiB
'''


def test_a_message_past_the_wires_bounds_fails_its_test_at_once():
    start = time.monotonic()
    report = judge({"deep": "deep()", "huge": "huge()", "after": "pass"}, student=WIRE_STUDENT, timeout=60)
    got = verdicts(report)
    assert time.monotonic() - start < 30, "an over-limit message should fail at once, not wait out the limit"
    assert not got["deep"][0] and "nested too deeply" in got["deep"][1], got["deep"]
    assert not got["huge"][0] and "too large" in got["huge"][1], got["huge"]
    assert got["after"] == (True, ""), got


# ---------------------------------------------------------------- the judge process and the course package

def test_the_judge_process_cannot_import_the_course_package():
    code = textwrap.dedent("""
        from tito.judge.__main__ import block_course_package
        import tinytorch.core.tensor
        block_course_package()
        try:
            import tinytorch.core.tensor
        except ImportError as err:
            print("refused:", err)
    """)
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "refused: the judge does not import tinytorch" in result.stdout, result.stdout


def test_plain_accepts_plain_data_and_names_what_is_not():
    import numpy as np
    import pytest

    from tito.tools.judging import plain

    for value in ((2, 3), np.dtype("float32"), np.float32(1.5), {"a": [1, np.arange(3)]}, "text", None, b"x",
                  np.float64, float):
        assert plain(value) is value
    for value, named in ((object(), "builtins.object"), ([1, {2: object()}], "builtins.object"),
                         (np.array([object()], dtype=object), "dtype object"), (type("Mine", (), {}), "builtins.type")):
        with pytest.raises(TypeError, match=named):
            plain(value)

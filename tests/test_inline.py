"""Every module's graded tests pass on the reference solution, in both places they run: inline in a real
Jupyter kernel (what "Run All" shows the student) and judged outside the kernel (the score and the grade)."""

from __future__ import annotations

import pytest

from helpers import REPO
from tito.student.moduletest import run_module_tests
from tito.project import list_modules

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("module", list_modules(REPO), ids=lambda m: m.key)
def test_module_graded_tests_pass_inline_and_judged(module):
    inline = run_module_tests(module, judged=False)
    assert inline.inline and all(t["passed"] for t in inline.inline), inline.inline
    assert inline.score == inline.max_score == 100, [(t.grade_id, t.message) for t in inline.graded if not t.passed]

    if module.key == "11_kernels":
        return  # judged in test_grading_e2e and test_student_e2e (the reference and a complete workspace: 100)
    judged = run_module_tests(module)
    failures = [f"{t.grade_id}: {t.message}" for t in judged.graded if not t.passed]
    assert not failures, failures
    assert judged.score == judged.max_score == 100
    assert not judged.cell_errors, judged.cell_errors
    assert not judged.judge_signs, judged.judge_signs

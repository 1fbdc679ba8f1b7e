"""The inline tests of every module pass on the reference solution, run in a real Jupyter kernel."""

from __future__ import annotations

import pytest

from helpers import REPO
from tito.moduletest import run_module_tests
from tito.project import list_modules

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("module", list_modules(REPO), ids=lambda m: m.key)
def test_module_inline_tests_pass(module):
    report = run_module_tests(module)
    failures = [f"{t.grade_id}: {t.message}" for t in report.graded if not t.passed]
    assert not failures, failures
    assert report.score == report.max_score == 100
    assert not report.cell_errors, report.cell_errors
    assert report.inline and all(t["passed"] for t in report.inline), report.inline

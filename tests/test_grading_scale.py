"""scripts/grading_scale.py at a small size, so that the script behind the README's scale figures keeps working.

Its figures are checked against what they must be: every generated
submission graded once with its variant's score (the blank release scores 0,
the complete reference full marks), the gradebook holding exactly those
submissions, and the phases adding up to no more than the coordinator's time.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from helpers import REPO

pytestmark = pytest.mark.slow
SUBMISSIONS = 12


def test_scale_script_grades_every_generated_submission(tmp_path):
    out = tmp_path / "scale.json"
    result = subprocess.run([sys.executable, "-m", "scripts.grading_scale", "--module01", str(SUBMISSIONS),
                             "--module11", "0", "--slots", "4", "--json", str(out)],
                            cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    data = json.loads(out.read_text())
    backend = data["backends"]["sqlite"]
    [run] = backend["runs"]
    assert run["module"] == "01_tensor" and run["submissions"] == run["in_gradebook"] == SUBMISSIONS
    assert run["scores"]["blank"] == [0.0] and run["scores"]["complete"] == [100.0]
    assert run["per_minute"] == pytest.approx(60 * SUBMISSIONS / run["coordinator_seconds"])
    phases = run["phases_ms"]
    assert {"sanitize", "save grades", "write outcome", "commit gradebook"} <= set(phases)
    assert all(ms >= 0 for ms in phases.values())
    assert sum(phases.values()) == pytest.approx(1000 * run["coordinator_seconds"] / SUBMISSIONS)
    assert run["slot_seconds_per_notebook"] > 0
    assert run["slots_fed"] == pytest.approx(run["per_minute"] / 60 * run["slot_seconds_per_notebook"])
    assert backend["report_rows"] == SUBMISSIONS
    assert f"01_tensor: {SUBMISSIONS} submissions in" in result.stdout and "submissions/min" in result.stdout
    assert "one coordinator feeds" in result.stdout and "report over 12 rows" in result.stdout


def test_scale_script_refuses_a_negative_count():
    result = subprocess.run([sys.executable, "-m", "scripts.grading_scale", "--module01", "-1"],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "--module01 must be 0 or more" in result.stderr

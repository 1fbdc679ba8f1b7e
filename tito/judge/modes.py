"""How the student's process gives each graded test a fresh copy of itself: the one place that decides.

The rule:

- **fork** (Linux): each test gets a forked child of the notebook's process, which
  ends with the test. Whatever a test's calls change (globals, NumPy, a patched
  module, a hung thread) is gone for the next test, and an endless or dying call
  costs that test alone. The grader always runs this way.
- **in-process** (Windows, which has no `os.fork`; macOS, where a child forked after
  the parent used Accelerate's BLAS crashes inside libdispatch the first time it
  calls BLAS itself): each test runs in the notebook's process itself, and the
  notebook's names are put back as they were afterwards. A test that hangs or kills
  that process stops the kernel; the judge then runs the notebook again in a fresh
  kernel and goes on with the next test, so an honest notebook gets the verdicts it
  gets in fork mode.

`TITO_JUDGE_MODE=fork|in-process` overrides the rule (the platform tests use it).
"""

from __future__ import annotations

import os
import sys

MODE_ENV = "TITO_JUDGE_MODE"
FORK, IN_PROCESS = "fork", "in-process"
PLATFORM = sys.platform  # what the rule looks at; the simulated-platform tests set it


def session_mode() -> tuple[str, str]:
    """(mode, why) for this process."""
    chosen = os.environ.get(MODE_ENV, "").strip()
    if chosen in (FORK, IN_PROCESS):
        if chosen == FORK and not hasattr(os, "fork"):
            return IN_PROCESS, f"{MODE_ENV}=fork, but this Python has no os.fork"
        return chosen, f"set by {MODE_ENV}"
    if not hasattr(os, "fork"):
        return IN_PROCESS, "this platform has no os.fork (Windows)"
    if PLATFORM == "darwin":
        return IN_PROCESS, "fork is unsafe on macOS: a forked child crashes in Accelerate's BLAS"
    return FORK, "Linux: a forked child per test"

"""Before grading anybody: one trivial notebook in the sandbox, on this machine.

A machine whose sandbox cannot start a kernel would grade every submission
`error`; the preflight stops instead and says why. When the notebook fails, the
kernel launcher is run once more on its own, with its error output kept: its
first line names the step of the sandbox set-up that failed (a mount, a
folder the sandbox user cannot enter, the interpreter not found, ...).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from tito.errors import TitoError
from tito.grading.sandbox import SETTINGS_ENV, SandboxSettings, claim_sandbox_uid, cpu_share, is_root

PREFLIGHT_CODE = "import tinytorch\nprint(6 * 7)"
PREFLIGHT_EXPECTED = "42"
PREFLIGHT_TIMEOUT = 60  # seconds for the one trivial cell, kernel start included
LAUNCHER_CHECK_TIMEOUT = 60
LAUNCHER_TAIL_LINES = 3


def preflight_notebook_json() -> str:
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(cells=[new_code_cell(PREFLIGHT_CODE)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nbformat.writes(nb)


def preflight_problem(result) -> str:
    """Why the preflight notebook's run shows a sandbox that cannot grade ('' when it can)."""
    import nbformat

    if result.error:
        return result.error
    if result.kernel_died:
        return "the kernel died while running `print(6 * 7)`"
    if result.notebook_json is None:
        return "no notebook came back"
    outputs = nbformat.reads(result.notebook_json, as_version=4).cells[0].get("outputs", [])
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    errors = [f"{o.get('ename')}: {o.get('evalue')}" for o in outputs if o.get("output_type") == "error"]
    if errors:
        return f"the sandboxed kernel could not run `{PREFLIGHT_CODE.splitlines()[0]}`: {errors[0]}"
    if text.strip() != PREFLIGHT_EXPECTED:
        return f"the sandboxed kernel printed {text.strip()!r} instead of {PREFLIGHT_EXPECTED}"
    return ""


def launcher_diagnosis(settings: SandboxSettings) -> str:
    """Start the sandbox launcher alone (ipykernel only prints its help) and return what it says on failure."""
    connection = {"transport": "tcp", "ip": "127.0.0.1", "shell_port": 0, "iopub_port": 0, "stdin_port": 0,
                  "control_port": 0, "hb_port": 0, "key": "", "signature_scheme": "hmac-sha256"}
    with tempfile.TemporaryDirectory(prefix="tito-preflight-") as tmp:
        path = Path(tmp, "connection.json")
        path.write_text(json.dumps(connection), encoding="utf-8")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", SETTINGS_ENV: settings.to_env()}
        try:
            run = subprocess.run([sys.executable, "-m", "tito.grading.sandbox_launcher", "-f", str(path), "--help"],
                                 env=env, capture_output=True, text=True, timeout=LAUNCHER_CHECK_TIMEOUT,
                                 stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return f"the sandbox launcher did not finish within {LAUNCHER_CHECK_TIMEOUT} s"
    if run.returncode == 0:
        return ""
    lines = [line for line in run.stderr.strip().splitlines() if line.strip()]
    return " / ".join(lines[-LAUNCHER_TAIL_LINES:]) or f"the sandbox launcher exited with code {run.returncode}"


def run_preflight(settings: SandboxSettings, uid: int | None = None, cpus: tuple[int, ...] = ()) -> str:
    """Run the trivial notebook in the sandbox as `uid`; return why it failed ('' when it ran)."""
    from tito.grading.execution import ExecutionJob, execute_in_sandbox

    job = ExecutionJob("preflight", "preflight", preflight_notebook_json(), PREFLIGHT_TIMEOUT, settings)
    problem = preflight_problem(execute_in_sandbox(job, uid, cpus))
    if not problem:
        return ""
    diagnosis = launcher_diagnosis(replace(settings, uid=uid, cpus=tuple(cpus)))
    return f"{problem} ({diagnosis})" if diagnosis else problem


def preflight_here(settings: SandboxSettings) -> str:
    """The preflight on this machine as the grading workers run it: its own sandbox uid and all CPUs."""
    lock_fd = None
    uid = None
    if is_root():
        uid, lock_fd = claim_sandbox_uid()
    try:
        return run_preflight(settings, uid, cpu_share(0, 1))
    finally:
        if lock_fd is not None:
            os.close(lock_fd)


def check_sandbox(settings: SandboxSettings, where: str = "this machine") -> None:
    """Raise TitoError, saying why, unless the sandbox on this machine can start a kernel and run a cell.

    Runs in a child process: a kernel that never started leaves nbclient's exit handler to print a
    traceback at exit, which belongs in no terminal.
    """
    from tito.grading.plain import to_json

    try:
        run = subprocess.run([sys.executable, "-m", "tito.grading.preflight"], input=to_json(settings),
                             capture_output=True, text=True, timeout=PREFLIGHT_TIMEOUT + 2 * LAUNCHER_CHECK_TIMEOUT)
    except subprocess.TimeoutExpired:
        problem = "the preflight notebook did not finish in time"
    else:
        lines = run.stdout.strip().splitlines()
        problem = json.loads(lines[-1]) if run.returncode == 0 and lines else (
            f"the preflight process failed: {run.stderr.strip().splitlines()[-1:] or run.returncode}")
    if problem:
        raise TitoError(f"the grading sandbox on {where} cannot start a kernel, so nobody was graded: {problem}")


if __name__ == "__main__":
    from tito.grading.plain import from_plain

    print(json.dumps(preflight_here(from_plain(SandboxSettings, json.loads(sys.stdin.read())))))

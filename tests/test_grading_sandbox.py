"""The grading sandbox on its own: real kernels, one notebook at a time, each as its own sandbox user.

The fork bomb runs only after its own cell has checked that it is inside the
sandbox (not root, a small process limit), and a monitor samples how many
tasks the sandbox user has while it runs, so the test stays bounded even if
the sandbox were broken.
"""

from __future__ import annotations

import json
import os
import threading
import time

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from tito.grading import execution
from tito.grading.execution import ExecutionJob, execute_in_sandbox, mark_cells_not_run
from tito.notebook.run import NOT_RUN_ENAME
from tito.grading.sandbox import (
    SandboxLimits,
    SandboxSettings,
    claim_sandbox_uid,
    install_kernel_spec,
    is_root,
    processes_of_uid,
    task_count,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not is_root(), reason="the sandbox drops privileges only when the grader runs as root"),
]

BOMB_LIMIT = 48


@pytest.fixture(scope="module")
def sandbox_uid():
    install_kernel_spec()
    uid, lock_fd = claim_sandbox_uid()
    yield uid
    os.close(lock_fd)


def run(cells: list[str], uid: int, timeout: int = 20, cpus: tuple[int, ...] = (),
        **settings) -> tuple[execution.ExecutionResult, object]:
    nb = new_notebook(cells=[new_code_cell(c) for c in cells])
    job = ExecutionJob("student", "00_probe", nbformat.writes(nb), timeout, SandboxSettings(**settings))
    result = execute_in_sandbox(job, uid, cpus)
    return result, nbformat.reads(result.notebook_json, as_version=4)


def outputs(cell) -> str:
    return "".join(o.get("text", "") + f"{o.get('ename', '')}: {o.get('evalue', '')}" * (o.get("output_type") == "error")
                   for o in cell.outputs)


def test_fork_bomb_stays_under_the_process_limit(sandbox_uid):
    peak = 0
    stop = threading.Event()

    def monitor():
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, task_count(sandbox_uid))
            time.sleep(0.01)

    guard = (f"import os, resource\n"
             f"assert os.getuid() != 0 and resource.getrlimit(resource.RLIMIT_NPROC)[0] <= {BOMB_LIMIT}, 'not sandboxed'\n")
    watcher = threading.Thread(target=monitor, daemon=True)
    watcher.start()
    try:
        result, nb = run([guard + "while True:\n    os.fork()", "print('kernel alive')"], sandbox_uid, timeout=5,
                         limits=SandboxLimits(processes=BOMB_LIMIT))
    finally:
        stop.set()
        watcher.join()
    assert "not sandboxed" not in outputs(nb.cells[0]), "the bomb must not run outside the sandbox"
    assert BOMB_LIMIT - 8 <= peak <= BOMB_LIMIT, f"the sandbox user ran {peak} tasks with a limit of {BOMB_LIMIT}"
    assert "kernel alive" in outputs(nb.cells[1]), "the kernel itself should survive its fork bomb"
    assert not [p for p in processes_of_uid(sandbox_uid) if p.state != "Z"], "nothing of the bomb may outlive grading"


def test_kernel_sees_a_private_scrubbed_world(sandbox_uid, tmp_path, monkeypatch):
    secret = tmp_path / "instructor" / "solution.ipynb"
    secret.parent.mkdir()
    secret.write_text("the answer")
    monkeypatch.setenv("TITO_SANDBOX_TEST_CANARY", "grader secret")
    probe = f"""
import json, os, resource
def can(action):
    try:
        action()
        return True
    except OSError:
        return False
print(json.dumps({{
    "uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(), "cwd": os.getcwd(), "env": dict(os.environ),
    "read_secret": can(lambda: open({str(secret)!r}).read()),
    "write_outside": can(lambda: open("/etc/tito-sandbox-test", "w")),
    "work_writable": can(lambda: open("/tmp/work/scratch.txt", "w").write("x")),
    "tmp_files": sorted(os.listdir("/tmp")),
    "root_home": os.listdir("/root") if os.path.isdir("/root") else None,
    "limits": [resource.getrlimit(r)[0] for r in (resource.RLIMIT_AS, resource.RLIMIT_NPROC, resource.RLIMIT_FSIZE)],
    "cpus": sorted(os.sched_getaffinity(0)),
}}))
open("/tmp/left-behind", "w").write("x")
"""
    _, nb = run([probe], sandbox_uid, cpus=(0,))
    facts = json.loads(outputs(nb.cells[0]).splitlines()[0])
    assert facts["uid"] == sandbox_uid and facts["gid"] == sandbox_uid and facts["groups"] == []
    assert facts["cwd"] == "/tmp/work"
    assert "TITO_SANDBOX_TEST_CANARY" not in facts["env"] and "TITO_SANDBOX" not in facts["env"]
    assert facts["env"]["HOME"] == "/tmp/work"
    assert not facts["read_secret"] and not facts["write_outside"] and facts["work_writable"]
    hidden_home = [name for name in (".bashrc", ".profile", ".gitconfig") if os.path.exists(f"/root/{name}")]
    assert not set(hidden_home) & set(facts["root_home"] or []), "root's home must be masked"
    limits = SandboxLimits()
    assert facts["limits"] == [limits.memory_mb << 20, limits.processes, limits.file_size_mb << 20]
    assert facts["cpus"] == [0]
    # the next kernel gets a fresh /tmp: nothing the last one wrote is there
    _, nb = run(["import os\nprint(sorted(os.listdir('/tmp')))"], sandbox_uid)
    assert "left-behind" not in outputs(nb.cells[0])


def test_kernel_that_ignores_the_interrupt_is_stopped(sandbox_uid, monkeypatch):
    monkeypatch.setattr(execution, "INTERRUPT_GRACE", 2.0)
    cells = ["x = 1", "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    time.sleep(0.1)",
             "print(x)"]
    nb = new_notebook(cells=[new_code_cell(c) for c in cells])
    nb.cells[2].metadata["nbgrader"] = {"grade": True, "grade_id": "after", "points": 1, "locked": True,
                                        "solution": False, "schema_version": 3, "task": False}
    started = time.perf_counter()
    job = ExecutionJob("s", "00_probe", nbformat.writes(nb), 3, SandboxSettings(),
                       tests={"cells": {"after": "print(x)"}, "setup": ""})
    result = execute_in_sandbox(job, sandbox_uid)
    assert time.perf_counter() - started < 30
    assert result.killed_for == "timeout" and result.timed_out_cells == [1] and result.kernel_died
    executed = nbformat.reads(result.notebook_json, as_version=4)
    mark_cells_not_run(executed, result)  # the coordinator's step after an early stop
    after = executed.cells[2]
    assert after.outputs[0]["ename"] == NOT_RUN_ENAME, "a graded cell that never ran must carry an error"


def test_output_flood_is_cut_off(sandbox_uid, monkeypatch):
    monkeypatch.setattr(execution, "MAX_OUTPUT_BYTES", 1 << 20)
    result, _ = run(["while True:\n    print('x' * 100_000, flush=True)"], sandbox_uid, timeout=60)
    assert result.killed_for == "output" and result.kernel_died
    assert len(result.notebook_json) < 2 * execution.MAX_TEXT_PER_OUTPUT, "the graded notebook keeps a bounded excerpt"

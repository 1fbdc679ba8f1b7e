"""Student workspaces: no solution leaks, every import works, stubs name what to write,
the student's kernel imports the student's package, and a notebook runs top to bottom."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from helpers import REPO, run_tito
from tito.notebook.cells import SOLUTION, region_lines
from tito.notebook.locked_cells import restore_locked_cells
from tito.notebook.source import read_source
from tito.project import list_modules
from tito.grading.workspace import CONTINUE_TAG, describe_stubs, fill_stubs

COURSE_MODULES = {m.key: m for m in list_modules(REPO)}
HIDDEN_RE = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.S)
SOLUTION_RE = re.compile(r"### BEGIN SOLUTION\n(.*?)[ \t]*### END SOLUTION", re.S)


# ------------------------------------------------------------------ helpers


def marked_lines(text: str, pattern: re.Pattern) -> set[str]:
    return {line.strip() for block in pattern.findall(text) for line in block.splitlines() if line.strip()}


def leak_lines(provided: set[str], pattern: re.Pattern = SOLUTION_RE) -> dict[str, set[str]]:
    """Per module not provided: the lines inside its marked blocks whose presence would prove a leak.

    A line proves nothing when a student may see it anyway: outside the marked blocks
    of the course notebooks (prose, signatures, tests), in the code of a provided
    module, or in tito's own sources, which every workspace carries (`continue`,
    `return {`).
    """
    texts = {key: "\n".join(c.source for c in read_source(m.source_path).cells) for key, m in COURSE_MODULES.items()}
    public = {line.strip() for path in (REPO / "tito").rglob("*.py") for line in path.read_text(encoding="utf-8").splitlines()}
    for key, text in texts.items():
        public |= {line.strip() for line in pattern.sub("", text).splitlines()}
        if key in provided:
            public |= marked_lines(text, SOLUTION_RE)
    return {key: marked_lines(text, pattern) - public for key, text in texts.items() if key not in provided}


def workspace_texts(root: Path) -> dict[Path, str]:
    """Every file of the workspace as text, notebooks as their JSON-decoded cell sources too."""
    texts = {}
    for path in root.rglob("*"):
        if path.is_file():
            text = path.read_bytes().decode("utf-8", errors="replace")
            if path.suffix == ".ipynb":
                text += "\n" + "\n".join(c.source for c in nbformat.reads(text, as_version=4).cells)
            texts[path] = text
    return texts


def kernel_env(root: Path) -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(root))


def write_reference_solutions(notebook: Path, source: Path, only: set[str] | None = None) -> None:
    """Type the reference solution into the student's notebook: each stub of a solution
    cell replaced by the matching block of the course source (cells matched by grade_id)."""
    text = source.read_text(encoding="utf-8")
    blocks_by_cell = {}
    for cell_text in re.split(r"^# %%", text, flags=re.M):
        grade_id = re.search(r'"grade_id": "([^"]+)"', cell_text.splitlines()[0] if cell_text else "")
        if grade_id:
            blocks_by_cell[grade_id.group(1)] = SOLUTION_RE.findall(cell_text)
    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if not cell.metadata.get("nbgrader", {}).get("solution") or (only is not None and grade_id not in only):
            continue
        lines = cell.source.split("\n")
        stubs = [i for i, line in enumerate(lines) if line.strip().startswith("raise NotImplementedError(")]
        blocks = blocks_by_cell[grade_id]
        assert len(stubs) == len(blocks), f"{grade_id}: {len(stubs)} stubs, {len(blocks)} solution blocks"
        for index, block in zip(reversed(stubs), reversed(blocks)):
            lines[index - 1:index + 1] = block.rstrip("\n").split("\n")  # the "# YOUR CODE HERE" line and the raise
        cell.source = "\n".join(lines)
    nbformat.write(nb, notebook)


def score(result: subprocess.CompletedProcess) -> str:
    match = re.search(r"local score (\S+)", result.stdout)
    assert match, result.stdout + result.stderr
    return match.group(1)


# ------------------------------------------------------- stubs and blocks (fast)


def test_solution_blocks_follow_nbgrader_markers():
    source = "def f(x):\n    ### BEGIN SOLUTION\n    y = x\n    return y\n    ### END SOLUTION\n\n" \
             "def g():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION"
    assert region_lines(source, SOLUTION) == [["    y = x", "    return y"], ["    return 1"]]


def test_describe_stubs_names_method_property_and_function():
    release = (
        "class Tensor:\n"
        "    @property\n    def shape(self):\n        \"\"\"doc\"\"\"\n        # YOUR CODE HERE\n        raise NotImplementedError()\n\n"
        "    def sum(self, axis=None):\n        # YOUR CODE HERE\n        raise NotImplementedError()\n\n"
        "def matmul(a, b):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    )
    rewritten, names = describe_stubs(release, "modules/01_x/x_dev.ipynb", "01_x", "x-solution")
    assert names == ["Tensor.shape", "Tensor.sum", "matmul"]
    namespace = {}
    exec(rewritten, namespace)
    with pytest.raises(NotImplementedError, match=r"^matmul is not implemented yet: write it in modules/01_x/x_dev.ipynb"):
        namespace["matmul"](1, 2)
    with pytest.raises(NotImplementedError, match=r"^Tensor.shape is not implemented yet.*`tito export 01_x`"):
        namespace["Tensor"]().shape
    assert rewritten.count("# YOUR CODE HERE") == 3, "the comment that marks where to write stays"


def test_fill_stubs_restores_blocks_in_order_and_checks_counts():
    release = "def f():\n    # YOUR CODE HERE\n    raise NotImplementedError()\n\ndef g():\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    filled = fill_stubs(release, [["    return 1"], ["    x = 2", "    return x"]], "cell")
    assert filled == "def f():\n    return 1\n\ndef g():\n    x = 2\n    return x"
    with pytest.raises(Exception, match="2 stubs but the source has 1 solution blocks"):
        fill_stubs(release, [["    return 1"]], "cell")


def _released(cells: list[tuple[str, dict, str]]):
    """A small release notebook: (grade_id, nbgrader flags, source) per cell, with nbgrader's checksums."""
    from nbgrader.utils import compute_checksum

    nb = nbformat.v4.new_notebook()
    for grade_id, flags, source in cells:
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata["nbgrader"] = {"grade_id": grade_id, "schema_version": 3, "task": False, **flags}
        cell.metadata["nbgrader"]["checksum"] = compute_checksum(cell)
        nb.cells.append(cell)
    return nb


def test_edited_and_deleted_locked_cells_are_put_back_as_the_grader_does():
    import copy

    solution = {"grade": False, "solution": True, "locked": False}
    test = {"grade": True, "solution": False, "locked": True, "points": 5}
    release = _released([
        ("f-solution", solution, "def f():\n    raise NotImplementedError()"),
        ("test-f", test, "assert f() == 1"),
        ("g-solution", solution, "def g():\n    raise NotImplementedError()"),
        ("test-g", test, "assert g() == 2"),
    ])
    student = copy.deepcopy(release)
    student.cells[0].source = "def f():\n    return 1"  # solutions are the student's to change
    student.cells[1].metadata["tags"] = [CONTINUE_TAG]  # tags are not part of nbgrader's checksum
    student.cells[2].source = "def g():\n    return 2"
    del student.cells[3]  # the test of g deleted
    student.cells.insert(2, nbformat.v4.new_markdown_cell("my notes"))
    student.cells.append(nbformat.v4.new_code_cell("print('scratch')"))

    assert restore_locked_cells(student, release) == [("test-g", "deleted")]
    assert [c.metadata.get("nbgrader", {}).get("grade_id") for c in student.cells] == [
        "f-solution", "test-f", None, "g-solution", "test-g", None]
    assert student.cells[0].source == "def f():\n    return 1" and student.cells[4].source == "assert g() == 2"

    student.cells[1].source = "assert True"
    assert restore_locked_cells(student, release) == [("test-f", "edited")]
    assert student.cells[1].source == "assert f() == 1"
    assert restore_locked_cells(student, release) == []


# --------------------------------------------------------- a workspace (slow)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """Modules 01, 03 and 10 with 01's reference code provided."""
    root = tmp_path_factory.mktemp("ws") / "student"
    result = run_tito("student", "workspace", str(root), "--modules", "03", "10", "--provide-solutions", "01")
    assert result.returncode == 0, result.stdout + result.stderr
    return root


@pytest.mark.slow
def test_workspace_layout_and_manifest(workspace):
    manifest = json.loads((workspace / "workspace.json").read_text())
    assert manifest == {"modules": ["01_tensor", "03_layers", "10_profiler"], "provided": ["01_tensor"]}
    for key in manifest["modules"]:
        name = key.split("_", 1)[1]
        assert (workspace / "modules" / key / f"{name}_dev.ipynb").is_file()
        assert not (workspace / "modules" / key / f"{name}_dev.py").exists(), "the course source must not be copied"
    for path in ("settings.ini", "pyproject.toml", "README.md", "tito/main.py", "tito/tools/testing.py",
                 "tinytorch/__init__.py", "tinytorch/core/tensor.py", "tinytorch/core/layers.py",
                 "tinytorch/utils/profiler.py", "tinytorch/_modidx.py"):
        assert (workspace / path).is_file(), f"workspace lacks {path}"
    assert (workspace / ".tito" / "release" / "03_layers" / "layers_dev.ipynb").is_file(), "no copy of the release to restore from"
    for instructor_only in ("tito/commands/nbgrader.py", "course", "tests"):
        assert not (workspace / instructor_only).exists(), f"{instructor_only} does not belong in a student workspace"


@pytest.mark.slow
def test_no_solution_or_hidden_test_of_an_unprovided_module_anywhere(workspace):
    present = {line.strip() for text in workspace_texts(workspace).values() for line in text.splitlines()}
    solution_leaks = leak_lines({"01_tensor"})
    hidden_leaks = leak_lines(set(), HIDDEN_RE)
    assert solution_leaks["03_layers"] and solution_leaks["10_profiler"], "the scan would check nothing"
    for key, lines in list(solution_leaks.items()) + list(hidden_leaks.items()):
        found = sorted(lines & present)
        assert not found, f"{key}: these lines of its solutions or hidden tests are in the workspace: {found[:5]}"
    # the provided module's code is there (so the scan above can find code when it is present)
    provided = marked_lines(COURSE_MODULES["01_tensor"].source_path.read_text(), SOLUTION_RE)
    tensor = (workspace / "tinytorch" / "core" / "tensor.py").read_text()
    assert all(line in tensor for line in provided), "the provided module's solution is missing from its package file"


@pytest.mark.slow
def test_every_import_works_and_each_stub_names_function_and_notebook(workspace):
    code = (
        "import json, numpy as np\n"
        "import tinytorch.core.tensor, tinytorch.core.layers, tinytorch.utils.profiler\n"
        "from tinytorch.core.tensor import Tensor\n"
        "from tinytorch.core.layers import matmul_naive, Dense\n"
        "from tinytorch.utils.profiler import SimpleProfiler\n"
        "out = {'tensor_file': tinytorch.core.tensor.__file__, 'tensor_works': Tensor([1.0, 2.0]).sum().data.item()}\n"
        "for name, call in [('matmul_naive', lambda: matmul_naive(np.ones((2, 2)), np.ones((2, 2)))),\n"
        "                   ('Dense.__init__', lambda: Dense(2, 3)), ('SimpleProfiler.__init__', SimpleProfiler)]:\n"
        "    try:\n        call()\n        out[name] = 'returned'\n"
        "    except NotImplementedError as err:\n        out[name] = str(err)\n"
        "print(json.dumps(out))\n"
    )
    probe = subprocess.run([sys.executable, "-c", code], cwd=workspace, env=kernel_env(workspace),
                           capture_output=True, text=True, timeout=120)
    assert probe.returncode == 0 and not probe.stderr, probe.stderr
    out = json.loads(probe.stdout)
    assert out["tensor_file"] == str(workspace / "tinytorch" / "core" / "tensor.py")
    assert out["tensor_works"] == 3.0, "the provided Tensor works"
    assert out["matmul_naive"] == ("matmul_naive is not implemented yet: write it in modules/03_layers/layers_dev.ipynb, "
                                   "then run `tito export 03_layers`")
    assert out["Dense.__init__"].startswith("Dense.__init__ is not implemented yet: write it in modules/03_layers/layers_dev.ipynb")
    assert out["SimpleProfiler.__init__"].startswith(
        "SimpleProfiler.__init__ is not implemented yet: write it in modules/10_profiler/profiler_dev.ipynb")


@pytest.mark.slow
def test_notebook_and_package_raise_the_same_stub(workspace):
    nb = nbformat.read(workspace / "modules" / "03_layers" / "layers_dev.ipynb", as_version=4)
    notebook_raises = [line.strip() for c in nb.cells for line in c.source.splitlines() if "raise NotImplementedError(" in line]
    package = (workspace / "tinytorch" / "core" / "layers.py").read_text()
    package_raises = [line.strip() for line in package.splitlines() if "raise NotImplementedError(" in line]
    assert len(notebook_raises) == 4 and notebook_raises == package_raises


@pytest.mark.slow
def test_workspace_tito_is_the_students_own_copy(workspace):
    env = kernel_env(workspace)
    helped = subprocess.run([sys.executable, "-m", "tito.main", "--help"], cwd=workspace, env=env,
                            capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0, helped.stderr
    assert "export" in helped.stdout and "module" in helped.stdout
    assert "nbgrader" not in helped.stdout, "the instructor's commands do not belong in a workspace"
    status = subprocess.run([sys.executable, "-m", "tito.main", "module", "status"], cwd=workspace / "modules",
                            env=dict(env, COLUMNS="200"), capture_output=True, text=True, timeout=120)
    assert status.returncode == 0, status.stderr
    rows = {line.split()[1]: line for line in status.stdout.splitlines() if re.match(r"│ \d\d_", line)}
    assert set(rows) == {"01_tensor", "03_layers", "10_profiler"}
    assert "(provided)" in rows["01_tensor"] and "(provided)" not in rows["03_layers"]
    assert all("yes" in row for row in rows.values()), "a fresh workspace's package is its notebooks' export"


@pytest.mark.slow
def test_workspace_is_pip_installable_on_its_own(workspace, tmp_path):
    """A student's own environment gets tito and the workspace's tinytorch from `pip install`."""
    target = tmp_path / "site"
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--target", str(target),
         str(workspace)], capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr
    assert (target / "bin" / "tito").is_file()
    code = ("import numpy as np\nfrom tinytorch.core.layers import matmul_naive\n"
            "try:\n    matmul_naive(np.ones((1, 1)), np.ones((1, 1)))\nexcept NotImplementedError as err:\n    print(err)\n")
    probe = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(target)),
                           capture_output=True, text=True, timeout=60)
    assert probe.stdout.startswith("matmul_naive is not implemented yet"), probe.stdout + probe.stderr


@pytest.mark.slow
def test_jupyterlab_kernels_import_the_workspace_package(workspace):
    """`tito student lab`: a notebook opened in JupyterLab imports the workspace's tinytorch,
    although this environment's editable install points at the course's."""
    import socket
    import time
    import urllib.request

    from jupyter_client import BlockingKernelClient
    from jupyter_core.paths import jupyter_runtime_dir

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    token = "workspace-test"
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "tito"), "student", "lab", "--", "--no-browser", f"--port={port}",
         "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}", *(["--allow-root"] if os.getuid() == 0 else [])],
        cwd=workspace, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}/api"

    def call(path: str, body: dict | None = None) -> dict:
        request = urllib.request.Request(f"{base}{path}", method="POST" if body else "GET",
                                         data=json.dumps(body).encode() if body else None,
                                         headers={"Authorization": f"token {token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                call("/status")
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "JupyterLab did not start"
                time.sleep(0.5)
        session = call("/sessions", {"path": "modules/03_layers/layers_dev.ipynb", "type": "notebook",
                                     "kernel": {"name": "python3"}})
        client = BlockingKernelClient()
        client.load_connection_file(str(Path(jupyter_runtime_dir()) / f"kernel-{session['kernel']['id']}.json"))
        client.start_channels()
        client.wait_for_ready(timeout=60)
        printed = []
        client.execute_interactive(
            "import os, tinytorch.core.layers as layers, tito\nprint(layers.__file__, tito.__file__, os.getcwd())",
            timeout=60, output_hook=lambda msg: printed.append(msg["content"].get("text", "")))
        client.stop_channels()
    finally:
        if server.poll() is None:
            os.killpg(server.pid, 15)
            server.wait(timeout=30)
    layers_file, tito_file, cwd = "".join(printed).split()
    assert layers_file == str(workspace / "tinytorch" / "core" / "layers.py")
    assert tito_file == str(workspace / "tito" / "__init__.py")
    assert cwd == str(workspace / "modules" / "03_layers"), "JupyterLab runs a notebook in its own folder"


@pytest.mark.slow
def test_fresh_notebook_runs_top_to_bottom_with_only_unfinished_work_failing(workspace):
    """Execute the release notebook the way Jupyter's Run All does: stop at the first error
    unless the cell is tagged raises-exception. The run must reach the last cell, and every
    error must be a failing graded test or a demonstration that needs a stubbed function."""
    from nbclient import NotebookClient

    path = workspace / "modules" / "03_layers" / "layers_dev.ipynb"
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=False,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute(env=kernel_env(workspace))  # raises CellExecutionError if Run All would stop
    assert nb.cells[-1].get("execution_count"), "the last cell did not run"
    graded_errors = demo_errors = 0
    for cell in nb.cells:
        errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
        if not errors:
            continue
        meta = cell.metadata.get("nbgrader", {})
        assert CONTINUE_TAG in cell.metadata.get("tags", []), cell.source[:200]
        if meta.get("grade"):
            graded_errors += 1
        else:
            assert not meta, f"a non-test cell failed: {cell.source[:200]}"
            assert errors[0].ename == "NotImplementedError" and "modules/03_layers/layers_dev.ipynb" in errors[0].evalue
            demo_errors += 1
    assert graded_errors == 6 and demo_errors >= 1
    summary = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    assert "0/6 tests passed" in summary, summary


@pytest.mark.slow
def test_module_test_imports_the_students_package_not_the_reference(tmp_path):
    """03_layers imports Tensor from the package. With 01 unfinished, a perfect 03 still
    fails in a workspace (the reference package would make it pass); once the student
    writes and exports 01, the same 03 passes."""
    root = tmp_path / "ws"
    created = run_tito("student", "workspace", str(root), "--modules", "01", "03")
    assert created.returncode == 0, created.stdout + created.stderr
    layers = root / "modules" / "03_layers" / "layers_dev.ipynb"
    write_reference_solutions(layers, COURSE_MODULES["03_layers"].source_path)

    before = run_tito("module", "test", "03", cwd=root)
    assert before.returncode == 1 and score(before) != "100/100", before.stdout
    assert "Tensor.__init__ is not implemented yet" in before.stdout

    write_reference_solutions(root / "modules" / "01_tensor" / "tensor_dev.ipynb", COURSE_MODULES["01_tensor"].source_path)
    not_exported = run_tito("module", "test", "03", cwd=root)
    assert score(not_exported) == score(before), "the kernel must import the exported package, not the notebook"
    assert run_tito("export", "01", cwd=root).returncode == 0
    after = run_tito("module", "test", "03", cwd=root)
    assert after.returncode == 0, after.stdout + after.stderr
    assert score(after) == "100/100"


def test_missing_dependency_and_existing_folder_are_clear_errors(tmp_path):
    missing = run_tito("student", "workspace", str(tmp_path / "ws"), "--modules", "03")
    assert missing.returncode == 2
    assert "03_layers imports tinytorch.core.tensor: add 01_tensor" in missing.stderr
    occupied = tmp_path / "taken"
    occupied.mkdir()
    (occupied / "notes.txt").write_text("mine")
    taken = run_tito("student", "workspace", str(occupied), "--modules", "01")
    assert taken.returncode == 2 and "already exists and is not empty" in taken.stderr
    assert (occupied / "notes.txt").read_text() == "mine"
    unknown = run_tito("student", "workspace", str(tmp_path / "ws"), "--provide-solutions", "99")
    assert unknown.returncode == 2 and "unknown module '99'" in unknown.stderr
    for result in (missing, taken, unknown):
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "ws").exists()


@pytest.mark.slow
def test_creating_a_workspace_inside_a_workspace_is_refused(workspace):
    result = run_tito("student", "workspace", "again", cwd=workspace)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "course repository" in result.stderr

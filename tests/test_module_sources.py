"""Every module source follows the course format that export and grading rely on."""

from __future__ import annotations

import re

import pytest

import judge_lint
from helpers import REPO
from tito.judge.trusted import TEST_HELPERS_SUFFIX, trusted_setup
from tito.notebook.source import read_source
from tito.project import list_modules

MODULES = list_modules(REPO)
IDS = [m.key for m in MODULES]


def nbgrader(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


@pytest.fixture(params=MODULES, ids=IDS, scope="module")
def notebook(request):
    return request.param, read_source(request.param.source_path)


def test_expected_modules_exist():
    assert {"01_tensor", "02_activations", "03_layers", "05_cnn", "10_profiler", "11_kernels", "12_gpu_models"} <= set(IDS)


def test_points_add_up_to_100(notebook):
    module, nb = notebook
    points = [float(nbgrader(c)["points"]) for c in nb.cells if nbgrader(c).get("grade")]
    assert points, f"{module.key} has no graded cells"
    assert sum(points) == 100, f"{module.key}: graded points add up to {sum(points)}, not 100"


def test_graded_cells_are_locked_tests_with_unique_ids(notebook):
    module, nb = notebook
    grade_ids = [nbgrader(c)["grade_id"] for c in nb.cells if nbgrader(c)]
    assert len(grade_ids) == len(set(grade_ids)), f"{module.key}: duplicate grade_id"
    for c in nb.cells:
        meta = nbgrader(c)
        assert not meta or re.fullmatch(r"[a-z0-9-]+", meta["grade_id"]), meta
        if meta.get("grade"):
            assert meta["locked"] and not meta["solution"], f"{meta['grade_id']} must be a locked test cell"
            assert re.search(r"^def test_\w+\(", c.source, re.M), f"{meta['grade_id']} defines no test_ function"
            name = re.search(r"^def (test_\w+)\(", c.source, re.M).group(1)
            assert re.search(rf"^{name}\(\)\s*$", c.source, re.M), f"{meta['grade_id']} never calls {name}()"


def test_solution_cells_have_marked_blocks_and_export(notebook):
    module, nb = notebook
    solutions = [c for c in nb.cells if nbgrader(c).get("solution")]
    assert solutions, f"{module.key} has no solution cells"
    for c in solutions:
        assert c.source.count("### BEGIN SOLUTION") == c.source.count("### END SOLUTION") >= 1, nbgrader(c)["grade_id"]


def test_export_target_and_last_cell(notebook):
    module, nb = notebook
    assert module.export_target(), f"{module.key} has no #| default_exp"
    last = nb.cells[-1]
    assert nbgrader(last).get("locked"), f"{module.key}: the last cell must be locked"
    assert 'if __name__ == "__main__":' in last.source and "run_module_tests_auto(" in last.source


def _import_fallbacks(text: str) -> bool:
    """A `try` that imports something and catches ImportError: the pattern that swaps in a fake. (A handler
    around other code, such as the CLI naming the extra a missing package comes with, is not one.)"""
    import ast

    try:
        tree = ast.parse(text)
    except SyntaxError:
        return False
    for node in ast.walk(tree):
        if not isinstance(node, ast.Try):
            continue
        imports = any(isinstance(n, (ast.Import, ast.ImportFrom)) for part in node.body for n in ast.walk(part))
        catches = any(h.type is not None and re.search(r"ImportError|ModuleNotFoundError", ast.unparse(h.type))
                      for h in node.handlers)
        if imports and catches:
            return True
    return False


def test_the_fallback_check_finds_a_fallback_and_only_that():
    assert _import_fallbacks("try:\n    import numpy\nexcept ImportError:\n    numpy = None\n")
    assert _import_fallbacks("try:\n    from x import y\nexcept (ModuleNotFoundError, OSError):\n    y = 1\n")
    assert not _import_fallbacks("try:\n    run()\nexcept ModuleNotFoundError as exc:\n    say(exc.name)\n")


@pytest.mark.parametrize("folder", ["modules", "tinytorch", "tito"])
def test_no_path_hacks_or_import_fallbacks(folder):
    offenders = []
    for path in (REPO / folder).rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if re.search(r"sys\.path\.(insert|append)|sys\.path\s*\+?=", text):
            offenders.append(f"{path.relative_to(REPO)}: sys.path edit")
        if _import_fallbacks(text):
            offenders.append(f"{path.relative_to(REPO)}: ImportError fallback")
        if re.search(r"^class\s+Mock\w*", text, re.M):
            offenders.append(f"{path.relative_to(REPO)}: mock class")
    assert not offenders, offenders


def lint_targets(module, nb) -> list[tuple[int, str]]:
    """(first line in the module's source file, source) of each graded cell and of the test-helpers cell."""
    lines = module.source_path.read_text(encoding="utf-8").splitlines()
    targets = []
    for cell in nb.cells:
        gid = nbgrader(cell).get("grade_id", "")
        if cell.cell_type != "code" or not (nbgrader(cell).get("grade") or gid.endswith(TEST_HELPERS_SUFFIX)):
            continue
        header = next(i for i, line in enumerate(lines) if line.startswith("# %%") and f'"grade_id": "{gid}"' in line)
        targets.append((header + 2, cell.source))
    return targets


def test_graded_tests_compare_only_plain_values(notebook):
    module, nb = notebook
    student = trusted_setup(nb).student_names
    found = [f"{module.source_path.relative_to(REPO)}:{first + line - 1}: {code} {judge_lint.MESSAGE}"
             for first, source in lint_targets(module, nb) for line, code in judge_lint.violations(source, student)]
    assert not found, "\n".join(found)


LINTED = """
def test_unit_example():
    t = Tensor([[1, 2, 3], [4, 5, 6]])
    got, other = t.sum(), 3
    for row in (t, got):
        pass
    {line}
"""


@pytest.mark.parametrize("line", [
    "assert t.shape == (2, 3)",
    "assert got",
    "assert 2 in t.items",
    "assert len(t) == 2",
    "assert not got.data.any() or other",
    "assert row.size > 0",
    "assert [v for v in t.data]",
    "assert Tensor(1) + 1 != 2",
    "if t.requires_grad: pass",
    "low, high = t.split()",
    "assert in_student_process('tracemalloc').is_tracing()",
])
def test_lint_catches_student_values_compared(line):
    found = judge_lint.violations(LINTED.format(line=line), ["Tensor"])
    assert [n for n, _ in found] == [7], f"{line!r}: expected one violation on line 7, got {found}"


@pytest.mark.parametrize("line", [
    "assert plain(t.shape) == (2, 3)",
    "assert plain(got)",
    "assert 2 in plain(t.items)",
    "assert np.shape(t.data)[0] == 2 and other == 3",
    "assert float(got) > 0 and isinstance(t, Tensor)",
    "assert f'{t}' != '' and str(t) != repr(t)",
    "assert type(t) is Tensor",
    "assert int(plain(row.size)) > 0",
    "low, high = plain(t.split())",
    "assert plain(in_student_process('tracemalloc').is_tracing())",
])
def test_lint_accepts_fetched_values(line):
    found = judge_lint.violations(LINTED.format(line=line), ["Tensor"])
    assert found == [], f"{line!r}: expected no violation, got {found}"

"""Every module source follows the course format that export and grading rely on."""

from __future__ import annotations

import re

import pytest

from helpers import REPO
from tito.notebooks import read_source
from tito.project import list_modules

MODULES = list_modules(REPO)
IDS = [m.key for m in MODULES]


def nbgrader(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


@pytest.fixture(params=MODULES, ids=IDS, scope="module")
def notebook(request):
    return request.param, read_source(request.param.source_path)


def test_expected_modules_exist():
    assert {"01_tensor", "02_activations", "03_layers", "05_cnn", "10_profiler", "11_kernels"} <= set(IDS)


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


@pytest.mark.parametrize("folder", ["modules", "tinytorch", "tito"])
def test_no_path_hacks_or_import_fallbacks(folder):
    offenders = []
    for path in (REPO / folder).rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if re.search(r"sys\.path\.(insert|append)|sys\.path\s*\+?=", text):
            offenders.append(f"{path.relative_to(REPO)}: sys.path edit")
        if re.search(r"except\s+(\(?\s*)?(ImportError|ModuleNotFoundError)", text):
            offenders.append(f"{path.relative_to(REPO)}: ImportError fallback")
        if re.search(r"^class\s+Mock\w*", text, re.M):
            offenders.append(f"{path.relative_to(REPO)}: mock class")
    assert not offenders, offenders

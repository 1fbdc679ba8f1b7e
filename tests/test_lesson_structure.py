"""Lesson sources stay readable: no cell of a module's source is longer than a student can read in one go."""

from __future__ import annotations

import pytest

from helpers import REPO
from tito.notebook.source import read_source
from tito.project import list_modules

MAX_CELL_LINES = 150
MODULES = list_modules(REPO)


def cells_over_budget(source_path, root=REPO, budget: int = MAX_CELL_LINES) -> list[str]:
    """One line per cell of the jupytext source longer than `budget` lines, naming the cell."""
    over = []
    for index, cell in enumerate(read_source(source_path).cells):
        lines = len(cell.source.splitlines())
        if lines > budget:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            name = f"cell {grade_id!r}" if grade_id else f"{cell.cell_type} cell #{index}"
            over.append(f"{source_path.relative_to(root)}: {name} has {lines} lines (budget {budget})")
    return over


@pytest.mark.parametrize("module", MODULES, ids=[m.key for m in MODULES])
def test_no_cell_is_over_the_line_budget(module):
    over = cells_over_budget(module.source_path)
    assert not over, "split these cells (a class can be written in parts, one cell each):\n" + "\n".join(over)


def test_the_budget_check_names_a_long_cell(tmp_path):
    source = tmp_path / "long_dev.py"
    long_cell = "\n".join(f"x{i} = {i}" for i in range(6))
    source.write_text(
        '# %% nbgrader={"grade": false, "grade_id": "long-solution", "locked": false, "schema_version": 3, '
        '"solution": true, "task": false}\n' + long_cell + "\n\n# %% [markdown]\n# short\n", encoding="utf-8")
    assert cells_over_budget(source, tmp_path, budget=5) == ["long_dev.py: cell 'long-solution' has 6 lines (budget 5)"]
    assert cells_over_budget(source, tmp_path, budget=6) == []

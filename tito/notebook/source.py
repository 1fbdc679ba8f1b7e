"""Module source (jupytext percent `.py`) → notebook, with stable cell ids.

jupytext gives new cells random ids on every read; nbdev writes each cell's id
into the exported module. Ids derived from the cell (its nbgrader `grade_id`, or
its position and text) make `tito export` reproduce the package byte for byte.
"""

from __future__ import annotations

import ast
import hashlib
import re
from pathlib import Path

from tito.errors import TitoError
from tito.notebook.cells import grade_id
from tito.project import Module

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
_ID_RE = re.compile(r"^[a-zA-Z0-9-_]{1,64}$")


class SourceError(TitoError):
    """A module source that cannot be turned into a notebook or a module (names file and line)."""


def stable_cell_id(index: int, cell) -> str:
    cell_id = grade_id(cell)
    if cell_id and _ID_RE.match(cell_id):
        return cell_id
    digest = hashlib.sha1(f"{index}\0{cell.cell_type}\0{cell.source}".encode()).hexdigest()
    return f"cell-{digest[:10]}"


def assign_stable_ids(nb) -> None:
    seen: set[str] = set()
    for index, cell in enumerate(nb.cells):
        cell_id = stable_cell_id(index, cell)
        if cell_id in seen:
            cell_id = f"{cell_id[:56]}-{index}"
        seen.add(cell_id)
        cell["id"] = cell_id


def check_source_syntax(path: Path) -> None:
    """Raise SourceError naming file and line if the percent source is not valid Python."""
    text = path.read_text(encoding="utf-8")
    try:
        ast.parse(text, filename=str(path))
    except SyntaxError as exc:
        raise SourceError(f"{path}:{exc.lineno}: syntax error: {exc.msg}") from None


def check_notebook_syntax(nb, path: Path) -> None:
    """Raise SourceError naming the notebook, cell and line of the first code cell that does not parse."""
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        # IPython magics and shell escapes are not Python; nbdev does not export them.
        source = "\n".join(
            "" if line.lstrip().startswith(("%", "!")) else line for line in cell.source.splitlines()
        )
        try:
            ast.parse(source)
        except SyntaxError as exc:
            raise SourceError(
                f"{path}: cell {index + 1}, line {exc.lineno}: syntax error: {exc.msg}"
            ) from None


def read_source(path: Path):
    """Read a jupytext percent file into a notebook with stable ids and a python3 kernelspec."""
    import jupytext

    check_source_syntax(path)
    nb = jupytext.read(path, fmt="py:percent")
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata.setdefault("language_info", {"name": "python"})
    assign_stable_ids(nb)
    return nb


def read_notebook(path: Path):
    import nbformat

    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # nbformat raises several types for a corrupt file
        raise SourceError(f"{path}: not a readable notebook ({type(exc).__name__}: {exc})") from None
    check_notebook_syntax(nb, path)
    return nb


def load_module_notebook(module: Module):
    """The module's notebook: built from the .py source when there is one, else read from disk."""
    if module.has_source:
        return read_source(module.source_path)
    if module.notebook_path.is_file():
        return read_notebook(module.notebook_path)
    raise SourceError(f"module {module.key} has neither {module.source_path.name} nor {module.notebook_path.name}")


def notebook_text(nb) -> str:
    import nbformat

    return nbformat.writes(nb) + "\n"

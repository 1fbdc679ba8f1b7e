"""Where things are: the project root and its modules.

A project root is a folder with `settings.ini` and `modules/`: the course
repository, or a student workspace made by `tito student workspace`. Each module
is a folder `modules/NN_name/` holding `name_dev.py` (the source, in the course
repository) and/or `name_dev.ipynb` (the notebook, the source in a workspace).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from tito.errors import TitoError, UsageError

SETTINGS_FILE = "settings.ini"
MODULES_DIR = "modules"
PACKAGE_DIR = "tinytorch"
STATE_DIR = ".tito"  # tito's own files in a project: last test reports, a workspace's release copies
_MODULE_DIR_RE = re.compile(r"^(\d{2})_([a-z][a-z0-9_]*)$")
_DEFAULT_EXP_RE = re.compile(r"^#\|\s*default_exp\s+(\S+)\s*$", re.MULTILINE)


def find_root(start: str | os.PathLike | None = None) -> Path:
    """The nearest folder at or above `start` (default: cwd) with settings.ini and modules/."""
    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / SETTINGS_FILE).is_file() and (folder / MODULES_DIR).is_dir():
            return folder
    raise TitoError(
        f"no TinyTorch project at or above {here}: run tito inside the course repository "
        f"or a student workspace (a folder with {SETTINGS_FILE} and {MODULES_DIR}/)"
    )


@dataclass(frozen=True)
class Module:
    """One course module, e.g. number '11', name 'kernels', key '11_kernels'."""

    root: Path
    number: str
    name: str

    @property
    def key(self) -> str:
        return f"{self.number}_{self.name}"

    @property
    def folder(self) -> Path:
        return self.root / MODULES_DIR / self.key

    @property
    def source_path(self) -> Path:
        """The jupytext percent source (course repository)."""
        return self.folder / f"{self.name}_dev.py"

    @property
    def notebook_path(self) -> Path:
        return self.folder / f"{self.name}_dev.ipynb"

    @property
    def has_source(self) -> bool:
        return self.source_path.is_file()

    @property
    def editable_path(self) -> Path:
        """The file a person edits: the .py source where there is one, else the notebook."""
        return self.source_path if self.has_source else self.notebook_path

    def export_target(self) -> str | None:
        """The dotted module named by `#| default_exp`, e.g. 'core.kernels'."""
        if self.has_source:
            text = self.source_path.read_text(encoding="utf-8")
        elif self.notebook_path.is_file():
            cells = json.loads(self.notebook_path.read_text(encoding="utf-8")).get("cells", [])
            text = "\n".join("".join(c.get("source", "")) for c in cells if c.get("cell_type") == "code")
        else:
            return None
        match = _DEFAULT_EXP_RE.search(text)
        return match.group(1) if match else None

    def package_file(self) -> Path | None:
        target = self.export_target()
        if target is None:
            return None
        return self.root / PACKAGE_DIR / Path(*target.split(".")).with_suffix(".py")


def list_modules(root: Path) -> list[Module]:
    """Every module folder under root/modules with a source or a notebook, by number."""
    found = []
    for folder in sorted((root / MODULES_DIR).iterdir()):
        match = _MODULE_DIR_RE.match(folder.name)
        if not match or not folder.is_dir():
            continue
        module = Module(root, match.group(1), match.group(2))
        if module.has_source or module.notebook_path.is_file():
            found.append(module)
    return found


def resolve_module(name: str, root: Path) -> Module:
    """Find a module by '11_kernels', '11' (or '011'), or 'kernels'; UsageError lists the known ones."""
    modules = list_modules(root)
    wanted = name.strip().lower().rstrip("/")
    wanted = wanted.removeprefix(MODULES_DIR + "/")
    for module in modules:
        if wanted == module.key or wanted == module.name:
            return module
        if wanted.isdigit() and int(wanted) == int(module.number):
            return module
    known = ", ".join(m.key for m in modules) or "none"
    raise UsageError(f"unknown module '{name}'. Known modules: {known}")


def resolve_modules(names: list[str], root: Path, all_modules: bool) -> list[Module]:
    if all_modules:
        return list_modules(root)
    if not names:
        raise UsageError("name a module (e.g. 01_tensor, 01 or tensor) or pass --all")
    return [resolve_module(n, root) for n in names]


"""A student workspace as the student's commands read it: its manifest, the release copies, the stub message.

`tito student workspace` builds the workspace (`tito.grading.workspace`, the
instructor's side: it runs nbgrader); here is only what `tito module test` and
`tito module status` need inside one, so a student's install without nbgrader has it.
"""

from __future__ import annotations

import json
from pathlib import Path

from tito.errors import TitoError
from tito.project import STATE_DIR, Module

WORKSPACE_FILE = "workspace.json"
RELEASE_COPIES = Path(STATE_DIR) / "release"  # the notebooks as handed out, to restore locked cells from
STUB_MESSAGE = "is not implemented yet: write it in"  # in every stub's NotImplementedError: code still to write


def read_manifest(root: Path) -> dict | None:
    """The workspace.json of a student workspace, or None for the course repository."""
    path = root / WORKSPACE_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        raise TitoError(f"{path} is not valid JSON: restore it from a fresh workspace") from None


def release_copy(module: Module) -> Path:
    """Where a workspace keeps `module`'s notebook as it was handed out."""
    return module.root / RELEASE_COPIES / module.key / module.notebook_path.name

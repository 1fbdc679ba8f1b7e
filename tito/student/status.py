"""`tito module status`: per module, where it exports to, its graded tests and points,
whether the package is in sync with its source, and its last local score."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tito.notebook.cells import graded_code_cells, points


@dataclass
class ModuleSummary:
    module: str
    target: str  # e.g. "tinytorch.core.kernels"
    tests: int
    points: float
    in_sync: bool | None  # None: the comparison failed (see ProjectStatus.sync_error)
    tests_passed: str | None  # "7/9" from the last `tito module test`, None before the first
    last_score: str | None  # "45/100"
    edited_since_test: bool
    provided: bool  # handed out with its reference code (a workspace's --provide-solutions)


@dataclass
class ProjectStatus:
    modules: list[ModuleSummary] = field(default_factory=list)
    sync_error: str = ""  # why the package could not be compared with the sources


def project_status(root: Path) -> ProjectStatus:
    """Every module of the project at `root`; a broken source must not hide the others' status."""
    from tito.export import package_in_sync
    from tito.notebook.source import load_module_notebook
    from tito.project import list_modules
    from tito.student.moduletest import last_report_is_older, load_last_report
    from tito.student.workspace import read_manifest

    modules = list_modules(root)
    status = ProjectStatus()
    try:
        sync = package_in_sync(root, modules)
    except Exception as exc:
        sync = {m.key: None for m in modules}
        status.sync_error = str(exc)
    provided = (read_manifest(root) or {}).get("provided", ())
    for module in modules:
        cells = graded_code_cells(load_module_notebook(module))
        last = load_last_report(module)
        passed = None if last is None else sum(t["points"] == t["max_points"] for t in last["graded"])
        status.modules.append(ModuleSummary(
            module=module.key,
            target=f"tinytorch.{module.export_target()}",
            tests=len(cells),
            points=sum(points(c) for c in cells),
            in_sync=sync[module.key],
            tests_passed=None if last is None else f"{passed}/{len(last['graded'])}",
            last_score=None if last is None else f"{last['score']:g}/{last['max_score']:g}",
            edited_since_test=last is not None and last_report_is_older(module),
            provided=module.key in provided,
        ))
    return status

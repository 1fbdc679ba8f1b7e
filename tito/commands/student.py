"""tito student workspace DIR [--modules ...] [--provide-solutions ...] | tito student lab"""

from __future__ import annotations

import argparse


def _names(values: list[str] | None) -> list[str] | None:
    """Module names given as separate words and/or comma-separated: '01 03' or '01,03'."""
    if values is None:
        return None
    return [name for value in values for name in value.split(",") if name.strip()]


def register(subparsers) -> None:
    parser = subparsers.add_parser("student", help="make a student workspace")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    workspace = actions.add_parser(
        "workspace",
        help="create a student copy of the course: stubbed notebooks, package, tito",
        description="Create DIR: the release notebooks (solutions stubbed, hidden tests removed, "
        "by nbgrader), a tinytorch package exported from them, settings.ini and the tito CLI. "
        "Inside it, `tito export`, `tito module test` and `tito module status` work on the "
        "student's notebooks and package.",
    )
    workspace.add_argument("dir", metavar="DIR", help="the folder to create (must not exist or be empty)")
    workspace.add_argument("--modules", nargs="+", action="extend", metavar="MODULE",
                           help="modules to include (default: all), e.g. 01 03 11 or 01,03,11")
    workspace.add_argument("--provide-solutions", nargs="+", action="extend", metavar="MODULE", default=None,
                           help="modules handed out with their reference code (and included), so a class "
                           "can start at a later module, e.g. --provide-solutions 01,03")
    workspace.set_defaults(func=run_workspace, needs_extra="instructor")  # it runs nbgrader generate

    lab = actions.add_parser(
        "lab",
        help="start JupyterLab here, its kernels importing this folder's tinytorch",
        description="Start JupyterLab in the project (a workspace or the course) with the project first "
        "on the kernels' import path, as `tito module test` runs them: notebooks import this folder's "
        "tinytorch even where another one is installed. nbgrader's instructor tools are switched off. "
        "Every other argument goes to jupyter lab, e.g. `tito student lab --no-browser --port=8901`.",
    )
    lab.add_argument("jupyter_args", nargs=argparse.REMAINDER, metavar="JUPYTER_ARGS")
    lab.set_defaults(func=run_lab, pass_unknown_args=True)  # options tito does not know go to jupyter lab


def run_workspace(args: argparse.Namespace) -> int:
    from pathlib import Path

    from tito.console import console, table as new_table
    from tito.grading.workspace import create_workspace
    from tito.project import find_root

    root = find_root()
    with console.status("generating release notebooks and exporting the workspace package"):
        workspace = create_workspace(root, Path(args.dir), _names(args.modules), _names(args.provide_solutions))
    table = new_table(f"student workspace {workspace.root}", ("module", "notebook", "package module", "code"))
    for module in workspace.modules:
        code = "[cyan]provided[/]" if module.provided else f"to write: {len(module.stubs)} stubbed function(s)"
        table.add_row(module.key, str(module.notebook.relative_to(workspace.root)), f"tinytorch.{module.target}", code)
    console.print(table)
    console.print(
        f"in {workspace.root}: tito module status, tito export MODULE, tito module test MODULE "
        "(a student's own Python environment needs `pip install -e .` there once)",
        highlight=False,
    )
    return 0


def run_lab(args: argparse.Namespace) -> int:
    import subprocess
    import tempfile
    from pathlib import Path

    from tito.project import find_root
    from tito.student.lab import lab_command, lab_environment, settle_notebook_metadata, write_student_config

    root = find_root()
    settle_notebook_metadata(root)
    jupyter_args = [*getattr(args, "unknown_args", []), *(a for a in args.jupyter_args if a != "--")]
    with tempfile.TemporaryDirectory(prefix="tito-lab-config-") as config:
        write_student_config(Path(config))
        return subprocess.call(lab_command(root, jupyter_args), cwd=root, env=lab_environment(root, Path(config)))

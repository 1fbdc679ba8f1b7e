"""tito export MODULE... | --all"""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export module sources into the tinytorch package",
        description="Convert each module source to its notebook (jupytext) and export its "
        "`#| export` cells into the tinytorch package (nbdev). All or nothing: on any error "
        "the package is left as it was.",
    )
    parser.add_argument("modules", nargs="*", metavar="MODULE", help="e.g. 01_tensor, 01 or tensor")
    parser.add_argument("--all", action="store_true", help="export every module")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tito.console import console, table as new_table
    from tito.export import export_modules
    from tito.project import find_root, resolve_modules

    root = find_root()
    modules = resolve_modules(args.modules, root, args.all)
    with console.status(f"exporting {len(modules)} module(s)"):
        results = export_modules(root, modules)
    table = new_table("tito export", ("module", "package module", "file", "changed"))
    for result in results:
        changed = ", ".join(str(p.relative_to(root)) for p in result.changed) or "up to date"
        table.add_row(result.module.key, f"tinytorch.{result.target}", str(result.package_file.relative_to(root)), changed)
    console.print(table)
    return 0

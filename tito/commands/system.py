"""tito system doctor"""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser("system", help="check the environment")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    doctor = actions.add_parser("doctor", help="check Python, every dependency and the Jupyter kernel")
    doctor.set_defaults(func=run_doctor)


def run_doctor(args: argparse.Namespace) -> int:
    from rich.markup import escape

    from tito.console import console, table as new_table
    from tito.doctor import run_checks

    checks = run_checks()
    table = new_table("tito system doctor", ("check", "ok", "detail", "how to fix"))
    for check in checks:
        table.add_row(escape(check.name), "[green]ok[/]" if check.ok else "[red]missing[/]", escape(check.detail),
                      escape(check.fix))  # plain text: `.[instructor]` is not a style
    console.print(table)
    failed = [c for c in checks if not c.ok]
    if failed:
        console.print(f"[red]{len(failed)} problem(s) found[/]")
        return 1
    console.print("[green]environment ready[/]")
    return 0

"""tito test MODULE... | --all"""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    from tito.student.moduletest import STUDENT_CELL_TIMEOUT

    parser = subparsers.add_parser(
        "test",
        help="run the inline tests of several modules (each in a fresh kernel)",
    )
    parser.add_argument("modules", nargs="*", metavar="MODULE")
    parser.add_argument("--all", action="store_true", help="test every module")
    parser.add_argument("--timeout", type=int, default=STUDENT_CELL_TIMEOUT,
                        help=f"seconds allowed per cell (default: {STUDENT_CELL_TIMEOUT})")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tito.commands.module import render_report
    from tito.console import console, table as new_table
    from tito.project import find_root, resolve_modules
    from tito.student.moduletest import run_module_tests

    root = find_root()
    modules = resolve_modules(args.modules, root, args.all)
    reports = []
    for module in modules:
        with console.status(f"running {module.key} in a fresh kernel"):
            report = run_module_tests(module, cell_timeout=args.timeout)
        render_report(report)
        reports.append(report)
    summary = new_table("summary", ("module", "score", "passed", "seconds"))
    for report in reports:
        ok = "[green]yes[/]" if report.passed else "[red]no[/]"
        summary.add_row(report.module, f"{report.score:g}/{report.max_score:g}", ok, f"{report.seconds:.1f}")
    console.print(summary)
    return 0 if all(r.passed for r in reports) else 1

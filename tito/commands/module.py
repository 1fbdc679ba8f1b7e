"""tito module test MODULE | tito module status"""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    from tito.student.moduletest import STUDENT_CELL_TIMEOUT

    parser = subparsers.add_parser("module", help="test a module or show the status of all modules")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")

    test = actions.add_parser(
        "test",
        help="run a module's notebook in a fresh Jupyter kernel and grade its tests",
        description="Run every cell of the module in a fresh Jupyter kernel and score each "
        "graded test cell the way nbgrader does. Exit code 1 when any test fails.",
    )
    test.add_argument("module", metavar="MODULE", help="e.g. 11_kernels, 11 or kernels")
    test.add_argument("--timeout", type=int, default=STUDENT_CELL_TIMEOUT,
                      help=f"seconds allowed per cell (default: {STUDENT_CELL_TIMEOUT})")
    test.set_defaults(func=run_test)

    status = actions.add_parser("status", help="per module: export target, tests, points, package in sync")
    status.set_defaults(func=run_status)


def render_report(report) -> None:
    from tito.console import console, table as new_table
    from tito.student.workspace import STUB_MESSAGE

    table = new_table(f"{report.module}: graded tests", ("test", "result", ("points", "right"), "message"))
    for test in report.graded:
        result = "[green]pass[/]" if test.passed else "[red]FAIL[/]"
        name = ", ".join(test.tests) or test.grade_id
        table.add_row(name, result, f"{test.points:g}/{test.max_points:g}", test.message)
    console.print(table)
    if report.restored:
        console.print("[yellow]locked cells changed in your notebook were run as released, as the grader "
                      f"runs them:[/] {'; '.join(report.restored)}", highlight=False)
    for error in report.cell_errors:
        if STUB_MESSAGE in error:  # a demonstration that calls a function still to be written
            console.print(f"[yellow]waiting for your code[/] {error}", highlight=False)
        else:
            console.print(f"[yellow]error outside the graded cells[/] {error}", highlight=False)
    colour = "green" if report.passed else "red"
    console.print(
        f"[bold {colour}]local score {report.score:g}/{report.max_score:g}[/] "
        f"({sum(t.passed for t in report.graded)}/{len(report.graded)} graded tests passed, {report.seconds:.1f}s)"
    )


def run_test(args: argparse.Namespace) -> int:
    from tito.console import console
    from tito.project import find_root, resolve_module
    from tito.student.moduletest import run_module_tests

    root = find_root()
    module = resolve_module(args.module, root)
    with console.status(f"running {module.key} in a fresh kernel"):
        report = run_module_tests(module, cell_timeout=args.timeout)
    render_report(report)
    return 0 if report.passed else 1


def run_status(args: argparse.Namespace) -> int:
    from tito.console import console, table as new_table
    from tito.project import find_root
    from tito.student.status import project_status

    root = find_root()
    with console.status("exporting to a scratch folder to compare"):
        status = project_status(root)
    table = new_table("tito module status", ("module", "exports to", "graded tests", "points", "package in sync",
                                              "tests passed", "last local score"))
    for row in status.modules:
        sync = {True: "[green]yes[/]", False: "[red]no: run tito export[/]", None: "[yellow]unknown[/]"}[row.in_sync]
        score = row.last_score or "-"
        if row.edited_since_test:
            score += " [yellow](edited since: run tito module test)[/]"
        name = row.module + (" [cyan](provided)[/]" if row.provided else "")
        table.add_row(name, row.target, str(row.tests), f"{row.points:g}", sync, row.tests_passed or "-", score)
    if status.sync_error:
        console.print(f"[red]could not compare the package with the sources:[/] {status.sync_error}")
    console.print(table)
    return 0

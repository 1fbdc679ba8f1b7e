"""tito nbgrader init | generate | release | submit | collect | autograde | worker | feedback | report | status"""

from __future__ import annotations

import argparse
import os

STATUS_COLOURS = {"graded": "green", "tampered": "magenta", "timeout": "yellow", "error": "red",
                  "inconclusive": "blue", "missing": "dim", "ungraded": "cyan"}


def register(subparsers) -> None:
    from tito.grading.config import GRADING_CELL_TIMEOUT

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--course", metavar="DIR", default=argparse.SUPPRESS,
                        help="course folder (default: $TITO_COURSE_DIR, else course/ in the project)")
    parser = subparsers.add_parser("nbgrader", parents=[common], help="grade submissions with nbgrader (instructors)",
                                   description="The nbgrader course: generate release notebooks, collect and "
                                   "autograde submissions in a sandbox, feedback, report.")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")

    def action(name: str, handler, help_text: str) -> argparse.ArgumentParser:
        sub = actions.add_parser(name, parents=[common], help=help_text, description=help_text)
        sub.set_defaults(func=handler, needs_extra="instructor")
        return sub

    init = action("init", run_init, "create the course tree, its nbgrader_config.py, the gradebook and the sandbox kernel")
    init.add_argument("--db", metavar="URL", help="a shared gradebook on a database server, e.g. "
                      "postgresql://USER:PASSWORD@HOST:5432/DBNAME (default: SQLite in the course folder)")
    generate = action("generate", run_generate, "module source -> release notebook (solutions stubbed, hidden tests removed)")
    generate.add_argument("modules", nargs="*", metavar="MODULE")
    generate.add_argument("--all", action="store_true", help="every module of the project")
    release = action("release", run_release, "hand out release notebooks through the nbgrader exchange")
    release.add_argument("modules", nargs="*", metavar="MODULE", help="default: every generated module")
    submit = action("submit", run_submit, "submit a notebook for a student, as `nbgrader submit` would")
    submit.add_argument("module", metavar="MODULE")
    submit.add_argument("student", metavar="STUDENT")
    submit.add_argument("notebook", metavar="NOTEBOOK")
    collect = action("collect", run_collect, "gather the latest submission of every student")
    collect.add_argument("modules", nargs="*", metavar="MODULE", help="default: every released module")
    autograde = action("autograde", run_autograde, "grade submissions in sandboxed kernels, several at once")
    autograde.add_argument("module", metavar="MODULE")
    autograde.add_argument("--student", action="append", metavar="S", help="only this student (repeatable)")
    autograde.add_argument("--workers", type=int, default=max(1, os.cpu_count() or 1), metavar="N",
                           help="submissions graded at once on this machine (default: CPU count; "
                           "with --cluster the workers' slots decide)")
    autograde.add_argument("--timeout", type=int, default=GRADING_CELL_TIMEOUT, metavar="SECONDS",
                           help=f"seconds allowed per cell (default: {GRADING_CELL_TIMEOUT})")
    autograde.add_argument("--cluster", metavar="ADDRESS",
                           help="run the kernels on the Dask workers of the scheduler at ADDRESS (tcp://HOST:8786)")
    autograde.add_argument("--force", action="store_true",
                           help="grade again what is already graded (default: only what has no grade yet)")
    worker = action("worker", run_worker, "make this machine a grading worker of the Dask scheduler at ADDRESS")
    worker.add_argument("scheduler", metavar="SCHEDULER_ADDRESS", help="e.g. tcp://grader-head:8786")
    worker.add_argument("--slots", type=int, default=max(1, os.cpu_count() or 1), metavar="N",
                        help="submissions graded at once on this machine (default: CPU count)")
    worker.add_argument("--name", metavar="NAME", help="worker name shown in outcomes (default: Dask's)")
    worker.add_argument("--check-only", action="store_true",
                        help="check versions and the sandbox, install its kernel, then exit (for batch-job prologues)")
    feedback = action("feedback", run_feedback, "feedback HTML for every graded submission (no hidden tests)")
    feedback.add_argument("module", metavar="MODULE")
    report = action("report", run_report, "scores, statuses and failing tests of every student as CSV or JSON, "
                    "or the gradebook CSV that Canvas imports")
    report.add_argument("--format", choices=("csv", "json", "canvas"), default="csv")
    report.add_argument("--lms-students", metavar="FILE", help="with --format canvas: CSV mapping our student ids to "
                        "Canvas's (columns student,name,canvas_id,sis_user_id,sis_login_id,section)")
    report.add_argument("--module", action="append", metavar="MODULE", help="only this module (repeatable)")
    report.add_argument("--output", metavar="FILE", help="write to FILE instead of the terminal")
    action("status", run_status, "per module: generated? released? submissions, graded, failed")
    parser.set_defaults(func=lambda args: (parser.print_help(), 0)[1])


def _course(args):
    from tito.grading.paths import course_paths
    from tito.project import find_root

    override = getattr(args, "course", None)
    try:
        root = find_root()
    except Exception:
        if override is None and not os.environ.get("TITO_COURSE_DIR"):
            raise
        root = None
    return root, course_paths(root, override)


def run_init(args: argparse.Namespace) -> int:
    from tito.console import console
    from tito.grading.course import init_course

    _, course = _course(args)
    with console.status("creating the course"):
        init_course(course, db_url=args.db)
    from sqlalchemy.engine import make_url

    where = make_url(course.db_url).render_as_string(hide_password=True)
    console.print(f"[green]course ready[/] at {course.root} (gradebook {where}, nbgrader_config.py, sandbox kernel)",
                  highlight=False)
    return 0


def run_generate(args: argparse.Namespace) -> int:
    from tito.console import console, table as new_table
    from tito.grading.course import generate
    from tito.project import resolve_modules

    root, course = _course(args)
    modules = resolve_modules(args.modules, root, args.all)
    table = new_table("tito nbgrader generate", ("module", "graded cells", "points", "release notebook", "leak check"))
    for module in modules:
        with console.status(f"generating {module.key}"):
            result = generate(module, course)
        table.add_row(result.module, str(result.graded_cells), f"{result.points:g}", str(result.release),
                      f"[green]clean[/] ({result.secrets_checked} secret lines)")
    console.print(table)
    return 0


def run_release(args: argparse.Namespace) -> int:
    from tito.console import console
    from tito.grading.course import generated_modules, release, resolve_course_module

    _, course = _course(args)
    keys = [resolve_course_module(m, course) for m in args.modules] or generated_modules(course)
    if not keys:
        console.print("[yellow]nothing to release:[/] run `tito nbgrader generate` first")
        return 1
    for key in keys:
        with console.status(f"releasing {key}"):
            target = release(key, course)
        console.print(f"[green]released[/] {key} -> {target}")
    return 0


def run_submit(args: argparse.Namespace) -> int:
    from pathlib import Path

    from tito.console import console
    from tito.grading.course import resolve_course_module, submit

    _, course = _course(args)
    key = resolve_course_module(args.module, course)
    submit(course, key, args.student, Path(args.notebook))
    console.print(f"[green]submitted[/] {key} for {args.student}")
    return 0


def run_collect(args: argparse.Namespace) -> int:
    from tito.console import console
    from tito.grading.course import collect, generated_modules, resolve_course_module

    _, course = _course(args)
    keys = [resolve_course_module(m, course) for m in args.modules]
    keys = keys or [k for k in generated_modules(course) if course.released_in_exchange(k).is_dir()]
    if not keys:
        console.print("[yellow]nothing to collect:[/] no module has been released")
        return 1
    for key in keys:
        with console.status(f"collecting {key}"):
            students = collect(key, course)
        console.print(f"[green]collected[/] {key}: {len(students)} submission(s)")
    return 0


def run_autograde(args: argparse.Namespace) -> int:
    from tito.grading.sandbox import require_linux

    require_linux("tito nbgrader autograde")
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from tito.console import console, table as new_table
    from tito.grading.autograding import autograde
    from tito.grading.course import resolve_course_module

    root, course = _course(args)
    key = resolve_course_module(args.module, course)
    progress = Progress(TextColumn("[bold]autograde {task.fields[module]}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=console)
    task = progress.add_task("grading", total=None, module=key, start=False)

    def started(total: int) -> None:
        # the bar appears only once grading starts: a check that fails first leaves just its red line
        progress.start()
        progress.update(task, total=total)
        progress.start_task(task)

    def finished(outcome) -> None:
        colour = STATUS_COLOURS.get(outcome.status, "white")
        progress.console.print(
            f"  [{colour}]{outcome.status:>8}[/] {outcome.student}: {outcome.score:g}/{outcome.max_score:g}"
            f" ({outcome.seconds:.1f}s){'  ' + outcome.detail if outcome.detail else ''}"
            f"{'  [dim]on ' + escape(outcome.worker) + '[/]' if outcome.worker else ''}", highlight=False)
        progress.advance(task)

    kernels = [args.workers]

    def notice(message: str, at_once: int) -> None:
        console.print(f"[yellow]{escape(message)}[/]", highlight=False)
        kernels[0] = at_once

    try:
        outcomes = autograde(course, key, students=args.student, workers=args.workers,
                             cell_timeout=args.timeout, project_root=root,
                             on_outcome=finished, on_start=started, cluster=args.cluster, force=args.force,
                             on_notice=notice)
    finally:
        progress.stop()
    if not outcomes:
        from tito.grading.course import submitted_students

        if submitted_students(course, key):
            console.print(f"[green]every submission of {key} is graded already:[/] --force grades them again")
        else:
            console.print(f"[yellow]no collected submissions of {key}:[/] run `tito nbgrader collect {key}` first")
        return 0
    where = f"on the Dask cluster at {args.cluster}" if args.cluster else f"with {kernels[0]} worker(s)"
    table = new_table(f"{key}: {len(outcomes)} submission(s) graded {where}",
                      ("student", "score", "status", "failing tests"))
    for outcome in sorted(outcomes, key=lambda o: o.student):
        colour = STATUS_COLOURS.get(outcome.status, "white")
        table.add_row(outcome.student, f"{outcome.score:g}/{outcome.max_score:g}", f"[{colour}]{outcome.status}[/]",
                      ", ".join(outcome.failing_tests))
    console.print(table)
    return 0


def run_worker(args: argparse.Namespace) -> int:
    from tito.grading.sandbox import require_linux

    require_linux("tito nbgrader worker")
    from tito.console import console
    from tito.errors import TitoError
    from tito.grading.cluster import describe_versions, prepare_worker, serve_worker

    if args.slots < 1:
        raise TitoError(f"--slots must be at least 1, got {args.slots}")
    with console.status("checking versions and the grading sandbox"):
        versions = prepare_worker(args.scheduler)
    console.print(f"[green]sandbox ready[/] ({describe_versions(versions)}): a kernel started and ran a cell")
    if args.check_only:
        return 0

    from tito.grading.sandbox import cpu_share

    per_slot = len(cpu_share(0, args.slots))

    def ready(address: str) -> None:
        console.print(f"[green]grading worker {address}[/] with {args.slots} slot(s) of {per_slot} CPU(s), "
                      f"connected to {args.scheduler}; Ctrl-C stops it", highlight=False)
        if per_slot < 2:
            console.print("[yellow]parallel speed checks need 2 CPUs per slot (module 11): here they will be "
                          "inconclusive; give this worker fewer slots or more cores[/]", highlight=False)

    serve_worker(args.scheduler, args.slots, args.name, on_ready=ready)
    return 0


def run_feedback(args: argparse.Namespace) -> int:
    from tito.console import console
    from tito.grading.course import resolve_course_module
    from tito.grading.feedback import generate_feedback

    _, course = _course(args)
    key = resolve_course_module(args.module, course)
    with console.status(f"generating feedback for {key}"):
        result = generate_feedback(course, key)
    console.print(f"[green]feedback[/] for {len(result.written)} submission(s) of {key} under {course.feedback}")
    for student, leaks in result.removed_for_leaks.items():
        console.print(f"[red]removed {student}'s feedback:[/] it quoted {len(leaks)} hidden test line(s)")
    return 1 if result.removed_for_leaks else 0


def run_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from tito.console import console
    from tito.files import write_atomic
    from tito.grading.course import resolve_course_module
    from tito.grading.report import build_report, render_report

    _, course = _course(args)
    modules = [resolve_course_module(m, course) for m in args.module] if args.module else None
    rows = build_report(course, modules)
    text = render_report(rows, args.format, Path(args.lms_students) if args.lms_students else None)
    if args.output:
        write_atomic(Path(args.output), text)
        console.print(f"[green]report written[/] to {args.output}")
        late = [r for r in rows if r.seconds_late > 0]
        if late:  # Canvas's CSV has no late mark: say which scores carry a penalty
            console.print(f"[yellow]{len(late)} late submission(s)[/] (score less nbgrader's late penalty): "
                          + ", ".join(f"{r.student} {r.module} -{r.late_penalty:g}" for r in late[:10])
                          + (" ..." if len(late) > 10 else ""), highlight=False)
    else:
        console.file.write(text)
    return 0


def run_status(args: argparse.Namespace) -> int:
    from tito.console import console, table as new_table
    from tito.grading.status import course_status

    root, course = _course(args)
    table = new_table(f"tito nbgrader status ({course.root})",
                      ("module", "generated", "released", "submissions", "graded", "failed"))
    yes_no = {True: "[green]yes[/]", False: "[dim]no[/]"}
    for row in course_status(course, root):
        table.add_row(row.module, yes_no[row.generated], yes_no[row.released], str(row.submissions),
                      str(row.graded), f"[red]{row.failed}[/]" if row.failed else "0")
    console.print(table)
    return 0

"""tito benchmark kernels [--quick] [--output DIR]"""

from __future__ import annotations

import argparse

BUSY_PERCENT = 5.0  # other processes' share of the CPU above which the timings are flagged


def register(subparsers) -> None:
    parser = subparsers.add_parser("benchmark", help="measure the kernels on this machine")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    kernels = actions.add_parser(
        "kernels",
        help="time every kernel of tinytorch.core.kernels, check the goals, write JSON and a chart",
        description="Measure matmul (n = 64 ... 1024) and ReLU (10^4 ... 10^7 elements) kernels against "
        "this machine's measured peak GFLOP/s and memory bandwidth, check the goals (parallel kernels "
        "against this machine's own multi-core gain, measured in the same run), and write "
        "kernels.json (every sample) and kernels.png into the output directory.",
    )
    kernels.add_argument("--output", metavar="DIR", default=None,
                         help="directory for kernels.json and kernels.png (default: benchmarks/ in the project)")
    kernels.add_argument("--quick", action="store_true", help="small sizes and few samples: a check in seconds")
    kernels.set_defaults(func=run_kernels)


def default_output_dir():
    from pathlib import Path

    from tito.benchmark.kernels import DEFAULT_OUTPUT
    from tito.errors import TitoError
    from tito.project import find_root

    try:
        return find_root() / DEFAULT_OUTPUT
    except TitoError:
        return Path.cwd() / DEFAULT_OUTPUT


def run_kernels(args: argparse.Namespace) -> int:
    from tito.benchmark.kernels import prepare_output_dir, run_kernel_benchmark, write_outputs
    from tito.console import console

    output = prepare_output_dir(args.output if args.output is not None else default_output_dir())
    with console.status("benchmarking") as status:
        results = run_kernel_benchmark(quick=args.quick, progress=lambda message: status.update(message))
    files = write_outputs(results, output)
    render(results)
    console.print(f"wrote {files['json']} and {files['png']}", highlight=False)
    broken = [row for row in results.matmul + results.relu if not row.correct]
    if broken:
        console.print(f"[red]{len(broken)} kernel run(s) failed or gave wrong results[/]")
        return 1
    return 0


def _number(value, fmt: str) -> str:
    return "—" if value is None else format(value, fmt)


def render(results) -> None:
    """Print the machine, the load, one table per size and the goals of a KernelBenchmark."""
    from tinytorch.utils.profiler import format_seconds
    from tito.console import console, table as new_table

    machine = results.machine
    caches = ", ".join(f"{level} {size // 1024} KiB" for level, size in machine["cache_sizes"].items()) or "unknown"
    blas = ", ".join(f"{b['library']} {b['version']} ({b['threads']} threads)" for b in machine["blas"]) or "none found"
    console.print(f"[bold]{machine['cpu_model']}[/] — {machine['cpu_count']} usable cores "
                  f"({machine['physical_cores']} physical), {machine['memory_total_bytes'] / 2**30:.1f} GiB RAM, "
                  f"device {machine['device']}", highlight=False)
    console.print(f"caches: {caches}; BLAS: {blas}", highlight=False)
    console.print(f"measured peak: {machine['peak_gflops']:.1f} GFLOP/s (the fastest float32 product of the run; "
                  f"{machine['peak_gflops_at_start']:.1f} at start-up, n=1024), "
                  f"{machine['memory_bandwidth_gbs']:.1f} GB/s (main-memory copy, 1 thread); ridge point "
                  f"{machine['ridge_point_flop_per_byte']:.1f} FLOP/byte", highlight=False)
    load = results.load
    colour = "yellow" if load["other_cpu_percent"] > BUSY_PERCENT else "default"
    console.print(f"[{colour}]other processes used {load['other_cpu_percent']:.1f}% of the CPU during the "
                  f"{load['seconds']:.0f} s run[/]" + (" — timings, multithreaded ones above all, are disturbed; "
                  "rerun on a quiet machine" if colour == "yellow" else ""), highlight=False)
    if results.quick:
        console.print("[yellow]quick run: small sizes, goals measured below their official sizes[/]")

    def correctness(row) -> str:
        if row.error:
            return f"[red]{row.error}[/]"
        return "[green]yes[/]" if row.correct else f"[red]no (max error {_number(row.max_abs_error, '.2e')})[/]"

    def kernel_table(title: str, rows: list, rate: str) -> None:
        unsettled = [r.kernel for r in rows if not r.quiet]  # the rows, not the table: each row is its own measurement
        disturbed = f" — [yellow]disturbed[/]: {', '.join(unsettled)} never quiet, read with care" if unsettled else ""
        table = new_table(f"{title} — speedup vs {rows[0].baseline or '?'}{disturbed}",
                          ["kernel", ("median time", "right"), (rate, "right"), ("of attainable", "right"),
                           ("speedup", "right"), "correct"])
        for r in rows:
            table.add_row(r.kernel if r.quiet else f"[yellow]{r.kernel}[/]", format_seconds(r.seconds) if r.seconds else "—",
                          _number(r.gflops if rate == "GFLOP/s" else r.gbs, ".2f"),
                          _number(r.fraction_of_attainable, ".1%"),
                          _number(r.speedup, ".1f") + "x" if r.speedup else "—", correctness(r))
        console.print(table)

    for n in results.settings["matmul_sizes"]:
        kernel_table(f"matmul n={n} float32", [r for r in results.matmul if r.size == n], "GFLOP/s")
    for elements in results.settings["relu_sizes"]:
        kernel_table(f"ReLU {elements:,} float32 elements", [r for r in results.relu if r.size == elements], "GB/s")

    table = new_table("goals (each measured within this run; gains are time ratios of medians)",
                      ["goal", ("kernel gain", "right"), ("machine gain", "right"), ("measured", "right"),
                       ("mark", "right"), "result", ("other CPU", "right")])
    for t in results.targets:
        measured = _number(t.measured, ".2f" if t.unit == "%" else ".3f")  # 0.949 must not print as a passing 0.95
        busy = t.load.get("other_cpu_percent")
        table.add_row(t.description, _number(t.kernel_gain, ".2f"), _number(t.machine_gain, ".2f"),
                      f"{measured} {t.unit}", f"{t.comparison} {t.mark:g} {t.unit}",
                      "[green]pass[/]" if t.passed else "[red]miss[/]" if t.quiet else "[yellow]disturbed[/]",
                      f"[{'yellow' if busy > BUSY_PERCENT else 'default'}]{busy:.0f}%[/]" if busy is not None else "—")
    console.print(table)
    if any(not t.quiet for t in results.targets) or any(not r.quiet for r in results.matmul + results.relu):
        from tito.benchmark.goals import TARGET_ATTEMPTS
        from tito.tools.speed import QUIET_SPREAD

        console.print(f"[yellow]disturbed: in each of {TARGET_ATTEMPTS} attempts some contender's median sample was "
                      f"over {QUIET_SPREAD}x its fastest, so no verdict was given; rerun on a quiet machine[/]")
    console.print("the goals on kernels of the tables are read from the tables' own measurements at their sizes",
                  highlight=False)

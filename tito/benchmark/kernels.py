"""The kernel benchmark behind `tito benchmark kernels`.

Plain functions that measure the kernels of `tinytorch.core.kernels` and return
data; `tito/commands/benchmark.py` renders it. Every number is measured in this
process (the import time in fresh subprocesses) or computed from a measurement by
the formula next to it:

- time: median wall seconds of a kernel's samples; every kernel of one size (and
  numpy's own references) is timed in one measurement, contenders taking turns,
  each block after running its kernel untimed for the settle time
  (`tito.tools.blocks.time_blocks`), and measured again while any median is over
  QUIET_SPREAD of its fastest sample (`tito.benchmark.goals.measure_quietly`)
- FLOPs: matmul 2 n^3; ReLU one max per element
- bytes moved: the least traffic the kernel can have: matmul A and B read once and
  C written once (3 n^2 itemsize); ReLU x read and the result written (2 nbytes)
- GFLOP/s = FLOPs / seconds / 1e9; GB/s = bytes / seconds / 1e9;
  arithmetic intensity I = FLOPs / bytes
- attainable GFLOP/s = min(peak, I x bandwidth) (the roofline), where peak is the
  fastest float32 product measured in the run (the start-up measurement or any
  matmul row) and bandwidth the best copy of the kernel's own footprint (one thread
  or every core, or the start-up DRAM figure); fraction of attainable = GFLOP/s /
  attainable
- speedup = baseline seconds / kernel seconds at the same size

The goals, and how they are measured, are in `tito.benchmark.goals`; the timing loop
in `tito.benchmark.measure`; the result types in `tito.benchmark.results`; the chart
in `tito.benchmark.chart`.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from functools import partial
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np

from tito.benchmark.chart import write_chart
from tito.benchmark.goals import (
    KERNELS_MODULE,
    QUICK_TARGET_SIZES,
    TARGET_SIZES,
    measure_quietly,
    measure_targets,
    relu_workers,
    sampling,
)
from tito.benchmark.measure import (
    background_load,
    copy_bandwidth,
    cpu_snapshot,
    machine_description,
    matmul_inputs,
    max_abs_error,
    one_blas_thread,
    quantized_matmul_reference,
    quantized_relu_reference,
    relu_input,
    relu_python_loop,
    thread_parts,
)
from tito.benchmark.results import KernelBenchmark, KernelRow
from tito.errors import TitoError
from tito.files import write_atomic
from tito.tools.blocks import Contender, run_at_once

# the goals' sizes (tito.benchmark.goals) are among them: a goal is read from its table
MATMUL_SIZES = (64, 128, 256, 512, 1024)
RELU_SIZES = (10**4, 10**5, 10**6, 10**7)
QUICK_MATMUL_SIZES = (128, 256)
QUICK_RELU_SIZES = (10**4, 10**6)
NAIVE_MAX_N = 128  # the triple loop takes ~0.4 s at n=128 and 8x longer per doubling
PYTHON_LOOP_MAX_ELEMENTS = 10**5  # the Python-loop ReLU takes ~50 ms at 10^5
ROOF_REPEATS = 5
FLOAT32_TOLERANCE_PER_TERM = 1e-5  # float32 rounding per product term of values in [-1, 1)
JSON_NAME = "kernels.json"
PNG_NAME = "kernels.png"
DEFAULT_OUTPUT = "benchmarks"

Progress = Callable[[str], None]


@dataclass
class Candidate:
    """A kernel to measure at one size, the reference its result must match, and how closely."""

    name: str
    call: Callable[[], Any]
    reference: np.ndarray
    tolerance: float
    limit: Callable | None = None


def load_kernels():
    """`tinytorch.core.kernels`, or a TitoError that says how to produce it."""
    import importlib
    import importlib.util

    if importlib.util.find_spec(KERNELS_MODULE) is None:
        raise TitoError(f"{KERNELS_MODULE} does not exist yet: export the kernels module first with `tito export 11`")
    return importlib.import_module(KERNELS_MODULE)


def measure_rows(family: str, size: int, candidates: list[Candidate], flops: int, bytes_moved: int,
                 quick: bool, settle_seconds: float, cores: int,
                 progress: Progress) -> tuple[list[KernelRow], dict[str, Any] | None]:
    """One row per candidate, baseline (the first that ran) first, all timed in one alternating measurement
    under the quiet rule (`measure_quietly`), which is returned too; a kernel that raises is reported in its
    row and the others are timed without it."""
    samples, rounds = sampling(family, size, quick)
    rows = {c.name: KernelRow(family, c.name, size, "float32", samples, flops, bytes_moved, flops / bytes_moved)
            for c in candidates}
    timed = list(candidates)
    measured = None
    progress(f"{family} {size:g}: {len(candidates)} kernels, {samples} samples each")
    while timed:
        try:
            measured = measure_quietly([Contender(c.name, _naming(c), c.limit) for c in timed], samples, rounds,
                                       settle_seconds, cores)
            break
        except KernelFailed as failed:  # the benchmark goes on with the other kernels
            rows[failed.name].error = f"{type(failed.error).__name__}: {failed.error}"
            timed = [c for c in timed if c.name != failed.name]
    for candidate in timed:
        row, timing = rows[candidate.name], measured["timings"][candidate.name]
        row.seconds, row.samples, row.quiet = timing.median, timing.samples, measured["quiet"]
        row.max_abs_error = max_abs_error(timing.result, candidate.reference)
        row.correct = row.max_abs_error is not None and row.max_abs_error <= candidate.tolerance
        row.gflops, row.gbs = flops / row.seconds / 1e9, bytes_moved / row.seconds / 1e9
    ordered = [rows[c.name] for c in candidates]
    baseline = next((row for row in ordered if row.seconds), None)
    for row in ordered:
        row.baseline = baseline.kernel if baseline else None
        row.speedup = baseline.seconds / row.seconds if baseline and row.seconds else None
    return ordered, measured


class KernelFailed(Exception):
    def __init__(self, name: str, error: Exception):
        super().__init__(name)
        self.name, self.error = name, error


def _naming(candidate: Candidate) -> Callable[[], Any]:
    def call():
        try:
            return candidate.call()
        except Exception as exc:
            raise KernelFailed(candidate.name, exc) from exc
    return call


def footprint_bandwidth(bytes_moved: int, cores: int, dram_gbs: float, settle_seconds: float) -> float:
    """The memory slope of the roof for a kernel that moves `bytes_moved`: the best copy of that footprint.

    Copying bytes_moved / 2 into a preallocated array on one thread and on every core,
    and the start-up DRAM figure: a footprint that fits in cache streams faster than
    main memory, so one machine-wide bandwidth would put small kernels above their roof.
    """
    return max([dram_gbs] + [copy_bandwidth(bytes_moved // 2, threads, ROOF_REPEATS, settle_seconds)
                             for threads in sorted({1, cores})])


def apply_roofline(rows: list[KernelRow], peak_gflops: float, bandwidth_gbs: float) -> None:
    """Set each row's roof, min(peak, I x bandwidth), and its fraction of it."""
    from tinytorch.utils.profiler import attainable_gflops

    for row in rows:
        row.attainable_gbs = bandwidth_gbs
        row.attainable_gflops = attainable_gflops(row.intensity_flop_per_byte, peak_gflops, bandwidth_gbs)
        row.fraction_of_attainable = row.gflops / row.attainable_gflops if row.gflops else None


def matmul_candidates(kernels, n: int) -> list[Candidate]:
    """The matmul kernels at size n (float32), the module 03 loop first where it is affordable, and numpy's
    own product on one BLAS thread and on all of them (the machine's references)."""
    a, b = matmul_inputs(n)
    reference = a.astype(np.float64) @ b.astype(np.float64)
    tolerance = FLOAT32_TOLERANCE_PER_TERM * n
    quantized = quantized_matmul_reference(a, b)
    candidates = []
    if n <= NAIVE_MAX_N:
        candidates.append(Candidate("matmul_custom", lambda: kernels.matmul_custom(a, b), reference, tolerance))
    return candidates + [
        Candidate("matmul_vectorized", lambda: kernels.matmul_vectorized(a, b), reference, tolerance),
        Candidate("numpy @, 1 BLAS thread", lambda: a @ b, reference, tolerance, one_blas_thread()),
        Candidate("numpy @", lambda: a @ b, reference, tolerance),
        Candidate("matmul_cache_optimized", lambda: kernels.matmul_cache_optimized(a, b), reference, tolerance),
        Candidate("matmul_parallel", lambda: kernels.matmul_parallel(a, b), reference, tolerance),
        Candidate("quantized_matmul", lambda: kernels.quantized_matmul(a, b), quantized,
                  FLOAT32_TOLERANCE_PER_TERM * max(1.0, float(np.max(np.abs(quantized))))),
    ]


def relu_candidates(kernels, elements: int, pool, workers: int) -> list[Candidate]:
    """The ReLU kernels on `elements` float32 values, the Python loop first where it is affordable, and the
    machine's streaming references: numpy's maximum into a fresh output on one thread, and on `workers`
    threads of `pool` each writing its part of one fresh output."""
    x = relu_input(elements)
    reference = np.maximum(x, 0).astype(np.float64)
    parts = thread_parts(elements, workers)

    def threads_into_one_fresh_output() -> np.ndarray:
        out = np.empty_like(x)
        run_at_once(pool, [partial(np.maximum, x[lo:hi], 0, out=out[lo:hi]) for lo, hi in parts])
        return out

    candidates = []
    if elements <= PYTHON_LOOP_MAX_ELEMENTS:
        candidates.append(Candidate("relu_python_loop", lambda: relu_python_loop(x), reference, 0.0))
    return candidates + [
        Candidate("vectorized_relu", lambda: kernels.vectorized_relu(x), reference, 0.0),
        Candidate("numpy maximum, 1 thread", lambda: np.maximum(x, 0), reference, 0.0),
        Candidate(f"numpy maximum, {workers} threads", threads_into_one_fresh_output, reference, 0.0),
        Candidate("parallel_relu", lambda: kernels.parallel_relu(x), reference, 0.0),
        Candidate("quantized_relu", lambda: kernels.quantized_relu(x), quantized_relu_reference(x), 1e-6),
    ]


def run_kernel_benchmark(quick: bool = False, progress: Progress | None = None) -> KernelBenchmark:
    """Measure every kernel at every size, and every goal; return all of it.

    `quick` uses small sizes and few samples (seconds instead of minutes); its goals
    are measured at smaller sizes than the official ones and are marked so.
    """
    import psutil

    progress = progress or (lambda message: None)
    kernels = load_kernels()
    settle = kernels.BLAS_SETTLE_SECONDS
    cores = psutil.cpu_count() or 1
    start = cpu_snapshot()
    progress("measuring this machine's peak GFLOP/s and memory bandwidth")
    machine = machine_description()
    matmul_sizes = QUICK_MATMUL_SIZES if quick else MATMUL_SIZES
    relu_sizes = QUICK_RELU_SIZES if quick else RELU_SIZES
    measured: dict[tuple[str, int], dict[str, Any]] = {}
    matmul, relu = [], []
    for n in matmul_sizes:
        rows, measured[("matmul", n)] = measure_rows("matmul", n, matmul_candidates(kernels, n), 2 * n**3,
                                                     3 * n * n * 4, quick, settle, cores, progress)
        matmul += rows
    workers = relu_workers(kernels)
    with ThreadPoolExecutor(max_workers=max(1, workers - 1)) as pool:
        for elements in relu_sizes:
            rows, measured[("relu", elements)] = measure_rows("relu", elements,
                                                              relu_candidates(kernels, elements, pool, workers),
                                                              elements, 2 * 4 * elements, quick, settle, cores,
                                                              progress)
            relu += rows
    # The compute roof is the fastest float32 product measured in this run: the start-up
    # figure, or any row that beat it once BLAS had settled.
    machine["peak_gflops_at_start"] = machine["peak_gflops"]
    machine["peak_gflops"] = max([machine["peak_gflops"]] + [row.gflops for row in matmul if row.correct])
    machine["ridge_point_flop_per_byte"] = machine["peak_gflops"] / machine["memory_bandwidth_gbs"]
    progress("measuring the copy bandwidth of every footprint (the roofline's memory slope)")
    for family in (matmul, relu):
        for size in sorted({row.size for row in family}):
            rows = [row for row in family if row.size == size]
            apply_roofline(rows, machine["peak_gflops"],
                           footprint_bandwidth(rows[0].bytes_moved, cores, machine["memory_bandwidth_gbs"], settle))
    targets = measure_targets(kernels, quick, settle, progress, measured)
    load = background_load(start, cpu_snapshot(), cores)
    return KernelBenchmark(
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        quick=quick,
        settings={
            "samples": {f"{family} {size}": list(sampling(family, size, quick)) for family, size in measured},
            "settle_seconds": settle,
            "matmul_sizes": list(matmul_sizes),
            "relu_sizes": list(relu_sizes),
            "naive_max_n": NAIVE_MAX_N,
            "python_loop_max_elements": PYTHON_LOOP_MAX_ELEMENTS,
            "target_sizes": QUICK_TARGET_SIZES if quick else TARGET_SIZES,
        },
        machine=machine, load=load, matmul=matmul, relu=relu, targets=targets,
    )


# ---------------------------------------------------------------- files


def write_json(results: KernelBenchmark, path: Path) -> Path:
    write_atomic(path, json.dumps(asdict(results), indent=2) + "\n")
    return path


def prepare_output_dir(output_dir: str | os.PathLike) -> Path:
    """Create `output_dir` if needed; a TitoError when it is a file or cannot be created."""
    folder = Path(output_dir)
    if folder.exists() and not folder.is_dir():
        raise TitoError(f"--output {folder} is a file; give a directory for the benchmark results")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TitoError(f"cannot create the output directory {folder}: {exc.strerror}") from exc
    return folder


def write_outputs(results: KernelBenchmark, output_dir: str | os.PathLike) -> dict[str, Path]:
    """Write `kernels.json` and `kernels.png` into `output_dir` (created if needed)."""
    folder = prepare_output_dir(output_dir)
    files = {"json": folder / JSON_NAME, "png": folder / PNG_NAME}
    write_chart(results, files["png"])
    write_json(results, files["json"])
    return files

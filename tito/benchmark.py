"""The kernel benchmark behind `tito benchmark kernels`.

Plain functions that measure the kernels of `tinytorch.core.kernels` and return
data; `tito/commands/benchmark.py` renders it. Every number is measured in this
process (the import time in fresh subprocesses) or computed from a measurement by
the formula next to it:

- time: median wall seconds of `repeats` calls after one warm-up call
- matmul GFLOP/s = 2 n^3 / seconds / 1e9; arithmetic intensity = 2 n^3 / (3 n^2 itemsize)
  (A and B read once, C written once: the least traffic a product can have)
- ReLU GB/s = 2 * nbytes / seconds / 1e9 (read x, write the result);
  GFLOP/s = elements / seconds / 1e9 (one max per element)
- % of peak: GFLOP/s over the measured peak matmul GFLOP/s, or GB/s over the measured
  stream-copy bandwidth (both from `tinytorch.utils.profiler.detect_hardware`)
- speedup = baseline seconds / kernel seconds at the same size
- target ratios: medians over alternating blocks of calls of the two contenders,
  so that a change in machine load hits both alike

OpenBLAS worker threads keep spinning for about 0.1 s after a multithreaded product;
a kernel measured inside that window shares the cores with them. Every measurement
block therefore starts after BLAS_SETTLE_SECONDS of sleep.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np

from tito.errors import TitoError

MATMUL_SIZES = (64, 128, 256, 512, 1024)
RELU_SIZES = (10**4, 10**5, 10**6, 10**7)
QUICK_MATMUL_SIZES = (32, 64)
QUICK_RELU_SIZES = (10**4, 10**5)
NAIVE_MAX_N = 128  # the triple loop takes ~0.4 s at n=128 and 8x longer per doubling
PYTHON_LOOP_MAX_ELEMENTS = 10**5  # the Python-loop ReLU takes ~50 ms at 10^5
REPEATS = 5
QUICK_REPEATS = 3
NAIVE_REPEATS = 3
TARGET_REPEATS = 25
OVERHEAD_REPEATS = 101  # a few microseconds of overhead on a ~0.2 ms product needs many samples
TARGET_ROUNDS = 5  # alternating blocks per contender in a target comparison
BLAS_SETTLE_SECONDS = 0.2  # OpenBLAS threads spin ~0.1 s after a multithreaded call
IMPORT_RUNS = 3
KERNELS_MODULE = "tinytorch.core.kernels"
JSON_NAME = "kernels.json"
PNG_NAME = "kernels.png"
DEFAULT_OUTPUT = "benchmarks"

# The target sizes of the course issue; --quick uses the smaller ones.
TARGET_SIZES = {"matmul": 1024, "quantized": 512, "relu": 10**7, "overhead": 256}
QUICK_TARGET_SIZES = {"matmul": 256, "quantized": 128, "relu": 10**6, "overhead": 128}

Progress = Callable[[str], None]


def load_kernels():
    """`tinytorch.core.kernels`, or a TitoError that says how to produce it."""
    import importlib
    import importlib.util

    if importlib.util.find_spec(KERNELS_MODULE) is None:
        raise TitoError(f"{KERNELS_MODULE} does not exist yet: export the kernels module first with `tito export 11`")
    return importlib.import_module(KERNELS_MODULE)


# ---------------------------------------------------------------- timing


Limit = Callable[[], contextlib.AbstractContextManager]


def _seconds(func: Callable[[], Any], limit: Limit | None = None) -> float:
    """Wall seconds of one call; `limit` (e.g. one BLAS thread) is entered outside the timed region."""
    with limit() if limit else contextlib.nullcontext():
        start = time.perf_counter()
        func()
        return time.perf_counter() - start


def _call(func: Callable[[], Any], limit: Limit | None = None) -> Any:
    with limit() if limit else contextlib.nullcontext():
        return func()


def median_time(func: Callable[[], Any], repeats: int, limit: Limit | None = None) -> tuple[float, Any]:
    """(median seconds of `repeats` timed calls, result of the untimed warm-up call)."""
    result = _call(func, limit)
    return statistics.median(_seconds(func, limit) for _ in range(repeats)), result


def let_blas_settle() -> None:
    """Sleep until BLAS worker threads of an earlier multithreaded call have stopped spinning."""
    time.sleep(BLAS_SETTLE_SECONDS)


def alternating_medians(first: Callable[[], Any], second: Callable[[], Any], repeats: int,
                        rounds: int = TARGET_ROUNDS, second_limit: Limit | None = None,
                        settle: bool = True) -> tuple[float, float, dict[str, list[float]]]:
    """Median seconds of `first` and of `second` over `rounds` alternating blocks, and every sample.

    Each block lets BLAS settle, makes one warm-up call, then times
    ceil(repeats / rounds) calls of one contender. Blocks, not single alternating
    calls, so that a thread-parallel contender never runs inside the other's BLAS
    spin window. `settle=False` with `rounds=repeats` alternates single calls: right
    when both contenders run the same BLAS call and only a small difference is measured.
    """
    per_block = -(-repeats // rounds)
    first_times, second_times = [], []
    for _ in range(rounds):
        for func, limit, times in ((first, None, first_times), (second, second_limit, second_times)):
            if settle:
                let_blas_settle()
            _call(func, limit)
            times.extend(_seconds(func, limit) for _ in range(per_block))
    samples = {"kernel_samples": first_times, "baseline_samples": second_times}
    return statistics.median(first_times), statistics.median(second_times), samples


def one_blas_thread() -> Limit:
    """A context factory that limits BLAS to one thread (threadpoolctl)."""
    from threadpoolctl import ThreadpoolController

    controller = ThreadpoolController()
    return lambda: controller.limit(limits=1, user_api="blas")


# ---------------------------------------------------------------- inputs and references


def matmul_inputs(n: int, dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Two n x n matrices with entries in [-1, 1), the same for every run (seed 0)."""
    rng = np.random.default_rng(0)
    return rng.uniform(-1, 1, (n, n)).astype(dtype), rng.uniform(-1, 1, (n, n)).astype(dtype)


def int8_inputs(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Two n x n int8 matrices with entries in [-127, 127] (seed 1)."""
    rng = np.random.default_rng(1)
    return (rng.integers(-127, 128, (n, n), dtype=np.int8), rng.integers(-127, 128, (n, n), dtype=np.int8))


def relu_input(elements: int) -> np.ndarray:
    """float32 values evenly spaced in [-1, 1]: half negative, half positive."""
    return np.linspace(-1.0, 1.0, elements, dtype=np.float32)


def relu_python_loop(x: np.ndarray) -> np.ndarray:
    """ReLU one element at a time in Python: the baseline the vectorized kernels start from."""
    flat = x.ravel()
    out = np.empty_like(flat)
    for i in range(flat.size):
        value = flat[i]
        out[i] = value if value > 0 else 0
    return out.reshape(x.shape)


def quantize_reference(x: np.ndarray) -> tuple[np.ndarray, float]:
    """Symmetric int8 quantization as API.md defines it: scale = max|x| / 127, q = clip(round(x / scale)).

    x / scale is computed in x's own float dtype, as the kernels module does: for
    float32 input a float64 division would round a few halfway values differently.
    """
    values = x if x.dtype.kind == "f" else x.astype(np.float64)
    peak = float(np.max(np.abs(values))) if values.size else 0.0
    scale = peak / 127 if peak > 0 else 1.0
    return np.clip(np.rint(values / scale), -127, 127).astype(np.int64), scale


def quantized_matmul_reference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    qa, scale_a = quantize_reference(a)
    qb, scale_b = quantize_reference(b)
    return (qa @ qb) * (scale_a * scale_b)


def quantized_relu_reference(x: np.ndarray) -> np.ndarray:
    q, scale = quantize_reference(x)
    return np.maximum(q, 0) * scale


# ---------------------------------------------------------------- measurements


def _row(kernel: str, seconds: float, result: Any, reference: np.ndarray, tolerance: float) -> dict[str, Any]:
    got = np.asarray(getattr(result, "data", result), dtype=np.float64)
    if got.shape != reference.shape:
        return {"kernel": kernel, "seconds": seconds, "correct": False, "max_abs_error": None}
    error = float(np.max(np.abs(got - reference))) if got.size else 0.0
    return {"kernel": kernel, "seconds": seconds, "correct": bool(error <= tolerance), "max_abs_error": error}


def _error_row(kernel: str, exc: Exception) -> dict[str, Any]:
    return {"kernel": kernel, "seconds": None, "correct": False, "max_abs_error": None,
            "error": f"{type(exc).__name__}: {exc}"}


def measure_matmul(kernels, n: int, repeats: int, peak_gflops: float, progress: Progress) -> list[dict[str, Any]]:
    """One row per matmul kernel at size n (float32), baseline first."""
    a, b = matmul_inputs(n)
    reference = a.astype(np.float64) @ b.astype(np.float64)
    float_tolerance = 1e-5 * n  # float32 rounding over n products of values in [-1, 1)
    quantized = quantized_matmul_reference(a, b)
    single_thread = one_blas_thread()

    candidates: list[tuple[str, Callable[[], Any], np.ndarray, float, int, Limit | None]] = []
    if n <= NAIVE_MAX_N:
        candidates.append(("matmul_custom", lambda: kernels.matmul_custom(a, b), reference, float_tolerance,
                           min(repeats, NAIVE_REPEATS), None))
    candidates += [
        ("matmul_vectorized", lambda: kernels.matmul_vectorized(a, b), reference, float_tolerance, repeats, None),
        ("numpy @, 1 BLAS thread", lambda: a @ b, reference, float_tolerance, repeats, single_thread),
        ("matmul_cache_optimized", lambda: kernels.matmul_cache_optimized(a, b), reference, float_tolerance, repeats,
         None),
        ("matmul_parallel", lambda: kernels.matmul_parallel(a, b), reference, float_tolerance, repeats, None),
        ("quantized_matmul", lambda: kernels.quantized_matmul(a, b), quantized,
         1e-5 * max(1.0, float(np.max(np.abs(quantized)))), repeats, None),
    ]
    flops = 2 * n**3
    rows = []
    for kernel, call, expected, tolerance, kernel_repeats, limit in candidates:
        progress(f"matmul n={n}: {kernel}")
        let_blas_settle()
        try:
            seconds, result = median_time(call, kernel_repeats, limit)
            row = _row(kernel, seconds, result, expected, tolerance)
        except Exception as exc:  # a broken kernel is reported in its row; the benchmark goes on
            rows.append({"n": n, "dtype": "float32", **_error_row(kernel, exc)})
            continue
        gflops = flops / seconds / 1e9
        rows.append({
            "n": n,
            "dtype": "float32",
            **row,
            "repeats": kernel_repeats,
            "flops": flops,
            "gflops": gflops,
            "intensity_flop_per_byte": flops / (3 * n * n * a.itemsize),
            "percent_of_peak": 100.0 * gflops / peak_gflops,
        })
    _add_speedups(rows)
    return rows


def measure_relu(kernels, elements: int, repeats: int, bandwidth_gbs: float, progress: Progress) -> list[dict[str, Any]]:
    """One row per ReLU kernel on `elements` float32 values, baseline first."""
    x = relu_input(elements)
    reference = np.maximum(x, 0).astype(np.float64)
    candidates: list[tuple[str, Callable[[], Any], np.ndarray, float]] = []
    if elements <= PYTHON_LOOP_MAX_ELEMENTS:
        candidates.append(("relu_python_loop", lambda: relu_python_loop(x), reference, 0.0))
    candidates += [
        ("vectorized_relu", lambda: kernels.vectorized_relu(x), reference, 0.0),
        ("parallel_relu", lambda: kernels.parallel_relu(x), reference, 0.0),
        ("quantized_relu", lambda: kernels.quantized_relu(x), quantized_relu_reference(x), 1e-6),
    ]
    nbytes = 2 * x.nbytes
    rows = []
    for kernel, call, expected, tolerance in candidates:
        progress(f"relu {elements:.0e} elements: {kernel}")
        let_blas_settle()
        try:
            seconds, result = median_time(call, repeats)
            row = _row(kernel, seconds, result, expected, tolerance)
        except Exception as exc:  # a broken kernel is reported in its row; the benchmark goes on
            rows.append({"elements": elements, "dtype": "float32", **_error_row(kernel, exc)})
            continue
        gbs = nbytes / seconds / 1e9
        rows.append({
            "elements": elements,
            "dtype": "float32",
            **row,
            "repeats": repeats,
            "bytes": nbytes,
            "gbs": gbs,
            "gflops": elements / seconds / 1e9,
            "intensity_flop_per_byte": elements / nbytes,
            "percent_of_bandwidth": 100.0 * gbs / bandwidth_gbs,
        })
    _add_speedups(rows)
    return rows


def _add_speedups(rows: list[dict[str, Any]]) -> None:
    """speedup = baseline seconds / seconds; the baseline is the first row that ran."""
    measured = [row for row in rows if row.get("seconds")]
    if not measured:
        return
    baseline = measured[0]
    for row in rows:
        row["baseline"] = baseline["kernel"]
        row["speedup"] = baseline["seconds"] / row["seconds"] if row.get("seconds") else None


# ---------------------------------------------------------------- targets


def _target(name: str, description: str, measured: float | None, target: float, higher_is_better: bool,
            unit: str, size: int, **details: Any) -> dict[str, Any]:
    if measured is None:
        passed = False
    else:
        passed = measured >= target if higher_is_better else measured <= target
    return {"name": name, "description": description, "measured": measured, "target": target,
            "comparison": ">=" if higher_is_better else "<=", "unit": unit, "size": size,
            "passed": bool(passed), **details}


def measure_import_time(module: str = KERNELS_MODULE, runs: int = IMPORT_RUNS) -> dict[str, Any]:
    """Seconds to import `module` in fresh interpreters (median of `runs`), and whether it printed anything.

    The timer runs inside the subprocess around the import statement only, so
    interpreter start-up is not counted; stdout and stderr must stay empty.
    """
    seconds, output = [], []
    with tempfile.TemporaryDirectory() as folder:
        for run in range(runs):
            timing = Path(folder) / f"import-{run}.txt"
            code = ("import sys, time\n"
                    "start = time.perf_counter()\n"
                    f"import {module}\n"
                    "elapsed = time.perf_counter() - start\n"
                    "open(sys.argv[1], 'w').write(repr(elapsed))\n")
            done = subprocess.run([sys.executable, "-c", code, str(timing)], capture_output=True, text=True, timeout=120)
            if done.returncode != 0:
                raise TitoError(f"importing {module} failed in a fresh interpreter:\n{done.stderr.strip()}")
            seconds.append(float(timing.read_text()))
            output.append(done.stdout + done.stderr)
    printed = "".join(output)
    return {"seconds": statistics.median(seconds), "runs": seconds, "silent": printed == "", "output": printed[:2000]}


def measure_targets(kernels, quick: bool, progress: Progress) -> list[dict[str, Any]]:
    """The target ratios of the course issue, each measured within this run.

    Each comparison records the medians and every timed sample of both sides.
    """
    sizes = QUICK_TARGET_SIZES if quick else TARGET_SIZES
    repeats = QUICK_REPEATS if quick else TARGET_REPEATS
    rounds = 1 if quick else TARGET_ROUNDS
    targets = []

    def compare(kernel: Callable[[], Any], baseline: Callable[[], Any], count: int = repeats, **options: Any):
        kernel_seconds, baseline_seconds, samples = alternating_medians(kernel, baseline, count, **options)
        return kernel_seconds, baseline_seconds, {"kernel_seconds": kernel_seconds,
                                                  "baseline_seconds": baseline_seconds, **samples}

    n = sizes["matmul"]
    a, b = matmul_inputs(n)
    progress(f"target: matmul_parallel(num_processes=2) vs 1-thread BLAS, n={n}")
    parallel_2, single, timing = compare(lambda: kernels.matmul_parallel(a, b, num_processes=2), lambda: a @ b,
                                         rounds=rounds, second_limit=one_blas_thread())
    targets.append(_target("parallel_vs_single_thread_blas",
                           f"matmul_parallel(num_processes=2) vs single-thread BLAS @, n={n} float32 (speedup)",
                           single / parallel_2, 1.8, True, "x", n, **timing))

    progress(f"target: matmul_parallel default vs multithreaded numpy @, n={n}")
    parallel_default, numpy_at, timing = compare(lambda: kernels.matmul_parallel(a, b), lambda: a @ b, rounds=rounds)
    targets.append(_target("parallel_vs_numpy_multithreaded",
                           f"matmul_parallel (default workers) vs numpy's multithreaded @, n={n} float32 (speedup)",
                           numpy_at / parallel_default, 0.95, True, "x", n, **timing))

    progress(f"target: matmul_cache_optimized vs numpy @, n={n}")
    blocked, numpy_at, timing = compare(lambda: kernels.matmul_cache_optimized(a, b), lambda: a @ b, rounds=rounds)
    targets.append(_target("cache_optimized_vs_numpy",
                           f"matmul_cache_optimized (default block) time relative to numpy @, n={n} float32",
                           blocked / numpy_at, 1.3, False, "x time", n, **timing))

    n = sizes["quantized"]
    a8, b8 = int8_inputs(n)
    a32, b32 = a8.astype(np.int32), b8.astype(np.int32)
    exact = a8.astype(np.int64) @ b8.astype(np.int64)
    progress(f"target: quantized_matmul vs numpy int32 @, n={n}")
    product = kernels.quantized_matmul(a8, b8, scale_A=1.0, scale_B=1.0)  # scale 1: q is the int8 data itself
    product = np.asarray(getattr(product, "data", product), dtype=np.float64)
    exact_match = bool(product.shape == exact.shape and np.array_equal(product, exact.astype(np.float64)))
    # numpy's int32 @ takes ~0.15 s at n=512, so fewer samples
    quantized, int32_at, timing = compare(lambda: kernels.quantized_matmul(a8, b8, scale_A=1.0, scale_B=1.0),
                                          lambda: a32 @ b32, max(rounds, repeats // 3), rounds=rounds)
    target = _target("quantized_vs_numpy_int32",
                     f"quantized_matmul vs numpy int32 @ on the same int8 data, n={n} "
                     "(speedup; product equal to int64 reference)",
                     int32_at / quantized, 50.0, True, "x", n, exact_integer_product=exact_match, **timing)
    target["passed"] = target["passed"] and exact_match
    targets.append(target)

    elements = sizes["relu"]
    x = relu_input(elements)
    progress(f"target: parallel_relu vs vectorized_relu, {elements:.0e} elements")
    parallel, vectorized, timing = compare(lambda: kernels.parallel_relu(x), lambda: kernels.vectorized_relu(x),
                                           rounds=rounds)
    targets.append(_target("parallel_relu_vs_vectorized",
                           f"parallel_relu vs vectorized_relu, {elements:.0e} float32 elements (speedup)",
                           vectorized / parallel, 1.5, True, "x", elements, **timing))

    n = sizes["overhead"]
    a, b = matmul_inputs(n)
    progress(f"target: matmul_vectorized overhead vs raw @, n={n}")
    count = repeats if quick else OVERHEAD_REPEATS
    wrapped, raw, timing = compare(lambda: kernels.matmul_vectorized(a, b), lambda: a @ b, count,
                                   rounds=count, settle=False)
    targets.append(_target("vectorized_overhead",
                           f"matmul_vectorized time over raw numpy @, n={n} float32 (overhead, %)",
                           100.0 * (wrapped / raw - 1.0), 5.0, False, "%", n, **timing))

    progress(f"target: import {KERNELS_MODULE} in a fresh interpreter")
    imported = measure_import_time(runs=1 if quick else IMPORT_RUNS)
    target = _target("kernels_import_time", f"import {KERNELS_MODULE} in a fresh interpreter (seconds, silent)",
                     imported["seconds"], 0.3, False, "s", 0, silent=imported["silent"], runs=imported["runs"],
                     output=imported["output"])
    target["passed"] = target["passed"] and imported["silent"]
    targets.append(target)
    return targets


# ---------------------------------------------------------------- the whole benchmark


def cpu_snapshot() -> dict[str, float]:
    """Machine-wide busy CPU seconds, this process's (and its children's) CPU seconds, wall clock."""
    import psutil

    machine = psutil.cpu_times()
    busy = sum(value for field, value in machine._asdict().items() if field not in ("idle", "iowait", "guest", "guest_nice"))
    own = psutil.Process().cpu_times()
    return {"busy": busy, "own": own.user + own.system + own.children_user + own.children_system,
            "wall": time.perf_counter()}


def background_load(start: dict[str, float], end: dict[str, float], cores: int) -> dict[str, float]:
    """Share of the machine's CPU that other processes (and the hypervisor's steal) used between two snapshots.

    other_cpu_percent = 100 * (machine busy seconds - this process's seconds) / (wall seconds * cores).
    Above a few percent the timings of multithreaded kernels are disturbed.
    """
    wall = end["wall"] - start["wall"]
    other = max(0.0, (end["busy"] - start["busy"]) - (end["own"] - start["own"]))
    return {"seconds": wall, "other_cpu_percent": 100.0 * other / (wall * cores) if wall > 0 else 0.0}


def machine_description() -> dict[str, Any]:
    """detect_hardware() (measured peaks included) plus the BLAS library and versions."""
    from threadpoolctl import threadpool_info

    from tinytorch.utils.profiler import detect_hardware

    hardware = detect_hardware(measure=True)
    hardware["blas"] = [{"library": info.get("internal_api"), "version": info.get("version"),
                         "threads": info.get("num_threads")}
                        for info in threadpool_info() if info.get("user_api") == "blas"]
    hardware["python"] = platform.python_version()
    hardware["numpy"] = np.__version__
    return hardware


def run_kernel_benchmark(quick: bool = False, progress: Progress | None = None) -> dict[str, Any]:
    """Measure every kernel at every size and the target ratios; return all of it as one dict.

    `quick` uses small sizes and few repeats (seconds instead of a minute); its
    target ratios are measured at smaller sizes than the official targets and are
    marked so.
    """
    import psutil

    progress = progress or (lambda message: None)
    kernels = load_kernels()
    start = cpu_snapshot()
    progress("measuring this machine's peak GFLOP/s and memory bandwidth")
    machine = machine_description()
    repeats = QUICK_REPEATS if quick else REPEATS
    matmul_sizes = QUICK_MATMUL_SIZES if quick else MATMUL_SIZES
    relu_sizes = QUICK_RELU_SIZES if quick else RELU_SIZES
    matmul = [row for n in matmul_sizes
              for row in measure_matmul(kernels, n, repeats, machine["peak_gflops"], progress)]
    relu = [row for elements in relu_sizes
            for row in measure_relu(kernels, elements, repeats, machine["memory_bandwidth_gbs"], progress)]
    targets = measure_targets(kernels, quick, progress)
    load = background_load(start, cpu_snapshot(), psutil.cpu_count() or 1)
    return {
        "benchmark": "kernels",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "quick": quick,
        "settings": {
            "repeats": repeats,
            "matmul_sizes": list(matmul_sizes),
            "relu_sizes": list(relu_sizes),
            "naive_max_n": NAIVE_MAX_N,
            "python_loop_max_elements": PYTHON_LOOP_MAX_ELEMENTS,
            "target_sizes": QUICK_TARGET_SIZES if quick else TARGET_SIZES,
        },
        "machine": machine,
        "load": load,
        "matmul": matmul,
        "relu": relu,
        "targets": targets,
    }


# ---------------------------------------------------------------- files


def _replace_atomically(path: Path, write: Callable[[Path], None]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(results: dict[str, Any], path: Path) -> Path:
    _replace_atomically(path, lambda tmp: tmp.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8"))
    return path


def write_chart(results: dict[str, Any], path: Path) -> Path:
    """PNG: the matmul speed ladder, ReLU bandwidth, and the roofline with every kernel on it."""
    from matplotlib.figure import Figure

    machine = results["machine"]
    peak, bandwidth = machine["peak_gflops"], machine["memory_bandwidth_gbs"]
    figure = Figure(figsize=(18, 5.5), layout="constrained")
    ladder, relu_axis, roofline = figure.subplots(1, 3)

    def by_kernel(rows):
        kernels: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            if row.get("seconds"):
                kernels.setdefault(row["kernel"], []).append(row)
        return kernels

    matmul_kernels, relu_kernels = by_kernel(results["matmul"]), by_kernel(results["relu"])
    palette = [f"C{i}" for i in range(10)]
    colour = {kernel: palette[i % len(palette)] for i, kernel in enumerate([*matmul_kernels, *relu_kernels])}

    for kernel, rows in matmul_kernels.items():
        ladder.plot([r["n"] for r in rows], [r["gflops"] for r in rows], marker="o", color=colour[kernel], label=kernel)
    ladder.axhline(peak, color="black", linestyle="--", linewidth=1, label=f"measured peak {peak:.0f} GFLOP/s")
    sizes = results["settings"]["matmul_sizes"]
    ladder.set(xscale="log", yscale="log", xlabel="matrix size n (float32)", ylabel="GFLOP/s = 2n³ / time",
               title="Matmul speed ladder")
    ladder.minorticks_off()
    ladder.set_xticks(sizes, [str(n) for n in sizes])
    ladder.legend(fontsize=8)

    for kernel, rows in relu_kernels.items():
        relu_axis.plot([r["elements"] for r in rows], [r["gbs"] for r in rows], marker="^", color=colour[kernel], label=kernel)
    relu_axis.axhline(bandwidth, color="black", linestyle="--", linewidth=1, label=f"measured copy {bandwidth:.1f} GB/s")
    relu_axis.set(xscale="log", yscale="log", xlabel="elements (float32)", ylabel="GB/s = bytes read + written / time",
                  title="ReLU bandwidth")
    relu_axis.legend(fontsize=8)

    ridge = peak / bandwidth
    intensities = [r["intensity_flop_per_byte"] for rows in (*matmul_kernels.values(), *relu_kernels.values()) for r in rows]
    grid = np.geomspace(min(intensities + [ridge]) / 4, max(intensities + [ridge]) * 4, 200)
    roofline.plot(grid, np.minimum(peak, grid * bandwidth), color="black", linewidth=2,
                  label=f"min({peak:.0f} GFLOP/s, I × {bandwidth:.1f} GB/s)")
    roofline.axvline(ridge, color="grey", linestyle=":", linewidth=1, label=f"ridge point {ridge:.1f} FLOP/byte")
    for kernels, marker in ((matmul_kernels, "o"), (relu_kernels, "^")):
        for kernel, rows in kernels.items():
            roofline.scatter([r["intensity_flop_per_byte"] for r in rows], [r["gflops"] for r in rows],
                             marker=marker, color=colour[kernel], label=kernel, s=28)
    roofline.set(xscale="log", yscale="log", xlabel="arithmetic intensity I (FLOP per byte)", ylabel="GFLOP/s",
                 title="Roofline: matmul (o) at I = n/6, ReLU (^) at I = 1/8")
    roofline.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))

    figure.suptitle(f"TinyTorch kernels on {machine['cpu_model']} ({machine['cpu_count']} cores)"
                    + (" — quick run" if results["quick"] else ""))
    _replace_atomically(path, lambda tmp: figure.savefig(tmp, format="png", dpi=110))
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


def write_outputs(results: dict[str, Any], output_dir: str | os.PathLike) -> dict[str, Path]:
    """Write `kernels.json` and `kernels.png` into `output_dir` (created if needed)."""
    folder = prepare_output_dir(output_dir)
    files = {"json": folder / JSON_NAME, "png": folder / PNG_NAME}
    write_chart(results, files["png"])
    write_json(results, files["json"])
    return files

"""How `tito benchmark kernels` measures: the one timing loop, its inputs and references, the machine.

The timing loop (`tito.tools.blocks.time_blocks`, part of the speed core the graded
tests use too) measures what a user gets calling a kernel in their own code, in a loop:
each block first *runs* its contender, untimed, for the settle time, then times
calls back to back. Running rather than sleeping matters twice over: BLAS
worker threads of an earlier multithreaded call keep spinning for about 0.1 s and
would share the cores with a parallel kernel, and a core left idle by a sleep can
take milliseconds to wake up (on a virtual machine above all), which a parallel
kernel pays on its first calls.
"""

from __future__ import annotations

import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from tito.errors import TitoError
from tito.tools.blocks import Contender, Limit, run_at_once, time_blocks

IMPORT_TIMEOUT_SECONDS = 120


def one_blas_thread() -> Limit:
    """A context factory that limits BLAS to one thread (threadpoolctl)."""
    from threadpoolctl import ThreadpoolController

    controller = ThreadpoolController()
    return lambda: controller.limit(limits=1, user_api="blas")


def thread_parts(size: int, threads: int) -> list[tuple[int, int]]:
    """`(lo, hi)` of `threads` contiguous, non-empty parts of range(size), as even as they come."""
    bounds = np.linspace(0, size, threads + 1).astype(int)
    return [(int(lo), int(hi)) for lo, hi in zip(bounds[:-1], bounds[1:]) if hi > lo]


def copy_bandwidth(nbytes: int, threads: int, samples: int, settle_seconds: float) -> float:
    """GB/s of copying `nbytes` between two preallocated arrays, split over `threads` threads at once.

    Read and write are both counted (2 * nbytes per copy), as a kernel's bytes moved
    are. No page faults (the destination is touched before timing) and no
    arithmetic: the most data movement of that footprint this machine gives.
    """
    from concurrent.futures import ThreadPoolExecutor
    from functools import partial

    src = np.ones(max(1, nbytes // 4), np.float32)
    dst = np.zeros_like(src)
    copies = [partial(np.copyto, dst[lo:hi], src[lo:hi]) for lo, hi in thread_parts(src.size, threads)]
    name = f"copy, {threads} threads"
    with ThreadPoolExecutor(max_workers=max(1, len(copies) - 1)) as pool:
        timing = time_blocks([Contender(name, lambda: run_at_once(pool, copies))], samples,
                             settle_seconds=settle_seconds)[name]
    return 2 * src.nbytes / timing.median / 1e9


# ---------------------------------------------------------------- inputs and references


def matmul_inputs(n: int, dtype=np.float32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two n x n matrices with entries in [-1, 1), the same for every run."""
    rng = np.random.default_rng(seed)
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
    """Symmetric int8 quantization as the kernels' contract defines it (module 11, `quantize_symmetric`): scale = max|x| / 127, q = clip(round(x / scale)).

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


def max_abs_error(result: Any, reference: np.ndarray) -> float | None:
    """Largest |result - reference| in float64; None when the shapes differ."""
    got = np.asarray(getattr(result, "data", result), dtype=np.float64)
    if got.shape != reference.shape:
        return None
    return float(np.max(np.abs(got - reference))) if got.size else 0.0


# ---------------------------------------------------------------- the machine


def measure_import_time(module: str, runs: int) -> dict[str, Any]:
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
            done = subprocess.run([sys.executable, "-c", code, str(timing)], capture_output=True, text=True,
                                  timeout=IMPORT_TIMEOUT_SECONDS)
            if done.returncode != 0:
                raise TitoError(f"importing {module} failed in a fresh interpreter:\n{done.stderr.strip()}")
            seconds.append(float(timing.read_text()))
            output.append(done.stdout + done.stderr)
    printed = "".join(output)
    return {"seconds": statistics.median(seconds), "runs": seconds, "silent": printed == "", "output": printed[:2000]}


def cpu_snapshot() -> dict[str, float]:
    """Machine-wide busy CPU seconds, this process's (and its children's) CPU seconds, wall clock."""
    import psutil

    machine = psutil.cpu_times()
    busy = sum(value for field_name, value in machine._asdict().items()
               if field_name not in ("idle", "iowait", "guest", "guest_nice"))
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
    # /proc/stat counts in clock ticks (10 ms): over a shorter window the estimate can pass 100%, which no load can
    return {"seconds": wall, "other_cpu_percent": min(100.0, 100.0 * other / (wall * cores)) if wall > 0 else 0.0}


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

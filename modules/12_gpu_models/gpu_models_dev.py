# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---


# %% [markdown]
# # Module 12: GPU models — what the hardware rules predict
#
# Module 11 measured kernels on the machine in front of you. Most deep learning runs
# on GPUs, though, and this machine has none. This module turns the rules GPUs follow
# into small, deterministic models you can check by hand, and gathers them, with one
# real measurement, in `KernelOptimizationProfiler`.
#
# You will build `tinytorch.core.gpu_models`, in this order:
#
# 1. **GPU rules as models** — `warp_memory_transactions` (coalescing),
#    `bank_conflict_degree` (shared memory), `ring_allreduce_seconds` (multi-GPU).
# 2. **The profiler** — `KernelOptimizationProfiler`, in parts: the measurement, the
#    memory models, the execution models, the scaling models and the report.
#
# It uses module 11's `time_kernel` for its one measurement, and module 10's
# `detect_hardware` and `attainable_gflops` for this machine's measured roofline.

# %% nbgrader={"grade": false, "grade_id": "gpu-models-export-target", "locked": true, "schema_version": 3, "solution": false, "task": false}
#| default_exp core.gpu_models

# %% nbgrader={"grade": false, "grade_id": "gpu-models-imports", "locked": true, "schema_version": 3, "solution": false, "task": false}
#| export
import math
import statistics
from typing import Any, Callable, Sequence

import numpy as np

from tinytorch.core.kernels import _positive_int, time_kernel
from tinytorch.core.tensor import Tensor
from tinytorch.utils.profiler import attainable_gflops, detect_hardware

# %% nbgrader={"grade": false, "grade_id": "gpu-models-lesson-imports", "locked": true, "schema_version": 3, "solution": false, "task": false}
from tinytorch.core.kernels import parallel_relu, vectorized_relu

# %% [markdown]
# ## Part 1 — GPU rules as explicit models
#
# There is no GPU on this machine, and a model that pretends to measure one would
# be a lie. So this module is **deterministic arithmetic** on the rules of the
# hardware, each formula stated, each result the same every time. The rules are
# those of NVIDIA GPUs; the numbers are named constants.
#
# **Coalescing.** A warp is 32 threads executing one instruction together. When they
# load, the memory system serves the warp's 32 addresses in **32-byte segments**
# (and caches **128-byte lines**). If thread `t` reads element `t` of a float32 array,
# the warp asks for 128 consecutive bytes: exactly 4 segments, 1 line, 100% of the
# transferred bytes used. If thread `t` reads element `t` of a *column* of a
# row-major matrix, every thread hits its own segment: 32 segments for 128 useful
# bytes, 12.5% efficiency — eight times the memory traffic.
#
# **Shared-memory bank conflicts.** Shared memory is split into 32 **banks** of
# 4-byte words; word `w` lives in bank `w mod 32`. The 32 threads of a warp are
# served in one cycle if they hit 32 different banks (or the very same word, a
# broadcast). With a stride of `s` words, the threads hit only `32 / gcd(s, 32)`
# banks: a **gcd(s, 32)-way conflict**, served in that many cycles. Stride 2 is
# 2-way, stride 32 is 32-way; padding a row by one word (stride 33) removes it.
#
# **Multi-GPU scaling.** Data-parallel training adds up the gradients of all GPUs
# after each step. A **ring all-reduce** of `S` bytes over `p` GPUs sends
# `2(p − 1)` messages of `S / p` bytes per GPU, all links busy at once:
#
# ```
# T_allreduce = 2 (p − 1) · (α + S / (p · B))     B = link bandwidth, α = latency per message
# ```
#
# Its bandwidth term tends to `2S / B` and never shrinks with more GPUs, while the
# compute time shrinks as `1 / p`: that is why scaling flattens.

# %% [markdown]
# The models follow NVIDIA's rules, named as constants below, together with the
# assumptions they state (link speed, compute time per step). The last two tables
# give the names the original TinyTorch course used for the same results.

# %% nbgrader={"grade": false, "grade_id": "gpu-constants", "locked": true, "schema_version": 3, "solution": false, "task": false}
#| export
# NVIDIA rules (there is no GPU to measure here)
WARP_SIZE = 32  # threads that execute one instruction together
SEGMENT_BYTES = 32  # granularity of a global-memory transaction
CACHE_LINE_BYTES = 128  # L1/L2 cache line
SHARED_MEMORY_BANKS = 32  # banks of 4-byte words
SHARED_MEMORY_PER_BLOCK_BYTES = 48 * 1024  # static shared memory per thread block
GPU_LINK_BANDWIDTH_GBS = 25.0  # one direction of a PCIe 4.0 x16 link, as achieved in practice
GPU_LINK_LATENCY_S = 5e-6  # per message of a ring step
DEFAULT_STEP_COMPUTE_SECONDS = 0.1  # one GPU's compute time per training step (a stated assumption)
DEFAULT_FUSION_TENSOR_BYTES = 4 * 1024 * 1024  # a 1024 x 1024 float32 activation
ACCESS_PATTERNS = ("row_major", "column_major", "strided", "random")
TENSOR_CORE_OPERATIONS = ("matmul", "linear", "conv2d", "batched_matmul", "attention")
TENSOR_CORE_DIM_MULTIPLE = {"float16": 8, "bfloat16": 8, "tf32": 4, "int8": 16}
TENSOR_CORE_PEAK_RATIO = {"tf32": 8, "float16": 16, "bfloat16": 16, "int8": 32}  # A100 dense peaks / float32 peak
KNOWN_DATA_TYPES = {"float16", "bfloat16", "tf32", "float32", "float64", "int8", "uint8", "int16", "int32", "int64"}
DATA_TYPE_ALIASES = {"half": "float16", "fp16": "float16", "bf16": "bfloat16", "float": "float32",
                     "fp32": "float32", "single": "float32", "double": "float64", "fp64": "float64"}
FUSION_KINDS = {
    "matmul": "producer", "linear": "producer", "conv2d": "producer",
    "relu": "unary", "sigmoid": "unary", "tanh": "unary", "gelu": "unary", "exp": "unary",
    "dropout": "unary", "scale": "unary",
    "add": "binary", "sub": "binary", "mul": "binary", "div": "binary", "bias_add": "binary",
    "softmax": "reduction", "layernorm": "reduction", "batchnorm": "reduction", "sum": "reduction",
    "mean": "reduction",
}
FUSION_TRAFFIC = {"producer": 1, "unary": 2, "binary": 3, "reduction": 2}  # tensors moved per unfused kernel

# The original course's names for the same values and sections. Its other values were simulated
# (random or fixed numbers) and have no counterpart here: see KernelOptimizationProfiler.
ORIGINAL_SECTION_NAMES = {"kernel_performance": "cuda_analysis", "tensor_cores": "tensor_core"}
ORIGINAL_VALUE_NAMES = {  # section -> {original name: our name}
    "kernel_performance": {"avg_execution_time_us": "mean_time_us", "memory_bandwidth_gb_s": "achieved_gbs",
                           "compute_utilization": "compute_fraction"},
    "warp_divergence": {"divergence_ratio": "divergent_fraction", "warp_efficiency": "simt_efficiency"},
    "tensor_cores": {"tensor_core_compatible": "tensor_core_eligible",
                     "theoretical_speedup": "peak_speedup_vs_float32"},
    "kernel_fusion": {"performance_improvement": "traffic_reduction"},
}

# %% nbgrader={"grade": false, "grade_id": "gpu-models-test-helpers", "locked": true, "schema_version": 3, "solution": false, "task": false}
from tito.tools.judging import expect_raises, plain

# %% nbgrader={"grade": false, "grade_id": "gpu-models-solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| export
def warp_memory_transactions(element_indices: Sequence[int], element_bytes: int = 4) -> dict[str, Any]:
    """Memory transactions of one warp load: which 32-byte segments and 128-byte lines it touches.

    Model: thread `t` reads the element `element_indices[t]` (elements of
    `element_bytes` bytes from an aligned base address). Element `i` covers bytes
    `[i * element_bytes, (i + 1) * element_bytes)`; a segment `s` covers bytes
    `[32 s, 32 s + 32)` and a line `l` covers `[128 l, 128 l + 128)`.
        segments_32b      = number of distinct segments any requested byte falls in
        lines_128b        = number of distinct lines, the same way
        bytes_requested   = threads * element_bytes
        bytes_transferred = 32 * segments_32b
        efficiency        = min(1, bytes_requested / bytes_transferred)

    TODO: return a dict with the keys `threads`, `element_bytes`, `bytes_requested`,
    `segments_32b`, `lines_128b`, `bytes_transferred`, `efficiency`.

    Raises:
        ValueError: no index, more than WARP_SIZE indices, or a negative index;
        `element_bytes` not positive.

    Example:
        >>> warp_memory_transactions(range(32))["segments_32b"]     # coalesced float32
        4
    """
    ### BEGIN SOLUTION
    indices = [int(i) for i in element_indices]
    element_bytes = _positive_int(element_bytes, "element_bytes")
    if not 1 <= len(indices) <= WARP_SIZE:
        raise ValueError(f"a warp has 1 to {WARP_SIZE} threads, got {len(indices)} indices")
    if min(indices) < 0:
        raise ValueError(f"element indices must be >= 0, got {min(indices)}")
    segments, lines = set(), set()
    for index in indices:
        first, last = index * element_bytes, (index + 1) * element_bytes - 1
        segments.update(range(first // SEGMENT_BYTES, last // SEGMENT_BYTES + 1))
        lines.update(range(first // CACHE_LINE_BYTES, last // CACHE_LINE_BYTES + 1))
    requested = len(indices) * element_bytes
    transferred = len(segments) * SEGMENT_BYTES
    return {
        "threads": len(indices),
        "element_bytes": element_bytes,
        "bytes_requested": requested,
        "segments_32b": len(segments),
        "lines_128b": len(lines),
        "bytes_transferred": transferred,
        "efficiency": min(1.0, requested / transferred),
    }
    ### END SOLUTION


def bank_conflict_degree(word_indices: Sequence[int]) -> int:
    """How many shared-memory cycles one warp access needs: the worst bank's count of distinct words.

    Model: 32 banks of 4-byte words, word `w` in bank `w % SHARED_MEMORY_BANKS`.
    Threads reading the same word share one broadcast; distinct words in one bank are
    served one per cycle. degree = max over banks of the number of distinct words;
    1 means conflict-free. For stride `s` (thread t reads word t*s) this is gcd(s, 32).

    TODO: group the distinct words by bank and return the largest group's size.

    Raises:
        ValueError: no index, more than WARP_SIZE, or a negative index.

    Example:
        >>> bank_conflict_degree([2 * t for t in range(32)])
        2
    """
    ### BEGIN SOLUTION
    indices = [int(w) for w in word_indices]
    if not 1 <= len(indices) <= WARP_SIZE:
        raise ValueError(f"a warp has 1 to {WARP_SIZE} threads, got {len(indices)} indices")
    words = set(indices)
    if min(words) < 0:
        raise ValueError(f"word indices must be >= 0, got {min(words)}")
    per_bank: dict[int, int] = {}
    for word in words:
        per_bank[word % SHARED_MEMORY_BANKS] = per_bank.get(word % SHARED_MEMORY_BANKS, 0) + 1
    return max(per_bank.values())
    ### END SOLUTION


def ring_allreduce_seconds(nbytes: float, num_gpus: int, link_bandwidth_gbs: float = GPU_LINK_BANDWIDTH_GBS,
                           latency_s: float = GPU_LINK_LATENCY_S) -> float:
    """Time of a ring all-reduce of `nbytes` over `num_gpus` GPUs.

    Model: `T = 2 (p - 1) * (latency_s + nbytes / (p * link_bandwidth_gbs * 1e9))`:
    a reduce-scatter and an all-gather, each `p - 1` steps in which every GPU sends
    `nbytes / p` bytes over its own link at the same time. One GPU: 0 seconds.

    TODO: validate and apply the formula.

    Raises:
        ValueError: `num_gpus < 1` (TypeError if not an int), `nbytes < 0`,
        `link_bandwidth_gbs <= 0` or `latency_s < 0`.

    Example:
        >>> ring_allreduce_seconds(1e9, 4, link_bandwidth_gbs=25.0, latency_s=0.0)
        0.06
    """
    ### BEGIN SOLUTION
    gpus = _positive_int(num_gpus, "num_gpus")
    if nbytes < 0:
        raise ValueError(f"nbytes must be >= 0, got {nbytes}")
    if link_bandwidth_gbs <= 0 or latency_s < 0:
        raise ValueError(f"link bandwidth must be positive and latency >= 0, got {link_bandwidth_gbs} GB/s and {latency_s} s")
    steps = 2 * (gpus - 1)
    return steps * (latency_s + nbytes / (gpus * link_bandwidth_gbs * 1e9))
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test-gpu-models", "locked": true, "points": 40, "schema_version": 3, "solution": false, "task": false}
def test_unit_gpu_models():
    coalesced = plain(warp_memory_transactions(range(32), 4))
    assert (coalesced["segments_32b"], coalesced["lines_128b"]) == (4, 1), (
        f"32 consecutive float32 loads touch 4 segments and 1 line, got {coalesced['segments_32b']} and {coalesced['lines_128b']}")
    assert coalesced["efficiency"] == 1.0 and coalesced["bytes_requested"] == 128, f"coalesced efficiency should be 1.0, got {coalesced}"
    stride2 = plain(warp_memory_transactions([2 * t for t in range(32)], 4))
    assert (stride2["segments_32b"], stride2["lines_128b"], stride2["efficiency"]) == (8, 2, 0.5), (
        f"stride-2 float32 touches 8 segments, 2 lines, efficiency 0.5; got {stride2}")
    column = plain(warp_memory_transactions([1024 * t for t in range(32)], 4))
    assert (column["segments_32b"], column["lines_128b"], column["efficiency"]) == (32, 32, 0.125), (
        f"a column of a 1024-wide float32 matrix touches 32 segments and 32 lines (12.5%); got {column}")
    doubles = plain(warp_memory_transactions(range(32), 8))
    assert (doubles["segments_32b"], doubles["lines_128b"]) == (8, 2), f"32 float64 touch 8 segments and 2 lines, got {doubles}"
    misaligned = plain(warp_memory_transactions(range(1, 33), 4))
    assert misaligned["segments_32b"] == 5, f"a warp shifted by one float32 spills into a 5th segment, got {misaligned['segments_32b']}"

    for stride, degree in ((1, 1), (2, 2), (4, 4), (32, 32), (33, 1), (0, 1), (6, 2)):
        got = plain(bank_conflict_degree([stride * t for t in range(32)]))
        assert got == degree, f"stride {stride} words should give a {degree}-way conflict, got {got}"

    assert plain(ring_allreduce_seconds(1e9, 1)) == 0.0, "one GPU needs no all-reduce"
    got = plain(ring_allreduce_seconds(1e9, 4, link_bandwidth_gbs=25.0, latency_s=0.0))
    assert abs(got - 0.06) < 1e-12, f"1 GB over 4 GPUs at 25 GB/s: 2*3*(1e9/4/25e9) = 0.06 s, got {got}"
    with_latency = plain(ring_allreduce_seconds(0, 3, latency_s=1e-5))
    assert abs(with_latency - 4e-5) < 1e-15, f"0 bytes over 3 GPUs costs 4 latencies = 4e-5 s, got {with_latency}"
    for bad in (0, -2):
        expect_raises(ValueError, lambda: ring_allreduce_seconds(1e6, bad), naming=["num_gpus"],
                      what=f"ring_allreduce_seconds with num_gpus={bad}")
    expect_raises(ValueError, lambda: warp_memory_transactions(range(33)), naming=["33"],
                  what="warp_memory_transactions of 33 threads (a warp has 32)")

test_unit_gpu_models()

# %% [markdown]
# ## Part 2 — The kernel optimization profiler
#
# `KernelOptimizationProfiler` puts the models together. One method **measures**:
# `analyze_cuda_kernel_performance` times a kernel on the device actually used —
# `cpu` here — and reports achieved GB/s and GFLOP/s as fractions of this machine's
# measured peaks, and where the kernel sits on the roofline. The others **model** a
# GPU with the formulas of Part 1 and three more, introduced with their cells below.
#
# Every `analyze_*` returns a dict, stores it in `profile_results`, and adds concrete
# recommendations (each once) to `optimization_recommendations`.
# `generate_optimization_report` turns it all into text.
#
# The class is written in five cells, one part each: the measurement (with the
# constructor and the bookkeeping every analysis shares), the memory models, the
# execution models, the scaling models, and finally `KernelOptimizationProfiler`
# itself, which inherits the four parts and adds the report.

# %% nbgrader={"grade": false, "grade_id": "profiler-measure-solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| export
def _nbytes(value: Any) -> int:
    """Bytes of an ndarray or Tensor; 0 for anything else."""
    return int(np.asarray(value).nbytes) if isinstance(value, (np.ndarray, Tensor)) else 0


def _size(value: Any) -> int:
    """Elements of an ndarray or Tensor; 0 for anything else."""
    return int(np.asarray(value).size) if isinstance(value, (np.ndarray, Tensor)) else 0



class _KernelMeasurement:
    """The profiler's state, its bookkeeping and its one measurement."""

    def __init__(self, hardware_config: dict[str, Any] | None = None) -> None:
        """TODO: `self.hardware_config` is a copy of `hardware_config`, or of
        `detect_hardware(measure=True)` when None; `self.profile_results = {}`;
        `self.optimization_recommendations = []`."""
        ### BEGIN SOLUTION
        self.hardware_config = dict(detect_hardware(measure=True) if hardware_config is None else hardware_config)
        self.profile_results: dict[str, dict[str, Any]] = {}
        self.optimization_recommendations: list[str] = []
        ### END SOLUTION

    def _record(self, key: str, analysis: dict[str, Any], recommendations: list[str]) -> dict[str, Any]:
        """Store `analysis` under `key` with its recommendations; add new ones to the profiler's list.

        The original course's names (`ORIGINAL_VALUE_NAMES`, `ORIGINAL_SECTION_NAMES`)
        answer too: the same values under the old keys, the same dict under the old section.
        """
        analysis["recommendations"] = list(recommendations)
        for old, ours in ORIGINAL_VALUE_NAMES.get(key, {}).items():
            analysis[old] = analysis[ours]
        self.profile_results[key] = analysis
        if key in ORIGINAL_SECTION_NAMES:
            self.profile_results[ORIGINAL_SECTION_NAMES[key]] = analysis
        for text in recommendations:
            if text not in self.optimization_recommendations:
                self.optimization_recommendations.append(text)
        return analysis

    def _sections(self) -> list[tuple[str, dict[str, Any]]]:
        """Each stored analysis once, under our name, without the original course's names."""
        return [(section, {key: value for key, value in analysis.items()
                           if key not in ORIGINAL_VALUE_NAMES.get(section, {})})
                for section, analysis in self.profile_results.items()
                if section not in ORIGINAL_SECTION_NAMES.values()]

    def _measured(self, key: str) -> float:
        """A measured hardware number, taken from `detect_hardware()` when the config lacks it."""
        if self.hardware_config.get(key) is None:
            self.hardware_config[key] = detect_hardware(measure=True)[key]
        return float(self.hardware_config[key])

    def analyze_cuda_kernel_performance(self, kernel_func: Callable[..., Any], input_data: Any,
                                        iterations: int = 100, flops: float | None = None) -> dict[str, Any]:
        """Measure `kernel_func(input_data)` on this machine (device `cpu`) against its measured peaks.

        A tuple `input_data` is passed as several arguments. One warm-up call, then
        `iterations` timed calls (`time_kernel`). With `t` the median seconds:
            bytes_moved       = bytes of the array/Tensor arguments + bytes of the result
                                (each read once, the result written once)
            flops             = `flops`, or one operation per result element when None
            achieved_gbs      = bytes_moved / t / 1e9;  achieved_gflops = flops / t / 1e9
            bandwidth_fraction = achieved_gbs / measured bandwidth
            compute_fraction  = achieved_gflops / measured peak
            arithmetic_intensity = flops / bytes_moved (FLOP/byte)
            roofline_gflops   = attainable_gflops(intensity, peak, bandwidth)
            bound             = "memory" below the ridge point peak / bandwidth, else "compute"

        TODO: measure, compute the dict with the keys `device`, `kernel`, `iterations`,
        `median_time_us`, `min_time_us`, `mean_time_us`, `bytes_moved`, `flops`,
        `achieved_gbs`, `achieved_gflops`, `peak_gflops`, `peak_bandwidth_gbs`,
        `bandwidth_fraction`, `compute_fraction`, `arithmetic_intensity`,
        `roofline_gflops`, `roofline_fraction`, `bound`; recommend; `_record` it
        under "kernel_performance".

        Raises:
            ValueError: `iterations < 1`.
        """
        ### BEGIN SOLUTION
        iterations = _positive_int(iterations, "iterations")
        args = input_data if isinstance(input_data, tuple) else (input_data,)
        result = kernel_func(*args)
        times_us = []
        for _ in range(iterations):
            result, elapsed_us = time_kernel(kernel_func, *args)
            times_us.append(elapsed_us)
        seconds = statistics.median(times_us) / 1e6
        bytes_moved = sum(_nbytes(arg) for arg in args) + _nbytes(result)
        work = float(_size(result) if flops is None else flops)
        peak, bandwidth = self._measured("peak_gflops"), self._measured("memory_bandwidth_gbs")
        intensity = work / bytes_moved if bytes_moved else math.inf
        roof = attainable_gflops(intensity, peak, bandwidth)
        achieved_gflops = work / seconds / 1e9
        name = getattr(kernel_func, "__name__", type(kernel_func).__name__)
        analysis = {
            "device": "cpu",
            "kernel": name,
            "iterations": iterations,
            "median_time_us": seconds * 1e6,
            "min_time_us": min(times_us),
            "mean_time_us": statistics.fmean(times_us),
            "bytes_moved": bytes_moved,
            "flops": work,
            "achieved_gbs": bytes_moved / seconds / 1e9,
            "achieved_gflops": achieved_gflops,
            "peak_gflops": peak,
            "peak_bandwidth_gbs": bandwidth,
            "bandwidth_fraction": bytes_moved / seconds / 1e9 / bandwidth,
            "compute_fraction": achieved_gflops / peak,
            "arithmetic_intensity": intensity,
            "roofline_gflops": roof,
            "roofline_fraction": achieved_gflops / roof,
            "bound": "memory" if intensity < peak / bandwidth else "compute",
        }
        advice = []
        if analysis["bound"] == "memory":
            advice.append(f"{name}: memory-bound ({intensity:.3g} FLOP/byte, ridge {peak / bandwidth:.3g}): move fewer "
                          "bytes — fuse it with its neighbours, use a smaller dtype (float16, int8), avoid temporary copies")
        else:
            advice.append(f"{name}: compute-bound ({intensity:.3g} FLOP/byte): use BLAS/SIMD and all cores")
        if analysis["roofline_fraction"] < 0.5:
            advice.append(f"{name} reaches {analysis['roofline_fraction']:.1%} of its roofline bound "
                          f"({roof:.3g} GFLOP/s): remove interpreter overhead and spread the work over the cores")
        return self._record("kernel_performance", analysis, advice)
        ### END SOLUTION

# %% [markdown]
# ### Memory models
#
# Coalescing (Part 1) for a whole array read by warps, and shared memory: staging
# data that is read many times, and the bank conflicts of the stride it is read with.

# %% nbgrader={"grade": false, "grade_id": "profiler-memory-solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| export
class _MemoryModels:
    """Global-memory coalescing and shared-memory staging of the profiler."""

    def analyze_memory_coalescing(self, access_pattern: str, data_shape: Sequence[int], element_bytes: int = 4,
                                  stride: int = 2) -> dict[str, Any]:
        """Model the global-memory transactions of warps reading an array of `data_shape`.

        Thread `t` of a warp reads element `t * s` (relative to the warp's first), where
        the stride `s` in elements depends on `access_pattern`:
            "row_major"     s = 1 (consecutive elements)
            "column_major"  s = data_shape[-1] (down a column of a row-major array; 1 for 1-D)
            "strided"       s = `stride`
            "random"        s = CACHE_LINE_BYTES // element_bytes (at least 1): the worst
                            case of a gather, every thread in its own line
        Per warp: `warp_memory_transactions`. The array's `N = prod(data_shape)` elements
        are read by `N // 32` full warps and one partial warp of `N % 32` threads:
            total_transactions_32b = full warps * segments per warp + segments of the partial warp
            total_bytes_transferred = 32 * total_transactions_32b
            optimization_potential  = 1 - coalescing_efficiency (the share of moved bytes nobody asked for)

        TODO: return the dict with the keys `access_pattern`, `data_shape`,
        `element_bytes`, `stride_elements`, `segments_per_warp`, `lines_per_warp`,
        `bytes_requested_per_warp`, `bytes_transferred_per_warp`,
        `coalescing_efficiency`, `warps`, `total_transactions_32b`,
        `total_bytes_requested`, `total_bytes_transferred`, `optimization_potential`; recommend when the
        efficiency is below 1; `_record` it under "memory_coalescing".

        Raises:
            ValueError: unknown `access_pattern`; empty `data_shape` or a negative
            dimension; `element_bytes` or `stride` not positive.
        """
        ### BEGIN SOLUTION
        if access_pattern not in ACCESS_PATTERNS:
            raise ValueError(f"unknown access pattern {access_pattern!r}; expected one of {', '.join(ACCESS_PATTERNS)}")
        shape = tuple(int(d) for d in data_shape)
        if not shape or min(shape) < 0:
            raise ValueError(f"data_shape must be a non-empty tuple of dimensions >= 0, got {tuple(data_shape)}")
        element_bytes = _positive_int(element_bytes, "element_bytes")
        step = {
            "row_major": 1,
            "column_major": shape[-1] if len(shape) > 1 else 1,
            "strided": _positive_int(stride, "stride"),
            "random": max(1, CACHE_LINE_BYTES // element_bytes),
        }[access_pattern]
        elements = math.prod(shape)
        full_warps, rest = divmod(elements, WARP_SIZE)
        warp = warp_memory_transactions([t * step for t in range(WARP_SIZE)], element_bytes)
        partial = warp_memory_transactions([t * step for t in range(rest)], element_bytes)["segments_32b"] if rest else 0
        total_segments = full_warps * warp["segments_32b"] + partial
        analysis = {
            "access_pattern": access_pattern,
            "data_shape": shape,
            "element_bytes": element_bytes,
            "stride_elements": step,
            "segments_per_warp": warp["segments_32b"],
            "lines_per_warp": warp["lines_128b"],
            "bytes_requested_per_warp": warp["bytes_requested"],
            "bytes_transferred_per_warp": warp["bytes_transferred"],
            "coalescing_efficiency": warp["efficiency"],
            "warps": full_warps + (1 if rest else 0),
            "total_transactions_32b": total_segments,
            "total_bytes_requested": elements * element_bytes,
            "total_bytes_transferred": total_segments * SEGMENT_BYTES,
            "optimization_potential": 1.0 - warp["efficiency"],
        }
        advice = []
        if warp["efficiency"] < 1.0:
            advice.append(f"{access_pattern} access of {shape} (stride {step} elements) uses "
                          f"{warp['efficiency']:.1%} of the bytes it moves ({warp['segments_32b']} segments per warp "
                          "instead of the minimum): let consecutive threads read consecutive addresses — swap the "
                          "loop order, store the data transposed, or stage tiles through shared memory")
        return self._record("memory_coalescing", analysis, advice)
        ### END SOLUTION

    def analyze_shared_memory_usage(self, kernel_data_size: int, reuse_factor: float,
                                    stride_words: int = 1) -> dict[str, Any]:
        """Model staging `kernel_data_size` bytes in shared memory, each byte read `reuse_factor` times.

        Model:
            fits_in_shared_memory = kernel_data_size <= SHARED_MEMORY_PER_BLOCK_BYTES
            tiles_needed          = ceil(kernel_data_size / SHARED_MEMORY_PER_BLOCK_BYTES) (at least 1)
            global bytes without shared memory = kernel_data_size * reuse_factor
            global bytes with shared memory    = kernel_data_size (loaded once)
            bank_conflict_degree  = bank_conflict_degree([t * stride_words for t in range(32)])
            shared_memory_efficiency = 1 / bank_conflict_degree
            padded_stride_words   = the smallest stride >= stride_words that is conflict-free

        TODO: validate, return the dict with the keys `kernel_data_size`, `reuse_factor`,
        `shared_memory_bytes`, `fits_in_shared_memory`, `tiles_needed`, `utilization`
        (min(1, size / capacity)), `global_bytes_without_shared`,
        `global_bytes_with_shared`, `global_traffic_reduction`, `stride_words`,
        `bank_conflict_degree`, `shared_memory_efficiency`, `padded_stride_words`;
        recommend; `_record` it under "shared_memory".

        Raises:
            ValueError: `kernel_data_size < 0`, `reuse_factor < 1`, `stride_words < 0`.
        """
        ### BEGIN SOLUTION
        if kernel_data_size < 0:
            raise ValueError(f"kernel_data_size must be >= 0 bytes, got {kernel_data_size}")
        if not reuse_factor >= 1:
            raise ValueError(f"reuse_factor must be >= 1 (each staged byte is read at least once), got {reuse_factor}")
        if stride_words < 0:
            raise ValueError(f"stride_words must be >= 0, got {stride_words}")
        capacity = SHARED_MEMORY_PER_BLOCK_BYTES
        degree = bank_conflict_degree([t * stride_words for t in range(WARP_SIZE)])
        padded = stride_words
        while bank_conflict_degree([t * padded for t in range(WARP_SIZE)]) > 1:
            padded += 1
        analysis = {
            "kernel_data_size": kernel_data_size,
            "reuse_factor": reuse_factor,
            "shared_memory_bytes": capacity,
            "fits_in_shared_memory": kernel_data_size <= capacity,
            "tiles_needed": max(1, math.ceil(kernel_data_size / capacity)),
            "utilization": min(1.0, kernel_data_size / capacity),
            "global_bytes_without_shared": kernel_data_size * reuse_factor,
            "global_bytes_with_shared": kernel_data_size,
            "global_traffic_reduction": reuse_factor,
            "stride_words": stride_words,
            "bank_conflict_degree": degree,
            "shared_memory_efficiency": 1.0 / degree,
            "padded_stride_words": padded,
        }
        advice = []
        if kernel_data_size > capacity:
            advice.append(f"{kernel_data_size} bytes exceed the {capacity} bytes of shared memory per block: "
                          f"process them in {analysis['tiles_needed']} tiles")
        if degree > 1:
            advice.append(f"a stride of {stride_words} words gives {degree}-way bank conflicts: pad rows to "
                          f"{padded} words so the 32 threads hit 32 different banks")
        if reuse_factor < 2:
            advice.append(f"each staged byte is read only {reuse_factor:g} times: shared memory saves little, "
                          "read straight from global memory")
        return self._record("shared_memory", analysis, advice)
        ### END SOLUTION

# %% [markdown]
# ### Execution models
#
# - **Warp divergence**: a data-dependent `if/else` whose two paths are both taken
#   inside a warp runs both paths one after the other with part of the lanes masked.
#   Worst case, every conditional operation costs one extra issue:
#   `issued = total + conditional`, SIMT efficiency `= total / issued`.
# - **Tensor cores**: matrix units that run small matrix products per instruction,
#   for float16/bfloat16 (dimensions multiples of 8), TF32 (multiples of 4) and int8
#   (multiples of 16), not plain float32. Peaks relative to float32 are those of the
#   NVIDIA A100 datasheet (dense): TF32 8x, float16/bfloat16 16x, int8 32x.

# %% nbgrader={"grade": false, "grade_id": "profiler-execution-solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| export
class _ExecutionModels:
    """Warp divergence and tensor-core eligibility of the profiler."""

    def analyze_warp_divergence(self, conditional_operations: int, total_operations: int) -> dict[str, Any]:
        """Model the cost of branches that split a warp.

        Model (worst case): each of the `conditional_operations` (out of
        `total_operations` per thread) is a data-dependent branch whose two paths are
        both taken inside the warp, so the warp issues both paths one after the other:
            issued_instructions = total + conditional
            simt_efficiency     = total / issued   (share of lane slots doing useful work)
            slowdown            = issued / total

        TODO: validate, return the dict with the keys `conditional_operations`,
        `total_operations`, `divergent_fraction` (conditional / total),
        `issued_instructions`, `simt_efficiency`, `idle_lane_fraction`, `slowdown`;
        recommend when conditional > 0; `_record` it under "warp_divergence".

        Raises:
            ValueError: `total_operations <= 0`, or `conditional_operations` outside
            `[0, total_operations]`.
        """
        ### BEGIN SOLUTION
        if total_operations <= 0:
            raise ValueError(f"total_operations must be positive, got {total_operations}")
        if not 0 <= conditional_operations <= total_operations:
            raise ValueError(f"conditional_operations must be between 0 and total_operations={total_operations}, "
                             f"got {conditional_operations}")
        issued = total_operations + conditional_operations
        analysis = {
            "conditional_operations": conditional_operations,
            "total_operations": total_operations,
            "divergent_fraction": conditional_operations / total_operations,
            "issued_instructions": issued,
            "simt_efficiency": total_operations / issued,
            "idle_lane_fraction": conditional_operations / issued,
            "slowdown": issued / total_operations,
        }
        advice = []
        if conditional_operations > 0:
            advice.append(f"{conditional_operations} of {total_operations} operations branch inside a warp "
                          f"({analysis['slowdown']:.2f}x the instructions): compute both sides and select "
                          "(branch-free, like max(x, 0) for ReLU), or sort the work so whole warps take one path")
        return self._record("warp_divergence", analysis, advice)
        ### END SOLUTION

    def analyze_tensor_core_utilization(self, operation_type: str, data_types: Sequence[Any],
                                        shape: Sequence[int] | None = None) -> dict[str, Any]:
        """Model whether a matrix operation can run on tensor cores, and what that is worth.

        Model: eligible when the operation is a matrix product
        (`TENSOR_CORE_OPERATIONS`), all operand types are one type of
        `TENSOR_CORE_DIM_MULTIPLE` (float16, bfloat16, tf32, int8 — plain float32 is
        not), and every dimension of `shape` (M, N, K), when given, is a multiple of
        that type's `TENSOR_CORE_DIM_MULTIPLE`. Padding each dimension up to the
        multiple costs `prod(padded) / prod(shape) - 1` extra work. The peak relative
        to float32 is `TENSOR_CORE_PEAK_RATIO[type]` when eligible, else 1.

        TODO: normalise the type names (numpy dtypes or strings; aliases in
        `DATA_TYPE_ALIASES`), return the dict with the keys `operation_type`,
        `data_types`, `tensor_core_eligible`, `reasons` (why not, empty when
        eligible), `required_multiple`, `shape`, `aligned`, `padded_shape`,
        `padding_overhead`, `peak_speedup_vs_float32`; recommend; `_record` it under
        "tensor_cores".

        Raises:
            ValueError: no data type, an unknown data type, or a non-positive dimension.
        """
        ### BEGIN SOLUTION
        names = []
        for dtype in data_types:
            name = dtype.lower() if isinstance(dtype, str) else np.dtype(dtype).name
            name = DATA_TYPE_ALIASES.get(name, name)
            if name not in KNOWN_DATA_TYPES:
                raise ValueError(f"unknown data type {dtype!r}; known: {', '.join(sorted(KNOWN_DATA_TYPES))}")
            names.append(name)
        if not names:
            raise ValueError("data_types must name at least one operand type")
        dims = None if shape is None else tuple(int(d) for d in shape)
        if dims is not None and (not dims or min(dims) <= 0):
            raise ValueError(f"shape must be positive dimensions such as (M, N, K), got {tuple(shape)}")
        kinds = sorted(set(names))
        multiple = TENSOR_CORE_DIM_MULTIPLE.get(kinds[0]) if len(kinds) == 1 else None
        reasons = []
        if operation_type not in TENSOR_CORE_OPERATIONS:
            reasons.append(f"{operation_type!r} is not a matrix product ({', '.join(TENSOR_CORE_OPERATIONS)})")
        if len(kinds) > 1:
            reasons.append(f"operands must share one type, got {', '.join(kinds)}")
        elif multiple is None:
            reasons.append(f"{kinds[0]} has no tensor-core path (use float16, bfloat16, tf32 or int8)")
        aligned = padded = overhead = None
        if dims is not None and multiple is not None:
            padded = tuple(-(-d // multiple) * multiple for d in dims)
            aligned = padded == dims
            overhead = math.prod(padded) / math.prod(dims) - 1.0
            if not aligned:
                reasons.append(f"dimensions {dims} are not multiples of {multiple} for {kinds[0]}")
        eligible = not reasons
        analysis = {
            "operation_type": operation_type,
            "data_types": names,
            "tensor_core_eligible": eligible,
            "reasons": reasons,
            "required_multiple": multiple,
            "shape": dims,
            "aligned": aligned,
            "padded_shape": padded,
            "padding_overhead": overhead,
            "peak_speedup_vs_float32": float(TENSOR_CORE_PEAK_RATIO[kinds[0]]) if eligible else 1.0,
        }
        advice = []
        if operation_type in TENSOR_CORE_OPERATIONS and multiple is None and len(kinds) == 1:
            advice.append(f"{operation_type} in {kinds[0]} misses the tensor cores: use bfloat16/float16 "
                          f"(up to {TENSOR_CORE_PEAK_RATIO['float16']}x the float32 peak) or allow TF32 "
                          f"({TENSOR_CORE_PEAK_RATIO['tf32']}x)")
        if aligned is False and operation_type in TENSOR_CORE_OPERATIONS:
            advice.append(f"pad {dims} to {padded} (multiples of {multiple} for {kinds[0]}): "
                          f"{overhead:.1%} extra work buys tensor-core speed")
        return self._record("tensor_cores", analysis, advice)
        ### END SOLUTION

# %% [markdown]
# ### Scaling models
#
# - **Fusion**: each unfused element-wise kernel writes its result to memory and the
#   next reads it back. Fusing a chain removes both passes for every intermediate:
#   `2 × tensor_bytes` saved per boundary inside a fused group.
# - **Multi-GPU scaling**: the compute of a step split over `p` GPUs, then the ring
#   all-reduce of Part 1.

# %% nbgrader={"grade": false, "grade_id": "profiler-scaling-solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| export
class _ScalingModels:
    """Kernel fusion and multi-GPU scaling of the profiler."""

    def analyze_kernel_fusion_opportunities(self, operation_sequence: Sequence[str],
                                            tensor_bytes: int = DEFAULT_FUSION_TENSOR_BYTES) -> dict[str, Any]:
        """Model the memory traffic saved by fusing a chain of operations into fewer kernels.

        Model: every tensor has `tensor_bytes` bytes. Unfused, each operation is one
        kernel moving `FUSION_TRAFFIC[kind]` tensors: a producer (matmul, linear,
        conv2d) writes its output (its inputs are the same fused or not), a unary
        element-wise op reads 1 and writes 1, a binary one reads 2 and writes 1, a
        reduction (softmax, norms, sums) reads 1 and writes 1. Fusion groups: an
        element-wise op joins the group before it unless that group is a reduction;
        producers and reductions start a new group. Inside a group no intermediate is
        written and read back:
            bytes_saved = 2 * tensor_bytes * sum(len(group) - 1)
            fused_bytes = unfused_bytes - bytes_saved
            fusion_opportunities = the groups of two or more operations

        TODO: return the dict with the keys `operation_sequence`, `tensor_bytes`,
        `fusion_groups`, `fusion_opportunities`, `kernels_unfused`, `kernels_fused`, `unfused_bytes`,
        `fused_bytes`, `bytes_saved`, `traffic_reduction` (unfused / fused, 1.0 when
        nothing moves); recommend one fusion per group of two or more; `_record` it
        under "kernel_fusion".

        Raises:
            ValueError: an operation name not in `FUSION_KINDS`, or `tensor_bytes < 0`.
        """
        ### BEGIN SOLUTION
        if tensor_bytes < 0:
            raise ValueError(f"tensor_bytes must be >= 0, got {tensor_bytes}")
        ops = [str(op).lower() for op in operation_sequence]
        unknown = [op for op in ops if op not in FUSION_KINDS]
        if unknown:
            raise ValueError(f"unknown operation(s) {unknown}; known: {', '.join(sorted(FUSION_KINDS))}")
        groups: list[list[str]] = []
        for op in ops:
            elementwise = FUSION_KINDS[op] in ("unary", "binary")
            if elementwise and groups and FUSION_KINDS[groups[-1][0]] != "reduction":
                groups[-1].append(op)
            else:
                groups.append([op])
        unfused = tensor_bytes * sum(FUSION_TRAFFIC[FUSION_KINDS[op]] for op in ops)
        saved = 2 * tensor_bytes * sum(len(group) - 1 for group in groups)
        fused = unfused - saved
        analysis = {
            "operation_sequence": ops,
            "tensor_bytes": tensor_bytes,
            "fusion_groups": groups,
            "fusion_opportunities": [group for group in groups if len(group) > 1],
            "kernels_unfused": len(ops),
            "kernels_fused": len(groups),
            "unfused_bytes": unfused,
            "fused_bytes": fused,
            "bytes_saved": saved,
            "traffic_reduction": unfused / fused if fused else 1.0,
        }
        advice = [f"fuse {' + '.join(group)} into one kernel: {len(group) - 1} intermediate(s) never written "
                  f"or re-read, {2 * tensor_bytes * (len(group) - 1)} bytes saved"
                  for group in groups if len(group) > 1]
        return self._record("kernel_fusion", analysis, advice)
        ### END SOLUTION

    def analyze_multi_gpu_scaling(self, data_size: float, num_gpus: int,
                                  compute_seconds: float = DEFAULT_STEP_COMPUTE_SECONDS,
                                  link_bandwidth_gbs: float = GPU_LINK_BANDWIDTH_GBS,
                                  latency_s: float = GPU_LINK_LATENCY_S) -> dict[str, Any]:
        """Model a data-parallel step on `num_gpus` GPUs: compute split p ways, then a ring all-reduce.

        Model: `data_size` is the bytes of gradients all-reduced per step;
        `compute_seconds` is one GPU's compute time for the whole step (an assumption
        you state; 0.1 s by default). On p GPUs, without overlap:
            allreduce = ring_allreduce_seconds(data_size, p, link_bandwidth_gbs, latency_s)
            step      = compute_seconds / p + allreduce
            speedup   = compute_seconds / step;  scaling_efficiency = speedup / p
            bottleneck = "communication" when allreduce > compute_seconds / p, else "compute"

        TODO: validate, return the dict with the keys `data_size_bytes`, `num_gpus`,
        `link_bandwidth_gbs`, `latency_s`, `compute_seconds_single_gpu`,
        `compute_seconds_per_gpu`, `allreduce_seconds`, `step_seconds`, `speedup`,
        `scaling_efficiency`, `communication_fraction` (allreduce / step),
        `bottleneck`, `scaling_curve` (for g = 1, 2, 4, ... below p, and p: a dict
        with `gpus`, `step_seconds`, `speedup`, `scaling_efficiency`); recommend when
        communication takes more than 30% of the step; `_record` it under "multi_gpu".

        Raises:
            ValueError: `num_gpus < 1`, `data_size < 0` or `compute_seconds <= 0`
            (and the link parameters as in `ring_allreduce_seconds`).
        """
        ### BEGIN SOLUTION
        gpus = _positive_int(num_gpus, "num_gpus")
        if data_size < 0:
            raise ValueError(f"data_size must be >= 0 bytes, got {data_size}")
        if not compute_seconds > 0:
            raise ValueError(f"compute_seconds must be positive, got {compute_seconds}")

        def step_model(g: int) -> dict[str, Any]:
            allreduce = ring_allreduce_seconds(data_size, g, link_bandwidth_gbs, latency_s)
            step = compute_seconds / g + allreduce
            return {"gpus": g, "allreduce_seconds": allreduce, "step_seconds": step,
                    "speedup": compute_seconds / step, "scaling_efficiency": compute_seconds / step / g}

        counts = sorted({2**i for i in range(gpus.bit_length()) if 2**i < gpus} | {gpus})
        curve = [step_model(g) for g in counts]
        final = curve[-1]
        analysis = {
            "data_size_bytes": data_size,
            "num_gpus": gpus,
            "link_bandwidth_gbs": link_bandwidth_gbs,
            "latency_s": latency_s,
            "compute_seconds_single_gpu": compute_seconds,
            "compute_seconds_per_gpu": compute_seconds / gpus,
            "allreduce_seconds": final["allreduce_seconds"],
            "step_seconds": final["step_seconds"],
            "speedup": final["speedup"],
            "scaling_efficiency": final["scaling_efficiency"],
            "communication_fraction": final["allreduce_seconds"] / final["step_seconds"],
            "bottleneck": "communication" if final["allreduce_seconds"] > compute_seconds / gpus else "compute",
            "scaling_curve": [{key: point[key] for key in ("gpus", "step_seconds", "speedup", "scaling_efficiency")}
                              for point in curve],
        }
        advice = []
        if analysis["communication_fraction"] > 0.3:
            advice.append(f"the all-reduce of {data_size:.3g} bytes takes {analysis['communication_fraction']:.0%} of "
                          f"the step on {gpus} GPUs: overlap it with the backward pass, send float16 gradients, "
                          f"or use a faster link than {link_bandwidth_gbs:g} GB/s")
        return self._record("multi_gpu", analysis, advice)
        ### END SOLUTION

# %% [markdown]
# ### The profiler and its report
#
# `KernelOptimizationProfiler` is the four parts together, plus the report.

# %% nbgrader={"grade": false, "grade_id": "profiler-solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| export
class KernelOptimizationProfiler(_KernelMeasurement, _MemoryModels, _ExecutionModels, _ScalingModels):
    """Measure kernels on this machine; model GPU behaviour with stated, deterministic formulas.

    `hardware_config` is `detect_hardware()` by default: the real core count, memory and
    cache sizes, and this machine's measured peak GFLOP/s and memory bandwidth (measured
    once per process). Nothing here is random: the same call gives the same model output.

    Code written for the original TinyTorch course's profiler keeps working where its
    names mean what ours do. Its sections `cuda_analysis` and `tensor_core` are the same
    dicts as `kernel_performance` and `tensor_cores`, and these keys carry our values:

    | original name | section | our value |
    |---|---|---|
    | `avg_execution_time_us` | cuda_analysis | `mean_time_us`: mean of the timed calls |
    | `memory_bandwidth_gb_s` | cuda_analysis | `achieved_gbs`: bytes moved / median time, GB = 1e9 bytes |
    | `compute_utilization` | cuda_analysis | `compute_fraction`: achieved / measured peak GFLOP/s |
    | `optimization_potential` | memory_coalescing | `1 - coalescing_efficiency` |
    | `divergence_ratio` | warp_divergence | `divergent_fraction` |
    | `warp_efficiency` | warp_divergence | `simt_efficiency` (the worst-case model) |
    | `tensor_core_compatible` | tensor_core | `tensor_core_eligible` |
    | `theoretical_speedup` | tensor_core | `peak_speedup_vs_float32` (A100 datasheet peaks) |
    | `fusion_opportunities` | kernel_fusion | the fusion groups of two or more operations |
    | `performance_improvement` | kernel_fusion | `traffic_reduction`: the speed-up of a memory-bound chain, whose time follows its bytes |

    Not given, because the original's numbers were simulated (random draws or fixed
    guesses) and nothing here measures or models them: `theoretical_peak_bandwidth`
    and `bandwidth_efficiency` (a fixed 900 GB/s GPU), `actual_utilization` and the
    `performance_gain` of shared memory and of tensor cores. `bank_conflicts`,
    `memory_transactions` and `efficiency_loss` had other formulas: read
    `bank_conflict_degree`, `total_transactions_32b` and `idle_lane_fraction`.
    """

    def generate_optimization_report(self) -> str:
        """The hardware, every stored analysis (its numbers and text) and all recommendations, as text.

        TODO: a header with the device ("cpu"), CPU model, core count and — when
        present — the measured peak GFLOP/s, bandwidth and ridge point; then one
        section per analysis of `self._sections()` (each once, without the original
        course's names) listing its values except dicts, lists of dicts and the
        recommendations (floats with 4 significant digits); then "Recommendations:" and
        one line per recommendation ("  (none)" when there is none).
        """
        ### BEGIN SOLUTION
        hw = self.hardware_config
        lines = ["Kernel Optimization Analysis Report",
                 f"device: cpu ({hw.get('cpu_model', 'unknown CPU')}, {hw.get('cpu_count', '?')} cores)"]
        if hw.get("peak_gflops") and hw.get("memory_bandwidth_gbs"):
            lines.append(f"measured peak {hw['peak_gflops']:.4g} GFLOP/s, memory bandwidth "
                         f"{hw['memory_bandwidth_gbs']:.4g} GB/s, ridge point "
                         f"{hw['peak_gflops'] / hw['memory_bandwidth_gbs']:.4g} FLOP/byte")
        for section, analysis in self._sections():
            lines += ["", f"[{section}]"]
            for key, value in analysis.items():
                if isinstance(value, float):
                    lines.append(f"  {key}: {value:.4g}")
                elif key != "recommendations" and not isinstance(value, dict) and not (
                        isinstance(value, list) and any(isinstance(item, dict) for item in value)):
                    lines.append(f"  {key}: {value}")
        lines += ["", "Recommendations:"]
        lines += [f"  - {text}" for text in self.optimization_recommendations] or ["  (none)"]
        return "\n".join(lines)
        ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test-kernel-profiler", "locked": true, "points": 60, "schema_version": 3, "solution": false, "task": false}
def test_unit_kernel_profiler():
    profiler = KernelOptimizationProfiler()
    for key in ("cpu_count", "cache_sizes", "peak_gflops", "memory_bandwidth_gbs"):
        assert key in plain(profiler.hardware_config), f"the detected hardware should include {key!r}"
    assert plain(profiler.profile_results) == {} and plain(profiler.optimization_recommendations) == [], "a new profiler starts empty"

    x = np.random.default_rng(15).standard_normal(200_000).astype(np.float32)
    measured = plain(profiler.analyze_cuda_kernel_performance(vectorized_relu, x, iterations=5))
    assert measured["device"] == "cpu", f"the device actually used is the cpu, got {measured['device']!r}"
    assert measured["bytes_moved"] == 2 * x.nbytes, f"ReLU reads and writes {2 * x.nbytes} bytes, got {measured['bytes_moved']}"
    assert measured["median_time_us"] > 0 and measured["achieved_gbs"] > 0, "time and bandwidth should be measured"
    expected_fraction = measured["achieved_gbs"] / plain(profiler.hardware_config["memory_bandwidth_gbs"])
    assert abs(measured["bandwidth_fraction"] - expected_fraction) < 1e-9, "bandwidth_fraction = achieved / measured bandwidth"
    assert measured["bound"] == "memory", f"ReLU (1/8 FLOP per byte) should be memory-bound, got {measured['bound']}"
    assert plain(profiler.profile_results["kernel_performance"]) == measured, "the analysis should be stored in profile_results"

    row = plain(profiler.analyze_memory_coalescing("row_major", (1024, 1024)))
    column = plain(profiler.analyze_memory_coalescing("column_major", (1024, 1024)))
    assert row["coalescing_efficiency"] == 1.0 and row["segments_per_warp"] == 4, f"row-major float32: 4 segments, 100%; got {row}"
    assert column["coalescing_efficiency"] == 0.125 and column["total_transactions_32b"] == 1024 * 1024, (
        f"column-major: one segment per element, 12.5%; got {column['coalescing_efficiency']}, {column['total_transactions_32b']}")
    again = KernelOptimizationProfiler(profiler.hardware_config).analyze_memory_coalescing("column_major", (1024, 1024))
    assert plain(again) == column, "two identical calls should give identical model outputs"

    divergence = plain(profiler.analyze_warp_divergence(10, 100))
    assert abs(divergence["simt_efficiency"] - 100 / 110) < 1e-12, f"10 divergent of 100: efficiency 100/110, got {divergence['simt_efficiency']}"
    shared = plain(profiler.analyze_shared_memory_usage(32 * 1024, 8.0, stride_words=2))
    assert shared["bank_conflict_degree"] == 2 and shared["padded_stride_words"] == 3, f"stride 2: 2-way, pad to 3; got {shared}"
    cores = plain(profiler.analyze_tensor_core_utilization("matmul", ["float16"], shape=(1024, 1000, 4096)))
    assert cores["tensor_core_eligible"] is True, f"float16 matmul with multiples of 8 should be eligible: {cores['reasons']}"
    float32_only = plain(profiler.analyze_tensor_core_utilization("matmul", [np.float32]))
    assert float32_only["tensor_core_eligible"] is False, "float32 has no tensor-core path in this model"
    fusion = plain(profiler.analyze_kernel_fusion_opportunities(["matmul", "add", "relu"], tensor_bytes=1000))
    assert (fusion["unfused_bytes"], fusion["fused_bytes"], fusion["bytes_saved"]) == (6000, 2000, 4000), (
        f"matmul+add+relu of 1000-byte tensors: 6000 bytes unfused, 2000 fused, 4000 saved; got {fusion}")
    scaling = plain(profiler.analyze_multi_gpu_scaling(1e9, 4, compute_seconds=0.2, link_bandwidth_gbs=25.0, latency_s=0.0))
    assert abs(scaling["step_seconds"] - 0.11) < 1e-12 and abs(scaling["speedup"] - 0.2 / 0.11) < 1e-9, (
        f"0.2 s / 4 + 0.06 s all-reduce = 0.11 s per step; got {scaling['step_seconds']}")

    for call, what, name in ((lambda: profiler.analyze_memory_coalescing("diagonal", (8, 8)), "an unknown pattern", "diagonal"),
                             (lambda: profiler.analyze_warp_divergence(0, 0), "total_operations=0", "total_operations"),
                             (lambda: profiler.analyze_multi_gpu_scaling(1e6, 0), "num_gpus=0", "num_gpus")):
        expect_raises(ValueError, call, naming=[name], what=f"the profiler's analysis with {what}")

    recommendations = plain(profiler.optimization_recommendations)
    assert recommendations, "the analyses above should produce recommendations"
    assert all(isinstance(r, str) and r for r in recommendations), "recommendations are non-empty strings"
    count = len(recommendations)
    profiler.analyze_warp_divergence(10, 100)
    assert len(plain(profiler.optimization_recommendations)) == count, "repeating an analysis should not repeat its recommendations"
    report = plain(profiler.generate_optimization_report())
    for part in ("cpu", "memory_coalescing", "multi_gpu", "Recommendations"):
        assert part in report, f"the report should mention {part!r}"

test_unit_kernel_profiler()

# %% [markdown]
# A report for a small network layer: a ReLU measured here, and the GPU models of
# its matrix product.

# %%
layer_output = np.random.default_rng(14).standard_normal(10**7).astype(np.float32)
report_profiler = KernelOptimizationProfiler()
report_profiler.analyze_cuda_kernel_performance(parallel_relu, layer_output, iterations=10)
report_profiler.analyze_memory_coalescing("column_major", (4096, 4096))
report_profiler.analyze_shared_memory_usage(32 * 1024, reuse_factor=32, stride_words=32)
report_profiler.analyze_tensor_core_utilization("matmul", ["float16"], shape=(4096, 4090, 4096))
report_profiler.analyze_kernel_fusion_opportunities(["linear", "bias_add", "relu", "dropout"])
report_profiler.analyze_multi_gpu_scaling(400e6, 8)
print(report_profiler.generate_optimization_report())

# %% [markdown]
# ## Summary
#
# You built `tinytorch.core.gpu_models`: coalescing, divergence, bank conflicts,
# tensor cores, fusion and ring all-reduce, as formulas you can check by hand, and a
# profiler that measures what this machine can measure and models the rest.
#
# Export with `tito export 12` and run `tito module test 12`.

# %% nbgrader={"grade": false, "grade_id": "gpu-models-run-all", "locked": true, "schema_version": 3, "solution": false, "task": false}
if __name__ == "__main__":
    from tito.tools.testing import run_module_tests_auto
    run_module_tests_auto("GPU models")

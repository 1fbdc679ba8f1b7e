"""What `tito benchmark kernels` produces: one row per kernel and size, and the whole run.

Plain dataclasses: `dataclasses.asdict` of a KernelBenchmark is the JSON file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tito.benchmark.goals import Target


@dataclass
class KernelRow:
    """One kernel at one size: its time, every sample, correctness and the numbers derived from the time."""

    family: str  # "matmul" (size = n) or "relu" (size = elements)
    kernel: str
    size: int
    dtype: str
    repeats: int
    flops: int
    bytes_moved: int
    intensity_flop_per_byte: float
    attainable_gflops: float | None = None
    attainable_gbs: float | None = None  # the copy bandwidth of this footprint, the roof's memory slope
    seconds: float | None = None
    samples: list[float] = field(default_factory=list)
    correct: bool = False
    max_abs_error: float | None = None
    error: str | None = None
    gflops: float | None = None
    gbs: float | None = None
    fraction_of_attainable: float | None = None
    baseline: str | None = None
    speedup: float | None = None
    quiet: bool = True  # its size's measurement had every median within QUIET_SPREAD of its fastest sample


@dataclass
class KernelBenchmark:
    """Everything one run measured; `asdict` of it is the JSON file."""

    created: str
    quick: bool
    settings: dict[str, Any]
    machine: dict[str, Any]
    load: dict[str, float]
    matmul: list[KernelRow]
    relu: list[KernelRow]
    targets: list[Target]
    benchmark: str = "kernels"

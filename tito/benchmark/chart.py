"""The chart of `tito benchmark kernels`: speed ladder, ReLU bandwidth, roofline, fraction of attainable.

Written atomically, like every other output: a reader sees the old PNG or the new one.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from tito.benchmark.results import KernelBenchmark, KernelRow
from tito.files import write_atomic

DPI = 110


def _by_kernel(rows: list[KernelRow]) -> dict[str, list[KernelRow]]:
    kernels: dict[str, list[KernelRow]] = {}
    for row in rows:
        if row.seconds:
            kernels.setdefault(row.kernel, []).append(row)
    return kernels


def write_chart(results: KernelBenchmark, path: Path) -> Path:
    """PNG: the matmul speed ladder, ReLU bandwidth, the roofline, and each kernel's fraction of attainable."""
    from matplotlib.figure import Figure

    machine = results.machine
    peak, bandwidth = machine["peak_gflops"], machine["memory_bandwidth_gbs"]
    figure = Figure(figsize=(24, 5.5), layout="constrained")
    ladder, relu_axis, roofline, fractions = figure.subplots(1, 4)

    matmul_kernels, relu_kernels = _by_kernel(results.matmul), _by_kernel(results.relu)
    palette = [f"C{i}" for i in range(10)]
    colour = {kernel: palette[i % len(palette)] for i, kernel in enumerate([*matmul_kernels, *relu_kernels])}

    for kernel, rows in matmul_kernels.items():
        ladder.plot([r.size for r in rows], [r.gflops for r in rows], marker="o", color=colour[kernel], label=kernel)
    ladder.axhline(peak, color="black", linestyle="--", linewidth=1, label=f"measured peak {peak:.0f} GFLOP/s")
    sizes = results.settings["matmul_sizes"]
    ladder.set(xscale="log", yscale="log", xlabel="matrix size n (float32)", ylabel="GFLOP/s = 2n³ / time",
               title="Matmul speed ladder")
    ladder.minorticks_off()
    ladder.set_xticks(sizes, [str(n) for n in sizes])
    ladder.legend(fontsize=8)

    for kernel, rows in relu_kernels.items():
        relu_axis.plot([r.size for r in rows], [r.gbs for r in rows], marker="^", color=colour[kernel], label=kernel)
    footprints = sorted({(r.size, r.attainable_gbs) for r in results.relu if r.attainable_gbs})
    relu_axis.plot([size for size, _ in footprints], [gbs for _, gbs in footprints], color="black", linestyle="--",
                   linewidth=1, label="best copy of the same footprint (the roof)")
    relu_axis.axhline(bandwidth, color="grey", linestyle=":", linewidth=1,
                      label=f"main-memory copy, 1 thread {bandwidth:.1f} GB/s")
    relu_axis.set(xscale="log", yscale="log", xlabel="elements (float32)", ylabel="GB/s = bytes read + written / time",
                  title="ReLU bandwidth")
    relu_axis.legend(fontsize=8)

    ridge = peak / bandwidth
    every = [r for rows in (*matmul_kernels.values(), *relu_kernels.values()) for r in rows]
    intensities = [r.intensity_flop_per_byte for r in every]
    grid = np.geomspace(min(intensities + [ridge]) / 4, max(intensities + [ridge]) * 4, 200)
    roofline.plot(grid, np.minimum(peak, grid * bandwidth), color="black", linewidth=2,
                  label=f"min({peak:.0f} GFLOP/s, I × {bandwidth:.1f} GB/s main memory)")
    roofline.axvline(ridge, color="grey", linestyle=":", linewidth=1, label=f"ridge point {ridge:.1f} FLOP/byte")
    for kernels, marker in ((matmul_kernels, "o"), (relu_kernels, "^")):
        for kernel, rows in kernels.items():
            roofline.scatter([r.intensity_flop_per_byte for r in rows], [r.gflops for r in rows],
                             marker=marker, color=colour[kernel], label=kernel, s=28)
            largest = rows[-1]
            roofline.annotate(f"{largest.fraction_of_attainable:.0%}", (largest.intensity_flop_per_byte, largest.gflops),
                              textcoords="offset points", xytext=(4, 4), fontsize=7, color=colour[kernel])
    roofline.set(xscale="log", yscale="log", xlabel="arithmetic intensity I (FLOP per byte)", ylabel="GFLOP/s",
                 title="Roofline: matmul (o) at I = n/6, ReLU (^) at I = 1/8; % of attainable at the largest size")
    roofline.legend(fontsize=7, loc="lower right")

    largest_rows = [rows[-1] for rows in (*matmul_kernels.values(), *relu_kernels.values())]
    labels = [f"{r.kernel} ({'n=' if r.family == 'matmul' else ''}{r.size:g})" for r in largest_rows]
    shares = [r.fraction_of_attainable for r in largest_rows]
    fractions.barh(labels, shares, color=[colour[r.kernel] for r in largest_rows])
    for position, share in enumerate(shares):
        fractions.text(share, position, f" {share:.1%}", va="center", fontsize=8)
    fractions.axvline(1.0, color="black", linestyle="--", linewidth=1)
    fractions.set(xscale="log", xlabel="GFLOP/s ÷ attainable = min(peak, I × copy bandwidth of the footprint)",
                  title="Fraction of attainable, largest size")
    fractions.invert_yaxis()

    figure.suptitle(f"TinyTorch kernels on {machine['cpu_model']} ({machine['cpu_count']} cores)"
                    + (" — quick run" if results.quick else ""))
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    write_atomic(path, buffer.getvalue())
    return path

"""How close a two-way row split can get to BLAS's own threads: `matmul_parallel` against its parts.

    .venv/bin/python -m scripts.row_split_ceiling [--n 1024] [--rounds 12]

Times four contenders in alternating blocks (each block first runs its contender,
untimed, for the kernels' settle time, then times `SAMPLES_PER_BLOCK` calls back to
back) and prints their medians:

- numpy's multithreaded `@`;
- `matmul_parallel` with the default workers;
- one BLAS thread computing the first half of the rows (one worker's piece, alone);
- one BLAS thread computing all rows.

From them: `matmul_parallel` / `@`; the piece's overhead (half of the one-thread
product over the one-thread piece: below 1 when a worker's own packing of all of B
costs it time); and `@`'s own two-thread scaling. What the piece alone does not
explain is what two pieces running at once cost each other.
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np

from tito.benchmark.measure import one_blas_thread
from tito.tools.blocks import Contender, time_blocks

SAMPLES_PER_BLOCK = 4


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=12)
    args = parser.parse_args()

    from tinytorch.core import kernels

    n, half = args.n, args.n // 2
    rng = np.random.default_rng(0)
    a, b = (rng.uniform(-1, 1, (n, n)).astype(np.float32) for _ in range(2))
    out = np.empty((n, n), np.float32)
    one_thread = one_blas_thread()
    contenders = [
        Contender("numpy @", lambda: a @ b),
        Contender("matmul_parallel", lambda: kernels.matmul_parallel(a, b)),
        Contender(f"1 thread, {half} rows", lambda: np.matmul(a[:half], b, out=out[:half]), one_thread),
        Contender("1 thread, all rows", lambda: np.matmul(a, b, out=out), one_thread),
    ]
    timings = time_blocks(contenders, SAMPLES_PER_BLOCK * args.rounds, rounds=args.rounds,
                          settle_seconds=kernels.BLAS_SETTLE_SECONDS)
    samples = {name: timing.samples for name, timing in timings.items()}
    ms = {name: statistics.median(times) * 1e3 for name, times in samples.items()}
    print("  ".join(f"{name} {value:.3f} ms" for name, value in ms.items()))
    full = ms["1 thread, all rows"]
    print(f"matmul_parallel / @ = {ms['numpy @'] / ms['matmul_parallel']:.3f}; "
          f"half of the one-thread product / one-thread piece = {full / 2 / ms[f'1 thread, {half} rows']:.3f}; "
          f"@'s two-thread scaling = {full / ms['numpy @']:.2f}x")


if __name__ == "__main__":
    main()

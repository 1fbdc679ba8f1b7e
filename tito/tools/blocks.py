"""Blocks of back-to-back calls: the timing loop of `tito benchmark kernels` and the scripts, part of the
speed core (`tito.tools.speed` holds the rules a comparison follows)."""

from __future__ import annotations

import contextlib
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

Limit = Callable[[], contextlib.AbstractContextManager]


@dataclass
class Contender:
    """One thing to time: `call()`, inside `limit()` (e.g. one BLAS thread) when given."""

    name: str
    call: Callable[[], Any]
    limit: Limit | None = None


@dataclass
class Timing:
    """Every timed sample of one contender (seconds per call), and the result of its warm-up call."""

    samples: list[float] = field(default_factory=list)
    result: Any = None

    @property
    def median(self) -> float:
        return statistics.median(self.samples)


def time_blocks(contenders: list[Contender], samples: int, rounds: int = 1,
                settle_seconds: float = 0.0) -> dict[str, Timing]:
    """Time every contender in `rounds` blocks each, contenders taking turns block by block.

    A block enters the contender's limit, calls it untimed until `settle_seconds` have
    passed (at least once: the warm-up, whose result is kept), then times
    ceil(samples / rounds) calls back to back. Alternating blocks make a change in
    the machine's load hit every contender alike. The limit is entered outside the
    timed region.
    """
    per_block = -(-samples // rounds)
    timings = {contender.name: Timing() for contender in contenders}
    for _ in range(rounds):
        for contender in contenders:
            timing = timings[contender.name]
            with contender.limit() if contender.limit else contextlib.nullcontext():
                settled = time.perf_counter() + settle_seconds
                timing.result = contender.call()
                while time.perf_counter() < settled:
                    contender.call()
                for _ in range(per_block):
                    start = time.perf_counter()
                    contender.call()
                    timing.samples.append(time.perf_counter() - start)
    return timings


def run_at_once(pool, calls: list[Callable[[], Any]]) -> None:
    """Run `calls[0]` in this thread while `pool` runs the others; return when all are done.

    The machine's own reference for a parallel kernel: plain threads of a
    `ThreadPoolExecutor`, independent of the kernels under test.
    """
    futures = [pool.submit(call) for call in calls[1:]]
    calls[0]()
    for future in futures:
        future.result()


def machine_gain_contenders(pool, reference: Callable[..., Any], inputs: Sequence[tuple]) -> tuple[Callable, Callable]:
    """The machine gain's two sides: `reference` on each of `inputs` one after another, and all at
    once (one thread each, from `pool`). Machine gain = time apart / time together."""
    def apart() -> None:
        for args in inputs:
            reference(*args)

    def together() -> None:
        run_at_once(pool, [lambda args=args: reference(*args) for args in inputs])
    return apart, together

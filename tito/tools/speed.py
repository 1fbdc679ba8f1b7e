"""The speed core: how TinyTorch times kernels, for the lesson's graded tests, `tito benchmark
kernels` and the scripts.

Every speed verdict rests on what the judge itself controls:

- **Inputs**: every timed call gets fresh inputs drawn from an unpredictable seed, placed
  where the kernel runs before the clock starts. A cache keyed on identity or content
  never hits.
- **Results**: the kernel's result must be complete when its call returns. Right after
  the call, the judge reads entries at positions it picks then, straight from the
  student's process's memory (`tito.tools.observe.peek`, which runs none of the
  process's code); afterwards it fetches the whole result and checks it in full. An
  entry that changed in between means work left for after the clock stopped.
- **Clock and CPU time**: the judge's `perf_counter`, and the CPU time the operating
  system counted for the student's process during the call. A single-core comparison
  charges the kernel the larger of the two, so BLAS threads the student's process did
  not limit buy nothing.
- **Baselines**: functions of the judge's own, run in the judge; single-core ones timed by
  their thread's CPU time, which other processes (a student's, busy between calls) cannot lengthen.
- **Noise** only adds time: a speed-up counts for a pass when the baseline was quiet (its
  median within QUIET_SPREAD of its fastest sample), for a miss when the kernel was; a
  parallel gain wants each machine reference's fastest sample seen twice. Undecided, it is
  measured again (SPEED_ATTEMPTS, PARALLEL_ATTEMPTS), then `Inconclusive`: never a pass.

Inline (a student's own notebook, where there is no judge) the same functions time the
calls in the one process: same rules, the student's own machine.
"""

from __future__ import annotations

import gc
import math
import os
import secrets
import statistics
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from tito.tools.blocks import machine_gain_contenders

QUIET_SPREAD = 1.3  # a median sample this much slower than the fastest: other programs were running
SPEED_ATTEMPTS = 3  # a comparison is measured again, up to this often, before its verdict
PARALLEL_ATTEMPTS = 5  # more for a parallel gain: a scheduler may keep two threads on one CPU for a whole measurement
SHORT_SAMPLE_SECONDS = 0.005  # a sample of a short kernel spans calls back to back: one call is mostly hand-over
SINGLE_CORE_SAMPLE_SECONDS = 0.02  # a single-core sample spans calls too; the OS's CPU clock is read call by call
WARM_UP_CALLS = 2  # untimed calls of each contender before a measurement
FAR_MISSES = 2  # quiet measurements that miss by far (`missed_by_far`) and decide a miss before SPEED_ATTEMPTS
PEEKED_ENTRIES = 64  # entries of each timed result read the moment its call returns
BUSY_SHARE = 0.25  # a thread that ran this share of a call's time counts as running during it
TRUSTED_INPUT_VARIANTS = 3  # inputs the judge's own contenders cycle through
STRICT_OBSERVATION = False  # True in the grader: a call the OS would not show is inconclusive (locally, timed)


class Inconclusive(Exception):
    """A check that cannot be decided on trusted ground: never a pass; the notebook is listed to regrade."""


def usable_cpus() -> list[int]:
    """The CPUs this process may run on, as the OS tells it (all where it cannot say): a grader shares these out."""
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))


def usable_cores() -> int:
    """How many cores this process may run on. In the judge that is the student's kernel's share (the judge
    is pinned to the same CPUs), known without asking the student's process."""
    return len(usable_cpus())


def require_cores(needed: int, what: str) -> None:
    """Raise `Inconclusive` unless this process may run on `needed` cores: a parallel speed check made on
    fewer would measure nothing, and one skipped would pass unmeasured."""
    have = usable_cores()
    if have < needed:
        raise Inconclusive(
            f"{what} needs {needed} CPUs and this kernel may use {have}, so it was not made (no points for it). "
            f"Grade on a machine with more CPUs, or with fewer kernels at once (tito nbgrader autograde --workers)")


def unpredictable_seed() -> int:
    return secrets.randbits(63)


def is_quiet(samples: Sequence[float]) -> bool:
    """Whether a contender's median sample is within QUIET_SPREAD of its fastest."""
    return statistics.median(samples) <= QUIET_SPREAD * min(samples)


def fastest_seen_twice(samples: Sequence[float]) -> bool:
    """Whether a contender's fastest sample is not a lone one: its second fastest is within QUIET_SPREAD."""
    return len(samples) > 1 and sorted(samples)[1] <= QUIET_SPREAD * min(samples)


# ---------------------------------------------------------------- one timed call, observed

@dataclass
class TimedCall:
    """One call of a kernel: its time on the judge's clock, what the OS saw of the process that ran
    it (None where nothing was observed), and its result, fetched whole as plain data."""

    seconds: float
    cpu_seconds: float | None
    busy_threads: int | None
    result: Any

    @property
    def single_core_seconds(self) -> float:
        """What the call costs on one core: its time, or its CPU time where that is larger."""
        return max(self.seconds, self.cpu_seconds or 0.0)


def _student_call(func: Callable[..., Any]) -> bool:
    from tito.tools.judging import runs_in_student_process
    return runs_in_student_process(func)


def timed_calls(func: Callable[..., Any], inputs: Sequence[tuple],
                clock: Callable[[], float] = time.perf_counter) -> list[TimedCall]:
    """`func(*args)` once for each of `inputs`, back to back, each call timed on its own (a judge's function by `clock`).

    For a student function called from the judge, the inputs are placed in the
    student's process first, each result is peeked at right after its call, and the
    results are fetched whole only once every call has been timed.
    """
    if not _student_call(func):
        calls = []
        for args in inputs:
            start = clock()
            result = func(*args)
            calls.append(TimedCall(clock() - start, None, None, result))
        return calls
    from tito.tools import observe
    from tito.tools.judging import plain, resident
    from tito.tools.session import running

    pid = running().pid
    placed = [resident(*args) for args in inputs]
    observed = []
    for args in placed:
        before = observe.thread_cpu(pid), observe.process_cpu(pid)
        start = time.perf_counter()
        handle = func(*args)
        seconds = time.perf_counter() - start
        peeked = _peek(pid, handle)
        after = observe.thread_cpu(pid), observe.process_cpu(pid)
        observed.append((handle, seconds, peeked, before, after))
    calls = []
    for handle, seconds, peeked, before, after in observed:
        result = plain(handle)
        _same_as_peeked(result, peeked)
        cpu, busy = _cpu_during(before, after, seconds)
        if STRICT_OBSERVATION and (cpu is None or peeked is None):
            raise Inconclusive("the grader could not observe the student's process from the operating system "
                               "(its CPU time or its memory), so this speed check cannot be decided")
        calls.append(TimedCall(seconds, cpu, busy, result))
    return calls


def _peek(pid: int, handle: Any) -> tuple[Any, list[bytes]] | None:
    """Entries of a result at positions picked now, read from the student's process's memory."""
    import numpy as np

    from tito.tools import observe
    from tito.tools.session import running

    memory = running().memory_of(handle)
    if memory is None:
        return None
    try:
        address, shape, strides, itemsize = int(memory[0]), [int(s) for s in memory[1]], \
            [int(s) for s in memory[2]], int(memory[3])
    except (TypeError, ValueError, IndexError):
        return None
    size = math.prod(shape)
    if size == 0 or len(shape) != len(strides) or not 0 < itemsize <= 64:
        return None
    rng = np.random.default_rng(unpredictable_seed())
    flat = rng.integers(0, size, PEEKED_ENTRIES)
    index = np.array(np.unravel_index(flat, shape)).T
    offsets = [int(sum(i * s for i, s in zip(position, strides))) for position in index]
    chunks = observe.peek(pid, address, offsets, itemsize)
    return None if chunks is None else (index, chunks)


def _same_as_peeked(result: Any, peeked: tuple[Any, list[bytes]] | None) -> None:
    import numpy as np

    if peeked is None:
        return
    index, chunks = peeked
    if type(result) is not np.ndarray or result.ndim != index.shape[1]:
        raise AssertionError("the timed kernel's result changed after its call returned (a result must be "
                             "complete when the kernel returns)")
    for position, chunk in zip(index, chunks):
        if result[tuple(position)].tobytes() != chunk:
            raise AssertionError(
                f"entry {tuple(int(i) for i in position)} of the timed kernel's result changed after its call "
                "returned: a kernel must finish its work before it returns, not in the background")


def _cpu_during(before: tuple, after: tuple, seconds: float) -> tuple[float | None, int | None]:
    """The process's CPU seconds during a call, and how many of its threads ran BUSY_SHARE of it: each live
    thread by its own clock; the threads that ended inside the call left their CPU in the process's clock
    only, counted in whole calls (none ran longer), a remainder of BUSY_SHARE as one more."""
    (threads0, process0), (threads1, process1) = before, after
    if threads0 is None or threads1 is None or process0 is None or process1 is None:
        return None, None
    deltas = [threads1[tid] - threads0.get(tid, 0.0) for tid in threads1]
    live = sum(d for d in deltas if d > 0)
    ended = process1 - process0 - live
    busy = sum(1 for d in deltas if d >= BUSY_SHARE * seconds)
    busy += max(0, int(ended / seconds + 1 - BUSY_SHARE)) if seconds > 0 else 0
    return max(live, process1 - process0), busy


# ---------------------------------------------------------------- comparisons

def sample_seconds(calls: Sequence[TimedCall], single_core: bool = False) -> float:
    """Seconds per call of a batch of calls. A single-core sample charges each call of the student's process
    the CPU time the OS counted for it where that exceeds its wall time."""
    if single_core:
        return sum(call.single_core_seconds for call in calls) / len(calls)
    return sum(call.seconds for call in calls) / len(calls)


def fresh_inputs(make_args: Callable[[int], tuple], count: int) -> list[tuple]:
    return [tuple(make_args(unpredictable_seed())) for _ in range(count)]


def calls_per_sample(func: Callable[..., Any], make_args: Callable[[int], tuple], min_seconds: float,
                     cost: Callable[[TimedCall], float]) -> int:
    """How many calls make a sample last `min_seconds`, from the faster of WARM_UP_CALLS calls (a first
    call after a pause can be many times slower than the rest)."""
    fastest = min(cost(call) for call in timed_calls(func, fresh_inputs(make_args, WARM_UP_CALLS)))
    return max(1, min(64, math.ceil(min_seconds / max(fastest, 1e-6))))


@dataclass
class Comparison:
    """Seconds per call of each contender, sample by sample, and the calls of the first (the kernel),
    their results dropped once checked."""

    samples: list[list[float]]
    kernel_calls: list[TimedCall]

    def spread(self) -> str:
        """Each contender's median sample over its fastest, as the quiet rule reads them."""
        return ", ".join(f"{statistics.median(times) / min(times):.2f}" for times in self.samples)


def compare(contenders: Sequence[Callable[..., Any]], make_args: Callable[[int], tuple], repeats: int,
            check: Callable[..., None] | None = None, single_core: bool = False,
            min_sample_seconds: float = 0.0, settle_seconds: float = 0.0,
            references: Sequence[Callable[[], Any]] = ()) -> Comparison:
    """Time `contenders` in turns, `repeats` samples each, every call on fresh inputs; then, in the
    same turns, `references`: calls of the judge's own that take no inputs (the machine's gain).

    A sample of a contender is one or more calls back to back (enough to last
    `min_sample_seconds`), seconds per call. `check(result, *args)` verifies every
    result of the first contender in full. `single_core` charges each call of a
    student function its CPU time where that exceeds its wall time, and times the
    other contenders (the judge's baselines) by their thread's CPU time. The samples
    of `references` follow those of `contenders` in `Comparison.samples`.
    """
    cost = (lambda call: call.single_core_seconds) if single_core else (lambda call: call.seconds)
    bare = [lambda call=call: call() for call in references]
    loops = [calls_per_sample(func, make_args, min_sample_seconds, cost) for func in contenders]
    loops += [calls_per_sample(lambda *_, f=f: f(), lambda seed: (), min_sample_seconds, cost) for f in bare]
    settle_until = time.perf_counter() + settle_seconds
    while time.perf_counter() < settle_until:
        for func in contenders:
            timed_calls(func, fresh_inputs(make_args, 1))
        for call in bare:
            call()
    everyone = [*contenders, *(lambda *_, f=f: f() for f in bare)]
    # code the judge trusts (its baselines) cannot remember an answer: it cycles through a few inputs made
    # once, which spares each of its samples the page faults of fresh arrays; a student's function always
    # gets fresh ones
    pool = fresh_inputs(make_args, TRUSTED_INPUT_VARIANTS)
    samples: list[list[float]] = [[] for _ in everyone]
    kernel_calls: list[TimedCall] = []
    for r in range(repeats):
        for k, func in enumerate(everyone):
            if k >= len(contenders):
                inputs = [()] * loops[k]
            elif _student_call(func):
                inputs = fresh_inputs(make_args, loops[k])
            else:
                inputs = [pool[(r + i) % len(pool)] for i in range(loops[k])]
            clock = time.thread_time if single_core and 0 < k < len(contenders) else time.perf_counter
            gc.disable()  # a garbage collection inside one sample would land on one side only
            try:
                calls = timed_calls(func, inputs, clock)
            finally:
                gc.enable()
            samples[k].append(sample_seconds(calls, single_core))
            if k == 0:
                for call, args in zip(calls, inputs):
                    if check is not None:
                        check(call.result, *args)
                    call.result = None  # checked: a parallel check's results would fill the memory
                kernel_calls.extend(calls)
            del calls, inputs
    return Comparison(samples, kernel_calls)


def missed_by_far(kernel_times: Sequence[float], baseline_times: Sequence[float], at_least: float) -> bool:
    """Whether a quiet measurement misses by far: even at its fastest sample against the baseline's,
    the kernel falls short of `at_least` by more than two quiet spreads. FAR_MISSES of them decide: a
    machine can slow every call of one measurement alike (quiet, and wrong), seldom of two."""
    return min(baseline_times) / min(kernel_times) * QUIET_SPREAD ** 2 < at_least


def speedup(kernel: Callable[..., Any], baseline: Callable[..., Any], make_args: Callable[[int], tuple],
            at_least: float, check: Callable[..., None] | None = None, repeats: int = 5,
            single_core: bool = False) -> float:
    """How many times faster `kernel` runs than `baseline`: the ratio of their medians over interleaved
    samples on fresh inputs. Noise only adds time, so a measurement speaks for a pass when the baseline
    was quiet (a disturbed kernel only lowers the ratio), and for a miss when the kernel was quiet (a
    disturbed baseline only raises it). Measured again while undecided, up to SPEED_ATTEMPTS times; a
    miss is decided once every attempt is made or FAR_MISSES measurements missed by far (`missed_by_far`),
    and the best ratio that spoke for it is returned. Neither ever: `Inconclusive`."""
    missed, spreads, far = None, [], 0
    for _ in range(SPEED_ATTEMPTS):
        measured = compare([kernel, baseline], make_args, repeats, check, single_core,
                           min_sample_seconds=SINGLE_CORE_SAMPLE_SECONDS if single_core else SHORT_SAMPLE_SECONDS)
        kernel_times, baseline_times = measured.samples
        ratio = statistics.median(baseline_times) / statistics.median(kernel_times)
        if ratio >= at_least and is_quiet(baseline_times):
            return ratio
        if ratio < at_least and is_quiet(kernel_times):
            missed = ratio if missed is None else max(missed, ratio)
            far += missed_by_far(kernel_times, baseline_times, at_least)
            if far >= FAR_MISSES:
                break
        else:
            spreads.append(measured.spread())
    if missed is None:
        raise Inconclusive(f"the machine was never quiet enough to compare speeds ({SPEED_ATTEMPTS} attempts; "
                           f"median/fastest sample of kernel and baseline: {'; '.join(spreads)}, quiet is at "
                           f"most {QUIET_SPREAD}: a pass needs the baseline quiet, a miss the kernel)")
    return missed


@dataclass
class ParallelGain:
    kernel: float  # time of the baseline / time of the parallel kernel
    machine: float  # time of the reference calls apart / at once
    busy_threads: int | None  # most threads of the student's process that ran during one kernel call

    @classmethod
    def of(cls, measured: Comparison, workers: int, same_calls: bool) -> ParallelGain:
        """From each fastest sample (kernel, baseline, references apart, together): noise only adds time. A baseline
        that is the reference is also timed by the apart samples: one slow baseline lent a serial kernel a gain."""
        kernel_s, baseline_s, apart_s, together_s = (min(times) for times in measured.samples)
        baseline_s = min(baseline_s, apart_s / workers) if same_calls else baseline_s
        busy = [call.busy_threads for call in measured.kernel_calls if call.busy_threads is not None]
        return cls(baseline_s / kernel_s, apart_s / together_s, max(busy) if busy else None)


def parallel_gain(kernel: Callable[..., Any], baseline: Callable[..., Any], make_args: Callable[[int], tuple],
                  reference: Callable[..., Any], workers: int, required: Callable[[float], float],
                  check: Callable[..., None] | None = None, repeats: int = 7, min_machine_gain: float = 1.25,
                  min_sample_seconds: float = 0.02, settle_seconds: float = 0.25) -> ParallelGain:
    """The parallel kernel's gain over `baseline` and the machine's for `workers` threads (`ParallelGain.of`),
    sampled in the same rounds; a sample is calls that last `min_sample_seconds` (one call alone also pays for
    waking the student's process and its workers). Counts when each reference's fastest sample was seen twice
    and the machine gain reaches `min_machine_gain`; up to PARALLEL_ATTEMPTS measurements until the kernel
    reaches `required(machine gain)`, the counted one that came closest returned, or one in which no call ran on
    `workers` threads. None counted, or fewer than `workers` cores: `Inconclusive`."""
    from concurrent.futures import ThreadPoolExecutor

    require_cores(workers, f"a parallel speed check with {workers} workers")
    best, seen = None, []  # the counted measurement closest to a pass; what each attempt saw
    with ThreadPoolExecutor(max_workers=max(1, workers - 1)) as pool:
        apart, together = machine_gain_contenders(pool, reference, fresh_inputs(make_args, workers))
        for _ in range(PARALLEL_ATTEMPTS):
            measured = compare([kernel, baseline], make_args, repeats, check, min_sample_seconds=min_sample_seconds,
                               settle_seconds=settle_seconds, references=[apart, together])
            gain = ParallelGain.of(measured, workers, same_calls=reference is baseline)
            twice = ", ".join(f"{sorted(t)[1] / min(t):.2f}" for t in measured.samples[2:])
            seen.append(f"machine gain {gain.machine:.2f}, median/fastest {measured.spread()}, the references' "
                        f"second fastest/fastest {twice}")
            if gain.machine >= min_machine_gain and all(fastest_seen_twice(t) for t in measured.samples[2:]) and (
                    best is None or gain.kernel - required(gain.machine) > best.kernel - required(best.machine)):
                best = gain
            if gain.busy_threads is not None and gain.busy_threads < workers:
                return gain  # the OS saw no call run on `workers` threads: no later attempt makes the kernel parallel
            if best is not None and best.kernel >= required(best.machine):
                break
    if best is None:
        raise Inconclusive(f"the machine was never quiet enough, or its cores never free enough, to measure a "
                           f"parallel gain ({len(seen)} attempts: {'; '.join(seen)}; a count needs a machine gain "
                           f"of {min_machine_gain}, its references' second fastest within {QUIET_SPREAD} of their "
                           "fastest)")
    return best

"""The speed core (`tito.tools.speed`): inline rules, and what the judge observes of a timed call.

The judged tests run a real Judge against a real student process (`test_judge.judge`),
with student kernels written to cheat the clock: results finished in the background
after the call returned, work spread over threads in a single-core check.
"""

from __future__ import annotations

import textwrap
import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from test_judge import judge, verdicts
from tito.tools import observe
from tito.tools import speed

linux_proc = pytest.mark.skipif(not observe.available(), reason="the judge reads the student's process from /proc: Linux")


def test_quiet_means_the_median_is_near_the_fastest_sample():
    assert speed.is_quiet([1.0, 1.1, 1.2, 5.0, 1.05])
    assert not speed.is_quiet([1.0, 2.0, 2.0, 2.0, 1.0])


def test_a_fastest_sample_counts_for_a_parallel_check_when_it_was_seen_twice():
    # a machine reference that two threads share one CPU for in most samples: its fastest is real when repeated
    assert speed.fastest_seen_twice([2.0, 1.0, 2.1, 1.1, 2.0, 2.2, 1.95])
    assert not speed.is_quiet([2.0, 1.0, 2.1, 1.1, 2.0, 2.2, 1.95])
    assert not speed.fastest_seen_twice([2.0, 1.0, 2.1, 2.0, 2.2]), "a lone fast sample is not a measurement"
    assert not speed.fastest_seen_twice([1.0]), "one sample confirms nothing"
    edge = 1.0 * speed.QUIET_SPREAD
    assert speed.fastest_seen_twice([1.0, edge, 9.0]) and not speed.fastest_seen_twice([1.0, edge * 1.01, 9.0])


def test_a_parallel_gain_reads_a_baseline_that_is_the_reference_from_the_references_samples_too():
    # an attempt logged in the grader: a serial parallel_relu's fastest sample 8.6 ms, the judge's ReLU 11.1 ms in
    # its own samples and 17.8 ms for two in the references' (8.9 ms each), two at once 10.3 ms
    one_thread = speed.TimedCall(0.0086, 0.0086, 1, None)
    measured = speed.Comparison([[8.6, 9.0], [11.1, 11.5], [17.8, 18.0], [10.3, 10.4]], [one_thread])
    alone = speed.ParallelGain.of(measured, 2, same_calls=False)
    assert alone.kernel == pytest.approx(11.1 / 8.6) and alone.machine == pytest.approx(17.8 / 10.3)
    both = speed.ParallelGain.of(measured, 2, same_calls=True)
    assert both.kernel == pytest.approx(8.9 / 8.6) and both.machine == alone.machine and both.busy_threads == 1


@given(st.lists(st.lists(st.floats(1e-3, 1.0), min_size=1, max_size=7), min_size=4, max_size=4), st.integers(2, 8))
def test_reading_the_references_samples_never_raises_a_parallel_gain(samples, workers):
    measured = speed.Comparison(samples, [])
    alone = speed.ParallelGain.of(measured, workers, same_calls=False)
    both = speed.ParallelGain.of(measured, workers, same_calls=True)
    assert both.kernel <= alone.kernel and both.machine == alone.machine and both.busy_threads is None
    if min(samples[1]) <= min(samples[2]) / workers:
        assert both.kernel == alone.kernel


def test_fresh_inputs_never_repeat():
    seen = speed.fresh_inputs(lambda seed: (seed,), 200)
    assert len({args[0] for args in seen}) == 200, "every call should get its own seed"


def test_speedup_inline_is_the_ratio_of_medians():
    def slow(x):
        time.sleep(0.004)
        return x

    def fast(x):
        time.sleep(0.001)
        return x

    ratio = speed.speedup(fast, slow, lambda seed: (seed,), at_least=2.0, repeats=5)
    assert 2.0 <= ratio < 6.0, f"a 1 ms call against a 4 ms one should be about 4x faster, got {ratio:.2f}x"


def test_a_comparison_never_quiet_is_inconclusive_never_a_pass():
    # each call longer than a sample must last (so one call per sample): no median near the fastest
    with pytest.raises(speed.Inconclusive, match="never quiet"):
        speed.speedup(erratic(), erratic(), lambda seed: (seed,), at_least=1.0, repeats=6)


def erratic(short: float = 1.2, long: float = 6.0):
    """A call that sleeps `short` and `long` sample lengths by turns: its median is far from its fastest."""
    delays = iter([short * speed.SHORT_SAMPLE_SECONDS, long * speed.SHORT_SAMPLE_SECONDS] * 1000)
    return lambda x: time.sleep(next(delays)) or x


def steady(samples: float):
    return lambda x: time.sleep(samples * speed.SHORT_SAMPLE_SECONDS) or x


def test_a_disturbed_kernel_passes_only_when_even_its_median_clears_the_mark():
    """Noise only adds time: a kernel slowed in some samples, against a quiet baseline, is at least as fast
    as its median says; below the mark, it might have passed undisturbed, so nothing is decided."""
    make = lambda seed: (seed,)  # noqa: E731
    ratio = speed.speedup(erratic(), steady(20), make, at_least=3.0, repeats=6)
    assert 3.0 <= ratio < 9.0, f"20 sample lengths against a median of 3.6 is about 5.5x, got {ratio:.2f}x"
    with pytest.raises(speed.Inconclusive, match="a pass needs the baseline quiet, a miss the kernel"):
        speed.speedup(erratic(), steady(20), make, at_least=8.0, repeats=6)


def test_a_disturbed_baseline_decides_a_miss_never_a_pass():
    """A disturbed baseline only looks slower, which flatters the kernel: below the mark even so, the kernel
    misses; above it, nothing is decided (a student's process could have slowed the judge's baseline)."""
    make = lambda seed: (seed,)  # noqa: E731
    ratio = speed.speedup(steady(4), erratic(), make, at_least=2.0, repeats=6)
    assert ratio < 2.0, f"a 4-sample kernel against a baseline of median 3.6 is a miss, got {ratio:.2f}x"
    with pytest.raises(speed.Inconclusive, match="never quiet"):
        speed.speedup(steady(1.2), erratic(), make, at_least=2.0, repeats=6)


def test_a_single_core_comparison_times_the_judges_baseline_by_its_cpu_time():
    """A baseline kept waiting for a CPU (by other processes, or by a student's process busy between its
    calls) takes longer on the wall clock, never on its thread's CPU clock. Sleeping stands for waiting."""
    def waiting(x):
        time.sleep(0.02)
        return x

    make = lambda seed: (seed,)  # noqa: E731
    by_cpu = speed.compare([lambda x: x, waiting], make, repeats=3, single_core=True)
    assert max(by_cpu.samples[1]) < 0.005, f"20 ms asleep is no CPU time, got {by_cpu.samples[1]}"
    by_wall = speed.compare([lambda x: x, waiting], make, repeats=3)
    assert min(by_wall.samples[1]) >= 0.02, by_wall.samples[1]


def test_compare_checks_every_result_of_the_kernel_in_full():
    checked = []
    speed.compare([np.negative, np.positive], lambda seed: (np.full(4, seed % 97, dtype=np.int64),), repeats=3,
                  check=lambda got, x: checked.append(np.array_equal(got, -x)))
    assert checked == [True] * len(checked) and len(checked) >= 3, checked


CHEATS = '''
import threading, time
import numpy as np

def honest(a):
    return a * 2.0

def finished_later(a):
    """Returns at once; a background thread writes the answer afterwards."""
    out = np.zeros_like(a)
    def work():
        time.sleep(0.05)
        np.multiply(a, 2.0, out=out)
    threading.Thread(target=work).start()
    return out

def work(a, out, rounds=100):
    for _ in range(rounds):
        np.multiply(a, 2.0, out=out)  # numpy lets go of the GIL: threads really run at once

seen = []

def remember(a):
    """Notes every input it is called with: a cache would need one seen twice."""
    seen.append(hash(a.tobytes()))
    return a * 2.0

thread_seconds = []

def timed_work(a, out):
    start = time.thread_time()
    work(a, out)
    thread_seconds.append(time.thread_time() - start)  # the thread's own CPU clock

def one_thread(a):
    out = np.empty_like(a)
    work(a, out)
    return out

def two_cores(a):
    """`work` twice, on two threads that start and end inside the call."""
    out, spare = np.empty_like(a), np.empty_like(a)
    threads = [threading.Thread(target=timed_work, args=(a, out)), threading.Thread(target=timed_work, args=(a, spare))]
    for t in threads: t.start()
    for t in threads: t.join()
    return out
'''

TIMED = textwrap.dedent("""
    from tito.tools import speed
    inputs = speed.fresh_inputs(lambda seed: (np.random.default_rng(seed).random((256, 256)),), 3)
    calls = speed.timed_calls({kernel}, inputs)
    for call, (a,) in zip(calls, inputs):
        assert np.array_equal(call.result, a * 2.0), "the result should be fetched whole, as plain data"
""")


@linux_proc
def test_a_result_finished_after_the_call_returned_fails():
    peeked = textwrap.dedent("""
        from tito.tools.session import running
        from tito.tools import speed
        from tito.tools.judging import resident
        (a,) = resident(np.ones((256, 256)))
        handle = finished_later(a)
        peeked = speed._peek(running().pid, handle)  # what timed_calls reads the moment a call returns
        assert peeked is not None, "the judge should read the result from the student's process's memory"
        time.sleep(0.3)
        try:
            speed._same_as_peeked(plain(handle), peeked)
        except AssertionError as err:
            assert "changed after its call returned" in str(err), err
        else:
            raise AssertionError("a result written after the call returned went unnoticed")
    """)
    report = judge({"honest": TIMED.format(kernel="honest"), "later": TIMED.format(kernel="finished_later"),
                    "peeked": "import time\n" + peeked}, student=CHEATS)
    got = verdicts(report)
    assert got["honest"] == (True, "") and got["peeked"] == (True, ""), got
    assert not got["later"][0], f"an unfinished result should fail its check, got {got['later']}"


@linux_proc
def test_a_single_core_check_charges_the_cpu_time_the_os_counted():
    """Each call runs `work` on two threads that start and end inside it, hidden from a count of live
    threads. The reference is the threads' own CPU clocks, read in the same calls: the CPU a unit of work
    costs varies from one moment to the next on a shared machine, so a measurement made apart is no reference."""
    report = judge({"cores": textwrap.dedent("""
        from tito.tools import speed
        inputs = speed.fresh_inputs(lambda seed: (np.ones((1024, 1024)),), 5)
        two = speed.timed_calls(two_cores, inputs)
        own = plain(thread_seconds)
        assert len(own) == 10 and all(call.cpu_seconds is not None for call in two), (own, two)
        for call, pair in zip(two, zip(own[::2], own[1::2])):
            # the process's CPU clock and the threads' own are read a few microseconds apart
            assert call.cpu_seconds >= sum(pair) - 0.002, (
                f"two threads that ran for {sum(pair):.4f} s of their own CPU in a call were charged "
                f"{call.cpu_seconds:.4f} s (wall {call.seconds:.4f} s)")
            expected = 2 if min(pair) >= speed.BUSY_SHARE * call.seconds else 1
            assert call.busy_threads >= expected, (call.busy_threads, pair, call.seconds)
        charged = speed.sample_seconds(two, single_core=True) * len(two)
        assert charged >= sum(own) - 0.01, (charged, sum(own))
    """)}, student=CHEATS)
    assert verdicts(report) == {"cores": (True, "")}, report


@linux_proc
@pytest.mark.skipif(speed.usable_cores() < 2, reason="a parallel gain is measured on 2 cores")
def test_a_kernel_the_os_saw_on_one_thread_ends_its_parallel_check_after_one_measurement():
    report = judge({"serial": textwrap.dedent("""
        from tito.tools import speed
        measurements, compare = [], speed.compare
        speed.compare = lambda *args, **kwargs: measurements.append(1) or compare(*args, **kwargs)
        try:  # a mark no kernel reaches: without the OS's count, every attempt would be made
            gain = speed.parallel_gain(one_thread, lambda a: a * 2.0, lambda seed: (np.ones((256, 256)) * seed,),
                                       lambda a: a * 2.0, workers=2, required=lambda machine: 100.0, repeats=3,
                                       settle_seconds=0.0, check=lambda got, a: None)
        finally:
            speed.compare = compare
        assert gain.busy_threads == 1 and len(measurements) == 1 < speed.PARALLEL_ATTEMPTS, (gain, measurements)
    """)}, student=CHEATS)
    assert verdicts(report) == {"serial": (True, "")}, report


@linux_proc
def test_a_processs_cpu_clock_holds_its_ended_threads_to_the_tick_count_of_proc():
    """`observe.process_cpu` against the kernel's other account of the same time, `/proc/PID/stat`'s
    utime + stime in clock ticks, across a thread that starts, works 0.3 s and ends in between."""
    import os
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import sys, threading, time
        def spin():
            end = time.thread_time() + 0.3
            while time.thread_time() < end:
                pass
        sys.stdin.readline()
        worker = threading.Thread(target=spin)
        worker.start()
        worker.join()
        print("done", flush=True)
        sys.stdin.readline()
    """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    ticks = os.sysconf("SC_CLK_TCK")

    def from_proc() -> float:
        with open(f"/proc/{child.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / ticks

    try:
        time.sleep(0.3)  # the child's start-up is over
        before, proc_before = observe.process_cpu(child.pid), from_proc()
        child.stdin.write("go\n")
        child.stdin.flush()
        assert child.stdout.readline() == "done\n"
        after, proc_after = observe.process_cpu(child.pid), from_proc()
        assert observe.thread_cpu(child.pid).keys() == {child.pid}, "the worker thread has ended"
        assert 0.3 <= after - before < 0.4, after - before
        assert abs((after - before) - (proc_after - proc_before)) <= 2.0 / ticks, (after - before, proc_after - proc_before)
    finally:
        child.kill()
        child.wait()
    assert observe.process_cpu(child.pid) is None, "a process that is gone has no clock"


def test_the_grader_calls_a_check_it_cannot_observe_inconclusive(monkeypatch):
    from tito.tools import observe

    monkeypatch.setattr(observe, "available", lambda: False)  # a platform without /proc
    monkeypatch.setattr(speed, "STRICT_OBSERVATION", True)
    report = judge({"strict": TIMED.format(kernel="honest")}, student=CHEATS)
    (verdict,) = report.verdicts
    assert verdict.inconclusive and not verdict.passed, verdict
    assert "could not observe" in verdict.message, verdict.message
    monkeypatch.setattr(speed, "STRICT_OBSERVATION", False)
    report = judge({"local": TIMED.format(kernel="honest")}, student=CHEATS)
    assert verdicts(report) == {"local": (True, "")}, "a student's own machine times without /proc"


def test_usable_cores_come_from_the_operating_system():
    import os

    expected = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    assert speed.usable_cores() == expected >= 1


@pytest.mark.skipif(not hasattr(__import__("os"), "sched_setaffinity"), reason="pins this thread to one CPU")
def test_a_parallel_check_on_one_core_is_inconclusive_and_says_why():
    """Never skipped (a skipped check would pass unmeasured) and never measured (there is no gain to see)."""
    import os

    before = os.sched_getaffinity(0)
    called = []
    os.sched_setaffinity(0, {min(before)})
    try:
        with pytest.raises(speed.Inconclusive, match=r"needs 2 CPUs and this kernel may use 1, so it was not made"):
            speed.parallel_gain(lambda x: called.append(x), np.negative, lambda seed: (np.ones(4),), np.negative,
                                workers=2, required=lambda machine: 1.0)
    finally:
        os.sched_setaffinity(0, before)
    assert called == [], "the kernel should not even be timed"


def test_a_student_function_gets_fresh_inputs_on_every_timed_call():
    report = judge({"fresh": textwrap.dedent("""
        from tito.tools import speed
        measured = speed.compare([remember, lambda a: a * 2.0], lambda seed: (np.random.default_rng(seed).random(64),),
                                 repeats=4, check=lambda got, a: None)
        calls = len(measured.kernel_calls)
        inputs = plain(seen)
        assert calls >= 4 and len(inputs) >= calls and len(set(inputs)) == len(inputs), (calls, len(set(inputs)))
    """)}, student=CHEATS)
    assert verdicts(report) == {"fresh": (True, "")}, report

"""tinytorch.utils.profiler: SimpleProfiler, profile_function and hardware detection.

Checks use independent references (time.sleep bounds, known allocation sizes,
the kernel's /sys files, os and psutil) and never assert a speed.
"""

import math
import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import psutil
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinytorch.utils.profiler as profiler_module
from tinytorch.core.tensor import Tensor
from tinytorch.utils.profiler import (
    MB,
    SimpleProfiler,
    attainable_gflops,
    cache_sizes,
    cpu_count,
    detect_hardware,
    measure_memory_bandwidth,
    measure_peak_gflops,
    median_seconds,
    parse_cache_size,
    profile_function,
    read_cache_sizes,
    result_info,
    time_call,
    trace_memory,
)

BASE_KEYS = {"name", "wall_time", "cpu_time", "cpu_efficiency", "result"}
MEMORY_KEYS = {"memory_before_mb", "memory_after_mb", "peak_memory_mb", "memory_delta_mb"}
CPU_KEYS = {"cpu_percent", "memory_percent", "rss_mb", "num_threads"}
RESULT_KEYS = {"result_shape", "result_dtype", "result_size_mb", "result_elements"}
SYSFS_CACHE = Path("/sys/devices/system/cpu/cpu0/cache")


def spin(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i
    return total


class CallCounter:
    """A function that counts its calls and raises on a chosen call number."""

    def __init__(self, fail_on: int | None = None, result=None):
        self.calls = 0
        self.fail_on = fail_on
        self.result = result
        self.__name__ = "counted"

    def __call__(self):
        self.calls += 1
        if self.calls == self.fail_on:
            raise RuntimeError(f"failure on call {self.calls}")
        return self.result


@pytest.fixture(autouse=True)
def tracing_off():
    """Every test starts and must end with tracemalloc off."""
    if tracemalloc.is_tracing():
        tracemalloc.stop()
    yield
    assert not tracemalloc.is_tracing(), "the test left tracemalloc on"


# ---------------------------------------------------------------- clocks


def test_time_call_sleep_bounds_and_result():
    result, wall, cpu = time_call(time.sleep, 0.05)
    assert result is None
    assert wall >= 0.05
    assert 0.0 <= cpu < 0.5 * wall, f"a sleep uses almost no CPU: cpu {cpu:.4f} s against wall {wall:.4f} s"


def test_time_call_passes_arguments_and_propagates():
    assert time_call(max, [3, 9, 4], key=lambda v: -v)[0] == 3
    with pytest.raises(ValueError):
        time_call(int, "x")


def test_median_seconds_calls_and_bounds():
    counter = CallCounter()
    seconds = median_seconds(counter, repeats=4)
    assert counter.calls == 5  # one warm-up, four timed
    assert isinstance(seconds, float) and seconds >= 0.0
    assert median_seconds(time.sleep, 0.01, repeats=3) >= 0.01
    with pytest.raises(ValueError, match="repeats"):
        median_seconds(time.sleep, 0.0, repeats=0)


# ---------------------------------------------------------------- memory


def test_trace_memory_known_allocation_is_freed():
    nbytes = 8_000_000
    result, memory = trace_memory(lambda: float(np.ones(nbytes // 8).sum()))
    assert result == nbytes // 8
    assert nbytes <= memory["peak_bytes"] - memory["before_bytes"] < nbytes + 1_000_000
    assert memory["after_bytes"] - memory["before_bytes"] < 100_000


def test_trace_memory_retained_result():
    kept, memory = trace_memory(np.zeros, (1000, 500), dtype=np.float32)
    assert kept.nbytes <= memory["after_bytes"] - memory["before_bytes"] < kept.nbytes + 100_000
    assert memory["peak_bytes"] >= max(memory["before_bytes"], memory["after_bytes"])


def test_trace_memory_restores_tracing_state():
    trace_memory(np.ones, 10)
    assert not tracemalloc.is_tracing()
    tracemalloc.start(5)
    try:
        trace_memory(np.ones, 10)
        assert tracemalloc.is_tracing()
        assert tracemalloc.get_traceback_limit() == 5  # the caller's tracing was not restarted
    finally:
        tracemalloc.stop()


def test_trace_memory_exception_restores_and_propagates():
    with pytest.raises(RuntimeError, match="failure on call 1"):
        trace_memory(CallCounter(fail_on=1))
    assert not tracemalloc.is_tracing()
    tracemalloc.start()
    try:
        with pytest.raises(RuntimeError):
            trace_memory(CallCounter(fail_on=1))
        assert tracemalloc.is_tracing()
    finally:
        tracemalloc.stop()


# ---------------------------------------------------------------- result info


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int8, np.int64])
@pytest.mark.parametrize("shape", [(0,), (3,), (2, 5), (4, 1, 3)])
def test_result_info_ndarray_and_tensor(shape, dtype):
    array = np.zeros(shape, dtype=dtype)
    expected = {
        "result_shape": shape,
        "result_dtype": np.dtype(dtype).name,
        "result_size_mb": array.nbytes / 2**20,
        "result_elements": int(np.prod(shape)),
    }
    assert result_info(array) == expected
    assert result_info(Tensor(array)) == expected


@pytest.mark.parametrize("value", [None, 1.5, [1, 2], "text", (np.ones(3),)])
def test_result_info_other_results(value):
    assert result_info(value) == {}


# ---------------------------------------------------------------- SimpleProfiler


def test_profile_all_keys_and_types():
    got = SimpleProfiler().profile(np.ones, (200, 300), dtype=np.float32)
    assert BASE_KEYS | MEMORY_KEYS | CPU_KEYS | RESULT_KEYS <= set(got)
    assert got["name"] == "ones"
    for key in {"wall_time", "cpu_time", "cpu_efficiency"} | MEMORY_KEYS | (CPU_KEYS - {"num_threads"}):
        assert isinstance(got[key], float), key
        assert math.isfinite(got[key]), key
    assert isinstance(got["num_threads"], int) and got["num_threads"] >= 1
    assert got["result_shape"] == (200, 300)
    assert got["result_dtype"] == "float32"
    assert got["result_elements"] == 60_000
    assert got["result_size_mb"] == pytest.approx(240_000 / MB)
    assert got["memory_delta_mb"] == pytest.approx(got["memory_after_mb"] - got["memory_before_mb"])
    assert got["peak_memory_mb"] >= max(got["memory_before_mb"], got["memory_after_mb"])
    assert got["peak_memory_mb"] - got["memory_before_mb"] >= 240_000 / MB
    assert 0.0 < got["memory_percent"] < 100.0
    rss_now = psutil.Process().memory_info().rss / MB
    assert 0.5 * rss_now < got["rss_mb"] < 2.0 * rss_now


def test_profile_tensor_result():
    got = SimpleProfiler(track_memory=False, track_cpu=False).profile(lambda: Tensor(np.ones((4, 6), dtype=np.float32)))
    assert isinstance(got["result"], Tensor)
    assert got["result_shape"] == (4, 6) and got["result_dtype"] == "float32"
    assert got["result_elements"] == 24 and got["result_size_mb"] == 96 / MB


def test_profile_tracking_switches_and_name():
    got = SimpleProfiler(track_memory=False, track_cpu=False).profile(sum, [1, 2], name="my sum")
    assert got["name"] == "my sum" and got["result"] == 3
    assert set(got) == BASE_KEYS
    only_memory = SimpleProfiler(track_memory=True, track_cpu=False).profile(sum, [1])
    assert set(only_memory) == BASE_KEYS | MEMORY_KEYS
    only_cpu = SimpleProfiler(track_memory=False, track_cpu=True).profile(sum, [1])
    assert set(only_cpu) == BASE_KEYS | CPU_KEYS


def test_profile_wall_time_of_sleep():
    got = SimpleProfiler(track_memory=False).profile(time.sleep, 0.05)
    assert got["wall_time"] >= 0.05
    assert 0.0 <= got["cpu_time"] < 0.5 * got["wall_time"], (
        f"a sleep uses almost no CPU: cpu_time {got['cpu_time']:.4f} s against wall_time {got['wall_time']:.4f} s")


@pytest.mark.parametrize(
    "track_memory, warmup, expected_calls",
    [(False, True, 2), (False, False, 1), (True, True, 3), (True, False, 2)],
)
def test_profile_number_of_calls(track_memory, warmup, expected_calls):
    counter = CallCounter()
    SimpleProfiler(track_memory=track_memory).profile(counter, warmup=warmup)
    assert counter.calls == expected_calls


def test_profile_cpu_percent_is_real():
    profiler = SimpleProfiler(track_memory=False)
    busy = profiler.profile(spin, 300_000)
    assert busy["cpu_percent"] > 0.0
    assert busy["cpu_percent"] == pytest.approx(100.0 * busy["cpu_time"] / busy["wall_time"])
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert busy["cpu_efficiency"] == pytest.approx(busy["cpu_time"] / (busy["wall_time"] * cores))
    idle = profiler.profile(time.sleep, 0.2)  # the warm-up sleep outlasts any BLAS thread spin
    assert idle["cpu_percent"] < busy["cpu_percent"]


@pytest.mark.parametrize("fail_on", [1, 2, 3])
@pytest.mark.parametrize("tracing_before", [False, True])
def test_profile_exceptions_propagate_and_tracing_is_restored(fail_on, tracing_before):
    if tracing_before:
        tracemalloc.start()
    try:
        counter = CallCounter(fail_on=fail_on)
        with pytest.raises(RuntimeError, match=f"failure on call {fail_on}"):
            SimpleProfiler().profile(counter)
        assert counter.calls == fail_on  # nothing runs after the failing call
        assert tracemalloc.is_tracing() == tracing_before
    finally:
        if tracemalloc.is_tracing():
            tracemalloc.stop()


def test_profile_exception_in_warmup_propagates():
    counter = CallCounter(fail_on=1)
    with pytest.raises(RuntimeError):
        SimpleProfiler(track_memory=False, track_cpu=False).profile(counter, warmup=True)
    assert counter.calls == 1


def test_profile_does_not_leave_tracing_on_and_keeps_it_on():
    SimpleProfiler().profile(np.ones, 1000)
    assert not tracemalloc.is_tracing()
    tracemalloc.start()
    try:
        SimpleProfiler().profile(np.ones, 1000)
        assert tracemalloc.is_tracing()
    finally:
        tracemalloc.stop()


def test_print_result_brief_and_details(capsys):
    profiler = SimpleProfiler()
    result = profiler.profile(np.ones, (10, 10), name="ten by ten")
    profiler.print_result(result)
    brief = capsys.readouterr().out
    profiler.print_result(result, show_details=True)
    detailed = capsys.readouterr().out
    assert "ten by ten" in brief and "(10, 10)" in brief
    assert len(detailed.splitlines()) > len(brief.splitlines())
    bare = SimpleProfiler(track_memory=False, track_cpu=False)
    bare.print_result(bare.profile(sum, [1]), show_details=True)  # absent keys are simply not shown
    assert "sum" in capsys.readouterr().out


def test_get_capabilities():
    on = SimpleProfiler().get_capabilities()
    off = SimpleProfiler(track_memory=False, track_cpu=False).get_capabilities()
    assert on["track_memory"] is True and on["track_cpu"] is True
    assert on["memory"] == "tracemalloc" and on["process"] == "psutil"
    assert off["memory"] is None and off["process"] is None
    assert on["device"] == "cpu" and on["cpu_count"] == cpu_count()


def test_profile_function_prints_and_returns(capsys):
    got = profile_function(np.full, (3, 4), 2.5, name="fill")
    out = capsys.readouterr().out
    assert "fill" in out
    assert np.array_equal(got["result"], np.full((3, 4), 2.5))
    assert BASE_KEYS | MEMORY_KEYS | CPU_KEYS | RESULT_KEYS <= set(got)
    profile_function(np.full, (3, 4), 2.5, name="fill", show_details=True)
    assert len(capsys.readouterr().out.splitlines()) > len(out.splitlines())


def test_profile_function_propagates():
    with pytest.raises(RuntimeError):
        profile_function(CallCounter(fail_on=1))


# ---------------------------------------------------------------- hardware


@given(st.integers(0, 10**6), st.sampled_from(["", "K", "M", "G", "k"]), st.sampled_from(["", "\n", " "]))
def test_parse_cache_size(number, suffix, padding):
    factor = {"": 1, "K": 2**10, "k": 2**10, "M": 2**20, "G": 2**30}[suffix]
    assert parse_cache_size(f"{number}{suffix}{padding}") == number * factor


@pytest.mark.parametrize("text", ["", "K", "12Q", "-4K", "1.5M", "big"])
def test_parse_cache_size_rejects(text):
    with pytest.raises(ValueError):
        parse_cache_size(text)


def sysfs_reference() -> dict[str, int]:
    units = {"K": 2**10, "M": 2**20, "G": 2**30}
    sizes = {}
    for index in SYSFS_CACHE.glob("index*"):
        level = (index / "level").read_text().strip()
        kind = (index / "type").read_text().strip()
        size = (index / "size").read_text().strip()
        if kind == "Instruction" or level not in {"1", "2", "3"}:
            continue
        value = int(size[:-1]) * units[size[-1]] if size[-1] in units else int(size)
        sizes["L1d" if level == "1" else f"L{level}"] = value
    return sizes


@pytest.mark.skipif(not SYSFS_CACHE.is_dir(), reason="no sysfs cache information on this system")
def test_cache_sizes_match_sysfs_and_are_cached():
    assert cache_sizes() == sysfs_reference()
    assert cache_sizes() is cache_sizes()
    assert cache_sizes.cache_info().hits >= 1
    assert all(isinstance(v, int) and v > 0 for v in cache_sizes().values())


def write_cache_tree(root: Path, layout: dict[str, tuple[str, str, str]]) -> None:
    for name, (level, kind, size) in layout.items():
        folder = root / name
        folder.mkdir()
        for field, value in (("level", level), ("type", kind), ("size", size)):
            if value is not None:
                (folder / field).write_text(value + "\n")


def test_read_cache_sizes_fake_tree(tmp_path):
    write_cache_tree(tmp_path, {
        "index0": ("1", "Data", "48K"),
        "index1": ("1", "Instruction", "32K"),
        "index2": ("2", "Unified", "2048K"),
        "index3": ("3", "Unified", "96M"),
        "index4": ("4", "Unified", "128M"),
        "index5": ("2", "Unified", None),  # unreadable entries are skipped
    })
    assert read_cache_sizes(tmp_path) == {"L1d": 48 * 2**10, "L2": 2048 * 2**10, "L3": 96 * 2**20}


def test_read_cache_sizes_missing_levels(tmp_path):
    write_cache_tree(tmp_path, {"index0": ("1", "Data", "32K")})
    assert read_cache_sizes(tmp_path) == {"L1d": 32 * 2**10}
    assert read_cache_sizes(tmp_path / "absent") == {}


def test_cpu_count_matches_affinity():
    expected = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert cpu_count() == expected
    assert 1 <= cpu_count() <= os.cpu_count()


def test_measure_peak_gflops_positive_finite_cached():
    value = measure_peak_gflops(64, 2)
    assert isinstance(value, float) and math.isfinite(value) and value > 0
    hits = measure_peak_gflops.cache_info().hits
    assert measure_peak_gflops(64, 2) == value
    assert measure_peak_gflops.cache_info().hits == hits + 1


def test_measure_memory_bandwidth_positive_finite_cached():
    value = measure_memory_bandwidth(4 * 2**20, 2)
    assert isinstance(value, float) and math.isfinite(value) and value > 0
    hits = measure_memory_bandwidth.cache_info().hits
    assert measure_memory_bandwidth(4 * 2**20, 2) == value
    assert measure_memory_bandwidth.cache_info().hits == hits + 1


def test_measurement_formulas_with_a_fixed_stopwatch(monkeypatch):
    timed = []

    def fixed_stopwatch(func, *args, repeats=5, **kwargs):
        timed.append((func, args, kwargs, repeats))
        return 0.5

    monkeypatch.setattr(profiler_module, "median_seconds", fixed_stopwatch)
    assert measure_peak_gflops.__wrapped__(100, 3) == pytest.approx(2 * 100**3 / 0.5 / 1e9)
    func, args, kwargs, repeats = timed[-1]
    assert func is np.matmul and repeats == 3
    assert all(a.shape == (100, 100) and a.dtype == np.float32 for a in args)
    assert measure_memory_bandwidth.__wrapped__(1_000_003, 4) == pytest.approx(2 * 1_000_000 / 0.5 / 1e9)
    func, args, kwargs, repeats = timed[-1]
    assert func is np.copyto and repeats == 4
    assert [a.nbytes for a in args] == [1_000_000, 1_000_000]


def test_default_stream_size_exceeds_caches_within_a_bound(monkeypatch):
    sizes = []
    monkeypatch.setattr(profiler_module, "median_seconds", lambda func, dst, src, repeats=5: sizes.append(src.nbytes) or 1.0)
    measure_memory_bandwidth.__wrapped__(None, 1)
    wanted = max(profiler_module.STREAM_BYTES_MIN, 4 * max(cache_sizes().values(), default=0))
    assert sizes[0] == min(profiler_module.STREAM_BYTES_MAX, wanted) // 8 * 8


@pytest.mark.parametrize("llc, expected_mb", [(0, 128), (16 * 2**20, 128), (64 * 2**20, 256), (480 * 2**20, 512)])
def test_stream_size_from_the_last_level_cache(monkeypatch, llc, expected_mb):
    sizes = []
    monkeypatch.setattr(profiler_module, "cache_sizes", lambda: {"L1d": 32 * 1024, "L3": llc} if llc else {})
    monkeypatch.setattr(profiler_module, "median_seconds", lambda func, dst, src, repeats=5: sizes.append(src.nbytes) or 1.0)
    measure_memory_bandwidth.__wrapped__(None, 1)
    assert sizes == [expected_mb * 2**20]


@pytest.mark.parametrize("args", [(0, 3), (8, 0)])
def test_measure_peak_gflops_rejects(args):
    with pytest.raises(ValueError):
        measure_peak_gflops(*args)


@pytest.mark.parametrize("args", [(4, 3), (1024, 0)])
def test_measure_memory_bandwidth_rejects(args):
    with pytest.raises(ValueError):
        measure_memory_bandwidth(*args)


@given(
    st.floats(0, 1e4, allow_nan=False),
    st.floats(1e-3, 1e5, allow_nan=False),
    st.floats(1e-3, 1e4, allow_nan=False),
)
def test_attainable_gflops_is_the_roofline(intensity, peak, bandwidth):
    got = attainable_gflops(intensity, peak, bandwidth)
    assert got == min(peak, intensity * bandwidth)
    assert got <= peak


@pytest.mark.parametrize("args", [(-1.0, 10.0, 1.0), (1.0, 0.0, 1.0), (1.0, 10.0, -1.0)])
def test_attainable_gflops_rejects(args):
    with pytest.raises(ValueError):
        attainable_gflops(*args)


def test_detect_hardware_without_measuring():
    hardware = detect_hardware(measure=False)
    assert set(hardware) == {"cpu_model", "device", "cpu_count", "physical_cores", "memory_total_bytes",
                             "memory_available_bytes", "cache_sizes"}
    assert hardware["device"] == "cpu"
    assert hardware["cpu_count"] == cpu_count()
    physical = psutil.cpu_count(logical=False)
    assert hardware["physical_cores"] == (physical or cpu_count())
    assert hardware["memory_total_bytes"] == psutil.virtual_memory().total
    assert 0 < hardware["memory_available_bytes"] <= hardware["memory_total_bytes"]
    assert hardware["cache_sizes"] == cache_sizes() and hardware["cache_sizes"] is not cache_sizes()
    assert isinstance(hardware["cpu_model"], str) and hardware["cpu_model"]
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file() and "model name" in cpuinfo.read_text():
        assert hardware["cpu_model"] in cpuinfo.read_text()


def test_detect_hardware_measured_once():
    first = detect_hardware(measure=True)
    second = detect_hardware(measure=True)
    for key in ("peak_gflops", "memory_bandwidth_gbs", "ridge_point_flop_per_byte"):
        assert isinstance(first[key], float) and math.isfinite(first[key]) and first[key] > 0
        assert first[key] == second[key]
    assert first["peak_gflops"] == measure_peak_gflops()
    assert first["memory_bandwidth_gbs"] == measure_memory_bandwidth()
    assert first["ridge_point_flop_per_byte"] == pytest.approx(first["peak_gflops"] / first["memory_bandwidth_gbs"])


def test_import_is_silent_and_measures_nothing():
    code = (
        "import sys, tinytorch.utils.profiler as p\n"
        "assert p.measure_peak_gflops.cache_info().currsize == 0\n"
        "assert p.measure_memory_bandwidth.cache_info().currsize == 0\n"
        "assert p.cache_sizes.cache_info().currsize == 0\n"
        "assert 'matplotlib' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and done.stderr == ""


# ---------------------------------------------------------------- hardware facts on other systems

def test_macos_caches_come_from_sysctl_performance_cores_first():
    from tinytorch.utils.profiler import sysctl_cache_sizes

    apple_silicon = {"hw.perflevel0.l1dcachesize": 131072, "hw.l1dcachesize": 65536,
                     "hw.perflevel0.l2cachesize": 16777216, "hw.l2cachesize": 4194304}
    assert sysctl_cache_sizes(apple_silicon.get) == {"L1d": 131072, "L2": 16777216}
    intel_mac = {"hw.l1dcachesize": 32768, "hw.l2cachesize": 262144, "hw.l3cachesize": 12582912}
    assert sysctl_cache_sizes(intel_mac.get) == {"L1d": 32768, "L2": 262144, "L3": 12582912}
    assert sysctl_cache_sizes({}.get) == {}


@pytest.mark.parametrize("system, says", [("linux", "no cache information under"), ("darwin", "sysctl reported no"),
                                          ("win32", "does not report cache sizes")])
def test_unknown_hardware_is_reported_with_its_reason(monkeypatch, tmp_path, system, says):
    from tinytorch.utils import profiler

    monkeypatch.setattr(profiler, "CACHE_SYSFS", tmp_path / "no-sysfs")
    monkeypatch.setattr(profiler, "PROC_CPUINFO", tmp_path / "no-cpuinfo")
    monkeypatch.setattr(profiler.sys, "platform", system)
    monkeypatch.setattr(profiler, "sysctl_value", lambda name: None)
    monkeypatch.setattr(profiler.platform, "processor", lambda: "")
    monkeypatch.setattr(profiler.platform, "machine", lambda: "")
    profiler.cache_sizes.cache_clear()
    try:
        assert profiler.cache_sizes() == {}
        unknown = profiler.hardware_unknowns()
        assert says in unknown["cache_sizes"] and "defaults" in unknown["cache_sizes"], unknown
        assert profiler.cpu_model() == "unknown" and "did not name the processor" in unknown["cpu_model"], unknown
    finally:
        profiler.cache_sizes.cache_clear()


def test_this_linux_machine_tells_its_caches_and_model():
    from tinytorch.utils import profiler

    assert profiler.hardware_unknowns() == {}, "Linux's /sys and /proc name every fact the profiler reads"

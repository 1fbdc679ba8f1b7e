"""tito benchmark kernels: the quick run's data, files and CLI.

Speeds are never asserted here; the checks are structure, correctness of the
kernels' results, and that every derived number and every verdict follows from the
measured samples by its formula.
"""

import copy
import io
import json
import math
import statistics
import struct
import time
from contextlib import contextmanager
from dataclasses import asdict

import numpy as np
import pytest
from hypothesis import given
from hypothesis.extra import numpy as hnp
from rich.console import Console

import tito.console
import tito.benchmark.kernels
import tinytorch.core.kernels as kernels
from tinytorch.utils.profiler import cpu_count
from tito.benchmark.kernels import (
    JSON_NAME,
    NAIVE_MAX_N,
    PNG_NAME,
    PYTHON_LOOP_MAX_ELEMENTS,
    QUICK_MATMUL_SIZES,
    QUICK_RELU_SIZES,
    load_kernels,
    prepare_output_dir,
    run_kernel_benchmark,
    write_outputs,
)
from tito.benchmark.goals import GOALS, is_quiet, judge
from tito.benchmark.measure import background_load, measure_import_time, quantize_reference, relu_python_loop
from tito.tools.blocks import Contender, Timing, time_blocks
from tito.tools.speed import QUIET_SPREAD
from tito.commands.benchmark import render
from tito.errors import TitoError

from helpers import run_tito
from strategies import float_arrays

MATMUL_KERNELS = ["matmul_vectorized", "numpy @, 1 BLAS thread", "numpy @", "matmul_cache_optimized",
                  "matmul_parallel", "quantized_matmul"]
RELU_WORKERS = min(kernels.DEFAULT_NUM_WORKERS, cpu_count())
RELU_KERNELS = ["vectorized_relu", "numpy maximum, 1 thread", f"numpy maximum, {RELU_WORKERS} threads",
                "parallel_relu", "quantized_relu"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("benchmarks")
    messages = []
    results = run_kernel_benchmark(quick=True, progress=messages.append)
    files = write_outputs(results, folder)
    return results, files, messages


@pytest.fixture(scope="module")
def written(quick_run):
    _, files, _ = quick_run
    return json.loads(files["json"].read_text(encoding="utf-8"))


def test_files_are_written(quick_run):
    _, files, _ = quick_run
    assert files["json"].name == JSON_NAME and files["png"].name == PNG_NAME
    assert not list(files["json"].parent.glob(".*.tmp")), "temporary files must not be left behind"


def test_png_is_a_real_png(quick_run):
    _, files, _ = quick_run
    data = files["png"].read_bytes()
    assert data[:8] == PNG_SIGNATURE
    length, chunk = struct.unpack(">I4s", data[8:16])
    assert chunk == b"IHDR" and length == 13
    width, height = struct.unpack(">II", data[16:24])
    assert width > 2000 and height > 300  # four panels side by side
    assert data[-8:-4] == b"IEND"


def test_json_is_the_dataclasses_as_dicts(quick_run, written):
    results, _, _ = quick_run
    assert written == json.loads(json.dumps(asdict(results)))
    assert written["benchmark"] == "kernels" and written["quick"] is True


def test_progress_is_reported(quick_run):
    _, _, messages = quick_run
    assert any("matmul" in m for m in messages) and any("relu" in m for m in messages)
    assert sum(m.startswith("goal:") for m in messages) == len(GOALS)


def test_machine_section(written):
    machine = written["machine"]
    for key in ("cpu_model", "device", "cpu_count", "physical_cores", "memory_total_bytes", "cache_sizes",
                "peak_gflops", "memory_bandwidth_gbs", "ridge_point_flop_per_byte", "blas", "python", "numpy"):
        assert key in machine, key
    assert machine["device"] == "cpu"
    assert machine["peak_gflops"] > 0 and machine["memory_bandwidth_gbs"] > 0
    assert machine["peak_gflops"] >= machine["peak_gflops_at_start"] > 0
    assert machine["ridge_point_flop_per_byte"] == pytest.approx(machine["peak_gflops"] / machine["memory_bandwidth_gbs"])


def test_the_compute_roof_is_the_fastest_product_of_the_run(written):
    """No matmul row can sit above the roof: the peak is at least every correct row's GFLOP/s."""
    rows = [row for row in written["matmul"] if row["correct"]]
    assert written["machine"]["peak_gflops"] == max([written["machine"]["peak_gflops_at_start"]]
                                                    + [row["gflops"] for row in rows])
    assert all(row["fraction_of_attainable"] <= 1.0 + 1e-12 for row in rows)


def test_rows_of_one_size_share_one_measured_footprint_bandwidth(written):
    for family in ("matmul", "relu"):
        for size in {row["size"] for row in written[family]}:
            slopes = {row["attainable_gbs"] for row in written[family] if row["size"] == size}
            assert len(slopes) == 1 and slopes.pop() > 0


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_copy_bandwidth_counts_read_and_write_of_the_whole_footprint(monkeypatch, threads):
    import tito.benchmark.measure as measure

    copies = []

    def two_samples(contenders, samples, rounds=1, settle_seconds=0.0):
        (contender,) = contenders
        contender.call()  # the real threaded copy, once
        copies.append(True)
        return {contender.name: Timing(samples=[0.004, 0.002, 0.003])}

    monkeypatch.setattr(measure, "time_blocks", two_samples)
    nbytes = (1 << 20) + 12
    assert measure.copy_bandwidth(nbytes, threads, 3, 0.0) == pytest.approx(2 * nbytes / 0.003 / 1e9)
    assert copies == [True]


def test_settle_time_is_the_kernels_modules_constant(written):
    assert written["settings"]["settle_seconds"] == kernels.BLAS_SETTLE_SECONDS > 0


def test_background_load_is_reported(written):
    load = written["load"]
    assert load["seconds"] > 0
    assert 0.0 <= load["other_cpu_percent"] <= 100.0 + 1e-6


def test_background_load_formula():
    start = {"busy": 10.0, "own": 2.0, "wall": 100.0}
    end = {"busy": 13.0, "own": 4.0, "wall": 102.0}  # 3 busy seconds, 2 of them ours, over 2 s x 2 cores
    assert background_load(start, end, cores=2) == {"seconds": 2.0, "other_cpu_percent": 25.0}


def test_matmul_rows_cover_every_kernel_and_size(written):
    assert written["settings"]["matmul_sizes"] == list(QUICK_MATMUL_SIZES)
    for n in QUICK_MATMUL_SIZES:
        rows = [row for row in written["matmul"] if row["size"] == n]
        expected = (["matmul_custom"] if n <= NAIVE_MAX_N else []) + MATMUL_KERNELS
        assert [row["kernel"] for row in rows] == expected
        assert all(row["family"] == "matmul" for row in rows)


def test_relu_rows_cover_every_kernel_and_size(written):
    assert written["settings"]["relu_sizes"] == list(QUICK_RELU_SIZES)
    for elements in QUICK_RELU_SIZES:
        rows = [row for row in written["relu"] if row["size"] == elements]
        expected = (["relu_python_loop"] if elements <= PYTHON_LOOP_MAX_ELEMENTS else []) + RELU_KERNELS
        assert [row["kernel"] for row in rows] == expected
        assert all(row["family"] == "relu" for row in rows)


def test_every_kernel_ran_and_was_correct(written):
    for row in written["matmul"] + written["relu"]:
        assert row["error"] is None, row
        assert row["correct"] is True, row


def test_every_sample_is_kept_and_the_time_is_their_median(written):
    for row in written["matmul"] + written["relu"]:
        assert len(row["samples"]) == row["repeats"] and all(t > 0 for t in row["samples"])
        assert row["seconds"] == statistics.median(row["samples"])


def assert_derived_numbers(row, flops, bytes_moved, machine):
    peak, bandwidth = machine["peak_gflops"], row["attainable_gbs"]
    assert bandwidth >= machine["memory_bandwidth_gbs"]  # a footprint's best copy, never below main memory's
    assert row["flops"] == flops and row["bytes_moved"] == bytes_moved
    assert row["intensity_flop_per_byte"] == pytest.approx(flops / bytes_moved)
    assert row["gflops"] == pytest.approx(flops / row["seconds"] / 1e9, rel=1e-12)
    assert row["gbs"] == pytest.approx(bytes_moved / row["seconds"] / 1e9, rel=1e-12)
    attainable = min(peak, flops / bytes_moved * bandwidth)
    assert row["attainable_gflops"] == pytest.approx(attainable, rel=1e-12)
    assert row["fraction_of_attainable"] == pytest.approx(row["gflops"] / attainable, rel=1e-12)


def test_matmul_numbers_follow_from_the_time(written):
    for n in QUICK_MATMUL_SIZES:
        rows = [row for row in written["matmul"] if row["size"] == n]
        for row in rows:
            assert_derived_numbers(row, 2 * n**3, 3 * n * n * 4, written["machine"])
            assert row["intensity_flop_per_byte"] == pytest.approx(n / 6)  # 2n^3 / (3 n^2 * 4 bytes)
            assert row["baseline"] == rows[0]["kernel"]
            assert row["speedup"] == pytest.approx(rows[0]["seconds"] / row["seconds"], rel=1e-12)


def test_relu_numbers_follow_from_the_time(written):
    for row in written["relu"]:
        assert_derived_numbers(row, row["size"], 2 * 4 * row["size"], written["machine"])
        assert row["intensity_flop_per_byte"] == pytest.approx(1 / 8)


def medians_of(target):
    assert set(target["medians"]) == set(target["samples"])
    for name, samples in target["samples"].items():
        assert target["medians"][name] == statistics.median(samples)
    return target["medians"]


def test_goals_are_all_reported_with_the_table_s_marks_and_wording(written):
    targets = {t["name"]: t for t in written["targets"]}
    assert set(targets) == set(GOALS)
    sizes = written["settings"]["target_sizes"]
    for name, target in targets.items():
        goal = GOALS[name]
        assert target["mark"] == goal.mark and target["unit"] == goal.unit
        assert target["comparison"] == (">=" if goal.higher_is_better else "<=")
        assert target["description"] == goal.wording.format(size=target["size"])
        assert math.isfinite(target["measured"])
        if name != "kernels_import_time":  # measured in subprocesses: their CPU is not this process's
            assert target["load"]["seconds"] > 0 and 0.0 <= target["load"]["other_cpu_percent"] <= 100.0 + 1e-6
    assert targets["matmul_parallel_vs_numpy"]["size"] == sizes["matmul"]
    assert targets["parallel_relu_vs_machine"]["size"] == sizes["relu"]


def test_parallel_goals_are_the_kernel_gain_over_the_machine_gain(written):
    targets = {t["name"]: t for t in written["targets"]}
    matmul = medians_of(targets["matmul_parallel_vs_numpy"])
    single = matmul["numpy @, 1 BLAS thread"]
    assert targets["matmul_parallel_vs_numpy"]["kernel_gain"] == pytest.approx(single / matmul["matmul_parallel"])
    assert targets["matmul_parallel_vs_numpy"]["machine_gain"] == pytest.approx(single / matmul["numpy @"])
    relu_target = targets["parallel_relu_vs_machine"]
    relu = medians_of(relu_target)
    workers = relu_target["details"]["workers"]
    assert workers == min(kernels.DEFAULT_NUM_WORKERS, written["machine"]["cpu_count"])
    assert relu_target["kernel_gain"] == pytest.approx(relu["vectorized_relu"] / relu["parallel_relu"])
    assert relu_target["machine_gain"] == pytest.approx(relu["numpy maximum, 1 thread"]
                                                       / relu[f"numpy maximum, {workers} threads"])
    for target in (targets["matmul_parallel_vs_numpy"], relu_target):
        assert target["measured"] == pytest.approx(target["kernel_gain"] / target["machine_gain"])


def test_other_goals_follow_from_their_medians_and_verdicts_from_the_marks(written):
    targets = {t["name"]: t for t in written["targets"]}
    quantized = medians_of(targets["quantized_vs_vectorized"])
    assert targets["quantized_vs_vectorized"]["measured"] == pytest.approx(
        quantized["matmul_vectorized"] / quantized["quantized_matmul"])
    blocked = medians_of(targets["cache_optimized_vs_blas"])
    assert targets["cache_optimized_vs_blas"]["measured"] == pytest.approx(
        blocked["matmul_cache_optimized"] / blocked["numpy @"])
    int32 = medians_of(targets["quantized_vs_numpy_int32"])
    assert targets["quantized_vs_numpy_int32"]["measured"] == pytest.approx(
        int32["numpy int32 @"] / int32["quantized_matmul"])
    overhead = medians_of(targets["vectorized_overhead"])
    assert targets["vectorized_overhead"]["measured"] == pytest.approx(
        100 * (overhead["matmul_vectorized"] / overhead["numpy @"] - 1))
    assert targets["kernels_import_time"]["measured"] == statistics.median(targets["kernels_import_time"]["samples"]["import"])
    for target in targets.values():
        holds = (target["measured"] >= target["mark"] if target["comparison"] == ">="
                 else target["measured"] <= target["mark"])
        for must_hold in ("exact_integer_product", "silent"):
            if must_hold in target["details"]:
                assert target["details"][must_hold] is True, target["name"]  # correctness, not speed
                holds = holds and target["details"][must_hold]
        assert target["passed"] == (holds and target["quiet"]), target["name"]


def test_a_goal_read_from_a_table_is_that_table_s_measurement(written):
    """One measurement per size: a goal on kernels of the tables has the very samples of their rows."""
    rows = {(row["family"], row["size"], row["kernel"]): row for row in written["matmul"] + written["relu"]}
    read_from_tables = 0
    for target in written["targets"]:
        family = "relu" if target["name"] == "parallel_relu_vs_machine" else "matmul"
        if target["name"] in ("quantized_vs_numpy_int32", "kernels_import_time"):
            continue
        for name, samples in target["samples"].items():
            row = rows[(family, target["size"], name)]
            assert row["samples"] == samples and row["quiet"] == target["quiet"], (target["name"], name)
        read_from_tables += 1
    assert read_from_tables == 5
    sizes = written["settings"]["target_sizes"]
    assert {sizes["matmul"], sizes["quantized"], sizes["overhead"]} <= set(written["settings"]["matmul_sizes"])
    assert sizes["relu"] in written["settings"]["relu_sizes"]


def test_render_prints_every_table(quick_run, monkeypatch):
    results, _, _ = quick_run
    buffer = io.StringIO()
    monkeypatch.setattr(tito.console, "console", Console(file=buffer, width=400, color_system=None))
    render(results)
    text = buffer.getvalue()
    for n in QUICK_MATMUL_SIZES:
        assert f"matmul n={n} float32" in text
    for elements in QUICK_RELU_SIZES:
        assert f"ReLU {elements:,} float32 elements" in text
    assert "goals" in text and "of attainable" in text and "machine gain" in text
    assert results.machine["cpu_model"] in text
    for target in results.targets:
        assert target.description in text
    assert text.count("pass") + text.count("miss") >= len(GOALS)


def test_a_disturbed_row_is_named_in_its_table_not_the_whole_table(quick_run, monkeypatch):
    results, _, _ = quick_run
    results = copy.deepcopy(results)
    for row in results.matmul + results.relu:
        row.quiet = True
    rows = [r for r in results.matmul if r.size == QUICK_MATMUL_SIZES[0]]
    rows[-1].quiet = False
    buffer = io.StringIO()
    monkeypatch.setattr(tito.console, "console", Console(file=buffer, width=400, color_system=None))
    render(results)
    text = " ".join(buffer.getvalue().split())  # a long title wraps
    assert text.count("— disturbed:") == 1, text
    assert (f"matmul n={QUICK_MATMUL_SIZES[0]} float32 — speedup vs {rows[0].baseline} — disturbed: "
            f"{rows[-1].kernel} never quiet") in text, text


def test_output_dir_that_is_a_file_is_a_clear_error(tmp_path):
    target = tmp_path / "taken"
    target.write_text("not a directory")
    with pytest.raises(TitoError, match="is a file"):
        prepare_output_dir(target)
    assert prepare_output_dir(tmp_path / "new" / "dir").is_dir()


def test_missing_kernels_module_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(tito.benchmark.kernels, "KERNELS_MODULE", "tinytorch.core.no_such_kernels")
    with pytest.raises(TitoError, match="tito export 11"):
        load_kernels()


def test_cli_rejects_a_file_as_output_without_running(tmp_path):
    target = tmp_path / "taken"
    target.write_text("x")
    done = run_tito("benchmark", "kernels", "--quick", "--output", str(target), timeout=60)
    assert done.returncode == 1
    assert "is a file" in done.stderr and "Traceback" not in done.stderr


def test_cli_help_lists_the_options():
    done = run_tito("benchmark", "kernels", "--help", timeout=60)
    assert done.returncode == 0
    assert "--quick" in done.stdout and "--output" in done.stdout


def test_sampling_gives_goal_sizes_many_samples_and_short_calls_more_than_long_ones():
    from tito.benchmark import goals

    assert goals.sampling("relu", goals.TARGET_SIZES["relu"], quick=False) == (goals.TARGET_REPEATS, goals.TARGET_ROUNDS)
    assert goals.sampling("matmul", goals.TARGET_SIZES["overhead"], quick=False) == (goals.OVERHEAD_REPEATS,) * 2
    short, long_ = goals.sampling("relu", 10**4, quick=False), goals.sampling("relu", 10**6, quick=False)
    assert short == (goals.SHORT_CALL_REPEATS, goals.LADDER_REPEATS) and long_ == (goals.LADDER_REPEATS,) * 2
    assert goals.sampling("matmul", 64, quick=False)[0] > goals.sampling("matmul", 512, quick=False)[0]
    assert goals.sampling("relu", 10**4, quick=True) == (goals.QUICK_TARGET_REPEATS, 1)


def test_time_blocks_alternates_blocks_settles_by_running_and_keeps_every_sample():
    calls, entered = {"first": 0, "second": 0}, []

    def first():
        calls["first"] += 1
        time.sleep(0.002)
        return "first result"

    def second():
        calls["second"] += 1

    @contextmanager
    def limit():
        entered.append(sum(calls.values()))
        yield

    timings = time_blocks([Contender("first", first), Contender("second", second, limit)], samples=3, rounds=2)
    assert calls == {"first": 6, "second": 6}  # 2 blocks x (1 warm-up + ceil(3 / 2) timed)
    assert entered == [3, 9]  # once per block of the second contender, around it
    assert len(timings["first"].samples) == len(timings["second"].samples) == 4
    assert timings["first"].median == statistics.median(timings["first"].samples) >= 0.002
    assert timings["first"].result == "first result"

    start, count = time.perf_counter(), {"n": 0}
    settled = time_blocks([Contender("k", lambda: count.update(n=count["n"] + 1))], samples=2, rounds=2,
                          settle_seconds=0.05)
    assert time.perf_counter() - start >= 2 * 0.05  # each block ran untimed for the settle time first
    assert count["n"] > 2 * (1 + 1) and len(settled["k"].samples) == 2


def test_import_time_of_a_silent_and_a_printing_module():
    silent = measure_import_time("json", runs=1)
    assert silent["silent"] is True and silent["seconds"] >= 0 and len(silent["runs"]) == 1
    printing = measure_import_time("this", runs=1)  # the Zen of Python prints on import
    assert printing["silent"] is False and "Beautiful is better than ugly" in printing["output"]


@given(float_arrays(hnp.array_shapes(min_dims=1, max_dims=3, max_side=6), np.float32))
def test_relu_python_loop_matches_numpy(x):
    assert np.array_equal(relu_python_loop(x), np.maximum(x, 0))


@given(float_arrays(hnp.array_shapes(min_dims=1, max_dims=2, max_side=8), np.float64, bound=100.0))
def test_quantize_reference_is_symmetric_int8(x):
    q, scale = quantize_reference(x)
    assert scale > 0
    assert np.all(np.abs(q) <= 127)
    assert np.all(np.abs(q * scale - x) <= scale / 2 + 1e-9)


def test_a_comparison_is_quiet_only_when_every_median_is_near_its_fastest_sample():

    steady = Timing(samples=[1.0, 1.1, 1.2])
    assert is_quiet({"a": steady, "b": Timing(samples=[2.0, 2.0, 2.0])})
    stalled = Timing(samples=[5.0, 50.0, 55.0])  # a fresh-memory stall in most samples: median 10x the fastest
    assert not is_quiet({"a": steady, "b": stalled})
    edge = Timing(samples=[1.0, QUIET_SPREAD, QUIET_SPREAD])
    assert is_quiet({"edge": edge})


def test_a_disturbed_goal_never_passes():

    timings = {"kernel": Timing(samples=[1.0, 1.0, 1.0])}
    assert judge("quantized_vs_vectorized", 8, 0.9, timings, quiet=True).passed
    unquiet = judge("quantized_vs_vectorized", 8, 0.9, timings, quiet=False)
    assert not unquiet.passed and unquiet.quiet is False


def test_every_goal_says_whether_it_was_measured_quietly(written):
    for target in written["targets"]:
        assert isinstance(target["quiet"], bool)
        assert target["quiet"] or not target["passed"]
        for attempt in target["disturbed_attempts"]:
            assert set(attempt) == set(target["samples"])

"""tito benchmark kernels: the quick run's data, files and CLI.

Speeds are never asserted here; the checks are structure, correctness of the
kernels' results, and that every derived number follows from the measured time
by its formula.
"""

import io
import json
import math
import statistics
import struct
import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis.extra import numpy as hnp
from rich.console import Console

import tito.console
import tito.benchmark
from tito.benchmark import (
    JSON_NAME,
    NAIVE_MAX_N,
    PNG_NAME,
    PYTHON_LOOP_MAX_ELEMENTS,
    QUICK_MATMUL_SIZES,
    QUICK_RELU_SIZES,
    load_kernels,
    measure_import_time,
    prepare_output_dir,
    quantize_reference,
    relu_python_loop,
    run_kernel_benchmark,
    write_outputs,
)
from tito.commands.benchmark import render
from tito.errors import TitoError

from helpers import run_tito
from strategies import float_arrays

MATMUL_KERNELS = ["matmul_vectorized", "numpy @, 1 BLAS thread", "matmul_cache_optimized", "matmul_parallel",
                  "quantized_matmul"]
RELU_KERNELS = ["vectorized_relu", "parallel_relu", "quantized_relu"]
TARGETS = {"parallel_vs_single_thread_blas", "parallel_vs_numpy_multithreaded", "cache_optimized_vs_numpy",
           "quantized_vs_numpy_int32", "parallel_relu_vs_vectorized", "vectorized_overhead", "kernels_import_time"}
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
    assert width > 1000 and height > 300
    assert data[-8:-4] == b"IEND"


def test_json_round_trips_the_results(quick_run, written):
    results, _, _ = quick_run
    assert written == json.loads(json.dumps(results))
    assert written["benchmark"] == "kernels" and written["quick"] is True


def test_progress_is_reported(quick_run):
    _, _, messages = quick_run
    assert any("matmul" in m for m in messages) and any("relu" in m for m in messages)


def test_machine_section(written):
    machine = written["machine"]
    for key in ("cpu_model", "device", "cpu_count", "physical_cores", "memory_total_bytes", "cache_sizes",
                "peak_gflops", "memory_bandwidth_gbs", "ridge_point_flop_per_byte", "blas", "python", "numpy"):
        assert key in machine, key
    assert machine["device"] == "cpu"
    assert machine["peak_gflops"] > 0 and machine["memory_bandwidth_gbs"] > 0
    assert machine["ridge_point_flop_per_byte"] == pytest.approx(machine["peak_gflops"] / machine["memory_bandwidth_gbs"])


def test_background_load_is_reported(written):
    load = written["load"]
    assert load["seconds"] > 0
    assert 0.0 <= load["other_cpu_percent"] <= 100.0 + 1e-6


def test_background_load_formula():
    from tito.benchmark import background_load

    start = {"busy": 10.0, "own": 2.0, "wall": 100.0}
    end = {"busy": 13.0, "own": 4.0, "wall": 102.0}  # 3 busy seconds, 2 of them ours, over 2 s x 2 cores
    assert background_load(start, end, cores=2) == {"seconds": 2.0, "other_cpu_percent": 25.0}


def test_matmul_rows_cover_every_kernel_and_size(written):
    assert written["settings"]["matmul_sizes"] == list(QUICK_MATMUL_SIZES)
    for n in QUICK_MATMUL_SIZES:
        kernels = [row["kernel"] for row in written["matmul"] if row["n"] == n]
        expected = (["matmul_custom"] if n <= NAIVE_MAX_N else []) + MATMUL_KERNELS
        assert kernels == expected


def test_relu_rows_cover_every_kernel_and_size(written):
    assert written["settings"]["relu_sizes"] == list(QUICK_RELU_SIZES)
    for elements in QUICK_RELU_SIZES:
        kernels = [row["kernel"] for row in written["relu"] if row["elements"] == elements]
        expected = (["relu_python_loop"] if elements <= PYTHON_LOOP_MAX_ELEMENTS else []) + RELU_KERNELS
        assert kernels == expected


def test_every_kernel_ran_and_was_correct(written):
    for row in written["matmul"] + written["relu"]:
        assert "error" not in row, row
        assert row["correct"] is True, row


def test_matmul_numbers_follow_from_the_time(written):
    peak = written["machine"]["peak_gflops"]
    for n in QUICK_MATMUL_SIZES:
        rows = [row for row in written["matmul"] if row["n"] == n]
        baseline = rows[0]
        for row in rows:
            assert row["seconds"] > 0 and math.isfinite(row["seconds"])
            assert row["flops"] == 2 * n**3
            assert row["gflops"] == pytest.approx(2 * n**3 / row["seconds"] / 1e9, rel=1e-12)
            assert row["percent_of_peak"] == pytest.approx(100 * row["gflops"] / peak, rel=1e-12)
            assert row["intensity_flop_per_byte"] == pytest.approx(n / 6)  # 2n^3 / (3 n^2 * 4 bytes)
            assert row["baseline"] == baseline["kernel"]
            assert row["speedup"] == pytest.approx(baseline["seconds"] / row["seconds"], rel=1e-12)


def test_relu_numbers_follow_from_the_time(written):
    bandwidth = written["machine"]["memory_bandwidth_gbs"]
    for row in written["relu"]:
        elements = row["elements"]
        assert row["bytes"] == 2 * 4 * elements
        assert row["gbs"] == pytest.approx(8 * elements / row["seconds"] / 1e9, rel=1e-12)
        assert row["gflops"] == pytest.approx(elements / row["seconds"] / 1e9, rel=1e-12)
        assert row["percent_of_bandwidth"] == pytest.approx(100 * row["gbs"] / bandwidth, rel=1e-12)
        assert row["intensity_flop_per_byte"] == pytest.approx(1 / 8)


def test_targets_are_all_reported_with_consistent_verdicts(written):
    targets = {t["name"]: t for t in written["targets"]}
    assert set(targets) == TARGETS
    for target in targets.values():
        assert math.isfinite(target["measured"])
        holds = (target["measured"] >= target["target"] if target["comparison"] == ">="
                 else target["measured"] <= target["target"])
        if target["name"] == "quantized_vs_numpy_int32":
            assert target["exact_integer_product"] is True  # correctness, not speed
            holds = holds and target["exact_integer_product"]
        if target["name"] == "kernels_import_time":
            assert target["silent"] is True
            holds = holds and target["silent"]
        assert target["passed"] == holds
        if "kernel_seconds" in target:
            assert target["kernel_seconds"] == statistics.median(target["kernel_samples"])
            assert target["baseline_seconds"] == statistics.median(target["baseline_samples"])
            ratio = target["baseline_seconds"] / target["kernel_seconds"]
            if target["unit"] == "x":
                assert target["measured"] == pytest.approx(ratio)
            elif target["unit"] == "x time":
                assert target["measured"] == pytest.approx(1 / ratio)
            else:
                assert target["measured"] == pytest.approx(100 * (1 / ratio - 1))


def test_render_prints_every_table(quick_run, monkeypatch):
    results, _, _ = quick_run
    buffer = io.StringIO()
    monkeypatch.setattr(tito.console, "console", Console(file=buffer, width=200, color_system=None))
    render(results)
    text = buffer.getvalue()
    for n in QUICK_MATMUL_SIZES:
        assert f"matmul n={n} float32" in text
    for elements in QUICK_RELU_SIZES:
        assert f"ReLU {elements:,} float32 elements" in text
    assert "target ratios" in text and results["machine"]["cpu_model"] in text
    assert text.count("pass") + text.count("miss") >= len(TARGETS)


def test_output_dir_that_is_a_file_is_a_clear_error(tmp_path):
    target = tmp_path / "taken"
    target.write_text("not a directory")
    with pytest.raises(TitoError, match="is a file"):
        prepare_output_dir(target)
    assert prepare_output_dir(tmp_path / "new" / "dir").is_dir()


def test_missing_kernels_module_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(tito.benchmark, "KERNELS_MODULE", "tinytorch.core.no_such_kernels")
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


def test_alternating_medians_blocks_and_bounds():
    from tito.benchmark import alternating_medians

    calls = {"first": 0, "second": 0}

    def first():
        calls["first"] += 1
        time.sleep(0.002)

    def second():
        calls["second"] += 1

    slow, fast, samples = alternating_medians(first, second, repeats=3, rounds=2)
    assert calls == {"first": 6, "second": 6}  # 2 blocks x (1 warm-up + ceil(3 / 2) timed)
    assert len(samples["kernel_samples"]) == len(samples["baseline_samples"]) == 4
    assert slow == statistics.median(samples["kernel_samples"]) >= 0.002
    assert fast == statistics.median(samples["baseline_samples"]) >= 0.0


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

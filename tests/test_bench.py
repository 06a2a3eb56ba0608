"""The FLOP count and matmul rate (utils.measure) and a small run of tools/bench.py end to end."""

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_epoch_flops_counts_the_matrix_products():
    from utils.measure import epoch_flops

    # 1 sample, 784-1-10: forward 2*(784+10), backward 2*(784+10) + 2*10 (delta1 @ W1.T)
    assert epoch_flops([784, 1, 10], 1) == 2 * 794 + 2 * 794 + 20
    assert epoch_flops([784, 128, 10], 60000) == pytest.approx(2 * 60000 * 128 * (2 * 794 + 10))
    # a deeper net: one more product carries delta back per extra layer
    assert epoch_flops([4, 3, 2, 1], 1) == 2 * (2 * (12 + 6 + 2)) + 2 * (6 + 2)


def test_matmul_rate_is_a_plausible_gflops_figure():
    from utils.measure import matmul_rate

    assert 0.1 < matmul_rate(256, repeats=3) < 100_000


def test_quick_speed_run_prints_and_writes_its_results(tmp_path, monkeypatch):
    """End to end, small: each tool once, Keras as TensorFlow chose (--onednn default), whose
    default the header reports from that run. Both settings, and their interleaving, are
    tested below without starting TensorFlow twice more."""
    pytest.importorskip("tensorflow")
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    command = [sys.executable, str(ROOT / "tools" / "bench.py"), "--quick", "--onednn", "default",
               "--out", str(tmp_path)]
    out = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "GFLOP/s" in out.stdout and "x torch" in out.stdout
    # the header discloses the settings every figure depends on
    assert "CPU threads per library: 1 (TP_THREADS)" in out.stdout
    state = "on" if "keras oneDNN on" in out.stdout else "off"
    assert f"keras oneDNN {state}" in out.stdout
    assert f"oneDNN custom operations {state} by default on this machine" in out.stdout
    assert "a reference, not a limit" in out.stdout and "median and min-max of 3 epochs" in out.stdout
    csv = (tmp_path / "epoch_times.csv").read_text().splitlines()
    assert csv[0].startswith("tool,onednn,batch,hidden") and len(csv) == 1 + 3 * 2
    assert sum(f",{state}," in line for line in csv) == 2
    assert (tmp_path / "epoch_times.png").stat().st_size > 10_000


def _bench():
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench", ROOT / "tools" / "bench.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_onednn_lines_compare_off_with_on_and_flag_overlapping_ranges():
    pd = pytest.importorskip("pandas")
    bench = _bench()
    row = dict(tool="keras", batch=64, hidden=128, epochs=5)
    df = pd.DataFrame([
        {**row, "onednn": "on", "median_s": 0.40, "min_s": 0.39, "max_s": 0.41},
        {**row, "onednn": "off", "median_s": 0.50, "min_s": 0.46, "max_s": 0.56},
        {**row, "batch": 512, "onednn": "on", "median_s": 0.20, "min_s": 0.18, "max_s": 0.25},
        {**row, "batch": 512, "onednn": "off", "median_s": 0.22, "min_s": 0.21, "max_s": 0.24},
        {**row, "tool": "torch", "onednn": "", "median_s": 0.3, "min_s": 0.3, "max_s": 0.3},
    ])
    lines = bench.onednn_lines(df)
    assert "1.25x" in lines[2] and "overlap" not in lines[2]  # 0.46-0.56 vs 0.39-0.41: apart
    assert "1.10x" in lines[3] and "(overlap)" in lines[3]
    assert bench.onednn_lines(df[df.onednn != "off"]) == []  # one setting only: nothing to compare
    assert bench.label("keras", "off") == "keras oneDNN off" and bench.label("numpy", "") == "numpy"


def test_worker_env_sets_the_onednn_switch_only_when_asked(monkeypatch):
    bench = _bench()
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    assert bench._worker_env("1")["TF_ENABLE_ONEDNN_OPTS"] == "1"
    assert bench._worker_env(None)["TF_ENABLE_ONEDNN_OPTS"] == "0"  # "default": as the environment has it
    assert bench.ONEDNN_RUNS["both"] == ("1", "0")


def test_speed_runs_interleave_the_tools_configuration_by_configuration(monkeypatch):
    """The full run starts every tool once per configuration, in turns; --quick once per tool."""
    bench = _bench()
    calls = []
    monkeypatch.setattr(bench, "_run_worker", lambda tool, mode, epochs, n, group, setting=None:
                        calls.append((tool, setting, tuple(group))) or [])
    configs = [(64, 128), (512, 128)]
    bench.run_tools("speed", 1, 10, configs, "both")
    runs = [("numpy", None), ("torch", None), ("keras", "1"), ("keras", "0")]
    assert calls == [(t, s, (c,)) for c in configs for t, s in runs]
    calls.clear()
    bench.run_tools("speed", 1, 10, configs, "both", interleave=False)
    assert calls == [(t, s, tuple(configs)) for t, s in runs]


def test_tensorflows_default_is_read_from_a_keras_run_with_the_variable_unset(monkeypatch):
    bench = _bench()
    monkeypatch.setattr(bench.subprocess, "run", lambda *a, **k: pytest.fail("no process needed"))
    rows = [dict(tool="numpy", onednn="", tensorflow="", onednn_variable="unset"),
            dict(tool="keras", onednn="off", tensorflow="2.99.0", onednn_variable="unset")]
    line = bench.tensorflow_default(rows)
    assert line == "TensorFlow 2.99.0: oneDNN custom operations off by default on this machine"
    asked = []
    monkeypatch.setattr(bench.subprocess, "run", lambda *a, **k: asked.append(k["env"]) or
                        SimpleNamespace(returncode=0, stdout="2.99.0 on\n"))
    forced = [dict(rows[1], onednn="on", onednn_variable="1")]  # forced on: says nothing of the default
    assert bench.tensorflow_default(forced).endswith("operations on by default on this machine")
    assert asked and "TF_ENABLE_ONEDNN_OPTS" not in asked[0]


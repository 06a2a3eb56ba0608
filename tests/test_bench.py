"""The FLOP count and matmul rate (utils.measure) and a small run of tools/bench.py end to end."""

import subprocess
import sys
from pathlib import Path

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


def test_quick_speed_run_prints_and_writes_its_results(tmp_path):
    pytest.importorskip("tensorflow")
    command = [sys.executable, str(ROOT / "tools" / "bench.py"), "--quick", "--out", str(tmp_path)]
    out = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "GFLOP/s" in out.stdout and "x torch" in out.stdout
    csv = (tmp_path / "epoch_times.csv").read_text().splitlines()
    assert csv[0].startswith("tool,batch,hidden") and len(csv) == 1 + 3 * 2
    assert (tmp_path / "epoch_times.png").stat().st_size > 10_000

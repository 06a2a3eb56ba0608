"""tools/bench.py: the FLOP count, and a small run of the speed mode end to end."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import bench  # noqa: E402


def test_flops_per_epoch_counts_the_matrix_products():
    # 1 sample, 784-1-10: forward 2*(784+10), backward 2*(784+10) + 2*10
    assert bench.flops_per_epoch(1, 1) == 2 * 794 + 2 * 794 + 20
    assert bench.flops_per_epoch(60000, 128) == pytest.approx(2 * 60000 * 128 * (2 * 794 + 10))


def test_quick_speed_run_prints_and_writes_its_results(tmp_path):
    pytest.importorskip("tensorflow")
    command = [sys.executable, str(ROOT / "tools" / "bench.py"), "--quick", "--out", str(tmp_path)]
    out = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "GFLOP/s" in out.stdout and "x torch" in out.stdout
    csv = (tmp_path / "epoch_times.csv").read_text().splitlines()
    assert csv[0].startswith("tool,batch,hidden") and len(csv) == 1 + 3 * 2
    assert (tmp_path / "epoch_times.png").stat().st_size > 10_000

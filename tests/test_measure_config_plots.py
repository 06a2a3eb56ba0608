"""utils.measure (with CodeCarbon present, absent and failing), utils.config, utils.plots."""

import builtins
import importlib
import math
import sys

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from utils import config, measure, plots  # noqa: E402


def _work(seconds=0.3):
    """Keep the CPU busy with matrix products for about ``seconds``."""
    import time

    a = np.random.default_rng(0).random((300, 300))
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        a = a @ a / 300.0
    return a


# --- measure ---------------------------------------------------------------------


def test_measure_with_codecarbon_gives_time_energy_and_method(tmp_path, monkeypatch):
    pytest.importorskip("codecarbon")
    monkeypatch.chdir(tmp_path)  # where CodeCarbon would drop emissions.csv
    with measure.measure("matmul", country="FRA") as cost:
        _work()
    assert cost.seconds > 0
    assert cost.has_energy and cost.kwh > 0 and cost.g_co2 > 0
    assert "CPU" in cost.method
    # France's intensity in CodeCarbon's tables is far below 200 g/kWh
    assert 1 < cost.g_co2 / cost.kwh < 200
    assert "kWh" in str(cost) and "g CO2eq" in str(cost)
    assert list(tmp_path.iterdir()) == []  # no file written


def test_each_measurement_uses_a_fresh_tracker():
    pytest.importorskip("codecarbon")
    with measure.measure() as first:
        _work(1.0)
    with measure.measure() as second:
        pass
    # an accumulating tracker would report at least the first block's energy again
    assert second.kwh < first.kwh / 3


def test_measure_without_codecarbon_still_times_and_says_why(monkeypatch, capsys):
    real_import = builtins.__import__

    def no_codecarbon(name, *args, **kwargs):
        if name.startswith("codecarbon"):
            raise ImportError("No module named 'codecarbon'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_codecarbon)
    with measure.measure("no energy") as cost:
        _work()
    assert cost.seconds > 0 and not cost.has_energy and math.isnan(cost.g_co2)
    assert "codecarbon" in cost.method
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "Time is still measured" in out[0]
    assert "energy unavailable" in str(cost)


def test_measure_survives_a_tracker_that_fails(monkeypatch, capsys):
    pytest.importorskip("codecarbon")
    import codecarbon

    class Broken:
        def __init__(self, **kwargs):
            pass

        def start(self):
            pass

        def stop(self):
            raise RuntimeError("RAPL exploded")

    monkeypatch.setattr(codecarbon, "OfflineEmissionsTracker", Broken)
    with measure.measure() as cost:
        pass
    assert cost.seconds >= 0 and not cost.has_energy and "RAPL exploded" in cost.method
    assert "Energy unavailable" in capsys.readouterr().out


def test_measure_records_the_time_even_when_the_block_raises():
    with pytest.raises(ZeroDivisionError):
        with measure.measure(energy=False) as cost:
            _ = 1 / 0
    assert cost.seconds >= 0 and cost.method == "energy not requested"


# --- config ------------------------------------------------------------------------


def _reload_config(monkeypatch, **env):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return importlib.reload(config)


def test_quick_flag_and_pick(monkeypatch):
    try:
        assert _reload_config(monkeypatch, TP_QUICK="1").QUICK is True
        assert config.pick(1, 2) == 1 and config.MODE == "quick"
        assert _reload_config(monkeypatch, TP_QUICK="0").QUICK is False
        assert config.pick(1, 2) == 2
        with pytest.raises(ValueError, match="TP_QUICK"):
            _reload_config(monkeypatch, TP_QUICK="maybe")
        with pytest.raises(ValueError, match="TP_DATASET"):
            _reload_config(monkeypatch, TP_QUICK="1", TP_DATASET="cifar")
    finally:
        monkeypatch.undo()
        importlib.reload(config)


def test_config_silences_tensorflow_and_codecarbon():
    import os

    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3"
    assert os.environ["CODECARBON_LOG_LEVEL"] == "error"


def test_paths_point_into_the_repository():
    assert (config.ROOT / "utils" / "config.py").exists()
    assert config.DATA_DIR == config.ROOT / "data"


def test_results_dir_is_created_under_the_configured_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "RESULTS_DIR", tmp_path / "res")
    assert config.results_dir("bench").is_dir()


def test_seed_everything_makes_numpy_and_torch_repeat():
    torch = pytest.importorskip("torch")
    config.seed_everything(7)
    a, ta = np.random.rand(3), torch.rand(3)
    config.seed_everything(7)
    assert np.array_equal(a, np.random.rand(3)) and torch.equal(ta, torch.rand(3))
    config.seed_everything(8)
    assert not np.array_equal(a, np.random.rand(3))
    assert "torch" in sys.modules


# --- plots ---------------------------------------------------------------------------


def _labelled(fig):
    return bool(fig._suptitle and fig._suptitle.get_text()) or bool(fig.axes[0].get_title())


def test_plots_have_titles_and_labels():
    rng = np.random.default_rng(0)
    x, y = rng.random((12, 784)), rng.integers(0, 10, 12)
    h = {"epoch": [1, 2], "seconds": [0.1, 0.2], "train_loss": [1.0, 0.5], "test_loss": [1.1, 0.7],
         "train_acc": [0.6, 0.8], "test_acc": [0.55, 0.75]}
    figs = [
        plots.show_digits(x, y),
        plots.show_digits(x, y, pred=(y + 1) % 10),
        plots.plot_history({"a": h, "b": h}, x="seconds"),
        plots.plot_confusion(y, y),
        plots.show_weights(rng.standard_normal((784, 5))),
    ]
    for fig in figs:
        assert _labelled(fig)
    loss_ax = figs[2].axes[0]
    assert loss_ax.get_xlabel() == "training time (s)" and "loss" in loss_ax.get_ylabel()
    assert len(loss_ax.lines) == 4  # two runs x (train, test)
    assert figs[3].axes[0].get_xlabel() == "predicted class"


def test_confusion_matrix_counts():
    cm = plots.confusion_matrix([0, 0, 1, 2], [0, 1, 1, 2], n_classes=3)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [0, 0, 1]]


def test_carbon_intensity_orders_france_germany_poland():
    pytest.importorskip("codecarbon")
    (fr_name, fr), (_, de), (_, pl) = (measure.carbon_intensity(c) for c in ("FRA", "DEU", "POL"))
    assert fr_name == "France" and 0 < fr < de < pl
    with pytest.raises(ValueError, match="alpha-3"):
        measure.carbon_intensity("France")


def test_accuracy_floor_fits_the_data_and_the_mode(monkeypatch):
    from utils.data import Dataset

    full = Dataset(np.zeros((60000, 1)), np.zeros(60000), np.zeros((1, 1)), np.zeros(1), "cache")
    sample = Dataset(np.zeros((4000, 1)), np.zeros(4000), np.zeros((1, 1)), np.zeros(1), "sample")
    monkeypatch.setattr(config, "QUICK", False)
    assert config.accuracy_floor(full) == 0.975 and config.accuracy_floor(sample) == 0.88
    assert config.accuracy_floor(full, undertrained=True) == 0.88
    monkeypatch.setattr(config, "QUICK", True)
    assert config.accuracy_floor(full) == 0.88

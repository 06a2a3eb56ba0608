"""utils.config and utils.plots."""


import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from utils import config, plots  # noqa: E402
from utils.history import DIVERGED_LOSS, History, is_diverged  # noqa: E402

# --- config ------------------------------------------------------------------------


def test_quick_flag_and_pick_are_read_when_asked(monkeypatch):
    monkeypatch.setenv("TP_QUICK", "1")
    assert config.is_quick() is True and config.pick(1, 2) == 1 and config.mode() == "quick"
    monkeypatch.setenv("TP_QUICK", "0")
    assert config.is_quick() is False and config.pick(1, 2) == 2 and config.mode() == "full"
    assert config.pick(1, 2, quick_mode=True) == 1  # an argument wins over the environment
    monkeypatch.delenv("TP_QUICK")
    assert config.is_quick() is False


@pytest.mark.parametrize("name, value, call", [
    ("TP_QUICK", "maybe", config.is_quick),
    ("TP_DATASET", "cifar", config.dataset),
    ("TP_COUNTRY", "FR", config.country),
    ("TP_COUNTRY", "France", config.country),
    ("TP_COUNTRY", "F1R", config.country),
    ("TP_CACHE_DIR", "", config.cache_dir),
    ("TP_CACHE_DIR", "   ", config.cache_dir),
    ("TP_RESULTS_DIR", "", config.results_dir),
    ("TP_THREADS", "0", config.threads),
    ("TP_THREADS", "two", config.threads),
])
def test_a_bad_setting_names_the_variable_and_what_it_accepts(monkeypatch, name, value, call):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=name) as err:
        call()
    assert "expected" in str(err.value) or "give a folder" in str(err.value) or "such as" in str(err.value)


def test_settings_have_defaults_and_are_normalised(monkeypatch):
    for name in ("TP_DATASET", "TP_COUNTRY", "TP_CACHE_DIR", "TP_RESULTS_DIR"):
        monkeypatch.delenv(name, raising=False)
    assert config.dataset() == "mnist" and config.country() == "FRA"
    assert config.cache_dir().name == "tp-deep-learning"
    monkeypatch.setenv("TP_DATASET", " Fashion ")
    monkeypatch.setenv("TP_COUNTRY", "deu")
    assert config.dataset() == "fashion" and config.country() == "DEU"
    assert config.describe("debian").startswith("Data: Fashion-MNIST from 'debian'")


def test_config_silences_tensorflow_and_codecarbon():
    import os

    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3"
    assert os.environ["CODECARBON_LOG_LEVEL"] == "error"


def test_every_library_gets_the_same_threads_and_the_first_line_says_how_many(monkeypatch):
    """One thread by default, for NumPy's BLAS, PyTorch and TensorFlow alike (set at import)."""
    import os

    import torch

    assert config.threads() == 1 and torch.get_num_threads() == 1
    assert {os.environ[name] for name in config.THREAD_VARIABLES} == {"1"}
    monkeypatch.setenv("TP_THREADS", "3")
    assert config.threads() == 3 and "CPU threads per library: 3" in config.describe("x")


def test_paths_point_into_the_repository():
    assert (config.ROOT / "utils" / "config.py").exists()
    assert config.DATA_DIR == config.ROOT / "data"


def test_results_dir_is_created_under_the_configured_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("TP_RESULTS_DIR", str(tmp_path / "res"))
    assert config.results_dir("bench") == tmp_path / "res" / "bench" and (tmp_path / "res" / "bench").is_dir()
    assert config.results_dir("x", root=tmp_path / "other").is_dir()
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(ValueError, match="not a folder"):
        config.results_dir(root=tmp_path / "file")


def test_seed_everything_makes_numpy_and_torch_repeat():
    torch = pytest.importorskip("torch")
    config.seed_everything(7)
    a, ta = np.random.rand(3), torch.rand(3)
    config.seed_everything(7)
    assert np.array_equal(a, np.random.rand(3)) and torch.equal(ta, torch.rand(3))
    config.seed_everything(8)
    assert not np.array_equal(a, np.random.rand(3))


@pytest.mark.parametrize("bad", [-1, 2**32, 1.5, "0", None, True])
def test_seed_everything_rejects_a_bad_seed(bad):
    with pytest.raises(ValueError, match="seed must be an integer"):
        config.seed_everything(bad)


# Seeding before a framework is imported, in fresh processes: tests/test_imports.py


# --- plots ---------------------------------------------------------------------------


def _labelled(fig):
    return bool(fig._suptitle and fig._suptitle.get_text()) or bool(fig.axes[0].get_title())


def test_plots_have_titles_and_labels():
    rng = np.random.default_rng(0)
    x, y = rng.random((12, 784)), rng.integers(0, 10, 12)
    h = History()
    h.record(1, 0.1, train=(1.0, 0.6), test=(1.1, 0.55))
    h.record(2, 0.2, train=(0.5, 0.8), test=(0.7, 0.75))
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


@pytest.mark.parametrize("y_true, y_pred, message", [
    ([0, -1], [0, 1], "y_true.*-1"),  # used to be counted as class 9
    ([0, 1], [0, 10], "y_pred.*10"),
    ([0, 1.5], [0, 1], "y_true.*integer"),
    ([0, 1, 2], [0, 1], "3 labels but y_pred has 2"),
])
def test_confusion_matrix_rejects_bad_labels(y_true, y_pred, message):
    with pytest.raises(ValueError, match=message):
        plots.confusion_matrix(y_true, y_pred)


def test_plot_history_takes_histories_only():
    with pytest.raises(TypeError, match="utils.history.History"):
        plots.plot_history({"run": {"epoch": [1]}})
    with pytest.raises(ValueError, match="'epoch' or 'seconds'"):
        plots.plot_history(History(), x="time")


def test_history_records_epochs_and_flags_divergence_with_one_rule():
    h = History()
    h.record(1, 0.5, train=(2.0, 0.3), test=(2.1, 0.28), val=(2.05, 0.29))
    assert h.epoch == [1] and h.val_acc == [0.29] and h.has_val and not h.diverged and len(h) == 1
    h.record(2, 1.0, train=(float("nan"), 0.1), test=(float("nan"), 0.1), val=(float("nan"), 0.1))
    assert h.diverged
    assert is_diverged(float("inf")) and is_diverged(DIVERGED_LOSS + 1) and not is_diverged(2.3)


def test_accuracy_floor_fits_the_data_and_the_mode(monkeypatch):
    from utils.data import Dataset, accuracy_floor

    full = Dataset(np.zeros((60000, 1)), np.zeros(60000), np.zeros((1, 1)), np.zeros(1), "cache")
    sample = Dataset(np.zeros((4000, 1)), np.zeros(4000), np.zeros((1, 1)), np.zeros(1), "sample")
    monkeypatch.setenv("TP_QUICK", "0")
    assert accuracy_floor(full) == 0.975 and accuracy_floor(sample) == 0.88
    assert accuracy_floor(full, undertrained=True) == 0.88
    monkeypatch.setenv("TP_QUICK", "1")
    assert accuracy_floor(full) == 0.88
    assert accuracy_floor(full, quick_mode=False) == 0.975


def test_a_run_of_one_point_is_drawn_with_a_marker():
    """A run stopped by a time budget inside its first epoch has one point: a line alone would not show it."""
    one, long = History(), History()
    one.record(1, 0.4, train=(1.0, 0.6), test=(1.1, 0.55))
    for e in range(1, 41):
        long.record(e, 0.1 * e, train=(1.0 / e, 0.9), test=(1.1 / e, 0.85))
    fig = plots.plot_history({"single sample": one, "mini-batch": long}, x="seconds")
    lines = {len(line.get_xdata()): line.get_marker()
             for line in fig.axes[0].get_lines() if len(line.get_xdata())}
    assert lines[1] not in (None, "None", "", " ") and lines[40] in (None, "None", "", " ")


def test_min_max_error_bars_and_log_ticks():
    """plots.min_max: the distances from the middle to the range's ends, never negative (a mean of
    equal values rounds above their max); plots.log_ticks labels several ticks inside one decade."""
    import matplotlib.pyplot as plt

    mean = (0.1 + 0.1 + 0.1) / 3  # 0.10000000000000002, above the max of three 0.1
    assert mean > 0.1
    bars = plots.min_max([0.5, mean], [0.4, 0.1], [0.9, 0.1])
    np.testing.assert_allclose(bars, [[0.1, mean - 0.1], [0.4, 0.0]])
    assert bars[1, 1] == 0.0 and (bars >= 0).all()
    with pytest.raises(ValueError, match="same shape"):
        plots.min_max([1, 2], [0], [3, 4])
    fig, ax = plt.subplots()
    ax.plot([1, 2], [0.3, 0.9])
    ax.set_yscale("log")
    plots.log_ticks(ax.yaxis)
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_yticklabels() if 0.3 <= t.get_position()[1] <= 0.9]
    assert len(labels) >= 3 and all(label and "10^" not in label for label in labels), labels
    plt.close(fig)

"""Bad inputs to the public helpers of utils/ (not utils.train): each gets a clear error
raised by utils that names the argument or setting, says what is wrong and what to do.

One case per bad input: the function, the input, the exception type and a phrase of
the message a student can act on. Tiny arrays only; no network (``urlopen`` fails if
reached), settings through ``monkeypatch``. The last tests pin the documented safe
behaviours that replaced silent ones (a float64 Dataset is converted, an upper-case
checksum is accepted, a refused record leaves the History as it was...).
"""

import math
import os
import urllib.error
from pathlib import Path
from types import SimpleNamespace

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from utils import config, data, download, measure, plots, reference  # noqa: E402
from utils.checks import core  # noqa: E402
from utils.history import History, check_training_args, is_diverged  # noqa: E402


class Ctx:
    """What a case may need: a temporary folder, a file in it, settings."""

    def __init__(self, tmp_path: Path, monkeypatch):
        self.tmp, self._mp = tmp_path, monkeypatch

    def env(self, name, value):
        self._mp.setenv(name, value)

    def file(self) -> Path:
        path = self.tmp / "a_file"
        path.write_bytes(b"not a folder")
        return path


@pytest.fixture
def ctx(tmp_path, monkeypatch):
    for name in ("TP_CACHE_DIR", "TP_DATASET", "TP_QUICK", "TP_COUNTRY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TP_RESULTS_DIR", str(tmp_path / "results"))

    def offline(url, timeout=None):
        raise urllib.error.URLError("tests: no network")

    monkeypatch.setattr(download, "urlopen", offline)
    yield Ctx(tmp_path, monkeypatch)
    plt.close("all")


# --- tiny fixtures ---------------------------------------------------------------------------

RNG = np.random.default_rng(0)
X8 = RNG.random((8, 784)).astype(np.float32)
Y8 = np.arange(8) % 10
P = reference.init_params(784, 4, 10, seed=0)


def _ds(**changes):
    arrays = dict(x_train=RNG.random((6, 4)), y_train=np.arange(6), x_test=RNG.random((3, 4)),
                  y_test=np.arange(3))
    arrays.update(changes)
    return data.Dataset(**arrays, source="sample")


def _history(n=3, val=False):
    h = History()
    for e in range(1, n + 1):
        h.record(e, 0.1 * e, train=(1.0 / e, 0.5), test=(1.1 / e, 0.4), val=(1.2 / e, 0.3) if val else None)
    return h


def _short_val():
    h = _history(3, val=True)
    h.val_loss.pop()
    h.val_acc.pop()
    return h


def _record(**changes):
    args = dict(epoch=1, seconds=0.5, train=(0.5, 0.9), test=(0.6, 0.8)) | changes
    History().record(**args)


def _val_then_none():
    h = History()
    h.record(1, 0.5, train=(0.5, 0.9), test=(0.6, 0.8), val=(0.7, 0.7))
    h.record(2, 1.0, train=(0.4, 0.9), test=(0.5, 0.85))


def _nan_seconds():
    h = History()
    h.record(1, math.nan, train=(0.5, 0.9), test=(0.6, 0.8))
    return plots.plot_history(h, x="seconds")


def _ng(f=None, h=1e-5):
    """numerical_gradient on a 3-vector, with a right f unless one is given."""
    x = np.ones(3)
    return reference.numerical_gradient((lambda: float((x ** 2).sum())) if f is None else f, x, h=h)

CASES = [
    # config
    ("config.cache_dir", "TP_CACHE_DIR=~nosuchuser/cache",
     lambda c: c.env("TP_CACHE_DIR", "~nosuchuser/cache") or config.cache_dir(),
     ValueError, r"TP_CACHE_DIR='~nosuchuser/cache': cannot expand '~nosuchuser' \(no such user\)"),
    ("config.results_dir", "TP_RESULTS_DIR=<a file>, part '04'",
     lambda c: c.env("TP_RESULTS_DIR", str(c.file())) or config.results_dir("04"),
     ValueError, r"TP_RESULTS_DIR=.*a_file: cannot create .*is a file, not a folder\); set TP_RESULTS_DIR"),
    ("config.results_dir", "TP_RESULTS_DIR=<a file>, no part",
     lambda c: c.env("TP_RESULTS_DIR", str(c.file())) or config.results_dir(),
     ValueError, "is a file, not a folder"),
    ("config.results_dir", "TP_RESULTS_DIR that cannot be created (under /proc)",
     lambda c: (pytest.skip("no /proc here") if not Path("/proc/self").exists() else None)
     or c.env("TP_RESULTS_DIR", "/proc/nope/results") or config.results_dir("04"),
     ValueError, r"TP_RESULTS_DIR=/proc/nope/results: cannot create .*set TP_RESULTS_DIR to a writable"),
    ("config.results_dir", "part 4 (an int)", lambda c: config.results_dir(4),
     TypeError, "each part must be a folder name such as '04'; got 4"),
    ("config.results_dir", "absolute part", lambda c: config.results_dir(str(c.tmp / "elsewhere")),
     ValueError, "leads out of the results folder"),
    ("config.results_dir", "part '..'", lambda c: config.results_dir("../x"),
     ValueError, "leads out of the results folder"),
    ("config.results_dir", "root=''", lambda c: config.results_dir(root=""),
     ValueError, "root is empty: give a folder.*leave root out to use TP_RESULTS_DIR"),
    ("config.mode", "quick_mode='no'", lambda c: config.mode(quick_mode="no"),
     ValueError, r"quick_mode='no': expected True, False or None"),
    ("config.pick", "quick_mode='false'", lambda c: config.pick(1, 2, quick_mode="false"),
     ValueError, r"quick_mode='false': expected True, False or None"),
    ("config.describe", "name='cifar'", lambda c: config.describe("x", name="cifar"),
     ValueError, "name='cifar': expected one of 'mnist', 'fashion'"),
    ("config.describe", "name='MNIST'", lambda c: config.describe("x", name="MNIST"),
     ValueError, "name='MNIST': expected one of"),
    ("data.accuracy_floor", "a name, not a Dataset", lambda c: data.accuracy_floor("mnist"),
     TypeError, "ds must be a utils.data.Dataset"),
    # data
    ("data.load_dataset", "TP_CACHE_DIR=~nosuchuser/x",
     lambda c: c.env("TP_CACHE_DIR", "~nosuchuser/x") or data.load_dataset(),
     ValueError, "TP_CACHE_DIR=.*no such user"),
    ("data.load_mnist", "cache_dir=123", lambda c: data.load_mnist(cache_dir=123, allow_download=False),
     TypeError, r"cache_dir must be a folder \(a str or a pathlib.Path\); got 123"),
    ("data.load_mnist", "cache_dir=''", lambda c: data.load_mnist(cache_dir="", allow_download=False),
     ValueError, r"cache_dir is empty: give a folder .*leave it out \(None\) to use TP_CACHE_DIR"),
    ("data.load_mnist", "allow_download='no'",
     lambda c: data.load_mnist(cache_dir=c.tmp, allow_download="no"),
     TypeError, "allow_download must be True or False; got 'no'"),
    ("data.load_fashion_mnist", "allow_download='no'",
     lambda c: data.load_fashion_mnist(cache_dir=c.tmp, allow_download="no"),
     TypeError, "allow_download must be True or False"),
    ("data.Dataset", "x_train of strings", lambda c: _ds(x_train=np.full((6, 4), "a")),
     TypeError, "x_train has dtype <U1; pixels must be numbers"),
    ("data.Dataset", "x_train of uint8 bytes", lambda c: _ds(x_train=np.zeros((6, 4), np.uint8)),
     TypeError, r"x_train has integer dtype uint8; .*astype\(np.float32\) / 255"),
    ("data.Dataset", "ragged x_test", lambda c: _ds(x_test=[[0.1, 0.2], [0.3]]),
     ValueError, "x_test is not an array .rows of different lengths"),
    ("data.train_val_split", "seed=-1",
     lambda c: data.train_val_split(np.zeros((20, 2)), np.arange(20) % 2, seed=-1),
     ValueError, "seed must be an integer >= 0"),
    ("data.batch_indices", "seed=-5", lambda c: data.batch_indices(10, 3, seed=-5),
     ValueError, "seed must be an integer >= 0 .or None"),
    ("data.batch_indices", "seed='1'", lambda c: data.batch_indices(10, 3, seed="1"),
     ValueError, "seed must be an integer >= 0"),
    ("data.iterate_minibatches", "ragged x", lambda c: data.iterate_minibatches([[1, 2], [3]], [0, 1], 1),
     ValueError, "x must be an array of samples; it has rows of different lengths"),
    # download
    ("download.verify_sha256", "sha256=None", lambda c: download.verify_sha256(c.file(), None),
     TypeError, "sha256 must be the expected checksum, a str of 64 hexadecimal digits"),
    ("download.verify_sha256", "sha256 not hexadecimal", lambda c: download.verify_sha256(c.file(), "xyz"),
     ValueError, "sha256 must be 64 hexadecimal digits"),
    ("download.download", "dest whose folder is a file",
     lambda c: download.download("http://127.0.0.1:9/x", c.file() / "x.npz", None),
     FileExistsError, r"cannot write dest .*a_file is a file, not a folder"),
    ("download.remove_stale", "paths='abc'", lambda c: download.remove_stale("abc"),
     TypeError, r"remove_stale needs a list of paths, not one str .*remove_stale\(\[path\]\)"),
    # reference
    ("reference.init_params", "seed=-1", lambda c: reference.init_params(784, 10, seed=-1),
     ValueError, "seed must be an integer >= 0"),
    ("reference.init_params", "dtype=np.int32", lambda c: reference.init_params(784, 16, 10, dtype=np.int32),
     TypeError, "dtype must be a float type such as np.float32"),
    ("reference.forward", "params [W0, b0, W1]", lambda c: reference.forward(X8, P[:3]),
     ValueError, "an even number of arrays.*got 3 array.*is a bias or a weight matrix missing"),
    ("reference.forward", "W1 does not follow W0",
     lambda c: reference.forward(X8, [P[0], P[1], np.ones((5, 10)), P[3]]),
     ValueError, "W1 has 5 rows but the layer before has 4 neurons"),
    ("reference.backward", "X 5 rows, Y and outputs 8",
     lambda c: reference.backward(X8[:5], reference.one_hot(Y8), P, reference.forward(X8, P)),
     ValueError, "X has 5 rows but Y and the outputs have 8"),
    ("reference.evaluate", "X 8 rows, y 1 label", lambda c: reference.evaluate(X8, Y8[:1], P),
     ValueError, "X has 8 rows but y has 1 labels; they must match"),
    ("reference.evaluate", "X 0 rows, y 8 labels", lambda c: reference.evaluate(X8[:0], Y8, P),
     ValueError, "X has 0 rows but y has 8 labels"),
    ("reference.evaluate", "chunk=0", lambda c: reference.evaluate(X8, Y8, P, chunk=0),
     ValueError, r"chunk must be an integer >= 1"),
    ("reference.train", "lr='0.1'", lambda c: reference.train(P, _ds(), 1, "0.1", progress=False),
     ValueError, r"lr \(the learning rate\) must be a number > 0, not a str"),
    ("reference.train", "seed=-3", lambda c: reference.train(P, _ds(), 2, 0.1, seed=-3, progress=False),
     ValueError, "seed must be an integer >= 0; got -3"),
    ("reference.train", "ds=(x, y)", lambda c: reference.train(P, (X8, Y8), 1, 0.1, progress=False),
     TypeError, "ds must be a utils.data.Dataset .*got a tuple"),
    ("reference.train", "ds with 4 columns, network 784",
     lambda c: reference.train(P, _ds(), 1, 0.1, progress=False),
     ValueError, r"ds.x_train has shape \(6, 4\); the network expects .* \(D, 784\)"),
    ("reference.train", "ds.y_test one label short",
     lambda c: reference.train(P, SimpleNamespace(x_train=X8, y_train=Y8, x_test=X8, y_test=Y8[:7]), 1, 0.1,
                               progress=False),
     ValueError, "ds.x_test has 8 rows but ds.y_test has 7 labels"),
    # history
    ("history.check_training_args", "lr='0.1'", lambda c: check_training_args(1, "0.1", 32),
     ValueError, "lr .the learning rate. must be a number > 0, not a str"),
    ("history.check_training_args", "lr=1e300", lambda c: check_training_args(1, 1e300, 32),
     ValueError, r"lr .the learning rate. must be a finite number > 0 and at most 1e\+30"),
    ("History.record", "train=None", lambda c: _record(train=None),
     TypeError, r"train must be a \(loss, accuracy\) pair of numbers; got None"),
    ("History.record", "train=(0.5,)", lambda c: _record(train=(0.5,)),
     ValueError, r"train must be a \(loss, accuracy\) pair"),
    ("History.record", "accuracy in percent", lambda c: _record(train=(0.5, 95.0)),
     ValueError, r"train accuracy is 95; it must be a fraction in \[0, 1\] \(a percentage\? divide it"),
    ("History.record", "negative loss", lambda c: _record(test=(-1.0, 0.5)),
     ValueError, "the test loss is -1: a cross-entropy is never negative"),
    ("History.record", "loss 'a'", lambda c: _record(train=("a", 0.5)),
     TypeError, "the train loss must be a number; got 'a'"),
    ("History.record", "epoch='x'", lambda c: _record(epoch="x"),
     TypeError, "epoch must be an integer >= 0"),
    ("History.record", "seconds=-1", lambda c: _record(seconds=-1.0),
     ValueError, r"seconds \(training time so far\) must be >= 0"),
    ("History.record", "val at epoch 1, not at epoch 2", lambda c: _val_then_none(),
     ValueError, "val must be given at every epoch or at none"),
    ("history.is_diverged", "loss='abc'", lambda c: is_diverged("abc"),
     TypeError, "loss must be a number; got 'abc'"),
    # measure
    ("measure.epoch_flops", "n=-5", lambda c: measure.epoch_flops([784, 128, 10], -5),
     ValueError, r"n \(the number of samples in the epoch\) must be an integer >= 1"),
    ("measure.epoch_flops", "n=2.5", lambda c: measure.epoch_flops([784, 128, 10], 2.5),
     TypeError, "n .the number of samples in the epoch. must be an integer >= 1; got 2.5"),
    ("measure.epoch_flops", "n=None", lambda c: measure.epoch_flops([784, 128, 10], None),
     TypeError, "n .the number of samples in the epoch. must be an integer"),
    ("measure.epoch_flops", "n='100'", lambda c: measure.epoch_flops([784, 128, 10], "100"),
     TypeError, "n .the number of samples in the epoch. must be an integer"),
    ("measure.epoch_flops", "sizes=[784]", lambda c: measure.epoch_flops([784], 100),
     ValueError, "sizes must be at least two integers >= 1"),
    ("measure.epoch_flops", "sizes=[784, -1, 10]", lambda c: measure.epoch_flops([784, -1, 10], 100),
     ValueError, "sizes must be at least two integers >= 1"),
    ("measure.epoch_flops", "sizes=784", lambda c: measure.epoch_flops(784, 100),
     TypeError, r"sizes must be a list of layer sizes such as \[784, 256, 10\]"),
    ("measure.matmul_rate", "size=0", lambda c: measure.matmul_rate(0),
     ValueError, r"size \(rows and columns of the matrices\) must be an integer >= 1"),
    ("measure.matmul_rate", "size=-1", lambda c: measure.matmul_rate(-1),
     ValueError, "size .rows and columns of the matrices. must be an integer >= 1"),
    ("measure.matmul_rate", "size=8.5", lambda c: measure.matmul_rate(8.5),
     TypeError, "size .rows and columns of the matrices. must be an integer >= 1"),
    ("measure.matmul_rate", "repeats=0", lambda c: measure.matmul_rate(8, repeats=0),
     ValueError, r"repeats \(the number of products timed\) must be an integer >= 1"),
    # plots
    ("plots.plot_history", "Keras's History.history dict",
     lambda c: plots.plot_history({"loss": [1.0, 0.5], "accuracy": [0.5, 0.8]}),
     TypeError, r"this looks like Keras's History.history; convert it \(notebook 02's as_history\)"),
    ("plots.plot_history", "a list [h1, h2]", lambda c: plots.plot_history([_history(), _history()]),
     TypeError, r"histories must be a utils.history.History or a dict .*name them"),
    ("plots.plot_history", "an empty History", lambda c: plots.plot_history(History()),
     ValueError, r"nothing to plot: the run has no epoch \(did it diverge in its first epoch\?\)"),
    ("plots.plot_history", "{}", lambda c: plots.plot_history({}),
     ValueError, "nothing to plot"),
    ("plots.plot_history", "val lists shorter than epoch", lambda c: plots.plot_history(_short_val()),
     ValueError, "3 epoch.s. but 2 value.s. in val_loss"),
    ("plots.plot_history", "x='seconds', seconds NaN", lambda c: _nan_seconds(),
     ValueError, "plot it with x='epoch'"),
    ("plots.plot_confusion", "2 class names, 10 classes",
     lambda c: plots.plot_confusion(Y8, Y8, class_names=["a", "b"]),
     ValueError, "class_names has 2 names but there are 10 classes"),
    ("plots.show_digits", "x with 100 columns", lambda c: plots.show_digits(X8[:, :100], Y8),
     ValueError, r"show_digits: x must hold 28x28 images, shape \(n, 784\)"),
    ("plots.show_digits", "8 images, 5 labels", lambda c: plots.show_digits(X8, Y8[:5]),
     ValueError, "x has 8 images but y has 5 labels"),
    ("plots.show_digits", "pred one-hot", lambda c: plots.show_digits(X8, Y8, pred=reference.one_hot(Y8)),
     ValueError, r"pred must be 1-D .*argmax"),
    ("plots.show_digits", "n=0", lambda c: plots.show_digits(X8, Y8, n=0),
     ValueError, r"n \(the number of images shown\) must be an integer >= 1"),
    ("plots.show_digits", "cols=0", lambda c: plots.show_digits(X8, Y8, cols=0),
     ValueError, r"cols \(images per row\) must be an integer >= 1"),
    ("plots.show_digits", "raw uint8 pixels", lambda c: plots.show_digits((X8 * 255).astype(np.uint8), Y8),
     ValueError, "pixels in .0, 1.*pass x / 255"),
    ("plots.show_digits", "2 class names, labels up to 7",
     lambda c: plots.show_digits(X8, Y8, class_names=["a", "b"]),
     ValueError, "class_names has 2 names but y goes up to 7"),
    ("plots.show_weights", "a 1-D array", lambda c: plots.show_weights(P[0][:, 0]),
     ValueError, r"W must be a weight matrix of shape \(784, N\)"),
    ("plots.show_weights", "W transposed", lambda c: plots.show_weights(P[0].T),
     ValueError, "looks transposed, pass W.T"),
    ("plots.show_weights", "W (100, 16)", lambda c: plots.show_weights(np.ones((100, 16))),
     ValueError, r"got shape \(100, 16\)"),
    ("plots.show_weights", "n=0", lambda c: plots.show_weights(P[0], n=0),
     ValueError, r"n \(the number of neurons shown\) must be an integer >= 1"),
    # checks.core
    ("checks.rel_error", "'abc' vs [1]", lambda c: core.rel_error("abc", [1]),
     TypeError, "rel_error compares numbers or arrays of numbers; a is a str"),
    ("checks.rel_error", "None vs 1.0", lambda c: core.rel_error(None, 1.0),
     TypeError, r"rel_error: a is None \(a function without its `return`\?\)"),
    ("checks.rel_error", "complex", lambda c: core.rel_error([1.0], [1 + 2j]),
     TypeError, "b holds complex numbers"),
    ("reference.numerical_gradient", "h='1e-5'", lambda c: _ng(h="1e-5"),
     TypeError, "h must be a small positive float such as 1e-5"),
    ("reference.numerical_gradient", "h=None", lambda c: _ng(h=None),
     TypeError, "h must be a small positive float"),
    ("reference.numerical_gradient", "h=nan", lambda c: _ng(h=math.nan),
     ValueError, "h must be a small positive step"),
    ("reference.numerical_gradient", "f=3", lambda c: _ng(f=3),
     TypeError, "f must be a function that takes no argument and returns the loss"),
    ("reference.numerical_gradient", "f takes x", lambda c: _ng(f=lambda x: 0.0),
     TypeError, "f must take no argument: it reads x itself, which numerical_gradient changes in place"),
    ("reference.numerical_gradient", "f returns None", lambda c: _ng(f=lambda: None),
     TypeError, r"f returned None: .*is its `return` missing\?"),
    ("reference.numerical_gradient", "f returns a str", lambda c: _ng(f=lambda: "0.5"),
     TypeError, "f must return the loss, one real number"),
]


@pytest.mark.parametrize("func, given, call, error, message", CASES,
                         ids=[f"{case[0]}: {case[1]}" for case in CASES])
def test_a_bad_input_gets_a_clear_error(ctx, func, given, call, error, message):
    with pytest.raises(error, match=message):
        call(ctx)


# --- the documented behaviours that replaced silent ones ---------------------------------------


def test_dataset_converts_float64_pixels_to_float32():
    ds = _ds()
    assert ds.x_train.dtype == np.float32 and ds.x_test.dtype == np.float32


def test_verify_sha256_accepts_either_case(tmp_path):
    import hashlib

    path = tmp_path / "f"
    path.write_bytes(b"hello")
    download.verify_sha256(path, hashlib.sha256(b"hello").hexdigest().upper())


def test_a_cache_folder_that_is_a_file_is_named_as_such(tmp_path, capsys):
    (tmp_path / "a_file").write_text("x")
    assert data.load_mnist(cache_dir=tmp_path / "a_file", allow_download=False).source == "sample"
    assert f"{tmp_path / 'a_file'} is a file, not a folder" in capsys.readouterr().out


def test_a_refused_record_leaves_the_history_as_it_was():
    h = _history(2, val=True)
    before = {k: list(v) for k, v in vars(h).items() if isinstance(v, list)}
    with pytest.raises(ValueError):
        h.record(3, 0.3, train=(0.5, 0.9), test=(0.6, 1.5), val=(0.7, 0.7))  # test accuracy > 1
    assert {k: v for k, v in vars(h).items() if isinstance(v, list)} == before


def test_nan_marks_divergence_and_nan_seconds_mean_not_timed():
    h = History()
    h.record(0, math.nan, train=(math.nan, 0.1), test=(math.inf, 0.1))
    assert h.diverged and math.isnan(h.seconds[0])


def test_a_learning_rate_up_to_1e30_is_accepted():
    check_training_args(1, 1e30, 32)
    check_training_args(1, np.float32(0.1), None)


def test_carbon_intensity_none_reads_tp_country(monkeypatch):
    monkeypatch.setenv("TP_COUNTRY", "DEU")
    name, _ = measure.carbon_intensity(None)
    assert name in ("Germany", "DEU") and measure.carbon_intensity()[0] == name


def test_compare_reads_a_tensor_that_requires_grad_and_refuses_complex_values():
    torch = pytest.importorskip("torch")
    expected = np.arange(6.0).reshape(2, 3)
    check = core.Check("test")
    assert check.compare("tensor", torch.arange(6.0).reshape(2, 3).requires_grad_(), expected)
    assert not check.compare("complex", expected + 5j, expected)
    assert "complex numbers" in check.problems[0]


def test_numerical_gradient_puts_x_back_when_f_fails():
    x = np.ones(3)
    with pytest.raises(TypeError):
        reference.numerical_gradient(lambda: None, x)
    assert np.array_equal(x, np.ones(3))


def test_a_run_without_an_epoch_is_named_in_the_legend():
    fig = plots.plot_history({"ok": _history(2), "diverged": History()})
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any(label.startswith("diverged (no epoch") for label in labels)
    plt.close(fig)


def test_epoch_flops_takes_numpy_integers():
    assert measure.epoch_flops(np.array([784, 1, 10]), np.int64(1)) == 2 * 794 + 2 * 794 + 20


def test_results_dir_still_makes_sub_folders(tmp_path, monkeypatch):
    monkeypatch.setenv("TP_RESULTS_DIR", str(tmp_path / "res"))
    assert config.results_dir("04", "runs") == tmp_path / "res" / "04" / "runs"
    assert os.path.isdir(tmp_path / "res" / "04" / "runs")


# --- utils.train: the PyTorch and Keras loops ------------------------------------------------


def _tiny(n=60, cols=784, seed=0):
    rng = np.random.default_rng(seed)
    return data.Dataset(rng.random((n, cols), dtype=np.float32), rng.integers(0, 10, n),
                        rng.random((20, cols), dtype=np.float32), rng.integers(0, 10, 20), "sample")


def _torch_cases():
    from utils import train

    ds, narrow = _tiny(), _tiny(cols=100)
    model = lambda: train.mlp([784, 8, 10])  # noqa: E731
    params = reference.init_params(784, 8, 10)
    return [
        ("mlp negative size", lambda: train.mlp([784, -5, 10]), ValueError, "at least two integers >= 1"),
        ("mlp an int", lambda: train.mlp(784), ValueError, "at least two integers >= 1"),
        ("mlp float size", lambda: train.mlp([784, 16.5, 10]), ValueError, "at least two integers >= 1"),
        ("mlp one size", lambda: train.mlp([784]), ValueError, "at least two integers >= 1"),
        ("mlp zero width", lambda: train.mlp([784, 0, 10]), ValueError, "at least two integers >= 1"),
        ("fit negative seed", lambda: train.fit(model(), ds, 1, 0.1, seed=-5), ValueError, "seed must be"),
        ("fit time_budget str", lambda: train.fit(model(), ds, 1, 0.1, time_budget="10"), ValueError,
         "time_budget"),
        ("fit negative momentum", lambda: train.fit(model(), ds, 1, 0.1, momentum=-1), ValueError,
         "momentum must be a number >= 0"),
        ("fit negative weight_decay", lambda: train.fit(model(), ds, 1, 0.1, weight_decay=-0.1), ValueError,
         "weight_decay must be a number >= 0"),
        ("fit wrong columns", lambda: train.fit(model(), narrow, 1, 0.1), ValueError,
         "100 columns but the model's first layer takes 784"),
        ("fit val mismatched rows", lambda: train.fit(model(), ds, 1, 0.1, val=(ds.x_test, ds.y_test[:5])),
         ValueError, "20 rows but there are 5 labels"),
        ("fit val a Dataset", lambda: train.fit(model(), ds, 1, 0.1, val=ds), TypeError,
         "val must be a pair"),
        ("fit ds a tuple", lambda: train.fit(model(), (ds.x_train, ds.y_train), 1, 0.1), TypeError,
         "ds must be a utils.data.Dataset"),
        ("fit model a list", lambda: train.fit(params, ds, 1, 0.1), TypeError, "model must be a PyTorch"),
        ("fit loss_fn returns logits", lambda: train.fit(model(), ds, 1, 0.1, loss_fn=lambda m, z, y: z),
         ValueError, "loss_fn must return the loss as one number"),
        ("evaluate wrong columns", lambda: train.evaluate(model(), narrow.x_test, narrow.y_test), ValueError,
         "100 columns"),
        ("evaluate mismatched rows", lambda: train.evaluate(model(), ds.x_test[:8], ds.y_test[:5]),
         ValueError, "8 rows but there are 5 labels"),
        ("run params None", lambda: train.run("torch", None, ds, 1, 0.1), TypeError,
         "params must be the list"),
        ("run torch wrong columns", lambda: train.run("torch", params, narrow, 1, 0.1), ValueError,
         "100 columns"),
    ]


@pytest.mark.parametrize("index", range(19))
def test_the_pytorch_loop_rejects_bad_input(index):
    pytest.importorskip("torch")
    name, call, error, message = _torch_cases()[index]
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize("case", ["a torch model", "wrong columns", "mismatched rows", "negative seed"])
def test_the_keras_loop_rejects_bad_input(case):
    pytest.importorskip("tensorflow")
    from utils import train

    ds, narrow, params = _tiny(), _tiny(cols=100), reference.init_params(784, 8, 10)
    bad = data.Dataset.__new__(data.Dataset)  # rows that do not match, past Dataset's own check
    bad.__dict__.update(vars(ds), y_train=ds.y_train[:50])
    calls = {"a torch model": (lambda: train.fit_keras(train.mlp([784, 8, 10]), ds, 1, 0.1), TypeError,
                               "model must be a Keras model"),
             "wrong columns": (lambda: train.fit_keras(train.keras_from_reference(params), narrow, 1, 0.1),
                               ValueError, "100 columns"),
             "mismatched rows": (lambda: train.fit_keras(train.keras_from_reference(params), bad, 1, 0.1),
                                 ValueError, "60 rows but there are 50 labels"),
             "negative seed": (lambda: train.fit_keras(train.keras_from_reference(params), ds, 1, 0.1,
                                                       seed=-1), ValueError, "seed must be")}
    call, error, message = calls[case]
    with pytest.raises(error, match=message):
        call()

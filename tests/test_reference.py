"""utils.reference (the NumPy network notebook 01 builds) and utils.checks."""

import numpy as np
import pytest

from utils import checks
from utils import reference as ref
from utils.data import load_sample, one_hot


@pytest.mark.parametrize("sizes", [[6, 5, 4], [6, 5, 4, 3]])
def test_backward_matches_finite_differences(sizes):
    rng = np.random.default_rng(0)
    p = ref.init_params(sizes, seed=1, dtype=np.float64)
    for name in p:
        if name.startswith("b"):
            p[name] += 0.1 * rng.standard_normal(p[name].shape)
    X = rng.random((7, sizes[0]))
    Y = one_hot(rng.integers(0, sizes[-1], 7), sizes[-1]).astype(np.float64)
    z, a = ref.forward(p, X)
    grads = ref.backward(p, X, Y, z, a)
    for name in p:
        num = checks.numerical_gradient(lambda: ref.cross_entropy(ref.forward(p, X)[1][-1], Y), p[name])
        assert checks.rel_error(grads[name], num) < 1e-7, name


def test_softmax_is_stable_and_normalised():
    z = np.array([[1000.0, 1001.0, 0.0], [-1e4, -1e4, -1e4]])
    s = ref.softmax(z)
    assert np.all(np.isfinite(s)) and np.allclose(s.sum(1), 1)
    assert np.allclose(s[1], 1 / 3)


def test_float32_in_float32_out():
    p = ref.init_params([784, 16, 10])
    X = np.zeros((3, 784), np.float32)
    z, a = ref.forward(p, X)
    grads = ref.backward(p, X, one_hot([1, 2, 3]), z, a)
    assert all(v.dtype == np.float32 for v in [*z, *a, *grads.values()])


def test_init_is_seeded_and_scaled():
    p = ref.init_params([784, 128, 10], seed=3)
    assert p["W0"].shape == (784, 128) and p["b1"].shape == (10,)
    assert abs(p["W0"].std() - np.sqrt(2 / 784)) < 0.002
    assert np.array_equal(p["W0"], ref.init_params([784, 128, 10], seed=3)["W0"])


def test_training_on_the_sample_learns():
    ds = load_sample()
    p = ref.init_params([784, 64, 10], seed=0)
    h = ref.train(p, ds, epochs=3, lr=0.1, batch_size=64, progress=False)
    assert h["test_acc"][-1] > 0.85 and h["train_loss"][-1] < h["train_loss"][0]
    assert h["seconds"] == sorted(h["seconds"]) and len(h["epoch"]) == 3


def test_full_batch_gradient_descent_takes_one_step_per_epoch():
    ds = load_sample()
    p = ref.init_params([784, 8, 10], seed=0)
    before = {k: v.copy() for k, v in p.items()}
    ref.train(p, ds, epochs=1, lr=0.5, batch_size=None, progress=False)
    z, a = ref.forward(before, ds.x_train)
    grads = ref.backward(before, ds.x_train, one_hot(ds.y_train), z, a)
    for k in p:  # exactly W <- W - lambda * (1/D) sum_i dJ_i/dW, once
        assert np.allclose(p[k], before[k] - 0.5 * grads[k], atol=1e-6)


# --- the self-checks pass on right answers and fail, helpfully, on wrong ones ---------


def test_checks_pass_on_the_reference(capsys):
    checks.check_relu(ref.relu, ref.relu_prime)
    checks.check_softmax(ref.softmax)
    checks.check_cross_entropy(ref.cross_entropy)
    checks.check_accuracy(ref.accuracy)
    checks.check_forward(lambda X, W0, b0, W1, b1: (
        X @ W0 + b0, ref.relu(X @ W0 + b0),
        ref.relu(X @ W0 + b0) @ W1 + b1, ref.softmax(ref.relu(X @ W0 + b0) @ W1 + b1)))
    out = capsys.readouterr().out
    assert out.count("PASSED") == 5


def _naive_softmax(z):
    with np.errstate(over="ignore", invalid="ignore"):
        return np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)


@pytest.mark.parametrize("call, message", [
    (lambda: checks.check_relu(lambda z: np.abs(z), ref.relu_prime), "max\\(0, z\\)"),
    (lambda: checks.check_relu(ref.relu, lambda z: None), "returned None"),
    (lambda: checks.check_softmax(_naive_softmax), "nan or inf"),
    (lambda: checks.check_softmax(lambda z: np.exp(z) / np.exp(z).sum()), "row"),
    (lambda: checks.check_cross_entropy(lambda a, Y: -np.sum(Y * np.log(a))), "mean over the batch"),
    (lambda: checks.check_accuracy(lambda a, y: np.mean(a.argmax(0) == y[:10])), "argmax over axis 1"),
    (lambda: checks.check_backward(lambda X, Y, W1, z0, a0, a1: None), "dW0, db0, dW1, db1"),
])
def test_checks_fail_with_a_hint(call, message):
    with pytest.raises(AssertionError, match=message):
        call()


def test_check_backward_catches_a_missing_relu_derivative():
    def buggy(X, Y, W1, z0, a0, a1):
        D = len(X)
        d1 = a1 - Y
        d0 = d1 @ W1.T  # forgot relu_prime(z0)
        return X.T @ d0 / D, d0.sum(0) / D, a0.T @ d1 / D, d1.sum(0) / D

    with pytest.raises(AssertionError, match="dW0"):
        checks.check_backward(buggy)


def test_rel_error():
    assert checks.rel_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert checks.rel_error(np.zeros(3), np.zeros(3)) == 0.0
    assert 0.3 < checks.rel_error([1.0], [2.0]) < 0.34


def test_framework_checks_pass_on_right_models_and_fail_on_wrong_ones(capsys):
    keras = pytest.importorskip("keras")
    torch = pytest.importorskip("torch")

    def right(n):
        return keras.Sequential([keras.Input(shape=(784,)), keras.layers.Dense(n, activation="relu"),
                                 keras.layers.Dense(10, activation="softmax")])

    def sigmoid_hidden(n):
        return keras.Sequential([keras.Input(shape=(784,)), keras.layers.Dense(n, activation="sigmoid"),
                                 keras.layers.Dense(10, activation="softmax")])

    checks.check_keras_one_hidden_layer(right)
    with pytest.raises(AssertionError, match="relative error"):
        checks.check_keras_one_hidden_layer(sigmoid_hidden)

    class Net(torch.nn.Module):
        def __init__(self, d_in, h, d_out, relu=True):
            super().__init__()
            self.linear1, self.linear2, self.relu = torch.nn.Linear(d_in, h), torch.nn.Linear(h, d_out), relu

        def forward(self, x):
            h = self.linear1(x)
            return self.linear2(h.clamp(min=0) if self.relu else h)

    checks.check_two_layer_net(Net)
    with pytest.raises(AssertionError, match="clamp"):
        checks.check_two_layer_net(lambda *a: Net(*a, relu=False))
    assert capsys.readouterr().out.count("PASSED") == 2

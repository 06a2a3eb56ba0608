"""utils.reference (the NumPy network notebook 01 builds) and utils.checks."""

import numpy as np
import pytest

from utils import checks
from utils import reference as ref
from utils.data import Dataset, load_sample
from utils.reference import one_hot


@pytest.mark.parametrize("sizes", [[6, 5, 4], [6, 5, 4, 3]])
def test_backward_matches_finite_differences(sizes):
    rng = np.random.default_rng(0)
    p = ref.init_params(*sizes, seed=1, dtype=np.float64)
    for b in p[1::2]:
        b += 0.1 * rng.standard_normal(b.shape)
    X = rng.random((7, sizes[0]))
    Y = one_hot(rng.integers(0, sizes[-1], 7), sizes[-1]).astype(np.float64)
    grads = ref.backward(X, Y, p, ref.forward(X, p))
    assert len(grads) == len(p) == 2 * (len(sizes) - 1)
    for i, (param, grad) in enumerate(zip(p, grads)):
        num = ref.numerical_gradient(lambda: ref.cross_entropy(ref.forward(X, p)[-1], Y), param)
        assert checks.rel_error(grad, num) < 1e-7, i


def test_softmax_is_stable_and_normalised():
    z = np.array([[1000.0, 1001.0, 0.0], [-1e4, -1e4, -1e4]])
    s = ref.softmax(z)
    assert np.all(np.isfinite(s)) and np.allclose(s.sum(1), 1)
    assert np.allclose(s[1], 1 / 3)


def test_float32_in_float32_out():
    p = ref.init_params(784, 16, 10)
    X = np.zeros((3, 784), np.float32)
    outputs = ref.forward(X, p)
    grads = ref.backward(X, one_hot([1, 2, 3]), p, outputs)
    assert all(v.dtype == np.float32 for v in [*outputs, *grads])


def test_init_is_seeded_and_scaled():
    W0, b0, W1, b1 = ref.init_params(784, 128, 10, seed=3)
    assert W0.shape == (784, 128) and b1.shape == (10,) and not b0.any()
    assert abs(W0.std() - np.sqrt(2 / 784)) < 0.002
    assert np.array_equal(W0, ref.init_params(784, 128, 10, seed=3)[0])
    assert ref.layer_sizes(ref.init_params(784, 64, 32, 10)) == [784, 64, 32, 10]


def test_training_on_the_sample_learns():
    ds = load_sample()
    p = ref.init_params(784, 64, 10, seed=0)
    h = ref.train(p, ds, epochs=3, lr=0.1, batch_size=64, progress=False)
    assert h.test_acc[-1] > 0.85 and h.train_loss[-1] < h.train_loss[0] and not h.diverged
    assert h.seconds == sorted(h.seconds) and h.epoch == [1, 2, 3] and not h.has_val


def test_full_batch_gradient_descent_takes_one_step_per_epoch():
    ds = load_sample()
    p = ref.init_params(784, 8, 10, seed=0)
    before = [q.copy() for q in p]
    ref.train(p, ds, epochs=1, lr=0.5, batch_size=None, progress=False)
    grads = ref.backward(ds.x_train, one_hot(ds.y_train), before, ref.forward(ds.x_train, before))
    for after, start, g in zip(p, before, grads):  # exactly W <- W - lambda * (1/D) sum_i dJ_i/dW, once
        assert np.allclose(after, start - 0.5 * g, atol=1e-6)


def test_a_diverging_rate_is_flagged_and_stops_the_numpy_run(recwarn):
    ds = load_sample()
    h = ref.train(ref.init_params(784, 32, 10), ds, epochs=5, lr=100.0, batch_size=64, progress=False)
    assert h.diverged and len(h.epoch) < 5
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


# --- the self-checks pass on right answers and fail, helpfully, on wrong ones ---------


def test_checks_pass_on_the_reference(capsys):
    checks.check_one_hot(one_hot)
    checks.check_relu(ref.relu)
    checks.check_relu_prime(ref.relu_prime)
    checks.check_softmax(ref.softmax)
    checks.check_cross_entropy(ref.cross_entropy)
    checks.check_accuracy(ref.accuracy)
    checks.check_init_params(ref.init_params)
    checks.check_forward(ref.forward)
    checks.check_backward(ref.backward)
    checks.check_numerical_gradient(ref.numerical_gradient)
    out = capsys.readouterr().out
    assert out.count("PASSED") == 10


def _naive_softmax(z):
    with np.errstate(over="ignore", invalid="ignore"):
        return np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)


@pytest.mark.parametrize("call, message", [
    (lambda: checks.check_relu(lambda z: np.abs(z)), "absolute value"),
    (lambda: checks.check_relu_prime(lambda z: None), "returned None"),
    (lambda: checks.check_softmax(_naive_softmax), "no maximum subtracted"),
    (lambda: checks.check_softmax(lambda z: np.exp(z) / np.exp(z).sum()), "sum over the whole array"),
    (lambda: checks.check_cross_entropy(lambda a, Y: -np.sum(Y * np.log(a))), "instead of the mean"),
    (lambda: checks.check_accuracy(lambda a, y: np.mean(a.argmax(0) == y[:10])), "over axis 0"),
    (lambda: checks.check_backward(lambda X, Y, params, outputs: None), "dW0, db0, dW1, db1"),
])
def test_checks_fail_with_a_hint(call, message):
    with pytest.raises(checks.CheckFailed, match=message):
        call()


def test_check_backward_catches_a_missing_relu_derivative():
    def buggy(X, Y, params, outputs):
        W0, b0, W1, b1 = params
        z0, a0, z1, a1 = outputs
        D = len(X)
        d1 = a1 - Y
        d0 = d1 @ W1.T  # forgot relu_prime(z0)
        return X.T @ d0 / D, d0.sum(0) / D, a0.T @ d1 / D, d1.sum(0) / D

    with pytest.raises(checks.CheckFailed, match=r"dW0 .*h'\(z0\) missing from delta0"):
        checks.check_backward(buggy)


def test_rel_error():
    assert checks.rel_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert checks.rel_error(np.zeros(3), np.zeros(3)) == 0.0
    assert 0.3 < checks.rel_error([1.0], [2.0]) < 0.34
    assert checks.rel_error(3.0, 3.0) == 0.0  # scalars


# --- bad inputs give a clear error that names what is wrong ----------------------------------


@pytest.mark.parametrize("call, error, message", [
    (lambda: checks.rel_error(np.ones(3), np.ones((3, 1))), ValueError,
     r"same shape; got \(3,\) and \(3, 1\)"),
    (lambda: checks.rel_error(np.ones(3), np.ones(4)), ValueError, "same shape"),
    (lambda: ref.numerical_gradient(lambda: 0.0, np.arange(3)), TypeError, "array of floats.*int64"),
    (lambda: ref.numerical_gradient(lambda: 0.0, [1.0, 2.0]), TypeError, "array of floats.*list"),
    (lambda: ref.numerical_gradient(lambda: np.ones(2), np.ones(2)), ValueError, "one number"),
    (lambda: ref.numerical_gradient(lambda: 0.0, np.ones(2), h=0), ValueError, "small positive step"),
    (lambda: ref.init_params([784, 10]), ValueError, "separate numbers"),
    (lambda: ref.init_params(784), ValueError, "at least two integers"),
    (lambda: ref.init_params(784, 0, 10), ValueError, "at least two integers"),
    (lambda: ref.init_params(784, 2.5, 10), ValueError, "at least two integers"),
    (lambda: ref.forward(np.ones((784, 5)), ref.init_params(784, 4, 10)), ValueError, "looks transposed"),
    (lambda: ref.forward(np.ones(784), ref.init_params(784, 4, 10)), ValueError, r"shape \(D, 784\)"),
    (lambda: ref.backward(np.ones((2, 4)), np.array([1, 2]), ref.init_params(4, 3, 10),
                          ref.forward(np.ones((2, 4)), ref.init_params(4, 3, 10))), ValueError, "one-hot"),
    (lambda: ref.evaluate(np.ones((2, 4)), np.array([1, 12]), ref.init_params(4, 3, 10)), ValueError, "12"),
])
def test_bad_inputs_to_the_network_and_the_checker(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize("kwargs, message", [
    (dict(epochs=0), "epochs must be an integer >= 1"),
    (dict(epochs=2.5), "epochs must be an integer >= 1"),
    (dict(lr=float("nan")), "finite number > 0"),
    (dict(lr=-0.1), "finite number > 0"),
    (dict(lr="fast"), "must be a number"),
    (dict(batch_size=0), "batch_size must be an integer >= 1 .use batch_size=None"),
    (dict(batch_size=-5), "batch_size must be an integer >= 1"),
    (dict(batch_size=32.0), "batch_size must be an integer >= 1"),
])
def test_the_numpy_training_loop_rejects_bad_settings(kwargs, message):
    ds = load_sample()
    args = dict(epochs=1, lr=0.1, batch_size=64) | kwargs
    with pytest.raises(ValueError, match=message):
        ref.train(ref.init_params(784, 4, 10), ds, progress=False, **args)


def test_the_numpy_training_loop_rejects_labels_out_of_range():
    ds = load_sample()
    bad = Dataset(ds.x_train[:50], ds.y_train[:50], ds.x_test[:10], ds.y_test[:10], "sample")
    p = ref.init_params(784, 4, 3)  # three outputs, but labels go up to 9
    with pytest.raises(ValueError, match="ds.y_train"):
        ref.train(p, bad, epochs=1, lr=0.1, progress=False)


def test_framework_checks_pass_on_right_models_and_fail_on_wrong_ones(capsys):
    keras = pytest.importorskip("keras")
    torch = pytest.importorskip("torch")

    def right(n, hidden="relu"):
        return keras.Sequential([keras.Input(shape=(784,)),
                                 keras.layers.Dense(n, activation=hidden, name="hidden"),
                                 keras.layers.Dense(10, activation="softmax", name="output")])

    def sigmoid_hidden(n):
        return right(n, hidden="sigmoid")

    checks.check_keras_one_hidden_layer(right)
    with pytest.raises(checks.CheckFailed, match="sigmoid on the hidden layer"):
        checks.check_keras_one_hidden_layer(sigmoid_hidden)

    class Net(torch.nn.Module):
        def __init__(self, d_in, h, d_out, relu=True):
            super().__init__()
            self.linear1, self.linear2, self.relu = torch.nn.Linear(d_in, h), torch.nn.Linear(h, d_out), relu

        def forward(self, x):
            h = self.linear1(x)
            return self.linear2(h.clamp(min=0) if self.relu else h)

    checks.check_two_layer_net(Net)
    with pytest.raises(checks.CheckFailed, match="no ReLU after the hidden layer"):
        checks.check_two_layer_net(lambda *a: Net(*a, relu=False))
    assert capsys.readouterr().out.count("PASSED") == 2

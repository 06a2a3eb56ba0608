"""Self-checks for the exercises, and the gradient checker.

Each ``check_*`` calls the student's function on seeded random inputs, compares
it with the reference in :mod:`utils.reference` and either prints one line
saying it passed or raises ``AssertionError`` with what was expected, what came
back and a hint. Nothing here is the answer: the reference lives in
``utils/reference.py`` for instructors and for the curious.
"""

from __future__ import annotations

import numpy as np

from utils import reference as ref


def rel_error(a, b) -> float:
    """Relative error ``||a - b|| / (||a|| + ||b||)``: about 1e-7 or less for
    float64 maths that agree, 1e-2 or more for a wrong formula.

    ``a`` and ``b`` must have the same shape: NumPy would otherwise broadcast
    them (a (3,) against a (3, 1) array compares 9 pairs) and the error would mean nothing."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error compares arrays of the same shape; got {a.shape} and {b.shape}.")
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if denom == 0 else float(np.linalg.norm(a - b) / denom)


def numerical_gradient(f, x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Centred finite differences ``(f(x + h e_i) - f(x - h e_i)) / 2h`` for every
    entry ``i`` of the array ``x`` (changed in place, then restored).

    ``x`` must be a NumPy array of floats (float64 for a meaningful check): an
    integer array cannot hold ``x + h`` and would give wrong values."""
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        kind = x.dtype if isinstance(x, np.ndarray) else type(x).__name__
        raise TypeError(f"numerical_gradient needs a NumPy array of floats, changed in place; got {kind}. "
                        "Convert it first, e.g. p = p.astype(np.float64), and let f use that array.")
    if not float(h) > 0:
        raise ValueError(f"h must be a small positive step such as 1e-5; got {h!r}.")
    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        f_plus = f()
        x[i] = old - h
        f_minus = f()
        x[i] = old
        if np.ndim(f_plus) != 0:
            raise ValueError(f"f must return one number (the loss); it returned shape {np.shape(f_plus)}.")
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad


def _fail(name: str, what: str, hint: str):
    raise AssertionError(f"{name}: {what}\nHint: {hint}")


def _compare(name, got, expected, hint, tol=1e-6, inputs=None):
    got = np.asarray(got) if got is not None else None
    if got is None:
        _fail(name, "returned None.", "did you forget `return`?")
    if got.shape != np.shape(expected):
        _fail(name, f"returned shape {got.shape}, expected {np.shape(expected)}.", hint)
    if not np.all(np.isfinite(got)):
        _fail(name, "returned nan or inf" + (f" for input {inputs}" if inputs is not None else "") + ".",
              hint)
    err = rel_error(got, expected)
    if err > tol:
        _fail(name, f"relative error {err:.2e} against the reference (tolerance {tol:.0e}).", hint)


def _passed(name, n):
    print(f"PASSED {name}: {n} checks on random inputs agree with the reference.")


def check_relu(relu, relu_prime):
    rng = np.random.default_rng(0)
    for shape in [(5,), (3, 4), (64, 128)]:
        z = rng.standard_normal(shape)
        _compare("relu", relu(z), ref.relu(z), "ReLU is max(0, z), element by element (np.maximum).")
        _compare("relu_prime", relu_prime(z), ref.relu_prime(z),
                 "the derivative is 1 where z > 0 and 0 elsewhere, element by element.")
    _passed("relu and relu_prime", 6)


def check_softmax(softmax):
    rng = np.random.default_rng(1)
    cases = [rng.standard_normal((4, 10)), 5 * rng.standard_normal((32, 10)),
             np.array([[1000.0, 1001.0, 999.0], [-1000.0, -1000.0, -999.0]])]
    for z in cases:
        _compare("softmax", softmax(z.copy()), ref.softmax(z),
                 "exponentiate z minus its row maximum (keepdims=True), then divide each row by its sum.",
                 inputs=z if z.shape[1] == 3 else None)
    _passed("softmax", len(cases))


def check_cross_entropy(cross_entropy):
    rng = np.random.default_rng(2)
    for n in (1, 5, 50):
        a = ref.softmax(rng.standard_normal((n, 10)))
        Y = np.eye(10)[rng.integers(0, 10, n)]
        got = cross_entropy(a, Y)
        _compare("cross_entropy", np.float64(got) if got is not None else None, ref.cross_entropy(a, Y),
                 "J = -sum_n y_n ln a_n for each sample, then the mean over the batch (a single number).")
    _passed("cross_entropy", 3)


def check_accuracy(accuracy):
    rng = np.random.default_rng(3)
    for n in (1, 10, 100):
        a = rng.random((n, 10))
        y = rng.integers(0, 10, n)
        got = accuracy(a, y)
        _compare("accuracy", np.float64(got) if got is not None else None, ref.accuracy(a, y),
                 "the predicted class is the argmax over axis 1; return the fraction that equals y.")
    _passed("accuracy", 3)


def _small_problem(seed=4, n=16, n_in=20, n_hidden=12, n_out=10):
    """``[W0, b0, W1, b1]`` (float64, non-zero biases), a batch X and one-hot Y."""
    rng = np.random.default_rng(seed)
    p = ref.init_params(n_in, n_hidden, n_out, seed=seed, dtype=np.float64)
    p[1] = 0.1 * rng.standard_normal(n_hidden)
    p[3] = 0.1 * rng.standard_normal(n_out)
    X = rng.random((n, n_in))
    Y = np.eye(n_out)[rng.integers(0, n_out, n)]
    return p, X, Y


def check_forward(forward):
    """``forward(X, params)`` must return ``(z0, a0, z1, a1)`` as the reference does."""
    p, X, _ = _small_problem()
    got = forward(X, [q.copy() for q in p])
    if got is None or len(got) != 4:
        _fail("forward", "should return the four arrays (z0, a0, z1, a1).", "return z0, a0, z1, a1")
    expected = ref.forward(X, p)
    hint = "z0 = X @ W0 + b0, a0 = relu(z0), z1 = a0 @ W1 + b1, a1 = softmax(z1)."
    for name, g, e in zip(("z0", "a0", "z1", "a1"), got, expected):
        _compare(f"forward ({name})", g, e, hint)
    _passed("forward", 4)


def check_backward(backward):
    """``backward(X, Y, params, outputs)`` must return ``(dW0, db0, dW1, db1)``."""
    p, X, Y = _small_problem()
    outputs = ref.forward(X, p)
    got = backward(X, Y, [q.copy() for q in p], tuple(o.copy() for o in outputs))
    if got is None or len(got) != 4:
        _fail("backward", "should return the four gradients (dW0, db0, dW1, db1).",
              "return dW0, db0, dW1, db1")
    expected = dict(zip(("W0", "b0", "W1", "b1"), ref.backward(X, Y, p, outputs)))
    hints = {
        "dW1": "delta1 = a1 - Y; dW1 = a0.T @ delta1 / D (the average over the D samples).",
        "db1": "db1 = delta1 summed over the samples (axis 0), divided by D.",
        "dW0": "delta0 = relu_prime(z0) * (delta1 @ W1.T); dW0 = X.T @ delta0 / D.",
        "db0": "db0 = delta0 summed over axis 0, divided by D.",
    }
    for name, g in zip(("dW0", "db0", "dW1", "db1"), got):
        _compare(f"backward ({name})", g, expected[name[1:]], hints[name])
    _passed("backward", 4)


def check_keras_one_hidden_layer(build):
    """``build(n_hidden)`` must return a Keras model computing the reference network."""
    import keras

    p, X, _ = _small_problem(n_in=784, n_hidden=7)
    model = build(7)
    if not isinstance(model, keras.Model):
        _fail("one_hidden_layer", f"returned {type(model).__name__}, not a Keras model.",
              "return keras.Sequential([keras.Input(shape=(784,)), Dense(...), Dense(...)]).")
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    if [d.units for d in dense] != [7, 10]:
        _fail("one_hidden_layer", f"has Dense layers of {[d.units for d in dense]} units, expected [7, 10].",
              "one hidden Dense layer of n_hidden units, then one of 10 units.")
    for d, W, b in zip(dense, p[::2], p[1::2]):
        d.set_weights([W.astype("float32"), b.astype("float32")])
    expected = ref.forward(X, p)[-1]
    _compare("one_hidden_layer", model(X.astype("float32")).numpy(), expected,
             "hidden layer with activation='relu', output layer with activation='softmax'.", tol=1e-5)
    _passed("one_hidden_layer", 2)


def check_two_layer_net(TwoLayerNet):
    """``TwoLayerNet(D_in, H, D_out)`` must compute the reference network's logits."""
    import torch

    p, X, _ = _small_problem(n_hidden=7)
    net = TwoLayerNet(X.shape[1], 7, 10)
    with torch.no_grad():
        net.linear1.weight.copy_(torch.from_numpy(p[0].T))
        net.linear1.bias.copy_(torch.from_numpy(p[1]))
        net.linear2.weight.copy_(torch.from_numpy(p[2].T))
        net.linear2.bias.copy_(torch.from_numpy(p[3]))
    net.double()
    out = net(torch.from_numpy(X))
    if out is None:
        _fail("TwoLayerNet.forward", "returned None.", "return y_pred")
    logits = out.detach().numpy()
    _compare("TwoLayerNet.forward", ref.softmax(logits), ref.forward(X, p)[-1],
             "y_pred = linear2(linear1(x).clamp(min=0)); return the logits, without softmax.")
    _passed("TwoLayerNet.forward", 1)

"""Self-checks of notebook 01's exercises (the NumPy network).

Each ``check_*`` calls the student's function on seeded random inputs, compares
it with the reference in :mod:`utils.reference` and either prints one line
saying it passed or raises ``AssertionError`` with what was expected, what came
back and a hint. Nothing here is the answer: the reference lives in
``utils/reference.py`` for instructors and for the curious.
"""

from __future__ import annotations

import numpy as np

from utils import reference as ref
from utils.checks.core import rel_error

__all__ = ["check_relu", "check_softmax", "check_cross_entropy", "check_accuracy", "check_forward",
           "check_backward"]


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

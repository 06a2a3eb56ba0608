"""The checks' own NumPy network, and what the self-checks of notebooks 02 (Keras) and 03 (PyTorch)
share: the small networks they build, and the wrong activations they recognise.

The checks compare the student's work with this network, never with :mod:`utils.reference`: the
student edition replaces that module, and nothing here can stand in for an exercise. No function
has an exercise's signature: an activation is asked for by name (:func:`activate`), the layers'
values come back as a dict (:func:`layer_values`), the gradients from the batch alone
(:func:`gradients`), and the weights from a list of sizes (:func:`he_params`).
"""

from __future__ import annotations

import itertools

import numpy as np

from utils.checks.core import salted, seeded

PSL_SIZES = [784, 64, 32, 10]  # Vérine's PSL lecture: 52,650 parameters


def case(sizes, seed: int = 4, n: int = 16, dtype=np.float64):
    """``[W0, b0, W1, b1, ...]`` with non-zero biases, a batch X and labels y, drawn from ``seed``."""
    rng = seeded(seed)
    params = he_params(sizes, salted(seed))
    for b in params[1::2]:
        b += 0.1 * rng.standard_normal(b.shape)
    X = rng.random((n, sizes[0]))
    y = rng.integers(0, sizes[-1], n)
    return [p.astype(dtype) for p in params], X.astype(dtype), y


def activate(name: str, z) -> np.ndarray:
    """The activation ``name`` of ``z`` (float64): "ReLU", "ReLU'" (its derivative, 0 at 0),
    "sigmoid", "no activation", "softmax" (over each row), "softmax twice", "softmax of ReLU"."""
    z = np.asarray(z, dtype=np.float64)
    if name == "ReLU":
        return np.maximum(z, 0.0)
    if name == "ReLU'":
        return (z > 0).astype(np.float64)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "no activation":
        return z
    if name in ("softmax twice", "softmax of ReLU"):
        return activate("softmax", activate("softmax" if name == "softmax twice" else "ReLU", z))
    if name == "softmax":
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    raise ValueError(f"no activation named {name!r}")


def he_params(sizes, seed) -> list:
    """``[W0, b0, W1, b1, ...]`` in float64 for the layer sizes ``sizes`` (a list): weights drawn
    from N(0, 2/M) with ``np.random.default_rng(seed)``, biases 0."""
    rng = np.random.default_rng(seed)
    params = []
    for M, N in zip(sizes[:-1], sizes[1:]):
        params += [rng.standard_normal((M, N)) * np.sqrt(2.0 / M), np.zeros(N)]
    return params


def layer_values(X, params) -> dict:
    """``{"z": [z0, z1, ...], "a": [a0, a1, ...]}`` for the batch ``X``: ReLU hidden layers, a
    softmax output."""
    n_layers = len(params) // 2
    values, a = {"z": [], "a": []}, np.asarray(X, dtype=np.float64)
    for L in range(n_layers):
        z = a @ params[2 * L] + params[2 * L + 1]
        a = activate("softmax" if L == n_layers - 1 else "ReLU", z)
        values["z"].append(z)
        values["a"].append(a)
    return values


def gradients(X, Y, params) -> list:
    """``[dW0, db0, dW1, db1, ...]`` of the mean cross-entropy on the batch ``(X, Y)``, ``Y`` one-hot."""
    values, X = layer_values(X, params), np.asarray(X, dtype=np.float64)
    n_layers = len(params) // 2
    grads = [None] * len(params)
    delta = (values["a"][-1] - Y) / len(X)
    for L in range(n_layers - 1, -1, -1):
        grads[2 * L] = (X if L == 0 else values["a"][L - 1]).T @ delta
        grads[2 * L + 1] = delta.sum(axis=0)
        if L > 0:
            delta = (delta @ params[2 * L].T) * activate("ReLU'", values["z"][L - 1])
    return grads


def outputs_tuple(values: dict) -> tuple:
    """``(z0, a0, z1, a1, ...)`` from :func:`layer_values`' dict."""
    return tuple(v for pair in zip(values["z"], values["a"]) for v in pair)


HIDDEN = ("ReLU", "no activation", "sigmoid")


def activation_mistakes(X, params, outputs: dict, words) -> dict:
    """The output of the network for every choice of hidden activations (:data:`HIDDEN`) and of
    output (``outputs``: the name of each choice -> the :func:`activate` name it computes, the right
    one first) but the right one, keyed by ``words(hidden, output)``."""
    n_layers = len(params) // 2
    right = next(iter(outputs))
    mistakes = {}
    for hidden in itertools.product(HIDDEN, repeat=n_layers - 1):
        for output in outputs:
            if output == right and all(h == "ReLU" for h in hidden):
                continue
            a = X
            for L in range(n_layers):
                z = a @ params[2 * L] + params[2 * L + 1]
                a = activate(outputs[output] if L == n_layers - 1 else hidden[L], z)
            mistakes[words(hidden, output)] = a
    return mistakes

"""What the self-checks of notebooks 02 (Keras) and 03 (PyTorch) share: the small networks they
build, and the wrong activations they recognise, computed with NumPy from the lecture's equations."""

from __future__ import annotations

import itertools

import numpy as np

from utils import reference as ref
from utils.checks.core import salted, seeded

PSL_SIZES = [784, 64, 32, 10]  # Vérine's PSL lecture: 52,650 parameters


def case(sizes, seed: int = 4, n: int = 16, dtype=np.float64):
    """``[W0, b0, W1, b1, ...]`` with non-zero biases, a batch X and labels y, drawn from ``seed``."""
    rng = seeded(seed)
    params = ref.init_params(*sizes, seed=salted(seed), dtype=np.float64)
    for b in params[1::2]:
        b += 0.1 * rng.standard_normal(b.shape)
    X = rng.random((n, sizes[0]))
    y = rng.integers(0, sizes[-1], n)
    return [p.astype(dtype) for p in params], X.astype(dtype), y


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


HIDDEN = {"ReLU": ref.relu, "no activation": lambda z: z, "sigmoid": sigmoid}


def activation_mistakes(X, params, outputs: dict, words) -> dict:
    """The output of the network for every choice of hidden activations (:data:`HIDDEN`) and of
    output (``outputs``, the right one first) but the right one, keyed by ``words(hidden, output)``."""
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
                a = outputs[output](z) if L == n_layers - 1 else HIDDEN[hidden[L]](z)
            mistakes[words(hidden, output)] = a
    return mistakes

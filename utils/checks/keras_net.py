"""Self-checks of notebook 02's exercises (Keras)."""

from __future__ import annotations

import numpy as np  # noqa: F401

from utils import reference as ref
from utils.checks.numpy_net import _compare, _fail, _passed, _small_problem

__all__ = ["check_keras_one_hidden_layer"]


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

"""The reference NumPy network: the lecture's equations, in one page.

Notation (lecture, section IV-V): layers ``L = 0 .. H``; ``W^L`` is the
``M x N`` matrix from layer ``L-1`` (M neurons) to layer ``L`` (N neurons);
``z^L = (W^L)^T a^{L-1} + b^L``, ``a^L = h(z^L)`` with ReLU hidden layers and a
softmax output; ``delta^H = a^H - y``, ``delta^L = h'(z^L) * W^{L+1} delta^{L+1}``,
``dJ/dW^L = a^{L-1} (delta^L)^T``, ``dJ/db^L = delta^L``.

In code the samples of a batch are the *rows* of ``X`` (shape ``D x 784``), so
the column-vector formula ``z = W^T a + b`` becomes ``Z = A_prev @ W + b``.

Notebook 01 writes this network step by step; this module is what its
self-checks compare against, and what notebooks 02, 03 and 07 reuse.
"""

from __future__ import annotations

import time

import numpy as np

from utils.data import iterate_minibatches, one_hot


def relu(z):
    return np.maximum(z, 0)


def relu_prime(z):
    return (z > 0).astype(z.dtype)


def softmax(z):
    """Row-wise softmax; subtracting the row maximum avoids overflow in exp."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def cross_entropy(a, Y):
    """Mean over the batch of ``J = -sum_n y_n ln a_n`` (the empirical risk R_D)."""
    return float(-np.mean(np.sum(Y * np.log(np.maximum(a, np.finfo(a.dtype).tiny)), axis=1)))


def accuracy(a, y):
    """Fraction of rows whose largest output is the true label."""
    return float(np.mean(np.argmax(a, axis=1) == y))


def init_params(sizes, seed: int = 0, dtype=np.float32) -> dict:
    """``W0, b0, W1, b1, ...`` for layer sizes such as ``[784, 128, 10]``.

    Weights are drawn from N(0, 2/M) (He initialisation, suited to ReLU: the
    variance of z stays about the same from layer to layer); biases start at 0.
    """
    rng = np.random.default_rng(seed)
    params = {}
    for L, (M, N) in enumerate(zip(sizes[:-1], sizes[1:])):
        params[f"W{L}"] = (rng.standard_normal((M, N)) * np.sqrt(2.0 / M)).astype(dtype)
        params[f"b{L}"] = np.zeros(N, dtype=dtype)
    return params


def forward(params: dict, X):
    """Lists ``z[L]`` and ``a[L]`` for ``L = 0 .. H``; ``a[H]`` are the probabilities."""
    H = len(params) // 2 - 1
    z, a = [], []
    a_prev = X
    for L in range(H + 1):
        z.append(a_prev @ params[f"W{L}"] + params[f"b{L}"])
        a.append(softmax(z[L]) if L == H else relu(z[L]))
        a_prev = a[L]
    return z, a


def backward(params: dict, X, Y, z, a) -> dict:
    """Gradients of the batch-mean loss, from delta^H = a^H - y down to layer 0."""
    H = len(params) // 2 - 1
    grads = {}
    delta = (a[H] - Y) / len(X)  # the 1/D of the average, applied once
    for L in range(H, -1, -1):
        a_prev = X if L == 0 else a[L - 1]
        grads[f"W{L}"] = a_prev.T @ delta
        grads[f"b{L}"] = delta.sum(axis=0)
        if L > 0:
            delta = (delta @ params[f"W{L}"].T) * relu_prime(z[L - 1])
    return grads


def sgd_step(params: dict, grads: dict, lr: float) -> None:
    for name in params:
        params[name] -= lr * grads[name]


def evaluate(params: dict, X, y, chunk: int = 10000):
    """(mean loss, accuracy) over a data set, in chunks to bound memory."""
    loss = correct = 0.0
    for start in range(0, len(X), chunk):
        xb, yb = X[start:start + chunk], y[start:start + chunk]
        probs = forward(params, xb)[1][-1]
        loss += cross_entropy(probs, one_hot(yb, probs.shape[1])) * len(xb)
        correct += accuracy(probs, yb) * len(xb)
    return loss / len(X), correct / len(X)


def train(params: dict, ds, epochs: int, lr: float, batch_size: int | None = 128,
          seed: int = 0, progress: bool = True) -> dict:
    """Mini-batch SGD (``batch_size=None``: full-batch gradient descent).

    Returns the history: per epoch, train/test loss and accuracy and the
    cumulative training time in seconds (evaluation excluded).
    """
    from tqdm.auto import trange

    n_out = params[f"b{len(params) // 2 - 1}"].shape[0]
    history = {k: [] for k in ("epoch", "seconds", "train_loss", "train_acc", "test_loss", "test_acc")}
    elapsed = 0.0
    bar = trange(1, epochs + 1, desc="epochs", disable=not progress, leave=False)
    for epoch in bar:
        start = time.perf_counter()
        for xb, yb in iterate_minibatches(ds.x_train, ds.y_train, batch_size or len(ds.x_train),
                                          seed=seed + epoch):
            z, a = forward(params, xb)
            sgd_step(params, backward(params, xb, one_hot(yb, n_out), z, a), lr)
        elapsed += time.perf_counter() - start
        history["epoch"].append(epoch)
        history["seconds"].append(elapsed)
        for split, (X, y) in (("train", (ds.x_train, ds.y_train)), ("test", (ds.x_test, ds.y_test))):
            loss, acc = evaluate(params, X, y)
            history[f"{split}_loss"].append(loss)
            history[f"{split}_acc"].append(acc)
        bar.set_postfix(test_acc=f"{history['test_acc'][-1]:.3f}")
    return history

"""The reference NumPy network: the lecture's equations, in one page.

Notation (Ruppin's Lyon lecture): layers ``L = 0 .. H``; ``W^L`` is the ``M x N``
matrix from layer ``L-1`` (M neurons) to layer ``L`` (N neurons);
``z^L = (W^L)^T a^{L-1} + b^L``, ``a^L = h(z^L)`` with ReLU hidden layers and a
softmax output; ``delta^H = a^H - y``, ``delta^L = h'(z^L) * W^{L+1} delta^{L+1}``,
``dJ/dW^L = a^{L-1} (delta^L)^T``, ``dJ/db^L = delta^L``.

In code the samples of a batch are the *rows* of ``X`` (shape ``D x 784``), so
the column-vector formula ``z = W^T a + b`` becomes ``Z = A_prev @ W + b``.

The API is the one notebook 01 teaches, for any number of layers:

    params = init_params(784, 256, 10, seed=0)      # [W0, b0, W1, b1]
    outputs = forward(X, params)                    # (z0, a0, z1, a1)
    grads = backward(X, Y, params, outputs)         # (dW0, db0, dW1, db1)
    sgd_step(params, grads, lr)

Notebook 01 writes the one-hidden-layer case step by step; this module holds its answers
(one_hot and numerical_gradient too), for notebooks 02, 03 and 07, which reuse the network, and
for tools/bench.py and the tests. It stays in the instructor's copy: the student edition ships
tools/edition_reference.py as utils/reference.py, which runs the student's own notebook 01.
The self-checks never use it: they have their own network (utils.checks.networks).
"""

from __future__ import annotations

import inspect
import math
import numbers
import time

import numpy as np

from utils.data import N_CLASSES, check_labels, iterate_minibatches
from utils.history import History, check_seed, check_training_args, layer_sizes


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


def one_hot(y, num_classes: int = N_CLASSES) -> np.ndarray:
    """Labels (n,) -> float32 matrix (n, num_classes) with a single 1 per row.

    The labels are checked by :func:`check_labels` (``ValueError`` if they are not
    integers 0..num_classes-1)."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive integer; got {num_classes!r}.")
    y = check_labels(y, num_classes, name="y given to one_hot")
    out = np.zeros((len(y), num_classes), dtype=np.float32)
    out[np.arange(len(y)), y] = 1.0
    return out


def init_params(*sizes, seed: int = 0, dtype=np.float32) -> list:
    """``[W0, b0, W1, b1, ...]`` for layer sizes such as ``init_params(784, 128, 10)``.

    Weights are drawn from N(0, 2/M) (He initialisation, suited to ReLU: the
    variance of z stays about the same from layer to layer); biases start at 0.
    ``seed`` is an integer >= 0 (None: a fresh random draw); ``dtype`` a float
    type (``TypeError`` for an integer one: the draws would round to 0).
    """
    if len(sizes) == 1 and not isinstance(sizes[0], numbers.Integral):
        raise ValueError(f"give the layer sizes as separate numbers, init_params(784, 128, 10); "
                         f"got one argument {sizes[0]!r} (write init_params(*sizes)).")
    if len(sizes) < 2 or any(isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1
                             for n in sizes):
        raise ValueError(f"layer sizes must be at least two integers >= 1 (inputs, ..., outputs); "
                         f"got {sizes!r}.")
    check_seed(seed, allow_none=True)
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be a float type such as np.float32; got {dtype!r}.") from None
    if dt.kind != "f":
        raise TypeError(f"dtype must be a float type such as np.float32 or np.float64 (weights are floats: "
                        f"in {dt} nearly every N(0, 2/M) draw rounds to 0); got {dt}.")
    rng = np.random.default_rng(seed)
    params = []
    for M, N in zip(sizes[:-1], sizes[1:]):
        params.append((rng.standard_normal((M, N)) * np.sqrt(2.0 / M)).astype(dtype))  # W^L
        params.append(np.zeros(N, dtype=dtype))  # b^L
    return params


def _check_input(X, params, name: str = "X") -> None:
    X_shape = np.shape(X)
    n_in = params[0].shape[0]
    if len(X_shape) != 2 or X_shape[1] != n_in:
        transposed = len(X_shape) == 2 and X_shape[0] == n_in
        raise ValueError(f"{name} has shape {X_shape}; the network expects one sample per row, shape "
                         f"(D, {n_in})" + (f": it looks transposed (samples are rows here, use {name}, not "
                                          f"{name}.T)." if transposed else "."))


def _check_data(X, y, params, x_name: str = "X", y_name: str = "y") -> np.ndarray:
    """``y`` checked (labels of the network's classes, one per row of ``X``) as int64."""
    _check_input(X, params, x_name)
    y = check_labels(y, params[-1].shape[0], y_name)
    if len(X) != len(y):
        raise ValueError(f"{x_name} has {len(X)} rows but {y_name} has {len(y)} labels; they must match "
                         "(one label per sample).")
    return y


def forward(X, params) -> tuple:
    """``(z0, a0, z1, a1, ...)`` for a batch ``X`` (one sample per row); the last
    ``a`` holds the probabilities (softmax), the hidden layers use ReLU."""
    layer_sizes(params)  # checks the shapes
    _check_input(X, params)
    H = len(params) // 2 - 1
    outputs = []
    a = X
    for L in range(H + 1):
        z = a @ params[2 * L] + params[2 * L + 1]
        a = softmax(z) if L == H else relu(z)
        outputs += [z, a]
    return tuple(outputs)


def backward(X, Y, params, outputs) -> tuple:
    """``(dW0, db0, dW1, db1, ...)``: gradients of the batch-mean loss, from
    ``delta^H = a^H - y`` down to layer 0 (same order as ``params``)."""
    layer_sizes(params)  # checks the shapes
    _check_input(X, params)
    H = len(params) // 2 - 1
    if not isinstance(outputs, (list, tuple)) or len(outputs) != len(params):
        raise ValueError(f"outputs must be what forward(X, params) returns, (z0, a0, z1, a1, ...): "
                         f"{len(params)} arrays for these params.")
    if np.shape(Y) != np.shape(outputs[-1]):
        raise ValueError(f"Y has shape {np.shape(Y)} but the network outputs {np.shape(outputs[-1])}: "
                         "Y must be one-hot, one row per sample (utils.reference.one_hot).")
    if len(X) != len(Y):
        raise ValueError(f"X has {len(X)} rows but Y and the outputs have {len(Y)}: they must be the same "
                         "batch (pass forward(X, params) of this X).")
    grads = [None] * len(params)
    delta = (outputs[-1] - Y) / len(X)  # the 1/D of the average, applied once
    for L in range(H, -1, -1):
        a_prev = X if L == 0 else outputs[2 * L - 1]
        grads[2 * L] = a_prev.T @ delta
        grads[2 * L + 1] = delta.sum(axis=0)
        if L > 0:
            delta = (delta @ params[2 * L].T) * relu_prime(outputs[2 * L - 2])
    return tuple(grads)


def numerical_gradient(f, x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Centred finite differences ``(f(x + h e_i) - f(x - h e_i)) / 2h`` for every
    entry ``i`` of the array ``x`` (changed in place, then restored).

    ``x`` must be a NumPy array of floats (float64 for a meaningful check): an
    integer array cannot hold ``x + h`` and would give wrong values. ``f`` takes
    no argument (it reads ``x`` itself) and returns the loss, one real number;
    ``h`` is a small positive float. Anything else raises ``TypeError`` or
    ``ValueError`` before (or, for what ``f`` returns, as soon as) it is seen."""
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        kind = x.dtype if isinstance(x, np.ndarray) else type(x).__name__
        raise TypeError(f"numerical_gradient needs a NumPy array of floats, changed in place; got {kind}. "
                        "Convert it first, e.g. p = p.astype(np.float64), and let f use that array.")
    if not callable(f):
        raise TypeError(f"f must be a function that takes no argument and returns the loss; got "
                        f"{type(f).__name__}.")
    required = _required_arguments(f)
    if required:
        raise TypeError("f must take no argument: it reads x itself, which numerical_gradient changes in "
                        f"place (write `def f(): return loss(...)`); this f requires {', '.join(required)}.")
    if isinstance(h, bool) or not isinstance(h, numbers.Real):
        raise TypeError(f"h must be a small positive float such as 1e-5; got {h!r} ({type(h).__name__}).")
    if not (math.isfinite(h) and h > 0):
        raise ValueError(f"h must be a small positive step such as 1e-5; got {h!r}.")
    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        try:
            x[i] = old + h
            f_plus = _loss(f())
            x[i] = old - h
            f_minus = _loss(f())
        finally:
            x[i] = old  # restored even when f fails
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad


def _required_arguments(f) -> list[str]:
    """The names of the arguments ``f`` cannot be called without (none when it cannot be told)."""
    try:
        parameters = inspect.signature(f).parameters.values()
    except (TypeError, ValueError):  # some built-ins have no signature
        return []
    return [p.name for p in parameters
            if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def _loss(value) -> float:
    """What f returned, as one real number; an error saying what it was otherwise."""
    if value is None:
        raise TypeError("f returned None: f must return the loss (one number); is its `return` missing?")
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a PyTorch tensor
        value = value.detach().cpu().numpy()
    if np.ndim(value) != 0:
        raise ValueError(f"f must return one number (the loss); it returned shape {np.shape(value)}.")
    if np.iscomplexobj(value) or isinstance(value, (str, bytes, bool)):
        raise TypeError(f"f must return the loss, one real number; it returned {value!r}.")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"f must return the loss, one real number; it returned a "
                        f"{type(value).__name__}.") from None


def sgd_step(params, grads, lr: float) -> None:
    """``theta <- theta - lr * gradient`` for every parameter, in place."""
    for p, g in zip(params, grads):
        p -= lr * g


def evaluate(X, y, params, chunk: int = 10000) -> tuple[float, float]:
    """(mean loss, accuracy) over a data set, in chunks of ``chunk`` rows to bound memory.

    ``X`` holds one sample per row and ``y`` one label per row (``ValueError`` otherwise)."""
    if isinstance(chunk, bool) or not isinstance(chunk, numbers.Integral) or chunk < 1:
        raise ValueError(f"chunk must be an integer >= 1 (rows per forward pass); got {chunk!r}.")
    layer_sizes(params)  # checks the shapes
    y = _check_data(X, y, params)
    loss = correct = 0.0
    for start in range(0, len(X), chunk):
        xb, yb = X[start:start + chunk], y[start:start + chunk]
        probs = forward(xb, params)[-1]
        loss += cross_entropy(probs, one_hot(yb, probs.shape[1])) * len(xb)
        correct += accuracy(probs, yb) * len(xb)
    return loss / len(X), correct / len(X)


def train(params, ds, epochs: int, lr: float, batch_size: int | None = 128,
          seed: int = 0, progress: bool = True) -> History:
    """Mini-batch SGD on ``ds`` (``batch_size=None``: full-batch gradient descent).

    Updates ``params`` in place and returns the :class:`~utils.history.History`.
    A run whose loss becomes NaN/inf or explodes is stopped and marked diverged.
    Everything is checked before the first epoch: the settings, ``seed`` (an
    integer >= 0), ``params``, and ``ds`` (a :class:`~utils.data.Dataset`, or any
    object with ``x_train``, ``y_train``, ``x_test`` and ``y_test``); the errors
    name the array at fault, ``ds.x_train`` or ``ds.y_test`` for instance.
    """
    from tqdm.auto import trange

    check_training_args(epochs, lr, batch_size)
    check_seed(seed)
    layer_sizes(params)  # checks the shapes
    missing = [name for name in ("x_train", "y_train", "x_test", "y_test") if not hasattr(ds, name)]
    if missing:
        raise TypeError(f"ds must be a utils.data.Dataset (or an object with x_train, y_train, x_test and "
                        f"y_test); got a {type(ds).__name__}, which has no {', '.join(missing)}.")
    n_out = params[-1].shape[0]
    y_train = _check_data(ds.x_train, ds.y_train, params, "ds.x_train", "ds.y_train")
    _check_data(ds.x_test, ds.y_test, params, "ds.x_test", "ds.y_test")
    history = History()
    elapsed = 0.0
    bar = trange(1, epochs + 1, desc="epochs", disable=not progress, leave=False)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # divergence is reported, not warned
        for epoch in bar:
            start = time.perf_counter()
            for xb, yb in iterate_minibatches(ds.x_train, y_train, batch_size or len(ds.x_train),
                                              seed=seed + epoch):
                outputs = forward(xb, params)
                sgd_step(params, backward(xb, one_hot(yb, n_out), params, outputs), lr)
            elapsed += time.perf_counter() - start
            history.record(epoch, elapsed, train=evaluate(ds.x_train, y_train, params),
                           test=evaluate(ds.x_test, ds.y_test, params))
            bar.set_postfix(test_acc=f"{history.test_acc[-1]:.3f}")
            if history.diverged:
                break
    return history

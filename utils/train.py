"""Training loops shared by the studies (04-06), the tool comparison (07) and
``tools/bench.py``. Notebooks 01-03 write their loops out for teaching; this is
the same thing, once, with the options the studies need.

Every function returns a *history*, the dict :mod:`utils.plots` draws: per
epoch ``epoch``, ``seconds`` (cumulative training time, evaluation excluded),
``train_loss``, ``train_acc``, ``test_loss``, ``test_acc`` (and ``val_*`` when
a validation set is given), plus ``diverged`` and ``best_epoch``.

PyTorch runs the studies. Per epoch of 60,000 images the two frameworks are
level on these 2-core CPUs (784-128-10, batch 128: 0.35 s each in
``tools/bench.py``), but a sweep trains many short runs, and each new Keras model
pays an XLA compilation and a slow ``evaluate``: in notebook 07's quick run, five
epochs on the sample took 5.7 s with Keras against 1.6 s with PyTorch. PyTorch's
loop also reads as the lecture's algorithm.
"""

from __future__ import annotations

import copy
import math
import time

import numpy as np
import torch  # at import time, so that config.seed_everything() seeds it before any mlp() is built
import torch.nn.functional as F
from torch import nn

from utils.data import batch_indices

#: Loss above which a run counts as diverged: ten times the loss of a uniform
#: guess over 10 classes (ln 10 = 2.3). NaN and inf count too.
DIVERGED_LOSS = 10 * math.log(10)


def _new_history(with_val: bool) -> dict:
    keys = ["epoch", "seconds", "train_loss", "train_acc", "test_loss", "test_acc"]
    if with_val:
        keys += ["val_loss", "val_acc"]
    history = {k: [] for k in keys}
    history.update(diverged=False, best_epoch=None)
    return history


# --- PyTorch ------------------------------------------------------------------------


def _torch_activations():
    return {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU,
            "leaky_relu": lambda: nn.LeakyReLU(0.01), "elu": nn.ELU, "swish": nn.SiLU}


ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "swish")


def mlp(sizes, activation: str = "relu", dropout: float = 0.0):
    """``nn.Sequential`` for layer sizes like ``[784, 128, 10]``; the output is
    the logits ``z^H`` (the softmax is inside the loss, ``nn.CrossEntropyLoss``)."""
    acts = _torch_activations()
    if activation not in acts:
        raise ValueError(f"activation must be one of {ACTIVATIONS}; got {activation!r}.")
    layers = []
    for i, (m, n) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(m, n))
        if i < len(sizes) - 2:
            layers.append(acts[activation]())
            if dropout:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def count_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def torch_from_reference(params: dict):
    """A PyTorch MLP holding the reference network's weights (``nn.Linear``
    stores ``W^T``: out x in)."""

    n_layers = len(params) // 2
    sizes = [params["W0"].shape[0]] + [params[f"W{L}"].shape[1] for L in range(n_layers)]
    model = mlp(sizes)
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        for L, lin in enumerate(linears):
            lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(params[f"W{L}"].T)))
            lin.bias.copy_(torch.from_numpy(params[f"b{L}"]))
    return model


def _evaluate_torch(model, X, y, chunk: int = 10000):

    model.eval()
    loss = correct = 0.0
    with torch.no_grad():
        for s in range(0, len(X), chunk):
            logits = model(X[s:s + chunk])
            loss += F.cross_entropy(logits, y[s:s + chunk], reduction="sum").item()
            correct += (logits.argmax(1) == y[s:s + chunk]).sum().item()
    model.train()
    return loss / len(X), correct / len(X)


def fit(model, ds, epochs: int, lr: float, batch_size: int | None = 64, seed: int = 0,
        weight_decay: float = 0.0, momentum: float = 0.0, optimizer: str = "sgd",
        val: tuple | None = None, patience: int | None = None, time_budget: float | None = None,
        progress: bool = False, device: str | None = None) -> dict:
    """Train a PyTorch ``model`` with (mini-batch) SGD on ``ds``; return its history.

    - ``batch_size=None``: full-batch gradient descent; 1: single-sample SGD.
    - ``weight_decay``: L2 penalty (``lambda_2 / 2 * ||W||^2`` added to the loss).
    - ``val=(x_val, y_val)``: also record validation loss/accuracy; the *best
      epoch* is then chosen on validation accuracy, never on the test set.
    - ``patience``: early stopping; stop after ``patience`` epochs without a
      better validation accuracy and restore the best weights.
    - ``time_budget``: stop once this many seconds of training have passed.
    - A run whose loss becomes NaN/inf or exceeds :data:`DIVERGED_LOSS` is
      stopped and marked ``diverged`` instead of crashing.
    """

    if patience is not None and val is None:
        raise ValueError("early stopping (patience) needs a validation set: pass val=(x_val, y_val).")
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model.to(device)

    def tensors(x, y):
        return torch.as_tensor(x, device=device), torch.as_tensor(y, device=device)

    Xtr, ytr = tensors(ds.x_train, ds.y_train)
    Xte, yte = tensors(ds.x_test, ds.y_test)
    Xva, yva = tensors(*val) if val is not None else (None, None)
    if optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    elif optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    else:
        raise ValueError(f"optimizer must be 'sgd' or 'adam'; got {optimizer!r}.")

    history = _new_history(val is not None)
    best_acc, best_state, waited, elapsed = -1.0, None, 0, 0.0
    epochs_iter = range(1, epochs + 1)
    if progress:
        from tqdm.auto import tqdm

        epochs_iter = tqdm(epochs_iter, desc="epochs", leave=False)
    model.train()
    for epoch in epochs_iter:
        start = time.perf_counter()
        for idx in batch_indices(len(Xtr), batch_size or len(Xtr), seed=seed + epoch):
            idx = torch.from_numpy(idx).to(device)
            loss = F.cross_entropy(model(Xtr[idx]), ytr[idx])
            if not torch.isfinite(loss) or loss.item() > DIVERGED_LOSS:
                history["diverged"] = True
                break
            opt.zero_grad()
            loss.backward()
            opt.step()
            if time_budget is not None and elapsed + time.perf_counter() - start > time_budget:
                break
        elapsed += time.perf_counter() - start
        if history["diverged"]:
            break
        for split, X, y in (("train", Xtr, ytr), ("test", Xte, yte), ("val", Xva, yva)):
            if X is not None:
                loss_value, acc = _evaluate_torch(model, X, y)
                history[f"{split}_loss"].append(loss_value)
                history[f"{split}_acc"].append(acc)
        history["epoch"].append(epoch)
        history["seconds"].append(elapsed)
        if not math.isfinite(history["train_loss"][-1]) or history["train_loss"][-1] > DIVERGED_LOSS:
            history["diverged"] = True
            break
        if val is not None:
            if history["val_acc"][-1] > best_acc:
                best_acc, waited = history["val_acc"][-1], 0
                history["best_epoch"] = epoch
                if patience is not None:
                    best_state = copy.deepcopy(model.state_dict())
            else:
                waited += 1
                if patience is not None and waited >= patience:
                    break
        if time_budget is not None and elapsed >= time_budget:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    return history


def evaluate(model, x, y) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of a PyTorch model on numpy data."""

    device = next(model.parameters()).device
    return _evaluate_torch(model, torch.as_tensor(x, device=device), torch.as_tensor(y, device=device))


# --- Keras ---------------------------------------------------------------------------


def keras_from_reference(params: dict):
    """A Keras MLP holding the reference network's weights. A Dense kernel has
    the lecture's shape, M x N (inputs x outputs), like ``W^L``.

    Like the PyTorch twin, it outputs the logits ``z^H`` and the loss applies the
    softmax (``from_logits=True``), so no probability is clipped to 1e-7 as
    Keras's cross-entropy on probabilities does."""
    import keras

    n_layers = len(params) // 2
    layers = [keras.Input((params["W0"].shape[0],))]
    for L in range(n_layers):
        layers.append(keras.layers.Dense(params[f"W{L}"].shape[1],
                                         activation=None if L == n_layers - 1 else "relu"))
    model = keras.Sequential(layers)
    for L, dense in enumerate(model.layers):
        dense.set_weights([params[f"W{L}"], params[f"b{L}"]])
    return model


def fit_keras(model, ds, epochs: int, lr: float, batch_size: int = 64, seed: int = 0,
              jit_compile: bool = True) -> dict:
    """Compile with SGD and call ``model.fit`` once for all epochs, over the
    batches of :func:`utils.data.batch_indices` (the order NumPy and PyTorch use).

    Speed on CPU: XLA compilation (``jit_compile``) and many steps per call into
    TensorFlow (``steps_per_execution``) cut Keras's per-step overhead. On 2 cores,
    an epoch of 60,000 images (784-128-10, batch 128, ``model.fit`` on NumPy
    arrays) took 0.88 s with the defaults and 0.48 s with both; fed by ``tf.data``
    as here, ``tools/bench.py`` measures 0.35 s.
    """
    import keras
    import tensorflow as tf

    n = len(ds.x_train)
    steps = math.ceil(n / batch_size)
    # steps_per_execution must divide the epoch, or the recorded epochs drift.
    model.compile(optimizer=keras.optimizers.SGD(lr),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"], jit_compile=jit_compile, steps_per_execution=steps)
    X, Y = tf.constant(ds.x_train), tf.constant(ds.y_train)
    order = np.stack([np.concatenate(batch_indices(n, batch_size, seed=seed + e))
                      for e in range(1, epochs + 1)])
    batches = (tf.data.Dataset.from_tensor_slices(order)
               .flat_map(lambda perm: tf.data.Dataset.from_tensor_slices(perm).batch(batch_size))
               .map(lambda idx: (tf.gather(X, idx), tf.gather(Y, idx)))
               .prefetch(tf.data.AUTOTUNE))
    history = _new_history(False)

    class Record(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds = time.perf_counter() - self.start
            history["seconds"].append(seconds + (history["seconds"][-1] if history["seconds"] else 0.0))
            history["epoch"].append(epoch + 1)
            for split, x, y in (("train", ds.x_train, ds.y_train), ("test", ds.x_test, ds.y_test)):
                res = self.model.evaluate(x, y, batch_size=10000, verbose=0, return_dict=True)
                history[f"{split}_loss"].append(float(res["loss"]))
                history[f"{split}_acc"].append(float(res["accuracy"]))

    model.fit(batches, epochs=epochs, steps_per_epoch=steps, verbose=0, shuffle=False, callbacks=[Record()])
    return history

"""Training loops shared by the studies (04-06), the tool comparison (07) and
``tools/bench.py``. Notebooks 01-03 write their loops out for teaching; this is
the same thing, once, with the options the studies need.

Every loop returns a :class:`utils.history.History` and stops a run whose loss
becomes NaN, infinite or explodes (``utils.history.is_diverged``, one rule for
NumPy, PyTorch and Keras), marking it ``diverged`` instead of crashing.
:func:`run` trains any of the three tools from the same NumPy weights: notebook 07
and ``tools/bench.py`` share it.

PyTorch runs the studies. Per epoch of training the two frameworks are of the same
order on CPUs (``tools/bench.py`` measures their epoch times), but a sweep trains many short
runs, and each new Keras model pays an XLA compilation and builds its input pipeline
(notebook 07 prints the time outside training, its "evaluation & set-up" column).
PyTorch's loop also reads as the lecture's algorithm.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from utils import reference
from utils.data import Dataset, batch_indices, check_labels
from utils.history import History, check_seed, check_training_args, is_diverged, layer_sizes

# --- PyTorch ------------------------------------------------------------------------


def _torch_activations():
    return {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU,
            "leaky_relu": lambda: nn.LeakyReLU(0.01), "elu": nn.ELU, "swish": nn.SiLU}


ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "swish")


#: Activations whose derivative is about 1 for positive inputs: He initialisation suits them.
RELU_LIKE = ("relu", "leaky_relu", "elu", "swish")
INITS = ("course", "torch")


def mlp(sizes, activation: str = "relu", init: str = "course"):
    """``nn.Sequential`` for layer sizes like ``[784, 128, 10]``; the output is
    the logits ``z^H`` (the softmax is inside the loss, ``nn.CrossEntropyLoss``).

    ``init="course"`` (default) starts the weights as notebook 01 teaches, for the
    activation used: He, N(0, 2/M) for a layer of M inputs, for ReLU and its
    relatives (leaky ReLU, ELU, swish); Glorot, N(0, 2/(M+N)) for a layer of M
    inputs and N outputs, for sigmoid and tanh, whose slope at 0 is not 1 and
    which saturate when z grows. Biases start at 0. ``init="torch"`` keeps
    PyTorch's default (uniform in +-1/sqrt(M)), which makes the signal shrink
    from layer to layer in a deep network.

    No dropout: notebook 06 writes its own ``Dropout`` layer and builds that model itself."""
    acts = _torch_activations()
    if activation not in acts:
        raise ValueError(f"activation must be one of {ACTIVATIONS}; got {activation!r}.")
    if init not in INITS:
        raise ValueError(f"init must be 'course' (He or Glorot, as notebook 01 teaches) or 'torch' "
                         f"(PyTorch's default); got {init!r}.")
    if (isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__") or len(sizes) < 2
            or any(isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1 for n in sizes)):
        raise ValueError(f"sizes must be a list of at least two integers >= 1 (inputs, ..., outputs), "
                         f"such as [784, 128, 10]; got {sizes!r}.")
    layers = []
    for i, (m, n) in enumerate(zip(sizes[:-1], sizes[1:])):
        layer = nn.Linear(m, n)
        if init == "course":
            variance = 2.0 / m if activation in RELU_LIKE else 2.0 / (m + n)
            with torch.no_grad():
                layer.weight.normal_(0.0, math.sqrt(variance))
                layer.bias.zero_()
        layers.append(layer)
        if i < len(sizes) - 2:
            layers.append(acts[activation]())
    return nn.Sequential(*layers)


def count_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def params_of(model) -> list:
    """The weights of a PyTorch MLP (``mlp``) as the NumPy list ``[W0, b0, W1, b1, ...]``, each
    ``W^L`` of the lecture's shape M x N (``nn.Linear`` stores its transpose): what
    :func:`torch_from_reference` and :func:`keras_from_reference` take."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)] if isinstance(model, nn.Module) else []
    if not linears:
        raise TypeError(f"model must be a PyTorch network of nn.Linear layers (train.mlp(sizes)); got "
                        f"{type(model).__name__}.")
    return [a for lin in linears for a in (lin.weight.detach().cpu().numpy().T.copy(),
                                           lin.bias.detach().cpu().numpy().copy())]


def torch_from_reference(params):
    """A PyTorch MLP holding the reference network's weights ``[W0, b0, W1, b1, ...]``
    (``nn.Linear`` stores ``W^T``: out x in)."""
    model = mlp(layer_sizes(params))
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        for lin, W, b in zip(linears, params[::2], params[1::2]):
            lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T)))
            lin.bias.copy_(torch.from_numpy(np.asarray(b)))
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
        val: tuple | None = None, time_budget: float | None = None, loss_fn=None,
        evaluate_every: int = 1, progress: bool = False, device: str | None = None) -> History:
    """Train a PyTorch ``model`` with (mini-batch) SGD on ``ds``; return its History.

    - ``batch_size=None``: full-batch gradient descent; 1: single-sample SGD.
    - ``weight_decay``: PyTorch's own L2 term, on every parameter, biases included
      (notebook 06 writes its own penalty and passes it as ``loss_fn``).
    - ``val=(x_val, y_val)``: also record validation loss/accuracy; ``best_epoch``
      is then the epoch of the best validation accuracy, never chosen on the test set.
      ``fit`` trains all ``epochs`` and keeps the last weights: early stopping is
      notebook 06's exercise, which calls ``fit`` one epoch at a time.
    - ``loss_fn(model, logits, y)``: the training loss, a scalar tensor (default:
      the mean cross-entropy); the recorded losses stay plain cross-entropy.
    - ``time_budget``: stop once this many seconds of training have passed.
    - ``evaluate_every=k``: measure loss and accuracy (train, test, val) after every
      k-th epoch and after the last one only; the History then lists those epochs.
      Evaluating 70,000 images can cost more than an epoch on a small training set.
    - A run whose loss becomes NaN/inf or exceeds the divergence threshold is
      stopped and marked ``diverged`` instead of crashing; ``History.stop_loss``
      is the mini-batch loss that stopped it.
    """
    check_training_args(epochs, lr, batch_size)
    check_seed(seed)
    _check_torch_model(model)
    _check_dataset(ds)
    for name, value in (("momentum", momentum), ("weight_decay", weight_decay)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < float("inf"):
            raise ValueError(f"{name} must be a number >= 0; got {value!r}.")
    if loss_fn is not None and not callable(loss_fn):
        raise ValueError("loss_fn must be a function (model, logits, y) -> loss; got "
                         f"{type(loss_fn).__name__}.")
    if time_budget is not None and (isinstance(time_budget, bool) or not isinstance(time_budget, (int, float))
                                    or not time_budget > 0):
        raise ValueError(f"time_budget must be a number of seconds > 0; got {time_budget!r}.")
    if optimizer not in ("sgd", "adam"):
        raise ValueError(f"optimizer must be 'sgd' or 'adam'; got {optimizer!r}.")
    every_ok = isinstance(evaluate_every, (int, np.integer)) and not isinstance(evaluate_every, bool)
    if not every_ok or evaluate_every < 1:
        raise ValueError(f"evaluate_every must be a whole number of epochs >= 1; got {evaluate_every!r}.")
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model.to(device)
    n_in, n_out = _n_inputs(model), _n_outputs(model)

    def tensors(x, y, name):
        x, y = check_inputs(x, y, n_in, n_out, name)
        return torch.as_tensor(x, device=device), torch.as_tensor(y, device=device)

    Xtr, ytr = tensors(ds.x_train, ds.y_train, "ds (training set)")
    Xte, yte = tensors(ds.x_test, ds.y_test, "ds (test set)")
    Xva, yva = tensors(*_check_val(val), "val") if val is not None else (None, None)
    if optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)

    history = History()
    best_acc, elapsed = -1.0, 0.0
    epochs_iter = range(1, epochs + 1)
    if progress:
        from tqdm.auto import tqdm

        epochs_iter = tqdm(epochs_iter, desc="epochs", leave=False)
    model.train()
    for epoch in epochs_iter:
        start = time.perf_counter()
        for idx in batch_indices(len(Xtr), batch_size or len(Xtr), seed=seed + epoch):
            idx = torch.from_numpy(idx).to(device)
            logits = model(Xtr[idx])
            loss = F.cross_entropy(logits, ytr[idx]) if loss_fn is None else loss_fn(model, logits, ytr[idx])
            if not isinstance(loss, torch.Tensor) or loss.ndim != 0:
                shape = tuple(getattr(loss, "shape", ()))
                raise ValueError("loss_fn must return the loss as one number (a 0-d tensor that autograd "
                                 f"can differentiate); got {type(loss).__name__} of shape {shape}.")
            if is_diverged(loss.item()):
                history.diverged, history.stop_loss = True, float(loss.item())
                break
            opt.zero_grad()
            loss.backward()
            opt.step()
            if time_budget is not None and elapsed + time.perf_counter() - start > time_budget:
                break
        elapsed += time.perf_counter() - start
        if history.diverged:
            break
        last = epoch == epochs or (time_budget is not None and elapsed >= time_budget)
        if epoch % evaluate_every and not last:
            continue
        history.record(epoch, elapsed, train=_evaluate_torch(model, Xtr, ytr),
                       test=_evaluate_torch(model, Xte, yte),
                       val=_evaluate_torch(model, Xva, yva) if val is not None else None)
        if history.diverged:
            break
        if val is not None and history.val_acc[-1] > best_acc:
            best_acc, history.best_epoch = history.val_acc[-1], epoch
        if time_budget is not None and elapsed >= time_budget:
            break
    return history


def _n_outputs(model) -> int:
    """Number of classes: the size of the model's last Linear layer."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    return linears[-1].out_features if linears else 10


def _n_inputs(model) -> int | None:
    """Number of input features: the size of the model's first Linear layer, if it has one."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    return linears[0].in_features if linears else None


def _check_torch_model(model) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a PyTorch nn.Module (for example train.mlp([784, 128, 10])); "
                        f"got {type(model).__name__}.")


def _check_dataset(ds) -> None:
    if not isinstance(ds, Dataset):
        raise TypeError(f"ds must be a utils.data.Dataset (x_train, y_train, x_test, y_test), as "
                        f"load_dataset() returns; got {type(ds).__name__}.")


def check_inputs(x, y, n_in: int | None, n_out: int, name: str):
    """``(x, y)`` as float32 rows and int64 labels, or a ValueError/TypeError naming
    ``name`` when x is not 2-D, has the wrong number of columns for the model, is
    not numeric, or does not have one row per label."""
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"{name}: x must be 2-D, one sample per row; got shape {x.shape}.")
    if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
        raise TypeError(f"{name}: x must hold real numbers (pixels in [0, 1]); got dtype {x.dtype}.")
    if n_in is not None and x.shape[1] != n_in:
        raise ValueError(f"{name}: x has {x.shape[1]} columns but the model's first layer takes "
                         f"{n_in} inputs.")
    y = check_labels(y, n_out, f"{name} labels")
    if len(x) != len(y):
        raise ValueError(f"{name}: x has {len(x)} rows but there are {len(y)} labels; they must match.")
    return x.astype(np.float32, copy=False), y


def _check_val(val):
    if not isinstance(val, (tuple, list)) or len(val) != 2:
        raise TypeError(f"val must be a pair (x_val, y_val); got {type(val).__name__}.")
    return val


def evaluate(model, x, y) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of a PyTorch model on numpy data."""

    _check_torch_model(model)
    x, y = check_inputs(x, y, _n_inputs(model), _n_outputs(model), "evaluate")
    device = next(model.parameters()).device
    return _evaluate_torch(model, torch.as_tensor(x, device=device), torch.as_tensor(y, device=device))


# --- Keras ---------------------------------------------------------------------------


def keras_from_reference(params):
    """A Keras MLP holding the reference network's weights ``[W0, b0, W1, b1, ...]``.
    A Dense kernel has the lecture's shape, M x N (inputs x outputs), like ``W^L``.

    Like the PyTorch twin, it outputs the logits ``z^H`` and the loss applies the
    softmax (``from_logits=True``), so no probability is clipped to 1e-7 as
    Keras's cross-entropy on probabilities does."""
    import keras

    n_layers = len(params) // 2
    layers = [keras.Input((params[0].shape[0],))]
    for L in range(n_layers):
        layers.append(keras.layers.Dense(params[2 * L].shape[1],
                                         activation=None if L == n_layers - 1 else "relu"))
    model = keras.Sequential(layers)
    for dense, W, b in zip(model.layers, params[::2], params[1::2]):
        dense.set_weights([W, b])
    return model


def fit_keras(model, ds, epochs: int, lr: float, batch_size: int = 64, seed: int = 0,
              jit_compile: bool = True) -> History:
    """Compile with SGD and call ``model.fit`` once for all epochs, over the
    batches of :func:`utils.data.batch_indices` (the order NumPy and PyTorch use).

    Speed on CPU: XLA compilation (``jit_compile``) and many steps per call into
    TensorFlow (``steps_per_execution``) cut Keras's per-step overhead; the first
    epoch pays the compilation. ``tools/bench.py`` measures the epoch time this
    function gives, against NumPy and PyTorch, with TensorFlow's oneDNN on and off.
    The recorded seconds count the training steps only; the evaluation after each
    epoch is outside them. It is one forward pass over each set, as for NumPy and
    PyTorch: ``model.evaluate`` would build a data pipeline and compile an evaluation
    step for each set and each model, which took two thirds of a small run's time.

    Divergence is judged with the rule of :func:`fit` on the training loss
    evaluated after each epoch (one execution runs the whole epoch, so there is
    no earlier point to look): the run then stops and is marked ``diverged``.
    """
    import keras
    import tensorflow as tf

    check_training_args(epochs, lr, batch_size, allow_full_batch=False)
    check_seed(seed)
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a Keras model (for example train.keras_from_reference(params)); "
                        f"got {type(model).__name__}.")
    _check_dataset(ds)
    n_in, n_out = model.input_shape[-1], model.output_shape[-1]
    x_train, y_train = check_inputs(ds.x_train, ds.y_train, n_in, n_out, "ds (training set)")
    x_test, y_test = check_inputs(ds.x_test, ds.y_test, n_in, n_out, "ds (test set)")
    n = len(ds.x_train)
    steps = math.ceil(n / batch_size)
    # steps_per_execution must divide the epoch, or the recorded epochs drift.
    model.compile(optimizer=keras.optimizers.SGD(lr),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"], jit_compile=jit_compile, steps_per_execution=steps)
    X, Y = tf.constant(x_train), tf.constant(y_train)
    order = np.stack([np.concatenate(batch_indices(n, batch_size, seed=seed + e))
                      for e in range(1, epochs + 1)])
    batches = (tf.data.Dataset.from_tensor_slices(order)
               .flat_map(lambda perm: tf.data.Dataset.from_tensor_slices(perm).batch(batch_size))
               .map(lambda idx: (tf.gather(X, idx), tf.gather(Y, idx)))
               .prefetch(tf.data.AUTOTUNE))
    history = History()

    class Record(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds = time.perf_counter() - self.start + (history.seconds[-1] if history.seconds else 0.0)
            history.record(epoch + 1, seconds, train=_evaluate_keras(self.model, x_train, y_train),
                           test=_evaluate_keras(self.model, x_test, y_test))
            if history.diverged or is_diverged((logs or {}).get("loss", 0.0)):
                history.diverged = True
                self.model.stop_training = True

    model.fit(batches, epochs=epochs, steps_per_epoch=steps, verbose=0, shuffle=False, callbacks=[Record()])
    return history


def _evaluate_keras(model, x, y, chunk: int = 10000) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of a Keras model that outputs logits, by forward passes of
    ``chunk`` rows: the loss Keras's ``SparseCategoricalCrossentropy(from_logits=True)`` computes."""
    import tensorflow as tf

    loss = correct = 0.0
    for s in range(0, len(x), chunk):
        logits = model(x[s:s + chunk], training=False)
        labels = tf.constant(y[s:s + chunk])
        loss += float(tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)))
        correct += int(tf.reduce_sum(tf.cast(tf.argmax(logits, 1) == labels, tf.int32)))
    return loss / len(x), correct / len(x)


# --- the three tools, one entry point ---------------------------------------------------

#: The tools notebook 07 and tools/bench.py compare, and their display names.
TOOLS = {"numpy": "NumPy", "keras": "TensorFlow/Keras", "torch": "PyTorch"}


def run(tool: str, params, ds, epochs: int, lr: float, batch_size: int = 64, seed: int = 0) -> History:
    """Train ``tool`` ("numpy", "keras" or "torch") from a copy of the NumPy weights
    ``params`` with SGD, over the batches of :func:`utils.data.batch_indices`:
    same start, same batches, same hyper-parameters for every tool."""
    if tool not in TOOLS:
        raise ValueError(f"tool must be one of {', '.join(TOOLS)}; got {tool!r}.")
    if not isinstance(params, (list, tuple)):
        raise TypeError(f"params must be the list [W0, b0, W1, b1, ...] of reference.init_params; "
                        f"got {type(params).__name__}.")
    layer_sizes(params)  # checks the shapes
    params = [np.array(p, copy=True) for p in params]
    if tool == "numpy":
        return reference.train(params, ds, epochs, lr, batch_size, seed=seed, progress=False)
    if tool == "torch":
        return fit(torch_from_reference(params), ds, epochs, lr, batch_size, seed=seed)
    return fit_keras(keras_from_reference(params), ds, epochs, lr, batch_size, seed=seed)

"""Self-checks of notebook 02's exercises (TensorFlow/Keras).

Each check builds its own small problem from :func:`utils.reference.init_params`
(float64, non-zero biases), runs the student's function on it, compares what comes
back with the NumPy reference, and names the common mistakes it recognises
(computed from the reference: a missing softmax, a step of the wrong sign, a loss
summed instead of averaged, ...). Nothing here prints a line of the solution.
"""

from __future__ import annotations

import math

import numpy as np

from utils.checks.core import Check
from utils.checks.core import compare_rounded as _compare
from utils.checks.core import kind_of as _kind
from utils.checks.networks import PSL_SIZES, activation_mistakes, case, gradients, layer_values

__all__ = ["check_keras_one_hidden_layer", "check_train_step", "check_compile_and_fit",
           "check_keras_deep_network"]



# --- small shared pieces ------------------------------------------------------------------


def _merge_parts(check: Check, start: int) -> None:
    """Problems recorded since index ``start`` that say the same thing about different
    parts ("the change of W0: ...", "the change of b0: ...") become one line."""
    merged: dict[str, list[str]] = {}
    for line in check.problems[start:]:
        part, _, message = line.partition(": ")
        merged.setdefault(message, []).append(part)
    lines = []
    for message, parts in merged.items():
        if len(parts) == 1:
            lines.append(f"{parts[0]}: {message}")
        else:
            words = parts[0].split(" ")
            prefix = " ".join(words[:-1]) if all(p.split(" ")[:-1] == words[:-1] for p in parts) else ""
            names = [p[len(prefix):].strip() for p in parts] if prefix else parts
            listed = ", ".join(names[:-1]) + " and " + names[-1]
            lines.append(f"{prefix + ' ' if prefix else ''}{listed}: {message}")
    check.problems[start:] = lines


def _labels_error(err) -> str | None:
    """The categorical (one-hot) loss given integer labels: Keras complains about ranks."""
    text = str(err)
    if "target" in text and "output" in text and ("rank" in text or "shape" in text):
        return ("the loss expects one-hot labels (a row of 10 per image) and got integer labels 0-9 "
                "(one number per image): this loss does not take the labels in the form ds.y_train "
                "holds them.")
    return None


_OUTPUT = {name: name for name in ("softmax", "no activation", "ReLU", "sigmoid", "softmax twice")}
_OUTPUT_WORDS = {"no activation": "no softmax on the output (the model returns the scores z, not "
                                   "probabilities)",
                 "ReLU": "ReLU on the output layer instead of softmax",
                 "sigmoid": "sigmoid on the output layer instead of softmax",
                 "softmax twice": "softmax applied twice on the output"}


def _activation_words(hidden, output) -> str:
    words = []
    for L, h in enumerate(hidden):
        where = "the hidden layer" if len(hidden) == 1 else f"hidden layer L = {L}"
        if h != "ReLU":
            words.append(f"{h} on {where}" if h != "no activation" else f"no ReLU on {where}")
    if output != "softmax":
        words.append(_OUTPUT_WORDS[output])
    return " and ".join(words)


def _activation_mistakes(X, params) -> dict:
    """Every wrong choice of activations, described, with the output it gives."""
    return activation_mistakes(X, params, _OUTPUT, _activation_words)


def _layer_name(L: int, n_layers: int) -> str:
    if L == n_layers - 1:
        return f"the output layer (L = {L})"
    return "the hidden layer (L = 0)" if n_layers == 2 else f"hidden layer L = {L}"


def _inspect_network(check: Check, model, sizes, asked: str):
    """Structure of a Keras model against the layer ``sizes``; the Dense layers when the
    weights of the reference can be copied in, None otherwise. ``asked`` says which call
    built it (for the messages)."""
    import keras

    if not isinstance(model, keras.Model):
        check.fault("the model", f"{asked} returned {_kind(model)}, not a Keras model "
               "(a keras.Sequential of layers).")
        return None
    check.passed()
    if not model.built:
        check.fault("the input", f"the model has no input layer: nothing tells Keras that an image "
               f"arrives as {sizes[0]} values, so it has created no weight yet (summary() shows no "
               "parameters, and the NumPy weights cannot be copied in). A keras.Input comes first.")
        try:
            model.build((None, sizes[0]))
        except Exception:
            return None
    else:
        try:
            shape = tuple(model.inputs[0].shape)[1:]
        except Exception:
            shape = (sizes[0],)
        if shape != (sizes[0],):
            check.fault("the input", f"the input has shape {shape}; an image arrives as one row of "
                   f"{sizes[0]} values, shape ({sizes[0]},).")
            return None
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    units, expected = [d.units for d in dense], list(sizes[1:])
    check.passed()
    if units != expected:
        if len(units) == len(expected) > 1 and units == expected[::-1]:
            check.fault("the layers", f"they are in the wrong order: the Dense layers have {units} units, "
                   f"first to last, but the input goes through the hidden layer ({expected[0]} "
                   f"units) first and the output layer ({expected[-1]} units) last.")
        elif len(units) != len(expected):
            check.fault("the layers", f"{len(units)} Dense layer(s) of {units} units; {asked} needs "
                   f"{len(expected)}: {expected}.")
        else:
            for L, (u, e) in enumerate(zip(units, expected)):
                if u != e:
                    check.fault("the layer sizes", f"{_layer_name(L, len(expected))} has {u} units, "
                           f"expected {e} for {asked}.")
        return None
    no_bias = [L for L, d in enumerate(dense) if not d.use_bias]
    check.passed()
    for L in no_bias:
        check.fault("the biases", f"{_layer_name(L, len(dense))} ({dense[L].units} units) has no bias "
               "(use_bias=False): the lecture's z = W^T a + b needs b.")
    return None if no_bias else dense


def _compare_outputs(check: Check, model, dense, params, X, part: str):
    for layer, W, b in zip(dense, params[::2], params[1::2]):
        layer.set_weights([W.astype(np.float32), b.astype(np.float32)])
    got = check.call(model, X.astype(np.float32))
    got = got.numpy() if hasattr(got, "numpy") else got
    _compare(check, part, got, layer_values(X, params)["a"][-1], _activation_mistakes(X, params), tol=1e-5)


# --- the exercises ------------------------------------------------------------------------


def check_keras_one_hidden_layer(one_hidden_layer):
    """``one_hidden_layer(n_hidden)``: Input(784), Dense(n_hidden, ReLU) named "hidden",
    Dense(10, softmax) named "output": it must compute the reference network."""
    __tracebackhide__ = True  # noqa: F841
    check = Check("one_hidden_layer")
    n_hidden = 7
    params, X, _ = case([784, n_hidden, 10])
    model = check.call(one_hidden_layer, n_hidden)
    dense = _inspect_network(check, model, [784, n_hidden, 10], f"one_hidden_layer({n_hidden})")
    if dense is not None:
        names = [layer.name for layer in dense]
        check.passed()
        for name in ("hidden", "output"):
            if name not in names:
                check.fault("the layer names", f"no Dense layer is named {name!r} (the names are "
                       f"{names}); the cells below find the layers by these two names.")
        _compare_outputs(check, model, dense, params, X, "the output a1 (probabilities)")
    check.done()


def _tape_error(err) -> str | None:
    text = str(err)
    if "NoneType" in text or "No gradients provided" in text:
        return ("the gradients are None: the tape differentiates only what it recorded, so the forward "
                "pass and the loss must be computed inside the `with tf.GradientTape()` block (and the "
                "gradient asked for the model's trainable variables).")
    return _labels_error(err)


def _float64_network(params):
    import keras

    n_layers = len(params) // 2
    layers = [keras.Input(shape=(params[0].shape[0],), dtype="float64")]
    for L in range(n_layers):
        layers.append(keras.layers.Dense(params[2 * L].shape[1], dtype="float64",
                                         activation="softmax" if L == n_layers - 1 else "relu"))
    model = keras.Sequential(layers)
    for layer, W, b in zip(model.layers, params[::2], params[1::2]):
        layer.set_weights([W, b])
    return model


def check_train_step(train_step):
    """``train_step(model, X, y, lr)``: one step of gradient descent by hand, with
    ``tf.GradientTape``; every weight must move by ``-lr * dR/dW`` (the NumPy
    reference's gradient) and the function must return the batch's mean loss."""
    __tracebackhide__ = True  # noqa: F841
    check = Check("train_step")
    params, X, y = case([784, 7, 10], seed=6)
    model = _float64_network(params)
    names = ("W0", "b0", "W1", "b1")
    before = [v.numpy().copy() for v in model.trainable_variables]
    lr, D = 0.5, len(X)
    loss = check.call(train_step, model, X, y, lr, explain=_tape_error)
    after = [v.numpy() for v in model.trainable_variables]
    Y = np.eye(10)[y]
    probs = layer_values(X, params)["a"][-1]
    grads = gradients(X, Y, params)
    unchanged, start = [], len(check.problems)
    for name, b, a, g in zip(names, before, after, grads):
        step = a - b
        if not np.any(step):  # said once for all of them, below
            unchanged.append(name)
            check.passed()
            continue
        _compare(check, f"the change of {name}", step, -lr * g, tol=1e-6, mistakes={
            "the update applied with the wrong sign (a step up the gradient, which increases the loss)":
                lr * g,
            "a step without the learning rate lr (the whole gradient was subtracted)": -g,
            "a step up the gradient and without the learning rate": g,
            f"the gradient of the loss summed over the batch instead of averaged (a step D = {D} times "
            "too large)": -lr * D * g,
        })
    _merge_parts(check, start)
    check.passed()
    if unchanged and len(unchanged) < len(names):
        check.fault("the variables", f"only some variables were updated: {', '.join(unchanged)} did not "
               "change. The step goes through every trainable variable of the model.")
    elif len(unchanged) == len(names):
        check.fault("the variables", "no variable of the model changed: the new values must be written "
               "into the model's variables themselves (a new tensor computed from them leaves them "
               "as they were).")
    losses = -np.log(probs[np.arange(D), y])
    mean_loss = losses.mean()
    got = loss.numpy() if hasattr(loss, "numpy") else loss
    _compare(check, "the returned loss", got, mean_loss, tol=1e-6, mistakes={
        "the per-sample losses (a vector of D values), not their mean": losses,
        "the loss summed over the batch instead of averaged": D * mean_loss,
    })
    check.done()


def _loss_name(loss) -> tuple[str, bool]:
    """(name, from_logits) of what was given to ``compile(loss=...)``."""
    if isinstance(loss, str):
        return loss, False
    config = {}
    if hasattr(loss, "get_config"):
        try:
            config = loss.get_config() or {}
        except Exception:
            config = {}
    name = getattr(loss, "name", None) or getattr(loss, "__name__", None) or type(loss).__name__
    if type(loss).__name__ in ("SparseCategoricalCrossentropy", "CategoricalCrossentropy"):
        name = {"SparseCategoricalCrossentropy": "sparse_categorical_crossentropy",
                "CategoricalCrossentropy": "categorical_crossentropy"}[type(loss).__name__]
    return str(name), bool(config.get("from_logits", False))


def _optimizer_check(check: Check, model, lr: float) -> None:
    """The optimiser ``compile`` was given: plain SGD at the learning rate ``lr``."""
    optimizer = getattr(model, "optimizer", None)
    check.passed()
    if optimizer is None:
        check.fault("the optimizer", "the model has none: it was not compiled.")
    elif type(optimizer).__name__ != "SGD":
        check.fault("the optimizer", f"{type(optimizer).__name__}, not the plain stochastic gradient "
               "descent of the lectures (W <- W - lr dR/dW, keras.optimizers.SGD).")
    else:
        rate = _as_float(optimizer.learning_rate)
        check.passed()
        if not math.isclose(rate, lr, rel_tol=1e-6):
            default = (" (SGD's default, when no rate is given)" if math.isclose(rate, 0.01, rel_tol=1e-6)
                       else "")
            check.fault("the learning rate", f"the optimizer's learning rate is {rate:g}{default}, but "
                   f"this call asked for lr={lr}: the `lr` argument does not reach the optimizer.")
        momentum = float(optimizer.get_config().get("momentum", 0.0) or 0.0)
        if momentum:
            check.fault("the optimizer", f"SGD with momentum {momentum:g}: the lectures' SGD has none.")


def _fit_error(model, lr: float):
    """Explains an error raised by fit, and adds what is wrong with the optimiser, if anything."""
    def explain(err):
        message = _labels_error(err)
        if message is None and "compile" in str(err):
            return ("fit was called on a model that is not compiled: compile it first, with the optimiser, "
                    "the loss and the metric.")
        if message is None:
            return None
        optimizer_check = Check("compile_and_fit")
        _optimizer_check(optimizer_check, model, lr)
        also = "".join(f"\n  - {p}" for p in optimizer_check.problems)
        return f"fit stopped with an error.\n  - the loss: {message}" + also
    return explain


def _as_float(value) -> float:
    return float(np.asarray(value.numpy() if hasattr(value, "numpy") else value))


def check_compile_and_fit(compile_and_fit):
    """``compile_and_fit(model, ds, epochs, lr, batch_size, **speed)``: SGD at ``lr``,
    sparse categorical cross-entropy on the softmax outputs, the accuracy metric,
    ``fit`` with ``batch_size``, ``epochs`` and the test set as validation data; the
    ``speed`` options go to ``compile``; returns Keras's History."""
    __tracebackhide__ = True  # noqa: F841
    import keras

    from utils.data import Dataset

    check = Check("compile_and_fit")
    params, _, _ = case([784, 7, 10], seed=8)
    model = keras.Sequential([keras.Input(shape=(784,)), keras.layers.Dense(7, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    for layer, W, b in zip(model.layers, params[::2], params[1::2]):
        layer.set_weights([W.astype(np.float32), b.astype(np.float32)])
    rng = np.random.default_rng(8)
    n_train, lr, batch, epochs, spe = 192, 0.05, 48, 2, 2
    ds = Dataset(rng.random((n_train, 784), dtype=np.float32), rng.integers(0, 10, n_train),
                 rng.random((64, 784), dtype=np.float32), rng.integers(0, 10, 64), source="sample")
    history = check.call(compile_and_fit, model, ds, epochs, lr=lr, batch_size=batch, jit_compile=False,
                    steps_per_execution=spe, explain=_fit_error(model, lr))

    _optimizer_check(check, model, lr)
    optimizer = getattr(model, "optimizer", None)

    # the loss
    loss = getattr(model, "loss", None)
    check.passed()
    if optimizer is not None:
        name, from_logits = _loss_name(loss)
        if "sparse_categorical_crossentropy" in name:
            if from_logits:
                check.fault("the loss", "from_logits=True tells the loss that the model returns scores z "
                       "(logits) and makes it apply a softmax itself; this model already ends with a "
                       "softmax, so the softmax would be applied twice.")
        elif "categorical_crossentropy" in name:
            check.fault("the loss", "categorical cross-entropy compares with one-hot rows; ds.y_train "
                   "holds integer labels 0-9 (one number per image).")
        else:
            check.fault("the loss", f"{name!r} is not the lecture's cross-entropy J = -sum_n y_n ln a_n "
                   "for integer labels.")

    # what fit did
    check.passed()
    if not isinstance(history, keras.callbacks.History):
        check.fault("the returned value", f"{_kind(history)}; the History that fit returns is what the "
               "learning curves are drawn from.")
        check.done()
    figures = history.history
    steps = (history.params or {}).get("steps")
    expected_steps = math.ceil(n_train / batch)
    check.passed()
    if steps is not None and steps != expected_steps:
        size = n_train / steps
        if steps == math.ceil(n_train / 32):
            what = "batches of 32, Keras's default: the batch size was not given to fit"
        else:
            what = f"batches of about {size:.0f} images"
        check.fault("the batch size", f"fit ran {steps} steps per epoch on {n_train} images ({what}); "
               f"this call asked for batch_size={batch}, {expected_steps} steps.")
    n_epochs = len(figures.get("loss", []))
    check.passed()
    if n_epochs != epochs:
        check.fault("the epochs", f"fit trained for {n_epochs} epoch(s); this call asked for "
               f"epochs={epochs}.")
    check.passed()
    if "accuracy" not in figures:
        check.fault("the metric", f"fit recorded {sorted(figures)} but no 'accuracy': the curves and the "
               "table need the accuracy metric.")
    check.passed()
    if "val_loss" not in figures:
        check.fault("the validation data", "fit recorded no validation figures: the learning curves need "
               "the test set's loss and accuracy after each epoch.")
    else:
        try:
            test_loss = float(model.evaluate(ds.x_test, ds.y_test, verbose=0, return_dict=True)["loss"])
        except Exception:
            test_loss = None
        if test_loss is not None and not math.isclose(figures["val_loss"][-1], test_loss, rel_tol=1e-4):
            check.fault("the validation data", "the validation figures are not the test set's (a part of "
                   "the training set held out by validation_split, or another set?): here the test "
                   "set serves as validation data, only to draw the curves.")
    check.passed()
    if getattr(model, "steps_per_execution", spe) != spe or getattr(model, "jit_compile", False) is True:
        check.fault("the speed options", f"the options given to compile_and_fit (here jit_compile=False, "
               f"steps_per_execution={spe}) do not reach compile: the trainings below pass them to run "
               "faster.")
    check.done()


def check_keras_deep_network(deep_network):
    """``deep_network(sizes)``: a Keras Sequential with one Dense layer per pair of sizes,
    ReLU on the hidden layers and softmax on the output; for Vérine's PSL lecture,
    ``deep_network([784, 64, 32, 10])`` has 52,650 parameters."""
    __tracebackhide__ = True  # noqa: F841
    check = Check("deep_network")
    for sizes in (PSL_SIZES, [784, 16, 12, 8, 10]):
        asked = f"deep_network({sizes})"
        params, X, _ = case(sizes, seed=9)
        model = check.call(deep_network, list(sizes))
        dense = _inspect_network(check, model, sizes, asked)
        expected = sum(p.size for p in params)
        try:
            count = model.count_params()
        except Exception:  # not a Keras model, or one that could not be built
            count = None
        check.passed()
        if count is not None and count != expected:
            check.fault("the parameters", f"{asked} has {count:,} parameters, expected {expected:,} "
                   "(M x N weights and N biases per layer).")
        if dense is None:
            break
        _compare_outputs(check, model, dense, params, X, f"the output of {asked}")
        if not check.ok:
            break
    check.done()

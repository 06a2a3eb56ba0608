"""Planted mistakes in the exercises of notebooks 02 (Keras) and 03 (PyTorch).

Each wrong answer is one a student could write. Its self-check must fail
(``CheckFailed``), name the mistake (a distinctive phrase of its message), and show
no line of the exercise's solution, read from the notebook itself. A blank exercise
(the student edition's stub) must be reported as "not written yet".
"""

import json
import re
from pathlib import Path

import numpy as np
import pytest

from utils import config  # noqa: F401 (first: it quiets TensorFlow before the import below)

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")
torch = pytest.importorskip("torch")
F = torch.nn.functional
nn = torch.nn

from notebook_exercises import exercise_cell  # noqa: E402
from notebook_exercises import solution_lines as shared_solution_lines  # noqa: E402

from utils import checks  # noqa: E402
from utils.checks import CheckFailed  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
NB02 = ROOT / "notebooks" / "02_tensorflow_keras.ipynb"
NB03 = ROOT / "notebooks" / "03_pytorch.ipynb"
LR, BATCH = 0.1, 64  # notebook 02's defaults of compile_and_fit
device = torch.device("cpu")  # the notebooks' name, as the students' code uses it
Dense = keras.layers.Dense


def solution_lines(path: Path, name: str) -> list[str]:
    """The solution lines of the exercise defining ``name``: none may appear in a check's message."""
    lines = shared_solution_lines(exercise_cell(path, name))
    assert lines, f"{path.name}: the solution of {name} is empty"
    return lines


def assert_names_mistake(check, answer, phrase: str, notebook: Path, exercise: str, *args):
    """``check(answer, *args)`` fails, its message contains ``phrase``, and no solution line."""
    with pytest.raises(CheckFailed) as failed:
        check(answer, *args)
    message = str(failed.value)
    assert phrase in message, f"{phrase!r} not in:\n{message}"
    leaked = [line for line in solution_lines(notebook, exercise) if line in message]
    assert not leaked, f"the message shows solution lines {leaked}:\n{message}"
    return message


# --- notebook 02: one_hidden_layer -------------------------------------------------------------


def no_softmax(n_hidden):
    return keras.Sequential([keras.Input(shape=(784,)), Dense(n_hidden, activation="relu", name="hidden"),
                             Dense(10, name="output")])


def sigmoid_hidden(n_hidden):
    return keras.Sequential([keras.Input(shape=(784,)), Dense(n_hidden, activation="sigmoid", name="hidden"),
                             Dense(10, activation="softmax", name="output")])


def no_input(n_hidden):
    return keras.Sequential([Dense(n_hidden, activation="relu", name="hidden"),
                             Dense(10, activation="softmax", name="output")])


def layers_swapped(n_hidden):
    return keras.Sequential([keras.Input(shape=(784,)), Dense(10, activation="softmax", name="output"),
                             Dense(n_hidden, activation="relu", name="hidden")])


def units_hardcoded(n_hidden):
    return keras.Sequential([keras.Input(shape=(784,)), Dense(256, activation="relu", name="hidden"),
                             Dense(10, activation="softmax", name="output")])


@pytest.mark.parametrize("answer, phrase", [
    (no_softmax, "no softmax on the output"),
    (sigmoid_hidden, "sigmoid on the hidden layer"),
    (no_input, "the model has no input layer"),
    (layers_swapped, "in the wrong order"),
    (units_hardcoded, "has 256 units, expected 7"),
], ids=lambda v: getattr(v, "__name__", ""))
def test_one_hidden_layer_mistakes(answer, phrase):
    assert_names_mistake(checks.check_keras_one_hidden_layer, answer, phrase, NB02, "one_hidden_layer")


# --- notebook 02: train_step -------------------------------------------------------------------


def step_up(model, X, y, lr):
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, model(X)))
    grads = tape.gradient(loss, model.trainable_variables)
    for variable, grad in zip(model.trainable_variables, grads):
        variable.assign_add(lr * grad)
    return loss


def loss_outside_tape(model, X, y, lr):
    with tf.GradientTape() as tape:
        probs = model(X)
    loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, probs))
    grads = tape.gradient(loss, model.trainable_variables)
    for variable, grad in zip(model.trainable_variables, grads):
        variable.assign_sub(lr * grad)
    return loss


def loss_summed(model, X, y, lr):
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(keras.losses.sparse_categorical_crossentropy(y, model(X)))
    grads = tape.gradient(loss, model.trainable_variables)
    for variable, grad in zip(model.trainable_variables, grads):
        variable.assign_sub(lr * grad)
    return loss


def no_learning_rate(model, X, y, lr):
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, model(X)))
    grads = tape.gradient(loss, model.trainable_variables)
    for variable, grad in zip(model.trainable_variables, grads):
        variable.assign_sub(grad)
    return loss


def kernels_only(model, X, y, lr):
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, model(X)))
    grads = tape.gradient(loss, model.trainable_variables)
    for layer, grad in zip(model.layers, grads[::2]):
        layer.kernel.assign_sub(lr * grad)
    return loss


@pytest.mark.parametrize("answer, phrase", [
    (step_up, "wrong sign"),
    (loss_outside_tape, "the gradients are None"),
    (loss_summed, "summed over the batch instead of averaged"),
    (no_learning_rate, "without the learning rate"),
    (kernels_only, "only some variables were updated: b0, b1"),
], ids=lambda v: getattr(v, "__name__", ""))
def test_train_step_mistakes(answer, phrase):
    assert_names_mistake(checks.check_train_step, answer, phrase, NB02, "train_step")


# --- notebook 02: compile_and_fit --------------------------------------------------------------


def _fit(model, ds, epochs, batch_size, **extra):
    return model.fit(ds.x_train, ds.y_train, batch_size=batch_size, epochs=epochs,
                     validation_data=(ds.x_test, ds.y_test), verbose=0, **extra)


def adam(model, ds, epochs, lr=LR, batch_size=BATCH, **speed):
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=lr), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"], **speed)
    return _fit(model, ds, epochs, batch_size)


def sgd_by_name(model, ds, epochs, lr=LR, batch_size=BATCH, **speed):
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"], **speed)
    return _fit(model, ds, epochs, batch_size)


def one_hot_loss(model, ds, epochs, lr=LR, batch_size=BATCH, **speed):
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss="categorical_crossentropy",
                  metrics=["accuracy"], **speed)
    return _fit(model, ds, epochs, batch_size)


def from_logits(model, ds, epochs, lr=LR, batch_size=BATCH, **speed):
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"],
                  **speed)
    return _fit(model, ds, epochs, batch_size)


def default_batch(model, ds, epochs, lr=LR, batch_size=BATCH, **speed):
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"], **speed)
    return model.fit(ds.x_train, ds.y_train, epochs=epochs, validation_data=(ds.x_test, ds.y_test), verbose=0)


@pytest.mark.parametrize("answer, phrase", [
    (adam, "Adam, not the plain stochastic gradient descent"),
    (sgd_by_name, "learning rate is 0.01 (SGD's default"),
    (one_hot_loss, "one-hot"),
    (from_logits, "from_logits=True"),
    (default_batch, "batches of 32, Keras's default"),
], ids=lambda v: getattr(v, "__name__", ""))
@pytest.mark.filterwarnings("ignore:.*from_logits=True:UserWarning")  # Keras warns, rightly
def test_compile_and_fit_mistakes(answer, phrase):
    assert_names_mistake(checks.check_compile_and_fit, answer, phrase, NB02, "compile_and_fit")


# --- notebook 02: deep_network -----------------------------------------------------------------


def no_hidden_bias(sizes):
    layers = [keras.Input(shape=(sizes[0],))]
    layers += [Dense(n, activation="relu", use_bias=False) for n in sizes[1:-1]]
    return keras.Sequential(layers + [Dense(sizes[-1], activation="softmax")])


def psl_hardcoded(sizes):
    return keras.Sequential([keras.Input(shape=(784,)), Dense(64, activation="relu"),
                             Dense(32, activation="relu"), Dense(10, activation="softmax")])


def hidden_sizes_swapped(sizes):
    layers = [keras.Input(shape=(sizes[0],))]
    layers += [Dense(n, activation="relu") for n in reversed(sizes[1:-1])]
    return keras.Sequential(layers + [Dense(sizes[-1], activation="softmax")])


def last_hidden_linear(sizes):
    layers = [keras.Input(shape=(sizes[0],))]
    layers += [Dense(n, activation="relu") for n in sizes[1:-2]] + [Dense(sizes[-2])]
    return keras.Sequential(layers + [Dense(sizes[-1], activation="softmax")])


@pytest.mark.parametrize("answer, phrase", [
    (no_hidden_bias, "hidden layer L = 0 (64 units) has no bias"),
    (psl_hardcoded, "deep_network([784, 16, 12, 8, 10]) needs 4"),
    (hidden_sizes_swapped, "hidden layer L = 0 has 32 units, expected 64"),
    (last_hidden_linear, "no ReLU on hidden layer L = 1"),
], ids=lambda v: getattr(v, "__name__", ""))
def test_keras_deep_network_mistakes(answer, phrase):
    assert_names_mistake(checks.check_keras_deep_network, answer, phrase, NB02, "deep_network")


def test_keras_deep_network_counts_the_psl_parameters():
    message = assert_names_mistake(checks.check_keras_deep_network, no_hidden_bias, "52,554 parameters", NB02,
                                   "deep_network")
    assert "expected 52,650" in message


# --- notebook 03: TwoLayerNet.forward ----------------------------------------------------------


def two_layer_net(forward):
    class TwoLayerNet(nn.Module):
        def __init__(self, D_in, H, D_out):
            super().__init__()
            self.linear1 = nn.Linear(D_in, H)
            self.linear2 = nn.Linear(H, D_out)

    TwoLayerNet.forward = forward
    return TwoLayerNet


def softmax_in_forward(self, x):
    h_relu = self.linear1(x).clamp(min=0)
    return F.softmax(self.linear2(h_relu), dim=1)


def relu_missing(self, x):
    return self.linear2(self.linear1(x))


def relu_after_linear2(self, x):
    return self.linear2(self.linear1(x).clamp(min=0)).clamp(min=0)


@pytest.mark.parametrize("forward, phrase", [
    (softmax_in_forward, "the softmax would be applied twice"),
    (relu_missing, "no ReLU after the hidden layer"),
    (relu_after_linear2, "a ReLU after the last Linear layer"),
], ids=lambda v: getattr(v, "__name__", ""))
def test_two_layer_net_mistakes(forward, phrase):
    assert_names_mistake(checks.check_two_layer_net, two_layer_net(forward), phrase, NB03, "TwoLayerNet")


# --- notebook 03: train_epoch ------------------------------------------------------------------


def zero_grad_forgotten(model, loader, optimizer):
    for xb, yb in loader:
        xb, yb = xb.to(device), yb.to(device)
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        optimizer.step()


def zero_grad_after_backward(model, loader, optimizer):
    for xb, yb in loader:
        xb, yb = xb.to(device), yb.to(device)
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        optimizer.zero_grad()
        optimizer.step()


def step_missing(model, loader, optimizer):
    for xb, yb in loader:
        xb, yb = xb.to(device), yb.to(device)
        loss = F.cross_entropy(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()


def summed_loss(model, loader, optimizer):
    for xb, yb in loader:
        xb, yb = xb.to(device), yb.to(device)
        loss = F.cross_entropy(model(xb), yb, reduction="sum")
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def data_left_behind(model, loader, optimizer):
    for xb, yb in loader:
        loss = F.cross_entropy(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


@pytest.mark.parametrize("answer, phrase", [
    (zero_grad_forgotten, "a forgotten zero_grad: the gradients of the batches accumulate"),
    (zero_grad_after_backward, "the gradients were wiped before the step"),
    (step_missing, "no step of the optimizer"),
    (summed_loss, "summed over the batch instead of its mean"),
    (data_left_behind, "never moved to `device`"),
], ids=lambda v: getattr(v, "__name__", ""))
def test_train_epoch_mistakes(answer, phrase):
    assert_names_mistake(checks.check_train_epoch, answer, phrase, NB03, "train_epoch", device)


# --- notebook 03: evaluate ---------------------------------------------------------------------


def graph_recorded(model, x, y):
    model.eval()
    logits = model(torch.as_tensor(x, device=device))
    labels = torch.as_tensor(y, device=device)
    loss = F.cross_entropy(logits, labels)
    acc = (logits.argmax(dim=1) == labels).float().mean()
    model.train()
    return loss, acc


def training_mode(model, x, y):
    with torch.no_grad():
        logits = model(torch.as_tensor(x, device=device))
        labels = torch.as_tensor(y, device=device)
        return F.cross_entropy(logits, labels).item(), (logits.argmax(dim=1) == labels).float().mean().item()


def confidence_as_accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        probs = F.softmax(model(torch.as_tensor(x, device=device)), dim=1)
        loss = F.nll_loss(torch.log(probs), torch.as_tensor(y, device=device)).item()
        acc = probs.max(dim=1).values.mean().item()
    model.train()
    return loss, acc


def sums(model, x, y):
    model.eval()
    with torch.no_grad():
        logits = model(torch.as_tensor(x, device=device))
        labels = torch.as_tensor(y, device=device)
        loss = F.cross_entropy(logits, labels, reduction="sum").item()
        acc = (logits.argmax(dim=1) == labels).sum().item()
    model.train()
    return loss, acc


@pytest.mark.parametrize("answer, phrase", [
    (graph_recorded, "recorded the computational graph"),
    (training_mode, "in training mode during evaluation"),
    (confidence_as_accuracy, "the mean of the largest probability"),
    (sums, "the loss summed over the samples instead of averaged"),
], ids=lambda v: getattr(v, "__name__", ""))
def test_evaluate_mistakes(answer, phrase):
    message = assert_names_mistake(checks.check_evaluate, answer, phrase, NB03, "evaluate", device)
    if answer is sums:
        assert "the number of correct predictions, not their fraction" in message  # both parts reported


# --- notebook 03: deep_network -----------------------------------------------------------------


def relu_everywhere(sizes):
    layers = []
    for m, n in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(m, n), nn.ReLU()]
    return nn.Sequential(*layers)


def linears_only(sizes):
    return nn.Sequential(*[nn.Linear(m, n) for m, n in zip(sizes[:-1], sizes[1:])])


def out_in_swapped(sizes):
    layers = []
    for m, n in zip(sizes[:-2], sizes[1:-1]):
        layers += [nn.Linear(n, m), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(sizes[-1], sizes[-2]))


@pytest.mark.parametrize("answer, phrase", [
    (relu_everywhere, "a ReLU after the last Linear layer"),
    (linears_only, "no ReLU after hidden layer L = 0 and no ReLU after hidden layer L = 1"),
    (out_in_swapped, "Linear layer L = 0 of deep_network([784, 64, 32, 10]) maps 64 -> 784 values"),
], ids=lambda v: getattr(v, "__name__", ""))
def test_torch_deep_network_mistakes(answer, phrase):
    assert_names_mistake(checks.check_deep_network, answer, phrase, NB03, "deep_network")


# --- blank exercises: the student edition's stub -------------------------------------------------


def stub(*args, **kwargs):
    raise NotImplementedError()


def stub_net():
    class TwoLayerNet(nn.Module):
        def __init__(self, D_in, H, D_out):
            super().__init__()
            self.linear1 = nn.Linear(D_in, H)
            self.linear2 = nn.Linear(H, D_out)

        def forward(self, x):
            raise NotImplementedError()

    return TwoLayerNet


@pytest.mark.parametrize("check, args, exercise", [
    (checks.check_keras_one_hidden_layer, (), "one_hidden_layer"),
    (checks.check_train_step, (), "train_step"),
    (checks.check_compile_and_fit, (), "compile_and_fit"),
    (checks.check_keras_deep_network, (), "deep_network"),
], ids=lambda v: getattr(v, "__name__", None) if callable(v) else None)
def test_blank_exercises_of_notebook_02_are_not_written_yet(check, args, exercise):
    with pytest.raises(CheckFailed, match=rf"^{exercise}: not written yet"):
        check(stub, *args)


@pytest.mark.parametrize("check, answer, args, exercise", [
    (checks.check_two_layer_net, stub_net(), (), "TwoLayerNet.forward"),
    (checks.check_train_epoch, stub, (device,), "train_epoch"),
    (checks.check_evaluate, stub, (device,), "evaluate"),
    (checks.check_deep_network, stub, (), "deep_network"),
], ids=lambda v: getattr(v, "__name__", None) if callable(v) else None)
def test_blank_exercises_of_notebook_03_are_not_written_yet(check, answer, args, exercise):
    with pytest.raises(CheckFailed, match=rf"^{re.escape(exercise)}: not written yet"):
        check(answer, *args)


# --- the solutions pass ------------------------------------------------------------------------


def _solutions(path: Path) -> dict:
    """Run the exercise cells of a notebook (their solutions) in a namespace with what they use."""
    namespace = {"keras": keras, "tf": tf, "torch": torch, "nn": nn, "F": F, "np": np, "device": device,
                 "LR": LR, "BATCH": BATCH}
    for cell in json.loads(path.read_text())["cells"]:
        text = "".join(cell["source"])
        if cell["cell_type"] == "code" and "### BEGIN SOLUTION" in text:
            exec(compile(text, f"<{path.name}>", "exec"), namespace)
    return namespace


def test_the_solutions_of_notebooks_02_and_03_pass(capsys):
    s02, s03 = _solutions(NB02), _solutions(NB03)
    checks.check_keras_one_hidden_layer(s02["one_hidden_layer"])
    checks.check_train_step(s02["train_step"])
    checks.check_compile_and_fit(s02["compile_and_fit"])
    checks.check_keras_deep_network(s02["deep_network"])
    checks.check_two_layer_net(s03["TwoLayerNet"])
    checks.check_train_epoch(s03["train_epoch"], device)
    checks.check_evaluate(s03["evaluate"], device)
    checks.check_deep_network(s03["deep_network"])
    assert capsys.readouterr().out.count("PASSED") == 8

"""Notebook 01's catalogue of planted mistakes: each self-check names the mistake it sees.

Every entry is a wrong answer a student would write. The test asserts that the check fails
(``CheckFailed``), that its message names the mistake (a distinctive phrase), and that the
message shows no line of the exercise's solution, as the notebook holds it. The solutions
themselves are run through their checks too, which must pass.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from notebook_exercises import solution_lines

from utils import checks
from utils import reference as ref
from utils.checks.core import CheckFailed, rel_error

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "01_numpy_one_hidden_layer.ipynb"


def _exercises() -> dict[str, tuple[str, set[str]]]:
    """Function name -> (the exercise cell's source, the stripped lines of its solution region,
    each also without its trailing comment)."""
    found = {}
    for cell in json.loads(NOTEBOOK.read_text())["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] != "code" or "### BEGIN SOLUTION" not in source:
            continue
        name = re.search(r"^def (\w+)\(", source, re.MULTILINE).group(1)
        found[name] = (source, set(solution_lines(source)) - {""})
    return found


EXERCISES = _exercises()
RENAMED = {"evaluate": "check_evaluate_numpy"}  # notebook 03 has a check_evaluate of its own
CHECKS = {name: getattr(checks, RENAMED.get(name, f"check_{name}")) for name in EXERCISES}


def _solutions() -> dict:
    """The notebook's own solutions, defined in one namespace, as in the notebook."""
    namespace = {"np": np, "checks": checks}
    for source, _ in EXERCISES.values():
        exec(source, namespace)  # noqa: S102 (the course's own notebook)
    return namespace


def test_every_exercise_of_notebook_01_has_a_check_and_the_solutions_pass(capsys):
    assert len(EXERCISES) >= 10
    assert {check.__name__ for check in CHECKS.values()} == set(checks.numpy_net.__all__)
    assert all(check.__module__ == "utils.checks.numpy_net" for check in CHECKS.values())
    solved = _solutions()
    for name, check in CHECKS.items():
        check(solved[name])
    assert capsys.readouterr().out.count("PASSED") == len(CHECKS)


def _fails(exercise: str, fn, phrase: str) -> str:
    """Run exercise's check on fn: it must fail, name the mistake, and show no solution line."""
    with pytest.raises(CheckFailed) as info:
        CHECKS[exercise](fn)
    message = str(info.value)
    assert phrase in message, message
    shown = [line for line in EXERCISES[exercise][1] if line in message]
    assert not shown, f"solution lines in the message: {shown}\n{message}"
    return message


# --- the planted mistakes: realistic wrong answers ------------------------------------------


def _one_hot_columns(y, num_classes=10):
    Y = np.zeros((len(y), num_classes), dtype=np.float32)
    Y[:, y] = 1
    return Y


def _relu_in_place(z):
    z[z < 0] = 0
    return z


def _softmax_axis0(z):
    e = np.exp(z - z.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def _softmax_no_max(z):
    return np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)


def _softmax_no_keepdims(z):
    e = np.exp(z - z.max(axis=1))
    return e / e.sum(axis=1)


def _softmax_whole_sum(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum()


def _softmax_global_max(z):
    e = np.exp(z - z.max())
    return e / e.sum(axis=1, keepdims=True)


def _init(std, shape=lambda m, n: (m, n), dtype=np.float32, bias=0.0):
    def init_params(n_in, n_hidden, n_out, seed=0):
        rng = np.random.default_rng(seed)
        params = []
        for m, n in ((n_in, n_hidden), (n_hidden, n_out)):
            params.append((rng.standard_normal(shape(m, n)) * std(m, n)).astype(dtype))
            params.append(np.full(n, bias, dtype=dtype))
        return params
    return init_params


def _init_global_rng(n_in, n_hidden, n_out, seed=0):
    return [(np.random.randn(n_in, n_hidden) * np.sqrt(2 / n_in)).astype(np.float32),
            np.zeros(n_hidden, np.float32),
            (np.random.randn(n_hidden, n_out) * np.sqrt(2 / n_hidden)).astype(np.float32),
            np.zeros(n_out, np.float32)]


def _forward(hidden=ref.relu, output=ref.softmax, bias=True):
    def forward(X, params):
        W0, b0, W1, b1 = params
        z0 = X @ W0 + (b0 if bias else 0)
        a0 = hidden(z0)
        z1 = a0 @ W1 + b1
        return z0, a0, z1, output(z1)
    return forward


def _forward_columns(X, params):
    W0, b0, W1, b1 = params
    z0 = W0.T @ X + b0
    a0 = ref.relu(z0)
    z1 = W1.T @ a0 + b1
    return z0, a0, z1, ref.softmax(z1)


def _backward(mean=True, derivative=True, transpose=True, bias_axis=0, sign=1, dW1_from_z0=False):
    def backward(X, Y, params, outputs):
        W0, b0, W1, b1 = params
        z0, a0, z1, a1 = outputs
        D = X.shape[0] if mean else 1
        delta1 = sign * (a1 - Y)
        dW1 = (z0 if dW1_from_z0 else a0).T @ delta1 / D
        db1 = delta1.sum(axis=bias_axis) / D
        back = delta1 @ (W1.T if transpose else W1)
        delta0 = ref.relu_prime(z0) * back if derivative else back
        return X.T @ delta0 / D, delta0.sum(axis=bias_axis) / D, dW1, db1
    return backward


def _numerical(kind="centred", restore=True, copy=False, rows=False):
    def numerical_gradient(f, x, h=1e-5):
        grad = np.zeros(x.shape)
        target = x.copy() if copy else x
        base = f()
        for i in (range(len(x)) if rows else np.ndindex(x.shape)):
            old = target[i].copy() if rows else target[i]
            target[i] = old + h
            up = f()
            target[i] = old - h
            down = f()
            if restore:
                target[i] = old
            grad[i] = {"centred": (up - down) / (2 * h), "forward": (up - base) / h,
                       "over h": (up - down) / h}[kind]
        return grad
    return numerical_gradient


def _gradient_check(use_given=True, fresh=True, loss="mean"):
    def gradient_check(backward_fn, X, Y, params, h=1e-5):
        fn = backward_fn if use_given else ref.backward
        analytic = fn(X, Y, params, ref.forward(X, params))
        outputs = ref.forward(X, params)

        def risk():
            a1 = (ref.forward(X, params) if fresh else outputs)[3]
            value = ref.cross_entropy(a1, Y)
            return value * len(X) if loss == "sum" else value

        return {name: rel_error(g, ref.numerical_gradient(risk, p, h))
                for name, p, g in zip(("W0", "b0", "W1", "b1"), params, analytic)}
    return gradient_check


def _sgd(shuffle=True, drop_last=False, in_place=True, sign=1, full_batch=False, own_rng=False,
         update_biases=True):
    def sgd_epoch(params, X, y, lr, batch_size, rng):
        D = len(X)
        if own_rng:
            order = np.random.default_rng(0).permutation(D)
        else:
            order = rng.permutation(D) if shuffle else np.arange(D)
        size = D if full_batch else batch_size
        stop = D - size + 1 if drop_last else D
        for start in range(0, stop, size):
            batch = order[start:start + size]
            xb, Yb = X[batch], np.eye(10)[y[batch]]
            grads = ref.backward(xb, Yb, params, ref.forward(xb, params))
            for i, g in enumerate(grads):
                if i % 2 == 1 and not update_biases:
                    continue
                if in_place:
                    params[i] -= sign * lr * g
                else:
                    p = params[i]
                    p = p - lr * g  # noqa: F841 (a new array: the caller's list never sees it)
    return sgd_epoch


def _confident(order=-1, include_right=False, true_class=False, positions=False, skip_first=False,
               swap=False, right_one=False):
    def most_confident_mistakes(probs, y, k=12):
        predicted = probs.argmax(axis=1)
        wrong = np.arange(len(y)) if include_right else np.flatnonzero(predicted != y)
        confidence = probs[wrong, y[wrong] if true_class else predicted[wrong]]
        ranked = np.argsort(order * confidence)
        found = (ranked if positions else wrong[ranked])[int(skip_first):k + int(skip_first)].copy()
        if swap:  # an off-by-one in a hand-written sort
            found[[0, 1]] = found[[1, 0]]
        if right_one:  # a mask inverted somewhere
            found[k // 2] = np.flatnonzero(predicted == y)[0]
        return found
    return most_confident_mistakes


def _evaluate(swap=False, scores=False):
    def evaluate(X, y, params):
        outputs = ref.forward(X, params)
        a = outputs[2] if scores else outputs[3]
        result = ref.cross_entropy(a, np.eye(10)[y]), ref.accuracy(a, y)
        return result[::-1] if swap else result
    return evaluate


def _per_class(kind):
    def per_class_accuracy(y_true, y_pred, n_classes=10):
        result = np.zeros(n_classes)
        for c in range(n_classes):
            if kind == "precision":
                result[c] = np.mean(y_true[y_pred == c] == c)
            elif kind == "count":
                result[c] = np.sum((y_true == c) & (y_pred == c))
            else:
                result[c] = np.mean(y_true == y_pred)
        return result
    return per_class_accuracy


MISTAKES = [
    # one_hot
    ("one_hot", lambda y, num_classes=10: np.eye(num_classes, dtype=np.float32)[y].T,
     "one column per sample"),
    ("one_hot", _one_hot_columns, "not only in the row's own label"),
    ("one_hot", lambda y, num_classes=10: np.eye(10, dtype=np.float32)[y], "10 columns whatever num_classes"),
    ("one_hot", lambda y, num_classes=10: np.eye(num_classes)[y], "float64, expected float32"),
    # relu, relu_prime
    ("relu", lambda z: np.abs(z), "the absolute value |z|"),
    ("relu", lambda z: np.max(z, 0), "the largest entry along axis 0"),
    ("relu", _relu_in_place, "changed its input z in place"),
    ("relu", lambda z: np.max(0, z), "np.max reduces ONE array along an axis"),
    ("relu", lambda z: np.maximum(z, 0, axis=1), "unexpected keyword argument"),
    ("relu", lambda z: max(0, z), "Python's max(0, z)"),
    ("relu_prime", lambda z: (z >= 0).astype(z.dtype), "a derivative of 1 at z = 0"),
    ("relu_prime", lambda z: z > 0, "a boolean array"),
    ("relu_prime", lambda z: z, "z itself, not the derivative"),
    ("relu_prime", lambda z: (z > 0) * 1.0, "keep the dtype of z"),
    # softmax
    ("softmax", _softmax_axis0, "over axis 0 (down each column"),
    ("softmax", _softmax_no_max, "no maximum subtracted"),
    ("softmax", _softmax_no_keepdims, "keepdims"),
    ("softmax", _softmax_whole_sum, "divided by the sum over the whole array"),
    ("softmax", _softmax_global_max, "the maximum of the whole array subtracted"),
    # cross_entropy
    ("cross_entropy", lambda a, Y: -np.sum(Y * np.log(a)), "the sum over the batch instead of the mean"),
    ("cross_entropy", lambda a, Y: -np.mean(Y * np.log(a)), "a factor 10 too small"),
    ("cross_entropy", lambda a, Y: np.mean(np.sum(Y * np.log(a), axis=1)), "the minus sign missing"),
    ("cross_entropy", lambda a, Y: -np.mean(np.sum(Y * np.log10(a), axis=1)), "base-10 logarithm"),
    ("cross_entropy", lambda a, Y: -np.mean(np.sum(np.log(a), axis=1)), "not only the true class's"),
    # accuracy
    ("accuracy", lambda a, y: np.mean(np.argmax(a, axis=0) == y), "taken over axis 0"),
    ("accuracy", lambda a, y: np.mean(np.argmax(a) == y), "np.argmax with no axis"),
    ("accuracy", lambda a, y: np.mean(np.max(a, axis=1) == y), "the probabilities compared with the labels"),
    ("accuracy", lambda a, y: np.sum(np.argmax(a, axis=1) == y), "a count of correct predictions"),
    # init_params
    ("init_params", _init(lambda m, n: 0.0), "all zero"),
    ("init_params", _init(lambda m, n: 1.0), "not scaled (standard deviation 1)"),
    ("init_params", _init(lambda m, n: np.sqrt(2 / n)), "its fan-out"),
    ("init_params", _init(lambda m, n: np.sqrt(2 / m), shape=lambda m, n: (n, m)),
     "the transpose of (784, 256)"),
    ("init_params", _init(lambda m, n: np.sqrt(2 / m), dtype=np.float64), "dtype float64, expected float32"),
    ("init_params", _init(lambda m, n: 2 / m), "the variance, where the standard deviation"),
    ("init_params", _init_global_rng, "two calls with seed=0 gave different weights"),
    # forward
    ("forward", _forward_columns, "Samples are rows here"),
    ("forward", _forward(bias=False), "the bias b0 missing"),
    ("forward", _forward(hidden=lambda z: z), "the hidden layer's ReLU missing"),
    ("forward", _forward(hidden=ref.softmax), "softmax on the hidden layer"),
    ("forward", _forward(output=lambda z: z), "the scores before softmax"),
    # backward
    ("backward", _backward(mean=False), "the 1/D of the mean missing"),
    ("backward", _backward(derivative=False), "h'(z0) missing from delta0"),
    ("backward", _backward(transpose=False), "W1 used where its transpose belongs"),
    ("backward", _backward(bias_axis=1), "summed along axis 1"),
    ("backward", _backward(sign=-1), "the sign of delta1 reversed"),
    ("backward", _backward(dW1_from_z0=True), "z0 (before the ReLU) where the activation a0 belongs in dW1"),
    # numerical_gradient
    ("numerical_gradient", _numerical(kind="forward"), "a forward difference"),
    ("numerical_gradient", _numerical(restore=False), "x was changed"),
    ("numerical_gradient", _numerical(kind="over h"), "a division by h instead of 2h"),
    ("numerical_gradient", _numerical(copy=True), "zero everywhere"),
    ("numerical_gradient", _numerical(rows=True), "whole rows perturbed at once"),
    # gradient_check
    ("gradient_check", _gradient_check(use_given=False), "although backward_fn was wrong"),
    ("gradient_check", _gradient_check(fresh=False), "every relative error is about 1"),
    ("gradient_check", _gradient_check(loss="sum"), "the risk is the sum of the losses"),
    # sgd_epoch
    ("sgd_epoch", _sgd(shuffle=False), "no shuffle"),
    ("sgd_epoch", _sgd(drop_last=True), "the last, smaller batch dropped"),
    ("sgd_epoch", _sgd(in_place=False), "unchanged after the epoch"),
    ("sgd_epoch", _sgd(sign=-1), "the step taken up the gradient"),
    ("sgd_epoch", _sgd(full_batch=True), "a single full-batch step"),
    ("sgd_epoch", _sgd(own_rng=True), "the same at every epoch"),
    ("sgd_epoch", _sgd(update_biases=False), "the biases never updated"),
    # evaluate
    ("evaluate", _evaluate(swap=True), "return (loss, accuracy), in this order"),
    ("evaluate", _evaluate(scores=True), "the loss of z1, the scores before softmax"),
    ("evaluate", lambda X, y, params: (ref.cross_entropy(ref.forward(X, params)[3], y), 0.0),
     "cross_entropy compares the probabilities with one-hot labels"),
    # per_class_accuracy
    ("per_class_accuracy", _per_class("precision"), "(the precision)"),
    ("per_class_accuracy", _per_class("count"), "not a fraction"),
    ("per_class_accuracy", _per_class("overall"), "the overall accuracy repeated"),
    # most_confident_mistakes
    ("most_confident_mistakes", _confident(order=1), "the least confident mistakes first"),
    ("most_confident_mistakes", _confident(include_right=True), "correctly classified images included"),
    ("most_confident_mistakes", _confident(true_class=True), "probability of the true class"),
    ("most_confident_mistakes", _confident(positions=True), "positions in the list of mistakes"),
    ("most_confident_mistakes", _confident(skip_first=True), "not one of the"),
    ("most_confident_mistakes", _confident(swap=True), "in the wrong order"),
    ("most_confident_mistakes", _confident(right_one=True), "an image the network classified right"),
]


@pytest.mark.parametrize("exercise, fn, phrase", MISTAKES, ids=[f"{e}: {p}" for e, _, p in MISTAKES])
def test_a_planted_mistake_is_named_without_the_solution(exercise, fn, phrase):
    with np.errstate(all="ignore"):
        _fails(exercise, fn, phrase)


def test_the_catalogue_covers_every_exercise():
    assert {exercise for exercise, _, _ in MISTAKES} == set(EXERCISES)
    assert len(MISTAKES) >= 12


def test_backward_reports_all_four_gradients():
    message = _fails("backward", _backward(mean=False), "the 1/D of the mean missing")
    for name in ("dW0", "db0", "dW1", "db1"):
        assert f"{name} (10 hidden neurons): this looks like the 1/D" in message, message
    assert "4 of 4 checks failed" in message


def test_a_sign_error_in_sgd_says_the_loss_went_up():
    message = _fails("sgd_epoch", _sgd(sign=-1), "the step taken up the gradient")
    assert "went up during the epoch" in message


def test_a_shape_error_in_softmax_is_explained_with_its_own_shapes():
    message = _fails("softmax", _softmax_no_keepdims, "is the keepdims argument missing?")
    assert "keepdims missing" in message  # the 10 x 10 case runs, and is named
    assert "W0" not in message  # not the generic hint about layers


def _blank(*args, **kwargs):
    raise NotImplementedError()


@pytest.mark.parametrize("exercise", sorted(EXERCISES))
def test_a_blank_exercise_is_not_written_yet(exercise):
    with pytest.raises(CheckFailed, match=f"^{exercise}: not written yet"):
        CHECKS[exercise](_blank)


def test_an_exercise_that_calls_a_blank_one_names_it():
    def backward(X, Y, params, outputs):
        raise NotImplementedError()

    def sgd_epoch(params, X, y, lr, batch_size, rng):
        order = rng.permutation(len(X))
        for start in range(0, len(X), batch_size):
            xb = X[order[start:start + batch_size]]
            backward(xb, None, params, ref.forward(xb, params))

    with pytest.raises(CheckFailed, match="sgd_epoch: it calls `backward`, which is not written yet"):
        checks.check_sgd_epoch(sgd_epoch)


# The grader judges every exercise again on hidden inputs: its checks draw them from a secret seed
# (utils.checks.core.hidden_inputs). A right answer must pass whatever the seed; 40 seeds here.
HIDDEN_SALTS = [(k * 2654435761) % (2**31 - 1) + 1 for k in range(1, 41)]


def test_the_solutions_pass_on_hidden_inputs_and_the_inputs_change(capsys):
    from utils.checks import core

    solved = _solutions()
    seen = []
    for salt in HIDDEN_SALTS:
        with core.hidden_inputs(salt):
            seen.append(core.seeded(0).random())
            for check in CHECKS.values():
                check(solved[check.__name__.removeprefix("check_").replace("_numpy", "")])
    assert capsys.readouterr().out.count("PASSED") == len(HIDDEN_SALTS) * len(CHECKS)
    assert len(set(seen)) == len(HIDDEN_SALTS) and core.seeded(0).random() not in seen


def test_answers_hard_coded_for_the_visible_inputs_fail_on_hidden_ones():
    from utils.checks import core

    table = {}

    def recording(z):
        table[np.ascontiguousarray(z).tobytes()] = _solutions()["softmax"](z)
        return table[np.ascontiguousarray(z).tobytes()]

    CHECKS["softmax"](recording)

    def hard_coded(z):
        return table.get(np.ascontiguousarray(z).tobytes(), np.full(np.shape(z), 0.1))

    CHECKS["softmax"](hard_coded)  # passes what the student sees
    with core.hidden_inputs(HIDDEN_SALTS[0]), pytest.raises(CheckFailed):
        CHECKS["softmax"](hard_coded)


def test_a_backward_that_reads_h_prime_from_a0_passes_and_the_planted_bug_cell_still_runs(capsys):
    """h'(z0) taken as (a0 > 0) is right: its check passes, and 01's demonstration of a planted bug,
    which plants it through z0, says it could not plant it instead of stopping Run All."""
    def backward(X, Y, params, outputs):
        W0, b0, W1, b1 = params
        z0, a0, z1, a1 = outputs
        d1 = (a1 - Y) / len(X)
        d0 = (d1 @ W1.T) * (a0 > 0)
        return X.T @ d0, d0.sum(axis=0), a0.T @ d1, d1.sum(axis=0)

    checks.check_backward(backward)
    namespace = _solutions()
    namespace["backward"] = backward
    X, Y = np.random.default_rng(0).random((8, 784)), np.eye(10)[np.arange(8)]
    params = [p.astype(np.float64) for p in ref.init_params(784, 6, 10, seed=1)]
    params[1] += 0.1
    namespace.update(X_check=X, Y_check=Y, params_check=params)
    cells = ["".join(c["source"]) for c in json.loads(NOTEBOOK.read_text())["cells"]]
    exec(next(c for c in cells if "def backward_with_a_bug" in c), namespace)  # noqa: S102
    assert "the bug could not be planted" in capsys.readouterr().out


def test_in_a_notebook_a_failing_check_shows_its_message_alone_and_a_name_error_a_hint():
    """What the student reads under a cell: the check's message without the checks' own frames; a
    NameError with its traceback and a hint to run the cells above (a skipped cell, a restart)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in (
        "import numpy as np\nfrom utils import checks",
        "checks.check_relu(lambda z: np.abs(z))",
        "print(l2_loss)")]
    NotebookClient(nb, kernel_name="python3", allow_errors=True, timeout=60).execute()
    ansi = re.compile(r"\x1b\[[0-9;]*m")
    (failed,), (missing,) = nb.cells[1].outputs, nb.cells[2].outputs
    shown = ansi.sub("", "\n".join(failed.traceback))
    assert failed.ename == "CheckFailed" and shown == f"CheckFailed: {failed.evalue}"
    assert "the absolute value |z|" in shown and "core.py" not in shown and "hidden" not in shown
    shown = ansi.sub("", "\n".join(missing.traceback))
    assert missing.ename == "NameError" and "----> 1 print(l2_loss)" in shown
    assert "Hint: if `l2_loss` is defined in a cell above, that cell has not run in this kernel" in shown


"""Planted mistakes for the self-checks of notebooks 04 (architecture) and 05 (learning rate).

Each test writes a wrong answer the way a student would, and asserts that the check fails
(``CheckFailed``), that its message names the mistake, and that it shows no line of the
notebook's solution. The runs are tiny (a few hundred digits, three epochs): the whole file
takes seconds.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from notebook_exercises import exercise_cell
from notebook_exercises import solution_lines as shared_solution_lines

from utils import checks, config, train
from utils.checks import CheckFailed
from utils.checks.architecture import _Sweep
from utils.data import batch_indices

ROOT = Path(__file__).resolve().parent.parent
NB04 = "04_architecture_study.ipynb"
NB05 = "05_learning_rate_study.ipynb"
THRESHOLD = 10 * math.log(10)


def solution_lines(notebook: str, name: str) -> list[str]:
    """The solution lines of the exercise that defines ``name``: none may appear in a message."""
    return shared_solution_lines(exercise_cell(ROOT / "notebooks" / notebook, name))


def fails_naming(check, args, phrase: str, notebook: str, exercise: str) -> str:
    """Run ``check(*args)``: it must fail, name the mistake (``phrase``), show no solution line."""
    with pytest.raises(CheckFailed) as info:
        check(*args)
    message = str(info.value)
    assert phrase.lower() in message.lower(), f"{phrase!r} not in:\n{message}"
    leaked = [line for line in solution_lines(notebook, exercise) if line in message]
    assert not leaked, f"solution lines in the message: {leaked}\n{message}"
    return message


# --- right answers, which the planted mistakes below alter -----------------------------------


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def leaky_relu(z, alpha=0.01):
    return np.maximum(alpha * z, z)


def leaky_relu_prime(z, alpha=0.01):
    return np.where(z > 0, 1.0, alpha)


def elu(z, alpha=1.0):
    return np.where(z < 0, alpha * (np.exp(np.minimum(z, 0)) - 1), z)


def elu_prime(z, alpha=1.0):
    return np.where(z < 0, alpha * np.exp(np.minimum(z, 0)), 1.0)


def swish(z):
    return z * sigmoid(z)


def swish_prime(z):
    s = sigmoid(z)
    return s + z * s * (1 - s)


ACTIVATIONS = dict(leaky_relu=leaky_relu, leaky_relu_prime=leaky_relu_prime, elu=elu, elu_prime=elu_prime,
                   swish=swish, swish_prime=swish_prime)


def activations(**changed):
    return [changed.get(name, fn) for name, fn in ACTIVATIONS.items()]


def n_parameters(sizes):
    return sum(m * n + n for m, n in zip(sizes[:-1], sizes[1:]))


def width_for(depth, budget):
    return min(range(1, 2000), key=lambda w: abs(n_parameters([784] + [w] * depth + [10]) - budget))


def run_config(sizes, activation, seeds, epochs, data, lr=0.1, batch_size=64):
    rows = []
    for seed in seeds:
        config.seed_everything(seed)
        model = train.mlp(sizes, activation=activation)
        h = train.fit(model, data, epochs, lr, batch_size, seed=seed)
        rows.append({"seed": seed, "parameters": train.count_params(model), "test_acc": h.test_acc[-1],
                     "seconds": h.seconds[-1], "history": h})
    return rows


SIZES = [784, 256, 10]


def train_run(lr, batch_size, seed, epochs, data, val=None):
    """Notebook 05's helper: the History and the training losses the run saw."""
    config.seed_everything(seed)
    model = train.mlp(SIZES)
    h = train.fit(model, data, epochs, lr, batch_size, seed=seed, val=val)
    losses = list(h.train_loss)
    if len(h.epoch) < epochs:
        x, y = torch.as_tensor(data.x_train), torch.as_tensor(data.y_train)
        with torch.no_grad():
            for idx in batch_indices(len(x), batch_size, seed=seed + len(h.epoch) + 1):
                losses.append(F.cross_entropy(model(x[idx]), y[idx]).item())
    return h, losses


def has_diverged(losses, threshold=THRESHOLD):
    losses = np.asarray(losses, dtype=np.float64)
    return bool(np.any(~np.isfinite(losses)) or np.any(losses > threshold))


def sweep_row(lr, seed, h, diverged):
    return {"lr": lr, "seed": seed, "diverged": diverged, "epochs_run": len(h.epoch),
            "val_acc": np.nan if diverged else h.val_acc[-1],
            "test_acc": np.nan if diverged else h.test_acc[-1], "history": h}


def lr_sweep(rates, seeds, epochs, data, val):
    rows = []
    for lr in rates:
        for seed in seeds:
            h, losses = train_run(lr, 64, seed, epochs, data, val)
            rows.append(sweep_row(lr, seed, h, has_diverged(losses)))
    return rows


def mean_val(rows, lr):
    return np.mean([r["val_acc"] for r in rows if r["lr"] == lr])


def choose_rate(rows):
    rates = {r["lr"] for r in rows if not any(q["diverged"] for q in rows if q["lr"] == r["lr"])}
    return max(rates, key=lambda lr: mean_val(rows, lr))


# --- the right answers pass -------------------------------------------------------------------


def test_the_right_answers_pass(capsys):
    checks.check_activations(*activations())
    checks.check_parameter_count(n_parameters, width_for)
    checks.check_run_config(run_config)
    checks.check_has_diverged(has_diverged)
    checks.check_lr_sweep(lr_sweep)
    checks.check_choose_rate(choose_rate)
    assert capsys.readouterr().out.count("PASSED") == 6


# --- blank exercises ----------------------------------------------------------------------------


def test_a_blank_exercise_of_04_is_not_written_yet():
    def run_config(sizes, activation, seeds, epochs, data, lr=0.1, batch_size=64):
        # YOUR CODE HERE
        raise NotImplementedError()

    fails_naming(checks.check_run_config, [run_config], "run_config: not written yet", NB04, "run_config")


def test_a_blank_exercise_of_05_is_not_written_yet():
    def has_diverged(losses, threshold=THRESHOLD):
        # YOUR CODE HERE
        raise NotImplementedError()

    fails_naming(checks.check_has_diverged, [has_diverged], "has_diverged: not written yet", NB05,
                 "has_diverged")


def test_a_sweep_that_uses_a_blank_exercise_names_it():
    def has_diverged(losses, threshold=THRESHOLD):
        raise NotImplementedError()

    def lr_sweep(rates, seeds, epochs, data, val):
        rows = []
        for lr in rates:
            for seed in seeds:
                h, losses = train_run(lr, 64, seed, epochs, data, val)
                rows.append(sweep_row(lr, seed, h, has_diverged(losses)))
        return rows

    fails_naming(checks.check_lr_sweep, [lr_sweep], "calls `has_diverged`, which is not written yet", NB05,
                 "lr_sweep")


# --- 04: activation functions ---------------------------------------------------------------


def test_leaky_slope_on_the_positive_side():
    def leaky_relu(z, alpha=0.01):
        return np.where(z > 0, alpha * z, z)

    def leaky_relu_prime(z, alpha=0.01):
        return np.where(z > 0, alpha, 1.0)

    message = fails_naming(checks.check_activations,
                           activations(leaky_relu=leaky_relu, leaky_relu_prime=leaky_relu_prime),
                           "slope alpha applied on the positive side", NB04, "leaky_relu")
    assert "leaky_relu_prime(z)" in message and "leaky_relu(z, alpha=0.2)" in message  # every part listed


def test_elu_derivative_written_as_exp_minus_one():
    def elu_prime(z, alpha=1.0):
        return np.where(z < 0, alpha * (np.exp(z) - 1), 1.0)

    fails_naming(checks.check_activations, activations(elu_prime=elu_prime),
                 "derivative written as exp(z) - 1", NB04, "elu_prime")


def test_elu_derivative_without_alpha():
    def elu_prime(z, alpha=1.0):
        return np.where(z < 0, np.exp(z), 1.0)

    fails_naming(checks.check_activations, activations(elu_prime=elu_prime),
                 "e^z without the factor alpha", NB04, "elu_prime")


def test_swish_derivative_without_the_product_rule():
    def swish_prime(z):
        return sigmoid(z)

    fails_naming(checks.check_activations, activations(swish_prime=swish_prime),
                 "product rule's second term", NB04, "swish_prime")


def test_a_function_wrong_on_one_side_disagrees_with_its_derivative():
    def elu(z, alpha=1.0):
        return np.where(z < 0, alpha * (np.exp(z) - 1), 2 * z)  # slope 2 for z > 0

    message = fails_naming(checks.check_activations, activations(elu=elu),
                           "right for z < 0 but wrong for z > 0", NB04, "elu")
    assert "disagrees with the slope of your own elu for z > 0" in message


def test_an_activation_that_changes_its_input_in_place():
    def leaky_relu(z, alpha=0.01):
        z[z < 0] *= alpha
        return z

    fails_naming(checks.check_activations, activations(leaky_relu=leaky_relu), "in place", NB04, "leaky_relu")


# --- 04: parameter count ---------------------------------------------------------------------


def test_parameter_count_without_biases():
    def n_parameters(sizes):
        return sum(m * n for m, n in zip(sizes[:-1], sizes[1:]))

    message = fails_naming(checks.check_parameter_count, [n_parameters, width_for], "biases forgotten",
                           NB04, "n_parameters")
    assert "101,770" in message


def test_parameter_count_of_the_hidden_layers_only():
    def n_parameters(sizes):
        return sum(sizes[i] * sizes[i + 1] + sizes[i + 1] for i in range(len(sizes) - 2))

    fails_naming(checks.check_parameter_count, [n_parameters, width_for], "output layer left out", NB04,
                 "n_parameters")


def test_parameter_count_with_an_off_by_one_in_the_pairs():
    def n_parameters(sizes):
        return sum(sizes[i - 1] * sizes[i] + sizes[i] for i in range(2, len(sizes)))

    fails_naming(checks.check_parameter_count, [n_parameters, width_for], "off-by-one", NB04, "n_parameters")


def test_width_that_ignores_the_depth():
    def width_for(depth, budget):
        return min(range(1, 2000), key=lambda w: abs(n_parameters([784, w, 10]) - budget))

    fails_naming(checks.check_parameter_count, [n_parameters, width_for], "depth is ignored", NB04,
                 "width_for")


def test_width_from_a_wrong_count_is_traced_to_the_count():
    def n_parameters(sizes):  # the output layer forgotten
        return sum(m * n + n for m, n in zip(sizes[:-2], sizes[1:-1]))

    def width_for(depth, budget):
        return min(range(1, 2000), key=lambda w: abs(n_parameters([784] + [w] * depth + [10]) - budget))

    message = fails_naming(checks.check_parameter_count, [n_parameters, width_for], "output layer left out",
                           NB04, "width_for")
    assert "width_for(1, 101,770): 130 units give 103,360 parameters: this looks like the count of your " \
           "n_parameters" in message  # every part reported, traced to its cause


# --- 04: the sweep loop ----------------------------------------------------------------------


def test_seed_set_after_the_model_is_built():
    def run_config(sizes, activation, seeds, epochs, data, lr=0.1, batch_size=64):
        rows = []
        for seed in seeds:
            model = train.mlp(sizes, activation=activation)
            config.seed_everything(seed)
            h = train.fit(model, data, epochs, lr, batch_size, seed=seed)
            rows.append({"seed": seed, "parameters": train.count_params(model), "test_acc": h.test_acc[-1],
                         "seconds": h.seconds[-1], "history": h})
        return rows

    fails_naming(checks.check_run_config, [run_config], "two runs of the same seed differ", NB04,
                 "run_config")


def test_the_same_seed_for_every_run():
    def run_config(sizes, activation, seeds, epochs, data, lr=0.1, batch_size=64):
        rows = []
        for seed in seeds:
            config.seed_everything(seeds[0])
            model = train.mlp(sizes, activation=activation)
            h = train.fit(model, data, epochs, lr, batch_size, seed=seed)
            rows.append({"seed": seed, "parameters": train.count_params(model), "test_acc": h.test_acc[-1],
                         "seconds": h.seconds[-1], "history": h})
        return rows

    fails_naming(checks.check_run_config, [run_config], "start from the same initial weights", NB04,
                 "run_config")


def test_rows_without_the_parameter_count():
    def run_config(sizes, activation, seeds, epochs, data, lr=0.1, batch_size=64):
        rows = []
        for seed in seeds:
            config.seed_everything(seed)
            model = train.mlp(sizes, activation=activation)
            h = train.fit(model, data, epochs, lr, batch_size, seed=seed)
            rows.append({"seed": seed, "test_acc": h.test_acc[-1], "seconds": h.seconds[-1], "history": h})
        return rows

    fails_naming(checks.check_run_config, [run_config], "no 'parameters' in the rows", NB04, "run_config")


def test_time_that_includes_building_and_evaluating():
    def run_config(sizes, activation, seeds, epochs, data, lr=0.1, batch_size=64):
        rows = []
        for seed in seeds:
            start = time.perf_counter()
            config.seed_everything(seed)
            model = train.mlp(sizes, activation=activation)
            h = train.fit(model, data, epochs, lr, batch_size, seed=seed)
            rows.append({"seed": seed, "parameters": train.count_params(model), "test_acc": h.test_acc[-1],
                         "seconds": time.perf_counter() - start, "history": h})
        return rows

    fails_naming(checks.check_run_config, [run_config], "includes something else", NB04, "run_config")


def test_one_row_per_configuration_instead_of_per_seed():
    def run_config(sizes, activation, seeds, epochs, data, lr=0.1, batch_size=64):
        accs, seconds = [], []
        for seed in seeds:
            config.seed_everything(seed)
            model = train.mlp(sizes, activation=activation)
            h = train.fit(model, data, epochs, lr, batch_size, seed=seed)
            accs.append(h.test_acc[-1])
            seconds.append(h.seconds[-1])
        return [{"seed": seeds, "parameters": train.count_params(model), "test_acc": np.mean(accs),
                 "seconds": np.mean(seconds), "history": h}]

    fails_naming(checks.check_run_config, [run_config], "one row for the whole configuration", NB04,
                 "run_config")


def test_the_best_epoch_reported_instead_of_the_last():
    def run_config_best(sizes, activation, seeds, epochs, data, lr=0.1, batch_size=64):
        rows = run_config(sizes, activation, seeds, epochs, data, lr, batch_size)
        for row in rows:
            row["test_acc"] = max(row["history"].test_acc)
        return rows

    # the check's problem is chosen so that the test accuracy falls at the last epoch for some seed:
    # without it, the best epoch would be the last and this mistake would pass unseen
    sweep = _Sweep(run_config)
    assert any(max(h.test_acc) > h.test_acc[-1] for h in map(sweep.reference, sweep.seeds))

    fails_naming(checks.check_run_config, [run_config_best], "best test accuracy over the epochs", NB04,
                 "run_config")


# --- 05: the divergence rule -----------------------------------------------------------------


def test_nan_not_detected():
    def has_diverged(losses, threshold=THRESHOLD):
        return any(loss > threshold for loss in losses)

    fails_naming(checks.check_has_diverged, [has_diverged], "NaN not detected", NB05, "has_diverged")


def test_only_the_last_loss():
    def has_diverged(losses, threshold=THRESHOLD):
        if len(losses) == 0:
            return False
        last = losses[-1]
        return bool(np.isnan(last) or np.isinf(last) or last > threshold)

    fails_naming(checks.check_has_diverged, [has_diverged], "only the last loss", NB05, "has_diverged")


def test_threshold_compared_the_wrong_way():
    def has_diverged(losses, threshold=THRESHOLD):
        losses = np.asarray(losses, dtype=float)
        return bool(np.any(~np.isfinite(losses)) or np.any(losses < threshold))

    fails_naming(checks.check_has_diverged, [has_diverged], "compared the wrong way", NB05, "has_diverged")


def test_threshold_argument_ignored():
    def has_diverged(losses, threshold=THRESHOLD):
        losses = np.asarray(losses, dtype=float)
        return bool(np.any(~np.isfinite(losses)) or np.any(losses > 10 * math.log(10)))

    fails_naming(checks.check_has_diverged, [has_diverged], "threshold passed as argument is ignored", NB05,
                 "has_diverged")


def test_a_crash_on_an_empty_list_is_explained():
    def has_diverged(losses, threshold=THRESHOLD):
        return not math.isfinite(max(losses)) or max(losses) > threshold

    fails_naming(checks.check_has_diverged, [has_diverged], "empty list", NB05, "has_diverged")


# --- 05: the sweep ---------------------------------------------------------------------------


def test_a_diverged_run_reported_with_a_number():
    def lr_sweep(rates, seeds, epochs, data, val):
        rows = []
        for lr in rates:
            for seed in seeds:
                h, losses = train_run(lr, 64, seed, epochs, data, val)
                rows.append({"lr": lr, "seed": seed, "diverged": has_diverged(losses),
                             "epochs_run": len(h.epoch), "val_acc": h.val_acc[-1] if h.val_acc else 0.0,
                             "test_acc": h.test_acc[-1] if h.test_acc else 0.0, "history": h})
        return rows

    fails_naming(checks.check_lr_sweep, [lr_sweep], "reported as a number", NB05, "lr_sweep")


def test_the_seed_recorded_but_not_used():
    def lr_sweep(rates, seeds, epochs, data, val):
        rows = []
        for lr in rates:
            for seed in seeds:
                h, losses = train_run(lr, 64, 0, epochs, data, val)
                rows.append(sweep_row(lr, seed, h, has_diverged(losses)))
        return rows

    fails_naming(checks.check_lr_sweep, [lr_sweep], "recorded but the training does not use it", NB05,
                 "lr_sweep")


def test_not_every_rate_run():
    def lr_sweep(rates, seeds, epochs, data, val):
        rows = []
        for lr in rates[:-1]:
            for seed in seeds:
                h, losses = train_run(lr, 64, seed, epochs, data, val)
                rows.append(sweep_row(lr, seed, h, has_diverged(losses)))
        return rows

    fails_naming(checks.check_lr_sweep, [lr_sweep], "were not run", NB05, "lr_sweep")


def test_the_seeds_not_varied():
    def lr_sweep(rates, seeds, epochs, data, val):
        rows = []
        for lr in rates:
            h, losses = train_run(lr, 64, seeds[0], epochs, data, val)
            rows.append(sweep_row(lr, seeds[0], h, has_diverged(losses)))
        return rows

    fails_naming(checks.check_lr_sweep, [lr_sweep], "the seeds are not varied", NB05, "lr_sweep")


def test_a_run_stopped_in_its_first_epoch_judged_on_the_history_alone():
    def lr_sweep(rates, seeds, epochs, data, val):
        rows = []
        for lr in rates:
            for seed in seeds:
                h, _ = train_run(lr, 64, seed, epochs, data, val)
                diverged = has_diverged(h.train_loss)
                rows.append({"lr": lr, "seed": seed, "diverged": diverged, "epochs_run": len(h.epoch),
                             "val_acc": h.val_acc[-1] if h.val_acc else np.nan,
                             "test_acc": h.test_acc[-1] if h.test_acc else np.nan, "history": h})
        return rows

    fails_naming(checks.check_lr_sweep, [lr_sweep], "inside its first epoch", NB05, "lr_sweep")


# --- 05: choosing the rate -------------------------------------------------------------------


def test_rate_chosen_on_test_accuracy():
    def choose_rate(rows):
        rates = {r["lr"] for r in rows if not any(q["diverged"] for q in rows if q["lr"] == r["lr"])}
        return max(rates, key=lambda lr: np.mean([r["test_acc"] for r in rows if r["lr"] == lr]))

    fails_naming(checks.check_choose_rate, [choose_rate], "chosen on test accuracy", NB05, "choose_rate")


def test_rate_of_the_best_single_run():
    def choose_rate(rows):
        ok = [r for r in rows if not r["diverged"]]
        return max(ok, key=lambda r: r["val_acc"])["lr"]

    fails_naming(checks.check_choose_rate, [choose_rate], "best single run", NB05, "choose_rate")


def test_rate_that_diverged_for_one_seed():
    def choose_rate(rows):
        means = {}
        for lr in {r["lr"] for r in rows}:
            vals = [r["val_acc"] for r in rows if r["lr"] == lr and not r["diverged"]]
            if vals:
                means[lr] = np.mean(vals)
        return max(means, key=means.get)

    fails_naming(checks.check_choose_rate, [choose_rate], "diverged for one of its seeds", NB05,
                 "choose_rate")


def test_an_accuracy_returned_instead_of_a_rate():
    def choose_rate(rows):
        rates = {r["lr"] for r in rows if not any(q["diverged"] for q in rows if q["lr"] == r["lr"])}
        return max(mean_val(rows, lr) for lr in rates)

    fails_naming(checks.check_choose_rate, [choose_rate], "return the rate, not its accuracy", NB05,
                 "choose_rate")


def test_a_matrix_product_in_an_activation_is_explained_element_by_element():
    def swish(z):
        return z @ sigmoid(z)

    message = fails_naming(checks.check_activations, activations(swish=swish), "element by element", NB04,
                           "swish")
    assert "a shape mismatch" in message and "W0" not in message


def test_the_right_answers_pass_on_the_graders_hidden_inputs(capsys):
    """The grader judges these checks again with inputs from a secret seed (core.hidden_inputs)."""
    from utils.checks import core

    for salt in [(k * 2654435761) % (2**31 - 1) + 1 for k in range(1, 21)]:
        with core.hidden_inputs(salt):
            checks.check_activations(*activations())
            checks.check_parameter_count(n_parameters, width_for)
            checks.check_has_diverged(has_diverged)
            checks.check_choose_rate(choose_rate)
    assert capsys.readouterr().out.count("PASSED") == 80


def test_fixed_inputs_change_on_the_graders_hidden_inputs():
    """has_diverged and choose_rate are checked on fixed lists; the grader moves them."""
    from utils.checks import core, learning_rate

    verdicts = {True: [], False: []}
    table = {}
    for salt in (0, 101, 202):
        with core.hidden_inputs(salt):
            cases = learning_rate._divergence_cases()
            key = salt != 0
            verdicts[key].append(learning_rate._verdicts(lambda v, t: learning_rate._rule(v, t), cases))
            table[salt] = [list(map(float, losses)) for _, losses, _ in cases]
    assert table[0] != table[101] != table[202]  # other values, the same verdicts
    assert all(v == verdicts[False][0] for v in verdicts[True])

    answers = {}

    def hard_coded(rows):  # the visible answers, memorised
        key = tuple(sorted({r["lr"] for r in rows}))
        return answers.setdefault(key, choose_rate(rows))

    checks.check_choose_rate(hard_coded)
    frozen = dict(answers)

    def replay(rows):
        return frozen.get(tuple(sorted({r["lr"] for r in rows})), 0.3)

    checks.check_choose_rate(replay)
    with core.hidden_inputs(101), pytest.raises(CheckFailed):
        checks.check_choose_rate(replay)


def test_a_parameter_count_memorised_from_the_visible_cases_fails_on_hidden_ones():
    from utils.checks import core

    memo = {}
    checks.check_parameter_count(lambda sizes: memo.setdefault(tuple(sizes), n_parameters(sizes)), width_for)

    def replay(sizes):
        return memo.get(tuple(sizes), 1000)

    checks.check_parameter_count(replay, width_for)
    with core.hidden_inputs(5), pytest.raises(CheckFailed, match="n_parameters"):
        checks.check_parameter_count(replay, width_for)

"""Planted mistakes for the self-checks of notebooks 06 (over-fitting) and 07 (tool comparison).

Each planted mistake is the notebook's own exercise cell with a line or two changed the way a
student would write it. The test runs the cell's code, then the self-check, and asserts that
the check fails (``CheckFailed``), that its message names the mistake, and that it shows no line
of the solution that the student did not write (a crash may quote the student's own line, as it
does in Jupyter). The early-stopping check trains a 20-64-10 network on 100 points; the
measure_run checks use a stand-in for CodeCarbon (``real=False``), except one that runs the
real tracker once: the whole file takes a few tens of seconds.
"""

from __future__ import annotations

import itertools
import linecache
from pathlib import Path

import pytest
from notebook_exercises import exercise_cell as shared_exercise_cell
from notebook_exercises import solution_lines

from utils import checks, config  # noqa: F401  (config first: it quiets TensorFlow and CodeCarbon)
from utils.checks import CheckFailed

ROOT = Path(__file__).resolve().parent.parent
NB06 = "06_overfitting_study.ipynb"
NB07 = "07_tool_comparison.ipynb"

# What the notebooks import before their exercise cells.
PRELUDE = {
    NB06: ("import copy\nimport torch\nimport torch.nn.functional as F\nfrom torch import nn\n"
           "from utils import train\n"),
    NB07: ("import math\nimport time\nfrom utils import config\ntry:\n"
           "    from codecarbon import OfflineEmissionsTracker\nexcept Exception:\n"
           "    OfflineEmissionsTracker = None\n"),
}
_names = itertools.count()


def exercise_cell(notebook: str, name: str) -> str:
    """The source of the code cell that defines ``name`` inside a solution region."""
    return shared_exercise_cell(ROOT / "notebooks" / notebook, name)


def planted(notebook: str, name: str, *edits: tuple[str, str]):
    """The exercise ``name`` of ``notebook`` with each ``(old, new)`` edit applied, run as a cell
    of its own (its lines registered, as IPython does, so that a crash can quote them); returns
    the function or class and the code the student wrote."""
    source = exercise_cell(notebook, name)
    for old, new in edits:
        assert source.count(old) >= 1, f"{old!r} is not in the exercise {name}"
        source = source.replace(old, new)
    filename = f"<planted-{next(_names)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {"__name__": "__planted__"}
    exec(PRELUDE[notebook], namespace)
    exec(compile(source, filename, "exec"), namespace)
    return namespace[name], source


def fails_naming(check, exercise, phrase: str, notebook: str, name: str, written: str, **kwargs) -> str:
    """``check(exercise)`` must fail, name the mistake (``phrase``) and show no solution line that
    the student's code ``written`` does not contain."""
    with pytest.raises(CheckFailed) as info:
        check(exercise, **kwargs)
    message = str(info.value)
    assert phrase.lower() in message.lower(), f"{phrase!r} not in:\n{message}"
    own = {line.strip() for line in written.splitlines()}
    solution = solution_lines(exercise_cell(notebook, name))
    leaked = [line for line in solution if line in message and line not in own]
    assert not leaked, f"solution lines in the message: {leaked}\n{message}"
    return message


CHECKS = {
    "train_early_stopping": (NB06, checks.check_early_stopping, {}),
    "l2_loss": (NB06, checks.check_l2_loss, {}),
    "Dropout": (NB06, checks.check_dropout, {}),
    "measure_run": (NB07, checks.check_measure_run, {"real": False}),
    "epoch_flops": (NB07, checks.check_epoch_flops, {}),
}


# --- the solutions pass, a blank exercise is "not written yet" ------------------------------------


@pytest.mark.parametrize("name", CHECKS)
def test_the_notebooks_solution_passes(name, capsys):
    notebook, check, kwargs = CHECKS[name]
    exercise, _ = planted(notebook, name)
    check(exercise, **kwargs)
    assert capsys.readouterr().out.startswith(f"PASSED {name}")


@pytest.mark.parametrize("name", CHECKS)
def test_a_blank_exercise_is_not_written_yet(name):
    notebook, check, kwargs = CHECKS[name]
    stub = "# YOUR CODE HERE\n        raise NotImplementedError()" if name == "Dropout" else \
        "# YOUR CODE HERE\n    raise NotImplementedError()"
    source = exercise_cell(notebook, name)
    start = source.index("### BEGIN SOLUTION")
    end = source.index("### END SOLUTION") + len("### END SOLUTION")
    blank = source[:start] + stub + source[end:]
    namespace = {}
    exec(PRELUDE[notebook], namespace)
    exec(blank, namespace)
    with pytest.raises(CheckFailed, match=f"{name}: not written yet"):
        check(namespace[name], **kwargs)


def test_epoch_flops_passes_on_the_graders_hidden_inputs_and_a_hard_coded_one_fails(capsys):
    """The grader judges epoch_flops again on five other networks (utils.checks.core.hidden_inputs)."""
    from utils.checks import comparison, core

    exercise, _ = planted(NB07, "epoch_flops")
    table = {(tuple(s), n, b): exercise(s, n, b) for s, n, b in comparison.FLOP_CASES}

    def hard_coded(sizes, n, batch_size):
        return table.get((tuple(sizes), n, batch_size), 0.0)

    checks.check_epoch_flops(hard_coded)  # the visible cases only
    seen = set()
    for salt in range(1, 21):
        with core.hidden_inputs(salt * 7919):
            checks.check_epoch_flops(exercise)
            seen.add(str(comparison._flop_cases()))
            with pytest.raises(CheckFailed):
                checks.check_epoch_flops(hard_coded)
    assert capsys.readouterr().out.count("PASSED epoch_flops") == 21 and len(seen) == 20


def test_measure_run_passes_with_the_real_codecarbon(capsys):
    pytest.importorskip("codecarbon")
    exercise, _ = planted(NB07, "measure_run")
    checks.check_measure_run(exercise)
    assert "PASSED measure_run: 10 checks" in capsys.readouterr().out


# --- notebook 06: early stopping ------------------------------------------------------------------

EARLY_STOPPING = {
    "last weights kept": ([("    model.load_state_dict(best_state)\n", "")],
                          "keeps the weights of the last epoch"),
    "state_dict by reference": ([("copy.deepcopy(model.state_dict())", "model.state_dict()")],
                                "kept by reference"),
    "state_dict shallow copy": ([("copy.deepcopy(model.state_dict())", "model.state_dict().copy()")],
                                "kept by reference"),
    "chosen on the test set": ([("train.evaluate(model, *val)",
                                 "train.evaluate(model, data.x_test, data.y_test)")],
                               "the test set chose the epoch"),
    "counter not reset": ([("best_acc, best_epoch, waited = val_accs[-1], epoch, 0",
                            "best_acc, best_epoch = val_accs[-1], epoch")], "is not reset"),
    "patience one short": ([("if waited >= patience:", "if waited >= patience - 1:")], "one too short"),
    "patience one long": ([("if waited >= patience:", "if waited > patience:")], "one too long"),
    "never stops": ([("                break\n", "                pass\n")], "never stopped early"),
    "a tie counted as better": ([("if val_accs[-1] > best_acc:", "if val_accs[-1] >= best_acc:")],
                                "a tie with the best"),
    "best epoch from where it stopped": ([("    return val_accs, best_epoch",
                                           "    return val_accs, len(val_accs) - patience")],
                                         "wherever the run stops"),
    "same seed every epoch": ([("seed=seed + epoch - 1)", "seed=seed)")], "the same seed at every epoch"),
    "seed one too high": ([("seed=seed + epoch - 1)", "seed=seed + epoch)")], "seeds one too high"),
    "epochs from 0": ([("for epoch in range(1, epochs + 1):", "for epoch in range(epochs):"),
                       ("seed=seed + epoch - 1)", "seed=seed + epoch)")], "counted from 1"),
}


@pytest.mark.parametrize("mistake", EARLY_STOPPING)
def test_early_stopping_mistakes_are_named(mistake):
    edits, phrase = EARLY_STOPPING[mistake]
    exercise, written = planted(NB06, "train_early_stopping", *edits)
    fails_naming(checks.check_early_stopping, exercise, phrase, NB06, "train_early_stopping", written)


# --- notebook 06: L2 weight decay -----------------------------------------------------------------

L2 = {
    "biases penalised": ([(' if name.endswith("weight")', "")], "the penalty on the biases too"),
    "missing 1/2": ([("lam / 2 * penalty", "lam * penalty")], "without the factor 1/2 of this exercise's"),
    "norm, not squared": ([("(W ** 2).sum()", "W.norm()")], "the norm instead of the squared norm"),
    "root of the sum": ([("return F.cross_entropy(logits, y) + lam / 2 * penalty",
                          "return F.cross_entropy(logits, y) + lam / 2 * torch.sqrt(penalty)")],
                        "the square root of the sum of squares"),
    "wrong sign": ([("+ lam / 2 * penalty", "- lam / 2 * penalty")], "the wrong sign"),
    "penalty detached": ([("(W ** 2).sum()", "(W.detach() ** 2).sum()")], "cut off from the graph"),
    "backward inside": ([("return F.cross_entropy(logits, y) + lam / 2 * penalty",
                          "loss = F.cross_entropy(logits, y) + lam / 2 * penalty\n    loss.backward()\n"
                          "    return loss")], "call backward() itself"),
    "a plain number": ([("return F.cross_entropy(logits, y) + lam / 2 * penalty",
                         "return (F.cross_entropy(logits, y) + lam / 2 * penalty).item()")],
                       "a plain number"),
}


@pytest.mark.parametrize("mistake", L2)
def test_l2_mistakes_are_named(mistake):
    edits, phrase = L2[mistake]
    exercise, written = planted(NB06, "l2_loss", *edits)
    fails_naming(checks.check_l2_loss, exercise, phrase, NB06, "l2_loss", written)


# --- notebook 06: dropout -------------------------------------------------------------------------

OWN_MASK = ("mask = (torch.rand_like(x) >= self.p).to(x.dtype)  # 1 with probability 1 - p\n"
            "        return x * mask / (1 - self.p)")
DROPOUT = {
    "left on at evaluation": ([("        if not self.training:\n            return x\n", "")],
                              "dropout is left on at evaluation"),
    "self.train, not self.training": ([("if not self.training:", "if not self.train:")],
                                      "dropout is left on at evaluation"),
    "no 1/(1-p) scaling": ([("return x * mask / (1 - self.p)", "return x * mask")], "no 1/(1-p) scaling"),
    "p as the keep probability": ([(">= self.p)", "< self.p)")], "probability to KEEP"),
    "the same mask every call": ([("        mask = ", "        torch.manual_seed(0)\n        mask = ")],
                                 "the same units are dropped at every call"),
    "scaled at evaluation": ([("            return x\n", "            return x * (1 - self.p)\n")],
                             "scaled by 1 - p at evaluation"),
    "in place": ([("return x * mask / (1 - self.p)", "x *= mask / (1 - self.p)\n        return x")],
                 "changed its input in place"),
    "PyTorch's F.dropout": ([("        if not self.training:\n            return x\n", ""),
                             (OWN_MASK, "return torch.nn.functional.dropout(x, self.p, self.training)")],
                            "PyTorch's own dropout"),
    "PyTorch's nn.Dropout inside": ([("        if not self.training:\n            return x\n", ""),
                                     (OWN_MASK, "return nn.Dropout(self.p).train(self.training)(x)")],
                                    "PyTorch's own dropout"),
}


@pytest.mark.parametrize("mistake", DROPOUT)
def test_dropout_mistakes_are_named(mistake):
    edits, phrase = DROPOUT[mistake]
    exercise, written = planted(NB06, "Dropout", *edits)
    fails_naming(checks.check_dropout, exercise, phrase, NB06, "Dropout", written)


# --- notebook 07: measuring a run -----------------------------------------------------------------

MEASURE = {
    "milliseconds": ([("seconds = time.perf_counter() - start",
                       "seconds = (time.perf_counter() - start) * 1000")], "these are milliseconds"),
    "kg, not g": ([("kg * 1000", "kg")], "kilograms, not grams"),
    "energy of the CPU only": ([("energy_consumed", "cpu_energy")], "the CPU's energy only"),
    "emissions read as energy": ([("final_emissions_data.energy_consumed", "final_emissions_data.emissions")],
                                 "the emissions in kg (emissions), not the energy"),
    "tracker never stopped": ([("kg = tracker.stop() if tracker is not None else None",
                                "kg = None if tracker is None else tracker.final_emissions_data.emissions")],
                              "read before the tracker was stopped"),
    "tracker's start-up timed": ([("    start = time.perf_counter()\n    train_fn()", "    train_fn()"),
                                  ("    tracker = None\n    if Offline",
                                   "    start = time.perf_counter()\n    tracker = None\n    if Offline")],
                                 "includes the tracker's own start-up"),
    "crashes without CodeCarbon": ([("""    tracker = None
    if OfflineEmissionsTracker is not None:
        try:
            tracker = OfflineEmissionsTracker(country_iso_code=config.country(), output_methods=[])
            tracker.start()
        except Exception:
            tracker = None
""", """    tracker = OfflineEmissionsTracker(country_iso_code=config.country(), output_methods=[])
    tracker.start()
""")], "without codecarbon: your function crashed"),
    "0 instead of NaN": ([("return seconds, math.nan, math.nan", "return seconds, 0.0, 0.0")],
                         "both should be nan"),
    "no country": ([("country_iso_code=config.country(), ", "")], "country_iso_code is None"),
}


@pytest.mark.parametrize("mistake", MEASURE)
def test_measure_run_mistakes_are_named(mistake):
    edits, phrase = MEASURE[mistake]
    exercise, written = planted(NB07, "measure_run", *edits)
    fails_naming(checks.check_measure_run, exercise, phrase, NB07, "measure_run", written, real=False)


def test_time_time_is_accepted(capsys):
    """time.time() measures the same duration here: the check accepts it (the notebook says why
    perf_counter is the better clock)."""
    exercise, _ = planted(NB07, "measure_run", ("time.perf_counter()", "time.time()"))
    checks.check_measure_run(exercise, real=False)
    assert capsys.readouterr().out.startswith("PASSED measure_run")


# --- notebook 07: FLOPs of an epoch ---------------------------------------------------------------

FLOPS = {
    "backward pass forgotten": ([("return forward + weight_grads + delta_back", "return forward")],
                                "the forward pass only"),
    "delta not carried back": ([("return forward + weight_grads + delta_back",
                                 "return forward + weight_grads")],
                               "without the products that carry delta back"),
    "a multiply-add counted as 1": ([("2 * n * m * k", "n * m * k")], "a multiply-add counted as 1"),
    "delta carried to the input": ([("layers[1:]", "layers")], "delta carried back to the input layer"),
    "per batch": ([("2 * n * m * k", "2 * batch_size * m * k")], "the count of one batch"),
    "last batch counted as full": ([("    layers = list",
                                     "    n = -(-n // batch_size) * batch_size\n    layers = list")],
                                   "every batch counted as full"),
}


@pytest.mark.parametrize("mistake", FLOPS)
def test_epoch_flops_mistakes_are_named(mistake):
    edits, phrase = FLOPS[mistake]
    exercise, written = planted(NB07, "epoch_flops", *edits)
    fails_naming(checks.check_epoch_flops, exercise, phrase, NB07, "epoch_flops", written)


def test_every_failing_part_is_reported():
    """Several mistakes at once: one message lists them all."""
    exercise, written = planted(NB06, "Dropout", ("if not self.training:", "if not self.train:"),
                                ("return x * mask / (1 - self.p)", "return x * mask"))
    message = fails_naming(checks.check_dropout, exercise, "left on at evaluation", NB06, "Dropout", written)
    assert "no 1/(1-p) scaling" in message and "2 of 5 checks failed" in message

"""Self-checks of notebook 05, the learning-rate study.

- ``check_has_diverged``: the divergence rule (a NaN, an infinity or a loss above the
  threshold anywhere in the list) on twelve lists of losses;
- ``check_lr_sweep``: the sweep over rates and seeds, run on a tiny data set (a few
  hundred digits, two epochs, one rate that diverges at once);
- ``check_choose_rate``: the rate chosen on the mean validation accuracy over seeds,
  among the rates that never diverged, on rows built so that each common mistake
  picks a different rate.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from utils.checks.architecture import measured_on, rows_of, same_run, scramble_rng, tiny_data
from utils.checks.core import Check, hidden, seeded

__all__ = ["check_has_diverged", "check_lr_sweep", "check_choose_rate"]

THRESHOLD = 10 * math.log(10)  # utils.history.DIVERGED_LOSS
NAN, INF = float("nan"), float("inf")


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


# --- 1. the divergence rule ---------------------------------------------------------------

#: (what the list holds, losses, threshold or None for the default)
DIVERGENCE_CASES = (
    ("losses that go down normally", [2.30, 1.10, 0.52], None),
    ("a NaN as the last loss", [2.30, 1.10, NAN], None),
    ("a NaN as the only loss", [NAN], None),
    ("an inf as the last loss", [2.30, INF], None),
    ("a loss far above the threshold in the middle of the list", [2.30, 40.0, 1.90], None),
    ("a last loss just above 10 ln 10", [2.30, 1.50, 23.5], None),
    ("a loss just below 10 ln 10", [2.30, 22.9], None),
    ("losses that stay far above the threshold", [30.0, 45.0], None),
    ("a float32 NumPy array of ordinary losses", np.array([2.3, 0.9], dtype=np.float32), None),
    ("a loss above a threshold of 4 passed as argument", [2.30, 5.0, 3.0], 4.0),
    ("losses below a threshold of 4 passed as argument", [2.30, 3.0], 4.0),
    ("a NaN in the middle of a NumPy array", np.array([2.3, NAN, 0.5]), 100.0),
)


def _rule(values, t, nan=True, inf=True, above=True, wrong_way=False) -> bool:
    out = False
    for v in values:
        v = float(v)
        if math.isnan(v):
            out |= nan
        elif math.isinf(v):
            out |= inf if not wrong_way else True
        elif wrong_way:
            out |= v < t
        elif above:
            out |= v > t
    return out


def _divergence_cases():
    """:data:`DIVERGENCE_CASES`, or, for the grader's hidden inputs, the same with every finite loss
    moved by up to 0.2 % (no verdict changes: the closest loss is 0.6 % from the threshold)."""
    if not hidden():
        return DIVERGENCE_CASES
    rng = seeded(17)
    out = []
    for what, losses, t in DIVERGENCE_CASES:
        moved = [v if not math.isfinite(v) else v * (1 + rng.uniform(-0.002, 0.002))
                 for v in map(float, losses)]
        out.append((what, np.array(moved, dtype=losses.dtype) if isinstance(losses, np.ndarray) else moved,
                    t))
    return tuple(out)


def _verdicts(rule, cases=DIVERGENCE_CASES) -> list:
    return [bool(rule(list(losses), THRESHOLD if t is None else t)) for _, losses, t in cases]


DIVERGENCE_MISTAKES = {
    "NaN not detected: every comparison with NaN is False, so a NaN loss is never 'above' anything":
        lambda v, t: _rule(v, t, nan=False),
    "only the last loss looked at: a run that blew up earlier can end on any value":
        lambda v, t: bool(v) and _rule(v[-1:], t),
    "only the first loss looked at": lambda v, t: bool(v) and _rule(v[:1], t),
    "inf not detected: an infinite loss must count as diverged": lambda v, t: _rule(v, t, inf=False),
    "the threshold compared the wrong way: a run diverges when a loss is above it":
        lambda v, t: _rule(v, t, wrong_way=True),
    "the threshold passed as argument is ignored (the default 10 ln 10 is used)":
        lambda v, t: _rule(v, THRESHOLD),
    "the mean of the losses compared with the threshold, which dilutes one exploding loss":
        lambda v, t: _rule([float(np.mean(v))], t) if len(v) else False,
    "NaN and inf detected but the threshold never compared": lambda v, t: _rule(v, t, above=False),
}


def check_has_diverged(has_diverged):
    """``has_diverged(losses, threshold=10 * math.log(10))`` on twelve lists (NaN, inf, a
    blow-up in the middle, values either side of the threshold, NumPy arrays, another
    threshold), and on an empty list."""
    __tracebackhide__ = True  # noqa: F841
    check = Check("has_diverged")
    cases = _divergence_cases()
    got = []
    for what, losses, t in cases:
        copy = losses.copy() if isinstance(losses, np.ndarray) else list(losses)
        value = check.call(has_diverged, copy) if t is None else check.call(has_diverged, copy, threshold=t)
        if isinstance(value, (bool, np.bool_)) or (isinstance(value, (int, np.integer)) and value in (0, 1)):
            got.append(bool(value))
            continue
        shown = f"an array of shape {np.shape(value)}" if np.ndim(value) else repr(value)
        check.problem(f"has_diverged on {what}", f"returned {shown}; expected one True or False for the "
                      "whole run." + (" Is the return line missing?" if value is None else ""))
        check.done()
    expected = _verdicts(lambda v, t: _rule(v, t), cases)
    if got == expected:
        check.passed()
    else:
        wrong = [what for (what, _, _), g, e in zip(cases, got, expected) if g != e]
        named = [d for d, rule in DIVERGENCE_MISTAKES.items() if _verdicts(rule, cases) == got]
        listing = "; ".join(wrong)
        if named:
            check.problem("verdicts", f"this looks like {named[0]} (wrong on: {listing}).")
        else:
            check.problem("verdicts", f"wrong on: {listing}.")
    try:
        empty = has_diverged([])
    except NotImplementedError:
        raise
    except Exception as err:
        check.problem("has_diverged on an empty list", f"it raised {type(err).__name__}: with no loss "
                      "recorded, nothing diverged (answer False).")
    else:
        if empty is None or bool(empty):
            check.problem("has_diverged on an empty list", f"returned {empty!r}: with no loss recorded, "
                          "nothing diverged (answer False).")
        else:
            check.passed()
    check.done()


# --- 2. the sweep -------------------------------------------------------------------------

SWEEP_KEYS = ("lr", "seed", "diverged", "val_acc", "test_acc", "epochs_run", "history")


def _nan(value) -> bool:
    return _is_number(value) and math.isnan(value)


def _check_sweep_row(check: Check, r: dict, epochs: int, data, val) -> None:
    from utils.history import History

    h = r.get("history")
    where = f"λ = {r.get('lr')!r}, seed {r.get('seed')!r}"
    if not isinstance(h, History):
        check.problem(where, f"'history' is a {type(h).__name__}; keep the History that training returned.")
        return
    flagged = r.get("diverged")
    if not isinstance(flagged, (bool, np.bool_)):
        check.problem(where, f"'diverged' is {flagged!r}; expected True or False.")
    elif bool(flagged) != h.diverged:
        if h.diverged and not h.epoch:
            check.problem(where, "fit stopped this run inside its first epoch, but it is not flagged as "
                          "diverged: its History holds no loss at all. Judge the losses that train_run "
                          "returns, which include the epoch where the run stopped.")
        elif h.diverged:
            check.problem(where, "fit stopped this run as diverged, but it is not flagged.")
        else:
            check.problem(where, "flagged as diverged, but the run trained to the end without blowing up.")
    else:
        check.passed()
    if h.diverged:
        numbers_left = [k for k in ("val_acc", "test_acc") if not _nan(r.get(k))]
        if numbers_left:
            shown = ", ".join(f"{k} = {r.get(k)!r}" for k in numbers_left)
            check.problem(where, f"the accuracy of a diverged run is reported as a number ({shown}): give "
                          "NaN, so that no mean and no choice of rate can count it.")
        else:
            check.passed()
    else:
        if len(h.epoch) != epochs:
            check.problem(where, f"{len(h.epoch)} epochs trained; {epochs} were asked (the epochs argument, "
                          "not a notebook variable).")
        elif not (measured_on(h.train_acc, len(data.x_train)) and measured_on(h.test_acc, len(data.x_test))):
            check.problem(where, "trained or tested on another data set than `data`.")
        elif not h.has_val:
            check.problem(where, "the History has no validation accuracy: pass the validation set to the "
                          "training.")
        elif not measured_on(h.val_acc, len(val[1])):
            check.problem(where, "validated on another set than `val`.")
        else:
            check.passed()
        if h.has_val:
            check.compare(f"{where}: val_acc", r.get("val_acc"), h.val_acc[-1], {
                "the best validation accuracy over the epochs, not the last": max(h.val_acc),
                "the test accuracy": h.test_acc[-1], "the training accuracy": h.train_acc[-1]}, tol=1e-12)
        check.compare(f"{where}: test_acc", r.get("test_acc"), h.test_acc[-1], {
            "the best test accuracy over the epochs, not the last": max(h.test_acc),
            "the validation accuracy": h.val_acc[-1] if h.has_val else NAN,
            "the training accuracy": h.train_acc[-1]}, tol=1e-12)
    check.compare(f"{where}: epochs_run", r.get("epochs_run"), len(h.epoch), {
        "the epochs asked, not those the run did (a diverged run stops early)": epochs}, tol=0)


def check_lr_sweep(lr_sweep):
    """``lr_sweep(rates, seeds, epochs, data, val)`` for rates 0.01, 0.1 and 50 (which
    diverges at once) and seeds 3 and 5, two epochs on 307 digits: one row per (rate,
    seed) with ``lr``, ``seed``, ``diverged``, ``val_acc``, ``test_acc`` (NaN when
    diverged), ``epochs_run`` and ``history``."""
    __tracebackhide__ = True  # noqa: F841
    check = Check("lr_sweep")
    data, val = tiny_data()
    rates, seeds, epochs = [0.01, 0.1, 50.0], [3, 5], 2
    scramble_rng(4321)
    rows = rows_of(check, check.call(lr_sweep, list(rates), list(seeds), epochs, data, val), "run")
    missing = [k for k in SWEEP_KEYS if any(k not in r for r in rows)]
    if missing:
        check.problem("rows", f"no {', '.join(repr(k) for k in missing)} in the rows (each row needs "
                      f"{', '.join(SWEEP_KEYS)}).")
    got_rates = sorted({float(r["lr"]) for r in rows if _is_number(r.get("lr"))})
    got_seeds = sorted({r.get("seed") for r in rows if isinstance(r.get("seed"), (int, np.integer))})
    not_run = [lr for lr in rates if lr not in got_rates]
    if not_run:
        check.problem("rates", f"the rates {not_run} were not run (the rows hold {got_rates}): every rate "
                      "passed must be run.")
    elif [lr for lr in got_rates if lr not in rates]:
        check.problem("rates", f"the rows hold rates {got_rates}, not only those passed ({rates}).")
    if got_seeds != seeds:
        check.problem("seeds", (f"every row has seed {got_seeds[0]}: the seeds are not varied"
                                if len(got_seeds) == 1 else f"the rows hold seeds {got_seeds}")
                      + f"; each rate must be run once for each seed passed ({seeds}).")
    if len(rows) != len(rates) * len(seeds):
        check.problem("rows", f"{len(rows)} rows; expected one per rate and seed "
                      f"({len(rates)} x {len(seeds)} = {len(rates) * len(seeds)}).")
    if missing or not check.ok:
        check.done()
    for r in rows:
        _check_sweep_row(check, r, epochs, data, val)
    by_rate = {}
    for r in rows:
        by_rate.setdefault(float(r["lr"]), []).append(r["history"])
    if all(same_run(by_rate[0.1][0], other) for other in by_rate[0.1][1:]):
        check.problem("seeds", "the runs of different seeds at λ = 0.1 are identical: the seed is recorded "
                      "but the training does not use it.")
    if not any(h.diverged for h in by_rate.get(50.0, [])):
        check.problem("λ = 50", "no run at λ = 50 diverged: is the rate passed to the training?")
    check.done()


# --- 3. choosing the rate -----------------------------------------------------------------


def _rows_for_choice():
    """Rows of a sweep (7 rates x 3 seeds) on which each common mistake picks its own rate.

    right: 0.3 (best mean validation accuracy among the rates that never diverged);
    on test accuracy: 0.1; best single run: 0.01; first seed only: 0.03; dropping
    only the diverged runs: 1.0 (diverged for seed 0); lowest mean: 0.001."""
    val = {0.001: [0.60, 0.60, 0.60], 0.01: [0.80, 0.80, 0.99], 0.03: [0.97, 0.85, 0.85],
           0.1: [0.90, 0.90, 0.90], 0.3: [0.95, 0.95, 0.95], 1.0: [NAN, 0.96, 0.96], 10.0: [NAN, NAN, NAN]}
    test = {0.001: [0.61, 0.60, 0.62], 0.01: [0.81, 0.79, 0.92], 0.03: [0.90, 0.86, 0.85],
            0.1: [0.98, 0.98, 0.98], 0.3: [0.93, 0.94, 0.93], 1.0: [NAN, 0.94, 0.95], 10.0: [NAN, NAN, NAN]}
    rows = []
    for lr in val:
        for seed in range(3):
            diverged = math.isnan(val[lr][seed])
            rows.append({"lr": lr, "seed": seed, "diverged": diverged, "val_acc": val[lr][seed],
                         "test_acc": test[lr][seed], "epochs_run": 0 if diverged else 10})
    return rows


CHOICE_MISTAKES = {
    0.1: "the rate chosen on test accuracy: the test set must play no part in any choice, or its accuracy "
         "is no longer an honest estimate",
    0.01: "the best single run chosen, not the best mean over the seeds: one lucky seed is not a rate that "
          "works",
    0.03: "one seed's runs only: the choice must average over every seed",
    1.0: "a rate that diverged for one of its seeds: a rate with a diverged run is no candidate, whether "
         "its mean is NaN or taken over its other seeds only",
    10.0: "a rate whose runs all diverged (a NaN mean taken as the largest?)",
    0.001: "the lowest mean validation accuracy, not the highest",
}


def check_choose_rate(choose_rate):
    """``choose_rate(rows)`` on a 7-rate, 3-seed sweep built so that choosing on test
    accuracy, on the best single run, on one seed, or keeping a rate that diverged
    for one seed, each gives a different rate; and on the same sweep with every rate
    doubled and the rows shuffled."""
    __tracebackhide__ = True  # noqa: F841
    check = Check("choose_rate")
    rows = _rows_for_choice()
    scale = 2 if not hidden() else round(float(seeded(6).uniform(1.5, 3.0)), 3)  # the grader's: another
    doubled = [dict(r, lr=scale * r["lr"]) for r in rows]
    shuffled = [doubled[i] for i in seeded(5).permutation(len(doubled))]
    scenarios = [("a 7-rate, 3-seed sweep", rows, 1),
                 ("the same sweep, rates doubled, rows shuffled" if scale == 2 else
                  f"the same sweep, rates times {scale:g}, rows shuffled", shuffled, scale)]
    for what, given, scale in scenarios:
        got = check.call(choose_rate, [dict(r) for r in given])
        expected = 0.3 * scale
        if not _is_number(got):
            check.problem(what, f"returned {got!r}; expected one learning rate (a number)."
                          + (" Is the return line missing?" if got is None else ""))
            continue
        got = float(got)
        if math.isclose(got, expected, rel_tol=1e-9):
            check.passed()
            continue
        rates = {r["lr"] for r in given}
        named = {round(lr * scale, 9): d for lr, d in CHOICE_MISTAKES.items()}
        accuracies = {round(r[k], 6) for r in given for k in ("val_acc", "test_acc")
                      if not math.isnan(r[k])}
        if round(got, 9) in named:
            message = f"chose λ = {got:g}: this looks like {named[round(got, 9)]}."
        elif any(math.isclose(got, lr) for lr in rates):
            message = (f"chose λ = {got:g}, not the rate with the best mean validation accuracy over the "
                       "seeds among the rates that never diverged.")
        elif 0 < got <= 1 and (round(got, 6) in accuracies or 0.5 < got):
            message = f"returned {got:g}, which is not one of the rates: return the rate, not its accuracy."
        elif got.is_integer():
            message = (f"returned {got:g}, which is not one of the rates (a position?): return the rate "
                       "itself.")
        else:
            message = f"returned {got:g}, which is not one of the rates in the rows."
        check.problem(what, message)
    check.done()

"""Self-checks of notebook 04, the architecture study.

- ``check_activations``: leaky ReLU, ELU and swish with their derivatives, against the
  definitions of Vérine's PSL lecture and against finite differences of the student's
  own functions;
- ``check_parameter_count``: the parameter count of an MLP and the width that gives
  a depth about the same count;
- ``check_run_config``: the loop that trains one configuration for every seed, run on
  a tiny data set (a few hundred digits of the embedded sample, three epochs).

The references are the private functions below, for instructors and the curious.
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers

import numpy as np

from utils.checks.core import Check, diagnose, fail, hidden, seeded

__all__ = ["check_activations", "check_parameter_count", "check_run_config"]


# --- calling the student's function ------------------------------------------------------


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


# --- 1. activation functions -------------------------------------------------------------


def _reference(name: str, z, alpha: float | None = None) -> np.ndarray:
    """The right values of the activation ``name`` ("sigmoid", "leaky_relu", "elu", "swish", or one
    of those three with "_prime", its derivative) at ``z``; ``alpha`` None: its default."""
    alpha = {"leaky": 0.01, "elu": 1.0}.get(name.split("_")[0], 0.0) if alpha is None else alpha
    s = 1.0 / (1.0 + np.exp(-z))
    values = {
        "sigmoid": lambda: s,
        "leaky_relu": lambda: np.where(z > 0, z, alpha * z),
        "leaky_relu_prime": lambda: np.where(z > 0, 1.0, alpha),
        "elu": lambda: np.where(z > 0, z, alpha * (np.exp(np.minimum(z, 0)) - 1)),
        "elu_prime": lambda: np.where(z > 0, 1.0, alpha * np.exp(np.minimum(z, 0))),
        "swish": lambda: z * s,
        "swish_prime": lambda: s + z * s * (1 - s),
    }
    return values[name]()


ELEMENTWISE = ("An activation works element by element: its output has the shape of z, each entry computed "
               "from the same entry of z alone (an element-wise product, not the matrix product @).")


def _z_grid() -> np.ndarray:
    """Seeded test points in [-5, 5], none closer than 0.05 to the kink at 0, as a (6, 10) array."""
    rng = seeded(40)
    z = rng.uniform(0.05, 5.0, 60) * np.where(np.arange(60) % 2, 1.0, -1.0)
    return rng.permutation(z).reshape(6, 10)


def _activation_mistakes(name: str, z, alpha, default_alpha):
    """Wrong values students commonly produce, keyed by a description of the mistake."""
    s = _reference("sigmoid", z)
    a = alpha
    m = {}
    if name == "leaky_relu":
        m["the slope alpha applied on the positive side (z > 0) instead of the negative side"] = \
            np.where(z > 0, a * z, z)
        m["plain ReLU: the negative side is 0, the leak alpha z is missing"] = np.maximum(z, 0)
        m["min instead of max: max{alpha z, z} is the larger of the two"] = np.minimum(a * z, z)
        if a != default_alpha:
            m[f"the alpha passed ({a:g}) is ignored"] = _reference("leaky_relu", z, default_alpha)
    elif name == "leaky_relu_prime":
        m["the slope alpha applied on the positive side (z > 0) instead of the negative side"] = \
            np.where(z > 0, a, 1.0)
        m["the ReLU derivative: 0 for z < 0, where leaky ReLU has slope alpha"] = np.where(z > 0, 1.0, 0.0)
        m["the value alpha z on the negative side, not the slope alpha"] = np.where(z > 0, 1.0, a * z)
        m["the function itself, not its derivative"] = _reference("leaky_relu", z, a)
        if a != default_alpha:
            m[f"the alpha passed ({a:g}) is ignored"] = _reference("leaky_relu_prime", z, default_alpha)
    elif name == "elu":
        m["exp(z) without the -1 on the negative side (ELU is 0 at z = 0, and continuous there)"] = \
            np.where(z > 0, z, a * np.exp(np.minimum(z, 0)))
        m["the exponential branch applied to z > 0 instead of z < 0"] = \
            np.where(z > 0, a * (np.exp(z) - 1), z)
        m["plain ReLU: the negative side is 0"] = np.maximum(z, 0)
        if a != 1.0:
            m["the factor alpha missing on the negative side (or the alpha passed ignored)"] = \
                _reference("elu", z, 1.0)
    elif name == "elu_prime":
        m["the derivative written as exp(z) - 1 (that is the function, up to alpha): the derivative of "
          "alpha (e^z - 1) is alpha e^z"] = np.where(z > 0, 1.0, a * (np.exp(np.minimum(z, 0)) - 1))
        m["exp(z) - 1 on the negative side, without alpha"] = \
            np.where(z > 0, 1.0, np.exp(np.minimum(z, 0)) - 1)
        m["the value z on the positive side: the derivative of z is 1"] = \
            np.where(z > 0, z, _reference("elu_prime", z, a))
        m["the ReLU derivative: 0 for z < 0"] = np.where(z > 0, 1.0, 0.0)
        m["the function itself, not its derivative"] = _reference("elu", z, a)
        if a != 1.0:
            m["e^z without the factor alpha on the negative side (or the alpha passed ignored)"] = \
                _reference("elu_prime", z, 1.0)
    elif name == "swish":
        m["the sigmoid alone: swish multiplies it by z"] = s
        m["a sign slip in the exponent: z / (1 + e^{+z})"] = z * _reference("sigmoid", -z)
        m["the sigmoid's derivative"] = s * (1 - s)
    elif name == "swish_prime":
        m["the sigmoid alone: the product rule's second term, z times the sigmoid's derivative, "
          "is missing"] = s
        m["only the second term of the product rule: the sigmoid itself is missing"] = z * s * (1 - s)
        m["the derivative of the sigmoid alone, s(z)(1 - s(z)): swish is z times the sigmoid"] = s * (1 - s)
        m["the sigmoid's derivative taken as s(z) instead of s(z)(1 - s(z)) in the product rule"] = s + z * s
        m["the function itself, not its derivative"] = _reference("swish", z)
    return m


def _side_message(got, expected, z) -> str | None:
    """'right for z > 0 but wrong for z < 0' when the error sits on one side of 0."""
    g = np.asarray(got, dtype=np.float64)
    if g.shape != np.shape(expected) or not np.all(np.isfinite(g)):
        return None
    wrong = ~np.isclose(g, expected, rtol=1e-6, atol=1e-9)
    neg, pos = bool(wrong[z < 0].any()), bool(wrong[z > 0].any())
    if neg and not pos:
        return "right for z > 0 but wrong for z < 0."
    if pos and not neg:
        return "right for z < 0 but wrong for z > 0."
    return None


def _compare_values(check: Check, part: str, got, expected, z, mistakes) -> bool:
    message = diagnose(got, expected, mistakes)
    if message is None:
        check.passed()
        return True
    if message.startswith("differs from the reference"):
        message = _side_message(got, expected, z) or message
    check.problem(part, message)
    return False


def _finite_difference_agrees(check: Check, f_name, p_name, f, fp, z, kwargs, label) -> None:
    """The student's derivative against central differences of the student's own function."""
    eps = 1e-6
    plus = check.call(f, z + eps, hint=ELEMENTWISE, **kwargs)
    minus = check.call(f, z - eps, hint=ELEMENTWISE, **kwargs)
    slope_of_f = (np.asarray(plus, dtype=np.float64) - np.asarray(minus, dtype=np.float64)) / (2 * eps)
    got = check.call(fp, z.copy(), hint=ELEMENTWISE, **kwargs)
    g = np.asarray(got, dtype=np.float64) if got is not None else None
    if g is None or g.shape != z.shape or slope_of_f.shape != z.shape:
        return  # the shape problem is reported with the values
    bad = ~np.isclose(g, slope_of_f, rtol=1e-4, atol=1e-5)
    if not bad.any():
        check.passed()
        return
    side = ("for z < 0" if not bad[z > 0].any() else "for z > 0" if not bad[z < 0].any()
            else "on both sides of 0")
    check.problem(f"{p_name} against {f_name}{label}",
                  f"your derivative disagrees with the slope of your own {f_name} {side} (measured by "
                  "central differences (h(z + eps) - h(z - eps)) / 2 eps): at least one of the two is wrong.")


def check_activations(leaky_relu, leaky_relu_prime, elu, elu_prime, swish, swish_prime):
    """Leaky ReLU, ELU and swish and their derivatives, element by element on a (6, 10)
    array, with the default alpha and another one; plus each derivative against
    finite differences of the student's own function."""
    __tracebackhide__ = True  # noqa: F841
    check = Check("activation functions")
    z = _z_grid()
    families = [
        ("leaky_relu", leaky_relu, "leaky_relu_prime", leaky_relu_prime, 0.01, 0.2),
        ("elu", elu, "elu_prime", elu_prime, 1.0, 0.5),
        ("swish", swish, "swish_prime", swish_prime, None, None),
    ]
    for f_name, f, p_name, fp, default_alpha, other_alpha in families:
        settings = [({}, default_alpha)] + ([({"alpha": other_alpha}, other_alpha)] if other_alpha else [])
        for kwargs, alpha in settings:
            label = f"(z, alpha={alpha:g})" if kwargs else "(z)"
            for name, fn in ((f_name, f), (p_name, fp)):
                z_in = z.copy()
                got = check.call(fn, z_in, hint=ELEMENTWISE, **kwargs)
                expected = _reference(name, z, alpha)
                mistakes = _activation_mistakes(name, z, alpha, default_alpha)
                _compare_values(check, name + label, got, expected, z, mistakes)
                if not np.array_equal(z_in, z):
                    check.problem(name + label, "it changed its input array z in place (the caller's array "
                                  "is modified): compute a new array and leave z as it was.")
            _finite_difference_agrees(check, f_name, p_name, f, fp, z, kwargs, label)
    check.done()


# --- 2. parameter count ------------------------------------------------------------------


def _pairs(sizes):
    return list(zip(sizes[:-1], sizes[1:]))


def _n_params(sizes) -> int:
    return sum(m * n + n for m, n in _pairs(sizes))


def _count_mistakes(sizes) -> dict:
    """Wrong counts for ``sizes``, keyed by a description of the mistake."""
    pairs = _pairs(sizes)
    return {
        "the biases forgotten (weights only)": sum(m * n for m, n in pairs),
        "the output layer left out (only the layers into hidden units counted)":
            sum(m * n + n for m, n in pairs[:-1]),
        "the first layer (input to first hidden layer) left out: an off-by-one in the layer pairs":
            sum(m * n + n for m, n in pairs[1:]),
        "each layer's biases counted with its input size M: a layer has one bias per neuron it computes (N)":
            sum(m * n + m for m, n in pairs),
        "the input counted as a layer with biases of its own": _n_params(sizes) + sizes[0],
        "one bias per layer instead of one per neuron": sum(m * n + 1 for m, n in pairs),
    }


COUNT_CASES = ([784, 128, 10], [784, 64, 32, 10], [784, 10], [5, 3, 2], [784, 100, 100, 100, 10])


def _sizes(depth, w, n_in=784, n_out=10):
    return [n_in] + [w] * depth + [n_out]


def _bracket(depth, budget, count=_n_params, limit=4000) -> set:
    """The widths accepted for ``depth`` hidden layers and ``budget`` parameters under the
    rule ``count``: the largest width within the budget, and the next one (one of the two
    is the nearest)."""
    below = [w for w in range(1, limit) if count(_sizes(depth, w)) <= budget]
    w = max(below) if below else 1
    return {w, w + 1}


def _best_under(count, depth, budget, w) -> bool:
    """``w`` is the nearest width, or the largest within the budget, under the rule ``count``."""
    if w < 1:
        return False
    c = [count(_sizes(depth, v)) if v >= 1 else math.inf for v in (w - 1, w, w + 1)]
    nearest = abs(c[1] - budget) <= min(abs(c[0] - budget), abs(c[2] - budget))
    return nearest or c[1] <= budget < c[2]


WIDTH_CASES = ((1, 101_770), (2, 101_770), (3, 101_770), (4, 101_770), (2, 52_650), (3, 20_000))


def _student_count(n_parameters):
    def count(sizes):
        try:
            value = n_parameters(list(sizes))
            return float(value) if _is_number(value) else math.inf
        except Exception:
            return math.inf
    return count


def _count_cases():
    """:data:`COUNT_CASES` and :data:`WIDTH_CASES`, or, for the grader's hidden inputs, the first
    architecture and four others, and other budgets."""
    if not hidden():
        return COUNT_CASES, WIDTH_CASES
    rng = seeded(41)
    counts = [COUNT_CASES[0]] + [[int(v) for v in rng.integers(2, 900, rng.integers(2, 6))] for _ in range(4)]
    widths = [(depth, int(rng.integers(5_000, 300_000))) for depth in (1, 2, 3, 4, 2, 3)]
    return counts, widths


def check_parameter_count(n_parameters, width_for):
    """``n_parameters(sizes)`` on five architectures ([784, 128, 10] has 101,770), and
    ``width_for(depth, budget)`` for depths 1-4: the width whose count is about the
    budget (the largest width within it, or the nearest)."""
    __tracebackhide__ = True  # noqa: F841
    check = Check("parameter count")
    count_cases, width_cases = _count_cases()
    got = []
    for sizes in count_cases:
        value = check.call(n_parameters, list(sizes))
        got.append(float(value) if _is_number(value) else value)
    counts_ok = True
    if any(not _is_number(v) for v in got):
        bad = next(v for v in got if not _is_number(v))
        check.problem("n_parameters", f"returned {bad!r} ({type(bad).__name__}); expected a whole number.")
        counts_ok = False
    else:
        expected = [_n_params(s) for s in count_cases]
        mistakes = {d: [_count_mistakes(s)[d] for s in count_cases] for d in _count_mistakes(count_cases[0])}
        shown = ", ".join(f"{s} -> {int(v) if float(v).is_integer() else v}"
                          for s, v in zip(count_cases[:2], got))
        counts_ok = check.compare("n_parameters", got, expected, mistakes, tol=0,
                                  hint=f"(yours: {shown}; the first should be 101,770)")
        for s, v in zip(count_cases, got):
            if not float(v).is_integer():
                check.problem(f"n_parameters({s})", f"returned {v}; a count is a whole number.")
                break
    student_count = None if counts_ok else _student_count(n_parameters)

    for depth, budget in width_cases:
        part = f"width_for({depth}, {budget:,})"
        w = check.call(width_for, depth, budget)
        if not _is_number(w):
            check.problem(part, f"returned {w!r} ({type(w).__name__}); expected a width, a whole number "
                          "of units.")
            continue
        if not float(w).is_integer():
            check.problem(part, f"returned {w}; a width is a whole number of units.")
            continue
        w = int(w)
        accepted = _bracket(depth, budget)
        if w in accepted:
            check.passed()
            continue
        found = (f"{w} units give {_n_params(_sizes(depth, w)):,} parameters" if 0 < w < 10**6
                 else f"it returned {w}")
        wrong = {"the depth is ignored (the one-hidden-layer width for every depth)": _bracket(1, budget),
                 "one hidden layer too many (depth + 1 layers counted)": _bracket(depth + 1, budget),
                 "the budget passed is ignored": _bracket(depth, 101_770)}
        if depth > 1:
            wrong["one hidden layer too few (depth - 1 layers counted)"] = _bracket(depth - 1, budget)
        named = [d for d, ws in wrong.items() if w in ws and not ws & accepted]
        if student_count is not None and _best_under(student_count, depth, budget, w):
            named = ["the count of your n_parameters, which is wrong (see above)"]
        elif w > 1000 and any(_n_params(_sizes(depth, v)) == w for v in range(1, 2000)):
            named = ["a parameter count, not a width"]
        if named:
            check.problem(part, f"{found}: this looks like {named[0]}.")
        else:
            check.problem(part, f"{found}, not about {budget:,}: look for the width whose count is closest "
                          "to the budget (or the largest one within it).")
    check.done()


# --- 3. the sweep loop --------------------------------------------------------------------

ROW_KEYS = ("seed", "parameters", "test_acc", "seconds", "history")


@functools.lru_cache(maxsize=1)
def tiny_data(n_train: int = 307, n_test: int = 101, n_val: int = 93):
    """(Dataset of ``n_train`` + ``n_test`` digits of the embedded sample, (x_val, y_val)).
    Odd sizes, so that an accuracy measured on another set cannot pass for one of these."""
    from utils.data import Dataset, load_sample

    s = load_sample()
    ds = Dataset(s.x_train[:n_train], s.y_train[:n_train], s.x_test[:n_test], s.y_test[:n_test],
                 s.source, s.name)
    return ds, (s.x_train[n_train:n_train + n_val], s.y_train[n_train:n_train + n_val])


def _reference_run(sizes, activation, seed, epochs, data, lr, batch_size, model_seed=None, fit_seed=None):
    from utils import config, train

    config.seed_everything(seed if model_seed is None else model_seed)
    model = train.mlp(sizes, activation=activation)
    return train.fit(model, data, epochs, lr, batch_size, seed=seed if fit_seed is None else fit_seed)


def scramble_rng(seed: int) -> None:
    """Leave the global random state somewhere no run starts from, as a notebook's earlier cells would."""
    import torch

    torch.manual_seed(seed)
    np.random.seed(seed)


def rows_of(check: Check, rows, what: str) -> list:
    """The student's rows as a list of dicts, or a failure saying what came back."""
    __tracebackhide__ = True  # noqa: F841
    if rows is None:
        fail(f"{check.exercise}: returned None: is the return line missing?")
    if hasattr(rows, "to_dict") and hasattr(rows, "columns"):  # a pandas DataFrame
        rows = rows.to_dict("records")
    expected = f"expected a list of rows, one dict per {what}"
    if isinstance(rows, dict):
        fail(f"{check.exercise}: returned one dict; {expected}.")
    if not isinstance(rows, (list, tuple)) or not all(isinstance(r, dict) for r in rows):
        fail(f"{check.exercise}: returned {type(rows).__name__}; {expected}.")
    return list(rows)


def same_run(h, ref) -> bool:
    """``h`` is a History with the same training losses as ``ref``."""
    from utils.history import History

    return (isinstance(h, History) and len(h.train_loss) == len(ref.train_loss)
            and np.allclose(h.train_loss, ref.train_loss, rtol=1e-6, atol=0))


def measured_on(values, n) -> bool:
    """Every accuracy in ``values`` is a multiple of 1/n (it can have been measured on n samples)."""
    return all(abs(v * n - round(v * n)) < 1e-6 for v in values if _is_number(v) and math.isfinite(v))


SAME_SEED = ("every model is built with seed {}: the runs of different seeds start from the same "
             "initial weights")
UNSEEDED = ("two runs of the same seed differ: the seed is not set before the model is built, so its "
            "initial weights depend on what ran before")


class _Sweep:
    """The tiny problem ``check_run_config`` runs, and the reference runs it compares with."""

    # 3 epochs at 0.3: seed 3's test accuracy falls at the last epoch, so reporting the best epoch
    # instead of the last is caught (tests/test_mistakes_0405.py keeps it so)
    sizes, seeds, epochs, lr, batch = [784, 16, 10], [3, 5], 3, 0.3, 32

    def __init__(self, run_config):
        self.run_config = run_config
        self.data, _ = tiny_data()
        self.kwargs = {"lr": self.lr, "batch_size": self.batch}

    def student(self, check, activation, seeds, rng):
        scramble_rng(rng)
        rows = check.call(self.run_config, list(self.sizes), activation, list(seeds), self.epochs, self.data,
                    **self.kwargs)
        return rows_of(check, rows, "seed")

    def reference(self, seed, activation="relu", lr=None, batch=None, **change):
        return _reference_run(self.sizes, activation, seed, self.epochs, self.data, lr or self.lr,
                              batch or self.batch, **change)

    def why_different(self, seed, h) -> str:
        """Name what makes the student's run of ``seed`` differ from the reference run."""
        variants = {"the batch order does not follow the seed (fit is given a fixed seed, or none)":
                    {"fit_seed": 0}}
        if seed != self.seeds[0]:
            variants[SAME_SEED.format(self.seeds[0])] = {"model_seed": self.seeds[0]}
            variants[SAME_SEED.format(0)] = {"model_seed": 0}
        for description, change in variants.items():
            if same_run(h, self.reference(seed, **change)):
                return description
        params = inspect.signature(self.run_config).parameters
        defaults = {k: params[k].default for k in self.kwargs
                    if k in params and params[k].default is not inspect.Parameter.empty}
        if defaults and any(defaults[k] != self.kwargs[k] for k in defaults):
            if same_run(h, self.reference(seed, lr=defaults.get("lr"), batch=defaults.get("batch_size"))):
                return "the lr or batch_size passed is ignored (the notebook's values are used)"
        return "not the run of a model seeded (config.seed_everything) just before it is built"


def _check_row(check: Check, sweep: _Sweep, seed: int, r: dict, repeatable: bool) -> None:
    from utils.history import History

    h = r.get("history")
    if "history" in r and not isinstance(h, History):
        check.problem(f"history (seed {seed})", f"is a {type(h).__name__}; keep the History that fit "
                      "returned.")
        return
    if h is None:
        return
    data = sweep.data
    if len(h.epoch) != sweep.epochs:
        check.problem(f"history (seed {seed})", f"{len(h.epoch)} epochs trained; {sweep.epochs} were asked "
                      "(the epochs argument, not a notebook variable).")
    elif not (measured_on(h.train_acc, len(data.x_train)) and measured_on(h.test_acc, len(data.x_test))):
        check.problem(f"history (seed {seed})", "trained or evaluated on another data set than `data`.")
    elif repeatable and not same_run(h, sweep.reference(seed)):
        check.problem(f"training (seed {seed})", sweep.why_different(seed, h) + ".")
    else:
        check.passed()
    if "test_acc" in r and h.test_acc:
        check.compare(f"test_acc (seed {seed})", r["test_acc"], h.test_acc[-1], {
            "the best test accuracy over the epochs: report the last epoch's (picking the best one "
            "peeks at the test set)": max(h.test_acc),
            "the training accuracy, not the test accuracy": h.train_acc[-1],
            "the first epoch's test accuracy, not the last": h.test_acc[0],
            "a percentage: keep the fraction in [0, 1]": 100 * h.test_acc[-1],
            "the whole list of test accuracies: keep the last one": h.test_acc,
        }, tol=1e-12)
    if "seconds" in r and h.seconds:
        s, recorded = r["seconds"], h.seconds[-1]
        message = diagnose(s, recorded, {
            "the sum of the History's seconds, which are already cumulative": sum(h.seconds),
            "the first epoch's time only (the History's seconds are cumulative)": h.seconds[0],
        }, tol=1e-9)
        if message and message.startswith("differs") and _is_number(s) and s > recorded:
            message = (f"{s:.4f} s, longer than the {recorded:.4f} s of training the History records: "
                       "the time measured includes something else (building the model, evaluating): "
                       "read it from the History.")
        if message:
            check.problem(f"seconds (seed {seed})", message)
        else:
            check.passed()


def check_run_config(run_config):
    """``run_config(sizes, activation, seeds, epochs, data, lr=..., batch_size=...)`` on 307
    digits, three epochs: one row per seed with ``seed``, ``parameters``, ``test_acc``,
    ``seconds`` and ``history``, each run seeded before its model is built."""
    __tracebackhide__ = True  # noqa: F841
    from utils.history import History

    check = Check("run_config")
    sweep = _Sweep(run_config)
    seeds = sweep.seeds
    rows = sweep.student(check, "relu", seeds, rng=1234)
    if len(rows) != len(seeds):
        what = "one row for the whole configuration" if len(rows) == 1 else f"{len(rows)} rows"
        check.problem("rows", f"{what} for {len(seeds)} seeds: expected one row per seed (one per run).")
        check.done()
    for key in ROW_KEYS:
        if any(key not in r for r in rows):
            check.problem("rows", f"no '{key}' in the rows (each row needs {', '.join(ROW_KEYS)}).")
    got_seeds = [r.get("seed") for r in rows]
    if "seed" in rows[0] and got_seeds != seeds:
        if len(set(map(repr, got_seeds))) == 1:
            check.problem("seed", f"every row records the same seed ({got_seeds[0]!r}); the runs were "
                          f"asked for seeds {seeds}, one each.")
        else:
            check.problem("seed", f"the rows record seeds {got_seeds}, but the seeds passed were {seeds}: "
                          "use the argument, not a notebook variable.")
    if "parameters" in rows[0]:
        n = _n_params(sweep.sizes)
        check.compare("parameters", rows[0]["parameters"], n, _count_mistakes(sweep.sizes), tol=0,
                      hint=f"(it says {rows[0]['parameters']!r}; {sweep.sizes} has {n:,})")
    repeatable = True
    histories = [r.get("history") for r in rows]
    if not all(same_run(h, sweep.reference(seed)) for seed, h in zip(seeds, histories)):
        again = [r.get("history") for r in sweep.student(check, "relu", seeds, rng=999)]
        if any(isinstance(h, History) and not same_run(h2, h) for h, h2 in zip(histories, again)):
            repeatable = False
            check.problem("training", UNSEEDED + ".")
    for seed, r in zip(seeds, rows):
        _check_row(check, sweep, seed, r, repeatable)
    if check.ok:  # the activation reaches the model
        rows_t = sweep.student(check, "tanh", seeds[:1], rng=77)
        h = rows_t[0].get("history") if rows_t else None
        if same_run(h, sweep.reference(seeds[0], activation="tanh")):
            check.passed()
        elif same_run(h, sweep.reference(seeds[0])):
            check.problem("activation", "with activation='tanh' it trains the ReLU network: the activation "
                          "argument is ignored.")
        else:
            check.problem("activation", "with activation='tanh' it does not train the tanh network.")
    check.done()

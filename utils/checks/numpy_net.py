"""Self-checks of notebook 01's exercises (the NumPy network).

Each ``check_*`` calls the student's function on seeded inputs, compares what
comes back with the reference (:mod:`utils.reference`, or a few lines here),
and names the common mistake it recognises: each wrong variant is computed from
the reference and passed to :meth:`Check.compare`, or a property is tested
directly. Every failing part is reported at once, a blank exercise says "not
written yet", and no message shows a line of the solution.

One helper here goes beyond :mod:`utils.checks.core`: :func:`_agree` (a hint
only when no known mistake matched).
"""

from __future__ import annotations

import numpy as np

from utils.checks.core import CRASHED, Check, diagnose, hidden, salted, seeded
from utils.checks.networks import activate, gradients, he_params, layer_values, outputs_tuple

__all__ = ["check_one_hot", "check_relu", "check_relu_prime", "check_softmax", "check_cross_entropy",
           "check_accuracy", "check_init_params", "check_forward", "check_backward",
           "check_numerical_gradient", "check_gradient_check", "check_evaluate_numpy", "check_sgd_epoch",
           "check_per_class_accuracy", "check_most_confident_mistakes"]

NAMES = ("W0", "b0", "W1", "b1")


# --- what every check of this module shares ---------------------------------------------


def _agree(check: Check, part: str, got, expected, mistakes: dict | None = None, hint: str = "",
           tol: float = 1e-6) -> bool:
    """``check.compare``, adding ``hint`` only when the mismatch is not a recognised mistake."""
    message = diagnose(got, expected, mistakes or {}, tol)
    named = message is not None and message.startswith("this looks like")
    return check.compare(part, got, expected, mistakes, tol=tol, hint="" if named else hint)


def _arrays(values) -> list | None:
    """Float64 copies of a sequence of arrays, or None when one of them is not an array of numbers."""
    try:
        return [np.asarray(v, dtype=np.float64) for v in values]
    except (TypeError, ValueError):
        return None


def _small_problem(seed=4, n=16, n_in=20, n_hidden=12, n_out=10, margin=0.0):
    """``[W0, b0, W1, b1]`` (float64, non-zero biases), a batch X and one-hot Y; with a ``margin``,
    no hidden pre-activation z0 closer than that to ReLU's kink at 0 (finite differences across
    the kink would fail a right answer, on whatever inputs the grader draws)."""
    rng = seeded(seed)
    p = he_params([n_in, n_hidden, n_out], salted(seed))
    p[1] = 0.1 * rng.standard_normal(n_hidden)
    p[3] = 0.1 * rng.standard_normal(n_out)
    X = rng.random((n, n_in))
    Y = np.eye(n_out)[rng.integers(0, n_out, n)]
    while np.min(np.abs(X @ p[0] + p[1])) < margin:
        p[1] = 0.1 * rng.standard_normal(n_hidden)
    return p, X, Y


# --- data: the one-hot labels ---------------------------------------------------------------


def check_one_hot(one_hot):
    """``one_hot(y, num_classes)``: a float32 (D, num_classes) matrix with one 1 per row."""
    __tracebackhide__ = True  # noqa: F841
    check = Check("one_hot")
    dtype_checked = False
    for y, n in ((np.array([3, 0, 9, 3, 1, 7]), 10), (np.array([2, 0, 1, 1, 2]), 3)):
        got = check.call(one_hot, y.copy(), n)
        expected = np.eye(n, dtype=np.float32)[y]
        every_label = np.zeros((len(y), n))
        every_label[:, np.unique(y)] = 1
        mistakes = {
            "one column per sample instead of one row per sample (samples are rows here)": expected.T,
            "a 1 in the columns of all the labels of the batch on every row, not only in the row's own "
            "label (pair each row with its own label)": every_label,
            "10 columns whatever num_classes says": np.eye(10)[y],
            "the labels themselves, not their one-hot rows": y,
        }
        _agree(check, f"one_hot({y.tolist()}, {n})", got, expected, mistakes,
               hint="Row i must hold a single 1, in column y[i].")
        if not dtype_checked and isinstance(got, np.ndarray) and got.shape == expected.shape:
            dtype_checked = True
            check.require("dtype", got.dtype == np.float32,
                     f"{got.dtype}, expected float32, the dtype of the images and the weights: with "
                     f"{got.dtype} labels, a1 - Y and every gradient after it would become "
                     f"{np.result_type(np.float32, got.dtype)}.")
    check.done()


# --- building blocks -------------------------------------------------------------------------


def _relu_inputs():
    rng = seeded(0)
    zs = [np.array([-2.0, -0.5, 0.0, 0.5, 3.0]), rng.standard_normal((3, 4)),
          rng.standard_normal((64, 128)).astype(np.float32)]
    zs[1][0, 1] = zs[2][5, 7] = 0.0  # exact zeros, where ReLU's derivative is a convention
    return zs


def _describe(z) -> str:
    return f"a {z.dtype} array of shape {z.shape}"


def _relu_crash(err) -> str | None:
    """The mistake behind a crash of relu, when its error names it."""
    text = str(err)
    if isinstance(err, TypeError) and "scalar index" in text:
        return ("np.max(0, z)? np.max reduces ONE array along an axis (its second argument is an axis, "
                "and z is not one): ReLU compares each entry of z with 0, element by element, and NumPy's "
                "element-by-element maximum of two arrays is another function than np.max.")
    if isinstance(err, ValueError) and "truth value" in text:
        return ("Python's max(0, z), or an `if` on z, asks whether a whole array is larger than 0, which "
                "has no single answer: ReLU compares each entry of z with 0, element by element (NumPy "
                "has an element-by-element maximum, or use a mask).")
    return None


def check_relu(relu):
    """``relu(z)``: max(0, z) element by element, for any shape, without changing z."""
    __tracebackhide__ = True  # noqa: F841
    check = Check("relu")
    for z in _relu_inputs():
        z_in = z.copy()
        got = check.call(relu, z_in, explain=_relu_crash)
        mistakes = {
            "the absolute value |z|, not max(0, z)": np.abs(z),
            "min(0, z): the negative part kept instead of the positive part": np.minimum(z, 0),
            "the largest entry along axis 0 (a reduction of the whole array), not a comparison of each "
            "entry with 0": z.max(axis=0),
            "the 0/1 mask of the positive entries, which is the derivative (next exercise), not ReLU": z > 0,
            "z unchanged: ReLU turns the negative entries into 0": z,
        }
        _agree(check, f"relu on {_describe(z)}", got, activate("ReLU", z), mistakes,
               hint="ReLU keeps each positive entry and replaces each negative one by 0.")
        check.require(f"relu on {_describe(z)}", np.array_equal(z_in, z),
                 "changed its input z in place. forward keeps z0 for backward, which needs it intact: "
                 "compute a new array.")
        if isinstance(got, np.ndarray) and got.shape == z.shape and got.dtype != z.dtype:
            check.problem(f"relu on {_describe(z)}",
                          f"returned {got.dtype}; keep the dtype of z ({z.dtype}), or the whole forward "
                          "pass changes precision.")
    check.done()


def check_relu_prime(relu_prime):
    """``relu_prime(z)``: 1 where z > 0 and 0 elsewhere (0 at z = 0), with the dtype of z."""
    __tracebackhide__ = True  # noqa: F841
    check = Check("relu_prime")
    dtype_told = False
    for z in _relu_inputs():
        got = check.call(relu_prime, z.copy())
        mistakes = {
            "a derivative of 1 at z = 0: the convention here (as in every library) is h'(0) = 0": z >= 0,
            "z itself, not the derivative": z,
            "ReLU itself, max(0, z), not its derivative": activate("ReLU", z),
            "the comparison the wrong way round (1 for the negative entries)": z < 0,
            "the comparison the wrong way round (1 for the entries <= 0)": z <= 0,
        }
        _agree(check, f"relu_prime on {_describe(z)}", got, activate("ReLU'", z), mistakes,
               hint="The derivative is 1 where z > 0 and 0 where z <= 0, entry by entry.")
        if isinstance(got, np.ndarray) and got.shape == z.shape and got.dtype != z.dtype and not dtype_told:
            dtype_told = True  # once is enough
            if got.dtype == bool:
                what = ("a boolean array (True/False), not numbers: return 0.0 and 1.0 with the dtype "
                        f"of z ({z.dtype})")
            elif not np.issubdtype(got.dtype, np.floating):
                what = (f"an array of integers ({got.dtype}): return 0.0 and 1.0 with the dtype of z "
                        f"({z.dtype})")
            else:
                what = (f"{got.dtype} for a {z.dtype} z: keep the dtype of z, or every gradient that "
                        f"backward multiplies by it becomes {np.result_type(got.dtype, z.dtype)}")
            check.problem(f"relu_prime on {_describe(z)}", what + ".")
    check.done()


SOFTMAX_SHAPE_HINT = ("z has one row per sample, shape (D, N). A maximum or a sum along axis 1 gives one "
                      "number per row, shape (D,), and NumPy lines such an array up with the last axis of "
                      "z (the columns), not with its rows: is the keepdims argument missing?")


def _softmax_mistakes(z) -> dict:
    """The wrong softmaxes students write, each computed on ``z``."""
    with np.errstate(all="ignore"):
        e_rows = np.exp(z - z.max(axis=1, keepdims=True))
        e_cols = np.exp(z - z.max(axis=0, keepdims=True))
        e_all = np.exp(z - z.max())
        naive = np.exp(z)
        mistakes = {
            "the maximum and the sum taken over axis 0 (down each column, across the samples) instead of "
            "along each row": e_cols / e_cols.sum(axis=0, keepdims=True),
            "the sum taken over axis 0 (across the samples) instead of along each row":
                e_rows / e_rows.sum(axis=0, keepdims=True),
            "the maximum taken over axis 0 (per column): subtracting a different number from each entry "
            "of a row changes the result": e_cols / e_cols.sum(axis=1, keepdims=True),
            "no maximum subtracted: exp overflows on large scores, and inf / inf is NaN":
                naive / naive.sum(axis=1, keepdims=True),
            "the maximum of the whole array subtracted, not each row's own: a row far below the largest "
            "score underflows to 0 / 0": e_all / e_all.sum(axis=1, keepdims=True),
            "each row divided by the sum over the whole array, not by its own sum (the rows no longer sum "
            "to 1)": e_all / e_all.sum(),
            "each row divided by the sum over the whole array, not by its own sum (the rows no longer sum "
            "to 1; and subtracting each row's own maximum no longer cancels out)": e_rows / e_rows.sum(),
            "the exponentials not divided by their sum (not normalised)": e_rows,
        }
        if z.shape[0] == z.shape[1]:  # without keepdims the shapes broadcast, wrongly
            m, s = z.max(axis=1), e_rows.sum(axis=1)
            e_m = np.exp(z - m)
            keepdims = "keepdims missing: the {} of shape (D,) were lined up with the columns, not the rows"
            mistakes[keepdims.format("row maxima and sums")] = e_m / e_m.sum(axis=1)
            mistakes[keepdims.format("row maxima")] = e_m / e_m.sum(axis=1, keepdims=True)
            mistakes[keepdims.format("row sums")] = e_rows / s
    return mistakes


def check_softmax(softmax):
    """``softmax(z)``: row-wise softmax of a (D, N) array, stable for large scores."""
    __tracebackhide__ = True  # noqa: F841
    check = Check("softmax")
    rng = seeded(1)
    cases = {"a 4 x 10 batch of random scores": rng.standard_normal((4, 10)),
             "a 10 x 10 batch of random scores": 3 * rng.standard_normal((10, 10)),
             "large scores, [[1000, 1001, 999], [-1000, -1000, -999]]":
                 np.array([[1000.0, 1001.0, 999.0], [-1000.0, -1000.0, -999.0]]),
             "scores far apart within a row, [[0, 1000, -1000], [-1000, 0, 1000]]":  # which shift is safe
                 np.array([[0.0, 1000.0, -1000.0], [-1000.0, 0.0, 1000.0]])}
    for what, z in cases.items():
        z_in = z.copy()
        with np.errstate(all="ignore"):  # an overflow is reported below, not warned about
            got = check.call(softmax, z_in, hint=SOFTMAX_SHAPE_HINT, part=f"on {what}")
        if got is CRASHED:
            continue
        _agree(check, f"on {what}", got, activate("softmax", z), _softmax_mistakes(z),
               hint="Each row must hold positive numbers that sum to 1.")
        check.require(f"on {what}", np.array_equal(z_in, z),
                 "changed its input z in place: compute new arrays, and leave z as it was.")
    check.done()


def _cross_entropy_mistakes(a, Y) -> dict:
    n = len(a)
    with np.errstate(all="ignore"):
        per_sample = -np.sum(Y * np.log(a), axis=1)
        risk = per_sample.mean()
        return {
            f"the sum over the batch instead of the mean (a factor D = {n} too large)": per_sample.sum(),
            "the mean over all D x 10 entries instead of over the D samples (a factor 10 too small)":
                risk / 10,
            "the minus sign missing: a loss is positive, and small for a good prediction": -risk,
            "the base-10 logarithm instead of the natural log ln": risk / np.log(10),
            "the log of every output added up, not only the true class's (the one-hot y must pick it)":
                -np.mean(np.sum(np.log(a), axis=1)),
            "y and a swapped: the log of the one-hot y is -inf wherever y is 0":
                -np.mean(np.sum(a * np.log(Y), axis=1)),
            "ln(1 - a) instead of ln(a)": -np.mean(np.sum(Y * np.log(1 - a), axis=1)),
            "the per-sample losses J_i, not their mean R_D (return one number)": per_sample,
            "the sum taken over the samples (axis 0) and the mean over the classes: the two axes swapped":
                -np.mean(np.sum(Y * np.log(a), axis=0)),
        }


def check_cross_entropy(cross_entropy):
    """``cross_entropy(a, Y)``: the empirical risk R_D, the mean over the batch of -sum_n y_n ln a_n."""
    __tracebackhide__ = True  # noqa: F841
    check = Check("cross_entropy")
    rng = seeded(2)
    for n in (1, 5, 50):
        a = activate("softmax", 2 * rng.standard_normal((n, 10)))
        Y = np.eye(10)[rng.integers(0, 10, n)]
        with np.errstate(all="ignore"):
            got = check.call(cross_entropy, a.copy(), Y.copy())
        risk = -np.mean(np.sum(Y * np.log(a), axis=1))
        _agree(check, f"a batch of D = {n}", got, risk, _cross_entropy_mistakes(a, Y),
               hint="One number: minus the mean over the D rows of the sum over the classes of y ln a.")
    check.done()


ACCURACY_SHAPE_HINT = ("a holds one row of 10 outputs per sample, shape (D, 10); the predicted classes must "
                       "be one per sample, shape (D,), like y. Over which axis is the largest output taken?")


def check_accuracy(accuracy):
    """``accuracy(a, y)``: the fraction of rows whose largest output is at index y."""
    __tracebackhide__ = True  # noqa: F841
    check = Check("accuracy")
    rng = seeded(3)
    for n in (10, 37, 200):
        a = activate("softmax", 2 * rng.standard_normal((n, 10)))
        a[0] = np.eye(10)[a[0].argmax()]  # the largest output of the whole batch in row 0, at a label's index
        y = np.where(rng.random(n) < 0.6, a.argmax(axis=1), rng.integers(0, 10, n))
        y[0] = a[0].argmax()
        if n == a.shape[1]:  # labels that an argmax over axis 0 gets right in 2 rows, and wrong elsewhere
            rows, cols = a.argmax(axis=1), a.argmax(axis=0)
            y = np.where(np.arange(n) < 5, rows, (rows + 1 + (rows + 1 == cols)) % 10)
            y[8:] = np.where(cols[8:] != rows[8:], cols[8:], y[8:])
        pred, right = a.argmax(axis=1), a.argmax(axis=1) == y
        mistakes = {}
        if n == a.shape[1]:  # over axis 0 the shapes still agree when D = 10
            mistakes["the predicted classes taken over axis 0 (one per column), not one per row"] = \
                np.mean(a.argmax(axis=0) == y)
        mistakes |= {
            "np.argmax with no axis: one index into the whole array, flattened, not one predicted class per "
            "row": np.mean(a.argmax() == y),
            "the probabilities compared with the labels, not the predicted classes (the index of each "
            "row's largest output)": np.mean(a.max(axis=1) == y),
            "a count of correct predictions, not the fraction": right.sum(),
            "a percentage, not a fraction between 0 and 1": 100 * right.mean(),
            "the error rate (the fraction of wrong predictions), not the accuracy": 1 - right.mean(),
            "one True/False per sample, not their mean": right,
            "the smallest output taken as the prediction instead of the largest":
                np.mean(a.argmin(axis=1) == y),
            "the predicted classes": pred,
        }
        got = check.call(accuracy, a.copy(), y.copy(), hint=ACCURACY_SHAPE_HINT, part=f"D = {n} samples")
        if got is CRASHED:
            continue
        _agree(check, f"D = {n} samples", got, right.mean(), mistakes,
               hint="The fraction (0 to 1) of rows whose largest output is at the index given by y.")
    check.done()


# --- initialisation -----------------------------------------------------------------------------


ZERO_WEIGHTS = {
    "W0": "all zero: every hidden neuron then computes the same z, receives the same delta and the same "
          "update, so they stay identical copies of each other for ever (an experiment in section 5 shows "
          "it). Draw the weights at random.",
    "W1": "all zero: the ten output neurons then start equal, and the hidden layer receives no gradient "
          "at the first step (delta0 goes back through W1). Draw the weights at random, as for W0.",
}


def _weight_scale_problem(name: str, w: np.ndarray, M: int, N: int) -> str | None:
    """What is wrong with the spread of weight matrix ``name``, from M inputs to N neurons, or None."""
    target = np.sqrt(2 / M)
    if not np.any(w):
        return ZERO_WEIGHTS[name]
    mean, std = float(w.mean()), float(w.std())
    if abs(mean) > 0.25 * std and abs(mean) > 5 * std / np.sqrt(w.size):
        return (f"mean {mean:.3g}, standard deviation {std:.3g}: the weights must be centred on 0 "
                "(a normal distribution of mean 0), with positive and negative values.")
    if abs(std / target - 1) <= 0.1:
        return None
    candidates = {
        "a standard normal draw that was not scaled (standard deviation 1): z then grows with the "
        "number of inputs M": 1.0,
        f"sqrt(2/N) with N = {N}, the number of neurons of this layer (its fan-out); He's rule divides by "
        f"M = {M}, the number of inputs of each neuron": np.sqrt(2 / N),
        "2/M, the variance, where the standard deviation sqrt(2/M) belongs": 2 / M,
        "sqrt(1/M), the rule for tanh-like activations; ReLU zeroes half of its inputs, hence He's 2/M":
            np.sqrt(1 / M),
    }
    seen = [what for what, s in candidates.items() if abs(std / s - 1) <= 0.1]
    named = f": this looks like {seen[0]}" if seen else ""
    return f"standard deviation {std:.3g}, expected sqrt(2/M) = {target:.3g} with M = {M}{named}."


def check_init_params(init_params):
    """``init_params(n_in, n_hidden, n_out, seed=0)``: He initialisation, ``[W0, b0, W1, b1]``, float32."""
    __tracebackhide__ = True  # noqa: F841
    check = Check("init_params")
    sizes = (784, 256, 10)
    got = check.call(init_params, *sizes, seed=0)
    if not isinstance(got, (list, tuple)) or len(got) != 4:
        what = "None" if got is None else f"a {type(got).__name__}" + (
            f" of {len(got)} items" if isinstance(got, (list, tuple)) else "")
        check.problem("the result", f"{what}; return the list of the four arrays [W0, b0, W1, b1].")
        check.done()
    expected_shapes = [(784, 256), (256,), (256, 10), (10,)]
    fans = {"W0": (784, 256), "W1": (256, 10)}
    for name, value, shape in zip(NAMES, got, expected_shapes):
        arr = np.asarray(value)
        if arr.shape != shape:
            if arr.shape == shape[::-1] and len(shape) == 2:
                check.problem(name, f"shape {arr.shape}, the transpose of {shape}: W^L is M x N, one row per "
                                    f"neuron of the layer before (M = {shape[0]}) and one column per neuron "
                                    f"of this layer (N = {shape[1]}).")
            else:
                check.problem(name, f"shape {arr.shape}, expected {shape}.")
        else:
            check.passed()
        check.require(name, arr.dtype == np.float32,
                 f"dtype {arr.dtype}, expected float32: the network trains in float32, half the memory "
                 "traffic of float64.")
        if not np.issubdtype(arr.dtype, np.number):
            continue
        if name in fans:
            problem = _weight_scale_problem(name, arr.astype(np.float64), *fans[name])
            check.require(name, problem is None, problem or "")
        else:
            check.require(name, not np.any(arr),
                     "not zero. The lecture draws the biases at random too, and that trains as well; He "
                     "initialisation starts them at 0, since the random weights already make the neurons "
                     "differ.")
    small = [check.call(init_params, 20, 12, 10, seed=s) for s in (0, 0, 1)]
    small = [_arrays(s) if isinstance(s, (list, tuple)) and len(s) == 4 else None for s in small]
    if all(s is not None for s in small):
        shapes = [a.shape for a in small[0]]
        check.require("init_params(20, 12, 10)", shapes == [(20, 12), (12,), (12, 10), (10,)],
                 f"shapes {shapes}: the sizes must come from the arguments n_in, n_hidden, n_out.")
        same = all(np.array_equal(a, b) for a, b in zip(small[0], small[1]))
        check.require("seed", same,
                 "two calls with seed=0 gave different weights: draw them from a random generator created "
                 "from `seed`, so that a run can be repeated.")
        if same and np.any(small[0][0]):
            check.require("seed", not all(np.array_equal(a, b) for a, b in zip(small[0], small[2])),
                     "seed=0 and seed=1 gave the same weights: the argument `seed` is ignored.")
    check.done()


# --- forward and backward -----------------------------------------------------------------------


def _usable(got, expected) -> bool:
    """Whether the student's intermediate array can feed the next step of the check."""
    g = None if got is None else _arrays([got])
    return g is not None and g[0].shape == np.shape(expected) and bool(np.all(np.isfinite(g[0])))


def check_forward(forward):
    """``forward(X, params)`` -> ``(z0, a0, z1, a1)``; each step is checked from the student's previous
    one, so that the message names the step that goes wrong."""
    __tracebackhide__ = True  # noqa: F841
    check = Check("forward")
    p, X, _ = _small_problem()
    W0, b0, W1, b1 = p
    got = check.call(forward, X.copy(), [q.copy() for q in p])
    if not isinstance(got, (list, tuple)) or len(got) != 4:
        check.problem("the result", "return the four arrays (z0, a0, z1, a1), in this order.")
        check.done()
    z0, a0, z1, a1 = got
    e_z0 = X @ W0 + b0
    _agree(check, "z0", z0, e_z0, {"the bias b0 missing": X @ W0},
           hint="z0 is the batched (W^0)^T x + b^0: one row per sample, one column per hidden neuron.")
    prev = np.asarray(z0, dtype=np.float64) if _usable(z0, e_z0) else e_z0
    e_a0 = activate("ReLU", prev)
    _agree(check, "a0 (from your z0)", a0, e_a0,
           {"the hidden layer's ReLU missing (a0 equal to z0)": prev,
            "softmax on the hidden layer: the hidden activation is ReLU, softmax is for the output layer":
                activate("softmax", prev),
            "the derivative h'(z0) where the activation h(z0) belongs": activate("ReLU'", prev)},
           hint="a0 is the ReLU of z0 (does your relu pass its check above?).")
    prev_a0 = np.asarray(a0, dtype=np.float64) if _usable(a0, e_a0) else e_a0
    e_z1 = prev_a0 @ W1 + b1
    _agree(check, "z1 (from your a0)", z1, e_z1,
           {"the bias b1 missing": prev_a0 @ W1,
            "z1 computed from z0, before the ReLU: layer 1 takes the activations a0": prev @ W1 + b1},
           hint="z1 is the batched (W^1)^T a^0 + b^1.")
    prev = np.asarray(z1, dtype=np.float64) if _usable(z1, e_z1) else e_z1
    _agree(check, "a1 (from your z1)", a1, activate("softmax", prev),
           {"a1 equal to z1, the scores before softmax: the output layer turns them into probabilities": prev,
            "ReLU on the output layer instead of softmax": activate("ReLU", prev)},
           hint="a1 is the softmax of z1, row by row (does your softmax pass its check above?).")
    check.done()


BACKWARD_SHAPE_HINT = ("Samples are rows here: X is (D, n_in); z0, a0 and delta0 are (D, N); a1, Y and "
                       "delta1 are (D, 10); W0 is (n_in, N) and W1 is (N, 10). Each gradient has the shape "
                       "of its parameter, and a sum over the samples runs along axis 0. Print the .shape of "
                       "each array on that line to see which one is not what you expect.")


def _backward_mistakes(X, Y, params, outputs) -> dict:
    """The wrong backward passes students write: description -> (dW0, db0, dW1, db1), None where
    a gradient is not affected. Each one also combined with a missing 1/D."""
    W0, b0, W1, b1 = params
    z0, a0, z1, a1 = outputs
    D = len(X)
    d1 = a1 - Y
    back = d1 @ W1.T
    d0 = activate("ReLU'", z0) * back

    def grads(d0, d1, x=X, a=a0, scale=1 / D):
        return x.T @ d0 * scale, d0.sum(axis=0) * scale, a.T @ d1 * scale, d1.sum(axis=0) * scale

    def structural(scale):
        mistakes = {
            "the ReLU derivative h'(z0) missing from delta0": grads(back, d1, scale=scale),
            "the ReLU h(z0) where its derivative h'(z0) belongs in delta0":
                grads(activate("ReLU", z0) * back, d1, scale=scale),
            "z0 (before the ReLU) where the activation a0 belongs in dW1": grads(d0, d1, a=z0, scale=scale),
            "a0 where the input x of layer 0 belongs in dW0": grads(d0, d1, x=a0, scale=scale),
            "the biases' gradients summed along axis 1 (over the neurons) instead of over the samples "
            "(axis 0)": (None, d0.sum(axis=1) * scale, None, d1.sum(axis=1) * scale),
            "the biases' gradients with one row per sample: the sum over the samples is missing":
                (None, d0 * scale, None, d1 * scale),
            "the biases' gradients summed over the whole array (one number)":
                (None, d0.sum() * scale, None, d1.sum() * scale),
            "the weight gradients transposed: each gradient has the shape of its parameter":
                (d0.T @ X * scale, None, d1.T @ a0 * scale, None),
        }
        if W1.shape[0] == W1.shape[1]:  # the product with W1 untransposed only runs when W1 is square
            mistakes["W1 used where its transpose belongs in delta0 (the slide's W^1 delta^1, with samples "
                     "as rows, is a product with the transpose of W1)"] = \
                grads(activate("ReLU'", z0) * (d1 @ W1), d1, scale=scale)
        return mistakes

    missing_mean = f"the 1/D of the mean missing (a factor D = {D} too large)"
    mistakes = {
        missing_mean: grads(d0, d1, scale=1),
        "the 1/D applied twice": grads(d0, d1, scale=1 / D**2),
        "the sign of delta1 reversed: the output error is a^H - y, as in the lecture (all four gradients "
        "point uphill)": tuple(-g for g in grads(d0, d1)),
        **structural(1 / D),
    }
    for what, wrong in structural(1).items():
        mistakes[f"{what}, and {missing_mean}"] = wrong
    return mistakes


def check_backward(backward):
    """``backward(X, Y, params, outputs)`` -> ``(dW0, db0, dW1, db1)``, all four checked and reported."""
    __tracebackhide__ = True  # noqa: F841
    check = Check("backward")
    # A hidden layer of 10 neurons, like the output layer: W1 is square, so a product with W1 where its
    # transpose belongs still runs, and the check can name it. Then 12 hidden neurons, all shapes distinct.
    for n_hidden in (10, 12):
        p, X, Y = _small_problem(n_hidden=n_hidden)
        outputs = outputs_tuple(layer_values(X, p))
        got = check.call(backward, X.copy(), Y.copy(), [q.copy() for q in p],
                   tuple(o.copy() for o in outputs), hint=BACKWARD_SHAPE_HINT)
        if not isinstance(got, (list, tuple)) or len(got) != 4:
            check.problem("the result", "return the four gradients (dW0, db0, dW1, db1), in this order.")
            check.done()
        expected = gradients(X, Y, p)
        mistakes = _backward_mistakes(X, Y, p, outputs)
        for i, name in enumerate(NAMES):
            _agree(check, f"d{name} ({n_hidden} hidden neurons)", got[i], expected[i],
                   {what: wrong[i] for what, wrong in mistakes.items() if wrong[i] is not None},
                   hint=f"d{name} is the mean over the D samples of dJ_i/d{name}, with the shape of {name}.")
        if not check.ok:
            break
    check.done()


# --- the gradient check --------------------------------------------------------------------------


def _cubes(x):
    return lambda: float(np.sum(np.exp(3 * x)))


def _mixed(x):
    return lambda: float(np.sum(x**2) * np.sum(x) + x[0, 0] * x[-1, -1] ** 3)


def _differences(f, x, h, kind):
    """Finite differences of ``kind``: "centred" (the right ones), or the wrong forward, backward and
    whole-row ones; ``x`` is changed, then restored."""
    grad = np.zeros_like(x, dtype=np.float64)
    base = f()
    rows = [(i,) for i in range(len(x))] if kind == "rows" else list(np.ndindex(x.shape))
    for i in rows:
        old = x[i].copy() if kind == "rows" else x[i]
        x[i] = old + h
        up = f()
        x[i] = old - h
        down = f()
        x[i] = old
        grad[i] = {"forward": (up - base) / h, "backward": (base - down) / h,
                   "rows": (up - down) / (2 * h), "centred": (up - down) / (2 * h)}[kind]
    return grad


def check_numerical_gradient(numerical_gradient):
    """``numerical_gradient(f, x, h=1e-5)``: centred differences, x changed in place and restored."""
    __tracebackhide__ = True  # noqa: F841
    check = Check("numerical_gradient")
    cases = [("exp(3x) summed, on 4 entries, with h = 1e-3 (a large step)", np.array([0.5, 1.0, 1.5, 2.0]),
              _cubes, {"h": 1e-3}),
             ("a function of a 2 x 3 matrix that mixes its entries, default h",
              np.array([[0.3, -0.7, 1.1], [0.9, 0.2, -0.4]]), _mixed, {})]
    for k, (what, x0, make_f, kwargs) in enumerate(cases):
        if hidden():  # the grader's inputs: the same functions at other points
            x0 = x0 + seeded(20 + k).uniform(-0.2, 0.2, x0.shape)
        x = x0.copy()
        f = make_f(x)
        h = kwargs.get("h", 1e-5)
        got = check.call(numerical_gradient, f, x, **kwargs)
        check.require(f"on {what}", np.allclose(x, x0, rtol=0, atol=1e-12),
                 "x was changed: after the call some entries are still shifted by h. f reads x, so every "
                 "later evaluation, and whatever uses x afterwards, sees the shifted values; put each entry "
                 "back after its two evaluations.")
        x[...] = x0
        expected = _differences(f, x, h, "centred")
        mistakes = {
            "a forward difference (f(x + h) - f(x)) / h: its error is of order h, the centred difference's "
            "of order h^2": _differences(f, x, h, "forward"),
            "a backward difference (f(x) - f(x - h)) / h: its error is of order h, the centred difference's "
            "of order h^2": _differences(f, x, h, "backward"),
            "a division by h instead of 2h (a factor 2 too large): f(x + h) and f(x - h) are 2h apart":
                2 * expected,
            "zero everywhere: f never saw the perturbed values, which happens when a copy of x is perturbed "
            "(f reads x itself)": np.zeros_like(expected),
        }
        if x.ndim == 2:
            mistakes["whole rows perturbed at once: x can be a matrix, and every entry needs its own "
                     "perturbation"] = _differences(f, x, h, "rows")
        _agree(check, f"on {what}", got, expected, mistakes,
               hint="For each entry i: (f with x[i] + h) minus (f with x[i] - h), divided by 2h.")
    check.done()


def _backward_without_relu_prime(X, Y, params, outputs):
    """A planted bug: delta0 without h'(z0)."""
    W0, b0, W1, b1 = params
    z0, a0, z1, a1 = outputs
    D = len(X)
    d1 = a1 - Y
    d0 = d1 @ W1.T
    return X.T @ d0 / D, d0.sum(axis=0) / D, a0.T @ d1 / D, d1.sum(axis=0) / D


def check_gradient_check(gradient_check):
    """``gradient_check(backward_fn, X, Y, params, h=1e-5)`` -> ``{"W0": err, "b0": ..., ...}``, run
    with a correct backward pass and with one that forgets h'(z0)."""
    __tracebackhide__ = True  # noqa: F841
    check = Check("gradient_check")
    p, X, Y = _small_problem(seed=5, n=6, n_in=8, n_hidden=5, margin=1e-3)
    D = len(X)
    runs = {}
    def backward(X, Y, params, outputs):  # a correct one, here only: no module of the course ships one
        return gradients(X, Y, params)

    for label, fn in (("a correct backward", backward), ("a backward without h'(z0)",
                                                         _backward_without_relu_prime)):
        params = [q.copy() for q in p]
        errors = check.call(gradient_check, fn, X.copy(), Y.copy(), params)
        check.require(f"with {label}", all(np.array_equal(a, b) for a, b in zip(params, p)),
                 "params changed during the check: each perturbed entry must be put back.")
        if not isinstance(errors, dict) or sorted(errors) != sorted(NAMES):
            keys = sorted(errors) if isinstance(errors, dict) else type(errors).__name__
            check.problem("the result", f"got {keys}; return a dict with one relative error per parameter, "
                                        "keys 'W0', 'b0', 'W1', 'b1'.")
            check.done()
        try:
            runs[label] = {k: float(v) for k, v in errors.items()}
        except (TypeError, ValueError):
            check.problem("the result", "the values must be numbers: the relative error of each parameter.")
            check.done()
    good, bad = runs["a correct backward"], runs["a backward without h'(z0)"]
    summed = (D - 1) / (D + 1)  # rel_error(g, D * g)
    if all(abs(e - 1) < 0.05 for e in good.values()):
        check.problem("with a correct backward", "every relative error is about 1: the finite differences "
                      "came out zero, so the risk did not see the perturbed entries. The risk must run the "
                      "forward pass again at each call, from the very arrays in params that are perturbed.")
    elif all(abs(e - summed) < 0.02 for e in good.values()):
        check.problem("with a correct backward", f"every relative error is about {summed:.2f} = (D-1)/(D+1): "
                      f"the finite differences are D = {D} times the backprop gradients, so the risk is the "
                      "sum of the losses; backward differentiates their mean R_D.")
    else:
        for name in NAMES:
            check.require(f"with a correct backward ({name})", good[name] < 1e-6,
                     f"relative error {good[name]:.1e}; with a correct backward it is about 1e-8 or less. "
                     "Compare the backprop gradient with the numerical gradient of the mean loss R_D.")
    if all(e < 1e-6 for e in bad.values()):
        check.problem("with a wrong backward", "the errors stayed small although backward_fn was wrong: "
                      "compute the backprop gradients with backward_fn, the function given as argument.")
    elif check.ok:
        check.require("with a wrong backward", bad["W0"] > 1e-2 and bad["W1"] < 1e-6,
                 f"errors {bad}: without h'(z0) only W0 and b0 should be flagged.")
    check.done()


# --- training ------------------------------------------------------------------------------------


EVALUATE_SHAPE_HINT = ("y holds D integer labels, shape (D,); cross_entropy compares the probabilities "
                       "with one-hot labels, shape (D, 10), while accuracy takes the integer labels.")


def check_evaluate_numpy(evaluate):
    """``evaluate(X, y, params)`` -> ``(loss, accuracy)`` of the network on (X, y)."""
    __tracebackhide__ = True  # noqa: F841
    check = Check("evaluate")
    p, X, Y = _small_problem(seed=8, n=40)
    y = Y.argmax(axis=1)
    p[3] = p[3] + 0.5 - layer_values(X, p)["z"][1].min()  # positive scores z1: a "loss" of z1 can be named
    z0, a0, z1, a1 = outputs_tuple(layer_values(X, p))
    got = check.call(evaluate, X.copy(), y.copy(), [q.copy() for q in p], hint=EVALUATE_SHAPE_HINT)
    if not isinstance(got, (list, tuple)) or len(got) != 2:
        check.problem("the result", "return two numbers: the loss, then the accuracy.")
        check.done()
    loss, acc = -np.mean(np.sum(Y * np.log(a1), axis=1)), np.mean(a1.argmax(axis=1) == y)
    with np.errstate(all="ignore"):
        of_scores = -np.mean(np.sum(Y * np.log(z1), axis=1))
    swapped = {"the accuracy where the loss belongs: return (loss, accuracy), in this order": acc}
    _agree(check, "the loss", got[0], loss,
           {**swapped, "the loss of z1, the scores before softmax, not of the probabilities a1": of_scores},
           hint="The mean cross-entropy of forward's probabilities against the one-hot labels.")
    _agree(check, "the accuracy", got[1], acc,
           {"the loss where the accuracy belongs: return (loss, accuracy), in this order": loss},
           hint="The fraction of the samples whose largest probability is at their label.")
    check.done()



class _RecordingRng:
    """A NumPy random Generator that remembers each order it hands out (``permutation``, ``shuffle``).

    While grading, the student's code in the kernel may call these two methods and no other
    (``WIRE_METHODS``, tools/wire.py), on at most a million items."""

    WIRE_METHODS = ("permutation", "shuffle")
    MOST = 1_000_000

    def __init__(self, seed: int):
        self._rng = seeded(seed)
        self.orders: list = []  # the first two orders drawn (all the check reads) ...
        self.drawn = 0  # ... and how many were drawn

    def _draw(self, n: int):
        if n > self.MOST:
            raise ValueError(f"this check's generator permutes at most {self.MOST} items")
        order = self._rng.permutation(n)
        self.drawn += 1
        if len(self.orders) < 2:
            self.orders.append(order.copy())
        return order

    def permutation(self, x, axis=0):
        is_int = isinstance(x, (int, np.integer))
        order = self._draw(int(x) if is_int else len(x))
        return order if is_int else np.asarray(x)[order]

    def shuffle(self, x, axis=0):
        x[...] = np.asarray(x)[self._draw(len(x))]

    def __getattr__(self, name):
        return getattr(self._rng, name)


def _epoch(params, X, y, lr, batches, update=(0, 1, 2, 3)):
    """One epoch of the reference: for each (rows of X, rows of y) pair, forward, backward, update."""
    params = [q.copy() for q in params]
    for rows_x, rows_y in batches:
        xb = X[rows_x]
        grads = gradients(xb, np.eye(params[-1].shape[0])[y[rows_y]], params)
        for i in update:
            params[i] -= lr * grads[i]
    return params


def _risk(params, X, y) -> float:
    a = layer_values(X, params)["a"][-1]
    return float(-np.mean(np.log(a[np.arange(len(y)), y])))


def _sgd_reference(P0, X, y, lr, b, order, orders) -> tuple[list, dict]:
    """The right epoch for ``order``, and the wrong epochs students write."""
    D = len(X)

    def cut(order, size=b, drop_last=False, y_order=None):
        y_order = order if y_order is None else y_order
        starts = [s for s in range(0, D, size) if not (drop_last and s + size > D)]
        return [(order[s:s + size], y_order[s:s + size]) for s in starts]

    batches = cut(order)
    mistakes = {
        "the samples visited in the order of X: no shuffle (or the order drawn but not used), the same "
        "order at every epoch": _epoch(P0, X, y, lr, cut(np.arange(D))),
        f"the last, smaller batch dropped ({D % b} samples here): every sample takes part in every epoch":
            _epoch(P0, X, y, lr, cut(order, drop_last=True)),
        f"a single full-batch step instead of D/b = {-(-D // b)} mini-batch updates":
            _epoch(P0, X, y, lr, [(order, order)]),
        "a single update: the loop over the batches stops after the first one":
            _epoch(P0, X, y, lr, batches[:1]),
        "the step taken up the gradient (a sign error: the loss goes up)": _epoch(P0, X, y, -lr, batches),
        "the learning rate missing from the update": _epoch(P0, X, y, 1.0, batches),
        "the step divided by the batch size again (backward already averages over the batch)":
            _epoch(P0, X, y, lr / b, batches),
        "the images shuffled but not their labels": _epoch(P0, X, y, lr, cut(order, y_order=np.arange(D))),
        "the biases never updated": _epoch(P0, X, y, lr, batches, update=(0, 2)),
        "unchanged by the epoch": [q.copy() for q in P0],
    }
    if len(orders) >= 2:
        mistakes["X and y shuffled with two different orders: each image lost its label"] = \
            _epoch(P0, X, y, lr, cut(orders[0], y_order=orders[1]))
    return _epoch(P0, X, y, lr, batches), mistakes


def check_sgd_epoch(sgd_epoch):
    """``sgd_epoch(params, X, y, lr, batch_size, rng)``: one epoch of mini-batch SGD, params updated in place.

    Replayed with the order the student drew from ``rng`` (a generator that records it)."""
    __tracebackhide__ = True  # noqa: F841
    check = Check("sgd_epoch")
    P0, X, Y = _small_problem(seed=6, n=50, n_in=20, n_hidden=12)
    y = Y.argmax(axis=1)
    lr, b = 0.5, 16
    params, Xc, yc, rng = [q.copy() for q in P0], X.copy(), y.copy(), _RecordingRng(0)
    returned = check.call(sgd_epoch, params, Xc, yc, lr, b, rng)
    check.require("X and y", np.array_equal(Xc, X) and np.array_equal(yc, y),
             "the caller's X or y was changed (shuffled in place?): index them with the order instead.")
    if all(np.array_equal(a, b0) for a, b0 in zip(params, P0)):
        extra = (" Your function returned new arrays, but the training loop keeps using the list it "
                 "passed in." if returned is not None else "")
        check.problem("params", "unchanged after the epoch: the update made new arrays (or none) instead of "
                      "changing the four arrays of params in place, so the caller sees no training." + extra)
        check.done()
    orders = rng.orders
    if not orders:
        again = [q.copy() for q in P0]
        check.call(sgd_epoch, again, X.copy(), y.copy(), lr, b, rng)
        no_shuffle = _epoch(P0, X, y, lr, [(r, r) for r in np.array_split(np.arange(len(X)),
                                                                          range(b, len(X), b))])
        if all(np.allclose(a, c) for a, c in zip(params, no_shuffle)):
            check.problem("shuffle", "no shuffle: the samples are visited in the order of X, the same at "
                          "every epoch. Draw a new order from rng at each epoch.")
        elif all(np.array_equal(a, c) for a, c in zip(params, again)):
            check.problem("shuffle", "two epochs from the same start gave the same result: the order is the "
                          "same at every epoch. Draw it from the rng you are given, once per epoch.")
        else:
            check.problem("shuffle", "the order was not drawn with rng.permutation (or rng.shuffle) from the "
                          "rng you are given: draw it there, so that the check can replay your epoch.")
        check.done()
    if rng.drawn > 1:
        check.problem("shuffle", f"{rng.drawn} orders drawn in one epoch: draw one permutation per epoch "
                      "and take both the images and their labels in that order.")
    expected, mistakes = _sgd_reference(P0, X, y, lr, b, orders[0], orders)
    for i, name in enumerate(NAMES):
        _agree(check, f"{name} after one epoch", params[i], expected[i],
               {what: wrong[i] for what, wrong in mistakes.items()},
               hint="For each batch in the epoch's order: forward, backward, then every parameter moves by "
                    "minus lr times its gradient.")
    final = _arrays(params)
    if final is None or [q.shape for q in final] != [q.shape for q in P0]:
        check.done()
    before, after = _risk(P0, X, y), _risk(final, X, y)
    if _risk(expected, X, y) <= before:  # on some inputs even the right epoch overshoots
        check.require("loss", not after > before,
                 f"the mean loss on these {len(X)} samples went up during the epoch, from {before:.3f} to "
                 f"{after:.3f}: the parameters moved uphill.")
    check.done()


# --- evaluation -----------------------------------------------------------------------------------


def check_per_class_accuracy(per_class_accuracy):
    """``per_class_accuracy(y_true, y_pred, n_classes=10)``: for each class c, the fraction of the
    samples of class c that are predicted c."""
    __tracebackhide__ = True  # noqa: F841
    check = Check("per_class_accuracy")
    rng = seeded(9)
    y_true = rng.choice(10, size=400, p=np.linspace(1, 3, 10) / 20)  # unequal class sizes
    y_pred = np.where(rng.random(400) < np.linspace(0.5, 0.95, 10)[y_true], y_true, rng.integers(0, 10, 400))
    got = check.call(per_class_accuracy, y_true.copy(), y_pred.copy())
    classes = np.arange(10)
    right = np.array([np.sum((y_true == c) & (y_pred == c)) for c in classes])
    expected = right / np.bincount(y_true, minlength=10)
    mistakes = {
        "for each class c, the fraction of the images predicted as c that are c (the precision), not "
        "the fraction of the images of class c that are predicted c":
            right / np.bincount(y_pred, minlength=10),
        "the overall accuracy repeated for every class": np.full(10, np.mean(y_true == y_pred)),
        "the number of correct predictions of each class, not a fraction": right,
        "correct predictions of each class divided by the number of all images, not by the images of that "
        "class": right / len(y_true),
        "the error rate of each class, not its accuracy": 1 - expected,
    }
    _agree(check, "400 labels of unequal classes", got, expected, mistakes,
           hint="Ten numbers: for each class, among the samples whose label is that class, the fraction "
                "predicted as that class.")
    check.done()



def check_most_confident_mistakes(most_confident_mistakes):
    """``most_confident_mistakes(probs, y, k)``: indices of the k wrong predictions made with the highest
    probability, most confident first."""
    __tracebackhide__ = True  # noqa: F841
    check = Check("most_confident_mistakes")
    rng = seeded(7)
    probs = activate("softmax", 3 * rng.standard_normal((300, 10)))
    y = np.where(rng.random(300) < 0.7, probs.argmax(axis=1), rng.integers(0, 10, 300))
    pred = probs.argmax(axis=1)
    wrong = np.flatnonzero(pred != y)
    confidence = probs[wrong, pred[wrong]]
    for k in (12, 5):
        got = check.call(most_confident_mistakes, probs.copy(), y.copy(), k)
        ranked = wrong[np.argsort(-confidence)]
        mistakes = {
            "the least confident mistakes first (sorted in increasing order of confidence)":
                wrong[np.argsort(confidence)][:k],
            "correctly classified images included: rank only the images whose prediction is not the label":
                np.argsort(-probs.max(axis=1))[:k],
            "the mistakes ranked by the probability of the true class, not of the predicted (wrong) class":
                wrong[np.argsort(-probs[wrong, y[wrong]])][:k],
            "positions in the list of mistakes, not the indices of the images": np.argsort(-confidence)[:k],
            "all the mistakes, sorted but not cut to the k first": ranked,
            "the first k mistakes in the order of the data, not sorted by confidence": wrong[:k],
        }
        named = diagnose(got, ranked[:k], mistakes, tol=0)
        if named is not None and named.startswith("differs from"):  # not a known mistake: which indices
            listed = np.asarray(got).ravel()
            check.problem(f"k = {k}", _wrong_indices(listed, ranked, set(wrong.tolist()), len(y), k))
        else:
            _agree(check, f"k = {k}", got, ranked[:k], mistakes, tol=0)
    check.done()


def _wrong_indices(got, ranked, wrong: set, n: int, k: int) -> str:
    """What is wrong with a list of k indices that matches no known mistake, without the answer."""
    top = set(ranked[:k].tolist())
    for position, index in enumerate(got.tolist(), start=1):
        if not float(index).is_integer() or not 0 <= index < n:
            return (f"position {position} holds {index:g}, which is not an index into probs and y "
                    f"(0 to {n - 1}).")
        if int(index) not in wrong:
            return (f"position {position} holds {int(index)}, an image the network classified right: keep "
                    "only the images whose predicted class differs from the label.")
        if int(index) not in top:
            return (f"position {position} holds {int(index)}, a mistake, but not one of the {k} most "
                    "confident: rank the mistakes by the probability of their predicted class.")
    if len(set(got.tolist())) < len(got):
        return "an image listed twice: each of the k indices must be a different image."
    return (f"the right {k} images, in the wrong order: most confident first (the highest probability of "
            "the predicted class first).")

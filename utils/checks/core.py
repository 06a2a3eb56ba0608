"""The machinery every self-check shares.

A self-check calls the student's function on seeded inputs and compares what
comes back with the reference. When it disagrees, the check looks for the
mistakes students commonly make (each one computed from the reference: a
missing 1/D, softmax over the wrong axis, transposed weights, ...) and names the
one it recognises. It reports every failing part at once, never prints a line of
the solution, and raises one ``CheckFailed`` from a frame that holds no
solution either, so that a student's traceback shows their cell and the message.

    check = Check("softmax")
    got = check.call(softmax, z)                     # not written yet / crash explained
    check.compare("softmax(z)", got, expected, mistakes={"over axis 0 (columns)": wrong})
    check.require("dtype", got.dtype == z.dtype, "...")  # a property; also passed(), problem(), fault()
    check.done()                                     # raises CheckFailed, or prints PASSED

A check's inputs come from :func:`seeded`: the grader (tools/grade.py) runs the same check
again inside :func:`hidden_inputs`, on inputs the student never saw, with the student's
function running in a sandboxed kernel (tools/wire.py).
"""

from __future__ import annotations

import contextlib
import linecache
import threading
import traceback

import numpy as np

# --- the inputs of a check: the ones the student sees, or the grader's hidden ones ----------

_hidden = threading.local()


def salted(seed: int) -> int:
    """The seed a check draws its inputs from: ``seed`` itself in a self-check, another one,
    chosen by the grader, inside :func:`hidden_inputs`."""
    salt = getattr(_hidden, "salt", 0)
    return seed if not salt else (seed * 1_000_003 + salt) % 2**31


def seeded(seed: int) -> np.random.Generator:
    """``np.random.default_rng(salted(seed))``: every random input of a check comes from here."""
    return np.random.default_rng(salted(seed))


def hidden() -> bool:
    """True inside :func:`hidden_inputs`: a check whose inputs are fixed values varies them then."""
    return bool(getattr(_hidden, "salt", 0))


@contextlib.contextmanager
def hidden_inputs(salt: int):
    """Within this block (in this thread), checks draw their inputs from other seeds (the grader's)."""
    _hidden.salt = salt
    try:
        yield
    finally:
        _hidden.salt = 0


class CheckFailed(AssertionError):
    """A self-check found a problem; the message says which, and what to look at."""

    def _render_traceback_(self):
        """What IPython shows: the message alone, without the frames of the checks' own code."""
        return [f"\x1b[0;31m{type(self).__name__}\x1b[0m: {self}"]


def fail(message: str):
    """Raise CheckFailed(message): the one place a failing check raises."""
    __tracebackhide__ = True  # noqa: F841
    raise CheckFailed(message) from None


NAME_HINT = ("Hint: if `{name}` is defined in a cell above, that cell has not run in this kernel (skipped, "
             "the kernel restarted) or stopped with an error before defining it: run the cells above this "
             "one (JupyterLab: Run > Run All Above Selected Cell; Colab: Runtime > Run before), fix the "
             "first one that fails, then run this one again. Otherwise, check its spelling.")


def _hint_name_errors(shell=None) -> None:
    """In a notebook (IPython), a NameError keeps its traceback and gets a hint to run the cells above."""
    try:
        shell = shell or __import__("IPython").get_ipython()
    except ImportError:
        return
    if shell is None or not hasattr(shell, "set_custom_exc") or shell.custom_exceptions:
        return  # not IPython, or a handler is there already (ours, or someone else's): left alone

    def show(self, etype, value, tb, tb_offset=None):
        stb = list(self.InteractiveTB.structured_traceback(etype, value, tb, tb_offset=tb_offset))
        if not isinstance(value, UnboundLocalError):  # a local name used before its assignment: no cell
            name = getattr(value, "name", None) or (str(value).split("'")[1:2] or ["that name"])[0]
            stb += ["", NAME_HINT.format(name=name)]
        self._showtraceback(etype, value, stb)  # IPython shows what its handler shows, nothing more
        return stb

    shell.set_custom_exc((NameError,), show)


def _detach(value):
    """A PyTorch tensor as a NumPy array (detached, on the CPU); anything else unchanged."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        return value.detach().cpu().numpy()
    return value


def _real_array(value, name: str) -> np.ndarray:
    """``value`` as a float64 array for :func:`rel_error`; ``TypeError`` naming ``name`` otherwise."""
    if value is None:
        raise TypeError(f"rel_error: {name} is None (a function without its `return`?); give numbers or "
                        "arrays of numbers.")
    try:
        arr = np.asarray(_detach(value))
    except (TypeError, ValueError, RuntimeError):  # ragged lists, odd objects
        arr = np.asarray(None)
    if np.iscomplexobj(arr):
        raise TypeError(f"rel_error: {name} holds complex numbers (a square root or a log of a negative "
                        "number?); the values compared must be real.")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"rel_error compares numbers or arrays of numbers; {name} is a "
                        f"{type(value).__name__} ({repr(value)[:40]}).")
    return arr.astype(np.float64)


def rel_error(a, b) -> float:
    """Relative error ``||a - b|| / (||a|| + ||b||)``: about 1e-7 or less for
    float64 maths that agree, 1e-2 or more for a wrong formula.

    ``a`` and ``b`` are numbers or arrays of real numbers (PyTorch tensors too);
    None, strings and complex numbers raise ``TypeError``. They must have the
    same shape: NumPy would otherwise broadcast them (a (3,) against a (3, 1)
    array compares 9 pairs) and the error would mean nothing."""
    a, b = _real_array(a, "a"), _real_array(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"rel_error compares arrays of the same shape; got {a.shape} and {b.shape}.")
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if denom == 0 else float(np.linalg.norm(a - b) / denom)


# --- explaining an error raised inside the student's code ---------------------------------

SHAPE_WORDS = ("matmul", "could not be broadcast", "not aligned", "shapes", "size mismatch",
               "mat1 and mat2", "Incompatible shapes", "Dimensions must be equal")
ROWS_HINT = ("Samples are rows here: X has shape (D, 784), W0 has shape (784, N), so a layer computes "
             "A_prev @ W + b, the slide's W^T a + b for all D samples at once. Print the .shape of each "
             "array on that line to see which one is not what you expect.")


def _student_line(err: BaseException) -> str:
    """The last line of the traceback that is in a notebook cell (the student's own code); for an
    error raised in the student's kernel while grading, the line the kernel reported."""
    if getattr(err, "remote_line", ""):
        return f"`{err.remote_line}`"
    found = ""
    for frame in traceback.extract_tb(err.__traceback__):
        if "ipykernel" in frame.filename or frame.filename.startswith("<"):
            line = frame.line or linecache.getline(frame.filename, frame.lineno).strip()
            found = f"`{line.strip()}`" if line else found
    return found


def explain_error(err: BaseException) -> str:
    """One paragraph about an exception raised while running the student's code."""
    where = _student_line(err)
    at = f" on your line {where}" if where else ""
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    if any(word in str(err) for word in SHAPE_WORDS):
        return f"a shape mismatch{at} ({type(err).__name__}: {text}).\n{ROWS_HINT}"
    return f"your code raised {type(err).__name__}{at}: {text}"


# --- one check ----------------------------------------------------------------------------


def _as_array(value):
    """``value`` as a float64 array (a PyTorch tensor detached first), or None when it is not
    an array of real numbers: strings, ragged lists and complex numbers are not."""
    try:
        arr = np.asarray(_detach(value))
    except (TypeError, ValueError, RuntimeError):
        return None
    if arr.dtype.kind not in "biuf" and arr.dtype != object:
        return None
    try:
        return arr.astype(np.float64)
    except (TypeError, ValueError):
        return None


CRASHED = object()  # what Check.call returns for a crash it recorded as one failing part


def _raised_in(err: BaseException) -> str | None:
    """The function the student's code raised ``err`` in (not a library's), when it can be told."""
    if getattr(err, "remote_inner", ""):  # raised in the student's kernel while grading
        return err.remote_inner
    frames = traceback.extract_tb(err.__traceback__)
    if not frames:
        return None
    last = frames[-1]
    if "site-packages" in last.filename or "/utils/" in last.filename.replace("\\", "/"):
        return None
    return last.name


class Check:
    """One exercise's self-check: collects every failing part, then passes or fails once."""

    def __init__(self, exercise: str):
        self.exercise = exercise
        self.problems: list[str] = []
        self.count = 0

    def call(self, fn, *args, part: str | None = None, hint: str | None = None, explain=None, **kwargs):
        """``fn(*args, **kwargs)``, the one way a check calls the student's code.

        - not a function, or a blank exercise: the check stops with "not written yet", or with the
          name of the blank exercise that ``fn`` calls;
        - a crash: ``explain(err)``, when given, may name the mistake behind it; otherwise it is
          explained (:func:`explain_error`), with ``hint`` in place of the generic hint about
          layers. It stops the check or, given a ``part``, is recorded as that failing part (once)
          and :data:`CRASHED` is returned.

        The student's function may run in this process (a self-check) or in the student's kernel
        (grading, tools/grade.py): its errors then carry where they were raised (``remote_*``)."""
        __tracebackhide__ = True  # noqa: F841 (IPython hides this frame)
        if not callable(fn):
            fail(f"{self.exercise}: expected a function, got {type(fn).__name__}. "
                 "Run the exercise's cell (the one with `def`) first.")
        try:
            return fn(*args, **kwargs)
        except CheckFailed:
            raise
        except NotImplementedError as err:
            inner, own = _raised_in(err), getattr(fn, "__name__", "")
            if inner and own and inner not in (own, "<module>") and not inner.startswith("<"):
                message = (f"{self.exercise}: it calls `{inner}`, which is not written yet. Write that "
                           "exercise first (above), run its cell, then this one again.")
            else:
                message = (f"{self.exercise}: not written yet. Replace the line `raise "
                           "NotImplementedError(...)` with your code, run that cell, then this one again.")
        except Exception as err:  # a crash inside the student's code, explained
            named = explain(err) if explain is not None else None
            if named is not None:
                message = f"{self.exercise}: {named}"
            else:
                explained = explain_error(err)
                if hint:
                    explained = explained.replace(ROWS_HINT, hint)
                if part is None:
                    message = f"{self.exercise}: {explained}"
                else:
                    if not any(explained in p for p in self.problems):  # the same crash once, not per case
                        self.problem(part, explained)
                    return CRASHED
        fail(message)

    # the one way to record a part: it passed, it failed, or it was compared (compare)

    def passed(self, n: int = 1) -> None:
        """Count ``n`` parts that hold."""
        self.count += n

    def problem(self, part: str, message: str) -> None:
        """Record a failing part in words."""
        self.count += 1
        self.problems.append(f"{part}: {message}")

    def require(self, part: str, ok: bool, message: str) -> bool:
        """Count one property: it holds, or ``message`` is recorded for ``part``."""
        if ok:
            self.passed()
        else:
            self.problem(part, message)
        return ok

    def fault(self, part: str, message: str) -> None:
        """Record a failing part of a check already counted (by :meth:`compare`, say)."""
        self.problems.append(f"{part}: {message}")
        self.count = max(self.count, len(self.problems))

    def compare(self, part: str, got, expected, mistakes: dict | None = None, tol: float = 1e-6,
                hint: str = "") -> bool:
        """Compare ``got`` with ``expected``; on a mismatch, name the known mistake it
        equals (``mistakes`` maps a description to the wrong value it produces), or
        say how far it is. Returns True when the part is right."""
        self.count += 1
        message = diagnose(got, expected, mistakes or {}, tol)
        if message is None:
            return True
        self.problems.append(f"{part}: {message}" + (f" {hint}" if hint else ""))
        return False

    @property
    def ok(self) -> bool:
        return not self.problems

    def done(self) -> None:
        """Raise one CheckFailed listing every problem, or print one PASSED line."""
        __tracebackhide__ = True  # noqa: F841
        if self.problems:
            listing = "\n".join(f"  - {p}" for p in self.problems)
            noun = "check" if self.count == 1 else "checks"
            fail(f"{self.exercise}: {len(self.problems)} of {self.count} {noun} failed\n{listing}")
        print(f"PASSED {self.exercise}: {self.count} {'check agrees' if self.count == 1 else 'checks agree'} "
              "with the reference.")


def diagnose(got, expected, mistakes: dict, tol: float = 1e-6) -> str | None:
    """None when ``got`` matches ``expected``; otherwise one sentence saying what is wrong."""
    if got is None:
        return "returned None: is the `return` line missing?"
    try:
        complex_values = np.iscomplexobj(_detach(got))
    except (TypeError, ValueError, RuntimeError):
        complex_values = False
    if complex_values:
        return ("holds complex numbers (a square root or a log of a negative number?); the result must be "
                "real.")
    g, e = _as_array(got), np.asarray(expected, dtype=np.float64)
    if g is None:
        return f"returned a {type(got).__name__}, expected an array of shape {e.shape}."
    for description, wrong in mistakes.items():  # a recognised mistake, shape or values
        w = _as_array(wrong)
        if w is not None and w.shape == g.shape and np.allclose(g, w, rtol=1e-5, atol=1e-8, equal_nan=True) \
                and not (w.shape == e.shape and np.allclose(w, e, rtol=1e-5, atol=1e-8)):
            return f"this looks like {description}."
    if g.shape != e.shape:
        if g.shape == e.shape[::-1] and g.ndim == 2:
            return f"shape {g.shape} is the transpose of the expected {e.shape} (samples are rows here)."
        return f"shape {g.shape}, expected {e.shape}."
    if not np.all(np.isfinite(g)):
        return "contains NaN or inf (an overflow, a log(0), or 0/0?)."
    err = rel_error(g, e)
    if err > tol:
        return f"differs from the reference (relative error {err:.1e}, tolerance {tol:.0e})."
    return None


# --- small helpers the per-notebook checks share ---------------------------------------


def judged_by(judge, probe: str):
    """Mark a self-check made of two halves: ``probe`` (the name of a function of utils.checks,
    ``probe(student_fn, device, *data)``) runs the student's code on data and returns data only;
    ``judge(probe)`` makes the problem and decides. The check runs both in the student's kernel;
    the grader runs ``judge`` in its own process with the probe called in the kernel."""
    def mark(check):
        check.judge, check.probe = judge, probe
        return check
    return mark



def kind_of(value) -> str:
    return "None" if value is None else f"a {type(value).__name__}"


def matching_mistake(got, expected, mistakes: dict, tol: float) -> dict:
    """The one mistake that ``got`` equals up to float32 rounding, as ``{description: got}``
    for ``Check.compare``; ``{}`` when ``got`` is right or matches none."""
    try:
        g = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError, RuntimeError):
        return {}
    e = np.asarray(expected, dtype=np.float64)
    if g.shape == e.shape and rel_error(g, e) <= tol:
        return {}
    for description, wrong in mistakes.items():
        w = np.asarray(wrong, dtype=np.float64)
        if w.shape == g.shape and np.all(np.isfinite(g)) and rel_error(g, w) <= tol:
            return {description: g}
    return {}


def compare_rounded(check: Check, part: str, got, expected, mistakes: dict, tol: float) -> bool:
    """``check.compare`` with mistakes recognised up to float32 rounding."""
    matched = matching_mistake(got, expected, mistakes, tol)
    return check.compare(part, got, expected, mistakes=matched, tol=tol)

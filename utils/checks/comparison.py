"""Self-checks of notebook 07, the tool comparison.

- ``check_measure_run``: runs the student's ``measure_run`` on a short busy loop, first
  with a stand-in for CodeCarbon's ``OfflineEmissionsTracker`` whose figures are known
  (so that a wrong field, a missing conversion or a tracker never stopped can be named),
  then with CodeCarbon missing, failing to start, or hiding an error (``stop()`` returns
  None): the time must still come back, with NaN energy. Last, unless ``real=False``,
  once with the real CodeCarbon: grams per kWh must be the country's carbon intensity.
  ``time.time()`` is accepted: over these tenths of a second it agrees with
  ``time.perf_counter()`` (the notebook explains why the latter is the clock for durations).
- ``check_epoch_flops``: the count of one epoch against :func:`utils.measure.epoch_flops`
  on several networks and data sizes, naming the usual slips (the backward pass
  forgotten, a multiply-add counted once, delta carried back to the input, a count per
  batch instead of per epoch, the last batch counted as full).

Nothing here prints a line of the solution: messages name the mistake and the idea.
"""

from __future__ import annotations

import inspect
import math
import sys
import time
from contextlib import contextmanager

import numpy as np

from utils.checks.core import Check, CheckFailed, fail, hidden, seeded

__all__ = ["check_measure_run", "check_epoch_flops"]


# --- measuring a run -------------------------------------------------------------------------

BUSY_S = 0.15  # the measured call: a busy loop of this many seconds
TRACKER_S = 0.25  # the working stand-in's start() and stop() each take this long, as the real ones take time


def _busy(seconds: float = BUSY_S) -> None:
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        pass


class _Log:
    """What the stand-in trackers saw."""

    def __init__(self):
        self.made, self.kwargs, self.started, self.stopped = 0, {}, None, None
        self.read_early = False
        self.online = False


class _Data:
    """The figures of CodeCarbon's ``EmissionsData`` that a student might read (all different)."""

    energy_consumed = 2.5e-5  # kWh: CPU + RAM + GPU
    cpu_energy = 1.75e-5
    ram_energy = 0.75e-5
    gpu_energy = 0.0
    emissions = 1.3e-6  # kg CO2eq
    emissions_rate = 1.3e-6 / 0.45  # kg per second
    duration = 0.45  # s
    cpu_power = 42.0  # W
    ram_power = 9.0
    gpu_power = 0.0
    country_name = "France"
    country_iso_code = "FRA"


def _fake_tracker(log: _Log, how: str = "works", online: bool = False):
    """A stand-in for CodeCarbon's tracker class: ``how`` is "works", "init fails",
    "start fails" or "hides an error" (``stop()`` returns None, as CodeCarbon does when
    it swallowed one of its errors)."""

    class Tracker:
        def __init__(self, *args, **kwargs):
            log.made += 1
            log.kwargs = dict(kwargs, **({"positional": args} if args else {}))
            log.online = log.online or online
            if how == "init fails":
                raise RuntimeError("(stand-in) CodeCarbon could not read this machine's hardware")

        def start(self):
            if how == "start fails":
                raise RuntimeError("(stand-in) CodeCarbon failed to start")
            time.sleep(TRACKER_S if how == "works" else 0.0)
            log.started = time.perf_counter()

        def stop(self):
            log.stopped = time.perf_counter()
            time.sleep(TRACKER_S if how == "works" else 0.0)
            if how == "hides an error":
                self._data = None
                return None
            self._data = _Data()
            return _Data.emissions

        @property
        def final_emissions_data(self):
            if log.stopped is None:
                log.read_early = True
                raise AttributeError("'OfflineEmissionsTracker' object has no attribute "
                                     "'final_emissions_data'")
            return self._data

    return Tracker


@contextmanager
def _codecarbon_replaced(fn, log: _Log | None, how: str = "works"):
    """Replace CodeCarbon's tracker classes, wherever ``fn`` can reach them (its globals,
    the ``codecarbon`` module), by stand-ins; ``log=None`` makes CodeCarbon missing."""
    try:
        import codecarbon
    except Exception:
        codecarbon = None
    names = ("OfflineEmissionsTracker", "EmissionsTracker")
    real = {name: getattr(codecarbon, name, None) for name in names}
    g = getattr(fn, "__globals__", {})
    saved_globals = dict(g)
    saved_module = sys.modules.get("codecarbon")
    saved_attrs = {name: getattr(codecarbon, name) for name in names if hasattr(codecarbon, name)}
    fakes = {name: None if log is None else _fake_tracker(log, how, online=name == "EmissionsTracker")
             for name in names}
    try:
        for key, value in saved_globals.items():  # the notebook's own names for the classes
            for name in names:
                if key == name or (real[name] is not None and value is real[name]):
                    g[key] = fakes[name]
        if log is None:
            sys.modules["codecarbon"] = None  # `import codecarbon` now raises ImportError
        elif codecarbon is not None:
            for name in names:
                setattr(codecarbon, name, fakes[name])
        else:
            stand_in = type(sys)("codecarbon")
            for name in names:
                setattr(stand_in, name, fakes[name])
            sys.modules["codecarbon"] = stand_in
        yield
    finally:
        for key in list(g):
            if key in saved_globals:
                g[key] = saved_globals[key]
        for name, value in saved_attrs.items():
            setattr(codecarbon, name, value)
        if saved_module is None:
            sys.modules.pop("codecarbon", None)
        else:
            sys.modules["codecarbon"] = saved_module


def _attempt(check: Check, fn, *args):
    """``(fn(*args), None)``, or ``(None, what went wrong)``; a blank exercise fails at once."""
    __tracebackhide__ = True  # noqa: F841
    try:
        return check.call(fn, *args), None
    except CheckFailed as err:
        if "not written yet" in str(err):
            raise
        return None, str(err).split(": ", 1)[-1]


def _triple(out):
    """(seconds, kWh, g) as floats, or None."""
    if not isinstance(out, (tuple, list)) or len(out) != 3:
        return None
    try:
        return tuple(float(v) for v in out)
    except (TypeError, ValueError):
        return None


def _seconds_problem(seconds: float) -> str | None:
    if BUSY_S * 0.9 <= seconds < BUSY_S + TRACKER_S / 2:
        return None
    if 1000 * BUSY_S * 0.9 <= seconds < 1000 * (BUSY_S + 3 * TRACKER_S):
        return (f"{seconds:.4g} for a call of about {BUSY_S} s: these are milliseconds. "
                "time.perf_counter() counts seconds; keep them.")
    if BUSY_S + TRACKER_S / 2 <= seconds < BUSY_S + 3 * TRACKER_S:
        return (f"{seconds:.3f} s for a call of about {BUSY_S} s: the time includes the tracker's own "
                "start-up or shut-down (which takes a while), not just the call being measured.")
    if seconds < BUSY_S * 0.9:
        return (f"{seconds:.4g} s for a call of about {BUSY_S} s: the clock does not surround the call "
                "to train_fn (read it just before and just after).")
    return f"{seconds:.4g} s for a call of about {BUSY_S} s."


def _energy_mistakes(d: type[_Data]) -> dict:
    return {
        "the CPU's energy only (cpu_energy): the run's energy also counts the RAM (and any GPU)":
            d.cpu_energy,
        "the RAM's energy only (ram_energy)": d.ram_energy,
        "the emissions in kg (emissions), not the energy in kWh": d.emissions,
        "the emissions in g, not the energy in kWh": d.emissions * 1000,
        "a duration in seconds (duration), not an energy": d.duration,
        "a power in watts (cpu_power), not an energy": d.cpu_power,
        "an energy in Wh, not kWh (a factor 1000)": d.energy_consumed * 1000,
        "an energy in joules, not kWh (1 kWh = 3.6e6 J)": d.energy_consumed * 3.6e6,
        "the emission rate (kg per second), not an energy": d.emissions_rate,
    }


def _co2_mistakes(d: type[_Data]) -> dict:
    return {
        "kilograms, not grams: stop() returns kg CO2eq, so grams are a factor 1000 larger": d.emissions,
        "kg divided by 1000: grams are kg times 1000": d.emissions / 1000,
        "milligrams (kg times 1e6), not grams": d.emissions * 1e6,
        "the energy (kWh), not the emissions": d.energy_consumed,
        "the emission rate (kg per second) times 1000, not the emissions": d.emissions_rate * 1000,
    }


def _check_without_energy(check: Check, fn, log: _Log | None, how: str, part: str) -> None:
    """With CodeCarbon missing (``log=None``) or failing (``how``): the time, and NaN energy."""
    __tracebackhide__ = True  # noqa: F841
    with _codecarbon_replaced(fn, log, how):
        out, error = _attempt(check, fn, _busy)
    check.passed()
    values = _triple(out)
    if error is not None:
        check.problems.append(f"{part}: your function crashed ({error}). The notebook must go on: return "
                              "the time, with NaN for the energy and the CO2.")
    elif values is None:
        check.problems.append(f"{part}: expected (seconds, kWh, g CO2eq); got {out!r}.")
    elif not (math.isfinite(values[0]) and values[0] > 0):
        check.problems.append(f"{part}: the time is {values[0]!r}: it is measured whatever happens to "
                              "CodeCarbon.")
    elif not (math.isnan(values[1]) and math.isnan(values[2])):
        check.problems.append(f"{part}: energy {values[1]!r} and CO2 {values[2]!r}: nothing was measured, so "
                              "both should be NaN (math.nan); a 0 would read as a measurement.")


def check_measure_run(measure_run, real: bool = True):
    """``measure_run(train_fn)`` must call ``train_fn()`` once and return ``(seconds, kWh,
    g CO2eq)``: the time always, NaN energy and CO2 when CodeCarbon is missing or fails.
    ``real=False`` skips the last run with the real CodeCarbon (about 2 s)."""
    __tracebackhide__ = True  # noqa: F841
    from utils import config

    check = Check("measure_run")
    calls = []

    def task():
        calls.append(time.perf_counter())
        _busy()
        calls.append(time.perf_counter())

    # 1. A stand-in tracker with known figures.
    log = _Log()
    with _codecarbon_replaced(measure_run, log):
        out, error = _attempt(check, measure_run, task)
    if error is not None and log.read_early and log.stopped is None:
        fail("measure_run: the tracker's results (final_emissions_data) were read before the tracker was "
             "stopped: they exist only once stop() has ended the measurement; stop() also returns the "
             "emissions, in kg CO2eq.")
    if error is not None:
        fail(f"measure_run: {error}")
    values = _triple(out)
    if values is None:
        fail(f"measure_run: should return three numbers, (seconds, kWh, g CO2eq); got {out!r}.")
    if len(calls) != 2:
        fail(f"measure_run: train_fn should be called exactly once; it was called {len(calls) // 2} times.")
    seconds, kwh, g = values
    check.passed()
    if log.made == 0:
        check.problems.append("the tracker: no CodeCarbon tracker was created (or it was created outside "
                              "the function): each measurement needs its own OfflineEmissionsTracker.")
    elif log.online:
        check.problems.append("the tracker: EmissionsTracker (online) guesses the country over the network "
                              "and, offline, silently falls back to Canada's electricity; the course uses "
                              "the offline tracker with the country given.")
    else:
        kwargs = log.kwargs
        if kwargs.get("country_iso_code") != config.country():
            check.problems.append(f"the tracker: country_iso_code is {kwargs.get('country_iso_code')!r}; the "
                                  f"course's country is config.country() ({config.country()!r}), which "
                                  "sets the carbon intensity of the electricity.")
        if kwargs.get("output_methods", None) != []:
            check.problems.append("the tracker: without output_methods=[] CodeCarbon writes an emissions.csv "
                                  "file next to the notebook at every measurement.")
        try:
            from codecarbon import OfflineEmissionsTracker as Real

            accepted = inspect.signature(Real.__init__).parameters
            unknown = [k for k in kwargs if k not in accepted and k != "positional"]
            if unknown and not any(p.kind == p.VAR_KEYWORD for p in accepted.values()):
                check.problems.append(f"the tracker: OfflineEmissionsTracker has no argument {unknown[0]!r}.")
        except Exception:
            pass
    check.passed()
    if log.made and log.stopped is None and log.started is not None:
        check.problems.append("the tracker: it is started but never stopped: stop() ends the measurement "
                              "and returns the emissions; without it the tracker keeps running in the "
                              "background.")
    elif log.started is not None and log.stopped is not None:
        if log.started > calls[0] or log.stopped < calls[1]:
            check.problems.append("the tracker: it must be started before train_fn() runs and stopped after "
                                  "it returns, so that it measures the whole call.")
    elif log.made and log.started is None:
        check.problems.append("the tracker: it is created but never started (start()): it measured nothing.")
    check.passed()
    why = _seconds_problem(seconds)
    if why is not None:
        check.problems.append(f"the seconds: {why}")
    check.compare("the energy (kWh)", kwh, _Data.energy_consumed, mistakes=_energy_mistakes(_Data),
                  tol=1e-9)
    check.compare("the emissions (g CO2eq)", g, _Data.emissions * 1000, mistakes=_co2_mistakes(_Data),
                  tol=1e-9)

    # 2. CodeCarbon missing, failing to start, or hiding an error.
    _check_without_energy(check, measure_run, None, "", "without CodeCarbon")
    _check_without_energy(check, measure_run, _Log(), "init fails", "when the tracker cannot be created")
    _check_without_energy(check, measure_run, _Log(), "start fails", "when CodeCarbon fails to start")
    _check_without_energy(check, measure_run, _Log(), "hides an error",
                          "when stop() returns None (CodeCarbon hides its own errors that way)")

    # 3. Once for real: grams per kWh are the country's carbon intensity.
    if real and check.ok:
        _check_real(check, measure_run)
    check.done()


def _check_real(check: Check, measure_run) -> None:
    __tracebackhide__ = True  # noqa: F841
    from utils import config, measure

    intensity = measure.carbon_intensity(config.country())[1]
    out, error = _attempt(check, measure_run, _busy)
    check.passed()
    values = _triple(out)
    if error is not None or values is None:
        check.problems.append(f"with the real CodeCarbon: {error or f'got {out!r}'}")
        return
    seconds, kwh, g = values
    if not BUSY_S * 0.9 <= seconds < BUSY_S + 1.0:
        check.problems.append(f"with the real CodeCarbon: {seconds:.4g} s for a call of about {BUSY_S} s.")
    elif math.isfinite(kwh) and kwh > 0 and math.isfinite(intensity):
        if not math.isclose(g / kwh, intensity, rel_tol=1e-3):
            check.problems.append(f"with the real CodeCarbon: {g / kwh:.4g} g per kWh, but the electricity "
                                  f"of {config.country()} emits {intensity:.4g} g per kWh in CodeCarbon's "
                                  "table.")


# --- FLOPs of one epoch --------------------------------------------------------------------------

FLOP_CASES = [([784, 256, 10], 4000, 64), ([784, 256, 128, 10], 60000, 64), ([784, 64, 32, 10], 1000, 128),
              ([5, 4, 3, 2], 7, 2), ([20, 7], 10, 3)]


def _flops(sizes, n, forward=1, weight_grads=1, back=1, input_back=0, per_madd=2):
    layers = list(zip(sizes[:-1], sizes[1:]))
    products = [n * m * k for m, k in layers]
    count = (forward + weight_grads) * sum(products) + back * sum(products[1:]) + input_back * products[0]
    return per_madd * count


def _flop_cases() -> list:
    """:data:`FLOP_CASES`, or, for the grader's hidden inputs, five other networks and epochs."""
    if not hidden():
        return FLOP_CASES
    rng = seeded(31)
    return [([int(v) for v in rng.integers(2, 800, rng.integers(2, 6))], int(rng.integers(1, 70000)),
             int(rng.integers(1, 300))) for _ in range(5)]


def _flop_mistakes(cases) -> dict:
    def over(fn):
        return np.array([float(fn(s, n, b)) for s, n, b in cases])

    return {
        "the forward pass only: the backward pass (weight gradients and delta carried back) costs about "
        "twice as much again": over(lambda s, n, b: _flops(s, n, weight_grads=0, back=0)),
        "the backward pass without the products that carry delta back to the previous layer":
            over(lambda s, n, b: _flops(s, n, back=0)),
        "the backward pass without the weight gradients": over(lambda s, n, b: _flops(s, n, weight_grads=0)),
        "a multiply-add counted as 1 FLOP (it is 2: one multiplication, one addition)":
            over(lambda s, n, b: _flops(s, n, per_madd=1)),
        "delta carried back to the input layer too: no one needs the gradient with respect to the pixels":
            over(lambda s, n, b: _flops(s, n, input_back=1)),
        "the count of one batch, not of the epoch (an epoch is n samples, whatever the batch size)":
            over(lambda s, n, b: _flops(s, b)),
        "the count of one sample, not of the epoch": over(lambda s, n, b: _flops(s, 1)),
        "every batch counted as full: the last batch of an epoch holds only the samples left over":
            over(lambda s, n, b: _flops(s, math.ceil(n / b) * b)),
        "the forward pass only, and a multiply-add counted as 1":
            over(lambda s, n, b: _flops(s, n, weight_grads=0, back=0, per_madd=1)),
        "delta carried back to the input layer, and a multiply-add counted as 1":
            over(lambda s, n, b: _flops(s, n, input_back=1, per_madd=1)),
        "the number of batches, not of samples, multiplying the count":
            over(lambda s, n, b: _flops(s, math.ceil(n / b))),
    }


def check_epoch_flops(epoch_flops):
    """``epoch_flops(sizes, n, batch_size)``: floating-point operations of one SGD epoch over
    ``n`` samples (matrix products only, a multiply-add counting 2), for layer sizes like
    ``[784, 256, 10]``; compared with :func:`utils.measure.epoch_flops`."""
    __tracebackhide__ = True  # noqa: F841
    from utils import measure

    check = Check("epoch_flops")
    cases = _flop_cases()
    got = []
    for sizes, n, batch in cases:
        value = check.call(epoch_flops, list(sizes), n, batch)
        if value is None:
            fail("epoch_flops: returned None: is the `return` line missing?")
        try:
            got.append(float(value))
        except (TypeError, ValueError):
            fail("epoch_flops: should return one number (the FLOPs of the epoch); got "
                 f"{type(value).__name__}.")
    expected = np.array([measure.epoch_flops(sizes, n) for sizes, n, _ in cases])
    labels = ", ".join(f"{'-'.join(map(str, s))} on {n}" for s, n, _ in cases[:2])
    if check.compare(f"the FLOPs of one epoch ({labels}, ...)", np.array(got), expected,
                     mistakes=_flop_mistakes(cases), tol=1e-12):
        check.passed(len(cases) - 1)  # one agreement per network
    check.done()

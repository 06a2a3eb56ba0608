"""Wall time, energy and CO2 of a block of code.

    from utils.measure import measure
    with measure("training") as cost:
        train(...)
    print(cost)          # training: 3.20 s, 1.1e-05 kWh, 0.0006 g CO2eq (France; CPU: ...)

Energy comes from CodeCarbon's *offline* tracker (``codecarbon>=3.2.8,<4``): one
fresh tracker per block, started before it and stopped after it, with no output
method, so that no ``emissions.csv`` is written and nothing goes to the network.
CodeCarbon reads the power of the CPU, the RAM and any NVIDIA/AMD GPU (measured
where the hardware allows it, estimated otherwise) and converts the energy into
CO2 with the carbon intensity of the country's electricity from its own table.

The country is ``TP_COUNTRY`` (default ``FRA``) or the ``country`` argument, an
ISO 3166 alpha-3 code; a code CodeCarbon does not know raises ``ValueError``
*before* the block runs.

Without CodeCarbon, or when it fails at any point, the block still runs and is
timed: ``cost.method`` says in one line why energy is unavailable, that line is
printed once ("Energy unavailable: ... Time is still measured."), and energy and
CO2 are NaN. ``carbon_intensity`` then returns NaN too. An exception raised by
the block itself always propagates unchanged.
"""

from __future__ import annotations

import math
import numbers
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass

from utils import config  # sets CODECARBON_LOG_LEVEL before CodeCarbon is imported

INSTALL = "pip install 'codecarbon>=3.2.8,<4'"


@dataclass
class Measurement:
    label: str = ""
    seconds: float = math.nan
    kwh: float = math.nan  # energy used by CPU + RAM (+ GPU), kWh
    g_co2: float = math.nan  # emissions, grams of CO2-equivalent
    country: str = ""
    method: str = ""  # how CodeCarbon got the energy, or why it could not

    @property
    def has_energy(self) -> bool:
        return not math.isnan(self.kwh)

    def __str__(self) -> str:
        head = f"{self.label + ': ' if self.label else ''}{self.seconds:.2f} s"
        if not self.has_energy:
            return f"{head}; energy unavailable ({self.method})"
        return f"{head}, {self.kwh:.3g} kWh, {self.g_co2:.3g} g CO2eq ({self.country}; {self.method})"


def _energy_mix() -> dict | None:
    """CodeCarbon's table of national electricity mixes, keyed by ISO alpha-3
    code, or None when CodeCarbon (or its table) is unavailable."""
    try:
        from codecarbon.input import DataSource

        table = DataSource().get_global_energy_mix_data()
    except Exception:  # ImportError, or a broken install
        return None
    return table if isinstance(table, dict) and table else None


def check_country_known(code: str | None = None) -> str:
    """``code`` (default ``TP_COUNTRY``, read now) as an upper-case ISO 3166
    alpha-3 code that CodeCarbon's table knows; ``ValueError`` otherwise.

    Without CodeCarbon only the format (three letters) can be checked."""
    value = config.country() if code is None else config.check_country(code)
    table = _energy_mix()
    if table is not None and value not in table:
        name = f"TP_COUNTRY={value!r}" if code is None else f"country {code!r}"
        raise ValueError(f"{name}: not a country CodeCarbon knows; use an ISO 3166 alpha-3 code "
                         "such as FRA, DEU or USA.")
    return value


def carbon_intensity(country: str | None = None) -> tuple[str, float]:
    """``(country name, grams of CO2eq per kWh)`` from CodeCarbon's table of
    national electricity mixes, for an ISO 3166 alpha-3 code such as ``"POL"``.

    ``country=None`` (or no argument) means ``TP_COUNTRY`` (default ``FRA``),
    read now, as for :func:`measure`. ``ValueError`` for a code that is not three
    letters or that CodeCarbon does not know. Without CodeCarbon, returns
    ``(code, math.nan)`` so that a notebook can go on (and print "unavailable")."""
    code = check_country_known(country)
    table = _energy_mix()
    if table is None:
        return code, math.nan
    return table[code].get("country_name", code), float(table[code].get("carbon_intensity", math.nan))


def _stop_quietly(tracker) -> None:
    """Stop a tracker that may have started, so that no measuring thread is left behind."""
    try:
        if tracker is not None:
            tracker.stop()
    except Exception:
        pass  # the reason already reported is the first failure


def _start_tracker(country: str):
    """``(started tracker, "")``, or ``(None, why energy is unavailable)``."""
    try:
        import codecarbon
    except Exception as err:  # ImportError, or a broken install
        return None, f"CodeCarbon could not be imported ({type(err).__name__}: {err}); {INSTALL}"
    # CodeCarbon 3.2.8 brought both OutputMethod and the output_methods argument; an
    # older one would swallow the TypeError in its __init__ and hand back a broken tracker.
    if not hasattr(codecarbon, "OutputMethod"):
        return None, f"CodeCarbon {getattr(codecarbon, '__version__', '?')} is too old; {INSTALL}"
    tracker = None
    try:
        tracker = codecarbon.OfflineEmissionsTracker(
            country_iso_code=country,
            output_methods=[],  # no emissions.csv, no API
            measure_power_secs=1,
            allow_multiple_runs=True,  # no lock file; each block has its own tracker
        )  # no log_level: CODECARBON_LOG_LEVEL decides (utils.config makes it "error")
        tracker.start()
    except BaseException as err:  # Ctrl-C included: never leave a tracker running
        _stop_quietly(tracker)
        if not isinstance(err, Exception):
            raise
        return None, f"CodeCarbon failed to start ({type(err).__name__}: {err})"
    return tracker, ""


def _describe_method(data) -> str:
    """How the energy was obtained, from the public fields of CodeCarbon's EmissionsData.

    CodeCarbon's public API does not say whether the CPU's power was *measured*
    (RAPL, powermetrics...) or *estimated* (load x TDP, or a constant): that
    choice lives in private attributes and in its log ("CPU Tracking Method: ..."
    at level info). So the line gives the CPU model and mean power CodeCarbon
    used and points to that log. RAM power is always CodeCarbon's estimate from
    the memory size; GPUs are read from their driver (NVML for NVIDIA)."""
    def number(name, unit):
        try:
            return f"{float(getattr(data, name)):.3g} {unit}"
        except (AttributeError, TypeError, ValueError):
            return f"? {unit}"

    cpu = getattr(data, "cpu_model", None) or "an unknown CPU"
    parts = [f"CPU: CodeCarbon's figure for {cpu}, {number('cpu_power', 'W')} on average, measured "
             "or estimated (CODECARBON_LOG_LEVEL=info logs which)",
             f"RAM: estimated from its size ({number('ram_total_size', 'GB')}), {number('ram_power', 'W')}"]
    if getattr(data, "gpu_count", 0):
        gpu = getattr(data, "gpu_model", None) or "GPU"
        parts.append(f"GPU: {gpu} measured by its driver (NVML for NVIDIA), {number('gpu_power', 'W')}")
    return "; ".join(parts)


def _stop_tracker(tracker, result: Measurement) -> str:
    """Stop ``tracker`` and put its energy, CO2 and method into ``result``; returns
    "" or why there is no energy. CodeCarbon hides its own errors (``stop()``
    then returns None), so what comes back is checked, not trusted."""
    try:
        kg = tracker.stop()
    except Exception as err:
        _stop_quietly(tracker)
        return f"CodeCarbon failed to stop ({type(err).__name__}: {err})"
    data = getattr(tracker, "final_emissions_data", None)
    if kg is None or data is None:
        return ("CodeCarbon returned no measurement (it hides its own errors; "
                "CODECARBON_LOG_LEVEL=warning shows them)")
    try:
        kwh, g_co2 = float(data.energy_consumed), float(kg) * 1000.0
    except (AttributeError, TypeError, ValueError):
        kwh = g_co2 = math.nan
    if not (math.isfinite(kwh) and math.isfinite(g_co2)):
        return "CodeCarbon's data has no energy figure"
    result.kwh, result.g_co2 = kwh, g_co2
    result.country = getattr(data, "country_name", None) or result.country
    result.method = _describe_method(data)
    return ""


@contextmanager
def measure(label: str = "", country: str | None = None, energy: bool = True):
    """Measure the ``with`` block: wall time always, energy and CO2 when possible.

    Yields a :class:`Measurement`, filled in when the block ends. ``country``
    defaults to ``TP_COUNTRY`` (read now, not at import); a bad or unknown code
    raises ``ValueError`` before the block runs. ``energy=False`` only times."""
    result = Measurement(label=label, country=check_country_known(country))
    tracker, why = _start_tracker(result.country) if energy else (None, "energy not requested")
    start = time.perf_counter()
    try:
        yield result
    finally:
        result.seconds = time.perf_counter() - start
        if tracker is not None:
            why = _stop_tracker(tracker, result)
        if not result.has_energy:
            result.method = why
            if energy:
                print(f"Energy unavailable: {why}. Time is still measured.")


#: TensorFlow's switch for its oneDNN custom operations: "1" on, "0" off, unset: TensorFlow decides
#: by the CPU (on Linux: on for CPUs with neural-network instructions, AVX512_VNNI, AVX512_BF16,
#: AVX_VNNI or AMX; off otherwise). utils.config leaves it alone, so TensorFlow runs as shipped.
ONEDNN_VARIABLE = "TF_ENABLE_ONEDNN_OPTS"


def onednn_enabled() -> bool | None:
    """Whether TensorFlow, in this process, runs its oneDNN custom operations (its CPU
    kernels from Intel's oneDNN library): ``True``/``False``, or ``None`` when TensorFlow
    is not installed or does not say. Imports TensorFlow if it is not imported yet; the
    answer is fixed when TensorFlow first reads ``TF_ENABLE_ONEDNN_OPTS``."""
    try:
        from tensorflow.python.util import _pywrap_util_port  # TensorFlow's own test helper uses it
        return bool(_pywrap_util_port.IsMklEnabled())
    except Exception:  # not installed, or the private module moved
        return None


def tensorflow_setting() -> str:
    """One line for a timing's header: TensorFlow's version and whether oneDNN is on, and why
    (``TF_ENABLE_ONEDNN_OPTS`` as set, or TensorFlow's default). Imports TensorFlow."""
    try:
        import tensorflow as tf
    except Exception as err:
        return f"TensorFlow unavailable ({type(err).__name__})"
    state = {True: "on", False: "off", None: "on or off (TensorFlow does not say)"}[onednn_enabled()]
    value = os.environ.get(ONEDNN_VARIABLE)
    why = (f"{ONEDNN_VARIABLE}={value}" if value is not None
           else f"TensorFlow's default for this CPU; {ONEDNN_VARIABLE} unset")
    return f"TensorFlow {tf.__version__}, oneDNN custom operations {state} ({why})"


def epoch_flops(sizes, n: int) -> float:
    """Floating-point operations of one SGD epoch over ``n`` samples for layer
    sizes like ``[784, 256, 10]``: the forward products ``A_prev @ W`` and, in the
    backward pass, the weight gradients ``A_prev.T @ delta`` and the products
    ``delta @ W.T`` that carry delta back (none is needed for the input layer).
    Each multiply-add counts as 2.

    ``sizes`` is a list of at least two integers >= 1 and ``n`` an integer >= 1
    (an epoch over no sample is a mistake, not 0 FLOPs); ``TypeError`` or
    ``ValueError`` otherwise."""
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__"):
        raise TypeError(f"sizes must be a list of layer sizes such as [784, 256, 10]; got {sizes!r}.")
    if len(sizes) < 2 or not all(_is_count(m) for m in sizes):
        raise ValueError(f"sizes must be at least two integers >= 1 (inputs, ..., outputs), such as "
                         f"[784, 256, 10]; got {sizes!r}.")
    sizes, n = [int(m) for m in sizes], _check_count(n, "n (the number of samples in the epoch)")
    layers = list(zip(sizes[:-1], sizes[1:]))
    forward = sum(2 * n * m * k for m, k in layers)
    backward = forward + sum(2 * n * m * k for m, k in layers[1:])
    return float(forward + backward)


def matmul_rate(size: int = 2048, repeats: int = 5) -> float:
    """This machine's float32 matrix-product rate with NumPy's BLAS, in GFLOP/s
    (median of ``repeats`` products of two ``size x size`` matrices), with the CPU
    threads NumPy has (``utils.config.threads()``): a reference for work made of matrix
    products, which a training loop's many small products rarely reach. It is
    measured, not a hardware limit: a rate compared with it was measured at another
    moment, and on a shared machine either figure can move by tens of percent.
    ``size`` and ``repeats`` are integers >= 1."""
    import numpy as np

    size = _check_count(size, "size (rows and columns of the matrices)")
    repeats = _check_count(repeats, "repeats (the number of products timed)")

    a = np.random.default_rng(0).random((size, size), dtype=np.float32)
    a @ a  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ a
        times.append(time.perf_counter() - start)
    return 2 * size**3 / float(np.median(times)) / 1e9


def _is_count(value) -> bool:
    """An integer >= 1 (Python's or NumPy's; not a bool, not 2.0)."""
    return not isinstance(value, bool) and isinstance(value, numbers.Integral) and value >= 1


def _check_count(value, what: str) -> int:
    """``value`` as an int if it is an integer >= 1 (``TypeError`` for another type, ``ValueError``
    below 1)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{what} must be an integer >= 1; got {value!r} ({type(value).__name__}).")
    if value < 1:
        raise ValueError(f"{what} must be an integer >= 1; got {value!r}.")
    return int(value)

"""Wall time, energy and CO2 of a block of code.

    from utils.measure import measure
    with measure("training") as cost:
        train(...)
    print(cost)          # 3.2 s, 1.1e-05 kWh, 0.0006 g CO2eq (France, ...)

Energy and emissions come from CodeCarbon's *offline* tracker (no network, the
country's carbon intensity from CodeCarbon's own tables). One fresh tracker per
block, writing no file. If CodeCarbon is missing or fails, the time is still
measured and ``cost.method`` says in one line why energy is unavailable; a
notebook never breaks because of it.
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from dataclasses import dataclass

from utils import config  # sets CODECARBON_LOG_LEVEL before CodeCarbon is imported


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

    def as_row(self) -> dict:
        return {"seconds": self.seconds, "kWh": self.kwh, "g CO2eq": self.g_co2}


def _describe_method(tracker) -> str:
    """Say whether CodeCarbon measured power (RAPL, NVML) or estimated it."""
    parts = []
    for device in getattr(tracker, "_hardware", []):
        kind = type(device).__name__
        mode = getattr(device, "_mode", None)
        if kind == "CPU":
            parts.append({
                "intel_rapl": "CPU measured with RAPL",
                "intel_power_gadget": "CPU measured with Intel Power Gadget",
                "apple_powermetrics": "CPU measured with powermetrics",
                "cpu_load": "CPU estimated from load x TDP",
                "constant": "CPU estimated as a constant share of TDP",
            }.get(mode, f"CPU via {mode}"))
        elif kind == "GPU":
            parts.append("GPU measured with NVML")
        elif kind == "RAM":
            parts.append("RAM estimated from its size")
    return ", ".join(parts) or "method not reported"


def _start_tracker(country: str):
    """A started tracker, or ``(None, reason)`` when energy cannot be measured."""
    try:
        from codecarbon import OfflineEmissionsTracker
    except Exception as err:  # ImportError, or a broken install
        return None, f"codecarbon could not be imported ({type(err).__name__}); pip install codecarbon"
    try:
        options = dict(country_iso_code=country, log_level="error", measure_power_secs=1,
                       allow_multiple_runs=True)
        try:
            tracker = OfflineEmissionsTracker(output_methods=[], **options)  # no emissions.csv
        except TypeError:  # CodeCarbon < 3 has no output_methods
            tracker = OfflineEmissionsTracker(save_to_file=False, **options)
        tracker.start()
        return tracker, ""
    except Exception as err:
        return None, f"CodeCarbon failed to start ({type(err).__name__}: {err})"


@contextmanager
def measure(label: str = "", country: str | None = None, energy: bool = True):
    """Measure the ``with`` block: wall time always, energy and CO2 when possible.

    ``country`` defaults to ``TP_COUNTRY`` (read now, not at import)."""
    country = config.check_country(country) if country is not None else config.country()
    result = Measurement(label=label, country=country)
    tracker, why = _start_tracker(country) if energy else (None, "energy not requested")
    start = time.perf_counter()
    try:
        yield result
    finally:
        result.seconds = time.perf_counter() - start
        if tracker is not None:
            try:
                kg = tracker.stop()
                data = tracker.final_emissions_data
                if kg is None or data is None:
                    raise RuntimeError("the tracker returned no data")
                result.kwh = float(data.energy_consumed)
                result.g_co2 = float(kg) * 1000.0
                result.country = getattr(data, "country_name", None) or country
                result.method = _describe_method(tracker)
            except Exception as err:
                why = f"CodeCarbon failed to stop ({type(err).__name__}: {err})"
        if not result.has_energy:
            result.method = why
            if energy:
                print(f"Energy unavailable: {why}. Time is still measured.")


def carbon_intensity(country: str) -> tuple[str, float]:
    """(country name, grams of CO2eq per kWh) from CodeCarbon's own table of
    national electricity mixes, for an ISO 3166 alpha-3 code such as ``"POL"``."""
    from codecarbon.input import DataSource

    table = DataSource().get_global_energy_mix_data()
    if country not in table:
        raise ValueError(f"unknown country code {country!r}: use an ISO alpha-3 code such as 'FRA' or 'DEU'.")
    return table[country]["country_name"], float(table[country]["carbon_intensity"])


def epoch_flops(sizes, n: int) -> float:
    """Floating-point operations of one SGD epoch over ``n`` samples for layer
    sizes like ``[784, 256, 10]``: the forward products ``A_prev @ W`` and, in the
    backward pass, the weight gradients ``A_prev.T @ delta`` and the products
    ``delta @ W.T`` that carry delta back (none is needed for the input layer).
    Each multiply-add counts as 2."""
    layers = list(zip(sizes[:-1], sizes[1:]))
    forward = sum(2 * n * m * k for m, k in layers)
    backward = forward + sum(2 * n * m * k for m, k in layers[1:])
    return float(forward + backward)


def matmul_rate(size: int = 2048, repeats: int = 5) -> float:
    """This machine's float32 matrix-product rate with NumPy's BLAS, in GFLOP/s
    (median of ``repeats`` products of two ``size x size`` matrices): the ceiling
    for work made of large matrix products."""
    import numpy as np

    a = np.random.default_rng(0).random((size, size), dtype=np.float32)
    a @ a  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ a
        times.append(time.perf_counter() - start)
    return 2 * size**3 / float(np.median(times)) / 1e9

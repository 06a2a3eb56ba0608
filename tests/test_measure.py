"""utils.measure, with CodeCarbon present, absent and failing."""

import builtins
import math

import numpy as np
import pytest

from utils import measure


def _work(seconds=0.3):
    """Keep the CPU busy with matrix products for about ``seconds``."""
    import time

    a = np.random.default_rng(0).random((300, 300))
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        a = a @ a / 300.0
    return a


# --- measure ---------------------------------------------------------------------


def test_measure_with_codecarbon_gives_time_energy_and_method(tmp_path, monkeypatch):
    pytest.importorskip("codecarbon")
    monkeypatch.chdir(tmp_path)  # where CodeCarbon would drop emissions.csv
    with measure.measure("matmul", country="FRA") as cost:
        _work()
    assert cost.seconds > 0
    assert cost.has_energy and cost.kwh > 0 and cost.g_co2 > 0
    assert "CPU" in cost.method
    # France's intensity in CodeCarbon's tables is far below 200 g/kWh
    assert 1 < cost.g_co2 / cost.kwh < 200
    assert "kWh" in str(cost) and "g CO2eq" in str(cost)
    assert list(tmp_path.iterdir()) == []  # no file written


def test_each_measurement_uses_a_fresh_tracker():
    pytest.importorskip("codecarbon")
    with measure.measure() as first:
        _work(1.0)
    with measure.measure() as second:
        pass
    # an accumulating tracker would report at least the first block's energy again
    assert second.kwh < first.kwh / 3


def test_measure_without_codecarbon_still_times_and_says_why(monkeypatch, capsys):
    real_import = builtins.__import__

    def no_codecarbon(name, *args, **kwargs):
        if name.startswith("codecarbon"):
            raise ImportError("No module named 'codecarbon'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_codecarbon)
    with measure.measure("no energy") as cost:
        _work()
    assert cost.seconds > 0 and not cost.has_energy and math.isnan(cost.g_co2)
    assert "codecarbon" in cost.method
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "Time is still measured" in out[0]
    assert "energy unavailable" in str(cost)


def test_measure_survives_a_tracker_that_fails(monkeypatch, capsys):
    pytest.importorskip("codecarbon")
    import codecarbon

    class Broken:
        def __init__(self, **kwargs):
            pass

        def start(self):
            pass

        def stop(self):
            raise RuntimeError("RAPL exploded")

    monkeypatch.setattr(codecarbon, "OfflineEmissionsTracker", Broken)
    with measure.measure() as cost:
        pass
    assert cost.seconds >= 0 and not cost.has_energy and "RAPL exploded" in cost.method
    assert "Energy unavailable" in capsys.readouterr().out


def test_measure_records_the_time_even_when_the_block_raises():
    with pytest.raises(ZeroDivisionError):
        with measure.measure(energy=False) as cost:
            _ = 1 / 0
    assert cost.seconds >= 0 and cost.method == "energy not requested"


def test_carbon_intensity_orders_france_germany_poland():
    pytest.importorskip("codecarbon")
    (fr_name, fr), (_, de), (_, pl) = (measure.carbon_intensity(c) for c in ("FRA", "DEU", "POL"))
    assert fr_name == "France" and 0 < fr < de < pl
    with pytest.raises(ValueError, match="alpha-3"):
        measure.carbon_intensity("France")

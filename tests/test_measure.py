"""utils.measure, with CodeCarbon present, absent, failing at each step, and bad country codes."""

import builtins
import math
import time
from types import SimpleNamespace

import numpy as np
import pytest

from utils import measure


def _work(seconds=0.3):
    """Keep the CPU busy with matrix products for about ``seconds``."""
    a = np.random.default_rng(0).random((300, 300))
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        a = a @ a / 300.0
    return a


def _assert_time_without_energy(cost, capsys, reason):
    """The block was timed, energy is NaN, and exactly one line said why."""
    assert cost.seconds >= 0.02
    assert not cost.has_energy and math.isnan(cost.kwh) and math.isnan(cost.g_co2)
    assert reason in cost.method
    line = f"Energy unavailable: {cost.method}. Time is still measured."
    assert capsys.readouterr().out.splitlines() == [line]
    assert str(cost).endswith(f"energy unavailable ({cost.method})")


@pytest.fixture
def no_codecarbon(monkeypatch):
    """Make every import of codecarbon fail, as when it is not installed."""
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "codecarbon" or name.startswith("codecarbon."):
            raise ImportError("No module named 'codecarbon'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)


@pytest.fixture
def fake_tracker(monkeypatch):
    """``install(cls)`` puts ``cls`` in place of codecarbon.OfflineEmissionsTracker
    and returns the list of the trackers measure() builds with it."""
    codecarbon = pytest.importorskip("codecarbon")
    built = []

    def install(cls):
        def make(**kwargs):
            tracker = cls(**kwargs)
            built.append(tracker)
            return tracker

        monkeypatch.setattr(codecarbon, "OfflineEmissionsTracker", make)
        return built

    return install


PUBLIC_DATA = dict(  # public fields of codecarbon's EmissionsData, as on a GPU machine
    energy_consumed=2e-5, country_name="Germany", cpu_model="Intel Xeon", cpu_power=30.0,
    ram_total_size=64.0, ram_power=10.0, gpu_count=1, gpu_model="1 x NVIDIA H100", gpu_power=150.0,
)


class GoodTracker:
    """A tracker that works, and remembers whether it is running."""

    def __init__(self, **kwargs):
        self.kwargs = kwargs
        self.running = False

    def start(self):
        self.running = True

    def stop(self):
        self.running = False
        self.final_emissions_data = SimpleNamespace(**PUBLIC_DATA)
        return 8e-6  # kg CO2eq


# --- measure with the real CodeCarbon -----------------------------------------


def test_measure_with_codecarbon_gives_energy_and_method_and_writes_no_file(tmp_path, monkeypatch, capsys):
    pytest.importorskip("codecarbon")
    (tmp_path / "cwd").mkdir()
    (tmp_path / "home").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")  # where CodeCarbon would drop emissions.csv
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # where .codecarbon.config lives
    with measure.measure("matmul", country="FRA") as cost:
        _work()
    assert cost.seconds >= 0.3
    assert cost.has_energy and cost.kwh > 0 and cost.g_co2 > 0
    assert cost.country == "France"
    assert cost.method.startswith("CPU: CodeCarbon's figure for ")
    assert "RAM: estimated from its size" in cost.method
    assert 1 < cost.g_co2 / cost.kwh < 200  # France's intensity in CodeCarbon's table is far below 200 g/kWh
    assert "kWh" in str(cost) and "g CO2eq" in str(cost)
    assert capsys.readouterr().out == ""
    assert list((tmp_path / "cwd").iterdir()) == [] and list((tmp_path / "home").iterdir()) == []


def test_each_measurement_uses_a_fresh_tracker():
    pytest.importorskip("codecarbon")
    with measure.measure() as first:
        _work(1.0)
    with measure.measure() as second:
        pass
    # an accumulating tracker would report at least the first block's energy again
    assert second.kwh < first.kwh / 3


def test_carbon_intensity_orders_france_germany_poland():
    pytest.importorskip("codecarbon")
    (fr_name, fr), (de_name, de), (_, pl) = (measure.carbon_intensity(c) for c in ("FRA", "deu", "POL"))
    assert (fr_name, de_name) == ("France", "Germany") and 0 < fr < de < pl


# --- CodeCarbon absent, too old, or failing at each step ------------------------


def test_measure_without_codecarbon_still_times_and_says_why(no_codecarbon, capsys):
    with measure.measure("no energy") as cost:
        _work(0.05)
    _assert_time_without_energy(cost, capsys, "CodeCarbon could not be imported (ImportError")
    assert "pip install" in cost.method and cost.country == "FRA"


def test_carbon_intensity_without_codecarbon_is_nan(no_codecarbon):
    name, intensity = measure.carbon_intensity("deu")
    assert name == "DEU" and math.isnan(intensity)


def test_carbon_intensity_without_codecarbon_table_is_nan(monkeypatch):
    from codecarbon.input import DataSource

    def broken(self):
        raise FileNotFoundError("global_energy_mix.json")

    monkeypatch.setattr(DataSource, "get_global_energy_mix_data", broken)
    name, intensity = measure.carbon_intensity("POL")
    assert name == "POL" and math.isnan(intensity)


def test_measure_with_a_codecarbon_too_old_says_so(monkeypatch, fake_tracker, capsys):
    import codecarbon

    built = fake_tracker(GoodTracker)
    monkeypatch.delattr(codecarbon, "OutputMethod")  # as in CodeCarbon < 3.2.8
    with measure.measure() as cost:
        _work(0.05)
    _assert_time_without_energy(cost, capsys, "is too old; pip install 'codecarbon>=3.2.8,<4'")
    assert built == []  # no tracker was even built


def test_measure_survives_a_tracker_that_cannot_be_built(fake_tracker, capsys):
    class Unbuildable(GoodTracker):
        def __init__(self, **kwargs):
            raise OSError("Folder '.' doesn't exist !")

    fake_tracker(Unbuildable)
    with measure.measure() as cost:
        _work(0.05)
    _assert_time_without_energy(cost, capsys, "CodeCarbon failed to start (OSError: Folder")


def test_measure_stops_a_tracker_whose_start_fails(fake_tracker, capsys):
    class FailsToStart(GoodTracker):
        def start(self):
            self.running = True  # its measuring thread was already launched
            raise RuntimeError("no RAPL")

    built = fake_tracker(FailsToStart)
    with measure.measure() as cost:
        _work(0.05)
    _assert_time_without_energy(cost, capsys, "CodeCarbon failed to start (RuntimeError: no RAPL)")
    assert len(built) == 1 and not built[0].running


def test_measure_survives_a_stop_that_raises_and_stops_the_tracker(fake_tracker, capsys):
    class FailsToStopOnce(GoodTracker):
        def stop(self):
            if not hasattr(self, "failed"):
                self.failed = True
                raise RuntimeError("RAPL exploded")
            self.running = False

    built = fake_tracker(FailsToStopOnce)
    with measure.measure() as cost:
        _work(0.05)
    _assert_time_without_energy(cost, capsys, "CodeCarbon failed to stop (RuntimeError: RAPL exploded)")
    assert not built[0].running


def test_measure_survives_a_stop_that_returns_none(fake_tracker, capsys):
    class ReturnsNone(GoodTracker):
        def stop(self):
            super().stop()
            return None  # what CodeCarbon's stop() gives after hiding an error

    fake_tracker(ReturnsNone)
    with measure.measure() as cost:
        _work(0.05)
    _assert_time_without_energy(cost, capsys, "CodeCarbon returned no measurement")


@pytest.mark.parametrize("data", ["missing", None], ids=["missing", "None"])
def test_measure_survives_final_emissions_data_missing_or_none(fake_tracker, capsys, data):
    class NoData(GoodTracker):
        def stop(self):
            self.running = False
            if data is None:
                self.final_emissions_data = None
            return 8e-6

    fake_tracker(NoData)
    with measure.measure() as cost:
        _work(0.05)
    _assert_time_without_energy(cost, capsys, "CodeCarbon returned no measurement")


@pytest.mark.parametrize("energy", ["missing", None, math.nan, "n/a"], ids=["missing", "None", "nan", "text"])
def test_measure_survives_emissions_data_without_energy(fake_tracker, capsys, energy):
    class NoEnergy(GoodTracker):
        def stop(self):
            kg = super().stop()
            if energy == "missing":
                del self.final_emissions_data.energy_consumed
            else:
                self.final_emissions_data.energy_consumed = energy
            return kg

    fake_tracker(NoEnergy)
    with measure.measure() as cost:
        _work(0.05)
    _assert_time_without_energy(cost, capsys, "CodeCarbon's data has no energy figure")


def test_measure_survives_a_half_built_tracker(fake_tracker, capsys):
    class HalfBuilt:
        """What CodeCarbon's __init__ returns when it fails midway (it swallows the
        exception): an object without its attributes, whose start() and stop()
        swallow their own errors too."""

        def __init__(self, **kwargs):
            pass

        def start(self):
            return None

        def stop(self):
            return None

    fake_tracker(HalfBuilt)
    with measure.measure() as cost:
        _work(0.05)
    _assert_time_without_energy(cost, capsys, "CodeCarbon returned no measurement")


def test_measure_describes_the_method_from_public_emissions_data(fake_tracker, capsys):
    built = fake_tracker(GoodTracker)
    with measure.measure("fake", country="deu") as cost:
        _work(0.05)
    assert built[0].kwargs["country_iso_code"] == "DEU" and built[0].kwargs["output_methods"] == []
    assert not built[0].running
    assert cost.kwh == pytest.approx(2e-5) and cost.g_co2 == pytest.approx(8e-3) and cost.country == "Germany"
    assert cost.method == (
        "CPU: CodeCarbon's figure for Intel Xeon, 30 W on average, measured or estimated "
        "(CODECARBON_LOG_LEVEL=info logs which); RAM: estimated from its size (64 GB), 10 W; "
        "GPU: 1 x NVIDIA H100 measured by its driver (NVML for NVIDIA), 150 W")
    assert capsys.readouterr().out == ""


def test_measure_without_energy_builds_no_tracker_and_prints_nothing(fake_tracker, capsys):
    built = fake_tracker(GoodTracker)
    with measure.measure(energy=False) as cost:
        _work(0.05)
    assert built == [] and cost.seconds >= 0.05 and cost.method == "energy not requested"
    assert capsys.readouterr().out == ""


# --- the block's own exception ----------------------------------------------------


def test_the_blocks_exception_propagates_with_the_time_and_energy_recorded(fake_tracker):
    built = fake_tracker(GoodTracker)
    error = ZeroDivisionError("the lesson's own bug")
    with pytest.raises(ZeroDivisionError) as raised:
        with measure.measure() as cost:
            _work(0.05)
            raise error
    assert raised.value is error
    assert cost.seconds >= 0.05 and cost.has_energy and not built[0].running


def test_the_blocks_exception_wins_over_a_failing_tracker(fake_tracker, capsys):
    class FailsToStop(GoodTracker):
        def stop(self):
            raise RuntimeError("RAPL exploded")

    fake_tracker(FailsToStop)
    with pytest.raises(KeyError, match="lesson"):
        with measure.measure() as cost:
            _work(0.05)
            raise KeyError("lesson")
    _assert_time_without_energy(cost, capsys, "RAPL exploded")


def test_the_blocks_exception_propagates_without_codecarbon(no_codecarbon, capsys):
    with pytest.raises(ZeroDivisionError):
        with measure.measure() as cost:
            _work(0.05)
            _ = 1 / 0
    _assert_time_without_energy(cost, capsys, "could not be imported")


# --- country codes -----------------------------------------------------------------


@pytest.mark.parametrize("code, message", [
    ("FR", "country 'FR': expected an ISO 3166 alpha-3 code"),
    ("France", "country 'France': expected an ISO 3166 alpha-3 code"),
    ("", "country '': expected an ISO 3166 alpha-3 code"),
    ("XXX", "country 'XXX': not a country CodeCarbon knows"),
])
def test_a_bad_country_raises_before_the_block_runs(code, message):
    pytest.importorskip("codecarbon")
    ran = []
    with pytest.raises(ValueError, match=message) as raised:
        with measure.measure(country=code, energy=False):
            ran.append(True)
    assert ran == [] and "FRA, DEU or USA" in str(raised.value)


@pytest.mark.parametrize("code", ["FR", "France", "", "XXX"])
def test_carbon_intensity_rejects_a_bad_country(code):
    pytest.importorskip("codecarbon")
    with pytest.raises(ValueError, match=f"country '{code}': .*FRA, DEU or USA"):
        measure.carbon_intensity(code)


@pytest.mark.parametrize("value, message", [
    ("FR", "TP_COUNTRY='FR': expected an ISO 3166 alpha-3 code"),
    ("XXX", "TP_COUNTRY='XXX': not a country CodeCarbon knows"),
])
def test_a_bad_tp_country_names_the_variable_before_the_block_runs(monkeypatch, value, message):
    pytest.importorskip("codecarbon")
    monkeypatch.setenv("TP_COUNTRY", value)
    ran = []
    with pytest.raises(ValueError, match=message):
        with measure.measure(energy=False):
            ran.append(True)
    assert ran == []


def test_a_lower_case_code_is_accepted():
    pytest.importorskip("codecarbon")
    assert measure.check_country_known("deu") == "DEU"
    with measure.measure(country=" deu ", energy=False) as cost:
        pass
    assert cost.country == "DEU"


def test_the_default_country_is_read_from_tp_country_at_call_time(monkeypatch):
    monkeypatch.setenv("TP_COUNTRY", "deu")
    with measure.measure(energy=False) as first:
        pass
    monkeypatch.setenv("TP_COUNTRY", "USA")
    with measure.measure(energy=False) as second:
        pass
    assert (first.country, second.country) == ("DEU", "USA")


def test_without_codecarbon_only_the_format_of_a_country_is_checked(no_codecarbon):
    assert measure.check_country_known("xxx") == "XXX"  # cannot know better without the table
    with pytest.raises(ValueError, match="alpha-3"):
        measure.check_country_known("FR")


# --- TensorFlow's configuration ------------------------------------------------------


def test_config_leaves_tensorflows_onednn_switch_alone():
    from utils import config

    assert "TF_ENABLE_ONEDNN_OPTS" not in config._QUIET_ENV  # timings use TensorFlow as shipped


@pytest.mark.parametrize("value, state, why", [
    ("0", False, "(TF_ENABLE_ONEDNN_OPTS=0)"),
    ("1", True, "(TF_ENABLE_ONEDNN_OPTS=1)"),
    (None, True, "(TensorFlow's default for this CPU; TF_ENABLE_ONEDNN_OPTS unset)"),
    (None, False, "(TensorFlow's default for this CPU; TF_ENABLE_ONEDNN_OPTS unset)"),
    (None, None, "on or off (TensorFlow does not say)"),
])
def test_tensorflow_setting_says_whether_onednn_is_on_and_why(monkeypatch, value, state, why):
    """The line reports what TensorFlow decided (onednn_enabled) and whether the variable or the
    default decided it; TensorFlow itself is faked here, the real one is asked below."""
    import sys
    import types

    monkeypatch.setitem(sys.modules, "tensorflow", types.SimpleNamespace(__version__="2.99.0"))
    monkeypatch.setattr(measure, "onednn_enabled", lambda: state)
    if value is None:
        monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    else:
        monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", value)
    line = measure.tensorflow_setting()
    assert line.startswith("TensorFlow 2.99.0, oneDNN custom operations ") and why in line
    if state is not None:
        assert f"operations {'on' if state else 'off'} (" in line


# TensorFlow itself, asked in a fresh process: tests/test_imports.py


def test_onednn_enabled_is_none_without_tensorflow(monkeypatch):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "tensorflow" or name.startswith("tensorflow."):
            raise ImportError("No module named 'tensorflow'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    assert measure.onednn_enabled() is None
    assert measure.tensorflow_setting() == "TensorFlow unavailable (ImportError)"

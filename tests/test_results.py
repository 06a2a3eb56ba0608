"""utils.results.cached: a study computed once, read back while nothing it depends on changed."""

import math

import numpy as np
import pytest

from utils import results
from utils.data import Dataset
from utils.history import History


def _history():
    h = History()
    h.record(1, 0.5, train=(0.9, 0.7), test=(1.0, 0.65))
    h.record(2, 1.0, train=(0.5, 0.8), test=(0.7, 0.75))
    h.best_epoch = 2
    return h


def _study(calls):
    def compute():
        calls.append(1)
        return [{"seed": 0, "acc": 0.75, "nan": math.nan, "history": _history(), "pair": (1, "a"),
                 "grid": np.arange(6.0).reshape(2, 3), "by_rate": {0.1: 1.5, 1.0: np.float32(2.0)}}]
    return compute


def test_a_study_is_computed_once_then_read_back_equal(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("TP_RECOMPUTE", raising=False)
    calls = []
    first = results.cached("width", {"seeds": [0, 1], "epochs": 5}, _study(calls), "04", root=tmp_path)
    assert "computed in" in capsys.readouterr().out
    again = results.cached("width", {"seeds": [0, 1], "epochs": 5}, _study(calls), "04", root=tmp_path)
    out = capsys.readouterr().out
    assert len(calls) == 1 and "read from 04/width-" in out and "TP_RECOMPUTE=1" in out
    a, b = first[0], again[0]
    assert b["history"] == a["history"] and isinstance(b["history"], History)
    assert b["pair"] == (1, "a") and math.isnan(b["nan"]) and b["by_rate"] == {0.1: 1.5, 1.0: 2.0}
    assert np.array_equal(b["grid"], a["grid"]) and b["grid"].dtype == np.float64
    assert len(list((tmp_path / "04").glob("*.json"))) == 1


def test_changing_a_setting_or_the_code_computes_again(tmp_path, monkeypatch):
    monkeypatch.delenv("TP_RECOMPUTE", raising=False)
    calls = []

    def define(source, cell):  # a notebook cell: its file name changes at every kernel start
        space = {}
        exec(compile("\n" * cell + source, f"/tmp/ipykernel_{cell}/{cell}.py", "exec"), space)
        return space["run_config"]

    run_config = define("def run_config(seed):\n    return seed + 1\n", 1)
    run_config_fixed = define("def run_config(seed):\n    return seed + 2\n", 2)
    run_config_same = define("def run_config(seed):\n    return seed + 1\n", 3)

    base = {"seeds": [0, 1], "run_config": run_config}
    for settings in (base, {**base, "seeds": [0, 1, 2]}, {**base, "run_config": run_config_fixed},
                     {**base, "run_config": run_config_same}):
        results.cached("depth", settings, _study(calls), "04", root=tmp_path)
    assert len(calls) == 3  # the last one has the code of the first


def test_the_data_set_is_part_of_the_key(tmp_path, monkeypatch):
    monkeypatch.delenv("TP_RECOMPUTE", raising=False)
    rng = np.random.default_rng(0)
    x, y = rng.random((200, 4)).astype(np.float32), np.arange(200) % 10
    one = Dataset(x, y, x[:50], y[:50], "sample", "mnist")
    copy = Dataset(x.copy(), y.copy(), x[:50].copy(), y[:50].copy(), "sample", "mnist")
    other = Dataset(x, (y + 1) % 10, x[:50], y[:50], "sample", "mnist")
    x_one_pixel = x.copy()
    x_one_pixel[1, 2] += 0.5  # a row a sampled checksum would skip
    nudged = Dataset(x_one_pixel, y, x[:50], y[:50], "sample", "mnist")
    assert results.key({"data": one}) == results.key({"data": copy})
    assert results.key({"data": one}) != results.key({"data": other})
    assert results.key({"data": one}) != results.key({"data": nudged})


def test_tp_recompute_computes_again_and_a_bad_value_is_named(tmp_path, monkeypatch):
    calls = []
    monkeypatch.delenv("TP_RECOMPUTE", raising=False)
    results.cached("lr", {"a": 1}, _study(calls), "05", root=tmp_path)
    monkeypatch.setenv("TP_RECOMPUTE", "1")
    results.cached("lr", {"a": 1}, _study(calls), "05", root=tmp_path)
    assert len(calls) == 2
    monkeypatch.setenv("TP_RECOMPUTE", "sometimes")
    with pytest.raises(ValueError, match="TP_RECOMPUTE='sometimes': expected 1 or 0"):
        results.cached("lr", {"a": 1}, _study(calls), "05", root=tmp_path)


def test_a_damaged_file_is_computed_again_with_a_line_saying_so(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("TP_RECOMPUTE", raising=False)
    calls = []
    results.cached("sizes", {"a": 1}, _study(calls), "06", root=tmp_path)
    (path,) = (tmp_path / "06").glob("sizes-*.json")
    path.write_text(path.read_text()[:40])  # cut short
    capsys.readouterr()
    value = results.cached("sizes", {"a": 1}, _study(calls), "06", root=tmp_path)
    assert "cannot be read" in capsys.readouterr().out and len(calls) == 2
    assert value[0]["history"] == _history()
    assert results.cached("sizes", {"a": 1}, _study(calls), "06", root=tmp_path)[0]["acc"] == 0.75
    assert len(calls) == 2


def test_nothing_is_written_when_compute_fails_or_returns_what_cannot_be_saved(tmp_path, monkeypatch):
    monkeypatch.delenv("TP_RECOMPUTE", raising=False)

    def boom():
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        results.cached("x", {}, boom, "07", root=tmp_path)
    with pytest.raises(TypeError, match="it returned a object"):
        results.cached("x", {}, lambda: [object()], "07", root=tmp_path)
    assert list((tmp_path / "07").iterdir()) == []


@pytest.mark.parametrize("settings, message", [
    ([1, 2], "settings must be a dict"),
    ({"model": object()}, "settings can hold"),
])
def test_bad_settings_say_what_is_accepted(tmp_path, settings, message):
    with pytest.raises(TypeError, match=message):
        results.cached("x", settings, lambda: 1, "07", root=tmp_path)


def test_a_bad_name_or_compute_is_refused(tmp_path):
    with pytest.raises(ValueError, match="name must be a short word"):
        results.cached("../escape", {}, lambda: 1, "07", root=tmp_path)
    with pytest.raises(TypeError, match="compute must be a function"):
        results.cached("x", {}, [1], "07", root=tmp_path)


def test_a_class_is_keyed_by_the_code_of_its_methods():
    """A student's Dropout layer: fixing its forward changes the key, re-running the same cell does not."""
    def define(body, cell):
        space = {}
        source = (f"class Dropout(object):\n    def __init__(self):\n        super().__init__()\n"
                  f"    def forward(self, x):\n        return {body}\n")  # super(): a closure on the class
        exec(compile("\n" * cell + source, f"/tmp/ipykernel_{cell}/{cell}.py", "exec"), space)
        return space["Dropout"]

    buggy, fixed, again = define("x * 2", 1), define("x / 2", 2), define("x * 2", 3)
    assert results.key({"layer": buggy}) == results.key({"layer": again})
    assert results.key({"layer": buggy}) != results.key({"layer": fixed})


def test_a_helper_the_function_calls_and_its_closure_are_part_of_the_key():
    """Editing a helper that run_config calls, in another cell, trains again; so does a captured value."""
    def cells(helper_body):
        space = {}
        for source, cell in ((f"def helper(seed):\n    return {helper_body}\n", 1),
                             ("def run_config(seed):\n    return helper(seed)\n", 2)):
            exec(compile(source, f"/tmp/ipykernel_1/{cell}.py", "exec"), space)
        return space["run_config"]

    assert results.key({"f": cells("seed + 1")}) == results.key({"f": cells("seed + 1")})
    assert results.key({"f": cells("seed + 1")}) != results.key({"f": cells("seed + 2")})

    def make(lr):
        return lambda seed: seed * lr

    assert results.key({"f": make(0.1)}) != results.key({"f": make(0.2)})


def test_a_saved_file_missing_a_field_is_computed_again(tmp_path, monkeypatch, capsys):
    import json

    monkeypatch.delenv("TP_RECOMPUTE", raising=False)
    calls = []
    results.cached("fields", {"a": 1}, _study(calls), "06", root=tmp_path)
    (path,) = (tmp_path / "06").glob("fields-*.json")
    record = json.loads(path.read_text())
    del record["created"]
    path.write_text(json.dumps(record))
    results.cached("fields", {"a": 1}, _study(calls), "06", root=tmp_path)
    assert len(calls) == 2 and "cannot be read" in capsys.readouterr().out


def test_an_empty_folder_is_refused(tmp_path):
    with pytest.raises(ValueError, match="folder must name a sub-folder"):
        results.cached("x", {}, lambda: 1, "", root=tmp_path)

"""A study's results, computed once and read back: re-running a notebook redraws
its figures instead of retraining for minutes::

    rows = results.cached("width", {"widths": WIDTHS, "seeds": SEEDS, "epochs": EPOCHS,
                                    "data": ds, "run_config": run_config},
                          lambda: [row for n in WIDTHS for row in study([784, n, 10])],
                          folder="04_architecture")

The file is ``results/<folder>/<name>-<key>.json`` (``TP_RESULTS_DIR``), where the
key is a hash of everything the result depends on:

- the ``settings`` given: numbers, strings, lists and dicts of them; a data set
  (its name, source, shapes and a checksum of all its images and labels);
  functions and classes, by their code, their closures and the code of the
  functions of the same notebook they call, so that editing ``run_config`` or
  a helper it calls, and running the cell again, trains again;
- the code of the ``utils`` modules that train (``train``, ``reference``, ``history``,
  ``data``) and the versions of NumPy and PyTorch; a change to a figure's code
  (``plots``) keeps the saved results.

``TP_RECOMPUTE=1`` (or ``recompute=True``) computes again and overwrites. A file
that cannot be read (cut short, edited by hand) is computed again, with a line
that says so. The file is written whole or not at all.

What ``compute()`` may return: numbers, strings, booleans, None, lists, tuples,
dicts, NumPy arrays and :class:`utils.history.History` objects, nested.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import inspect
import json
import math
import os
import tempfile
import time
import types
from pathlib import Path

import numpy as np

from utils import config
from utils.history import History

_UTILS = Path(__file__).resolve().parent
#: The modules of utils/ whose code decides what a study computes.
_TRAINING_CODE = ("train", "reference", "history", "data")


def recompute_setting() -> bool:
    """``TP_RECOMPUTE``: 1 computes every cached study again; 0 or unset reads the saved ones."""
    return config.flag("TP_RECOMPUTE")


# --- the key --------------------------------------------------------------------------


def _code(code: types.CodeType) -> list:
    """What a function does, without where it was defined (a notebook's cell changes file name
    at every kernel start, and line numbers move when a cell above is edited)."""
    consts = [_code(c) if isinstance(c, types.CodeType) else repr(c) for c in code.co_consts]
    return [code.co_code.hex(), list(code.co_names), list(code.co_varnames), consts]


def _names(code: types.CodeType) -> set:
    """The global names a function's code (nested functions included) reads."""
    names = set(code.co_names)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            names |= _names(c)
    return names


def _function(func, seen: set) -> list:
    """A function's code, defaults and closure, and, recursively, those of the functions and
    classes of its own module (a notebook's other cells) that it calls: editing a helper that
    ``run_config`` calls changes the key too."""
    seen.add(id(func))
    parts = ["function", func.__qualname__, _code(func.__code__), repr(func.__defaults__)]
    for cell in func.__closure__ or ():
        try:
            captured = cell.cell_contents
        except ValueError:  # a cell not filled yet
            continue
        if isinstance(captured, types.FunctionType):  # followed once, even when functions refer to each other
            parts.append(_function(captured, seen) if id(captured) not in seen else captured.__qualname__)
            continue
        if inspect.isclass(captured):  # a method's __class__ (super()): the class is keyed where it is given
            parts.append(captured.__qualname__)
            continue
        try:
            parts.append(_fingerprint(captured))
        except (TypeError, ValueError):  # an object the key cannot describe: its type, at least
            parts.append(type(captured).__qualname__)
    for name in sorted(_names(func.__code__)):
        used = func.__globals__.get(name)
        if (isinstance(used, types.FunctionType) and id(used) not in seen
                and used.__module__ == func.__module__):
            parts.append([name, _function(used, seen)])
        elif inspect.isclass(used) and used.__module__ == func.__module__:
            parts.append([name, _fingerprint(used)])
    return parts


def _fingerprint(value):
    """A JSON-able description of ``value`` that changes when anything the result depends on changes."""
    from utils.data import Dataset

    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, np.generic):
        return _fingerprint(value.item())
    if isinstance(value, (list, tuple)):
        return [_fingerprint(v) for v in value]
    if isinstance(value, dict):
        return [[_fingerprint(k), _fingerprint(v)] for k, v in value.items()]
    if isinstance(value, np.ndarray):
        return ["array", str(value.dtype), list(value.shape), hashlib.sha256(value.tobytes()).hexdigest()]
    if isinstance(value, Dataset):
        digest = hashlib.sha256()
        for part in (value.x_train, value.y_train, value.x_test, value.y_test):
            digest.update(np.ascontiguousarray(part).tobytes())
        return ["dataset", value.name, value.source, list(value.x_train.shape), list(value.x_test.shape),
                digest.hexdigest()]
    if isinstance(value, (types.FunctionType, types.MethodType)):
        return _function(getattr(value, "__func__", value), set())
    if inspect.isclass(value):
        members = sorted((k, _fingerprint(v)) for k, v in vars(value).items()
                         if isinstance(v, (types.FunctionType, staticmethod, classmethod)))
        return ["class", value.__qualname__, [[k, v] for k, v in members]]
    if isinstance(value, (staticmethod, classmethod)):
        return _fingerprint(value.__func__)
    raise TypeError(f"cached: settings can hold numbers, strings, lists, dicts, arrays, a Dataset, functions "
                    f"and classes; got a {type(value).__name__} ({value!r:.60}). Put what it stands for "
                    f"(a number, a name) in the settings instead.")


def key(settings: dict) -> str:
    """The hash that names a study's file: settings, the code that trains, NumPy and PyTorch versions."""
    import torch

    if not isinstance(settings, dict):
        raise TypeError(f"cached: settings must be a dict such as {{'seeds': SEEDS, 'epochs': EPOCHS}}; "
                        f"got {type(settings).__name__}.")
    utils_code = hashlib.sha256()
    for module in _TRAINING_CODE:
        utils_code.update((_UTILS / f"{module}.py").read_bytes())
    payload = [_fingerprint(settings), utils_code.hexdigest(), np.__version__, torch.__version__]
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


# --- writing and reading ----------------------------------------------------------------


def _encode(value):
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, np.generic):
        return _encode(value.item())
    if isinstance(value, History):
        return {"__history__": _encode(dataclasses.asdict(value))}
    if isinstance(value, np.ndarray):
        return {"__array__": _encode(value.tolist()), "dtype": str(value.dtype)}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {"__dict__": [[_encode(k), _encode(v)] for k, v in value.items()]}
    raise TypeError(f"cached: compute() may return numbers, strings, lists, tuples, dicts, NumPy arrays and "
                    f"Histories; it returned a {type(value).__name__} ({value!r:.60}). Return the figures "
                    f"you need from it instead (a model: its test accuracy).")


def _decode(value):
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "__float__" in value:
        return float(value["__float__"])
    if "__history__" in value:
        return History(**_decode(value["__history__"]))
    if "__array__" in value:
        return np.array(_decode(value["__array__"]), dtype=value["dtype"])
    if "__tuple__" in value:
        return tuple(_decode(v) for v in value["__tuple__"])
    if "__dict__" in value:
        return {_decode(k): _decode(v) for k, v in value["__dict__"]}
    raise ValueError(f"unknown entry with keys {sorted(value)}")


def _write(path: Path, record: dict) -> None:
    """Write ``record`` to ``path`` whole: a temporary file in the same folder, then a rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(record, f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def cached(name: str, settings: dict, compute, folder: str, recompute: bool | None = None,
           root: str | Path | None = None):
    """``compute()``, computed once for these ``settings`` and then read back from
    ``results/<folder>/<name>-<key>.json``; prints one line saying which.

    ``recompute``: True computes again (default: ``TP_RECOMPUTE``); ``root``: the
    results folder (default: ``TP_RESULTS_DIR``, else ``results/``)."""
    if not isinstance(name, str) or not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"cached: name must be a short word such as 'width' (letters, digits, - and _); "
                         f"got {name!r}.")
    if not callable(compute):
        raise TypeError(f"cached: compute must be a function of no argument that returns the results, "
                        f"such as lambda: run_config(...); got {type(compute).__name__}.")
    if not isinstance(folder, str) or not folder.strip():
        raise ValueError(f"cached: folder must name a sub-folder of results/, such as '04_architecture'; "
                         f"got {folder!r}.")
    recompute = recompute_setting() if recompute is None else bool(recompute)
    path = config.results_dir(folder, root=root) / f"{name}-{key(settings)}.json"
    shown = f"{folder}/{path.name}"
    if path.exists() and not recompute:
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            created, seconds = str(record["created"]), float(record["seconds"])
            value = _decode(record["value"])
        except (OSError, ValueError, KeyError, TypeError) as err:
            print(f"{name}: the saved results in {shown} cannot be read ({type(err).__name__}: {err}); "
                  "computing them again.")
        else:
            print(f"{name}: read from {shown}, computed on {created} in {seconds:.0f} s. "
                  "Set TP_RECOMPUTE=1 to compute again.")
            return value
    start = time.perf_counter()
    value = compute()
    seconds = time.perf_counter() - start
    record = {"name": name, "created": datetime.datetime.now().isoformat(timespec="seconds"),
              "seconds": seconds, "value": _encode(value)}
    _write(path, record)
    print(f"{name}: computed in {seconds:.0f} s, saved to {shown} (the next run reads it back).")
    return value

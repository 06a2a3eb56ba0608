"""Configuration in one place: quick/full mode, data set, country, seeds, paths.

Every setting is read from the environment **when it is asked for**, never frozen
at import time, and every function that uses one also takes it as an argument::

    config.is_quick()         # TP_QUICK=1 -> True
    config.dataset()          # TP_DATASET: "mnist" (default) or "fashion"
    config.country()          # TP_COUNTRY: ISO 3166 alpha-3 code, default "FRA"
    config.cache_dir()        # TP_CACHE_DIR, default ~/.cache/tp-deep-learning
    config.results_dir("04")  # TP_RESULTS_DIR, default results/ (created on demand)
    config.threads()          # TP_THREADS, default 1: CPU threads of NumPy, PyTorch, TensorFlow

A bad value raises ``ValueError`` naming the variable and the values it accepts.

Importing this module sets the environment variables that silence TensorFlow's
C++ logging and CodeCarbon's logger, and gives NumPy (OpenBLAS/MKL), PyTorch and
TensorFlow the same number of CPU threads, ``threads()``. They only take effect
if they are set *before* those libraries are imported, which is why every
notebook imports ``utils.config`` in its first code cell.

**Threads.** One thread per library by default. The course's networks are small
and trained in batches of 64: on the 2-core machines it was measured on, one
thread trains as fast as two (784-128-10, one epoch of 60,000 images: 0.7-0.8 s
either way), and two processes with default threads each (a notebook next to a
test run) slowed PyTorch tenfold. One setting for all three tools also keeps
notebook 07's comparison fair. ``TP_THREADS=4`` gives every library 4 threads.
``TP_THREADS`` wins over ``OMP_NUM_THREADS`` and the like: they are set from it.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import random
from pathlib import Path

from utils.download import file_in_the_way, folder_path

# --- silence noisy libraries (must happen before they are imported) ---------
# Logging only: nothing here changes how a library computes. TensorFlow keeps its
# default oneDNN custom operations (TF_ENABLE_ONEDNN_OPTS unset: TensorFlow decides by the
# CPU's instructions), so its timings are those of TensorFlow as shipped; when they are on,
# its import prints one line saying so, which no log level silences.
# tools/bench.py times Keras with them on and off; notebook 07 prints the setting.
_QUIET_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "3",  # TensorFlow C++: errors only
    "CODECARBON_LOG_LEVEL": "error",  # CodeCarbon: no background chatter
}
for _key, _value in _QUIET_ENV.items():
    os.environ.setdefault(_key, _value)

#: The variables through which each library reads its number of CPU threads at import.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")


def threads() -> int:
    """CPU threads for every library: ``TP_THREADS`` (default 1, see the module's docstring)."""
    value = os.environ.get("TP_THREADS", "").strip() or "1"
    if not (value.isascii() and value.isdigit()) or int(value) < 1:
        raise ValueError(f"TP_THREADS must be a whole number of CPU threads >= 1, such as 1 or 4; "
                         f"got {value!r}.")
    return int(value)


def _apply_threads() -> None:
    import sys

    n = str(threads())
    for name in THREAD_VARIABLES:
        os.environ[name] = n
    if "torch" in sys.modules:  # imported before this module: too late for OMP_NUM_THREADS
        sys.modules["torch"].set_num_threads(int(n))


_apply_threads()

# --- fixed paths of the course (they do not depend on any setting) -----------
ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "data"

DATASETS = ("mnist", "fashion")


def _env(name: str, default: str) -> str:
    """The stripped value of ``name``, or ``default`` when it is unset."""
    return os.environ.get(name, default).strip()


def flag(name: str) -> bool:
    """A yes/no setting such as ``TP_QUICK``: 1 or 0 (or true/false, yes/no, on/off); unset is no."""
    value = _env(name, "").lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise ValueError(f"{name}={value!r}: expected 1 or 0 (or true/false, yes/no, on/off).")


def is_quick() -> bool:
    """Quick mode (``TP_QUICK=1``): fewer epochs and smaller sweeps, for CI."""
    return flag("TP_QUICK")


def check_quick_mode(quick_mode) -> bool:
    """``quick_mode`` as given when it is True or False; ``None`` reads ``TP_QUICK``.

    Anything else (the string "no", the number 1) raises ``ValueError``: a
    non-empty string would otherwise count as True."""
    if quick_mode is None:
        return is_quick()
    if type(quick_mode).__name__ not in ("bool", "bool_"):  # Python's or NumPy's booleans
        raise ValueError(f"quick_mode={quick_mode!r}: expected True, False or None (None reads TP_QUICK).")
    return bool(quick_mode)


def mode(quick_mode: bool | None = None) -> str:
    """``"quick"`` or ``"full"`` (``quick_mode``, True or False, overrides ``TP_QUICK``)."""
    return "quick" if check_quick_mode(quick_mode) else "full"


def dataset() -> str:
    """The data set of the training notebooks, ``TP_DATASET``: ``mnist`` (default) or ``fashion``."""
    value = _env("TP_DATASET", "mnist").lower() or "mnist"
    if value not in DATASETS:
        raise ValueError(f"TP_DATASET={value!r}: expected one of {', '.join(DATASETS)}.")
    return value


def check_dataset_name(name) -> str:
    """``name`` if it is "mnist" or "fashion" (exactly); ``None`` reads ``TP_DATASET``."""
    if name is None:
        return dataset()
    if name not in DATASETS:
        raise ValueError(f"name={name!r}: expected one of {', '.join(map(repr, DATASETS))} "
                         "(or leave it out to use TP_DATASET).")
    return name


def check_country(code) -> str:
    """``code`` in upper case if it looks like an ISO 3166 alpha-3 code; ``ValueError`` otherwise.

    Whether CodeCarbon knows the country is checked by :mod:`utils.measure`,
    which has CodeCarbon's table at hand."""
    value = str(code).strip().upper()
    if len(value) != 3 or not value.isascii() or not value.isalpha():
        raise ValueError(f"country {code!r}: expected an ISO 3166 alpha-3 code such as FRA, DEU or USA "
                         "(three letters; set it with TP_COUNTRY).")
    return value


def country() -> str:
    """Country whose electricity CodeCarbon assumes, ``TP_COUNTRY`` (default ``FRA``)."""
    value = _env("TP_COUNTRY", "FRA")
    try:
        return check_country(value)
    except ValueError:
        raise ValueError(f"TP_COUNTRY={value!r}: expected an ISO 3166 alpha-3 code such as FRA, DEU "
                         "or USA (three letters).") from None


def _dir_setting(name: str, default: Path) -> Path:
    if name not in os.environ:
        return default
    value = os.environ[name].strip()
    if not value:
        raise ValueError(f"{name} is set but empty: give a folder (for example {default}) or unset it.")
    return folder_path(value, f"{name}={value!r}", default)


def cache_dir() -> Path:
    """Where downloaded data sets are kept, ``TP_CACHE_DIR`` (default ``~/.cache/tp-deep-learning``)."""
    return _dir_setting("TP_CACHE_DIR", Path.home() / ".cache" / "tp-deep-learning")


def results_dir(*parts: str, root: str | Path | None = None) -> Path:
    """The (git-ignored) results folder, or a sub-folder of it, created on demand.

    ``root`` defaults to ``TP_RESULTS_DIR`` (default ``results/`` in the repository).
    Each of ``parts`` is a folder name such as ``"04"`` (a ``TypeError`` otherwise);
    one that would lead out of the results folder (an absolute path, ``..``) is a
    ``ValueError``. A folder that cannot be created or written (a file in the way,
    no permission) is a ``ValueError`` that names the setting and the reason."""
    for part in parts:
        if not isinstance(part, (str, os.PathLike)):
            raise TypeError(f"results_dir: each part must be a folder name such as '04'; got {part!r} "
                            f"({type(part).__name__}).")
        if Path(part).is_absolute() or ".." in Path(part).parts:
            raise ValueError(f"results_dir: part {str(part)!r} leads out of the results folder; give folder "
                             "names inside it, such as '04' (set TP_RESULTS_DIR to move the folder itself).")
    default = ROOT / "results"
    if root is not None:
        base = folder_path(root, "results_dir: root", default, "leave root out to use TP_RESULTS_DIR")
        setting, fix = f"results_dir(root={root!r})", "give a writable root"
    else:
        base = _dir_setting("TP_RESULTS_DIR", default)
        setting = (f"TP_RESULTS_DIR={os.environ['TP_RESULTS_DIR'].strip()}" if "TP_RESULTS_DIR" in os.environ
                   else f"the results folder {default}")
        fix = "set TP_RESULTS_DIR to a writable folder"
    path = base.joinpath(*parts)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        blocker = file_in_the_way(path)
        reason = (f"{blocker} is a file, not a folder" if blocker
                  else f"{type(err).__name__}: {err.strerror or err}")
        raise ValueError(f"{setting}: cannot create {path} ({reason}); {fix}.") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ValueError(f"{setting}: cannot write in {path} (no permission); {fix}.")
    return path


def pick(quick, full, quick_mode: bool | None = None):
    """Return ``quick`` in quick mode and ``full`` otherwise (``quick_mode``, True or False,
    overrides ``TP_QUICK``)."""
    return quick if check_quick_mode(quick_mode) else full


def _seed_torch(seed: int, deterministic: bool) -> None:
    import torch

    torch.manual_seed(seed)  # all devices
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)


def _seed_keras(seed: int, deterministic: bool) -> None:
    import keras

    keras.utils.set_random_seed(seed)  # Python, NumPy and the backend (TensorFlow)
    if deterministic:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


#: What seed_everything seeds in each framework, keyed by the module whose import completes it.
_SEEDERS = {"torch": _seed_torch, "keras": _seed_keras}
_last_seed: dict = {}


class _SeedOnImport(importlib.abc.MetaPathFinder):
    """Seeds PyTorch or Keras the moment it is imported, when seed_everything ran
    before the import: seeding does not depend on the order of the imports, and
    no framework is imported (seconds, hundreds of MB) by a notebook that does not use it."""

    def find_spec(self, name, path=None, target=None):
        if name not in _SEEDERS or not _last_seed:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or not hasattr(spec.loader, "exec_module"):
            return None
        run_module = spec.loader.exec_module

        def run_then_seed(module):
            run_module(module)
            _SEEDERS[name](**_last_seed)

        spec.loader.exec_module = run_then_seed
        return spec


def seed_everything(seed: int = 0, deterministic: bool = False) -> int:
    """Seed Python, NumPy, PyTorch and TensorFlow/Keras, whatever was imported first.

    A framework that is already imported is seeded now; one imported later is
    seeded as its import completes. Returns the seed so that a cell can print
    it. On a CPU this is enough for the same seed to give the same numbers
    twice. ``deterministic=True`` also asks both frameworks for deterministic
    kernels, which matters on a GPU; it costs speed, and Keras then gives up
    XLA compilation (jit_compile).
    """
    import sys

    import numpy as np

    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise ValueError(f"seed must be an integer from 0 to 2**32 - 1; got {seed!r}.")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    _last_seed.update(seed=seed, deterministic=bool(deterministic))
    for name, seeder in _SEEDERS.items():
        if name in sys.modules:
            seeder(seed, deterministic)
    if not any(isinstance(finder, _SeedOnImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _SeedOnImport())
    return seed


def describe(source: str, name: str | None = None, quick_mode: bool | None = None) -> str:
    """One line for the top of a notebook: data set, source and mode.

    ``name`` is "mnist" or "fashion" (default ``TP_DATASET``); another raises ``ValueError``."""
    what = {"mnist": "MNIST", "fashion": "Fashion-MNIST"}[check_dataset_name(name)]
    how = ("quick mode (TP_QUICK=1): small runs for CI" if mode(quick_mode) == "quick"
           else "full mode: the real study")
    n = threads()
    return (f"Data: {what} from {source!r}. Mode: {how}. "
            f"CPU threads per library: {n} (TP_THREADS).")

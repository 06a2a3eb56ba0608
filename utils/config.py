"""Configuration in one place: quick/full mode, dataset choice, seeds, paths.

Importing this module sets the environment variables that silence
TensorFlow's C++ logging and CodeCarbon's logger. They only take effect if
they are set *before* TensorFlow or CodeCarbon is imported, which is why every
notebook imports ``utils.config`` in its first code cell.
"""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

# --- silence noisy libraries (must happen before they are imported) ---------
_QUIET_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "3",  # TensorFlow C++: errors only
    "TF_ENABLE_ONEDNN_OPTS": "0",  # no oneDNN banner, bit-reproducible sums
    "CODECARBON_LOG_LEVEL": "error",  # CodeCarbon: no background chatter
}
for _key, _value in _QUIET_ENV.items():
    os.environ.setdefault(_key, _value)

# --- paths --------------------------------------------------------------------
ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "data"
RESULTS_DIR = Path(os.environ.get("TP_RESULTS_DIR", ROOT / "results"))
CACHE_DIR = Path(os.environ.get("TP_CACHE_DIR", Path.home() / ".cache" / "tp-deep-learning"))


def _flag(name: str) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise ValueError(f"{name}={value!r}: expected 1 or 0 (or true/false).")


#: Quick mode (``TP_QUICK=1``): fewer epochs and smaller sweeps, for CI.
QUICK = _flag("TP_QUICK")
MODE = "quick" if QUICK else "full"

#: Which dataset the training notebooks use: ``mnist`` (default) or ``fashion``.
DATASET = os.environ.get("TP_DATASET", "mnist").strip().lower() or "mnist"
if DATASET not in ("mnist", "fashion"):
    raise ValueError(f"TP_DATASET={DATASET!r}: expected 'mnist' or 'fashion'.")


#: Country whose electricity CodeCarbon assumes (ISO 3166 alpha-3), ``TP_COUNTRY``.
COUNTRY = os.environ.get("TP_COUNTRY", "FRA").strip().upper() or "FRA"


def pick(quick, full):
    """Return ``quick`` in quick mode and ``full`` otherwise."""
    return quick if QUICK else full


def results_dir(*parts: str) -> Path:
    """The (git-ignored) results folder, or a sub-folder of it, created on demand."""
    path = RESULTS_DIR.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def seed_everything(seed: int = 0, deterministic: bool = False) -> int:
    """Seed Python, NumPy and, if they are already imported, TensorFlow and PyTorch.

    Returns the seed so that a cell can print it. On a CPU this is enough for
    the same seed to give the same numbers twice. ``deterministic=True`` also
    asks TensorFlow and PyTorch for deterministic kernels, which matters on a
    GPU; it costs speed, and Keras then gives up XLA compilation (jit_compile).
    """
    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    if "tensorflow" in sys.modules:
        import keras
        import tensorflow as tf

        keras.utils.set_random_seed(seed)
        if deterministic:
            tf.config.experimental.enable_op_determinism()
    if "torch" in sys.modules:
        import torch

        torch.manual_seed(seed)  # all devices
        if deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
    return seed


def describe(source: str) -> str:
    """One line for the top of a notebook: data source and mode."""
    what = {"mnist": "MNIST", "fashion": "Fashion-MNIST"}[DATASET]
    how = "quick mode (TP_QUICK=1): small runs for CI" if QUICK else "full mode: the real study"
    return f"Data: {what} from {source!r}. Mode: {how}."


#: Test accuracy a trained network must reach, by data set and situation. The
#: sample (4,000 training digits) and quick mode cannot reach full-MNIST figures.
#: Fashion-MNIST is harder: one-hidden-layer networks reach 0.87-0.89 there, and
#: the last epoch of SGD at lambda = 0.1 moves by half a point from one run to the
#: next (Keras 0.877, NumPy 0.887 for the same network in notebooks 02 and 01).
ACCURACY_FLOORS = {
    ("mnist", "small"): 0.88,  # embedded sample, or quick mode
    ("mnist", "full"): 0.975,  # 60,000 training digits
    ("fashion", "small"): 0.70,
    ("fashion", "full"): 0.86,
}


def accuracy_floor(ds, undertrained: bool = False) -> float:
    """The floor for data set ``ds`` (a ``utils.data.Dataset``) in the current mode.

    ``undertrained=True`` is for runs whose hyper-parameters are deliberately too
    short to converge (seed 003's 12 epochs at lambda = 0.01): they must have
    learned, so they get the small-data floor whatever the data size."""
    small = undertrained or QUICK or ds.source == "sample" or len(ds.x_train) < 60000
    return ACCURACY_FLOORS[(ds.name, "small" if small else "full")]

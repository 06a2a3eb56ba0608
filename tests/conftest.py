"""Test-session settings: a test run leaves no trace in the repository.

Results (``utils.config.results_dir()``: CSV files, saved models) go to a fresh
temporary folder for the whole session, so that a student's full-mode study in
``results/`` survives ``make test``. The folder is set in ``pytest_configure``,
which runs before collection, before pytest-xdist starts its workers (they
inherit the environment, load this file again and keep the value) and before
nbval starts any kernel (nbval starts each notebook's kernel with pytest's
environment as it is at that moment; fixtures never run for a notebook, so a
fixture would be too late). A ``TP_RESULTS_DIR`` set by the caller is kept.

The folder is a fresh ``tp-results-*`` folder in the system's temporary folder;
the header of the run names it.

``tests/fixtures/`` holds notebooks that tests execute on purpose (one fails on
purpose): ``make test`` does not collect them.
"""

from __future__ import annotations

import os
import tempfile

import pytest

import utils  # noqa: F401  (first: it loads PyPI torch's Triton before any test imports TensorFlow)

collect_ignore = ["fixtures"]

_SET_HERE = pytest.StashKey[bool]()


def pytest_configure(config):
    # pytest-xdist 3.6+ reorders files by their number of tests; keep the order set below instead.
    if hasattr(getattr(config, "option", None), "loadscopereorder"):
        config.option.loadscopereorder = False
    if "TP_RESULTS_DIR" not in os.environ:
        os.environ["TP_RESULTS_DIR"] = tempfile.mkdtemp(prefix="tp-results-")
        config.stash[_SET_HERE] = True
    # Unit tests draw figures off screen. In this process only: exported as MPLBACKEND, Agg
    # would reach the notebooks' kernels and replace the inline backend (no figures there).
    if "MPLBACKEND" not in os.environ:
        try:
            import matplotlib
        except ImportError:
            return
        matplotlib.use("Agg")



#: Files that take longest under `make test` (seconds of one worker, measured on 2 cores), run
#: first so that the two workers finish together instead of one waiting for a notebook started last.
LONGEST_FIRST = ["test_hostile", "04_architecture_study", "07_tool_comparison", "05_learning_rate_study",
                 "02_tensorflow_keras", "test_student", "06_overfitting_study", "test_bench",
                 "03_pytorch", "test_tools", "test_config_plots"]


def pytest_collection_modifyitems(session, config, items):
    def rank(item):
        stem = item.path.stem
        return LONGEST_FIRST.index(stem) if stem in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: the order within a file, and of the other files, is kept


def pytest_unconfigure(config):
    if config.stash.get(_SET_HERE, False):  # leave the environment as this process found it
        os.environ.pop("TP_RESULTS_DIR", None)


def pytest_report_header(config):
    return f"results (TP_RESULTS_DIR): {os.environ.get('TP_RESULTS_DIR')}"

"""What only a fresh Python shows, asked of two fresh processes shared by the tests below (each
imports TensorFlow, which costs seconds): seeding before a framework's import, TensorFlow's oneDNN
decision, and TensorFlow with PyTorch's Triton (PyPI's Linux torch brings it) in one process."""

import json
import os
import platform
import subprocess
import sys

import pytest

from utils import config

PROBE = """
import importlib.util, json, sys
from utils import config, measure     # the course first (utils/__init__.py loads Triton if installed)
config.seed_everything(5)              # before the frameworks: each is seeded as its import completes
imported_early = [name for name in ("torch", "keras", "tensorflow") if name in sys.modules]
import torch
linear = float(torch.nn.Linear(4, 3).weight.sum())
import keras                           # imports TensorFlow
dense = keras.layers.Dense(3)
dense.build((None, 4))
p = torch.nn.Parameter(torch.ones(3))
optimizer = torch.optim.SGD([p], lr=0.1)   # imports torch._dynamo, which imports Triton
p.sum().backward()
optimizer.step()
print(json.dumps({"imported_early": imported_early, "torch": linear,
                  "keras": float(dense.kernel.numpy().sum()),
                  "onednn": measure.onednn_enabled(), "line": measure.tensorflow_setting(),
                  "triton_installed": importlib.util.find_spec("triton") is not None,
                  "triton_loaded": "triton" in sys.modules, "after_step": [round(float(w), 4) for w in p]}))
"""

#: The CPU features for which TensorFlow turns oneDNN on by default on Linux (DefaultOneDnnPolicy
#: in tensorflow/core/util/port.cc): instructions for neural networks, Intel Cascade Lake and later.
ONEDNN_CPU_FLAGS = ("avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16")


def _probe(onednn):
    """Run PROBE in a fresh Python with TF_ENABLE_ONEDNN_OPTS=onednn (None: unset; TensorFlow reads
    it once per process); its answers, or a failure that shows how the process died."""
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    if onednn is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = onednn
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env,
                         cwd=config.ROOT, timeout=300)
    assert out.returncode == 0, (f"exit code {out.returncode} (-11 or 139: a segmentation fault; -6: "
                                 "LLVM's 'registered more than once', Triton after TensorFlow):\n"
                                 + out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def fresh():
    """Two fresh processes: TensorFlow's default, then the variable set to the other value."""
    pytest.importorskip("tensorflow")
    pytest.importorskip("torch")
    default = _probe(None)
    other = "0" if default["onednn"] else "1"
    return default, other, _probe(other)


def test_seeding_before_the_import_gives_the_same_weights_in_two_processes(fresh):
    """seed_everything imports no framework; each is seeded when imported, so two processes agree."""
    default, _, forced = fresh
    assert default["imported_early"] == [] and forced["imported_early"] == []
    assert default["torch"] == forced["torch"] and default["keras"] == forced["keras"]


def test_pytorch_trains_after_tensorflow_in_one_process(fresh):
    """Triton loaded after TensorFlow kills the process (tensorflow/tensorflow#124205): the probe
    imports TensorFlow, then builds PyTorch's optimizer, and the step is taken (see _probe)."""
    default, _, _ = fresh
    assert default["triton_loaded"] == default["triton_installed"], "Triton is loaded exactly when installed"
    assert default["after_step"] == [0.9, 0.9, 0.9]


def _cpu_flags():
    """The CPU's feature flags from /proc/cpuinfo (Linux), or None where there is none."""
    try:
        with open("/proc/cpuinfo") as f:
            lines = [line for line in f if line.startswith("flags")]
    except OSError:
        return None
    return set(lines[0].split(":", 1)[1].split()) if lines else None


def test_tensorflow_decides_onednn_by_the_cpu_and_the_variable_overrides_it(fresh):
    """On any CPU: unset, the printed line says what TensorFlow decided, and on Linux x86-64 that is
    what its rule gives for this CPU's flags; set to the other value, the answer follows it (so it
    is read from TensorFlow, not assumed)."""
    default, other, forced = fresh
    assert default["onednn"] in (True, False), f"TensorFlow did not say: {default['line']}"
    state = "on" if default["onednn"] else "off"
    assert f"operations {state} (TensorFlow's default for this CPU" in default["line"]
    flags = _cpu_flags()
    if platform.system() == "Linux" and platform.machine().lower() in ("x86_64", "amd64") and flags:
        expected = any(flag in flags for flag in ONEDNN_CPU_FLAGS)
        found = sorted(flags & set(ONEDNN_CPU_FLAGS))
        assert default["onednn"] == expected, (f"TensorFlow's default is {state}, its rule gives {expected} "
                                               f"for this CPU's flags {found}")
    assert forced["onednn"] == (other == "1") and f"(TF_ENABLE_ONEDNN_OPTS={other})" in forced["line"]

"""TensorFlow and PyTorch in one process, with PyPI's torch (which brings Triton) as with a CPU build."""

import subprocess
import sys

import pytest

from utils import config

CODE = """
import importlib.util, sys
import torch                 # a framework first, then the course, then TensorFlow: the worst order
from utils import train      # any module of the course loads Triton first (utils/__init__.py)
import tensorflow
p = torch.nn.Parameter(torch.ones(3))
optimizer = torch.optim.SGD([p], lr=0.1)   # imports torch._dynamo, which imports Triton
p.sum().backward()
optimizer.step()
installed = importlib.util.find_spec("triton") is not None
print(installed, "triton" in sys.modules, [round(w, 4) for w in p.tolist()])
"""


def test_pytorch_trains_after_tensorflow_in_one_process():
    """Triton loaded after TensorFlow kills the process (tensorflow/tensorflow#124205): a fresh
    process imports both the way a notebook can, and PyTorch's optimizer still takes its step."""
    pytest.importorskip("tensorflow")
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, cwd=config.ROOT,
                         timeout=300)
    assert out.returncode == 0, (f"exit code {out.returncode} (-11 or 139: a segmentation fault; -6: "
                                 f"LLVM's 'registered more than once'):\n{out.stderr[-2000:]}")
    installed, loaded, weights = out.stdout.strip().splitlines()[-1].split(" ", 2)
    assert loaded == installed, "Triton is loaded exactly when it is installed"
    assert weights == "[0.9, 0.9, 0.9]"

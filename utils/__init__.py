"""Shared helpers of the course, one small module per concern::

    from utils import config, data, plots, measure, reference, checks, train
    from utils.history import History

- ``config``: settings (quick/full mode, data set, country, paths), read when asked; seeds.
- ``data``: MNIST / Fashion-MNIST loaders with the embedded sample; one-hot, splits, batches.
- ``download``: checksum-verified, atomic downloads (used by ``data``), and path helpers.
- ``history``: the record every training loop returns, and the divergence rule.
- ``results``: a study's results saved under results/, read back while its settings hold.
- ``reference``: the NumPy network of notebook 01, for any depth (the model answers; the student
  edition ships ``tools/edition_reference.py`` in its place, which runs the student's own 01).
- ``train``: the PyTorch and Keras loops of notebooks 04-07, and ``run`` over the three tools.
- ``measure``: wall time, energy and CO2 (CodeCarbon) of a block of code.
- ``plots``: the recurring figures.
- ``checks``: the self-checks of the exercises, one module per notebook.

The course is installed in editable mode (``pip install -e .``, done by ``make`` and
by the Colab setup cell), so ``import utils`` works from any folder. Importing
:mod:`utils.config` first sets the environment variables that keep TensorFlow and
CodeCarbon quiet, so import it before either of them.
"""

# TensorFlow and PyTorch's Triton each carry LLVM, and whichever loads second dies registering
# its options again ("Option 'bitcode-mdindex-threshold' registered more than once!", or a
# segmentation fault) when PyTorch later imports Triton (torch.optim does, through torch._dynamo).
# Triton loaded before TensorFlow works. PyPI's Linux wheels of torch bring Triton; the CPU
# builds do not. Every module of the course imports this package first, so Triton is loaded here
# when it is installed. Remove this once TensorFlow ships its fix (tensorflow/tensorflow#124205).
import importlib.util as _importlib_util  # noqa: E402
import sys as _sys  # noqa: E402

if "tensorflow" not in _sys.modules and _importlib_util.find_spec("triton") is not None:
    try:
        import triton  # noqa: F401
    except Exception:  # a broken install: PyTorch will say so itself if it needs Triton
        pass


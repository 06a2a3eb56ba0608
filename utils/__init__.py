"""Shared helpers of the course, one small module per concern::

    from utils import config, data, plots, measure, reference, checks, train
    from utils.history import History

- ``config``: settings (quick/full mode, data set, country, paths), read when asked; seeds.
- ``data``: MNIST / Fashion-MNIST loaders with the embedded sample; one-hot, splits, batches.
- ``download``: checksum-verified, atomic downloads (used by ``data``).
- ``history``: the record every training loop returns, and the divergence rule.
- ``results``: a study's results saved under results/, read back while its settings hold.
- ``reference``: the NumPy network of notebook 01, for any depth.
- ``train``: the PyTorch and Keras loops of notebooks 04-07, and ``run`` over the three tools.
- ``measure``: wall time, energy and CO2 (CodeCarbon) of a block of code.
- ``plots``: the recurring figures.
- ``checks``: the self-checks of the exercises, one module per notebook.

The course is installed in editable mode (``pip install -e .``, done by ``make`` and
by the Colab setup cell), so ``import utils`` works from any folder. Importing
:mod:`utils.config` first sets the environment variables that keep TensorFlow and
CodeCarbon quiet, so import it before either of them.
"""

"""Shared helpers of the course: data, configuration, plots, measurement and
the reference NumPy network. Each concern lives in its own small module::

    from utils import config, data, plots, measure, reference, checks, train

Importing :mod:`utils.config` first sets the environment variables that keep
TensorFlow and CodeCarbon quiet, so import it before either of them.
"""

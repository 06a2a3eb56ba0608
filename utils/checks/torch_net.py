"""Self-checks of notebook 03's exercises (PyTorch)."""

from __future__ import annotations

import numpy as np  # noqa: F401

from utils import reference as ref
from utils.checks.numpy_net import _compare, _fail, _passed, _small_problem

__all__ = ["check_two_layer_net"]


def check_two_layer_net(TwoLayerNet):
    """``TwoLayerNet(D_in, H, D_out)`` must compute the reference network's logits."""
    import torch

    p, X, _ = _small_problem(n_hidden=7)
    net = TwoLayerNet(X.shape[1], 7, 10)
    with torch.no_grad():
        net.linear1.weight.copy_(torch.from_numpy(p[0].T))
        net.linear1.bias.copy_(torch.from_numpy(p[1]))
        net.linear2.weight.copy_(torch.from_numpy(p[2].T))
        net.linear2.bias.copy_(torch.from_numpy(p[3]))
    net.double()
    out = net(torch.from_numpy(X))
    if out is None:
        _fail("TwoLayerNet.forward", "returned None.", "return y_pred")
    logits = out.detach().numpy()
    _compare("TwoLayerNet.forward", ref.softmax(logits), ref.forward(X, p)[-1],
             "y_pred = linear2(linear1(x).clamp(min=0)); return the logits, without softmax.")
    _passed("TwoLayerNet.forward", 1)

"""Self-checks of notebook 03's exercises (PyTorch).

Each check builds its own small problem from :func:`utils.reference.init_params`
(non-zero biases), runs the student's code on it, compares the result with the
NumPy reference or with a reference loop run on a copy, and names the common
mistakes it recognises (a softmax inside ``forward``, a forgotten ``zero_grad``,
a summed loss, a model left in training mode, ...). Nothing here prints a line of
the solution.
"""

from __future__ import annotations

import copy

import numpy as np

from utils.checks.core import Check
from utils.checks.core import compare_rounded as _compare
from utils.checks.core import kind_of as _kind
from utils.checks.networks import PSL_SIZES, activate, activation_mistakes, case, layer_values

__all__ = ["check_two_layer_net", "check_train_epoch", "check_evaluate", "check_deep_network"]



# --- small shared pieces ------------------------------------------------------------------


def _numpy(value):
    """A tensor (or a number, or an array) as NumPy, detached and on the CPU."""
    import torch

    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return value


def _device_error(err) -> str | None:
    text = str(err)
    if "same device" in text or ("device" in text and ("cuda" in text or "mps" in text)):
        return ("the data and the model are on different devices (the error names them): every batch "
                "must be moved to the model's device, `device`, before it goes through the model.")
    if "dtype" in text or "scalar type" in text:
        return (f"the data and the weights have different dtypes ({text.splitlines()[0]}): the images are "
                "float32 and the labels int64, as the data set gives them; keep them so.")
    return None


#: what forward may return, turned into probabilities the way F.cross_entropy sees them
_OUTPUT = {"logits": "softmax", "softmax": "softmax twice", "ReLU": "softmax of ReLU"}
_OUTPUT_WORDS = {"softmax": "a softmax at the end of the network (F.cross_entropy applies its own, so the "
                            "softmax would be applied twice)",
                 "ReLU": "a ReLU after the last Linear layer (the logits z can be negative; a ReLU clips "
                         "them)"}


def _activation_words(hidden, output) -> str:
    words = []
    for L, h in enumerate(hidden):
        where = "the hidden layer" if len(hidden) == 1 else f"hidden layer L = {L}"
        if h == "no activation":
            words.append(f"no ReLU after {where}")
        elif h != "ReLU":
            words.append(f"{h} instead of ReLU after {where}")
    if output != "logits":
        words.append(_OUTPUT_WORDS[output])
    return " and ".join(words)


def _activation_mistakes(X, params) -> dict:
    """``softmax(forward(X))`` for every wrong choice of activations, described."""
    return activation_mistakes(X, params, _OUTPUT, _activation_words)


def _load(linears, params) -> None:
    """Copy ``[W0, b0, ...]`` into Linear layers (which store W^T, out x in)."""
    import torch

    with torch.no_grad():
        for lin, W, b in zip(linears, params[::2], params[1::2]):
            lin.weight.copy_(torch.as_tensor(np.ascontiguousarray(W.T), dtype=lin.weight.dtype))
            if lin.bias is not None:
                lin.bias.copy_(torch.as_tensor(b, dtype=lin.bias.dtype))


def _compare_logits(check: Check, model, X, params, part: str) -> None:
    """Run the model on X (float64) and compare the softmax of what it returns with a^H."""
    import torch

    model.double()
    got = check.call(model, torch.from_numpy(X), explain=_device_error)
    if got is None:
        check.fault(part, "forward returned None: is the `return` line missing?")
        return
    if not isinstance(got, torch.Tensor):
        check.fault(part, f"forward returned {_kind(got)}, not a tensor.")
        return
    out = _numpy(got)
    n_out, widths = params[-1].shape[0], [W.shape[1] for W in params[::2]]
    if out.ndim == 2 and out.shape[1] != n_out and out.shape[1] in widths[:-1]:
        check.fault(part, f"the output has {out.shape[1]} columns, the width of a hidden layer: the last "
               "Linear layer is not applied.")
        return
    probs = activate("softmax", out) if out.ndim == 2 else out
    _compare(check, part, probs, layer_values(X, params)["a"][-1], _activation_mistakes(X, params), tol=1e-7)


# --- TwoLayerNet ------------------------------------------------------------------------------


def check_two_layer_net(TwoLayerNet):
    """``TwoLayerNet(D_in, H, D_out).forward(x)`` must return the logits z1 of the
    reference network (``F.cross_entropy`` applies the softmax)."""
    __tracebackhide__ = True  # noqa: F841
    check = Check("TwoLayerNet.forward")
    params, X, _ = case([20, 7, 10])
    net = check.call(TwoLayerNet, 20, 7, 10)
    _load([net.linear1, net.linear2], params)
    _compare_logits(check, net, X, params, "the logits returned by forward (their softmax against a1)")
    check.done()


# --- train_epoch ------------------------------------------------------------------------------


def _reference_epoch(model, batches, lr, variant: str = "right"):
    """Train a copy of ``model`` over ``batches`` with SGD as the lecture does, or with one
    of the common mistakes; return its parameters (NumPy) and its gradients afterwards."""
    import torch
    import torch.nn.functional as F

    model = copy.deepcopy(model).cpu()
    for p in model.parameters():
        p.grad = None
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    for i, (xb, yb) in enumerate(batches):
        if variant == "first batch only" and i > 0:
            break
        loss = F.cross_entropy(model(xb), yb, reduction="sum" if variant == "sum" else "mean")
        if variant not in ("no zero_grad", "zero_grad after backward"):
            optimizer.zero_grad()
        loss.backward()
        if variant == "zero_grad after backward":
            optimizer.zero_grad()
        if variant != "no step":
            optimizer.step()
    return [_numpy(p).copy() for p in model.parameters()]


def _watch_moves(x_ids: set, y_ids: set):
    """A TorchFunctionMode that records which batches (by id) were moved with .to / .cuda."""
    import torch
    from torch.overrides import TorchFunctionMode

    class Watch(TorchFunctionMode):
        def __init__(self):
            super().__init__()
            self.moved_x = self.moved_y = False

        def __torch_function__(self, func, types, args=(), kwargs=None):
            if func in (torch.Tensor.to, torch.Tensor.cuda) and args:
                self.moved_x |= id(args[0]) in x_ids
                self.moved_y |= id(args[0]) in y_ids
            return func(*args, **(kwargs or {}))

    return Watch()


def check_train_epoch(train_epoch, device="cpu"):
    """``train_epoch(model, loader, optimizer)``: for each batch, moved to ``device``:
    forward, ``F.cross_entropy``, ``zero_grad``, ``backward``, ``step``. The weights
    after the epoch must equal those of the reference loop, from the same start."""
    __tracebackhide__ = True  # noqa: F841
    import torch
    from torch.utils.data import DataLoader, TensorDataset, default_collate

    check = Check("train_epoch")
    device = torch.device(device)
    params, X, y = case([784, 7, 10], seed=10, n=32, dtype=np.float32)
    model = torch.nn.Sequential(torch.nn.Linear(784, 7), torch.nn.ReLU(), torch.nn.Linear(7, 10))
    _load([model[0], model[2]], params)
    batch_size, lr = 8, 0.5
    dataset = TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
    batches = [(torch.from_numpy(X[i:i + batch_size]), torch.from_numpy(y[i:i + batch_size]))
               for i in range(0, len(X), batch_size)]
    x_ids, y_ids, served = set(), set(), []

    def collate(samples):
        xb, yb = default_collate(samples)
        served.append((xb, yb))  # kept alive, so that their ids stay theirs
        x_ids.add(id(xb))
        y_ids.add(id(yb))
        return xb, yb

    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate)
    start = [_numpy(p).copy() for p in model.parameters()]
    student = copy.deepcopy(model).to(device)
    optimizer = torch.optim.SGD(student.parameters(), lr=lr)
    watch = _watch_moves(x_ids, y_ids)
    with watch:
        check.call(train_epoch, student, loader, optimizer, explain=_device_error)

    def flat(values):
        return np.concatenate([np.ravel(v) for v in values])

    got = flat(_numpy(p) for p in student.parameters()) - flat(start)
    expected = flat(_reference_epoch(model, batches, lr)) - flat(start)
    grads = [p.grad for p in student.parameters()]
    wiped = all(g is None or not torch.any(g) for g in grads)
    unchanged = ("zero_grad between backward and the step: the gradients were wiped before the step could "
                 "use them, so the weights never moved" if wiped else
                 "no step of the optimizer: the gradients were computed, but the weights never moved")
    mistakes = {
        "a forgotten zero_grad: the gradients of the batches accumulate (each step uses the sum of all "
        "the gradients so far), so from the second batch on the steps are wrong":
            flat(_reference_epoch(model, batches, lr, "no zero_grad")) - flat(start),
        f"backward on the loss summed over the batch instead of its mean: every step is {batch_size} times "
        "(the batch size) too large": flat(_reference_epoch(model, batches, lr, "sum")) - flat(start),
        "only the first batch used (does the function return inside the loop?)":
            flat(_reference_epoch(model, batches, lr, "first batch only")) - flat(start),
    }
    if not np.any(got):
        check.passed()
        check.fault("the weights after the epoch", unchanged + ".")
    else:
        _compare(check, "the change of the weights over the epoch", got, expected, mistakes, tol=1e-4)
    check.passed()
    if served and not (watch.moved_x and watch.moved_y):
        which = ("the images and the labels" if not (watch.moved_x or watch.moved_y)
                 else "the images" if not watch.moved_x else "the labels")
        check.fault("the device", f"{which} of each batch are never moved to `device`, the model's: on "
               "a CPU it makes no difference, but with a GPU the first batch fails, since the weights "
               "are on the GPU and the batch is not.")
    check.done()


# --- evaluate ---------------------------------------------------------------------------------


def _probe(W, b):
    """A model with a Dropout layer (random in training mode) that records, at each
    forward pass, whether gradients were being recorded and whether it was in training mode."""
    import torch
    from torch import nn

    class Probe(nn.Module):
        def __init__(self):
            super().__init__()
            self.dropout = nn.Dropout(0.5)
            self.linear = nn.Linear(W.shape[0], W.shape[1])
            self.seen_grad, self.seen_training = [], []

        def forward(self, x):
            self.seen_grad.append(torch.is_grad_enabled())
            self.seen_training.append(self.training)
            return self.linear(self.dropout(x))

    probe = Probe()
    _load([probe.linear], [W, b])
    return probe


def _as_number(value):
    """A returned figure as a float (a tensor of one element included); else unchanged."""
    value = _numpy(value)
    if isinstance(value, np.ndarray) and value.size == 1:
        return float(value.reshape(()))
    return value


def check_evaluate(evaluate, device="cpu"):
    """``evaluate(model, x, y)`` -> (mean loss, accuracy) on NumPy data: the model in
    evaluation mode and without recording gradients, then back in training mode."""
    __tracebackhide__ = True  # noqa: F841
    check = Check("evaluate")
    n, correct = 50, 35
    params, X, _ = case([784, 10], seed=11, n=n, dtype=np.float32)
    W, b = params
    logits = X.astype(np.float64) @ W + b
    y = logits.argmax(axis=1)
    y[correct:] = (y[correct:] + 1 + np.arange(n - correct) % 9) % 10  # 35 right, 15 wrong
    model = _probe(W, b).to(device)
    model.train()
    result = check.call(evaluate, model, X, y, explain=_device_error)
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        check.fault("the returned value", f"{_kind(result)}; evaluate returns two numbers, "
               "(mean loss, accuracy).")
        check.done()
    loss, acc = result
    check.passed()
    if not model.seen_grad:
        check.fault("the model", "evaluate never ran the model on x.")
    elif any(model.seen_grad) or any(getattr(v, "requires_grad", False) for v in result):
        check.fault("gradients", "the forward pass recorded the computational graph, as in training "
               "(gradient recording was on: no torch.no_grad context): evaluation never calls backward, so "
               "the graph only costs memory and time.")
    check.passed()
    if any(model.seen_training):
        check.fault("the mode", "the model was in training mode during evaluation (it was never switched "
               "to evaluation mode): its Dropout layer dropped inputs at random, so two evaluations of the "
               "same model give different figures.")
    check.passed()
    if not model.training:
        check.fault("the mode afterwards", "the model is left in evaluation mode: training after this "
               "call would run without its Dropout. Put it back in training mode before returning.")
    if any(model.seen_training):  # with Dropout on, the figures are random: nothing to compare
        check.done()
    probs = activate("softmax", logits)
    mean_loss = float(-np.mean(np.log(probs[np.arange(n), y])))
    double_softmax = activate("softmax", probs)
    _compare(check, "the mean loss", _as_number(loss), mean_loss, tol=1e-5, mistakes={
        "the loss summed over the samples instead of averaged": n * mean_loss,
        "the cross-entropy of probabilities (a softmax before F.cross_entropy, which applies its own)":
            float(-np.mean(np.log(double_softmax[np.arange(n), y]))),
    })
    _compare(check, "the accuracy", _as_number(acc), correct / n, tol=1e-6, mistakes={
        "the number of correct predictions, not their fraction (a sum instead of a mean)": correct,
        "a percentage; the course's accuracies are fractions between 0 and 1": 100 * correct / n,
        "the mean of the largest probability (the model's confidence), not the fraction of predicted "
        "classes, the argmax, equal to the labels": probs.max(axis=1).mean(),
        "the mean probability of the true class, not the fraction of predicted classes, the argmax, "
        "equal to the labels": probs[np.arange(n), y].mean(),
    })
    check.done()


# --- deep_network -----------------------------------------------------------------------------


def check_deep_network(deep_network):
    """``deep_network(sizes)``: an ``nn.Sequential`` of Linear layers for each pair of
    sizes with a ReLU between two of them and none after the last; it returns the
    logits. ``deep_network([784, 64, 32, 10])`` has 52,650 parameters."""
    __tracebackhide__ = True  # noqa: F841
    import torch

    check = Check("deep_network")
    for sizes in (PSL_SIZES, [20, 16, 12, 8, 10]):
        asked = f"deep_network({sizes})"
        params, X, _ = case(sizes, seed=12)
        model = check.call(deep_network, list(sizes))
        check.passed()
        if not isinstance(model, torch.nn.Module):
            check.fault("the model", f"{asked} returned {_kind(model)}, not a PyTorch module "
                   "(an nn.Sequential of layers).")
            break
        linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
        shapes = [(lin.in_features, lin.out_features) for lin in linears]
        expected = list(zip(sizes[:-1], sizes[1:]))
        n_params = sum(p.numel() for p in model.parameters())
        n_expected = sum(p.size for p in params)
        check.passed()
        if shapes != expected:
            if len(shapes) != len(expected):
                check.fault("the layers", f"{asked} has {len(shapes)} Linear layer(s), {shapes}; it needs "
                       f"{len(expected)}, one per pair of consecutive sizes: {expected}.")
            else:
                for L, (got, want) in enumerate(zip(shapes, expected)):
                    if got != want:
                        check.fault("the layer sizes", f"Linear layer L = {L} of {asked} maps {got[0]} -> "
                               f"{got[1]} values, expected {want[0]} -> {want[1]}.")
        no_bias = [L for L, lin in enumerate(linears) if lin.bias is None]
        for L in no_bias:
            check.fault("the biases", f"Linear layer L = {L} of {asked} has no bias (bias=False): the "
                   "lecture's z = W^T a + b needs b.")
        check.passed()
        if n_params != n_expected:
            check.fault("the parameters", f"{asked} has {n_params:,} parameters, expected {n_expected:,} "
                   "(M x N weights and N biases per layer).")
        if not check.ok:
            break
        _load(linears, params)
        _compare_logits(check, model, X, params, f"the logits of {asked} (their softmax against a^H)")
        if not check.ok:
            break
    check.done()

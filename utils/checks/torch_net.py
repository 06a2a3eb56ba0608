"""Self-checks of notebook 03's exercises (PyTorch).

Each check is a probe and a judge (``utils.checks.core.judged_by``). The judge makes a small
problem (the checks' own network, ``utils.checks.networks``, with non-zero biases); the probe
runs the student's code on it and returns data only (outputs, weights after an epoch, what the
model saw); the judge compares that with its own results or with a reference loop, and names the
common mistakes it recognises (a softmax inside ``forward``, a forgotten ``zero_grad``, a summed
loss, a model left in training mode, ...). Nothing here prints a line of the solution.
"""

from __future__ import annotations

import functools

import numpy as np

from utils.checks.core import Check, hidden, judged_by, seeded
from utils.checks.core import compare_rounded as _compare
from utils.checks.core import kind_of as _kind
from utils.checks.networks import PSL_SIZES, activate, activation_mistakes, case, layer_values

__all__ = ["check_two_layer_net", "check_train_epoch", "check_evaluate", "check_deep_network",
           "probe_two_layer_net", "probe_train_epoch", "probe_evaluate", "probe_deep_network"]



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


def _output(got) -> dict:
    """What a forward pass returned, as data: the array, or the kind of thing it was."""
    import torch

    if isinstance(got, torch.Tensor):
        return {"kind": "tensor", "value": _numpy(got).astype(np.float64)}
    return {"kind": _kind(got)}


def _judge_logits(check: Check, out: dict, X, params, part: str) -> None:
    """Compare the softmax of what the model returned on X (``_output``) with a^H."""
    if out["kind"] == "None":
        check.fault(part, "forward returned None: is the `return` line missing?")
        return
    if out["kind"] != "tensor":
        check.fault(part, f"forward returned {out['kind']}, not a tensor.")
        return
    got = np.asarray(out["value"], dtype=np.float64)
    n_out, widths = params[-1].shape[0], [W.shape[1] for W in params[::2]]
    if got.ndim == 2 and got.shape[1] != n_out and got.shape[1] in widths[:-1]:
        check.fault(part, f"the output has {got.shape[1]} columns, the width of a hidden layer: the last "
               "Linear layer is not applied.")
        return
    probs = activate("softmax", got) if got.ndim == 2 else got
    _compare(check, part, probs, layer_values(X, params)["a"][-1], _activation_mistakes(X, params), tol=1e-7)


def _copies(*values):
    """Copies of a problem's arrays (and lists of arrays) for the probe: whatever the student's code
    does to what it is given, the judge keeps the problem it made."""
    return [[a.copy() for a in v] if isinstance(v, list) else v.copy() for v in values]


def _linear_layers(model):
    import torch

    return [m for m in model.modules() if isinstance(m, torch.nn.Linear)]


# Each check below is two halves: a probe, which runs the student's code on the data it is given
# and returns data only (arrays, numbers, strings), and a judge, which makes the problem, calls the
# probe and decides. A self-check runs both here; the grader (tools/grade.py) runs the judge in its
# own process, on hidden inputs too, and the probe in the student's kernel, over tools/wire.py.


# --- TwoLayerNet ------------------------------------------------------------------------------


def probe_two_layer_net(TwoLayerNet, device, sizes, params, X) -> dict:
    """``TwoLayerNet(*sizes)`` with ``params`` loaded in its two Linear layers, run on ``X``."""
    import torch

    net = TwoLayerNet(*sizes)
    _load([net.linear1, net.linear2], params)
    return _output(net.double()(torch.from_numpy(X)))


def _judge_two_layer_net(probe) -> None:
    __tracebackhide__ = True  # noqa: F841
    check = Check("TwoLayerNet.forward")
    rng = seeded(13)
    sizes = [20, 7, 10] if not hidden() else [int(rng.integers(5, 30)), int(rng.integers(3, 12)), 10]
    params, X, _ = case(sizes)
    out = check.call(probe, list(sizes), *_copies(params, X), explain=_device_error)
    _judge_logits(check, out, X, params, "the logits returned by forward (their softmax against a1)")
    check.done()


@judged_by(_judge_two_layer_net, "probe_two_layer_net")
def check_two_layer_net(TwoLayerNet):
    """``TwoLayerNet(D_in, H, D_out).forward(x)`` must return the logits z1 of the
    reference network (``F.cross_entropy`` applies the softmax)."""
    __tracebackhide__ = True  # noqa: F841
    _judge_two_layer_net(functools.partial(probe_two_layer_net, TwoLayerNet, "cpu"))


# --- train_epoch ------------------------------------------------------------------------------


def _one_hidden_layer(params):
    """Linear, ReLU, Linear holding ``[W0, b0, W1, b1]`` (float32): train_epoch's network. One hidden
    layer only, so that it cannot stand in for deep_network."""
    import torch

    if len(params) != 4:
        raise ValueError("train_epoch's problem is a network with one hidden layer")
    (n_in, n_hidden), n_out = params[0].shape, params[2].shape[1]
    model = torch.nn.Sequential(torch.nn.Linear(n_in, n_hidden), torch.nn.ReLU(),
                                torch.nn.Linear(n_hidden, n_out))
    _load([model[0], model[2]], params)
    return model


def _reference_epoch(params, X, y, batch_size, lr, variant: str = "right"):
    """Train a network holding ``params`` over the batches of (X, y), in order, with SGD as the
    lecture does, or with one of the common mistakes; return its parameters (NumPy) afterwards."""
    import torch
    import torch.nn.functional as F

    model = _one_hidden_layer(params)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    for i in range(0, len(X), batch_size):
        if variant == "first batch only" and i > 0:
            break
        xb, yb = torch.from_numpy(X[i:i + batch_size]), torch.from_numpy(y[i:i + batch_size])
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


def probe_train_epoch(train_epoch, device, params, X, y, batch_size, lr) -> dict:
    """``train_epoch(model, loader, optimizer)`` on a network holding ``params``, moved to ``device``,
    a loader of (X, y) in order and SGD at ``lr``: the weights after it, whether its gradients were
    wiped, and whether the batches were moved to ``device``."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset, default_collate

    x_ids, y_ids, served = set(), set(), []

    def collate(samples):
        xb, yb = default_collate(samples)
        served.append((xb, yb))  # kept alive, so that their ids stay theirs
        x_ids.add(id(xb))
        y_ids.add(id(yb))
        return xb, yb

    loader = DataLoader(TensorDataset(torch.from_numpy(X), torch.from_numpy(y)), batch_size=batch_size,
                        shuffle=False, collate_fn=collate)
    model = _one_hidden_layer(params).to(torch.device(device))
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    watch = _watch_moves(x_ids, y_ids)
    with watch:
        train_epoch(model, loader, optimizer)
    grads = [p.grad for p in model.parameters()]
    return {"after": [_numpy(p).copy() for p in model.parameters()],
            "wiped": all(g is None or not bool(torch.any(g)) for g in grads),
            "served": bool(served), "moved_x": watch.moved_x, "moved_y": watch.moved_y}


def _judge_train_epoch(probe) -> None:
    __tracebackhide__ = True  # noqa: F841
    check = Check("train_epoch")
    params, X, y = case([784, 7, 10], seed=10, n=32, dtype=np.float32)
    batch_size, lr = 8, 0.5
    got = check.call(probe, *_copies(params, X, y), batch_size, lr, explain=_device_error)

    def change(values):
        return np.concatenate([np.ravel(v) for v in values]) - np.concatenate([p.T.ravel() if p.ndim == 2
                                                                               else p for p in params])

    after = got.get("after") if isinstance(got, dict) else None
    if not isinstance(after, list) or [np.shape(a) for a in after] != [p.T.shape for p in params]:
        check.fault("the weights after the epoch", "the network's parameters changed shape or number.")
        check.done()
    moved = change(after)
    expected = change(_reference_epoch(params, X, y, batch_size, lr))
    unchanged = ("zero_grad between backward and the step: the gradients were wiped before the step could "
                 "use them, so the weights never moved" if got.get("wiped") else
                 "no step of the optimizer: the gradients were computed, but the weights never moved")
    mistakes = {
        "a forgotten zero_grad: the gradients of the batches accumulate (each step uses the sum of all "
        "the gradients so far), so from the second batch on the steps are wrong":
            change(_reference_epoch(params, X, y, batch_size, lr, "no zero_grad")),
        f"backward on the loss summed over the batch instead of its mean: every step is {batch_size} times "
        "(the batch size) too large": change(_reference_epoch(params, X, y, batch_size, lr, "sum")),
        "only the first batch used (does the function return inside the loop?)":
            change(_reference_epoch(params, X, y, batch_size, lr, "first batch only")),
    }
    if not np.any(moved):
        check.passed()
        check.fault("the weights after the epoch", unchanged + ".")
    else:
        _compare(check, "the change of the weights over the epoch", moved, expected, mistakes, tol=1e-4)
    check.passed()
    if got.get("served") and not (got.get("moved_x") and got.get("moved_y")):
        which = ("the images and the labels" if not (got.get("moved_x") or got.get("moved_y"))
                 else "the images" if not got.get("moved_x") else "the labels")
        check.fault("the device", f"{which} of each batch are never moved to `device`, the model's: on "
               "a CPU it makes no difference, but with a GPU the first batch fails, since the weights "
               "are on the GPU and the batch is not.")
    check.done()


@judged_by(_judge_train_epoch, "probe_train_epoch")
def check_train_epoch(train_epoch, device="cpu"):
    """``train_epoch(model, loader, optimizer)``: for each batch, moved to ``device``:
    forward, ``F.cross_entropy``, ``zero_grad``, ``backward``, ``step``. The weights
    after the epoch must equal those of the reference loop, from the same start."""
    __tracebackhide__ = True  # noqa: F841
    _judge_train_epoch(functools.partial(probe_train_epoch, train_epoch, str(device)))


# --- evaluate ---------------------------------------------------------------------------------


def _recorder(W, b):
    """A model with a Dropout layer (random in training mode) that records, at each
    forward pass, whether gradients were being recorded and whether it was in training mode."""
    import torch
    from torch import nn

    class Recorder(nn.Module):
        def __init__(self):
            super().__init__()
            self.dropout = nn.Dropout(0.5)
            self.linear = nn.Linear(W.shape[0], W.shape[1])
            self.seen_grad, self.seen_training = [], []

        def forward(self, x):
            self.seen_grad.append(torch.is_grad_enabled())
            self.seen_training.append(self.training)
            return self.linear(self.dropout(x))

    model = Recorder()
    _load([model.linear], [W, b])
    return model


def _as_number(value):
    """A returned figure as a float (a tensor of one element included); else its kind."""
    value = _numpy(value)
    if isinstance(value, (np.ndarray, np.generic, int, float)) and np.size(value) == 1:
        try:
            return float(np.reshape(value, ()))
        except (TypeError, ValueError):
            pass
    return _kind(value)


def probe_evaluate(evaluate, device, W, b, X, y) -> dict:
    """``evaluate(model, X, y)`` on a one-layer model holding (W, b), with a Dropout layer, on
    ``device``, in training mode: the two figures returned, and what the model saw."""
    import torch

    model = _recorder(W, b).to(torch.device(device))
    model.train()
    result = evaluate(model, X, y)
    pair = isinstance(result, (tuple, list)) and len(result) == 2
    return {"result": [_as_number(v) for v in result] if pair else _kind(result),
            "requires_grad": pair and any(getattr(v, "requires_grad", False) for v in result),
            "seen_grad": list(model.seen_grad), "seen_training": list(model.seen_training),
            "training_after": bool(model.training)}


def _judge_evaluate(probe) -> None:
    __tracebackhide__ = True  # noqa: F841
    check = Check("evaluate")
    rng = seeded(11)
    n = 50 if not hidden() else int(rng.integers(30, 80))
    correct = 35 if not hidden() else int(rng.integers(5, n - 5))
    params, X, _ = case([784, 10], seed=11, n=n, dtype=np.float32)
    W, b = params
    logits = X.astype(np.float64) @ W + b
    y = logits.argmax(axis=1)
    y[correct:] = (y[correct:] + 1 + np.arange(n - correct) % 9) % 10  # `correct` right, the rest wrong
    seen = check.call(probe, *_copies(W, b, X, y), explain=_device_error)
    if not isinstance(seen, dict) or not isinstance(seen.get("result"), list):
        kind = seen.get("result") if isinstance(seen, dict) else _kind(seen)
        check.fault("the returned value", f"{kind}; evaluate returns two numbers, (mean loss, accuracy).")
        check.done()
    loss, acc = seen["result"]
    check.passed()
    if not seen.get("seen_grad"):
        check.fault("the model", "evaluate never ran the model on x.")
    elif any(seen["seen_grad"]) or seen.get("requires_grad"):
        check.fault("gradients", "the forward pass recorded the computational graph, as in training "
               "(gradient recording was on: no torch.no_grad context): evaluation never calls backward, so "
               "the graph only costs memory and time.")
    check.passed()
    if any(seen.get("seen_training") or []):
        check.fault("the mode", "the model was in training mode during evaluation (it was never switched "
               "to evaluation mode): its Dropout layer dropped inputs at random, so two evaluations of the "
               "same model give different figures.")
    check.passed()
    if not seen.get("training_after"):
        check.fault("the mode afterwards", "the model is left in evaluation mode: training after this "
               "call would run without its Dropout. Put it back in training mode before returning.")
    if any(seen.get("seen_training") or []):  # with Dropout on, the figures are random: nothing to compare
        check.done()
    probs = activate("softmax", logits)
    mean_loss = float(-np.mean(np.log(probs[np.arange(n), y])))
    double_softmax = activate("softmax", probs)
    _compare(check, "the mean loss", loss, mean_loss, tol=1e-5, mistakes={
        "the loss summed over the samples instead of averaged": n * mean_loss,
        "the cross-entropy of probabilities (a softmax before F.cross_entropy, which applies its own)":
            float(-np.mean(np.log(double_softmax[np.arange(n), y]))),
    })
    _compare(check, "the accuracy", acc, correct / n, tol=1e-6, mistakes={
        "the number of correct predictions, not their fraction (a sum instead of a mean)": correct,
        "a percentage; the course's accuracies are fractions between 0 and 1": 100 * correct / n,
        "the mean of the largest probability (the model's confidence), not the fraction of predicted "
        "classes, the argmax, equal to the labels": probs.max(axis=1).mean(),
        "the mean probability of the true class, not the fraction of predicted classes, the argmax, "
        "equal to the labels": probs[np.arange(n), y].mean(),
    })
    check.done()


@judged_by(_judge_evaluate, "probe_evaluate")
def check_evaluate(evaluate, device="cpu"):
    """``evaluate(model, x, y)`` -> (mean loss, accuracy) on NumPy data: the model in
    evaluation mode and without recording gradients, then back in training mode."""
    __tracebackhide__ = True  # noqa: F841
    _judge_evaluate(functools.partial(probe_evaluate, evaluate, str(device)))


# --- deep_network -----------------------------------------------------------------------------


def probe_deep_network(deep_network, device, sizes, params, X) -> dict:
    """``deep_network(sizes)`` described: its Linear layers' shapes, which have no bias, its number of
    parameters, and, when its layers have the expected shapes, its output on X with ``params``."""
    import torch

    model = deep_network(list(sizes))
    if not isinstance(model, torch.nn.Module):
        return {"kind": _kind(model)}
    linears = _linear_layers(model)
    shapes = [[lin.in_features, lin.out_features] for lin in linears]
    seen = {"kind": "module", "shapes": shapes,
            "no_bias": [L for L, lin in enumerate(linears) if lin.bias is None],
            "n_params": int(sum(p.numel() for p in model.parameters()))}
    if shapes == [list(p) for p in zip(sizes[:-1], sizes[1:])] and not seen["no_bias"]:
        _load(linears, params)
        seen["out"] = _output(model.double()(torch.from_numpy(X)))
    return seen


def _judge_deep_network(probe) -> None:
    __tracebackhide__ = True  # noqa: F841
    check = Check("deep_network")
    rng = seeded(12)
    shapes = [PSL_SIZES, [20, 16, 12, 8, 10]] if not hidden() else [
        [int(rng.integers(10, 40))] + [int(n) for n in rng.integers(3, 20, int(rng.integers(1, 4)))] + [10]
        for _ in range(2)]
    for sizes in shapes:
        asked = f"deep_network({sizes})"
        params, X, _ = case(sizes, seed=12)
        seen = check.call(probe, list(sizes), *_copies(params, X))
        check.passed()
        if not isinstance(seen, dict) or seen.get("kind") != "module":
            kind = seen.get("kind") if isinstance(seen, dict) else _kind(seen)
            check.fault("the model", f"{asked} returned {kind}, not a PyTorch module "
                   "(an nn.Sequential of layers).")
            break
        shapes_got = [tuple(s) for s in seen.get("shapes", [])]
        expected = list(zip(sizes[:-1], sizes[1:]))
        n_expected = sum(p.size for p in params)
        check.passed()
        if shapes_got != expected:
            if len(shapes_got) != len(expected):
                check.fault("the layers", f"{asked} has {len(shapes_got)} Linear layer(s), {shapes_got}; it "
                       f"needs {len(expected)}, one per pair of consecutive sizes: {expected}.")
            else:
                for L, (got, want) in enumerate(zip(shapes_got, expected)):
                    if got != want:
                        check.fault("the layer sizes", f"Linear layer L = {L} of {asked} maps {got[0]} -> "
                               f"{got[1]} values, expected {want[0]} -> {want[1]}.")
        for L in seen.get("no_bias", []):
            check.fault("the biases", f"Linear layer L = {L} of {asked} has no bias (bias=False): the "
                   "lecture's z = W^T a + b needs b.")
        check.passed()
        if seen.get("n_params") != n_expected:
            check.fault("the parameters", f"{asked} has {seen.get('n_params')} parameters, expected "
                   f"{n_expected:,} (M x N weights and N biases per layer).")
        if not check.ok or "out" not in seen:
            break
        _judge_logits(check, seen["out"], X, params, f"the logits of {asked} (their softmax against a^H)")
        if not check.ok:
            break
    check.done()


@judged_by(_judge_deep_network, "probe_deep_network")
def check_deep_network(deep_network):
    """``deep_network(sizes)``: an ``nn.Sequential`` of Linear layers for each pair of
    sizes with a ReLU between two of them and none after the last; it returns the
    logits. ``deep_network([784, 64, 32, 10])`` has 52,650 parameters."""
    __tracebackhide__ = True  # noqa: F841
    _judge_deep_network(functools.partial(probe_deep_network, deep_network, "cpu"))

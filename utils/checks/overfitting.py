"""Self-checks of notebook 06, the over-fitting study.

- ``check_early_stopping``: trains a tiny network with the student's function on a
  tiny 10-class problem whose validation and test sets disagree (they peak at
  different epochs), then judges what came back against the student's own list of
  validation accuracies: the weights left in the model, the epoch where it stopped,
  the epoch it reports. It recognises the last weights kept, a state_dict kept by
  reference, the epoch chosen on the test (or training) set, patience off by one,
  a counter that is not reset, an epoch counted from 0.
- ``check_l2_loss``: value and gradient of every parameter against the penalised
  loss computed by autograd, and the wrong variants (biases penalised, a missing
  1/2, the norm instead of its square, the wrong sign, a penalty cut off from the
  graph, ...).
- ``check_dropout``: the student's layer in training and in evaluation mode, on a
  large batch, so that the share of zeros and the scaling can be measured.

Nothing here prints a line of the solution: messages name the mistake and the idea.
"""

from __future__ import annotations

import math

import numpy as np

from utils.checks import core
from utils.checks.core import Check, fail

__all__ = ["check_early_stopping", "check_l2_loss", "check_dropout"]


def _torch():
    import torch

    return torch


# --- early stopping ------------------------------------------------------------------------

#: The check's own run: full-batch gradient descent (one batch of all 100 training
#: images), so that every correct way of writing the loop follows the same curve.
ES_EPOCHS, ES_LR, ES_PATIENCE = 30, 1.0, 3


def _early_stopping_problem(seed: int = 20):  # 20: a validation curve that ties its best
    """A tiny 10-class problem (20 features): 100 training points with 30 % wrong labels,
    150 validation and 150 test points drawn independently, so that they peak at
    different epochs."""
    from utils.data import Dataset

    rng = np.random.default_rng(seed)
    means = rng.standard_normal((10, 20))

    def draw(n):
        y = rng.integers(0, 10, n)
        return (means[y] + rng.standard_normal((n, 20))).astype(np.float32), y

    (x_tr, y_tr), val, (x_te, y_te) = draw(100), draw(150), draw(150)
    flip = rng.random(100) < 0.3
    y_tr = y_tr.copy()
    y_tr[flip] = (y_tr[flip] + rng.integers(1, 10, flip.sum())) % 10
    return Dataset(x_tr, y_tr, x_te, y_te, "sample"), val


def stopping_epoch(accs, patience: int, epochs: int, strict: bool = True, reset: bool = True,
                   limit: int | None = None) -> int:
    """The epoch (1, 2, ...) after which a run of at most ``epochs`` epochs whose validation
    accuracies begin with ``accs`` stops: the first epoch that ends ``limit`` (default
    ``patience``) epochs in a row without a better accuracy (``strict``: better means
    higher; otherwise higher or equal); ``epochs`` when ``accs`` never gets there (a run
    that stopped before that stopped too early). ``reset=False`` counts the epochs
    without improvement since the start instead (a counter never set back to 0)."""
    limit = patience if limit is None else limit
    best, waited = -math.inf, 0
    for epoch, acc in enumerate(accs, start=1):
        if acc > best or (not strict and acc == best):
            best = acc
            waited = 0 if reset else waited
        else:
            waited += 1
            if waited >= limit:
                return epoch
    return epochs


class _LoadSpy:
    """Watches ``model.load_state_dict`` (through a subclass, so that a deep copy of the model
    behaves as usual) to see whether weights are loaded back into ``model``, and whether what
    is loaded is the model's own tensors (a state_dict kept by reference)."""

    def __init__(self, model):
        self.calls, self.shared = 0, False
        spy, base = self, type(model)

        class Watched(base):
            def load_state_dict(self, state_dict, *args, **kwargs):
                if self is model:
                    own = {k: v.data_ptr() for k, v in self.state_dict().items()}
                    try:
                        spy.shared |= any(k in own and v.data_ptr() == own[k] for k, v in state_dict.items())
                    except Exception:
                        pass
                    spy.calls += 1
                return super().load_state_dict(state_dict, *args, **kwargs)

        Watched.__name__, Watched.__qualname__ = base.__name__, base.__qualname__
        model.__class__ = Watched


def _as_accuracies(accs):
    """The list of validation accuracies out of what the function returned (a list, an
    array, or a History), or None."""
    from utils.history import History

    if isinstance(accs, History):
        accs = accs.val_acc
    try:
        values = [float(a) for a in accs]
    except (TypeError, ValueError):
        return None
    return values


def check_early_stopping(train_early_stopping):
    """``train_early_stopping(model, data, val, epochs, lr, batch_size, patience, seed)`` must
    return ``(validation accuracies, best epoch)`` and leave the best weights in ``model``."""
    __tracebackhide__ = True  # noqa: F841
    torch = _torch()
    from utils import train

    check = Check("train_early_stopping")
    data, val = _early_stopping_problem()
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = train.mlp([20, 64, 10])
        spy = _LoadSpy(model)
        out = check.call(train_early_stopping, model, data, val, ES_EPOCHS, ES_LR, len(data.x_train),
                         ES_PATIENCE, seed=0)
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        fail("train_early_stopping: should return two things, the list of validation accuracies (one per "
             f"epoch run) and the best epoch; got {type(out).__name__}"
             + (f" of length {len(out)}." if isinstance(out, (tuple, list)) else "."))
    accs, best = _as_accuracies(out[0]), out[1]
    if accs is None or not accs:
        fail(f"train_early_stopping: the first value returned should be the list of validation accuracies, "
             f"one per epoch run; got {type(out[0]).__name__}.")
    if not all(0.0 <= a <= 1.0 for a in accs):
        fail("train_early_stopping: the list returned holds values outside [0, 1]; it should hold the "
             "validation accuracy (fraction correct) after each epoch, not a loss or a percentage.")
    if len(accs) > ES_EPOCHS:
        fail(f"train_early_stopping: {len(accs)} accuracies for at most {ES_EPOCHS} epochs: one value per "
             "epoch run, after that epoch's training.")

    # 1. The weights left in the model: those of the best validation epoch.
    top = max(accs)
    now = {name: train.evaluate(model, x, y)[1] for name, x, y in
           (("val", *val), ("test", data.x_test, data.y_test), ("train", data.x_train, data.y_train))}
    check.passed()
    if not math.isclose(now["val"], top, abs_tol=1e-6):
        if math.isclose(now["test"], top, abs_tol=1e-6):
            check.fault("the epoch", "the accuracies you returned are those of the test set (data.x_test): "
                          "the test set chose the epoch. The validation set chooses; the test set is "
                          "looked at once, at the very end, to report the chosen model.")
        elif math.isclose(now["train"], top, abs_tol=1e-6):
            check.fault("the epoch", "the accuracies you returned are those of the training set: the "
                          "epoch must be chosen on the validation set, which the network never trains on.")
        elif spy.shared:
            check.fault("the weights", "the best weights were kept by reference, not copied: a "
                          "state_dict holds the model's own tensors, which every later epoch changes, so "
                          "what was loaded back at the end is the last epoch's weights. Keep an independent "
                          f"(deep) copy. After the call the validation accuracy is {now['val']:.4f}, not the "
                          f"best {top:.4f}.")
        elif math.isclose(now["val"], accs[-1], abs_tol=1e-6):
            never = " The best weights are never loaded back into the model." if spy.calls == 0 else ""
            check.fault("the weights", "the model keeps the weights of the last epoch: after the call its "
                          f"validation accuracy is {now['val']:.4f}, the last value in your list, not the "
                          f"best {top:.4f}.{never}")
        else:
            check.fault("the weights", f"after the call the model's validation accuracy is "
                          f"{now['val']:.4f}; the best in your list is {top:.4f}: the model should hold that "
                          "epoch's weights.")

    # 2. Where it stopped: patience epochs in a row without a better validation accuracy.
    n, P = len(accs), ES_PATIENCE

    def stop(**kw):
        return stopping_epoch(accs, P, ES_EPOCHS, **kw)

    right = stop()  # better: strictly higher (an epoch that ties the best is not better)
    check.passed()
    if n != right:
        variants = {
            "a tie with the best accuracy counted as an improvement: an epoch that only equals the best so "
            "far is not better, and the count of epochs without improvement goes on": stop(strict=False),
            "the counter of epochs without improvement is not reset when the validation accuracy "
            f"improves: a run stops after {P} epochs IN A ROW without improvement": stop(reset=False),
            f"patience counted one too short: it stopped after {P - 1} epochs without improvement, "
            f"not {P}": stop(limit=P - 1),
            f"patience counted one too long: it went on for {P + 1} epochs without improvement, "
            f"not {P}": stop(limit=P + 1),
        }
        named = [text for text, epoch in variants.items() if epoch == n]
        if named:
            check.fault("when it stops", f"this looks like {named[0]}.")
        elif n == ES_EPOCHS:
            check.fault("when it stops", f"it never stopped early: all {n} epochs ran, although by epoch "
                          f"{right} the validation accuracy had gone {P} epochs without improving.")
        elif n < right:
            check.fault("when it stops", f"it stopped too early, at epoch {n}: your list does not end with "
                          f"{P} epochs in a row without a better validation accuracy (patience {P}).")
        else:
            check.fault("when it stops", f"it stopped too late, at epoch {n}: by epoch {right} the "
                          f"validation accuracy had already gone {P} epochs in a row without improving.")

    # 3. The epoch it reports: the best one, counted from 1 like History.epoch.
    check.passed()
    firsts = [i + 1 for i, a in enumerate(accs) if a == top]
    if best != firsts[0]:
        if best in firsts:
            check.fault("the best epoch", f"returned {best}, an epoch that only ties the best validation "
                          f"accuracy ({top:.4f}), first reached at epoch {firsts[0]}: a tie is not "
                          "better, so the best epoch is the first to reach it.")
        elif best == firsts[0] - 1:
            check.fault("the best epoch", f"returned {best}: epochs are counted from 1 (the first epoch is "
                          f"epoch 1), so the best of your list is epoch {firsts[0]}.")
        elif best == n:
            check.fault("the best epoch", f"returned {best}, the last epoch run, not the epoch of the best "
                          "validation accuracy.")
        else:
            check.fault("the best epoch", f"returned {best!r}; the best validation accuracy in your list "
                          f"({top:.4f}) is at epoch {firsts[0]}.")

    # 4. A run that never stops early (patience longer than the run): the best epoch is still the
    # best one, not the one patience epochs before the end, which it only is when the run stops early.
    if check.ok:
        with torch.random.fork_rng():
            torch.manual_seed(0)
            model = train.mlp([20, 64, 10])
            out = check.call(train_early_stopping, model, data, val, 12, ES_LR, len(data.x_train), 100,
                             seed=0)
        accs = _as_accuracies(out[0]) if isinstance(out, (tuple, list)) and len(out) == 2 else None
        if accs:
            best, first = out[1], 1 + int(np.argmax(accs))
            check.require("a run that never stops early", best == first,
                          f"with patience 100 and 12 epochs all 12 ran and the best validation accuracy "
                          f"({max(accs):.4f}) is at epoch {first}, but {best!r} was returned: the best epoch "
                          "is the one with the best validation accuracy, wherever the run stops.")

    # 5. The batches: in mini-batches, epoch t must see the batches of epoch t of one long run.
    if check.ok:
        _check_epoch_seeds(check, train_early_stopping, data, val)
    check.done()


def _one_epoch_at_a_time(data, val, epochs, batch_size, seed_of):
    """The reference: validation accuracy after each epoch, epoch t trained with seed seed_of(t)."""
    torch = _torch()
    from utils import train

    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = train.mlp([20, 64, 10])
        accs = []
        for t in range(1, epochs + 1):
            train.fit(model, data, 1, ES_LR, batch_size, seed=seed_of(t))
            accs.append(train.evaluate(model, *val)[1])
    return accs


def _check_epoch_seeds(check, train_early_stopping, data, val) -> None:
    """Mini-batches of 25, seed 3: the accuracies must be those of one long run's epochs."""
    torch = _torch()
    from utils import train

    batch, seed = 25, 3
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = train.mlp([20, 64, 10])
        out = check.call(train_early_stopping, model, data, val, ES_EPOCHS, ES_LR, batch, ES_PATIENCE,
                         seed=seed)
    accs = _as_accuracies(out[0]) if isinstance(out, (tuple, list)) and len(out) == 2 else None
    if not accs:
        return
    check.passed()
    n = len(accs)
    right = _one_epoch_at_a_time(data, val, n, batch, lambda t: seed + t - 1)
    if np.allclose(accs, right, atol=1e-6):
        return
    variants = {"the same seed at every epoch: each epoch replays the batches of the first one, where one "
                "long run draws new ones": lambda t: seed,
                "seeds one too high: the first epoch should use the seed given, as one long run's first "
                "epoch does": lambda t: seed + t,
                "the seed given is not used": lambda t: t - 1}
    for text, seed_of in variants.items():
        if np.allclose(accs, _one_epoch_at_a_time(data, val, n, batch, seed_of), atol=1e-6):
            check.fault("the batches", f"with mini-batches, this looks like {text}.")
            return
    check.fault("the batches", "with mini-batches of 25 the validation accuracies differ from those of "
                  "one long run trained epoch by epoch: are the epochs trained one at a time, each with "
                  "the seed of its place in the run?")


# --- L2 weight decay -------------------------------------------------------------------------


def _l2_problem():
    """A float64 784-free toy network (6-5-4) with non-zero biases, its logits and labels."""
    torch = _torch()
    from utils import train

    with torch.random.fork_rng():
        torch.manual_seed(6)
        model = train.mlp([6, 5, 4]).double()
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.3 * torch.randn_like(p))
        x = torch.randn(8, 6, dtype=torch.float64)
        y = torch.randint(0, 4, (8,))
    return model, x, y


def _l2_variant(model, x, y, lam, weights="weights", power="square", factor=0.5, sign=1.0,
                ce="mean", in_graph=True):
    """Value and gradients (by parameter name) of cross-entropy + sign * factor * lam * penalty."""
    torch = _torch()
    F = torch.nn.functional
    model.zero_grad()
    logits = model(x)
    named = dict(model.named_parameters())
    chosen = {"weights": [p for n, p in named.items() if n.endswith("weight")],
              "all": list(named.values()),
              "first": [named["0.weight"]], "last": [named["2.weight"]]}[weights]
    if power == "square":
        penalty = sum((p ** 2).sum() for p in chosen)
    elif power == "norm":
        penalty = sum(p.norm() for p in chosen)
    elif power == "root":
        penalty = torch.sqrt(sum((p ** 2).sum() for p in chosen))
    elif power == "mean":
        penalty = sum((p ** 2).mean() for p in chosen)
    else:  # "abs": L1
        penalty = sum(p.abs().sum() for p in chosen)
    if not in_graph:
        penalty = penalty.detach()
    loss = F.cross_entropy(logits, y, reduction=ce) + sign * factor * lam * penalty
    loss.backward()
    grads = {n: p.grad.detach().numpy().copy() for n, p in named.items()}
    model.zero_grad()
    return float(loss.detach()), grads


L2_PARTS = {"0.weight": "the gradient for W0 (layer 0's weights)", "0.bias": "the gradient for b0",
            "2.weight": "the gradient for W1 (layer 1's weights)", "2.bias": "the gradient for b1"}


def check_l2_loss(l2_loss):
    """``l2_loss(model, logits, y, lam)`` = mean cross-entropy + (lam / 2) * sum of the squared
    entries of every weight matrix (biases excluded), as a PyTorch scalar with a gradient."""
    __tracebackhide__ = True  # noqa: F841
    torch = _torch()
    check = Check("l2_loss")
    model, x, y = _l2_problem()
    lam = 0.3
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    model.zero_grad()
    got = check.call(l2_loss, model, model(x), y.clone(), lam)
    if isinstance(got, (int, float, np.floating)) or (isinstance(got, np.ndarray) and got.size == 1):
        fail("l2_loss: returned a plain number: the loss must stay a PyTorch tensor, so that backward() "
             "can compute the gradient SGD needs.")
    if not torch.is_tensor(got) or got.numel() != 1:
        fail(f"l2_loss: should return one number as a PyTorch tensor (a scalar loss); got "
             f"{type(got).__name__}" + (f" of shape {tuple(got.shape)}." if torch.is_tensor(got) else "."))
    if any(not torch.equal(before[n], p.detach()) for n, p in model.named_parameters()):
        check.problem("the weights", "l2_loss changed the model's parameters: it should only compute the "
                      "loss (SGD's step changes the weights).")
    variants = {  # description -> arguments of _l2_variant
        "the penalty on the biases too (the usual L2 penalty is on the weight matrices only)":
            {"weights": "all"},
        "the penalty lambda_2 * sum w^2, without the factor 1/2 of this exercise's (lambda_2 / 2) * sum w^2 "
        "(whose gradient is lambda_2 w, not 2 lambda_2 w)": {"factor": 1.0},
        "the norm instead of the squared norm (a square root too many): the sum of ||W||, not of ||W||^2":
            {"power": "norm"},
        "the square root of the sum of squares (a norm), not the sum of squares itself": {"power": "root"},
        "the penalty with the wrong sign: subtracted, it rewards large weights": {"sign": -1.0},
        "the mean of the squared weights instead of their sum": {"power": "mean"},
        "the absolute values (an L1 penalty) instead of the squares": {"power": "abs"},
        "only layer 0's weights penalised (every weight matrix counts)": {"weights": "first"},
        "only the last layer's weights penalised (every weight matrix counts)": {"weights": "last"},
        "lambda_2 missing: the penalty is not multiplied by lam": {"factor": 0.5 / lam},
        "the cross-entropy summed over the batch instead of averaged": {"ce": "sum"},
        "no penalty at all: plain cross-entropy": {"factor": 0.0},
        "the penalty on the biases too, and without the factor 1/2 of (lambda_2 / 2) * sum w^2":
            {"weights": "all", "factor": 1.0},
    }
    value, grads = _l2_variant(model, x, y, lam)
    wrong = {d: _l2_variant(model, x, y, lam, **kw) for d, kw in variants.items()}
    if not got.requires_grad:
        check.problem("the gradient", "the loss you returned has no gradient: it was computed outside "
                      "PyTorch's graph (.item(), .detach(), .data or NumPy), so backward() cannot reach the "
                      "weights.")
    value_ok = check.compare("the loss value", float(got.detach().reshape(())), value,
                             mistakes={d: v for d, (v, _) in wrong.items()})
    if got.requires_grad:
        model.zero_grad()
        try:
            got.reshape(()).backward()
        except RuntimeError as err:  # the graph was used up, or a weight was changed in place
            check.problem("the gradient", f"backward() through the loss you returned failed "
                          f"({str(err).splitlines()[0][:120]}): does l2_loss call backward() itself (the "
                          "training loop does), or change the weights in place (the loss only adds the "
                          "penalty; SGD's step changes the weights)?")
            model.zero_grad()
            check.done()
        if value_ok:  # the right value with the gradient of the plain cross-entropy: a cut-off penalty
            cut = ("a penalty cut off from the graph (computed from .data, .detach() or NumPy): the value "
                   "includes it but the gradient does not")
            wrong[cut] = wrong.pop("no penalty at all: plain cross-entropy")
        params = dict(model.named_parameters())
        mine = {n: params[n].grad.detach().numpy().copy() if params[n].grad is not None
                else np.zeros_like(grads[n]) for n in L2_PARTS}

        def joined(g):  # the four gradients as one vector: a mistake is recognised on all of them at once
            return np.concatenate([g[n].ravel() for n in L2_PARTS])

        whole = core.diagnose(joined(mine), joined(grads), {d: joined(g) for d, (_, g) in wrong.items()})
        if whole is not None and whole.startswith("this looks like"):
            check.problem("the gradient (W0, b0, W1, b1)", whole)
        else:  # not a known mistake: say which of the four gradients are wrong
            for name, part in L2_PARTS.items():
                check.compare(part, mine[name], grads[name])
    model.zero_grad()
    check.done()


# --- dropout -----------------------------------------------------------------------------------


def _FrameworkDropout():
    """A context in which every call of one of PyTorch's dropout functions is recorded in ``.used``."""
    from torch.overrides import TorchFunctionMode

    class Spy(TorchFunctionMode):
        used: set = set()

        def __torch_function__(self, func, types, args=(), kwargs=None):
            name = getattr(func, "__name__", "")
            if "dropout" in name.lower():
                self.used.add(name)
            return func(*args, **(kwargs or {}))

    spy = Spy()
    spy.used = set()
    return spy


def check_dropout(Dropout):
    """``Dropout(p)``, an ``nn.Module``: in training mode, zero each activation with
    probability ``p`` and scale the others by ``1 / (1 - p)`` with a new mask at every call;
    in evaluation mode, the identity."""
    __tracebackhide__ = True  # noqa: F841
    torch = _torch()
    check = Check("Dropout")
    p = 0.3
    layer = check.call(Dropout, p)
    if not isinstance(layer, torch.nn.Module):
        fail(f"Dropout: Dropout(p) should build an nn.Module (class Dropout(nn.Module)); got "
             f"{type(layer).__name__}.")
    with torch.random.fork_rng():
        torch.manual_seed(1)
        x0 = 1.0 + torch.rand(400, 250)  # positive, so that a zero in the output is a dropped unit
        x = x0.clone()  # each call gets its own copy: a layer that writes into its input is told once
        layer.train()
        with _FrameworkDropout() as framework:
            first = check.call(layer, x)
        second = check.call(layer, x0.clone())
        layer.eval()
        evals = [check.call(layer, x0.clone()), check.call(layer, x0.clone())]
        layer.train()
        with_grad = check.call(layer, x0.clone().requires_grad_(True) * 1.0)  # not a leaf: may be changed
    if framework.used:
        fail(f"Dropout: your layer calls PyTorch's own dropout (`{'`, `'.join(sorted(framework.used))}`: "
             "F.dropout, torch.dropout and nn.Dropout all end there); the exercise is to write it, with a "
             "random mask of your own.")
    if not torch.equal(x, x0):
        check.problem("the input", "the layer changed its input in place: the layer before it (ReLU) "
                      "keeps that tensor for its backward pass, and autograd then fails.")
    for out in (first, second, *evals):
        if not torch.is_tensor(out) or out.shape != x.shape:
            shape = tuple(out.shape) if torch.is_tensor(out) else type(out).__name__
            fail(f"Dropout: the output should be a tensor of the input's shape {tuple(x.shape)}; "
                 f"got {shape}.")

    # Evaluation mode: the identity, every time.
    check.passed()
    ev = evals[0]
    if not (torch.equal(ev, x0) and torch.equal(evals[1], x0)):
        if torch.allclose(ev, x0 * (1 - p)):
            check.fault("evaluation mode", "the output is scaled by 1 - p at evaluation: that is the "
                   "old, non-inverted dropout. With the 1/(1-p) scaling during training, evaluation "
                   "leaves the activations unchanged.")
        elif (ev == 0).any() or not torch.equal(ev, evals[1]):
            zeros = float((ev == 0).float().mean())
            check.fault("evaluation mode", "dropout is left on at evaluation: in eval mode the output "
                   f"has zeros or changes from call to call ({zeros:.0%} zeros). self.training tells the "
                   "layer which mode it is in; at evaluation the whole network is used, unchanged.")
        else:
            check.fault("evaluation mode", "the output differs from the input in eval mode: dropout at "
                   "evaluation is the identity.")

    # Training mode: a share p of zeros, each sample its own mask, a new mask at every call.
    mask1, mask2 = first == 0, second == 0
    shared = bool(mask1.any()) and bool((mask1 == mask1[:1]).all())
    check.passed()
    if mask1.any() and torch.equal(mask1, mask2):
        check.fault("the mask", "the same units are dropped at every call: a new random mask must be "
               "drawn at each forward pass (each batch), or the network just loses those units.")
    elif shared:
        check.fault("the mask", "every sample of the batch has the same mask: each activation of each "
               "sample is dropped independently.")
    check.passed()
    dropped = float(mask1.float().mean())
    if abs(dropped - p) > 0.02:
        if abs(dropped - (1 - p)) < 0.02:
            check.fault("training mode", f"{dropped:.0%} of the activations are dropped, not p = "
                   f"{p:.0%}: p was used as the probability to KEEP a unit. p is the probability to drop it.")
        elif dropped < 0.005:
            check.fault("training mode", "nothing is dropped in training mode (no zeros in the output).")
        elif not shared:  # a shared mask has already been named; its share of zeros is noisy
            check.fault("training mode", f"{dropped:.1%} of the activations are dropped; with p = {p} "
                   f"about {p:.0%} should be.")

    # The kept activations: all scaled by 1/(1-p), so that the mean is the same in both modes.
    check.passed()
    kept = ~mask1
    if kept.any():
        ratio = (first[kept] / x0[kept]).double()
        scale = float(ratio.mean())
        names = {1.0: "no 1/(1-p) scaling: the kept activations are unchanged, so during training the "
                      f"mean activation shrinks to {1 - p:.0%} of its value (and jumps back at evaluation)",
                 1 / p: "a scaling by 1/p instead of 1/(1-p) (p is the probability to drop, 1-p to keep)",
                 1 - p: "the kept activations multiplied by 1-p instead of divided by it: the mean "
                        "activation shrinks instead of staying the same"}
        named = [text for factor, text in names.items() if math.isclose(scale, factor, rel_tol=1e-4)]
        if float(ratio.max() - ratio.min()) > 1e-4 * max(1.0, abs(scale)):
            check.fault("the scaling", "the kept activations are not all multiplied by the same factor: "
                   "each kept one is scaled by 1/(1-p), the dropped ones are 0.")
        elif named:
            check.fault("the scaling", f"this looks like {named[0]}.")
        elif not math.isclose(scale, 1 / (1 - p), rel_tol=1e-4):
            check.fault("the scaling", f"the kept activations are scaled by {scale:.4g}; expected "
                   f"1/(1-p) = {1 / (1 - p):.4g}, so that the mean activation is the same in training and "
                   "at evaluation.")
    check.passed()
    if not (torch.is_tensor(with_grad) and with_grad.requires_grad):
        check.fault("the gradient", "the output is cut off from PyTorch's graph (NumPy, .detach() or "
               ".data): backpropagation cannot go through the layer.")
    check.done()

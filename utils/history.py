"""What every training loop of the course returns, and the rules every loop shares.

``History`` is one record per run: for each epoch, its number, the training time
so far (``seconds``, cumulative, evaluation excluded) and the loss and accuracy on
the training and test sets (and on a validation set when there is one); plus
whether the run diverged and which epoch validation chose. The NumPy loop
(:mod:`utils.reference`), the PyTorch and Keras loops (:mod:`utils.train`) and the
loops the notebooks write all return it, and :mod:`utils.plots` draws it.

``is_diverged(loss)`` is the one rule that says a run blew up, and
``check_training_args`` rejects settings that would fail silently (a zero batch
size that quietly meant "full batch", a NaN learning rate); ``check_seed`` is
the rule for a seed (an integer >= 0) every loop applies before its first epoch.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

import numpy as np

#: Loss above which a run counts as diverged: ten times the loss of a uniform
#: guess over 10 classes (ln 10 = 2.3). NaN and inf count too.
DIVERGED_LOSS = 10 * math.log(10)

#: Largest learning rate accepted: beyond, lr * gradient overflows float32 (3.4e38).
MAX_LR = 1e30


def _short(value, n: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= n else text[:n] + "..."


def _number(value, what: str) -> float:
    """``value`` as a float (a NumPy number or a one-element tensor will do); ``TypeError``
    naming ``what`` for a string, a boolean, None or anything float() refuses."""
    if value is None or isinstance(value, (str, bytes, bool)):
        raise TypeError(f"{what} must be a number; got {_short(value)}.")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be a number; got {_short(value)} ({type(value).__name__}).") from None


def is_diverged(loss) -> bool:
    """True when ``loss`` is NaN, infinite or above :data:`DIVERGED_LOSS` (``TypeError`` if not a number)."""
    loss = _number(loss, "loss")
    return not math.isfinite(loss) or loss > DIVERGED_LOSS


def check_seed(seed, allow_none: bool = False) -> None:
    """``ValueError`` unless ``seed`` is an integer >= 0 (or None, when ``allow_none``).

    NumPy refuses negative seeds, deep inside its generator; a loop that seeds
    epoch ``e`` with ``seed + e`` would only fail at some later epoch."""
    if seed is None and allow_none:
        return
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        also = " (or None for a fresh random one)" if allow_none else ""
        raise ValueError(f"seed must be an integer >= 0{also}; got {_short(seed)}.")


@dataclass
class History:
    """Per-epoch figures of one training run (lists of equal length)."""

    epoch: list = field(default_factory=list)
    seconds: list = field(default_factory=list)  # cumulative training time, evaluation excluded
    train_loss: list = field(default_factory=list)
    train_acc: list = field(default_factory=list)
    test_loss: list = field(default_factory=list)
    test_acc: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)  # empty when there is no validation set
    val_acc: list = field(default_factory=list)
    diverged: bool = False
    best_epoch: int | None = None  # chosen on validation accuracy, never on the test set
    stop_loss: float | None = None  # the mini-batch loss that made a diverged run stop, if fit saw one

    def record(self, epoch: int, seconds: float, train, test, val=None) -> None:
        """Append one epoch; ``train``, ``test`` and ``val`` are ``(loss, accuracy)`` pairs.

        A loss that is NaN, infinite or above DIVERGED_LOSS marks the run as diverged.
        Everything is checked before anything is appended, so a refused record
        leaves the lists as they were: ``epoch`` an integer >= 0; ``seconds`` a
        number >= 0 (NaN: not timed); each loss a number >= 0 (a cross-entropy is
        never negative) or NaN/inf; each accuracy a fraction in [0, 1]; ``val`` given
        at every epoch or at none. ``TypeError`` for something that is not a number
        or not a pair, ``ValueError`` for a value out of range."""
        if isinstance(epoch, bool) or not isinstance(epoch, numbers.Integral):
            raise TypeError(f"epoch must be an integer >= 0 (the epoch's number); got {_short(epoch)}.")
        if epoch < 0:
            raise ValueError(f"epoch must be an integer >= 0 (the epoch's number); got {epoch}.")
        elapsed = _number(seconds, "seconds")
        if elapsed < 0:
            raise ValueError(f"seconds (training time so far) must be >= 0 (or NaN: not timed); "
                             f"got {elapsed}.")
        if self.epoch and (val is not None) != self.has_val:
            raise ValueError(f"val must be given at every epoch or at none: epoch {self.epoch[-1]} had "
                             f"{'a' if self.has_val else 'no'} val pair, epoch {epoch} has "
                             f"{'one' if val is not None else 'none'}.")
        pairs = {split: _pair(split, pair) for split, pair in (("train", train), ("test", test), ("val", val))
                 if split != "val" or pair is not None}
        self.epoch.append(int(epoch))
        self.seconds.append(elapsed)
        for split, (loss, acc) in pairs.items():
            getattr(self, f"{split}_loss").append(loss)
            getattr(self, f"{split}_acc").append(acc)
        if is_diverged(pairs["train"][0]):
            self.diverged = True

    @property
    def has_val(self) -> bool:
        """Whether a validation pair was recorded (at every epoch: :meth:`record` sees to it)."""
        return bool(self.val_loss)

    def __len__(self) -> int:
        return len(self.epoch)


def _pair(split: str, pair) -> tuple[float, float]:
    """``(loss, accuracy)`` as floats, checked; the errors name ``split`` (train, test or val)."""
    what = f"{split} must be a (loss, accuracy) pair of numbers"
    try:
        loss, acc = pair
    except TypeError:  # None, a number, a 0-d array
        raise TypeError(f"{what}; got {_short(pair)}.") from None
    except ValueError:  # one value, or three
        raise ValueError(f"{what}; got {_short(pair)}.") from None
    loss, acc = _number(loss, f"the {split} loss"), _number(acc, f"the {split} accuracy")
    if loss < -1e-6:  # a rounding error aside; NaN and inf pass: they mark a divergence
        raise ValueError(f"the {split} loss is {loss:g}: a cross-entropy is never negative; check the sign "
                         "of the loss.")
    if not 0.0 <= acc <= 1.0:
        hint = " (a percentage? divide it by 100)" if 1.0 < acc <= 100.0 else ""
        raise ValueError(f"the {split} accuracy is {acc:g}; it must be a fraction in [0, 1]{hint}.")
    return loss, acc


def check_training_args(epochs, lr, batch_size, allow_full_batch: bool = True) -> None:
    """``ValueError`` naming the argument when a training setting cannot be right.

    - ``epochs``: an integer >= 1;
    - ``lr``: a finite number > 0 (a NaN rate gives NaN weights, silently), not a
      string, and at most :data:`MAX_LR` (beyond, float32 overflows);
    - ``batch_size``: an integer >= 1, or ``None`` for full-batch gradient
      descent when ``allow_full_batch`` (0 no longer means "full batch" by accident).
    """
    if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < 1:
        raise ValueError(f"epochs must be an integer >= 1; got {epochs!r}.")
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real):  # "0.1" passed float() but no loop
        raise ValueError(f"lr (the learning rate) must be a number > 0, not a {type(lr).__name__}; "
                         f"got {_short(lr)}.")
    rate = float(lr)
    if not math.isfinite(rate) or rate <= 0:
        raise ValueError(f"lr (the learning rate) must be a finite number > 0; got {lr!r}.")
    if rate > MAX_LR:
        raise ValueError(f"lr (the learning rate) must be a finite number > 0 and at most {MAX_LR:g} "
                         f"(float32 overflows beyond); got {lr!r}.")
    if batch_size is None:
        if not allow_full_batch:
            raise ValueError("batch_size must be an integer >= 1 here; got None.")
        return
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        hint = " (use batch_size=None for the full batch)" if allow_full_batch else ""
        raise ValueError(f"batch_size must be an integer >= 1{hint}; got {batch_size!r}.")


def layer_sizes(params) -> list:
    """``[784, 128, 10]`` for the NumPy weights ``[W0, b0, W1, b1]`` of a network (any depth);
    ``ValueError``/``TypeError`` unless ``params`` is such a list: per layer, a 2-D ``W`` of shape
    (M, N) and a 1-D ``b`` of shape (N,), each layer's M the previous N."""
    expected = "params must be the list [W0, b0, W1, b1, ...] that init_params returns"
    if not isinstance(params, (list, tuple)):
        raise TypeError(f"{expected}; got {type(params).__name__}.")
    if len(params) < 2 or len(params) % 2:
        raise ValueError(f"{expected} (a weight matrix and a bias per layer, so an even number of arrays); "
                         f"got {len(params)} array(s): is a bias or a weight matrix missing?")
    previous = None
    for L in range(len(params) // 2):
        W, b = np.shape(params[2 * L]), np.shape(params[2 * L + 1])
        if len(W) != 2 or b != W[1:]:
            raise ValueError(f"{expected}: W{L} must have shape (M, N) and b{L} shape (N,); got {W} and {b}.")
        if previous is not None and W[0] != previous:
            raise ValueError(f"{expected}: W{L} has {W[0]} rows but the layer before has {previous} neurons "
                             f"(W{L - 1} has {previous} columns).")
        previous = W[1]
    return [np.shape(params[0])[0]] + [np.shape(W)[1] for W in params[::2]]

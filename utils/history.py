"""What every training loop of the course returns, and the rules every loop shares.

``History`` is one record per run: for each epoch, its number, the training time
so far (``seconds``, cumulative, evaluation excluded) and the loss and accuracy on
the training and test sets (and on a validation set when there is one); plus
whether the run diverged and which epoch validation chose. The NumPy loop
(:mod:`utils.reference`), the PyTorch and Keras loops (:mod:`utils.train`) and the
loops the notebooks write all return it, and :mod:`utils.plots` draws it.

``is_diverged(loss)`` is the one rule that says a run blew up, and
``check_training_args`` rejects settings that would fail silently (a zero batch
size that quietly meant "full batch", a NaN learning rate).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

#: Loss above which a run counts as diverged: ten times the loss of a uniform
#: guess over 10 classes (ln 10 = 2.3). NaN and inf count too.
DIVERGED_LOSS = 10 * math.log(10)


def is_diverged(loss) -> bool:
    """True when ``loss`` is NaN, infinite or above :data:`DIVERGED_LOSS`."""
    loss = float(loss)
    return not math.isfinite(loss) or loss > DIVERGED_LOSS


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

    def record(self, epoch: int, seconds: float, train, test, val=None) -> None:
        """Append one epoch; ``train``, ``test`` and ``val`` are ``(loss, accuracy)`` pairs.

        A loss that is NaN, infinite or above DIVERGED_LOSS marks the run as diverged."""
        self.epoch.append(int(epoch))
        self.seconds.append(float(seconds))
        for split, pair in (("train", train), ("test", test), ("val", val)):
            if pair is not None:
                loss, acc = pair
                getattr(self, f"{split}_loss").append(float(loss))
                getattr(self, f"{split}_acc").append(float(acc))
        if is_diverged(train[0]):
            self.diverged = True

    @property
    def has_val(self) -> bool:
        return bool(self.val_loss)

    def __len__(self) -> int:
        return len(self.epoch)


def check_training_args(epochs, lr, batch_size, allow_full_batch: bool = True) -> None:
    """``ValueError`` naming the argument when a training setting cannot be right.

    - ``epochs``: an integer >= 1;
    - ``lr``: a finite number > 0 (a NaN rate gives NaN weights, silently);
    - ``batch_size``: an integer >= 1, or ``None`` for full-batch gradient
      descent when ``allow_full_batch`` (0 no longer means "full batch" by accident).
    """
    if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < 1:
        raise ValueError(f"epochs must be an integer >= 1; got {epochs!r}.")
    try:
        rate = float(lr)
    except (TypeError, ValueError):
        raise ValueError(f"lr (the learning rate) must be a number > 0; got {lr!r}.") from None
    if isinstance(lr, bool) or not math.isfinite(rate) or rate <= 0:
        raise ValueError(f"lr (the learning rate) must be a finite number > 0; got {lr!r}.")
    if batch_size is None:
        if not allow_full_batch:
            raise ValueError("batch_size must be an integer >= 1 here; got None.")
        return
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        hint = " (use batch_size=None for the full batch)" if allow_full_batch else ""
        raise ValueError(f"batch_size must be an integer >= 1{hint}; got {batch_size!r}.")


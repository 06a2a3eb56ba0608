"""The course's recurring figures, each with a title, labelled axes and units.

A *history* is the :class:`utils.history.History` every training loop returns:
per epoch ``epoch``, ``seconds`` (cumulative training time), ``train_loss``,
``test_loss``, ``train_acc``, ``test_acc`` (``val_*`` are drawn too when present).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from utils.data import check_labels
from utils.history import History


def show_digits(x, y, pred=None, n: int = 20, cols: int = 10, title: str = "Digits and their labels",
                class_names=None):
    """A grid of 28x28 images; the label (and the prediction, if given) above each."""
    n = min(n, len(x))
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(1.2 * cols, 1.4 * rows + 0.4), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        ax.imshow(np.asarray(x[i]).reshape(28, 28), cmap="gray_r", vmin=0, vmax=1)
        name = (lambda k: class_names[k]) if class_names else str
        text = f"{name(int(y[i]))}" if pred is None else f"true {name(int(y[i]))}\npred {name(int(pred[i]))}"
        ax.set_title(text, fontsize=8, color="black" if pred is None or pred[i] == y[i] else "crimson")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_history(histories: dict, x: str = "epoch", title: str = "Learning curves"):
    """Loss and accuracy, train (solid) and test (dashed), for one or several runs.

    ``histories`` is one History, or a dict mapping a run's name to its History;
    ``x`` is ``"epoch"`` or ``"seconds"`` (wall time, to compare methods at equal cost).
    """
    if isinstance(histories, History):
        histories = {"": histories}
    if x not in ("epoch", "seconds"):
        raise ValueError(f"x must be 'epoch' or 'seconds'; got {x!r}.")
    for name, h in histories.items():
        if not isinstance(h, History):
            raise TypeError(f"run {name!r}: expected a utils.history.History, got {type(h).__name__}.")
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    for i, (name, h) in enumerate(histories.items()):
        color = f"C{i}"
        xs = getattr(h, x)
        prefix = f"{name} " if name else ""
        for split, style in (("train", "-"), ("val", ":"), ("test", "--")):
            if getattr(h, f"{split}_loss"):
                ax_loss.plot(xs, getattr(h, f"{split}_loss"), style, color=color, label=f"{prefix}{split}")
                ax_acc.plot(xs, getattr(h, f"{split}_acc"), style, color=color, label=f"{prefix}{split}")
    xlabel = {"epoch": "epoch", "seconds": "training time (s)"}.get(x, x)
    ax_loss.set(title="Loss (cross-entropy)", xlabel=xlabel, ylabel="mean loss (nats)")
    ax_acc.set(title="Accuracy", xlabel=xlabel, ylabel="accuracy (fraction correct)")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def confusion_matrix(y_true, y_pred, n_classes: int = 10) -> np.ndarray:
    """Counts: row = true class, column = predicted class."""
    y_true = check_labels(y_true, n_classes, "y_true")
    y_pred = check_labels(y_pred, n_classes, "y_pred")
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} labels but y_pred has {len(y_pred)}; they must match.")
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm


def plot_confusion(y_true, y_pred, title: str = "Confusion matrix (test set)", class_names=None):
    cm = confusion_matrix(y_true, y_pred)
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    im = ax.imshow(cm, cmap="Blues")
    fig.colorbar(im, ax=ax, label="number of test images")
    ticks = np.arange(len(cm))
    labels = class_names if class_names else [str(t) for t in ticks]
    ax.set_xticks(ticks, labels, rotation=45 if class_names else 0)
    ax.set_yticks(ticks, labels)
    for i in ticks:
        for j in ticks:
            if cm[i, j]:
                ax.text(j, i, cm[i, j], ha="center", va="center", fontsize=7,
                        color="white" if cm[i, j] > cm.max() / 2 else "black")
    ax.set(title=title, xlabel="predicted class", ylabel="true class")
    fig.tight_layout()
    return fig


def show_weights(W, n: int = 32, cols: int = 8, title: str = "Incoming weights of hidden neurons"):
    """Columns of a (784, N) weight matrix as 28x28 images (red > 0, blue < 0)."""
    W = np.asarray(W)
    n = min(n, W.shape[1])
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(1.3 * cols, 1.3 * rows + 0.5), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            w = W[:, i].reshape(28, 28)
            lim = np.abs(w).max() or 1.0
            ax.imshow(w, cmap="RdBu_r", vmin=-lim, vmax=lim)
            ax.set_title(f"neuron {i}", fontsize=7)
    fig.suptitle(title + " (red: positive, blue: negative)")
    fig.tight_layout()
    return fig

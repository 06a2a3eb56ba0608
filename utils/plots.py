"""The course's recurring figures, each with a title, labelled axes and units.

A *history* is the :class:`utils.history.History` every training loop returns:
per epoch ``epoch``, ``seconds`` (cumulative training time), ``train_loss``,
``test_loss``, ``train_acc``, ``test_acc`` (``val_*`` are drawn too when present).

Every function checks its arguments before it draws anything and says what is
wrong (``ValueError``, or ``TypeError`` for an object of the wrong kind).
"""

from __future__ import annotations

import numbers

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter, ScalarFormatter

from utils.data import N_CLASSES, N_PIXELS, check_labels
from utils.history import History


def _check_count(value, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{what} must be an integer >= 1; got {value!r}.")


def _numpy(value) -> np.ndarray:
    """An array, a list or a PyTorch tensor (detached, on the CPU) as a NumPy array."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _check_class_names(class_names, n_classes: int | None) -> None:
    """``class_names``: a list of names, one per class (``n_classes`` of them when it is known)."""
    if class_names is None:
        return
    if isinstance(class_names, str) or not hasattr(class_names, "__len__"):
        raise TypeError(f"class_names must be a list of names, one per class; got {class_names!r}.")
    if n_classes is not None and len(class_names) != n_classes:
        raise ValueError(f"class_names has {len(class_names)} names but there are {n_classes} classes; "
                         "give one name per class.")


def _labels_of(values, name: str, x, class_names) -> np.ndarray:
    """Labels of the images ``x``: class numbers (not one-hot rows), one per image, each with a name."""
    labels = check_labels(_numpy(values), max(N_CLASSES, len(class_names or ())), name)
    if len(labels) != len(x):
        raise ValueError(f"show_digits: x has {len(x)} images but {name} has {len(labels)} labels; give one "
                         "label per image.")
    if class_names is not None and labels.max() >= len(class_names):
        raise ValueError(f"class_names has {len(class_names)} names but {name} goes up to {labels.max()}; "
                         "give one name per class.")
    return labels


def show_digits(x, y, pred=None, n: int = 20, cols: int = 10, title: str = "Digits and their labels",
                class_names=None):
    """A grid of 28x28 images; the label (and the prediction, if given) above each.

    ``x`` holds images of 784 pixels (rows of 784, or 28 x 28 arrays) in [0, 1], as
    the loaders give them: raw 0..255 pixels are refused (pass ``x / 255``), they
    would all draw black. ``y`` (and ``pred``) hold one label per image: class
    numbers, not one-hot rows. ``class_names``, if given, names every label."""
    x = _numpy(x)
    if x.ndim < 2 or x.shape[1:] not in ((N_PIXELS,), (28, 28)):
        raise ValueError(f"show_digits: x must hold 28x28 images, shape (n, 784) or (n, 28, 28); got shape "
                         f"{x.shape}.")
    _check_count(n, "n (the number of images shown)")
    _check_count(cols, "cols (images per row)")
    _check_class_names(class_names, None)
    y = _labels_of(y, "y", x, class_names)
    pred = None if pred is None else _labels_of(pred, "pred", x, class_names)
    n = min(n, len(x))
    low, high = (np.nanmin(x[:n]), np.nanmax(x[:n])) if n else (0, 0)
    if low < 0 or high > 1:
        raise ValueError(f"show_digits draws pixels in [0, 1] (0 white, 1 black); x holds values from "
                         f"{low:g} to {high:g}: for raw 0..255 pixels, pass x / 255.")
    rows = int(np.ceil(n / cols))
    # a row: the image and its title, one line (label) or two (true and predicted label)
    row_height = 1.4 if pred is None else 1.7
    fig, axes = plt.subplots(rows, cols, figsize=(1.2 * cols, row_height * rows + 0.4), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        ax.imshow(x[i].reshape(28, 28), cmap="gray_r", vmin=0, vmax=1)
        name = (lambda k: class_names[k]) if class_names is not None else str
        text = f"{name(int(y[i]))}" if pred is None else f"true {name(int(y[i]))}\npred {name(int(pred[i]))}"
        ax.set_title(text, fontsize=8, color="black" if pred is None or pred[i] == y[i] else "crimson")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


KERAS_HINT = ("this looks like Keras's History.history; convert it (notebook 02's as_history) or pass a "
              "utils.history.History")


def _looks_like_keras(value) -> bool:
    """Keras's History object, or its ``.history`` dict ({'loss': [...], 'accuracy': [...], ...})."""
    if isinstance(getattr(value, "history", None), dict):
        return True
    return isinstance(value, dict) and "loss" in value and all(isinstance(v, list) for v in value.values())


def _check_history(name, h: History, x: str) -> None:
    """Lists of equal length, as History.record keeps them (a History filled by hand may not be)."""
    run = f"run {name!r}" if name else "the History"
    n = len(h.epoch)
    fields = ["seconds", "train_loss", "train_acc", "test_loss", "test_acc"] + (
        ["val_loss", "val_acc"] if h.val_loss or h.val_acc else [])
    for field in fields:
        if len(getattr(h, field)) != n:
            raise ValueError(f"{run} has {n} epoch(s) but {len(getattr(h, field))} value(s) in {field}: its "
                             "lists must have equal lengths (History.record keeps them so).")
    if x == "seconds" and n and np.isnan(np.asarray(h.seconds, dtype=float)).all():
        raise ValueError(f"{run} has no training time (its seconds are NaN, as Keras records none): plot it "
                         "with x='epoch'.")


def plot_history(histories: dict, x: str = "epoch", title: str = "Learning curves", log_x: bool = False):
    """Loss and accuracy, train (solid), validation (dotted) and test (dashed), for one or several runs.

    Each run has its colour; one legend, to the right of the two panels (the figure
    is widened for it), names the runs and the line styles, and covers no curve.

    ``histories`` is one History, or a dict mapping a run's name to its History;
    ``x`` is ``"epoch"`` or ``"seconds"`` (wall time, to compare methods at equal cost);
    ``log_x=True`` draws it on a log scale, so that a short run next to a long one is
    not squeezed into the left edge.
    ``ValueError`` when there is nothing to plot (no run, or no run with an epoch);
    in a dict, a run without an epoch (it diverged in its first epoch) is only
    named in the legend.
    """
    if _looks_like_keras(histories):
        raise TypeError(f"histories: {KERAS_HINT}.")
    if isinstance(histories, History):
        histories = {"": histories}
    if not isinstance(histories, dict):
        several = (" (for several runs, name them: {'a': h1, 'b': h2})"
                   if isinstance(histories, (list, tuple)) else "")
        raise TypeError(f"histories must be a utils.history.History or a dict {{name: History}}; got "
                        f"{type(histories).__name__}{several}.")
    if x not in ("epoch", "seconds"):
        raise ValueError(f"x must be 'epoch' or 'seconds'; got {x!r}.")
    if not isinstance(log_x, (bool, np.bool_)):
        raise TypeError(f"log_x must be True or False; got {log_x!r}.")
    for name, h in histories.items():
        if _looks_like_keras(h):
            raise TypeError(f"run {name!r}: {KERAS_HINT}.")
        if not isinstance(h, History):
            raise TypeError(f"run {name!r}: expected a utils.history.History, got {type(h).__name__}.")
        _check_history(name, h, x)
    if not histories:
        raise ValueError("nothing to plot: histories is an empty dict (no run).")
    if not any(len(h) for h in histories.values()):
        raise ValueError("nothing to plot: the run has no epoch (did it diverge in its first epoch?)."
                         if len(histories) == 1 else
                         "nothing to plot: no run has an epoch (did they diverge in their first epoch?).")
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    styles = {"train": ("-", "solid"), "val": (":", "dotted"), "test": ("--", "dashed")}
    drawn = set()
    runs = []  # legend entries: one per run (its colour), then one per split (its line style)
    for i, (name, h) in enumerate(histories.items()):
        color = f"C{i}"
        xs = getattr(h, x)
        if not len(h):
            for ax in (ax_loss, ax_acc):  # an empty line: the run is named, not silently left out
                ax.plot([], [], color=color)
            label = f"{name} (no epoch: diverged in its first?)".strip()
            runs.append(Line2D([], [], color=color, lw=4, label=label))
            continue
        for split, (style, _) in styles.items():
            if getattr(h, f"{split}_loss"):
                # markers on short runs: a run of one point (one epoch, or stopped by a time budget)
                # is otherwise invisible
                mark = {"marker": "o", "ms": 4} if len(xs) <= 20 else {}
                ax_loss.plot(xs, getattr(h, f"{split}_loss"), style, color=color, **mark)
                ax_acc.plot(xs, getattr(h, f"{split}_acc"), style, color=color, **mark)
                drawn.add(split)
        if len(histories) > 1 or name:
            runs.append(Line2D([], [], color=color, lw=4, label=name))
    # one run: its splits in its colour; several: the line styles in grey, the colours name the runs
    splits = [Line2D([], [], ls=style, color="0.3" if runs else "C0",
                     label={"val": "validation"}.get(split, split) + (f" ({word})" if runs else ""))
              for split, (style, word) in styles.items() if split in drawn]
    xlabel = {"epoch": "epoch", "seconds": "training time (s)"}.get(x, x) + (" (log scale)" if log_x else "")
    ax_loss.set(title="Loss (cross-entropy)", xlabel=xlabel, ylabel="mean loss (nats)")
    ax_acc.set(title="Accuracy", xlabel=xlabel, ylabel="accuracy (fraction correct)")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        if x == "epoch" and not log_x:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))  # never epoch 2.5
        if log_x:
            ax.set_xscale("log")
            ax.xaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))  # 1, 2, 5, 10, 20, 50...
            ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))  # 10, not 10^1
    fig.suptitle(title)
    _legend_on_the_right(fig, ax_loss, runs + splits)
    return fig


def _legend_on_the_right(fig, ax, handles) -> None:
    """One legend for the whole figure, attached to ``ax``, to the right of the panels: it covers no
    curve. The figure is widened by the legend's width (the legend's text keeps its size)."""
    legend = ax.legend(handles=handles, fontsize=8, loc="center left", bbox_transform=fig.transFigure,
                       bbox_to_anchor=(1.0, 0.5), frameon=False)
    legend.set_in_layout(False)  # tight_layout arranges the panels; the legend gets its own strip
    width, height = fig.get_size_inches()
    extra = legend.get_window_extent().width / fig.dpi + 0.15  # inches, with a small gap
    fig.set_size_inches(width + extra, height)
    fig.tight_layout(rect=(0, 0, width / (width + extra), 1))
    legend.set_bbox_to_anchor((width / (width + extra), 0.5), transform=fig.transFigure)
    legend.set_in_layout(True)  # so that savefig(bbox_inches="tight"), as Jupyter does, keeps it


def min_max(mid, low, high) -> np.ndarray:
    """The ``yerr`` of ``ax.errorbar`` (or ``ax.bar``) for a min-max range around ``mid`` (a mean or a
    median): the distances down to ``low`` and up to ``high``, shape (2, n), never below 0 (a mean
    of equal values can exceed their max by 1e-17)."""
    mid, low, high = (np.asarray(v, dtype=np.float64) for v in (mid, low, high))
    if not mid.shape == low.shape == high.shape:
        raise ValueError(f"mid, low and high must have the same shape; got {mid.shape}, {low.shape} and "
                         f"{high.shape}.")
    return np.clip(np.stack([mid - low, high - mid]), 0, None)


def log_ticks(axis) -> None:
    """Ticks at 1, 2, 3, 5 and 7 of each decade of a log-scale ``axis`` (``ax.yaxis``), labelled
    0.5, 1, 2 rather than 5x10^-1: a range of less than a decade still gets several labels."""
    axis.set_major_locator(LogLocator(subs=(1, 2, 3, 5, 7)))
    axis.set_major_formatter(ScalarFormatter())
    axis.set_minor_formatter(NullFormatter())


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
    """The confusion matrix of 10 classes as an image; ``class_names``, if given, has one name per class."""
    cm = confusion_matrix(y_true, y_pred)
    _check_class_names(class_names, len(cm))
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
    """Columns of a (784, N) weight matrix as 28x28 images (red > 0, blue < 0).

    ``W`` is the lecture's W0, inputs x hidden neurons; a PyTorch ``nn.Linear``
    stores the transpose (N, 784): pass ``W.T`` (the error says so)."""
    W = _numpy(W)
    if W.ndim != 2 or W.shape[0] != N_PIXELS:
        transposed = W.ndim == 2 and W.shape[1] == N_PIXELS
        raise ValueError(f"W must be a weight matrix of shape (784, N), one column of 784 pixel weights per "
                         f"hidden neuron; got shape {W.shape}"
                         + (": it looks transposed, pass W.T." if transposed else "."))
    _check_count(n, "n (the number of neurons shown)")
    _check_count(cols, "cols (images per row)")
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

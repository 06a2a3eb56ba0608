"""Your NumPy network of notebook 01, for the notebooks that compare the frameworks with it.

Notebooks 02 and 03 check Keras's and PyTorch's gradients against the NumPy network, and 07
times the three tools: that NumPy network is **yours**. This module holds no network of its
own. The first time a notebook asks for ``reference.forward`` (or ``relu``, ``softmax``, ...),
it reads your notebook 01, runs the functions you wrote there (their ``def`` lines and the
imports, nothing else of the notebook), and hands them over::

    from utils import reference as ref
    params = ref.init_params(784, 256, 10, seed=0)   # your init_params
    outputs = ref.forward(X, params)                 # your forward

Where it looks for notebook 01 (a file whose name holds ``01_numpy_one_hidden_layer``), in order:

1. the file named by the environment variable ``TP_NOTEBOOK_01``;
2. on Google Colab, your copies in Drive (``MyDrive/Colab Notebooks/``) once Drive is mounted;
3. the folder the notebook runs in, then the course's ``notebooks/`` folder.

It takes each function from the first of those notebooks where it is written (saved, no longer
raising ``NotImplementedError``, and with the functions of 01 it calls written too), the one
saved last first within a folder, and reads the file again when it changes. If none has
it, the error says which function is missing and where it looked. Your network has one hidden
layer, as notebook 01 writes it: ``train`` and ``layer_sizes`` work on ``[W0, b0, W1, b1]``.

(In the instructor's copy of the course this file is replaced by the model answers, for any
depth. The student edition ships this one: ``tools/student.py`` writes it as
``utils/reference.py``.)
"""

from __future__ import annotations

import ast
import json
import os
import time
from pathlib import Path

import numpy as np

from utils.data import check_labels, iterate_minibatches
from utils.history import History, check_seed, check_training_args
from utils.history import layer_sizes as _any_depth

#: The functions of notebook 01 this module hands over.
FROM_NOTEBOOK_01 = ("one_hot", "relu", "relu_prime", "softmax", "cross_entropy", "accuracy", "init_params",
                    "forward", "backward", "evaluate")
PATTERN = "*01_numpy_one_hidden_layer*.ipynb"
DRIVE = Path("/content/drive/MyDrive")
COURSE_NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"

_loaded: dict = {}  # path -> (modification time, {name: function}, {name: why it is not usable})
_announced: set = set()


class NotWrittenYet(RuntimeError):
    """The function of notebook 01 a notebook needs is not written (or not found) yet."""

    def _render_traceback_(self):  # IPython shows the message, not a traceback into this module
        return [f"{type(self).__name__}: {self}"]


def _candidates() -> list[Path]:
    found = []
    if os.environ.get("TP_NOTEBOOK_01"):
        found.append(Path(os.environ["TP_NOTEBOOK_01"]).expanduser())
    if DRIVE.is_dir():
        for folder in (DRIVE / "Colab Notebooks", DRIVE):
            found += sorted(folder.glob(PATTERN), key=lambda p: -p.stat().st_mtime)
    here = [p for folder in (Path.cwd(), COURSE_NOTEBOOKS) for p in folder.glob(PATTERN)]
    found += sorted(here, key=lambda p: -p.stat().st_mtime)  # the one saved last first
    unique = []
    for path in found:
        if path.resolve() not in [p.resolve() for p in unique]:
            unique.append(path)
    return unique


def _not_written(node: ast.FunctionDef) -> bool:
    """Whether the function still raises NotImplementedError as a statement of its body (the
    edition's blank; a raise inside an ``if``, for a case the function refuses, is the student's)."""
    for statement in node.body:
        if isinstance(statement, ast.Raise) and statement.exc is not None:
            exc = statement.exc.func if isinstance(statement.exc, ast.Call) else statement.exc
            if isinstance(exc, ast.Name) and exc.id == "NotImplementedError":
                return True
    return False


def _python(source: str) -> str:
    """A cell's source as Python: the body of a cell magic (``%%time``), line magics and shell
    lines (``%matplotlib``, ``!ls``) turned into calls, which are not run here."""
    if source.lstrip().startswith("%%"):
        source = source.lstrip().partition("\n")[2]
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:
        return source
    try:
        return TransformerManager().transform_cell(source)
    except Exception:  # left to ast.parse, which says what is wrong
        return source


def _missing_calls(fn, usable: dict) -> list:
    """The functions of notebook 01 that ``fn`` calls and that are not usable in its notebook."""
    names = set(fn.__code__.co_names)
    for const in fn.__code__.co_consts:  # inner functions and comprehensions
        if hasattr(const, "co_names"):
            names |= set(const.co_names)
    return sorted(n for n in names & set(FROM_NOTEBOOK_01) if n not in usable)


def _read(path: Path) -> tuple[dict, dict]:
    """``({name: function}, {name: why not})`` for the functions written in the notebook ``path``:
    its code cells' imports, constants and ``def`` statements, run in a namespace of their own."""
    try:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, RecursionError) as error:
        return {}, {name: f"the file cannot be read as a notebook ({type(error).__name__})"
                    for name in FROM_NOTEBOOK_01}
    namespace = {"np": np, "__name__": "notebook_01"}
    functions, why = {}, {}
    for cell in cells if isinstance(cells, list) else []:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = _python("".join(source) if isinstance(source, list) else str(source))
        try:
            tree = ast.parse(source)
        except SyntaxError as error:
            for name in FROM_NOTEBOOK_01:
                if f"def {name}(" in source:
                    why[name] = f"its cell has a syntax error (line {error.lineno}: {error.msg})"
            continue
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and _not_written(node):
                why[node.name] = "it still raises NotImplementedError (write it, then delete that line)"
                namespace.pop(node.name, None)
                continue
            keep = isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef))
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Lambda):  # relu = lambda z: ...
                keep = True
            elif isinstance(node, ast.Assign):  # a constant such as N_CLASSES = 10
                try:
                    ast.literal_eval(node.value)
                    keep = True
                except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                    keep = False
            if not keep:
                continue
            try:
                exec(compile(ast.Module([node], []), str(path), "exec"), namespace)  # noqa: S102
            except Exception as error:  # a failing import or default value: that statement only
                if isinstance(node, ast.FunctionDef):
                    why[node.name] = f"its def fails: {type(error).__name__}: {error}"
                continue
            defined = [node.name] if isinstance(node, ast.FunctionDef) else [
                t.id for t in getattr(node, "targets", []) if isinstance(t, ast.Name)]
            for name in defined:
                if callable(namespace.get(name)):
                    functions[name] = namespace[name]
                    why.pop(name, None)
    usable = {name: functions[name] for name in FROM_NOTEBOOK_01 if name in functions}
    changed = True
    while changed:  # forward calls relu: not usable while relu is not (nor what calls forward)
        changed = False
        for name, fn in list(usable.items()):
            missing = _missing_calls(fn, usable) if hasattr(fn, "__code__") else []
            if missing:
                why[name] = f"it calls {', '.join(missing)}, which is not written there yet"
                del usable[name]
                changed = True
    for name in FROM_NOTEBOOK_01:
        if name not in usable:
            why.setdefault(name, "it is not defined there")
    return usable, why


def _function(name: str):
    places = _candidates()
    reasons = []
    for path in places:
        try:
            mtime = path.stat().st_mtime
        except OSError:
            reasons.append(f"- {path}: no such file")
            continue
        if _loaded.get(path, (None,))[0] != mtime:
            _loaded[path] = (mtime, *_read(path))
        _, functions, why = _loaded[path]
        if name in functions:
            if path not in _announced:
                _announced.add(path)
                print(f"utils.reference: your functions of notebook 01, from {path}")
            return functions[name]
        reasons.append(f"- {path}: {why[name]}")
    where = "\n".join(reasons) or f"- no file named {PATTERN} in {Path.cwd()} or {COURSE_NOTEBOOKS}"
    raise NotWrittenYet(
        f"This notebook uses your NumPy network of notebook 01, and `{name}` cannot run yet:\n"
        f"{where}\nWrite it in notebook 01 until its self-check passes, save the notebook, then run this "
        "cell again. On Colab, mount your Drive first (from google.colab import drive; "
        "drive.mount('/content/drive')) so that your saved copy of 01 is found, or set "
        "os.environ['TP_NOTEBOOK_01'] to the path of your notebook 01.")


def __getattr__(name: str):
    if name in FROM_NOTEBOOK_01:
        return _function(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *FROM_NOTEBOOK_01])


# --- what the notebooks need around your functions (none of them an exercise) -------------------


def layer_sizes(params) -> list:
    """``[784, 256, 10]`` for ``[W0, b0, W1, b1]``, the one-hidden-layer network of notebook 01."""
    sizes = _any_depth(params)
    if len(sizes) != 3:
        raise ValueError(f"your NumPy network of notebook 01 has one hidden layer, so params must be "
                         f"[W0, b0, W1, b1]; these are the weights of {len(sizes) - 2} hidden layers, "
                         f"sizes {sizes}.")
    return sizes


def sgd_step(params, grads, lr: float) -> None:
    """``theta <- theta - lr * gradient`` for every parameter, in place."""
    for p, g in zip(params, grads):
        p -= lr * g


def train(params, ds, epochs: int, lr: float, batch_size: int | None = 128, seed: int = 0,
          progress: bool = True) -> History:
    """Mini-batch SGD with your ``forward`` and ``backward`` on ``ds``, over the batches of
    ``utils.data.iterate_minibatches`` (seed ``seed + epoch``, the order the frameworks use);
    updates ``params`` in place and returns the History, measured by your ``evaluate`` after each
    epoch. A run whose loss becomes NaN/inf or explodes is stopped and marked diverged."""
    from tqdm.auto import trange

    check_training_args(epochs, lr, batch_size)
    check_seed(seed)
    n_out = layer_sizes(params)[-1]
    missing = [name for name in ("x_train", "y_train", "x_test", "y_test") if not hasattr(ds, name)]
    if missing:
        raise TypeError(f"ds must be a utils.data.Dataset; got a {type(ds).__name__}, which has no "
                        f"{', '.join(missing)}.")
    y_train = check_labels(ds.y_train, n_out, "ds.y_train")
    forward, backward = _function("forward"), _function("backward")
    one_hot, evaluate = _function("one_hot"), _function("evaluate")
    history, elapsed = History(), 0.0
    bar = trange(1, epochs + 1, desc="epochs", disable=not progress, leave=False)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # divergence is reported, not warned
        for epoch in bar:
            start = time.perf_counter()
            for xb, yb in iterate_minibatches(ds.x_train, y_train, batch_size or len(ds.x_train),
                                              seed=seed + epoch):
                sgd_step(params, backward(xb, one_hot(yb, n_out), params, forward(xb, params)), lr)
            elapsed += time.perf_counter() - start
            history.record(epoch, elapsed, train=evaluate(ds.x_train, y_train, params),
                           test=evaluate(ds.x_test, ds.y_test, params))
            if history.diverged:
                break
    return history

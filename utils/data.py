"""MNIST (and Fashion-MNIST) for the course, plus the small data utilities the
notebooks share: label checks, a stratified split, a seeded mini-batch iterator, and the
accuracy a trained network must reach on each data set (``accuracy_floor``). Downloading and
checksums live in :mod:`utils.download`.

``load_mnist()`` tries, in order:

1. a local cache (``cache_dir``, default ``$TP_CACHE_DIR`` or ``~/.cache/tp-deep-learning``);
2. a download of the canonical file, checked against its sha256 (see :mod:`utils.download`);
3. the embedded 5,000-digit sample in ``data/`` (always there, no network).

It never fails because of the cache or the network: whatever is wrong (no
file, a corrupt, truncated or unreadable one, a read-only or impossible cache
folder, no network), it falls back to the sample and prints one line saying
why and what to do. A cached file with the wrong content is moved aside to
``mnist.npz.corrupt`` when the folder allows it.
"""

from __future__ import annotations

import gzip
import hashlib
import tempfile
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from utils import config
from utils.download import ChecksumError, download, file_in_the_way, folder_path, verify_sha256
from utils.history import check_seed

N_CLASSES = 10
N_PIXELS = 28 * 28
DIGIT_CLASSES = tuple(str(d) for d in range(N_CLASSES))
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
ARRAYS = ("x_train", "y_train", "x_test", "y_test")

MNIST_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
MNIST_FILE = "mnist.npz"
MNIST_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
SAMPLE_FILE = "mnist_sample.npz"
SAMPLE_SHA256 = "1d467bfcbe5afc677c3e5810b29d709d86eb04335c37b5fd1f76bd0e001a3d5a"  # see data/README.md

FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")  # apt-get install dataset-fashion-mnist
#: our name -> (file, md5 of the canonical .gz, sha256 of the uncompressed idx bytes).
#: The md5s are those torchvision publishes; Debian recompresses the files, so a
#: file is accepted when either its .gz md5 or its uncompressed sha256 matches.
FASHION_FILES = {
    "x_train": ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
    "y_train": ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe",
                "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
    "x_test": ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79",
               "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
    "y_test": ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310",
               "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
}


# --- labels -------------------------------------------------------------------------


def _values(found) -> str:
    """[-1, 12] -> '-1 and 12'; at most five values are named, then 'and 3 more'."""
    shown = [str(int(v)) for v in found[:5]] + ([f"{len(found) - 5} more"] if len(found) > 5 else [])
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


def check_labels(y, n_classes: int = N_CLASSES, name: str = "labels") -> np.ndarray:
    """``y`` as a 1-D int64 array of class labels 0..n_classes-1, or ``ValueError``.

    Accepted: a non-empty 1-D sequence of integers, or of whole-valued floats
    (3.0 becomes 3). Rejected, with a message naming ``name``: another number
    of dimensions (one-hot rows included), an empty array (every caller,
    training loop or confusion matrix, needs at least one label), booleans,
    strings, fractional values, NaN or infinity, values outside 0..n_classes-1.
    """
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 1:
        raise ValueError(f"n_classes must be a positive integer; got {n_classes!r}.")
    expected = f"class labels must be integers 0..{n_classes - 1}"
    try:
        arr = np.asarray(y)
    except ValueError:  # ragged nested lists
        raise ValueError(f"{name} is not an array of labels (rows of different lengths); "
                         f"{expected}.") from None
    if arr.ndim != 1:
        hint = "; if these are one-hot rows, pass y.argmax(axis=1)" if arr.ndim == 2 else ""
        raise ValueError(f"{name} must be 1-D (one label per sample); got shape {arr.shape}{hint}.")
    if arr.size == 0:
        raise ValueError(f"{name} is empty; expected at least one label ({expected}).")
    if arr.dtype == bool:
        raise ValueError(f"{name} holds booleans (True/False); {expected}.")
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            where = np.flatnonzero(~np.isfinite(arr))
            raise ValueError(f"{name} holds NaN or infinity at {len(where)} position(s), the first at "
                             f"index {where[0]}; {expected}.")
        fractional = arr[arr != np.floor(arr)]
        if fractional.size:
            raise ValueError(f"{name} holds non-integer values such as {float(fractional[0])}; {expected}.")
    elif not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} has dtype {arr.dtype} (first value {arr[:1].tolist()[0]!r}); {expected}.")
    outside = (arr < 0) | (arr >= n_classes)
    if outside.any():
        raise ValueError(f"{name} holds {_values(np.unique(arr[outside]))}; {expected}.")
    return arr.astype(np.int64, copy=False)


# --- the data set ------------------------------------------------------------------


def _pixels(x, name: str) -> np.ndarray:
    """``x`` as a 2-D float32 array of pixels, or an error naming ``name``.

    Float pixels of another precision (float64, float16) are converted to float32,
    the precision of the loaders and of every training loop (PyTorch refuses to
    multiply float64 inputs by float32 weights). Integer pixels are refused: 0..255
    bytes are not the [0, 1] floats the course trains on."""
    try:
        x = np.asarray(x)
    except ValueError:  # ragged nested lists
        raise ValueError(f"Dataset: {name} is not an array (rows of different lengths); expected a 2-D "
                         "array (n_samples, n_features).") from None
    if x.ndim != 2:
        raise ValueError(f"Dataset: {name} must be 2-D (n_samples, n_features); got shape {x.shape}.")
    if np.issubdtype(x.dtype, np.integer):
        raise TypeError(f"Dataset: {name} has integer dtype {x.dtype}; pixels must be floats in [0, 1], "
                        f"for 0..255 bytes pass {name}.astype(np.float32) / 255.")
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"Dataset: {name} has dtype {x.dtype}; pixels must be numbers (float32 in [0, 1], "
                        "as the loaders give).")
    return x.astype(np.float32, copy=False)


@dataclass
class Dataset:
    """Images as rows of pixels (float32 in [0, 1] from the loaders); labels as int64 0-9.

    Checked when built: ``x_train`` and ``x_test`` 2-D arrays of floats with the
    same number of columns, each ``y`` valid for :func:`check_labels` with one
    label per row, ``name`` "mnist" or "fashion". Raises ``ValueError`` saying
    which array is wrong and its shape (``TypeError`` for pixels that are not
    floats: strings, booleans, integers). The pixels are stored as float32 (a
    float64 array is converted), the labels as int64.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str  # "cache", "download", "sample" (or "debian" for Fashion-MNIST)
    name: str = "mnist"

    def __post_init__(self):
        if self.name not in config.DATASETS:
            raise ValueError(f"Dataset name {self.name!r}: expected one of {', '.join(config.DATASETS)}.")
        for part in ("train", "test"):
            x = _pixels(getattr(self, "x_" + part), "x_" + part)
            y = check_labels(getattr(self, "y_" + part), N_CLASSES, name="y_" + part)
            if len(x) != len(y):
                raise ValueError(f"Dataset: x_{part} has {len(x)} rows (shape {x.shape}) but y_{part} has "
                                 f"{len(y)} labels; they must match.")
            setattr(self, "x_" + part, x)
            setattr(self, "y_" + part, y)
        if self.x_train.shape[1] != self.x_test.shape[1]:
            raise ValueError(f"Dataset: x_train has shape {self.x_train.shape} but x_test has shape "
                             f"{self.x_test.shape}; both need the same number of columns.")

    @property
    def class_names(self) -> tuple[str, ...]:
        """Names of the classes 0..9, for plots: digits for MNIST, clothes for Fashion-MNIST."""
        return FASHION_CLASSES if self.name == "fashion" else DIGIT_CLASSES

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, source={self.source!r}, "
            f"train={self.x_train.shape}, test={self.x_test.shape})"
        )


def _to_dataset(arrays: dict, source: str, name: str, origin) -> Dataset:
    """uint8 images (n, 28, 28) or (n, 784) -> float32 rows in [0, 1]; int64 labels.

    Raises ``ValueError`` naming ``origin`` (the file) when an array has the wrong shape or type."""

    def images(key):
        a = np.asarray(arrays[key])
        if a.dtype != np.uint8 or not (a.shape[1:] == (28, 28) or a.shape[1:] == (N_PIXELS,)):
            raise ValueError(f"{key} has shape {a.shape} and dtype {a.dtype}; expected uint8 "
                             "images of shape (n, 28, 28) or (n, 784).")
        return a.reshape(len(a), N_PIXELS).astype(np.float32) / np.float32(255.0)

    try:
        return Dataset(images("x_train"), arrays["y_train"], images("x_test"), arrays["y_test"], source, name)
    except ValueError as err:
        raise ValueError(f"{origin}: {err}") from None


def _read_npz(path: Path) -> dict:
    """The four arrays of an .npz file. ``OSError`` if unreadable, ``ValueError`` if not the right .npz."""
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, EOFError, zipfile.BadZipFile) as err:  # not an .npz (or .npy) file at all
        raise ValueError(f"{path} is not a readable .npz file ({_short(err)}).") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"{path} holds a single array, not an .npz archive of {', '.join(ARRAYS)}.")
    with archive:
        missing = [key for key in ARRAYS if key not in archive.files]
        if missing:
            raise ValueError(f"{path} lacks the array(s) {', '.join(missing)} "
                             f"(it holds: {', '.join(archive.files) or 'nothing'}).")
        try:
            return {key: archive[key] for key in ARRAYS}
        except Exception as err:  # a damaged member: BadZipFile, zlib.error, ValueError...
            raise ValueError(f"{path} is damaged ({type(err).__name__}: {_short(err)}).") from None


def _short(err: Exception) -> str:
    """The first line of an exception's message (its ``reason`` for URL errors), at most 300 characters."""
    text = str(getattr(err, "reason", None) or err) or "no details"
    return text.splitlines()[0][:300]


def _folder_problem(folder: Path) -> str | None:
    """Why ``folder`` cannot receive a download, or ``None`` once it exists and is writable.

    Creates the folder; writes nothing else (an unnamed temporary file, closed at once)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as err:
        blocker = file_in_the_way(folder)
        if blocker is not None:
            return (f"the cache folder {folder} cannot be created or written ({blocker} is a file, not a "
                    "folder): move that file or set TP_CACHE_DIR to a folder you can write")
        return (f"the cache folder {folder} cannot be created or written ({type(err).__name__}: "
                f"{_short(err)}): make it writable or set TP_CACHE_DIR to a folder you can write")
    return None


def _cache_dir(cache_dir) -> Path:
    """``cache_dir`` as a Path (``None``: ``TP_CACHE_DIR``); an error for "" or a non-path."""
    if cache_dir is None:
        return config.cache_dir()
    return folder_path(cache_dir, "cache_dir", Path("~/.cache/tp-deep-learning"),
                              "leave it out (None) to use TP_CACHE_DIR")


def _check_allow_download(allow_download) -> None:
    if type(allow_download).__name__ not in ("bool", "bool_"):  # a string such as "no" would count as True
        raise TypeError(f"allow_download must be True or False; got {allow_download!r}.")


# --- MNIST ---------------------------------------------------------------------------


def load_sample() -> Dataset:
    """The embedded sample: 4,000 training and 1,000 test digits (stratified).

    Raises ``FileNotFoundError`` or ``ChecksumError`` saying how to restore it
    when the file is missing or damaged."""
    path = config.DATA_DIR / SAMPLE_FILE
    restore = "Restore it with `git checkout -- data/` or rebuild it with `python data/build_sample.py`."
    try:
        verify_sha256(path, SAMPLE_SHA256)
    except FileNotFoundError:
        raise FileNotFoundError(f"The embedded sample {path} is missing; it ships with the course. "
                                + restore) from None
    except ChecksumError as err:
        raise ChecksumError(f"The embedded sample is corrupt ({err}). {restore}") from None
    return _to_dataset(_read_npz(path), "sample", "mnist", path)


def _move_aside(path: Path) -> str:
    """Rename a bad cached file to ``<name>.corrupt``; say what happened, for the message."""
    aside = path.with_name(path.name + ".corrupt")
    try:
        path.replace(aside)
    except OSError as err:
        return (f"; it could not be moved aside ({type(err).__name__}: {_short(err)}), "
                f"so delete {path} yourself")
    return f" (moved to {aside.name})"


def load_mnist(cache_dir: str | Path | None = None, allow_download: bool = True) -> Dataset:
    """MNIST from the cache, else a verified download, else the embedded sample.

    ``cache_dir`` defaults to :func:`utils.config.cache_dir` (``TP_CACHE_DIR``),
    read at each call. Never raises because of the cache or the network: it
    falls back to the sample with one printed line that says why and how to
    get the full data set. (It raises only if the embedded sample itself is
    damaged, see :func:`load_sample`.) A bad *argument* is an error: ``cache_dir``
    that is not a folder path or is "" (``ValueError``/``TypeError``), an
    ``allow_download`` that is not True or False (``TypeError``).
    """
    cache_dir = _cache_dir(cache_dir)
    _check_allow_download(allow_download)
    cached = cache_dir / MNIST_FILE
    try:
        verify_sha256(cached, MNIST_SHA256)
        return _to_dataset(_read_npz(cached), "cache", "mnist", cached)
    except (FileNotFoundError, NotADirectoryError):
        blocker = file_in_the_way(cache_dir)
        why = (f"no {MNIST_FILE} in {cache_dir} ({blocker} is a file, not a folder)" if blocker
               else f"no {MNIST_FILE} in {cache_dir}")
    except IsADirectoryError:
        why = f"{cached} is a folder, not a file: remove or rename it"
        allow_download = False  # a download could not take its place
    except OSError as err:  # PermissionError, I/O error
        why = (f"{cached} cannot be read ({type(err).__name__}: {_short(err)}): "
               "fix its permissions or delete it")
    except ValueError as err:  # ChecksumError, not an npz, wrong arrays
        why = (f"the cached {MNIST_FILE} is corrupt, truncated or not the MNIST file ({_short(err)})"
               + _move_aside(cached))
    if allow_download:
        problem = _folder_problem(cache_dir)
        if problem:
            why += "; " + problem
        else:
            try:
                download(MNIST_URL, cached, MNIST_SHA256)
                return _to_dataset(_read_npz(cached), "download", "mnist", cached)
            except Exception as err:  # no network, timeout, HTTP error, bad checksum, full disk...
                why += f" and the download failed ({type(err).__name__}: {_short(err)})"
    print(
        f"MNIST: {why}; using the embedded 5,000-digit sample. For the full data set, "
        f"place mnist.npz ({MNIST_URL}) in {cache_dir} or set TP_CACHE_DIR."
    )
    return load_sample()


def load_dataset(name: str | None = None, quick_mode: bool | None = None,
                 cache_dir: str | Path | None = None) -> Dataset:
    """The data set ``name`` ("mnist" or "fashion"; default ``TP_DATASET``), cut to
    sample size (4,000 + 1,000) in quick mode (default ``TP_QUICK``) so that CI's
    figures do not depend on what is cached. Defaults are read at each call.

    Raises ``ValueError`` for another ``name`` or a non-boolean ``quick_mode``,
    and what :func:`load_fashion_mnist` raises when Fashion-MNIST is missing."""
    name = config.check_dataset_name(name)
    quick_mode = config.check_quick_mode(quick_mode)
    ds = (load_fashion_mnist if name == "fashion" else load_mnist)(cache_dir=cache_dir)
    if quick_mode and len(ds.x_train) > 4000:
        ds = Dataset(ds.x_train[:4000], ds.y_train[:4000], ds.x_test[:1000], ds.y_test[:1000],
                     ds.source, ds.name)
    return ds


# --- Fashion-MNIST -------------------------------------------------------------------


def _read_idx_gz(path: Path, md5: str, raw_sha256: str) -> np.ndarray:
    """Read one gzipped idx file, after checking it is the published one.

    Raises ``OSError`` if it cannot be read, ``ChecksumError`` if it is not the published file."""
    packed = path.read_bytes()
    if hashlib.md5(packed, usedforsecurity=False).hexdigest() != md5:
        try:
            raw = gzip.decompress(packed)
        except (OSError, EOFError, zlib.error) as err:
            raise ChecksumError(f"{path} is not a readable .gz file ({_short(err)}).") from None
        if hashlib.sha256(raw).hexdigest() != raw_sha256:
            raise ChecksumError(f"{path} does not hold the published Fashion-MNIST bytes.")
    else:
        raw = gzip.decompress(packed)
    ndim = raw[3] if len(raw) > 3 else 0
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    if raw[:3] != b"\0\0\x08" or ndim == 0 or len(raw) != 4 + 4 * ndim + int(np.prod(shape)):
        raise ChecksumError(f"{path} is not an idx file of unsigned bytes.")
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _read_fashion_dir(folder: Path) -> dict:
    return {key: _read_idx_gz(folder / name, md5, sha) for key, (name, md5, sha) in FASHION_FILES.items()}


def _fetch_fashion_file(path: Path, md5: str, raw_sha256: str) -> None:
    """Download one file unless a good copy is there; a bad copy is replaced."""
    try:
        _read_idx_gz(path, md5, raw_sha256)
        return
    except (OSError, ValueError):
        pass  # missing or bad: download it (os.replace puts the good copy over a bad one)
    download(FASHION_URL + path.name, path, sha256=None,
             check=lambda tmp: _read_idx_gz(tmp, md5, raw_sha256))


def load_fashion_mnist(cache_dir: str | Path | None = None, allow_download: bool = True) -> Dataset:
    """Fashion-MNIST (60,000 + 10,000 clothing images, same format as MNIST).

    Sources, in order: the cache (``<cache_dir>/fashion-mnist``, ``cache_dir``
    defaulting to ``TP_CACHE_DIR``), Debian's ``dataset-fashion-mnist`` package,
    a checksum-verified download of the missing or bad files. There is no
    embedded sample: when none works it raises ``FileNotFoundError`` listing
    the problems found and saying how to get the files (never a raw ``OSError``).
    Bad arguments are errors as in :func:`load_mnist`.
    """
    cache = _cache_dir(cache_dir) / "fashion-mnist"
    _check_allow_download(allow_download)
    problems = []
    for source, folder in (("cache", cache), ("debian", DEBIAN_FASHION_DIR)):
        try:
            return _to_dataset(_read_fashion_dir(folder), source, "fashion", folder)
        except (FileNotFoundError, NotADirectoryError):
            pass  # not there: nothing to report
        except (OSError, ValueError) as err:  # unreadable, a folder in the way, not the published bytes
            problems.append(f"{source}: {type(err).__name__}: {_short(err)}")
    if allow_download:
        problem = _folder_problem(cache)
        if problem:
            problems.append(problem)
        else:
            try:
                for name, md5, sha in FASHION_FILES.values():
                    _fetch_fashion_file(cache / name, md5, sha)
                return _to_dataset(_read_fashion_dir(cache), "download", "fashion", cache)
            except Exception as err:  # no network, timeout, bad checksum, a folder in the way...
                problems.append(f"download failed ({type(err).__name__}: {_short(err)})")
    raise FileNotFoundError(
        "Fashion-MNIST is not available here"
        + (f" ({'; '.join(problems)})" if problems else "")
        + ". Install it with `sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu), "
        f"or place the four .gz files from {FASHION_URL} in {cache}."
    )


# --- utilities shared by the notebooks -----------------------------------------------


def train_val_split(x, y, val_fraction: float = 0.1, seed: int | None = 0):
    """Stratified split: each class keeps the same share in both parts.

    Returns ``x_train, y_train, x_val, y_val``, each part shuffled, ``y`` keeping
    its dtype. Every class with at least two samples is in both parts. A class
    with a single sample cannot be: it stays in the training part, with a
    ``UserWarning`` naming it. Raises ``ValueError`` when ``x`` is not 2-D, the
    labels are not valid (:func:`check_labels`), the lengths differ,
    ``val_fraction`` is not a number strictly between 0 and 1, ``seed`` is not an
    integer >= 0 (or None: a fresh random split), or the validation part would be empty.
    """
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim != 2:
        raise ValueError(f"x must be 2-D (n_samples, n_features); got shape {x.shape}.")
    labels = check_labels(y, N_CLASSES, name="y")
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} rows but y has {len(y)} labels; they must match.")
    if (isinstance(val_fraction, bool) or not isinstance(val_fraction, (int, float, np.number))
            or not 0.0 < val_fraction < 1.0):
        raise ValueError(f"val_fraction must be a number between 0 and 1 (exclusive); got {val_fraction!r}.")
    check_seed(seed, allow_none=True)
    rng = np.random.default_rng(seed)
    val_idx, train_idx, alone = [], [], []
    for label in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == label))
        if len(idx) == 1:
            alone.append(int(label))
            n_val = 0
        else:
            n_val = min(max(int(round(val_fraction * len(idx))), 1), len(idx) - 1)  # both parts see it
        val_idx.append(idx[:n_val])
        train_idx.append(idx[n_val:])
    if alone:
        warnings.warn(f"train_val_split: class(es) {_values(alone)} have a single sample, kept in the "
                      "training part; the validation part has none of them.", UserWarning, stacklevel=2)
    train_idx = rng.permutation(np.concatenate(train_idx))
    val_idx = rng.permutation(np.concatenate(val_idx))
    if len(val_idx) == 0:
        raise ValueError(f"train_val_split: no class has two samples among the {len(y)} given, so the "
                         "validation part would be empty; give more data.")
    return x[train_idx], y[train_idx], x[val_idx], y[val_idx]


def _is_int(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, np.integer))


#: Test accuracy a trained network must reach, by data set and situation. The
#: sample (4,000 training digits) and quick mode cannot reach full-MNIST figures.
#: Fashion-MNIST is harder: one-hidden-layer networks reach 0.87-0.89 there, and
#: the last epoch of SGD at lambda = 0.1 moves by half a point from one run to the
#: next (Keras 0.877, NumPy 0.887 for the same network in notebooks 02 and 01).
ACCURACY_FLOORS = {
    ("mnist", "small"): 0.88,  # embedded sample, or quick mode
    ("mnist", "full"): 0.975,  # 60,000 training digits
    ("fashion", "small"): 0.70,
    ("fashion", "full"): 0.86,
}


def accuracy_floor(ds, undertrained: bool = False, quick_mode: bool | None = None) -> float:
    """The test accuracy a trained network must reach on data set ``ds`` (a :class:`Dataset`) in
    the current mode.

    ``undertrained=True`` is for runs whose hyper-parameters are deliberately too
    short to converge (the PSL lecture's 12 epochs at lambda = 0.01): they must
    have learned, so they get the small-data floor whatever the data size.
    ``TypeError`` when ``ds`` is not a Dataset (a data set's name, for instance)."""
    if not isinstance(ds, Dataset):
        raise TypeError(f"ds must be a utils.data.Dataset (the one load_dataset returns); got {ds!r:.60} "
                        f"({type(ds).__name__}).")
    small = (undertrained or config.mode(quick_mode) == "quick" or ds.source == "sample"
             or len(ds.x_train) < 60000)
    return ACCURACY_FLOORS[(ds.name, "small" if small else "full")]


def batch_indices(n: int, batch_size: int, seed: int | None = 0, shuffle: bool = True):
    """Index arrays of the batches of one epoch over ``n`` samples (none when ``n`` is 0).

    With ``shuffle`` the order is a permutation drawn from ``seed``: the same
    seed gives the same batches, whichever framework consumes them. Raises
    ``ValueError`` unless ``n`` is an integer >= 0, ``batch_size`` one >= 1 and
    ``seed`` one >= 0 (or None: a fresh random order).
    """
    if not _is_int(n) or n < 0:
        raise ValueError(f"n (the number of samples) must be an integer >= 0; got {n!r}.")
    if not _is_int(batch_size) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer; got {batch_size!r}.")
    check_seed(seed, allow_none=True)
    order = np.random.default_rng(seed).permutation(n) if shuffle else np.arange(n)
    return [order[start:start + batch_size] for start in range(0, n, batch_size)]


def _samples(values, name: str) -> np.ndarray:
    try:
        return np.asarray(values)
    except ValueError:  # ragged nested lists
        raise ValueError(f"{name} must be an array of samples; it has rows of different lengths.") from None


def iterate_minibatches(x, y, batch_size: int, seed: int | None = 0, shuffle: bool = True):
    """An iterator over ``(x_batch, y_batch)`` covering the data once (one epoch).

    The batches are those of :func:`batch_indices`; the last one may be smaller.
    Bad arguments raise ``ValueError`` at the call, not at the first batch.
    """
    x, y = _samples(x, "x"), _samples(y, "y")
    if x.ndim == 0 or y.ndim == 0:
        raise ValueError(f"x and y must be arrays of samples; got shapes {x.shape} and {y.shape}.")
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} rows but y has {len(y)}; they must match.")
    return ((x[idx], y[idx]) for idx in batch_indices(len(x), batch_size, seed, shuffle))

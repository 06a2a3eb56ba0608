"""MNIST (and Fashion-MNIST) for the course, plus the small data utilities the
notebooks share: one-hot labels, a stratified split and a seeded mini-batch
iterator.

``load_mnist()`` tries, in order:

1. a local cache (``$TP_CACHE_DIR``, default ``~/.cache/tp-deep-learning``);
2. a download of the canonical file, checked against its sha256 and written to
   a temporary file that is renamed only once verified;
3. the embedded 5,000-digit sample in ``data/`` (always there, no network).

When it falls back it prints one line saying why and what to do.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from utils import config

N_CLASSES = 10
N_PIXELS = 28 * 28

MNIST_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
MNIST_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
SAMPLE_FILE = "mnist_sample.npz"
SAMPLE_SHA256 = "1d467bfcbe5afc677c3e5810b29d709d86eb04335c37b5fd1f76bd0e001a3d5a"  # see data/README.md
DOWNLOAD_TIMEOUT_S = 10


@dataclass
class Dataset:
    """Images as rows of 784 float32 pixels in [0, 1]; labels as int64 0-9."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str  # "cache", "download", "sample" (or "debian" for Fashion-MNIST)
    name: str = "mnist"

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, source={self.source!r}, "
            f"train={self.x_train.shape}, test={self.x_test.shape})"
        )


class ChecksumError(ValueError):
    """A file's sha256 is not the one expected (corrupt or truncated)."""


# --- small file helpers -------------------------------------------------------


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verify(path: Path, sha256: str) -> None:
    got = sha256_of(path)
    if got != sha256:
        raise ChecksumError(f"{path} has sha256 {got[:12]}..., expected {sha256[:12]}...")


def download(url: str, dest: Path, sha256: str | None, timeout: float = DOWNLOAD_TIMEOUT_S) -> Path:
    """Download ``url`` to ``dest`` with a progress bar; verify, then rename.

    The bytes go to a temporary file next to ``dest``; it becomes ``dest`` only
    once its sha256 matches, so an interrupted or corrupt download never leaves
    a half-written file behind.
    """
    from tqdm.auto import tqdm

    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name) as bar:
                for block in iter(lambda: response.read(1 << 16), b""):
                    out.write(block)
                    bar.update(len(block))
        if sha256 is not None:
            _verify(tmp, sha256)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


# --- loaders -------------------------------------------------------------------


def _to_dataset(arrays, source: str, name: str) -> Dataset:
    """uint8 images of any 28x28 layout -> float32 rows in [0, 1]; int64 labels."""

    def images(a):
        a = np.asarray(a)
        return (a.reshape(len(a), N_PIXELS).astype(np.float32)) / np.float32(255.0)

    return Dataset(
        x_train=images(arrays["x_train"]),
        y_train=np.asarray(arrays["y_train"]).astype(np.int64),
        x_test=images(arrays["x_test"]),
        y_test=np.asarray(arrays["y_test"]).astype(np.int64),
        source=source,
        name=name,
    )


def _read_npz(path: Path) -> dict:
    with np.load(path) as f:
        return {k: f[k] for k in ("x_train", "y_train", "x_test", "y_test")}


def load_sample() -> Dataset:
    """The embedded sample: 4,000 training and 1,000 test digits (stratified)."""
    path = config.DATA_DIR / SAMPLE_FILE
    if not path.exists():
        raise FileNotFoundError(
            f"The embedded sample {path} is missing. It ships with the course: "
            "restore it with `git checkout -- data/` or rebuild it with "
            "`python data/build_sample.py`."
        )
    try:
        _verify(path, SAMPLE_SHA256)
    except ChecksumError as err:
        raise ChecksumError(
            f"The embedded sample is corrupt ({err}). Restore it with "
            "`git checkout -- data/` or rebuild it with `python data/build_sample.py`."
        ) from None
    return _to_dataset(_read_npz(path), "sample", "mnist")


def load_mnist(cache_dir: str | Path | None = None, allow_download: bool = True) -> Dataset:
    """MNIST from the cache, else a verified download, else the embedded sample.

    Never raises because of the network: a failed download falls back to the
    sample with one line that says why and how to get the full data set.
    """
    cache_dir = Path(cache_dir) if cache_dir is not None else config.cache_dir()
    cached = cache_dir / "mnist.npz"
    why = f"no {cached.name} in {cache_dir}"
    if cached.exists():
        try:
            _verify(cached, MNIST_SHA256)
            return _to_dataset(_read_npz(cached), "cache", "mnist")
        except ChecksumError:
            # Keep the bad file for inspection, out of the way of a fresh copy.
            aside = cached.with_name(cached.name + ".corrupt")
            os.replace(cached, aside)
            why = f"the cached {cached.name} was corrupt or truncated (moved to {aside.name})"
    if allow_download:
        try:
            download(MNIST_URL, cached, MNIST_SHA256)
            return _to_dataset(_read_npz(cached), "download", "mnist")
        except Exception as err:  # no network, timeout, HTTP error, bad checksum, full disk
            why += f" and the download failed ({type(err).__name__}: {_short(err)})"
    print(
        f"MNIST: {why}; using the embedded 5,000-digit sample. For the full data set, "
        f"place mnist.npz ({MNIST_URL}) in {cache_dir} or set TP_CACHE_DIR."
    )
    return load_sample()


def _short(err: Exception) -> str:
    text = str(getattr(err, "reason", None) or err) or "no details"
    return text.splitlines()[0][:120]


def load_dataset() -> Dataset:
    """The data set chosen by ``TP_DATASET`` (default MNIST), cut to sample size
    in quick mode so that CI's figures do not depend on what is cached."""
    ds = load_fashion_mnist() if config.dataset() == "fashion" else load_mnist()
    if config.is_quick() and len(ds.x_train) > 4000:
        ds = Dataset(ds.x_train[:4000], ds.y_train[:4000], ds.x_test[:1000], ds.y_test[:1000],
                     ds.source, ds.name)
    return ds


# --- Fashion-MNIST -------------------------------------------------------------

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
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


def _read_idx_gz(path: Path, md5: str, raw_sha256: str) -> np.ndarray:
    """Read one gzipped idx file, after checking it is the published one."""
    packed = path.read_bytes()
    if hashlib.md5(packed, usedforsecurity=False).hexdigest() != md5:
        try:
            raw = gzip.decompress(packed)
        except (OSError, EOFError) as err:
            raise ChecksumError(f"{path} is not a readable .gz file ({err}).") from None
        if hashlib.sha256(raw).hexdigest() != raw_sha256:
            raise ChecksumError(f"{path} does not hold the published Fashion-MNIST bytes.")
    else:
        raw = gzip.decompress(packed)
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _read_fashion_dir(folder: Path) -> dict:
    return {key: _read_idx_gz(folder / name, md5, sha) for key, (name, md5, sha) in FASHION_FILES.items()}


def load_fashion_mnist(cache_dir: str | Path | None = None, allow_download: bool = True) -> Dataset:
    """Fashion-MNIST (60,000 + 10,000 clothing images, same format as MNIST).

    Sources, in order: the cache (``$TP_CACHE_DIR/fashion-mnist``), Debian's
    ``dataset-fashion-mnist`` package, a checksum-verified download. There is no
    embedded sample: without any of the three it raises ``FileNotFoundError``
    saying how to get the files.
    """
    cache = (Path(cache_dir) if cache_dir is not None else config.cache_dir()) / "fashion-mnist"
    problems = []
    for source, folder in (("cache", cache), ("debian", DEBIAN_FASHION_DIR)):
        if all((folder / name).exists() for name, _, _ in FASHION_FILES.values()):
            try:
                return _to_dataset(_read_fashion_dir(folder), source, "fashion")
            except ChecksumError as err:
                problems.append(str(err))
    if allow_download:
        try:
            for name, md5, sha in FASHION_FILES.values():
                if not (cache / name).exists():
                    _download_fashion_file(name, cache, md5, sha)
            return _to_dataset(_read_fashion_dir(cache), "download", "fashion")
        except Exception as err:
            problems.append(f"download failed ({type(err).__name__}: {_short(err)})")
    raise FileNotFoundError(
        "Fashion-MNIST is not available here"
        + (f" ({'; '.join(problems)})" if problems else "")
        + ". Install it with `sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu), "
        f"or place the four .gz files from {FASHION_URL} in {cache}."
    )


def _download_fashion_file(name: str, folder: Path, md5: str, raw_sha256: str) -> None:
    """Download one file to a temporary name; keep it only if it checks out."""
    part = folder / (name + ".download")
    download(FASHION_URL + name, part, sha256=None)
    try:
        _read_idx_gz(part, md5, raw_sha256)
        os.replace(part, folder / name)
    finally:
        part.unlink(missing_ok=True)


# --- utilities shared by the notebooks ---------------------------------------------


def _check_xy(x: np.ndarray, y: np.ndarray) -> None:
    if x.ndim != 2:
        raise ValueError(f"x must be 2-D (n_samples, n_features); got shape {x.shape}.")
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D (n_samples,) of class labels; got shape {y.shape}.")
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} rows but y has {len(y)} labels; they must match.")


def one_hot(y, num_classes: int = N_CLASSES) -> np.ndarray:
    """Labels (n,) -> float32 matrix (n, num_classes) with a single 1 per row."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"one_hot expects a 1-D array of labels; got shape {y.shape}.")
    if y.size and not np.issubdtype(y.dtype, np.integer):
        if not np.all(np.equal(np.mod(y, 1), 0)):
            raise ValueError("one_hot expects integer class labels; got non-integer values.")
        y = y.astype(np.int64)
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(
            f"labels must lie in 0..{num_classes - 1}; got values from {y.min()} to {y.max()}."
        )
    out = np.zeros((len(y), num_classes), dtype=np.float32)
    out[np.arange(len(y)), y] = 1.0
    return out


def train_val_split(x, y, val_fraction: float = 0.1, seed: int = 0):
    """Stratified split: each class keeps the same share in both parts.

    Returns ``x_train, y_train, x_val, y_val``, each part shuffled.
    """
    x, y = np.asarray(x), np.asarray(y)
    _check_xy(x, y)
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be between 0 and 1 (exclusive); got {val_fraction}.")
    rng = np.random.default_rng(seed)
    val_idx, train_idx = [], []
    for label in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == label))
        n_val = int(round(val_fraction * len(idx)))
        if len(idx) > 1:
            n_val = min(max(n_val, 1), len(idx) - 1)  # both parts see every class
        val_idx.append(idx[:n_val])
        train_idx.append(idx[n_val:])
    train_idx = rng.permutation(np.concatenate(train_idx))
    val_idx = rng.permutation(np.concatenate(val_idx))
    return x[train_idx], y[train_idx], x[val_idx], y[val_idx]


def batch_indices(n: int, batch_size: int, seed: int | None = 0, shuffle: bool = True):
    """Index arrays of the batches of one epoch over ``n`` samples.

    With ``shuffle`` the order is a permutation drawn from ``seed``: the same
    seed gives the same batches, whichever framework consumes them.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer; got {batch_size!r}.")
    order = np.random.default_rng(seed).permutation(n) if shuffle else np.arange(n)
    return [order[start:start + batch_size] for start in range(0, n, batch_size)]


def iterate_minibatches(x, y, batch_size: int, seed: int | None = 0, shuffle: bool = True):
    """Yield ``(x_batch, y_batch)`` covering the data once (one epoch).

    The batches are those of :func:`batch_indices`; the last one may be smaller.
    """
    x, y = np.asarray(x), np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} rows but y has {len(y)}; they must match.")
    for idx in batch_indices(len(x), batch_size, seed, shuffle):
        yield x[idx], y[idx]

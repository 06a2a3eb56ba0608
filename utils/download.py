"""Files from the network, checked and written atomically.

``download(url, dest, sha256)`` writes the bytes to a temporary file
``<dest>.XXXX.part`` next to ``dest`` and renames it to ``dest`` only once it is
complete and its sha256 matches: nothing half-written ever carries the final name.

A download killed outright (the kernel restarted, the machine switched off)
cannot remove its ``.part`` file. Before each new download of ``dest``, the
``.part`` files of that same ``dest`` that nobody has written to for an hour
(``STALE_AFTER_S``) are deleted; younger ones are left alone, as another
notebook may be writing them right now.

It also holds the two path helpers that utils.config and utils.data share (``folder_path``,
``file_in_the_way``): a leaf module, imported by both, importing neither.
"""

from __future__ import annotations

import glob
import hashlib
import os
import tempfile
import time
from pathlib import Path
from urllib.request import urlopen

DOWNLOAD_TIMEOUT_S = 10
STALE_AFTER_S = 3600


class ChecksumError(ValueError):
    """A file's sha256 is not the one expected (corrupt or truncated)."""


def sha256_of(path: str | Path) -> str:
    """The sha256 of the file at ``path``, as hex. Raises ``OSError`` if it cannot be read."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_sha256(sha256) -> str:
    """``sha256`` in lower case if it is 64 hexadecimal digits; ``TypeError``/``ValueError`` otherwise."""
    if not isinstance(sha256, str):
        raise TypeError(f"sha256 must be the expected checksum, a str of 64 hexadecimal digits; "
                        f"got {sha256!r}.")
    value = sha256.strip().lower()
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise ValueError(f"sha256 must be 64 hexadecimal digits (0-9, a-f); got {sha256!r}.")
    return value


def verify_sha256(path: str | Path, sha256: str) -> None:
    """Raise ``ChecksumError`` unless the file at ``path`` has this sha256 (``OSError`` if unreadable).

    ``sha256`` is 64 hexadecimal digits, in either case; anything else raises
    ``TypeError`` (not a str) or ``ValueError``."""
    expected = _check_sha256(sha256)
    got = sha256_of(path)
    if got != expected:
        raise ChecksumError(f"{path} has sha256 {got[:12]}..., expected {expected[:12]}...")


def remove_stale(paths, max_age_s: float = STALE_AFTER_S) -> list[Path]:
    """Delete those of ``paths`` last modified more than ``max_age_s`` seconds ago.

    Returns the paths deleted. A file that cannot be deleted (read-only folder)
    is left where it is: cleaning up must never stop the caller. ``paths`` is a
    list (or any iterable) of paths: a single path, a str in particular, is a
    ``TypeError`` (iterating "abc" would delete files named a, b and c).
    """
    if isinstance(paths, (str, bytes, os.PathLike)):
        raise TypeError(f"remove_stale needs a list of paths, not one {type(paths).__name__} ({paths!r}); "
                        "write remove_stale([path]).")
    removed = []
    now = time.time()
    for path in paths:
        path = Path(path)
        try:
            if now - path.stat().st_mtime > max_age_s:
                path.unlink()
                removed.append(path)
        except OSError:
            pass
    return removed


def stale_parts(dest: str | Path) -> list[Path]:
    """The ``.part`` files that downloads of ``dest`` left next to it (none if the folder is missing)."""
    dest = Path(dest)
    try:
        return sorted(dest.parent.glob(glob.escape(dest.name) + ".*.part"))
    except OSError:
        return []


def download(url: str, dest: str | Path, sha256: str | None, *, check=None,
             timeout: float = DOWNLOAD_TIMEOUT_S) -> Path:
    """Download ``url`` to ``dest`` with a progress bar; verify, then rename. Returns ``dest``.

    ``sha256`` is the expected checksum (``None``: not checked). ``check``, if
    given, is called with the path of the complete temporary file and raises to
    reject it. Stale ``.part`` files of ``dest`` are deleted first (see above).

    Raises ``OSError`` when ``dest``'s folder cannot be created or written (its
    message names the folder and, when there is one, the file in the way), the
    network's errors (``urllib.error.URLError``, ``TimeoutError``...) as they
    come, ``ChecksumError`` for a wrong sha256, and whatever ``check`` raises.
    In every case no temporary file is left behind and ``dest`` is untouched.
    """
    from tqdm.auto import tqdm

    dest = Path(dest)
    if sha256 is not None:
        sha256 = _check_sha256(sha256)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        remove_stale(stale_parts(dest))
        fd, tmp_name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    except OSError as err:
        blocker = file_in_the_way(dest.parent)
        reason = f"{blocker} is a file, not a folder" if blocker else err.strerror or str(err)
        # OSError(errno, ...) is the subclass of the original (FileExistsError, PermissionError...)
        raise OSError(err.errno, f"download: cannot write dest {dest} in {dest.parent} ({reason})") from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urlopen(url, timeout=timeout) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name) as bar:
                for block in iter(lambda: response.read(1 << 16), b""):
                    out.write(block)
                    bar.update(len(block))
        if sha256 is not None:
            verify_sha256(tmp, sha256)
        if check is not None:
            check(tmp)
        os.replace(tmp, dest)
    finally:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass  # left for remove_stale to delete later; dest is untouched either way
    return dest


# --- paths, shared with utils.config and utils.data ----------------------------------------


def folder_path(value, what: str, default: Path, otherwise: str = "") -> Path:
    """``value`` (a str or a path) as a ``Path``, ``~`` expanded; ``what`` names it in the
    errors, ``otherwise`` says what to do instead ("leave it out to use TP_CACHE_DIR").

    ``TypeError`` for another type, ``ValueError`` when it is empty or names an
    unknown user (``~nosuchuser/...``)."""
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{what} must be a folder (a str or a pathlib.Path); got {value!r} "
                        f"({type(value).__name__}).")
    if not str(value).strip():
        raise ValueError(f"{what} is empty: give a folder (for example {default})"
                         + (f", or {otherwise}." if otherwise else "."))
    try:
        return Path(str(value).strip()).expanduser()
    except RuntimeError:  # "~nosuchuser": the home folder of an unknown user
        raise ValueError(f"{what}: cannot expand {str(value).split('/')[0]!r} (no such user); "
                         f"give the full path (for example {default}).") from None


def file_in_the_way(path: Path) -> Path | None:
    """The file (not a folder) that stands where ``path`` or one of its parent folders
    should be, or ``None``: the nearest existing one of them is a folder, or none exists."""
    for candidate in (Path(path), *Path(path).parents):
        if os.path.exists(candidate):
            return None if os.path.isdir(candidate) else candidate
    return None

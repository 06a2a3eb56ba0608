"""Which functions of the student edition pass which self-check, as they are (issue 17's count).

    python tools/answers.py                  # builds the edition in a temporary folder (make answers)
    python tools/answers.py --edition DIR    # an edition built already (make student: build/student)
    python tools/answers.py check_relu ...   # only these checks

Every callable defined in the edition's ``utils`` package (functions, classes, and the methods of
those classes) is handed, alone and unchanged, to every self-check (``utils.checks.check_*``) of
that edition. A pass means a student could earn that exercise by importing that function: the
aim is none. It prints one line per check with the functions that pass it, then the count. Each
call gets 5 seconds; stdin is closed (a function that waits for input fails, it does not hang).
The course's own functions are trusted code: this runs them in this process, not in a sandbox.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import inspect
import io
import os
import pkgutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECONDS = 5


class _TimeUp(BaseException):
    """A call ran past its time: a BaseException, so that no check's handler catches it."""


def candidates(utils, modules=None) -> dict:
    """``{"utils.module.name": callable}`` for every function and class defined in ``utils``' modules
    (or in those of ``modules`` only), and the methods of those classes."""
    found = {}
    for info in pkgutil.walk_packages(utils.__path__, "utils."):
        if modules is not None and info.name not in modules:
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if callable(obj) and getattr(obj, "__module__", "") == module.__name__:
                found[f"{module.__name__}.{name}"] = obj
                if inspect.isclass(obj):
                    found |= {f"{module.__name__}.{name}.{m}": f for m, f in vars(obj).items()
                              if inspect.isfunction(f)}
    return found


def passes(check, fn) -> bool:
    """Whether ``check(fn)`` prints PASSED, within :data:`SECONDS`."""
    out = io.StringIO()
    signal.alarm(SECONDS)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            check(fn)
        return "PASSED" in out.getvalue()
    except BaseException:  # noqa: BLE001 (a failing check, a crash, a time-out: not a pass)
        return False
    finally:
        signal.alarm(0)


def count(edition: Path, names: list[str], modules=None) -> dict[str, list[str]]:
    sys.path.insert(0, str(edition))
    import utils
    from utils import checks

    if not Path(utils.__file__).resolve().is_relative_to(edition.resolve()):
        raise SystemExit(f"utils came from {utils.__file__}, not from the edition {edition}")

    def time_up(*_):
        raise _TimeUp

    signal.signal(signal.SIGALRM, time_up)
    found = candidates(utils, modules)
    print(f"{len(found)} callables of {edition}/utils, each handed alone to each self-check")
    names = names or sorted(n for n in dir(checks) if n.startswith("check_"))
    result = {}
    for name in names:
        check = getattr(checks, name)
        result[name] = [c for c, fn in found.items() if fn is not check and passes(check, fn)]
        print(f"{name}: {', '.join(result[name]) or '-'}", flush=True)
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checks", nargs="*", help="check_* names (default: every self-check)")
    parser.add_argument("--edition", type=Path, help="a built student edition (default: build one)")
    args = parser.parse_args(argv)
    os.environ.setdefault("TP_QUICK", "1")
    with tempfile.TemporaryDirectory(prefix="tp-answers-") as tmp:
        os.environ["TP_RESULTS_DIR"] = str(Path(tmp) / "results")
        edition = args.edition
        if edition is None:
            edition = Path(tmp) / "edition"
            subprocess.run([sys.executable, str(ROOT / "tools" / "student.py"), "--out", str(edition)],
                           check=True, stdout=subprocess.DEVNULL)
        start = time.monotonic()
        result = count(edition, args.checks)
    passable = {k: v for k, v in result.items() if v}
    print(f"{len(passable)} of {len(result)} self-checks passed by a function the edition ships "
          f"({sum(map(len, passable.values()))} functions; {time.monotonic() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.stdin.close()
    with open(os.devnull) as devnull:
        os.dup2(devnull.fileno(), 0)
    sys.exit(main())

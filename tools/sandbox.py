"""The sandbox a submission runs in when it is graded (tools/grade.py): bubblewrap.

Each submission runs as an unprivileged user (uid 1000 in its own user namespace) in its own
mount, PID, network, IPC and UTS namespaces, and sees only:

    /usr, the Python and the virtual environment      read-only
    the course, as the student edition                 read-only, at the course's own path
    a few files of /etc (libraries, time zone, users)  read-only
    /grader (probe.py, wire.py)                        read-only
    /io (the notebook in, the results and pipes out)   read-write, the grader's temporary folder
    /tmp, HOME (/home/student)                         empty, in memory

with no network (loopback only), an environment of its own (nothing of the instructor's), and
limits on CPU time, memory, processes, open files and file size. Killing its first process
ends every process it started (a PID namespace), detached or not. Needs ``bwrap`` (Debian and
Ubuntu: ``apt-get install bubblewrap``) and unprivileged user namespaces (the default on both).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ETC = ["ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "localtime", "timezone", "passwd",
       "group", "nsswitch.conf", "hosts", "ssl", "ca-certificates", "fonts", "mime.types"]
HOME = "/home/student"
PASSED_ON = ("OMP_NUM_THREADS", "TF_ENABLE_ONEDNN_OPTS", "TP_THREADS", "LANG")


class Unavailable(RuntimeError):
    """No sandbox can be had here; the message says why and how to get one."""


HOW = ("install bubblewrap (Debian, Ubuntu: sudo apt-get install bubblewrap; Fedora: sudo dnf install "
       "bubblewrap), on a kernel that allows unprivileged user namespaces")


def check() -> str:
    """The path of ``bwrap`` once a trial sandbox ran; :class:`Unavailable` otherwise."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise Unavailable(f"bwrap not found: {HOW}")
    trial = subprocess.run([bwrap, *_user(), "--ro-bind", "/usr", "/usr", *_links(), "--proc", "/proc",
                            "--dev", "/dev", "--unshare-all", "--die-with-parent", "true"],
                           capture_output=True, text=True)
    if trial.returncode != 0:
        raise Unavailable(f"bwrap could not start a sandbox ({trial.stderr.strip()[:200]}): {HOW}")
    return bwrap


def _user() -> list[str]:
    return ["--unshare-user", "--uid", "1000", "--gid", "1000"]


def _links() -> list[str]:
    out = []
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / name
        if path.is_symlink():
            out += ["--symlink", os.readlink(path), f"/{name}"]
        elif path.is_dir():
            out += ["--ro-bind", str(path), f"/{name}"]
    return out


def command(bwrap: str, course: Path, root: Path, io: Path, argv: list[str], env: dict) -> list[str]:
    """The bwrap command that runs ``argv`` with ``course`` (a student edition) mounted at ``root``
    (the course's path, where the editable install points), ``io`` at ``/io``."""
    prefixes = sorted({Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(),
                       Path(sys.exec_prefix).resolve(), Path(sys.base_exec_prefix).resolve()}, key=str)
    cmd = [bwrap, *_user(), "--unshare-all", "--die-with-parent", "--new-session", "--hostname", "sandbox",
           "--cap-drop", "ALL", "--ro-bind", "/usr", "/usr", *_links(), "--proc", "/proc", "--dev", "/dev",
           "--tmpfs", "/tmp", "--tmpfs", "/home", "--dir", HOME]
    for name in ETC:
        if (Path("/etc") / name).exists():
            cmd += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    cmd += ["--ro-bind", str(course), str(root)]
    for prefix in prefixes:
        if not str(prefix).startswith("/usr/") and prefix != Path("/usr"):
            if prefix.is_relative_to(root):
                (course / prefix.relative_to(root)).mkdir(parents=True, exist_ok=True)
            cmd += ["--ro-bind", str(prefix), str(prefix)]
    cmd += ["--ro-bind", str(HERE / "probe.py"), "/grader/probe.py",
            "--ro-bind", str(HERE / "wire.py"), "/grader/wire.py", "--bind", str(io), "/io",
            "--chdir", HOME, "--clearenv"]
    for key, value in env.items():
        cmd += ["--setenv", key, value]
    return cmd + argv


def environment(python: Path) -> dict:
    """The sandbox's whole environment: nothing of the grader's but a few settings."""
    env = {"PATH": f"{python.parent}:/usr/local/bin:/usr/bin:/bin", "HOME": HOME, "USER": "student",
           "TMPDIR": "/tmp", "LANG": "C.UTF-8", "TP_QUICK": "1", "TP_RESULTS_DIR": "/tmp/results",
           "IPYTHONDIR": f"{HOME}/.ipython", "JUPYTER_RUNTIME_DIR": "/tmp/jupyter",
           "MPLCONFIGDIR": "/tmp/matplotlib", "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1"}
    env.update({k: os.environ[k] for k in PASSED_ON if k in os.environ})
    return env


# Sets the limits, then becomes the command: the limits are inherited by all it starts.
_LIMITED = ("import os, resource, sys\n"
            "names = ('RLIMIT_CPU', 'RLIMIT_NPROC', 'RLIMIT_AS', 'RLIMIT_CORE', 'RLIMIT_FSIZE',\n"
            "         'RLIMIT_NOFILE')\n"
            "for name, value in zip(names, map(int, sys.argv[1:7])):\n"
            "    resource.setrlimit(getattr(resource, name), (value, value))\n"
            "os.execvp(sys.argv[7], sys.argv[7:])\n")


def limited(cmd: list, cpu_seconds: int, memory_gib: float, processes: int = 512,
            file_mib: int = 512) -> list:
    """``cmd`` under the sandbox's resource limits (CPU time, processes, memory, file size, open
    files, no core file): a short Python program sets them, then becomes ``cmd``. Start it with
    ``start_new_session=True``. Not a ``preexec_fn``: forking with one while another thread of the
    grader runs NumPy's multithreaded BLAS (a judge) deadlocked in OpenBLAS's fork handler."""
    values = [cpu_seconds, processes, int(memory_gib * 2**30), 0, file_mib * 2**20, 1024]
    return [sys.executable, "-I", "-c", _LIMITED, *map(str, values), *map(str, cmd)]

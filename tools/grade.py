"""Grade the notebooks students hand back (make grade SUBMISSIONS=DIR).

    python tools/grade.py SUBMISSIONS [--source notebooks] [--out build/grades]
                          [--cell-timeout 120] [--timeout 600] [--judge-timeout S] [--jobs 1]
                          [--unsafe-no-sandbox]

SUBMISSIONS holds one folder per student, named after the student, with that student's
notebooks under their course file names (``NN_`` prefix enough; Colab's "Copy of " is fine;
sub-folders are searched, hidden ones skipped)::

    SUBMISSIONS/alice/01_numpy_one_hidden_layer.ipynb
    SUBMISSIONS/bob/01_numpy_one_hidden_layer.ipynb
    SUBMISSIONS/bob/03_pytorch.ipynb

Each submission runs in a sandbox (tools/sandbox.py: bubblewrap, an unprivileged user, no
network, the course's utils/ and data/ read-only without the notebooks and without the answers
of the notebook graded, :data:`ANSWERS`), on a fresh kernel, in quick mode, with a time limit
per cell (an endless loop is interrupted, and killed if it ignores the interrupt) and one per
notebook. Before it runs, each self-check cell is replaced by the instructor's version, found
by its nbgrader ``grade_id`` (else by its text): an edited check cannot pass, a deleted one
scores nothing. The exercises whose check hands the student's functions only data, or is made
of a probe and a judge (:data:`JUDGED`), are then judged here, in the grader's process: the check
runs here and calls the student's functions (or the probe, in the kernel, which returns data) over
a data-only pipe (tools/probe.py, tools/wire.py), on the self-check's inputs and on hidden ones.
The others earn their points when their self-check cell runs without error in the kernel. Questions
are graded by hand. Written to
``--out`` (default ``build/grades/``), which no submission can reach:

    grades.csv                        one row per submission: points per exercise, total, max,
                                      then an empty column per question for the instructor
                                      (kept from the previous grades.csv when filled in)
    feedback/<student>/<notebook>.md  each exercise passed, or its self-check's message
    answers/<notebook>/<question>.md  the model answer, then every student's answer
    skipped.txt                       files that were not graded (links, other names), and why

Anything that goes wrong in a submission (not a notebook, a missing cell, a crash, an endless
loop, a dead kernel) costs the points concerned and a line in its feedback; the run goes on.
Exercises, points and questions come from the nbgrader metadata of the instructor's notebooks
(tools/exercises.py adds what is missing, in memory).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import sandbox
from exercises import MARKER, TEXT_STUB, add_metadata, graded_items
from student import swap_in

ROOT = Path(__file__).resolve().parent.parent
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
NAME = re.compile(r"^(?:copy of\s+)?(\d\d)(?=[ _.-])", re.IGNORECASE)


@dataclass
class Assignment:
    """One instructor notebook: what it grades and how much."""

    name: str
    nb: object
    exercises: list[dict]
    questions: list[dict]

    @property
    def key(self) -> str:  # column prefix in grades.csv
        return self.name[:2] if self.name[:2].isdigit() else Path(self.name).stem

    @property
    def max_points(self) -> float:
        return sum(e["points"] for e in self.exercises)


@dataclass
class Result:
    """The grade of one submission."""

    student: str
    notebook: str
    points: dict = field(default_factory=dict)  # exercise grade_id -> points earned
    messages: dict = field(default_factory=dict)  # exercise grade_id -> None (passed) or why not
    answers: dict = field(default_factory=dict)  # question grade_id -> the student's answer or None
    notes: list = field(default_factory=list)  # anything else the student should know
    judged: dict = field(default_factory=dict)  # exercise grade_id -> True when judged by the grader
    seconds: float = 0.0
    readable: bool = True  # False: the file is not a notebook


def load_course(source: Path) -> dict[str, Assignment]:
    course = {}
    for path in sorted(Path(source).glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        add_metadata(nb, path.name)  # keeps the points and ids declared in the notebook
        items = graded_items(nb)
        course[path.name] = Assignment(path.name, nb, [i for i in items if i["kind"] == "exercise"],
                                       [i for i in items if i["kind"] == "question"])
    return course


def match(name: str, course: dict[str, Assignment]) -> str | None:
    """The course notebook a submitted file is, by its name: its stem, or its ``NN_`` prefix."""
    lowered = name.lower()
    for notebook in course:
        if Path(notebook).stem.lower() in lowered:
            return notebook
    m = NAME.match(name)
    if m:
        return next((n for n in course if n.startswith(m[1])), None)
    return None


def shown(name: str) -> str:
    """A file or folder name as text that can be written anywhere: bytes that are not UTF-8
    (kept by Python as surrogates) and control characters become ``?``."""
    text = name.encode("utf-8", "surrogateescape").decode("utf-8", "replace").replace("\ufffd", "?")
    return "".join(c if c.isprintable() and c not in "/\\" else "?" for c in text) or "?"


def student_name(name: str) -> str:
    """A student's folder name as the key of their row and feedback: :func:`shown`, followed, when
    that changed it or could stand for another folder, by 6 hex digits of the name's bytes."""
    text = shown(name)
    if text == name and "?" not in text and "~" not in text:
        return text
    return f"{text}~{hashlib.sha1(name.encode('utf-8', 'surrogateescape')).hexdigest()[:6]}"


def find_submissions(folder: Path, course: dict[str, Assignment]) -> tuple[list[tuple], list[str]]:
    """``[(student, notebook, path, other files found for it)]`` and the files skipped, each
    with the reason. Symbolic links are reported and never followed; a student's folder without
    a notebook of the course is reported too."""
    found, skipped = [], []
    for entry in sorted(Path(folder).iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_symlink():
            skipped.append(f"{shown(entry.name)}: a symbolic link, not followed (hand in files, not links)")
            continue
        if not entry.is_dir():
            skipped.append(f"{shown(entry.name)}: not in a student's folder "
                           "(SUBMISSIONS/<student>/<notebook>)")
            continue
        candidates: dict[str, list[Path]] = {}
        for top, dirs, files in os.walk(entry, followlinks=False):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(f for f in files if not f.startswith(".")):
                path = Path(top) / name
                rel = shown(str(path.relative_to(entry)))
                notebook = match(name, course)
                if path.is_symlink():
                    skipped.append(f"{shown(entry.name)}/{rel}: a symbolic link, not followed")
                elif not path.is_file():
                    skipped.append(f"{shown(entry.name)}/{rel}: not a regular file")
                elif notebook is None:
                    skipped.append(f"{shown(entry.name)}/{rel}: matches no notebook of the course")
                else:
                    candidates.setdefault(notebook, []).append(path)
            for d in dirs:
                if (Path(top) / d).is_symlink():
                    skipped.append(f"{shown(entry.name)}/{shown(str((Path(top) / d).relative_to(entry)))}: "
                                   "a symbolic link, not followed")
        if not candidates:
            skipped.append(f"{shown(entry.name)}: no notebook of the course in this student's folder")
        for notebook, paths in candidates.items():
            # the exact name, then any notebook file, the most recent first, then anything else
            paths.sort(key=lambda p: (p.name != notebook, p.suffix != ".ipynb", -p.lstat().st_mtime))
            found.append((student_name(entry.name), notebook, paths[0], paths[1:]))
    return found, skipped


# --- preparing and running one submission -------------------------------------------------------


def _first_line(source: str) -> str:
    return next((line.strip() for line in source.splitlines() if line.strip()), "")


def _locate(nb, grade_id: str, cell_type: str, by_content) -> int | None:
    """Index of the last cell of ``cell_type`` with ``grade_id``, else of the last cell of that type
    for which ``by_content(cell source)`` holds (a cell whose id was lost or changed, or given to a
    cell of the other type)."""
    ids = [i for i, c in enumerate(nb.cells) if c.cell_type == cell_type
           and c.metadata.get("nbgrader", {}).get("grade_id") == grade_id]
    if ids:
        return ids[-1]
    same = [i for i, c in enumerate(nb.cells) if c.cell_type == cell_type and by_content(c.source)]
    return same[-1] if same else None


def prepare(submitted, assignment: Assignment) -> tuple[object, dict, dict]:
    """The notebook to run (the student's, outputs cleared, with the instructor's self-checks),
    ``{exercise id: check cell index}`` and ``{exercise id: why it cannot score}``."""
    nb = nbformat.from_dict(submitted)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    checks, missing = {}, {}
    for ex in assignment.exercises:
        gid = ex["grade_id"]
        original = assignment.nb.cells[ex["cell"]].source
        index = _locate(nb, gid, "code", lambda s, o=original: s.strip() == o.strip())
        if index is None:
            missing[gid] = f"its self-check cell ({gid}) is missing: deleted, or its metadata changed"
        else:
            nb.cells[index].source = original  # the instructor's version, whatever the student did
            checks[gid] = index
        if ex.get("solution_cell") is not None:
            head = _first_line(assignment.nb.cells[ex["solution_cell"]].source)
            if _locate(nb, f"{gid}_solution", "code", lambda s, h=head: _first_line(s) == h) is None:
                missing.setdefault(gid, f"its exercise cell ({gid}_solution) is missing: deleted, "
                                        "or its metadata changed")
    return nb, checks, missing


def _error(cell) -> str | None:
    """The message of the error a cell raised, without colour codes; None if it raised none."""
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            ename, evalue = out.get("ename", "Error"), ANSI.sub("", out.get("evalue", "")).strip()
            if ename in ("CheckFailed", "AssertionError") and evalue:
                return evalue
            return f"{ename}: {evalue}" if evalue else ename
    return None


def where(nb, index: int) -> str:
    """A cell as a student finds it: its position and first line."""
    return f"cell {index + 1} (`{_first_line(nb.cells[index].source)[:60]}`)"


# --- the course a submission runs against: the student edition, without the answers ---------------

# Files of the course that hold the answers of a notebook's exercises graded by the judge: left
# out of the copy its submissions run against (a whole module, "*", or the functions named).
# The judge halves of 03's checks (utils.checks.torch_net) run in the grader, not in the kernel:
# their references go too, and the probes, which stay, build nothing a wrapper could pass off.
_NETWORK_REFERENCES = ["activate", "he_params", "layer_values", "gradients", "outputs_tuple", "case",
                       "activation_mistakes"]
ANSWERS = {
    "01": {"utils/reference.py": "*",  # the edition's: it would run this very submission's functions
           "utils/checks/numpy_net.py": "*",
           "utils/checks/networks.py": _NETWORK_REFERENCES,
           "utils/checks/architecture.py": ["_reference"],  # leaky ReLU with alpha 0 is ReLU
           "utils/checks/torch_net.py": ["_reference_epoch", "_one_hidden_layer"],  # sgd_epoch, forward
           "utils/plots.py": ["confusion_matrix"],  # its diagonal over its rows is per_class_accuracy
           "utils/train.py": ["mlp", "evaluate", "_evaluate_torch"]},  # init_params' He weights, evaluate

    "03": {"utils/checks/networks.py": _NETWORK_REFERENCES,
           "utils/checks/torch_net.py": ["_reference_epoch"],
           "utils/train.py": ["mlp", "evaluate", "_evaluate_torch"]},  # deep_network and evaluate
    "04": {"utils/checks/architecture.py": ["_reference", "_n_params", "_bracket", "_best_under"]},
    "05": {"utils/checks/learning_rate.py": ["_rule", "_verdicts"]},
    "07": {"utils/measure.py": ["epoch_flops"], "utils/checks/comparison.py": ["_flops", "_flop_mistakes"]},
}
COURSE_FILES = ["utils", "data", "pyproject.toml"]
STUB = ('def {name}(*args, **kwargs):\n    raise RuntimeError("{name} is not available while grading: '
        'the grader judges your own code")\n')


def _without(source: str, names) -> str:
    """``source`` (a module) with the top-level functions ``names`` replaced by stubs that raise;
    ``"*"``: the whole module replaced by stubs of its public functions and classes."""
    import ast

    tree = ast.parse(source)
    defs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    if names == "*":
        public = [n.name for n in defs if not n.name.startswith("_")]
        return '"""Not available while grading."""\n\n' + "\n\n".join(STUB.format(name=n) for n in public)
    lines = source.splitlines(keepends=True)
    for node in sorted((n for n in defs if n.name in names), key=lambda n: -n.lineno):
        start = min([node.lineno, *[d.lineno for d in node.decorator_list]]) - 1
        lines[start:node.end_lineno] = [STUB.format(name=node.name)]
    missing = set(names) - {n.name for n in defs}
    if missing:
        raise ValueError(f"grade.ANSWERS names {sorted(missing)}, which the module does not define")
    return "".join(lines)


def grading_course(dest: Path, key: str, root: Path = ROOT) -> Path:
    """The course files a submission of notebook ``key`` runs against, written to ``dest``: those of
    the student edition but its notebooks (utils/, data/), the answers of ``key`` left out."""
    from student import course_files, replace_answers

    for rel in course_files(root, COURSE_FILES, tracked_only=True):  # no stray draft of a solution
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, dest / rel)
    replace_answers(dest, root)  # the edition's utils/reference.py: no network of its own
    for rel, names in ANSWERS.get(key, {}).items():
        path = dest / rel
        path.write_text(_without(path.read_text(encoding="utf-8"), names), encoding="utf-8")
    for path in [dest, *dest.rglob("*")]:  # readable by the sandbox's user, written by nobody
        path.chmod(0o755 if path.is_dir() else 0o644)
    return dest


# --- the judge: exercises whose check calls only functions on data ------------------------------

# These self-checks pass the student's functions nothing but data (arrays, numbers, lists, the
# check's own helper functions), or come in two halves, a probe that runs in the kernel and returns
# data and a judge (utils.checks.core.judged_by): the grader runs them in its own process, and each
# call of a student's function (or probe) crosses to the kernel as data (tools/wire.py). The others,
# which hand the student's code models or data loaders, are judged by their self-check cell in the
# kernel, a verdict the submission could forge (docs/instructors.md, "Grade").
JUDGED = frozenset({
    "check_one_hot", "check_relu", "check_relu_prime", "check_softmax", "check_cross_entropy",
    "check_accuracy", "check_init_params", "check_forward", "check_backward", "check_numerical_gradient",
    "check_gradient_check", "check_evaluate_numpy", "check_sgd_epoch", "check_per_class_accuracy",
    "check_most_confident_mistakes", "check_activations", "check_parameter_count", "check_has_diverged",
    "check_choose_rate", "check_epoch_flops",
    # checks in two halves (utils.checks.core.judged_by): the probe runs in the kernel and returns
    # data, the judge decides here; the student's function is the check cell's first argument
    "check_two_layer_net", "check_train_epoch", "check_evaluate", "check_deep_network"})


def judged_call(source: str) -> tuple[str, list[str]] | None:
    """``(check name, [names of the student's functions])`` when the check cell's first statement is
    ``checks.check_X(name, ...)`` with ``check_X`` in :data:`JUDGED`; None otherwise."""
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    first = tree.body[0] if tree.body else None
    call = first.value if isinstance(first, ast.Expr) else None
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
            and isinstance(call.func.value, ast.Name) and call.func.value.id == "checks"
            and call.func.attr in JUDGED and not call.keywords
            and all(isinstance(a, ast.Name) for a in call.args)):
        return None
    from utils import checks

    names = [a.id for a in call.args]
    return call.func.attr, names[:1] if hasattr(getattr(checks, call.func.attr), "probe") else names


def _rebuilt(err) -> Exception:
    """The student's exception, as the checks expect one: its class (a built-in one by name, or
    a class of the same name), message, and where it was raised."""
    import builtins

    cls = getattr(builtins, err.kind, None)
    try:
        if not (isinstance(cls, type) and issubclass(cls, Exception)):
            raise TypeError
        rebuilt = cls(str(err))
    except Exception:
        name = err.kind if err.kind.isidentifier() else "Exception"
        rebuilt = type(name, (Exception,), {})(str(err))
    rebuilt.remote_inner, rebuilt.remote_line = err.inner, err.line
    return rebuilt


def remote(endpoint, name: str, probe: str | None = None):
    """A function standing for the student's ``name`` (or, given ``probe``, for that probe of
    utils.checks applied to it, on the CPU): each call runs it in the kernel."""
    import wire

    target = {"name": name} if probe is None else {"name": name, "probe": probe}

    def fn(*args, **kwargs):
        try:
            return endpoint.call(target, args, kwargs)
        except wire.RemoteError as err:
            raise _rebuilt(err) from None

    # a probe has no name of its own, as in a self-check: an error raised in it is the student's code's
    fn.__name__ = fn.__qualname__ = name if probe is None else ""
    return fn


class _Muted:
    """``sys.stdout`` while the judge runs: what a check prints in this thread is dropped (its
    PASSED line), what other threads print goes through. One swap for the whole run: swapping per
    thread would leave the wrong stream in place when two judges overlap."""

    _state = threading.local()

    def __init__(self, stream):
        self.stream = stream

    def write(self, text):
        return len(text) if getattr(self._state, "on", False) else self.stream.write(text)

    def __getattr__(self, name):
        return getattr(self.stream, name)


_MUTE_LOCK = threading.Lock()


@contextlib.contextmanager
def _muted():
    with _MUTE_LOCK:
        if not isinstance(sys.stdout, _Muted):
            sys.stdout = _Muted(sys.stdout)
    _Muted._state.on = True
    try:
        yield
    finally:
        _Muted._state.on = False


def judge(endpoint, check_name: str, names: list[str], salt: int) -> str | None:
    """Run self-check ``check_name`` here, on the student's functions in the kernel: None when it
    passes on the inputs the student saw (salt 0) and on hidden ones (``salt``), else why not."""
    from utils import checks
    from utils.checks import core

    fn = getattr(checks, check_name)
    for hidden in (0, salt):
        with core.hidden_inputs(hidden), _muted():
            try:
                if hasattr(fn, "probe"):  # the judge here, the probe in the kernel
                    fn.judge(remote(endpoint, names[0], fn.probe))
                else:
                    fn(*[remote(endpoint, n) for n in names])
                continue
            except core.CheckFailed as err:
                message = str(err)
            except Exception as err:  # data the check could not handle
                message = (f"the grader could not judge what your function returned "
                           f"({type(err).__name__}: {err})")
        if hidden:
            message = ("passed on the self-check's inputs but not on the grader's other inputs (hard-coded "
                       f"values, or a case the self-check does not try?): {message}")
        return message
    return None


# --- running a submission -----------------------------------------------------------------------


@dataclass
class Run:
    """What came back from the sandbox: the executed notebook, what ran, why it stopped early, and
    the judge's verdicts."""

    nb: object
    status: dict
    stopped: str | None
    verdicts: dict


def _own_file(path: Path, limit: int) -> bytes:
    """The bytes of ``path``, a regular file the sandbox wrote: never a link it put there to one of
    the grader's files, never more than ``limit`` bytes."""
    import stat

    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > limit:
            raise ValueError("not a regular file, or too large")
        return os.read(fd, limit + 1)[:limit]
    finally:
        os.close(fd)


def _read_back(io: Path, nb):
    """The executed notebook and the status the runner wrote: the student's to forge, so read as
    data, size-capped; the notebook sent in when unreadable."""
    import json

    try:
        raw = json.loads(_own_file(io / "status.json", 2_000_000))
        status = {int(k): v for k, v in raw["status"].items() if v in ("ran", "timeout")}
        stopped = raw.get("stopped")
        stopped = str(stopped)[:300] if stopped else None
    except Exception:
        return nb, {}, ("the run left no readable record (the kernel could not start, or the files "
                        "were altered)")
    try:
        executed = nbformat.reads(_own_file(io / "executed.ipynb", 50 * 2**20).decode("utf-8"), as_version=4)
        if len(executed.cells) != len(nb.cells):
            raise ValueError("cells added or removed")
    except Exception:
        return nb, {}, "the executed notebook came back unreadable (altered, or over 50 MB of output)"
    return executed, status, stopped


FILES_LIMIT = 2 * 2**30  # bytes a submission may write: its /tmp and HOME (memory), and /io (disk)
IO_ENTRIES = 1000  # files in /io


def _sandbox_pid(process) -> int | None:
    """The first process inside the sandbox (bwrap's child), whose /proc/PID/root is its tree."""
    try:
        for task in Path(f"/proc/{process.pid}/task").iterdir():
            children = (task / "children").read_text().split()
            if children:
                return int(children[0])
    except (OSError, ValueError):
        pass
    return None


def _watch_files(process, io: Path, sandboxed: bool, overflow: list, every: float = 0.25) -> None:
    """Kill the sandbox when what it wrote passes :data:`FILES_LIMIT` (or /io holds over
    :data:`IO_ENTRIES` files): its /tmp and HOME are memory, /io is the grader's disk, and no
    resource limit bounds either."""
    while process.poll() is None:
        used, entries = 0, 0
        pid = _sandbox_pid(process) if sandboxed else None
        for folder in ("tmp", "home") if pid else ():
            try:
                inside = f"/proc/{pid}/root/{folder}"
                if os.stat(inside).st_dev == os.stat(f"/{folder}").st_dev:
                    continue  # the sandbox is not set up yet: that is still the machine's own folder
                st = os.statvfs(inside)
                used += (st.f_blocks - st.f_bfree) * st.f_frsize
            except OSError:
                pass
        for top, dirs, names in os.walk(io):  # links are not followed
            for name in names + dirs:
                entries += 1
                with contextlib.suppress(OSError):
                    used += os.lstat(os.path.join(top, name)).st_size
            if entries > IO_ENTRIES:
                break
        if used > FILES_LIMIT or entries > IO_ENTRIES:
            overflow.append(f"the notebook wrote over {FILES_LIMIT // 2**20} MiB of files (or over "
                            f"{IO_ENTRIES} files) and was stopped")
            with contextlib.suppress(OSError):
                os.killpg(process.pid, signal.SIGKILL)
            return
        time.sleep(every)


def execute(nb, course: Path | None, cell_timeout: int, timeout: int, judged: dict,
            judge_timeout: int | None = None, memory_gib: float = 8) -> Run:
    """Run ``nb`` in a sandbox over ``course`` (tools/sandbox.py; none when ``course`` is None, at
    the instructor's risk), then judge the exercises of ``judged`` (``{grade_id: (check, names)}``).

    A cell running past ``cell_timeout`` is interrupted; no cell starts after ``timeout``, and past
    it the sandbox and every process in it are killed."""
    import secrets
    import subprocess

    import wire

    with tempfile.TemporaryDirectory(prefix="tp-grade-") as tmp:
        io, log = Path(tmp) / "io", Path(tmp) / "runner.log"
        io.mkdir()
        nbformat.write(nb, io / "in.ipynb")
        for name in ("to_kernel", "from_kernel"):
            os.mkfifo(io / name, 0o600)
        # opened before the submission runs: whatever it puts in their place later (a link to one of
        # the grader's files, say), the grader reads and writes these two pipes and nothing else
        to_kernel = os.open(io / "to_kernel", os.O_RDWR | os.O_NONBLOCK)  # a write never blocks the grader
        from_kernel = os.open(io / "from_kernel", os.O_RDWR)
        python = Path(sys.executable)
        judge_timeout = judge_timeout or 30 + 2 * cell_timeout
        limits = [str(cell_timeout), str(timeout), str(judge_timeout + 10 if judged else 0)]
        if course is None:
            argv = [str(python), str(Path(__file__).resolve().parent / "probe.py"), str(io), *limits]
            home = Path(tmp) / "home"
            home.mkdir()
            env = {**sandbox.environment(python), "HOME": str(home), "TMPDIR": str(home),
                   "TP_RESULTS_DIR": str(home / "results"), "IPYTHONDIR": str(home / ".ipython"),
                   "JUPYTER_RUNTIME_DIR": str(home / "jupyter"), "MPLCONFIGDIR": str(home / "mpl")}
            cmd, cwd = argv, home
        else:
            argv = [str(python), "/grader/probe.py", "/io", *limits]
            cmd, env, cwd = sandbox.command(sandbox.check(), course, ROOT, io, argv,
                                            sandbox.environment(python)), None, None
        with open(log, "wb") as out:
            process = subprocess.Popen(sandbox.limited(cmd, 2 * timeout + 120, memory_gib), env=env, cwd=cwd,
                                       stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        verdicts = {}
        # past the notebook's limit and the judge's, the sandbox dies whatever the grader is doing
        watchdog = threading.Timer(timeout + 90 + judge_timeout,
                                   lambda: process.poll() is None and os.killpg(process.pid, signal.SIGKILL))
        watchdog.start()
        overflow = []  # why the files watch stopped the sandbox, if it did
        files = threading.Thread(target=_watch_files, args=(process, io, course is not None, overflow),
                                 daemon=True)
        files.start()
        try:
            deadline = time.monotonic() + timeout + 60
            while not (io / "ready").exists() and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            if (io / "ready").exists() and process.poll() is None and judged:
                endpoint = wire.Endpoint(from_kernel, to_kernel, handles=True, timeout=cell_timeout)
                endpoint.deadline = time.monotonic() + judge_timeout  # for the whole judging
                salt = secrets.randbelow(2**31 - 1) + 1
                try:
                    for gid, (check_name, names) in judged.items():
                        try:
                            verdicts[gid] = judge(endpoint, check_name, names, salt)
                        except wire.WireError as err:
                            verdicts[gid] = (f"your function did not answer ({err}): an endless loop, or a "
                                             "kernel that stopped?")
                            break
                    endpoint.send({"op": "bye"})
                except (wire.WireError, OSError):
                    pass
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        finally:
            os.close(to_kernel)
            os.close(from_kernel)
            watchdog.cancel()
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)  # bwrap, and with it the whole PID namespace
            process.wait()
        files.join(5)
        executed, status, stopped = _read_back(io, nb)
        if overflow:
            stopped = overflow[0]
        if not status and not stopped:
            stopped = "the notebook did not run"
    return Run(executed, status, stopped, verdicts)


def split_question(source: str) -> tuple[str, str, str]:
    """(text before the answer region, model answer, text after it) of a question cell."""
    parts, part = [[], [], []], 0
    for line in source.splitlines():
        m = MARKER.match(line)
        if m:
            part = 1 if m["kind"] == "BEGIN" else 2
        else:
            parts[part].append(line)
    return tuple("\n".join(p).strip() for p in parts)


def _answer(student_source: str, original: str) -> str:
    """The student's answer: their cell without the question text around the answer region."""
    prefix, _, suffix = split_question(original)
    text = "\n".join(line for line in student_source.splitlines() if not MARKER.match(line)).strip()
    if prefix and text.startswith(prefix):
        text = text[len(prefix):].strip()
    if suffix and text.endswith(suffix):
        text = text[:-len(suffix)].strip()
    return "" if text in ("", TEXT_STUB) else text


def excerpt(message: str, lines: int = 30, chars: int = 2000) -> str:
    """At most ``lines`` lines and ``chars`` characters of a check's message, for the feedback."""
    text = "\n".join(message.splitlines()[:lines])
    return text if len(text) <= chars and text == message else text[:chars].rstrip() + "\n[... cut]"


def grade(student: str, path: Path, assignment: Assignment, *, course: Path | None, cell_timeout: int,
          timeout: int, judge_timeout: int | None = None) -> Result:
    """Grade one submitted file; never raises for what is in the file."""
    result = Result(student, assignment.name)
    start = time.monotonic()
    try:
        submitted = nbformat.read(path, as_version=4)
    except Exception as err:  # not JSON, not a notebook, unreadable
        why = ANSI.sub("", str(err)).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
        result.notes.append(f"`{path.name}` is not a notebook ({why}): nothing could be graded.")
        result.readable = False
        for ex in assignment.exercises:
            result.points[ex["grade_id"]], result.messages[ex["grade_id"]] = 0, "not graded: not a notebook"
        return result
    for q in assignment.questions:
        original = assignment.nb.cells[q["cell"]].source
        head = _first_line(original)
        index = _locate(submitted, q["grade_id"], "markdown", lambda s, h=head: _first_line(s) == h)
        if index is None:
            result.answers[q["grade_id"]] = None
            result.notes.append(f"The cell of question {q['grade_id']} is missing: deleted, "
                                "or its metadata changed.")
        else:
            result.answers[q["grade_id"]] = _answer(submitted.cells[index].source, original)
    nb, checks, missing = prepare(submitted, assignment)
    judged = {}
    for ex in assignment.exercises:
        call = judged_call(assignment.nb.cells[ex["cell"]].source)
        if call and ex["grade_id"] in checks:
            judged[ex["grade_id"]] = call
    try:
        run = execute(nb, course, cell_timeout, timeout, judged, judge_timeout)
    except Exception as err:  # the sandbox would not start
        run = Run(nb, {}, f"the notebook could not be run ({type(err).__name__}: {str(err)[:200]})", {})
    nb, status, stopped = run.nb, run.status, run.stopped
    if stopped:
        result.notes.append(f"The run stopped early: {stopped}.")
    for ex in assignment.exercises:
        gid, index = ex["grade_id"], checks.get(ex["grade_id"])
        if gid in missing:
            message = missing[gid]
        elif gid in judged:
            message = (run.verdicts[gid] if gid in run.verdicts else
                       f"not judged: {stopped or 'the kernel stopped answering before this exercise'}")
        elif index not in status:
            message = f"not run: {stopped}"
        elif status[index] == "timeout":
            message = (f"stopped after the time limit of {cell_timeout} s per cell "
                       f"(an endless loop?): {_error(nb.cells[index]) or 'interrupted'}")
        else:
            message = _error(nb.cells[index])
        result.messages[gid] = excerpt(message) if message else None
        result.points[gid] = ex["points"] if message is None else 0
        result.judged[gid] = gid in judged
    check_cells = set(checks.values())
    others = [(i, _error(c)) for i, c in enumerate(nb.cells) if i in status and i not in check_cells]
    for i, error in [(i, e) for i, e in others if e][:5]:
        cell = where(nb, i)
        result.notes.append(f"{cell[0].upper()}{cell[1:]} raised {error.splitlines()[0][:300]}")
    result.seconds = time.monotonic() - start
    return result


# --- writing the results ----------------------------------------------------------------------


def _fmt(points: float) -> str:
    return f"{points:g}"


def feedback(result: Result, assignment: Assignment) -> str:
    total = sum(result.points.values())
    judged = any(result.judged.values())
    how = ("your notebook run again in quick mode on a fresh kernel; the exercises marked *judged* by the "
           "grader, which calls your functions with the self-check's inputs and with others"
           if judged else "your notebook run again in quick mode on a fresh kernel, with the original "
           "self-checks")
    lines = [f"# {Path(assignment.name).stem}: {result.student}", "",
             f"**Self-checks: {_fmt(total)} / {_fmt(assignment.max_points)} points** ({how}).", ""]
    for ex in assignment.exercises:
        gid, message = ex["grade_id"], result.messages.get(ex["grade_id"])
        earned = f"{_fmt(result.points.get(gid, 0))}/{_fmt(ex['points'])}"
        if result.judged.get(gid):
            earned += ", *judged*"
        if message is None:
            lines.append(f"- **{gid}** ({earned}): passed")
        else:
            lines += [f"- **{gid}** ({earned}): failed", "", "  ```text",
                      *[f"  {line}" for line in message.splitlines()], "  ```", ""]
    if assignment.questions:
        ids = ", ".join(q["grade_id"] for q in assignment.questions)
        lines += ["", f"Questions ({ids}) are graded by hand."]
    if result.notes:
        lines += ["", "## Notes", "", *[f"- {note}" for note in result.notes]]
    return "\n".join(lines).rstrip() + "\n"


def answers_page(assignment: Assignment, question: dict, results: list[Result]) -> str:
    before, model, after = split_question(assignment.nb.cells[question["cell"]].source)
    points = question["points"]
    lines = [f"# {Path(assignment.name).stem} · {question['grade_id']} ({_fmt(points)} "
             f"point{'' if points == 1 else 's'})", "", "\n\n".join(t for t in (before, after) if t), "",
             "**Model answer**", "", model, ""]
    for result in results:
        answer = result.answers.get(question["grade_id"])
        text = ("*(not a notebook)*" if not result.readable else "*(the question's cell is missing)*"
                if answer is None else answer.replace("<", "&lt;") or "*(not answered)*")
        lines += ["---", "", f"## {result.student}", "", text, ""]
    return "\n".join(lines)


def write(results: list[Result], course: dict[str, Assignment], out: Path, skipped=()) -> Path:
    """Write grades.csv, feedback/, answers/ and the files ``skipped`` (skipped.txt) into ``out``
    (replaced as a whole; the instructor's marks in the question columns of an existing
    grades.csv are kept)."""
    out = Path(out)
    kept = {}
    if (out / "grades.csv").is_file():
        with open(out / "grades.csv", newline="") as f:
            for row in csv.DictReader(f):
                kept[(row.get("student"), row.get("notebook"))] = row
    if out.exists() and any(out.iterdir()) and not (out / "grades.csv").exists():
        raise ValueError(f"{out} exists and holds no grades.csv: remove it or choose another --out")
    used = [a for a in course.values() if any(r.notebook == a.name for r in results)]
    exercise_columns = [f"{a.key}:{e['grade_id']}" for a in used for e in a.exercises]
    question_columns = [f"{a.key}:{q['grade_id']}" for a in used for q in a.questions]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        with open(tmp / "grades.csv", "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["student", "notebook", *exercise_columns, "total", "max", *question_columns])
            for r in results:
                a = course[r.notebook]
                points = {f"{a.key}:{gid}": _fmt(p) for gid, p in r.points.items()}
                old = kept.get((r.student, Path(r.notebook).stem), {})
                writer.writerow([r.student, Path(r.notebook).stem,
                                 *[points.get(c, "") for c in exercise_columns],
                                 _fmt(sum(r.points.values())), _fmt(a.max_points),
                                 *[old.get(c, "") for c in question_columns]])
        for r in results:
            page = tmp / "feedback" / r.student / f"{Path(r.notebook).stem}.md"
            page.parent.mkdir(parents=True, exist_ok=True)
            page.write_text(feedback(r, course[r.notebook]), encoding="utf-8")
        for a in used:
            mine = [r for r in results if r.notebook == a.name]
            for q in a.questions:
                page = tmp / "answers" / Path(a.name).stem / f"{q['grade_id']}.md"
                page.parent.mkdir(parents=True, exist_ok=True)
                page.write_text(answers_page(a, q, mine), encoding="utf-8")
        if skipped:
            (tmp / "skipped.txt").write_text("".join(f"{line}\n" for line in skipped), encoding="utf-8")
        swap_in(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def run(submissions: Path, source: Path = ROOT / "notebooks", out: Path = ROOT / "build" / "grades",
        cell_timeout: int = 120, timeout: int = 600, jobs: int = 1, log=print,
        sandboxed: bool = True, judge_timeout: int | None = None) -> list[Result]:
    """Grade every submission in ``submissions``; write the results into ``out``. ``sandboxed=False``
    runs the submissions as the grader's own user, with the instructor's files in reach."""
    if sandboxed:
        sandbox.check()  # Unavailable, with how to get one, before anything runs
    submissions = Path(submissions)
    if not submissions.is_dir():
        raise ValueError(f"{submissions} is not a folder: give the folder of submissions, "
                         "laid out as SUBMISSIONS/<student>/<notebook>.ipynb")
    course = load_course(source)
    if not course:
        raise ValueError(f"no notebook in {source}: --source must be the course's notebooks/ folder")
    found, skipped = find_submissions(submissions, course)
    for line in skipped:
        log(f"skipped {line}")
    if not found:
        numbers = ", ".join(sorted({n[:2] for n in course}))
        raise ValueError(f"no submission found in {submissions}: expected "
                         f"SUBMISSIONS/<student>/NN_name.ipynb, NN one of {numbers}")
    log(f"grading {len(found)} submission(s) of {len({s for s, *_ in found})} student(s), "
        f"{jobs} at a time, quick mode, {cell_timeout} s per cell, {timeout} s per notebook")

    with tempfile.TemporaryDirectory(prefix="tp-course-") as tmp:
        courses = {n[:2]: grading_course(Path(tmp) / n[:2], n[:2]) if sandboxed else None
                   for n in {notebook for _, notebook, _, _ in found}}
        results = _grade_all(found, course, courses, submissions, cell_timeout, timeout, judge_timeout, jobs,
                             log)
    write(results, course, out, skipped)
    return results


def _grade_all(found, course, courses, submissions, cell_timeout, timeout, judge_timeout, jobs,
               log) -> list[Result]:
    def one(item):
        student, notebook, path, others = item
        result = grade(student, path, course[notebook], course=courses[notebook[:2]],
                       cell_timeout=cell_timeout, timeout=timeout, judge_timeout=judge_timeout)
        inside = lambda p: shown(str(Path(*p.relative_to(submissions).parts[1:])))  # noqa: E731
        result.notes += [f"Also found `{inside(p)}`, not graded (graded: `{inside(path)}`)." for p in others]
        log(f"  {student:<20} {Path(notebook).stem:<30} {_fmt(sum(result.points.values()))}"
            f"/{_fmt(course[notebook].max_points)}  ({result.seconds:.0f} s)")
        return result

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(one, found))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Grade submitted notebooks (see the module docstring).")
    parser.add_argument("submissions", nargs="?", type=Path,
                        help="folder of submissions: SUBMISSIONS/<student>/<notebook>.ipynb")
    parser.add_argument("--source", type=Path, default=ROOT / "notebooks",
                        help="the instructor's notebooks, also the kernels' working folder "
                             "(default notebooks/)")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "grades")
    parser.add_argument("--cell-timeout", type=int, default=120, help="seconds per cell (default 120)")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per notebook (default 600)")
    parser.add_argument("--jobs", type=int, default=1, help="notebooks graded at once (default 1)")
    parser.add_argument("--judge-timeout", type=int, default=None,
                        help="seconds to judge a notebook's exercises once it has run "
                             "(default 30 + 2 x the cell timeout)")
    parser.add_argument("--unsafe-no-sandbox", action="store_true",
                        help="run submissions without a sandbox, as your own user: a submission can then "
                             "read the solutions, your files and the other submissions, and change them")
    args = parser.parse_args(argv)
    if args.submissions is None:
        print("grade: which submissions? make grade SUBMISSIONS=DIR, with DIR/<student>/<notebook>.ipynb",
              file=sys.stderr)
        return 2
    start = time.perf_counter()
    try:
        results = run(args.submissions, args.source, args.out, args.cell_timeout, args.timeout, args.jobs,
                      sandboxed=not args.unsafe_no_sandbox, judge_timeout=args.judge_timeout)
    except ValueError as err:
        print(f"grade: {err}", file=sys.stderr)
        return 2
    except sandbox.Unavailable as err:
        print(f"grade: no sandbox to run submissions in: {err}. Without one, a submission runs with your "
              "rights; --unsafe-no-sandbox grades anyway, at that risk.", file=sys.stderr)
        return 2
    print(f"{len(results)} submission(s) graded in {time.perf_counter() - start:.0f} s -> "
          f"{args.out}/grades.csv, feedback/, answers/")
    return 0


if __name__ == "__main__":
    sys.exit(main())

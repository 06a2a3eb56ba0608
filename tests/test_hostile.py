# ruff: noqa: E501  (the tricks are code as a student writes it, one string per line)
"""Hostile submissions of notebook 01, graded in the sandbox (tools/grade.py, tools/sandbox.py).

Each submission is notebook 01 cut down to its exercises (their cells and self-checks, blank
as the student edition hands them out) with one trick added, as a student would write it. Every
trick must earn nothing it did not solve, reach nothing outside its sandbox (the repository,
ignored files included, HOME, the grades, the other submissions) and leave a blank submission
graded after it at 0. The honest ones keep their marks: solved full, blank 0, one planted
mistake loses exactly its exercise.
# ruff: noqa: E501  (the tricks are code as a student writes it, one string per line)
"""

import copy
import csv
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import grade  # noqa: E402
import sandbox  # noqa: E402
import student  # noqa: E402

NAME = "01_numpy_one_hidden_layer.ipynb"
CELL_TIMEOUT, TIMEOUT, JUDGE_TIMEOUT = 8, 90, 20  # 03's judging takes about 7 s on an idle machine
SECRET = "tp-hostile-secret-4f1c"  # in the grader's environment and in another student's notebook
SITE = Path(np.__file__).resolve().parent.parent  # the site-packages the grader and kernels use
HOME = Path.home()
MARKER = "tp-hostile-detached-marker"
PWNED = Path("/tmp") / "tp-hostile-pwned"  # what code run in the grader's process would write
VICTIM = Path("/tmp") / "tp-hostile-victim"  # a file of the grader's machine that links point to
# What the tricks try to write, outside their sandbox: none of it may exist afterwards.
TARGETS = [ROOT / "utils" / "checks" / "__pycache__" / "core.cpython-311.pyc.hostile", ROOT / "utils" / "hostile.py",
           ROOT / "notebooks" / "hostile.txt", SITE / "hostile.pth", SITE / "sitecustomize.py",
           HOME / ".ipython" / "profile_default" / "startup" / "00-hostile.py", Path("/tmp") / MARKER, PWNED]

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the grader's sandbox is Linux's bubblewrap")


def _trimmed(nb):
    """Notebook ``nb`` with only its exercises (solution and self-check cells), the questions and a
    first cell with the imports the exercises use."""
    keep = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id")]
    head = nbformat.v4.new_code_cell("import numpy as np\n\nfrom utils import checks")
    out = copy.deepcopy(nb)
    out.cells = [head, *copy.deepcopy(keep)]
    return out


def _with(nb, code: str, at: int = 1):
    out = copy.deepcopy(nb)
    out.cells.insert(at if at >= 0 else len(out.cells), nbformat.v4.new_code_cell(code))
    return out


def _replace(nb, grade_id: str, code: str):
    out = copy.deepcopy(nb)
    cell = next(c for c in out.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    cell.source = code
    return out


def _visible_softmax_answers() -> dict:
    """The right softmax outputs for the inputs the self-check shows, keyed by the inputs' bytes:
    what a student who copied a solved run's values would hold."""
    from utils import checks, reference

    table = {}

    def recording(z):
        out = reference.softmax(np.asarray(z))
        table[hashlib.sha1(np.ascontiguousarray(z).tobytes()).hexdigest()] = out.tolist()
        return out

    checks.check_softmax(recording)
    return table


# Tricks that define the exercises' functions go after the exercise cells (which would otherwise
# define them again); the others first, to change how the kernel runs everything after them.
AT_END = {"reference", "check_internals", "course_wrappers", "solved_on_disk", "hard_coded", "liar_values", "huge_answer",
          "not_data", "leaky_error", "other_students", "handle_escape", "stale_handle", "rng_bytes", "keepalive",
          "blocked_pipe", "read_ahead", "shuffle_memory"}

TRICKS = {
    # changing how the kernel runs the checks
    "exc_handler": "get_ipython().set_custom_exc((BaseException,), lambda *a, **k: print('PASSED'))",
    "patched_checks": ("import utils.checks as c\n"
                       "for n in dir(c):\n"
                       "    if n.startswith('check_'):\n"
                       "        setattr(c, n, lambda *a, **k: print('PASSED'))"),
    "patched_core": ("from utils.checks import core\n"
                     "core.fail = lambda *a, **k: None\n"
                     "core.Check.done = lambda self: print('PASSED')"),
    "rewritten_cells": ("def _skip(lines):\n    return ['pass\\n'] if any('checks.' in l for l in lines) else lines\n"
                        "get_ipython().input_transformers_cleanup.append(_skip)"),
    # the answers the course ships, and the solutions on the grader's disk
    "reference": ("from utils import reference as ref\nfrom utils.reference import one_hot\n"
                  "from utils.reference import numerical_gradient\n"
                  "relu, relu_prime, softmax, cross_entropy = ref.relu, ref.relu_prime, ref.softmax, ref.cross_entropy\n"
                  "accuracy, init_params, forward, backward = ref.accuracy, ref.init_params, ref.forward, ref.backward"),
    "check_internals": ("from utils.checks import numpy_net as nn\n"
                        "def sgd_epoch(params, X, y, lr, batch_size, rng):\n"
                        "    params[:] = nn._epoch(params, X, y, lr, [(np.arange(len(X)), np.arange(len(X)))])"),
    "course_wrappers": ("import torch\n"  # the helpers of the grader's copy that compute an answer
                        "from utils import plots, train\n"
                        "from utils.checks import torch_net\n"
                        "torch.set_default_dtype(torch.float64)\n"
                        "def sgd_epoch(params, X, y, lr, b, rng):\n"
                        "    o = rng.permutation(len(X))\n"
                        "    for p, q in zip(params, torch_net._reference_epoch([q.copy() for q in params], X[o], y[o], b, lr)):\n"
                        "        p[...] = q.T if q.ndim == 2 else q\n"
                        "def evaluate(X, y, params):\n"
                        "    return train._evaluate_torch(torch_net._one_hidden_layer(params), torch.from_numpy(X), torch.from_numpy(y))\n"
                        "per_class_accuracy = lambda y_true, y_pred, n_classes=10: (lambda c: c.diagonal() / c.sum(1))(plots.confusion_matrix(y_true, y_pred, n_classes))\n"
                        "def backward(X, Y, params, outputs):\n"
                        "    m = torch_net._one_hidden_layer(params)\n"
                        "    torch.nn.functional.cross_entropy(m(torch.from_numpy(X)), torch.from_numpy(Y.argmax(1))).backward()\n"
                        "    return [p.grad.numpy().T.copy() if p.ndim == 2 else p.grad.numpy().copy() for p in m.parameters()]"),
    "solved_on_disk": ("import glob, json\n"
                       "for path in [p for d in ('/work', '/root', '/home', '/tmp', '/io', '/grader')\n"
                       "             for p in glob.glob(d + '/**/01_*.ipynb', recursive=True)]:\n"
                       "    try:\n"
                       "        for cell in json.load(open(path))['cells']:\n"
                       "            src = ''.join(cell['source'])\n"
                       "            if cell['cell_type'] == 'code' and 'BEGIN SOLUTION' in src:\n"
                       "                exec(src, globals())\n"
                       "    except Exception:\n"
                       "        pass"),
    "hard_coded": None,  # filled in by the fixture: the visible inputs' answers, nothing else
    # reaching outside: the repository, HOME, site-packages, the grades
    "writes_outside": ("import os, pathlib\n"
                       f"for p in {[str(t) for t in TARGETS]!r}:\n"
                       "    try:\n"
                       "        pathlib.Path(p).parent.mkdir(parents=True, exist_ok=True)\n"
                       "        pathlib.Path(p).write_text('relu = lambda z: z')\n"
                       "    except OSError:\n"
                       "        pass"),
    "startup_file": ("import os, pathlib\n"
                     "d = pathlib.Path(os.path.expanduser('~/.ipython/profile_default/startup'))\n"
                     "d.mkdir(parents=True, exist_ok=True)\n"
                     "(d / '00-hostile.py').write_text(\"get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)\")"),
    "forged_status": ("import json, pathlib, nbformat\n"
                      "io = pathlib.Path('/io')\n"
                      "nb = nbformat.read(io / 'in.ipynb', as_version=4)\n"
                      "(io / 'status.json').write_text(json.dumps({'status': {str(i): 'ran' for i in range(len(nb.cells))}, 'stopped': None}))\n"
                      "nbformat.write(nb, io / 'executed.ipynb')\n"
                      "(io / 'ready').write_text('')\n"
                      "import os; os.chmod(io / 'status.json', 0o444)"),
    "fake_server": ("import threading, sys\n"
                    "sys.path.insert(0, '/grader')\n"
                    "def _answer():\n"
                    "    import os, wire\n"
                    "    r = os.open('/io/to_kernel', os.O_RDONLY); w = os.open('/io/from_kernel', os.O_WRONLY)\n"
                    "    e = wire.Endpoint(r, w, resolve=lambda t: (lambda *a, **k: np.zeros((3, 3))))\n"
                    "    e.serve(timeout=600)\n"
                    "threading.Thread(target=_answer, daemon=True).start()"),
    # the grader itself and the processes around it
    "kill_parent": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)",
    "kill_all": "import os, signal\nos.kill(-1, signal.SIGKILL)",
    "detached": ("import subprocess\n"
                 f"subprocess.Popen(['sh', '-c', 'sleep 4; echo x > /tmp/{MARKER}; sleep 600 # {MARKER}'],\n"
                 "                 start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)"),
    "fork_bomb": ("import subprocess\nprocs = []\n"
                  "try:\n"
                  "    for _ in range(2000):\n"
                  "        procs.append(subprocess.Popen(['sleep', '600']))\n"
                  "except OSError as err:\n"
                  "    print('stopped at', len(procs), err)"),
    "memory_bomb": "block = bytearray(64 * 2**30)",
    "sigint_ignored": "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass",
    # what crosses the wire
    "liar_values": ("class Yes(float):\n    def __eq__(self, other):\n        return True\n    __hash__ = float.__hash__\n"
                    "def accuracy(a, y):\n    return Yes(0.5)\n"
                    "class Same(np.ndarray):\n    def __eq__(self, other):\n        return np.ones(np.shape(other), bool)\n"
                    "def relu(z):\n    return np.zeros_like(z).view(Same)"),
    "huge_answer": "def relu(z):\n    return np.zeros(20 * 2**20)",
    "not_data": ("def softmax(z):\n    class A:\n        def __array__(self, dtype=None, copy=None):\n"
                 "            raise SystemExit\n    return A()\n"
                 "def relu(z):\n    x = []\n    for _ in range(5000):\n        x = [x]\n    return x"),
    # the grader's side of the wire: its handles, its time, its memory
    "handle_escape": ("def numerical_gradient(f, x, h=1e-5):\n"
                      "    cl = type(f).__call__\n"
                      "    c = dict(zip(cl.__code__.co_freevars, [k.cell_contents for k in cl.__closure__]))\n"
                      "    for method in ('__getattribute__', '__reduce__', '', 'permutation'):\n"
                      "        try:\n"
                      "            g = c['endpoint'].call({'ref': c['ref'], 'method': method}, ('__globals__',))\n"
                      f"            g['__builtins__']['exec'](\"open('{PWNED}', 'w').write('x')\", {{}})\n"
                      "        except Exception:\n"
                      "            pass\n"
                      "    return np.zeros_like(x)"),
    "stale_handle": ("import sys\n"
                     "def sgd_epoch(params, X, y, lr, batch_size, rng):\n"
                     "    ep = sys._getframe(1).f_locals['self']\n"
                     "    for ref in range(1, 60):  # the grader's reference backward, handed over for gradient_check\n"
                     "        try:\n"
                     "            ep.call({'ref': ref}, (X, np.eye(10)[y], params, (X, X, X, X)))\n"
                     "        except Exception:\n"
                     "            pass"),
    "rng_bytes": ("def sgd_epoch(params, X, y, lr, batch_size, rng):\n"
                  "    for _ in range(3):\n"
                  "        try:\n"
                  "            rng.bytes(1_500_000_000)\n"
                  "        except Exception:\n"
                  "            rng.permutation(10**9)"),
    "keepalive": ("def one_hot(y, num_classes=10):\n"
                  "    import sys, signal, time\n"
                  "    signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                  "    ep = sys._getframe(1).f_locals['self']\n"
                  "    while True:\n"
                  "        try:\n"
                  "            ep.call({'name': 'keepalive'}, ())\n"
                  "        except Exception:\n"
                  "            pass\n"
                  "        time.sleep(0.5)"),
    "blocked_pipe": ("import os, json, struct, signal, time\n"
                     "def sgd_epoch(params, X, y, lr, batch_size, rng):\n"
                     "    cl = type(rng).__call__\n"
                     "    ref = dict(zip(cl.__code__.co_freevars, [c.cell_contents for c in cl.__closure__]))['ref']\n"
                     "    msg = json.dumps({'op': 'call', 'target': {'ref': ref, 'method': 'permutation'}, 'args': [1000000], 'kwargs': {}}).encode()\n"
                     "    os.write(os.open('/io/from_kernel', os.O_WRONLY), struct.pack('>Q', len(msg)) + msg)\n"
                     "    signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                     "    while True:\n"
                     "        time.sleep(1)  # the answer is never read: the grader's pipe fills up"),
    "read_ahead": ("import os, json, struct, fcntl, threading, time\n"
                   "def sgd_epoch(params, X, y, lr, batch_size, rng):\n"
                   "    cl = type(rng).__call__\n"
                   "    ref = dict(zip(cl.__code__.co_freevars, [c.cell_contents for c in cl.__closure__]))['ref']\n"
                   "    out = os.open('/io/from_kernel', os.O_WRONLY)\n"
                   "    fcntl.fcntl(out, 1031, 1 << 20)\n"
                   "    msg = json.dumps({'op': 'call', 'target': {'ref': ref, 'method': 'permutation'}, 'args': [1000000], 'kwargs': {}}).encode()\n"
                   "    os.write(out, (struct.pack('>Q', len(msg)) + msg) * 600)  # 600 calls back, read ahead\n"
                   "    inp = os.open('/io/to_kernel', os.O_RDONLY)\n"
                   "    threading.Thread(target=lambda: [os.read(inp, 1 << 20) for _ in iter(int, 1)], daemon=True).start()\n"
                   "    time.sleep(600)"),
    "shuffle_memory": ("def sgd_epoch(params, X, y, lr, batch_size, rng):\n"
                       "    big = np.zeros(4 * 2**20, dtype=bool)\n"
                       "    for _ in range(40):\n"
                       "        try:\n"
                       "            rng.shuffle(big)\n"
                       "        except Exception:\n"
                       "            rng.permutation(10**6)"),
    "fills_tmp": ("import os\nblock = os.urandom(2**20) * 50\n"
                  "for i in range(12):\n"
                  "    open(f'/tmp/fill{i}', 'wb').write(block)  # 600 MB of memory, over the limit set below"),
    "links_in_io": ("import os\n"
                    "for name, target in (('to_kernel', '/tmp/tp-hostile-victim'), ('from_kernel', '/tmp/tp-hostile-victim'),\n"
                    "                     ('status.json', '/etc/shadow'),\n"
                    "                     ('executed.ipynb', '/work/main/notebooks/01_numpy_one_hidden_layer.ipynb')):\n"
                    "    try:\n"
                    "        os.remove('/io/' + name)\n"
                    "    except OSError:\n"
                    "        pass\n"
                    "    os.symlink(target, '/io/' + name)"),
    "leaky_error": ("import os, glob\n"
                    "def relu(z):\n"
                    "    seen = dict(os.environ)\n"
                    "    for p in glob.glob('/root/*') + glob.glob('/proc/*/environ') + glob.glob('/proc/*/cmdline'):\n"
                    "        try:\n            seen[p] = open(p, 'rb').read(2000)\n        except OSError:\n            pass\n"
                    "    raise ValueError(repr(seen))"),
    "other_students": ("import glob\n"
                       "found = [p for d in ('/work', '/root', '/home', '/tmp', '/io', '/grader')\n"
                       "         for p in glob.glob(d + '/**/*.ipynb', recursive=True) if 'in.ipynb' not in p]\n"
                       "def relu(z):\n"
                       "    raise ValueError(repr([open(p).read()[-3000:] for p in found][:5]))"),
}


# Notebook 03, whose self-checks hand the student's code models, loaders and classes: each check
# is a probe (in the kernel, data only) and a judge (in the grader). The tricks that change how
# the kernel runs its checks, on a blank 03, must earn nothing there either.
NAME_03 = "03_pytorch.ipynb"
HEAD_03 = ("import numpy as np\nimport torch\nimport torch.nn.functional as F\nfrom torch import nn\n\n"
           "from utils import checks\n\ndevice = 'cpu'")
TRICKS_03 = {name: TRICKS[name] for name in ("exc_handler", "patched_checks", "patched_core", "rewritten_cells")}
TRICKS_03["forged_probes"] = (  # the probes in the kernel replaced: they answer what a right model would show
    "import utils.checks as c\n"
    "def _probe(fn, device, *data):\n"
    "    sizes = data[0] if isinstance(data[0], list) else [784, 7, 10]\n"
    "    n = next((len(d) for d in data if isinstance(d, np.ndarray) and d.ndim == 2), 16)\n"
    "    out = {'kind': 'tensor', 'value': np.zeros((n, sizes[-1]))}\n"
    "    return {'kind': 'module', 'shapes': [list(p) for p in zip(sizes[:-1], sizes[1:])], 'no_bias': [],\n"
    "            'n_params': sum(m * n + n for m, n in zip(sizes[:-1], sizes[1:])), 'out': out, **out,\n"
    "            'result': [2.3, 0.1], 'seen_grad': [False], 'seen_training': [False], 'training_after': True,\n"
    "            'after': [np.zeros((7, 784)), np.zeros(7), np.zeros((10, 7)), np.zeros(10)], 'wiped': False,\n"
    "            'served': True, 'moved_x': True, 'moved_y': True}\n"
    "for n in dir(c):\n"
    "    if n.startswith('probe_'):\n"
    "        setattr(c, n, _probe)")
TRICKS_03["probes_from_helpers"] = (  # forged probes that compute the right data with the course's helpers
    "import utils.checks as c\n"
    "from utils.checks import torch_net as T, networks as N\n"
    "def _logits(X, params): return {'kind': 'tensor', 'value': N.layer_values(X, params)['z'][-1]}\n"
    "c.probe_two_layer_net = lambda fn, dev, sizes, params, X: _logits(X, params)\n"
    "c.probe_train_epoch = lambda fn, dev, params, X, y, bs, lr: {'after': T._reference_epoch(params, X, y, bs, lr),\n"
    "    'wiped': False, 'served': True, 'moved_x': True, 'moved_y': True}\n"
    "def _ev(fn, dev, W, b, X, y):\n"
    "    p = N.activate('softmax', X.astype(float) @ W + b)\n"
    "    return {'result': [float(-np.log(p[np.arange(len(y)), y]).mean()), float((p.argmax(1) == y).mean())],\n"
    "            'requires_grad': False, 'seen_grad': [False], 'seen_training': [False], 'training_after': True}\n"
    "c.probe_evaluate = _ev\n"
    "c.probe_deep_network = lambda fn, dev, sizes, params, X: {'kind': 'module', 'no_bias': [],\n"
    "    'shapes': [[m, n] for m, n in zip(sizes[:-1], sizes[1:])], 'n_params': sum(p.size for p in params),\n"
    "    'out': _logits(X, params)}")
TRICKS_03["course_wrappers"] = (  # at the end: one-line wrappers of the grader's copy of the course
    "from utils import train\n"
    "from utils.checks import torch_net\n"
    "evaluate = lambda model, x, y: train._evaluate_torch(model, torch.as_tensor(x), torch.as_tensor(y))\n"
    "deep_network = lambda sizes: torch_net._one_hidden_layer([a for m, n in zip(sizes[:-1], sizes[1:])\n"
    "                                                          for a in (np.zeros((m, n), np.float32), np.zeros(n, np.float32))])")
AT_END_03 = {"course_wrappers"}


def _trimmed_03(nb):
    out = _trimmed(nb)
    out.cells[0].source = HEAD_03
    return out


def _submissions(folder: Path) -> dict:
    solved_full = nbformat.read(ROOT / "notebooks" / NAME, as_version=4)
    solved = _trimmed(solved_full)
    blank, _ = student.student_notebook(solved_full, NAME, "owner/name", "student")
    blank = _trimmed(blank)
    table = _visible_softmax_answers()
    tricks = dict(TRICKS, hard_coded=(
        "import hashlib, json\n"
        f"_ANSWERS = json.loads({json.dumps(json.dumps(table))})\n"
        "def softmax(z):\n"
        "    key = hashlib.sha1(np.ascontiguousarray(z).tobytes()).hexdigest()\n"
        "    return np.array(_ANSWERS[key]) if key in _ANSWERS else np.full(np.shape(z), 0.1)"))

    def hand_in(who, nb):
        (folder / who).mkdir(parents=True)
        nbformat.write(nb, folder / who / NAME)

    hand_in("a_solved", _with(solved, f"# {SECRET}"))
    hand_in("a_blank", blank)
    mistake = _replace(solved, "softmax_solution", "def softmax(z):\n    e = np.exp(z - z.max(axis=0))\n"
                                                   "    return e / e.sum(axis=0)")
    hand_in("a_mistake", mistake)
    for name, code in tricks.items():
        hand_in(f"h_{name}", _with(blank, code, -1 if name in AT_END else 1))
    full_03 = nbformat.read(ROOT / "notebooks" / NAME_03, as_version=4)
    solved_03 = _trimmed_03(full_03)
    blank_03 = _trimmed_03(student.student_notebook(full_03, NAME_03, "owner/name", "student")[0])
    softmax_out = ("class TwoLayerNet(nn.Module):\n    def __init__(self, D_in, H, D_out):\n        super().__init__()\n"
                   "        self.linear1 = nn.Linear(D_in, H)\n        self.linear2 = nn.Linear(H, D_out)\n\n"
                   "    def forward(self, x):\n        return torch.softmax(self.linear2(self.linear1(x).clamp(min=0)), dim=1)")
    for who, nb in (("b_solved", solved_03), ("b_blank", blank_03),
                    ("b_mistake", _replace(solved_03, "two_layer_net_solution", softmax_out)),
                    *((f"h3_{name}", _with(blank_03, code, -1 if name in AT_END_03 else 1))
                      for name, code in TRICKS_03.items())):
        (folder / who).mkdir(parents=True)
        nbformat.write(nb, folder / who / NAME_03)
    # a student's folder that is a link to another's, and one whose name is not UTF-8
    os.symlink(folder / "a_solved", folder / "h_symlink_folder")
    (folder / "h_link_file").mkdir()
    os.symlink(folder / "a_solved" / NAME, folder / "h_link_file" / NAME)
    odd = os.fsencode(folder) + b"/h_\xff\xfename"
    os.mkdir(odd)
    nbformat.write(blank, os.fsdecode(odd + b"/" + NAME.encode()))
    (folder / "h_empty").mkdir()
    for name, nb in (("h_tab\tname", solved), ("h_tab?name", blank)):  # both shown as h_tab?name
        (folder / name).mkdir()
        nbformat.write(nb, folder / name / NAME)
    return tricks


def _tree(path: Path) -> dict:
    """Every file under ``path`` (ignored ones included): its size and modification time."""
    out = {}
    for top, dirs, files in os.walk(path):
        dirs[:] = [d for d in dirs if d not in (".git", ".venv", ".venv-lowest", ".venv-newest", "build",
                                                 "results", ".pytest_cache", "tests")]
        for name in files:
            p = Path(top) / name
            try:
                st = p.lstat()
            except OSError:
                continue
            out[str(p)] = (st.st_size, st.st_mtime_ns)
    return out


def _rows(out: Path) -> dict:
    with open(out / "grades.csv", newline="") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    try:
        sandbox.check()
    except sandbox.Unavailable as err:
        pytest.fail(f"the grader's sandbox is not available: {err} (make sandbox installs it)")
    import compileall

    # every module's bytecode written now, as any import here or in another test would write it,
    # so that the trees compared below change only if a submission changed them
    for folder in (ROOT / "utils", ROOT / "tools"):
        compileall.compile_dir(folder, quiet=1)

    VICTIM.write_text("the grader's own file")
    folder = tmp_path_factory.mktemp("hostile")
    tricks = _submissions(folder)
    out = tmp_path_factory.mktemp("grades") / "grades"
    before = {p: _tree(p) for p in (ROOT / "utils", ROOT / "tools", ROOT / "notebooks", ROOT / "data")}
    os.environ["TP_HOSTILE_SECRET"] = SECRET
    limit, grade.FILES_LIMIT = grade.FILES_LIMIT, 256 * 2**20  # what fills_tmp passes, kept small here
    start = time.monotonic()
    status = []
    argv = [str(folder), "--out", str(out), "--cell-timeout", str(CELL_TIMEOUT), "--timeout", str(TIMEOUT),
            "--judge-timeout", str(JUDGE_TIMEOUT), "--jobs", "2"]
    runner = threading.Thread(target=lambda: status.append(grade.main(argv)), daemon=True)
    try:
        runner.start()
        runner.join(900)  # a grader that hangs fails here, not after CI's own time limit
    finally:
        os.environ.pop("TP_HOSTILE_SECRET", None)
        grade.FILES_LIMIT = limit
    assert status == [0], "the grader hung or failed"
    seconds = time.monotonic() - start
    time.sleep(5)  # the detached process would have written by now
    after = {p: _tree(p) for p in before}
    # then a blank submission, graded after all of them
    later = tmp_path_factory.mktemp("later")
    (later / "z_blank").mkdir()
    blank, _ = student.student_notebook(nbformat.read(ROOT / "notebooks" / NAME, as_version=4), NAME, "o/n", "s")
    nbformat.write(_trimmed(blank), later / "z_blank" / NAME)
    later_out = tmp_path_factory.mktemp("later-grades") / "grades"
    assert grade.main([str(later), "--out", str(later_out), "--cell-timeout", str(CELL_TIMEOUT),
                       "--timeout", str(TIMEOUT)]) == 0
    return {"out": out, "rows": _rows(out), "tricks": tricks, "before": before, "after": after,
            "later": _rows(later_out), "seconds": seconds}


def _total(row) -> float:
    return float(row["total"])


def test_honest_submissions_keep_their_marks(hostile):
    rows = hostile["rows"]
    assert _total(rows["a_solved"]) == 15 == float(rows["a_solved"]["max"])
    assert _total(rows["a_blank"]) == 0
    mistake = rows["a_mistake"]
    assert mistake["01:softmax"] == "0" and _total(mistake) < 15
    lost = {k for k, v in mistake.items() if k.startswith("01:") and v == "0"}
    assert "01:softmax" in lost and "01:relu" not in lost  # what does not call softmax keeps its point
    feedback = (hostile["out"] / "feedback" / "a_mistake" / "01_numpy_one_hidden_layer.md").read_text()
    assert "softmax" in feedback and "axis" in feedback  # the self-check's diagnosis, from the judge
    assert "- **relu** (1/1, *judged*): passed" in feedback


def test_notebook_03_is_judged_outside_the_kernel(hostile):
    """03's checks hand the student's code models and loaders: the probe runs them in the kernel and
    sends back data, the judge decides in the grader. Solved 4/4, blank 0, one mistake loses its
    exercise with the self-check's diagnosis, and the kernel tricks on a blank earn nothing."""
    rows = hostile["rows"]
    assert _total(rows["b_solved"]) == 4 == float(rows["b_solved"]["max"])
    assert _total(rows["b_blank"]) == 0
    assert rows["b_mistake"]["03:two_layer_net"] == "0" and _total(rows["b_mistake"]) == 3
    feedback = (hostile["out"] / "feedback" / "b_mistake" / "03_pytorch.md").read_text()
    assert "softmax" in feedback and "*judged*" in feedback
    for name in TRICKS_03:
        row = rows[f"h3_{name}"]
        assert _total(row) == 0, (name, {k: v for k, v in row.items() if v not in ("0", "")})


@pytest.mark.parametrize("trick", sorted(TRICKS))
def test_a_trick_earns_nothing(hostile, trick):
    """Zero points (its exercises are blank), however the trick tried to change that."""
    row = hostile["rows"][f"h_{trick}"]
    assert _total(row) == 0, {k: v for k, v in row.items() if v not in ("0", "")}


def test_at_least_twenty_tricks_were_tried(hostile):
    assert len(hostile["tricks"]) >= 20


def test_hard_coded_answers_pass_the_visible_inputs_only(hostile):
    feedback = (hostile["out"] / "feedback" / "h_hard_coded" / "01_numpy_one_hidden_layer.md").read_text()
    assert "not on the grader's other inputs" in feedback


def test_nothing_outside_the_sandbox_changed(hostile):
    for target in TARGETS:
        assert not target.exists(), target
    assert VICTIM.read_text() == "the grader's own file"  # links in /io are not followed
    assert hostile["before"] == hostile["after"]
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert MARKER not in ps  # the detached process died with its sandbox
    assert "sleep 600" not in ps  # and the fork bomb's children


def test_a_blank_graded_after_them_scores_nothing(hostile):
    assert _total(hostile["later"]["z_blank"]) == 0


def test_feedback_never_holds_the_graders_secrets_or_another_students_work(hostile):
    for page in (hostile["out"] / "feedback").rglob("*.md"):
        if page.parent.name == "a_solved":
            continue
        text = page.read_text()
        assert SECRET not in text, page
        assert "BEGIN SOLUTION" not in text, page
        assert len(text) < 40_000, page  # bounded excerpts


def test_links_odd_names_and_empty_folders_are_reported(hostile):
    rows, skipped = hostile["rows"], (hostile["out"] / "skipped.txt").read_text()
    assert "h_symlink_folder" not in rows and "h_symlink_folder: a symbolic link, not followed" in skipped
    assert "h_link_file" not in rows and "h_link_file/01_numpy_one_hidden_layer.ipynb: a symbolic link" in skipped
    assert "h_empty: no notebook of the course" in skipped
    odd = [k for k in rows if k.startswith("h_??name~")]
    assert len(odd) == 1 and _total(rows[odd[0]]) == 0  # graded, under a name that can be written
    tabs = sorted((k, _total(rows[k])) for k in rows if k.startswith("h_tab?name~"))
    assert len(tabs) == 2 and sorted(t for _, t in tabs) == [0, 15]  # two students, two rows, two pages
    for key, total in tabs:
        page = (hostile["out"] / "feedback" / key / "01_numpy_one_hidden_layer.md").read_text()
        assert f"**Self-checks: {total:g} / 15 points**" in page


def test_the_stopping_tricks_are_named(hostile):
    def feedback(who):
        return (hostile["out"] / "feedback" / who / "01_numpy_one_hidden_layer.md").read_text()

    assert "would not stop" in feedback("h_sigint_ignored")
    assert "MiB of files" in feedback("h_fills_tmp") and "was stopped" in feedback("h_fills_tmp")
    assert "not judged" in feedback("h_kill_parent") or "did not answer" in feedback("h_kill_parent")

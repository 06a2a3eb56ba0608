"""Instructor tooling: the course book, the Colab links and setup cell, and the test session
itself (tests/conftest.py: results go to a temporary folder). The student edition and its
publication: tests/test_student.py; grading: tests/test_grade.py."""

import ast
import importlib.util
import json
import os
import re
import shutil
import site
import subprocess
import sys
import tempfile
import types
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import book  # noqa: E402
import colab  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


# --- the course book ------------------------------------------------------------------------
# It executes small fixture notebooks: the real ones already run under nbval.

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def test_the_course_book_executes_a_notebook_with_its_figures(tmp_path, capsys):
    status = book.main(["--src", str(FIXTURES / "book"), "--only", "01_tiny",
                        "--out", str(tmp_path / "html")])  # tools/book.py, in this process
    assert status == 0, capsys.readouterr().out
    page = (tmp_path / "html" / "01_tiny.html").read_text()
    assert "data:image/png;base64" in page  # the figure is in the page
    assert "tiny notebook, quick mode" in page or "tiny notebook, full mode" in page
    index = (tmp_path / "html" / "index.html").read_text()
    assert "<a href='01_tiny.html'>A tiny notebook</a>" in index
    assert re.search(r"<td>\d+ s</td><td>ok</td>", index), index


def test_the_course_book_marks_a_failing_notebook_and_exits_1(tmp_path):
    # as a command, from another folder: book.py finds utils without editing sys.path
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    command = [sys.executable, str(ROOT / "tools" / "book.py"), "--src", str(FIXTURES / "book"),
               "--only", "02_fails", "--out", str(tmp_path / "html")]
    out = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert out.returncode == 1, out.stdout[-2000:] + out.stderr[-2000:]
    assert "FAILED: RuntimeError: this notebook fails on purpose" in out.stdout
    page = (tmp_path / "html" / "02_fails.html").read_text()
    assert "before the error" in page  # what ran,
    assert "this notebook fails on purpose" in page  # and why it stopped
    index = (tmp_path / "html" / "index.html").read_text()
    failed = r"<td>\d+ s</td><td>failed: RuntimeError: this notebook fails on purpose</td>"
    assert re.search(failed, index), index


def test_the_course_book_says_when_no_notebook_matches(tmp_path, capsys):
    assert book.main(["--src", str(FIXTURES / "book"), "--only", "99", "--out", str(tmp_path / "html")]) == 2
    assert "no notebook in" in capsys.readouterr().err and not (tmp_path / "html").exists()


def test_the_fixture_notebooks_are_stored_clean():
    for path in FIXTURES.rglob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        assert all(c.get("outputs", []) == [] and c.get("execution_count") is None
                   for c in nb.cells if c.cell_type == "code"), path
        assert all(set(c.metadata) <= {"tags", "nbgrader"} for c in nb.cells), path


# --- a test run leaves no trace (tests/conftest.py) ---------------------------------------


@pytest.mark.parametrize("workers", [[], ["-n", "1"]], ids=["one process", "xdist"])
def test_notebooks_under_nbval_write_their_results_to_a_temporary_folder(tmp_path, workers):
    """As make test runs the notebooks (nbval, pytest-xdist), and with TP_RESULTS_DIR unset."""
    env = {k: v for k, v in os.environ.items() if k != "TP_RESULTS_DIR"} | {"TMPDIR": str(tmp_path)}
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--nbval-lax", "--nbval-current-env",
               *workers, str(FIXTURES / "results_probe.ipynb")]
    out = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    (folder,) = [p for p in tmp_path.iterdir() if p.name.startswith("tp-results-")]
    assert f"results (TP_RESULTS_DIR): {folder}" in out.stdout
    assert (folder / "probe" / "probe.txt").is_file()
    assert not (ROOT / "results" / "probe").exists()


@pytest.mark.parametrize("caller", [None, "mine"])
def test_a_results_folder_chosen_by_the_caller_is_kept(pytestconfig, tmp_path, monkeypatch, caller):
    conftest = pytestconfig.pluginmanager.get_plugin(str(Path(__file__).with_name("conftest.py")))
    fake = types.SimpleNamespace(stash=pytest.Stash())
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
    if caller:
        monkeypatch.setenv("TP_RESULTS_DIR", str(tmp_path / caller))
    else:
        monkeypatch.delenv("TP_RESULTS_DIR")
    conftest.pytest_configure(fake)
    chosen = Path(os.environ["TP_RESULTS_DIR"])
    if caller:
        assert chosen == tmp_path / caller
    else:  # a fresh folder in the system's temporary folder
        assert chosen.parent == tmp_path and chosen.name.startswith("tp-results-")
        assert chosen.is_dir() and not any(chosen.iterdir())
    conftest.pytest_unconfigure(fake)
    assert os.environ.get("TP_RESULTS_DIR") == (str(tmp_path / caller) if caller else None)


# --- Colab --------------------------------------------------------------------------------------


def test_every_badge_and_setup_cell_matches_the_setting():
    """Fails until `make badges` has written tools/colab.py's setup cell into every notebook."""
    assert colab.problems() == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_setup_cell_of_every_notebook_is_the_template(path):
    """Fails until `make badges` has written tools/colab.py's setup cell into every notebook."""
    repository, branch = colab.setting()
    assert _setup_cell(path) == colab.setup_cell(repository, branch)


def test_a_changed_setting_makes_every_badge_and_setup_cell_stale(monkeypatch):
    monkeypatch.setattr(colab, "setting", lambda: ("someone/else", "main"))
    found = colab.problems()
    assert sum("first cell's badge" in line for line in found) == len(NOTEBOOKS)
    assert sum("Colab setup cell is stale" in line for line in found) == len(NOTEBOOKS)


def test_check_reports_a_stale_setup_cell_and_make_badges_rewrites_it(monkeypatch, tmp_path, capsys):
    (tmp_path / "notebooks").mkdir()
    repository, branch = colab.setting()
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# 01 · A\n\n" + colab.badge("01_a.ipynb", repository, branch)),
        nbformat.v4.new_code_cell('import sys\nif "google.colab" in sys.modules:\n    pass  # an old one'),
        nbformat.v4.new_code_cell("x = 1")])
    nbformat.write(nb, tmp_path / "notebooks" / "01_a.ipynb")
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    (tmp_path / "README.md").write_text(colab.badge("01_a.ipynb", repository, branch))
    monkeypatch.setattr(colab, "ROOT", tmp_path)
    assert colab.main(["--check"]) == 1
    assert "01_a.ipynb: the Colab setup cell is stale" in capsys.readouterr().out
    assert colab.main([]) == 0
    written = nbformat.read(tmp_path / "notebooks" / "01_a.ipynb", as_version=4)
    assert written.cells[1].source == colab.setup_cell(repository, branch)
    assert written.cells[2].source == "x = 1"


def test_a_badge_to_a_missing_notebook_is_caught(monkeypatch, tmp_path):
    readme = (ROOT / "README.md").read_text() + "\n" + colab.badge("99_gone.ipynb", *colab.setting())
    fake_root = tmp_path
    (fake_root / "notebooks").symlink_to(ROOT / "notebooks")
    (fake_root / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    (fake_root / "README.md").write_text(readme)
    monkeypatch.setattr(colab, "ROOT", fake_root)
    assert any("99_gone.ipynb, which is not in notebooks/" in line for line in colab.problems())


def _setup_cell(path):
    nb = nbformat.read(path, as_version=4)
    return next(c.source for c in nb.cells if c.cell_type == "code" and "google.colab" in c.source)


COURSE = "/content/tp-deep-learning"
SITE = "/usr/local/lib/python3/dist-packages"


def _simulate_colab(monkeypatch, tmp_path, *, course_has=None, codecarbon="missing", clone_fails=False):
    """Run the template setup cell as on Colab, with a temporary folder for /content/tp-deep-learning
    holding ``course_has`` (None: no folder), CodeCarbon ``missing`` / ``there`` / ``failing``.
    A clone copies the course's tools/colab_setup.py, which the cell then runs. Returns the events
    (commands run, folders added, chdir) and the course folder."""
    course = tmp_path / "content" / "tp-deep-learning"
    if course_has is not None:
        course.mkdir(parents=True)
        for name in course_has:
            (course / name).mkdir()
            (course / name / "left-over").write_text("from an earlier run")
        (course / "tools").mkdir(exist_ok=True)
        shutil.copy(ROOT / "tools" / "colab_setup.py", course / "tools")
    events = []

    def run(cmd, check=False, **kw):
        events.append(("run", [str(c) for c in cmd]))
        if cmd[:2] == ["git", "clone"]:
            if clone_fails:  # what subprocess.run(check=True) raises; git has printed its message
                raise subprocess.CalledProcessError(128, cmd)
            for name in ("notebooks", "utils", ".git", "tools"):
                Path(cmd[-1], name).mkdir(parents=True)
            shutil.copy(ROOT / "tools" / "colab_setup.py", Path(cmd[-1], "tools"))
        if cmd[-1] == "codecarbon" and codecarbon == "failing":
            return subprocess.CompletedProcess(cmd, 1, "", "ERROR: No matching distribution found for "
                                               "codecarbon\n")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "google", types.ModuleType("google"))
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setattr(subprocess, "run", run)
    monkeypatch.setattr(os, "chdir", lambda folder: events.append(("chdir", str(folder))))
    monkeypatch.setattr(site, "getsitepackages", lambda *a: [SITE])
    monkeypatch.setattr(site, "addsitedir", lambda folder, *a: events.append(("addsitedir", folder)))
    real_find_spec = importlib.util.find_spec
    there = object() if codecarbon == "there" else None
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: there if name == "codecarbon"
                        else real_find_spec(name, *a))
    cell = colab.setup_cell(*colab.setting())
    assert f'COURSE = "{COURSE}"' in cell
    exec(cell.replace(f'COURSE = "{COURSE}"', f"COURSE = {str(course)!r}"), {})
    return events, course


@pytest.mark.parametrize("runtime", ["fresh", "already cloned", "partial clone", "codecarbon fails"])
def test_the_setup_cell_on_simulated_colab(runtime, monkeypatch, tmp_path, capsys):
    course_has = {"fresh": None, "already cloned": ["notebooks", "utils"], "partial clone": [".git", "utils"],
                  "codecarbon fails": None}[runtime]
    codecarbon = {"already cloned": "there", "codecarbon fails": "failing"}.get(runtime, "missing")
    events, course = _simulate_colab(monkeypatch, tmp_path, course_has=course_has, codecarbon=codecarbon)
    printed = capsys.readouterr().out.splitlines()
    repository, branch = colab.setting()
    url = f"https://github.com/{repository}"
    clone = [("run", ["git", "clone", "-q", "--depth", "1", "--branch", branch, url, str(course)])]
    install = [("run", [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "-e", str(course)]),
               ("addsitedir", SITE),  # the running kernel sees the install
               ("chdir", f"{course}/notebooks")]
    pip_codecarbon = [("run", [sys.executable, "-m", "pip", "install", "-q", "codecarbon"])]
    installed = f"Colab: installed the course from {course}"
    if runtime == "already cloned":
        assert events == install
        assert printed == [f"{installed}, CodeCarbon already there."]
    else:
        assert events == clone + install + pip_codecarbon
        assert (course / "notebooks").is_dir() and not (course / "utils" / "left-over").exists()
    if runtime in ("fresh", "partial clone"):
        assert printed == [f"{installed}, installed CodeCarbon."]
    if runtime == "codecarbon fails":
        assert printed == [f"{installed}, CodeCarbon could not be installed (ERROR: No matching distribution "
                           "found for codecarbon): no energy figures."]
    assert not any(pkg in " ".join(map(str, event[1])) for event in events for pkg in ("tensorflow", "torch"))


def test_a_failed_clone_stops_the_cell(monkeypatch, tmp_path):
    """git prints its own message in the cell's output; the cell stops there, nothing is installed."""
    with pytest.raises(subprocess.CalledProcessError):
        _simulate_colab(monkeypatch, tmp_path, clone_fails=True)


def test_the_setup_cell_outside_colab_does_nothing(monkeypatch, capsys):
    commands = []
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: commands.append(cmd))
    namespace = {}
    exec(colab.setup_cell(*colab.setting()), namespace)
    assert commands == [] and capsys.readouterr().out == ""
    assert set(namespace) - {"__builtins__"} == {"sys"}


def test_the_setup_cell_is_folded_short_and_nothing_depends_on_its_names():
    """At most 10 lines, a Colab form hidden in JupyterLab; no later cell of a notebook uses a name
    the cell defines on Colab (os, sys, ...) without defining it itself: outside Colab they are
    not there."""
    cell = colab.setup_cell(*colab.setting())
    assert len(cell.splitlines()) <= 10 and cell.startswith("# @title ")
    setup_names = {"sys", "os", "runpy", "shutil", "subprocess", "COURSE"}
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        index = colab._setup_index(nb)
        assert nb.cells[index].metadata["cellView"] == "form", path.name
        assert nb.cells[index].metadata["jupyter"] == {"source_hidden": True}, path.name
        loaded, bound = set(), set()
        for cell in nb.cells[index + 1:]:
            if cell.cell_type != "code":
                continue
            for node in ast.walk(ast.parse(cell.source)):
                if isinstance(node, ast.Name):
                    (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)
                elif isinstance(node, (ast.Import, ast.ImportFrom)):
                    bound |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
                elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                    bound.add(node.name)
                elif isinstance(node, ast.arg):
                    bound.add(node.arg)
        assert not (setup_names & loaded) - bound, f"{path.name} uses {(setup_names & loaded) - bound}"


# --- the course is installed, editable: no sys.path edits -----------------------------------


def _import_statements(source: str) -> str:
    return "\n".join(ast.unparse(node) for node in ast.parse(source).body
                     if isinstance(node, (ast.Import, ast.ImportFrom)))


def test_the_import_cell_works_from_any_folder_without_editing_sys_path(tmp_path):
    """The cell after the setup cell imports utils from the installed course (pip install -e .),
    from any working folder: this is what notebooks/, build/student/ and Colab rely on."""
    for path in NOTEBOOKS:
        for cell in nbformat.read(path, as_version=4).cells:
            assert cell.cell_type != "code" or "sys.path" not in cell.source, f"{path.name} edits sys.path"
    nb = nbformat.read(ROOT / "notebooks" / "01_numpy_one_hidden_layer.ipynb", as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    assert "google.colab" in code[0] and "from utils import" in code[1]
    program = _import_statements(code[1]) + "\nimport utils\nprint(utils.__file__)"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, "-c", program], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert Path(out.stdout.strip().splitlines()[-1]) == ROOT / "utils" / "__init__.py"


# The Colab setup cell, for real, in a running Python: a throwaway virtual environment
# stands for Colab's, a copy of the course for the clone. Only two things differ from Colab:
# no git clone (the copy is there), and pip builds the editable install offline with this
# environment's setuptools (--no-build-isolation) instead of downloading it.
CHILD = """
import importlib.util, json, os, subprocess, sys, types

setup_cell, course, main_python, build_path = json.loads(sys.argv[1])
assert importlib.util.find_spec("utils") is None  # a kernel started before the install
sys.modules["google"] = types.ModuleType("google")
sys.modules["google.colab"] = types.ModuleType("google.colab")
real_run, commands = subprocess.run, []

def run(cmd, **kw):
    commands.append(cmd)
    if "-e" not in cmd:  # codecarbon: not installed here
        return subprocess.CompletedProcess(cmd, 0)
    offline = [main_python, "-m", "pip", "--python", cmd[0], *cmd[3:], "--no-build-isolation",
               "--disable-pip-version-check"]
    return real_run(offline, env={**os.environ, "PYTHONPATH": build_path}, **kw)

subprocess.run = run
exec(setup_cell, {})
import utils
from utils import config
print(json.dumps({"utils": utils.__file__, "mode": config.mode(), "cwd": os.getcwd(), "commands": commands}))
"""


def test_the_setup_cell_installs_the_course_into_a_running_python(tmp_path):
    from importlib.metadata import version

    if tuple(int(x) for x in version("pip").split(".")[:2]) < (22, 3):
        pytest.skip("pip >= 22.3 is needed for --python")
    setuptools = importlib.util.find_spec("setuptools")  # found, not imported (it patches distutils)
    if setuptools is None:
        pytest.skip("setuptools is needed to build the editable install offline")
    if tuple(int(x) for x in version("setuptools").split(".")[:2]) < (70, 1):
        # before 70.1 setuptools needs the separate `wheel` package to build; the real setup
        # cell and `make` use pip's build isolation, which fetches a current setuptools
        pytest.skip("building offline with this environment's setuptools needs setuptools >= 70.1")
    course = tmp_path / "tp-deep-learning"
    shutil.copytree(ROOT / "utils", course / "utils", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", course)
    (course / "tools").mkdir()
    shutil.copy(ROOT / "tools" / "colab_setup.py", course / "tools")
    (course / "notebooks").mkdir()
    build_path = tmp_path / "build-backend"  # setuptools alone, for pip's offline build
    build_path.mkdir()
    packages = Path(setuptools.origin).parent.parent
    for name in ["setuptools", "pkg_resources", "_distutils_hack", *[p.name for p in
                 packages.glob("setuptools-*.dist-info")]]:
        if (packages / name).exists():
            (build_path / name).symlink_to(packages / name)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "venv")], check=True)
    python = tmp_path / "venv" / "bin" / "python"
    cell = colab.setup_cell(*colab.setting())
    assert f'COURSE = "{COURSE}"' in cell
    cell = cell.replace(f'COURSE = "{COURSE}"', f"COURSE = {str(course)!r}")
    (tmp_path / "elsewhere").mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TP_QUICK")}
    out = subprocess.run([str(python), "-c", CHILD, json.dumps([cell, str(course), sys.executable,
                          str(build_path)])], cwd=tmp_path / "elsewhere", env=env,
                         capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert Path(result["utils"]) == course / "utils" / "__init__.py"  # the copy, not this repository
    assert result["mode"] == "full" and Path(result["cwd"]) == course / "notebooks"
    assert [c[-2:] for c in result["commands"]] == [["-e", str(course)], ["-q", "codecarbon"]]
    assert list((tmp_path / "venv").glob("lib/python*/site-packages/__editable__*tp_deep_learning*.pth"))


# --- the setting in pyproject.toml --------------------------------------------------------------


@pytest.mark.parametrize("text, message", [
    ("[project]\nname = 'x'\n", r"no \[tool.course\] table; add:\n\[tool.course\]\nrepository = "),
    ("[tool.course]\nbranch = 'main'\n", r"\[tool.course\] has no repository key; add:"),
    ("[tool.course]\nrepository = 'https://github.com/a/b'\n", "is not \"owner/name\""),
    ("[tool.course\nrepository = 'a/b'\n", "is not valid TOML"),
])
def test_a_missing_or_wrong_setting_says_what_to_write(tmp_path, text, message):
    (tmp_path / "pyproject.toml").write_text(text)
    with pytest.raises(colab.SettingError, match=message):
        colab.setting(tmp_path / "pyproject.toml")


def test_the_setting_is_read_with_a_toml_parser(tmp_path, monkeypatch, capsys):
    (tmp_path / "pyproject.toml").write_text(
        "[tool.course]  # where the course lives\nbranch = 'dev'\nrepository = \"me/my-course\"  # a fork\n"
        "[tool.other]\nrepository = 'not/this'\n")
    assert colab.setting(tmp_path / "pyproject.toml") == ("me/my-course", "dev")
    (tmp_path / "pyproject.toml").write_text("[tool.course]\nrepository = 'me/my-course'\n")
    assert colab.setting(tmp_path / "pyproject.toml") == ("me/my-course", "main")
    (tmp_path / "pyproject.toml").write_text("[tool]\n")
    monkeypatch.setattr(colab, "ROOT", tmp_path)
    assert colab.main(["--check"]) == 2  # and nothing is written
    assert "nothing written" in capsys.readouterr().err


def test_answers_lists_the_functions_of_the_course_that_pass_a_self_check(capsys):
    """tools/answers.py hands every function of utils to a check: in the instructor's course, where
    utils/reference.py holds notebook 01's answers, relu passes check_relu and nothing passes the
    check of most_confident_mistakes; and no module of utils/checks imports utils.reference."""
    import ast

    import answers

    modules = ("utils.reference", "utils.data", "utils.checks.core", "utils.checks.networks",
               "utils.checks.numpy_net")  # the NumPy ones: the tool tries every module (make answers)
    assert answers.count(ROOT, ["check_relu", "check_most_confident_mistakes"], modules) == {
        "check_relu": ["utils.reference.relu"], "check_most_confident_mistakes": []}
    assert "check_relu: utils.reference.relu" in capsys.readouterr().out
    for path in (ROOT / "utils" / "checks").glob("*.py"):
        imported = {(node.module, alias.name) for node in ast.walk(ast.parse(path.read_text()))
                    if isinstance(node, ast.ImportFrom) for alias in node.names}
        assert ("utils", "reference") not in imported, path
        assert not any(module == "utils.reference" for module, _ in imported), path

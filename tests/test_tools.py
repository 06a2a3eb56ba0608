"""Instructor tooling: the student edition, the course book and the Colab links."""

import importlib.util
import os
import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import colab  # noqa: E402
import student  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
WITH_EXERCISES = [p for p in NOTEBOOKS if "### BEGIN SOLUTION" in p.read_text()]


# --- the marker parser ------------------------------------------------------------------


def test_a_region_becomes_nbgraders_stub_at_its_indentation():
    source = ("def f(x):\n    '''doc'''\n    ### BEGIN SOLUTION\n    y = x + 1\n    return y\n"
              "    ### END SOLUTION\n")
    out, n = student.blank(source, "nb, cell 0")
    assert n == 1
    assert out == "def f(x):\n    '''doc'''\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    md, n = student.blank("Why?\n### BEGIN SOLUTION\nBecause.\n### END SOLUTION", "nb, cell 1", markdown=True)
    assert (md, n) == ("Why?\nYOUR ANSWER HERE", 1)


@pytest.mark.parametrize("source, message", [
    ("### BEGIN SOLUTION\nx = 1\n", "line 1: BEGIN SOLUTION is never closed"),
    ("x = 1\n### END SOLUTION\n", "line 2: END SOLUTION without a BEGIN"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\nx\n### END SOLUTION\n", "line 2: nested BEGIN SOLUTION"),
    ("### BEGIN HIDDEN TESTS\nassert x\n### END HIDDEN TESTS\n", "line 1: unknown marker"),
    ("## BEGIN SOLUTION\nx = 1\n## END SOLUTION\n", "line 1: malformed marker"),
])
def test_bad_markers_stop_the_build_and_say_where(source, message):
    with pytest.raises(student.MarkerError, match=f"nb.ipynb, cell 3, {message}"):
        student.blank(source, "nb.ipynb, cell 3")


def test_a_bad_marker_anywhere_writes_nothing(tmp_path):
    cell = nbformat.v4.new_code_cell("### BEGIN SOLUTION\nx\n### END SOLUTION")
    good = nbformat.v4.new_notebook(cells=[cell])
    bad = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("t"),
                                          nbformat.v4.new_code_cell("### BEGIN SOLUTION\nx = 1")])
    (tmp_path / "src").mkdir()
    nbformat.write(good, tmp_path / "src" / "a.ipynb")
    nbformat.write(bad, tmp_path / "src" / "b.ipynb")
    with pytest.raises(student.MarkerError, match="b.ipynb, cell 1, line 1"):
        student.build(tmp_path / "src", tmp_path / "out")
    assert not (tmp_path / "out").exists()


# --- the student edition of the real notebooks -------------------------------------------------


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    counts = student.build(ROOT / "notebooks", out)
    return out, counts


def test_every_notebook_is_in_the_edition_and_notebook_01_has_exercises(edition):
    out, counts = edition
    assert sorted(counts) == [p.name for p in NOTEBOOKS]
    assert counts["01_numpy_one_hidden_layer.ipynb"] >= 6


@pytest.mark.parametrize("path", WITH_EXERCISES, ids=lambda p: p.name)
def test_no_solution_survives_and_other_cells_are_unchanged(edition, path):
    out, _ = edition
    original = nbformat.read(path, as_version=4)
    blanked = nbformat.read(out / path.name, as_version=4)
    assert len(original.cells) == len(blanked.cells)
    for before, after in zip(original.cells, blanked.cells):
        if "### BEGIN SOLUTION" not in before.source:
            assert after.source == before.source and after.cell_type == before.cell_type
            continue
        solution, inside = [], False
        for line in before.source.splitlines():
            if line.strip() in ("### BEGIN SOLUTION", "### END SOLUTION"):
                inside = line.strip() == "### BEGIN SOLUTION"
            elif inside and line.strip():
                solution.append(line.strip())
        kept = {line.strip() for line in after.source.splitlines()}
        assert solution and not kept & set(solution), f"solution text survives: {kept & set(solution)}"
        assert "raise NotImplementedError()" in after.source
    assert all(c.get("outputs", []) == [] for c in blanked.cells if c.cell_type == "code")


def _run_through_last_check(nb, folder):
    """Execute a notebook's cells up to its last self-check; return the executed cells."""
    from nbclient import NotebookClient

    last = max(i for i, c in enumerate(nb.cells) if "checks.check_" in c.source)
    nb = nbformat.from_dict(nb)
    nb.cells = nb.cells[:last + 1]
    NotebookClient(nb, allow_errors=True, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(folder)}}).execute()
    return nb.cells


@pytest.mark.parametrize("path", WITH_EXERCISES, ids=lambda p: p.name)
def test_self_checks_fail_on_the_student_edition_and_pass_on_the_solutions(edition, path):
    out, _ = edition
    solution = nbformat.read(path, as_version=4)
    exercise_cells = [i for i, c in enumerate(solution.cells) if "### BEGIN SOLUTION" in c.source]
    check_cells = []
    for i in exercise_cells:  # every exercise is followed by its self-check
        following = [j for j in range(i + 1, len(solution.cells)) if solution.cells[j].cell_type == "code"]
        assert following and "checks.check_" in solution.cells[following[0]].source, f"cell {i} has no check"
        check_cells.append(following[0])

    def errors(cells):
        return {j: [o for o in cells[j].get("outputs", []) if o.output_type == "error"] for j in check_cells}

    # the student copy runs in notebooks/ so that its relative paths work
    student_copy = path.parent / f".student-{path.name}"
    try:
        student_copy.write_text((out / path.name).read_text())
        student_errors = errors(_run_through_last_check(nbformat.read(student_copy, 4), path.parent))
    finally:
        student_copy.unlink(missing_ok=True)
    solution_errors = errors(_run_through_last_check(solution, path.parent))
    passed = [j for j, e in student_errors.items() if not e]
    assert not passed, f"self-checks that passed on the student edition: cells {passed}"
    assert not any(solution_errors.values()), f"checks that failed on the solutions: {solution_errors}"


# --- the course book ------------------------------------------------------------------------


def test_the_course_book_executes_a_notebook_with_its_figures(tmp_path):
    env = {**os.environ, "TP_QUICK": "1"}
    command = [sys.executable, str(ROOT / "tools" / "book.py"), "--only", "01", "--out", str(tmp_path)]
    out = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    page = (tmp_path / "01_numpy_one_hidden_layer.html").read_text()
    assert page.count("data:image/png;base64") >= 5  # the figures are in the page
    assert "test accuracy" in page
    index = (tmp_path / "index.html").read_text()
    assert "01_numpy_one_hidden_layer.html" in index and " s</td>" in index


# --- Colab --------------------------------------------------------------------------------------


def test_every_badge_and_clone_address_matches_the_setting():
    assert colab.problems() == []


def test_a_changed_setting_makes_every_badge_stale(monkeypatch):
    monkeypatch.setattr(colab, "setting", lambda: ("someone/else", "main"))
    found = colab.problems()
    assert sum("first cell's badge" in line for line in found) == len(NOTEBOOKS)
    assert sum("does not clone" in line for line in found) == len(NOTEBOOKS)


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


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_setup_cell_on_simulated_colab(path, monkeypatch, tmp_path):
    commands, moves = [], []
    monkeypatch.chdir(tmp_path)  # no ../utils here, as in a fresh Colab runtime
    monkeypatch.setitem(sys.modules, "google", types.ModuleType("google"))
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: commands.append(cmd))
    monkeypatch.setattr(os, "chdir", moves.append)
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "codecarbon" else real_find_spec(name, *a))
    exec(_setup_cell(path), {})
    repository, _ = colab.setting()
    assert commands[0] == ["git", "clone", "--depth", "1", f"https://github.com/{repository}",
                           "/content/tp-deep-learning"]
    assert moves == ["/content/tp-deep-learning/notebooks"]
    assert commands[1][1:] == ["-m", "pip", "install", "-q", "codecarbon"]
    assert len(commands) == 2
    assert not any(pkg in " ".join(map(str, cmd)) for cmd in commands for pkg in ("tensorflow", "torch"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_setup_cell_outside_colab_does_nothing(path, monkeypatch, capsys):
    commands = []
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: commands.append(cmd))
    exec(_setup_cell(path), {})
    assert commands == [] and capsys.readouterr().out == ""

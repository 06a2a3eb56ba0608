"""The student edition: markers and stubs, nbgrader metadata, the complete tree (make student)
and its publication on the student branch (make publish-student)."""

import copy
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import colab  # noqa: E402
import exercises  # noqa: E402
import student  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
WITH_EXERCISES = [p for p in NOTEBOOKS if "### BEGIN SOLUTION" in p.read_text()]
FIXTURE = ROOT / "tests" / "fixtures" / "grade" / "01_tiny_exercises.ipynb"


# --- the marker parser and its stubs --------------------------------------------------------


def test_a_region_becomes_nbgraders_stub_naming_the_exercise():
    source = ("def f(x):\n    '''doc'''\n    ### BEGIN SOLUTION\n    y = x + 1\n    return y\n"
              "    ### END SOLUTION\n")
    out, n = student.blank(source, "nb, cell 0")
    assert n == 1
    assert out == ("def f(x):\n    '''doc'''\n    # YOUR CODE HERE\n"
                   "    raise NotImplementedError(\"f: not written yet\")")
    md, n = student.blank("Why?\n### BEGIN SOLUTION\nBecause.\n### END SOLUTION", "nb, cell 1", markdown=True)
    assert (md, n) == ("Why?\nYOUR ANSWER HERE", 1)


def test_a_method_is_named_with_its_class_and_top_level_code_keeps_the_plain_stub():
    source = ("import numpy as np\n\n\nclass Net:\n    def __init__(self):\n        self.w = 0\n\n"
              "    def forward(self, x):\n        ### BEGIN SOLUTION\n        return x\n"
              "        ### END SOLUTION\n\n\n"
              "def helper():\n    pass\n\n\n### BEGIN SOLUTION\nz = 1\n### END SOLUTION\n")
    out, n = student.blank(source, "nb, cell 0")
    assert n == 2
    assert '        raise NotImplementedError("Net.forward: not written yet")' in out.splitlines()
    assert out.splitlines()[-1] == "raise NotImplementedError()"  # `helper` is closed by then


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


# --- nbgrader metadata ------------------------------------------------------------------------


def test_metadata_follows_nbgraders_schema_and_keeps_declared_points():
    nb = nbformat.read(FIXTURE, as_version=4)
    stored = copy.deepcopy(nb)
    items = exercises.add_metadata(nb)
    assert nb == stored, "the fixture's metadata is what add_metadata writes (and it is idempotent)"
    assert [(i["kind"], i["grade_id"], i["points"]) for i in items] == [
        ("exercise", "double", 1), ("exercise", "counter", 2), ("exercise", "square", 1),
        ("question", "q1", 1)]
    solution = nb.cells[items[0]["solution_cell"]].metadata["nbgrader"]
    assert solution == {"solution": True, "grade": False, "locked": False, "grade_id": "double_solution",
                        "schema_version": 3}
    check = nb.cells[items[1]["cell"]].metadata["nbgrader"]
    assert check == {"grade": True, "solution": False, "locked": True, "points": 2, "grade_id": "counter",
                     "schema_version": 3}
    question = nb.cells[items[3]["cell"]].metadata["nbgrader"]
    assert question == {"solution": True, "grade": True, "locked": False, "points": 1, "grade_id": "q1",
                        "task": False, "schema_version": 3}
    assert exercises.graded_items(nb) == items


def test_a_cell_that_lost_its_region_loses_its_metadata():
    nb = nbformat.read(FIXTURE, as_version=4)
    index = exercises.graded_items(nb)[0]["solution_cell"]
    nb.cells[index].source = "def double(x):\n    return 2 * x"
    items = exercises.add_metadata(nb)
    assert "nbgrader" not in nb.cells[index].metadata and "nbgrader" not in nb.cells[index + 1].metadata
    assert [i["grade_id"] for i in items] == ["counter", "square", "q1"]


def test_the_notebooks_carry_their_nbgrader_metadata():
    """Fails until `python tools/exercises.py` has written the metadata into notebooks/."""
    assert exercises.main(["--check"]) == 0


# --- the student edition: a complete tree -----------------------------------------------------


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    out = tmp_path_factory.mktemp("edition") / "student"
    counts = student.build(out)
    return out, counts


def test_the_edition_is_a_complete_tree(edition):
    out, counts = edition
    assert sorted(counts) == [p.name for p in NOTEBOOKS]
    assert sorted(p.name for p in (out / "notebooks").iterdir()) == [p.name for p in NOTEBOOKS]
    for name in ["utils/__init__.py", "utils/checks/core.py", "data/mnist_sample.npz", "requirements.txt",
                 "constraints.txt", "environment.yml", "pyproject.toml", "Makefile", "README.md",
                 ".gitignore"]:
        assert (out / name).is_file(), name
    assert not list(out.rglob("__pycache__")) and not list(out.rglob("*.egg-info"))
    assert not list(out.parent.glob(".student-*")), "the temporary folder is gone"
    readme = (out / "README.md").read_text()
    for words in ["make lab", "pip install -r requirements.txt", "pip install -e .", "Colab", "self-check",
                  "Hand in", "TP_NOTEBOOK_01"]:
        assert words in readme, words
    assert "BEGIN SOLUTION" not in readme


def test_the_edition_installs_with_pip_and_make(edition):
    out, _ = edition
    assert colab.setting(out / "pyproject.toml") == colab.student_setting()
    # pip reads the project (an editable build, prepared offline with this environment's setuptools)
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps",
                           "--no-build-isolation", "--no-index", "--disable-pip-version-check",
                           "-e", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "tp-deep-learning" in done.stdout, done.stdout + done.stderr
    if shutil.which("make"):
        done = subprocess.run(["make", "-n", "lab"], cwd=out, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert "pip install" in done.stdout and "-e ." in done.stdout and "jupyter lab" in done.stdout


def test_badges_and_setup_cells_point_at_the_student_branch(edition):
    out, _ = edition
    repository, branch = colab.student_setting()
    assert branch == "student"
    for path in sorted((out / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        assert colab.notebook_problems(nb, path.name, repository, branch) == []
    readme = (out / "README.md").read_text()
    for path in NOTEBOOKS:
        assert colab.colab_url(path.name, repository, branch) in readme


@pytest.mark.parametrize("path", WITH_EXERCISES, ids=lambda p: p.name)
def test_no_solution_survives_and_other_cells_are_unchanged(edition, path):
    out, _ = edition
    original = nbformat.read(path, as_version=4)
    blanked = nbformat.read(out / "notebooks" / path.name, as_version=4)
    assert len(original.cells) == len(blanked.cells)
    setup = next(i for i, c in enumerate(original.cells) if c.cell_type == "code")
    for index, (before, after) in enumerate(zip(original.cells, blanked.cells)):
        if index in (0, setup):  # the badge and the setup cell point at the student branch
            continue
        if "### BEGIN SOLUTION" not in before.source:
            assert after.source == before.source and after.cell_type == before.cell_type
            continue
        solution = _solution_lines(before.source)
        kept = {line.strip() for line in after.source.splitlines()}
        assert solution and not kept & set(solution), f"solution text survives: {kept & set(solution)}"
        assert "raise NotImplementedError(" in after.source or "YOUR ANSWER HERE" in after.source
    assert all(c.get("outputs", []) == [] for c in blanked.cells if c.cell_type == "code")


def _solution_lines(source: str) -> list[str]:
    lines, inside = [], False
    for line in source.splitlines():
        if line.strip() in ("### BEGIN SOLUTION", "### END SOLUTION"):
            inside = line.strip() == "### BEGIN SOLUTION"
        elif inside and line.strip():
            lines.append(line.strip())
    return lines


def _run_to_first_check(tree: Path, name: str = "01_numpy_one_hidden_layer.ipynb"):
    """Run a notebook of the student tree ``tree`` up to its first self-check, as a student would:
    kernel in tree/notebooks, quick mode, and the tree's own utils first on sys.path. Returns the
    index of the first self-check, the first error (index, ename, evalue) and utils.__file__."""
    from nbclient import NotebookClient

    nb = nbformat.read(tree / "notebooks" / name, as_version=4)
    first = next(item["cell"] for item in exercises.graded_items(nb) if item["kind"] == "exercise")
    nb.cells = nb.cells[:first + 1] + [nbformat.v4.new_code_cell("import utils\nprint(utils.__file__)")]
    env = {**os.environ, "PYTHONPATH": str(tree), "TP_QUICK": "1"}
    NotebookClient(nb, allow_errors=True, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tree / "notebooks")}}).execute(env=env)
    errors = [(i, o.ename, o.evalue) for i, c in enumerate(nb.cells) if c.cell_type == "code"
              for o in c.outputs if o.output_type == "error"]
    return first, errors[0] if errors else None, nb.cells[-1].outputs[0]["text"].strip()


def test_notebook_01_of_the_edition_runs_up_to_its_first_exercise(edition):
    out, _ = edition
    first, error, utils_file = _run_to_first_check(out)
    assert Path(utils_file) == out / "utils" / "__init__.py"  # the edition's own utils
    assert error is not None and error[0] == first, f"first failing cell {error}, first self-check {first}"
    assert "not written yet" in error[2]


def _names(source: str):
    """(names a cell reads, names it binds, names whose contents it may change), by its syntax, or
    None when it does not parse (a magic). A function's own parameters and locals are not reads of
    the cell; assigning to an attribute or an item of a name, or calling a method on it
    (``model.compile(...)``), may change it."""
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    reads, binds, changes = set(), set(), set()

    def visit(node, local):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            if not isinstance(node, ast.Lambda):
                binds.add(node.name) if local is None else local.add(node.name)
                for decorator in node.decorator_list:
                    visit(decorator, local)
            args = node.args
            inner = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs,
                                     *filter(None, [args.vararg, args.kwarg])]}
            inner |= {n.id for n in ast.walk(node)
                      if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
            for default in [*args.defaults, *filter(None, args.kw_defaults)]:
                visit(default, local)
            for child in (node.body if isinstance(node.body, list) else [node.body]):
                visit(child, inner)
            return
        if isinstance(node, ast.ClassDef):
            binds.add(node.name) if local is None else local.add(node.name)
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                if local is None or node.id not in local:
                    reads.add(node.id)
            elif local is None:
                binds.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)) and local is None:
            binds.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr)) and local is None:
            targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", node.value)]
            for target in targets:
                if isinstance(target, ast.Call):
                    target = target.func
                while isinstance(target, (ast.Attribute, ast.Subscript)):
                    target = target.value
                    if isinstance(target, ast.Name):
                        changes.add(target.id)
        for child in ast.iter_child_nodes(node):
            visit(child, local)

    visit(tree, None)
    return reads, binds, changes


def _cells_for_checks(cells, checks):
    """The code cells needed to run the self-checks at indices ``checks``: themselves, and every
    earlier cell that binds or changes a name a needed cell reads, transitively (a cell that does
    not parse is kept; calling a function of an imported module changes nothing). Studies that no
    check reads (notebook 07's runs) are left out: a check needs its exercise, the imports and
    the data, not the results of the notebook's training."""
    import ast

    modules = set()
    for cell in cells:
        try:
            tree = ast.parse(cell.source) if cell.cell_type == "code" else None
        except SyntaxError:
            continue
        for node in ast.walk(tree) if tree else []:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                modules.update((a.asname or a.name).split(".")[0] for a in node.names)
    needed, keep = set(), set()
    for i in range(max(checks), -1, -1):
        if cells[i].cell_type != "code":
            continue
        names = _names(cells[i].source)
        if i in checks or names is None or (names[1] | (names[2] - modules)) & needed:
            keep.add(i)
            needed |= names[0] if names else set()
    return sorted(keep)


def _exercises_and_checks(solution):
    """The indices of a notebook's exercise cells and of the self-check that follows each."""
    exercise_cells = [i for i, c in enumerate(solution.cells)
                      if c.cell_type == "code" and "### BEGIN SOLUTION" in c.source]
    check_cells = []
    for i in exercise_cells:
        following = [j for j in range(i + 1, len(solution.cells)) if solution.cells[j].cell_type == "code"]
        assert following and "checks.check_" in solution.cells[following[0]].source, f"cell {i} has no check"
        check_cells.append(following[0])
    return exercise_cells, check_cells


@pytest.fixture(scope="module")
def blank_runs(edition):
    """Every notebook of the student edition, cut to the cells its self-checks need, run one after
    the other in one kernel working in notebooks/, as a student's would: ``%reset -f`` between two
    notebooks, so that no name of one reaches the next, while TensorFlow and PyTorch are started
    once rather than seven times. Returns {notebook: {cell index: executed cell}} and the listings
    of notebooks/ before and after."""
    from nbclient import NotebookClient

    out, _ = edition
    folder = ROOT / "notebooks"
    before = sorted(p.name for p in folder.iterdir())
    combined, places = nbformat.v4.new_notebook(), {}
    for path in WITH_EXERCISES:
        blank = nbformat.read(out / "notebooks" / path.name, as_version=4)
        indices = _cells_for_checks(blank.cells, _exercises_and_checks(nbformat.read(path, as_version=4))[1])
        combined.cells.append(nbformat.v4.new_code_cell("%reset -f"))
        places[path.name] = {i: len(combined.cells) + k for k, i in enumerate(indices)}
        combined.cells += [blank.cells[i] for i in indices]
    NotebookClient(combined, allow_errors=True, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(folder)}}).execute()
    runs = {name: {i: combined.cells[k] for i, k in where.items()} for name, where in places.items()}
    return runs, before, sorted(p.name for p in folder.iterdir())


def test_the_cells_a_check_needs_are_found_by_name():
    cells = [nbformat.v4.new_code_cell(s) for s in [
        "import numpy as np\nfrom utils import checks",  # 0: needed (np, checks)
        "ds = load()",  # 1: needed by 4 through the exercise
        "slow = train(ds)\nprint(slow)",  # 2: a study no check reads
        "model = build()",  # 3: needed, changed by 4
        "model.compile(lr=0.1)",  # 4: changes model
        "def f(x):\n    return np.sum(x) + len(ds) + model.lr",  # 5: the exercise
        "checks.check_f(f)",  # 6: its check
        "%timeit f(1)",  # 7: after the last check
    ]]
    assert _cells_for_checks(cells, [6]) == [0, 1, 3, 4, 5, 6]
    cells[2] = nbformat.v4.new_code_cell("%time slow = train(ds)")  # a magic: kept, to be safe
    assert _cells_for_checks(cells, [6]) == [0, 1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize("path", WITH_EXERCISES, ids=lambda p: p.name)
def test_self_checks_fail_on_the_student_edition(blank_runs, path):
    """Every exercise is followed by its self-check, and on the student edition every one of them
    fails, because of a stub: not because a cell it needs was left out. (On the solutions they
    pass: they run, and would fail, under nbval with the notebook.)"""
    runs, before, after = blank_runs
    assert after == before, "something was written to notebooks/"
    solution = nbformat.read(path, as_version=4)
    exercise_cells, check_cells = _exercises_and_checks(solution)
    cells = runs[path.name]
    errors = {j: [o for o in cells[j].get("outputs", []) if o.output_type == "error"] for j in check_cells}
    passed = [j for j, found in errors.items() if not found]
    assert not passed, f"self-checks that passed on the student edition: cells {passed}"
    first = errors[check_cells[0]][0]
    assert "not written yet" in first.evalue, f"the first self-check says {first.ename}: {first.evalue}"
    stubs = set().union(*(_names(solution.cells[i].source)[1] for i in exercise_cells))  # what they bind
    for j, found in errors.items():  # a name missing for another reason would hide a check that passes
        for error in found:
            if error.ename == "NameError":
                missing = error.evalue.split("'")[1]
                assert missing in stubs, f"cell {j}: {error.evalue} (a needed cell left out?)"


# --- what the build refuses -----------------------------------------------------------------------


def _course_copy(tmp_path: Path, notebooks: dict) -> Path:
    """A minimal course in ``tmp_path/course``: the real files around the given notebooks."""
    root = tmp_path / "course"
    (root / "notebooks").mkdir(parents=True)
    for name in ["utils", "data"]:
        shutil.copytree(ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "tools").mkdir()
    for name in ["requirements.txt", "constraints.txt", "environment.yml", ".gitignore", "pyproject.toml",
                 "Makefile", "tools/colab_setup.py", "tools/edition_reference.py", "README.md"]:
        shutil.copy(ROOT / name, root / name)
    for name, nb in notebooks.items():
        nbformat.write(nb, root / "notebooks" / name)
    return root


def test_a_bad_marker_anywhere_writes_nothing_and_keeps_the_previous_edition(tmp_path):
    cell = nbformat.v4.new_code_cell("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION")
    good = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# A"), cell,
                                           nbformat.v4.new_code_cell("assert f() == 1")])
    root = _course_copy(tmp_path, {"a.ipynb": good})
    dest = tmp_path / "build" / "student"
    student.build(dest, root)
    before = {p: p.read_bytes() for p in dest.rglob("*") if p.is_file()}
    bad = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("t"),
                                          nbformat.v4.new_code_cell("### BEGIN SOLUTION\nx = 1")])
    nbformat.write(bad, root / "notebooks" / "b.ipynb")
    with pytest.raises(student.MarkerError, match="b.ipynb, cell 1, line 1"):
        student.build(dest, root)
    assert {p: p.read_bytes() for p in dest.rglob("*") if p.is_file()} == before
    assert [p.name for p in dest.parent.iterdir()] == ["student"], "no temporary folder is left"


def test_the_student_edition_is_never_written_into_the_course_or_over_another_folder(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    root = _course_copy(tmp_path, {"a.ipynb": nb})
    for dest in (root / "notebooks", root / "notebooks" / "student", root, tmp_path):
        with pytest.raises(ValueError, match="inside"):
            student.build(dest, root)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("precious")
    with pytest.raises(ValueError, match="is not a student edition"):
        student.build(mine, root)
    assert (mine / "thesis.tex").read_text() == "precious"
    assert [p.name for p in (root / "notebooks").iterdir()] == ["a.ipynb"]


# --- publishing on the student branch -------------------------------------------------------


def git(*args, cwd):
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """A temporary git repository holding a copy of the course (one commit), published once."""
    repo = tmp_path_factory.mktemp("publish") / "course"
    listed = git("ls-files", "--cached", "--others", "--exclude-standard", cwd=ROOT).splitlines()
    for rel in listed:
        if rel.split("/")[0] in {"notebooks", "utils", "data", "tools"} or "/" not in rel:
            if (ROOT / rel).is_file():
                (repo / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / rel, repo / rel)
    git("init", "-q", "-b", "main", cwd=repo)
    git("config", "user.email", "instructor@example.org", cwd=repo)
    git("config", "user.name", "Instructor", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "The course", cwd=repo)
    out = _publish(repo)
    assert out.returncode == 0, out.stdout + out.stderr
    return repo, out


def _publish(repo):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, str(repo / "tools" / "publish.py")], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=300)


def test_publishing_creates_the_branch_and_leaves_main_alone(published):
    repo, out = published
    head = git("rev-parse", "--short", "HEAD", cwd=repo)
    assert git("branch", "--show-current", cwd=repo) == "main"
    assert git("status", "--porcelain", cwd=repo) == ""
    assert git("log", "-1", "--format=%s", "student", cwd=repo) == f"Student edition of {head}"
    assert len(git("worktree", "list", cwd=repo).splitlines()) == 1
    assert git("rev-list", "--count", "main", cwd=repo) == "1"
    no_common = subprocess.run(["git", "merge-base", "main", "student"], cwd=repo, capture_output=True)
    assert no_common.returncode != 0, "the student branch shares no history (no solution in it)"
    assert "git push origin student" in out.stdout


def test_the_branch_holds_no_solution_and_points_at_itself(published):
    repo, _ = published
    files = git("ls-tree", "-r", "--name-only", "student", cwd=repo).splitlines()
    assert {"README.md", "Makefile", "pyproject.toml", "requirements.txt", "utils/__init__.py",
            "data/mnist_sample.npz"} <= set(files)
    assert not any(f.startswith(("tools/", "tests/")) for f in files if f != "tools/colab_setup.py")
    assert "tools/colab_setup.py" in files  # the second half of the Colab setup cell
    assert subprocess.run(["git", "grep", "-q", "BEGIN SOLUTION", "student"], cwd=repo).returncode == 1
    repository, branch = colab.student_setting(repo / "pyproject.toml")
    for path in WITH_EXERCISES:
        text = git("show", f"student:notebooks/{path.name}", cwd=repo)
        nb = nbformat.reads(text, as_version=4)
        original = nbformat.read(path, as_version=4)
        solution = {line for c in original.cells for line in _solution_lines(c.source)}
        solution -= {line.strip() for c in original.cells  # lines also written outside a region
                     for line in student.blank(c.source, "", c.cell_type == "markdown")[0].splitlines()}
        kept = {line.strip() for c in nb.cells for line in c.source.splitlines()}
        assert not kept & solution, f"{path.name}: {kept & solution}"
        assert colab.notebook_problems(nb, path.name, repository, branch) == []
        setup = nb.cells[colab._setup_index(nb)].source
        assert f'"https://github.com/{repository}"' in setup and f'"--branch", "{branch}"' in setup
    readme = git("show", "student:README.md", cwd=repo)
    assert colab.colab_url(NOTEBOOKS[0].name, repository, branch) in readme


def test_a_second_publish_adds_exactly_one_commit(published):
    repo, _ = published
    before = int(git("rev-list", "--count", "student", cwd=repo))
    out = _publish(repo)
    assert out.returncode == 0, out.stdout + out.stderr
    assert int(git("rev-list", "--count", "student", cwd=repo)) == before + 1
    assert git("rev-list", "--count", "main", cwd=repo) == "1"


def test_a_dirty_tree_is_refused(published):
    repo, _ = published
    before = git("rev-parse", "student", cwd=repo)
    readme = repo / "README.md"
    text = readme.read_text()
    readme.write_text(text + "\nan uncommitted line\n")
    try:
        out = _publish(repo)
    finally:
        readme.write_text(text)
    assert out.returncode == 1
    assert "uncommitted changes" in out.stderr and "README.md" in out.stderr and "Commit them" in out.stderr
    assert git("rev-parse", "student", cwd=repo) == before


def test_a_clone_of_the_student_branch_runs_up_to_the_first_exercise(published, tmp_path):
    repo, _ = published
    clone = tmp_path / "clone"
    git("clone", "-q", "--branch", "student", str(repo), str(clone), cwd=tmp_path)
    first, error, utils_file = _run_to_first_check(clone)
    assert Path(utils_file) == clone / "utils" / "__init__.py"
    assert error is not None and error[0] == first, f"first failing cell {error}, first self-check {first}"
    assert "not written yet" in error[2]


def test_a_wrong_student_setting_says_what_to_write(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.course]\nrepository = 'a/b'\nstudent_branch = ''\n")
    with pytest.raises(colab.SettingError, match="is not a branch name"):
        colab.student_setting(tmp_path / "pyproject.toml")
    (tmp_path / "pyproject.toml").write_text("[tool.course]\nrepository = 'a/b'\n"
                                             "student_repository = 'c/d'\n")
    assert colab.student_setting(tmp_path / "pyproject.toml") == ("c/d", "student")
    assert colab.setting(tmp_path / "pyproject.toml") == ("a/b", "main")


def test_the_student_readme_gives_each_notebooks_times_from_the_course_readme(edition):
    """The run times a student reads are the syllabus's, taken from the course README at build time."""
    rows = [line for line in (ROOT / "README.md").read_text().splitlines()
            if re.fullmatch(r"\| \d\d \|.*\|", line)]
    readme = (edition[0] / "README.md").read_text()
    assert len(rows) == len(NOTEBOOKS)
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert f"| {cells[0]} | {cells[-2]} | {cells[-1]} |" in readme
    assert "make check NB=01" in readme and "TP_QUICK=1" in readme



# --- the edition's utils/reference.py: the student's own network of notebook 01 ------------------

ONE = ROOT / "notebooks" / "01_numpy_one_hidden_layer.ipynb"


@pytest.fixture
def loader(tmp_path, monkeypatch):
    """A fresh copy of tools/edition_reference.py (the edition's utils/reference.py) that looks for
    notebook 01 in an empty course under tmp_path only, run from tmp_path/work."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"edition_reference_{id(tmp_path)}",
                                                  ROOT / "tools" / "edition_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    (tmp_path / "course").mkdir()
    (tmp_path / "work").mkdir()
    monkeypatch.setattr(module, "COURSE_NOTEBOOKS", tmp_path / "course")
    monkeypatch.setattr(module, "DRIVE", tmp_path / "no-drive")
    monkeypatch.delenv("TP_NOTEBOOK_01", raising=False)
    monkeypatch.chdir(tmp_path / "work")
    return module


def _notebook_01(path: Path, blank: bool = False, edit=None) -> Path:
    """Notebook 01 as a student saves it: solved (the instructor's solutions), or blank (the
    edition's); ``edit(cells)`` changes it first."""
    nb = nbformat.read(ONE, as_version=4)
    if blank:
        nb, _ = student.student_notebook(nb, ONE.name, "me/course", "student")
    if edit:
        edit(nb.cells)
    nbformat.write(nb, path)
    return path


def test_the_editions_reference_holds_no_answer(edition):
    """The edition ships tools/edition_reference.py as utils/reference.py: no def of an exercise of
    01, no line of a model answer, and no function of it (or of the modules around it) passes one
    of 01's self-checks (tools/answers.py, in a process of its own where utils is the edition's)."""
    out, _ = edition
    shipped = (out / "utils" / "reference.py").read_text()
    assert shipped == (ROOT / "tools" / "edition_reference.py").read_text()
    for answer in ["def relu(", "def forward(", "np.maximum", "np.exp", "argmax", "standard_normal",
                   "a1 - Y", ".T @"]:
        assert answer not in shipped, answer
    checks_01 = ["check_one_hot", "check_relu", "check_relu_prime", "check_softmax", "check_cross_entropy",
                 "check_accuracy", "check_init_params", "check_forward", "check_backward",
                 "check_numerical_gradient", "check_evaluate_numpy", "check_sgd_epoch"]
    code = ("import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]); import answers\n"
            f"r = answers.count(Path(sys.argv[2]), {checks_01!r}, ['utils.reference', 'utils.history', "
            "'utils.data', 'utils.checks.core'])\n"
            "print('PASSABLE', sorted(k for k, v in r.items() if v))")
    run = subprocess.run([sys.executable, "-c", code, str(ROOT / "tools"), str(out)], capture_output=True,
                         text=True, cwd=out, env={**os.environ, "TP_QUICK": "1"}, timeout=120)
    assert "PASSABLE []" in run.stdout, run.stdout[-2000:] + run.stderr[-2000:]


def test_the_editions_reference_runs_the_students_own_functions(loader, tmp_path):
    """With the student's solved 01 beside the notebook, the edition's reference computes what the
    instructor's does, trains the same (same batches), and train.run("numpy") goes through it."""
    import numpy as np

    from utils import reference, train
    from utils.data import Dataset

    _notebook_01(tmp_path / "work" / "Copy of 01_numpy_one_hidden_layer.ipynb")
    rng = np.random.default_rng(0)
    X, y = rng.random((40, 784), dtype=np.float32), np.arange(40) % 10
    params = loader.init_params(784, 16, 10, seed=3)
    for mine, theirs in zip(params, reference.init_params(784, 16, 10, seed=3)):
        np.testing.assert_array_equal(mine, theirs)
    outputs = loader.forward(X, params)
    np.testing.assert_allclose(outputs[-1], reference.forward(X, params)[-1], rtol=1e-5)
    for mine, theirs in zip(loader.backward(X, loader.one_hot(y), params, outputs),
                            reference.backward(X, reference.one_hot(y), params,
                                               reference.forward(X, params))):
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-7)
    ds = Dataset(X, y, X[:10], y[:10], "test", "mnist")
    mine = loader.train([p.copy() for p in params], ds, 2, 0.1, 8, seed=1, progress=False)
    theirs = reference.train([p.copy() for p in params], ds, 2, 0.1, 8, seed=1, progress=False)
    np.testing.assert_allclose(mine.test_loss, theirs.test_loss, rtol=1e-4)
    original = train.reference
    try:
        train.reference = loader
        run = train.run("numpy", params, ds, 2, 0.1, 8, seed=1)
    finally:
        train.reference = original
    np.testing.assert_allclose(run.test_loss, theirs.test_loss, rtol=1e-4)
    with pytest.raises(ValueError, match="one hidden layer"):
        loader.train(reference.init_params(784, 8, 8, 10), ds, 1, 0.1, progress=False)


def test_the_editions_reference_says_what_is_missing_and_where_it_looked(loader, tmp_path, monkeypatch):
    with pytest.raises(loader.NotWrittenYet) as missing:
        _ = loader.forward
    for words in ["`forward` cannot run yet", "no file named", "drive.mount", "TP_NOTEBOOK_01"]:
        assert words in str(missing.value), words
    blank = _notebook_01(tmp_path / "course" / ONE.name, blank=True)
    with pytest.raises(loader.NotWrittenYet, match=r"(?s)`relu` cannot run yet.*"
                       + re.escape(str(blank)) + ".*NotImplementedError"):
        _ = loader.relu
    with pytest.raises(AttributeError):
        _ = loader.no_such_function

    def edit(cells):  # a test line in relu's cell, a syntax error in softmax's, a cell that crashes
        relu = next(c for c in cells if "def relu(" in c.source)
        relu.source += "\nprint(relu(X_not_defined))\n"
        softmax = next(c for c in cells if "def softmax(" in c.source)
        softmax.source = softmax.source.replace("def softmax(z):", "def softmax(z)")
        cells.append(nbformat.v4.new_code_cell("raise SystemExit('a cell that should never run')"))

    solved = _notebook_01(tmp_path / "mine.ipynb", edit=edit)
    monkeypatch.setenv("TP_NOTEBOOK_01", str(solved))  # the student's own copy comes first
    assert loader.relu(__import__("numpy").array([-1.0, 2.0])).tolist() == [0.0, 2.0]
    with pytest.raises(loader.NotWrittenYet, match=r"(?s)`softmax` cannot run yet.*syntax error.*"
                       + re.escape(str(blank)) + ".*NotImplementedError"):
        _ = loader.softmax

    def fixed(cells):  # the student fixes softmax: the file changes, and is read again
        next(c for c in cells if "def relu(" in c.source).source = "def relu(z):\n    return z * 0 + 7\n"

    _notebook_01(solved, edit=fixed)
    os.utime(solved, (1, 1))
    assert loader.relu(__import__("numpy").zeros(2)).tolist() == [7.0, 7.0]
    assert loader.softmax is not None


def test_the_editions_reference_reads_01_as_jupyter_runs_it(loader, tmp_path):
    """A cell with a magic (%%time) is Python to Jupyter; relu may be a lambda; a raise inside an if
    is the student's own; forward written while relu is not says so, and so does what calls it."""
    import numpy as np

    def edit(cells):
        relu = next(c for c in cells if "def relu(" in c.source)
        relu.source = "%%time\nrelu = lambda z: np.maximum(z, 0)\n"
        softmax = next(c for c in cells if "def softmax(" in c.source)
        refusal = '    if z.ndim != 2:\n        raise NotImplementedError("rows only")\n    """'
        softmax.source = softmax.source.replace('    """', refusal, 1)

    _notebook_01(tmp_path / "work" / ONE.name, edit=edit)
    assert loader.relu(np.array([-1.0, 3.0])).tolist() == [0.0, 3.0]
    assert np.allclose(loader.softmax(np.zeros((1, 2))), 0.5)

    def blank_relu(cells):
        next(c for c in cells if "def relu(" in c.source).source = (
            "def relu(z):\n    # YOUR CODE HERE\n    raise NotImplementedError('relu: not written yet')\n")

    path = _notebook_01(tmp_path / "work" / ONE.name, edit=blank_relu)
    os.utime(path, (2, 2))
    for name, words in (("forward", "it calls relu, which is not written"),
                        ("evaluate", "it calls forward, which is not written")):
        with pytest.raises(loader.NotWrittenYet, match=f"(?s)`{name}` cannot run yet.*{words}"):
            getattr(loader, name)
    assert loader.softmax is not None  # what does not need relu is there

"""Write the "Open in Colab" badges and the Colab setup cell from one setting.

    python tools/colab.py          # rewrite notebooks and README (make badges)
    python tools/colab.py --check  # exit 1 if anything is missing or stale (the tests do this)

The setting is ``[tool.course]`` in ``pyproject.toml`` (read with ``tomllib``; exit status 2,
and nothing written, when the table or a key is wrong): ``repository`` (``owner/name`` on
GitHub) and ``branch`` for the course, ``student_branch`` (default ``student``) and
``student_repository`` (default: ``repository``) for the student edition (tools/publish.py).
From it this script writes, in every notebook, the badge on the first cell and the Colab setup
cell (the first code cell; :data:`SETUP_CELL` is its one template), and in the README the badge
of each syllabus row. tools/student.py writes the same cells into the student edition, pointing
at the student branch.
"""

from __future__ import annotations

import copy
import re
import sys
from pathlib import Path

import nbformat

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser, from PyPI (requirements.txt)
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
BADGE_IMG = "https://colab.research.google.com/assets/colab-badge.svg"
BADGE_RE = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\((?P<url>[^)]*)\)")
SETUP_MARK = "google.colab"  # the setup cell is the first code cell that mentions it

# The Colab setup cell of every notebook, folded (a Colab form; hidden in JupyterLab, SETUP_METADATA).
# setup_cell() fills in @REPOSITORY@ and @BRANCH@. The rest of the set-up is the course's own
# tools/colab_setup.py, run in the notebook's kernel once the course is cloned.
SETUP_CELL = '''\
# @title Setup: on Google Colab, fetch and install the course (elsewhere, nothing) { display-mode: "form" }
import sys
if "google.colab" in sys.modules:  # clone (again, if incomplete), then run the course's own setup
    import os, runpy, shutil, subprocess
    COURSE = "/content/tp-deep-learning"
    if not (os.path.isdir(f"{COURSE}/notebooks") and os.path.isdir(f"{COURSE}/utils")):
        shutil.rmtree(COURSE, ignore_errors=True)
        subprocess.run(["git", "clone", "-q", "--depth", "1", "--branch", "@BRANCH@",
                        "https://github.com/@REPOSITORY@", COURSE], check=True)
    runpy.run_path(f"{COURSE}/tools/colab_setup.py", run_name="__main__")  # install, cd notebooks/'''
SETUP_METADATA = {"cellView": "form", "jupyter": {"source_hidden": True}}


class SettingError(ValueError):
    """``[tool.course]`` is missing or wrong in pyproject.toml; the message says what to write."""


EXAMPLE = ('[tool.course]\nrepository = "owner/name"   # the course on GitHub\nbranch = "main"\n'
           'student_branch = "student"')
OWNER_NAME = re.compile(r"[\w.-]+/[\w.-]+")


def _table(pyproject: Path | None) -> tuple[Path, dict]:
    pyproject = pyproject or ROOT / "pyproject.toml"
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise SettingError(f"{pyproject} is not valid TOML: {err}") from None
    table = data.get("tool", {}).get("course")
    if not isinstance(table, dict):
        raise SettingError(f"{pyproject} has no [tool.course] table; add:\n{EXAMPLE}")
    if "repository" not in table:
        raise SettingError(f"{pyproject}: [tool.course] has no repository key; add:\n{EXAMPLE}")
    return pyproject, table


def _valid(pyproject: Path, key: str, repository, branch) -> tuple[str, str]:
    if not isinstance(repository, str) or not OWNER_NAME.fullmatch(repository):
        raise SettingError(f"{pyproject}: [tool.course] {key} = {repository!r} is not "
                           '"owner/name" (the course\'s GitHub address without https://github.com/)')
    if not isinstance(branch, str) or not re.fullmatch(r"[\w./-]+", branch):
        raise SettingError(f"{pyproject}: [tool.course] branch {branch!r} is not a branch name "
                           '(for example branch = "main")')
    return repository, branch


def setting(pyproject: Path | None = None) -> tuple[str, str]:
    """(owner/name, branch) of the course, from the ``[tool.course]`` table of pyproject.toml.

    ``branch`` defaults to ``main``. A missing table or key, or a value that is not
    ``owner/name``, raises :class:`SettingError` with the lines to add."""
    path, table = _table(pyproject)
    return _valid(path, "repository", table["repository"], table.get("branch", "main"))


def student_setting(pyproject: Path | None = None) -> tuple[str, str]:
    """(owner/name, branch) of the student edition: ``student_repository`` (default: the
    course's ``repository``) and ``student_branch`` (default ``student``)."""
    path, table = _table(pyproject)
    repository = table.get("student_repository", table["repository"])
    return _valid(path, "student_repository", repository, table.get("student_branch", "student"))


def colab_url(notebook: str, repository: str, branch: str) -> str:
    return f"https://colab.research.google.com/github/{repository}/blob/{branch}/notebooks/{notebook}"


def badge(notebook: str, repository: str, branch: str) -> str:
    return f"[![Open In Colab]({BADGE_IMG})]({colab_url(notebook, repository, branch)})"


def setup_cell(repository: str, branch: str) -> str:
    """The Colab setup cell, cloning ``branch`` of github.com/``repository``."""
    return SETUP_CELL.replace("@REPOSITORY@", repository).replace("@BRANCH@", branch)


def _setup_index(nb) -> int | None:
    return next((i for i, c in enumerate(nb.cells) if c.cell_type == "code" and SETUP_MARK in c.source), None)


def apply(nb, name: str, repository: str, branch: str, add: bool = True) -> None:
    """Write the badge into the first cell of notebook ``nb`` (file name ``name``) and the setup
    cell as its first code cell mentioning google.colab; with ``add``, add the badge after the
    title and the setup cell after the first cell where they are missing."""
    first = nb.cells[0]
    new = badge(name, repository, branch)
    if BADGE_RE.search(first.source):
        first.source = BADGE_RE.sub(new.replace("\\", "\\\\"), first.source)
    elif add:  # after the title line
        lines = first.source.splitlines()
        first.source = "\n".join(lines[:1] + ["", new] + lines[1:])
    index = _setup_index(nb)
    if index is not None:
        nb.cells[index].source = setup_cell(repository, branch)
    elif add:
        index = 1
        nb.cells.insert(index, nbformat.v4.new_code_cell(setup_cell(repository, branch)))
    if index is not None:
        nb.cells[index].metadata.update(copy.deepcopy(SETUP_METADATA))


def notebook_problems(nb, name: str, repository: str, branch: str) -> list[str]:
    """What is missing or stale in one notebook's badge and setup cell, one line each."""
    found = []
    urls = BADGE_RE.findall(nb.cells[0].source) if nb.cells else []
    if urls != [colab_url(name, repository, branch)]:
        found.append(f"{name}: first cell's badge is {urls or 'missing'}")
    index = _setup_index(nb)
    if index is None:
        found.append(f"{name}: no Colab setup cell")
    elif nb.cells[index].source != setup_cell(repository, branch):
        found.append(f"{name}: the Colab setup cell is stale (not the template of tools/colab.py "
                     f"for github.com/{repository}, branch {branch})")
    elif any(nb.cells[index].metadata.get(k) != v for k, v in SETUP_METADATA.items()):
        found.append(f"{name}: the Colab setup cell is not folded (metadata {SETUP_METADATA})")
    return found


def problems() -> list[str]:
    """Everything that is missing or stale, one line each (empty when all is right)."""
    repository, branch = setting()
    found = []
    names = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    for name in names:
        found += notebook_problems(nbformat.read(ROOT / "notebooks" / name, as_version=4), name,
                                   repository, branch)
    readme = (ROOT / "README.md").read_text()
    for url in BADGE_RE.findall(readme):
        target = url.rsplit("/", 1)[-1]
        if target not in names:
            found.append(f"README: badge points to {target}, which is not in notebooks/")
        elif url != colab_url(target, repository, branch):
            found.append(f"README: badge of {target} is stale ({url})")
    for name in names:
        if colab_url(name, repository, branch) not in readme:
            found.append(f"README: no badge for {name}")
    return found


def write() -> None:
    repository, branch = setting()
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        before = nbformat.writes(nb)
        apply(nb, path.name, repository, branch)
        if nbformat.writes(nb) != before:
            nbformat.write(nb, path)
    readme = ROOT / "README.md"
    text = BADGE_RE.sub(lambda m: badge(m["url"].rsplit("/", 1)[-1], repository, branch), readme.read_text())
    readme.write_text(text)


def main(argv) -> int:
    try:
        repository, branch = setting()
        student_setting()  # a wrong student setting is caught here too
        if "--check" not in argv:
            write()
        found = problems()
    except SettingError as err:
        print(f"nothing written: {err}", file=sys.stderr)
        return 2
    for line in found:
        print(line)
    if not found:
        print(f"badges and setup cells point to github.com/{repository} ({branch})")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

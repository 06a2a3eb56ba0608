"""Write the student edition: a complete, runnable copy of the course with every solution blanked.

    python tools/student.py              # -> build/student/   (make student)
    python tools/student.py --out DIR    # somewhere else

The edition holds::

    notebooks/       every notebook, solutions blanked (tools/exercises.py), outputs stripped,
                     nbgrader metadata and cell locks, Colab badge and setup cell -> student branch
    utils/ data/     as in the course (files git tracks or would track: no caches, no downloads), but
                     utils/reference.py: tools/edition_reference.py, which runs the student's own
                     functions of notebook 01 instead of the model answers
    tools/colab_setup.py  the second half of the Colab setup cell (tools/colab.py)
    requirements.txt constraints.txt environment.yml .gitignore
    pyproject.toml   the course's install tables (so `pip install -e .` works), [tool.course] of
                     the edition
    Makefile         `make lab` (the course's own install and lab rules), `make check NB=01`
    README.md        how to start, how long each notebook runs, quick mode, check your work,
                     hand it in

In a code cell each region from ``### BEGIN SOLUTION`` to ``### END SOLUTION`` becomes
``# YOUR CODE HERE`` and ``raise NotImplementedError("relu: not written yet")`` (the nearest
enclosing ``def``/``class``); in a markdown cell, ``YOUR ANSWER HERE``. An unbalanced, nested or
unknown marker stops the build with the notebook, the cell and the line. The edition is written
to a temporary folder next to the destination and swapped in only once complete, so a failed
build leaves the previous edition as it was. The notebooks in ``notebooks/`` stay the single
source; ``build/`` is ignored by git.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import colab
import nbformat
from exercises import MarkerError, add_metadata, blank, lock

ROOT = Path(__file__).resolve().parent.parent
COPIED = ["utils", "data", "tools/colab_setup.py", "requirements.txt", "constraints.txt", "environment.yml",
          ".gitignore"]
PYPROJECT_TABLES = ("[build-system]", "[project]", "[tool.setuptools]", "[tool.course]")
# Files of the course the edition replaces: its utils/reference.py holds no network of its own, it
# runs the student's functions of notebook 01 (the model answers stay in the instructor's copy).
REPLACED = {"utils/reference.py": "tools/edition_reference.py"}
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", "*.egg-info")

__all__ = ["MarkerError", "blank", "build", "student_notebook"]

MAKEFILE = """\
# The student edition of the course: `make lab` creates .venv from requirements.txt (once),
# installs the course in it (pip install -e .) and opens JupyterLab on notebooks/.

PYTHON      ?= python3
VENV        ?= .venv
BIN         := $(VENV)/bin
STAMP       := $(VENV)/.installed
# Extra package index for PyTorch, e.g. https://download.pytorch.org/whl/cpu (CPU-only build).
TORCH_INDEX ?=
NOTEBOOKS   ?= notebooks
LAB_ARGS    ?= $(if $(filter 0,$(shell id -u)),--allow-root,)

# `make check NB=01`: notebook 01 (a number or a file name) run top to bottom on a fresh kernel in
# quick mode (TP_QUICK=1), as the grader runs it, by pytest and nbval (requirements.txt); it stops
# at the first cell that fails. Results go to a temporary folder, removed afterwards.
NB           ?=
NB_FILES     = $(sort $(filter %.ipynb,$(wildcard $(NB) $(NOTEBOOKS)/$(NB)*)))
CELL_TIMEOUT ?= 300

.PHONY: help venv lab check check-nb clean

help:
\t@echo "make lab   - set up .venv if needed, then open JupyterLab on notebooks/"
\t@echo "make check NB=01 - set up .venv if needed, then run notebook 01 top to bottom in quick mode"
\t@echo "make clean - remove .venv and results/"

{install}

venv: $(STAMP)

{lab}

check: check-nb $(STAMP)
\t@echo "$(NB_FILES): run top to bottom on a fresh kernel, quick mode (TP_QUICK=1)"
\t@results=$$(mktemp -d); \\
\tTP_QUICK=1 TP_RESULTS_DIR=$$results $(BIN)/python -m pytest -p no:cacheprovider -x \\
\t    --nbval-lax --nbval-current-env --nbval-cell-timeout=$(CELL_TIMEOUT) $(NB_FILES); \\
\tstatus=$$?; rm -rf $$results; exit $$status

check-nb:
\t$(if $(NB),,$(error say which notebook: make check NB=01))
\t$(if $(NB_FILES),,$(error no notebook $(NB) in $(NOTEBOOKS)/; give its number as in make check NB=01))

clean:
\trm -rf $(VENV) results
"""

README = """\
# Deep learning, hands on: student edition

A hands-on course in numbered Jupyter notebooks: a one-hidden-layer network written with
NumPy from the lecture's equations, the same network in TensorFlow/Keras and PyTorch, then
studies of architecture, learning rate and overfitting, and the three tools compared.

In an **exercise** you write the code that replaces `# YOUR CODE HERE` and the
`raise NotImplementedError(...)` line below it. In a **question** you replace
`YOUR ANSWER HERE` with your answer (predict before you run, interpret after).

## Start

**On Google Colab** (nothing to install): open a notebook with its badge below, then
*File > Save a copy in Drive* to keep your work. Its first code cell fetches and installs
the course; run the cells in order.

**On your computer** (Python 3.10-3.12, `make`, about 3 GB for TensorFlow, PyTorch and
JupyterLab):

```bash
make lab        # creates .venv (the first time), then opens JupyterLab on notebooks/
```

Without `make`:

```bash
python3 -m venv .venv && source .venv/bin/activate
pip install -r requirements.txt -c constraints.txt
pip install -e .            # the course's helpers, so that `import utils` works
jupyter lab notebooks/
```

With conda: `conda env create -f environment.yml && conda activate tp-deep-learning`,
then `pip install -e .` and `jupyter lab notebooks/`.

## Notebooks

| # | notebook | open |
|---|---|---|
{rows}

## How long each notebook runs

| # | quick mode | full mode |
|---|---|---|
{times}

Wall-clock times of a whole notebook, run top to bottom with its exercises solved, on a
2-core CPU machine without a GPU (read them to ±20 %). Full mode, the default, trains on
MNIST's 60,000 training images (on the 5,000-digit sample that comes with the course when
MNIST cannot be downloaded); notebook 07 repeats each of its runs three times. Notebooks
04-06 save their studies under `results/`, and running one again reads them back (a study
trains again when you change its settings or the functions it trains with).

## Quick mode

Quick mode makes every notebook cheap: fewer epochs, smaller sweeps, training data cut to
the size of that sample. It still trains for real and still checks that the networks
learned. It is switched on by the environment variable `TP_QUICK=1`; each notebook prints
which mode it is using.

- For every notebook: start JupyterLab with it, `TP_QUICK=1 make lab` (without `make`:
  `TP_QUICK=1 jupyter lab notebooks/`).
- For one notebook, on Colab too: add a code cell `%env TP_QUICK=1` at the top and run it
  first. Delete that cell and restart the kernel to go back to full mode.

## Notebook 01 first

Notebooks 02, 03 and 07 compare the frameworks with **your** NumPy network: `utils.reference`
reads the functions you wrote in notebook 01 from your saved notebook (in `notebooks/`, or
the folder you run in), and says which one is missing if you have not written it yet. On
Colab, your copy of 01 lives in Drive: mount it first (`from google.colab import drive;
drive.mount('/content/drive')`), or set `os.environ["TP_NOTEBOOK_01"]` to its path.

## Check your work

Each exercise is followed by its **self-check** cell: run it after your code. It prints
`PASSED ...`, or says what is wrong (`not written yet`, a wrong shape, a mistake it
recognises) without giving the solution away. A notebook is done when
*Kernel > Restart Kernel and Run All Cells* runs it to the end without an error.

From the command line, `make check NB=01` runs notebook 01 top to bottom on a fresh kernel
in quick mode, as the grader does, and stops at the first cell that fails, with its error
(`make check NB=04` for notebook 04, and so on). Without `make`, in the activated `.venv`:
`TP_QUICK=1 python -m pytest -x --nbval-lax --nbval-current-env notebooks/01_*.ipynb`.

## Hand in

Your notebooks (`notebooks/NN_*.ipynb`), under their own file names, with your code
written and every question answered (on Colab: *File > Download > Download .ipynb*).
Keep the self-check cells as they are and the exercise cells where they are: the grader
runs your notebook again with the original self-checks.
"""


def student_notebook(nb, name: str, repository: str | None = None, branch: str | None = None):
    """A copy of notebook ``nb`` (file name ``name``) as students get it, and its number of
    solution regions: nbgrader metadata and locks, solutions blanked, outputs stripped, and the
    Colab badge and setup cell pointing at ``branch`` of ``repository`` (default: the student
    edition's, ``[tool.course]``)."""
    if repository is None or branch is None:
        repository, branch = colab.student_setting()
    nb = nbformat.from_dict(nb)
    add_metadata(nb, name)
    total = 0
    for index, cell in enumerate(nb.cells):
        cell.source, n = blank(cell.source, f"{name}, cell {index}", markdown=cell.cell_type == "markdown")
        total += n
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    lock(nb)
    if nb.cells:  # the badge and setup cell, where the notebook has them, point at the edition
        colab.apply(nb, name, repository, branch, add=False)
    return nb, total


def title(nb) -> str:
    """The notebook's title (its first ``# `` line) without its number."""
    for cell in nb.cells:
        for line in cell.source.splitlines() if cell.cell_type == "markdown" else []:
            if line.startswith("# "):
                return re.sub(r"^\d+\s*·\s*", "", line[2:].strip())
    return ""


def _times(root: Path) -> str:
    """The rows "| 01 | 20 s | 2.3 min |" of the student README, from the quick and full columns of
    the course README's syllabus (the last two cells of each row), so that the two never differ."""
    rows = [cells for line in (root / "README.md").read_text(encoding="utf-8").splitlines()
            if re.fullmatch(r"\| \d\d \|.*\|", line) for cells in [line.strip("|").split("|")]]
    if not rows:
        raise ValueError(f"no syllabus rows (| 01 | ... | quick | full |) in {root / 'README.md'}")
    return "\n".join(f"| {c[0].strip()} | {c[-2].strip()} | {c[-1].strip()} |" for c in rows)


def course_files(root: Path, names: list[str], tracked_only: bool = False) -> list[Path]:
    """The files under ``names`` (relative to ``root``) that git tracks or would track (only
    those it tracks, with ``tracked_only``): no caches, no downloaded data sets. Outside a git
    repository: every file but caches."""
    others = [] if tracked_only else ["--others", "--exclude-standard"]
    listing = subprocess.run(["git", "ls-files", "-z", "--cached", *others, "--", *names], cwd=root,
                             capture_output=True, text=True)
    if listing.returncode == 0:
        files = [Path(p) for p in listing.stdout.split("\0") if p]
        return sorted(p for p in files if (root / p).is_file())
    found = []
    for name in names:
        path = root / name
        if path.is_file():
            found.append(Path(name))
        else:
            found += [p.relative_to(root) for p in path.rglob("*") if p.is_file()
                      and not any(IGNORED("", [part]) for part in p.relative_to(root).parts)]
    return sorted(found)


def _rule(makefile: str, target: str) -> str:
    """The rule of ``target`` in the course's Makefile (from its line to the next blank line)."""
    m = re.search(rf"^{re.escape(target)}:.*?(?=\n\n|\Z)", makefile, re.MULTILINE | re.DOTALL)
    if m is None:
        raise ValueError(f"the course's Makefile has no rule {target!r}: the student Makefile copies it")
    return m.group(0)


def student_pyproject(text: str, repository: str, branch: str) -> str:
    """The course's pyproject.toml reduced to what installs the course, with a ``[tool.course]``
    naming the student edition."""
    blocks = [b for b in text.split("\n\n")
              if any(line.strip() in PYPROJECT_TABLES for line in b.splitlines())]
    out = "\n\n".join(blocks) + "\n"
    out = re.sub(r'(?m)^repository = .*$', f'repository = "{repository}"', out)
    out = re.sub(r'(?m)^branch = .*$', f'branch = "{branch}"', out)
    out = re.sub(r'(?m)^student_\w+ = .*\n', "", out)
    out = re.sub(r'(?m)^(#.*\n)+(?=\[tool\.course\])',
                 "# Where this edition lives on GitHub: its Colab badges and setup cells point there.\n", out)
    return out


def _looks_like_an_edition(dest: Path) -> bool:
    entries = list(dest.iterdir())
    return not entries or (dest / "notebooks").is_dir() or all(p.suffix == ".ipynb" for p in entries)



def swap_in(tmp: Path, dest: Path) -> None:
    """Put the finished folder ``tmp`` in place of ``dest`` with renames, never half-written:
    a crash leaves either the old ``dest`` or the new one (and at worst a ``-old`` folder)."""
    tmp.chmod(0o755)
    old = tmp.with_name(tmp.name + "-old")
    if dest.exists():
        dest.rename(old)
    tmp.rename(dest)
    shutil.rmtree(old, ignore_errors=True)

def replace_answers(tree: Path, root: Path = ROOT) -> None:
    """Write the edition's versions of the files of :data:`REPLACED` into ``tree``."""
    for rel, source in REPLACED.items():
        shutil.copy2(root / source, tree / rel)


def build(dest: Path = ROOT / "build" / "student", root: Path = ROOT) -> dict[str, int]:
    """Write the student edition of the course in ``root`` into ``dest``; return the number of
    solution regions blanked per notebook.

    Everything is written to a temporary folder next to ``dest`` and swapped in at the end: a
    bad marker leaves no half-built edition behind. ``dest`` may not be the course, hold it, or
    be inside ``notebooks/``; an existing ``dest`` that does not look like an edition is refused
    rather than replaced."""
    root, dest = Path(root).resolve(), Path(dest).resolve()
    src = root / "notebooks"
    if dest == root or root.is_relative_to(dest) or dest.is_relative_to(src):
        raise ValueError(f"student edition not written: {dest} is inside {src} or holds the course; "
                         "choose a folder outside it")
    if dest.exists() and (not dest.is_dir() or not _looks_like_an_edition(dest)):
        raise ValueError(f"student edition not written: {dest} exists and is not a student edition; "
                         "remove it or choose another folder")
    repository, branch = colab.student_setting(root / "pyproject.toml")
    editions = {}
    for path in sorted(src.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        editions[path.name] = student_notebook(nb, path.name, repository, branch)
    missing = [name for name in [*COPIED, *REPLACED.values(), "pyproject.toml", "Makefile", "README.md"]
               if not (root / name).exists()]
    if missing:
        raise FileNotFoundError(f"student edition not written: {', '.join(missing)} missing in {root}")
    makefile = (root / "Makefile").read_text()
    install, lab = _rule(makefile, "$(STAMP)"), _rule(makefile, "lab")
    rows = "\n".join(f"| {name[:2]} | {title(nb) or name} | {colab.badge(name, repository, branch)} |"
                     for name, (nb, _) in editions.items())

    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
    try:
        (tmp / "notebooks").mkdir()
        for name, (nb, _) in editions.items():
            nbformat.write(nb, tmp / "notebooks" / name)
        for rel in course_files(root, COPIED):
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / rel, tmp / rel)
        replace_answers(tmp, root)
        (tmp / "pyproject.toml").write_text(
            student_pyproject((root / "pyproject.toml").read_text(), repository, branch))
        (tmp / "Makefile").write_text(MAKEFILE.format(install=install, lab=lab))
        (tmp / "README.md").write_text(README.replace("{rows}", rows).replace("{times}", _times(root)))
        swap_in(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {name: count for name, (_, count) in editions.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Write the student edition (default build/student/).")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "student")
    args = parser.parse_args(argv)
    try:
        counts = build(args.out)
    except (MarkerError, ValueError, FileNotFoundError, colab.SettingError) as err:
        print(f"student edition not built: {err}", file=sys.stderr)
        return 1
    for name, count in counts.items():
        print(f"{name}: {count} solution region(s) blanked")
    print(f"{sum(counts.values())} regions in {len(counts)} notebooks -> {args.out} "
          "(notebooks, utils, data, requirements, Makefile, README)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

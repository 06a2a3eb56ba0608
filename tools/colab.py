"""Write the "Open in Colab" badges and the Colab clone address from one setting.

    python tools/colab.py          # rewrite notebooks and README (make badges)
    python tools/colab.py --check  # exit 1 if anything is missing or stale (the tests do this)

The setting is ``[tool.course] repository`` (``owner/name`` on GitHub) and
``branch`` in ``pyproject.toml``. From it this script writes, in every notebook,
the badge on the first cell and the ``REPO_URL`` of the Colab setup cell, and in
the README, the badge of each syllabus row.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
BADGE_IMG = "https://colab.research.google.com/assets/colab-badge.svg"
BADGE_RE = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\((?P<url>[^)]*)\)")
REPO_URL_RE = re.compile(r'REPO_URL = "[^"]*"')


def setting() -> tuple[str, str]:
    """(owner/name, branch) from the ``[tool.course]`` table of pyproject.toml."""
    text = (ROOT / "pyproject.toml").read_text()
    table = re.search(r"^\[tool\.course\]\n(?P<body>(?:[^\[].*\n?)*)", text, re.MULTILINE)
    if table is None:
        raise SystemExit("pyproject.toml has no [tool.course] table with repository = \"owner/name\"")
    values = dict(re.findall(r'^(\w+)\s*=\s*"([^"]*)"', table["body"], re.MULTILINE))
    return values["repository"], values.get("branch", "main")


def colab_url(notebook: str, repository: str, branch: str) -> str:
    return f"https://colab.research.google.com/github/{repository}/blob/{branch}/notebooks/{notebook}"


def badge(notebook: str, repository: str, branch: str) -> str:
    return f"[![Open In Colab]({BADGE_IMG})]({colab_url(notebook, repository, branch)})"


def problems() -> list[str]:
    """Everything that is missing or stale, one line each (empty when all is right)."""
    repository, branch = setting()
    found = []
    names = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    for name in names:
        nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
        urls = BADGE_RE.findall(nb.cells[0].source) if nb.cells else []
        if urls != [colab_url(name, repository, branch)]:
            found.append(f"{name}: first cell's badge is {urls or 'missing'}")
        setup = [c for c in nb.cells if c.cell_type == "code" and "google.colab" in c.source]
        if not setup or f'REPO_URL = "https://github.com/{repository}"' not in setup[0].source:
            found.append(f"{name}: the Colab setup cell does not clone https://github.com/{repository}")
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
        first = nb.cells[0]
        new = badge(path.name, repository, branch)
        if BADGE_RE.search(first.source):
            first.source = BADGE_RE.sub(new.replace("\\", "\\\\"), first.source)
        else:  # after the title line
            lines = first.source.splitlines()
            first.source = "\n".join(lines[:1] + ["", new] + lines[1:])
        for cell in nb.cells:
            if cell.cell_type == "code" and "google.colab" in cell.source:
                cell.source = REPO_URL_RE.sub(f'REPO_URL = "https://github.com/{repository}"', cell.source)
        nbformat.write(nb, path)
    readme = ROOT / "README.md"
    text = BADGE_RE.sub(lambda m: badge(m["url"].rsplit("/", 1)[-1], repository, branch), readme.read_text())
    readme.write_text(text)


def main(argv) -> int:
    if "--check" not in argv:
        write()
    found = problems()
    for line in found:
        print(line)
    if not found:
        print(f"badges and clone address point to github.com/{setting()[0]} ({setting()[1]})")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

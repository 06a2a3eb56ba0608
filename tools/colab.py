"""Write the "Open in Colab" badges and the Colab clone address from one setting.

    python tools/colab.py          # rewrite notebooks and README (make badges)
    python tools/colab.py --check  # exit 1 if anything is missing or stale (the tests do this)

The setting is ``[tool.course] repository`` (``owner/name`` on GitHub) and
``branch`` in ``pyproject.toml`` (read with ``tomllib``; exit status 2, and nothing
written, when the table or the key is missing). From it this script writes, in every notebook,
the badge on the first cell and the ``REPO_URL`` of the Colab setup cell, and in
the README, the badge of each syllabus row.
"""

from __future__ import annotations

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
REPO_URL_RE = re.compile(r'REPO_URL = "[^"]*"')


class SettingError(ValueError):
    """``[tool.course]`` is missing or wrong in pyproject.toml; the message says what to write."""


EXAMPLE = '[tool.course]\nrepository = "owner/name"   # the course on GitHub\nbranch = "main"'


def setting(pyproject: Path | None = None) -> tuple[str, str]:
    """(owner/name, branch) from the ``[tool.course]`` table of pyproject.toml.

    ``branch`` defaults to ``main``. A missing table or key, or a value that is not
    ``owner/name``, raises :class:`SettingError` with the lines to add."""
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
    repository, branch = table["repository"], table.get("branch", "main")
    if not isinstance(repository, str) or not re.fullmatch(r"[\w.-]+/[\w.-]+", repository):
        raise SettingError(f"{pyproject}: [tool.course] repository = {repository!r} is not "
                           '"owner/name" (the course\'s GitHub address without https://github.com/)')
    if not isinstance(branch, str) or not branch.strip():
        raise SettingError(f"{pyproject}: [tool.course] branch = {branch!r} is not a branch name "
                           '(for example branch = "main")')
    return repository, branch


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
    try:
        repository, branch = setting()
        if "--check" not in argv:
            write()
        found = problems()
    except SettingError as err:
        print(f"nothing written: {err}", file=sys.stderr)
        return 2
    for line in found:
        print(line)
    if not found:
        print(f"badges and clone address point to github.com/{repository} ({branch})")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

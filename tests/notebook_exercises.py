"""What the catalogues of planted mistakes read from the notebooks themselves: an
exercise's cell and the lines of its solution, which no self-check message may contain."""

from __future__ import annotations

import json
import re
from pathlib import Path


def exercise_cell(notebook: Path, name: str) -> str:
    """The source of the code cell whose solution region belongs to ``def name`` or ``class name``."""
    for cell in json.loads(Path(notebook).read_text())["cells"]:
        source = "".join(cell["source"])
        if (cell["cell_type"] == "code" and "### BEGIN SOLUTION" in source
                and re.search(rf"^\s*(def|class) {re.escape(name)}\b", source, re.MULTILINE)):
            return source
    raise AssertionError(f"{Path(notebook).name}: no exercise cell defines {name}")


def solution_lines(source: str) -> list[str]:
    """The stripped lines inside the solution regions of ``source``, each whole and
    also without its end-of-line comment."""
    lines, inside = [], False
    for line in source.splitlines():
        stripped = line.strip()
        if stripped in ("### BEGIN SOLUTION", "### END SOLUTION"):
            inside = stripped == "### BEGIN SOLUTION"
        elif inside and stripped and not stripped.startswith("#"):
            lines += [stripped, stripped.split("  #")[0].strip()]
    return lines

"""Write the student edition: every notebook with its solutions blanked.

    python tools/student.py            # notebooks/*.ipynb -> build/student/   (make student)

In a code cell, each region from ``### BEGIN SOLUTION`` to ``### END SOLUTION``
(markers included) becomes, at the indentation of the BEGIN line::

    # YOUR CODE HERE
    raise NotImplementedError()

and in a markdown cell it becomes ``YOUR ANSWER HERE``: nbgrader's semantics, so
instructors who use nbgrader get the same student edition. Outputs and execution
counts are stripped. An unbalanced, nested or unknown marker stops the build
with the notebook, the cell and the line. The notebooks in ``notebooks/`` stay
the single source; ``build/`` is ignored by git.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
MARKER = re.compile(r"^(?P<indent>\s*)###\s*(?P<kind>BEGIN|END)\s+(?P<name>.+?)\s*$")
LOOSE = re.compile(r"(BEGIN|END)\s+SOLUTION", re.IGNORECASE)
STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")


class MarkerError(ValueError):
    """A solution marker that cannot be paired; the message says where."""


def blank(source: str, where: str, markdown: bool = False) -> tuple[str, int]:
    """Return ``source`` with its solution regions replaced, and how many there were."""
    out, regions, inside = [], 0, None
    for number, line in enumerate(source.splitlines(), start=1):
        m = MARKER.match(line)
        if m is None and LOOSE.search(line):
            raise MarkerError(f"{where}, line {number}: malformed marker {line.strip()!r} "
                              "(write exactly '### BEGIN SOLUTION' or '### END SOLUTION')")
        if m is not None:
            kind, name = m["kind"], m["name"]
            if name != "SOLUTION":
                raise MarkerError(f"{where}, line {number}: unknown marker {line.strip()!r} "
                                  "(only BEGIN/END SOLUTION are supported)")
            if kind == "BEGIN":
                if inside is not None:
                    raise MarkerError(f"{where}, line {number}: nested BEGIN SOLUTION "
                                      f"(the region opened on line {inside} is not closed)")
                inside = number
                indent = m["indent"]
                out += ["YOUR ANSWER HERE"] if markdown else [indent + s for s in STUB]
                regions += 1
            else:
                if inside is None:
                    raise MarkerError(f"{where}, line {number}: END SOLUTION without a BEGIN SOLUTION")
                inside = None
            continue
        if inside is None:
            out.append(line)
    if inside is not None:
        raise MarkerError(f"{where}, line {inside}: BEGIN SOLUTION is never closed by END SOLUTION")
    return "\n".join(out), regions


def student_notebook(nb, name: str):
    """A copy of notebook ``nb`` with solutions blanked and outputs stripped; and its count."""
    nb = nbformat.from_dict(nb)
    total = 0
    for index, cell in enumerate(nb.cells):
        where = f"{name}, cell {index}"
        cell.source, n = blank(cell.source, where, markdown=cell.cell_type == "markdown")
        total += n
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb, total


def build(src: Path = ROOT / "notebooks", dest: Path = ROOT / "build" / "student") -> dict[str, int]:
    """Write every notebook of ``src`` into ``dest``; return the exercises blanked per notebook.

    Everything is checked before anything is written, so a bad marker leaves no
    half-built edition behind. ``dest`` may not be ``src`` or inside it: student copies
    next to the solutions would overwrite them or be collected as notebooks (by nbval,
    by the next build)."""
    if Path(dest).resolve().is_relative_to(Path(src).resolve()):
        raise ValueError(f"student edition not written: {dest} is inside {src}; choose a folder outside it")
    editions = {}
    for path in sorted(src.glob("*.ipynb")):
        editions[path.name] = student_notebook(nbformat.read(path, as_version=4), path.name)
    dest.mkdir(parents=True, exist_ok=True)
    for name, (nb, _) in editions.items():
        nbformat.write(nb, dest / name)
    return {name: count for name, (_, count) in editions.items()}


def main() -> int:
    try:
        counts = build()
    except MarkerError as err:
        print(f"student edition not built: {err}", file=sys.stderr)
        return 1
    for name, count in counts.items():
        print(f"{name}: {count} exercise(s) blanked")
    print(f"{sum(counts.values())} exercises in {len(counts)} notebooks -> build/student/")
    return 0


if __name__ == "__main__":
    sys.exit(main())

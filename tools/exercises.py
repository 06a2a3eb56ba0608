"""The exercises of a notebook: solution markers, the stubs that replace them, nbgrader metadata.

    python tools/exercises.py                 # add nbgrader metadata to notebooks/*.ipynb, in place
    python tools/exercises.py NB.ipynb ...    # to these notebooks
    python tools/exercises.py --check         # exit 1 if a notebook's metadata is missing or stale

An exercise is a code cell with a region between ``### BEGIN SOLUTION`` and ``### END SOLUTION``
(nbgrader's markers); the next code cell is its self-check. A question is a markdown cell with
such a region (the model answer). From these markers :func:`add_metadata` writes nbgrader's own
cell metadata (schema version 3), so that ``nbgrader generate_assignment`` accepts the notebooks
and ``tools/grade.py`` knows what to grade:

- exercise cell: ``solution``, grade_id ``<id>_solution``;
- its self-check: ``grade`` and ``locked``, grade_id ``<id>``, ``points`` (default 1);
- question: ``solution`` and ``grade`` (graded by hand), grade_id ``q1``, ``q2``, ... in order,
  ``points`` (default 1).

``<id>`` is the self-check's name without ``check_`` (``checks.check_relu(...)`` -> ``relu``), or
else the exercise's first ``def``/``class`` name. Points and grade_ids already in a cell's metadata
are kept: declare points by editing them there (Jupyter: *Property Inspector*, or the JSON).
"""

from __future__ import annotations

import copy
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
MARKER = re.compile(r"^(?P<indent>\s*)###\s*(?P<kind>BEGIN|END)\s+(?P<name>.+?)\s*$")
LOOSE = re.compile(r"(BEGIN|END)\s+SOLUTION", re.IGNORECASE)
SCOPE = re.compile(r"^(?P<indent>\s*)(?:async\s+)?(?P<kind>def|class)\s+(?P<name>\w+)")
CHECK_CALL = re.compile(r"\bcheck_(\w+)\s*\(")
TEXT_STUB = "YOUR ANSWER HERE"
SCHEMA = 3


class MarkerError(ValueError):
    """A solution marker that cannot be paired; the message says where."""


def code_stub(name: str | None) -> list[str]:
    """nbgrader's stub, with a message naming the exercise when there is a name."""
    message = f'"{name}: not written yet"' if name else ""
    return ["# YOUR CODE HERE", f"raise NotImplementedError({message})"]


def _enclosing(scopes: list[tuple[int, str, str]]) -> str | None:
    """``name`` of the innermost def/class, ``Class.method`` for a method, None at top level."""
    if not scopes:
        return None
    _, kind, name = scopes[-1]
    if kind == "def" and len(scopes) > 1 and scopes[-2][1] == "class":
        return f"{scopes[-2][2]}.{name}"
    return name


def blank(source: str, where: str, markdown: bool = False) -> tuple[str, int]:
    """Return ``source`` with its solution regions replaced, and how many there were.

    A code region becomes ``# YOUR CODE HERE`` and ``raise NotImplementedError("relu: not
    written yet")`` at the indentation of its BEGIN line, where ``relu`` is the nearest enclosing
    ``def``/``class`` (``Class.method`` for a method; no message at top level); a markdown region
    becomes ``YOUR ANSWER HERE``. A malformed, unknown, unbalanced or nested marker raises
    :class:`MarkerError` naming ``where`` and the line."""
    out, regions, inside, scopes = [], 0, None, []
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
                inside, indent = number, m["indent"]
                scopes = [s for s in scopes if s[0] < len(indent)]
                out += [TEXT_STUB] if markdown else [indent + s for s in code_stub(_enclosing(scopes))]
                regions += 1
            else:
                if inside is None:
                    raise MarkerError(f"{where}, line {number}: END SOLUTION without a BEGIN SOLUTION")
                inside = None
            continue
        if inside is None:
            out.append(line)
        if not markdown and line.strip() and not line.lstrip().startswith("#"):
            depth = len(line) - len(line.lstrip())
            scopes = [s for s in scopes if s[0] < depth]
            scope = SCOPE.match(line)
            if scope:
                scopes.append((depth, scope["kind"], scope["name"]))
    if inside is not None:
        raise MarkerError(f"{where}, line {inside}: BEGIN SOLUTION is never closed by END SOLUTION")
    return "\n".join(out), regions


def has_region(source: str) -> bool:
    return any((m := MARKER.match(line)) and m["kind"] == "BEGIN" for line in source.splitlines())


def _meta(grade_id: str, *, solution: bool, grade: bool, locked: bool, points=None, task=None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": SCHEMA,
            "solution": solution}
    if points is not None:
        meta["points"] = points
    if task is not None:
        meta["task"] = task
    return meta


def _exercise_id(exercise: str, check: str, number: int) -> str:
    found = CHECK_CALL.search(check)
    if found:
        return found[1]
    top = [m["name"] for m in map(SCOPE.match, exercise.splitlines()) if m and not m["indent"]]
    return top[0] if top else f"exercise{number}"


def add_metadata(nb, name: str = "notebook", default_points: float = 1) -> list[dict]:
    """Write nbgrader metadata into ``nb`` (file name ``name``, for messages) in place, from its
    solution markers; a bad marker raises :class:`MarkerError`.

    Returns one entry per graded item: ``{"kind": "exercise" | "question", "grade_id", "points",
    "cell"}`` (``cell``: the self-check's index, or the question's). An exercise whose next code
    cell is another exercise (or that has none) is a solution cell without points. A cell that no
    longer plays a role (its region was removed) loses its nbgrader metadata; points and grade_ids
    already declared in a cell playing the same role are kept."""
    for i, cell in enumerate(nb.cells):
        blank(cell.source, f"{name}, cell {i}", markdown=cell.cell_type == "markdown")
    old = [c.metadata.get("nbgrader", {}) for c in nb.cells]
    for cell in nb.cells:
        cell.metadata.pop("nbgrader", None)
    items, seen, questions = [], set(), 0
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    for i, cell in enumerate(nb.cells):
        if not has_region(cell.source):
            continue
        if cell.cell_type == "markdown":
            questions += 1
            was = old[i] if old[i].get("solution") and old[i].get("grade") else {}
            grade_id = _unique(was.get("grade_id") or f"q{questions}", seen)
            points = was.get("points", default_points)
            cell.metadata["nbgrader"] = _meta(grade_id, solution=True, grade=True, locked=False,
                                              points=points, task=False)
            items.append({"kind": "question", "grade_id": grade_id, "points": points, "cell": i})
            continue
        if cell.cell_type != "code":
            continue
        j = next((j for j in code if j > i), None)
        number = sum(item["kind"] == "exercise" for item in items) + 1
        if j is None or has_region(nb.cells[j].source):  # no self-check of its own: no points
            was = old[i] if old[i].get("solution") else {}
            grade_id = was.get("grade_id")
            if not grade_id:
                grade_id = _unique(_exercise_id(cell.source, "", number), seen) + "_solution"
            seen.add(grade_id)
            cell.metadata["nbgrader"] = _meta(grade_id, solution=True, grade=False, locked=False)
            continue
        was = old[j] if old[j].get("grade") and not old[j].get("solution") else {}
        grade_id = _unique(was.get("grade_id") or _exercise_id(cell.source, nb.cells[j].source, number), seen)
        points = was.get("points", default_points)
        cell.metadata["nbgrader"] = _meta(f"{grade_id}_solution", solution=True, grade=False, locked=False)
        nb.cells[j].metadata["nbgrader"] = _meta(grade_id, solution=False, grade=True, locked=True,
                                                 points=points)
        seen.add(f"{grade_id}_solution")
        items.append({"kind": "exercise", "grade_id": grade_id, "points": points, "cell": j,
                      "solution_cell": i})
    return items


def _unique(grade_id: str, seen: set) -> str:
    candidate, n = grade_id, 1
    while candidate in seen or f"{candidate}_solution" in seen:
        n += 1
        candidate = f"{grade_id}_{n}"
    seen.add(candidate)
    return candidate


def graded_items(nb) -> list[dict]:
    """The graded items of a notebook that carries nbgrader metadata (as :func:`add_metadata`
    returns them), read from the metadata only."""
    cells = {c.metadata["nbgrader"]["grade_id"]: i for i, c in enumerate(nb.cells)
             if c.metadata.get("nbgrader", {}).get("grade_id")}
    items = []
    for i, cell in enumerate(nb.cells):
        meta = cell.metadata.get("nbgrader", {})
        if not meta.get("grade"):
            continue
        kind = "question" if meta.get("solution") else "exercise"
        item = {"kind": kind, "grade_id": meta["grade_id"], "points": meta.get("points", 0), "cell": i}
        if kind == "exercise":
            item["solution_cell"] = cells.get(f"{meta['grade_id']}_solution")
        items.append(item)
    return items


def lock(nb) -> None:
    """nbgrader's LockCells, in place: exercise and question cells cannot be deleted, self-checks
    can be neither deleted nor edited (JupyterLab and Notebook honour this; Colab does not)."""
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            cell.metadata["deletable"] = False
        elif meta.get("grade") or meta.get("locked"):
            cell.metadata["deletable"] = False
            cell.metadata["editable"] = False


def main(argv: list[str]) -> int:
    check = "--check" in argv
    paths = [Path(a) for a in argv if a != "--check"] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    stale = 0
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        before = copy.deepcopy(nb)
        try:
            items = add_metadata(nb, path.name)
        except MarkerError as err:
            print(err, file=sys.stderr)
            return 2
        summary = ", ".join(f"{i['grade_id']} ({i['points']:g})" for i in items) or "nothing to grade"
        if nb == before:
            print(f"{path.name}: up to date: {summary}")
            continue
        stale += 1
        if check:
            print(f"{path.name}: nbgrader metadata missing or stale (run python tools/exercises.py)")
        else:
            nbformat.write(nb, path)
            print(f"{path.name}: metadata written: {summary}")
    return 1 if check and stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

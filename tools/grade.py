"""Grade the notebooks students hand back (make grade SUBMISSIONS=DIR).

    python tools/grade.py SUBMISSIONS [--source notebooks] [--out build/grades]
                          [--cell-timeout 120] [--timeout 600] [--jobs 1]

SUBMISSIONS holds one folder per student, named after the student, with that student's
notebooks under their course file names (``NN_`` prefix enough; Colab's "Copy of " is fine;
sub-folders are searched, hidden ones skipped)::

    SUBMISSIONS/alice/01_numpy_one_hidden_layer.ipynb
    SUBMISSIONS/bob/01_numpy_one_hidden_layer.ipynb
    SUBMISSIONS/bob/03_pytorch.ipynb

Each submission runs on a fresh kernel, in quick mode (``TP_QUICK=1``), in the course's
``notebooks/`` folder (``--source``), with its results in a temporary folder, a time limit per
cell (an endless loop is interrupted) and one per notebook (then the kernel is killed). Before it
runs, each self-check cell is replaced by the instructor's version, found by its nbgrader
``grade_id`` (or, for a cell that lost its metadata, by its unchanged source): an edited check
cannot pass, a deleted one scores nothing. An exercise earns its points when its exercise cell
is there and its self-check runs without error. Questions are graded by hand. Written to
``--out`` (default ``build/grades/``):

    grades.csv                        one row per submission: points per exercise, total, max,
                                      then an empty column per question for the instructor
                                      (kept from the previous grades.csv when filled in)
    feedback/<student>/<notebook>.md  each exercise passed, or its self-check's message
    answers/<notebook>/<question>.md  the model answer, then every student's answer
    skipped.txt                       files that were not graded, and why

Anything that goes wrong in a submission (not a notebook, a missing cell, a crash, an endless
loop, a dead kernel) costs the points concerned and a line in its feedback; the run goes on.
Exercises, points and questions come from the nbgrader metadata of the instructor's notebooks
(tools/exercises.py adds what is missing, in memory).
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from exercises import MARKER, TEXT_STUB, add_metadata, graded_items
from student import swap_in

ROOT = Path(__file__).resolve().parent.parent
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
NAME = re.compile(r"^(?:copy of\s+)?(\d\d)(?=[ _.-])", re.IGNORECASE)


@dataclass
class Assignment:
    """One instructor notebook: what it grades and how much."""

    name: str
    nb: object
    exercises: list[dict]
    questions: list[dict]

    @property
    def key(self) -> str:  # column prefix in grades.csv
        return self.name[:2] if self.name[:2].isdigit() else Path(self.name).stem

    @property
    def max_points(self) -> float:
        return sum(e["points"] for e in self.exercises)


@dataclass
class Result:
    """The grade of one submission."""

    student: str
    notebook: str
    points: dict = field(default_factory=dict)  # exercise grade_id -> points earned
    messages: dict = field(default_factory=dict)  # exercise grade_id -> None (passed) or why not
    answers: dict = field(default_factory=dict)  # question grade_id -> the student's answer or None
    notes: list = field(default_factory=list)  # anything else the student should know
    seconds: float = 0.0
    readable: bool = True  # False: the file is not a notebook


def load_course(source: Path) -> dict[str, Assignment]:
    course = {}
    for path in sorted(Path(source).glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        add_metadata(nb, path.name)  # keeps the points and ids declared in the notebook
        items = graded_items(nb)
        course[path.name] = Assignment(path.name, nb, [i for i in items if i["kind"] == "exercise"],
                                       [i for i in items if i["kind"] == "question"])
    return course


def match(name: str, course: dict[str, Assignment]) -> str | None:
    """The course notebook a submitted file is, by its name: its stem, or its ``NN_`` prefix."""
    lowered = name.lower()
    for notebook in course:
        if Path(notebook).stem.lower() in lowered:
            return notebook
    m = NAME.match(name)
    if m:
        return next((n for n in course if n.startswith(m[1])), None)
    return None


def find_submissions(folder: Path, course: dict[str, Assignment]) -> tuple[list[tuple], list[str]]:
    """``[(student, notebook, path, other files found for it)]`` and the files skipped, each
    with the reason."""
    found, skipped = [], []
    for entry in sorted(Path(folder).iterdir()):
        if entry.name.startswith("."):
            continue
        if not entry.is_dir():
            skipped.append(f"{entry.name}: not in a student's folder (SUBMISSIONS/<student>/<notebook>)")
            continue
        candidates: dict[str, list[Path]] = {}
        for path in sorted(entry.rglob("*")):
            if not path.is_file() or any(p.startswith(".") for p in path.relative_to(entry).parts):
                continue
            notebook = match(path.name, course)
            if notebook is None:
                skipped.append(f"{entry.name}/{path.relative_to(entry)}: matches no notebook of the course")
            else:
                candidates.setdefault(notebook, []).append(path)
        for notebook, paths in candidates.items():
            # the exact name, then any notebook file, the most recent first, then anything else
            paths.sort(key=lambda p: (p.name != notebook, p.suffix != ".ipynb", -p.stat().st_mtime))
            found.append((entry.name, notebook, paths[0], paths[1:]))
    return found, skipped


# --- preparing and running one submission -------------------------------------------------------


def _first_line(source: str) -> str:
    return next((line.strip() for line in source.splitlines() if line.strip()), "")


def _locate(nb, grade_id: str, cell_type: str, by_content) -> int | None:
    """Index of the cell with ``grade_id`` (the last one if copied), else of the last cell of
    that type without nbgrader metadata for which ``by_content(cell source)`` holds."""
    ids = [i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id]
    if ids:
        return ids[-1] if nb.cells[ids[-1]].cell_type == cell_type else None
    same = [i for i, c in enumerate(nb.cells) if c.cell_type == cell_type and "nbgrader" not in c.metadata
            and by_content(c.source)]
    return same[-1] if same else None


def prepare(submitted, assignment: Assignment) -> tuple[object, dict, dict]:
    """The notebook to run (the student's, outputs cleared, with the instructor's self-checks),
    ``{exercise id: check cell index}`` and ``{exercise id: why it cannot score}``."""
    nb = nbformat.from_dict(submitted)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    checks, missing = {}, {}
    for ex in assignment.exercises:
        gid = ex["grade_id"]
        original = assignment.nb.cells[ex["cell"]].source
        index = _locate(nb, gid, "code", lambda s, o=original: s.strip() == o.strip())
        if index is None:
            missing[gid] = f"its self-check cell ({gid}) is missing: deleted, or its metadata changed"
        else:
            nb.cells[index].source = original  # the instructor's version, whatever the student did
            checks[gid] = index
        if ex.get("solution_cell") is not None:
            head = _first_line(assignment.nb.cells[ex["solution_cell"]].source)
            if _locate(nb, f"{gid}_solution", "code", lambda s, h=head: _first_line(s) == h) is None:
                missing.setdefault(gid, f"its exercise cell ({gid}_solution) is missing: deleted, "
                                        "or its metadata changed")
    return nb, checks, missing


def _error(cell) -> str | None:
    """The message of the error a cell raised, without colour codes; None if it raised none."""
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            ename, evalue = out.get("ename", "Error"), ANSI.sub("", out.get("evalue", "")).strip()
            if ename in ("CheckFailed", "AssertionError") and evalue:
                return evalue
            return f"{ename}: {evalue}" if evalue else ename
    return None


def where(nb, index: int) -> str:
    """A cell as a student finds it: its position and first line."""
    return f"cell {index + 1} (`{_first_line(nb.cells[index].source)[:60]}`)"


def execute(nb, cwd: Path, env: dict, cell_timeout: int, timeout: int) -> tuple[dict, str | None]:
    """Run the code cells of ``nb`` in order on a fresh kernel, errors allowed.

    A cell running past ``cell_timeout`` is interrupted; past ``timeout`` for the whole notebook,
    no further cell starts and, should the kernel not answer, it is killed. Returns
    ``{index: "ran" | "timeout"}`` for the cells that ran, and why it stopped early, or None."""
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    client = NotebookClient(nb, kernel_name="python3", allow_errors=True, interrupt_on_timeout=True,
                            timeout=cell_timeout, shutdown_kernel="immediate",
                            resources={"metadata": {"path": str(cwd)}})
    deadline = time.monotonic() + timeout
    status, stopped = {}, None
    with client.setup_kernel(env=env):
        process = getattr(client.km.provisioner, "process", None)
        watchdog = threading.Timer(timeout + 30, lambda: process and process.poll() is None
                                   and os.kill(process.pid, signal.SIGKILL))
        watchdog.start()
        try:
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                left = deadline - time.monotonic()
                if left <= 1:
                    stopped = f"the notebook's time limit ({timeout} s) was reached before {where(nb, index)}"
                    break
                client.timeout = limit = int(min(cell_timeout, left))
                start = time.monotonic()
                try:
                    client.execute_cell(cell, index)
                except DeadKernelError:
                    stopped = f"the kernel died while running {where(nb, index)} (out of memory, or an exit?)"
                    break
                except Exception as err:  # nbclient itself failed: report it, go on with the next
                    stopped = f"{where(nb, index)} could not be run ({type(err).__name__}: {err})"
                    break
                status[index] = "timeout" if time.monotonic() - start >= limit - 0.5 else "ran"
        finally:
            watchdog.cancel()
    return status, stopped


def split_question(source: str) -> tuple[str, str, str]:
    """(text before the answer region, model answer, text after it) of a question cell."""
    parts, part = [[], [], []], 0
    for line in source.splitlines():
        m = MARKER.match(line)
        if m:
            part = 1 if m["kind"] == "BEGIN" else 2
        else:
            parts[part].append(line)
    return tuple("\n".join(p).strip() for p in parts)


def _answer(student_source: str, original: str) -> str:
    """The student's answer: their cell without the question text around the answer region."""
    prefix, _, suffix = split_question(original)
    text = "\n".join(line for line in student_source.splitlines() if not MARKER.match(line)).strip()
    if prefix and text.startswith(prefix):
        text = text[len(prefix):].strip()
    if suffix and text.endswith(suffix):
        text = text[:-len(suffix)].strip()
    return "" if text in ("", TEXT_STUB) else text


def grade(student: str, path: Path, assignment: Assignment, *, cwd: Path, cell_timeout: int,
          timeout: int) -> Result:
    """Grade one submitted file; never raises for what is in the file."""
    result = Result(student, assignment.name)
    start = time.monotonic()
    try:
        submitted = nbformat.read(path, as_version=4)
    except Exception as err:  # not JSON, not a notebook, unreadable
        why = ANSI.sub("", str(err)).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
        result.notes.append(f"`{path.name}` is not a notebook ({why}): nothing could be graded.")
        result.readable = False
        for ex in assignment.exercises:
            result.points[ex["grade_id"]], result.messages[ex["grade_id"]] = 0, "not graded: not a notebook"
        return result
    for q in assignment.questions:
        original = assignment.nb.cells[q["cell"]].source
        head = _first_line(original)
        index = _locate(submitted, q["grade_id"], "markdown", lambda s, h=head: _first_line(s) == h)
        if index is None:
            result.answers[q["grade_id"]] = None
            result.notes.append(f"The cell of question {q['grade_id']} is missing: deleted, "
                                "or its metadata changed.")
        else:
            result.answers[q["grade_id"]] = _answer(submitted.cells[index].source, original)
    nb, checks, missing = prepare(submitted, assignment)
    with tempfile.TemporaryDirectory(prefix="tp-grade-") as results:
        env = {**os.environ, "TP_QUICK": "1", "TP_RESULTS_DIR": results}
        env.setdefault("OMP_NUM_THREADS", "1")
        try:
            status, stopped = execute(nb, cwd, env, cell_timeout, timeout)
        except Exception as err:  # the kernel would not start
            status, stopped = {}, f"the notebook could not be run ({type(err).__name__}: {err})"
    if stopped:
        result.notes.append(f"The run stopped early: {stopped}.")
    for ex in assignment.exercises:
        gid, index = ex["grade_id"], checks.get(ex["grade_id"])
        if gid in missing:
            message = missing[gid]
        elif index not in status:
            message = f"not run: {stopped}"
        elif status[index] == "timeout":
            message = (f"stopped after the time limit of {cell_timeout} s per cell "
                       f"(an endless loop?): {_error(nb.cells[index]) or 'interrupted'}")
        else:
            message = _error(nb.cells[index])
        result.messages[gid] = message
        result.points[gid] = ex["points"] if message is None else 0
    check_cells = set(checks.values())
    others = [(i, _error(c)) for i, c in enumerate(nb.cells) if i in status and i not in check_cells]
    for i, error in [(i, e) for i, e in others if e][:5]:
        result.notes.append(f"{where(nb, i).capitalize()} raised {error.splitlines()[0][:300]}")
    result.seconds = time.monotonic() - start
    return result


# --- writing the results ----------------------------------------------------------------------


def _fmt(points: float) -> str:
    return f"{points:g}"


def feedback(result: Result, assignment: Assignment) -> str:
    total = sum(result.points.values())
    lines = [f"# {Path(assignment.name).stem}: {result.student}", "",
             f"**Self-checks: {_fmt(total)} / {_fmt(assignment.max_points)} points** "
             f"(run again in quick mode on a fresh kernel, with the original self-checks).", ""]
    for ex in assignment.exercises:
        gid, message = ex["grade_id"], result.messages.get(ex["grade_id"])
        earned = f"{_fmt(result.points.get(gid, 0))}/{_fmt(ex['points'])}"
        if message is None:
            lines.append(f"- **{gid}** ({earned}): passed")
        else:
            lines += [f"- **{gid}** ({earned}): failed", "", "  ```text",
                      *[f"  {line}" for line in message.splitlines()], "  ```", ""]
    if assignment.questions:
        ids = ", ".join(q["grade_id"] for q in assignment.questions)
        lines += ["", f"Questions ({ids}) are graded by hand."]
    if result.notes:
        lines += ["", "## Notes", "", *[f"- {note}" for note in result.notes]]
    return "\n".join(lines).rstrip() + "\n"


def answers_page(assignment: Assignment, question: dict, results: list[Result]) -> str:
    before, model, after = split_question(assignment.nb.cells[question["cell"]].source)
    points = question["points"]
    lines = [f"# {Path(assignment.name).stem} · {question['grade_id']} ({_fmt(points)} "
             f"point{'' if points == 1 else 's'})", "", "\n\n".join(t for t in (before, after) if t), "",
             "**Model answer**", "", model, ""]
    for result in results:
        answer = result.answers.get(question["grade_id"])
        text = ("*(not a notebook)*" if not result.readable else "*(the question's cell is missing)*"
                if answer is None else answer or "*(not answered)*")
        lines += ["---", "", f"## {result.student}", "", text, ""]
    return "\n".join(lines)


def write(results: list[Result], course: dict[str, Assignment], out: Path, skipped=()) -> Path:
    """Write grades.csv, feedback/, answers/ and the files ``skipped`` (skipped.txt) into ``out``
    (replaced as a whole; the instructor's marks in the question columns of an existing
    grades.csv are kept)."""
    out = Path(out)
    kept = {}
    if (out / "grades.csv").is_file():
        with open(out / "grades.csv", newline="") as f:
            for row in csv.DictReader(f):
                kept[(row.get("student"), row.get("notebook"))] = row
    if out.exists() and any(out.iterdir()) and not (out / "grades.csv").exists():
        raise ValueError(f"{out} exists and holds no grades.csv: remove it or choose another --out")
    used = [a for a in course.values() if any(r.notebook == a.name for r in results)]
    exercise_columns = [f"{a.key}:{e['grade_id']}" for a in used for e in a.exercises]
    question_columns = [f"{a.key}:{q['grade_id']}" for a in used for q in a.questions]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        with open(tmp / "grades.csv", "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["student", "notebook", *exercise_columns, "total", "max", *question_columns])
            for r in results:
                a = course[r.notebook]
                points = {f"{a.key}:{gid}": _fmt(p) for gid, p in r.points.items()}
                old = kept.get((r.student, Path(r.notebook).stem), {})
                writer.writerow([r.student, Path(r.notebook).stem,
                                 *[points.get(c, "") for c in exercise_columns],
                                 _fmt(sum(r.points.values())), _fmt(a.max_points),
                                 *[old.get(c, "") for c in question_columns]])
        for r in results:
            page = tmp / "feedback" / r.student / f"{Path(r.notebook).stem}.md"
            page.parent.mkdir(parents=True, exist_ok=True)
            page.write_text(feedback(r, course[r.notebook]), encoding="utf-8")
        for a in used:
            mine = [r for r in results if r.notebook == a.name]
            for q in a.questions:
                page = tmp / "answers" / Path(a.name).stem / f"{q['grade_id']}.md"
                page.parent.mkdir(parents=True, exist_ok=True)
                page.write_text(answers_page(a, q, mine), encoding="utf-8")
        if skipped:
            (tmp / "skipped.txt").write_text("".join(f"{line}\n" for line in skipped), encoding="utf-8")
        swap_in(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def run(submissions: Path, source: Path = ROOT / "notebooks", out: Path = ROOT / "build" / "grades",
        cell_timeout: int = 120, timeout: int = 600, jobs: int = 1, log=print) -> list[Result]:
    """Grade every submission in ``submissions``; write the results into ``out``."""
    submissions = Path(submissions)
    if not submissions.is_dir():
        raise ValueError(f"{submissions} is not a folder: give the folder of submissions, "
                         "laid out as SUBMISSIONS/<student>/<notebook>.ipynb")
    course = load_course(source)
    if not course:
        raise ValueError(f"no notebook in {source}: --source must be the course's notebooks/ folder")
    found, skipped = find_submissions(submissions, course)
    for line in skipped:
        log(f"skipped {line}")
    if not found:
        numbers = ", ".join(sorted({n[:2] for n in course}))
        raise ValueError(f"no submission found in {submissions}: expected "
                         f"SUBMISSIONS/<student>/NN_name.ipynb, NN one of {numbers}")
    log(f"grading {len(found)} submission(s) of {len({s for s, *_ in found})} student(s), "
        f"{jobs} at a time, quick mode, {cell_timeout} s per cell, {timeout} s per notebook")

    def one(item):
        student, notebook, path, others = item
        result = grade(student, path, course[notebook], cwd=Path(source).resolve(),
                       cell_timeout=cell_timeout, timeout=timeout)
        result.notes += [f"Also found `{p.relative_to(submissions / student)}`, not graded "
                         f"(graded: `{path.relative_to(submissions / student)}`)." for p in others]
        log(f"  {student:<20} {Path(notebook).stem:<30} {_fmt(sum(result.points.values()))}"
            f"/{_fmt(course[notebook].max_points)}  ({result.seconds:.0f} s)")
        return result

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        results = list(pool.map(one, found))
    write(results, course, out, skipped)
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Grade submitted notebooks (see the module docstring).")
    parser.add_argument("submissions", nargs="?", type=Path,
                        help="folder of submissions: SUBMISSIONS/<student>/<notebook>.ipynb")
    parser.add_argument("--source", type=Path, default=ROOT / "notebooks",
                        help="the instructor's notebooks, also the kernels' working folder "
                             "(default notebooks/)")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "grades")
    parser.add_argument("--cell-timeout", type=int, default=120, help="seconds per cell (default 120)")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per notebook (default 600)")
    parser.add_argument("--jobs", type=int, default=1, help="notebooks graded at once (default 1)")
    args = parser.parse_args(argv)
    if args.submissions is None:
        print("grade: which submissions? make grade SUBMISSIONS=DIR, with DIR/<student>/<notebook>.ipynb",
              file=sys.stderr)
        return 2
    start = time.perf_counter()
    try:
        results = run(args.submissions, args.source, args.out, args.cell_timeout, args.timeout, args.jobs)
    except ValueError as err:
        print(f"grade: {err}", file=sys.stderr)
        return 2
    print(f"{len(results)} submission(s) graded in {time.perf_counter() - start:.0f} s -> "
          f"{args.out}/grades.csv, feedback/, answers/")
    return 0


if __name__ == "__main__":
    sys.exit(main())

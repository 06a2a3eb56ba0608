"""Grading what students hand back (tools/grade.py, make grade SUBMISSIONS=DIR), on the small
fixture notebook tests/fixtures/grade/01_tiny_exercises.ipynb: three exercises (1, 2 and 1 points:
a Check-based self-check, a plain assert in a function, a bare assert) and one question."""

import copy
import csv
import os
import sys
import time
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import exercises  # noqa: E402
import grade  # noqa: E402
import student  # noqa: E402

SOURCE = ROOT / "tests" / "fixtures" / "grade"
NAME = "01_tiny_exercises.ipynb"
CELL_TIMEOUT, TIMEOUT = 10, 60  # 10 s: the first cell's imports take seconds on a loaded CI machine


def _cell(nb, grade_id):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def _edit(nb, grade_id, old, new):
    cell = _cell(nb, grade_id)
    assert old in cell.source
    cell.source = cell.source.replace(old, new)
    return nb


def _submissions(folder: Path) -> None:
    """One folder per student, each with a variant of the fixture."""
    solved = nbformat.read(SOURCE / NAME, as_version=4)
    blank, _ = student.student_notebook(solved, NAME, "owner/name", "student")

    def hand_in(who, nb, name=NAME):
        (folder / who).mkdir(parents=True)
        if isinstance(nb, str):
            (folder / who / name).write_text(nb)
        else:
            nbformat.write(nb, folder / who / name)

    def solved_copy():
        return copy.deepcopy(solved)

    hand_in("solved", solved_copy())
    hand_in("blank", blank)
    answered = copy.deepcopy(blank)
    question = _cell(answered, "q1")
    question.source = question.source.replace("YOUR ANSWER HERE", "Twice is not square.")
    hand_in("answered", answered, "Copy of " + NAME)  # as Colab names a saved copy
    hand_in("mistake", _edit(solved_copy(), "double_solution", "2 * x", "x ** 2"))
    endless = "while True:\n            pass"
    hand_in("endless", _edit(solved_copy(), "counter_solution", "self.total += n", endless))
    crash = solved_copy()
    crash.cells[1].source = 'raise RuntimeError("broken on purpose")\n' + crash.cells[1].source
    hand_in("crash", crash)
    dies = "import os\n        os._exit(1)"
    hand_in("dies", _edit(solved_copy(), "counter_solution", "self.total += n", dies))
    hand_in("garbage", "this is not a notebook")
    edited = solved_copy()
    edited.cells.remove(_cell(edited, "square_solution"))  # a deleted exercise cell
    _cell(edited, "double").metadata["nbgrader"]["grade_id"] = "mine"  # a check renamed and edited
    _cell(edited, "mine").source = "print('trust me')"
    hand_in("edited", edited)
    edited_check = _edit(solved_copy(), "counter", "check_counter(Counter)", "pass  # check_counter(Counter)")
    hand_in("edited_check", edited_check)
    lost = solved_copy()  # as if an editor had dropped the nbgrader metadata
    for cell in lost.cells:
        cell.metadata.pop("nbgrader", None)
    hand_in("lost_metadata", lost)
    (folder / "stray.ipynb").write_text("{}")  # not in a student's folder
    (folder / "solved" / "notes.txt").write_text("not a notebook of the course")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("submissions")
    _submissions(folder)
    out = tmp_path_factory.mktemp("grades") / "grades"
    start = time.monotonic()
    status = grade.main([str(folder), "--source", str(SOURCE), "--out", str(out), "--cell-timeout",
                         str(CELL_TIMEOUT), "--timeout", str(TIMEOUT), "--jobs", "2"])
    seconds = time.monotonic() - start
    assert status == 0
    with open(out / "grades.csv", newline="") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    return out, rows, seconds


def _points(row):
    return row["01:double"], row["01:counter"], row["01:square"]


def _feedback(out, who):
    return (out / "feedback" / who / "01_tiny_exercises.md").read_text()


def test_one_row_per_submission_with_points_total_and_maximum(graded):
    out, rows, seconds = graded
    assert sorted(rows) == ["answered", "blank", "crash", "dies", "edited", "edited_check", "endless",
                            "garbage", "lost_metadata", "mistake", "solved"]
    with open(out / "grades.csv", newline="") as f:
        header = next(csv.reader(f))
    assert header == ["student", "notebook", "01:double", "01:counter", "01:square", "total", "max", "01:q1"]
    assert rows["solved"] == {"student": "solved", "notebook": "01_tiny_exercises", "01:double": "1",
                                   "01:counter": "2", "01:square": "1", "total": "4", "max": "4", "01:q1": ""}
    assert [rows[s]["total"] for s in ("blank", "answered", "garbage")] == ["0", "0", "0"]
    assert rows["lost_metadata"]["total"] == "4", "cells found by their content when metadata is lost"
    # everything ran within its limits, two at a time
    assert seconds < 11 * TIMEOUT / 2


def test_a_planted_mistake_loses_exactly_that_exercise(graded):
    out, rows, _ = graded
    assert _points(rows["mistake"]) == ("0", "2", "1"), _feedback(out, "mistake")
    text = _feedback(out, "mistake")
    assert "**double** (0/1): failed" in text and "this looks like x squared instead of 2x" in text
    assert "**counter** (2/2): passed" in text and "**square** (1/1): passed" in text
    assert "\x1b[" not in text


def test_the_blank_edition_scores_nothing_and_says_not_written_yet(graded):
    out, rows, _ = graded
    text = _feedback(out, "blank")
    assert "double: not written yet" in text and "Counter.add: not written yet" in text
    assert "square: not written yet" in text


def test_an_endless_loop_is_interrupted_and_the_rest_is_graded(graded):
    out, rows, _ = graded
    assert _points(rows["endless"]) == ("1", "0", "1"), _feedback(out, "endless")
    assert f"stopped after the time limit of {CELL_TIMEOUT} s per cell" in _feedback(out, "endless")


def test_a_crash_in_the_first_cell_and_a_dead_kernel_are_graded(graded):
    out, rows, _ = graded
    assert rows["crash"]["total"] == "1"  # only the bare assert, which needs no helper of that cell
    assert "raised RuntimeError: broken on purpose" in _feedback(out, "crash")
    assert _points(rows["dies"]) == ("1", "0", "0"), _feedback(out, "dies")
    assert "the kernel died while running cell" in _feedback(out, "dies")


def test_a_file_that_is_not_a_notebook_gets_a_line_and_zero(graded):
    out, rows, _ = graded
    assert rows["garbage"]["total"] == "0"
    assert "is not a notebook" in _feedback(out, "garbage")


def test_files_that_match_nothing_are_listed_as_skipped(graded):
    out, _, _ = graded
    skipped = (out / "skipped.txt").read_text()
    assert "stray.ipynb: not in a student's folder" in skipped
    assert "solved/notes.txt: matches no notebook of the course" in skipped


def test_deleted_renamed_or_edited_cells_cost_their_points(graded):
    out, rows, _ = graded
    assert _points(rows["edited"]) == ("0", "2", "0")
    text = _feedback(out, "edited")
    assert "its self-check cell (double) is missing" in text
    assert "its exercise cell (square_solution) is missing" in text
    # an edited self-check is replaced by the instructor's, which then runs (and passes here)
    assert rows["edited_check"]["total"] == "4"


def test_answers_are_collected_per_question(graded):
    out, _, _ = graded
    page = (out / "answers" / "01_tiny_exercises" / "q1.md").read_text()
    assert page.startswith("# 01_tiny_exercises · q1 (1 point)")
    assert "**Model answer**" in page and "Because twice x is x + x" in page
    assert "## answered\n\nTwice is not square." in page
    assert "## blank\n\n*(not answered)*" in page
    assert "## garbage\n\n*(not a notebook)*" in page
    assert "BEGIN SOLUTION" not in page


def test_an_instructors_marks_survive_a_second_run(graded, tmp_path):
    out, rows, _ = graded
    course = grade.load_course(SOURCE)
    results = [grade.Result("solved", NAME, points={"double": 1, "counter": 2, "square": 1})]
    target = tmp_path / "grades"
    grade.write(results, course, target)
    with open(target / "grades.csv", newline="") as f:
        lines = list(csv.reader(f))
    lines[1][-1] = "0.5"
    with open(target / "grades.csv", "w", newline="") as f:
        csv.writer(f).writerows(lines)
    grade.write(results, course, target)
    with open(target / "grades.csv", newline="") as f:
        assert list(csv.DictReader(f))[0]["01:q1"] == "0.5"


@pytest.mark.parametrize("name, expected", [
    (NAME, NAME), ("Copy of 01_tiny_exercises.ipynb", NAME), ("01_tiny_exercises (1).ipynb", NAME),
    ("01_my_work.ipynb", NAME), ("01-tiny.ipynb", NAME), ("notes.txt", None), ("02_other.ipynb", None),
    ("1_tiny.ipynb", None),
])
def test_a_submission_is_matched_by_its_file_name(name, expected):
    course = grade.load_course(SOURCE)
    assert grade.match(name, course) == expected


def test_missing_or_empty_submissions_say_what_to_do(tmp_path, capsys):
    assert grade.main([]) == 2
    assert "make grade SUBMISSIONS=DIR" in capsys.readouterr().err
    assert grade.main([str(tmp_path / "nowhere"), "--source", str(SOURCE)]) == 2
    assert "is not a folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert grade.main([str(tmp_path / "empty"), "--source", str(SOURCE), "--out", str(tmp_path / "g")]) == 2
    assert "no submission found" in capsys.readouterr().err and not (tmp_path / "g").exists()


def test_the_grader_uses_the_instructors_metadata_from_the_markers(tmp_path):
    """Instructor notebooks without nbgrader metadata are graded too: it is added in memory."""
    nb = nbformat.read(SOURCE / NAME, as_version=4)
    for cell in nb.cells:
        cell.metadata.pop("nbgrader", None)
    (tmp_path / "src").mkdir()
    nbformat.write(nb, tmp_path / "src" / NAME)
    course = grade.load_course(tmp_path / "src")
    assert [e["grade_id"] for e in course[NAME].exercises] == ["double", "counter", "square"]
    assert course[NAME].max_points == 3  # the declared 2 points were in the metadata removed here
    assert exercises.graded_items(course[NAME].nb)[-1]["kind"] == "question"
    assert os.listdir(tmp_path / "src") == [NAME]


def test_the_course_a_submission_runs_against_holds_none_of_its_answers(tmp_path):
    """The copy of the course a submission of 01 runs against: no notebook, and the answers of 01
    (01's self-checks and the checks' own network) are stubs that raise. Its utils/reference.py,
    for every notebook, is the edition's, which holds no network (it reads the student's 01); for
    01 even that one is stubbed, since it would run the very submission graded."""
    import subprocess

    course = grade.grading_course(tmp_path / "01", "01")
    assert not list(course.rglob("*.ipynb"))
    assert "np.maximum" not in (course / "utils" / "reference.py").read_text()
    assert "notebook 01" not in (course / "utils" / "reference.py").read_text()  # stubs only
    other = grade.grading_course(tmp_path / "02", "02") / "utils" / "reference.py"
    assert other.read_text() == (grade.ROOT / "tools" / "edition_reference.py").read_text()
    probe = ("import sys; sys.path.insert(0, sys.argv[1])\n"
             "import numpy as np, utils\n"
             "assert utils.__file__.startswith(sys.argv[1]), utils.__file__\n"
             "from utils import reference, data, checks\n"
             "from utils.checks import architecture, core, networks\n"
             "from utils import train\n"
             "names = ('relu', 'forward', 'one_hot', 'numerical_gradient')\n"
             "assert not any(hasattr(reference, n) for n in names)\n"
             "for fn, args in [(reference.train, (None, None, 1, 0.1)),\n"
             "                 (networks.gradients, (None, None, None)),\n"
             "                 (architecture._reference, ('leaky_relu', np.ones(2), 0.0)),\n"
             "                 (train.mlp, ([2, 2],)),\n"
             "                 (checks.check_relu, (abs,))]:\n"
             "    try:\n"
             "        fn(*args)\n"
             "    except RuntimeError as err:\n"
             "        assert 'not available while grading' in str(err)\n"
             "    else:\n"
             "        raise SystemExit(fn.__name__ + ' still works')\n"
             "print(core.rel_error(1.0, 1.0), data.load_dataset.__name__)")
    out = subprocess.run([sys.executable, "-c", probe, str(course)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["0.0", "load_dataset"]  # what is not an answer still works
    for key in grade.ANSWERS:  # every function named there exists (else the copy would keep it)
        grade.grading_course(tmp_path / key, key)


def test_judged_exercises_are_read_from_their_check_cell():
    assert grade.judged_call("checks.check_relu(relu)") == ("check_relu", ["relu"])
    assert grade.judged_call("checks.check_parameter_count(n_parameters, width_for)\nprint(1)") == (
        "check_parameter_count", ["n_parameters", "width_for"])
    # a check in two halves (probe and judge): the student's function is the first argument only
    assert grade.judged_call("checks.check_train_epoch(train_epoch, device)") == ("check_train_epoch",
                                                                                ["train_epoch"])
    assert grade.judged_call("checks.check_early_stopping(train_early_stopping)") is None  # in the kernel
    assert grade.judged_call("checks.check_relu(lambda z: z)") is None
    assert grade.judged_call("def (") is None
    from utils import checks

    assert all(callable(getattr(checks, name)) for name in grade.JUDGED)
    for name in grade.JUDGED:  # a probe is a function of utils.checks the kernel can find by name
        probe = getattr(getattr(checks, name), "probe", None)
        assert probe is None or (probe.startswith("probe_") and callable(getattr(checks, probe)))

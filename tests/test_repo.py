"""The repository itself: dependency files agree, notebooks are stored clean."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "tests").glob("*.ipynb"))


def _requirement_lines(text: str) -> list[str]:
    return [re.sub(r"\s+", " ", line.split(" #")[0]).strip()
            for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _normalise(req: str) -> str:
    name, rest = re.match(r"([A-Za-z0-9_.\-]+)(.*)", req).groups()
    return re.sub(r"[-_.]+", "-", name).lower() + rest.replace(" ", "")


def test_requirements_and_environment_yml_name_the_same_packages():
    reqs = {_normalise(r) for r in _requirement_lines((ROOT / "requirements.txt").read_text())}
    import yaml  # PyYAML comes with JupyterLab (jupyter-events)
    deps = yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
    (pip_block,) = [d["pip"] for d in deps if isinstance(d, dict)]
    env = {_normalise(re.sub(r"\s+", " ", r)) for r in pip_block}
    assert any(str(d).startswith("python") for d in deps)
    assert reqs == env, f"only in requirements.txt: {reqs - env}; only in environment.yml: {env - reqs}"
    for needed in ("numpy", "matplotlib", "torch", "keras", "codecarbon", "jupyterlab", "nbval", "pytest",
                   "pytest-xdist", "tqdm", "tomli"):
        assert any(r.startswith(needed + ">") or r.startswith(needed + "=") for r in reqs), needed
    assert any(r.startswith("tensorflow") for r in reqs)


def test_the_ranges_admit_colab_and_the_pinned_torch():
    from packaging.requirements import Requirement
    from packaging.version import Version

    reqs = {Requirement(r).name: Requirement(r) for r in
            _requirement_lines((ROOT / "requirements.txt").read_text()) if ";" not in r}
    assert Version("2.11.0") in reqs["torch"].specifier  # Colab, 2026
    assert Version("2.13.0") in reqs["torch"].specifier  # constraints.txt
    tf = [Requirement(r) for r in _requirement_lines((ROOT / "requirements.txt").read_text())
          if r.startswith("tensorflow")]
    assert all(Version("2.20.0") in r.specifier for r in tf)
    pinned = _requirement_lines((ROOT / "constraints.txt").read_text())
    assert pinned == ["torch==2.13.0"]


def test_the_ranges_exclude_the_releases_known_to_be_broken():
    from packaging.requirements import Requirement
    from packaging.version import Version

    reqs = {Requirement(r).name: Requirement(r) for r in
            _requirement_lines((ROOT / "requirements.txt").read_text())}
    # measures no energy, silently (docs/maintainers.md, "Versions")
    assert Version("3.2.7") not in reqs["codecarbon"].specifier
    # model.fit(steps_per_execution=...) fails with TensorFlow 2.16
    assert Version("3.6.0") not in reqs["keras"].specifier
    # HTML export fails with today's mistune
    assert Version("7.16.4") not in reqs["nbconvert"].specifier
    assert str(reqs["tomli"].marker) == 'python_version < "3.11"'


def _by_name_and_marker(text: str) -> dict:
    """``{(name, marker): (Requirement, comment)}`` for each requirement line of ``text``."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    found = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            spec, _, comment = line.partition(" #")
            req = Requirement(spec.strip())
            key = (canonicalize_name(req.name), str(req.marker or ""))
            assert key not in found, f"{req.name} twice"
            found[key] = (req, comment)
    return found


def test_constraints_lowest_pins_every_lower_bound():
    """constraints-lowest.txt (``make test-lowest``) pins each requirement to its
    ``>=`` bound, or to the first release above it when its comment says so."""
    from packaging.version import Version

    reqs = _by_name_and_marker((ROOT / "requirements.txt").read_text())
    pins = _by_name_and_marker((ROOT / "constraints-lowest.txt").read_text())
    assert set(pins) == set(reqs), (f"only in requirements.txt: {set(reqs) - set(pins)}; "
                                    f"only in constraints-lowest.txt: {set(pins) - set(reqs)}")
    for key, (req, _) in reqs.items():
        lower = [s.version for s in req.specifier if s.operator == ">="]
        assert len(lower) == 1, f"{req.name}: requirements.txt must give one lower bound (>=)"
        pin, comment = pins[key]
        (exact,) = pin.specifier
        assert exact.operator == "==", f"{req.name}: constraints-lowest.txt must pin with =="
        assert Version(exact.version) in req.specifier, f"{pin} is outside {req.specifier}"
        if Version(exact.version) != Version(lower[0]):
            assert f"first release >= {lower[0]}" in comment, (
                f"{pin}: the lower bound is {lower[0]}; pin it, or say '# first release >= {lower[0]}'")
    assert "-c constraints-lowest.txt" in (ROOT / "Makefile").read_text()


# nbgrader's cell metadata (schema version 3), as tools/exercises.py writes it; checksum and
# cell_type belong to nbgrader's student version only.
NBGRADER_KEYS = {"schema_version", "grade", "solution", "locked", "task", "grade_id", "points"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_are_stored_without_outputs_and_with_clean_metadata(path):
    nb = json.loads(path.read_text())
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [] and cell.get("execution_count") is None, f"cell {i}"
        folded = {"cellView": "form", "jupyter": {"source_hidden": True}}  # the Colab setup cell only
        source = "".join(cell["source"])
        folds = "google.colab" in source or source.startswith("# @title ")  # set-up, or figure code
        allowed = {"tags", "nbgrader"} | (set(folded) if folds else set())
        assert not source.startswith("# @title ") or cell["metadata"].get("jupyter") == folded["jupyter"], i
        assert set(cell.get("metadata", {})) <= allowed, f"cell {i} metadata {cell['metadata']}"
        assert all(cell["metadata"][k] == v for k, v in folded.items() if k in cell["metadata"]), f"cell {i}"
        grader = cell.get("metadata", {}).get("nbgrader")
        if grader is not None:
            assert grader.get("schema_version") == 3 and set(grader) <= NBGRADER_KEYS, f"cell {i}: {grader}"
    assert set(nb["metadata"]) <= {"kernelspec", "language_info"}
    assert nb["metadata"]["kernelspec"]["name"] == "python3"


COURSE_NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", COURSE_NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_starts_the_same_way(path):
    """After the Colab set-up, the first code cell imports utils.config first, with the same words,
    then seeds, loads the data and says what it got, in that order."""
    code = ["".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    assert "google.colab" in code[0]
    first = code[1]
    assert first.startswith("from utils import config  # first: it sets the environment (threads, logging) "
                            "before the libraries load\n"), first.splitlines()[0]
    steps = ["SEED = config.seed_everything(0)\n", "ds = load_dataset()\n",
             "print(config.describe(ds.source))"]
    assert all(step in first for step in steps), path.name
    assert [first.index(step) for step in steps] == sorted(first.index(step) for step in steps)
    assert first.count("import") == first[:first.index(steps[0])].count("import")  # imports come first


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci
    assert "make test" in (ROOT / "README.md").read_text()

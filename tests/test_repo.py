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
    for needed in ("numpy", "matplotlib", "torch", "codecarbon", "jupyterlab", "nbval", "pytest",
                   "pytest-xdist", "tqdm"):
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


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_are_stored_without_outputs_and_with_clean_metadata(path):
    nb = json.loads(path.read_text())
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [] and cell.get("execution_count") is None, f"cell {i}"
        assert set(cell.get("metadata", {})) <= {"tags"}, f"cell {i} metadata {cell['metadata']}"
    assert set(nb["metadata"]) <= {"kernelspec", "language_info"}
    assert nb["metadata"]["kernelspec"]["name"] == "python3"


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci
    assert "make test" in (ROOT / "README.md").read_text()

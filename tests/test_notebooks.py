"""Every numbered notebook: one papermill parameter cell, and it runs in the smoke profile of each
track that runs it (smoke: the HH-RLHF track; smoke-lab: the gold lab), the first of them with its
exercise solutions appended."""

from pathlib import Path

import nbformat
import pytest

from sp_prm_lib.config.profile import load_profile
from sp_prm_lib.report.exercises import EXERCISES_TAG, parse_exercises

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
TRACKS = ("smoke", "smoke-lab")


def _runs(profile: str) -> list[Path]:
    names = load_profile(profile).notebooks
    return NOTEBOOKS if names is None else [p for p in NOTEBOOKS if p.stem in names]


RUNS = [(profile, path) for profile in TRACKS for path in _runs(profile)]
#: each notebook's exercise solutions run once, at the end of its first run (smoke, else smoke-lab)
FIRST_RUN = {path: profile for profile, path in reversed(RUNS)}


def _with_solutions(path: Path, out: Path) -> Path:
    """The notebook with its exercise solutions appended as code cells (they use its variables)."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown" and EXERCISES_TAG in cell.metadata.get("tags", []):
            for solution in parse_exercises(cell.source, path.name).solutions:
                nb.cells.append(nbformat.v4.new_code_cell(f"# solution of {solution.label}\n{solution.code}"))
    nbformat.write(nb, out)
    return out


def test_every_notebook_runs_in_some_track():
    assert {p for _, p in RUNS} == set(NOTEBOOKS)


def test_there_are_notebooks():
    assert NOTEBOOKS, "no numbered notebooks found in notebooks/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_one_parameter_cell_naming_the_profile(path):
    nb = nbformat.read(path, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: expected exactly one cell tagged 'parameters'"
    assert "profile =" in tagged[0].source
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), (
        f"{path.name}: commit notebooks without outputs"
    )


@pytest.mark.slow
@pytest.mark.parametrize("profile, path", RUNS, ids=[f"{pr}-{p.stem}" for pr, p in RUNS])
def test_notebook_executes_in_smoke_profile(profile, path, tmp_path):
    import papermill as pm

    out = tmp_path / path.name
    source = _with_solutions(path, tmp_path / f"with-solutions-{path.name}") if FIRST_RUN[path] == profile else path
    pm.execute_notebook(
        str(source), str(out), parameters={"profile": profile}, kernel_name="python3", cwd=str(ROOT), progress_bar=False
    )
    nb = nbformat.read(out, as_version=4)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    # progress bars must not leak into executed notebooks as widgets; only a cell
    # tagged remove-output (hidden in the book, e.g. the live prefix probe) may show one
    widget_outputs = [
        o
        for c in nb.cells
        if "remove-output" not in c.get("metadata", {}).get("tags", [])
        for o in c.get("outputs", [])
        if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
    ]
    assert not widget_outputs

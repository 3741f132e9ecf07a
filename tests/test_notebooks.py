"""Every numbered notebook: one papermill parameter cell, and it runs in the smoke profile."""

from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


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
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes_in_smoke_profile(path, tmp_path):
    import papermill as pm

    out = tmp_path / path.name
    pm.execute_notebook(
        str(path), str(out), parameters={"profile": "smoke"}, kernel_name="python3", cwd=str(ROOT), progress_bar=False
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

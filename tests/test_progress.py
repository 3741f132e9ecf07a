"""``core/progress.py``: bars reach the terminal, never a notebook's outputs (issue 24). A notebook
run by papermill in a kernel that pipes its file descriptor 2 into the cell's output (ipykernel >= 6)
keeps no bar, and two same-seed runs of a smoke notebook give the same outputs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
BAR = re.compile(r"\d+%\||it/s|s/it|\d+/\d+ \[")

RUNNER = """
import sys, papermill as pm
pm.execute_notebook(sys.argv[1], sys.argv[2], kernel_name="python3", progress_bar=False)
"""


def _outputs_text(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    return json.dumps([c.get("outputs", []) for c in nb.cells if c.cell_type == "code"])


def test_a_bar_inside_a_papermill_kernel_reaches_the_terminal_not_the_notebook(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    nb.cells = [
        nbformat.v4.new_code_cell(
            "from sp_prm_lib.core.progress import terminal_progress\n"
            "total = sum(terminal_progress(range(40), desc='scoring (orm)'))\n"
            "print('total', total)"
        )
    ]
    source, out = tmp_path / "bar.ipynb", tmp_path / "bar-out.ipynb"
    nbformat.write(nb, source)
    env = {k: v for k, v in os.environ.items() if k != "SP_PRM_PROGRESS"}
    proc = subprocess.run(
        [sys.executable, "-c", RUNNER, str(source), str(out)], capture_output=True, text=True, env=env, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    stored = _outputs_text(out)
    assert "total 780" in stored
    assert "scoring (orm)" not in stored and not BAR.search(stored), stored
    assert "scoring (orm)" in proc.stderr and "40/40" in proc.stderr  # the terminal (the kernel's own stderr)


@pytest.mark.slow
def test_two_same_seed_runs_of_a_smoke_notebook_store_the_same_outputs(tmp_path):
    """Notebook 02 scores prefixes under bars (and provisions models under transformers' own bars on
    a cold cache): both runs keep no bar, and their stored outputs are byte-identical (it prints no
    timing on purpose)."""
    import papermill as pm

    notebook = ROOT / "notebooks" / "02_obs1_score_consistency.ipynb"
    outputs = []
    for run in range(2):
        out = tmp_path / f"run{run}.ipynb"
        pm.execute_notebook(
            str(notebook),
            str(out),
            parameters={"profile": "smoke"},
            kernel_name="python3",
            cwd=str(ROOT),
            progress_bar=False,
        )
        outputs.append(_outputs_text(out))
        assert not BAR.search(outputs[-1]), f"run {run}: a progress bar in the outputs"
    assert outputs[0] == outputs[1]

"""Entry points on careless input: run_notebooks.py, the Makefile's PROFILE, custom profile files."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


EMPTY_NOTEBOOK = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def _run_notebooks(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "run_notebooks.py"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def test_unknown_profile_and_missing_notebook_are_one_line_errors(tmp_path):
    proc = _run_notebooks("--profile", "nope", "notebooks/00_setup_and_data.ipynb")
    assert proc.returncode == 2 and proc.stderr.startswith("error: unknown profile 'nope'")
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    proc = _run_notebooks("--profile", "smoke", str(tmp_path / "99_missing.ipynb"))
    assert proc.returncode == 2 and "notebook not found" in proc.stderr and "Traceback" not in proc.stderr


def test_a_custom_profile_file_outside_the_repo_is_what_the_notebooks_get(tmp_path, monkeypatch):
    raw = yaml.safe_load((ROOT / "profiles" / "smoke.yaml").read_text())
    raw["name"] = "my-variant"
    path = tmp_path / "elsewhere" / "mine.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(raw))
    module = _script("run_notebooks")
    seen = {}

    def fake_execute(src, dst, parameters, **kwargs):
        seen.update(parameters)
        shutil.copyfile(src, dst)

    import papermill

    monkeypatch.setattr(papermill, "execute_notebook", fake_execute)
    monkeypatch.setattr(module, "ROOT", tmp_path / "repo")
    (tmp_path / "repo" / "sp_prm_lib").mkdir(parents=True)
    (tmp_path / "repo" / "requirements.txt").write_text("")
    notebook = tmp_path / "repo" / "00_x.ipynb"
    notebook.write_text(EMPTY_NOTEBOOK)
    assert module.run([notebook], str(path)) == 0
    assert seen == {"profile": str(path)}  # the file itself, not a shipped profile of that name
    from sp_prm_lib.notebook import start

    assert start(seen["profile"]).name == "my-variant"


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_does_not_run_a_command_hidden_in_profile(tmp_path):
    marker = tmp_path / "pwned"
    proc = subprocess.run(
        ["make", "-s", "--no-print-directory", "-n", "models", f"PROFILE=x; touch {marker}"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    # the recipe reads "$PROFILE" from the environment: the value never becomes shell syntax
    assert f"touch {marker}" not in proc.stdout and '--profile "$PROFILE"' in proc.stdout
    assert not marker.exists()


def test_with_lab_runs_the_gold_lab_as_a_second_track(tmp_path, monkeypatch):
    module = _script("run_notebooks")
    repo = tmp_path / "repo"
    (repo / "sp_prm_lib").mkdir(parents=True)
    (repo / "requirements.txt").write_text("")
    (repo / "notebooks").mkdir()
    for name in ("00_a", "01_b", "02_c"):
        (repo / "notebooks" / f"{name}.ipynb").write_text(EMPTY_NOTEBOOK)
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "base.yaml").write_text((ROOT / "profiles" / "smoke.yaml").read_text())
    raw = yaml.safe_load((profiles / "base.yaml").read_text())
    raw.update(name="main", lab="gold", notebooks=["00_a", "01_b"])
    (profiles / "main.yaml").write_text(yaml.safe_dump(raw))
    (profiles / "gold.yaml").write_text("extends: main\nname: gold\nlab: null\nnotebooks: [02_c]\n")
    ran = []

    def fake_execute(src, dst, parameters, **kwargs):
        ran.append((Path(src).stem, Path(parameters["profile"]).stem))
        shutil.copyfile(src, dst)

    import papermill

    monkeypatch.setattr(papermill, "execute_notebook", fake_execute)
    monkeypatch.setattr(module, "ROOT", repo)
    assert module.run_tracks([], str(profiles / "main.yaml"), with_lab=True) == 0
    assert ran == [("00_a", "main"), ("01_b", "main"), ("02_c", "gold")]
    executed = repo / "book" / "executed"
    assert sorted(p.name for p in executed.glob("*.ipynb")) == ["00_a.ipynb", "01_b.ipynb"]
    assert sorted(p.name for p in (executed / "lab").glob("*.ipynb")) == ["02_c.ipynb"]
    assert json.loads((executed / "lab" / "profile.json").read_text())["profile"] == "gold"
    # a profile without a lab leaves no old lab pages in the book
    raw.update(name="alone", lab=None)
    (profiles / "alone.yaml").write_text(yaml.safe_dump(raw))
    assert module.run_tracks([], str(profiles / "alone.yaml"), with_lab=True) == 0
    assert not list((executed / "lab").glob("*"))
    raw.update(name="typo", notebooks=["00_a", "07_nope"])
    (profiles / "typo.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(module.SpPrmError, match="no notebook '07_nope'"):
        module.run_tracks([], str(profiles / "typo.yaml"), with_lab=False)


def test_book_copy_hides_the_injected_parameters_and_keeps_exercises_in_one_track(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    nb.cells = [
        nbformat.v4.new_code_cell('profile = "tiny"', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(
            f'profile = "{ROOT}/profiles/smoke.yaml"', metadata={"tags": ["injected-parameters"]}
        ),
        nbformat.v4.new_markdown_cell("text"),
        nbformat.v4.new_markdown_cell(":::{glue:figure} fig-a\n:name: fig-a\n\ncaption\n:::"),
        nbformat.v4.new_markdown_cell("## Exercises", metadata={"tags": ["exercises"]}),
    ]
    executed = tmp_path / "run.ipynb"
    nbformat.write(nb, executed)
    book_copy = _script("run_notebooks").book_copy
    book_copy(executed, tmp_path / "main.ipynb", keep_exercises=True)
    book_copy(executed, tmp_path / "lab.ipynb", keep_exercises=False, label_prefix="lab-")
    main = nbformat.read(tmp_path / "main.ipynb", as_version=4)
    lab = nbformat.read(tmp_path / "lab.ipynb", as_version=4)
    assert main.cells[0].metadata.tags == ["parameters", "remove-cell"]  # the source's default is hidden
    assert main.cells[1].source == 'profile = "profiles/smoke.yaml"'  # what ran, without this machine's path
    assert "remove-cell" not in main.cells[1].metadata.tags
    assert [c.source for c in main.cells][-1] == "## Exercises" and len(main.cells) == 5
    assert ":name: fig-a\n" in main.cells[3].source
    assert [c.source for c in lab.cells][1:3] == ['profile = "profiles/smoke.yaml"', "text"]
    assert lab.cells[3].source == ":::{glue:figure} fig-a\n:name: lab-fig-a\n\ncaption\n:::"  # unique label
    assert len(lab.cells) == 4
    assert nbformat.read(executed, as_version=4).cells[0].metadata.tags == ["parameters"]  # the run's copy is kept


def test_notebook_start_sets_the_book_style_and_table_precision():
    import matplotlib.pyplot as plt
    import pandas as pd
    import seaborn as sns

    from sp_prm_lib.notebook import start

    with plt.rc_context(), pd.option_context("display.precision", 6):
        start("smoke")
        assert pd.get_option("display.precision") == 3
        assert plt.rcParams["axes.prop_cycle"].by_key()["color"][0] == sns.color_palette("colorblind")[0]
        assert plt.rcParams["axes.spines.top"] is False


def test_describe_cell_names_code_cells_by_their_first_line():
    describe = _script("run_notebooks").describe_cell
    assert describe({"cell_type": "code", "source": "\n# train the ORM\nfit()"}) == "train the ORM"
    assert describe({"cell_type": "code", "source": "x = " + "1 + " * 30}).endswith("…")
    assert len(describe({"cell_type": "code", "source": "x = " + "1 + " * 30})) == 48
    assert describe({"cell_type": "markdown", "source": "# Title"}) is None
    assert describe({"cell_type": "code", "source": ""}) is None


def test_the_cell_progress_reaches_the_terminal_and_not_the_executed_notebook(tmp_path, monkeypatch):
    import nbformat

    module = _script("run_notebooks")
    repo = tmp_path / "repo"
    (repo / "sp_prm_lib").mkdir(parents=True)
    (repo / "requirements.txt").write_text("")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    nb.cells = [
        nbformat.v4.new_code_cell("profile = 'x'", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_markdown_cell("# A title"),
        nbformat.v4.new_code_cell("# sum the squares\nprint(sum(i * i for i in range(10)))"),
    ]
    notebook = repo / "00_tiny.ipynb"
    nbformat.write(nb, notebook)
    profile = yaml.safe_load((ROOT / "profiles" / "smoke.yaml").read_text())
    profile_path = tmp_path / "p.yaml"
    profile_path.write_text(yaml.safe_dump(profile))
    monkeypatch.setattr(module, "ROOT", repo)
    monkeypatch.setenv("SP_PRM_PROGRESS", "1")
    monkeypatch.setattr(module, "book_copy", lambda src, dst, **_: shutil.copyfile(src, dst))
    import io

    terminal = io.StringIO()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert module.run([notebook], str(profile_path)) == 0
    shown = terminal.getvalue()
    assert "00 cell 4/4: sum the squares" in shown  # papermill injects a parameters cell: 4 cells
    executed = (repo / "build" / "executed" / "smoke" / "00_tiny.ipynb").read_text()
    assert "285" in executed and "cell 3/4" not in executed and "Executing" not in executed

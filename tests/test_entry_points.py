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
    notebook.write_text("{}")
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
        (repo / "notebooks" / f"{name}.ipynb").write_text("{}")
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

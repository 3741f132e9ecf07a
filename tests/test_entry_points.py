"""Entry points on careless input: run_notebooks.py, the Makefile's PROFILE, custom profile files."""

from __future__ import annotations

import importlib.util
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

"""The command line used by the Makefile: success output and one-line errors with exit 2."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*args, env=None):
    import os

    return subprocess.run(
        [sys.executable, "-m", "sp_prm_lib.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )


def test_profile_prints_the_validated_profile():
    proc = run("profile", "--profile", "smoke")
    assert proc.returncode == 0 and '"name": "smoke"' in proc.stdout


def test_unknown_profile_is_one_line_exit_2():
    proc = run("profile", "--profile", "enormous")
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "unknown profile 'enormous'" in proc.stderr


def test_data_with_an_absent_mirror_is_one_line_exit_2(tmp_path):
    proc = run("data", env={"SP_PRM_DATA_MIRROR": str(tmp_path / "nowhere"), "SP_PRM_HOME": str(tmp_path)})
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "nowhere" in proc.stderr
    assert not (tmp_path / "data" / "mirror").exists() or not any((tmp_path / "data" / "mirror").rglob("*.gz"))

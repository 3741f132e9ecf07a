"""git_commit: the short commit, +changes for a dirty watched path, unknown outside git; the load
average and the run record of the studies."""

import datetime
import os
import shutil
import subprocess

import pytest

from sp_prm_lib.core.provenance import git_commit

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def _git(root, *args):
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def test_commit_clean_dirty_and_outside_git(tmp_path):
    assert git_commit(tmp_path) == "unknown"
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "-c", "user.email=a@b", "-c", "user.name=a", "commit", "-q", "--allow-empty", "-m", "x")
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=tmp_path, capture_output=True, text=True)
    assert git_commit(tmp_path) == head.stdout.strip()
    (tmp_path / "notes.txt").write_text("not watched")
    assert git_commit(tmp_path, ("lib",)) == head.stdout.strip()
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "m.py").write_text("x = 1")
    assert git_commit(tmp_path, ("lib",)) == head.stdout.strip() + "+changes"


def test_load_average_is_three_rounded_numbers_or_none_where_the_system_has_none(monkeypatch, tmp_path):
    from sp_prm_lib.core import provenance

    monkeypatch.setattr(os, "getloadavg", lambda: (1.23456, 0.5, 2.0))
    assert provenance.load_average() == [1.23, 0.5, 2.0]

    def unavailable():
        raise OSError("no load average here")

    monkeypatch.setattr(os, "getloadavg", unavailable)
    assert provenance.load_average() is None
    record = provenance.run_record(tmp_path, "cmd", datetime.datetime.now(datetime.UTC), None)
    assert record["load average at start"] is None and record["load average at end"] is None
    assert record["commit"] == "unknown" and record["command"] == "cmd"

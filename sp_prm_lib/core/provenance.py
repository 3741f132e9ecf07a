"""Where a result came from: the git commit of the checkout that produced it, and the record of
where and when a study ran."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
from pathlib import Path

#: changes under these paths make a commit "+changes" (they decide what a run computes)
WATCHED = ("sp_prm_lib", "profiles", "notebooks", "scripts")


def git_commit(root: Path, watched: tuple[str, ...] = WATCHED) -> str:
    """The short commit of ``root``, with ``+changes`` when files under ``watched`` differ from it;
    ``unknown`` outside a git checkout or without git."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True)
        if head.returncode != 0 or not head.stdout.strip():
            return "unknown"
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", *watched], cwd=root, capture_output=True, text=True
        )
    except OSError:
        return "unknown"
    return head.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


def load_average() -> list[float] | None:
    """The machine's 1-, 5- and 15-minute load averages (a time measured beside other heavy jobs
    is not a measurement of the code); None where the system does not report them."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def run_record(root: Path, command: str, started: datetime.datetime, load_at_start: list[float] | None) -> dict:
    """Where and when a study ran, for the JSON record its book page is generated from: the date,
    the machine, the commit, the command, the wall time and the load average at start and end."""
    return {
        "date": started.date().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "commit": git_commit(root, ("sp_prm_lib", "profiles", "configs")),
        "command": command,
        "wall seconds": round((datetime.datetime.now(datetime.UTC) - started).total_seconds(), 1),
        "load average at start": load_at_start,
        "load average at end": load_average(),
    }

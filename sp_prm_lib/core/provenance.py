"""Where a result came from: the git commit of the checkout that produced it."""

from __future__ import annotations

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

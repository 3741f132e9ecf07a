"""What the book's generated pages read: the notebook runs (tracks) and which pages the build has.

``scripts/run_notebooks.py`` writes ``book/executed/profile.json`` for the
default profile and ``book/executed/lab/profile.json`` for its gold lab; each
is a *track* of the book, with its notebooks' timings and the verdicts its
notebooks filed (``experiments.comparison.collected``).
"""

from __future__ import annotations

import fnmatch
import functools
import json
import typing
from pathlib import Path


class Track(typing.NamedTuple):
    """One profile's run shown in the book: its title, where its pages are, its verdicts."""

    title: str
    profile: str
    path: str
    sub: str
    timings: dict
    entries: list[dict]


def read_tracks(executed: Path) -> list[Track]:
    """The tracks recorded under ``executed`` (the default profile's, then the lab's)."""
    from sp_prm_lib.config.profile import load_profile
    from sp_prm_lib.core.errors import ConfigError
    from sp_prm_lib.experiments.comparison import collected

    tracks = []
    for sub in ("", "lab/"):
        run_file = executed / sub / "profile.json"
        if not run_file.is_file():
            continue
        run = json.loads(run_file.read_text(encoding="utf-8"))
        name = run.get("profile", "?")
        try:
            title = load_profile(run.get("path") or name).track
        except ConfigError:
            title = name
        tracks.append(Track(title, name, run.get("path") or name, sub, run.get("timings") or {}, collected(name)))
    return tracks


@functools.lru_cache(maxsize=4)
def _toc_entries(toc: Path) -> tuple[frozenset[str], tuple[str, ...]]:
    """The ``file`` entries of ``_toc.yml`` and its ``glob`` patterns (only those pages are built)."""
    import yaml

    found, globs, todo = set(), [], [yaml.safe_load(Path(toc).read_text(encoding="utf-8"))]
    while todo:
        item = todo.pop()
        if isinstance(item, dict):
            if isinstance(item.get("file"), str):
                found.add(item["file"])
            if isinstance(item.get("glob"), str):
                globs.append(item["glob"])
            todo += list(item.values())
        elif isinstance(item, list):
            todo += item
    return frozenset(found), tuple(globs)


def in_toc(page: str, toc: Path) -> bool:
    """True when the book's table of contents ``toc`` builds ``page`` (a path without suffix)."""
    files, globs = _toc_entries(Path(toc))
    return page in files or any(fnmatch.fnmatchcase(page, g) for g in globs)


def notebook_link(name: str, executed: Path, toc: Path, sub: str = "") -> str:
    """A ``{doc}`` link to the notebook's page when the build has it (else a warning under -n);
    ``sub`` is the track's folder under ``book/executed`` (``lab/`` for the gold lab)."""
    stem = Path(str(name)).stem
    if (executed / sub / f"{stem}.ipynb").is_file() and in_toc(f"book/executed/{sub}{stem}", toc):
        return f"{{doc}}`{stem} <{sub}{stem}>`"
    return f"`{stem}` (not in this build)"

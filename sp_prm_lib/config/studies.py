"""The study files of ``configs/`` (``recipe_study.yaml``, ``budget_study.yaml``): per profile, a
mapping of entry name -> settings, read and checked before anything is trained."""

from __future__ import annotations

from pathlib import Path

from sp_prm_lib.config.schema import read_yaml
from sp_prm_lib.core.errors import ConfigError


def read_study(path: Path | str, profile: str, entry: str) -> dict[str, dict]:
    """The entries (``entry``: "recipe", "budget") that ``path`` gives for ``profile``."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such study file")
    study = read_yaml(path)
    if not isinstance(study, dict) or profile not in study:
        raise ConfigError(f"{path}: no {entry}s for profile {profile!r}")
    entries = study[profile]
    if not isinstance(entries, dict) or not entries or not all(isinstance(v, dict) for v in entries.values()):
        raise ConfigError(f"{path}: {profile}: give a mapping of {entry} name -> settings")
    return entries

"""Where things live: repository root, data mirror, caches and outputs.

Every location can be overridden by an environment variable so that a user
on a GPU node can point the same code at other disks:

- ``SP_PRM_DATA_MIRROR``: folder holding the mirrored data sets
  (default: ``../shared/data`` beside the checkout, when it exists).
- ``SP_PRM_HOME``: root of generated files (default: the repository root).
- ``SP_PRM_CACHE``: content-addressed artifacts and converted models
  (default: ``$SP_PRM_HOME/.cache/sp_prm``).
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def home() -> Path:
    """Root folder of generated files (data copies, figures, caches)."""
    return Path(os.environ.get("SP_PRM_HOME", REPO_ROOT)).resolve()


def data_mirror() -> Path | None:
    """The data mirror folder, or None when none is configured or present."""
    env = os.environ.get("SP_PRM_DATA_MIRROR")
    if env:
        return Path(env).expanduser().resolve()
    default = (REPO_ROOT.parent / "shared" / "data").resolve()
    return default if default.is_dir() else None


def data_dir() -> Path:
    """Local, verified copies of the mirror and derived data sets."""
    return home() / "data"


def cache_dir() -> Path:
    """Content-addressed artifacts (converted models, trained RMs, scores)."""
    return Path(os.environ.get("SP_PRM_CACHE", home() / ".cache" / "sp_prm")).resolve()


def figures_dir() -> Path:
    """Figures and tables written by the notebooks."""
    return home() / "figures"


def profiles_dir() -> Path:
    """The shipped profile YAML files."""
    return REPO_ROOT / "profiles"

"""Where things live: repository root, data mirror, caches and outputs.

Every location can be overridden by an environment variable so that a user
on a GPU node can point the same code at other disks:

- ``SP_PRM_DATA_MIRROR``: folder holding the mirrored data sets
  (default: ``../shared/data`` beside the checkout, when it exists);
  ``none`` means no mirror, even when ``../shared/data`` exists.
- ``SP_PRM_DATA_BASE_URL``: with no mirror, ``sp-prm data`` downloads each
  file from ``<this URL>/<path in the mirror>`` (any web server holding a
  copy of the mirror) instead of from its public source.
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
    """The data mirror folder, or None when none is configured or present
    (or ``SP_PRM_DATA_MIRROR`` is ``none``)."""
    env = os.environ.get("SP_PRM_DATA_MIRROR", "").strip()
    if env.lower() == "none":
        return None
    if env:
        return Path(env).expanduser().resolve()
    default = (REPO_ROOT.parent / "shared" / "data").resolve()
    return default if default.is_dir() else None


def data_base_url() -> str | None:
    """``SP_PRM_DATA_BASE_URL`` without a trailing slash, or None when unset:
    where to download the mirror's files from instead of their public sources."""
    return os.environ.get("SP_PRM_DATA_BASE_URL", "").strip().rstrip("/") or None


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

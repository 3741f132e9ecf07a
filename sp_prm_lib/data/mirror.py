"""Verified local copies of the data files, from the mirror folder or their public sources.

Which files, and the sha256 each must have: the list kept in the repository
(``checksums.txt``, see :mod:`sp_prm_lib.data.sources`), which is
authoritative. The mirror's README.md holds the same ``<sha256>  ./<relpath>``
lines; it is a second source: a file only it lists is checked against it,
and a file it lists with another sha256 than the repository is an error.

Copies live in ``settings.data_dir() / "mirror" / <relpath>`` and are
written through a temporary name, checked, then renamed into place (see
:func:`sp_prm_lib.data.fetch.write_verified`). A copy that matches its
checksum is kept; one that does not is made again. Copies come from the
mirror folder when one is configured; with none, :func:`ensure_local_copy`
(``sp-prm data``) downloads them from their public sources (or
``SP_PRM_DATA_BASE_URL``). Loaders never download: they read verified
copies, taking missing ones from the mirror folder only.
"""

from __future__ import annotations

from pathlib import Path

from sp_prm_lib.core import settings
from sp_prm_lib.core.artifacts import file_sha256 as sha256_file
from sp_prm_lib.core.errors import DataError
from sp_prm_lib.data import fetch, sources

README = "README.md"


def local_root() -> Path:
    """Folder of the local verified copies (git-ignored)."""
    return settings.data_dir() / "mirror"


def _present_mirror(root: Path | None) -> Path | None:
    root = root if root is not None else settings.data_mirror()
    return root if root is not None and root.is_dir() else None


def read_checksums(root: Path | None = None) -> dict[str, str]:
    """{relative path: sha256}: the repository's list, plus the files that only
    the README of the mirror ``root`` (default: the configured one, when
    present) lists. DataError when the README gives a listed file another sha256."""
    sums = sources.repo_checksums()
    root = _present_mirror(root)
    if root is None or not (root / README).is_file():
        return sums
    readme = root / README
    for rel, digest in sources.parse_checksums(readme, required=False).items():
        ours = sums.setdefault(rel, digest)
        if ours != digest:
            raise DataError(
                f"{readme}: {rel} is listed with sha256 {digest}, but the repository's list "
                f"{sources.CHECKSUMS_FILE} has {ours} (the mirror holds another version; the repository wins)"
            )
    return sums


def ensure_file(relpath: str, *, sums: dict[str, str] | None = None, download: bool = False) -> Path:
    """Local verified copy of one data file, made from the mirror folder when
    needed, or with ``download`` and no mirror, downloaded."""
    sums = sums if sums is not None else read_checksums()
    if relpath not in sums:
        raise DataError(f"{sources.CHECKSUMS_FILE}: no checksum for {relpath}")
    expected = sums[relpath]
    target = local_root() / relpath
    if target.is_file() and sha256_file(target) == expected:
        return target
    root = settings.data_mirror()
    if root is not None:
        if not root.is_dir():
            raise DataError(f"data mirror folder {root}: not found (needed for {relpath})")
        source = root / relpath
        if not source.is_file():
            raise DataError(f"{source}: file not found (listed in {sources.CHECKSUMS_FILE})")
        fetch.write_verified(fetch.file_chunks(source), target, expected, label=str(source))
        return target
    if not download:
        state = "does not match its checksum" if target.exists() else "is missing"
        raise DataError(
            f"{target}: the local copy {state} and no data mirror is configured; "
            "run `sp-prm data` (make data) to download it, or set SP_PRM_DATA_MIRROR"
        )
    fetch.download(relpath, target, expected)
    return target


def ensure_local_copy(relpaths: list[str] | None = None) -> list[Path]:
    """Verified local copies of all data files (or ``relpaths``), copied from
    the mirror folder or, with none configured, downloaded; their paths."""
    root = settings.data_mirror()
    if root is not None and not root.is_dir():
        raise DataError(
            f"data mirror folder {root}: not found (unset SP_PRM_DATA_MIRROR, or set it to 'none', "
            "to download from the public sources instead)"
        )
    sums = read_checksums(root)
    return [ensure_file(rel, sums=sums, download=True) for rel in (relpaths if relpaths is not None else sorted(sums))]

"""Verified local copies of the read-only data mirror.

The mirror's README.md holds a block of ``<sha256>  ./<relpath>`` lines.
Files are copied to ``settings.data_dir() / "mirror" / <relpath>`` through a
temporary name, checked, then renamed into place, so a final name never
holds a partial or unverified file. A local copy that already matches its
checksum is kept; one that does not is copied again.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path, PurePosixPath

from sp_prm_lib.core import settings
from sp_prm_lib.core.artifacts import file_sha256 as sha256_file
from sp_prm_lib.core.errors import DataError

README = "README.md"
_CHECKSUM_LINE = re.compile(r"^([0-9a-fA-F]{64})\s+\*?(\S.*?)\s*$")
_CHUNK = 1 << 20


def mirror_root() -> Path:
    """The configured mirror folder; DataError when none is configured or present."""
    root = settings.data_mirror()
    if root is None:
        raise DataError("data mirror folder: none configured (set SP_PRM_DATA_MIRROR) and ../shared/data is absent")
    if not root.is_dir():
        raise DataError(f"data mirror folder {root}: not found")
    return root


def local_root() -> Path:
    """Folder of the local verified copies (git-ignored)."""
    return settings.data_dir() / "mirror"


def _safe_relpath(text: str, readme: Path, line: int) -> str:
    rel = PurePosixPath(text)
    parts = [p for p in rel.parts if p != "."]
    if rel.is_absolute() or not parts or ".." in parts:
        raise DataError(f"{readme} line {line}: unsafe path {text!r} in the checksum block")
    return "/".join(parts)


def read_checksums(root: Path | None = None) -> dict[str, str]:
    """{relative path: sha256} from the checksum block of the mirror README."""
    root = root or mirror_root()
    readme = root / README
    if not readme.is_file():
        raise DataError(f"{readme}: file not found (the mirror needs a README with checksums)")
    sums: dict[str, str] = {}
    for number, line in enumerate(readme.read_text(encoding="utf-8").splitlines(), start=1):
        match = _CHECKSUM_LINE.match(line.strip())
        if match:
            sums[_safe_relpath(match.group(2), readme, number)] = match.group(1).lower()
    if not sums:
        raise DataError(f"{readme}: no checksum lines ('<sha256>  ./<path>') found")
    return sums


def _copy_verified(source: Path, target: Path, expected: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{target.name}.", suffix=".part", delete=False)
    temp = Path(handle.name)
    try:
        digest = hashlib.sha256()
        with handle, open(source, "rb") as src:
            while chunk := src.read(_CHUNK):
                digest.update(chunk)
                handle.write(chunk)
        actual = digest.hexdigest()
        if actual != expected:
            raise DataError(
                f"{source}: checksum mismatch (expected sha256 {expected}, got {actual}); local copy left unchanged"
            )
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)


def ensure_file(relpath: str, *, sums: dict[str, str] | None = None) -> Path:
    """Local verified copy of one mirror file, copying it when needed."""
    root = mirror_root()
    sums = sums if sums is not None else read_checksums(root)
    if relpath not in sums:
        raise DataError(f"{root / README}: no checksum for {relpath}")
    expected = sums[relpath]
    target = local_root() / relpath
    if target.is_file() and sha256_file(target) == expected:
        return target
    source = root / relpath
    if not source.is_file():
        raise DataError(f"{source}: file not found (listed in {root / README})")
    _copy_verified(source, target, expected)
    return target


def ensure_local_copy(relpaths: list[str] | None = None) -> list[Path]:
    """Copy and verify all mirror files (or ``relpaths``); return the local paths."""
    sums = read_checksums()
    return [ensure_file(rel, sums=sums) for rel in (relpaths if relpaths is not None else sorted(sums))]

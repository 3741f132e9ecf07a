"""Verified, atomic writes of data files: copied from a folder or downloaded.

Bytes go to a temporary ``.<name>.*.part`` file beside the target, their
sha256 is checked, and only then is the file renamed into place: a final
name never holds a partial or unverified file, and a failed transfer leaves
an existing copy as it was, and ``.part`` files left by a killed transfer are
removed by the next one. Downloads use the standard library (proxies from
``HTTPS_PROXY`` / ``NO_PROXY`` apply), wait at most :data:`TIMEOUT_S` for
any read and :func:`deadline_s` for the whole file, and show their progress
on stderr when a file is larger than :data:`PROGRESS_MIN_BYTES`.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from pathlib import Path

from sp_prm_lib.core.errors import DataError
from sp_prm_lib.core.version import __version__
from sp_prm_lib.data import sources

CHUNK = 1 << 20
PROGRESS_MIN_BYTES = 1 << 20
TIMEOUT_S = 60.0  # the longest wait for any one read
DEADLINE_S = 1800.0  # the longest a whole file may take (``SP_PRM_DOWNLOAD_DEADLINE_S`` overrides)
STALE_PART_S = 2 * TIMEOUT_S  # a .part file untouched this long belongs to no live transfer


def deadline_s() -> float:
    """Seconds a download may take in all: ``SP_PRM_DOWNLOAD_DEADLINE_S``, else ``DEADLINE_S``."""
    text = os.environ.get("SP_PRM_DOWNLOAD_DEADLINE_S", "").strip()
    if not text:
        return DEADLINE_S
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise DataError(f"SP_PRM_DOWNLOAD_DEADLINE_S must be a number of seconds > 0, got {text!r}")
    return value


def clean_stale_parts(target: Path) -> int:
    """Remove ``.<name>.*.part`` files beside ``target`` left by a killed transfer (untouched for
    ``STALE_PART_S``; a live transfer writes more often than that); returns how many."""
    removed = 0
    now = time.time()
    for part in target.parent.glob(f".{target.name}.*.part"):
        try:
            if now - part.stat().st_mtime > STALE_PART_S:
                part.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed


def write_verified(chunks: Iterable[bytes], target: Path, expected: str, *, label: str) -> None:
    """Write ``chunks`` to ``target`` if their sha256 is ``expected``.

    On a mismatch, DataError naming ``label`` and both hashes; ``target`` is
    left as it was and no temporary file remains.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_parts(target)
    handle = tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{target.name}.", suffix=".part", delete=False)
    temp = Path(handle.name)
    try:
        digest = hashlib.sha256()
        with handle:
            for chunk in chunks:
                digest.update(chunk)
                handle.write(chunk)
                handle.flush()  # the .part file's time shows the transfer is alive
        actual = digest.hexdigest()
        if actual != expected:
            raise DataError(
                f"{label}: checksum mismatch (expected sha256 {expected}, got {actual}); local copy left unchanged"
            )
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)


def file_chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as source:
        while chunk := source.read(CHUNK):
            yield chunk


class _Progress:
    """Download progress on stderr ("<relpath>: 1.2 / 3.4 MiB"), redrawn in place
    on a terminal, a start and an end line otherwise; silent for small files."""

    def __init__(self, relpath: str, url: str, total: int | None):
        self.relpath, self.total = relpath, total
        self.shown = total is None or total >= PROGRESS_MIN_BYTES
        self.live = self.shown and sys.stderr.isatty()
        self.last = 0.0
        self.started = time.monotonic()
        if self.shown:
            size = "size unknown" if total is None else f"{total / 2**20:.1f} MiB"
            print(f"data: downloading {relpath} ({size}) from {url}", file=sys.stderr, flush=True)

    def _line(self, done: int) -> str:
        of = f" / {self.total / 2**20:.1f}" if self.total else ""
        return f"  {self.relpath}: {done / 2**20:.1f}{of} MiB in {time.monotonic() - self.started:.0f} s"

    def update(self, done: int) -> None:
        now = time.monotonic()
        if self.live and now - self.last >= 0.2:
            self.last = now
            print(f"\r{self._line(done)}", end="", file=sys.stderr, flush=True)

    def finish(self, done: int) -> None:
        if self.live:
            print(f"\r{self._line(done)}", file=sys.stderr, flush=True)
        elif self.shown:
            print(f"{self._line(done)}, done", file=sys.stderr, flush=True)


def _open(url: str, relpath: str, timeout: float) -> http.client.HTTPResponse:
    request = urllib.request.Request(url, headers={"User-Agent": f"sp-prm/{__version__}"})
    try:
        return urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        err.close()
        raise DataError(f"{url}: HTTP {err.code} {err.reason} (downloading {relpath})") from None
    except urllib.error.URLError as err:
        raise DataError(f"{url}: cannot download {relpath} ({err.reason})") from None
    except (OSError, ValueError, http.client.HTTPException) as err:
        raise DataError(f"{url}: cannot download {relpath} ({type(err).__name__}: {err})") from None


def download(relpath: str, target: Path, expected: str) -> None:
    """Download the mirror file ``relpath`` (see :func:`sources.url_for`) to
    ``target``, verified against ``expected``. DataError naming the URL on an
    HTTP error, a broken connection or a checksum mismatch."""
    url = sources.url_for(relpath)
    limit = deadline_s()
    started = time.monotonic()
    with _open(url, relpath, min(TIMEOUT_S, limit)) as response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        progress = _Progress(relpath, url, total)

        def chunks() -> Iterator[bytes]:
            done = 0
            while True:
                try:  # read1: what has arrived, so a trickling server cannot hold one read forever
                    chunk = response.read1(CHUNK)
                except (OSError, http.client.HTTPException) as err:
                    raise DataError(f"{url}: download of {relpath} broke off after {done} bytes ({err})") from None
                if chunk and time.monotonic() - started > limit:
                    raise DataError(
                        f"{url}: download of {relpath} did not finish within {limit:g} s ({done} bytes"
                        f"{f' of {total}' if total is not None else ''}); nothing kept, rerun to try again "
                        "(SP_PRM_DOWNLOAD_DEADLINE_S sets the limit)"
                    )
                if not chunk:
                    break
                done += len(chunk)
                progress.update(done)
                yield chunk
            progress.finish(done)
            if total is not None and done != total:
                raise DataError(f"{url}: download of {relpath} broke off after {done} of {total} bytes")

        write_verified(chunks(), target, expected, label=f"{relpath} from {url}")

"""A content-addressed, resumable cache for expensive steps.

An entry's key is a hash of the step name, its config, the content of its
inputs and a code version. An entry is built in a temporary folder beside its
final place, given a ``manifest.json`` (written last) and then renamed in one
step, so a half-written entry is never read as complete. A process lock keeps
two builders of the same key from racing.
"""

from __future__ import annotations

import ast
import fcntl
import hashlib
import inspect
import json
import os
import shutil
import textwrap
import time
import uuid
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sp_prm_lib.core.errors import ArtifactError
from sp_prm_lib.core.settings import cache_dir
from sp_prm_lib.core.version import __version__

MANIFEST = "manifest.json"


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def _canonical(value: Any) -> Any:
    """A JSON-able, order-independent form of a config or input description."""
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, Path):
        # A path stands for its content: hash the file (or the folder's files).
        return {"path_sha256": content_hash(value)}
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if hasattr(value, "to_dict"):
        return _canonical(value.to_dict())
    raise ArtifactError(f"cannot hash a {type(value).__name__} into an artifact key: {value!r:.80}")


def content_hash(path: Path) -> str:
    """sha256 of a file, or of a folder's relative names and file hashes."""
    path = Path(path)
    if path.is_file():
        return file_sha256(path)
    if path.is_dir():
        h = hashlib.sha256()
        for p in sorted(q for q in path.rglob("*") if q.is_file()):
            h.update(str(p.relative_to(path)).encode())
            h.update(file_sha256(p).encode())
        return h.hexdigest()
    raise ArtifactError(f"{path}: input of an artifact does not exist")


def code_hash(*objects) -> str:
    """Hash of the code of modules or functions, blind to comments, docstrings and layout.

    Parses each source and hashes its syntax tree with docstrings removed, so
    editing prose does not invalidate cached results, but any change of
    behaviour does.
    """
    h = hashlib.sha256()
    for obj in objects:
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(obj)))
        except (OSError, TypeError):
            h.update(getattr(obj, "__qualname__", repr(obj)).encode())
            continue
        for node in ast.walk(tree):
            body = getattr(node, "body", None)
            if (
                isinstance(body, list)
                and body
                and isinstance(body[0], ast.Expr)
                and isinstance(getattr(body[0], "value", None), ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                node.body = body[1:] or [ast.Pass()]
        h.update(ast.dump(tree).encode())
    return h.hexdigest()[:16]


def source_version(fn: Callable) -> str:
    """Code version of a build function: the library version and the code hash of its module."""
    return f"{__version__}+{code_hash(inspect.getmodule(fn) or fn)}"


def artifact_key(step: str, config: Any, inputs: Any, code_version: str) -> str:
    """The hex key of an entry."""
    blob = json.dumps(
        {"step": step, "config": _canonical(config), "inputs": _canonical(inputs), "code": code_version},
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


@dataclass(frozen=True)
class Artifact:
    """A complete cache entry: its folder and manifest."""

    path: Path
    manifest: dict

    @property
    def key(self) -> str:
        return self.manifest["key"]


class ArtifactStore:
    """Content-addressed entries under ``root/<step>/<key>/``."""

    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root is not None else cache_dir() / "artifacts"

    def entry_dir(self, step: str, key: str) -> Path:
        return self.root / step / key

    def lookup(self, step: str, key: str) -> Artifact | None:
        """The complete entry for (step, key), or None."""
        path = self.entry_dir(step, key)
        manifest_path = path / MANIFEST
        if not manifest_path.is_file():
            return None
        try:
            manifest = json.loads(manifest_path.read_text())
        except json.JSONDecodeError:
            raise ArtifactError(f"{manifest_path}: corrupt manifest; delete {path} to rebuild") from None
        if manifest.get("key") != key:
            raise ArtifactError(f"{manifest_path}: manifest key does not match its folder")
        return Artifact(path, manifest)

    def ensure(
        self,
        step: str,
        build: Callable[[Path], Mapping[str, Any] | None],
        *,
        config: Any = None,
        inputs: Any = None,
        code_version: str | None = None,
        resumable: bool = False,
    ) -> Artifact:
        """Return the entry for this step, building it with ``build(tmp_dir)`` if absent.

        ``build`` writes its files into the folder it is given and may return a
        dict of facts to keep in the manifest (sizes, timings, metrics). With
        ``resumable``, it is called as ``build(tmp_dir, work_dir)``: ``work_dir``
        survives an interrupted build (for checkpoints) and is removed once the
        entry is complete.
        """
        code_version = code_version or source_version(build)
        key = artifact_key(step, config, inputs, code_version)
        found = self.lookup(step, key)
        if found is not None:
            return found
        final = self.entry_dir(step, key)
        final.parent.mkdir(parents=True, exist_ok=True)
        with _lock(final.parent / f".{key}.lock"):
            found = self.lookup(step, key)  # another process may have finished it
            if found is not None:
                return found
            tmp = final.parent / f".{key}.tmp-{uuid.uuid4().hex[:8]}"
            tmp.mkdir()
            work = final.parent / f".{key}.work"
            try:
                started = time.time()
                if resumable:
                    work.mkdir(exist_ok=True)
                    facts = build(tmp, work) or {}
                else:
                    facts = build(tmp) or {}
                manifest = {
                    "key": key,
                    "step": step,
                    "config": _canonical(config),
                    "inputs": _canonical(inputs),
                    "code_version": code_version,
                    "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    "build_seconds": round(time.time() - started, 3),
                    "facts": _canonical(dict(facts)),
                    "files": {str(p.relative_to(tmp)): p.stat().st_size for p in sorted(tmp.rglob("*")) if p.is_file()},
                }
                (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
                if final.exists():  # a folder without manifest is not an entry
                    shutil.rmtree(final)
                os.replace(tmp, final)
                shutil.rmtree(work, ignore_errors=True)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        return Artifact(final, manifest)

    def clean_partial(self, include_work: bool = False) -> int:
        """Remove temporary folders left by interrupted builds; returns how many.

        With ``include_work``, also the work folders (checkpoints) that an
        interrupted resumable build would continue from. Do not call while
        another process is building.
        """
        patterns = ["*/.*.tmp-*"] + (["*/.*.work"] if include_work else [])
        removed = 0
        for pattern in patterns:
            for tmp in self.root.glob(pattern):
                shutil.rmtree(tmp, ignore_errors=True)
                removed += 1
        return removed


@contextmanager
def _lock(path: Path):
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)

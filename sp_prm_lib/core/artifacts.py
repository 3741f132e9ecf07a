"""A content-addressed, resumable cache for expensive steps.

An entry's key is a hash of the step name, its config, the content of its
inputs and a code version. An entry is built in a temporary folder beside its
final place, given a ``manifest.json`` (written last) and then renamed in one
step, so a half-written entry is never read as complete. A process lock keeps
two builders of the same key from racing. The manifest carries the size and
sha256 of every file and a checksum of its own content (the facts included):
an entry that fails either is moved away and rebuilt, never served.
Temporary folders of an interrupted build and the work folder of an entry that
completed are removed the next time the key is asked for.
"""

from __future__ import annotations

import ast
import fcntl
import hashlib
import inspect
import json
import os
import shutil
import sys
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


_MODULE_HASHES: dict[tuple, str] = {}


def _module_hash(module) -> str:
    """``code_hash`` of one module, memoised while its source file is unchanged."""
    path = getattr(module, "__file__", None)
    try:
        stat = os.stat(path) if path else None
    except OSError:
        stat = None
    key = (module.__name__, path, stat.st_mtime_ns if stat else None, stat.st_size if stat else None)
    if key not in _MODULE_HASHES:
        _MODULE_HASHES[key] = code_hash(module)
    return _MODULE_HASHES[key]


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


def _library_imports(module) -> list:
    """The ``sp_prm_lib`` modules that ``module``'s source imports, anywhere in it."""
    import importlib

    try:
        tree = ast.parse(inspect.getsource(module))
    except (OSError, TypeError):
        return []
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.split(".")[0] == "sp_prm_lib")
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "sp_prm_lib":
            for alias in node.names:
                names.add(f"{node.module}.{alias.name}")
                names.add(node.module)
    out = []
    for name in sorted(names):
        try:
            out.append(importlib.import_module(name))
        except ImportError:
            continue  # "pkg.function": the module part is in the set too
    return out


def code_modules(*objects) -> dict[str, Any]:
    """The modules of ``objects`` and every ``sp_prm_lib`` module they import, directly or not
    (imports inside functions included), by name."""
    seen: dict[str, Any] = {}
    todo = [o if inspect.ismodule(o) else inspect.getmodule(o) for o in objects]
    while todo:
        module = todo.pop()
        if module is None or module.__name__ in seen:
            continue
        seen[module.__name__] = module
        todo.extend(_library_imports(module))
    return dict(sorted(seen.items()))


def code_closure(*objects) -> str:
    """Code version of a step: the hash of ``code_modules(*objects)`` (derived from the imports,
    so no hand-kept list of modules can drift from the code that runs)."""
    digests = "".join(_module_hash(m) for m in code_modules(*objects).values())
    return f"{__version__}+{hashlib.sha256(digests.encode()).hexdigest()[:16]}"


def digest(value: Any) -> str:
    """sha256 of a JSON-able value (rows of data, a list of prompts): a content key for an input."""
    blob = json.dumps(_canonical(value), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


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
        """The complete entry for (step, key), or None.

        A damaged entry (a manifest that is not JSON, names another key or fails its
        checksum, an edited fact included; a file missing or changed) is moved away
        and None returned, so it is rebuilt. A file where the entry's folder belongs
        is an ``ArtifactError``, raised before anything is built or changed.
        """
        path = self.entry_dir(step, key)
        _check_folder_place(path)
        manifest_path = path / MANIFEST
        if not manifest_path.is_file():
            return None
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return self._discard(path, f"{MANIFEST} is not readable JSON")
        if not isinstance(manifest, dict) or manifest.get("key") != key:
            return self._discard(path, f"{MANIFEST} names another key than its folder")
        if manifest.get("checksum") != manifest_checksum(manifest):
            return self._discard(path, f"{MANIFEST} does not match its checksum (edited or damaged)")
        if path not in _VERIFIED:
            problem = _check_files(path, manifest.get("files", {}))
            if problem is not None:
                return self._discard(path, problem)
            _VERIFIED.add(path)
        shutil.rmtree(path.parent / f".{key}.work", ignore_errors=True)  # left by a kill after completion
        return Artifact(path, manifest)

    def _discard(self, path: Path, problem: str) -> None:
        """Move a damaged entry out of the way (it is rebuilt); the cache never serves it."""
        print(f"cache: {path}: {problem}; rebuilding the entry", file=sys.stderr, flush=True)
        aside = path.parent / f".{path.name}.damaged-{uuid.uuid4().hex[:8]}"
        os.replace(path, aside)
        shutil.rmtree(aside, ignore_errors=True)
        return None

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
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise ArtifactError(
                f"{final.parent}: a file where the cache's folder belongs; move it away to build {step}"
            ) from None
        with _lock(final.parent / f".{key}.lock"):
            found = self.lookup(step, key)  # another process may have finished it
            if found is not None:
                return found
            for stale in final.parent.glob(f".{key}.tmp-*"):  # the lock's holder alone builds this key
                shutil.rmtree(stale, ignore_errors=True)
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
                    "files": {
                        str(p.relative_to(tmp)): {"size": p.stat().st_size, "sha256": file_sha256(p)}
                        for p in sorted(tmp.rglob("*"))
                        if p.is_file()
                    },
                }
                manifest["checksum"] = manifest_checksum(manifest)
                (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
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


def manifest_checksum(manifest: Mapping[str, Any]) -> str:
    """sha256 of a manifest's content without its ``checksum`` field: facts, files, key and all."""
    body = {k: v for k, v in manifest.items() if k != "checksum"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


def _check_folder_place(path: Path) -> None:
    """An ``ArtifactError`` when something other than a folder sits where an entry's folder belongs
    (or above it): it is not the cache's to remove, and a build would fail only at its end."""
    for place in (path, *path.parents):
        if place.exists() and not place.is_dir():
            raise ArtifactError(f"{place}: a file where a cache folder belongs; move it away and the entry is rebuilt")
        if place.is_dir():
            return


# Entries whose files were checked against their manifest in this process (once each).
_VERIFIED: set[Path] = set()


def _check_files(path: Path, files: Mapping[str, Any]) -> str | None:
    """None when every file of the manifest is there with its size and hash, else what is wrong."""
    for rel, expected in files.items():
        f = path / rel
        if not f.is_file():
            return f"file {rel} is missing"
        size, sha = (expected, None) if isinstance(expected, int) else (expected.get("size"), expected.get("sha256"))
        if f.stat().st_size != size:
            return f"file {rel} has {f.stat().st_size} bytes, the manifest says {size}"
        if sha is not None and file_sha256(f) != sha:
            return f"file {rel} does not match its sha256 in the manifest"
    return None


@contextmanager
def _lock(path: Path):
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)

"""Checkpoint files: which ``checkpoint-N`` folders a run can resume from. A kill during a save
leaves a half-written checkpoint; resuming uses the newest *complete* one, and the others are
logged and removed.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import zipfile
from pathlib import Path


def _safetensors_problem(path: Path) -> str | None:
    size = path.stat().st_size
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
            if len(head) < 8:
                return "shorter than its header"
            n = int.from_bytes(head, "little")
            if 8 + n > size:
                return "truncated inside its header"
            header = json.loads(fh.read(n))
    except (OSError, ValueError) as exc:
        return f"unreadable header ({type(exc).__name__})"
    ends = [v["data_offsets"][1] for k, v in header.items() if k != "__metadata__" and isinstance(v, dict)]
    expected = 8 + n + max(ends, default=0)
    return None if size == expected else f"{size} bytes where its header needs {expected}"


def _torch_file_problem(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as archive:
            archive.infolist()
    except (OSError, zipfile.BadZipFile) as exc:
        return f"not a complete torch archive ({type(exc).__name__})"
    return None


def checkpoint_problem(folder: Path) -> str | None:
    """Why ``folder`` (a ``checkpoint-N``) cannot be resumed from, or None when it is complete.

    Complete: ``trainer_state.json`` parses (the ``Trainer`` writes it last), every
    ``.safetensors`` file has the size its header states, every torch file (``.bin``,
    ``.pt``, ``.pth``) is a whole zip archive, every JSON file parses, sharded weights
    have all their shards, and the weights, optimizer (or DeepSpeed state), scheduler
    and RNG state are there.
    """
    folder = Path(folder)
    state = folder / "trainer_state.json"
    if not state.is_file():
        return "trainer_state.json is missing"
    files = sorted(f for f in folder.rglob("*") if f.is_file())
    names = {f.relative_to(folder).as_posix() for f in files}
    for f in files:
        if f.suffix == ".safetensors":
            problem = _safetensors_problem(f)
        elif f.suffix in (".bin", ".pt", ".pth"):
            problem = _torch_file_problem(f)
        elif f.suffix == ".json":
            try:
                json.loads(f.read_text(encoding="utf-8"))
                problem = None
            except (OSError, ValueError):
                problem = "unreadable JSON"
        else:
            continue
        if problem:
            return f"{f.relative_to(folder).as_posix()}: {problem}"
    if not isinstance(json.loads(state.read_text(encoding="utf-8")).get("global_step"), int):
        return "trainer_state.json has no global_step"
    for index in [f for f in files if f.name.endswith(".index.json")]:
        shards = set(json.loads(index.read_text(encoding="utf-8")).get("weight_map", {}).values())
        missing = sorted(s for s in shards if (index.parent / s).relative_to(folder).as_posix() not in names)
        if missing:
            return f"{index.name} names missing shard {missing[0]}"
    deepspeed_state = any(f.parent != folder and f.parent.name.startswith("global_step") for f in files)
    weights = [f for f in files if f.suffix in (".safetensors", ".bin") and f.name != "training_args.bin"]
    if not (deepspeed_state or weights):
        return "no model weights"
    if not (deepspeed_state or "optimizer.pt" in names):
        return "optimizer.pt is missing"
    if "scheduler.pt" not in names:
        return "scheduler.pt is missing"
    if not any(n.startswith("rng_state") for n in names):
        return "rng_state.pth is missing"
    return None


def last_complete_checkpoint(folder: Path, remove_incomplete: bool = True) -> str | None:
    """The newest complete ``checkpoint-N`` under ``folder`` (None when there is none).

    Incomplete ones (a run killed while saving) are logged and, with
    ``remove_incomplete``, deleted, so they neither crash a resume nor count towards
    the ``Trainer``'s rotation of old checkpoints.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return None
    found = []
    for path in folder.iterdir():
        match = re.fullmatch(r"checkpoint-(\d+)", path.name)
        if match and path.is_dir():
            found.append((int(match.group(1)), path))
    chosen = None
    for _, path in sorted(found, reverse=True):
        problem = checkpoint_problem(path)
        if problem is None:
            if chosen is None:
                chosen = path
            continue
        action = "removed" if remove_incomplete else "ignored"
        _log.warning("incomplete checkpoint %s %s: %s", path, action, problem)
        if remove_incomplete:
            shutil.rmtree(path, ignore_errors=True)
    return str(chosen) if chosen is not None else None


_log = logging.getLogger(__name__)

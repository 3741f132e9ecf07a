"""Generation runs over a prompt set: JSONL output, resume, sharding, merge.

A run writes one JSON line per prompt, appended and flushed as each batch of
prompts finishes::

    {"index", "prompt", "method", "scorer", "seed", "config", "response",
     "reward", "tokens", "finish", "time_s", "batch_time_s", "batch_size",
     "stats", "run"}

``time_s`` is the batch's wall time divided by its prompts (prompts decoded
together share their time); ``run`` fingerprints method, scorer and config.

Resume: prompts already in the output file (same run fingerprint, same
prompt text) are skipped; a half-written last line (a killed process) is cut
off. A file holding a different run is an error, never overwritten.

Sharding: under ``accelerate launch``, process ``i`` of ``n`` (accelerate's
``PartialState``) takes prompts ``i, i+n, i+2n, ...`` and writes
``<out>.shard-<i>-of-<n>.jsonl``; ``merge_shards`` joins them, in prompt
order, into ``<out>`` and checks that no prompt is missing or doubled.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sp_prm_lib.core.errors import ConfigError, DataError
from sp_prm_lib.decoding.registry import decode, get_method, make_config
from sp_prm_lib.scoring.reward_model import RewardNaNError

RUN_FORMAT = 1


def process_shard() -> tuple[int, int]:
    """(process_index, num_processes) from accelerate's ``PartialState``, else (0, 1).

    On a machine without GPUs the state is created with ``cpu=True``, so that
    processes started by ``accelerate launch --multi_gpu`` / ``torchrun`` form a
    CPU (gloo) group instead of each seeing itself alone.
    """
    try:
        import torch
        from accelerate import PartialState
    except ImportError:  # pragma: no cover - accelerate is a dependency
        return 0, 1
    state = PartialState(cpu=not torch.cuda.is_available())
    return state.process_index, state.num_processes


def shard_indices(n_prompts: int, process_index: int, num_processes: int) -> list[int]:
    if num_processes < 1 or not 0 <= process_index < num_processes:
        raise ConfigError(f"bad shard {process_index} of {num_processes}")
    return list(range(process_index, n_prompts, num_processes))


def shard_path(out: Path, process_index: int, num_processes: int) -> Path:
    out = Path(out)
    if num_processes == 1:
        return out
    return out.with_name(f"{out.stem}.shard-{process_index:03d}-of-{num_processes:03d}{out.suffix}")


def run_fingerprint(method: str, scorer_name: str | None, config) -> str:
    blob = json.dumps(
        {"format": RUN_FORMAT, "method": method, "scorer": scorer_name, "config": config.to_dict()}, sort_keys=True
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def read_records(path: Path, *, repair: bool = False) -> list[dict]:
    """Records of a run file. A last line without its newline (an interrupted
    write) is ignored, and cut off when ``repair``; any other bad line is an error."""
    path = Path(path)
    if not path.exists():
        return []
    data = path.read_bytes()
    complete = data.rfind(b"\n") + 1
    if complete < len(data) and repair:
        with open(path, "r+b") as fh:
            fh.truncate(complete)
    records = []
    for lineno, line in enumerate(data[:complete].decode("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{lineno}: not a JSON line ({exc.msg})") from None
    return records


@dataclass
class RunSummary:
    path: Path
    done: int  # prompts decoded by this call
    skipped: int  # prompts found finished (resume)
    shard: tuple[int, int]


def generate_run(
    prompts: Sequence[str],
    method: str,
    policy,
    scorer,
    out: str | Path,
    *,
    config=None,
    batch_size: int = 4,
    process_index: int | None = None,
    num_processes: int | None = None,
    scorer_name: str | None = None,
    log: Callable[[str], None] | None = None,
) -> RunSummary:
    """Decode this process's share of ``prompts`` with ``method``, appending to its JSONL file."""
    entry = get_method(method)
    if config is None or isinstance(config, dict):
        config = make_config(method, config)
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    prompts = list(prompts)
    if not prompts:
        raise ConfigError("no prompts to decode (empty prompt list)")
    if process_index is None or num_processes is None:
        process_index, num_processes = process_shard()
    scorer_name = scorer_name or (getattr(scorer, "name", None) if scorer is not None else None)
    fingerprint = run_fingerprint(method, scorer_name if entry.needs_scorer or scorer else None, config)
    path = shard_path(Path(out), process_index, num_processes)
    path.parent.mkdir(parents=True, exist_ok=True)

    finished = set()
    for rec in read_records(path, repair=True):
        if rec.get("run") != fingerprint:
            raise ConfigError(
                f"{path} holds a different run (method {rec.get('method')!r}, config "
                f"{rec.get('config')}); choose another output path"
            )
        i = rec.get("index")
        if not isinstance(i, int) or i >= len(prompts) or rec.get("prompt") != prompts[i]:
            raise ConfigError(f"{path}: record for prompt {i} does not match the prompt set given")
        finished.add(i)
    todo = [i for i in shard_indices(len(prompts), process_index, num_processes) if i not in finished]
    done = 0
    with open(path, "a", encoding="utf-8") as fh:
        for start in range(0, len(todo), batch_size):
            part = todo[start : start + batch_size]
            began = time.perf_counter()
            try:
                results = decode(method, policy, scorer, [prompts[i] for i in part], config, indices=part)
            except RewardNaNError as exc:
                raise RewardNaNError(f"{exc}; {len(finished) + done} finished prompts are kept in {path}") from exc
            elapsed = time.perf_counter() - began
            for gen in results:
                record = {
                    "index": gen.index,
                    "prompt": gen.prompt,
                    "method": method,
                    "scorer": scorer_name,
                    "seed": config.seed,
                    "config": config.to_dict(),
                    "response": gen.response,
                    "reward": gen.reward,
                    "tokens": gen.tokens,
                    "finish": gen.finish,
                    "time_s": round(elapsed / len(part), 4),
                    "batch_time_s": round(elapsed, 4),
                    "batch_size": len(part),
                    "stats": gen.stats,
                    "run": fingerprint,
                }
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
            done += len(part)
            if log:
                log(
                    f"[{process_index}/{num_processes}] {len(finished) + done}/"
                    f"{len(finished) + len(todo)} prompts ({elapsed:.1f}s for {len(part)})"
                )
    return RunSummary(path, done, len(finished), (process_index, num_processes))


_SHARD = re.compile(r"\.shard-(\d+)-of-(\d+)$")


def merge_shards(out: str | Path, *, expected: int | None = None, keep_shards: bool = True) -> Path:
    """Join ``<out>.shard-*-of-N.jsonl`` into ``<out>`` in prompt order.

    Every shard 0..N-1 must exist; a prompt in two shards, or (with
    ``expected``) a missing prompt, is an error. The merged file is written
    to a temporary name and renamed.
    """
    out = Path(out)
    shards: dict[int, Path] = {}
    totals = set()
    for p in out.parent.glob(f"{out.stem}.shard-*-of-*{out.suffix}"):
        m = _SHARD.search(p.name[: len(p.name) - len(out.suffix)] if out.suffix else p.name)
        if m:
            shards[int(m.group(1))] = p
            totals.add(int(m.group(2)))
    if not shards:
        raise DataError(f"no shard files {out.stem}.shard-*-of-*{out.suffix} in {out.parent}")
    if len(totals) != 1:
        raise DataError(f"shards of {out} come from runs with different process counts: {sorted(totals)}")
    total = totals.pop()
    missing = sorted(set(range(total)) - set(shards))
    if missing:
        raise DataError(f"{out}: shard(s) {missing} of {total} missing")
    records: dict[int, dict] = {}
    runs = set()
    for k in range(total):
        for rec in read_records(shards[k]):
            if rec["index"] in records:
                raise DataError(f"prompt {rec['index']} appears in two shards of {out}")
            records[rec["index"]] = rec
            runs.add(rec.get("run"))
    if len(runs) > 1:
        raise DataError(f"shards of {out} hold different runs (fingerprints {sorted(map(str, runs))})")
    if expected is not None:
        absent = sorted(set(range(expected)) - set(records))
        if absent:
            raise DataError(
                f"{out}: {len(absent)} of {expected} prompts not generated yet "
                f"(first: {absent[:5]}); resume the shards first"
            )
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for i in sorted(records):
            fh.write(json.dumps(records[i], ensure_ascii=False) + "\n")
    os.replace(tmp, out)
    if not keep_shards:
        for p in shards.values():
            p.unlink()
    return out

"""Generation runs over a prompt set: JSONL output, resume, sharding, merge.

A run writes one JSON line per prompt, appended and flushed as each batch of
prompts finishes::

    {"index", "prompt", "method", "scorer", "seed", "config", "response",
     "reward", "tokens", "finish", "time_s", "batch_time_s", "batch_size",
     "cost", "batch_cost", "stats", "policy_id", "scorer_id", "run"}

``time_s`` is the batch's wall time divided by its prompts (prompts decoded
together share their time); ``batch_cost`` the compute the batch spent next to
it (``cost.ComputeCost``: policy and RM forward calls and token positions),
``cost`` its share per prompt (a run-wide preparation, such as CARDS's
threshold calibration, is not in it); ``reward`` is the scorer's reward of
``response``; ``stats`` the method's counters (CARDS: acceptance rate, mean
segment length, the thresholds used). ``policy_id`` and ``scorer_id`` name
the models and fingerprint their contents (``model_fingerprint``: the config
and a sample of a few parameter tensors; tokenizer, EOS ids; the RM's
convention; a scorer that is not a reward model is known by its name unless it
has a ``fingerprint()``); ``run`` fingerprints method, config, scorer name and
policy.

Resume: prompts already in the output file (same run fingerprint, same
prompt text) are skipped; a half-written last line (a killed process) is cut
off, but only once every complete line is known to be a record of this very
run (``read_run_file``, then the fingerprints). A file that is not a run file,
or holds a different run (another config, policy or reward model), is an
error and is left byte for byte as it was: never cut, overwritten or extended.

A method's run-wide preparation (``Method.resolve``: CARDS calibrates its
``"auto"`` thresholds) runs once on the whole prompt set, so a run's results
do not depend on its batch size, sharding or resumption.

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
from sp_prm_lib.decoding.cost import count_forwards
from sp_prm_lib.decoding.policy import as_policy
from sp_prm_lib.decoding.registry import decode, get_method, make_config
from sp_prm_lib.decoding.scorers import as_scorer
from sp_prm_lib.scoring.reward_model import RewardNaNError

RUN_FORMAT = 2
SAMPLED_VALUES = 4096  # parameter values hashed per sampled tensor


def _sha(*parts) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part if isinstance(part, bytes) else json.dumps(part, sort_keys=True, default=str).encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


def model_fingerprint(model) -> str:
    """A cheap content fingerprint of a torch model: its config (private keys and the
    transformers version left out) and up to ``SAMPLED_VALUES`` evenly spaced values of
    its first, last and two middle parameter tensors (with their names, shapes, dtypes)."""
    config = getattr(model, "config", None)
    values = config.to_dict() if hasattr(config, "to_dict") else {}
    values = {k: v for k, v in values.items() if not k.startswith("_") and k != "transformers_version"}
    parts: list = [type(model).__name__, values]
    params = list(model.named_parameters()) if hasattr(model, "named_parameters") else []
    n = len(params)
    for i in sorted({0, n // 3, (2 * n) // 3, n - 1} if n else set()):
        name, tensor = params[i]
        parts.append([name, list(tensor.shape), str(tensor.dtype)])
        if tensor.device.type == "meta":
            continue
        flat = tensor.detach().reshape(-1)
        step = max(1, flat.numel() // SAMPLED_VALUES)
        parts.append(flat[::step][:SAMPLED_VALUES].float().cpu().numpy().tobytes())
    return _sha(*parts)


def tokenizer_fingerprint(tokenizer) -> str:
    """Vocabulary, special tokens and chat template of a tokenizer."""
    vocab = sorted(tokenizer.get_vocab().items()) if hasattr(tokenizer, "get_vocab") else []
    template = getattr(tokenizer, "chat_template", None)
    specials = getattr(tokenizer, "all_special_tokens", [])
    return _sha(type(tokenizer).__name__, vocab, specials, template or "")


def policy_identity(policy) -> dict:
    """``{"name", "fingerprint"}`` of a policy: its model, tokenizer, EOS and pad ids, renderer."""
    policy = as_policy(policy)
    model = policy.model
    name = getattr(model, "name_or_path", None) or type(model).__name__
    render = None if policy.render is None else getattr(policy.render, "__qualname__", type(policy.render).__name__)
    fingerprint = _sha(
        model_fingerprint(model),
        tokenizer_fingerprint(policy.tokenizer),
        sorted(policy.eos_ids),
        policy.pad_id,
        render,
    )
    return {"name": str(name), "fingerprint": fingerprint}


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


def scorer_identity(scorer, name: str | None = None) -> dict | None:
    """``{"name", "fingerprint"}`` of a scorer (None: no scorer). A reward model (a
    ``RewardModel`` or a scorer wrapping one as ``.rm``) is fingerprinted by content:
    model, tokenizer, convention, window (max_length, response budget, rule) and the RM-cache switch. Another scorer
    has the fingerprint its ``fingerprint()`` method gives, else None: it is known by
    its name only."""
    if scorer is None:
        return None
    scorer = as_scorer(scorer)
    rm = getattr(scorer, "rm", None)
    if rm is not None and hasattr(rm, "model") and hasattr(rm, "formatter"):
        fingerprint = _sha(
            model_fingerprint(rm.model),
            tokenizer_fingerprint(rm.tokenizer),
            rm.convention,
            rm.formatter.window,
            bool(getattr(scorer, "kv_cache", True)),
        )
        return {"name": str(name or rm.name), "fingerprint": fingerprint}
    own = getattr(scorer, "fingerprint", None)
    own = own() if callable(own) else own
    return {"name": str(name or getattr(scorer, "name", type(scorer).__name__)), "fingerprint": own}


def run_fingerprint(method: str, scorer_name: str | None, config, policy_id: dict | None = None) -> str:
    """Method, scorer name, config and (format 2) the policy's content fingerprint. The
    scorer's content fingerprint is checked apart (``_check_scorer``): a scorer without
    one is known by its name."""
    blob = json.dumps(
        {
            "format": RUN_FORMAT,
            "method": method,
            "scorer": scorer_name,
            "config": config.to_dict(),
            "policy": None if policy_id is None else policy_id["fingerprint"],
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _refuse(path: Path, what: str, theirs: dict, ours: dict | None) -> None:
    if ours is None:
        raise ConfigError(f"{path} was generated with {what} {theirs.get('name')!r}, now none is given")
    raise ConfigError(
        f"{path} was generated with {what} {theirs.get('name')!r} (fingerprint {theirs.get('fingerprint')}), "
        f"not {ours['name']!r} (fingerprint {ours['fingerprint']}); resume with that {what} or choose "
        "another output path"
    )


def _check_policy(path: Path, rec: dict, ours: dict) -> None:
    theirs = rec.get("policy_id")
    if isinstance(theirs, dict) and theirs != ours:
        _refuse(path, "policy", theirs, ours)


def _check_scorer(path: Path, rec: dict, ours: dict | None) -> None:
    """The record's scorer and ours: the same content fingerprint where both have one."""
    theirs = rec.get("scorer_id")
    if not isinstance(theirs, dict):
        return
    if ours is None:
        _refuse(path, "reward model / scorer", theirs, ours)
    if theirs.get("fingerprint") and ours["fingerprint"] and theirs["fingerprint"] != ours["fingerprint"]:
        _refuse(path, "reward model / scorer", theirs, ours)


RECORD_START = b'{"index": '  # how every record line of a run file begins (``generate_run`` writes it)


@dataclass(frozen=True)
class RunFile:
    """A run file as read, unchanged: its complete records and the bytes of a cut last line."""

    path: Path
    records: list[dict]
    size: int  # bytes of the file (0: absent)
    tail: bytes  # a last line without its newline (an interrupted write), else b""

    def tail_record(self) -> dict | None:
        """The cut last line as a record when it is complete JSON (only its newline is missing)."""
        try:
            rec = json.loads(self.tail.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return None
        return rec if isinstance(rec, dict) else None


def read_run_file(path: Path) -> RunFile:
    """Read ``path`` as a run file without changing it.

    Every complete line must be a JSON record of a run (an object with an integer
    ``index`` and a ``run`` fingerprint), and a last line without its newline must
    begin like one (a record cut by a killed process). Anything else (a folder, a
    file that is not UTF-8 text, JSON or JSONL of something else, a last line that is
    not a cut record) is a one-line ``ConfigError`` / ``DataError`` naming the file:
    the file is not a run file and is never cut or extended.
    """
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path} is a folder, not a run file (give a .jsonl file path)")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return RunFile(path, [], 0, b"")
    except OSError as exc:
        raise DataError(f"{path}: cannot read it as a run file ({exc.strerror or exc})") from None
    complete = data.rfind(b"\n") + 1
    try:
        text = data[:complete].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not a run file (not UTF-8 text at byte {exc.start}); left as it is") from None
    records = []
    for lineno, line in enumerate(text.split("\n"), 1):  # not splitlines: U+2028 may sit in a response
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{lineno}: not a run file: not a JSON line ({exc.msg}); left as it is") from None
        index = rec.get("index") if isinstance(rec, dict) else None
        if not isinstance(index, int) or isinstance(index, bool) or "run" not in rec:
            raise DataError(
                f"{path}:{lineno}: not a run file: a JSON line that is not a run record "
                "(no integer index and run fingerprint); left as it is"
            )
        records.append(rec)
    tail = data[complete:]
    if tail and not tail.startswith(RECORD_START):
        raise DataError(
            f"{path}: not a run file: its last line ({len(tail)} bytes without a newline) is not a cut run "
            "record; left as it is"
        )
    return RunFile(path, records, len(data), tail)


def read_records(path: Path) -> list[dict]:
    """The complete records of a run file (``read_run_file``; a cut last line is ignored)."""
    return read_run_file(path).records


def _cut_tail(run_file: RunFile) -> None:
    """Cut the interrupted last line off a run file checked to be this run's, if the file
    is still the one that was read (same size)."""
    if not run_file.tail:
        return
    with open(run_file.path, "r+b") as fh:
        fh.seek(0, os.SEEK_END)
        if fh.tell() != run_file.size:
            raise DataError(f"{run_file.path} changed while it was being checked; run again")
        fh.truncate(run_file.size - len(run_file.tail))


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
    policy = as_policy(policy)
    scorer = as_scorer(scorer)
    scorer_name = scorer_name or (getattr(scorer, "name", None) if scorer is not None else None)
    policy_id = policy_identity(policy)
    scorer_id = scorer_identity(scorer, scorer_name)
    fingerprint = run_fingerprint(method, scorer_name if entry.needs_scorer or scorer else None, config, policy_id)
    path = shard_path(Path(out), process_index, num_processes)
    # Nothing is written, cut or created before the file is known to hold this very run.
    run_file = read_run_file(path)
    finished = set()
    cut = run_file.tail_record()
    for rec in [*run_file.records, *([cut] if cut is not None else [])]:
        _check_policy(path, rec, policy_id)
        _check_scorer(path, rec, scorer_id)
        if rec.get("run") != fingerprint:
            raise ConfigError(
                f"{path} holds a different run (method {rec.get('method')!r}, config "
                f"{rec.get('config')}); choose another output path"
            )
        i = rec.get("index")
        if not isinstance(i, int) or not 0 <= i < len(prompts) or rec.get("prompt") != prompts[i]:
            raise ConfigError(f"{path}: record for prompt {i} does not match the prompt set given")
        if rec is not cut:
            finished.add(i)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot create its folder {path.parent} ({exc.strerror or exc})") from None
    _cut_tail(run_file)  # a record cut by a killed process: redone below
    todo = [i for i in shard_indices(len(prompts), process_index, num_processes) if i not in finished]
    rm_model = getattr(getattr(scorer, "rm", None), "model", None)  # a reward model's forwards are counted
    # run-wide preparation on the whole prompt set (same in every shard, batch and resumption)
    run_config = entry.resolve(policy, scorer, prompts, config) if todo else config
    done = 0
    with open(path, "a", encoding="utf-8") as fh:
        for start in range(0, len(todo), batch_size):
            part = todo[start : start + batch_size]
            began = time.perf_counter()
            try:
                with count_forwards(policy.model, rm_model) as cost:
                    results = decode(method, policy, scorer, [prompts[i] for i in part], run_config, indices=part)
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
                    "cost": cost.per(len(part)),
                    "batch_cost": cost.to_dict(),
                    "stats": gen.stats,
                    "policy_id": policy_id,
                    "scorer_id": scorer_id,
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
    to a temporary name and renamed; an existing ``<out>`` is replaced only
    when it holds records of the same run (an earlier merge), never a file of
    something else.
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
    if out.exists() or out.is_symlink():  # only a merge of this very run may be replaced
        previous = read_run_file(out)
        foreign = {str(rec.get("run")) for rec in previous.records} - set(map(str, runs))
        if foreign or previous.tail or (out.is_symlink() and not previous.records):
            raise DataError(
                f"{out} exists and is not a merge of these shards (run {', '.join(sorted(foreign)) or 'unknown'}); "
                "choose another --out or move it away"
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

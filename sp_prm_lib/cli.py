"""The one command line of the library: ``sp-prm`` (or ``python -m sp_prm_lib.cli``).

    sp-prm data                                   copy the data mirror (or download the files) and verify checksums
    sp-prm models  --profile tiny                 provision a profile's models
    sp-prm profile --profile tiny                 validate and print a profile
    sp-prm train   --profile tiny --variant sc --output D   train a PRM variant (accelerate launch works)
    sp-prm generate --method args --profile tiny --limit 8 \\
        --rm HuggingFaceTB/SmolLM2-135M-Instruct --rm-source package --rm-layers 3 \\
        --out runs/args.jsonl --set k=30 --set w=1.5
    accelerate launch --num_processes 4 -m sp_prm_lib.cli generate ... --out runs/args.jsonl
    sp-prm merge --out runs/args.jsonl --expected 100
    sp-prm decode-task --profile paper --task hh-rlhf --shard 0/4   shard 0 of 4 of a table's runs, into the cache
    sp-prm decode-task --profile paper --task hh-rlhf --merge       then join the shards (a Slurm job array)

``generate --prompts FILE`` reads prompts from a JSON list or a JSONL file (a
string per line or objects with a ``prompt`` field); ``--profile NAME`` takes
the eval prompts of that profile; ``--limit N`` (N >= 1) keeps the first N.
A run resumes where its output file stops; a ``--out`` that is not a run file
of this very run is refused before any model loads and left as it was.
Errors are printed as one line on stderr with exit code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from sp_prm_lib.config.decoding import settings_help
from sp_prm_lib.core.errors import ConfigError, DataError, SpPrmError


def _cmd_data(args) -> None:
    from sp_prm_lib.data import ensure_local_copy
    from sp_prm_lib.data.sources import describe_origin

    started = time.time()
    origin = describe_origin()
    print(f"data: local copies, missing ones taken from {origin}", flush=True)
    paths = ensure_local_copy()
    print(f"data: {len(paths)} files present and verified (sha256) in {time.time() - started:.1f}s")
    for p in paths:
        print(f"  {p}")


def _cmd_models(args) -> None:
    from sp_prm_lib.config.profile import load_profile
    from sp_prm_lib.models.loading import provision

    profile = load_profile(args.profile)
    rms = (("orm", profile.reward.orm.model), ("reference", profile.reward.reference.model))
    hub_rms = tuple((f"{role} RM", spec) for role, spec in rms if spec.source == "hub")  # used as released
    for role, spec in (("policy", profile.policy), ("embedder", profile.embedder), *hub_rms):
        started = time.time()
        where = provision(spec)
        print(f"models: {role} {spec.id} ({spec.source}) -> {where} [{time.time() - started:.1f}s]")


def _cmd_train(args) -> None:
    """Train one PRM variant of a profile into --output (no cache): the multi-GPU entry point."""
    import dataclasses
    from pathlib import Path

    import pandas as pd

    from sp_prm_lib.experiments.reward_models import ensure_orm, ensure_reference, prm_train_config, training_pairs
    from sp_prm_lib.notebook import start
    from sp_prm_lib.training.runs import check_deepspeed, check_output
    from sp_prm_lib.training.trainer import train_reward_model

    output = Path(args.output)
    if output.exists() and not output.is_dir():
        raise ConfigError(f"--output {output} is a file, not a folder")
    if args.deepspeed is not None:
        check_deepspeed(args.deepspeed, where="--deepspeed")
    profile = start(args.profile)
    config = dataclasses.replace(prm_train_config(profile, args.variant), deepspeed=args.deepspeed)
    check_output(output, config, where=f"--output {output}")  # before any model loads
    orm = ensure_orm(profile)
    reference = ensure_reference(profile).load(profile) if config.uses_reference else None
    pairs = training_pairs(profile, profile.reward.prm.train_pairs, "reward.prm.train_pairs")
    result = train_reward_model(orm.load(profile), pairs, config, output, reference=reference)
    pd.DataFrame(result.log).to_csv(output / "loss_log.csv", index=False)
    print(
        f"train: {args.variant} on {len(pairs)} pairs ({len(result.rows)} prefix pairs; dropped "
        f"{result.dropped_identical} identical, {result.dropped_by_reference} by the reference), "
        f"{result.steps} steps, {result.seconds:.0f}s -> {output}/model"
    )


def _cmd_profile(args) -> None:
    from sp_prm_lib.config.profile import load_profile

    print(json.dumps(load_profile(args.profile).to_dict(), indent=2))


def _value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def read_prompts(path: Path) -> list[str]:
    """Prompts from a JSON list or JSONL file (strings, or objects with a ``prompt`` field).

    A missing file, a folder, bytes that are not UTF-8, text that is neither JSON nor
    JSONL, or no prompt at all: a one-line ``DataError`` naming the file (and line)."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"--prompts {path}: a folder, not a prompts file (JSON list or JSONL)")
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise DataError(f"--prompts {path}: no such file") from None
    except OSError as exc:
        raise DataError(f"--prompts {path}: cannot read it ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"--prompts {path}: not UTF-8 text (byte {exc.start}); give a JSON list or JSONL") from None
    try:
        items = json.loads(text)
    except json.JSONDecodeError:
        items = []
        for lineno, line in enumerate(text.split("\n"), 1):
            if not line.strip():
                continue
            try:
                items.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise DataError(
                    f"--prompts {path}:{lineno}: not JSON ({exc.msg}); give a JSON list or JSONL of prompts"
                ) from None
    out = []
    for i, item in enumerate(items if isinstance(items, list) else [items]):
        prompt = item.get("prompt") if isinstance(item, dict) else item
        if not isinstance(prompt, str):
            raise DataError(f"--prompts {path}: item {i} has no prompt text")
        out.append(prompt)
    if not out:
        raise DataError(f"--prompts {path}: no prompts in it")
    return out


def _positive_int(text: str | None, option: str) -> int | None:
    """``text`` as an integer >= 1 (None stays None); else a one-line ``ConfigError``."""
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"{option} must be a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise ConfigError(f"{option} must be >= 1, got {value}")
    return value


def _cmd_generate(args) -> None:
    """Decode a prompt set (this process's shard) into JSONL; resumes where the file stops."""
    from sp_prm_lib.config.decoding import make_config
    from sp_prm_lib.config.profile import ModelSpec
    from sp_prm_lib.decoding.policy import Policy
    from sp_prm_lib.decoding.registry import get_method
    from sp_prm_lib.decoding.runs import generate_run, process_shard, read_run_file, shard_path
    from sp_prm_lib.models.loading import load_policy
    from sp_prm_lib.scoring.reward_model import RewardModel

    values = {}
    for item in args.set:
        key, sep, val = item.partition("=")
        if not sep:
            raise ConfigError(f"--set needs KEY=VALUE, got {item!r}")
        values[key.strip()] = _value(val.strip())
    config = make_config(args.method, values)
    limit = _positive_int(args.limit, "--limit")
    if args.prompts is not None:
        prompts = read_prompts(args.prompts)
    else:
        from sp_prm_lib.config.profile import load_profile
        from sp_prm_lib.experiments.pairs import preference_splits

        prompts = list(preference_splits(load_profile(args.profile))["eval"].frame.prompt.drop_duplicates())
    if limit is not None:
        prompts = prompts[:limit]
    index, total = process_shard()
    read_run_file(shard_path(args.out, index, total))  # not a run file: refused before any model loads
    from accelerate import PartialState

    device = PartialState().device  # the state process_shard created
    model, tok = load_policy(
        ModelSpec(id=args.policy, source=args.policy_source, num_layers=args.policy_layers, dtype=args.dtype)
    )
    policy = Policy(model.to(device), tok)
    scorer = None
    if args.rm:
        rm = RewardModel.from_spec(
            ModelSpec(id=args.rm, source=args.rm_source, num_layers=args.rm_layers, dtype=args.dtype),
            convention=args.convention,
        )
        rm.model.to(device)
        scorer = rm
    elif get_method(args.method).needs_scorer:
        raise ConfigError(f"method {args.method!r} needs --rm")
    summary = generate_run(
        prompts,
        args.method,
        policy,
        scorer,
        args.out,
        config=config,
        batch_size=args.batch_size,
        process_index=index,
        num_processes=total,
        log=lambda line: print(line, file=sys.stderr, flush=True),
    )
    print(f"{summary.path}: {summary.done} decoded, {summary.skipped} already there")


def _cmd_merge(args) -> None:
    """Join the shard files of a sharded generation run into one JSONL file."""
    from sp_prm_lib.decoding.runs import merge_shards

    print(merge_shards(args.out, expected=args.expected, keep_shards=not args.delete_shards))


def _cmd_decode_task(args) -> None:
    """Shard I/N of every run of a decoding table, or the merge of the shards, in the cache."""
    from sp_prm_lib.experiments.sharding import decode_task_shard, merge_task, parse_shard
    from sp_prm_lib.notebook import start

    if (args.shard is None) == (not args.merge):
        raise ConfigError("decode-task needs either --shard I/N or --merge")
    shard = parse_shard(args.shard) if args.shard is not None else None  # before any data or model loads
    profile = start(args.profile)
    if shard is None:
        print(f"decode-task: merged {merge_task(profile, args.task)} run(s) of {args.task}")
    else:
        print(f"decode-task: {decode_task_shard(profile, args.task, *shard)} run(s) of {args.task} done")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="sp-prm", description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "data", help="copy the data mirror (or download the public files) and verify checksums"
    ).set_defaults(fn=_cmd_data)
    for name, fn, text in (
        ("models", _cmd_models, "provision a profile's models"),
        ("profile", _cmd_profile, "validate and print a profile"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("--profile", default="tiny", help="profile name or YAML path (default: tiny)")
        p.set_defaults(fn=fn)
    train = sub.add_parser("train", help="train a PRM variant of a profile (works under accelerate launch)")
    train.add_argument("--profile", default="tiny")
    train.add_argument("--variant", default="sp-prm", help="sp-prm, sc, sp-prm-tlt, sp-prm-released, ...")
    train.add_argument(
        "--output",
        required=True,
        help="folder of this run (run.json, checkpoints, the trained model); a folder of another run is refused",
    )
    train.add_argument(
        "--deepspeed", default=None, help="DeepSpeed config, e.g. configs/deepspeed_zero3.json (needs deepspeed)"
    )
    train.set_defaults(fn=_cmd_train)
    g = sub.add_parser(
        "generate",
        help="decode a prompt set (this process's shard) into JSONL",
        epilog=settings_help(),  # generated from the decoding configs' field help
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    g.add_argument("--method", required=True)
    src = g.add_mutually_exclusive_group(required=True)
    src.add_argument("--prompts", type=Path)
    src.add_argument("--profile")
    g.add_argument("--limit", default=None, help="first N prompts only (N >= 1)")
    g.add_argument("--policy", default="HuggingFaceTB/SmolLM2-135M-Instruct")
    g.add_argument("--policy-source", default="package")
    g.add_argument("--policy-layers", type=int, default=None)
    g.add_argument("--rm", default=None, help="reward model id (hub id, folder or packaged id)")
    g.add_argument("--rm-source", default="local")
    g.add_argument("--rm-layers", type=int, default=None)
    g.add_argument("--convention", default="closed", choices=["closed", "open"])
    g.add_argument("--dtype", default="float32")
    g.add_argument("--out", type=Path, required=True)
    g.add_argument("--batch-size", type=int, default=4)
    g.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting of the method (repeatable), e.g. --set max_new_tokens=128; the keys are listed below",
    )
    g.set_defaults(fn=_cmd_generate)
    m = sub.add_parser("merge", help="join the shard files of a sharded generation run")
    m.add_argument("--out", type=Path, required=True)
    m.add_argument("--expected", type=int, default=None)
    m.add_argument("--delete-shards", action="store_true")
    m.set_defaults(fn=_cmd_merge)
    t = sub.add_parser("decode-task", help="one shard (or the merge) of a decoding table's runs, in the cache")
    t.add_argument("--profile", default="tiny")
    t.add_argument("--task", required=True, help="hh-rlhf, tldr, advbench or gsm8k")
    t.add_argument("--shard", default=None, help="I/N: this job's shard (e.g. $SLURM_ARRAY_TASK_ID/4)")
    t.add_argument("--merge", action="store_true", help="join the shards of every run of the task")
    t.set_defaults(fn=_cmd_decode_task)
    args = parser.parse_args(argv)
    try:
        args.fn(args)
    except SpPrmError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a path the checks above did not foresee: still one line, no traceback
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

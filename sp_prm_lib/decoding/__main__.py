"""Command line: generation runs, sharded with ``accelerate launch``, and merging.

Examples::

    python -m sp_prm_lib.decoding generate --method args --profile tiny --limit 8 \\
        --rm HuggingFaceTB/SmolLM2-135M-Instruct --rm-source package --rm-layers 3 \\
        --out runs/args.jsonl --set k=30 --set w=1.5
    accelerate launch --num_processes 4 -m sp_prm_lib.decoding generate ... --out runs/args.jsonl
    python -m sp_prm_lib.decoding merge --out runs/args.jsonl --expected 100

``--prompts FILE`` reads prompts from a JSON list or a JSONL file (a string
per line or objects with a ``prompt`` field); ``--profile NAME`` takes the
eval prompts of that profile. A run resumes where its output file stops.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import SpPrmError


def _value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def read_prompts(path: Path) -> list[str]:
    from ..errors import DataError

    text = Path(path).read_text(encoding="utf-8")
    try:
        items = json.loads(text)
    except json.JSONDecodeError:
        items = [json.loads(line) for line in text.splitlines() if line.strip()]
    out = []
    for i, item in enumerate(items if isinstance(items, list) else [items]):
        prompt = item.get("prompt") if isinstance(item, dict) else item
        if not isinstance(prompt, str):
            raise DataError(f"{path}: item {i} has no prompt text")
        out.append(prompt)
    return out


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m sp_prm_lib.decoding", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    g = sub.add_parser("generate", help="decode a prompt set (this process's shard) into JSONL")
    g.add_argument("--method", required=True)
    src = g.add_mutually_exclusive_group(required=True)
    src.add_argument("--prompts", type=Path)
    src.add_argument("--profile")
    g.add_argument("--limit", type=int, default=None, help="first N prompts only")
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
    g.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a config field of the method (repeatable), e.g. --set max_new_tokens=128")
    m = sub.add_parser("merge", help="join the shard files of a run")
    m.add_argument("--out", type=Path, required=True)
    m.add_argument("--expected", type=int, default=None)
    m.add_argument("--delete-shards", action="store_true")
    return p


def _generate(args) -> int:
    from ..models import load_policy
    from ..profiles import ModelSpec
    from ..rewards import RewardModel
    from .policy import Policy
    from .registry import get_method, make_config
    from .runs import generate_run, process_shard

    values = {}
    for item in args.set:
        key, sep, val = item.partition("=")
        if not sep:
            raise SystemExit(f"--set needs KEY=VALUE, got {item!r}")
        values[key.strip()] = _value(val.strip())
    config = make_config(args.method, values)
    if args.prompts is not None:
        prompts = read_prompts(args.prompts)
    else:
        from ..profile_data import preference_splits
        from ..profiles import load_profile

        prompts = list(preference_splits(load_profile(args.profile))["eval"].frame.prompt.drop_duplicates())
    if args.limit is not None:
        prompts = prompts[:args.limit]
    index, total = process_shard()
    from accelerate import PartialState

    device = PartialState().device  # the state process_shard created
    model, tok = load_policy(ModelSpec(id=args.policy, source=args.policy_source,
                                       num_layers=args.policy_layers, dtype=args.dtype))
    policy = Policy(model.to(device), tok)
    scorer = None
    if args.rm:
        rm = RewardModel.from_spec(ModelSpec(id=args.rm, source=args.rm_source, num_layers=args.rm_layers,
                                             dtype=args.dtype), convention=args.convention)
        rm.model.to(device)
        scorer = rm
    elif get_method(args.method).needs_scorer:
        raise SystemExit(f"method {args.method!r} needs --rm")
    summary = generate_run(prompts, args.method, policy, scorer, args.out, config=config,
                           batch_size=args.batch_size, process_index=index, num_processes=total,
                           log=lambda line: print(line, file=sys.stderr, flush=True))
    print(f"{summary.path}: {summary.done} decoded, {summary.skipped} already there")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "generate":
            return _generate(args)
        from .runs import merge_shards

        path = merge_shards(args.out, expected=args.expected, keep_shards=not args.delete_shards)
        print(path)
        return 0
    except SpPrmError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

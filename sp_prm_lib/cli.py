"""Command line: ``python -m sp_prm_lib.cli {data,models,profile}`` (also ``sp-prm``).

The Makefile's ``data`` and ``models`` targets call this; errors are printed
as one line on stderr with exit code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from .errors import SpPrmError


def _cmd_data(args) -> None:
    from .data import ensure_local_copy

    started = time.time()
    paths = ensure_local_copy()
    print(f"data: {len(paths)} files copied and verified in {time.time() - started:.1f}s")
    for p in paths:
        print(f"  {p}")


def _cmd_models(args) -> None:
    from .models import provision
    from .profiles import load_profile

    profile = load_profile(args.profile)
    for role, spec in (("policy", profile.policy), ("embedder", profile.embedder)):
        started = time.time()
        where = provision(spec)
        print(f"models: {role} {spec.id} ({spec.source}) -> {where} [{time.time() - started:.1f}s]")


def _cmd_train(args) -> None:
    """Train one PRM variant of a profile into --output (no cache): the multi-GPU entry point."""
    import dataclasses
    from pathlib import Path

    import pandas as pd

    from .notebook import start
    from .reward_models import ensure_orm, ensure_reference, prm_train_config, training_pairs
    from .training import train_reward_model

    profile = start(args.profile)
    config = dataclasses.replace(prm_train_config(profile, args.variant), deepspeed=args.deepspeed)
    orm = ensure_orm(profile)
    reference = ensure_reference(profile).load(profile) if config.uses_reference else None
    pairs = training_pairs(profile, profile.reward.prm.train_pairs, "reward.prm.train_pairs")
    result = train_reward_model(orm.load(profile), pairs, config, Path(args.output), reference=reference)
    pd.DataFrame(result.log).to_csv(Path(args.output) / "loss_log.csv", index=False)
    print(f"train: {args.variant} on {len(pairs)} pairs ({len(result.rows)} rows), {result.steps} steps, "
          f"{result.seconds:.0f}s -> {args.output}/model")


def _cmd_profile(args) -> None:
    from .profiles import load_profile

    print(json.dumps(load_profile(args.profile).to_dict(), indent=2))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sp-prm", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("data", help="copy the data mirror locally and verify checksums").set_defaults(fn=_cmd_data)
    for name, fn, text in (("models", _cmd_models, "provision a profile's models"),
                           ("profile", _cmd_profile, "validate and print a profile")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--profile", default="tiny", help="profile name or YAML path (default: tiny)")
        p.set_defaults(fn=fn)
    train = sub.add_parser("train", help="train a PRM variant of a profile (works under accelerate launch)")
    train.add_argument("--profile", default="tiny")
    train.add_argument("--variant", default="sp-prm", help="sp-prm, sc, sp-prm-tlt, sp-prm-released, ...")
    train.add_argument("--output", required=True, help="folder for checkpoints and the trained model")
    train.add_argument("--deepspeed", default=None, help="DeepSpeed config, e.g. configs/deepspeed_zero3.json")
    train.set_defaults(fn=_cmd_train)
    args = parser.parse_args(argv)
    try:
        args.fn(args)
    except SpPrmError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

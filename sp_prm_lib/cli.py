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
    args = parser.parse_args(argv)
    try:
        args.fn(args)
    except SpPrmError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

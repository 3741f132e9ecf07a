"""Merge the shard files of a sharded generation run into one JSONL file.

    python scripts/merge_generations.py runs/args.jsonl [--expected 100] [--delete-shards]

Same as ``python -m sp_prm_lib.decoding merge --out runs/args.jsonl``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sp_prm_lib.decoding.__main__ import main  # noqa: E402


def cli(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("out", type=Path)
    p.add_argument("--expected", type=int, default=None)
    p.add_argument("--delete-shards", action="store_true")
    a = p.parse_args(argv)
    args = ["merge", "--out", str(a.out)]
    if a.expected is not None:
        args += ["--expected", str(a.expected)]
    if a.delete_shards:
        args.append("--delete-shards")
    return main(args)


if __name__ == "__main__":
    sys.exit(cli())

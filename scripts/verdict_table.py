"""Print the verdicts a profile's run filed, one line per claim (and, with ``--before``, next to
the verdicts of another run's results folder, to see what changed).

    python scripts/verdict_table.py smoke-lab
    python scripts/verdict_table.py lab --before /tmp/old/build/results/lab

Reads ``build/results/<profile>/*.json`` (``experiments.comparison.record``). Columns: claim,
verdict, why, what decided it (each deciding part's estimate), units needed for 80% power.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sp_prm_lib.core.errors import SpPrmError
from sp_prm_lib.experiments.comparison import results_dir


def _entries(folder: Path) -> dict[str, dict]:
    out = {}
    for path in sorted(folder.glob("*.json")):
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SpPrmError(f"{path}: not a verdict record ({exc})") from None
        if not isinstance(entry, dict) or "verdict" not in entry:
            raise SpPrmError(f"{path}: not a verdict record (no verdict)")
        out[entry.get("id", path.stem)] = entry
    return out


def _decided_on(entry: dict) -> str:
    tests = entry.get("tests") or []
    parts = [f"{t['test'] + ': ' if t.get('test') else ''}{t.get('decided_on', '')}" for t in tests]
    if parts:
        return " | ".join(parts)
    est = entry.get("estimates") or {}
    rows = [dict(zip(est.get("columns", []), r, strict=False)) for r in est.get("data", [])]
    pooled = [r for r in rows if r.get("method") == "pooled"] or rows[-1:]
    return str(pooled[-1].get("estimate", "")) if pooled else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profile", help="the profile whose run filed the verdicts")
    parser.add_argument("--before", type=Path, help="another run's results folder, shown as the old verdict")
    args = parser.parse_args(argv)
    try:
        folder = results_dir(args.profile)
        if not folder.is_dir():
            raise SpPrmError(f"{folder}: no verdicts filed for profile {args.profile!r} (run its notebooks first)")
        if args.before and not args.before.is_dir():
            raise SpPrmError(f"{args.before}: no such results folder")
        now = _entries(folder)
        old = _entries(args.before) if args.before else {}
    except SpPrmError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for cid, e in now.items():
        line = f"{cid}: {e['verdict']}"
        if cid in old:
            line = f"{cid}: {old[cid]['verdict']} -> {e['verdict']} (before: {_decided_on(old[cid])})"
        needed = e.get("n_needed")
        print(line)
        print(f"    why: {e.get('why', '')}")
        print(f"    decided on: {_decided_on(e)}" + (f"; n for 80% power: {needed:,.0f}" if needed else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())

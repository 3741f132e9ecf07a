"""Run every ``bench/bench_*.py`` in turn, one at a time; each prints its own side-by-side ratios.

Each benchmark writes its record, ``bench/results/<name>.json`` (date, machine, exact command,
git commit, measurements with their targets), from which the book's performance page is
generated (``sp_prm_lib.report.performance``); its printed lines are kept in
``bench/results/<name>.txt``. Benchmarks run on one torch thread (``OMP_NUM_THREADS=1``)
unless the environment sets another count.

``--only NAME[,NAME]`` runs some of them (``prefix_scoring`` or ``bench_prefix_scoring``);
``--quick`` runs the slow ones in their shortened form (``QUICK``), which their records name.
Exit code 1 names the first benchmark that failed or wrote no record.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"

#: shortened runs of the slow benchmarks (the full ones take many minutes on a loaded 2-core CPU)
QUICK = {
    "bench_decoding": ["--max-new-tokens", "32", "--methods", "greedy,args,bon,cbs"],
    "bench_cross_tokenizer": ["--quick"],
    "bench_training": ["--pairs", "32"],
    "bench_judges": ["--pairs", "40"],
}


def _selected(only: str | None) -> list[Path]:
    benches = sorted((ROOT / "bench").glob("bench_*.py"))
    if not only:
        return benches
    wanted = {n if n.startswith("bench_") else f"bench_{n}" for n in only.split(",") if n.strip()}
    unknown = wanted - {b.stem for b in benches}
    if unknown:
        raise SystemExit(f"error: no benchmark named {', '.join(sorted(unknown))} in bench/")
    return [b for b in benches if b.stem in wanted]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=None, help="comma-separated benchmark names")
    parser.add_argument("--quick", action="store_true", help="shortened runs of the slow benchmarks")
    args = parser.parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    benches = _selected(args.only)
    for bench in benches:
        extra = QUICK.get(bench.stem, []) if args.quick else []
        print(f"== {bench.name} {' '.join(extra)}".rstrip(), flush=True)
        record = RESULTS / f"{bench.stem}.json"
        before = record.stat().st_mtime_ns if record.is_file() else None
        proc = subprocess.run(
            [sys.executable, str(bench.relative_to(ROOT)), *extra], cwd=ROOT, env=env, capture_output=True, text=True
        )
        sys.stdout.write(proc.stdout)
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr)
            print(f"error: benchmark {bench.name} failed (exit {proc.returncode})", file=sys.stderr)
            return 1
        (RESULTS / f"{bench.stem}.txt").write_text(proc.stdout)
        if not record.is_file() or record.stat().st_mtime_ns == before:
            print(f"error: benchmark {bench.name} wrote no record {record.relative_to(ROOT)}", file=sys.stderr)
            return 1
    print(f"bench: {len(benches)} benchmarks ran; records in {RESULTS.relative_to(ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())

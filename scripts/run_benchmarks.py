"""Run every ``bench/bench_*.py`` in turn; each prints its own side-by-side ratios.

Exit code 1 names the first benchmark that failed. Results (the printed
lines) are also written to ``bench/results/<name>.txt`` for the book's
performance page.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    benches = sorted((ROOT / "bench").glob("bench_*.py"))
    for bench in benches:
        print(f"== {bench.name}", flush=True)
        proc = subprocess.run([sys.executable, str(bench)], cwd=ROOT, capture_output=True, text=True)
        sys.stdout.write(proc.stdout)
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr)
            print(f"error: benchmark {bench.name} failed (exit {proc.returncode})", file=sys.stderr)
            return 1
        (results / f"{bench.stem}.txt").write_text(proc.stdout)
    print(f"bench: {len(benches)} benchmarks ran")
    return 0


if __name__ == "__main__":
    sys.exit(main())

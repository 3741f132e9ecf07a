"""Run the SP-PRM training-budget study of a profile and write its table (with where and when it ran).

    python scripts/budget_study.py --profile lab [--study configs/budget_study.yaml]

Under each budget SP-PRM and SC are trained once and cached (content-keyed,
resumable), so a re-run only scores; the table goes to
``results/budget_study/<profile>.json``, which the book's budget page is
generated from.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from pathlib import Path

from sp_prm_lib.config.profile import load_profile
from sp_prm_lib.config.studies import read_study
from sp_prm_lib.core.errors import SpPrmError
from sp_prm_lib.core.provenance import load_average, run_record

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default=os.environ.get("PROFILE", "lab"))
    parser.add_argument("--study", default=str(ROOT / "configs" / "budget_study.yaml"))
    parser.add_argument("--out", default=str(ROOT / "results" / "budget_study"))
    args = parser.parse_args()
    load_start = load_average()
    started = datetime.datetime.now(datetime.UTC)
    try:
        from sp_prm_lib.experiments.budget_study import run_budget_study, study_summary

        profile = load_profile(args.profile)
        budgets = read_study(args.study, profile.name, "budget")
        table = run_budget_study(profile, budgets)
        summary = study_summary(table)
    except SpPrmError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    command = f"python scripts/budget_study.py --profile {profile.name}"
    if Path(args.study).resolve() != (ROOT / "configs" / "budget_study.yaml").resolve():
        command += f" --study {args.study}"
    record = {
        "profile": profile.name,
        "labels": profile.data.labels,
        **run_record(ROOT, command, started, load_start),
        "prefix_tokens": list(profile.analysis.prefix_tokens),
        **summary,
        "rows": json.loads(table.to_json(orient="records")),
    }
    path = out / f"{profile.name}.json"
    path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(table.to_string(index=False))
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

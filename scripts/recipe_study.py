"""Run the reward-model recipe study of a profile and write its table (with where and when it ran).

    python scripts/recipe_study.py --profile tiny [--study configs/recipe_study.yaml]

Each recipe's ORM is trained once and cached (content-keyed, resumable), so a
re-run only scores; the table goes to ``results/recipe_study/<profile>.json``,
which the book's recipe page is generated from.
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
    parser.add_argument("--profile", default=os.environ.get("PROFILE", "tiny"))
    parser.add_argument("--study", default=str(ROOT / "configs" / "recipe_study.yaml"))
    parser.add_argument("--out", default=str(ROOT / "results" / "recipe_study"))
    args = parser.parse_args()
    load_start = load_average()
    started = datetime.datetime.now(datetime.UTC)
    try:
        from sp_prm_lib.experiments.recipe_study import run_recipe_study

        profile = load_profile(args.profile)
        recipes = read_study(args.study, profile.name, "recipe")
        table = run_recipe_study(profile, recipes)
    except SpPrmError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    command = f"python scripts/recipe_study.py --profile {profile.name}"
    if Path(args.study).resolve() != (ROOT / "configs" / "recipe_study.yaml").resolve():
        command += f" --study {args.study}"
    record = {
        "profile": profile.name,
        "labels": profile.data.labels,
        **run_record(ROOT, command, started, load_start),
        "rows": json.loads(table.to_json(orient="records")),
    }
    path = out / f"{profile.name}.json"
    path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(table.to_string(index=False))
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

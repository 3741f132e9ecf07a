"""How far each HP proxy is from human preference: judge agreement on full HH-RLHF eval pairs.

Each backend judges (chosen, rejected) of the tiny profile's held-out pairs in
both answer orders (``sp_prm_lib.judge.judge_agreement``); it agrees with the
human label when both orders prefer the chosen response. Printed per backend:
agreement with a 95% bootstrap CI, agreement among decided pairs, tie rate,
unparseable rate, order consistency and seconds.

Backends:
- ``local-lm``: SmolLM2-135M-Instruct (packaged, offline), verdict from the
  log-probabilities of "1" / "2" / "-1" after the Fig. 6 prompt;
- ``rm-proxy``: a reward model; ``--rm PATH`` (a local model folder, e.g. a
  trained ORM from the artifact cache) or, by default, SmolLM2's lower
  ``--rm-layers`` layers with a new, randomly initialised (UNTRAINED) score
  head, which is a chance-level baseline, not an HP proxy;
- ``api``: an OpenAI-compatible API, settings from SP_PRM_JUDGE_* (not run
  unless asked for; replies are cached on disk).

Examples: ``.venv/bin/python bench/bench_judges.py --pairs 100 --backends local-lm,rm-proxy``;
a trained ORM: ``... --backends rm-proxy --rm .cache/sp_prm/artifacts/rm-orm/<hash>/model --max-length 128``

Each backend's agreement is recorded in ``bench/results/bench_judges.json``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd
import torch

from sp_prm_lib.config.profile import ModelSpec, load_profile
from sp_prm_lib.experiments.pairs import preference_splits
from sp_prm_lib.judge import BACKENDS, judge_agreement, make_judge
from sp_prm_lib.notebook import quiet
from sp_prm_lib.scoring.reward_model import RewardModel

import _record

SMOLLM = "HuggingFaceTB/SmolLM2-135M-Instruct"


def build(backend: str, args) -> tuple[object, str]:
    """(judge, note) of one backend."""
    if backend == "local-lm":
        return make_judge(
            "local-lm", spec=ModelSpec(id=SMOLLM, source="package"), batch_size=args.batch_size
        ), f"{SMOLLM}, verdict-token log-probabilities"
    if backend == "rm-proxy":
        torch.manual_seed(args.seed)  # the new score head of an untrained backbone
        if args.rm:
            spec, note = ModelSpec(id=args.rm, source="local"), f"reward model at {args.rm}"
        else:
            spec = ModelSpec(id=SMOLLM, source="package", num_layers=args.rm_layers)
            note = f"UNTRAINED: {SMOLLM} lower {args.rm_layers} layers + random head (chance baseline)"
        rm = RewardModel.from_spec(
            spec, convention=args.convention, batch_size=args.batch_size, max_length=args.max_length
        )
        return make_judge("rm-proxy", rm=rm), note
    return make_judge("api"), "OpenAI-compatible API (SP_PRM_JUDGE_* settings)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=100, help="number of held-out HH-RLHF pairs")
    parser.add_argument("--backends", default="local-lm,rm-proxy", help=f"comma-separated, from {', '.join(BACKENDS)}")
    parser.add_argument("--rm", default=None, help="folder of a trained reward model for rm-proxy")
    parser.add_argument("--rm-layers", type=int, default=2)
    parser.add_argument(
        "--convention",
        default="closed",
        choices=["closed", "open"],
        help="formatting convention of the rm-proxy (as it was trained)",
    )
    parser.add_argument(
        "--max-length",
        type=int,
        default=None,
        help="rm-proxy max tokens (as it was trained; the tiny profile uses 128)",
    )
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--csv", default=None, help="also write the table here")
    args = parser.parse_args()
    quiet()
    pairs = preference_splits(load_profile("tiny"))["eval"].frame.head(args.pairs).reset_index(drop=True)
    rows = []
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        start = time.perf_counter()
        judge, note = build(backend, args)
        load = time.perf_counter() - start
        result = judge_agreement(judge, pairs, seed=args.seed)
        rows.append(
            {
                "backend": backend,
                **{k: v for k, v in result.items() if k != "judge"},
                "load_s": round(load, 1),
                "what": note,
            }
        )
    table = pd.DataFrame(rows)
    with pd.option_context(
        "display.width",
        200,
        "display.max_columns",
        20,
        "display.max_colwidth",
        90,
        "display.float_format",
        "{:.3f}".format,
    ):
        print(f"judge agreement with human labels, {len(pairs)} HH-RLHF eval pairs (tiny profile), both orders")
        print(table.drop(columns="what").to_string(index=False))
        for row in rows:
            print(f"  {row['backend']}: {row['what']}")
    if args.csv:
        table.to_csv(args.csv, index=False)
    measurements = [
        _record.value(
            f"{row['backend']} judge: agreement with the human label on {row['pairs']} HH-RLHF eval pairs, "
            f"both answer orders ({row['what']})",
            "agreement",
            row["agreement"],
            low=row["ci_low"],
            high=row["ci_high"],
            seconds=row["seconds"],
            note=f"Order consistency {row['order_consistency']:.3f}, tie rate {row['tie_rate']:.3f}, "
            f"unparseable {row['unparseable_rate']:.3f}; 95% bootstrap interval in brackets.",
        )
        for row in rows
    ]
    notes = [
        "Judge agreement is a quality figure, not a speed: it has no target in the design notes.",
        "Each pair is judged in both answer orders and counts as decided only when the two verdicts "
        "name the same answer; a judge that picks the same position in both orders (position bias) "
        "has order consistency 0, ties on every pair and agreement 0. The record's details also give "
        "a debiased agreement: the share of pairs whose verdict log-probability margin, taken over "
        "both orders, favours the labelled answer.",
    ]
    details = {"rows": [dict(row) for row in rows]}
    _record.write(Path(__file__).stem, "HP-proxy judges", measurements, notes=notes, details=details)


if __name__ == "__main__":
    main()

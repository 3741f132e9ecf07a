"""A reward model judging prefix texts: rows shared between texts that nest vs one row per text.

An HP judge is asked about the text of each prefix (notebooks 03 and 14, the probe), so a
reward-model judge (the gold lab's gold, the tiny track's rm-proxy) gets, per response, the
texts of its first 5, 10, 20, 30, 40 and 50 tokens and the whole response. Re-tokenized, those
texts are mostly prefixes of one another; ``RewardModel.score`` then reads each from the row of
the longest (``share_rows=True``, one forward per response) instead of running one row per text.
Reward model: SmolLM2-135M's lower ``--layers`` layers with a score head (the lab's gold has 6),
the tiny profile's held-out HH-RLHF pairs, both sides, 128-token window, closed convention.
Both ways run here, side by side; the max absolute difference of their scores is printed with
the ratio and recorded in ``bench/results/bench_judge_texts.json``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from sp_prm_lib.config.profile import ModelSpec, load_profile
from sp_prm_lib.evaluation.agreement import prefix_texts
from sp_prm_lib.experiments.pairs import preference_splits
from sp_prm_lib.notebook import quiet
from sp_prm_lib.scoring.reward_model import RewardModel, nest_inputs

import _record

TS = [5, 10, 20, 30, 40, 50]
TARGET = {
    "text": ">= 3x faster on the judge's prefix texts; max abs diff <= 1e-4 (fp32)",
    "ratio_at_least": 3,
    "max_abs_diff_at_most": 1e-4,
    "source": "this change's own target (issue 23: the lab's notebooks within the time budget)",
}


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=40)
    parser.add_argument("--layers", type=int, default=6)
    args = parser.parse_args()
    quiet()
    torch.manual_seed(0)
    spec = ModelSpec(id="HuggingFaceTB/SmolLM2-135M-Instruct", source="package", num_layers=args.layers)
    rm = RewardModel.from_spec(spec, convention="closed", max_length=128)
    pairs = preference_splits(load_profile("tiny"))["eval"].frame.head(args.pairs)
    prompts, texts = [], []
    for side in ("chosen", "rejected"):
        full = pairs[side].tolist()
        for prompt, row, whole in zip(pairs.prompt, prefix_texts(full, TS, "token", rm.tokenizer), full):
            for text in dict.fromkeys([*row, whole]):  # a judge asks about each distinct text once
                prompts.append(prompt)
                texts.append(text)
    shared, t_shared = _timed(lambda: rm.score(prompts, texts))
    alone, t_alone = _timed(lambda: rm.score(prompts, texts, share_rows=False))
    diff = (shared - alone).abs().max().item()
    rows = len(nest_inputs(rm.formatter.encode(prompts, texts))[0])
    print(
        f"judge texts: {len(texts)} prefix texts of {2 * len(pairs)} responses ({rows} rows when shared): "
        f"shared rows {t_shared:.2f}s, one row per text {t_alone:.2f}s, "
        f"ratio {t_alone / t_shared:.1f}x, max |diff| {diff:.1e}"
    )
    _record.write(
        Path(__file__).stem,
        "A reward-model judge on prefix texts",
        [
            _record.timing(
                f"Scoring the judge's prefix texts (t = {', '.join(map(str, TS))} and the whole response) of "
                f"{len(pairs)} held-out pairs, both sides ({len(texts)} texts), {args.layers}-layer SmolLM2 RM: "
                "rows shared between texts that nest vs one row per text",
                ("shared rows", t_shared),
                ("one row per text", t_alone),
                same={"max_abs_diff": diff},
                target=TARGET,
            )
        ],
    )


if __name__ == "__main__":
    main()

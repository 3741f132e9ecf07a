"""All-prefix scoring in one pass vs one forward per prefix (same RM, same pairs).

Reward model: SmolLM2-135M's lower 4 layers with a score head (the tiny
profile's ORM architecture); responses of 128 RM tokens (HH-RLHF eval
responses cut to their first 128 tokens); every prefix 1..128 scored.
Both strategies run in this process, side by side, for each convention;
the max absolute difference of their scores is printed with the ratio and
recorded in ``bench/results/bench_prefix_scoring.json``.
"""

import time
from pathlib import Path

import torch

from sp_prm_lib.config.profile import ModelSpec, load_profile
from sp_prm_lib.experiments.pairs import preference_splits
from sp_prm_lib.notebook import quiet
from sp_prm_lib.scoring.reward_model import RewardModel

import _record

N_RESPONSES, LENGTH = 2, 128
TARGET = {
    "text": ">= 30x faster at 128-token responses; max abs diff <= 1e-4 (fp32)",
    "ratio_at_least": 30,
    "max_abs_diff_at_most": 1e-4,
}


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> None:
    quiet()
    torch.manual_seed(0)
    spec = ModelSpec(id="HuggingFaceTB/SmolLM2-135M-Instruct", source="package", num_layers=4)
    pairs = preference_splits(load_profile("tiny"))["eval"].frame
    measurements = []
    for convention in ("open", "closed"):
        rm = RewardModel.from_spec(spec, convention=convention)
        lengths = rm.response_lengths(pairs.chosen.tolist())
        rows = [i for i, n in enumerate(lengths) if n >= LENGTH][:N_RESPONSES]
        prompts = pairs.prompt.iloc[rows].tolist()
        responses = [rm.tokenizer.decode(rm.formatter.response_ids([pairs.chosen.iloc[i]])[0][:LENGTH]) for i in rows]
        wanted = [list(range(1, rm.response_lengths([r])[0] + 1)) for r in responses]
        fast, t_fast = _timed(lambda: rm.score_prefixes(prompts, responses, wanted))
        rm.strategy, rm.batch_size = "per-prefix", 1
        slow, t_slow = _timed(lambda: rm.score_prefixes(prompts, responses, wanted))
        diff = max((a - b).abs().max().item() for a, b in zip(fast, slow))
        n = sum(len(w) for w in wanted)
        print(
            f"prefix scoring [{convention}]: {len(prompts)} responses x {LENGTH} tokens ({n} prefixes): "
            f"one pass {t_fast:.2f}s, one forward per prefix {t_slow:.2f}s, "
            f"ratio {t_slow / t_fast:.1f}x, max |diff| {diff:.1e}"
        )
        measurements.append(
            _record.timing(
                f"All-prefix reward scoring, `{convention}` convention: one pass vs one forward per prefix "
                f"(4-layer SmolLM2 RM, {len(prompts)} responses x {LENGTH} tokens = {n} prefixes)",
                ("one pass", t_fast),
                ("one forward per prefix", t_slow),
                same={"max_abs_diff": diff},
                target=TARGET,
            )
        )
    _record.write(Path(__file__).stem, "All-prefix reward scoring", measurements)


if __name__ == "__main__":
    main()

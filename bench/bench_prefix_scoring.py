"""All-prefix scoring in one pass vs one forward per prefix (same RM, same pairs).

Reward model: SmolLM2-135M's lower 4 layers with a score head (the tiny
profile's ORM architecture); responses of 128 RM tokens (HH-RLHF eval
responses cut to their first 128 tokens); every prefix 1..128 scored.
Both strategies run in this process, side by side, for each convention;
the max absolute difference of their scores is printed with the ratio.
"""

import time

import torch

from sp_prm_lib.config.profile import ModelSpec, load_profile
from sp_prm_lib.experiments.pairs import preference_splits
from sp_prm_lib.notebook import quiet
from sp_prm_lib.scoring.reward_model import RewardModel

N_RESPONSES, LENGTH = 2, 128


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> None:
    quiet()
    torch.manual_seed(0)
    spec = ModelSpec(id="HuggingFaceTB/SmolLM2-135M-Instruct", source="package", num_layers=4)
    pairs = preference_splits(load_profile("tiny"))["eval"].frame
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


if __name__ == "__main__":
    main()

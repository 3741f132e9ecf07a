"""Greedy decoding of the policy (no reward guidance); sampling is in ``beam``.

The response is scored once at the end when a scorer is given, so its
reward can be compared with the guided methods'.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from sp_prm_lib.config.decoding import GreedyConfig
from sp_prm_lib.decoding.common import Generation, prepare
from sp_prm_lib.decoding.policy import PolicyState, suppress_eos
from sp_prm_lib.decoding.scorers import check_finite, text_rewards


@torch.inference_mode()
def greedy(
    policy, scorer, prompts: Sequence[str], config: GreedyConfig | None = None, *, indices: Sequence[int] | None = None
) -> list[Generation]:
    """Argmax decoding with the policy's KV cache; finished prompts leave the batch."""
    cfg = config or GreedyConfig()
    batch = prepare(policy, scorer, prompts, cfg, indices, needs_scorer=False)
    pol = batch.policy
    state = PolicyState.prefill(pol, batch.prompt_ids)
    row_owner = list(range(len(batch.prompts)))
    row_tokens: list[list[int]] = [[] for _ in row_owner]
    done: list[tuple[list[int], str] | None] = [None] * len(row_owner)
    for t in range(cfg.max_new_tokens):
        chosen = suppress_eos(state.logits.cpu(), pol.eos_ids, t, cfg.min_new_tokens).argmax(-1)
        keep = []
        for r, b in enumerate(row_owner):
            token = int(chosen[r])
            if token in pol.eos_ids:
                done[b] = (row_tokens[r], "eos")
            elif t + 1 == cfg.max_new_tokens:
                done[b] = (row_tokens[r] + [token], "length")
            else:
                keep.append(r)
        if not keep:
            break
        state.select(keep)
        state.step(chosen[keep])
        row_tokens = [row_tokens[r] + [int(chosen[r])] for r in keep]
        row_owner = [row_owner[r] for r in keep]
    rewards = [None] * len(done)
    if batch.scorer is not None:
        texts = batch.policy.decode_many([tokens for tokens, _ in done])
        scores = text_rewards(batch.scorer, batch.prompts, texts)
        check_finite(scores, list(range(len(done))), batch.prompts, batch.indices, batch.scorer)
        rewards = scores.tolist()
    return [batch.generation(b, tokens, rewards[b], finish) for b, (tokens, finish) in enumerate(done)]

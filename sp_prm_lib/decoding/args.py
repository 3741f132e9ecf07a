"""ARGS-greedy (paper Algorithm 2, appendix C.5).

Each step, for every unfinished prompt: the ``k`` most likely next tokens
``v`` of the policy get ``score(v) = logit(v) + w * r(x, y + v)`` and the
argmax is appended (paper: w=1.5, k=30). An EOS candidate is scored as the
response as it stands (finished). The reward of the chosen candidate is the
reward of the response so far, so with ``guidance="text"`` the final reward
needs no extra call (``token``: the returned texts are re-scored once).

The k candidate rewards of all prompts come from one batched call per step:
with the reward model's KV cache (k one-token continuations, plus closing
tokens in the ``closed`` convention, over the cached prefix) when the RM
shares the policy's vocabulary (``guidance="text"``: candidates whose ids do
not round-trip are re-scored from their text); with the RM's cache over its
own tokens of the decoded text when it does not (only the RM tokens after the
cached prefix run; ``retokenize``); else by scoring the k decoded texts.
``naive.naive_args`` is the loop without any cache, kept for tests and
benchmarks.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from sp_prm_lib.config.decoding import ArgsConfig
from sp_prm_lib.decoding.common import Generation, prepare
from sp_prm_lib.decoding.policy import PolicyState, suppress_eos
from sp_prm_lib.decoding.scorers import candidate_scorer, check_finite


def args_candidates(logits: torch.Tensor, eos: torch.Tensor, k: int, pad: int):
    """(values, token ids, blocks (R, k, 1), lengths (R, k)) of the top-k candidates;
    an EOS candidate is an empty block (the response as it stands)."""
    vals, idx = logits.topk(min(k, logits.shape[-1]), dim=-1)
    is_eos = torch.isin(idx, eos)
    blocks = torch.where(is_eos, pad, idx)[..., None]
    return vals, idx, blocks, (~is_eos).long()


@torch.inference_mode()
def args_greedy(
    policy, scorer, prompts: Sequence[str], config: ArgsConfig | None = None, *, indices: Sequence[int] | None = None
) -> list[Generation]:
    """ARGS-greedy over a batch of prompts."""
    cfg = config or ArgsConfig()
    batch = prepare(policy, scorer, prompts, cfg, indices, needs_scorer=True)
    pol = batch.policy
    eos = torch.tensor(sorted(pol.eos_ids), dtype=torch.long)
    state = PolicyState.prefill(pol, batch.prompt_ids)
    cands = candidate_scorer(batch.scorer, pol, batch.prompts, cfg.max_new_tokens, guidance=cfg.guidance)
    row_owner = list(range(len(batch.prompts)))
    row_tokens: list[list[int]] = [[] for _ in row_owner]
    results: list[Generation | None] = [None] * len(row_owner)

    for t in range(cfg.max_new_tokens):
        logits = suppress_eos(state.logits.cpu(), pol.eos_ids, t, cfg.min_new_tokens) / cfg.temperature
        vals, idx, blocks, lengths = args_candidates(logits, eos, cfg.k, pol.pad_id)
        rewards = cands.score(row_tokens, blocks, lengths)
        check_finite(rewards, row_owner, batch.prompts, batch.indices, batch.scorer)
        choice = (vals + cfg.w * rewards).argmax(-1, keepdim=True)
        chosen = idx.gather(-1, choice)[:, 0]
        chosen_reward = rewards.gather(-1, choice)[:, 0]
        keep = []
        for r, b in enumerate(row_owner):
            token = int(chosen[r])
            if token in pol.eos_ids:
                results[b] = batch.generation(b, row_tokens[r], chosen_reward[r], "eos")
            elif t + 1 == cfg.max_new_tokens:
                results[b] = batch.generation(b, row_tokens[r] + [token], chosen_reward[r], "length")
            else:
                keep.append(r)
        if not keep:
            break
        state.select(keep)
        state.step(chosen[keep])
        cands.advance(keep, chosen[keep][:, None])
        row_tokens = [row_tokens[r] + [int(chosen[r])] for r in keep]
        row_owner = [row_owner[r] for r in keep]
    return batch.finish(results, text_exact=cands.text_exact)

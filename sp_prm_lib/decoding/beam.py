"""The chunk-level beam driver (paper Algorithm 1 and 3) and its presets.

Per prompt: a set H of at most W hypotheses, starting as W copies of the
empty response. Each round, every unfinished hypothesis gets K successor
chunks of L tokens sampled from the policy (a chunk ends early at EOS); the
pool of finished hypotheses already in H plus all new candidates is scored
and the W best form the new H. A hypothesis finishes at EOS or at
``max_new_tokens``. When every member of H is finished, the best is returned.

Presets: CBS (W=8, K=8, L=30), TBS (L=1), BoN-N (W=1, K=N, L=whole),
sampling (W=1, K=1, L=whole). Unlike the released code, a finished
hypothesis enters the pool once (not K padded copies) and is never expanded.

Batched: all prompts advance in lock-step; the policy's prompt cache is
computed once and fanned out with ``batch_select_indices`` (BoN is then one
batched sampling pass over N rows that share the prompt's cache). Chunks are
scored in one call per round, with the reward model's KV cache when it
shares the policy's vocabulary (``scorers.RMSession``; ``guidance`` in
``config.decoding``) or over its own tokens of the decoded text when it does
not (``retokenize``). The reported reward is the reward of the returned text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from sp_prm_lib.config.decoding import BeamConfig, BoNConfig, SampleConfig, TBSConfig
from sp_prm_lib.decoding.common import Generation, prepare
from sp_prm_lib.decoding.policy import PolicyState, sample_tokens, suppress_eos
from sp_prm_lib.decoding.scorers import candidate_scorer, check_finite


@dataclass
class _Hyp:
    score: float
    tokens: list[int]
    finish: str | None  # None: unfinished
    source: int = -1  # expanded row it came from (unfinished only)


def _groups(owner: Sequence[int]) -> list[tuple[int, int, int]]:
    """(prompt, start, end) of contiguous runs of rows owned by one prompt."""
    out, start = [], 0
    for i in range(1, len(owner) + 1):
        if i == len(owner) or owner[i] != owner[start]:
            out.append((owner[start], start, i))
            start = i
    return out


@torch.inference_mode()
def beam_search(
    policy, scorer, prompts: Sequence[str], config: BeamConfig | None = None, *, indices: Sequence[int] | None = None
) -> list[Generation]:
    """Chunk-level beam search over a batch of prompts (see the module docstring)."""
    cfg = (config or BeamConfig()).beam()
    needs = cfg.width * cfg.successors > 1
    batch = prepare(policy, scorer, prompts, cfg, indices, needs_scorer=needs)
    pol, gens = batch.policy, batch.generators
    eos = torch.tensor(sorted(pol.eos_ids), dtype=torch.long)
    n_prompts = len(batch.prompts)
    chunk_len = cfg.chunk_length or cfg.max_new_tokens

    state = PolicyState.prefill(pol, batch.prompt_ids)
    cands = (
        candidate_scorer(batch.scorer, pol, batch.prompts, cfg.max_new_tokens, guidance=cfg.guidance)
        if batch.scorer is not None
        else None
    )
    row_owner = list(range(n_prompts))  # kept sorted by prompt
    row_tokens: list[list[int]] = [[] for _ in range(n_prompts)]
    carried: list[list[_Hyp]] = [[] for _ in range(n_prompts)]  # finished members of H
    results: list[Generation | None] = [None] * n_prompts
    generated, first = 0, True

    while row_owner:
        length = min(chunk_len, cfg.max_new_tokens - generated)
        fan = cfg.width * cfg.successors if first else cfg.successors
        parent = [r for r in range(len(row_owner)) for _ in range(fan)]
        owner = [row_owner[r] for r in parent]
        n_rows = len(parent)
        chunk = torch.full((n_rows, length), pol.pad_id, dtype=torch.long)
        used = torch.full((n_rows,), length, dtype=torch.long)  # tokens before EOS
        ended = torch.zeros(n_rows, dtype=torch.bool)
        if length > 1:
            state.select(parent)
        groups = _groups(owner)
        for s in range(length):
            logits = state.logits if length > 1 else state.logits[torch.tensor(parent)]
            logits = suppress_eos(logits.cpu(), pol.eos_ids, generated + s, cfg.min_new_tokens)
            tokens = torch.full((n_rows,), pol.pad_id, dtype=torch.long)
            for b, lo, hi in groups:
                if ended[lo:hi].all():
                    continue  # this prompt's chunk is over: draw nothing more for it
                tokens[lo:hi] = sample_tokens(logits[lo:hi], gens[b], cfg.temperature, cfg.top_k)
            hit = torch.isin(tokens, eos) & ~ended
            used = torch.where(hit, torch.full_like(used, s), used)
            ended |= hit
            chunk[:, s] = torch.where(ended, pol.pad_id, tokens)
            if ended.all():
                break
            if s < length - 1:
                state.step(chunk[:, s], active=~ended)

        if cands is not None:
            rewards = cands.score(
                row_tokens, chunk.view(len(row_owner), fan, length), used.view(len(row_owner), fan)
            ).reshape(-1)
            check_finite(rewards.view(len(row_owner), fan), row_owner, batch.prompts, batch.indices, batch.scorer)
        else:
            rewards = torch.zeros(n_rows)

        at_limit = generated + length >= cfg.max_new_tokens
        next_src: list[int] = []
        for b, lo, hi in groups:
            pool = list(carried[b])
            for i in range(lo, hi):
                tokens_i = row_tokens[parent[i]] + chunk[i, : int(used[i])].tolist()
                finish = "eos" if ended[i] else ("length" if at_limit else None)
                pool.append(_Hyp(float(rewards[i]), tokens_i, finish, i))
            order = sorted(range(len(pool)), key=lambda j: -pool[j].score)  # stable on ties
            winners = [pool[j] for j in order[: cfg.width]]
            carried[b] = [h for h in winners if h.finish is not None]
            alive = [h for h in winners if h.finish is None]
            if not alive:
                best = winners[0]
                results[b] = batch.generation(b, best.tokens, best.score if cands is not None else None, best.finish)
                continue
            next_src.extend(h.source for h in alive)

        if not next_src:
            break
        src = torch.tensor(next_src)
        last = chunk[src, length - 1]
        if length > 1:
            state.select(src)
        else:
            state.select([parent[i] for i in next_src])
        state.step(last)
        if cands is not None:
            cands.advance([parent[i] for i in next_src], chunk[src])
        row_tokens = [row_tokens[parent[i]] + chunk[i].tolist() for i in next_src]
        row_owner = [owner[i] for i in next_src]
        generated += length
        first = False
    return batch.finish(results, text_exact=cands is None or cands.text_exact)


def cbs(policy, scorer, prompts, config: BeamConfig | None = None, **kw) -> list[Generation]:
    """Chunk-level beam search (paper: W=8, K=8, L=30)."""
    return beam_search(policy, scorer, prompts, config or BeamConfig(), **kw)


def tbs(policy, scorer, prompts, config: BeamConfig | None = None, **kw) -> list[Generation]:
    """Token-level beam search: CBS with L=1."""
    return beam_search(policy, scorer, prompts, config or TBSConfig(), **kw)


def best_of_n(policy, scorer, prompts, config: BoNConfig | None = None, **kw) -> list[Generation]:
    """Best-of-N: N sampled responses sharing the prompt's cache, the best by reward."""
    return beam_search(policy, scorer, prompts, (config or BoNConfig()).beam(), **kw)


def sample(policy, scorer, prompts, config: SampleConfig | None = None, **kw) -> list[Generation]:
    """Plain sampling (CBS with W=K=1, L=whole); scored once when a scorer is given."""
    cfg = config or SampleConfig()
    beam = BeamConfig(
        width=1,
        successors=1,
        chunk_length=None,
        temperature=cfg.temperature,
        top_k=cfg.top_k,
        max_new_tokens=cfg.max_new_tokens,
        min_new_tokens=cfg.min_new_tokens,
        seed=cfg.seed,
    )
    return beam_search(policy, scorer, prompts, beam, **kw)

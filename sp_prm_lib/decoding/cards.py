"""CARDS: cascade reward sampling (paper Algorithm 4, appendix C.5).

Per prompt, repeat until EOS or ``max_new_tokens``: sample a segment from
the policy (top-k at temperature 0.7) that ends, once it has ``min_segment``
tokens, where the next-token entropy reaches ``tau_u`` (or at
``max_segment`` tokens, EOS or the length limit); score prefix + segment;
accept it against a threshold (``CardsConfig``), else resample. After
``max_rejections`` rejections in a row the best candidate seen since the
last accept is taken (the paper's code: 10; original CARDS: 20).

Batched in rounds: every unfinished prompt samples one candidate segment per
round, lock-step; a prompt whose segment ended idles (masked-out holes in the
policy cache) until the round ends. A rejected segment's positions are
masked out rather than recomputed, so a later forced accept of an earlier
candidate only unmasks its positions. One scoring call per round.

Calibration (``tau_u`` / ``reward_threshold`` = ``"auto"``, the defaults;
``CardsConfig``): ``calibrate_cards`` samples one response per calibration
prompt and sets the entropy threshold to a quantile of the policy's own
next-token entropies and the reward threshold to a quantile of the guiding
RM's rewards of those responses. Each result's ``stats``: ``segments``
(candidates drawn), ``rejected``, ``forced``, ``accepted`` (by the test),
``acceptance`` (accepted / segments), ``segment_tokens`` (mean length of the
segments the response is made of), ``tau_u`` and ``reward_threshold`` (the
values used; None when not used).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from sp_prm_lib.config.decoding import CardsConfig
from sp_prm_lib.decoding.common import Generation, prepare
from sp_prm_lib.decoding.policy import PolicyState, entropy, make_generators, sample_tokens, suppress_eos
from sp_prm_lib.decoding.scorers import candidate_scorer, check_finite, text_rewards

#: the random stream (``policy.stream_seed``) calibration samples from
CALIBRATION_STREAM = 1


@torch.inference_mode()
def calibration_samples(policy, prompts: Sequence[str], config: CardsConfig, indices: Sequence[int] | None = None):
    """(token ids of one sampled response per prompt, the policy's next-token entropies
    (nats, raw logits) at every step of them): plain sampling with CARDS's
    ``temperature`` / ``top_k``, from the calibration stream of each prompt."""
    cfg = config
    batch = prepare(policy, None, prompts, cfg, indices, needs_scorer=False)
    pol = batch.policy
    gens = make_generators(cfg.seed, batch.indices, stream=CALIBRATION_STREAM)
    state = PolicyState.prefill(pol, batch.prompt_ids)
    owner = list(range(len(batch.prompts)))
    tokens: list[list[int]] = [[] for _ in owner]
    entropies: list[float] = []
    for t in range(cfg.max_new_tokens):
        logits = state.logits.cpu()
        entropies.extend(entropy(logits).tolist())
        logits = suppress_eos(logits, pol.eos_ids, t, cfg.min_new_tokens)
        keep = []
        for r, b in enumerate(owner):
            token = int(sample_tokens(logits[r : r + 1], gens[b], cfg.temperature, cfg.top_k)[0])
            if token in pol.eos_ids:
                continue
            tokens[b].append(token)
            keep.append(r)
        if not keep or t + 1 == cfg.max_new_tokens:
            break
        state.select(keep)
        state.step(torch.tensor([tokens[owner[r]][-1] for r in keep], dtype=torch.long))
        owner = [owner[r] for r in keep]
    return tokens, entropies


def calibrate_cards(
    policy, scorer, prompts: Sequence[str], config: CardsConfig | None = None, *, indices: Sequence[int] | None = None
) -> CardsConfig:
    """``config`` with its ``"auto"`` thresholds set from the first ``calibration_prompts``
    prompts (see ``CardsConfig``); a config without ``"auto"`` comes back as is.

    ``tau_u`` = the ``tau_quantile`` quantile of the policy's next-token entropies
    along one sampled response per prompt; ``reward_threshold`` (``threshold:
    schedule`` only) = the ``reward_quantile`` quantile of the scorer's rewards of
    those responses. Deterministic given the seed, the prompts and the models.
    """
    cfg = config or CardsConfig()
    if not cfg.needs_calibration:
        return cfg
    prompts = list(prompts)
    n = min(cfg.calibration_prompts, len(prompts))
    indices = list(range(len(prompts))) if indices is None else [int(i) for i in indices]
    tokens, entropies = calibration_samples(policy, prompts[:n], cfg, indices[:n])
    values = {}
    if cfg.calibrates_tau:
        values["tau_u"] = round(float(np.quantile(entropies, cfg.tau_quantile)), 4)
    if cfg.calibrates_reward:
        batch = prepare(policy, scorer, prompts[:n], cfg, indices[:n], needs_scorer=True)
        texts = batch.policy.decode_many(tokens)
        rewards = text_rewards(batch.scorer, batch.prompts, texts)
        check_finite(rewards, list(range(n)), batch.prompts, batch.indices, batch.scorer)
        values["reward_threshold"] = round(float(np.quantile(rewards.numpy(), cfg.reward_quantile)), 4)
    return dataclasses.replace(cfg, **values)


@dataclass
class _Candidate:
    tokens: list[int]
    eos: bool
    reward: float
    start: int  # first cache column of its tokens
    logits: torch.Tensor | None  # next-token logits after it (None after EOS)


@dataclass
class _Row:
    owner: int
    tokens: list[int]
    reward: float  # reward of the accepted prefix
    best: _Candidate | None = None
    rejections: int = 0
    segments: int = 0
    rejected: int = 0
    forced: int = 0


def segment_stats(row, used: dict) -> dict:
    """A finished row's counters: candidates drawn, rejected, forced and accepted; the
    acceptance rate; the mean length of the kept segments; the thresholds used."""
    accepted = row.segments - row.rejected - row.forced
    kept = accepted + row.forced
    return {
        "segments": row.segments,
        "rejected": row.rejected,
        "forced": row.forced,
        "accepted": accepted,
        "acceptance": round(accepted / row.segments, 4) if row.segments else None,
        "segment_tokens": round(len(row.tokens) / kept, 4) if kept else None,
        **used,
    }


def _accept(cfg: CardsConfig, reward: float, threshold: float, generator: torch.Generator) -> bool:
    if cfg.acceptance == "hard":
        return reward >= threshold
    u = float(torch.rand((), generator=generator, dtype=torch.float64))
    return u < min(1.0, math.exp(min((reward - threshold) / cfg.beta, 50.0)))


@torch.inference_mode()
def cards(
    policy, scorer, prompts: Sequence[str], config: CardsConfig | None = None, *, indices: Sequence[int] | None = None
) -> list[Generation]:
    """CARDS over a batch of prompts (``"auto"`` thresholds: calibrated on these prompts first)."""
    cfg = config or CardsConfig()
    batch = prepare(policy, scorer, prompts, cfg, indices, needs_scorer=True)
    if cfg.needs_calibration:
        cfg = calibrate_cards(batch.policy, batch.scorer, batch.prompts, cfg, indices=batch.indices)
    pol, gens = batch.policy, batch.generators
    eos = torch.tensor(sorted(pol.eos_ids), dtype=torch.long)
    eos_list = sorted(pol.eos_ids)
    n_prompts = len(batch.prompts)
    state = PolicyState.prefill(pol, batch.prompt_ids)
    cands = candidate_scorer(batch.scorer, pol, batch.prompts, cfg.max_new_tokens, guidance=cfg.guidance)
    r_empty = cands.prefix_rewards([[] for _ in range(n_prompts)])
    check_finite(r_empty, list(range(n_prompts)), batch.prompts, batch.indices, batch.scorer)
    schedule = cfg.threshold == "schedule"
    reward0 = (1 - cfg.alpha) * r_empty + cfg.alpha * cfg.reward_threshold if schedule else None
    used = {"tau_u": float(cfg.tau_u), "reward_threshold": float(cfg.reward_threshold) if schedule else None}
    rows = [_Row(b, [], float(r_empty[b])) for b in range(n_prompts)]
    results: list[Generation | None] = [None] * n_prompts

    while rows:
        n = len(rows)
        start = state.mask.shape[1]
        saved_logits, saved_pos = state.logits.clone(), state.next_pos.clone()
        segs: list[list[int]] = [[] for _ in range(n)]
        ended_eos = [False] * n
        live = torch.ones(n, dtype=torch.bool)
        for r in range(n):  # no room left (cannot happen for an unfinished row, kept as a guard)
            live[r] = len(rows[r].tokens) < cfg.max_new_tokens
        s = 0
        while live.any():
            logits = state.logits.cpu()
            if s >= cfg.min_segment:
                live &= entropy(logits) < cfg.tau_u
                if not live.any():
                    break
            tokens = torch.full((n,), pol.pad_id, dtype=torch.long)
            for r in live.nonzero()[:, 0].tolist():
                row_logits = logits[r : r + 1]
                if len(rows[r].tokens) + s < cfg.min_new_tokens:
                    row_logits = row_logits.clone()
                    row_logits[:, eos_list] = float("-inf")
                tokens[r] = sample_tokens(row_logits, gens[rows[r].owner], cfg.temperature, cfg.top_k)[0]
            hit = torch.isin(tokens, eos) & live
            for r in hit.nonzero()[:, 0].tolist():
                ended_eos[r] = True
            live &= ~hit
            if not live.any():
                break
            for r in live.nonzero()[:, 0].tolist():
                segs[r].append(int(tokens[r]))
            state.step(torch.where(live, tokens, pol.pad_id), active=live.clone())
            s += 1
            for r in range(n):
                if live[r] and (
                    len(segs[r]) >= cfg.max_segment or len(rows[r].tokens) + len(segs[r]) >= cfg.max_new_tokens
                ):
                    live[r] = False

        width = max(len(g) for g in segs)
        blocks = torch.full((n, 1, width), pol.pad_id, dtype=torch.long)
        for r, g in enumerate(segs):
            blocks[r, 0, : len(g)] = torch.tensor(g, dtype=torch.long)
        lengths = torch.tensor([[len(g)] for g in segs], dtype=torch.long)
        rewards = cands.score([row.tokens for row in rows], blocks, lengths)[:, 0]
        check_finite(rewards, [row.owner for row in rows], batch.prompts, batch.indices, batch.scorer)

        keep, taken = [], []  # rows going on; (segment, eos) each row takes this round
        for r, row in enumerate(rows):
            reward = float(rewards[r])
            current = _Candidate(
                segs[r], ended_eos[r], reward, start, None if ended_eos[r] else state.logits[r].clone()
            )
            if row.best is None or reward > row.best.reward:
                row.best = current
            row.segments += 1
            total = len(row.tokens) + len(segs[r])
            if schedule:
                r0 = float(reward0[row.owner])
                threshold = min(r0 + total * (cfg.reward_threshold - r0) / cfg.max_new_tokens, cfg.reward_threshold)
            else:
                threshold = row.reward
            if row.rejections >= cfg.max_rejections:
                chosen = row.best
                row.forced += 1
            elif _accept(cfg, reward, threshold, gens[row.owner]):
                chosen = current
            else:
                chosen = None
                row.rejections += 1
                row.rejected += 1
            if chosen is not current:  # drop this round's positions
                state.mask[r, start:] = 0
                state.logits[r] = saved_logits[r]
                state.next_pos[r] = saved_pos[r]
            if chosen is None:
                keep.append(r)
                taken.append([])
                continue
            if chosen is not current:  # an earlier candidate: unmask its positions
                state.mask[r, chosen.start : chosen.start + len(chosen.tokens)] = 1
                state.next_pos[r] = saved_pos[r] + len(chosen.tokens)
                if chosen.logits is not None:
                    state.logits[r] = chosen.logits
            row.tokens = row.tokens + chosen.tokens
            row.reward = chosen.reward
            row.best, row.rejections = None, 0
            finish = "eos" if chosen.eos else ("length" if len(row.tokens) >= cfg.max_new_tokens else None)
            if finish is not None:
                results[row.owner] = batch.generation(
                    row.owner, row.tokens, chosen.reward, finish, **segment_stats(row, used)
                )
                continue
            keep.append(r)
            taken.append(chosen.tokens)

        if not keep:
            break
        state.select(keep)
        width = max((len(t) for t in taken), default=0)
        blocks = torch.full((len(keep), width), pol.pad_id, dtype=torch.long)
        for i, t in enumerate(taken):
            blocks[i, : len(t)] = torch.tensor(t, dtype=torch.long)
        cands.advance(keep, blocks, torch.tensor([len(t) for t in taken], dtype=torch.long))
        rows = [rows[r] for r in keep]
    return batch.finish(results, text_exact=cands.text_exact)

"""Naive reference loops: the same algorithms without caches or batching.

They exist to check the fast decoders (tests: same tokens under a fixed
seed) and to measure them (``bench/bench_decoding.py``). One prompt at a
time; rewards re-scored from scratch for every candidate:

- ``rescore="text"``: decode each candidate and score the text (what the
  released code does);
- ``rescore="tokens"``: score ``context + response tokens`` with a full RM
  forward (the same token ids the RM-cache path sees, without the cache).

``rescore="text"`` is what the fast decoders compute with ``guidance="text"``,
``"tokens"`` what they compute with ``guidance="token"`` (a causal RM that
shares the policy's vocabulary). As there, the reported reward is the reward
of the returned text (re-scored once after a ``"tokens"`` loop).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from sp_prm_lib.config.decoding import ArgsConfig, BeamConfig
from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.decoding.common import Generation, prepare
from sp_prm_lib.decoding.policy import new_cache, sample_tokens, suppress_eos
from sp_prm_lib.decoding.scorers import RewardScorer, text_rewards
from sp_prm_lib.scoring.reward_model import forward_rewards, pack_each


@torch.inference_mode()
def full_logits(policy, prompt_ids: list[int], rows: Sequence[Sequence[int]]) -> torch.Tensor:
    """Next-token logits of ``prompt + row`` for rows of one length, recomputed from scratch."""
    ids = torch.tensor([list(prompt_ids) + list(r) for r in rows], dtype=torch.long, device=policy.device)
    return policy.model(input_ids=ids).logits[:, -1].float().cpu()


@torch.inference_mode()
def rescore(scorer, policy, prompt: str, rows: Sequence[Sequence[int]], mode: str) -> torch.Tensor:
    """Rewards of ``prompt`` + each token row, recomputed from scratch."""
    if mode == "text":
        return text_rewards(scorer, [prompt] * len(rows), policy.decode_many(rows))
    if mode != "tokens" or not isinstance(scorer, RewardScorer):
        raise ConfigError(f"rescore={mode!r} needs 'text', or 'tokens' with a RewardScorer")
    rm = scorer.rm
    scorer.stats.calls += 1
    scorer.stats.scored += len(rows)
    context, closing = rm.formatter.context_ids(prompt), rm.formatter.closing
    encoded = [rm.formatter.fit(context, list(r), closing) for r in rows]
    packed, _ = pack_each(encoded, [[len(r)] for r in rows], rm.tokenizer.pad_token_id, "right")
    return forward_rewards(rm.model, packed).cpu()[:, 0]


@torch.inference_mode()
def naive_args(
    policy,
    scorer,
    prompts: Sequence[str],
    config: ArgsConfig | None = None,
    *,
    rescore_mode: str = "text",
    policy_cache: bool = False,
    indices: Sequence[int] | None = None,
) -> list[Generation]:
    """ARGS-greedy one prompt at a time, re-scoring all k candidates in full each step.

    ``policy_cache``: keep the policy's own KV cache (as the released code
    does) so that only the reward side is naive; else recompute it too.
    """
    cfg = config or ArgsConfig()
    batch = prepare(policy, scorer, prompts, cfg, indices, needs_scorer=True)
    pol = batch.policy
    out = []
    for b, prompt in enumerate(batch.prompts):
        tokens: list[int] = []
        cache, logits = None, None
        if policy_cache:
            cache = new_cache(pol.model)
            ids = torch.tensor([batch.prompt_ids[b]], device=pol.device)
            logits = pol.model(input_ids=ids, past_key_values=cache, use_cache=True).logits[:, -1].float().cpu()
        result = None
        for t in range(cfg.max_new_tokens):
            if not policy_cache:
                logits = full_logits(pol, batch.prompt_ids[b], [tokens])
            scaled = suppress_eos(logits, pol.eos_ids, t, cfg.min_new_tokens) / cfg.temperature
            vals, idx = scaled.topk(min(cfg.k, scaled.shape[-1]), dim=-1)
            rows = [tokens if int(v) in pol.eos_ids else tokens + [int(v)] for v in idx[0]]
            rewards = rescore(batch.scorer, pol, prompt, rows, rescore_mode)
            j = int((vals[0] + cfg.w * rewards).argmax())
            token = int(idx[0, j])
            if token in pol.eos_ids:
                result = batch.generation(b, tokens, rewards[j], "eos")
                break
            tokens = tokens + [token]
            if t + 1 == cfg.max_new_tokens:
                result = batch.generation(b, tokens, rewards[j], "length")
                break
            if policy_cache:
                step = torch.tensor([[token]], device=pol.device)
                logits = pol.model(input_ids=step, past_key_values=cache, use_cache=True).logits[:, -1].float().cpu()
        out.append(result)
    return batch.finish(out, text_exact=rescore_mode == "text")


@torch.inference_mode()
def naive_beam_search(
    policy,
    scorer,
    prompts: Sequence[str],
    config: BeamConfig,
    *,
    rescore_mode: str = "text",
    indices: Sequence[int] | None = None,
) -> list[Generation]:
    """The chunk-level beam driver one prompt at a time, no caches: every token's
    logits recomputed from the full sequence, every candidate re-scored in full.
    Draws random numbers exactly as ``beam.beam_search`` does."""
    cfg = config.beam()
    batch = prepare(policy, scorer, prompts, cfg, indices, needs_scorer=cfg.width * cfg.successors > 1)
    pol = batch.policy
    chunk_len = cfg.chunk_length or cfg.max_new_tokens
    out = []
    for b, prompt in enumerate(batch.prompts):
        gen = batch.generators[b]
        beams: list[list[int]] = [[]]
        carried: list[tuple[float, list[int], str]] = []
        generated, first, result = 0, True, None
        while result is None:
            length = min(chunk_len, cfg.max_new_tokens - generated)
            fan = cfg.width * cfg.successors if first else cfg.successors
            rows = [list(beam) for beam in beams for _ in range(fan)]
            base = generated
            used = [None] * len(rows)  # tokens of the chunk before EOS (None: no EOS)
            for s in range(length):
                if all(u is not None for u in used):
                    break
                logits = full_logits(pol, batch.prompt_ids[b], rows)  # ended rows: ignored
                logits = suppress_eos(logits, pol.eos_ids, generated + s, cfg.min_new_tokens)
                tokens = sample_tokens(logits, gen, cfg.temperature, cfg.top_k).tolist()
                for i, tok in enumerate(tokens):
                    if used[i] is None and tok in pol.eos_ids:
                        used[i] = s
                    rows[i].append(pol.pad_id if used[i] is not None else tok)
            cand = []
            for i, row in enumerate(rows):
                if used[i] is not None:
                    cand.append((row[: base + used[i]], "eos"))
                else:
                    cand.append((row, "length" if base + length >= cfg.max_new_tokens else None))
            if batch.scorer is not None:
                rewards = rescore(batch.scorer, pol, prompt, [c[0] for c in cand], rescore_mode).tolist()
            else:
                rewards = [0.0] * len(cand)
            pool = [(s, toks, fin) for s, toks, fin in carried]
            pool += [(rewards[i], cand[i][0], cand[i][1]) for i in range(len(cand))]
            order = sorted(range(len(pool)), key=lambda j: -pool[j][0])
            winners = [pool[j] for j in order[: cfg.width]]
            carried = [w for w in winners if w[2] is not None]
            beams = [w[1] for w in winners if w[2] is None]
            if not beams:
                s, toks, fin = winners[0]
                result = batch.generation(b, toks, s if batch.scorer is not None else None, fin)
            generated += length
            first = False
        out.append(result)
    return batch.finish(out, text_exact=batch.scorer is None or rescore_mode == "text")


@torch.inference_mode()
def naive_cards(
    policy,
    scorer,
    prompts: Sequence[str],
    config=None,
    *,
    rescore_mode: str = "text",
    indices: Sequence[int] | None = None,
) -> list[Generation]:
    """CARDS one prompt at a time, no caches; draws random numbers as ``cards.cards`` does."""
    import math

    from sp_prm_lib.config.decoding import CardsConfig
    from sp_prm_lib.decoding.cards import calibrate_cards
    from sp_prm_lib.decoding.policy import entropy

    cfg = config or CardsConfig()
    batch = prepare(policy, scorer, prompts, cfg, indices, needs_scorer=True)
    cfg = calibrate_cards(batch.policy, batch.scorer, batch.prompts, cfg, indices=batch.indices)
    schedule = cfg.threshold == "schedule"
    used = {"tau_u": float(cfg.tau_u), "reward_threshold": float(cfg.reward_threshold) if schedule else None}
    pol = batch.policy
    out = []
    for b, prompt in enumerate(batch.prompts):
        gen = batch.generators[b]
        r_empty = float(rescore(batch.scorer, pol, prompt, [[]], rescore_mode)[0])
        reward0 = (1 - cfg.alpha) * r_empty + cfg.alpha * cfg.reward_threshold if schedule else None
        tokens: list[int] = []
        prefix_reward, best, rejections = r_empty, None, 0
        stats = {"segments": 0, "rejected": 0, "forced": 0}
        result = None
        while result is None:
            seg, eos = [], False
            while len(seg) < cfg.max_segment and len(tokens) + len(seg) < cfg.max_new_tokens:
                logits = full_logits(pol, batch.prompt_ids[b], [tokens + seg])
                if len(seg) >= cfg.min_segment and float(entropy(logits)[0]) >= cfg.tau_u:
                    break
                logits = suppress_eos(logits, pol.eos_ids, len(tokens) + len(seg), cfg.min_new_tokens)
                tok = int(sample_tokens(logits, gen, cfg.temperature, cfg.top_k)[0])
                if tok in pol.eos_ids:
                    eos = True
                    break
                seg.append(tok)
            reward = float(rescore(batch.scorer, pol, prompt, [tokens + seg], rescore_mode)[0])
            current = (seg, eos, reward)
            if best is None or reward > best[2]:
                best = current
            stats["segments"] += 1
            total = len(tokens) + len(seg)
            if schedule:
                threshold = min(
                    reward0 + total * (cfg.reward_threshold - reward0) / cfg.max_new_tokens, cfg.reward_threshold
                )
            else:
                threshold = prefix_reward
            if rejections >= cfg.max_rejections:
                chosen = best
                stats["forced"] += 1
            else:
                if cfg.acceptance == "hard":
                    ok = reward >= threshold
                else:
                    u = float(torch.rand((), generator=gen, dtype=torch.float64))
                    ok = u < min(1.0, math.exp(min((reward - threshold) / cfg.beta, 50.0)))
                chosen = current if ok else None
            if chosen is None:
                rejections += 1
                stats["rejected"] += 1
                continue
            tokens = tokens + chosen[0]
            prefix_reward, best, rejections = chosen[2], None, 0
            finish = "eos" if chosen[1] else ("length" if len(tokens) >= cfg.max_new_tokens else None)
            if finish is not None:
                accepted = stats["segments"] - stats["rejected"] - stats["forced"]
                kept = accepted + stats["forced"]
                summary = {
                    **stats,
                    "accepted": accepted,
                    "acceptance": round(accepted / stats["segments"], 4),
                    "segment_tokens": round(len(tokens) / kept, 4),
                    **used,
                }
                result = batch.generation(b, tokens, chosen[2], finish, **summary)
        out.append(result)
    return batch.finish(out, text_exact=rescore_mode == "text")

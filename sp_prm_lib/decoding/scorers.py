"""Scorers: how decoders get rewards of partial responses.

The protocol a decoder needs is one method::

    score_texts(prompts, responses) -> Tensor (n,)   # rewards, NaN allowed

``responses`` are decoded policy text (special tokens skipped), partial or
finished; the reward model applies its own convention (``closed``: scored as
a finished answer, ``open``: read at the last token). A scorer may also offer
``token_session(policy, prompts, max_new_tokens)``: an incremental path over
policy token ids with the reward model's KV cache (``RMSession``), or None.

``RewardScorer`` wraps a ``RewardModel`` and offers the session when the RM
is causal, shares the policy's vocabulary and every context fits its length
limit. When only the vocabulary differs, decoders get the re-tokenizing RM
cache (``CrossTokenizerCandidateScorer``, module ``retokenize``): candidates
are decoded and re-tokenized as text, and only the RM ids after the cached
prefix run through the RM. Otherwise decoders fall back to batched text
scoring. Scorers count their calls (``stats``) so tests can assert how much
scoring a method does.

Decoders use a ``CandidateScorer`` (text, session or re-tokenizing) that
scores ``k`` candidate continuations of each decoded row in one batched call.
With ``guidance="text"`` (``config.decoding``) the session path checks that
each candidate's ids round-trip (``encode(decode(ids)) == ids`` in the RM's
tokenizer) and re-scores the ones that do not from their text, so every
candidate gets ``r(x, decode(ids))``; ``guidance="token"`` keeps the ids the
policy produced. ``final_rewards`` gives the reward of each returned text.

One reward per candidate, whatever the batch: a candidate scorer keeps, per
prompt, the first reward it returned for each distinct candidate (its text
with ``guidance="text"``, its ids with ``"token"``) and gives every later
candidate with the same text (or ids) that reward, in the same round and in
later rounds. Two ids that decode to the same text (a lone byte and U+FFFD's
three bytes, say) then tie exactly instead of differing by float noise from
where they were computed (the RM cache or a text re-score, a batch of one or
of many), and a decoder's tie rule (the earlier candidate wins: stable sorts,
``argmax``, ``>``) gives the same output for a prompt alone and in a batch.

Every batch of rewards a scorer returns is checked (``text_rewards``): one
finite-or-NaN number per response, else a one-line ``ScorerError``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch

from sp_prm_lib.core.errors import ConfigError, ModelError
from sp_prm_lib.decoding.policy import Policy, left_pad, new_cache
from sp_prm_lib.decoding.retokenize import RetokenizedCache, plan_row
from sp_prm_lib.scoring.forward import reward_head, trunk_forward
from sp_prm_lib.scoring.reward_model import RewardModel, RewardNaNError


class ScorerError(ModelError):
    """A scorer returned something other than one reward per response."""


@dataclass
class ScorerStats:
    """``calls``: batched scoring calls; ``scored``: rewards computed (one per candidate,
    and once more for each fallback); ``fallback``: candidates of the RM-cache paths
    re-scored from their text in one more call (their ids do not round-trip,
    ``guidance="text"``; or, re-tokenized, they exceed the RM's ``max_length``).

    The re-tokenizing path (``CrossTokenizerCandidateScorer``) also counts
    ``rm_tokens`` (RM tokens it ran through the RM), ``cached_tokens`` (RM tokens of
    scored candidates read from the cache instead), ``forwards`` (its RM forward
    calls), ``crops`` (rows cut back because a re-tokenization changed ids already
    cached) and ``rebuilds`` (caches rebuilt to drop the holes crops leave)."""

    calls: int = 0
    scored: int = 0
    fallback: int = 0
    rm_tokens: int = 0
    cached_tokens: int = 0
    forwards: int = 0
    crops: int = 0
    rebuilds: int = 0

    def reset(self) -> None:
        self.calls = self.scored = self.fallback = 0
        self.rm_tokens = self.cached_tokens = self.forwards = self.crops = self.rebuilds = 0


@runtime_checkable
class Scorer(Protocol):
    name: str
    stats: ScorerStats

    def score_texts(self, prompts: Sequence[str], responses: Sequence[str]) -> torch.Tensor: ...


def same_vocabulary(a, b) -> bool:
    """True when two tokenizers map every token to the same id."""
    if a is b:
        return True
    if len(a) != len(b):
        return False
    return a.get_vocab() == b.get_vocab()


class RewardScorer:
    """A ``RewardModel`` as a decoding scorer.

    ``kv_cache``: offer the incremental RM-cache path (``RMSession``) when it
    is valid; False forces batched text scoring (the reference path).
    ``max_query_tokens`` bounds one cached scoring forward (bigger candidate
    sets are split into several forwards).
    """

    def __init__(
        self, rm: RewardModel, *, kv_cache: bool = True, max_query_tokens: int = 2048, name: str | None = None
    ):
        self.rm = rm
        self.kv_cache = kv_cache
        self.max_query_tokens = max_query_tokens
        self.name = name or rm.name
        self.stats = ScorerStats()
        self._vocab_checked: dict[int, bool] = {}

    def score_texts(self, prompts: Sequence[str], responses: Sequence[str]) -> torch.Tensor:
        self.stats.calls += 1
        self.stats.scored += len(responses)
        try:
            return self.rm.score(list(prompts), list(responses)).float()
        except RewardNaNError:
            # find the offending items; decoders name their prompts
            return torch.stack([self._one(p, r) for p, r in zip(prompts, responses, strict=True)])

    def _one(self, prompt: str, response: str) -> torch.Tensor:
        try:
            return self.rm.score([prompt], [response])[0].float()
        except RewardNaNError:
            return torch.tensor(float("nan"))

    def session_reason(self, policy: Policy, prompts: Sequence[str], max_new_tokens: int) -> str | None:
        """Why the RM-cache path over policy tokens cannot be used (None: it can)."""
        return self._cache_reason(policy, prompts, max_new_tokens, same_tokenizer=True)

    def retokenize_reason(self, policy: Policy, prompts: Sequence[str], max_new_tokens: int) -> str | None:
        """Why the re-tokenizing RM-cache path (a tokenizer other than the policy's) cannot
        be used (None: it can). The length check counts ``max_new_tokens`` as RM tokens;
        candidates that re-tokenize longer than ``max_length`` are scored from their text."""
        return self._cache_reason(policy, prompts, max_new_tokens, same_tokenizer=False)

    def _cache_reason(self, policy, prompts, max_new_tokens: int, *, same_tokenizer: bool) -> str | None:
        rm = self.rm
        if not self.kv_cache:
            return "disabled"
        if not rm.causal:
            return "the reward model is not causal"
        key = id(policy.tokenizer)
        if key not in self._vocab_checked:
            self._vocab_checked[key] = same_vocabulary(rm.tokenizer, policy.tokenizer)
        if same_tokenizer and not self._vocab_checked[key]:
            return "the reward model's tokenizer differs from the policy's"
        if not same_tokenizer and self._vocab_checked[key]:
            return "the reward model shares the policy's tokenizer (use the RM-cache session)"
        if any(getattr(layer, "is_sliding", False) for layer in new_cache(rm.model).layers):
            return "the reward model has sliding-window cache layers"
        closing = len(rm.formatter.closing)
        for i, prompt in enumerate(prompts):
            n = len(rm.formatter.context_ids(prompt))  # as the window cuts it
            if n + max_new_tokens + closing > rm.formatter.max_length:
                return f"prompt {i}: context {n} + {max_new_tokens} new tokens exceed the RM's max_length"
        return None

    def token_session(self, policy: Policy, prompts: Sequence[str], max_new_tokens: int) -> RMSession | None:
        if self.session_reason(policy, prompts, max_new_tokens) is not None:
            return None
        contexts = [self.rm.formatter.context_ids(p) for p in prompts]
        return RMSession(self, contexts)


class FunctionScorer:
    """A scorer from a Python function ``fn(prompt, response) -> float`` (toys, tests)."""

    def __init__(self, fn: Callable[[str, str], float], name: str = "function"):
        self.fn = fn
        self.name = name
        self.stats = ScorerStats()

    def score_texts(self, prompts: Sequence[str], responses: Sequence[str]) -> torch.Tensor:
        self.stats.calls += 1
        self.stats.scored += len(responses)
        return torch.tensor(
            [float(self.fn(p, r)) for p, r in zip(prompts, responses, strict=True)], dtype=torch.float32
        )


def scorer_name(scorer) -> str:
    return str(getattr(scorer, "name", None) or type(scorer).__name__)


def text_rewards(scorer, prompts: Sequence[str], responses: Sequence[str]) -> torch.Tensor:
    """``scorer.score_texts`` as a float tensor (n,), checked to hold one reward per response."""
    n = len(responses)
    out = scorer.score_texts(list(prompts), list(responses))
    try:
        rewards = torch.as_tensor(out, dtype=torch.float32).detach().cpu()
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ScorerError(
            f"scorer {scorer_name(scorer)!r} returned {type(out).__name__} for {n} responses, "
            f"not {n} numbers ({str(exc).splitlines()[0] if str(exc) else 'not a number'})"
        ) from None
    if rewards.numel() != n or (rewards.dim() > 1 and rewards.shape[0] != n):
        raise ScorerError(
            f"scorer {scorer_name(scorer)!r} returned {rewards.numel()} rewards (shape {tuple(rewards.shape)}) "
            f"for {n} responses; expected one per response"
        )
    return rewards.reshape(n)


def as_scorer(obj) -> Scorer | None:
    """A scorer from a ``RewardModel`` (wrapped), a scorer (itself) or None."""
    if obj is None:
        return None
    if isinstance(obj, RewardModel):
        return RewardScorer(obj)
    if hasattr(obj, "score_texts"):
        if not hasattr(obj, "stats"):
            obj.stats = ScorerStats()
        if not hasattr(obj, "name"):
            obj.name = type(obj).__name__
        return obj
    raise ConfigError(f"a scorer needs score_texts(prompts, responses); got {type(obj).__name__}")


# -- the reward model's KV cache over policy tokens ------------------------------
class RMSession:
    """The reward model's cache over ``context + response`` for each decoded row.

    The response is in policy tokens (same vocabulary); the context is the
    prompt rendered by the RM's formatter, so rewards equal those of
    ``RewardModel.score`` on the same token ids. ``score`` reads k candidate
    continuations of every row in one forward over the cached prefix: each
    candidate is a block of query tokens (plus the closing tokens in the
    ``closed`` convention) that sees the prefix and itself only, through an
    additive 4-D mask; the cache is cropped back afterwards.
    """

    def __init__(self, scorer: RewardScorer, contexts: list[list[int]]):
        rm = scorer.rm
        self.scorer = scorer
        self.model = rm.model
        self.closing = list(rm.formatter.closing)
        self.open = rm.convention == "open"
        # a text pair closes the empty response with nothing: read it at the context's last token
        self.bare_empty = rm.formatter.empty_closing == []
        self.pad = rm.tokenizer.pad_token_id
        self.device = next(self.model.parameters()).device
        self.dtype = self.model.dtype
        self.model.eval()
        ids, mask = left_pad(contexts, self.pad)
        ids, mask = ids.to(self.device), mask.to(self.device).bool()
        width = ids.shape[1]
        causal = torch.ones(width, width, dtype=torch.bool, device=self.device).tril()
        allowed = (mask[:, None, :] & causal[None]) | torch.eye(width, dtype=torch.bool, device=self.device)
        self.cache = new_cache(self.model)
        positions = (mask.long().cumsum(-1) - 1).clamp(min=0)
        hidden = self._forward(ids, allowed[:, None], positions)
        self.mask = mask
        self.next_pos = mask.long().sum(-1)
        self.reward = self._head(hidden[:, -1])  # open convention (and a bare empty closing): the empty response
        self.fresh = torch.ones(ids.shape[0], dtype=torch.bool, device=self.device)  # rows with no response yet
        self.forwards = 1

    def _forward(self, ids, allowed, positions):
        hidden, self.cache = trunk_forward(self.model, self.cache, ids, allowed, positions)
        return hidden

    @torch.inference_mode()
    def _head(self, hidden):
        return reward_head(self.model, hidden)

    @property
    def rows(self) -> int:
        return self.mask.shape[0]

    def select(self, rows) -> None:
        index = torch.as_tensor(rows, dtype=torch.long, device=self.device)
        if index.numel() == self.rows and torch.equal(index, torch.arange(self.rows, device=self.device)):
            return
        self.cache.batch_select_indices(index)
        self.mask = self.mask[index]
        self.next_pos = self.next_pos[index]
        self.reward = self.reward[index]
        self.fresh = self.fresh[index]

    def score(self, blocks: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Rewards (R, k) of each row's prefix extended by ``blocks[r, j, :lengths[r, j]]``."""
        rows, k, width = blocks.shape
        c = len(self.closing)
        per_block = width + c
        if per_block == 0:  # open convention, empty blocks: the prefix's reward
            return self.reward[:, None].expand(rows, k).clone()
        group = max(1, self.scorer.max_query_tokens // per_block)
        parts = [self._score_group(blocks[:, s : s + group], lengths[:, s : s + group]) for s in range(0, k, group)]
        self.scorer.stats.calls += 1
        self.scorer.stats.scored += rows * k
        return torch.cat(parts, dim=1)

    def _score_group(self, blocks: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        rows, k, width = blocks.shape
        dev = self.device
        blocks, lengths = blocks.to(dev), lengths.to(dev)
        c = len(self.closing)
        m = width + c
        slot = torch.arange(m, device=dev)
        tokens = torch.full((rows, k, m), self.pad, dtype=torch.long, device=dev)
        if width:
            keep = slot[:width] < lengths[..., None]
            tokens[..., :width] = torch.where(keep, blocks, self.pad)
        for j, tok in enumerate(self.closing):
            tokens.scatter_(2, (lengths + j)[..., None], tok)
        positions = (self.next_pos[:, None, None] + slot).expand(rows, k, m)
        q = k * m
        block = torch.block_diag(*[torch.ones(m, m, dtype=torch.bool, device=dev).tril()] * k)
        allowed = torch.cat(
            [
                self.mask[:, None, None, :].expand(rows, 1, q, self.mask.shape[1]),
                block[None, None].expand(rows, 1, q, q),
            ],
            dim=-1,
        )
        hidden = self._forward(tokens.reshape(rows, q), allowed, positions.reshape(rows, q))
        self.cache.crop(-q)
        read = (torch.arange(k, device=dev) * m)[None] + (lengths + c - 1).clamp(min=0)
        picked = hidden.gather(1, read[..., None].expand(-1, -1, hidden.shape[-1]))
        rewards = self._head(picked)
        if self.open:
            rewards = torch.where(lengths == 0, self.reward[:, None], rewards)
        elif self.bare_empty:
            rewards = torch.where((lengths == 0) & self.fresh[:, None], self.reward[:, None], rewards)
        self.forwards += 1
        return rewards

    def advance(self, rows, blocks: torch.Tensor, lengths: torch.Tensor | None = None) -> None:
        """Keep ``rows`` (reordered, duplicated) and append ``blocks[i, :lengths[i]]`` to row i
        (``lengths`` None: whole blocks; shorter rows get masked-out holes)."""
        self.select(rows)
        n, width = blocks.shape
        if width == 0:
            return
        dev = self.device
        valid = (
            torch.ones(n, width, dtype=torch.bool, device=dev)
            if lengths is None
            else torch.arange(width, device=dev)[None] < lengths.to(dev)[:, None]
        )
        causal = torch.ones(width, width, dtype=torch.bool, device=dev).tril()
        block = (causal[None] & valid[:, None, :]) | torch.eye(width, dtype=torch.bool, device=dev)[None]
        allowed = torch.cat(
            [self.mask[:, None, None, :].expand(n, 1, width, self.mask.shape[1]), block[:, None]], dim=-1
        )
        positions = self.next_pos[:, None] + torch.arange(width, device=dev)
        hidden = self._forward(blocks.to(dev), allowed, positions)
        if self.open:
            used = valid.long().sum(-1)
            last = hidden.gather(1, (used - 1).clamp(min=0)[:, None, None].expand(-1, 1, hidden.shape[-1]))
            self.reward = torch.where(used > 0, self._head(last[:, 0]), self.reward)
        self.mask = torch.cat([self.mask, valid], dim=1)
        self.next_pos = self.next_pos + valid.long().sum(-1)
        self.fresh = self.fresh & (valid.long().sum(-1) == 0)
        self.forwards += 1


# -- what decoders call ------------------------------------------------------------
class CandidateScorer:
    """Rewards of candidate continuations of a decoder's rows (text or cached path).

    ``owners[r]``: the batch position of row r's prompt. ``text_exact``: True
    when every reward it returns is ``r(x, decode(ids))`` (the text path, and
    the cached path with ``guidance="text"``).
    """

    kind = "text"
    text_exact = True

    def __init__(self, scorer: Scorer, policy: Policy, prompts: Sequence[str], owners: Sequence[int]):
        self.scorer = scorer
        self.policy = policy
        self.prompts = list(prompts)
        self.owners = list(owners)
        self.known: dict[tuple[int, object], float] = {}  # (prompt, text or ids) -> its first reward

    def candidate_ids(self, prefixes, blocks: torch.Tensor, lengths: torch.Tensor) -> list[list[int]]:
        rows, k, _ = blocks.shape
        return [list(prefixes[r]) + blocks[r, j, : int(lengths[r, j])].tolist() for r in range(rows) for j in range(k)]

    def score(self, prefixes: Sequence[Sequence[int]], blocks: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        rows, k, _ = blocks.shape
        ids = self.candidate_ids(prefixes, blocks, lengths)
        texts = self.policy.decode_many(ids)
        prompts = [self.prompts[self.owners[r]] for r in range(rows) for _ in range(k)]
        return self.settle(text_rewards(self.scorer, prompts, texts).reshape(rows, k), ids, texts)

    def settle(self, rewards: torch.Tensor, ids: Sequence[Sequence[int]], texts: Sequence[str] | None) -> torch.Tensor:
        """``rewards`` (rows, k) with every candidate seen before for its prompt (same text;
        same ids when not ``text_exact``) given the reward it got first (module docstring)."""
        k = rewards.shape[1]
        flat = rewards.reshape(-1).clone()
        for i in range(flat.numel()):
            key = (self.owners[i // k], texts[i] if self.text_exact else tuple(ids[i]))
            first = self.known.get(key)
            if first is not None:
                flat[i] = first
            elif math.isfinite(value := float(flat[i])):
                self.known[key] = value
        return flat.reshape(rewards.shape)

    def _from_text(self, rewards: torch.Tensor, bad: Sequence[int], texts: Sequence[str]) -> torch.Tensor:
        """``rewards`` (rows, k) with the candidates ``bad`` (flat indices) re-scored from their
        ``texts`` in one call, counted as fallbacks."""
        if not bad:
            return rewards
        k = rewards.shape[1]
        flat = rewards.reshape(-1).clone()
        prompts = [self.prompts[self.owners[i // k]] for i in bad]
        flat[list(bad)] = text_rewards(self.scorer, prompts, [texts[i] for i in bad])
        self.scorer.stats.fallback += len(bad)
        return flat.reshape(rewards.shape)

    def prefix_rewards(self, prefixes: Sequence[Sequence[int]]) -> torch.Tensor:
        empty = torch.zeros((len(prefixes), 1, 0), dtype=torch.long)
        return self.score(prefixes, empty, torch.zeros((len(prefixes), 1), dtype=torch.long))[:, 0]

    def select(self, rows: Sequence[int]) -> None:
        self.owners = [self.owners[r] for r in rows]

    def advance(self, rows: Sequence[int], blocks: torch.Tensor, lengths: torch.Tensor | None = None) -> None:
        self.select(rows)


class SessionCandidateScorer(CandidateScorer):
    """The cached path: prefixes live in the RM's KV cache (``RMSession``).

    ``guidance="text"``: candidates whose ids do not round-trip through the
    RM's tokenizer are re-scored from their decoded text (one batched call).
    """

    kind = "rm-cache"

    def __init__(
        self,
        scorer: Scorer,
        policy: Policy,
        prompts: Sequence[str],
        owners: Sequence[int],
        session: RMSession,
        guidance: str = "text",
    ):
        super().__init__(scorer, policy, prompts, owners)
        self.session = session
        self.guidance = guidance
        self.text_exact = guidance == "text"
        if list(owners) != list(range(len(prompts))):
            session.select(list(owners))

    def score(self, prefixes, blocks, lengths):
        rewards = self.session.score(blocks, lengths).cpu()
        ids = self.candidate_ids(prefixes, blocks, lengths)
        if self.guidance != "text":
            return self.settle(rewards, ids, None)
        texts = self.policy.decode_many(ids)
        again = self.session.scorer.rm.formatter.response_ids(texts)
        bad = [i for i in range(len(ids)) if again[i] != ids[i]]
        return self.settle(self._from_text(rewards, bad, texts), ids, texts)

    def select(self, rows):
        super().select(rows)
        self.session.select(list(rows))

    def advance(self, rows, blocks, lengths=None):
        super().select(rows)
        self.session.advance(list(rows), blocks, lengths)


class CrossTokenizerCandidateScorer(CandidateScorer):
    """The cached path for a reward model with its own tokenizer (``retokenize``).

    Each step the candidates are decoded and re-tokenized exactly as the text path
    does; per row the RM's cache holds a prefix of those ids (checked against every
    new tokenization, cut back where it changed) and only the tails run through the
    RM. Rewards equal ``r(x, decode(ids))`` (``text_exact``); candidates longer than
    the RM's ``max_length`` are scored from their text. ``margin``: RM tokens at the
    end of the agreed prefix left out of the cache (the next step may re-merge them).
    """

    kind = "rm-cache-retokenize"
    text_exact = True

    def __init__(self, scorer: RewardScorer, policy: Policy, prompts, owners, *, margin: int = 1):
        super().__init__(scorer, policy, prompts, owners)
        rm = scorer.rm
        self.formatter = rm.formatter
        self.margin = margin
        self.contexts = [self.formatter.context_ids(p) for p in self.prompts]
        self.cache = RetokenizedCache(rm, len(self.owners), scorer.stats, scorer.max_query_tokens)
        self._empty: torch.Tensor | None = None  # r(x, "") per prompt, for a text pair's bare empty response

    @torch.inference_mode()
    def _head(self, hidden):
        return reward_head(self.scorer.rm.model, hidden)

    def score(self, prefixes, blocks, lengths):
        rows, k, _ = blocks.shape
        ids = self.candidate_ids(prefixes, blocks, lengths)
        texts = self.policy.decode_many(ids + [list(p) for p in prefixes])
        resp = self.formatter.response_ids(texts)
        closing, limit = self.formatter.closing, self.formatter.max_length
        empty = self.formatter.empty_closing
        plans = []
        for r in range(rows):
            ctx = self.contexts[self.owners[r]]
            fulls = [ctx + resp[r * k + j] for j in range(k)]
            plan = plan_row(
                self.cache.ids[r],
                len(ctx),
                fulls,
                ctx + resp[rows * k + r],
                closing=closing,
                max_length=limit,
                margin=self.margin,
            )
            if empty is not None:  # a text pair's empty response has no closing: r(x, "") of its prompt
                plan.tails = [None if not resp[r * k + j] else tail for j, tail in enumerate(plan.tails)]
            if plan.keep < len(self.cache.ids[r]):
                self.cache.crop(r, plan.keep)
                self.scorer.stats.crops += 1
            plans.append(plan)
        self.cache.compact()
        self.cache.extend([p.extend for p in plans])
        rewards = self.cache.score([p.tails for p in plans], self._head)
        self.scorer.stats.calls += 1
        self.scorer.stats.scored += rows * k
        bare = {r * k + j for r in range(rows) for j in range(k) if empty is not None and not resp[r * k + j]}
        if bare:
            if self._empty is None:
                self._empty = text_rewards(self.scorer, self.prompts, [""] * len(self.prompts))
            for i in bare:
                rewards[i // k, i % k] = self._empty[self.owners[i // k]]
        missing = [r * k + j for r, p in enumerate(plans) for j, t in enumerate(p.tails) if t is None]
        bad = [i for i in missing if i not in bare]
        return self.settle(self._from_text(rewards, bad, texts), ids, texts)

    def select(self, rows):
        super().select(rows)
        self.cache.select(list(rows))

    def advance(self, rows, blocks, lengths=None):
        # the cache follows the prefixes ``score`` is given; only the rows move
        self.select(rows)


def candidate_scorer(
    scorer: Scorer,
    policy: Policy,
    prompts: Sequence[str],
    max_new_tokens: int,
    owners: Sequence[int] | None = None,
    *,
    guidance: str = "text",
) -> CandidateScorer:
    """The cached path when the scorer offers one for these prompts: over policy tokens
    (same tokenizer) or re-tokenized (``CrossTokenizerCandidateScorer``); else the text path."""
    if guidance not in ("text", "token"):
        raise ConfigError(f"guidance must be one of text, token, got {guidance!r}")
    owners = list(range(len(prompts))) if owners is None else list(owners)
    make = getattr(scorer, "token_session", None)
    session = make(policy, prompts, max_new_tokens) if make is not None else None
    if session is not None:
        return SessionCandidateScorer(scorer, policy, prompts, owners, session, guidance)
    cross = getattr(scorer, "retokenize_reason", None)
    if cross is not None and cross(policy, prompts, max_new_tokens) is None:
        return CrossTokenizerCandidateScorer(scorer, policy, prompts, owners)
    return CandidateScorer(scorer, policy, prompts, owners)


def final_rewards(scorer, text_exact: bool, prompts, responses, rewards, indices) -> tuple[list, list]:
    """(rewards of the returned texts, the rewards the method guided by) for one batch.

    ``text_exact``: the rewards given are already ``r(x, response)`` (kept);
    otherwise every response is re-scored from its text in one batched call.
    """
    guided = [None if r is None else float(r) for r in rewards]
    if scorer is None or text_exact:
        return guided, guided
    again = text_rewards(scorer, prompts, responses)
    check_finite(again, list(range(len(prompts))), prompts, indices, scorer)
    return again.tolist(), guided


def check_finite(
    rewards: torch.Tensor, owners: Sequence[int], prompts: Sequence[str], indices: Sequence[int], scorer
) -> None:
    """Raise ``RewardNaNError`` naming the first prompt whose candidates got a non-finite reward."""
    bad = ~torch.isfinite(rewards.reshape(len(owners), -1)).all(dim=1)
    if bad.any():
        row = int(bad.nonzero()[0, 0])
        b = owners[row]
        err = RewardNaNError(
            f"reward model {getattr(scorer, 'name', scorer)!r} returned a non-finite reward while decoding "
            f"prompt {indices[b]} ({prompts[b][:60]!r}); decoding stopped"
        )
        err.prompt_index = indices[b]
        raise err

"""The reward model's KV cache when its tokenizer differs from the policy's.

Candidates are policy token ids; the reward model reads text. Each step the
candidates are decoded (as the text path does) and re-tokenized by the RM's
formatter into ``context + response`` RM ids. Per decoded row the cache
holds the KV of a prefix of those ids (``RetokenizedCache.ids``); only what
follows it (the *tail*, plus the closing tokens in the ``closed``
convention) runs through the RM, for all candidates of all rows in one
forward, each tail seeing the cached prefix and itself through an additive
4-D mask (as ``scorers.RMSession`` does for shared vocabularies).

Re-tokenization is not prefix-stable: appending text can re-merge the last
RM tokens (BPE merges, WordPiece words, a split UTF-8 character that becomes
whole). ``plan_row`` therefore checks the cache against every new
tokenization (longest common prefix, LCP), cuts the row back to the LCP when
the cached ids changed, and extends the cache only up to the ids that the
row's prefix and all its candidates agree on, less a ``margin`` of tokens
that the next step may still re-merge.

Rows are cut back by masking their cache slots (holes), as the policy cache
does for idle rows; when holes dominate, the cache is rebuilt from the kept
ids in one forward.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from sp_prm_lib.decoding.policy import new_cache
from sp_prm_lib.scoring.forward import trunk_forward


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the longest common prefix of two id lists."""
    n = min(len(a), len(b))
    if a[:n] == b[:n]:
        return n
    lo, hi = 0, n  # a[:lo] == b[:lo], a[:hi] != b[:hi]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid
    return lo


@dataclass
class RowPlan:
    """What one row's cache does this step: keep its first ``keep`` ids (cut the rest),
    append ``extend``, then run ``tails[j]`` (None: candidate j does not fit the RM's
    ``max_length`` and is scored from its text)."""

    keep: int
    extend: list[int]
    tails: list[list[int] | None]


def plan_row(
    cached: Sequence[int],
    context: int,
    fulls: Sequence[Sequence[int]],
    prefix: Sequence[int] | None,
    *,
    closing: Sequence[int],
    max_length: int,
    margin: int,
) -> RowPlan:
    """The cache plan of one row.

    ``cached``: the ids the row's cache holds; ``context``: how many leading ids are
    the prompt's (stable by construction); ``fulls``: ``context + response`` RM ids of
    each candidate; ``prefix``: those of the row's response so far (None: unknown).
    Candidates longer than ``max_length`` with the closing tokens are left out (their
    tail is None), as is a prefix that long. With no closing tokens (``open``) every
    tail keeps at least one token, the one the reward is read at.
    """
    fits = [len(f) + len(closing) <= max_length for f in fulls]
    kept = [f for f, ok in zip(fulls, fits, strict=True) if ok]
    if not kept:
        return RowPlan(len(cached), [], [None] * len(fulls))
    shortest = max(min(len(f) for f in kept) - (0 if closing else 1), 0)
    keep = min(len(cached), shortest)
    for f in kept:
        keep = common_prefix(cached[:keep], f)
    agreed = list(kept)
    if prefix is not None and len(prefix) + len(closing) <= max_length:
        agreed.append(prefix)
    common = len(agreed[0])
    for f in agreed[1:]:
        common = common_prefix(agreed[0][:common], f)
    target = min(max(context, common - margin), common, shortest)
    length = max(keep, target)
    extend = list(kept[0][keep:length])
    tails = [list(f[length:]) + list(closing) if ok else None for f, ok in zip(fulls, fits, strict=True)]
    return RowPlan(keep, extend, [t or None for t in tails])


class RetokenizedCache:
    """A causal reward model's KV cache over RM ids, one row per decoded row.

    ``ids[r]``: the ids whose KV row r holds, in order, at positions 0..n-1;
    ``mask[r]``: which cache slots hold them (the others are holes). ``stats``
    (a ``ScorerStats``) counts the tokens run, reused and cut back. ``slack``: the
    cache is rebuilt when it is wider than twice its longest row plus this.
    """

    slack = 64

    def __init__(self, rm, rows: int, stats, max_query_tokens: int = 2048):
        self.model = rm.model
        self.pad = rm.tokenizer.pad_token_id
        self.stats = stats
        self.max_query_tokens = max_query_tokens
        self.device = next(self.model.parameters()).device
        self.dtype = self.model.dtype
        self.model.eval()
        self.cache = new_cache(self.model)
        self.mask = torch.zeros((rows, 0), dtype=torch.bool, device=self.device)
        self.ids: list[list[int]] = [[] for _ in range(rows)]

    @property
    def rows(self) -> int:
        return len(self.ids)

    def _forward(self, ids: torch.Tensor, allowed: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        hidden, self.cache = trunk_forward(self.model, self.cache, ids, allowed, positions)
        self.stats.forwards += 1
        return hidden

    def select(self, rows: Sequence[int]) -> None:
        """Keep (reorder, duplicate) the given rows."""
        rows = list(rows)
        if rows == list(range(self.rows)):
            return
        index = torch.as_tensor(rows, dtype=torch.long, device=self.device)
        if self.mask.shape[1]:
            self.cache.batch_select_indices(index)
        self.mask = self.mask[index]
        self.ids = [self.ids[r] for r in rows]

    def crop(self, row: int, keep: int) -> None:
        """Drop row ``row``'s cached ids after the first ``keep`` (their slots become holes)."""
        slots = self.mask[row].nonzero()[:, 0]
        self.mask[row, slots[keep:]] = False
        self.ids[row] = self.ids[row][:keep]

    def extend(self, new: Sequence[Sequence[int]]) -> None:
        """Append ``new[r]`` to row r's cached ids (one forward; shorter rows get holes)."""
        width = max((len(x) for x in new), default=0)
        if width == 0:
            return
        n, dev = self.rows, self.device
        ids = torch.full((n, width), self.pad, dtype=torch.long)
        for r, x in enumerate(new):
            ids[r, : len(x)] = torch.tensor(list(x), dtype=torch.long)
        used = torch.tensor([len(x) for x in new], device=dev)
        valid = torch.arange(width, device=dev)[None] < used[:, None]
        causal = torch.ones(width, width, dtype=torch.bool, device=dev).tril()
        block = (causal[None] & valid[:, None, :]) | torch.eye(width, dtype=torch.bool, device=dev)[None]
        allowed = torch.cat([self.mask[:, None, :].expand(n, width, self.mask.shape[1]), block], dim=-1)
        start = torch.tensor([len(x) for x in self.ids], device=dev)
        self._forward(ids.to(dev), allowed[:, None], start[:, None] + torch.arange(width, device=dev))
        self.mask = torch.cat([self.mask, valid], dim=1)
        self.ids = [list(old) + list(x) for old, x in zip(self.ids, new, strict=True)]
        self.stats.rm_tokens += int(used.sum())

    def compact(self) -> None:
        """Rebuild the cache from the kept ids when holes take most of it (one forward)."""
        longest = max((len(x) for x in self.ids), default=0)
        if self.mask.shape[1] <= 2 * longest + self.slack:
            return
        ids = self.ids
        self.cache = new_cache(self.model)
        self.mask = torch.zeros((self.rows, 0), dtype=torch.bool, device=self.device)
        self.ids = [[] for _ in ids]
        self.stats.rebuilds += 1
        self.extend(ids)

    def score(self, tails: Sequence[Sequence[Sequence[int] | None]], head) -> torch.Tensor:
        """Rewards (R, k): ``head`` of the hidden state at the last token of each tail
        run over its row's cached ids (NaN where the tail is None). Tails of one row
        are packed one after another; groups of candidates keep one forward under
        ``max_query_tokens`` query tokens per row."""
        rows = self.rows
        k = max((len(t) for t in tails), default=0)
        out = torch.full((rows, k), float("nan"))
        groups, start, size = [], 0, 0
        for j in range(k):
            width = max((len(t[j]) for t in tails if t[j] is not None), default=0)
            if j > start and size + width > self.max_query_tokens:
                groups.append((start, j))
                start, size = j, 0
            size += width
        groups.append((start, k))
        for lo, hi in groups:
            part = [list(t[lo:hi]) for t in tails]
            if any(x is not None for t in part for x in t):
                out[:, lo:hi] = self._score_group(part, head)
        return out

    def _score_group(self, tails: list[list[list[int] | None]], head) -> torch.Tensor:
        dev = self.device
        rows, k = len(tails), len(tails[0])
        lengths = [[len(x) if x is not None else 0 for x in t] for t in tails]
        q = max(sum(row) for row in lengths)
        ids = torch.full((rows, q), self.pad, dtype=torch.long)
        segment = torch.full((rows, q), -1, dtype=torch.long)
        offset = torch.zeros((rows, q), dtype=torch.long)
        read = torch.zeros((rows, k), dtype=torch.long)
        for r, row in enumerate(tails):
            at = 0
            for j, x in enumerate(row):
                if not x:
                    continue
                ids[r, at : at + len(x)] = torch.tensor(x, dtype=torch.long)
                segment[r, at : at + len(x)] = j
                offset[r, at : at + len(x)] = torch.arange(len(x))
                read[r, j] = at + len(x) - 1
                at += len(x)
        segment, offset = segment.to(dev), offset.to(dev)
        same = (segment[:, :, None] == segment[:, None, :]) & (segment[:, :, None] >= 0)
        causal = torch.ones(q, q, dtype=torch.bool, device=dev).tril()
        block = (same & causal[None]) | torch.eye(q, dtype=torch.bool, device=dev)[None]
        allowed = torch.cat([self.mask[:, None, :].expand(rows, q, self.mask.shape[1]), block], dim=-1)
        start = torch.tensor([len(x) for x in self.ids], device=dev)
        hidden = self._forward(ids.to(dev), allowed[:, None], start[:, None] + offset)
        self.cache.crop(-q)
        picked = hidden.gather(1, read.to(dev)[..., None].expand(-1, -1, hidden.shape[-1]))
        rewards = head(picked).cpu()
        self.stats.rm_tokens += sum(sum(row) for row in lengths)
        scored = torch.tensor([[x is not None for x in t] for t in tails])
        self.stats.cached_tokens += sum(len(self.ids[r]) * int(scored[r].sum()) for r in range(rows))
        return torch.where(scored, rewards, torch.full_like(rewards, float("nan")))

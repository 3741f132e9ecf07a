"""RewardModel: scores (prompt, response) pairs, full or partial, in batches.

Causal reward models (Llama/Gemma-style sequence classifiers, a linear
``score`` head on every position) score **all prefixes of a response in one
forward pass**:

- ``open`` convention: the reward of prefix ``t`` is the head's output at the
  last prefix token of ``context + response``;
- ``closed`` convention: ``context + response`` is followed by one copy of the
  closing tokens per requested prefix; an additive 4-D attention mask lets
  the copy for prefix ``t`` see only ``context + response[:t]`` and itself,
  and position ids continue from ``t``. Its last token gives the reward.

Bidirectional models (DeBERTa/BERT-style) see the whole input, so each prefix
is a separate sequence (batched), always padded on the right: their pooler
reads the first position, which left padding would make a pad token. The
per-prefix path is also kept for causal models as the reference the one-pass
paths are tested against.

``RewardModel.identical_prefixes`` says which prefix pairs are the same token
sequence (chosen and rejected sharing their first t tokens): such pairs are
ties, whatever rounding noise separates their scores.

The formatting of ``sp_prm_lib.scoring.inputs`` is shared with training, so a
PRM is scored exactly as it was trained; the forward pass itself (trunk,
additive mask, score head) is ``sp_prm_lib.scoring.forward``, shared with
training and the cached decoding scorers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from sp_prm_lib.core.errors import ConfigError, ModelError
from sp_prm_lib.core.progress import terminal_progress
from sp_prm_lib.scoring.forward import Packed, additive_mask, forward_rewards, is_causal_reward_model
from sp_prm_lib.scoring.inputs import Encoded, RewardFormatter

#: scoring calls with at least this many batches show a progress bar on the terminal
SHOWN_BATCHES = 8

STRATEGIES = ("auto", "one-pass", "per-prefix")


class RewardNaNError(ModelError):
    """A reward model produced a non-finite score."""


def _check_lengths(enc: Encoded, lengths: Sequence[int], where: int) -> list[int]:
    out = []
    for t in lengths:
        if isinstance(t, bool) or not isinstance(t, int) or t < 0:
            raise ConfigError(f"response {where}: prefix length must be a non-negative int, got {t!r}")
        if t > enc.length:
            raise ConfigError(f"response {where}: prefix length {t} is beyond the response's {enc.length} tokens")
        out.append(min(t, enc.kept))  # beyond max_length: scored as the kept response
    return out


def same_tokens(enc_a: Encoded, a: int, enc_b: Encoded, b: int) -> bool:
    """True when prefix ``a`` of ``enc_a`` and prefix ``b`` of ``enc_b`` are scored from the
    same input ids (lengths beyond the kept response count as the kept response)."""
    a, b = min(a, enc_a.kept), min(b, enc_b.kept)
    return (
        a == b
        and enc_a.context == enc_b.context
        and enc_a.response[:a] == enc_b.response[:b]
        and enc_a.closing_at(a) == enc_b.closing_at(b)
    )


def _cut_lengths(cut, len_a: int, len_b: int, where: int) -> tuple[int, int]:
    """(chosen_len, rejected_len) of one entry of ``identical_prefixes``' ``wanted_lengths``."""
    if cut is None:
        return len_a, len_b
    if isinstance(cut, (tuple, list)) and len(cut) == 2:
        a, b = cut
        for name, value, limit in (("chosen", a, len_a), ("rejected", b, len_b)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value <= limit:
                raise ConfigError(f"pair {where}: {name} prefix length {value!r} is not in 0..{limit}")
        return int(a), int(b)
    if isinstance(cut, bool) or not isinstance(cut, (int, np.integer)) or cut < 0:
        raise ConfigError(
            f"pair {where}: a cut must be an int >= 0, a (chosen_len, rejected_len) pair or None, got {cut!r}"
        )
    return min(int(cut), len_a), min(int(cut), len_b)


def _pad_rows(rows: list[list[int]], pad: int, side: str) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    """(ids, 2-D mask, left offsets) of rows padded to one length on ``side``."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    offsets = []
    for b, row in enumerate(rows):
        start = width - len(row) if side == "left" else 0
        ids[b, start : start + len(row)] = torch.tensor(row, dtype=torch.long)
        mask[b, start : start + len(row)] = 1
        offsets.append(start)
    return ids, mask, offsets


def _read_matrix(reads: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(r) for r in reads)
    read = torch.zeros((len(reads), width), dtype=torch.long)
    valid = torch.zeros((len(reads), width), dtype=torch.bool)
    for b, r in enumerate(reads):
        read[b, : len(r)] = torch.tensor(r, dtype=torch.long)
        valid[b, : len(r)] = True
    return read, valid


def nest_inputs(encoded: list[Encoded]) -> tuple[list[int], list[list[int]], list[tuple[int, int]]]:
    """Share rows between inputs that nest: input i is read at ``kept`` tokens from the row of a
    longer input with the same context and closing whose kept response starts with i's.

    Returns the carriers (indices into ``encoded``, one row each), the prefix lengths read from
    each carrier, and for every input its (carrier, read) position. Longest inputs come first, so
    each carrier is the longest of what it carries; identical inputs share one read.
    """
    carriers: list[int] = []
    reads: list[list[int]] = []
    slots: dict[tuple, list[int]] = {}
    where: list[tuple[int, int]] = [(0, 0)] * len(encoded)
    for i in sorted(range(len(encoded)), key=lambda k: -encoded[k].kept):
        enc = encoded[i]
        empty = None if enc.empty_closing is None else tuple(enc.empty_closing)
        group = slots.setdefault((tuple(enc.context), tuple(enc.closing), empty), [])
        slot = next((s for s in group if encoded[carriers[s]].response[: enc.kept] == enc.response), None)
        if slot is None:
            slot = len(carriers)
            carriers.append(i)
            reads.append([])
            group.append(slot)
        if enc.kept not in reads[slot]:
            reads[slot].append(enc.kept)
        where[i] = (slot, reads[slot].index(enc.kept))
    return carriers, reads, where


def pack_open(encoded: list[Encoded], lengths: list[list[int]], pad: int, side: str = "right") -> Packed:
    """One row per response, ``context + response``; reads at each prefix's last token."""
    rows, reads = [], []
    for i, (enc, ts) in enumerate(zip(encoded, lengths, strict=True)):
        ts = _check_lengths(enc, ts, i)
        if not enc.context and 0 in ts:
            raise ConfigError(f"response {i}: the empty prefix needs a non-empty context in the open convention")
        upto = max(ts, default=0)
        rows.append(enc.context + enc.response[:upto])
        reads.append([len(enc.context) + t - 1 for t in ts])
    ids, mask, offsets = _pad_rows(rows, pad, side)
    position_ids = (mask.cumsum(-1) - 1).clamp(min=0)
    read, valid = _read_matrix([[o + p for p in r] for o, r in zip(offsets, reads)])
    return Packed(ids, mask, position_ids, read, valid)


def pack_closed(
    encoded: list[Encoded], lengths: list[list[int]], pad: int, dtype: torch.dtype, side: str = "right"
) -> Packed:
    """One row per response: ``context + response`` then a closing block per prefix.

    The additive 4-D mask keeps every closing block to its own prefix.
    """
    rows, allowed_lists, positions, reads = [], [], [], []
    for i, (enc, ts) in enumerate(zip(encoded, lengths, strict=True)):
        ts = _check_lengths(enc, ts, i)
        if not enc.closing:
            raise ConfigError("closed-convention packing needs closing tokens")
        upto = max(ts, default=0)
        body = enc.context + enc.response[:upto]
        n_ctx, n_close = len(enc.context), len(enc.closing)
        row = body + enc.closing * len(ts)
        # allowed[q] = the key positions query q may attend to
        allowed = [list(range(q + 1)) for q in range(len(body))]
        pos = list(range(len(body)))
        read = []
        for b, t in enumerate(ts):
            start = len(body) + b * n_close
            for j in range(n_close):
                allowed.append(list(range(n_ctx + t)) + list(range(start, start + j + 1)))
                pos.append(n_ctx + t + j)
            if t == 0 and enc.empty_closing is not None:
                if enc.empty_closing:
                    raise ConfigError(f"response {i}: one-pass packing cannot render this empty response's closing")
                read.append(n_ctx - 1)  # the empty response is the context alone (a text pair's rendering)
            else:
                read.append(start + n_close - 1)
        rows.append(row)
        allowed_lists.append(allowed)
        positions.append(pos)
        reads.append(read)
    ids, mask2d, offsets = _pad_rows(rows, pad, side)
    width = ids.shape[1]
    pattern = torch.zeros((len(rows), 1, width, width), dtype=torch.bool)
    position_ids = torch.zeros_like(ids)
    for b, (allowed, pos, off) in enumerate(zip(allowed_lists, positions, offsets)):
        for q, keys in enumerate(allowed):
            pattern[b, 0, off + q, [off + k for k in keys]] = True
        position_ids[b, off : off + len(pos)] = torch.tensor(pos, dtype=torch.long)
        # padding rows attend to themselves only, so softmax stays finite
        for q in [q for q in range(width) if not mask2d[b, q]]:
            pattern[b, 0, q, q] = True
    read, valid = _read_matrix([[off + r for r in rd] for off, rd in zip(offsets, reads)])
    return Packed(ids, additive_mask(pattern, dtype), position_ids, read, valid)


def pack_each(
    encoded: list[Encoded], lengths: list[list[int]], pad: int, side: str = "right", with_token_types: bool = False
) -> tuple[Packed, list[int]]:
    """One row per (response, prefix): ``context + response[:t] + closing``.

    Returns the packing (one read per row) and, for each row, its response index.
    """
    rows, owners, types = [], [], []
    for i, (enc, ts) in enumerate(zip(encoded, lengths, strict=True)):
        for t in _check_lengths(enc, ts, i):
            closing = enc.closing_at(t)
            rows.append(enc.context + enc.response[:t] + closing)
            types.append([0] * len(enc.context) + [1] * (t + len(closing)))
            owners.append(i)
    ids, mask, offsets = _pad_rows(rows, pad, side)
    position_ids = (mask.cumsum(-1) - 1).clamp(min=0)
    read, valid = _read_matrix([[off + len(r) - 1] for off, r in zip(offsets, rows)])
    token_type_ids = None
    if with_token_types:
        token_type_ids, _, _ = _pad_rows(types, 0, side)
    return Packed(ids, mask, position_ids, read, valid, token_type_ids), owners


class RewardModel:
    """Scores full or partial responses with one formatting convention.

    ``convention``: ``closed`` or ``open`` (see ``sp_prm_lib.scoring.inputs``);
    ``max_length`` and ``response_budget``: the window (the length rule there).
    ``strategy``: ``auto`` (one pass for causal models, per prefix otherwise),
    ``one-pass`` or ``per-prefix``. A tokenizer without a pad token gets one
    (its EOS, else a new ``<pad>``); padding positions are never read.
    """

    def __init__(
        self,
        model,
        tokenizer,
        *,
        convention: str = "closed",
        max_length: int | None = None,
        response_budget: int | None = None,
        batch_size: int = 8,
        strategy: str = "auto",
        padding_side: str | None = None,
        name: str | None = None,
    ):
        if strategy not in STRATEGIES:
            raise ConfigError(f"strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        if tokenizer.pad_token is None:
            if tokenizer.eos_token is not None:
                tokenizer.pad_token = tokenizer.eos_token
            else:
                tokenizer.add_special_tokens({"pad_token": "<pad>"})
                model.resize_token_embeddings(len(tokenizer))
        model.config.pad_token_id = tokenizer.pad_token_id
        self.model = model
        self.tokenizer = tokenizer
        self.causal = is_causal_reward_model(model)
        if strategy == "one-pass" and not self.causal:
            raise ConfigError(
                f"{type(model).__name__} sees the whole input: one-pass prefix scoring needs a causal reward model"
            )
        self.strategy = strategy
        limits = [
            n
            for n in (
                max_length,
                getattr(model.config, "max_position_embeddings", None),
                tokenizer.model_max_length if tokenizer.model_max_length < 10**7 else None,
            )
            if n
        ]
        self.formatter = RewardFormatter(
            tokenizer, convention, max_length=min(limits) if limits else 1024, response_budget=response_budget
        )
        self.batch_size = batch_size
        if padding_side not in (None, "left", "right"):
            raise ConfigError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
        if not self.causal and padding_side == "left":
            raise ConfigError(
                f"{type(model).__name__} reads its score at the first position: "
                "it must be padded on the right (padding_side='right')"
            )
        # bidirectional models pool position 0, which left padding would make a pad token
        self.padding_side = (padding_side or tokenizer.padding_side or "right") if self.causal else "right"
        self.name = name or getattr(model, "name_or_path", None) or type(model).__name__
        self._token_types = getattr(model.config, "type_vocab_size", 0) and model.config.type_vocab_size > 1

    @property
    def convention(self) -> str:
        return self.formatter.convention

    @property
    def one_pass(self) -> bool:
        return self.causal and self.strategy != "per-prefix"

    def response_ids(self, responses: Sequence[str]) -> list[list[int]]:
        """Responses in this reward model's tokens (no special tokens)."""
        return self.formatter.response_ids(list(responses))

    def response_lengths(self, responses: Sequence[str]) -> list[int]:
        """Lengths of responses in this reward model's tokens."""
        return [len(ids) for ids in self.response_ids(responses)]

    def score(self, prompts: Sequence[str], responses: Sequence[str], *, share_rows: bool = True) -> torch.Tensor:
        """Rewards (n,) of whole responses (or partial ones given as text).

        In one pass (causal models, ``share_rows``), an input whose ids are a prefix of another's
        (the same context and closing; e.g. the prefix texts a judge is asked about) is read from
        that input's row instead of being run again: the same ids, the same positions, the same
        mask. ``share_rows=False``: one row per input (the reference the benchmark compares with).
        """
        encoded = self.formatter.encode(list(prompts), list(responses))
        if not (self.one_pass and share_rows):
            out = self._score_encoded(encoded, [[e.length] for e in encoded])
            return torch.stack([r[0] for r in out]) if out else torch.zeros(0)
        carriers, reads, where = nest_inputs(encoded)
        out = self._score_encoded([encoded[c] for c in carriers], reads)
        return torch.stack([out[s][j] for s, j in where]) if where else torch.zeros(0)

    def score_prefixes(
        self, prompts: Sequence[str], responses: Sequence[str], lengths: Sequence[Sequence[int]] | None = None
    ) -> list[torch.Tensor]:
        """Rewards of response prefixes: for response i, one per length in ``lengths[i]``
        (tokens of this RM's tokenizer; None: every prefix 0..L)."""
        encoded = self.formatter.encode(list(prompts), list(responses))
        if lengths is None:
            lengths = [list(range(e.length + 1)) for e in encoded]
        if len(lengths) != len(encoded):
            raise ConfigError(f"{len(encoded)} responses but {len(lengths)} lists of prefix lengths")
        return self._score_encoded(encoded, [list(ts) for ts in lengths])

    def identical_prefixes(
        self,
        prompts: Sequence[str],
        chosen: Sequence[str],
        rejected: Sequence[str],
        wanted_lengths: Sequence[Sequence],
    ) -> np.ndarray:
        """Which prefix pairs are the same token sequence as this RM scores them (ties).

        ``wanted_lengths[i]`` lists pair i's prefix pairs, the same number for every pair;
        each is a cut ``t`` (both responses cut at t, a shorter one used whole, as in
        D_partial and the agreement tables), a ``(chosen_len, rejected_len)`` pair of
        prefix lengths, or ``None`` (the full responses). Lengths are in this RM's tokens.
        Returns a bool array (n_pairs, k): True where both sides give the same input ids
        (context, kept response prefix and closing), so any score difference is numerical
        noise and neither side is preferred.
        """
        n = len(prompts)
        if not (len(chosen) == len(rejected) == len(wanted_lengths) == n):
            raise ConfigError(
                f"identical_prefixes: {n} prompts, {len(chosen)} chosen, {len(rejected)} rejected and "
                f"{len(wanted_lengths)} lists of lengths; they must pair up"
            )
        widths = {len(w) for w in wanted_lengths}
        if len(widths) > 1:
            raise ConfigError(f"identical_prefixes: every pair needs the same number of lengths, got {sorted(widths)}")
        enc_w = self.formatter.encode(list(prompts), list(chosen))
        enc_l = self.formatter.encode(list(prompts), list(rejected))
        out = np.zeros((n, widths.pop() if widths else 0), dtype=bool)
        for i, (ew, el, wanted) in enumerate(zip(enc_w, enc_l, wanted_lengths)):
            for j, cut in enumerate(wanted):
                a, b = _cut_lengths(cut, ew.length, el.length, i)
                out[i, j] = same_tokens(ew, a, el, b)
        return out

    def _batches(self, n: int):
        """Batch starts over ``n`` items, with a terminal bar when there are many batches (long scoring)."""
        starts = range(0, n, self.batch_size)
        return terminal_progress(
            starts,
            desc=f"scoring ({str(self.name).rstrip('/').rsplit('/', 1)[-1]})",
            leave=False,
            quiet=len(starts) < SHOWN_BATCHES,
        )

    @torch.inference_mode()
    def _score_encoded(self, encoded: list[Encoded], lengths: list[list[int]]) -> list[torch.Tensor]:
        self.model.eval()
        pad = self.tokenizer.pad_token_id
        results: list[torch.Tensor | None] = [None] * len(encoded)
        if self.one_pass:
            for start in self._batches(len(encoded)):
                chunk = range(start, min(start + self.batch_size, len(encoded)))
                encs, ts = [encoded[i] for i in chunk], [lengths[i] for i in chunk]
                if self.convention == "open":
                    packed = pack_open(encs, ts, pad, self.padding_side)
                else:
                    packed = pack_closed(encs, ts, pad, self.model.dtype, self.padding_side)
                rewards = forward_rewards(self.model, packed).cpu()
                for row, i in enumerate(chunk):
                    results[i] = rewards[row, : len(lengths[i])]
        else:
            flat = [(i, t) for i, ts in enumerate(lengths) for t in ts]
            per = [[] for _ in encoded]
            for start in self._batches(len(flat)):
                part = flat[start : start + self.batch_size]
                packed, owners = pack_each(
                    [encoded[i] for i, _ in part],
                    [[t] for _, t in part],
                    pad,
                    self.padding_side,
                    with_token_types=bool(self._token_types),
                )
                rewards = forward_rewards(self.model, packed).cpu()[:, 0]
                for (i, _), r in zip(part, rewards):
                    per[i].append(r)
            results = [torch.stack(p) if p else torch.zeros(0) for p in per]
        for i, r in enumerate(results):
            if not torch.isfinite(r).all():
                raise RewardNaNError(f"reward model {self.name} returned a non-finite score for response {i}")
        return results

    @classmethod
    def from_spec(cls, spec, *, convention: str = "closed", **kwargs) -> RewardModel:
        """Load a reward model (or a causal backbone with a new head) from a ``ModelSpec``."""
        from sp_prm_lib.models.loading import load_sequence_classifier

        model, tokenizer = load_sequence_classifier(spec)
        return cls(model, tokenizer, convention=convention, name=spec.id, **kwargs)

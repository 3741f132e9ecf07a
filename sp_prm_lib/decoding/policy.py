"""The policy side of decoding: prompt rendering, a batched KV-cache state, sampling.

``PolicyState`` holds the rows being decoded (one per prompt, beam or
candidate): a ``DynamicCache``, a 2-D attention mask over the cached
positions, each row's next position id and its next-token logits. Rows are
left-padded once at prefill; after that a row may carry *holes* (positions
masked out, e.g. a rejected CARDS segment or a row idling while others
finish their chunk). Rows are reordered, duplicated and dropped with the
cache's public ``batch_select_indices``; nothing is recomputed.

Sampling draws from one ``torch.Generator`` per prompt (its own stream,
``stream_seed``), with a fixed number of uniforms per prompt and step, so a prompt's result does not depend on
which other prompts share its batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.data.dialogue import dialogue_to_messages
from sp_prm_lib.models.chat import chat_prompt_ids, has_chat_template


@dataclass
class Policy:
    """A causal LM and its tokenizer, with how prompts are rendered.

    ``render``: prompt text -> token ids; default: the tokenizer's chat
    template over ``dialogue_to_messages(prompt)`` with the assistant turn
    opened (the prompt's own text when the tokenizer has no template).
    """

    model: object
    tokenizer: object
    render: Callable[[str], list[int]] | None = None
    eos_ids: frozenset[int] = field(default=frozenset())
    pad_id: int | None = None

    def __post_init__(self):
        if not self.eos_ids:
            ids = set()
            for source in (getattr(self.model, "generation_config", None), self.model.config):
                eos = getattr(source, "eos_token_id", None) if source is not None else None
                ids.update([eos] if isinstance(eos, int) else (eos or []))
            if self.tokenizer.eos_token_id is not None:
                ids.add(self.tokenizer.eos_token_id)
            self.eos_ids = frozenset(ids)
        if self.pad_id is None:
            pad = self.tokenizer.pad_token_id
            self.pad_id = pad if pad is not None else (min(self.eos_ids) if self.eos_ids else 0)

    @property
    def context_length(self) -> int | None:
        return getattr(self.model.config, "max_position_embeddings", None)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def prompt_ids(self, prompt: str) -> list[int]:
        if self.render is not None:
            return list(self.render(prompt))
        tok = self.tokenizer
        if has_chat_template(tok):
            return chat_prompt_ids(tok, dialogue_to_messages(prompt))
        return list(tok(prompt).input_ids)

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=True)

    def decode_many(self, rows: Sequence[Sequence[int]]) -> list[str]:
        return self.tokenizer.batch_decode([list(r) for r in rows], skip_special_tokens=True)


def as_policy(obj) -> Policy:
    """A ``Policy`` from itself or a ``(model, tokenizer)`` pair."""
    if isinstance(obj, Policy):
        return obj
    if isinstance(obj, tuple) and len(obj) == 2:
        return Policy(*obj)
    raise ConfigError(f"expected a Policy or a (model, tokenizer) pair, got {type(obj).__name__}")


def render_prompts(
    policy: Policy, prompts: Sequence[str], indices: Sequence[int], max_new_tokens: int
) -> list[list[int]]:
    """Token ids of each prompt; a prompt that leaves no room for the response is an error."""
    if not prompts:
        raise ConfigError("no prompts to decode (empty prompt list)")
    limit = policy.context_length
    out = []
    for index, prompt in zip(indices, prompts, strict=True):
        if not isinstance(prompt, str) or not prompt.strip():
            raise ConfigError(f"prompt {index} is empty or not text: {prompt!r:.60}")
        ids = policy.prompt_ids(prompt)
        if limit is not None and len(ids) + max_new_tokens > limit:
            raise ConfigError(
                f"prompt {index} is {len(ids)} policy tokens; with max_new_tokens={max_new_tokens} it "
                f"exceeds the policy's context of {limit} tokens ({prompt[:60]!r}...)"
            )
        out.append(ids)
    return out


def left_pad(rows: Sequence[Sequence[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids, mask) of rows left-padded to one width."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for b, row in enumerate(rows):
        if row:
            ids[b, width - len(row) :] = torch.tensor(list(row), dtype=torch.long)
            mask[b, width - len(row) :] = 1
    return ids, mask


def new_cache(model):
    from transformers import DynamicCache

    return DynamicCache(config=model.config)


class PolicyState:
    """KV cache, attention mask, next positions and next-token logits of a batch of rows."""

    def __init__(self, policy: Policy, cache, mask: torch.Tensor, next_pos: torch.Tensor, logits: torch.Tensor):
        self.policy = policy
        self.cache = cache
        self.mask = mask
        self.next_pos = next_pos
        self.logits = logits
        self.forwards = 0  # model calls, for tests and benchmarks

    @classmethod
    @torch.inference_mode()
    def prefill(cls, policy: Policy, rows: Sequence[Sequence[int]]) -> PolicyState:
        ids, mask = left_pad(rows, policy.pad_id)
        device = policy.device
        position_ids = (mask.cumsum(-1) - 1).clamp(min=0)
        cache = new_cache(policy.model)
        out = policy.model(
            input_ids=ids.to(device),
            attention_mask=mask.to(device),
            position_ids=position_ids.to(device),
            past_key_values=cache,
            use_cache=True,
            logits_to_keep=1,
        )
        state = cls(policy, out.past_key_values, mask.to(device), mask.sum(-1).to(device), out.logits[:, -1].float())
        state.forwards = 1
        return state

    @property
    def rows(self) -> int:
        return self.mask.shape[0]

    @torch.inference_mode()
    def step(self, tokens: torch.Tensor, active: torch.Tensor | None = None) -> None:
        """Append one token per row; rows with ``active`` False get a masked-out hole
        and keep their logits."""
        device = self.mask.device
        tokens = tokens.to(device)
        act = torch.ones_like(tokens, dtype=torch.bool) if active is None else active.to(device)
        self.mask = torch.cat([self.mask, act.long()[:, None]], dim=1)
        out = self.policy.model(
            input_ids=tokens[:, None],
            attention_mask=self.mask,
            position_ids=self.next_pos[:, None],
            past_key_values=self.cache,
            use_cache=True,
            logits_to_keep=1,
        )
        self.cache = out.past_key_values
        new = out.logits[:, -1].float()
        self.logits = new if active is None else torch.where(act[:, None], new, self.logits)
        self.next_pos = self.next_pos + act.long()
        self.forwards += 1

    def select(self, rows: Sequence[int] | torch.Tensor) -> None:
        """Keep (reorder, duplicate) the given rows, in place."""
        index = torch.as_tensor(rows, dtype=torch.long, device=self.mask.device)
        if index.numel() == self.rows and torch.equal(index, torch.arange(self.rows, device=index.device)):
            return
        self.cache.batch_select_indices(index)
        self.mask = self.mask[index]
        self.next_pos = self.next_pos[index]
        self.logits = self.logits[index]


# -- token choice --------------------------------------------------------------
def suppress_eos(logits: torch.Tensor, eos_ids: frozenset[int], generated: int, min_new_tokens: int) -> torch.Tensor:
    """Logits with EOS ids at -inf while fewer than ``min_new_tokens`` tokens exist."""
    if generated >= min_new_tokens or not eos_ids:
        return logits
    logits = logits.clone()
    logits[:, sorted(eos_ids)] = float("-inf")
    return logits


def sample_tokens(
    logits: torch.Tensor, generator: torch.Generator, temperature: float = 1.0, top_k: int = 0
) -> torch.Tensor:
    """One token per row, drawn by inverse CDF with one uniform per row.

    The kept tokens (top ``top_k`` by logit, or all) are taken in vocabulary
    order, so near-ties in the logits cannot reorder the CDF.
    """
    scaled = logits.double() / temperature
    if top_k and top_k < scaled.shape[-1]:
        idx = scaled.topk(top_k, dim=-1).indices.sort(dim=-1).values
        kept = scaled.gather(-1, idx)
    else:
        idx, kept = None, scaled
    probs = torch.softmax(kept, dim=-1)
    cdf = probs.cumsum(-1)
    u = torch.rand(scaled.shape[0], generator=generator, dtype=torch.float64)
    # the first index whose CDF exceeds u: never a zero-probability token
    pick = torch.searchsorted(cdf, (u * cdf[:, -1])[:, None], right=True)[:, 0]
    last_positive = (probs > 0).long().cumsum(-1).argmax(-1)
    pick = torch.minimum(pick, last_positive)
    return pick if idx is None else idx.gather(-1, pick[:, None])[:, 0]


def entropy(logits: torch.Tensor) -> torch.Tensor:
    """Shannon entropy (nats) of softmax(logits), per row."""
    logp = torch.log_softmax(logits.double(), dim=-1)
    return -(logp.exp() * logp).nan_to_num(0.0).sum(-1)


def stream_seed(seed: int, index: int, stream: int = 0) -> int:
    """The 64-bit seed of prompt ``index``'s random stream under run seed ``seed``.

    From ``numpy.random.SeedSequence([seed, index])`` (``[seed, index, stream]``
    for the other streams, e.g. CARDS calibration), so streams of different
    (seed, index) pairs are independent: seed s+1 is not seed s shifted by
    one prompt, as ``seed + index`` would be.
    """
    import numpy as np

    key = [int(seed), int(index)] + ([int(stream)] if stream else [])
    return int(np.random.SeedSequence(key).generate_state(1, dtype=np.uint64)[0])


def make_generators(seed: int, indices: Sequence[int], stream: int = 0) -> list[torch.Generator]:
    """One CPU generator per prompt, seeded with ``stream_seed(seed, index, stream)``."""
    return [torch.Generator().manual_seed(stream_seed(seed, i, stream)) for i in indices]

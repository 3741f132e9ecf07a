"""A reward model's forward pass, in one place for every path that scores.

A causal reward model (a Llama/Gemma-style sequence classifier) is a trunk
(``model.base_model``) and a linear ``score`` head applied at every position;
its reward for a sequence is the head's output at the last token. Scoring
many prefixes at once (``reward_model.pack_closed``), training
(``forward_rewards``) and the cached decoding scorers
(``decoding.scorers.RMSession``, ``decoding.retokenize.RetokenizedCache``)
all run the trunk with an explicit attention pattern and positions, then
the head at chosen positions. The pieces:

- ``additive_mask``: a boolean pattern (query may attend to key) as the
  additive mask the models take: 0 where allowed, the dtype's minimum elsewhere;
- ``reward_head``: the score head on hidden states, one float32 reward per position;
- ``trunk_forward``: one cached forward of the trunk (inference only), for
  the decoding scorers that extend a KV cache step by step;
- ``forward_rewards``: the rewards at ``Packed.read`` (differentiable), for
  scoring and training; bidirectional models (BERT-style) use their own
  pooled output there.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

BIDIRECTIONAL_TYPES = {
    "bert",
    "roberta",
    "deberta",
    "deberta-v2",
    "distilbert",
    "electra",
    "xlm-roberta",
    "mpnet",
    "albert",
    "modernbert",
}


@dataclass
class Packed:
    """Model inputs plus where to read each requested reward.

    ``read[b, j]`` is the position of the j-th reward of row b; ``valid``
    marks real (not padding) entries of ``read``.
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor  # 2-D (B, T) or additive 4-D (B, 1, T, T)
    position_ids: torch.Tensor
    read: torch.Tensor
    valid: torch.Tensor
    token_type_ids: torch.Tensor | None = None


def is_causal_reward_model(model) -> bool:
    """True for decoder-only sequence classifiers with a per-position ``score`` head."""
    return model.config.model_type not in BIDIRECTIONAL_TYPES and hasattr(model, "score")


def additive_mask(allowed: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """A boolean attention pattern as the additive mask models take (0 or the dtype's minimum)."""
    out = torch.zeros(allowed.shape, dtype=dtype, device=allowed.device)
    return out.masked_fill_(~allowed, torch.finfo(dtype).min)


def reward_head(model, hidden: torch.Tensor) -> torch.Tensor:
    """A causal reward model's score head on hidden states, one float32 reward per position."""
    return model.score(hidden).squeeze(-1).float()


@torch.inference_mode()
def trunk_forward(model, cache, ids: torch.Tensor, allowed: torch.Tensor, positions: torch.Tensor):
    """One forward of a reward model's trunk over ``cache`` with an explicit 4-D attention pattern
    and positions (the cached RM paths); returns (last hidden states, the updated cache)."""
    out = model.base_model(
        input_ids=ids,
        attention_mask=additive_mask(allowed, model.dtype),
        position_ids=positions,
        past_key_values=cache,
        use_cache=True,
    )
    return out.last_hidden_state, out.past_key_values


def forward_rewards(model, packed: Packed) -> torch.Tensor:
    """Rewards (B, J) at ``packed.read`` (differentiable; padding entries are 0).

    Causal models: the score head on the base model's hidden states. Other
    models: their own pooled output (one read per row).
    """
    device = next(model.parameters()).device
    if is_causal_reward_model(model):
        hidden = model.base_model(
            input_ids=packed.input_ids.to(device),
            attention_mask=packed.attention_mask.to(device),
            position_ids=packed.position_ids.to(device),
        ).last_hidden_state
        index = packed.read.to(device).unsqueeze(-1).expand(-1, -1, hidden.shape[-1])
        rewards = reward_head(model, hidden.gather(1, index))
    else:
        kwargs = {"token_type_ids": packed.token_type_ids.to(device)} if packed.token_type_ids is not None else {}
        logits = model(
            input_ids=packed.input_ids.to(device), attention_mask=packed.attention_mask.to(device), **kwargs
        ).logits
        rewards = logits[:, :1].float()
    return rewards * packed.valid.to(device)

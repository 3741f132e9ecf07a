"""``GoldReward``: g(x, y) = sum of weight x component, a reward model whose scores are known; or,
as in Gao et al. (2022), a reward model trained on that sum's labels (``model=``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from sp_prm_lib.config.gold import GOLD_COMPONENTS, GoldSpec
from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.gold.components import COMPONENTS


class GoldReward:
    """The lab's gold reward; scores any text, memoised per (prompt, response).

    It offers the parts of the ``RewardModel`` interface that the agreement
    rates, judges and decoders use: ``score``, ``score_texts`` and, with a
    ``tokenizer`` that defines the prefix unit, ``response_ids`` and
    ``score_prefixes`` (a prefix is scored as the text of its tokens).
    """

    def __init__(
        self,
        weights: Mapping[str, float] | GoldSpec,
        embedder=None,
        tokenizer=None,
        name: str = "gold",
        *,
        model=None,
        model_description: str = "",
    ):
        spec = weights if isinstance(weights, GoldSpec) else GoldSpec(components=dict(weights))
        self.weights = dict(spec.components)
        self.spec = spec
        # model: a reward model (``score(prompts, responses)``) trained on the labels of the
        # components, which are then its teacher; the gold's scores are the model's.
        self.model, self.model_description = model, model_description
        needs_embedder = self.weights.get("relevance", 0) != 0 and model is None
        if needs_embedder and embedder is None:
            raise ConfigError("gold.components.relevance needs the profile's embedder")
        self.embedder, self.tokenizer, self.name = embedder, tokenizer, name
        self._memo: dict[tuple[str, str], float] = {}

    def describe(self) -> str:
        """One sentence a reader can check: the recipe and what each part measures."""
        parts = "; ".join(f"{name}: {GOLD_COMPONENTS[name]}" for name in self.weights)
        teacher = f"{self.spec.describe()} ({parts})"
        if self.model is None:
            return f"g(x, y) = {teacher}."
        return (
            f"g(x, y) = the reward of {self.model_description or 'a reward model trained on the teacher labels'}; "
            f"the teacher: {teacher}."
        )

    def components(self, prompts: Sequence[str], responses: Sequence[str]) -> dict[str, np.ndarray]:
        """Each component's value per (prompt, response), unweighted."""
        if len(prompts) != len(responses):
            raise ConfigError(f"{len(prompts)} prompts but {len(responses)} responses")
        return {name: COMPONENTS[name](prompts, responses, self.embedder) for name in self.weights}

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> torch.Tensor:
        """g of each (prompt, response), as a float tensor like ``RewardModel.score``."""
        keys = list(zip(prompts, responses, strict=True))
        missing = list(dict.fromkeys(k for k in keys if k not in self._memo))
        if missing and self.model is not None:
            total = self.model.score([p for p, _ in missing], [r for _, r in missing]).float().numpy()
            self._memo.update(zip(missing, (float(v) for v in np.atleast_1d(total))))
        elif missing:
            parts = self.components([p for p, _ in missing], [r for _, r in missing])
            total = sum(self.weights[name] * parts[name] for name in self.weights)
            self._memo.update(zip(missing, (float(v) for v in np.atleast_1d(total))))
        return torch.tensor([self._memo[k] for k in keys], dtype=torch.float32)

    def score_texts(self, prompts: Sequence[str], responses: Sequence[str]) -> torch.Tensor:
        """The decoders' scorer interface: the same as ``score``."""
        return self.score(prompts, responses)

    def response_ids(self, responses: Sequence[str]) -> list[list[int]]:
        """Responses in the prefix unit's tokens (needs ``tokenizer``)."""
        if self.tokenizer is None:
            raise ConfigError("token prefixes of the gold need a tokenizer (GoldReward(..., tokenizer=...))")
        return self.tokenizer(list(responses), add_special_tokens=False).input_ids

    def response_lengths(self, responses: Sequence[str]) -> list[int]:
        return [len(ids) for ids in self.response_ids(responses)]

    def identical_prefixes(self, prompts, chosen, rejected, wanted_lengths) -> np.ndarray:
        """Which prefix pairs are the same text (ties); cuts as in ``RewardModel.identical_prefixes``
        (``t``: both cut at t tokens, a shorter one used whole; ``None``: the full responses)."""
        ids_w, ids_l = self.response_ids(chosen), self.response_ids(rejected)
        out = []
        for w, r, cuts in zip(ids_w, ids_l, wanted_lengths, strict=True):
            row = []
            for cut in cuts:
                a, b = (len(w), len(r)) if cut is None else (min(cut, len(w)), min(cut, len(r)))
                row.append(self.tokenizer.decode(w[:a]) == self.tokenizer.decode(r[:b]))
            out.append(row)
        return np.array(out, dtype=bool)

    def score_prefixes(
        self, prompts: Sequence[str], responses: Sequence[str], lengths: Sequence[Sequence[int]]
    ) -> list[torch.Tensor]:
        """g of the text of each response's first t tokens, for each t of ``lengths``."""
        ids = self.response_ids(responses)
        flat_prompts, flat_texts, shape = [], [], []
        for prompt, seq, ts in zip(prompts, ids, lengths, strict=True):
            shape.append(len(ts))
            for t in ts:
                flat_prompts.append(prompt)
                flat_texts.append(self.tokenizer.decode(seq[:t], skip_special_tokens=True))
        scores = self.score(flat_prompts, flat_texts)
        return list(torch.split(scores, shape))

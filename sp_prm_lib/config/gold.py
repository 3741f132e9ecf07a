"""The gold reward of the lab: which components, their weights, and how noisy its labels are."""

from __future__ import annotations

import math
from dataclasses import dataclass

from sp_prm_lib.config.schema import setting
from sp_prm_lib.core.errors import ConfigError

#: component name -> what it measures (sp_prm_lib.gold.components computes each)
GOLD_COMPONENTS = {
    "sentiment": "VADER compound sentiment of the whole response, in [-1, 1]",
    "sentiment_mean": "mean VADER compound sentiment of the response's sentences, in [-1, 1]",
    "relevance": "cosine similarity of the last human turn and the response in the MiniLM embedding",
    "length": "log(1 + number of words of the response)",
}
LABEL_SOURCES = ("human", "gold")


@dataclass(frozen=True)
class GoldSpec:
    """g(x, y) = sum of weight * component(x, y); labels drawn from Bradley-Terry on g.

    There is no default gold for a profile that uses one: ``data.labels: gold`` or
    ``analysis.judge: gold`` without a ``gold:`` section is refused on load
    (``config.profile``), because the lab's every number depends on the recipe; the
    field defaults below only fill a section that is given in part."""

    components: dict[str, float] = setting(
        default_factory=lambda: {"sentiment_mean": 1.0, "relevance": 1.5},
        help="component name -> weight; names: " + ", ".join(GOLD_COMPONENTS),
    )
    beta: float | None = setting(
        None, above=0, help="label temperature: P(y1 preferred) = sigmoid((g1 - g2) / beta); null: noise-free"
    )
    tie_eps: float = setting(1e-6, min=0, help="gold scores closer than this are a tie (judge and labels)")
    seed: int = setting(0, min=0, help="seed of the noisy labels")

    def __post_init__(self):
        if not self.components:
            raise ConfigError("components: give at least one gold component")
        for name, weight in self.components.items():
            if name not in GOLD_COMPONENTS:
                raise ConfigError(f"components.{name}: unknown gold component (known: {', '.join(GOLD_COMPONENTS)})")
            if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight):
                raise ConfigError(f"components.{name}: weight must be a finite number, got {weight!r}")
        if all(w == 0 for w in self.components.values()):
            raise ConfigError("components: every weight is 0, so the gold is constant")

    def describe(self) -> str:
        """The recipe in one line: ``1.0 x sentiment + 2.5 x relevance - 0.15 x length``."""
        parts = []
        for i, (name, w) in enumerate(self.components.items()):
            sign = "-" if w < 0 else ("+" if i else "")
            parts.append(f"{sign} {abs(w):g} x {name}".strip())
        return " ".join(parts)

"""Judge backend: a reward model as a stand-in for human preference.

Prefers the answer the RewardModel scores higher; a tie when the scores
differ by less than ``eps``. It sees no answer order, so both orders of a
pairwise judgement always agree. Scores are memoised per (prompt, answer),
so judging both orders scores each answer once.
"""

from __future__ import annotations

from collections.abc import Sequence

from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.judge.base import Comparison, Judge, Verdict


class RewardProxyJudge(Judge):
    """Pairwise verdicts from ``rm.score(prompts, responses)``."""

    def __init__(self, rm, *, eps: float = 1e-5, name: str | None = None):
        if eps < 0:
            raise ConfigError(f"eps must be >= 0, got {eps}")
        self.rm = rm
        self.eps = eps
        self.name = name or f"rm-proxy:{getattr(rm, 'name', type(rm).__name__)}"
        self._memo: dict[tuple[str, str], float] = {}

    def _scores(self, pairs: list[tuple[str, str]]) -> list[float]:
        missing = list(dict.fromkeys(p for p in pairs if p not in self._memo))
        if missing:
            values = self.rm.score([p for p, _ in missing], [r for _, r in missing])
            self._memo.update(zip(missing, (float(v) for v in values)))
        return [self._memo[p] for p in pairs]

    def rewards(self, prompts: Sequence[str], responses: Sequence[str]) -> list[float]:
        """The scores the verdicts compare (e.g. the gold reward of each response)."""
        return self._scores(list(zip(prompts, responses, strict=True)))

    def compare(self, items: Sequence[Comparison]) -> list[Verdict]:
        if not items:
            return []
        a = self._scores([(c.prompt, c.answer_a) for c in items])
        b = self._scores([(c.prompt, c.answer_b) for c in items])
        out = []
        for ra, rb in zip(a, b):
            value = -1 if abs(ra - rb) < self.eps else (1 if ra > rb else 2)
            out.append(Verdict(value, f"r(A)={ra:.4f} r(B)={rb:.4f}", {"A": ra, "B": rb}))
        return out

"""Pairwise judgements in both answer orders, and the win-tie rate of the paper's tables.

Each pair (prompt, a, b) is judged twice: a shown as answer A, then b shown
as answer A. The outcome is "a" or "b" only when both orders prefer the same
answer; any other combination (a split, a tie in either order) is "tie". A
reply that cannot be parsed in either order makes the outcome "unparseable",
counted and reported apart, never as a win. (The released code showed the
method's answer always first and counted parse failures as wins.)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from sp_prm_lib.core.bootstrap import bootstrap_mean_ci
from sp_prm_lib.judge.base import Comparison, Judge, check_texts

OUTCOMES = ("a", "b", "tie", "unparseable")


def _side(verdict: int | None, first: str, second: str) -> str | None:
    return {1: first, 2: second, -1: "tie"}.get(verdict) if verdict is not None else None


def combine(verdict_ab: int | None, verdict_ba: int | None) -> str:
    """Outcome of the two orders' verdicts (1: shown-first better, 2: shown-second, -1: tie)."""
    first, second = _side(verdict_ab, "a", "b"), _side(verdict_ba, "b", "a")
    if first is None or second is None:
        return "unparseable"
    return first if first == second and first != "tie" else "tie"


def judge_pairs(
    judge: Judge, prompts: Sequence[str], responses_a: Sequence[str], responses_b: Sequence[str]
) -> pd.DataFrame:
    """One row per pair: both orders' verdicts and replies, the outcome, and
    ``consistent`` (both orders parsed and named the same answer, or both a tie),
    and each order's per-candidate ``scores`` where the backend gives them.

    Identical requests are sent once (all in one ``judge.compare`` call).
    """
    n = check_texts(prompts=prompts, responses_a=responses_a, responses_b=responses_b)
    ab = [Comparison(p, a, b) for p, a, b in zip(prompts, responses_a, responses_b)]
    ba = [Comparison(p, b, a) for p, a, b in zip(prompts, responses_a, responses_b)]
    unique = list(dict.fromkeys(ab + ba))
    got = dict(zip(unique, judge.compare(unique), strict=True))
    rows = []
    for i in range(n):
        v1, v2 = got[ab[i]], got[ba[i]]
        first, second = _side(v1.value, "a", "b"), _side(v2.value, "b", "a")
        rows.append(
            {
                "verdict_ab": v1.value,
                "verdict_ba": v2.value,
                "outcome": combine(v1.value, v2.value),
                "consistent": first is not None and first == second,
                "reply_ab": v1.raw,
                "reply_ba": v2.raw,
                "scores_ab": v1.scores,
                "scores_ba": v2.scores,
            }
        )
    table = pd.DataFrame(rows)
    for col in ("verdict_ab", "verdict_ba"):
        table[col] = table[col].astype("Int64")
    return table


def outcome_summary(outcomes: Sequence[str], *, n_boot: int = 1000, level: float = 0.95, seed: int = 0) -> dict:
    """Counts and rates of outcomes of "a" against "b".

    Rates are over parseable judgements; ``unparseable_rate`` is over all.
    ``win_tie_rate`` = (wins + ties) / parseable, with a bootstrap CI over pairs.
    """
    outcomes = list(outcomes)
    counts = {o: outcomes.count(o) for o in OUTCOMES}
    n, judged = len(outcomes), len(outcomes) - counts["unparseable"]
    rate = (lambda k: counts[k] / judged) if judged else (lambda k: float("nan"))
    win_tie = np.array([np.nan if o == "unparseable" else float(o in ("a", "tie")) for o in outcomes])
    low, high = bootstrap_mean_ci(win_tie, n_boot=n_boot, level=level, seed=seed) if n else (np.nan, np.nan)
    return {
        "n": n,
        "wins": counts["a"],
        "ties": counts["tie"],
        "losses": counts["b"],
        "unparseable": counts["unparseable"],
        "win_rate": rate("a"),
        "tie_rate": rate("tie"),
        "loss_rate": rate("b"),
        "win_tie_rate": (counts["a"] + counts["tie"]) / judged if judged else float("nan"),
        "win_tie_ci_low": float(low),
        "win_tie_ci_high": float(high),
        "unparseable_rate": counts["unparseable"] / n if n else float("nan"),
    }


def win_tie_rate(
    judge: Judge,
    prompts: Sequence[str],
    method_responses: Sequence[str],
    base_responses: Sequence[str],
    **summary_kwargs,
) -> dict:
    """Win/tie/loss of a method's responses against the base policy's (the paper's win-tie rate)."""
    table = judge_pairs(judge, prompts, method_responses, base_responses)
    return {"judge": judge.name, **outcome_summary(table.outcome.tolist(), **summary_kwargs)}

"""How far a judge is from human preference: agreement with HH-RLHF labels.

Each full pair is judged in both orders (``pairwise.judge_pairs``); the judge
agrees when it prefers the human-chosen response in both. Ties (including
order-dependent verdicts) and unparseable replies count as not agreeing in
``agreement``; ``decided_agreement`` leaves them out.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np
import pandas as pd

from sp_prm_lib.core.bootstrap import bootstrap_mean_ci
from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.judge.base import Judge
from sp_prm_lib.judge.pairwise import judge_pairs


def judge_agreement(
    judge: Judge, pairs: pd.DataFrame, *, n_boot: int = 1000, level: float = 0.95, seed: int = 0
) -> dict:
    """Agreement of ``judge`` with the chosen/rejected labels of ``pairs`` (prompt, chosen, rejected)."""
    missing = {"prompt", "chosen", "rejected"} - set(pairs.columns)
    if missing:
        raise ConfigError(f"pairs lack column(s) {', '.join(sorted(missing))}")
    start = time.perf_counter()
    table = judge_pairs(judge, pairs.prompt.tolist(), pairs.chosen.tolist(), pairs.rejected.tolist())
    seconds = time.perf_counter() - start
    out = table.outcome
    agree = (out == "a").to_numpy(dtype=float)
    low, high = bootstrap_mean_ci(agree, n_boot=n_boot, level=level, seed=seed)
    decided = int((out == "a").sum() + (out == "b").sum())
    return {
        "judge": judge.name,
        "pairs": len(out),
        "agreement": float(agree.mean()),
        "ci_low": float(low),
        "ci_high": float(high),
        "decided_agreement": float((out == "a").sum() / decided) if decided else float("nan"),
        "disagreement_rate": float((out == "b").mean()),
        "tie_rate": float((out == "tie").mean()),
        "unparseable_rate": float((out == "unparseable").mean()),
        "order_consistency": float(table.consistent.mean()),
        "debiased_agreement": debiased_agreement(table),
        "seconds": round(seconds, 2),
    }


def debiased_agreement(table: pd.DataFrame) -> float:
    """Share of pairs whose verdict margin logp(1) - logp(2) favours answer a across the two orders
    (NaN unless every judgement carries scores for verdicts 1 and 2; exact margin ties count as misses)."""
    margins = []
    for ab, ba in zip(table.scores_ab, table.scores_ba):
        if not all(isinstance(s, dict) and 1 in s and 2 in s for s in (ab, ba)):
            return float("nan")
        margins.append((ab[1] - ab[2]) - (ba[1] - ba[2]))
    return float((np.array(margins) > 0).mean()) if margins else float("nan")


def judge_agreement_table(judges: Mapping[str, Judge], pairs: pd.DataFrame, **kwargs) -> pd.DataFrame:
    """``judge_agreement`` of several judges, one row each (keyed by the mapping's names)."""
    return pd.DataFrame(
        [{"backend": name, **judge_agreement(judge, pairs, **kwargs)} for name, judge in judges.items()]
    )

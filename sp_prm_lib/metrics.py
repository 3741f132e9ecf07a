"""Agreement of a reward model with score consistency, and full-pair accuracy.

``AR_RM-SC(t)`` (paper section 3.2, appendix B): the fraction of pairs whose
t-token prefixes the RM orders like their full responses are labelled,
``r(x, y_w[:t]) > r(x, y_l[:t])``; a response shorter than t is used whole.
Prefix lengths are in the reward model's tokens.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .errors import ConfigError
from .rewards import RewardModel


def prefix_score_table(rm: RewardModel, pairs: pd.DataFrame, ts: Sequence[int]) -> dict[str, np.ndarray]:
    """Rewards (n_pairs, len(ts) + 1) of chosen and rejected prefixes at ``ts`` and in full.

    The last column is the full response. Uses one-pass prefix scoring where
    the RM allows it.
    """
    if len(pairs) == 0:
        raise ConfigError("no pairs to score")
    if any(t < 1 for t in ts):
        raise ConfigError(f"prefix lengths must be >= 1, got {list(ts)}")
    out = {}
    for side in ("chosen", "rejected"):
        texts = pairs[side].tolist()
        lengths = rm.response_lengths(texts)
        wanted = [[min(t, n) for t in ts] + [n] for n in lengths]
        scores = rm.score_prefixes(pairs.prompt.tolist(), texts, wanted)
        out[side] = np.stack([s.numpy() for s in scores])
    return out


def agreement_rm_sc(scores: dict[str, np.ndarray], ts: Sequence[int]) -> pd.DataFrame:
    """AR_RM-SC(t) and mean reward gap |r(y_w[:t]) - r(y_l[:t])| per t, plus the full pair (t=None)."""
    chosen, rejected = scores["chosen"], scores["rejected"]
    rows = []
    for j, t in enumerate(list(ts) + [None]):
        rows.append({"t": t, "ar_rm_sc": float((chosen[:, j] > rejected[:, j]).mean()),
                     "reward_gap": float(np.abs(chosen[:, j] - rejected[:, j]).mean()), "pairs": len(chosen)})
    return pd.DataFrame(rows)


def evaluate_reward_model(rm: RewardModel, pairs: pd.DataFrame, ts: Sequence[int]) -> dict:
    """Full-pair accuracy and AR_RM-SC at ``ts`` on held-out pairs, as plain numbers."""
    table = agreement_rm_sc(prefix_score_table(rm, pairs, ts), ts)
    partial = table[table.t.notna()]
    return {
        "pairs": len(pairs),
        "accuracy": float(table.ar_rm_sc.iloc[-1]),
        "ar_rm_sc": {int(t): float(a) for t, a in zip(partial.t, partial.ar_rm_sc)},
        "reward_gap": {int(t): float(g) for t, g in zip(partial.t, partial.reward_gap)},
    }

"""Agreement rates AR_RM-SC(t), AR_RM-HP(t), AR_SC-HP(t) and the reward gap, with bootstrap CIs.

Paper section 3.2 and appendix B. For each pair (x, y_w, y_l) and prefix
length t, three criteria order the two t-prefixes:

- RM: the reward model, sign(r(x, y_w[:t]) - r(x, y_l[:t])) (equal scores: no order);
- SC: score consistency, always "y_w prefix preferred";
- HP: a judge (``sp_prm_lib.judge``) comparing the two prefixes with the
  partial-answer template, in both answer orders; a split or tie is "tie",
  an unparseable judgement leaves the pair out of the HP rates (counted).

AR_{c1-c2}(t) is the fraction of pairs on which c1 and c2 give the same
order (XNOR of the orders), so AR_RM-SC = mean[r_w > r_l] and
AR_SC-HP = mean[judge prefers y_w]: a judge tie never agrees with SC. In
AR_RM-HP a judge tie agrees only with an RM tie (equal scores or identical
prefixes): both give no order, so their orders are the same.
Delta_r(t) = mean |r_w - r_l|. The paper's words define AR_RM-SC against the
RM's own order of the full responses instead: that second quantity is
``ar_rm_own`` (see ``rm_per_pair``). Two prefixes that are the same token
sequence are a tie for every rate.

Prefix units: ``token`` of the reward model's tokenizer (scored in one pass
per response with ``RewardModel.score_prefixes`` where the RM allows it) or
whitespace ``word`` units (``" ".join(words[:t])``, as the released code cuts,
scored with ``rm.score``). A response shorter than t is used whole. Each
table also has the full responses (``t`` = <NA>). CIs: percentile bootstrap
over pairs, one resampling shared by all t.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from sp_prm_lib.core.bootstrap import bootstrap_mean_ci
from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.judge import Judge, judge_pairs

DEFAULT_TS = tuple(range(5, 51, 5))
UNITS = ("token", "word")
_ORDER = {"a": 1.0, "b": -1.0, "tie": 0.0, "unparseable": np.nan}


def _check(pairs: pd.DataFrame, ts: Sequence[int], unit: str) -> list[int]:
    if unit not in UNITS:
        raise ConfigError(f"prefix unit must be one of {', '.join(UNITS)}, got {unit!r}")
    if len(pairs) == 0:
        raise ConfigError("no pairs to measure")
    missing = {"prompt", "chosen", "rejected"} - set(pairs.columns)
    if missing:
        raise ConfigError(f"pairs lack column(s) {', '.join(sorted(missing))}")
    ts = list(ts)
    if not ts or any(isinstance(t, bool) or not isinstance(t, (int, np.integer)) or t < 1 for t in ts):
        raise ConfigError(f"prefix lengths must be a non-empty list of ints >= 1, got {ts}")
    return [int(t) for t in ts]


def word_prefix(text: str, t: int) -> str:
    """The first ``t`` whitespace words of ``text``, joined by single spaces."""
    return " ".join(text.split()[:t])


def prefix_texts(responses: Sequence[str], ts: Sequence[int], unit: str, tokenizer=None) -> list[list[str]]:
    """For each response, its prefix text at each t (tokens: decoded from ``tokenizer``'s ids)."""
    if unit == "word":
        return [[word_prefix(r, t) for t in ts] for r in responses]
    if tokenizer is None:
        raise ConfigError("token prefixes need a tokenizer (pass rm= or tokenizer=), or use unit='word'")
    ids = tokenizer(list(responses), add_special_tokens=False).input_ids
    return [[tokenizer.decode(seq[:t]) for t in ts] for seq in ids]


def prefix_score_table(rm, pairs: pd.DataFrame, ts: Sequence[int]) -> dict[str, np.ndarray]:
    """Rewards (n_pairs, len(ts) + 1) of chosen and rejected token prefixes at ``ts`` and in full.

    The last column is the full response; a response shorter than t is used
    whole. Uses one-pass prefix scoring where the RM allows it. ``identical``
    marks the prefix pairs whose two sides are the same token sequence (they
    are ties, whatever tiny difference the packed forward pass gives them).
    """
    if len(pairs) == 0:
        raise ConfigError("no pairs to score")
    if any(t < 1 for t in ts):
        raise ConfigError(f"prefix lengths must be >= 1, got {list(ts)}")
    out = {}
    for side in ("chosen", "rejected"):
        texts = pairs[side].tolist()
        wanted = [[min(t, n) for t in ts] + [n] for n in rm.response_lengths(texts)]
        scores = rm.score_prefixes(pairs.prompt.tolist(), texts, wanted)
        out[side] = np.stack([s.numpy() for s in scores])
    cuts = [[*ts, None]] * len(pairs)
    out["identical"] = rm.identical_prefixes(
        pairs.prompt.tolist(), pairs.chosen.tolist(), pairs.rejected.tolist(), cuts
    )
    return out


def rm_per_pair(scores: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The per-pair quantities behind every reward-model agreement rate (pairs x columns, last: full).

    Two quantities go by the name AR_RM-SC, because the paper's formula and its words differ:

    - ``ar_rm_sc`` (the formula, Appendix B): 1 when r(y_w[:t]) > r(y_l[:t]), i.e. the RM orders
      the prefixes like the *human label* of the full pair. Its full-response column is the RM's
      accuracy, so an RM at chance scores about 0.5 here whatever its prefixes do.
    - ``ar_rm_own`` (the words, section 3.1): 1 when the RM orders the prefixes like it orders the
      *full responses itself*: sign(r(y_w[:t]) - r(y_l[:t])) = sign(r(y_w) - r(y_l)). It needs no
      label, and an RM at chance can still be perfectly consistent with itself. NaN where the RM
      ties the full responses (no order to keep).

    ``reward_gap`` is |r(y_w[:t]) - r(y_l[:t])|. A tie (equal scores, or identical token
    sequences when ``scores["identical"]`` is given) agrees with neither order.
    """
    diff = scores["chosen"] - scores["rejected"]
    if "identical" in scores:
        diff = np.where(scores["identical"], 0.0, diff)
    order = np.sign(diff)
    full = order[:, -1:]
    own = np.where(full == 0, np.nan, ((order == full) & (order != 0)).astype(float))
    return {"ar_rm_sc": (diff > 0).astype(float), "ar_rm_own": own, "reward_gap": np.abs(diff)}


def evaluate_reward_model(rm, pairs: pd.DataFrame, ts: Sequence[int]) -> dict:
    """Full-pair accuracy and AR_RM-SC / reward gap at ``ts`` on held-out pairs, as plain numbers."""
    ts = _check(pairs, ts, "token")
    per_pair = {k: np.nanmean(v, axis=0) for k, v in rm_per_pair(prefix_score_table(rm, pairs, ts)).items()}
    return {
        "pairs": len(pairs),
        "accuracy": float(per_pair["ar_rm_sc"][-1]),
        "ar_rm_sc": {t: float(a) for t, a in zip(ts, per_pair["ar_rm_sc"][:-1])},
        "ar_rm_own": {t: float(a) for t, a in zip(ts, per_pair["ar_rm_own"][:-1])},
        "reward_gap": {t: float(g) for t, g in zip(ts, per_pair["reward_gap"][:-1])},
    }


def rm_prefix_scores(rm, pairs: pd.DataFrame, ts: Sequence[int], unit: str = "token") -> dict[str, np.ndarray]:
    """Rewards (n_pairs, len(ts) + 1) of chosen and rejected prefixes; the last column is the full response."""
    ts = _check(pairs, ts, unit)
    if unit == "token":
        return prefix_score_table(rm, pairs, ts)
    prompts = pairs.prompt.tolist()
    wanted = {}  # (prompt, text) -> reward; identical texts (saturated prefixes) are scored once
    texts = {}
    for side in ("chosen", "rejected"):
        full = pairs[side].tolist()
        texts[side] = [row + [r] for row, r in zip(prefix_texts(full, ts, "word"), full)]
        for p, row in zip(prompts, texts[side]):
            wanted.update({(p, x): None for x in row})
    keys = list(wanted)
    scores = rm.score([p for p, _ in keys], [x for _, x in keys])
    wanted = dict(zip(keys, (float(s) for s in scores)))
    return {side: np.array([[wanted[(p, x)] for x in row] for p, row in zip(prompts, texts[side])]) for side in texts}


def judge_prefix_orders(
    judge: Judge, pairs: pd.DataFrame, ts: Sequence[int], unit: str = "token", tokenizer=None
) -> np.ndarray:
    """Judge orders (n_pairs, len(ts) + 1): 1 chosen prefix preferred, -1 rejected, 0 tie, NaN unparseable.

    The last column judges the full responses. All requests go in one call.
    """
    ts = _check(pairs, ts, unit)
    prompts = pairs.prompt.tolist()
    chosen = [
        row + [r] for row, r in zip(prefix_texts(pairs.chosen.tolist(), ts, unit, tokenizer), pairs.chosen.tolist())
    ]
    rejected = [
        row + [r] for row, r in zip(prefix_texts(pairs.rejected.tolist(), ts, unit, tokenizer), pairs.rejected.tolist())
    ]
    k = len(ts) + 1
    table = judge_pairs(
        judge,
        [p for p in prompts for _ in range(k)],
        [x for row in chosen for x in row],
        [x for row in rejected for x in row],
    )
    return table.outcome.map(_ORDER).to_numpy(dtype=float).reshape(len(pairs), k)


def per_pair_quantities(scores: dict[str, np.ndarray] | None = None, hp: np.ndarray | None = None) -> dict:
    """Every per-pair agreement quantity (pairs x columns, last: full) from RM scores and/or judge
    orders: those of ``rm_per_pair``, ``ar_sc_hp`` (the judge prefers the chosen prefix) and
    ``ar_rm_hp`` (the RM orders the prefixes as the judge does); NaN where the judge gave no order."""
    if scores is None and hp is None:
        raise ConfigError("nothing to measure: give reward-model scores and/or judge orders")
    per_pair = {}
    if scores is not None:
        per_pair.update(rm_per_pair(scores))
        diff = scores["chosen"] - scores["rejected"]
        if "identical" in scores:
            diff = np.where(scores["identical"], 0.0, diff)
    if hp is not None:
        per_pair["ar_sc_hp"] = np.where(np.isnan(hp), np.nan, (hp == 1).astype(float))
        if scores is not None:
            per_pair["ar_rm_hp"] = np.where(np.isnan(hp), np.nan, (np.sign(diff) == hp).astype(float))
    return per_pair


def summarise_agreement(
    ts: Sequence[int],
    unit: str,
    *,
    scores: dict[str, np.ndarray] | None = None,
    hp: np.ndarray | None = None,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Tidy table (metric, unit, t, value, ci_low, ci_high, n, excluded, hp_ties) from
    precomputed RM scores and/or judge orders (each with a last full-response column)."""
    per_pair = per_pair_quantities(scores, hp)
    labels = pd.array(list(ts) + [pd.NA], dtype="Int64")
    rows = []
    for metric, values in per_pair.items():
        low, high = bootstrap_mean_ci(values, n_boot=n_boot, level=level, seed=seed)
        counted = (~np.isnan(values)).sum(axis=0)
        with np.errstate(invalid="ignore"):
            means = np.nansum(values, axis=0) / np.maximum(counted, 1)
        for j, t in enumerate(labels):
            rows.append(
                {
                    "metric": metric,
                    "unit": unit,
                    "t": t,
                    "value": float(means[j]) if counted[j] else float("nan"),
                    "ci_low": float(low[j]),
                    "ci_high": float(high[j]),
                    "n": int(counted[j]),
                    "excluded": int(len(values) - counted[j]),
                    "hp_ties": int((hp[:, j] == 0).sum()) if metric in ("ar_sc_hp", "ar_rm_hp") else pd.NA,
                }
            )
    table = pd.DataFrame(rows)
    table["t"] = table["t"].astype("Int64")
    table["hp_ties"] = table["hp_ties"].astype("Int64")
    return table


def agreement_table(
    pairs: pd.DataFrame,
    ts: Sequence[int] = DEFAULT_TS,
    *,
    rm=None,
    judge: Judge | None = None,
    unit: str = "token",
    tokenizer=None,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """AR_RM-SC, reward gap (with ``rm``), AR_SC-HP (with ``judge``) and AR_RM-HP (both) over ``ts``.

    Token prefixes are cut with the RM's tokenizer, or ``tokenizer`` when no
    RM is given. Returns the tidy table of ``summarise_agreement``.
    """
    ts = _check(pairs, ts, unit)
    if rm is None and judge is None:
        raise ConfigError("nothing to measure: pass rm= and/or judge=")
    scores = rm_prefix_scores(rm, pairs, ts, unit) if rm is not None else None
    hp = None
    if judge is not None:
        tokenizer = tokenizer if tokenizer is not None else getattr(rm, "tokenizer", None)
        hp = judge_prefix_orders(judge, pairs, ts, unit, tokenizer)
    return summarise_agreement(ts, unit, scores=scores, hp=hp, n_boot=n_boot, level=level, seed=seed)


def t_labels(t: pd.Series) -> pd.Series:
    """Prefix lengths for display: the full-response rows (t = <NA>) labelled "full"."""
    return t.astype("object").where(t.notna(), "full")


def wide(table: pd.DataFrame, column: str = "value", by: str = "metric") -> pd.DataFrame:
    """One row per t ("full" last), one column per ``by`` value (a metric, or an ``rm``)."""
    key = t_labels(table["t"])
    out = table.assign(t=key).pivot(index="t", columns=by, values=column)
    return out.loc[list(dict.fromkeys(key)), list(dict.fromkeys(table[by]))].rename_axis(columns=None)

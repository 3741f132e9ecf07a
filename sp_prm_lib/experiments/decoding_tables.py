"""The decoding tables with the paper's labels: one row per (method, guiding RM), in the
paper's row order, next to the paper's values.

Table columns (``DecodingResult.table``): ``method`` (the paper's row:
``base``, ``args``, ``tbs``, ``cbs``, ``cards``, ``bon-<paper N>``),
``ours`` (the method as run here, e.g. ``bon-4``), ``variant`` (``none`` for
the base row), ``n``, ``reward`` (mean ORM score of the whole response: the
paper's "Average reward"), ``reward_sd``, ``ref_reward`` (the reference RM as
an independent evaluator), ``diversity``, ``coherence``, ``win_tie`` (percent,
HH-RLHF), ``asr`` / ``asr_refusal`` (percent, AdvBench), ``accuracy``
(percent, GSM8K), ``rouge_l`` (TL;DR), ``tokens``, ``decode_s``; CARDS rows
also ``acceptance`` (segments accepted by the reward test / drawn),
``segment_tokens`` (mean tokens per kept segment), ``tau_u`` and
``reward_threshold`` (the calibrated thresholds).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sp_prm_lib.experiments.decoding_tasks import Task, get_task
from sp_prm_lib.experiments.verdicts import win_tie_rates

LABELS = {"base": "Base", "args": "ARGS-G", "tbs": "TBS", "cbs": "CBS", "cards": "CARDS"}
VARIANT_LABELS = {"none": "", "orm": "", "sp-prm": "+Ours", "sc": "+Ablation"}


#: per-generation method statistics (``Generation.stats``) carried into the tables (CARDS)
STAT_COLUMNS = ("acceptance", "segment_tokens", "tau_u", "reward_threshold")


def with_method_stats(frame: pd.DataFrame, rec: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with a column per ``STAT_COLUMNS`` entry that the records' ``stats`` hold."""
    stats = rec["stats"] if "stats" in rec else pd.Series([{}] * len(rec))
    stats = [s if isinstance(s, dict) else {} for s in stats]
    for key in STAT_COLUMNS:
        if any(key in s for s in stats):
            frame[key] = [np.nan if s.get(key) is None else float(s[key]) for s in stats]
    return frame


#: compute per prompt carried from the run records (``decoding.cost``) into the tables
COST_COLUMNS = ("policy_forward_tokens", "rm_forward_tokens", "rm_calls")


def with_cost(frame: pd.DataFrame, rec: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with each prompt's share of its batch's compute (NaN for records written
    before the runs counted it)."""
    costs = rec["cost"] if "cost" in rec else pd.Series([{}] * len(rec))
    costs = [c if isinstance(c, dict) else {} for c in costs]
    for key in COST_COLUMNS:
        frame[key] = [float(c[key]) if key in c else np.nan for c in costs]
    return frame


def summarise(generations: pd.DataFrame, task: Task | str) -> pd.DataFrame:
    """One row per (method, variant) of the generations frame, in the paper's row order."""
    t = get_task(task) if isinstance(task, str) else task
    rows = []
    for (method, ours, variant), g in generations.groupby(["method", "ours", "variant"], sort=False):
        row = {
            "method": method,
            "ours": ours,
            "variant": variant,
            "n": len(g),
            "reward": g.reward.mean(),
            "reward_sd": g.reward.std(ddof=1) if len(g) > 1 else np.nan,
            "ref_reward": g.ref_reward.mean(),
            "judge_reward": g.judge_reward.mean() if "judge_reward" in g else np.nan,
            "diversity": g.diversity.mean(),
            "coherence": g.coherence.mean(),
        }
        if t.win_tie:
            if method == "base":
                row["win_tie"] = 50.0  # the paper's convention for the base row (not judged)
            else:
                rates = win_tie_rates(g.outcome)  # unparseable outcomes are left out
                row["win_tie"] = rates["win"] + rates["tie"]
                row["win"], row["tie"] = rates["win"], rates["tie"]
                row["unparseable"] = int((g.outcome == "unparseable").sum())
        for m in ("asr", "asr_refusal", "accuracy", "rouge_l"):
            if m in g:
                row[m] = g[m].mean()
        row["tokens"] = g.tokens.mean()
        row["decode_s"] = g.time_s.sum()
        # compute next to the wall time: mean forward token positions (and RM calls) per prompt
        for m in COST_COLUMNS:
            if m in g:
                row[m] = g[m].mean()
        # CARDS: mean acceptance rate and segment length, the calibrated thresholds
        for m in STAT_COLUMNS:
            if m in g and g[m].notna().any():
                row[m] = g[m].mean()
        rows.append(row)
    return pd.DataFrame(rows)


def row_label(method: str, ours: str, variant: str) -> str:
    """The paper's way of naming a row: ``CBS +Ours``, ``BoN-4 +Ablation``."""
    name = f"BoN-{ours[4:]}" if ours.startswith("bon-") else LABELS.get(ours, ours)
    suffix = VARIANT_LABELS.get(variant, f"({variant})")
    return f"{name} {suffix}".strip()


def compare_with_paper(result, metrics: list[str] | None = None) -> pd.DataFrame:
    """Our table of a ``DecodingResult`` next to the paper's (``comparison.side_by_side``) for the
    task's paper model."""
    from sp_prm_lib.experiments.comparison import paper_table, side_by_side

    t = get_task(result.task)
    paper_cols = set(paper_table(t.table).columns)
    metrics = [
        m
        for m in (metrics or ["reward", "reward_sd", "diversity", "coherence", "win_tie", "asr", "accuracy", "rouge_l"])
        if m in paper_cols and m in result.table
    ]
    out = side_by_side(
        t.table, result.table, on=["method", "variant"], metrics=metrics, paper_where={"model": t.paper_model}
    )
    ours = result.table.set_index(["method", "variant"]).ours
    out.insert(1, "ours as run", [ours.get((m, v), "") for m, v in zip(out.method, out.variant)])
    return order_rows(out)


def order_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows in the paper's order: base, ARGS-G, TBS, CBS, CARDS, BoN (small N first); variants
    none, orm, sp-prm, sc, then any other."""
    methods = ["base", "args", "tbs", "cbs", "cards"]
    variants = ["none", "orm", "sp-prm", "sc"]

    def m_key(m: str):
        return (
            (len(methods), int(m[4:]))
            if m.startswith("bon-")
            else (methods.index(m) if m in methods else len(methods) + 1, 0)
        )

    keys = [
        (m_key(m), variants.index(v) if v in variants else len(variants), v)
        for m, v in zip(frame.method, frame.variant)
    ]
    order = sorted(range(len(frame)), key=lambda i: keys[i])
    return frame.iloc[order].reset_index(drop=True)


def improvement_checks(
    table: pd.DataFrame, metric: str, better: str = "higher", against: str = "orm", variant: str = "sp-prm"
) -> pd.DataFrame:
    """Per guided method: ``metric`` with ``variant`` vs with ``against``, and whether it is better."""
    rows = []
    for method, g in table[table.method != "base"].groupby("method", sort=False):
        by = g.set_index("variant")[metric]
        if variant in by and against in by:
            a, b = float(by[variant]), float(by[against])
            rows.append(
                {"method": method, against: b, variant: a, "better": (a > b) if better == "higher" else (a < b)}
            )
    return pd.DataFrame(rows, columns=["method", against, variant, "better"])


def case_studies(result, indices: list[int] | None = None, seed: int | None = None) -> pd.DataFrame:
    """The same prompts under every (method, variant) side by side (paper Fig. 4 and Fig. 8):
    one row per (prompt, method, variant) with the response and its rewards."""
    g = result.generations
    seed = g.seed.min() if seed is None else seed
    g = g[(g.seed == seed) | (g.method == "base")]
    if indices is not None:
        g = g[g["index"].isin(indices)]
    g = g.assign(row=[row_label(m, o, v) for m, o, v in zip(g.method, g.ours, g.variant)])
    cols = ["index", "row", "method", "variant", "response", "reward", "ref_reward", "diversity"]
    if "outcome" in g:
        cols.append("outcome")
    return g[cols].sort_values(["index"], kind="stable").reset_index(drop=True)

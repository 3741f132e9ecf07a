"""Figures of the book: agreement curves with bootstrap bands, grouped bars of decoding metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sp_prm_lib.experiments.decoding import order_rows, row_label


def plot_curve(
    ax,
    table: pd.DataFrame,
    metric: str,
    rm: str,
    label: str | None = None,
    colour: str | None = None,
    alpha: float = 0.15,
):
    """``metric`` of ``rm`` over the prefix lengths with its 95% bootstrap band (full responses left out)."""
    rows = table[(table.metric == metric) & (table.rm == rm) & table.t.notna()]
    (line,) = ax.plot(rows.t, rows.value, "o-", color=colour, label=rm if label is None else label)
    ax.fill_between(rows.t.astype(float), rows.ci_low, rows.ci_high, color=line.get_color(), alpha=alpha)
    return line


def plot_metric(table: pd.DataFrame, metric: str, ax, title: str | None = None):
    """Grouped bars of ``metric`` per method (x) and guiding reward model (colour); the base
    row as a dashed line."""
    t = order_rows(table)
    guided = t[t.method != "base"]
    methods = list(dict.fromkeys(guided.ours))
    variants = list(dict.fromkeys(guided.variant))
    width = 0.8 / max(len(variants), 1)
    x = np.arange(len(methods))
    for j, v in enumerate(variants):
        vals = [guided[(guided.ours == m) & (guided.variant == v)][metric].mean() for m in methods]
        ax.bar(
            x + (j - (len(variants) - 1) / 2) * width,
            vals,
            width,
            label={"orm": "ORM", "sp-prm": "SP-PRM (+Ours)", "sc": "SC only (+Ablation)"}.get(v, v),
        )
    base = t[t.method == "base"][metric]
    if len(base) and not np.isnan(base.mean()):
        ax.axhline(base.mean(), color="grey", ls="--", lw=1, label="base policy")
    ax.set_xticks(x, [row_label(m, m, "orm") for m in methods])
    ax.set(ylabel=metric, title=title or metric)
    ax.legend(fontsize=8)
    return ax

"""Figures of the report: legends that cover no bar, whole-number ticks for counts."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from sp_prm_lib.report.plots import integer_ticks, plot_metric  # noqa: E402


def _table(values):
    rows = [{"method": "base", "ours": "base", "variant": "none", "win_tie": 50.0}]
    for (m, o), v in zip([("args", "args"), ("bon-16", "bon-4"), ("bon-64", "bon-8")], values):
        for variant, shift in (("orm", 0.0), ("sp-prm", 1.0), ("sc", -1.0)):
            rows.append({"method": m, "ours": o, "variant": variant, "win_tie": v + shift})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("values", [(97.0, 99.0, 98.0), (50.0, 80.0, 99.0), (-3.0, -5.0, -4.0)])
def test_the_legend_covers_no_bar(values):
    fig, ax = plt.subplots(figsize=(5, 3.6))
    plot_metric(_table(values), "win_tie", ax, "win-tie")
    fig.canvas.draw()
    legend = ax.get_legend().get_window_extent()
    bars = [p.get_window_extent() for p in ax.patches]
    assert bars and not any(legend.overlaps(b) for b in bars)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["ARGS-G", "BoN-4", "BoN-8"]  # as run
    plt.close(fig)


def test_integer_histograms_get_whole_number_ticks():
    fig, ax = plt.subplots()
    ax.hist([0, 1, 1, 2, 3, 4, 5], bins=np.arange(7) - 0.5)
    integer_ticks(ax)
    fig.canvas.draw()
    ticks = ax.get_xticks()
    assert len(ticks) > 2 and all(float(t).is_integer() for t in ticks)
    plt.close(fig)

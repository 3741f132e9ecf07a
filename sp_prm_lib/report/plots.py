"""Figures of the book: agreement curves with bootstrap bands, grouped bars of decoding metrics,
and ``publish_figure``, which saves a figure with its data and puts it in the book."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from sp_prm_lib.config.profile import Profile
from sp_prm_lib.core.settings import figures_dir
from sp_prm_lib.experiments import comparison
from sp_prm_lib.experiments.decoding_tables import order_rows, row_label

AGREEMENT_LABEL = "AR$_{RM-SC}$(t)"


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


def agreement_axis(
    ax,
    title: str | None = None,
    *,
    ylabel: str = AGREEMENT_LABEL,
    ylim: tuple[float, float] | None = (0.3, 1.0),
    chance: bool = True,
    unit: str = "tokens",
):
    """An axis over prefix lengths: x labelled ``prefix length t (<unit>)``, ``ylabel`` on y (an
    agreement rate by default), a dotted line at chance agreement (0.5) unless ``chance`` is off."""
    if chance:
        ax.axhline(0.5, color="grey", ls=":", lw=1)
    labels = {"xlabel": f"prefix length t ({unit})", "ylabel": ylabel}
    if ylim is not None:
        labels["ylim"] = ylim
    if title is not None:
        labels["title"] = title
    ax.set(**labels)
    return ax


def paper_points(ax, key: str, label: str, ms: float = 10):
    """The values a figure's text quotes (``paper_values.yaml`` entry ``key``, columns ``t`` and
    ``value``) as black stars."""
    paper = comparison.paper_table(key)
    ax.plot(paper.t, paper.value, "k*", ms=ms, label=label)
    return ax


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
    legend_above_bars(ax, columns=len(variants) + 1)
    return ax


def legend_above_bars(ax, columns: int = 3, room: float = 0.3) -> None:
    """The legend in one row in a band added at the top of the axes (``room``: its share of
    the height), so that it covers no bar or line (bars going down get no band: legend below)."""
    low, high = ax.get_ylim()
    if high > 0:
        ax.set_ylim(low, high + room * (high - low))
        ax.legend(fontsize=8, ncol=columns, loc="upper center", frameon=False)
    else:
        ax.set_ylim(low - room * (high - low), high)
        ax.legend(fontsize=8, ncol=columns, loc="lower center", frameon=False)


def integer_ticks(ax, axis: str = "x") -> None:
    """Whole-number ticks only on ``axis`` (for counts: no 2.5 on a histogram of integers)."""
    from matplotlib.ticker import MaxNLocator

    (ax.xaxis if axis == "x" else ax.yaxis).set_major_locator(MaxNLocator(integer=True))


def show_figure(fig, name: str) -> None:
    """Show ``fig`` as this cell's output and glue it under ``name`` (MyST-NB), so that a
    markdown cell ``:::{glue:figure} <name>`` puts it in the book with a caption.

    The cell that calls this carries the tag ``remove-output``: the book shows the figure once,
    in the captioned ``{glue:figure}``, while Jupyter shows it under the code."""
    import matplotlib.pyplot as plt
    from myst_nb import glue

    if not hasattr(fig, "savefig"):
        raise TypeError(f"show_figure: expected a matplotlib figure, got {type(fig).__name__}")
    if not name or not name.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"show_figure: name {name!r} must be letters, digits, '-' or '_'")
    glue(name, fig, display=True)
    plt.close(fig)


def save_figure(fig, name: str, profile: Profile) -> Path:
    """Save a matplotlib figure as ``figures/<profile>/<name>.png`` and return the path."""
    out = figures_dir() / profile.name / f"{name}.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120, bbox_inches="tight")
    return out


def publish_figure(
    fig,
    name: str,
    profile: Profile,
    *,
    glue: str | None = None,
    data: pd.DataFrame | Mapping[str, pd.DataFrame] | None = None,
) -> Path:
    """Save ``fig`` as ``figures/<profile>/<name>.png``, write its data next to it (a frame:
    ``<name>.csv``; a mapping: ``<key>.csv`` per frame), and show it: glued under ``glue`` for a
    ``{glue:figure}`` cell (``show_figure``), or as a plain output when ``glue`` is None.
    Returns the figure's path."""
    if data is not None and not isinstance(data, (pd.DataFrame, Mapping)):
        raise TypeError(f"publish_figure: data must be a DataFrame or a mapping of them, got {type(data).__name__}")
    frames = {name: data} if isinstance(data, pd.DataFrame) else dict(data or {})
    path = save_figure(fig, name, profile)
    for stem, frame in frames.items():
        frame.to_csv(path.with_name(f"{stem}.csv"), index=False)
    if glue is not None:
        show_figure(fig, glue)
    else:
        import matplotlib.pyplot as plt
        from IPython.display import display

        display(fig)
        plt.close(fig)
    return path


def agreement_heatmap(frame: pd.DataFrame, ax, value: str = "value", fmt: str = ".2f", **kwargs):
    """A seaborn heatmap of ``value`` with rows and columns as in ``frame`` (a pivot), the
    numbers written in the cells, a diverging palette centred on 0.5 (chance agreement)."""
    import seaborn as sns

    options = {"cmap": "RdBu", "center": 0.5, "vmin": 0.0, "vmax": 1.0, "annot": True, "fmt": fmt}
    options.update(kwargs)
    sns.heatmap(frame.astype(float), ax=ax, cbar_kws={"label": value}, **options)
    ax.tick_params(axis="y", rotation=0)
    return ax

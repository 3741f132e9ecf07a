"""A decoding table and its claim in one call (notebooks 08-10): run or load the table, show it
next to the paper's and estimate the claim's effects; ``publish_decoding_figure`` draws it and
``decoding_setting`` says in words what ran."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from sp_prm_lib.config.profile import Profile
from sp_prm_lib.experiments import comparison
from sp_prm_lib.experiments.decoding import DecodingResult, ensure_decoding_table
from sp_prm_lib.experiments.decoding_claims import claim_estimates
from sp_prm_lib.experiments.decoding_tables import compare_with_paper
from sp_prm_lib.experiments.decoding_tasks import get_task
from sp_prm_lib.report.plots import plot_metric, publish_figure
from sp_prm_lib.report.tables import labelled, show_decoding, show_side_by_side, show_table


@dataclass
class TableClaim:
    """What ``check_decoding_table`` computed: the decoding result, our table next to the
    paper's (``side``), the claim's effects (``estimates``), its ``verdict`` and the pooled
    estimate of each metric as text (``pooled``, by metric)."""

    result: DecodingResult
    side: pd.DataFrame
    estimates: pd.DataFrame
    verdict: str
    pooled: pd.Series


def check_decoding_table(
    profile: Profile,
    task: str,
    tests: Mapping[str, str],
    *,
    variants: Sequence[str],
    paper_metrics: Sequence[str],
) -> TableClaim:
    """Run (or load) ``task`` with the guiding RMs ``variants`` and show, in order: our table,
    ours next to the paper's for ``paper_metrics``, and the effects of the claim ``tests``
    (metric -> ``higher``/``lower``, SP-PRM against the ORM; ``decoding_claims.claim_estimates``)."""
    from IPython.display import display

    t = get_task(task)
    started = time.time()
    result = ensure_decoding_table(profile, task, variants=list(variants))
    print(f"{len(result.generations)} generations ready in {time.time() - started:.1f}s")
    paper = comparison.paper_entry(t.table)["ref"]
    display(show_decoding(result.table, caption=f"{t.label} decoding, ours: one row per method and guiding RM"))
    side = compare_with_paper(result, list(paper_metrics))
    display(show_side_by_side(side, caption=f"{paper}, the paper's values and ours, each on its own scale"))
    estimates, verdict = claim_estimates(
        result.generations, dict(tests), n_boot=profile.analysis.bootstrap, seed=profile.seed
    )
    display(show_table(estimates))
    pooled = estimates[estimates.method == "pooled"].set_index("metric").estimate
    return TableClaim(result, side, estimates, verdict, pooled)


def decoding_setting(profile: Profile, task: str, note: str | None = None) -> str:
    """A decoding claim's setting in words: the policy, the guiding RMs (the profile's HH-RLHF ORM
    and the SP-PRM trained from it), the prompts, the response limit and the BoN sizes, then
    ``note``."""
    t = get_task(task)
    d, orm = profile.decoding, profile.reward.orm.model
    bon = getattr(d, t.bon_field)
    text = (
        f"policy {profile.policy.id}; the profile's HH-RLHF ORM and SP-PRM "
        f"({orm.id}, {orm.num_layers or 'all'} layers); "
        f"{d.prompts} {t.label} {t.unit}, {getattr(d, t.length_field)} new tokens, "
        f"BoN-{bon[0]}/{bon[1]}"
    )
    return f"{text}; {note}" if note else text


def publish_decoding_figure(check: TableClaim, profile: Profile, panels: Mapping[str, str], name: str) -> None:
    """One ``plot_metric`` panel per ``panels`` entry (metric -> title), published as
    ``<name>_<task>.png`` (e.g. ``09_table3_advbench``), glued as ``fig-<name with dashes>``,
    with the data ``<name>_ours.csv`` and ``<name>_side_by_side.csv``. Call it in a cell tagged
    ``remove-output`` (see ``show_figure``)."""
    import matplotlib.pyplot as plt

    if not panels:
        raise ValueError("publish_decoding_figure: panels names no metric to plot")
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 3.6), squeeze=False)
    for ax, (metric, title) in zip(axes[0], panels.items()):
        plot_metric(check.result.table, metric, ax, title)
    fig.tight_layout()
    publish_figure(
        fig,
        f"{name}_{check.result.task}",
        profile,
        glue=f"fig-{name.replace('_', '-')}",
        data={f"{name}_ours": labelled(check.result.table), f"{name}_side_by_side": check.side},
    )

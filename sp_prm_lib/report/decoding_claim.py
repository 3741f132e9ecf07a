"""A decoding table and its claim in one call (notebooks 08-10): run or load the table, show it
next to the paper's and test the claim (``decoding_claims.check_claim``); ``publish_decoding_figure`` draws it and
``decoding_setting`` says in words what ran."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from sp_prm_lib.config.profile import Profile
from sp_prm_lib.experiments import comparison
from sp_prm_lib.experiments.decoding import DecodingResult, ensure_decoding_table
from sp_prm_lib.experiments.decoding_claims import DecodingClaim, check_claim
from sp_prm_lib.experiments.decoding_tables import compare_with_paper
from sp_prm_lib.experiments.decoding_tasks import get_task
from sp_prm_lib.experiments.verdicts import shown
from sp_prm_lib.report.plots import plot_metric, publish_figure
from sp_prm_lib.report.tables import labelled, show_decoding, show_side_by_side, show_table


@dataclass
class TableClaim:
    """What ``check_decoding_table`` computed: the decoding result, our table next to the
    paper's (``side``) and the claim tested (``claim``: its results per test)."""

    result: DecodingResult
    side: pd.DataFrame
    claim: DecodingClaim


def check_decoding_table(
    profile: Profile,
    task: str,
    *,
    variants: Sequence[str],
    paper_metrics: Sequence[str],
) -> TableClaim:
    """Run (or load) ``task`` with the guiding RMs ``variants`` and show, in order: our table,
    ours next to the paper's for ``paper_metrics``, and the rows of the task's claim (the claim
    id is the task's paper table, e.g. ``table3``), each test per method and pooled, SP-PRM
    against the ORM (``decoding_claims.check_claim``; per-method rows are descriptive)."""
    from IPython.display import display

    t = get_task(task)
    started = time.time()
    result = ensure_decoding_table(profile, task, variants=list(variants))
    print(f"{len(result.generations)} generations ready in {time.time() - started:.1f}s")
    paper = comparison.paper_entry(t.table)["ref"]
    display(show_decoding(result.table, caption=f"{t.label} decoding, ours: one row per method and guiding RM"))
    side = compare_with_paper(result, list(paper_metrics))
    display(show_side_by_side(side, caption=f"{paper}, the paper's values and ours, each on its own scale"))
    claim = check_claim(profile, result.generations, t.table)
    for name, tested in claim.results.items():
        metric = claim.metrics[name]
        display(
            show_table(
                shown(tested),
                caption=f"{paper}, {name or metric}: SP-PRM minus the ORM per prompt ({metric}); "
                f"rows are descriptive (Holm-adjusted p), the claim is decided as its test says",
            )
        )
    return TableClaim(result, side, claim)


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

"""Claim statistics of the decoding tables: per-prompt effects of a guiding RM against another
and the verdict of a claim over several metrics (the rules are ``experiments.verdicts``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.experiments.verdicts import combine_verdicts, effects_table


def _unit_values(g: pd.DataFrame, metric: str) -> pd.Series:
    """One number per generation: a metric column, or ``win`` / ``tie`` / ``win_tie`` (0/1) from
    the judge's outcome against the base answer (NaN when unparseable)."""
    if metric in ("win", "tie", "win_tie"):
        if "outcome" not in g:
            raise ConfigError(f"{metric}: these generations were not judged against the base answer")
        hit = {"win": ["a"], "tie": ["tie"], "win_tie": ["a", "tie"]}[metric]
        values = g.outcome.isin(hit).astype(float)
        return values.where(g.outcome != "unparseable")
    if metric not in g:
        raise ConfigError(f"no metric {metric!r} in the generations (columns: {', '.join(g.columns)})")
    return pd.to_numeric(g[metric], errors="coerce")


def paired_differences(
    generations: pd.DataFrame, metric: str, *, variant: str = "sp-prm", against: str = "orm"
) -> dict[str, np.ndarray]:
    """Per guided method, the per-prompt difference of ``metric`` with ``variant`` minus with
    ``against`` (each the mean over seeds), aligned on one prompt order shared by every method:
    the effects ``experiments.verdicts.paired_bootstrap`` resamples together."""
    g = generations[generations.method != "base"]
    prompts = np.sort(generations["index"].unique())
    out = {}
    for method, rows in g.groupby("method", sort=False):
        per = rows.assign(value=_unit_values(rows, metric)).groupby(["variant", "index"]).value.mean()
        if variant not in per.index.get_level_values(0) or against not in per.index.get_level_values(0):
            continue
        a = per.loc[variant].reindex(prompts)
        b = per.loc[against].reindex(prompts)
        out[method] = (a - b).to_numpy(dtype=float)
    if not out:
        raise ConfigError(f"no method was run with both {variant!r} and {against!r}")
    return out


def claim_estimates(
    generations: pd.DataFrame,
    tests: dict[str, str],
    *,
    against: str = "orm",
    variant: str = "sp-prm",
    not_independent: tuple[str, ...] = (),
    n_boot: int = 2000,
    seed: int = 0,
) -> tuple[pd.DataFrame, str]:
    """A decoding claim over several metrics (``tests``: metric -> ``higher`` / ``lower``, the
    paper's direction for ``variant`` against ``against``): per-method and pooled per-prompt
    estimates of each metric (``experiments.verdicts.effects_table``) and the claim's verdict,
    which needs every metric (``verdicts.combine_verdicts``). Metrics in ``not_independent``
    are scored by an evaluator that favours ``variant`` and give at most ``inconclusive``."""
    frames, verdicts = [], []
    for metric, direction in tests.items():
        effects = paired_differences(generations, metric, variant=variant, against=against)
        shown, verdict = effects_table(
            effects, direction, independent=metric not in not_independent, n_boot=n_boot, seed=seed
        )
        frames.append(shown.assign(metric=metric, paper=direction))
        verdicts.append(verdict)
    table = pd.concat(frames, ignore_index=True)[["metric", "paper", "method", "estimate", "verdict"]]
    return table, combine_verdicts(verdicts)


def reward_metric(generations: pd.DataFrame, judge_independent: bool, fallback: str = "reward") -> str:
    """The reward a decoding claim is tested on: the judge's own reward where the judge is
    independent and scores answers (the gold in the lab), else ``fallback``: by default the ORM's
    (the paper's "average reward"; it favours the answers it steered itself, so a gain for a PRM
    under it is conservative), ``ref_reward`` for the reference RM's (notebook 12's stand-in for
    the paper's GPT-4 score)."""
    if fallback not in generations:
        raise ConfigError(f"reward_metric: no column {fallback!r} in the generations (the fallback)")
    has_judge_reward = "judge_reward" in generations and generations.judge_reward.notna().any()
    return "judge_reward" if judge_independent and has_judge_reward else fallback

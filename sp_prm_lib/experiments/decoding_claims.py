"""Claim statistics of the decoding tables: per-prompt effects of a guiding RM against another,
tested as each claim's ``test``/``tests`` in ``paper_values.yaml`` states (the rules are
``experiments.verdicts``).

A decoding claim's named tests are metrics of the generations (``reward``, ``win_tie``, ``asr``,
``accuracy``, ``rouge_l``, ``diversity``, ``coherence``); a claim of one test names its metric
in ``SINGLE_TEST_METRIC``. Per method, the effect of a prompt is the metric with ``variant``
minus with ``against`` (each the mean over seeds); the parts of a test are the methods. A
relative test (the paper's effect or margin as a share of a level) is scaled by the mean of the
``against`` variant's metric over the methods that decide. A metric scored by an evaluator that
is not independent of the methods compared (``evaluator_dependence``) caps the verdict at
inconclusive, both ways.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sp_prm_lib.config.profile import Profile
from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.experiments import comparison
from sp_prm_lib.experiments.judges import judge_is_independent, judge_name
from sp_prm_lib.experiments.verdicts import ClaimResult, ClaimTest, combine, win_tie_rates

#: the metric of a claim of one test (a claim of several names its tests by metric)
SINGLE_TEST_METRIC = {
    "table1-reward": "reward",
    "table1-reward-average": "reward",
    "table1-win-tie": "win_tie",
    "table5": "reward",
}
#: metrics the generations hold in percent; the tests are in shares (the yaml's paper effects are)
PERCENT_METRICS = ("asr", "asr_refusal", "accuracy")
JUDGED = ("win", "tie", "win_tie")


def _unit_values(g: pd.DataFrame, metric: str) -> pd.Series:
    """One number per generation: a metric column (percentages as shares), or ``win`` / ``tie``
    / ``win_tie`` (0/1) from the judge's outcome against the base answer (NaN when unparseable)."""
    if metric in JUDGED:
        if "outcome" not in g:
            raise ConfigError(f"{metric}: these generations were not judged against the base answer")
        hit = {"win": ["a"], "tie": ["tie"], "win_tie": ["a", "tie"]}[metric]
        values = g.outcome.isin(hit).astype(float)
        return values.where(g.outcome != "unparseable")
    if metric not in g:
        raise ConfigError(f"no metric {metric!r} in the generations (columns: {', '.join(g.columns)})")
    values = pd.to_numeric(g[metric], errors="coerce")
    return values / 100 if metric in PERCENT_METRICS else values


def paired_differences(
    generations: pd.DataFrame, metric: str, *, variant: str = "sp-prm", against: str = "orm"
) -> dict[str, np.ndarray]:
    """Per guided method, the per-prompt difference of ``metric`` with ``variant`` minus with
    ``against`` (each the mean over seeds; percentages as shares), aligned on one prompt order
    shared by every method: the parts of a claim's test."""
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


def baseline_level(generations: pd.DataFrame, metric: str, variant: str, methods) -> float:
    """The mean of ``metric`` with ``variant`` over ``methods`` (the mean of the per-method means,
    percentages as shares): the level a relative test's effect or margin is a share of."""
    g = generations[(generations.variant == variant) & generations.method.isin(list(methods))]
    if g.empty:
        raise ConfigError(f"no generations with {variant!r} for the methods {', '.join(map(str, methods))}")
    per = g.assign(value=_unit_values(g, metric)).groupby("method").value.mean()
    return float(per.mean())


def evaluator_dependence(metric: str, against: str, *, judge_independent: bool, judge: str = "") -> str:
    """Why the evaluator of ``metric`` is not independent of the methods compared (``""``: it is).

    The ORM's own ``reward`` steered the ORM-guided answers and favours them, so it cannot
    decide SP-PRM against the ORM either way; ``ref_reward`` (the reference RM) filtered
    SP-PRM's training pairs (Eq. 3); a judged outcome from the rm-proxy judge is the reference
    RM's too. Exact-match and text metrics (ASR, accuracy, ROUGE-L, diversity, coherence) and an
    independent judge's reward (the gold) are independent."""
    if metric == "reward" and against == "orm":
        return "the ORM's own reward scores the answers it steered, so it favours the ORM-guided ones"
    if metric == "ref_reward":
        return "the reference RM scores the answers, and it filtered SP-PRM's training pairs (Eq. 3)"
    if metric in JUDGED and not judge_independent:
        return f"the judge, {judge or 'rm-proxy'}, filtered SP-PRM's training pairs (Eq. 3)"
    if metric == "judge_reward" and not judge_independent:
        return f"the judge, {judge or 'rm-proxy'}, is not independent of the reward models under test"
    return ""


def reward_metric(generations: pd.DataFrame, judge_independent: bool, fallback: str = "reward") -> str:
    """The reward a decoding claim is tested on: the judge's own reward where the judge is
    independent and scores answers (the gold in the lab), else ``fallback``: by default the ORM's
    (the paper's "average reward"; it favours the answers it steered itself, so it cannot decide
    SP-PRM against the ORM), ``ref_reward`` for the reference RM's (notebook 12's stand-in for
    the paper's GPT-4 score)."""
    if fallback not in generations:
        raise ConfigError(f"reward_metric: no column {fallback!r} in the generations (the fallback)")
    has_judge_reward = "judge_reward" in generations and generations.judge_reward.notna().any()
    return "judge_reward" if judge_independent and has_judge_reward else fallback


@dataclass(frozen=True)
class DecodingClaim:
    """A decoding claim tested: one ``ClaimResult`` per test (keyed by test name; ``""`` for a claim
    of one test), the generations' metric each test used, the scale of its relative tests and the
    reason an evaluator was not independent (per test, ``""`` where it was)."""

    claim_id: str
    results: dict[str, ClaimResult]
    metrics: dict[str, str]
    scales: dict[str, float | None] = field(default_factory=dict)
    dependence: dict[str, str] = field(default_factory=dict)

    @property
    def verdict(self) -> tuple[str, str]:
        """The claim's verdict and why (``verdicts.combine`` of its tests)."""
        if list(self.results) == [""]:
            return self.results[""].verdict, self.results[""].why
        return combine(self.results)

    def record_kwargs(self) -> dict:
        """``result=`` or ``results=`` for ``comparison.record``."""
        return {"result": self.results[""]} if list(self.results) == [""] else {"results": dict(self.results)}

    def summary(self, name: str = "") -> str:
        """One test's numbers in words: the metric, the deciding estimate(s), the pooled summary."""
        r = self.results[name]
        metric = {"win_tie": "win-or-tie"}.get(self.metrics[name], self.metrics[name].replace("_", " "))
        t = r.table
        pooled = t[t.part == "pooled"]
        text = f"{metric}"
        if r.test is not None and r.test.over == "every" and len(t[t.decides]) > 1:
            text += " per method (" + ", ".join(f"{p.part} {p.mean:+.3f}" for p in t[t.decides].itertuples()) + ")"
            if len(pooled):
                text += f", pooled {pooled.estimate.iloc[0]}"
        else:
            row = t[t.decides].iloc[0]
            text += f" {'pooled over methods ' if row.part == 'pooled' else ''}{row.estimate}"
        scale = self.scales.get(name)
        if scale is not None and r.test is not None:
            size = r.test.paper_effect if r.test.paper_effect is not None else r.test.margin
            what = "paper's effect" if r.test.paper_effect is not None else "margin"
            text += f" ({what} in our units {size:.3g}: {size / abs(scale):.1%} of |{scale:.3g}|, the baseline level)"
        if self.dependence.get(name):
            text += f" [not independent: {self.dependence[name]}]"
        return text

    def evidence(self) -> str:
        """Every test's summary, joined (the claim's evidence line)."""
        return "; ".join((f"{n}: " if n and n != self.metrics[n] else "") + self.summary(n) for n in self.results) + "."


def _names(claim_id: str) -> list[str]:
    names = comparison.claim_test_names(claim_id)
    if names:
        return names
    if claim_id not in SINGLE_TEST_METRIC:
        raise ConfigError(f"decoding claim {claim_id!r} has one test but no metric in SINGLE_TEST_METRIC")
    return [""]


def check_claim(
    profile: Profile,
    generations: pd.DataFrame,
    claim_id: str,
    *,
    variant: str = "sp-prm",
    against: str = "orm",
    metrics: Mapping[str, str] | None = None,
) -> DecodingClaim:
    """Test a decoding claim on ``generations``: for each of its tests (the metric is the test's
    name, or ``SINGLE_TEST_METRIC``; ``metrics`` maps a metric to the generations' column that
    stands for it; by default ``reward`` is ``reward_metric``'s: the gold's in the lab), the
    per-method per-prompt effects of ``variant`` minus ``against``, the scale of a relative
    test, and whether the metric's evaluator is independent of the methods
    (``evaluator_dependence``, with the profile's judge)."""
    metrics = dict(metrics or {})
    names = _names(claim_id)
    defaults = {name: name or SINGLE_TEST_METRIC[claim_id] for name in names}
    unknown = sorted(set(metrics) - set(defaults.values()))
    if unknown:
        raise ConfigError(f"{claim_id}: metrics names no metric of the claim's tests: {unknown[0]!r}")
    independent_judge, judge = judge_is_independent(profile), judge_name(profile)
    if "reward" in defaults.values():
        metrics.setdefault("reward", reward_metric(generations, independent_judge))
    results, used, scales, dependence = {}, {}, {}, {}
    for name, default in defaults.items():
        metric = metrics.get(default, default)
        test: ClaimTest = comparison.claim_test(claim_id, name or None)
        effects = paired_differences(generations, metric, variant=variant, against=against)
        scale = None
        if test.relative:
            deciding = [m for m in effects if not test.skips(m)]
            scale = baseline_level(generations, metric, against, deciding)
            if not math.isfinite(scale) or scale == 0:
                raise ConfigError(
                    f"{claim_id}: the relative test {name or metric!r} needs a non-zero mean {metric} "
                    f"with {against!r}, got {scale}"
                )
        why = evaluator_dependence(metric, against, judge_independent=independent_judge, judge=judge)
        results[name] = comparison.check(
            profile, claim_id, effects, test=name or None, independent=not why, dependence=why, scale=scale
        )
        used[name], scales[name], dependence[name] = metric, scale, why
    return DecodingClaim(claim_id, results, used, scales, dependence)


def win_tie_table(generations: pd.DataFrame, variants=("orm", "sp-prm")) -> pd.DataFrame:
    """Win, tie and loss rates (%) against the base answer per method and guiding RM, counted
    apart (``verdicts.win_tie_rates``; identical answers are ties): descriptive columns."""
    if "outcome" not in generations:
        raise ConfigError("win_tie_table: these generations were not judged against the base answer")
    g = generations[(generations.method != "base") & generations.variant.isin(list(variants))]
    rows = []
    for (method, variant), part in g.groupby(["method", "variant"], sort=False):
        rates = win_tie_rates(part.outcome)
        rows.append({"method": method, "variant": variant, **rates, "win_tie": rates["win"] + rates["tie"]})
    return pd.DataFrame(rows, columns=["method", "variant", "win", "tie", "loss", "n", "win_tie"])

"""Statistical verdicts: estimates with paired bootstrap intervals, one rule for every claim."""

import numpy as np
import pandas as pd
import pytest

from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.experiments.verdicts import (
    Estimate,
    bootstrap_estimate,
    claim_verdict,
    combine_verdicts,
    effects_table,
    equivalence_verdict,
    estimate_verdict,
    paired_bootstrap,
    verdict_table,
    win_tie_rates,
)


@pytest.mark.parametrize(
    "low, high, direction, independent, expected",
    [
        (0.1, 0.3, "higher", True, "reproduced"),
        (-0.3, -0.1, "higher", True, "contradicted"),
        (-0.1, 0.3, "higher", True, "inconclusive"),
        (-0.3, -0.1, "lower", True, "reproduced"),
        (0.1, 0.3, "lower", True, "contradicted"),
        (0.1, 0.3, "higher", False, "inconclusive"),  # a judge tied to the method cannot reproduce
        (-0.3, -0.1, "higher", False, "contradicted"),
        (float("nan"), float("nan"), "higher", True, "inconclusive"),
    ],
)
def test_the_rule(low, high, direction, independent, expected):
    e = Estimate("m", (low + high) / 2, low, high, 10)
    assert estimate_verdict(e, direction, independent=independent) == expected


def test_null_other_than_zero():
    assert estimate_verdict(Estimate("m", 0.6, 0.55, 0.65, 50), "higher", null=0.5) == "reproduced"
    assert estimate_verdict(Estimate("m", 0.6, 0.45, 0.65, 50), "higher", null=0.5) == "inconclusive"


def test_paired_bootstrap_matches_a_naive_loop_and_shares_draws():
    rng = np.random.default_rng(1)
    a, b = rng.normal(0.2, 1, 60), rng.normal(-0.1, 1, 60)
    table = paired_bootstrap({"a": a, "b": b}, n_boot=500, seed=7)
    assert table.method.tolist() == ["a", "b", "pooled"]
    draws = np.random.default_rng(7).integers(0, 60, size=(500, 60))
    naive = {name: np.array([x[d].mean() for d in draws]) for name, x in (("a", a), ("b", b), ("pooled", (a + b) / 2))}
    for name, values in naive.items():
        row = table[table.method == name].iloc[0]
        assert row.ci_low == pytest.approx(np.quantile(values, 0.025))
        assert row.ci_high == pytest.approx(np.quantile(values, 0.975))
        assert row.value == pytest.approx({"a": a, "b": b, "pooled": (a + b) / 2}[name].mean())


def test_a_ten_point_win_rate_gap_on_enough_prompts_excludes_zero():
    # exactly 60% vs 50% wins, unrelated across prompts: about 400 prompts are needed for the
    # interval of a 10-point difference to exclude 0 (its standard error is ~3.5 points there)
    rng = np.random.default_rng(0)
    ours = rng.permutation(np.r_[np.ones(240), np.zeros(160)])
    theirs = rng.permutation(np.r_[np.ones(200), np.zeros(200)])
    est = bootstrap_estimate(100 * (ours - theirs), "win difference", n_boot=2000)
    assert est.value == pytest.approx(10.0) and est.ci_low > 0 and estimate_verdict(est) == "reproduced"
    few = bootstrap_estimate(100 * (ours[:40] - theirs[:40]), n_boot=2000)
    assert estimate_verdict(few) == "inconclusive"  # the same gap on 40 prompts is not evidence


def test_claim_verdict_uses_the_pooled_row_and_nan_units_are_left_out():
    effects = {"x": np.array([1.0, 1.2, 0.9, np.nan, 1.1] * 8), "y": np.array([0.8, 1.0, 1.1, 0.9, np.nan] * 8)}
    table = paired_bootstrap(effects, n_boot=200)
    assert table.n.tolist() == [32, 32, 40]
    assert claim_verdict(table) == "reproduced"
    assert verdict_table(table).verdict.tolist() == ["reproduced"] * 3


def test_win_and_tie_rates_are_apart():
    rates = win_tie_rates(["a", "tie", "tie", "b", "unparseable"])
    assert (rates["win"], rates["tie"], rates["loss"], rates["n"]) == (25.0, 50.0, 25.0, 4)


def test_bad_input():
    with pytest.raises(ConfigError, match="one effect per unit"):
        paired_bootstrap({"a": np.ones(3), "b": np.ones(4)})
    with pytest.raises(ConfigError, match="direction"):
        estimate_verdict(Estimate("m", 0, 0, 0, 1), "up")
    with pytest.raises(ConfigError, match="pooled"):
        claim_verdict(
            pd.DataFrame({"method": ["a", "b"], "value": [0, 0], "ci_low": [0, 0], "ci_high": [0, 0], "n": [1, 1]})
        )


@pytest.mark.parametrize(
    "parts, expected",
    [
        (["reproduced", "reproduced"], "reproduced"),
        (["reproduced", "inconclusive"], "inconclusive"),
        (["reproduced", "contradicted"], "contradicted"),
        (["inconclusive", "not run here"], "inconclusive"),
        (["not run here", "not run here"], "not run here"),
    ],
)
def test_combine_verdicts(parts, expected):
    assert combine_verdicts(parts) == expected


def test_combine_verdicts_bad_input():
    with pytest.raises(ConfigError, match="at least one"):
        combine_verdicts([])
    with pytest.raises(ConfigError, match="unknown verdict 'partly'"):
        combine_verdicts(["partly"])


@pytest.mark.parametrize(
    "low, high, expected",
    [(5.5, 6.5, "reproduced"), (4.0, 6.5, "inconclusive"), (1.0, 2.0, "contradicted"), (7.6, 9.0, "contradicted")],
)
def test_equivalence_band(low, high, expected):
    assert equivalence_verdict(Estimate("x", (low + high) / 2, low, high, 10), 4.5, 7.5) == expected


def test_equivalence_of_an_exact_theorem():
    assert equivalence_verdict(bootstrap_estimate(np.ones(12)), 1.0, 1.0) == "reproduced"
    missed = bootstrap_estimate(np.r_[np.ones(11), 0.0])
    assert equivalence_verdict(missed, 1.0, 1.0) in ("inconclusive", "contradicted")
    with pytest.raises(ConfigError, match="low <= high"):
        equivalence_verdict(missed, 1.0, 0.0)


def test_effects_table_pools_and_decides_on_the_pool():
    rng = np.random.default_rng(1)
    effects = {"args": rng.normal(0.5, 0.2, 60), "cbs": rng.normal(-0.1, 0.2, 60)}
    shown, verdict = effects_table(effects, "higher", n_boot=500)
    assert list(shown.method) == ["args", "cbs", "pooled"]
    assert list(shown.verdict) == ["reproduced", "contradicted", "reproduced"]
    assert verdict == "reproduced"
    _, not_independent = effects_table(effects, "higher", independent=False, n_boot=500)
    assert not_independent == "inconclusive"

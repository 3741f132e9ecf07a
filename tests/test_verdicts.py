"""The verdict rules (``experiments.verdicts``): claims tested as the paper states them.

Checked against naive re-implementations (a loop over parts with
``core.intervals.mean_interval``) and invariants; the paper's effects typed in
``paper_values.yaml`` are recomputed from the typed-in tables.
"""

import math

import numpy as np
import pandas as pd
import pytest
import yaml

from sp_prm_lib.core import intervals
from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.core.intervals import MeanInterval
from sp_prm_lib.experiments import comparison
from sp_prm_lib.experiments.verdicts import (
    ALPHA,
    VERDICTS,
    ClaimResult,
    ClaimTest,
    combine,
    equivalence_verdict,
    evaluate,
    interval,
    rules_markdown,
    shown,
    win_tie_rates,
)

B = 499  # resamples: enough for stable intervals, fast


def _test(**kw) -> ClaimTest:
    raw = {"estimand": "SP-PRM minus ORM", "paper_effect_from": "typed in for the test", **kw}
    return ClaimTest.parse(raw, "claims.x.test")


def _normal(mean, sd, n, seed):
    z = np.random.default_rng(seed).normal(size=n)
    return mean + sd * (z - z.mean()) / z.std(ddof=1)  # exactly this mean and sd


# --- ClaimTest.parse: one-line errors naming the key ------------------------------------------
@pytest.mark.parametrize(
    "change, message",
    [
        ({"colour": "red"}, "unknown key 'colour'"),
        ({"kind": "superiority"}, r"test\.kind must be one of difference, bound"),
        ({"direction": "up"}, r"test\.direction must be one of higher, lower"),
        ({"over": "some"}, r"test\.over must be one of every, pooled"),
        ({"bound": 0.65}, r"test\.bound goes with kind: bound"),
        ({"kind": "bound"}, r"test\.bound goes with kind: bound"),
        ({"kind": "non-inferiority", "margin": -0.1}, r"test\.margin must be >= 0"),
        ({"kind": "non-inferiority"}, r"needs test\.margin"),
        ({"paper_effect": 0}, r"test\.paper_effect is the paper's effect size"),
        ({"paper_effect": -0.05}, r"test\.paper_effect is the paper's effect size"),
        ({"paper_effect": "big"}, r"test\.paper_effect must be a finite number"),
        ({"paper_effect": float("nan")}, r"test\.paper_effect must be a finite number"),
        ({"paper_effect_from": ""}, r"test\.paper_effect_from must say how"),
        ({"paper_effect_from": None}, r"test\.paper_effect_from must say how"),
        ({"kind": "equivalence", "band": [0.9, 0.5]}, r"test\.band must be \[low, high\]"),
        ({"kind": "equivalence", "band": [0.5]}, r"test\.band must be \[low, high\]"),
        ({"kind": "equivalence"}, r"needs test\.band"),
        ({"relative": "yes"}, r"test\.relative must be true or false"),
        ({"skip": "bon"}, r"test\.skip must be a list"),
        ({"estimand": " "}, r"test\.estimand must say in words"),
    ],
)
def test_parse_errors_name_the_place_and_the_key(change, message):
    raw = {"estimand": "e", "paper_effect_from": "how", **change}
    if change.get("paper_effect_from", "x") is None:
        raw.pop("paper_effect_from")
    with pytest.raises(ConfigError, match=message) as err:
        ClaimTest.parse(raw, "paper_values.yaml: claims.c.test")
    text = str(err.value)
    assert text.startswith("paper_values.yaml: claims.c.test:") and "\n" not in text


def test_parse_of_a_non_mapping_and_the_defaults():
    with pytest.raises(ConfigError, match="claims.c.test: test must be a mapping, got list"):
        ClaimTest.parse([1], "claims.c.test")
    t = _test()
    assert (t.kind, t.direction, t.over, t.null, t.margin, t.paper_effect, t.relative, t.skip) == (
        "difference",
        "higher",
        "pooled",
        0.0,
        0.0,
        None,
        False,
        (),
    )
    b = _test(kind="bound", bound=0.65, direction="lower", over="every", skip=["bon"])
    assert (b.null, b.threshold(), b.threshold(0.45), b.skips("bon-16"), b.skips("cbs")) == (
        0.65,
        0.65,
        0.45,
        True,
        False,
    )
    ni = _test(kind="non-inferiority", margin=0.1, paper_effect=0.2)
    assert ni.threshold() == pytest.approx(-0.1) and ni.target() == pytest.approx(0.2)
    lower = _test(direction="lower", kind="non-inferiority", margin=0.1, paper_effect=0.2)
    assert lower.threshold() == pytest.approx(0.1) and lower.target() == pytest.approx(-0.2)


@pytest.fixture
def no_power(monkeypatch):
    """MDE and units needed left out (their bisections dominate the time; they never change a verdict)."""
    monkeypatch.setattr(intervals, "minimal_detectable_effect", lambda *a, **k: math.nan)
    monkeypatch.setattr(intervals, "units_needed", lambda *a, **k: math.nan)


# --- the every-part intersection-union test against a naive loop ------------------------------
def _naive(parts: dict, test: ClaimTest, family: int = 1) -> str:
    """The rules written out plainly for an ``over: every`` difference test."""
    k = len(parts) * family
    ok, bad, smaller = [], [], []
    for x in parts.values():
        iv = intervals.mean_interval(x, 1 - ALPHA, n_boot=B, seed=0)
        sim = intervals.mean_interval(x, 1 - ALPHA / k, n_boot=B, seed=0)
        thr, target = test.threshold(), test.target()
        if test.direction == "higher":
            ok.append(iv.low > thr)
            bad.append(sim.high < thr)
            smaller.append(target is not None and sim.high < target)
        else:
            ok.append(iv.high < thr)
            bad.append(sim.low > thr)
            smaller.append(target is not None and sim.low > target)
    if any(bad):
        return "contradicted"
    if all(ok):
        return "reproduced"
    if any(smaller):
        return "smaller than the paper's"
    return "inconclusive"


@pytest.mark.parametrize("direction", ["higher", "lower"])
def test_every_part_verdicts_match_a_naive_loop(direction, no_power):
    rng = np.random.default_rng(11)
    test = _test(over="every", direction=direction, paper_effect=0.6)
    seen = set()
    for trial in range(40):
        n = int(rng.choice([8, 16, 30, 100]))
        centre = rng.uniform(-0.8, 0.8)
        parts = {f"m{i}": rng.normal(centre + rng.uniform(-0.3, 0.3), 1.0, n) for i in range(3)}
        result = evaluate(parts, test, n_boot=B, seed=0)
        assert result.verdict == _naive(parts, test), trial
        seen.add(result.verdict)
        deciding = result.deciding()
        assert deciding.part.tolist() == ["m0", "m1", "m2"]  # the pooled row is shown, not used
        assert not result.table.set_index("part").loc["pooled", "decides"]
    assert {"reproduced", "contradicted", "inconclusive", "smaller than the paper's"} <= seen


def test_reproduced_needs_every_part_on_the_papers_side():
    strong = _normal(0.5, 1.0, 100, 1)
    weak = _normal(0.05, 1.0, 100, 2)
    every = evaluate({"a": strong, "b": strong[::-1].copy(), "c": weak}, _test(over="every"), n_boot=B)
    assert every.verdict == "inconclusive"
    low = {r.part: r.ci_low for r in every.table.itertuples()}
    assert low["a"] > 0 and low["b"] > 0 and low["c"] < 0 and low["pooled"] > 0  # the pooled mean would pass
    pooled = evaluate({"a": strong, "b": strong[::-1].copy(), "c": weak}, _test(over="pooled"), n_boot=B)
    assert pooled.verdict == "reproduced" and pooled.deciding().part.tolist() == ["pooled"]
    assert pooled.deciding()["mean"].iloc[0] == pytest.approx(((strong + strong[::-1] + weak) / 3).mean())


def test_contradiction_is_at_the_bonferroni_level():
    """A part whose 95% interval excludes 0 on the wrong side, but whose 1 - 0.05/3 interval
    does not, contradicts a claim of that one part and not a claim of three parts."""
    z = _normal(0.0, 1.0, 30, 5)
    shift = None
    for s in np.linspace(0.3, 0.7, 81):
        a95 = intervals.mean_interval(z - s, 0.95, n_boot=B, seed=0)
        a3 = intervals.mean_interval(z - s, 1 - 0.05 / 3, n_boot=B, seed=0)
        if a95.high < 0 < a3.high:
            shift = s
            break
    assert shift is not None
    bad = z - shift
    neutral = {"b": _normal(0.1, 1.0, 30, 6), "c": _normal(0.1, 1.0, 30, 7)}
    one = evaluate({"a": bad}, _test(), n_boot=B)
    assert one.verdict == "contradicted" and "other side" in one.why
    three = evaluate({"a": bad, **neutral}, _test(over="every"), n_boot=B)
    assert three.verdict == "inconclusive"
    row = three.table.set_index("part").loc["a"]
    assert row.ci_high < 0 < row.ci_high_simultaneous  # shown at 95%, decided at 1 - 0.05/3
    # a claim of two tests (family=2) of one part each is decided at 1 - 0.05/2 as well
    family = evaluate({"a": bad}, _test(), family=3, n_boot=B)
    assert family.verdict == "inconclusive"


def test_smaller_than_the_papers():
    x = _normal(0.02, 1.0, 400, 3)  # interval about [-0.08, +0.12]: holds 0, excludes 0.5
    r = evaluate({"m": x}, _test(paper_effect=0.5), n_boot=B)
    assert r.verdict == "smaller than the paper's" and "excludes the paper's effect size" in r.why
    row = r.table.iloc[0]
    assert row.ci_low < 0 < row.ci_high < 0.5 and row.paper == pytest.approx(0.5)
    # the same data without a paper effect: inconclusive, with the detectable effect
    r0 = evaluate({"m": x}, _test(), n_boot=B)
    assert r0.verdict == "inconclusive" and "smallest effect detectable at n=400" in r0.why
    assert r0.mde == pytest.approx(intervals.minimal_detectable_effect(1.0, 400))
    # "lower" claims are mirrored: an effect near 0 is smaller than a paper's -0.5
    rl = evaluate({"m": x}, _test(paper_effect=0.5, direction="lower"), n_boot=B)
    assert rl.verdict == "smaller than the paper's" and rl.table.iloc[0].paper == pytest.approx(-0.5)


def test_inconclusive_gives_the_units_needed():
    x = _normal(0.1, 1.0, 10, 4)
    r = evaluate({"m": x}, _test(paper_effect=0.4), n_boot=B)
    assert r.verdict == "inconclusive"
    needed = intervals.units_needed(0.4, float(np.std(x, ddof=1)))
    assert r.units_needed == needed and 40 < needed < 60
    assert f"about {int(needed):,} units needed for 80% power (have 10)" in r.why
    assert r.table.iloc[0].n_needed == needed
    # with several deciding parts the largest need counts
    y = _normal(0.1, 2.0, 10, 5)
    r2 = evaluate({"a": x, "b": y}, _test(paper_effect=0.4, over="every"), n_boot=B)
    assert r2.units_needed == intervals.units_needed(0.4, 2.0) > needed


def test_a_judge_that_is_not_independent_caps_both_directions():
    up, down = _normal(0.8, 1.0, 50, 1), _normal(-0.8, 1.0, 50, 2)
    assert evaluate({"m": up}, _test(), n_boot=B).verdict == "reproduced"
    assert evaluate({"m": down}, _test(), n_boot=B).verdict == "contradicted"
    for x, would in ((up, "reproduced"), (down, "contradicted")):
        r = evaluate({"m": x}, _test(), independent=False, dependence="the ORM steered one side", n_boot=B)
        assert r.verdict == "inconclusive"
        assert f"would read {would}" in r.why and "not independent: the ORM steered one side" in r.why
    small = evaluate({"m": _normal(0.0, 1.0, 400, 3)}, _test(paper_effect=1.0), independent=False, n_boot=B)
    assert small.verdict == "inconclusive" and "not independent" in small.why  # "smaller" is decisive too


def test_skipped_parts_are_shown_but_neither_decide_nor_pool():
    a, b = _normal(0.6, 1.0, 40, 1), _normal(0.5, 1.0, 40, 2)
    bon = _normal(-2.0, 1.0, 40, 3)  # the paper's own BoN row falls: not part of the claim
    test = _test(over="every", skip=["bon"])
    r = evaluate({"a": a, "bon-16": bon, "b": b}, test, n_boot=B)
    assert r.verdict == "reproduced"
    rows = r.table.set_index("part")
    assert rows.loc["bon-16", "ci_high"] < 0 and not rows.loc["bon-16", "decides"]
    assert rows.loc["pooled", "mean"] == pytest.approx(((a + b) / 2).mean())
    pooled = evaluate({"a": a, "bon-16": bon, "b": b}, _test(skip=["bon"]), n_boot=B)
    assert pooled.verdict == "reproduced" and pooled.deciding()["mean"].iloc[0] == pytest.approx(((a + b) / 2).mean())
    with pytest.raises(ConfigError, match="every part measured .* is one the test skips"):
        evaluate({"bon-16": bon}, test, n_boot=B)


def test_the_pooled_mean_of_parts_skips_unmeasured_units():
    a = np.array([1.0, np.nan, 2.0, 0.5, 0.2, 0.8])
    b = np.array([0.0, 1.0, np.nan, 0.5, 0.4, 0.6])
    r = evaluate({"a": a, "b": b}, _test(), n_boot=B)
    naive = [np.mean([v for v in (x, y) if not np.isnan(v)]) for x, y in zip(a, b)]
    assert r.deciding()["mean"].iloc[0] == pytest.approx(np.mean(naive))
    assert r.table.set_index("part").loc["a", "n"] == 5


def test_relative_tests_scale_the_papers_effect_and_the_margin():
    t = _test(relative=True, paper_effect=0.05)
    x = _normal(0.05, 1.0, 12, 1)
    r = evaluate({"m": x}, t, scale=-4.0, n_boot=B)
    assert r.test.paper_effect == pytest.approx(0.2) and r.table.iloc[0].paper == pytest.approx(0.2)
    assert r.units_needed == intervals.units_needed(0.2, 1.0)
    ni = _test(kind="non-inferiority", relative=True, margin=0.1)
    r = evaluate({"m": x}, ni, scale=3.0, n_boot=B)
    assert r.test.margin == pytest.approx(0.3) and r.table.iloc[0].against == pytest.approx(-0.3)
    for bad in (None, 0.0, float("nan")):
        with pytest.raises(ConfigError, match="is relative and needs a finite, non-zero scale"):
            evaluate({"m": x}, t, scale=bad, n_boot=B)
    assert _test(paper_effect=0.05).scaled(None).paper_effect == 0.05  # absolute tests ignore the scale


def test_non_inferiority_accepts_a_small_loss_when_precise_enough():
    t = _test(kind="non-inferiority", margin=0.1)
    precise = _normal(-0.03, 0.1, 200, 1)  # interval about [-0.045, -0.015]: below 0, above -0.1
    r = evaluate({"m": precise}, t, n_boot=B)
    assert r.verdict == "reproduced" and "a shortfall of 0.1 (the margin)" in r.why
    assert r.table.iloc[0].ci_high < 0  # a superiority test would call this contradicted
    assert evaluate({"m": precise}, _test(), n_boot=B).verdict == "contradicted"
    vague = _normal(-0.03, 0.3, 8, 2)
    assert evaluate({"m": vague}, t, n_boot=B).verdict == "inconclusive"
    worse = _normal(-0.3, 0.1, 200, 3)
    assert evaluate({"m": worse}, t, n_boot=B).verdict == "contradicted"


def test_bounds_with_one_null_per_part():
    rng = np.random.default_rng(2)
    t5 = rng.permutation(np.r_[np.ones(90), np.zeros(210)])  # 0.30
    t50 = rng.permutation(np.r_[np.ones(165), np.zeros(135)])  # 0.55
    test = _test(kind="bound", bound=0.45, direction="lower", over="every")
    r = evaluate({"5": t5, "50": t50}, test, nulls={"5": 0.45, "50": 0.65}, n_boot=B)
    assert r.verdict == "reproduced" and "the paper's bound" in r.why
    rows = r.table.set_index("part")
    assert rows.loc["50", "against"] == 0.65 and rows.loc["5", "against"] == 0.45
    assert "pooled" not in rows.index  # parts with their own bounds are not pooled
    # the same data against the one bound 0.45: 0.55 is above it at t = 50
    assert evaluate({"5": t5, "50": t50}, test, n_boot=B).verdict == "contradicted"
    with pytest.raises(ConfigError, match="nulls name a part that was not measured: '500'"):
        evaluate({"5": t5}, test, nulls={"500": 0.5}, n_boot=B)
    with pytest.raises(ConfigError, match="a pooled claim needs per-unit effects with one null"):
        evaluate({"5": t5, "50": t50}, _test(kind="bound", bound=0.45), nulls={"5": 0.4}, n_boot=B)


def test_a_precomputed_interval_decides_a_claim_of_one_part():
    up = MeanInterval(0.2, 0.05, 0.35, 30, math.nan, math.nan)
    down = MeanInterval(-0.2, -0.35, -0.05, 30, math.nan, math.nan)
    wide = MeanInterval(0.1, -0.2, 0.4, 30, math.nan, math.nan)
    assert evaluate({"ratio": up}, _test()).verdict == "reproduced"
    assert evaluate({"ratio": down}, _test()).verdict == "contradicted"
    r = evaluate({"ratio": wide}, _test())
    assert r.verdict == "inconclusive" and math.isnan(r.mde) and math.isnan(r.units_needed)
    with pytest.raises(ConfigError, match="precomputed interval can only decide a claim of one part"):
        evaluate({"a": up, "b": wide}, _test(over="every"))
    with pytest.raises(ConfigError, match="a pooled claim needs per-unit effects"):
        evaluate({"a": up, "b": [0.1, 0.2, 0.3]}, _test())
    # in a claim of two tests (obs. 4: growth and a ratio), the interval must come at 1 - 0.05/2
    with pytest.raises(ConfigError, match="precomputed interval"):
        evaluate({"ratio": up}, _test(), family=2)
    at_975 = MeanInterval(0.2, 0.05, 0.35, 30, math.nan, math.nan, level=0.975)
    assert evaluate({"ratio": at_975}, _test(), family=2).verdict == "reproduced"


def test_bad_effects():
    with pytest.raises(ConfigError, match="at least one part"):
        evaluate({}, _test())
    with pytest.raises(ConfigError, match="the same units"):
        evaluate({"a": [1.0, 2.0], "b": [1.0, 2.0, 3.0]}, _test(over="every"))
    with pytest.raises(ConfigError, match="part 'a': values contain inf"):
        evaluate({"a": [1.0, math.inf]}, _test())
    with pytest.raises(ConfigError, match="part 'a': values must be numbers"):
        evaluate({"a": ["x", "y"]}, _test())
    with pytest.raises(ConfigError, match="decided by equivalence_verdict"):
        evaluate({"a": [1.0, 2.0]}, _test(kind="equivalence", band=[0, 1]))
    with pytest.raises(ConfigError, match="family must be >= 1"):
        evaluate({"a": [1.0, 2.0]}, _test(), family=0)
    r = evaluate({"a": [1.0, np.nan, np.nan]}, _test())
    assert r.verdict == "inconclusive" and "1 units measured (a): a verdict needs at least 8" in r.why


def test_fewer_than_eight_units_decide_nothing_however_clear():
    strong = np.array([1.0, 1.1, 0.9, 1.2, 1.05, 0.95, 1.15, 1.0])
    assert evaluate({"a": strong[:7]}, _test()).verdict == "inconclusive"
    assert evaluate({"a": strong}, _test()).verdict == "reproduced"
    assert evaluate({"a": -strong[:7]}, _test()).verdict == "inconclusive"
    assert evaluate({"a": -strong}, _test()).verdict == "contradicted"


def test_the_null_claim_is_rarely_decided(no_power):
    """A true null claim of 3 parts at n = 16 (normal and skewed effects): decided (reproduced or
    contradicted) at most about 5% of the time."""
    rng = np.random.default_rng(2026)
    test = _test(over="every", paper_effect=0.5)
    decided, runs = 0, 300
    for i in range(runs):
        if i % 2:
            parts = {f"m{j}": rng.normal(0, 1, 16) for j in range(3)}
        else:
            parts = {f"m{j}": rng.exponential(1, 16) - 1 for j in range(3)}
        v = evaluate(parts, test, n_boot=199, seed=i).verdict
        decided += v in ("reproduced", "contradicted")
    assert decided / runs <= 0.07


def test_a_true_effect_is_mostly_reproduced(no_power):
    rng = np.random.default_rng(7)
    test = _test(over="every", paper_effect=1.0)
    runs = 60
    hits = sum(
        evaluate({f"m{j}": rng.normal(1.0, 1, 30) for j in range(3)}, test, n_boot=199, seed=i).verdict == "reproduced"
        for i in range(runs)
    )
    assert hits / runs >= 0.8


# --- combining the tests of one claim; equivalence ---------------------------------------------
def _result(verdict, why=None):
    return ClaimResult(verdict, why or f"because {verdict}", pd.DataFrame())


@pytest.mark.parametrize(
    "verdicts, expected",
    [
        (["reproduced", "reproduced"], "reproduced"),
        (["reproduced", "contradicted"], "contradicted"),
        (["smaller than the paper's", "contradicted"], "contradicted"),
        (["inconclusive", "contradicted", "not run here"], "contradicted"),
        (["reproduced", "smaller than the paper's"], "smaller than the paper's"),
        (["inconclusive", "smaller than the paper's"], "smaller than the paper's"),
        (["reproduced", "inconclusive"], "inconclusive"),
        (["reproduced", "not run here"], "inconclusive"),
        (["not run here", "not run here"], "not run here"),
        (["inconclusive"], "inconclusive"),
    ],
)
def test_combine(verdicts, expected):
    verdict, why = combine([_result(v) for v in verdicts])
    assert verdict == expected
    if expected in ("contradicted", "smaller than the paper's"):
        assert why == "; ".join(f"because {v}" for v in verdicts if v == expected)
    if expected == "inconclusive":
        assert "because reproduced" not in why and why


def test_combine_needs_a_result():
    with pytest.raises(ConfigError, match="at least one result"):
        combine([])


def test_equivalence_verdict():
    iv = MeanInterval(1.0, 0.9, 1.1, 20, 0.2, 0.5)
    assert equivalence_verdict(iv, 0.8, 1.2)[0] == "reproduced"
    assert equivalence_verdict(iv, 1.2, 1.5)[0] == "contradicted"
    assert equivalence_verdict(iv, 0.5, 0.85)[0] == "contradicted"
    verdict, why = equivalence_verdict(iv, 1.0, 1.5)
    assert verdict == "inconclusive" and "[1, 1.5]" in why
    nan = MeanInterval(1.0, math.nan, math.nan, 1, math.nan, math.nan)
    assert equivalence_verdict(nan, 0, 2) == ("inconclusive", "no interval (fewer than 2 units)")
    with pytest.raises(ConfigError, match="low <= high"):
        equivalence_verdict(iv, 2, 1)


# --- what the book shows ----------------------------------------------------------------------
def test_shown_has_one_row_per_part_and_no_verdict_words():
    a, b = _normal(0.6, 1.0, 40, 1), _normal(-0.5, 1.0, 40, 2)
    r = evaluate({"a": a, "b": b}, _test(over="every", paper_effect=0.3), n_boot=B)
    table = shown(r)
    assert table.part.tolist() == ["a", "b", "pooled"]
    assert table.role.tolist() == ["decides", "decides", "shown"]
    assert table["paper's effect"].tolist() == ["+0.300"] * 3
    assert table["p (Holm)"].iloc[2] == "-"  # the pooled summary is not one of the tests
    adjusted = intervals.holm(r.table.p.where(r.table.part != "pooled"))
    assert table["p (Holm)"].iloc[0] == f"{adjusted[0]:.3f}"
    assert table.estimate.iloc[0].startswith("+0.600 [") and table.estimate.iloc[0].endswith("(n=40)")
    assert "verdict" not in table.columns and not table.isin(VERDICTS).any().any()


def test_interval_is_the_95_mean_interval():
    x = _normal(0.3, 1.0, 20, 1)
    assert interval(x, n_boot=B) == intervals.mean_interval(x, 0.95, n_boot=B)


def test_win_tie_rates_count_ties_apart():
    rates = win_tie_rates(["a", "a", "tie", "b", "invalid"])
    assert rates == {"win": 50.0, "tie": 25.0, "loss": 25.0, "n": 4}
    assert win_tie_rates([])["n"] == 0 and math.isnan(win_tie_rates([])["win"])


def test_rules_text_names_every_verdict():
    text = rules_markdown()
    for v in VERDICTS:
        assert f"**{v}**" in text
    assert "1 - 0.05/k" in text and "not independent" in text and "non-inferiority" in text


# --- paper_values.yaml: every claim parses, and its effects are the typed-in tables' ------------
def _claims():
    raw = yaml.safe_load(comparison.VALUES_FILE.read_text(encoding="utf-8"))
    return raw[comparison.CLAIMS]


def test_every_claim_of_the_values_file_parses():
    tests = 0
    for cid, claim in _claims().items():
        if "view_of" in claim:
            assert claim["view_of"] in _claims() and "view_of" not in _claims()[claim["view_of"]]
            with pytest.raises(ConfigError, match="is a view of"):
                comparison.claim_test(cid)
            continue
        names = comparison.claim_test_names(cid) or [None]
        for name in names:
            t = comparison.claim_test(cid, name)
            assert isinstance(t, ClaimTest) and t.estimand and t.paper_effect_from
            tests += 1
    assert tests >= 15


def _effect(cid, name=None):
    return comparison.claim_test(cid, name).paper_effect


def _wide(key, metric):
    t = comparison.paper_table(key)
    return t.pivot_table(index=["model", "method"], columns="variant", values=metric, sort=False)


def _guided(wide):
    return wide[~wide.index.get_level_values("method").str.startswith("bon")]


def test_the_papers_effects_are_computed_from_its_tables():
    """The yaml's paper_effect of each claim, recomputed from the typed-in table rows, so the
    prose that quotes them and the numbers cannot drift apart."""
    reward = _wide("table1", "reward")
    guided = _guided(reward)
    assert _effect("table1-reward") == pytest.approx((guided["sp-prm"] / guided["orm"] - 1).mean(), abs=0.001)
    assert _test(**_claims()["table1-reward"]["test"]).skip == ("bon",)
    win_tie = _wide("table1", "win_tie")
    assert _effect("table1-win-tie") == pytest.approx(((win_tie["sp-prm"] - win_tie["orm"]) / 100).mean(), abs=0.001)
    assert _effect("table1-ablation", "reward") == pytest.approx(
        (reward["sp-prm"] / reward["sc"] - 1).mean(), abs=0.001
    )
    for metric in ("diversity", "coherence"):
        w = _wide("table1", metric)
        assert _effect("table1-ablation", metric) == pytest.approx((w["sp-prm"] - w["sc"]).mean(), abs=0.001)
    t2 = _wide("table2", "reward")
    assert _effect("table2", "reward") == pytest.approx((t2["sp-prm"] / t2["orm"] - 1).mean(), abs=0.001)
    rouge = _wide("table2", "rouge_l")
    assert _effect("table2", "rouge_l") == pytest.approx((rouge["sp-prm"] - rouge["orm"]).mean(), abs=0.001)
    asr = _wide("table3", "asr")
    assert _effect("table3", "asr") == pytest.approx(-((asr["sp-prm"] - asr["orm"]) / 100).mean(), abs=0.001)
    t3 = _wide("table3", "reward")
    assert _effect("table3", "reward") == pytest.approx(
        ((t3["sp-prm"] - t3["orm"]) / t3["orm"].abs()).mean(), abs=0.001
    )
    acc = _wide("table4", "accuracy")
    assert _effect("table4", "accuracy") == pytest.approx(((acc["sp-prm"] - acc["orm"]) / 100).mean(), abs=0.001)
    margin = comparison.claim_test("table5").margin
    assert margin == pytest.approx(_effect("table1-reward") / 2, abs=0.001)


def test_relative_claims_say_so_and_absolute_ones_do_not():
    """A relative test's effect is a fraction (a few percent), stated as relative in the yaml."""
    for cid, name in (
        ("table1-reward", None),
        ("table1-ablation", "reward"),
        ("table2", "reward"),
        ("table3", "reward"),
    ):
        t = comparison.claim_test(cid, name)
        assert t.relative and 0 < t.paper_effect < 0.2, (cid, name)
    for cid, name in (("table1-win-tie", None), ("table2", "rouge_l"), ("table3", "asr"), ("table4", "accuracy")):
        assert not comparison.claim_test(cid, name).relative, (cid, name)


def test_combine_names_each_test_in_its_reason():
    verdict, why = combine({"reward": _result("smaller than the paper's"), "asr": _result("inconclusive")})
    assert verdict == "smaller than the paper's" and why.startswith("reward: ")


def test_resampling_takes_the_profiles_bootstrap_with_a_floor():
    from sp_prm_lib.config.profile import load_profile
    from sp_prm_lib.experiments.verdicts import MIN_BOOT, resampling

    smoke, tiny = load_profile("smoke"), load_profile("tiny")
    assert smoke.analysis.bootstrap < MIN_BOOT < tiny.analysis.bootstrap  # both branches of the floor
    assert resampling(smoke) == {"n_boot": MIN_BOOT, "seed": smoke.seed}
    assert resampling(tiny) == {"n_boot": tiny.analysis.bootstrap, "seed": tiny.seed}

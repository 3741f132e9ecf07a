"""core/intervals: coverage and false-verdict rate by simulation, known effects, naive-loop equivalence,
power and MDE, the paired ratio interval, Holm, bad input.

Monte-Carlo error: the coverage (vectorised) uses 3,000 simulated runs per cell, a standard error of
sqrt(0.94 * 0.06 / 3000) = 0.0043; the lowest true coverage measured (exponential at n = 8: 0.941 over
6,000 runs) is 2.5 standard errors above the 0.93 threshold, the others (0.95-0.99) further. The
p-values are computed one sample at a time as the verdict code does, so only 600 runs (standard error
0.009 at 0.05): their decisive rate is held to 0.08, and more tightly by the check that p < 0.05 only
where the interval excludes the null (whose rate over 3,000 runs is held to 0.07). The naive percentile
bootstrap (true coverage about 0.88 at n = 8) fails the same coverage threshold, so the test can fail.
"""

import math

import numpy as np
import pytest
from scipy import integrate, stats
from scipy.special import ndtr

from sp_prm_lib.core import intervals
from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.core.intervals import (
    clopper_pearson,
    holm,
    mean_interval,
    minimal_detectable_effect,
    power_t,
    ratio_interval,
    signed_score,
    support_of,
    union_intervals,
    units_needed,
    wilson,
)

RUNS = 3000  # coverage, vectorised
P_RUNS = 600  # p-values, one sample at a time
N_BOOT = 999
# name: (draw(rng, shape) -> values, true mean, support)
OUTCOMES = {
    "normal": (lambda rng, s: rng.normal(0.0, 1.0, s), 0.0, "real"),
    "exponential": (lambda rng, s: rng.exponential(1.0, s) - 1.0, 0.0, "real"),
    "gamma2": (lambda rng, s: rng.gamma(2.0, 1.0, s) - 2.0, 0.0, "real"),
    "indicator_p0.5": (lambda rng, s: (rng.random(s) < 0.5).astype(float), 0.5, "binary"),
    "indicator_p0.8": (lambda rng, s: (rng.random(s) < 0.8).astype(float), 0.8, "binary"),
    "win_tie_loss": (lambda rng, s: rng.choice([-1.0, 0.0, 1.0], size=s, p=[0.3, 0.4, 0.3]), 0.0, "signed"),
}
SIZES = [8, 16, 30, pytest.param(100, marks=pytest.mark.slow)]


def _simulate(name, n, seed, runs=RUNS):
    draw, truth, support = OUTCOMES[name]
    rng = np.random.default_rng([seed, n, list(OUTCOMES).index(name)])
    return draw(rng, (runs, n)), truth, support


# ---------------------------------------------------------------- coverage and false verdicts


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("name", list(OUTCOMES))
def test_coverage_and_null_decisive_rate(name, n):
    x, truth, support = _simulate(name, n, seed=11)
    low, high = union_intervals(x, support=support, n_boot=N_BOOT, seed=2)
    coverage = np.mean((low <= truth) & (truth <= high))
    assert coverage >= 0.93, f"{name} n={n}: 95% interval covers {coverage:.3f}"
    assert 1 - coverage <= 0.07  # the interval excludes the null (a decisive verdict) at most 7% of the time

    # the verdict's p-value, one sample at a time as the verdict code calls it
    x = x[:P_RUNS]
    p = np.array([mean_interval(row, null=truth, support=support, n_boot=N_BOOT, seed=3).p_value for row in x])
    decisive = np.mean(p < 0.05)
    assert decisive <= 0.08, f"{name} n={n}: null called decisive {decisive:.3f} of the time"
    # p < 0.05 only where the interval excludes the null (same resampling seed, up to quantile interpolation)
    low3, high3 = union_intervals(x, support=support, n_boot=N_BOOT, seed=3)
    excludes = (low3 > truth) | (high3 < truth)
    assert np.mean((p < 0.05) & ~excludes) <= 0.01


def _percentile_bootstrap(x, n_boot, seed, level=0.95):
    """The naive percentile bootstrap of each row's mean (what the verdicts used before issue 22)."""
    idx = np.random.default_rng(seed).integers(0, x.shape[1], size=(n_boot, x.shape[1]))
    means = x[:, idx].mean(axis=2)
    a = (1 - level) / 2
    return np.quantile(means, a, axis=1), np.quantile(means, 1 - a, axis=1)


def test_naive_percentile_bootstrap_undercovers_at_n8():
    """Why the module exists: the same check fails the percentile bootstrap at n = 8 (about 0.88)."""
    x, truth, _ = _simulate("normal", 8, seed=11, runs=P_RUNS)
    low, high = _percentile_bootstrap(x, N_BOOT, seed=2)
    naive = np.mean((low <= truth) & (truth <= high))
    low, high = union_intervals(x, n_boot=N_BOOT, seed=2)
    ours = np.mean((low <= truth) & (truth <= high))
    assert naive < 0.92 < 0.93 <= ours, (naive, ours)


def test_known_effect_is_detected_about_as_often_as_the_t_test_power_says():
    """Under an effect the union is conservative but not useless: its decisive rate is close to the t test's power."""
    rng = np.random.default_rng(21)
    n, effect = 30, 0.5
    x = rng.normal(effect, 1.0, (P_RUNS, n))
    low, high = union_intervals(x, n_boot=N_BOOT, seed=4)
    rate = np.mean(low > 0)
    power = power_t(effect, 1.0, n)  # about 0.75
    assert power - 0.08 <= rate <= power + 0.05, (rate, power)


# ---------------------------------------------------------------- known effects


def test_clear_effect_is_decisive():
    x = np.random.default_rng(3).normal(1.0, 1.0, 30)
    r = mean_interval(x)
    assert r.low > 0 and r.p_value < 0.05 and r.low < r.mean < r.high and r.n == 30


def test_three_wins_no_loss_five_ties_is_not_decisive():
    x = [1.0] * 3 + [0.0] * 5
    assert support_of(x) == "binary"  # only 0 and 1 seen: the caller states the support
    r = mean_interval(x, support="signed")
    assert stats.binomtest(3, 3, 0.5).pvalue == pytest.approx(0.25)  # the exact sign test
    assert r.low <= 0 <= r.high and r.p_value >= 0.05


def test_unanimous_wins_are_decisive_with_a_nondegenerate_interval():
    r = mean_interval([1.0] * 15, support="signed")
    assert 0 < r.low < 1 and r.high == 1 and r.p_value < 0.05
    # and the binary analogue: 15 of 15 successes, Clopper-Pearson's low end 0.025 ** (1/15)
    b = mean_interval([1.0] * 15, null=0.5)
    assert b.low <= 0.025 ** (1 / 15) + 1e-12 and b.high == 1 and b.p_value < 0.05


def test_fewer_than_two_units_give_nan_not_a_verdict():
    for values in ([], [np.nan, np.nan], [0.3]):
        r = mean_interval(values)
        assert math.isnan(r.low) and math.isnan(r.high) and math.isnan(r.p_value)
        assert r.n == len([v for v in values if not np.isnan(v)])


def test_nan_units_are_left_out():
    x = np.random.default_rng(4).normal(size=12)
    with_nan = np.concatenate([x[:5], [np.nan], x[5:], [np.nan]])
    assert mean_interval(with_nan) == mean_interval(x)


# ---------------------------------------------------------------- naive loops


def test_union_is_the_hull_of_t_and_bootstrap_t_computed_by_loops(monkeypatch):
    monkeypatch.setattr(intervals, "_CHUNK_CELLS", 199 * 10 * 3)  # 3 rows per chunk: exercise the chunking
    rng = np.random.default_rng(8)
    x = np.vstack([rng.exponential(size=(6, 10)), rng.normal(size=(5, 10))])
    level, n_boot, seed = 0.9, 199, 5
    low, high = union_intervals(x, level, n_boot=n_boot, seed=seed)
    n = x.shape[1]
    idx = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    for row, lo, hi in zip(x, low, high):
        mean, se = row.mean(), row.std(ddof=1) / math.sqrt(n)
        crit = stats.t.ppf(1 - (1 - level) / 2, n - 1)
        tstats = []
        for b in range(n_boot):
            s = row[idx[b]]
            if s.std(ddof=1) > 0:
                tstats.append((s.mean() - mean) / (s.std(ddof=1) / math.sqrt(n)))
        q_lo, q_hi = np.quantile(tstats, [(1 - level) / 2, 1 - (1 - level) / 2])
        assert lo == pytest.approx(min(mean - crit * se, mean - q_hi * se), rel=1e-12, abs=1e-12)
        assert hi == pytest.approx(max(mean + crit * se, mean - q_lo * se), rel=1e-12, abs=1e-12)


def test_mean_interval_contains_the_student_t_interval():
    for seed in range(5):
        x = np.random.default_rng(seed).normal(0.2, 1.0, 12)
        lo, hi = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
        r = mean_interval(x)
        assert r.low <= lo + 1e-12 and r.high >= hi - 1e-12
        assert r.p_value >= stats.ttest_1samp(x, 0.0).pvalue - 1e-12  # the largest of its parts' p-values


@pytest.mark.parametrize("level", [0.9, 0.95, 0.99])
def test_clopper_pearson_matches_scipy_exact(level):
    for n in (1, 2, 8, 15, 30):
        k = np.arange(n + 1)
        low, high = clopper_pearson(k, n, level)
        for ki in k:
            ci = stats.binomtest(int(ki), n).proportion_ci(confidence_level=level, method="exact")
            assert low[ki] == pytest.approx(ci.low, abs=1e-10) and high[ki] == pytest.approx(ci.high, abs=1e-10)


@pytest.mark.parametrize("level", [0.9, 0.95])
def test_wilson_matches_its_definition_and_scipy(level):
    z = stats.norm.ppf(1 - (1 - level) / 2)
    for n in (1, 5, 8, 40):
        for k in range(n + 1):
            phat = k / n
            low, high = wilson(phat, n, level)
            # the interval is {p : (phat - p)^2 <= z^2 p (1 - p) / n}: the ends solve it with equality
            for end in (low, high):
                assert (phat - end) ** 2 == pytest.approx(z * z * end * (1 - end) / n, abs=1e-12)
            ci = stats.binomtest(k, n).proportion_ci(confidence_level=level, method="wilson")
            assert low == pytest.approx(ci.low, abs=1e-10) and high == pytest.approx(ci.high, abs=1e-10)


def test_signed_score_matches_a_grid_scan():
    grid = np.linspace(-1, 1, 200_001)  # step 1e-5
    z = stats.norm.ppf(0.975)
    for wins, ties, losses in [(3, 5, 0), (15, 0, 0), (4, 2, 2), (0, 8, 0), (10, 25, 15), (1, 0, 7)]:
        n = wins + ties + losses
        mean, nonzero = (wins - losses) / n, (wins + losses) / n
        keep = grid[np.abs(mean - grid) <= z * np.sqrt(np.maximum(nonzero - grid**2, 0.0) / n)]
        low, high = signed_score(mean, nonzero, n, z)
        assert low == pytest.approx(keep.min(), abs=2e-5) and high == pytest.approx(keep.max(), abs=2e-5)


# ---------------------------------------------------------------- power and MDE


def _power_by_integration(effect, sd, n, alpha=0.05):
    """P(|t| > crit) for t = (Z + delta) / sqrt(V / (n - 1)), V ~ chi2(n - 1), by quadrature over V."""
    crit, delta, df = stats.t.ppf(1 - alpha / 2, n - 1), effect / sd * math.sqrt(n), n - 1
    log_norm = (df / 2) * math.log(2) + math.lgamma(df / 2)

    def given_v(v):
        c = crit * math.sqrt(v / df)
        density = math.exp((df / 2 - 1) * math.log(v) - v / 2 - log_norm) if v > 0 else 0.0
        return (ndtr(delta - c) + ndtr(-c - delta)) * density

    spread = 40 * math.sqrt(2 * df) + 50
    return integrate.quad(given_v, max(0.0, df - spread), df + spread, limit=200, epsabs=1e-10)[0]


def test_power_matches_quadrature_and_simulation():
    for effect, n in [(0.5, 34), (0.2, 10), (1.0, 8), (0.3, 100)]:
        assert power_t(effect, 1.0, n) == pytest.approx(_power_by_integration(effect, 1.0, n), abs=1e-6)
    x = np.random.default_rng(9).normal(0.5, 1.0, (4000, 34))
    rejected = np.mean(stats.ttest_1samp(x, 0.0, axis=1).pvalue < 0.05)
    assert rejected == pytest.approx(power_t(0.5, 1.0, 34), abs=0.025)  # 4000 runs: se 0.006


def test_mde_and_units_needed():
    mde = minimal_detectable_effect(1.0, 34)
    assert mde == pytest.approx(0.5, abs=0.01)
    assert _power_by_integration(mde, 1.0, 34) == pytest.approx(0.8, abs=1e-4)
    assert _power_by_integration(mde * 0.99, 1.0, 34) < 0.8
    assert minimal_detectable_effect(2.0, 34) == pytest.approx(2 * mde, rel=1e-6)  # scales with sd
    # the fewest units, by a naive loop over n
    for effect in (0.5, 0.3, 1.2):
        naive = next(n for n in range(2, 10_000) if _power_by_integration(effect, 1.0, n) >= 0.8)
        assert units_needed(effect, 1.0) == naive
    assert units_needed(0.5, 1.0) == 34
    assert units_needed(-0.5, 1.0) == 34  # two-sided
    assert math.isinf(units_needed(1e-4, 1.0, limit=1000))
    assert math.isnan(units_needed(0.0, 1.0)) and math.isnan(minimal_detectable_effect(0.0, 30))


def test_power_increases_with_n_and_effect():
    by_n = [power_t(0.3, 1.0, n) for n in range(2, 200, 7)]
    by_effect = [power_t(e, 1.0, 20) for e in np.linspace(0.01, 2, 40)]
    assert np.all(np.diff(by_n) > 0) and np.all(np.diff(by_effect) > 0)
    assert power_t(0.0, 1.0, 20) == pytest.approx(0.05, abs=1e-9)  # the level, under the null
    assert np.all(np.diff([minimal_detectable_effect(1.0, n) for n in (5, 10, 20, 40, 80)]) < 0)


# ---------------------------------------------------------------- ratio of means


def _ratio_data(seed, n=30):
    rng = np.random.default_rng(seed)
    return rng.gamma(4.0, 1.0, n), rng.gamma(2.0, 1.0, n)  # independent; true ratio 4 / 2 = 2


def test_ratio_interval_matches_scipy_paired_bca_with_a_loop_statistic():
    num, den = _ratio_data(5)
    r = ratio_interval(num, den, n_boot=999, seed=7)
    ref = stats.bootstrap(
        (num, den),
        lambda a, b: np.mean(a) / np.mean(b),
        paired=True,
        vectorized=False,
        n_resamples=999,
        method="BCa",
        random_state=np.random.default_rng(7),
    ).confidence_interval
    assert r.mean == pytest.approx(num.mean() / den.mean())
    assert r.low == pytest.approx(ref.low, rel=1e-10) and r.high == pytest.approx(ref.high, rel=1e-10)


def _fixed_denominator(num, den, n_boot, seed):
    """The interval the issue found: the numerator resampled, the denominator's mean computed once."""
    idx = np.random.default_rng(seed).integers(0, num.size, size=(n_boot, num.size))
    return np.quantile(num[idx].mean(axis=1) / den.mean(), [0.025, 0.975])


def test_ratio_interval_resamples_the_denominator():
    num, den = _ratio_data(5)
    r = ratio_interval(num, den, n_boot=999, seed=7)
    lo, hi = _fixed_denominator(num, den, 999, 7)
    assert r.high - r.low > 1.3 * (hi - lo)
    covered = fixed = 0
    runs = 200
    for i in range(runs):
        num, den = _ratio_data(100 + i)
        r = ratio_interval(num, den, n_boot=999, seed=i)
        lo, hi = _fixed_denominator(num, den, 999, i)
        covered += r.low <= 2.0 <= r.high
        fixed += lo <= 2.0 <= hi
    # 200 runs: se about 0.016 at 0.95; the fixed-denominator interval covers about 0.8
    assert covered / runs >= 0.9 and fixed / runs <= 0.88, (covered / runs, fixed / runs)


def test_ratio_interval_degenerate_cases():
    r = ratio_interval([1.0, 2.0, np.nan], [0.0, 0.0, 1.0])
    assert math.isnan(r.mean) and r.n == 2  # mean denominator 0 over the two measured units
    assert math.isnan(ratio_interval([1.0], [2.0]).low)


# ---------------------------------------------------------------- Holm


def _holm_by_definition(p):
    """Adjusted p_(i) = max over j <= i of min(1, (m - j + 1) p_(j)), written as a double loop."""
    idx = [i for i in range(len(p)) if not np.isnan(p[i])]
    order = sorted(idx, key=lambda i: p[i])
    m, out = len(order), [math.nan] * len(p)
    for rank, i in enumerate(order):
        out[i] = max(min(1.0, (m - j) * p[order[j]]) for j in range(rank + 1))
    return np.array(out)


def _holm_rejects(p, alpha):
    """Holm's procedure run at alpha: step down while p_(k) <= alpha / (m - k + 1)."""
    idx = [i for i in range(len(p)) if not np.isnan(p[i])]
    order, rejected = sorted(idx, key=lambda i: p[i]), set()
    for k, i in enumerate(order):
        if p[i] > alpha / (len(order) - k):
            break
        rejected.add(i)
    return rejected


def test_holm_matches_naive_step_down():
    rng = np.random.default_rng(12)
    for trial in range(300):
        m = rng.integers(1, 12)
        p = rng.choice([rng.random(m), rng.random(m) ** 4, np.round(rng.random(m), 1)], axis=0)
        if trial % 3 == 0:
            p[rng.random(m) < 0.2] = np.nan
        adj = holm(p)
        np.testing.assert_allclose(adj, _holm_by_definition(p), rtol=1e-12, equal_nan=True)
        for alpha in (0.01, 0.05, 0.1, 0.3):
            assert set(np.flatnonzero(adj <= alpha)) == _holm_rejects(p, alpha)
        ok = ~np.isnan(p)
        assert np.all(adj[ok] >= p[ok]) and np.all(adj[ok] <= 1)
        order = np.argsort(p[ok], kind="stable")
        assert np.all(np.diff(adj[ok][order]) >= 0)  # same order as the raw p-values
    assert np.all(np.isnan(holm([np.nan, np.nan])))
    np.testing.assert_allclose(holm([0.01, 0.02, 0.03]), [0.03, 0.04, 0.04])


# ---------------------------------------------------------------- bad input


BAD = [
    (lambda: mean_interval([1.0, 2.0, 3.0], level=1.5), "confidence level"),
    (lambda: mean_interval([1.0, 2.0, 3.0], level=0.0), "confidence level"),
    (lambda: mean_interval([1.0, 2.0, 3.0], level=float("nan")), "confidence level"),
    (lambda: mean_interval([1.0, 2.0, 3.0], support="ordinal"), "support"),
    (lambda: mean_interval([1.0, 2.0, 3.0], n_boot=10), "n_boot"),
    (lambda: mean_interval([1.0, np.inf, 3.0]), "inf"),
    (lambda: mean_interval([1.0, -np.inf]), "inf"),
    (lambda: mean_interval(["a", "b"]), "numbers"),
    (lambda: mean_interval([1.0, 2.0, 0.0], support="binary"), "support 'binary'"),
    (lambda: mean_interval([1.0, 0.5, 0.0], support="signed"), "support 'signed'"),
    (lambda: union_intervals(np.zeros((3, 0))), "at least 2 units"),
    (lambda: union_intervals(np.zeros((3, 1))), "at least 2 units"),
    (lambda: union_intervals([[1.0, np.nan, 2.0]]), "NaN"),
    (lambda: union_intervals([[1.0, np.inf, 2.0]]), "inf"),
    (lambda: union_intervals(np.zeros((2, 3, 4))), "2-d"),
    (lambda: wilson(0.5, 10, level=2.0), "confidence level"),
    (lambda: clopper_pearson(5, 10, level=-0.1), "confidence level"),
    (lambda: power_t(0.5, 1.0, 30, alpha=1.5), "alpha"),
    (lambda: minimal_detectable_effect(1.0, 30, power=1.5), "power"),
    (lambda: units_needed(0.5, 1.0, alpha=0.0), "alpha"),
    (lambda: ratio_interval([1.0, 2.0, 3.0], [1.0, 2.0]), "1-d arrays"),
    (lambda: ratio_interval([1.0, 2.0, 3.0], [1.0, 2.0, np.inf]), "inf"),
    (lambda: ratio_interval([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], level=2.0), "confidence level"),
    (lambda: ratio_interval([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], n_boot=5), "n_boot"),
    (lambda: holm([0.01, 1.2]), "[0, 1]"),
    (lambda: holm([0.01, -0.1]), "[0, 1]"),
    (lambda: holm([0.01, np.inf]), "inf"),
]


@pytest.mark.parametrize("call,fragment", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_bad_input_gives_a_one_line_config_error(call, fragment):
    with pytest.raises(ConfigError) as err:
        call()
    message = str(err.value)
    assert fragment in message and "\n" not in message, message

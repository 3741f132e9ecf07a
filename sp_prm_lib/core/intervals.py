"""Intervals of a mean that hold their level at the sample sizes we decode (8 to a few hundred units).

Why not the percentile bootstrap: at n = 8 its 95% interval of a mean covers
about 88% (it is too narrow by a factor of roughly sqrt((n - 1) / n) and
ignores the t distribution's tails), so a null effect gets a decisive verdict
about 12% of the time. We use, for the mean of one value per unit (a paired
difference, a win/tie/loss score, an agreement indicator):

- ``real`` values: the hull of the Student t interval and the studentized
  (bootstrap-t) interval. The t interval is exact for normal data; the
  bootstrap-t corrects for skew (it is second-order accurate, Hall 1988). The
  hull covers at least as often as either, which the simulation test in
  ``tests/test_intervals.py`` checks at n = 8, 16, 30, 100 for normal, skewed
  and discrete outcomes.
- ``binary`` values (0/1 indicators): the hull of the above with the exact
  Clopper-Pearson interval, which holds its level at every n and also when the
  sample is all 0 or all 1 (at n = 8 the t and Wilson intervals call 1 success
  in 8 "below 0.5", an event of probability 7% under p = 0.5).
- ``signed`` values (-1/0/+1, a win/tie/loss): the hull of the above with a
  score-type interval (``signed_score``: the variance of such a variable is
  the share of non-ties minus the squared mean, evaluated at each candidate
  mean, as Wilson's interval does for a proportion); it guards the small n
  where discreteness makes the bootstrap-t too short, and judges a unanimous
  sample (15 wins out of 15) instead of giving it a zero-width interval.

Also here: the minimal detectable effect and the number of units needed for
80% power (two-sided one-sample t test, noncentral t), an interval of a ratio
of means with the denominator inside the resampling (BCa, via
``scipy.stats.bootstrap``), and Holm's step-down adjustment of p-values.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats

from sp_prm_lib.core.errors import ConfigError

SUPPORTS = ("real", "binary", "signed")
_CHUNK_CELLS = 4_000_000  # bootstrap cells (samples x replicates x units) per vectorised step


@dataclass(frozen=True)
class MeanInterval:
    """A mean over ``n`` units, its interval at ``level`` and the two-sided p-value against ``null``."""

    mean: float
    low: float
    high: float
    n: int
    sd: float
    p_value: float
    level: float = 0.95

    def text(self, digits: int = 3) -> str:
        return f"{self.mean:+.{digits}f} [{self.low:+.{digits}f}, {self.high:+.{digits}f}] (n={self.n})"


def support_of(values) -> str:
    """``binary`` when every value is 0 or 1, ``signed`` when every value is -1, 0 or 1, else ``real``."""
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    if x.size and np.isin(x, (0.0, 1.0)).all():
        return "binary"
    if x.size and np.isin(x, (-1.0, 0.0, 1.0)).all():
        return "signed"
    return "real"


def _check_share(value: float, what: str) -> None:
    if not 0 < value < 1:
        raise ConfigError(f"{what} must be in (0, 1), got {value}")


def _numbers(values, what: str) -> np.ndarray:
    """``values`` as floats (NaN allowed, it means not measured); a one-line ConfigError for text or inf."""
    try:
        x = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{what}: values must be numbers ({err})") from None
    if np.isinf(x).any():
        raise ConfigError(f"{what}: values contain inf; finite numbers expected (NaN = not measured)")
    return x


def _check(level: float, support: str, n_boot: int) -> None:
    _check_share(level, "confidence level")
    if support not in SUPPORTS:
        raise ConfigError(f"support must be one of {', '.join(SUPPORTS)}, got {support!r}")
    if n_boot < 99:
        raise ConfigError(f"n_boot must be >= 99, got {n_boot}")


def wilson(share, n, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a proportion ``share`` observed over ``n`` units (vectorised)."""
    _check_share(level, "confidence level")
    p, n = np.asarray(share, dtype=float), np.asarray(n, dtype=float)
    z = stats.norm.ppf(1 - (1 - level) / 2)
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def clopper_pearson(successes, n, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Clopper-Pearson) interval of a proportion: ``successes`` out of ``n`` (vectorised)."""
    _check_share(level, "confidence level")
    k, n = np.asarray(successes, dtype=float), np.asarray(n, dtype=float)
    a = (1 - level) / 2
    with np.errstate(invalid="ignore"):
        low = np.where(k > 0, stats.beta.ppf(a, k, n - k + 1), 0.0)
        high = np.where(k < n, stats.beta.ppf(1 - a, k + 1, n - k), 1.0)
    return low, high


def signed_score(mean, nonzero, n, crit) -> tuple[np.ndarray, np.ndarray]:
    """Score-type interval of the mean of a -1/0/+1 variable: the mu with
    (mean - mu)^2 <= crit^2 (s - mu^2) / n, where s is the share of non-zero units
    (the variance of such a variable is s - mu^2). Like Wilson's for a proportion,
    it stays wide when the sample is unanimous (all wins), where the t interval has width 0."""
    c = crit * crit / n
    a = 1 + c
    disc = np.sqrt(np.maximum(mean * mean - a * (mean * mean - c * nonzero), 0.0))
    return (mean - disc) / a, (mean + disc) / a


def union_intervals(
    samples, level: float = 0.95, *, support: str = "real", n_boot: int = 999, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) of the mean of each row of ``samples`` (m rows of n units each, no NaN).

    The hull of the t interval and the bootstrap-t interval (plus Wilson, see the
    module docstring). One set of resampling indices is shared by all rows, which
    keeps the simulation tests fast; rows stay independent because their data are.
    """
    _check(level, support, n_boot)
    x = np.atleast_2d(_numbers(samples, "union_intervals"))
    if x.ndim != 2:
        raise ConfigError(f"union_intervals needs a 2-d array (rows of units), got shape {x.shape}")
    m, n = x.shape
    if n < 2:
        raise ConfigError(f"an interval of a mean needs at least 2 units, got {n}")
    if np.isnan(x).any():
        raise ConfigError("union_intervals: samples contain NaN; drop unmeasured units first")
    allowed = {"binary": (0.0, 1.0), "signed": (-1.0, 0.0, 1.0)}.get(support)
    other = x[~np.isin(x, allowed)] if allowed else x[:0]
    if other.size:
        raise ConfigError(f"support {support!r} needs values in {allowed}, got {other[0]} among them")
    alpha = 1 - level
    mean, sd = x.mean(axis=1), x.std(axis=1, ddof=1)
    se = sd / math.sqrt(n)
    crit = stats.t.ppf(1 - alpha / 2, n - 1)
    low, high = mean - crit * se, mean + crit * se

    t_lo, t_hi = _bootstrap_t_quantiles(x, mean, alpha, n_boot, seed)
    with np.errstate(invalid="ignore"):
        low = np.fmin(low, mean - t_hi * se)
        high = np.fmax(high, mean - t_lo * se)

    constant = sd == 0
    if support == "binary":
        b_lo, b_hi = clopper_pearson(np.rint(mean * n), n, level)
        low, high = np.where(constant, b_lo, np.fmin(low, b_lo)), np.where(constant, b_hi, np.fmax(high, b_hi))
        low, high = np.clip(low, 0, 1), np.clip(high, 0, 1)
    elif support == "signed":
        nonzero = (x != 0).mean(axis=1)
        # all ties: no unit was non-zero; bound the share that could be by its exact interval (0 of n)
        nonzero = np.where(nonzero == 0, clopper_pearson(0, n, level)[1], nonzero)
        w_lo, w_hi = signed_score(mean, nonzero, n, crit)
        low, high = np.where(constant, w_lo, np.fmin(low, w_lo)), np.where(constant, w_hi, np.fmax(high, w_hi))
        wins, losses = (x == 1).sum(axis=1), (x == -1).sum(axis=1)
        e_lo, e_hi = signed_exact(wins, losses, n, level)
        one_sided = (wins == 0) | (losses == 0)  # all ties, or no loss, or no win: the t parts are unreliable
        low, high = np.where(one_sided, np.fmin(low, e_lo), low), np.where(one_sided, np.fmax(high, e_hi), high)
        low, high = np.clip(low, -1, 1), np.clip(high, -1, 1)
    else:  # a constant real sample measured no spread: it bounds nothing
        low, high = np.where(constant, np.nan, low), np.where(constant, np.nan, high)
    return low, high


def signed_exact(wins, losses, n, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """A conservative interval of the mean of a -1/0/+1 variable (share of wins minus share of
    losses) from two exact Clopper-Pearson intervals at level 1 - (1 - level) / 2 each
    (Bonferroni): it keeps a width when a sample has no win, no loss, or only ties, where the
    t and score intervals shrink to nothing."""
    inner = 1 - (1 - level) / 2
    w_lo, w_hi = clopper_pearson(wins, n, inner)
    l_lo, l_hi = clopper_pearson(losses, n, inner)
    return w_lo - l_hi, w_hi - l_lo


def _bootstrap_t_quantiles(x, mean, alpha, n_boot, seed):
    """The alpha/2 and 1 - alpha/2 quantiles of the studentized bootstrap statistic, per row.
    Replicates whose standard deviation is 0 (possible for discrete data) are left out."""
    m, n = x.shape
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_boot, n))
    step = max(1, _CHUNK_CELLS // (n_boot * n))
    lo, hi = np.empty(m), np.empty(m)
    for start in range(0, m, step):
        rows = x[start : start + step]
        sample = rows[:, idx]  # (rows, b, n)
        bm = sample.mean(axis=2)
        bse = sample.std(axis=2, ddof=1) / math.sqrt(n)
        with np.errstate(invalid="ignore", divide="ignore"):
            t = np.where(bse > 0, (bm - mean[start : start + step, None]) / bse, np.nan)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            q = np.nanquantile(t, [alpha / 2, 1 - alpha / 2], axis=1)
        lo[start : start + step], hi[start : start + step] = q[0], q[1]
    return lo, hi


def mean_interval(
    values,
    level: float = 0.95,
    *,
    null: float = 0.0,
    support: str | None = None,
    n_boot: int = 1999,
    seed: int = 0,
) -> MeanInterval:
    """The mean of ``values`` (one per unit; NaN = not measured, left out) with its interval and
    the two-sided p-value against ``null`` (the largest of the interval's parts' p-values, so
    ``p < 1 - level`` exactly when the interval excludes ``null``, up to resampling noise)."""
    _check(level, support or "real", n_boot)
    x = _numbers(values, "mean_interval").ravel()
    x = x[~np.isnan(x)]
    n = int(x.size)
    if n < 2:
        return MeanInterval(float(x.mean()) if n else math.nan, math.nan, math.nan, n, math.nan, math.nan, level)
    support = support or support_of(x)
    low, high = union_intervals(x[None, :], level, support=support, n_boot=n_boot, seed=seed)
    mean, sd = float(x.mean()), float(x.std(ddof=1))
    return MeanInterval(mean, float(low[0]), float(high[0]), n, sd, _p_value(x, null, support, n_boot, seed), level)


def _p_value(x, null, support, n_boot, seed) -> float:
    n, mean, sd = x.size, x.mean(), x.std(ddof=1)
    pvals = []
    if sd > 0:
        se = sd / math.sqrt(n)
        t_obs = (mean - null) / se
        pvals.append(2 * stats.t.sf(abs(t_obs), n - 1))
        rng = np.random.default_rng(seed)
        sample = x[rng.integers(0, n, size=(n_boot, n))]
        bse = sample.std(axis=1, ddof=1) / math.sqrt(n)
        with np.errstate(invalid="ignore", divide="ignore"):
            t = np.where(bse > 0, (sample.mean(axis=1) - mean) / bse, np.nan)
        t = t[~np.isnan(t)]
        if t.size:  # equal-tailed, as the interval is: p < 1 - level exactly when it excludes null
            tail = min(np.sum(t >= t_obs), np.sum(t <= t_obs))
            pvals.append(float(min(1.0, 2 * (1 + tail) / (1 + t.size))))
    elif mean != null and support == "real":
        pvals.append(0.0)
    if support == "binary":
        if 0 < null < 1:
            pvals.append(stats.binomtest(int(round(mean * n)), n, null).pvalue)
        else:
            pvals.append(1.0 if mean == null else 0.0)
    elif support == "signed":
        wins, losses = int(np.sum(x == 1)), int(np.sum(x == -1))
        if null == 0 and (wins == 0 or losses == 0):
            pvals.append(stats.binomtest(wins, wins + losses, 0.5).pvalue if wins + losses else 1.0)
        share, p0 = (mean + 1) / 2, (null + 1) / 2
        if 0 < p0 < 1:
            pvals.append(2 * stats.norm.sf(abs(share - p0) / math.sqrt(p0 * (1 - p0) / n)))
        else:
            pvals.append(1.0 if share == p0 else 0.0)
    return float(max(pvals)) if pvals else 1.0


def power_t(effect: float, sd: float, n: int, alpha: float = 0.05) -> float:
    """Power of the two-sided one-sample t test at level ``alpha`` to detect a mean ``effect``."""
    _check_share(alpha, "alpha")
    if n < 2 or not sd > 0:
        return math.nan
    crit = stats.t.ppf(1 - alpha / 2, n - 1)
    nc = abs(effect) / sd * math.sqrt(n)
    return float(stats.nct.sf(crit, n - 1, nc) + stats.nct.cdf(-crit, n - 1, nc))


def minimal_detectable_effect(sd: float, n: int, *, alpha: float = 0.05, power: float = 0.8) -> float:
    """The smallest mean effect the two-sided t test at ``alpha`` detects with ``power`` over ``n``
    units of standard deviation ``sd`` (NaN when it cannot be computed)."""
    _check_share(alpha, "alpha")
    _check_share(power, "power")
    if n < 2 or not (sd > 0 and math.isfinite(sd)):
        return math.nan
    lo, hi = 0.0, sd
    while power_t(hi, sd, n, alpha) < power:
        hi *= 2
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if power_t(mid, sd, n, alpha) < power else (lo, mid)
    return hi


def units_needed(effect: float, sd: float, *, alpha: float = 0.05, power: float = 0.8, limit: int = 100_000) -> float:
    """The fewest units for which the two-sided t test at ``alpha`` detects ``effect`` with
    ``power`` (NaN when the effect is 0 or the sd unknown; ``inf`` beyond ``limit``)."""
    _check_share(alpha, "alpha")
    _check_share(power, "power")
    if not (sd > 0 and math.isfinite(sd)) or not (effect and math.isfinite(effect)):
        return math.nan
    if power_t(effect, sd, limit, alpha) < power:
        return math.inf
    lo, hi = 2, limit
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (mid + 1, hi) if power_t(effect, sd, mid, alpha) < power else (lo, mid)
    return float(lo)


def ratio_interval(numerator, denominator, level: float = 0.95, *, n_boot: int = 1999, seed: int = 0) -> MeanInterval:
    """mean(numerator) / mean(denominator) over paired units, with a BCa bootstrap interval in
    which both means are recomputed in every replicate (``p_value`` is NaN: a ratio has no null here)."""
    _check(level, "real", n_boot)
    num, den = _numbers(numerator, "ratio_interval numerator"), _numbers(denominator, "ratio_interval denominator")
    if num.shape != den.shape or num.ndim != 1:
        raise ConfigError(f"ratio_interval needs two 1-d arrays of one value per unit, got {num.shape} and {den.shape}")
    keep = ~(np.isnan(num) | np.isnan(den))
    num, den = num[keep], den[keep]
    n = int(num.size)
    if n < 2 or den.mean() == 0:
        return MeanInterval(math.nan, math.nan, math.nan, n, math.nan, math.nan, level)

    def ratio(a, b, axis=-1):
        return a.mean(axis=axis) / b.mean(axis=axis)

    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore")
        res = stats.bootstrap(
            (num, den), ratio, paired=True, vectorized=True, n_resamples=n_boot, confidence_level=level,
            method="BCa", random_state=np.random.default_rng(seed),
        )  # fmt: skip
    low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
    return MeanInterval(float(ratio(num, den)), low, high, n, math.nan, math.nan, level)


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjusted p-values (NaN stays NaN and does not count as a test)."""
    p = _numbers(p_values, "holm")
    if ((p < 0) | (p > 1)).any():
        raise ConfigError(f"holm: p-values must be in [0, 1], got {p[(p < 0) | (p > 1)][0]}")
    out = np.full_like(p, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    if not ok.size:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    m = order.size
    adjusted = np.maximum.accumulate([min(1.0, (m - i) * p[j]) for i, j in enumerate(order)])
    out[order] = adjusted
    return out


def statistic_interval(statistic, n: int, level: float = 0.95, *, n_boot: int = 1999, seed: int = 0) -> MeanInterval:
    """Any statistic of ``n`` paired units with a BCa bootstrap interval: ``statistic(index)`` gets
    an array of unit indices (the units themselves, a resample, or a jackknife sample) and returns
    a number, so every mean inside it (a numerator and its denominator alike) is recomputed in each
    replicate. ``p_value`` and ``sd`` are NaN: the caller decides with the interval."""
    _check(level, "real", n_boot)
    if n < 2:
        return MeanInterval(math.nan, math.nan, math.nan, n, math.nan, math.nan, level)
    value = float(statistic(np.arange(n)))
    if not math.isfinite(value):
        return MeanInterval(value, math.nan, math.nan, n, math.nan, math.nan, level)
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore")
        res = stats.bootstrap(
            (np.arange(n),), lambda i: statistic(np.asarray(i, dtype=int)), vectorized=False,
            n_resamples=n_boot, confidence_level=level, method="BCa", random_state=np.random.default_rng(seed),
        )  # fmt: skip
    low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
    return MeanInterval(value, low, high, n, math.nan, math.nan, level)

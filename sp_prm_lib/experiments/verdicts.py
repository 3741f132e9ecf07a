"""Verdicts that are statistics: an estimate of the paper's effect with a 95% interval.

Every claim is tested the same way. An *effect* is a number whose sign says
whether the paper's claim holds (SP-PRM minus ORM reward, a difference of
agreement rates, ...), estimated with a percentile bootstrap over the units
it was measured on (prompts or pairs). Then:

- ``reproduced``: the interval excludes "no effect" on the paper's side;
- ``contradicted``: it excludes it on the other side;
- ``inconclusive``: it contains no effect (the interval is reported);
- ``not run here``: the run lacks what the claim needs.

A claim over several methods gets one estimate per method and a pooled one,
all from one resampling of the units shared across methods (``paired_bootstrap``);
the pooled estimate decides the verdict. A claim tested with a judge that is
not independent of the method (e.g. the reference RM, which filtered SP-PRM's
training data) can be at most ``inconclusive`` in the paper's favour.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sp_prm_lib.core.errors import ConfigError

VERDICTS = ("reproduced", "contradicted", "inconclusive", "not run here")
DIRECTIONS = ("higher", "lower")


@dataclass(frozen=True)
class Estimate:
    """A mean effect with its bootstrap interval over ``n`` units."""

    name: str
    value: float
    ci_low: float
    ci_high: float
    n: int

    def text(self, digits: int = 3) -> str:
        return f"{self.value:+.{digits}f} [{self.ci_low:+.{digits}f}, {self.ci_high:+.{digits}f}] (n={self.n})"


def estimate_verdict(
    estimate: Estimate, direction: str = "higher", *, null: float = 0.0, independent: bool = True
) -> str:
    """The verdict of one estimate: the paper says the effect is ``direction`` than ``null``."""
    if direction not in DIRECTIONS:
        raise ConfigError(f"direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")
    if not (np.isfinite(estimate.ci_low) and np.isfinite(estimate.ci_high)):
        return "inconclusive"
    above, below = estimate.ci_low > null, estimate.ci_high < null
    supports, against = (above, below) if direction == "higher" else (below, above)
    if supports:
        return "reproduced" if independent else "inconclusive"
    return "contradicted" if against else "inconclusive"


def bootstrap_estimate(
    values, name: str = "effect", *, n_boot: int = 2000, level: float = 0.95, seed: int = 0
) -> Estimate:
    """Mean of ``values`` (one per unit, NaN left out) with its percentile-bootstrap interval."""
    table = paired_bootstrap(
        {name: np.asarray(values, dtype=float)}, n_boot=n_boot, level=level, seed=seed, pooled=False
    )
    return estimates(table)[0]


def paired_bootstrap(
    effects: Mapping[str, np.ndarray], *, n_boot: int = 2000, level: float = 0.95, seed: int = 0, pooled: bool = True
) -> pd.DataFrame:
    """Per-method mean effects and their pooled mean, each with a percentile interval.

    ``effects`` maps a method to its per-unit effects, all aligned on the same
    units (row i is the same prompt or pair everywhere; NaN: not measured).
    Each bootstrap replicate draws one set of units and applies it to every
    method, so the intervals of methods and of the pool are paired. The pooled
    effect of a unit is the mean of its methods' effects.
    """
    if not effects:
        raise ConfigError("paired_bootstrap needs at least one method")
    if not 0 < level < 1:
        raise ConfigError(f"confidence level must be in (0, 1), got {level}")
    if n_boot < 10:
        raise ConfigError(f"n_boot must be >= 10, got {n_boot}")
    names = list(effects)
    lengths = {len(np.asarray(v)) for v in effects.values()}
    if len(lengths) != 1:
        raise ConfigError(f"every method needs one effect per unit; got lengths {sorted(lengths)}")
    x = np.column_stack([np.asarray(effects[m], dtype=float) for m in names])
    if pooled and len(names) > 1:
        with np.errstate(invalid="ignore"):
            pool = np.where(np.isnan(x).all(axis=1), np.nan, np.nanmean(np.where(np.isnan(x), np.nan, x), axis=1))
        x, names = np.column_stack([x, pool]), [*names, "pooled"]
    n_units = len(x)
    if n_units == 0:
        raise ConfigError("paired_bootstrap needs at least one unit")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n_units, size=(n_boot, n_units))
    sample = x[idx]  # (b, n, k)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        means = np.nanmean(sample, axis=1)
        alpha = (1 - level) / 2
        low, high = np.nanquantile(means, alpha, axis=0), np.nanquantile(means, 1 - alpha, axis=0)
        value = np.nanmean(x, axis=0)
    counted = (~np.isnan(x)).sum(axis=0)
    return pd.DataFrame({"method": names, "value": value, "ci_low": low, "ci_high": high, "n": counted})


def estimates(table: pd.DataFrame) -> list[Estimate]:
    """The rows of a ``paired_bootstrap`` table as ``Estimate`` objects."""
    return [Estimate(r.method, float(r.value), float(r.ci_low), float(r.ci_high), int(r.n)) for r in table.itertuples()]


def claim_verdict(
    table: pd.DataFrame, direction: str = "higher", *, null: float = 0.0, independent: bool = True
) -> str:
    """The verdict of a claim over several methods: its pooled estimate's (or its only one's)."""
    rows = table[table.method == "pooled"] if "pooled" in set(table.method) else table
    if len(rows) != 1:
        raise ConfigError("claim_verdict needs one pooled row, or a table of exactly one estimate")
    return estimate_verdict(estimates(rows)[0], direction, null=null, independent=independent)


def verdict_table(
    table: pd.DataFrame, direction: str = "higher", *, null: float = 0.0, independent: bool = True, digits: int = 3
) -> pd.DataFrame:
    """The table with each row's verdict and its interval as text, for the book."""
    out = table.copy()
    out["estimate"] = [e.text(digits) for e in estimates(table)]
    out["verdict"] = [estimate_verdict(e, direction, null=null, independent=independent) for e in estimates(table)]
    return out[["method", "estimate", "verdict"]]


def win_tie_rates(outcomes) -> dict[str, float]:
    """Win rate and tie rate (%) of judged outcomes (``a`` win, ``b`` loss, ``tie``), counted apart:
    identical outputs count as ties, so a high tie rate is not a win."""
    outcomes = pd.Series(list(outcomes), dtype="object")
    counted = outcomes[outcomes.isin(["a", "b", "tie"])]
    n = len(counted)
    if n == 0:
        return {"win": float("nan"), "tie": float("nan"), "loss": float("nan"), "n": 0}
    return {
        "win": 100 * float((counted == "a").mean()),
        "tie": 100 * float((counted == "tie").mean()),
        "loss": 100 * float((counted == "b").mean()),
        "n": n,
    }


def combine_verdicts(verdicts) -> str:
    """The verdict of a claim made of several parts that must all hold: ``reproduced`` when every
    part is, ``contradicted`` when any part is, ``not run here`` when every part is, else
    ``inconclusive``."""
    verdicts = list(verdicts)
    if not verdicts:
        raise ConfigError("combine_verdicts needs at least one verdict")
    unknown = [v for v in verdicts if v not in VERDICTS]
    if unknown:
        raise ConfigError(f"unknown verdict {unknown[0]!r} (known: {', '.join(VERDICTS)})")
    if all(v == "not run here" for v in verdicts):
        return "not run here"
    if "contradicted" in verdicts:
        return "contradicted"
    return "reproduced" if all(v == "reproduced" for v in verdicts) else "inconclusive"


def effects_table(
    effects: Mapping[str, np.ndarray],
    direction: str = "higher",
    *,
    null: float = 0.0,
    independent: bool = True,
    n_boot: int = 2000,
    seed: int = 0,
    digits: int = 3,
) -> tuple[pd.DataFrame, str]:
    """Paired bootstrap of per-unit effects (one resampling shared by every method, plus the
    pooled mean), each row's estimate and verdict as text, and the claim's verdict (the pooled
    row's, or the only row's)."""
    table = paired_bootstrap(effects, n_boot=n_boot, seed=seed)
    shown = verdict_table(table, direction, null=null, independent=independent, digits=digits)
    return shown, claim_verdict(table, direction, null=null, independent=independent)


def equivalence_verdict(estimate: Estimate, low: float, high: float) -> str:
    """The verdict of a claim that a quantity equals the paper's within ``[low, high]``: ``reproduced``
    when the whole interval lies inside the band, ``contradicted`` when it lies wholly outside,
    ``inconclusive`` when it straddles an edge."""
    if not low <= high:
        raise ConfigError(f"equivalence band must have low <= high, got [{low}, {high}]")
    if not (np.isfinite(estimate.ci_low) and np.isfinite(estimate.ci_high)):
        return "inconclusive"
    if low <= estimate.ci_low and estimate.ci_high <= high:
        return "reproduced"
    if estimate.ci_high < low or estimate.ci_low > high:
        return "contradicted"
    return "inconclusive"

"""The rules that turn a claim's measurements into a verdict, in one place.

A claim of the paper is tested as the paper states it (its ``test`` in the
``claims`` section of ``paper_values.yaml``, read into a ``ClaimTest``): an
*effect* measured once per unit (a prompt or a pair; one array per *part*: a
method, a prefix length t, a reward model), in the direction the paper gives.

- ``kind: difference``: the effect is 0 when the claim is void (SP-PRM minus
  ORM reward, a difference of agreement rates);
- ``kind: bound``: the paper quotes a level (AR_RM-HP "above 65%"): the effect
  is the level itself, tested against the paper's bound (per part, e.g. one
  bound at t = 5 and another at t = 50);
- ``kind: non-inferiority``: "at least as good": the effect may fall short by at
  most the ``margin`` the yaml states;
- ``kind: equivalence``: "equals the paper's within a band";
- ``kind: check``: a theorem checked case by case where the truth is known
  exhaustively (a toy): every case must hold (``check_verdict``); no sampling.

``over: every`` (every method, every t) is an intersection-union test: the
claim is reproduced only when every part is, each at the 95% level; the pooled
mean is shown, not used. ``over: pooled`` decides on the per-unit mean of the
parts (a claim about an average). Each part's mean gets an interval that holds
its level at small n (``core.intervals.mean_interval``: t, bootstrap-t and an
exact or score interval for 0/1 and -1/0/+1 outcomes); a statistic with a
denominator (a ratio of means) gets a BCa interval with the denominator
recomputed in every resample (``core.intervals.statistic_interval``).

The verdicts:

- ``reproduced``: every deciding interval excludes "no effect" on the paper's side;
- ``contradicted``: one part's interval excludes it on the other side, at the
  level 1 - 0.05 / (number of parts): Bonferroni, so that the chance of
  contradicting a true claim stays at 5% however many parts it has;
- ``smaller than the paper's``: not reproduced, and one part's interval (same
  level) excludes the paper's own effect size (``paper_effect``, in our units;
  the yaml says how it was converted): we can say the effect is smaller here;
- ``inconclusive``: the interval holds both "no effect" and the paper's effect:
  too few units (the evidence gives the number needed for 80% power);
- ``not run here``: the run lacks what the claim needs.

Fewer than ``MIN_UNITS`` (8) units decide nothing: the intervals' coverage is
checked from 8 (``tests/test_intervals.py``).

A judge that is not independent of the methods it compares (it trained or
filtered one of them, or one of them steered by it) cannot decide either way:
a decisive result becomes ``inconclusive`` with the reason. Per-part rows show
Holm-adjusted p-values, not verdict words.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sp_prm_lib.core import intervals
from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.core.intervals import MeanInterval

VERDICTS = ("reproduced", "contradicted", "smaller than the paper's", "inconclusive", "not run here")
DIRECTIONS = ("higher", "lower")
KINDS = ("difference", "bound", "non-inferiority", "equivalence", "check")
OVER = ("every", "pooled")
ALPHA = 0.05
N_BOOT = 1999
MIN_BOOT = 199  # the fewest resamples an interval gets, whatever a profile's analysis.bootstrap says
MIN_UNITS = 8  # the intervals' coverage is checked from 8 units (tests/test_intervals.py); fewer decide nothing


@dataclass(frozen=True)
class ClaimTest:
    """How a claim is tested: what the paper asserts, in our units (``paper_values.yaml``)."""

    estimand: str
    kind: str = "difference"
    direction: str = "higher"
    over: str = "pooled"
    null: float = 0.0
    margin: float = 0.0
    band: tuple[float, float] | None = None
    paper_effect: float | None = None
    paper_effect_from: str = ""
    relative: bool = False
    skip: tuple[str, ...] = ()

    @classmethod
    def parse(cls, raw, where: str) -> ClaimTest:
        """A ``test`` entry of the values file, checked: one-line errors naming ``where`` and the key."""
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{where}: test must be a mapping, got {type(raw).__name__}")
        known = ({f for f in cls.__dataclass_fields__} - {"null"}) | {"bound"}
        unknown = sorted(str(k) for k in set(raw) - known)
        if unknown:
            raise ConfigError(f"{where}: unknown key {unknown[0]!r} in test (known: {', '.join(sorted(known))})")
        if not isinstance(raw.get("estimand"), str) or not raw["estimand"].strip():
            raise ConfigError(f"{where}: test.estimand must say in words what is measured")
        choices = {"kind": KINDS, "direction": DIRECTIONS, "over": OVER}
        for key, allowed in choices.items():
            if key in raw and raw[key] not in allowed:
                raise ConfigError(f"{where}: test.{key} must be one of {', '.join(allowed)}, got {raw[key]!r}")
        values = {}
        for key in ("bound", "margin", "paper_effect"):
            v = raw.get(key)
            if v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise ConfigError(f"{where}: test.{key} must be a finite number, got {v!r}")
            values[key] = float(v)
        if values.get("margin", 0.0) < 0:
            raise ConfigError(f"{where}: test.margin must be >= 0, got {values['margin']}")
        if values.get("paper_effect") is not None and values["paper_effect"] <= 0:
            raise ConfigError(
                f"{where}: test.paper_effect is the paper's effect size in its own direction, so > 0; "
                f"got {values['paper_effect']}"
            )
        band = raw.get("band")
        if band is not None:
            ok = isinstance(band, list | tuple) and len(band) == 2
            ok = ok and all(isinstance(b, int | float) and not isinstance(b, bool) for b in band)
            if not ok or not band[0] <= band[1]:
                raise ConfigError(f"{where}: test.band must be [low, high] with low <= high, got {band!r}")
            band = (float(band[0]), float(band[1]))
        relative = raw.get("relative", False)
        if not isinstance(relative, bool):
            raise ConfigError(f"{where}: test.relative must be true or false, got {relative!r}")
        skip = raw.get("skip", [])
        if not isinstance(skip, list) or not all(isinstance(x, str) and x for x in skip):
            raise ConfigError(f"{where}: test.skip must be a list of part-name prefixes, got {skip!r}")
        kind = raw.get("kind", "difference")
        if (kind == "bound") != ("bound" in values):
            raise ConfigError(f"{where}: test.bound goes with kind: bound (the paper's level), and only with it")
        if kind == "equivalence" and band is None:
            raise ConfigError(f"{where}: an equivalence test needs test.band")
        if kind == "non-inferiority" and "margin" not in values:
            raise ConfigError(f"{where}: a non-inferiority test needs test.margin")
        if not str(raw.get("paper_effect_from", "")).strip():
            raise ConfigError(
                f"{where}: test.paper_effect_from must say how the paper's effect was put in our units "
                "(or why it cannot be)"
            )
        return cls(
            estimand=raw["estimand"].strip(),
            kind=kind,
            direction=raw.get("direction", "higher"),
            over=raw.get("over", "pooled"),
            null=values.get("bound", 0.0),
            margin=values.get("margin", 0.0),
            band=band,
            paper_effect=values.get("paper_effect"),
            paper_effect_from=str(raw.get("paper_effect_from", "")).strip(),
            relative=relative,
            skip=tuple(skip),
        )

    def scaled(self, scale: float | None) -> ClaimTest:
        """A relative test (``paper_effect`` and ``margin`` as fractions of a baseline level) in
        absolute units, given the baseline ``scale`` (its magnitude is used); others unchanged."""
        if not self.relative:
            return self
        if scale is None or not math.isfinite(scale) or scale == 0:
            raise ConfigError(f"the test of {self.estimand!r} is relative and needs a finite, non-zero scale")
        from dataclasses import replace

        size = abs(float(scale))
        effect = None if self.paper_effect is None else self.paper_effect * size
        return replace(self, paper_effect=effect, margin=self.margin * size, relative=False)

    def skips(self, part: str) -> bool:
        return any(part.startswith(prefix) for prefix in self.skip)

    def threshold(self, null: float | None = None) -> float:
        """The value the effect must pass on the paper's side (the null, less the margin)."""
        base = self.null if null is None else null
        return base - self.margin if self.direction == "higher" else base + self.margin

    def target(self, null: float | None = None) -> float | None:
        """The paper's effect in our units as a value of the effect (None when not given)."""
        if self.paper_effect is None:
            return None
        base = self.null if null is None else null
        return base + self.paper_effect if self.direction == "higher" else base - self.paper_effect


@dataclass(frozen=True)
class ClaimResult:
    """A claim's verdict, the one-line reason, and the rows it was decided on."""

    verdict: str
    why: str
    table: pd.DataFrame
    test: ClaimTest | None = None
    units_needed: float = math.nan
    mde: float = math.nan
    extra: dict = field(default_factory=dict)

    def deciding(self) -> pd.DataFrame:
        return self.table[self.table.decides]


def _on_side(low: float, high: float, value: float, direction: str) -> tuple[bool, bool]:
    """(interval strictly on the paper's side of ``value``, strictly on the other side)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return False, False
    above, below = low > value, high < value
    return (above, below) if direction == "higher" else (below, above)


def _as_units(effects: Mapping[str, object]) -> dict[str, object]:
    if not effects:
        raise ConfigError("a claim needs at least one part to test")
    out, lengths = {}, set()
    for name, values in effects.items():
        if isinstance(values, MeanInterval):
            out[str(name)] = values
            continue
        try:
            x = np.asarray(values, dtype=float).ravel()
        except (TypeError, ValueError):
            raise ConfigError(f"part {name!r}: values must be numbers") from None
        if np.isinf(x).any():
            raise ConfigError(f"part {name!r}: values contain inf")
        lengths.add(x.size)
        out[str(name)] = x
    if len(lengths) > 1:
        raise ConfigError(f"every part needs one value per unit (the same units); got lengths {sorted(lengths)}")
    return out


def _pooled(arrays: list[np.ndarray]) -> np.ndarray:
    x = np.column_stack(arrays)
    with np.errstate(invalid="ignore"):
        counted = (~np.isnan(x)).sum(axis=1)
        return np.where(counted > 0, np.nansum(x, axis=1) / np.maximum(counted, 1), np.nan)


def _support(values: np.ndarray, test: ClaimTest) -> str | None:
    """A difference of two 0/1 outcomes is a -1/0/+1 variable even when no -1 occurred (it must
    not be read as a share, whose interval stops at 0); levels (a bound) keep the detected support."""
    x = values[~np.isnan(values)]
    if test.kind != "bound" and x.size and np.isin(x, (-1.0, 0.0, 1.0)).all():
        return "signed"
    return None


def _row(name, values, test: ClaimTest, null, level_sim, decides, n_boot, seed) -> dict:
    if isinstance(values, MeanInterval):
        iv = sim = values
        if level_sim != values.level:
            raise ConfigError(f"part {name!r}: a precomputed interval can only decide a claim of one part")
        sd = values.sd
    else:
        support = _support(values, test)
        iv = intervals.mean_interval(
            values, 1 - ALPHA, null=test.threshold(null), support=support, n_boot=n_boot, seed=seed
        )
        sim = (
            iv
            if level_sim == iv.level
            else intervals.mean_interval(values, level_sim, support=support, n_boot=n_boot, seed=seed)
        )
        sd = iv.sd
    n = iv.n
    mde = intervals.minimal_detectable_effect(sd, n) if n >= 2 and math.isfinite(sd) and sd > 0 else math.nan
    needed = (
        intervals.units_needed(test.paper_effect, sd)
        if test.paper_effect is not None and math.isfinite(sd) and sd > 0
        else math.nan
    )
    if math.isfinite(needed):
        needed = float(max(needed, MIN_UNITS))  # no verdict below MIN_UNITS, however small the spread
    return {
        "part": name,
        "estimate": iv.text(),
        "mean": iv.mean,
        "ci_low": iv.low,
        "ci_high": iv.high,
        "n": n,
        "p": iv.p_value,
        "against": test.threshold(null),
        "paper": test.target(null),
        "mde": mde,
        "n_needed": needed,
        "decides": decides,
        "_sim": (sim.low, sim.high),
    }


def evaluate(
    effects: Mapping[str, object],
    test: ClaimTest,
    *,
    independent: bool = True,
    dependence: str = "",
    nulls: Mapping[str, float] | None = None,
    family: int = 1,
    scale: float | None = None,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> ClaimResult:
    """Test one claim (or one part of a claim of several tests: ``family`` is their number).

    ``effects`` maps each part to its per-unit effects (the same units everywhere, NaN: not
    measured) or to a precomputed interval (``statistic_interval``, for a ratio; a claim of
    one part only). ``nulls`` overrides ``test.null`` per part (a bound per prefix length).
    ``independent=False`` (with ``dependence`` saying why) caps the verdict at inconclusive.
    ``scale``: the baseline level of a relative test. Parts that ``test.skip`` names are shown
    but neither decide nor enter the pooled mean.
    """
    test = test.scaled(scale)
    if test.kind in ("equivalence", "check"):
        raise ConfigError(f"a claim of kind {test.kind} is decided by {test.kind}_verdict")
    if family < 1:
        raise ConfigError(f"family must be >= 1, got {family}")
    parts = _as_units(effects)
    nulls = dict(nulls or {})
    unknown = sorted(set(nulls) - set(parts))
    if unknown:
        raise ConfigError(f"nulls name a part that was not measured: {unknown[0]!r}")
    counted = {k: v for k, v in parts.items() if not test.skips(k)}
    if not counted:
        raise ConfigError(f"every part measured ({', '.join(parts)}) is one the test skips")
    arrays = {k: v for k, v in counted.items() if not isinstance(v, MeanInterval)}
    pooled = None
    if len(counted) > 1 and len(arrays) == len(counted) and not nulls:
        pooled = _pooled(list(arrays.values()))
    if test.over == "pooled" and len(counted) > 1:
        if pooled is None:
            raise ConfigError("a pooled claim needs per-unit effects with one null for every part")
        deciding = {"pooled": pooled}
    else:
        deciding = counted
    k = len(deciding) * family
    level_sim = 1 - ALPHA / k
    rows = []
    for name, values in parts.items():
        decides = name in deciding
        rows.append(
            _row(name, values, test, nulls.get(name), level_sim if decides else 1 - ALPHA, decides, n_boot, seed)
        )
    if pooled is not None:
        rows.append(_row("pooled", pooled, test, None, level_sim if "pooled" in deciding else 1 - ALPHA,
                         "pooled" in deciding, n_boot, seed))  # fmt: skip
    table = pd.DataFrame(rows)
    table["p_holm"] = intervals.holm(table["p"].where(table.part != "pooled"))
    verdict, why = _decide(table, test, independent, dependence)
    sims = table.pop("_sim")
    table["ci_low_simultaneous"] = [s[0] for s in sims]
    table["ci_high_simultaneous"] = [s[1] for s in sims]
    decide_rows = table[table.decides]
    needed = float(decide_rows.n_needed.max()) if decide_rows.n_needed.notna().any() else math.nan
    mde = float(decide_rows.mde.max()) if decide_rows.mde.notna().any() else math.nan
    return ClaimResult(verdict, why, table, test, needed, mde)


def _fmt_n(n: float) -> str:
    if not math.isfinite(n):
        return "more than 100,000" if n == math.inf else "?"
    return f"{int(n):,}"


def _decide(table: pd.DataFrame, test: ClaimTest, independent: bool, dependence: str) -> tuple[str, str]:
    rows = table[table.decides]
    if (rows.n < MIN_UNITS).any():
        few = rows[rows.n < MIN_UNITS]
        return "inconclusive", (
            f"{int(few.n.min())} units measured ({', '.join(few.part)}): a verdict needs at least {MIN_UNITS} "
            "(the intervals are checked from 8)"
        )
    if rows.ci_low.isna().any():
        return "inconclusive", "no interval for " + ", ".join(rows[rows.ci_low.isna()].part) + " (no spread measured)"
    d = test.direction
    supports, against, smaller = [], [], []
    for i, r in zip(rows.index, rows.itertuples(), strict=True):
        ok, _ = _on_side(r.ci_low, r.ci_high, r.against, d)
        slo, shi = table.at[i, "_sim"]
        _, bad = _on_side(slo, shi, r.against, d)
        supports.append(ok)
        if bad:
            against.append(r.part)
        if r.paper is not None and not (isinstance(r.paper, float) and math.isnan(r.paper)):
            _, below_paper = _on_side(slo, shi, r.paper, d)
            if below_paper:
                smaller.append(r.part)
    where = "" if len(rows) == 1 else " ({})"
    if against:
        verdict = "contradicted"
        why = f"the interval excludes {_null_words(test)} on the other side" + where.format(", ".join(against))
    elif all(supports):
        verdict = "reproduced"
        why = (
            f"every interval excludes {_null_words(test)} on the paper's side"
            if len(rows) > 1
            else (f"the interval excludes {_null_words(test)} on the paper's side")
        )
    elif smaller:
        verdict = "smaller than the paper's"
        why = "the interval excludes the paper's effect size" + where.format(", ".join(smaller))
    else:
        verdict = "inconclusive"
        needed = rows.n_needed.max() if rows.n_needed.notna().any() else math.nan
        n_have = int(rows.n.min())
        if math.isfinite(needed) or needed == math.inf:
            why = (
                f"the interval holds both {_null_words(test)} and the paper's effect: about "
                f"{_fmt_n(needed)} units needed for 80% power (have {n_have})"
            )
        else:
            mde = rows.mde.max()
            why = f"the interval holds {_null_words(test)}" + (
                f"; the smallest effect detectable at n={n_have} is {mde:.3g}" if math.isfinite(mde) else ""
            )
    if not independent and verdict != "inconclusive":
        why = f"would read {verdict} ({why}), but the judge is not independent" + (
            f": {dependence}" if dependence else ""
        )
        verdict = "inconclusive"
    return verdict, why


def _null_words(test: ClaimTest) -> str:
    if test.kind == "bound":
        return "the paper's bound"
    if test.kind == "non-inferiority":
        return f"a shortfall of {test.margin:.3g} (the margin)"
    return "no effect"


def combine(results) -> tuple[str, str]:
    """The verdict of a claim made of several tests that must all hold (each run with
    ``family`` = their number): contradicted when one is, reproduced when all are, smaller than
    the paper's when one is, not run here when all are, else inconclusive; with the reason.
    ``results``: a list, or a mapping from each test's name to its result (the reasons then
    name their test)."""
    named = list(results.items()) if isinstance(results, Mapping) else [("", r) for r in results]
    if not named:
        raise ConfigError("combine needs at least one result")
    verdicts = [r.verdict for _, r in named]

    def reasons(keep) -> str:
        return "; ".join(f"{n}: {r.why}" if n else r.why for n, r in named if keep(r.verdict))

    if "contradicted" in verdicts:
        return "contradicted", reasons(lambda v: v == "contradicted")
    if all(v == "reproduced" for v in verdicts):
        return "reproduced", reasons(lambda v: True)
    if all(v == "not run here" for v in verdicts):
        return "not run here", named[0][1].why
    if "smaller than the paper's" in verdicts:
        return "smaller than the paper's", reasons(lambda v: v == "smaller than the paper's")
    return "inconclusive", reasons(lambda v: v != "reproduced")


def equivalence_verdict(interval: MeanInterval, low: float, high: float) -> tuple[str, str]:
    """A claim that a quantity lies in ``[low, high]``: reproduced when the whole interval does,
    contradicted when it lies wholly outside, inconclusive when it straddles an edge."""
    if not low <= high:
        raise ConfigError(f"equivalence band must have low <= high, got [{low}, {high}]")
    if not (math.isfinite(interval.low) and math.isfinite(interval.high)):
        return "inconclusive", "no interval (fewer than 2 units)"
    band = f"[{low:g}, {high:g}]"
    if low <= interval.low and interval.high <= high:
        return "reproduced", f"the interval lies inside the paper's band {band}"
    if interval.high < low or interval.low > high:
        return "contradicted", f"the interval lies outside the paper's band {band}"
    return "inconclusive", f"the interval straddles an edge of the paper's band {band}"


def check_verdict(held: int, cases: int) -> tuple[str, str]:
    """A theorem checked on ``cases`` cases with exhaustive ground truth: reproduced when every case
    holds, contradicted by one that does not (a counterexample); nothing is estimated."""
    if cases < 1 or not 0 <= held <= cases:
        raise ConfigError(f"check_verdict needs 0 <= held <= cases and cases >= 1, got {held} of {cases}")
    if held == cases:
        return "reproduced", f"it holds in every one of the {cases} cases checked (exhaustive ground truth)"
    return "contradicted", f"{cases - held} of {cases} cases are counterexamples"


def resampling(profile) -> dict:
    """A profile's resampling options for the intervals here: ``n_boot`` (its analysis.bootstrap,
    at least ``MIN_BOOT``) and ``seed``."""
    return {"n_boot": max(profile.analysis.bootstrap, MIN_BOOT), "seed": profile.seed}


def interval(values, *, n_boot: int = N_BOOT, seed: int = 0) -> MeanInterval:
    """The 95% interval of a mean of per-unit values (``core.intervals.mean_interval``)."""
    return intervals.mean_interval(values, 1 - ALPHA, n_boot=n_boot, seed=seed)


def shown(result: ClaimResult, digits: int = 3) -> pd.DataFrame:
    """A result's rows for the book: part, estimate, Holm-adjusted p, MDE, units needed, role."""
    t = result.table
    out = pd.DataFrame(
        {
            "part": t.part,
            "estimate": [
                f"{m:+.{digits}f} [{lo:+.{digits}f}, {hi:+.{digits}f}] (n={n})"
                for m, lo, hi, n in zip(t["mean"], t.ci_low, t.ci_high, t.n, strict=True)
            ],
            "tested against": [f"{a:+.{digits}f}" for a in t.against],
            "paper's effect": ["-" if p is None or p != p else f"{p:+.{digits}f}" for p in t.paper],
            "p (Holm)": ["-" if p != p else f"{p:.3f}" for p in t.p_holm],
            "detectable at n": ["-" if m != m else f"{m:.3g}" for m in t.mde],
            "n for 80% power": ["-" if n != n else _fmt_n(n) for n in t.n_needed],
            "role": ["decides" if d else "shown" for d in t.decides],
        }
    )
    return out


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


def rules_markdown() -> str:
    """The book's "How to read a verdict", from the rules above (so the page cannot drift)."""
    return (
        "Each claim is tested as the paper states it (`paper_values.yaml`, section `claims`, key `test`): "
        "an *effect* measured once per prompt or pair, for each *part* of the claim (a method, a prefix "
        "length, a reward model). A claim about *every* part is an intersection-union test (each part at "
        "95%; the pooled mean is shown, not used); a claim about an average is decided on the pooled "
        'mean. A *bound* claim ("above 65%") tests the level against the paper\'s bound; an *at least as '
        "good* claim is a non-inferiority test with the margin the page states. Intervals are 95% "
        "intervals that hold their level from 8 units up (the hull of the t and bootstrap-t intervals, "
        "with an exact interval for 0/1 outcomes and a score interval for win/tie/loss); a ratio's "
        "denominator is recomputed in every resample (BCa).\n\n"
        "- **reproduced**: every deciding interval excludes no effect (or the bound) on the paper's side.\n"
        "- **contradicted**: an interval excludes it on the other side, at the level 1 - 0.05/k for a claim "
        "of k parts (Bonferroni), so a true claim is contradicted at most 5% of the time.\n"
        "- **smaller than the paper's**: not reproduced, and an interval (same level) excludes the paper's "
        "own effect size converted to our units (each claim says how): the effect here is smaller.\n"
        "- **inconclusive**: the interval holds both no effect and the paper's effect; the page gives the "
        "number of units a t test would need for 80% power at the paper's effect.\n"
        "- **not run here**: the run lacks models, data or a judge the claim needs.\n\n"
        f"A claim measured on fewer than {MIN_UNITS} prompts or pairs is inconclusive whatever its interval: "
        f"the intervals' coverage is checked from {MIN_UNITS} units up.\n\n"
        "Theorem 1 is checked, not estimated: on a toy whose optimum is known exhaustively, every case must "
        "hold, and one counterexample contradicts it. An *equals the paper's* claim (Table 9) is reproduced "
        "when its whole interval lies inside the band the yaml states.\n\n"
        "A judge that is not independent of the methods it compares caps the verdict at inconclusive in "
        "both directions, and the evidence says why. Rows per method or per t show Holm-adjusted "
        "p-values, not verdict words. The rules live in `sp_prm_lib.experiments.verdicts`."
    )

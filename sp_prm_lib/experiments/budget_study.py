"""Does SP-PRM training move the PRM? Fig. 5's effect as a function of the training budget.

Each *budget* changes only the profile's PRM training (``reward.prm``: pairs,
passes, learning rate, trained layers, batch size, D_partial settings) and
nothing else; under it SP-PRM and its score-consistency-only ablation (SC) are
trained from the same ORM with the same settings (equal compute), each cached
like the notebooks' PRMs (``ensure_prm``). Both are scored on the profile's
analysis pairs; the effect is Fig. 5's: per pair and prefix length t, the PRM's
agreement with the label minus the ORM's (``prefix_analysis.pair_quantities``,
``ar_rm_sc``). Each t, the full responses and the pooled mean over the t's get
the interval, minimal detectable effect and verdict of the claim's own test
(``fig5`` in ``paper_values.yaml``, ``verdicts.evaluate``), so a budget's row
and notebook 06 agree where the budget is the profile's own.
``scripts/budget_study.py`` runs a study file and writes its table to
``results/``, from which the book's page is generated.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from sp_prm_lib.config.profile import PrmSpec, Profile
from sp_prm_lib.config.schema import build
from sp_prm_lib.config.variants import PRM_VARIANTS
from sp_prm_lib.core.artifacts import ArtifactStore
from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.experiments import comparison
from sp_prm_lib.experiments.prefix_analysis import pair_quantities
from sp_prm_lib.experiments.reward_models import ensure_prm
from sp_prm_lib.experiments.verdicts import ClaimResult, evaluate, resampling

CLAIM = "fig5"
#: keys a budget may set: the fields of ``reward.prm``
BUDGET_KEYS = tuple(f.name for f in dataclasses.fields(PrmSpec))
FULL, POOLED = "full", "pooled"


def budget_profile(profile: Profile, budget: Mapping, name: str = "budget") -> Profile:
    """``profile`` with its PRM training settings (``reward.prm``) replaced by ``budget``'s."""
    if not isinstance(budget, Mapping):
        raise ConfigError(f"budget {name!r}: expected a mapping of reward.prm settings, got {type(budget).__name__}")
    unknown = sorted(set(map(str, budget)) - set(BUDGET_KEYS))
    if unknown:
        raise ConfigError(f"budget {name!r}: unknown key(s) {', '.join(unknown)} (known: {', '.join(BUDGET_KEYS)})")
    raw = {**dataclasses.asdict(profile.reward.prm), **budget}
    prm = build(PrmSpec, raw, f"budget {name!r}", "reward.prm.")  # validated like a profile's keys
    if prm.train_pairs > profile.data.train_pairs:
        raise ConfigError(
            f"budget {name!r}: train_pairs {prm.train_pairs} exceeds the profile's data.train_pairs "
            f"({profile.data.train_pairs})"
        )
    return dataclasses.replace(profile, reward=dataclasses.replace(profile.reward, prm=prm))


def paper_effect() -> float | None:
    """The paper's Fig. 5 effect in our units (the claim's ``paper_effect`` in ``paper_values.yaml``)."""
    return comparison.claim_test(CLAIM).paper_effect


def fig5_effects(profile: Profile, variant: str, store: ArtifactStore | None = None) -> dict[str, np.ndarray]:
    """Per pair, the PRM's AR_RM-SC minus the ORM's: one array per prefix length (``t=<t>``, as
    notebook 06 names the parts) and one for the full responses (``full``)."""
    prm = pair_quantities(profile, variant, store=store)["ar_rm_sc"]
    orm = pair_quantities(profile, "orm", store=store)["ar_rm_sc"]
    diff = prm - orm
    ts = list(profile.analysis.prefix_tokens)
    out = {f"t={t}": diff[:, j] for j, t in enumerate(ts)}
    out[FULL] = diff[:, len(ts)]
    return out


def _verdicts(effects: dict[str, np.ndarray], n_boot: int, seed: int) -> tuple[ClaimResult, ClaimResult]:
    """The claim's test over the prefix lengths (notebook 06's call) and the full responses alone."""
    test = comparison.claim_test(CLAIM)
    family = len(comparison.claim_test_names(CLAIM)) or 1
    prefixes = {k: v for k, v in effects.items() if k != FULL}
    by_t = evaluate(prefixes, test, family=family, n_boot=n_boot, seed=seed)
    full = evaluate({FULL: effects[FULL]}, test, family=family, n_boot=n_boot, seed=seed)
    return by_t, full


def _settings(profile: Profile) -> dict:
    prm = profile.reward.prm
    return {
        "pairs": prm.train_pairs,
        "epochs": prm.epochs,
        "lr": prm.learning_rate,
        "trained layers": "all" if prm.train_top_layers is None else prm.train_top_layers,
        "batch": f"{prm.batch_size} {prm.batch_unit}",
    }


def run_budget_study(
    profile: Profile,
    budgets: Mapping[str, Mapping],
    variants: Sequence[str] = ("sp-prm", "sc"),
    store: ArtifactStore | None = None,
    *,
    seed: int | None = None,
    n_boot: int | None = None,
) -> pd.DataFrame:
    """One row per budget, variant and part (``t`` = a prefix length, ``full`` or ``pooled``):
    the budget's settings, the PRM's training facts, and the mean of its per-pair AR_RM-SC minus
    the ORM's with the 95% interval, minimal detectable effect and p-value of the ``fig5`` test
    (``seed`` and ``n_boot``: the profile's resampling options unless given), plus the verdict of
    that test over the prefix lengths (the same for every row of a budget and variant)."""
    if not budgets:
        raise ConfigError("the study needs at least one budget")
    unknown = [v for v in variants if v not in PRM_VARIANTS]
    if unknown or not variants:
        raise ConfigError(
            f"unknown PRM variant(s) {', '.join(unknown) or '(none given)'}; known: {', '.join(PRM_VARIANTS)}"
        )
    options = resampling(profile)
    n_boot = options["n_boot"] if n_boot is None else n_boot
    seed = options["seed"] if seed is None else seed
    store = store or ArtifactStore()
    # every budget is checked before anything is trained
    laid = {str(name): budget_profile(profile, budget, str(name)) for name, budget in budgets.items()}
    rows = []
    for name, setting in laid.items():
        for variant in variants:
            trained = ensure_prm(setting, variant, store)
            facts = trained.facts
            by_t, full = _verdicts(fig5_effects(setting, variant, store), n_boot, seed)
            common = {
                "budget": name,
                "variant": variant,
                **_settings(setting),
                "train seconds": facts.get("train_seconds"),
                "rows kept": facts.get("train_rows"),
                "rows dropped": (facts.get("dropped_identical") or 0) + (facts.get("dropped_by_reference") or 0),
                "steps": facts.get("steps"),
                "verdict": by_t.verdict,
            }
            for r in pd.concat([by_t.table, full.table], ignore_index=True).itertuples():
                part = r.part[2:] if r.part.startswith("t=") else r.part
                rows.append({
                    **common,
                    "t": part,
                    "mean": r.mean,
                    "ci_low": r.ci_low,
                    "ci_high": r.ci_high,
                    "n": int(r.n),
                    "p": r.p,
                    "mde": r.mde,
                })  # fmt: skip
    return pd.DataFrame(rows)


def study_summary(table: pd.DataFrame) -> dict:
    """What the study's record states besides its rows: the paper's effect and the largest
    detectable effect of the pooled rows (the smallest effect every budget could show)."""
    pooled = table[table.t == POOLED]
    mde = pooled.mde.dropna()
    return {
        "claim": CLAIM,
        "paper_effect": paper_effect(),
        "pooled_mde": float(mde.max()) if len(mde) else math.nan,
        "pairs": int(table.n.max()) if len(table) else 0,
    }

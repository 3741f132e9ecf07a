"""The agreement-rate analyses of the notebooks, cached: prefix scores per reward
model, the judge's prefix orders (the HP criterion), and their tables.

Notebooks 02-04 and 06 share these: each reward model's prefix scores on the
profile's analysis pairs are computed once (one pass per response), the
judge's orders once per profile, and any table is then a cheap combination
(``agreement``). Sizes come from ``profile.analysis``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sp_prm_lib import judge as judge_mod
from sp_prm_lib.config.profile import Profile
from sp_prm_lib.core.artifacts import ArtifactStore, code_closure
from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.data import pairs_digest
from sp_prm_lib.evaluation import agreement as agreement_mod
from sp_prm_lib.experiments.judges import judge_name, profile_judge, profile_judge_identity
from sp_prm_lib.experiments.pairs import held_out_pairs, reward_setting
from sp_prm_lib.experiments.reward_models import ensure_orm, ensure_reference, trained_rm

UNIT = "token"


def analysis_pairs(profile: Profile) -> pd.DataFrame:
    """The first ``analysis.pairs`` held-out pairs (prompt, chosen, rejected)."""
    return held_out_pairs(profile, profile.analysis.pairs, "analysis.pairs")


def _config(profile: Profile) -> dict:
    return {
        "pairs": profile.analysis.pairs,
        "ts": list(profile.analysis.prefix_tokens),
        "unit": UNIT,
        "rows": pairs_digest(analysis_pairs(profile)),
        **reward_setting(profile),
    }


def prefix_scores(profile: Profile, role: str, store: ArtifactStore | None = None) -> dict[str, np.ndarray]:
    """Rewards (pairs, len(ts) + 1) of chosen and rejected prefixes for one RM (last column: full),
    and ``identical``: which prefix pairs are the same token sequence (ties)."""
    store = store or ArtifactStore()
    trained = trained_rm(profile, role, store)

    def build(out: Path) -> dict:
        rm = trained.load(profile)
        scores = agreement_mod.rm_prefix_scores(rm, analysis_pairs(profile), profile.analysis.prefix_tokens, UNIT)
        np.savez(out / "scores.npz", **scores)
        return {"role": role}

    art = store.ensure(
        "analysis-scores",
        build,
        config=_config(profile),
        inputs={"model": trained.artifact.key},
        code_version=code_closure(agreement_mod),
    )
    with np.load(art.path / "scores.npz") as data:
        return {k: data[k] for k in data.files}


def hp_orders(profile: Profile, store: ArtifactStore | None = None) -> np.ndarray:
    """The judge's order of each prefix pair (pairs, len(ts) + 1): 1 chosen, -1 rejected, 0 tie, NaN
    unparseable; prefixes in tokens of the ORM's tokenizer, both answer orders."""
    store = store or ArtifactStore()
    orm = ensure_orm(profile, store)
    inputs = {"tokenizer_of": orm.artifact.key}
    if profile.analysis.judge == "rm-proxy":
        inputs["judge_rm"] = ensure_reference(profile, store).artifact.key

    def build(out: Path) -> dict:
        judge = profile_judge(profile, store)
        tokenizer = orm.load(profile).tokenizer
        orders = agreement_mod.judge_prefix_orders(
            judge, analysis_pairs(profile), profile.analysis.prefix_tokens, UNIT, tokenizer
        )
        np.save(out / "orders.npy", orders)
        return {"judge": judge_name(profile)}

    config = {**_config(profile), "judge": profile_judge_identity(profile)}
    art = store.ensure(
        "analysis-hp",
        build,
        config=config,
        inputs=inputs,
        code_version=code_closure(agreement_mod, judge_mod),
    )
    return np.load(art.path / "orders.npy")


def agreement(
    profile: Profile, role: str, *, with_hp: bool = False, store: ArtifactStore | None = None
) -> pd.DataFrame:
    """Tidy AR table (see ``agreement.summarise_agreement``) of one RM, with HP rates if asked."""
    scores = prefix_scores(profile, role, store)
    hp = hp_orders(profile, store) if with_hp else None
    table = agreement_mod.summarise_agreement(
        profile.analysis.prefix_tokens, UNIT, scores=scores, hp=hp, n_boot=profile.analysis.bootstrap, seed=profile.seed
    )
    return table.assign(rm=role)


def pair_quantities(
    profile: Profile, role: str, *, with_hp: bool = False, store: ArtifactStore | None = None
) -> dict[str, np.ndarray]:
    """The per-pair values behind ``agreement`` (pairs x (len(ts) + 1), last column: full
    responses): the units a claim's paired bootstrap resamples."""
    scores = prefix_scores(profile, role, store)
    hp = hp_orders(profile, store) if with_hp else None
    return agreement_mod.per_pair_quantities(scores, hp)


def agreement_many(
    profile: Profile, roles: list[str], *, with_hp: bool = False, store: ArtifactStore | None = None
) -> pd.DataFrame:
    """``agreement`` for several RMs, stacked (column ``rm``)."""
    return pd.concat([agreement(profile, r, with_hp=with_hp, store=store) for r in roles], ignore_index=True)


def value_at(table: pd.DataFrame, metric: str, t: int | None, rm: str | None = None) -> pd.Series:
    """The row of ``metric`` at prefix length ``t`` (None: full responses) as a Series."""
    rows = table[table.metric == metric]
    if rm is not None:
        rows = rows[rows.rm == rm]
    rows = rows[rows.t.isna()] if t is None else rows[rows.t == t]
    if len(rows) != 1:
        raise ConfigError(f"expected one row of {metric} at t={t} (rm={rm}), found {len(rows)}")
    return rows.iloc[0]


def gap_share_of_max(table: pd.DataFrame, rm: str) -> pd.DataFrame:
    """Reward gap at each t as a share of its largest value over the prefixes and the full
    responses (paper Fig. 2c: "63% of the maximum gap at t tokens")."""
    rows = table[(table.metric == "reward_gap") & (table.rm == rm)].copy()
    rows["share_of_max"] = rows.value / rows.value.max()
    return rows[["rm", "t", "value", "share_of_max"]]


def rm_description(profile: Profile, role: str) -> str:
    """``name (layers, parameters, train pairs)`` of a trained RM, for tables and captions."""
    facts = trained_rm(profile, role).facts
    spec = profile.reward.reference if role == "reference" else profile.reward.orm
    layers = facts.get("layers")
    params = facts.get("parameters", 0) / 1e6
    pairs = facts.get("train_pairs", 0)
    base = spec.model.id.split("/")[-1]
    return f"{role}: {base}, {layers} layers, {params:.1f}M parameters, {pairs} train pairs"

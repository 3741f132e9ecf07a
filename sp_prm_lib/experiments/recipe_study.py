"""How good can a CPU-sized outcome reward model get? A study of the ORM recipe.

Each recipe changes the profile's ORM (``reward.orm``: layers kept, which of
them train, pairs, passes, learning rates, mixed precision) and nothing else;
each is trained and cached like the profile's own ORM (``ensure_orm``). All are
scored on the same held-out pairs, next to the rule "the longer answer wins",
with 95% intervals that hold their level at small n: the accuracy of each
recipe and its margin over the length rule (paired: per-pair differences).
``scripts/recipe_study.py`` runs a study file and writes its table to
``results/``, from which the book's page is generated.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from sp_prm_lib.config.profile import ModelSpec, Profile, RewardTrainSpec
from sp_prm_lib.config.schema import build
from sp_prm_lib.core.artifacts import ArtifactStore, code_closure
from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.data import pairs_digest
from sp_prm_lib.evaluation import agreement
from sp_prm_lib.experiments.pairs import preference_splits, window_setting
from sp_prm_lib.experiments.reward_models import TrainedRM, ensure_orm
from sp_prm_lib.experiments.verdicts import N_BOOT, interval

#: keys a recipe may set besides the training fields of ``reward.orm.train``
MODEL_KEYS = ("num_layers",)
TRAIN_KEYS = tuple(f.name for f in dataclasses.fields(RewardTrainSpec))


def recipe_profile(profile: Profile, recipe: Mapping, name: str = "recipe") -> Profile:
    """``profile`` with its ORM's backbone layers and training settings replaced by ``recipe``'s."""
    unknown = sorted(set(recipe) - set(MODEL_KEYS) - set(TRAIN_KEYS))
    if unknown:
        raise ConfigError(
            f"recipe {name!r}: unknown key(s) {', '.join(unknown)} (known: {', '.join(MODEL_KEYS + TRAIN_KEYS)})"
        )
    orm = profile.reward.orm
    where = f"recipe {name!r}"
    model_raw = {**dataclasses.asdict(orm.model), **{k: v for k, v in recipe.items() if k in MODEL_KEYS}}
    train_raw = {**dataclasses.asdict(orm.train), **{k: v for k, v in recipe.items() if k in TRAIN_KEYS}}
    model = build(ModelSpec, model_raw, where, "reward.orm.model.")  # validated like a profile's keys
    train = build(RewardTrainSpec, train_raw, where, "reward.orm.train.")
    if train.train_pairs < 1:
        raise ConfigError(f"recipe {name!r}: train_pairs must be >= 1 (the study trains every recipe)")
    reward = dataclasses.replace(profile.reward, orm=dataclasses.replace(orm, model=model, train=train))
    return dataclasses.replace(profile, reward=reward)


def longer_wins(pairs: pd.DataFrame) -> np.ndarray:
    """Per pair: 1 when the chosen response has more words, 0 when fewer, 0.5 when as many."""
    words_w = pairs.chosen.str.split().str.len().to_numpy()
    words_l = pairs.rejected.str.split().str.len().to_numpy()
    return np.where(words_w == words_l, 0.5, (words_w > words_l).astype(float))


def per_pair_correct(trained: TrainedRM, profile: Profile, store: ArtifactStore | None = None) -> np.ndarray:
    """1 / 0 per held-out pair: does the RM score the labelled-better response higher (0 on a tie)?
    Cached by the model and the pairs' content."""
    store = store or ArtifactStore()
    evaluation = preference_splits(profile)["eval"].frame

    def build(out: Path) -> dict:
        rm = trained.load(profile)
        full = agreement.rm_per_pair(agreement.prefix_score_table(rm, evaluation, [1]))["ar_rm_sc"][:, -1]
        np.save(out / "correct.npy", full)
        return {"pairs": len(evaluation), "accuracy": float(full.mean())}

    art = store.ensure(
        "recipe-eval",
        build,
        config={**window_setting(profile), "convention": profile.reward.convention},
        inputs={"model": trained.artifact.key, "eval_rows": pairs_digest(evaluation)},
        code_version=code_closure(agreement),
    )
    return np.load(art.path / "correct.npy")


def _describe(profile: Profile) -> dict:
    orm = profile.reward.orm
    t = orm.train
    return {
        "layers": orm.model.num_layers,
        "trained layers": "all" if t.train_top_layers is None else t.train_top_layers,
        "pairs": t.train_pairs,
        "epochs": t.epochs,
        "lr": t.learning_rate,
        "head lr": t.head_learning_rate if t.head_learning_rate is not None else t.learning_rate,
        "bf16": bool(t.bf16),
    }


def run_recipe_study(
    profile: Profile,
    recipes: Mapping[str, Mapping],
    store: ArtifactStore | None = None,
    *,
    seed: int = 0,
    n_boot: int = N_BOOT,
) -> pd.DataFrame:
    """One row per recipe (and one for the length rule): its settings, training time and held-out
    accuracy with a 95% interval, and its margin over the length rule with a paired interval
    (``verdicts.interval`` of the per-pair differences; ``n_boot`` resamples)."""
    if not recipes:
        raise ConfigError("the study needs at least one recipe")
    store = store or ArtifactStore()
    variants = {name: recipe_profile(profile, recipe, name) for name, recipe in recipes.items()}
    evaluation = preference_splits(profile)["eval"].frame
    length_rule = longer_wins(evaluation)
    correct, rows = {}, {}
    for name, variant in variants.items():
        trained = ensure_orm(variant, store)
        correct[name] = per_pair_correct(trained, variant, store)
        rows[name] = {
            **_describe(variant),
            "train seconds": trained.facts.get("train_seconds"),
            "final loss": _final_loss(trained.facts.get("loss_log", [])),
        }
    accuracy = {
        name: interval(values, n_boot=n_boot, seed=seed)
        for name, values in {**correct, "longer answer wins": length_rule}.items()
    }
    margin = {name: interval(c - length_rule, n_boot=n_boot, seed=seed) for name, c in correct.items()}
    out = []
    for name, est in accuracy.items():
        row = {"recipe": name, **rows.get(name, {})}
        row.update(accuracy=est.mean, accuracy_low=est.low, accuracy_high=est.high, eval_pairs=est.n)
        out.append(row)
    table = pd.DataFrame(out)
    table["margin over length rule"] = [margin[r].mean if r in margin else math.nan for r in table.recipe]
    table["margin_low"] = [margin[r].low if r in margin else math.nan for r in table.recipe]
    table["margin_high"] = [margin[r].high if r in margin else math.nan for r in table.recipe]
    return table


def _final_loss(log: list[dict]) -> float | None:
    """Mean training loss over the last fifth of the logged steps (None without a log)."""
    losses = [e["loss"] for e in log if "loss" in e]
    if not losses:
        return None
    tail = losses[-max(1, len(losses) // 5) :]
    return float(np.mean(tail))

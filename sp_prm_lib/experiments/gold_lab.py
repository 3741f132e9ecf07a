"""The gold-reward lab of a profile: its gold reward, and pairs labelled by it (cached)."""

from __future__ import annotations

import dataclasses
from functools import lru_cache
from pathlib import Path

import pandas as pd

from sp_prm_lib.config.profile import Profile
from sp_prm_lib.core.artifacts import ArtifactStore, code_closure
from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.data import PairSet, pairs_digest
from sp_prm_lib.gold import GoldReward, gold_labels

#: how a profile's gold reward model (``reward.gold``) is trained or found in the cache:
#: ``reward_models.ensure_gold``, set when that module is imported (``sp_prm_lib.experiments``
#: imports it first). The gold model is trained on pairs that this module labels with its
#: teacher, so this module cannot import the trainer itself.
GOLD_MODEL: dict = {}


def ensure_gold(profile: Profile):
    """The profile's trained gold reward model (a ``reward_models.TrainedRM``)."""
    if "ensure" not in GOLD_MODEL:
        raise ConfigError("the gold reward model's trainer is not registered: import sp_prm_lib.experiments")
    return GOLD_MODEL["ensure"](profile)


@lru_cache(maxsize=4)
def _embedder(spec):
    from sp_prm_lib.models import load_embedder

    return load_embedder(spec)


def profile_gold(profile: Profile, tokenizer=None) -> GoldReward:
    """The profile's gold reward: ``gold.components``, or the reward model ``reward.gold`` trained
    on their labels (trained here when not cached); ``tokenizer`` sets the unit of token prefixes."""
    if profile.reward.gold is not None:
        trained = ensure_gold(profile)
        rm = trained.load(profile)
        described = gold_model_description(trained)
        return GoldReward(profile.gold, tokenizer=tokenizer, model=rm, model_description=described)
    needs = profile.gold.components.get("relevance", 0) != 0
    return GoldReward(profile.gold, embedder=_embedder(profile.embedder) if needs else None, tokenizer=tokenizer)


def gold_model_description(trained) -> str:
    """The gold reward model in words: its size and training, and how well it learnt its teacher."""
    f, m = trained.facts, trained.metrics
    text = f"a reward model of {f.get('layers')} SmolLM2 layers ({f.get('parameters', 0) / 1e6:.1f}M parameters)"
    if f.get("trained"):
        text += f" trained on the teacher's labels of {f.get('train_pairs')} pairs"
    if m.get("accuracy") is not None:
        text += f" (it agrees with the teacher on {m['accuracy']:.0%} of {m.get('pairs')} held-out pairs)"
    return text


def gold_identity(profile: Profile) -> dict:
    """What decides the gold's scores: its recipe and the embedder it uses, or the gold reward
    model's cache entry (part of cache keys)."""
    out = {"gold": dataclasses.asdict(profile.gold), "embedder": dataclasses.asdict(profile.embedder)}
    if profile.reward.gold is not None:
        out["gold_model"] = ensure_gold(profile).artifact.key
    return out


def gold_labelled(profile: Profile, split: PairSet, store: ArtifactStore | None = None) -> tuple[PairSet, dict]:
    """``split`` with each pair ordered by the gold's label (ties dropped and counted as ``gold_tie``),
    and the facts of the labelling (ties, flips by noise, the accuracy ceiling); cached by content."""
    store = store or ArtifactStore()
    frame = split.frame
    config = {"split": split.name, **gold_identity(profile)}
    inputs = {"rows": pairs_digest(frame)}

    def build(out: Path) -> dict:
        g = profile.gold
        labels = gold_labels(profile_gold(profile), frame, beta=g.beta, seed=g.seed, tie_eps=g.tie_eps)
        labels.pairs.to_json(out / "pairs.jsonl", orient="records", lines=True, force_ascii=False)
        return {
            "pairs": len(labels.pairs),
            "ties": labels.ties,
            "flipped_by_noise": labels.flipped_by_noise,
            "ceiling": labels.ceiling,
        }

    art = store.ensure("gold-labels", build, config=config, inputs=inputs, code_version=code_closure(gold_labels))
    relabelled = pd.read_json(art.path / "pairs.jsonl", orient="records", lines=True, dtype=False)
    facts = dict(art.manifest["facts"])
    dropped = {**split.dropped, "gold_tie": int(facts["ties"])}
    return dataclasses.replace(split, frame=relabelled, dropped=dropped), facts

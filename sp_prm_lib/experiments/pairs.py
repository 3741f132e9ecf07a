"""The data a profile uses: preference splits, prompt sets, and their statistics."""

from __future__ import annotations

import dataclasses
import json
import re

import pandas as pd

from sp_prm_lib.config.profile import Profile
from sp_prm_lib.core import settings
from sp_prm_lib.core.errors import ConfigError, DataError
from sp_prm_lib.data import PairSet, PromptSet, dialogue_to_messages, load_pairs, load_prompts, split_train_eval
from sp_prm_lib.scoring.inputs import WINDOW_RULE

DROP_REASONS = {
    "prompt_mismatch": "chosen and rejected dialogues differ before the last Assistant turn",
    "equal_responses": "chosen and rejected final responses are identical",
    "empty_response": "a final response is empty",
    "no_contrast": "the question has no correct and incorrect solution to pair",
    "gold_tie": "the gold reward scores both responses the same (data.labels: gold)",
}


_SPLITS: dict[tuple, dict[str, PairSet]] = {}


def preference_splits(profile: Profile) -> dict[str, PairSet]:
    """``{"train": ..., "eval": ...}`` pair sets of the profile's sizes (see ``_preference_splits``),
    loaded once per process for the same profile content and data folders."""
    key = (json.dumps(profile.to_dict(), sort_keys=True), str(settings.data_dir()), str(settings.data_mirror()))
    if key not in _SPLITS:
        _SPLITS[key] = _preference_splits(profile)
    return {name: dataclasses.replace(split, frame=split.frame.copy()) for name, split in _SPLITS[key].items()}


def _preference_splits(profile: Profile) -> dict[str, PairSet]:
    """``{"train": ..., "eval": ...}`` pair sets of the profile's sizes.

    When train and eval read the same split of the same set, they are
    disjoint by prompt; otherwise each is a seeded subset of its own split.
    """
    d = profile.data
    train_full = load_pairs(d.train_set, split=d.train_split, source=d.source)
    if (d.train_set, d.train_split) == (d.eval_set, d.eval_split):
        train, evaluation = split_train_eval(train_full, d.train_pairs, d.eval_pairs, d.split_seed)
    else:
        eval_full = load_pairs(d.eval_set, split=d.eval_split, source=d.source)
        train, _ = split_train_eval(train_full, d.train_pairs, 0, d.split_seed)
        _, evaluation = split_train_eval(eval_full, 0, d.eval_pairs, d.split_seed)
    splits = {"train": train, "eval": evaluation}
    return {name: LABELLERS[d.labels](profile, split) for name, split in splits.items()}


def _human_labels(profile: Profile, split: PairSet) -> PairSet:
    return split


def _gold_labels(profile: Profile, split: PairSet) -> PairSet:
    from sp_prm_lib.experiments.gold_lab import gold_labelled

    return gold_labelled(profile, split)[0]


#: ``data.labels`` -> how a split's pairs get their labels
LABELLERS = {"human": _human_labels, "gold": _gold_labels}


def prompt_sets(profile: Profile) -> dict[str, PromptSet | PairSet]:
    """Seeded subsets of AdvBench, GSM8K test questions and GSM8K solution pairs.

    A set that the hub does not hold (the GSM8K solution pairs come from the
    authors' GitHub files) is read from the mirror even under ``data.source: hub``."""
    from sp_prm_lib.data.registry import get_spec

    d = profile.data
    out = {}
    for name, n, loader in (
        ("advbench", d.advbench_prompts, load_prompts),
        ("gsm8k", d.gsm8k_questions, load_prompts),
        ("gsm8k-pairs", d.gsm8k_pairs, load_pairs),
    ):
        source = d.source if get_spec(name).hub is not None else "auto"
        full = loader(name, source=source)
        out[name] = split_train_eval(full, 0, min(n, len(full)), d.split_seed)[1]
    return out


#: word stems that mark a text as unsuitable for a classroom example: a word is
#: flagged when it starts with one of them (so "sex" also flags "sexual"). A
#: stem that also begins common harmless words ("die": "diet") is left out.
#: Deliberately short and cautious: it only chooses which pair to *show*.
CONTENT_FLAGS = (
    "abort", "abuse", "alcohol", "asshole", "bitch", "blood", "bomb", "breast", "cocaine", "corpse",
    "crime", "crimin", "dead", "death", "drug", "drunk", "explos", "fuck", "gun", "hate", "heroin",
    "hitler", "hurt", "illegal", "kill", "marijuana", "masturbat", "murder", "naked", "nazi", "nigg",
    "nude", "penis", "poison", "porn", "prison", "racis", "rape", "sex", "shit", "slave", "steal",
    "stole", "suicid", "terror", "tortur", "urine", "vagin", "violen", "weapon", "weed",
)  # fmt: skip

_WORD = re.compile(r"[a-z]+")


def flagged_words(text: str, flags: tuple[str, ...] = CONTENT_FLAGS) -> list[str]:
    """The words of ``text`` (lower-cased runs of letters a-z) that start with a stem in ``flags``."""
    return [word for word in _WORD.findall(text.lower()) if word.startswith(flags)]


def is_neutral(row, flags: tuple[str, ...] = CONTENT_FLAGS) -> bool:
    """True when a pair's prompt is a single user turn and its prompt, chosen and rejected
    texts contain no word flagged by :func:`flagged_words` (the rule of ``neutral_example``)."""
    messages = dialogue_to_messages(row["prompt"])
    if [m["role"] for m in messages] != ["user"]:
        return False
    return not any(flagged_words(row[key], flags) for key in ("prompt", "chosen", "rejected"))


def neutral_example(pairs: PairSet | pd.DataFrame, flags: tuple[str, ...] = CONTENT_FLAGS) -> pd.Series:
    """The pair a notebook shows as its example, chosen by a fixed rule.

    The first row, in the set's own (seeded, hash-ordered) order, whose prompt
    is a single user turn and whose prompt, chosen and rejected texts contain
    no word flagged by :func:`flagged_words`. HH-RLHF holds red-team requests
    (sexual, violent, criminal); this keeps them out of a displayed example.
    DataError when no row qualifies.
    """
    frame = pairs if isinstance(pairs, pd.DataFrame) else pairs.frame
    for _, row in frame.iterrows():
        if is_neutral(row, flags):
            return row
    name = getattr(pairs, "name", "pairs")
    raise DataError(f"{name}: none of the {len(frame)} rows is a single-turn pair free of flagged words")


def describe_profile(profile: Profile) -> pd.DataFrame:
    """One row per model and data choice of a profile, for display."""
    rows = []
    for role, spec in (("policy", profile.policy), ("embedder", profile.embedder)):
        layers = "all" if spec.num_layers is None else spec.num_layers
        rows.append(
            {"what": role, "value": spec.id, "details": f"source={spec.source}, layers={layers}, dtype={spec.dtype}"}
        )
    d = profile.data
    rows += [
        {"what": "train pairs", "value": f"{d.train_set} [{d.train_split}]", "details": f"{d.train_pairs} pairs"},
        {"what": "eval pairs", "value": f"{d.eval_set} [{d.eval_split}]", "details": f"{d.eval_pairs} pairs"},
        {"what": "AdvBench prompts", "value": "advbench", "details": str(d.advbench_prompts)},
        {"what": "GSM8K questions", "value": "gsm8k [test]", "details": str(d.gsm8k_questions)},
        {"what": "GSM8K solution pairs", "value": "gsm8k-pairs", "details": str(d.gsm8k_pairs)},
        {"what": "data source", "value": d.source, "details": f"split seed {d.split_seed}"},
    ]
    return pd.DataFrame(rows)


def split_summary(splits: dict[str, PairSet | PromptSet]) -> pd.DataFrame:
    """Rows, distinct prompts and origin of each named split."""
    return pd.DataFrame(
        [
            {
                "split": name,
                "set": s.name,
                "source split": s.split,
                "rows": len(s),
                "distinct prompts": s.frame["prompt"].nunique(),
                "origin": s.origin,
            }
            for name, s in splits.items()
        ]
    )


def dropped_summary(pairs: PairSet) -> pd.DataFrame:
    """Rows a loader left out, by reason, with what each reason means."""
    return pd.DataFrame(
        [
            {"set": pairs.name, "reason": reason, "rows dropped": count, "meaning": DROP_REASONS.get(reason, "")}
            for reason, count in sorted(pairs.dropped.items())
        ],
        columns=["set", "reason", "rows dropped", "meaning"],
    )


def response_lengths(splits: dict[str, PairSet], tokenizer) -> pd.DataFrame:
    """Long table (split, response, tokens) of response lengths in ``tokenizer`` tokens."""
    frames = []
    for name, pairs in splits.items():
        for side in ("chosen", "rejected"):
            texts = pairs.frame[side].tolist()
            lengths = [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
            frames.append(pd.DataFrame({"split": name, "response": side, "tokens": lengths}))
    return pd.concat(frames, ignore_index=True)


def training_pairs(profile: Profile, n: int, setting: str) -> pd.DataFrame:
    """The first ``n`` pairs of the profile's (seeded, hash-ordered) train split.

    ``setting`` names the profile key that asked for them, for the error.
    """
    return _first_pairs(profile, "train", n, setting)


def held_out_pairs(profile: Profile, n: int, setting: str) -> pd.DataFrame:
    """The first ``n`` pairs of the profile's eval split (disjoint from training by prompt)."""
    return _first_pairs(profile, "eval", n, setting)


def _first_pairs(profile: Profile, split: str, n: int, setting: str) -> pd.DataFrame:
    frame = preference_splits(profile)[split].frame
    if n > len(frame):
        raise ConfigError(
            f"{profile.path}: {setting} = {n} is more than the {len(frame)} {split} pairs (data.{split}_pairs)"
        )
    return frame.head(n)[["prompt", "chosen", "rejected"]].reset_index(drop=True)


def window_setting(profile: Profile) -> dict:
    """The reward models' window (``sp_prm_lib.scoring.inputs``): its rule, ``max_length`` and
    response budget, part of the cache key of everything scored or trained through it."""
    return {
        "max_length": profile.reward.max_length,
        "response_budget": profile.reward.response_budget,
        "window": WINDOW_RULE,
    }


def reward_setting(profile: Profile) -> dict:
    """What every cached reward-model step of a profile depends on besides its own sizes:
    how texts become reward-model inputs, the data choice and the seed (part of each cache key)."""
    return {
        "convention": profile.reward.convention,
        **window_setting(profile),
        "data": dataclasses.asdict(profile.data),
        "seed": profile.seed,
    }

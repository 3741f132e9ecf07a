"""Deterministic train/eval splits that never share a prompt."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import TypeVar

import pandas as pd

from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.data.schema import PairSet, PromptSet

T = TypeVar("T", PairSet, PromptSet, pd.DataFrame)


def _key(seed: int, *texts: object) -> str:
    payload = "\x1f".join([str(seed), *map(str, texts)])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _check_size(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{name} must be a non-negative integer, got {value!r}")
    return value


def split_train_eval(data: T, n_train: int, n_eval: int, seed: int = 0) -> tuple[T, T]:
    """(train, eval) subsets of exactly ``n_train`` and ``n_eval`` rows.

    Prompts are ordered by a SHA-256 hash with ``seed``; eval takes whole
    prompt groups first, then train takes the next ones, so no prompt is on
    both sides (rows of a prompt cut off at either boundary are left out).
    The result depends only on the rows' contents and ``seed``, not on
    their order, and eval does not change when ``n_train`` does.
    ConfigError names the argument when a size is negative or too large.
    """
    frame = data if isinstance(data, pd.DataFrame) else data.frame
    n_train, n_eval = _check_size("n_train", n_train), _check_size("n_eval", n_eval)
    if "prompt" not in frame.columns:
        raise ConfigError("split_train_eval: data has no 'prompt' column")
    columns = list(frame.columns)
    at_prompt = columns.index("prompt")
    groups: dict[str, list[tuple[str, int]]] = {}
    for position, values in enumerate(frame.itertuples(index=False, name=None)):
        groups.setdefault(values[at_prompt], []).append((_key(seed, *values), position))
    ordered = sorted(groups, key=lambda prompt: _key(seed, prompt))

    picks: tuple[list[int], list[int]] = ([], [])
    wanted = (n_eval, n_train)
    side = 0
    for prompt in ordered:
        while side < 2 and len(picks[side]) >= wanted[side]:
            side += 1
        if side == 2:
            break
        members = [position for _, position in sorted(groups[prompt])]
        picks[side].extend(members[: wanted[side] - len(picks[side])])
    if len(picks[0]) < n_eval:
        raise ConfigError(f"n_eval={n_eval} is too large: the data has {len(frame)} rows")
    if len(picks[1]) < n_train:
        available = len(picks[1])
        raise ConfigError(
            f"n_train={n_train} is too large: {available} rows with other prompts remain after n_eval={n_eval}"
        )

    def subset(positions: list[int]) -> T:
        part = frame.iloc[positions].reset_index(drop=True)
        return part if isinstance(data, pd.DataFrame) else dataclasses.replace(data, frame=part)

    eval_positions, train_positions = picks
    return subset(train_positions), subset(eval_positions)

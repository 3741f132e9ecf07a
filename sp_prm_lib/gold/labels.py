"""Preference labels from the gold: noise-free, or drawn from Bradley-Terry like human raters."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sp_prm_lib.core.errors import ConfigError


@dataclass(frozen=True)
class GoldLabels:
    """Relabelled pairs (``chosen`` = the one the gold's label prefers) and what the labels imply."""

    pairs: pd.DataFrame
    gap: np.ndarray  # g(chosen) - g(rejected) after relabelling (>= 0 without noise)
    p_first: np.ndarray  # probability that the original first response is preferred
    ceiling: float  # best accuracy any model can reach against these labels, in expectation
    flipped_by_noise: int  # labels that disagree with the noise-free gold order
    ties: int  # pairs the gold cannot order (|gap| <= tie_eps): dropped


def label_ceiling(gap: np.ndarray, beta: float | None) -> float:
    """Mean of max(p, 1 - p) with p = sigmoid(gap / beta): the accuracy ceiling under label noise."""
    if beta is None:
        return 1.0
    p = 1.0 / (1.0 + np.exp(-np.abs(np.asarray(gap, dtype=float)) / beta))
    return float(np.mean(np.maximum(p, 1 - p)))


def gold_labels(
    gold, pairs: pd.DataFrame, *, beta: float | None = None, seed: int = 0, tie_eps: float = 1e-6
) -> GoldLabels:
    """The pairs relabelled by ``gold``: each pair's two responses ordered by a label drawn from
    P(first preferred) = sigmoid((g(first) - g(second)) / beta) (``beta`` None: the gold's order).

    Pairs the gold ties are dropped (they carry no signal). A gold that ties every pair is an error.
    """
    if beta is not None and not beta > 0:
        raise ConfigError(f"gold.beta must be > 0 (or null for noise-free labels), got {beta!r}")
    if len(pairs) == 0:
        raise ConfigError("no pairs to label")
    first = gold.score(pairs.prompt.tolist(), pairs.chosen.tolist()).numpy().astype(float)
    second = gold.score(pairs.prompt.tolist(), pairs.rejected.tolist()).numpy().astype(float)
    diff = first - second
    tied = np.abs(diff) <= tie_eps
    if tied.all():
        raise ConfigError(f"gold: the gold scores all {len(pairs)} pairs as ties: it is constant on this data")
    if beta is None:
        p_first = (diff > 0).astype(float)
        first_wins = diff > 0
    else:
        with np.errstate(over="ignore"):
            p_first = 1.0 / (1.0 + np.exp(-diff / beta))
        draws = np.random.default_rng(np.random.SeedSequence([seed, len(pairs)])).random(len(pairs))
        first_wins = draws < p_first
    keep = ~tied
    chosen = np.where(first_wins, pairs.chosen, pairs.rejected)
    rejected = np.where(first_wins, pairs.rejected, pairs.chosen)
    out = pairs.assign(chosen=chosen, rejected=rejected, gold_gap=np.where(first_wins, diff, -diff))
    out = out[keep].reset_index(drop=True)
    return GoldLabels(
        pairs=out,
        gap=out.gold_gap.to_numpy(),
        p_first=p_first[keep],
        ceiling=label_ceiling(diff[keep], beta),
        flipped_by_noise=int((first_wins[keep] != (diff[keep] > 0)).sum()),
        ties=int(tied.sum()),
    )

"""Batches: how the weighted rows of D_partial (``objective``) reach the loss.

What a batch counts (``batch_unit``): ``pairs`` batches ``batch_size`` preference pairs with all
their cuts (about K + 1 prefix pairs each under SST); ``prefix-pairs`` batches ``batch_size`` rows
of D_partial, shuffled, as the paper's batch of 32 or 64 samples does (see ``PairExamples``).

Causal reward models train with a **dense loss**: each response is one packed forward (see
``sp_prm_lib.scoring.reward_model``) and all its cut points in the batch are read from it, so
partial pairs cost almost nothing over full ones. Bidirectional models (or ``dense=False``) use
one sequence per prefix (``PairCollator``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from sp_prm_lib.config.training import BATCH_UNITS
from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.scoring.inputs import Encoded
from sp_prm_lib.scoring.reward_model import RewardModel, pack_closed, pack_each, pack_open
from sp_prm_lib.training.objective import batch_mean, encode_pairs


def _check_batching(batch_unit: str, batch_size: int) -> None:
    if batch_unit not in BATCH_UNITS:
        raise ConfigError(f"batch_unit must be one of {', '.join(BATCH_UNITS)}, got {batch_unit!r}")
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")


def prefix_pair_batches(n_rows: int, batch_size: int, seed: int) -> list[np.ndarray]:
    """``batch_unit="prefix-pairs"``: the rows (indices, ascending) of each batch. The rows are
    shuffled with ``np.random.default_rng(seed)`` and cut into batches of ``batch_size``, the
    last one smaller."""
    shuffled = np.random.default_rng(seed).permutation(n_rows)
    return [np.sort(shuffled[at : at + batch_size]) for at in range(0, n_rows, batch_size)]


def _log_weights(rows: pd.DataFrame) -> np.ndarray:
    if "log_weight" in rows:
        return rows.log_weight.to_numpy(dtype=np.float64)
    with np.errstate(divide="ignore"):
        return np.log(rows.weight.to_numpy(dtype=np.float64))


class PairExamples(torch.utils.data.Dataset):
    """Training examples: what one item of the ``Trainer``'s data loader holds.

    Each item is a list of *parts*, one per preference pair, each with some of that
    pair's cuts (``len_w``, ``len_l``, ``weight``, ``log_weight``):

    - ``batch_unit="pairs"``: one item per preference pair with all its cuts; the
      ``Trainer`` batches ``batch_size`` items.
    - ``batch_unit="prefix-pairs"``: one item per batch (``prefix_pair_batches``); within
      a batch the rows of one pair form one part, so the dense path still packs each
      response once per batch. The ``Trainer`` then loads one item per micro-batch (and
      shuffles the batches' order each epoch; their composition is drawn once).
    """

    def __init__(
        self,
        rm: RewardModel,
        pairs: pd.DataFrame,
        rows: pd.DataFrame,
        batch_unit: str = "pairs",
        batch_size: int = 1,
        seed: int = 0,
        encoded: tuple[list[Encoded], list[Encoded]] | None = None,
    ):
        _check_batching(batch_unit, batch_size)
        self.encoded_w, self.encoded_l = encoded or encode_pairs(rm, pairs)
        columns = (
            rows.pair.to_numpy(dtype=np.int64),
            rows.chosen_len.to_numpy(dtype=np.int64),
            rows.rejected_len.to_numpy(dtype=np.int64),
            rows.weight.to_numpy(dtype=np.float64),
            _log_weights(rows),
        )
        if batch_unit == "pairs":
            order = np.argsort(columns[0], kind="stable")
            self.items = [[part] for part in self._parts(columns, order)]
        else:
            self.items = [self._parts(columns, index) for index in prefix_pair_batches(len(rows), batch_size, seed)]

    @staticmethod
    def _parts(columns, index: np.ndarray) -> list[tuple]:
        """Rows ``index`` (in this order) grouped into parts, one per pair (in order of appearance)."""
        parts: dict[int, tuple] = {}
        pair, len_w, len_l, weight, log_weight = (c[index].tolist() for c in columns)
        for p, a, b, w, lw in zip(pair, len_w, len_l, weight, log_weight):
            part = parts.setdefault(p, (p, [], [], [], []))
            part[1].append(a)
            part[2].append(b)
            part[3].append(w)
            part[4].append(lw)
        return list(parts.values())

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i):
        return {
            "parts": [
                {"w": self.encoded_w[p], "l": self.encoded_l[p], "len_w": a, "len_l": b, "weight": w, "log_weight": lw}
                for p, a, b, w, lw in self.items[i]
            ]
        }


class PairCollator:
    """Packs a batch: chosen rows first, then rejected rows, same cut order.

    ``dense``: one packed row per response with all its cuts in the batch (when no
    response has more than one cut in the batch, the per-cut rows below are the same
    sequences without the 4-D mask, so they are used); otherwise one row per
    (response, cut). ``weighting="batch-mean"`` divides the weights by their mean
    over the batch (``objective.batch_mean`` of the log weights, finite for any
    reference gap); the loss then needs no further normalisation.
    """

    def __init__(self, rm: RewardModel, dense: bool, weighting: str = "raw"):
        self.rm, self.dense, self.weighting = rm, dense, weighting

    def __call__(self, items: list[dict]) -> dict:
        parts = [part for it in items for part in it["parts"]]
        # one cut per response: the per-prefix rows are the same sequences with a plain 2-D mask
        dense = self.dense and any(len(part["len_w"]) > 1 for part in parts)
        if not dense:
            parts = [
                {**part, "len_w": [a], "len_l": [b], "weight": [w], "log_weight": [lw]}
                for part in parts
                for a, b, w, lw in zip(part["len_w"], part["len_l"], part["weight"], part["log_weight"], strict=True)
            ]
        encs: list[Encoded] = [p["w"] for p in parts] + [p["l"] for p in parts]
        lens = [p["len_w"] for p in parts] + [p["len_l"] for p in parts]
        pad, side = self.rm.tokenizer.pad_token_id, self.rm.padding_side
        if not dense:
            packed, _ = pack_each(encs, lens, pad, side, with_token_types=bool(self.rm._token_types))
        elif self.rm.convention == "open":
            packed = pack_open(encs, lens, pad, side)
        else:
            packed = pack_closed(encs, lens, pad, self.rm.model.dtype, side)
        width = packed.read.shape[1]
        weight = np.zeros((len(parts), width))
        log_weight = np.full((len(parts), width), -np.inf)
        present = np.zeros((len(parts), width), dtype=bool)
        for b, part in enumerate(parts):
            n = len(part["weight"])
            weight[b, :n], log_weight[b, :n], present[b, :n] = part["weight"], part["log_weight"], True
        if self.weighting == "batch-mean":
            weight = np.zeros((len(parts), width))
            weight[present] = batch_mean(log_weight[present])
        return {
            "packed": packed,
            "weight": torch.tensor(weight, dtype=torch.float32),
            "present": torch.tensor(present),
        }


def batch_mean_weights(
    weights: pd.Series, pairs: pd.Series, batch_size: int, batch_unit: str = "pairs", seed: int = 0
) -> pd.Series:
    """What ``weighting: batch-mean`` makes of the weights: each divided by the mean weight of
    its batch (``objective.batch_mean``, in log space, so weights up to float64's limit give
    finite results; training itself uses the rows' finite ``log_weight``).

    ``batch_unit="pairs"``: batches of ``batch_size`` preference pairs in this order (the
    loss does the same per shuffled batch, over all cuts of its pairs).
    ``batch_unit="prefix-pairs"``: the batches training uses, for these rows in this
    order (the rows of D_partial) and ``seed`` (``prefix_pair_batches``).
    """
    _check_batching(batch_unit, batch_size)
    weights = pd.Series(weights, dtype=np.float64)
    if batch_unit == "pairs":
        batch = (pd.Series(pairs).rank(method="dense").astype(int) - 1).to_numpy() // batch_size
        batches = [np.flatnonzero(batch == b) for b in np.unique(batch)]
    else:
        batches = prefix_pair_batches(len(weights), batch_size, seed)
    with np.errstate(divide="ignore"):
        log_w = np.log(weights.to_numpy())
    out = np.empty(len(weights))
    for index in batches:
        out[index] = batch_mean(log_w[index])
    return pd.Series(out, index=weights.index)

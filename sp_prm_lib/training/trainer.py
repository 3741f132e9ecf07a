"""Bradley-Terry training of ORMs and PRMs on the Hugging Face ``Trainer``.

Every objective is the same loss over weighted prefix pairs
``-w * log sigmoid(r(x, y_w[:a]) - r(x, y_l[:b]))``; objectives differ only in
which prefix pairs they use and how they weight them:

- ``orm`` (paper Eq. 1): the full pairs, weight 1.
- ``sc`` (Eq. 2, the paper's ablation): D_partial (TLT or SST cuts, plus the
  full pairs), weight 1.
- ``sp-prm`` (Eq. 3): D_partial scored by a reference RM r_phi; a prefix pair
  the reference orders against the human label gets weight 0, the others
  ``1/H_t`` with ``p = sigmoid(|r_phi(y_w) - r_phi(y_l)|)`` and ``H_t`` the
  binary entropy of p. The full pairs are filtered and weighted the same way.
- ``sp-prm-released``: the released code's actual behaviour (its weight column
  is never read): reference filter, then unweighted.

``1/H_t`` is unbounded (about 25 at a gap of 5, 2e5 at 15, 3e14 at 37), so
``weighting`` names what is done with it: ``raw``, ``clamp`` (at
``weight_clamp``) or ``batch-mean`` (each batch's weights divided by their
mean). ``H_t`` is computed from log-sigmoids (``log_inverse_entropy``), never
from ``1 - p``, so clamped and batch-mean weights are finite for any reference
gap; a raw weight beyond float32 is refused. A non-finite loss, gradient norm or
parameter stops training with a ``ModelError`` naming the step.

Ties: a prefix pair whose two sides are the same token sequence (chosen and
rejected share their first t tokens) has no preference to learn, and its
reference scores differ by rounding only; every objective leaves such pairs out
and counts them (``TrainResult.dropped_identical``).

What a batch counts (``batch_unit``): ``pairs`` batches ``batch_size``
preference pairs with all their cuts (about K + 1 prefix pairs each under SST);
``prefix-pairs`` batches ``batch_size`` rows of D_partial, shuffled, as the
paper's batch of 32 or 64 samples does (see ``PairExamples``).

Causal reward models train with a **dense loss**: each response is one
packed forward (see ``sp_prm_lib.scoring.reward_model``) and all its cut points
in the batch are read from it, so partial pairs cost almost nothing over full
ones. Bidirectional models (or ``dense=False``) use one sequence per prefix.

Runs: ``output_dir/run.json`` fingerprints the run (config, data, initial
model); a folder holding another run is refused rather than resumed. Resuming
uses the newest *complete* checkpoint; half-written ones (a kill during a save)
are logged and removed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import math
import os
import re
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from sp_prm_lib.config.training import BATCH_UNITS, TrainConfig
from sp_prm_lib.core.errors import ConfigError, ModelError
from sp_prm_lib.scoring.inputs import Encoded
from sp_prm_lib.scoring.reward_model import (
    RewardModel,
    forward_rewards,
    pack_closed,
    pack_each,
    pack_open,
    same_tokens,
)
from sp_prm_lib.training.truncation import build_partial_pairs


# --- D_partial and its weights ---------------------------------------------
def log_inverse_entropy(gap) -> np.ndarray:
    """log(1/H) of Eq. 3, with p = sigmoid(|gap|) and H = -(p log p + q log q), q = 1 - p.

    Computed from log-sigmoids, never from ``q = 1 - p`` (which rounds to 0 from a gap of
    about 37 in float64, 17 in float32): with g = |gap|, log p = -softplus(-g) and
    log q = -softplus(g), so ``H = p softplus(-g) + q softplus(g)`` and ``log H`` is a
    log-sum-exp of two finite terms. Finite for every finite gap (about g - log(1 + g)
    for large g); ``log(1/ln 2)`` at gap 0.
    """
    g = np.abs(np.asarray(gap, dtype=np.float64))
    x = np.exp(-g)  # underflows to 0 for g > ~745, harmlessly
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(x > 1e-8, np.log1p(x) / np.where(x > 0, x, 1.0), 1.0 - x / 2)
    softplus_neg = np.log1p(x)  # softplus(-g)
    softplus_pos = g + softplus_neg  # softplus(g)
    log_softplus_neg = -g + np.log(ratio)  # log(log1p(e^-g)) without underflow
    log_h = np.logaddexp(-softplus_neg + log_softplus_neg, -softplus_pos + np.log(softplus_pos))
    return -log_h


def binary_entropy(gap) -> np.ndarray:
    """H_t of Eq. 3 (nats) for reward gaps: finite for any finite gap (0 once it underflows)."""
    return np.exp(-log_inverse_entropy(gap))


def entropy_weights(ref_chosen: np.ndarray, ref_rejected: np.ndarray) -> np.ndarray:
    """Eq. 3 weights: 1/H_t where the reference agrees with the label, else 0.

    1/H_t grows like e^g / (1 + g): about 3e14 at a gap of 37 and beyond float64 (inf)
    from a gap of about 716; ``log_inverse_entropy`` stays finite for any gap.
    """
    ref_chosen, ref_rejected = np.asarray(ref_chosen, dtype=np.float64), np.asarray(ref_rejected, dtype=np.float64)
    with np.errstate(over="ignore"):
        w = np.exp(log_inverse_entropy(ref_chosen - ref_rejected))
    return np.where(ref_chosen > ref_rejected, w, 0.0)


def prefix_pairs(rm: RewardModel, pairs: pd.DataFrame, config: TrainConfig) -> pd.DataFrame:
    """The (pair, cut) rows an objective trains on, in ``rm``'s tokens, weight 1.

    Columns: pair, t, chosen_len, rejected_len, full, weight. ``tlt_max_cuts`` caps TLT
    only: SST draws its k ~ U{0..2K} cuts uncapped.
    """
    len_w = rm.response_lengths(pairs.chosen.tolist())
    len_l = rm.response_lengths(pairs.rejected.tolist())
    if config.partial:
        rows = build_partial_pairs(
            len_w,
            len_l,
            method=config.truncation,
            K=config.K,
            seed=config.seed,
            include_full=True,
            max_cuts=config.tlt_max_cuts if config.truncation == "tlt" else None,
        )
    else:
        rows = pd.DataFrame(
            {
                "pair": range(len(pairs)),
                "t": np.maximum(len_w, len_l),
                "chosen_len": len_w,
                "rejected_len": len_l,
                "full": True,
            }
        )
    rows = rows.reset_index(drop=True)
    rows["weight"] = 1.0
    return rows


def encode_pairs(rm: RewardModel, pairs: pd.DataFrame) -> tuple[list[Encoded], list[Encoded]]:
    """(chosen, rejected) encodings of every pair in ``rm``'s formatting."""
    prompts = pairs.prompt.tolist()
    return rm.formatter.encode(prompts, pairs.chosen.tolist()), rm.formatter.encode(prompts, pairs.rejected.tolist())


def identical_rows(rows: pd.DataFrame, encoded: tuple[list[Encoded], list[Encoded]]) -> np.ndarray:
    """Per row: True when its chosen and rejected prefixes are the same token sequence (a tie)."""
    enc_w, enc_l = encoded
    return np.array(
        [
            same_tokens(enc_w[p], a, enc_l[p], b)
            for p, a, b in zip(rows.pair.tolist(), rows.chosen_len.tolist(), rows.rejected_len.tolist())
        ],
        dtype=bool,
    )


def reference_scores(
    reference: RewardModel, rm: RewardModel, pairs: pd.DataFrame, rows: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """Reference-RM rewards of every row's chosen and rejected prefix.

    Cut lengths are in ``rm``'s tokens; when the reference shares that
    tokenizer its one-pass prefix scoring is used, otherwise the prefixes are
    decoded to text and re-tokenized by the reference.
    """
    same_vocab = reference.tokenizer.get_vocab() == rm.tokenizer.get_vocab()
    out = {}
    for side, col in (("chosen", "chosen_len"), ("rejected", "rejected_len")):
        grouped = rows.groupby("pair")[col].apply(list)
        prompts = pairs.prompt.iloc[grouped.index].tolist()
        texts = pairs[side].iloc[grouped.index].tolist()
        if same_vocab:
            scores = reference.score_prefixes(prompts, texts, grouped.tolist())
        else:
            ids = rm.formatter.response_ids(texts)
            flat_p, flat_t = [], []
            for prompt, resp, lens in zip(prompts, ids, grouped):
                for n in lens:
                    flat_p.append(prompt)
                    flat_t.append(rm.tokenizer.decode(resp[:n], skip_special_tokens=True))
            flat = reference.score(flat_p, flat_t)
            scores, at = [], 0
            for lens in grouped:
                scores.append(flat[at : at + len(lens)])
                at += len(lens)
        by_pair = dict(zip(grouped.index, scores))
        position = rows.groupby("pair").cumcount()
        out[side] = np.array([by_pair[p][k].item() for p, k in zip(rows.pair, position)])
    return out["chosen"], out["rejected"]


def weigh_rows(
    rows: pd.DataFrame,
    ref_chosen: np.ndarray,
    ref_rejected: np.ndarray,
    config: TrainConfig,
    identical: np.ndarray | None = None,
) -> pd.DataFrame:
    """Apply the reference filter and weights of an ``sp-prm*`` objective; drop weight-0 rows.

    A row is kept when the reference orders it as the label does and (``identical``) its
    two sides are not the same token sequence: a tie carries no preference, whatever
    rounding noise the reference's scores show. Added columns: ``ref_chosen``,
    ``ref_rejected``, ``log_weight`` (log 1/H_t, finite for any gap), ``raw_weight``
    (1/H_t, inf where it overflows float64) and ``weight`` (what the loss uses:
    ``clamp``: min(1/H_t, weight_clamp); ``raw``: 1/H_t, refused where it is not finite
    in float32; ``batch-mean``: 1/H_t over its mean on the kept rows, which the collator
    divides again by each batch's mean (computed from ``log_weight``);
    ``sp-prm-released``: 1). ``attrs``: ``dropped_identical`` and ``dropped_by_reference``.
    """
    ref_chosen, ref_rejected = np.asarray(ref_chosen, dtype=np.float64), np.asarray(ref_rejected, dtype=np.float64)
    if not (np.isfinite(ref_chosen).all() and np.isfinite(ref_rejected).all()):
        raise ConfigError("the reference reward model returned NaN or inf for some prefix pairs")
    rows = rows.copy()
    rows["ref_chosen"], rows["ref_rejected"] = ref_chosen, ref_rejected
    log_w = log_inverse_entropy(ref_chosen - ref_rejected)
    agree = ref_chosen > ref_rejected
    tie = np.zeros(len(rows), dtype=bool) if identical is None else np.asarray(identical, dtype=bool)
    keep = agree & ~tie
    rows["log_weight"] = log_w
    with np.errstate(over="ignore"):
        rows["raw_weight"] = np.where(keep, np.exp(log_w), 0.0)
    if config.objective == "sp-prm-released":
        weight = np.ones(len(rows))
    elif config.weighting == "clamp":
        weight = np.exp(np.minimum(log_w, math.log(config.weight_clamp)))
    elif config.weighting == "raw":
        with np.errstate(over="ignore"):
            weight = np.exp(log_w)
            too_big = keep & ~np.isfinite(weight.astype(np.float32))
        if too_big.any():
            i = int(np.flatnonzero(too_big)[0])
            raise ConfigError(
                f"weighting raw: the weight 1/H_t of prefix pair (pair {int(rows.pair.iloc[i])}, "
                f"t {int(rows.t.iloc[i])}) is about e^{log_w[i]:.0f}, beyond float32 (reference gap "
                f"{abs(ref_chosen[i] - ref_rejected[i]):.1f}; {int(too_big.sum())} such rows): "
                "use weighting clamp or batch-mean"
            )
    else:  # batch-mean: scale-free, so divide by the mean over the kept rows (finite for any gap)
        kept_log = log_w[keep]
        mean_log = float(np.logaddexp.reduce(kept_log) - math.log(len(kept_log))) if keep.any() else 0.0
        with np.errstate(over="ignore"):  # only rows the filter drops can overflow
            weight = np.exp(log_w - mean_log)
    rows["weight"] = np.where(keep, weight, 0.0)
    kept = rows[keep].reset_index(drop=True)
    if kept.empty:
        raise ConfigError(
            f"D_partial is empty after the reference filter: the reference RM disagrees "
            f"with the label on all {len(rows)} prefix pairs"
            + (f" ({int(tie.sum())} of them identical token sequences)" if tie.any() else "")
        )
    kept.attrs["dropped_identical"] = int(tie.sum())
    kept.attrs["dropped_by_reference"] = int((~agree & ~tie).sum())
    return kept


def batch_mean_weights(
    weights: pd.Series, pairs: pd.Series, batch_size: int, batch_unit: str = "pairs", seed: int = 0
) -> pd.Series:
    """What ``weighting: batch-mean`` makes of the weights: each divided by the mean weight of
    its batch, computed in log space (so weights up to float64's limit give finite results;
    training itself uses the rows' finite ``log_weight``).

    ``batch_unit="pairs"``: batches of ``batch_size`` preference pairs in this order (the
    loss does the same per shuffled batch, over all cuts of its pairs).
    ``batch_unit="prefix-pairs"``: the batches training uses, for these rows in this
    order (the rows of D_partial) and ``seed`` (see ``PairExamples``).
    """
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    if batch_unit not in BATCH_UNITS:
        raise ConfigError(f"batch_unit must be one of {', '.join(BATCH_UNITS)}, got {batch_unit!r}")
    weights = pd.Series(weights, dtype=np.float64)
    if batch_unit == "pairs":
        batch = (pd.Series(pairs).rank(method="dense").astype(int) - 1).to_numpy() // batch_size
    else:
        batch = np.empty(len(weights), dtype=np.int64)
        batch[np.random.default_rng(seed).permutation(len(weights))] = np.arange(len(weights)) // batch_size
    with np.errstate(divide="ignore"):
        log_w = pd.Series(np.log(weights.to_numpy()), index=weights.index)
    top = log_w.groupby(batch).transform("max").to_numpy()  # shift by each batch's largest log weight
    with np.errstate(invalid="ignore"):
        shifted = pd.Series(np.exp(log_w.to_numpy() - top), index=weights.index)
        log_mean = top + np.log(shifted.groupby(batch).transform("mean").to_numpy())
        return pd.Series(np.exp(log_w.to_numpy() - log_mean), index=weights.index)


# --- examples, batches and the loss -----------------------------------------
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
    - ``batch_unit="prefix-pairs"``: one item per batch. The rows of D_partial are
      shuffled (``np.random.default_rng(seed)``) and cut into batches of ``batch_size``
      rows (the last one smaller); within a batch the rows of one pair form one part, so
      the dense path still packs each response once per batch. The ``Trainer`` then
      loads one item per micro-batch (and shuffles the batches' order each epoch;
      their composition is drawn once).
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
        if batch_unit not in BATCH_UNITS:
            raise ConfigError(f"batch_unit must be one of {', '.join(BATCH_UNITS)}, got {batch_unit!r}")
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
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
            shuffled = np.random.default_rng(seed).permutation(len(rows))
            self.items = [
                self._parts(columns, np.sort(shuffled[at : at + batch_size])) for at in range(0, len(rows), batch_size)
            ]

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
    over the batch, computed from the log weights (finite for any reference gap); the
    loss then needs no further normalisation.
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
        if self.weighting == "batch-mean" and present.any():
            mean_log = np.logaddexp.reduce(log_weight[present]) - math.log(int(present.sum()))
            weight = np.where(present, np.exp(log_weight - mean_log), 0.0)
        return {
            "packed": packed,
            "weight": torch.tensor(weight, dtype=torch.float32),
            "present": torch.tensor(present),
        }


def bradley_terry_loss(
    rewards: torch.Tensor, weight: torch.Tensor, weighting: str, present: torch.Tensor | None = None
) -> torch.Tensor:
    """Weighted mean of -log sigmoid(r_w - r_l) over a batch's prefix pairs.

    ``rewards`` is (2B, J): chosen rows then rejected rows; ``weight`` (B, J); ``present``
    (B, J) marks real entries (default: weight > 0).
    """
    half = rewards.shape[0] // 2
    margin = rewards[:half] - rewards[half:]
    present = (weight > 0) if present is None else present.to(torch.bool)
    present = present.to(margin.device)
    w = weight.to(margin.device)
    if weighting == "batch-mean":
        w = w / w[present].mean()
    losses = -F.logsigmoid(margin) * w
    return losses[present].sum() / present.sum()


def _trainer_class():
    from transformers import Trainer

    class BradleyTerryTrainer(Trainer):
        """``Trainer`` whose loss is the weighted Bradley-Terry loss of packed batches.

        A non-finite loss stops training with a ``ModelError`` naming the step. With
        ``head_learning_rate`` the score head gets its own peak learning rate.
        """

        def __init__(self, *args, head_learning_rate: float | None = None, **kwargs):
            self.head_learning_rate = head_learning_rate
            super().__init__(*args, **kwargs)

        def create_optimizer(self, model=None):
            if self.head_learning_rate is None or self.optimizer is not None:
                return super().create_optimizer(model)
            head = set(head_parameter_names(self.model))
            named = [(n, p) for n, p in self.model.named_parameters() if p.requires_grad]
            groups = [
                {"params": [p for n, p in named if n not in head], "lr": self.args.learning_rate},
                {"params": [p for n, p in named if n in head], "lr": self.head_learning_rate},
            ]
            groups = [g for g in groups if g["params"]]
            for g in groups:
                g["weight_decay"] = self.args.weight_decay
            optimizer_cls, kwargs = Trainer.get_optimizer_cls_and_kwargs(self.args, self.model)
            kwargs.pop("lr", None)
            self.optimizer = optimizer_cls(groups, **kwargs)
            return self.optimizer

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            # forward_rewards calls the body and the head directly, past the autocast wrapper
            # that accelerate puts around model.forward, so mixed precision is applied here
            device_type = next(model.parameters()).device.type
            with torch.autocast(device_type, dtype=torch.bfloat16, enabled=bool(self.args.bf16)):
                rewards = forward_rewards(model, inputs["packed"])
            loss = bradley_terry_loss(rewards, inputs["weight"], "raw", inputs.get("present"))
            if not torch.isfinite(loss.detach()).all():
                raise ModelError(
                    f"training step {self.state.global_step + 1}: the loss is {loss.item()} "
                    "(non-finite); check the weights (weighting) and the learning rate"
                )
            return (loss, {"rewards": rewards}) if return_outputs else loss

        def _prepare_inputs(self, inputs):
            return inputs  # forward_rewards moves the packed tensors itself

    return BradleyTerryTrainer


def head_parameter_names(model) -> list[str]:
    """Names of the parameters outside the model's body (its score or classifier head)."""
    prefix = getattr(model, "base_model_prefix", "")
    return [n for n, _ in model.named_parameters() if not (prefix and n.startswith(prefix + "."))]


def transformer_layers(model):
    """The body's stack of transformer layers (the ModuleList with one entry per hidden layer)."""
    import torch.nn as nn

    wanted = getattr(model.config, "num_hidden_layers", None)
    for _, module in model.base_model.named_modules():
        if isinstance(module, nn.ModuleList) and len(module) == wanted:
            return module
    raise ModelError(f"{type(model).__name__}: no stack of {wanted} transformer layers found")


def freeze_lower_parts(model, config) -> None:
    """Apply ``freeze_embeddings`` and ``train_top_layers`` (then only the top layers and the head
    outside the body learn): the other parts get no gradient."""
    if config.freeze_embeddings or config.train_top_layers is not None:
        model.get_input_embeddings().weight.requires_grad_(False)
    if config.train_top_layers is None:
        return
    layers = transformer_layers(model)
    if config.train_top_layers > len(layers):
        raise ConfigError(f"train_top_layers is {config.train_top_layers}, but the model has {len(layers)} layers")
    # the body outside the top layers (embeddings, lower layers, shared position tables, norms) stays fixed
    model.base_model.requires_grad_(False)
    for layer in list(layers)[len(layers) - config.train_top_layers :]:
        layer.requires_grad_(True)


def _finite_guard():
    """A callback that stops training when a parameter or the gradient norm is not finite."""
    from transformers import TrainerCallback

    class FiniteGuard(TrainerCallback):
        def on_step_end(self, args, state, control, model=None, **kwargs):
            if model is None:
                return
            named = [(n, p) for n, p in model.named_parameters() if p.numel()]  # ZeRO-3: local shards are empty
            if not named:
                return
            flags = [torch.isfinite(p.detach()).all() for _, p in named]
            if bool(torch.stack([f.to(flags[0].device) for f in flags]).all()):  # one sync per step
                return
            name = next(n for (n, _), f in zip(named, flags) if not bool(f))
            raise ModelError(f"training step {state.global_step}: parameter {name} is not finite (NaN or inf)")

        def on_log(self, args, state, control, logs=None, **kwargs):
            for key in ("loss", "grad_norm"):
                value = (logs or {}).get(key)
                if isinstance(value, (int, float)) and not math.isfinite(value):
                    raise ModelError(f"training step {state.global_step}: {key} is {value} (non-finite)")

    return FiniteGuard()


@dataclass
class TrainResult:
    """What a run did: rows trained on, steps, seconds, the loss log, and what was dropped.

    ``dropped_identical``: prefix pairs whose two sides are the same token sequence in
    the trained RM's tokens (ties: no preference to learn), left out for every
    objective. ``dropped_by_reference``: prefix pairs the reference RM orders against
    the label (``sp-prm*`` only).
    """

    rows: pd.DataFrame
    steps: int
    seconds: float
    log: list[dict] = field(default_factory=list)
    dropped_identical: int = 0
    dropped_by_reference: int = 0


# --- the run: fingerprint, checkpoints, training --------------------------------
RUN_FILE = "run.json"


def data_fingerprint(pairs: pd.DataFrame) -> str:
    """sha256 of the pairs' prompt, chosen and rejected texts, in order."""
    digest = hashlib.sha256()
    for prompt, chosen, rejected in zip(pairs.prompt, pairs.chosen, pairs.rejected):
        for text in (prompt, chosen, rejected):
            data = str(text).encode("utf-8")
            digest.update(len(data).to_bytes(8, "little"))
            digest.update(data)
    return digest.hexdigest()


def _model_identity(rm: RewardModel | None) -> dict | None:
    if rm is None:
        return None
    params = list(rm.model.parameters())
    head = hashlib.sha256(params[-1].detach().float().cpu().numpy().tobytes()).hexdigest()[:16] if params else ""
    return {
        "name": str(rm.name),
        "class": type(rm.model).__name__,
        "parameters": int(sum(p.numel() for p in params)),
        "last_parameter_sha256": head,
        "convention": rm.convention,
        "max_length": rm.formatter.max_length,
    }


def run_fingerprint(rm: RewardModel, pairs: pd.DataFrame, config: TrainConfig, reference: RewardModel | None) -> dict:
    """What makes two runs the same run (``save_steps`` does not change the result)."""
    return {
        "train": _train_fingerprint(config),
        "data": {"pairs": len(pairs), "sha256": data_fingerprint(pairs)},
        "model": _model_identity(rm),
        "reference": _model_identity(reference) if config.uses_reference else None,
    }


def _differences(old, new, prefix: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new), key=str):
            out += _differences(old.get(key), new.get(key), f"{prefix}{key}.")
        return out
    return [] if old == new else [f"{prefix.rstrip('.')} ({old!r} -> {new!r})"]


def _train_fingerprint(config: TrainConfig) -> dict:
    return {k: v for k, v in config.to_dict().items() if k != "save_steps"}


def _read_run(output_dir: Path):
    try:
        return json.loads((output_dir / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _refuse(where: str, diff: list[str]) -> None:
    shown = "; ".join(diff[:3]) + (f"; and {len(diff) - 3} more" if len(diff) > 3 else "")
    raise ConfigError(
        f"{where} holds another training run (differs in {shown}): "
        "choose a new output folder, or delete this one to start over"
    )


def _holds_training_state(output_dir: Path) -> bool:
    """Checkpoints or a trained model: what a rerun would resume from or overwrite."""
    return any((output_dir / "checkpoints").glob("checkpoint-*")) or (output_dir / "model").exists()


def _check_folder(output_dir: Path, where: str) -> None:
    if output_dir.exists() and not output_dir.is_dir():
        raise ConfigError(f"{where} is a file, not a folder")
    if not (output_dir / RUN_FILE).exists() and _holds_training_state(output_dir):
        raise ConfigError(
            f"{where} holds checkpoints or a model without {RUN_FILE} (an unknown run): "
            "choose a new output folder, or delete this one to start over"
        )


def check_output(output_dir: Path, config: TrainConfig, where: str | None = None) -> None:
    """Refuse early (before any model loads) a folder that is a file or holds the
    checkpoints or model of a run with another ``TrainConfig``; ``train_reward_model``
    checks the data and the models as well."""
    output_dir = Path(output_dir)
    where = where or str(output_dir)
    _check_folder(output_dir, where)
    if (output_dir / RUN_FILE).exists() and _holds_training_state(output_dir):
        old = _read_run(output_dir)
        if not isinstance(old, dict):
            _refuse(where, [f"{RUN_FILE} unreadable"])
        diff = _differences(old.get("train"), _train_fingerprint(config), "train.")
        if diff:
            _refuse(where, diff)


def claim_output(output_dir: Path, fingerprint: dict, resume: bool, write: bool = True) -> None:
    """Make ``output_dir`` this run's folder: check the ``run.json`` there, then write it.

    With ``resume``, a folder holding another run's checkpoints or model (a different
    ``run.json``, or none) is refused with a ``ConfigError``, so one run never resumes
    from another's checkpoints; a ``run.json`` alone (a run that stopped before its
    first checkpoint) is replaced. Without ``resume`` the folder's checkpoints are
    removed (they would be resumed from later) and ``run.json`` is replaced.
    """
    output_dir = Path(output_dir)
    if output_dir.exists() and not output_dir.is_dir():
        raise ConfigError(f"output folder {output_dir} is a file, not a folder")
    main_process = int(os.environ.get("RANK", "0")) == 0
    if resume:
        _check_folder(output_dir, str(output_dir))
        if (output_dir / RUN_FILE).exists() and _holds_training_state(output_dir):
            old = _read_run(output_dir)
            if old != fingerprint:
                _refuse(
                    str(output_dir),
                    _differences(old, fingerprint) if isinstance(old, dict) else [f"{RUN_FILE} unreadable"],
                )
            return
    elif main_process and (output_dir / "checkpoints").is_dir():
        _log.warning("not resuming: removing the checkpoints in %s", output_dir / "checkpoints")
        shutil.rmtree(output_dir / "checkpoints", ignore_errors=True)
    if write and main_process:
        output_dir.mkdir(parents=True, exist_ok=True)
        tmp = output_dir / f".{RUN_FILE}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(fingerprint, indent=2, sort_keys=True, default=str), encoding="utf-8")
        os.replace(tmp, output_dir / RUN_FILE)


def _safetensors_problem(path: Path) -> str | None:
    size = path.stat().st_size
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
            if len(head) < 8:
                return "shorter than its header"
            n = int.from_bytes(head, "little")
            if 8 + n > size:
                return "truncated inside its header"
            header = json.loads(fh.read(n))
    except (OSError, ValueError) as exc:
        return f"unreadable header ({type(exc).__name__})"
    ends = [v["data_offsets"][1] for k, v in header.items() if k != "__metadata__" and isinstance(v, dict)]
    expected = 8 + n + max(ends, default=0)
    return None if size == expected else f"{size} bytes where its header needs {expected}"


def _torch_file_problem(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as archive:
            archive.infolist()
    except (OSError, zipfile.BadZipFile) as exc:
        return f"not a complete torch archive ({type(exc).__name__})"
    return None


def checkpoint_problem(folder: Path) -> str | None:
    """Why ``folder`` (a ``checkpoint-N``) cannot be resumed from, or None when it is complete.

    Complete: ``trainer_state.json`` parses (the ``Trainer`` writes it last), every
    ``.safetensors`` file has the size its header states, every torch file (``.bin``,
    ``.pt``, ``.pth``) is a whole zip archive, every JSON file parses, sharded weights
    have all their shards, and the weights, optimizer (or DeepSpeed state), scheduler
    and RNG state are there.
    """
    folder = Path(folder)
    state = folder / "trainer_state.json"
    if not state.is_file():
        return "trainer_state.json is missing"
    files = sorted(f for f in folder.rglob("*") if f.is_file())
    names = {f.relative_to(folder).as_posix() for f in files}
    for f in files:
        if f.suffix == ".safetensors":
            problem = _safetensors_problem(f)
        elif f.suffix in (".bin", ".pt", ".pth"):
            problem = _torch_file_problem(f)
        elif f.suffix == ".json":
            try:
                json.loads(f.read_text(encoding="utf-8"))
                problem = None
            except (OSError, ValueError):
                problem = "unreadable JSON"
        else:
            continue
        if problem:
            return f"{f.relative_to(folder).as_posix()}: {problem}"
    if not isinstance(json.loads(state.read_text(encoding="utf-8")).get("global_step"), int):
        return "trainer_state.json has no global_step"
    for index in [f for f in files if f.name.endswith(".index.json")]:
        shards = set(json.loads(index.read_text(encoding="utf-8")).get("weight_map", {}).values())
        missing = sorted(s for s in shards if (index.parent / s).relative_to(folder).as_posix() not in names)
        if missing:
            return f"{index.name} names missing shard {missing[0]}"
    deepspeed_state = any(f.parent != folder and f.parent.name.startswith("global_step") for f in files)
    if not (deepspeed_state or any(f.suffix in (".safetensors", ".bin") for f in files)):
        return "no model weights"
    if not (deepspeed_state or "optimizer.pt" in names):
        return "optimizer.pt is missing"
    if "scheduler.pt" not in names:
        return "scheduler.pt is missing"
    if not any(n.startswith("rng_state") for n in names):
        return "rng_state.pth is missing"
    return None


def last_complete_checkpoint(folder: Path, remove_incomplete: bool = True) -> str | None:
    """The newest complete ``checkpoint-N`` under ``folder`` (None when there is none).

    Incomplete ones (a run killed while saving) are logged and, with
    ``remove_incomplete``, deleted, so they neither crash a resume nor count towards
    the ``Trainer``'s rotation of old checkpoints.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return None
    found = []
    for path in folder.iterdir():
        match = re.fullmatch(r"checkpoint-(\d+)", path.name)
        if match and path.is_dir():
            found.append((int(match.group(1)), path))
    chosen = None
    for _, path in sorted(found, reverse=True):
        problem = checkpoint_problem(path)
        if problem is None:
            if chosen is None:
                chosen = path
            continue
        action = "removed" if remove_incomplete else "ignored"
        _log.warning("incomplete checkpoint %s %s: %s", path, action, problem)
        if remove_incomplete:
            shutil.rmtree(path, ignore_errors=True)
    return str(chosen) if chosen is not None else None


def check_deepspeed(path: str | None, where: str = "deepspeed") -> None:
    """A ``ConfigError`` unless DeepSpeed is installed and its config file ``path`` exists."""
    if path is None:
        return
    if importlib.util.find_spec("deepspeed") is None:
        raise ConfigError(f"{where} {path}: the deepspeed package is not installed (pip install deepspeed)")
    if not Path(path).is_file():
        raise ConfigError(f"{where} {path}: no such file")


def train_reward_model(
    rm: RewardModel,
    pairs: pd.DataFrame,
    config: TrainConfig,
    output_dir: Path,
    reference: RewardModel | None = None,
    resume: bool = True,
    callbacks: list | None = None,
) -> TrainResult:
    """Train ``rm.model`` in place on ``pairs`` (columns prompt, chosen, rejected).

    ``output_dir/run.json`` records the run (config, data and model fingerprints); a
    folder holding another run is refused. Checkpoints go to ``output_dir/checkpoints``
    every ``save_steps``; with ``resume`` an interrupted run continues from its newest
    *complete* checkpoint and ends with the same weights as an uninterrupted one. The
    final model and tokenizer are saved to ``output_dir/model``. Prefix pairs whose two
    sides are the same token sequence are left out (counted in the result). A
    non-finite loss, gradient norm or parameter stops training with a ``ModelError``.
    """
    import time

    from transformers import TrainingArguments
    from transformers.trainer_callback import PrinterCallback

    if len(pairs) == 0:
        raise ConfigError("no training pairs")
    if config.uses_reference and reference is None:
        raise ConfigError(f"objective {config.objective} needs a reference reward model")
    dense = rm.causal if config.dense is None else config.dense
    if dense and not rm.causal:
        raise ConfigError("the dense loss needs a causal reward model")
    check_deepspeed(config.deepspeed)
    pairs = pairs.reset_index(drop=True)
    output_dir = Path(output_dir)
    claim_output(output_dir, run_fingerprint(rm, pairs, config, reference), resume)
    rows = prefix_pairs(rm, pairs, config)
    encoded = encode_pairs(rm, pairs)
    identical = identical_rows(rows, encoded)
    dropped_identical, dropped_by_reference = int(identical.sum()), 0
    rows = rows[~identical].reset_index(drop=True)
    if rows.empty:
        raise ConfigError(
            f"no prefix pairs to train on: all {dropped_identical} have identical chosen and rejected tokens"
        )
    if config.uses_reference:
        ref_w, ref_l = reference_scores(reference, rm, pairs, rows)
        rows = weigh_rows(rows, ref_w, ref_l, config)
        dropped_by_reference = rows.attrs.get("dropped_by_reference", 0)
    freeze_lower_parts(rm.model, config)
    ckpt_dir = output_dir / "checkpoints"
    by_prefix_pairs = config.batch_unit == "prefix-pairs"
    args = TrainingArguments(
        output_dir=str(ckpt_dir),
        per_device_train_batch_size=1 if by_prefix_pairs else config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        learning_rate=config.learning_rate,
        num_train_epochs=config.epochs,
        weight_decay=config.weight_decay,
        warmup_steps=config.warmup_ratio,  # transformers 5: a float in [0, 1) is a share of the steps
        lr_scheduler_type="linear",
        seed=config.seed,
        data_seed=config.seed,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=2,
        logging_steps=max(1, config.save_steps // 5),
        logging_nan_inf_filter=False,  # a NaN loss is an error, not a 0.0 in the log
        report_to=[],
        disable_tqdm=True,
        remove_unused_columns=False,
        dataloader_num_workers=0,
        dataloader_pin_memory=torch.cuda.is_available(),
        deepspeed=config.deepspeed,
        bf16=config.bf16,
        use_cpu=not torch.cuda.is_available(),
        save_only_model=False,
    )
    weighting = config.weighting if config.objective == "sp-prm" else "raw"
    examples = PairExamples(rm, pairs, rows, config.batch_unit, config.batch_size, config.seed, encoded)
    trainer = _trainer_class()(
        model=rm.model,
        args=args,
        train_dataset=examples,
        data_collator=PairCollator(rm, dense, weighting),
        callbacks=[_finite_guard(), *(callbacks or [])],
        head_learning_rate=config.head_learning_rate,
    )
    trainer.remove_callback(PrinterCallback)  # the loss log is returned, not printed
    last = last_complete_checkpoint(ckpt_dir, remove_incomplete=trainer.is_world_process_zero()) if resume else None
    started = time.time()
    rm.model.train()
    trainer.train(resume_from_checkpoint=last)
    rm.model.eval()
    seconds = time.time() - started
    trainer.save_model(str(output_dir / "model"))  # gathers ZeRO-3 shards; main process writes
    if trainer.is_world_process_zero():
        rm.tokenizer.save_pretrained(output_dir / "model")
    log = [e for e in trainer.state.log_history if "loss" in e]
    return TrainResult(
        rows=rows,
        steps=trainer.state.global_step,
        seconds=seconds,
        log=log,
        dropped_identical=dropped_identical,
        dropped_by_reference=int(dropped_by_reference),
    )


def expected_steps(n_items: int, config: TrainConfig) -> int:
    """Optimizer steps of a run over ``n_items`` counted in ``config.batch_unit``
    (preference pairs, or rows of D_partial), for progress and budgets."""
    per_epoch = math.ceil(math.ceil(n_items / config.batch_size) / config.grad_accum)
    return max(1, math.ceil(per_epoch * config.epochs))


_log = logging.getLogger(__name__)
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

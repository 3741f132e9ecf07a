"""The SP-PRM objective (paper section 4, Eq. 1-3): which prefix pairs a reward model learns from,
with what weight, and the loss.

The paper's algorithm
---------------------
Every objective is one Bradley-Terry loss over weighted prefix pairs of D_partial::

    L = -E[ w_t * log sigmoid(r_theta(x, y^w_<t) - r_theta(x, y^l_<t)) ]

- ``orm`` (Eq. 1): the full pairs, w = 1.
- ``sc`` (Eq. 2, the paper's ablation): D_partial (TLT or SST cuts, see ``truncation``, plus the
  full pairs), w = 1.
- ``sp-prm`` (Eq. 3): D_partial scored by a reference RM r_phi. With
  ``p_t = sigmoid(|r_phi(x, y^w_<t) - r_phi(x, y^l_<t)|)`` and
  ``H_t = -(p_t log p_t + (1 - p_t) log(1 - p_t))``, ``w_t = 1/H_t`` where r_phi orders the two
  prefixes as the label does, else 0 (the pair is dropped).

In this file, in the order a run uses them: :func:`prefix_pairs` (the rows of D_partial, cut in
the trained RM's tokens, the paper's "t-token prefix"), :func:`identical_rows` (ties, below),
:func:`reference_scores` (r_phi of both prefixes), :func:`weigh_rows` (the filter and the weights of
Eq. 3, :func:`entropy_weights`), all four in :func:`training_rows`, and :func:`bradley_terry_loss`
(the loss of one batch).

Differences from the paper and the released code, and the options that reproduce them
-------------------------------------------------------------------------------------
* The released trainer never reads its weight column (it uses ``getattr`` on a dict): as
  released, SP-PRM is "reference filter, then unweighted Bradley-Terry" ->
  ``objective="sp-prm-released"``. The default ``sp-prm`` applies the weights.
* ``1/H_t`` is unbounded (1.44 at a gap of 0, 25 at 5, 2e5 at 15, 3e14 at 37) and neither the
  paper nor the released code bounds it. ``weighting`` says what is done with it: ``clamp``
  (``min(1/H_t, weight_clamp)``, the profiles' default), ``raw`` (refused where a weight does not
  fit in float32) or ``batch-mean`` (each batch's weights over their mean, :func:`batch_mean`).
* ``H_t`` is computed from log-sigmoids (:func:`log_inverse_entropy`), never from ``1 - p``,
  which rounds to 0 from a gap of about 37 in float64; logarithms are natural (the paper gives
  no base).
* Ties: a prefix pair whose two sides are the same token sequence (chosen and rejected share
  their first t tokens) has no preference to learn, and its reference scores differ by rounding
  only; every objective leaves it out and counts it. A tie under the reference gets weight 0
  (the condition is strict).
* The full pairs in D_partial are filtered and weighted like the prefix pairs; a batch's loss is
  the weighted sum over the number of kept prefix pairs in it (not over the sum of weights).
* As in the released code, a PRM starts from the trained ORM
  (``experiments.reward_models.ensure_prm``).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from sp_prm_lib.config.training import TrainConfig
from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.scoring.inputs import Encoded
from sp_prm_lib.scoring.reward_model import RewardModel, same_tokens
from sp_prm_lib.training.truncation import build_partial_pairs


# --- D_partial in the trained RM's tokens -----------------------------------
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
    """r_phi of every row's chosen and rejected prefix.

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


# --- Eq. 3: the weights ------------------------------------------------------
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


def batch_mean(log_weights) -> np.ndarray:
    """``weighting: batch-mean``: weights over their mean, from the weights' logs.

    ``exp(log w_i - log mean_j w_j)`` with the mean as a log-sum-exp, so weights far beyond
    float64 (a 1/H_t of e^1000) still give finite ratios. The one place this weighting is
    computed: over D_partial's kept rows in :func:`weigh_rows`, over each batch by the collator
    (``batches.PairCollator``) and in ``batches.batch_mean_weights``.
    """
    log_w = np.asarray(log_weights, dtype=np.float64)
    if log_w.size == 0:
        return np.zeros(0)
    log_mean = np.logaddexp.reduce(log_w) - math.log(log_w.size)
    with np.errstate(over="ignore"):
        return np.exp(log_w - log_mean)


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
        weight = np.zeros(len(rows))
        weight[keep] = batch_mean(log_w[keep])
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


def training_rows(
    rm: RewardModel,
    pairs: pd.DataFrame,
    config: TrainConfig,
    reference: RewardModel | None = None,
    encoded: tuple[list[Encoded], list[Encoded]] | None = None,
) -> pd.DataFrame:
    """The rows ``config.objective`` trains on: ``prefix_pairs`` less the ties (``identical_rows``),
    then for ``sp-prm*`` the reference's filter and weights (``weigh_rows``). ``attrs``:
    ``dropped_identical`` and ``dropped_by_reference`` (counts of prefix pairs left out)."""
    rows = prefix_pairs(rm, pairs, config)
    identical = identical_rows(rows, encoded or encode_pairs(rm, pairs))
    dropped_identical, dropped_by_reference = int(identical.sum()), 0
    rows = rows[~identical].reset_index(drop=True)
    if rows.empty:
        raise ConfigError(
            f"no prefix pairs to train on: all {dropped_identical} have identical chosen and rejected tokens"
        )
    if config.uses_reference:
        if reference is None:
            raise ConfigError(f"objective {config.objective} needs a reference reward model")
        ref_w, ref_l = reference_scores(reference, rm, pairs, rows)
        rows = weigh_rows(rows, ref_w, ref_l, config)
        dropped_by_reference = rows.attrs["dropped_by_reference"]
    rows.attrs.update(dropped_identical=dropped_identical, dropped_by_reference=int(dropped_by_reference))
    return rows


# --- the loss ------------------------------------------------------------------
def bradley_terry_loss(
    rewards: torch.Tensor, weight: torch.Tensor, present: torch.Tensor | None = None
) -> torch.Tensor:
    """Eq. 1-3 on one batch: the weighted mean of -log sigmoid(r_w - r_l) over its prefix pairs.

    ``rewards`` is (2B, J): chosen rows then rejected rows; ``weight`` (B, J), as the collator
    gives it (``batch-mean`` already applied); ``present`` (B, J) marks real entries (default:
    weight > 0). The sum is divided by the number of pairs, not by the sum of the weights.
    """
    half = rewards.shape[0] // 2
    margin = rewards[:half] - rewards[half:]
    present = (weight > 0) if present is None else present.to(torch.bool)
    present = present.to(margin.device)
    w = weight.to(margin.device)
    losses = -F.logsigmoid(margin) * w
    return losses[present].sum() / present.sum()

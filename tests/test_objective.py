"""The SP-PRM objective (``training/objective.py``, paper Eq. 1-3): prefix rows, ties, reference
scores, the entropy weights and their weighting, and the Bradley-Terry loss, against naive formulas."""

import math

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from training_fixtures import full_rows, long_pairs, tiny_rm, toy_pairs

from sp_prm_lib.config.training import TrainConfig
from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.models.tiny import tiny_model
from sp_prm_lib.scoring.reward_model import RewardModel
from sp_prm_lib.training.objective import (
    batch_mean,
    binary_entropy,
    bradley_terry_loss,
    encode_pairs,
    entropy_weights,
    identical_rows,
    log_inverse_entropy,
    prefix_pairs,
    reference_scores,
    training_rows,
    weigh_rows,
)


# --- Eq. 3: the weights -----------------------------------------------------------
def test_entropy_weights_follow_eq3():
    w = entropy_weights(np.array([0.0 + 1e-9, 5.0, 1.0, 10.0]), np.array([0.0, 0.0, 2.0, 0.0]))
    assert w[0] == pytest.approx(1 / np.log(2), rel=1e-6)  # gap 0: p = 1/2, H = ln 2
    assert w[1] == pytest.approx(25.2, rel=0.02)  # the unbounded growth noted in paper-facts
    assert w[2] == 0.0  # reference disagrees with the label: dropped
    assert w[3] > 1000


def test_entropy_weights_do_not_overflow_from_a_gap_of_37():
    w = entropy_weights(np.array([40.0, 37.0, 0.0]), np.array([0.0, 0.0, 37.0]))
    assert np.isfinite(w).all() and w[0] == pytest.approx(np.exp(40) / 41, rel=1e-6) and w[2] == 0.0
    assert entropy_weights(np.array([-3.0]), np.array([-3.0]))[0] == 0.0  # tie: no order, no weight


def test_entropy_weights_are_finite_and_exact_for_any_gap():
    small = np.array([0.0, 1e-6, 0.3, 1.0, 5.0, 10.0, 15.0, 20.0])
    p = 1.0 / (1.0 + np.exp(-small))
    naive = -(p * np.log(p) + (1 - p) * np.log(1 - p))
    np.testing.assert_allclose(binary_entropy(small), naive, rtol=1e-6)
    big = np.array([17.0, 37.0, 40.0, 100.0, 700.0, 1e3, 1e4])
    h, log_w = binary_entropy(big), log_inverse_entropy(big)
    assert np.isfinite(h).all() and (h >= 0).all()
    assert np.isfinite(log_w).all() and (np.diff(log_w) > 0).all()
    np.testing.assert_allclose(log_w, big - np.log1p(big), rtol=1e-6)  # 1/H ~ e^g / (1 + g)


# --- the batch-mean weighting -------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(1e-3, 1e3), min_size=1, max_size=40))
def test_batch_mean_is_the_weights_over_their_mean(weights):
    w = np.array(weights)
    np.testing.assert_allclose(batch_mean(np.log(w)), w / w.mean(), rtol=1e-9)


def test_batch_mean_is_finite_where_the_naive_mean_overflows():
    log_w = np.array([0.0, 800.0, 1000.0, 1000.0])  # e^1000 is beyond float64
    out = batch_mean(log_w)
    assert np.isfinite(out).all() and out.mean() == pytest.approx(1.0)
    np.testing.assert_allclose(out[2:], 2.0, rtol=1e-12)  # two equal dominant weights: 2 each
    assert batch_mean(np.array([-np.inf, 0.0])).tolist() == [0.0, 2.0]  # a weight of 0 stays 0
    assert batch_mean(np.zeros(0)).shape == (0,)


def test_weigh_rows_batch_mean_divides_by_the_mean_over_the_kept_rows():
    ref_w, ref_l = np.array([3.0, 0.5, -1.0, 8.0]), np.zeros(4)  # the third: reference disagrees
    rows = weigh_rows(full_rows(4), ref_w, ref_l, TrainConfig(objective="sp-prm", weighting="batch-mean"))
    naive = entropy_weights(ref_w, ref_l)[[0, 1, 3]]
    np.testing.assert_allclose(rows.weight, naive / naive.mean(), rtol=1e-12)


# --- the reference filter -----------------------------------------------------------
def test_empty_d_partial_after_filtering_is_an_error():
    rows = pd.DataFrame(
        {
            "pair": [0, 0],
            "t": [1, 2],
            "chosen_len": [1, 2],
            "rejected_len": [1, 2],
            "full": [False, True],
            "weight": [1.0, 1.0],
        }
    )
    with pytest.raises(ConfigError, match="D_partial is empty after the reference filter"):
        weigh_rows(rows, np.array([0.0, 0.0]), np.array([1.0, 1.0]), TrainConfig(objective="sp-prm"))


def test_reference_returning_nan_is_an_error():
    rows = pd.DataFrame(
        {"pair": [0], "t": [1], "chosen_len": [1], "rejected_len": [1], "full": [True], "weight": [1.0]}
    )
    with pytest.raises(ConfigError, match="reference reward model returned NaN"):
        weigh_rows(rows, np.array([np.nan]), np.array([1.0]), TrainConfig(objective="sp-prm"))


def test_huge_reference_gaps_give_finite_weights_or_a_clear_error():
    ref_w, ref_l = np.array([1e4, 50.0, 0.5, 0.0]), np.zeros(4)  # the last one: a tie, dropped
    clamp = weigh_rows(
        full_rows(4), ref_w, ref_l, TrainConfig(objective="sp-prm", weighting="clamp", weight_clamp=10.0)
    )
    assert np.allclose(clamp.weight, [10.0, 10.0, np.minimum(entropy_weights(0.5, 0.0), 10.0)])
    mean = weigh_rows(full_rows(4), ref_w, ref_l, TrainConfig(objective="sp-prm", weighting="batch-mean"))
    assert np.isfinite(mean.weight).all() and mean.weight.mean() == pytest.approx(1.0)
    assert np.isfinite(mean.log_weight).all() and mean.attrs["dropped_by_reference"] == 1
    with pytest.raises(ConfigError, match=r"weighting raw: .*pair 0, t 3.*beyond float32") as err:
        weigh_rows(full_rows(4), ref_w, ref_l, TrainConfig(objective="sp-prm", weighting="raw"))
    assert "\n" not in str(err.value)
    raw = weigh_rows(full_rows(2), np.array([30.0, 1.0]), np.zeros(2), TrainConfig(objective="sp-prm", weighting="raw"))
    assert np.isfinite(raw.weight).all() and raw.weight[0] == pytest.approx(np.exp(30) / 31, rel=1e-6)


def test_released_objective_filters_but_does_not_weigh():
    ref_w, ref_l = np.array([3.0, -1.0, 8.0]), np.zeros(3)
    rows = weigh_rows(full_rows(3), ref_w, ref_l, TrainConfig(objective="sp-prm-released"))
    assert list(rows.pair) == [0, 2] and set(rows.weight) == {1.0}
    np.testing.assert_allclose(rows.raw_weight, entropy_weights(ref_w, ref_l)[[0, 2]])


def test_weigh_rows_drops_ties_however_the_reference_scores_them():
    identical = np.array([True, False])
    kept = weigh_rows(full_rows(2), np.array([1.0, 1.0]), np.zeros(2), TrainConfig(objective="sp-prm"), identical)
    assert list(kept.pair) == [1] and kept.attrs["dropped_identical"] == 1


# --- D_partial in the trained RM's tokens -----------------------------------------------
def test_sst_is_not_capped_by_tlt_max_cuts():
    rm = tiny_rm(seed=1)
    pairs = long_pairs(40)
    capped = prefix_pairs(rm, pairs, TrainConfig(objective="sc", truncation="sst", K=5, tlt_max_cuts=2))
    plain = prefix_pairs(rm, pairs, TrainConfig(objective="sc", truncation="sst", K=5))
    cuts = capped[~capped.full].groupby("pair").size()
    assert cuts.max() > 2  # k ~ U{0..10}: some pair draws more than 2 cuts
    pd.testing.assert_frame_equal(capped, plain)  # tlt_max_cuts does not touch SST
    tlt = prefix_pairs(rm, pairs, TrainConfig(objective="sc", truncation="tlt", tlt_max_cuts=2))
    assert tlt[~tlt.full].groupby("pair").size().max() == 2


def test_reference_scores_via_text_when_tokenizers_differ():
    pairs = toy_pairs(6)
    rm = tiny_rm(seed=1)
    ref_model, ref_tok = tiny_model("llama-reward", seed=2)
    ref_tok.add_tokens(["<extra>"])  # a different vocabulary forces the text path
    ref_model.resize_token_embeddings(len(ref_tok))
    ref = RewardModel(ref_model, ref_tok, convention="open")
    rows = prefix_pairs(rm, pairs, TrainConfig(objective="sc", K=2))
    text_w, _ = reference_scores(ref, rm, pairs, rows)
    ref_same = RewardModel(*tiny_model("llama-reward", seed=2), convention="open")
    same_w, _ = reference_scores(ref_same, rm, pairs, rows)
    assert np.allclose(text_w, same_w, atol=1e-4)  # extra token unused: same scores either way


def test_training_rows_leave_out_ties_then_filter_and_weigh():
    pairs = pd.DataFrame(
        {
            "prompt": ["\n\nHuman: q\n\nAssistant:"] * 3,
            "chosen": ["good answer, fine", "nice and helpful", "same words"],
            "rejected": ["good answer, rude", "awful and rude", "same words"],
        }
    )
    rm, ref = tiny_rm(seed=1), tiny_rm(seed=5)
    orm = training_rows(rm, pairs, TrainConfig(objective="orm"))
    assert list(orm.pair) == [0, 1] and orm.full.all() and orm.attrs["dropped_identical"] == 1
    sc_config = TrainConfig(objective="sc", truncation="tlt")
    rows = prefix_pairs(rm, pairs, sc_config)
    ties = identical_rows(rows, encode_pairs(rm, pairs))
    common = [len("good answer, "), 0, len("same words")]  # shared leading bytes (= tokens)
    naive = [a == b and a <= common[p] for p, a, b in zip(rows.pair, rows.chosen_len, rows.rejected_len)]
    assert ties.tolist() == naive and ties.sum() == common[0] + common[2]
    sc = training_rows(rm, pairs, sc_config)
    pd.testing.assert_frame_equal(sc, rows[~ties].reset_index(drop=True))
    assert (sc.attrs["dropped_identical"], sc.attrs["dropped_by_reference"]) == (int(ties.sum()), 0)
    sp_config = TrainConfig(objective="sp-prm", truncation="tlt")
    sp = training_rows(rm, pairs, sp_config, reference=ref)
    ref_w, ref_l = reference_scores(ref, rm, pairs, sc)
    pd.testing.assert_frame_equal(sp, weigh_rows(sc, ref_w, ref_l, sp_config))
    assert sp.attrs["dropped_by_reference"] + len(sp) + sp.attrs["dropped_identical"] == len(rows)
    with pytest.raises(ConfigError, match="needs a reference"):
        training_rows(rm, pairs, sp_config)
    with pytest.raises(ConfigError, match="no prefix pairs to train on"):
        training_rows(rm, pairs.iloc[[2]].reset_index(drop=True), sc_config)


# --- the loss -------------------------------------------------------------------------
def test_bradley_terry_loss_is_the_weighted_mean_over_the_pairs_present():
    rewards = torch.tensor(
        [[1.0, 0.5, 0.0], [2.0, -1.0, 7.0], [0.0, 0.0, 9.0], [1.0, 1.0, 9.0]]
    )  # 2 chosen, 2 rejected
    weight = torch.tensor([[2.0, 6.0, 0.0], [0.5, 1.0, 0.0]])
    present = torch.tensor([[True, True, False], [True, True, False]])
    naive = sum(
        -w * math.log(1 / (1 + math.exp(-(rw - rl))))
        for rw, rl, w in [(1.0, 0.0, 2.0), (0.5, 0.0, 6.0), (2.0, 1.0, 0.5), (-1.0, 1.0, 1.0)]
    )
    assert bradley_terry_loss(rewards, weight, present).item() == pytest.approx(naive / 4)
    assert bradley_terry_loss(rewards, weight).item() == pytest.approx(naive / 4)  # present: weight > 0
    margin = rewards[:2] - rewards[2:]
    assert bradley_terry_loss(rewards, torch.ones(2, 3)).item() == pytest.approx(-F.logsigmoid(margin).mean().item())

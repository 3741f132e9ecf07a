"""Batches (``training/batches.py``): examples, the collator's dense and per-prefix packing, and the
batch-mean weighting per batch, against per-row and naive per-batch computations."""

import numpy as np
import pandas as pd
import pytest
import torch
from training_fixtures import tiny_rm, toy_pairs

from sp_prm_lib.config.training import TrainConfig
from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.models.tiny import tiny_model
from sp_prm_lib.scoring.reward_model import RewardModel, forward_rewards
from sp_prm_lib.training.batches import PairCollator, PairExamples, batch_mean_weights, prefix_pair_batches
from sp_prm_lib.training.objective import bradley_terry_loss, prefix_pairs


@pytest.mark.parametrize("convention", ["open", "closed"])
@pytest.mark.parametrize("arch", ["llama-reward", "gemma-reward"])
def test_dense_loss_equals_materialised_loss(convention, arch):
    model, tok = tiny_model(arch, seed=2)
    rm = RewardModel(model, tok, convention=convention)
    pairs = toy_pairs(12)
    rows = prefix_pairs(rm, pairs, TrainConfig(objective="sc", K=3))
    rows["weight"] = np.linspace(0.5, 2.0, len(rows))
    losses = []
    for dense in (True, False):
        ds = PairExamples(rm, pairs, rows)
        batch = PairCollator(rm, dense)([ds[i] for i in range(len(ds))])
        with torch.no_grad():
            losses.append(bradley_terry_loss(forward_rewards(model, batch["packed"]), batch["weight"]))
    assert len(PairExamples(rm, pairs, rows)) == 12 < len(rows)
    assert losses[0].item() == pytest.approx(losses[1].item(), abs=1e-5)


def test_prefix_pair_batches_hold_batch_size_rows():
    rm = tiny_rm(seed=1)
    pairs = toy_pairs(10)
    rows = prefix_pairs(rm, pairs, TrainConfig(objective="sc", K=3))
    ds = PairExamples(rm, pairs, rows, batch_unit="prefix-pairs", batch_size=5, seed=2)
    sizes = [sum(len(part["len_w"]) for part in ds[i]["parts"]) for i in range(len(ds))]
    assert sizes[:-1] == [5] * (len(ds) - 1) and 1 <= sizes[-1] <= 5 and sum(sizes) == len(rows)
    seen = sorted(
        (p, a, b)
        for _, p_items in enumerate(ds.items)
        for p, lens_w, lens_l, _, _ in p_items
        for a, b in zip(lens_w, lens_l)
    )
    assert seen == sorted(zip(rows.pair, rows.chosen_len, rows.rejected_len))
    for item in ds.items:  # one part per pair within a batch: each response packed once
        assert len({p for p, *_ in item}) == len(item)
    by_pairs = PairExamples(rm, pairs, rows, batch_unit="pairs")
    assert len(by_pairs) == 10
    rows["weight"] = np.linspace(0.5, 2.0, len(rows))
    for unit, bs in (("pairs", 4), ("prefix-pairs", 7)):
        ds = PairExamples(rm, pairs, rows, batch_unit=unit, batch_size=bs, seed=1)
        items = [ds[i] for i in range(len(ds))]
        losses = []
        for dense in (True, False):
            batch = PairCollator(rm, dense)(items)
            with torch.no_grad():
                rewards = forward_rewards(rm.model, batch["packed"])
                losses.append(bradley_terry_loss(rewards, batch["weight"], batch["present"]).item())
        assert losses[0] == pytest.approx(losses[1], abs=1e-5)


def test_prefix_pair_batches_partition_the_shuffled_rows():
    batches = prefix_pair_batches(23, 5, seed=4)
    assert [len(b) for b in batches] == [5, 5, 5, 5, 3]
    assert sorted(np.concatenate(batches).tolist()) == list(range(23))
    shuffled = np.random.default_rng(4).permutation(23)
    assert [b.tolist() for b in batches] == [sorted(shuffled[i : i + 5]) for i in range(0, 23, 5)]
    with pytest.raises(ConfigError, match="batch_unit"):
        PairExamples(None, None, None, batch_unit="tokens")


def test_batch_mean_weights_divide_by_the_mean_of_each_batch_of_pairs():
    weights = pd.Series([1.0, 3.0, 2.0, 2.0, 5.0])
    pairs = pd.Series([0, 0, 1, 2, 2])  # batches of 2 pairs: {0, 1} and {2}
    out = batch_mean_weights(weights, pairs, batch_size=2)
    np.testing.assert_allclose(out, [0.5, 1.5, 1.0, 2 / 3.5, 5 / 3.5])
    with pytest.raises(ConfigError, match="batch_size"):
        batch_mean_weights(weights, pairs, 0)


def test_batch_mean_weights_follow_the_training_batches_of_prefix_pairs():
    rm = tiny_rm(seed=1)
    pairs = toy_pairs(6)
    rows = prefix_pairs(rm, pairs, TrainConfig(objective="sc", K=3))
    rows["weight"] = np.exp(np.linspace(0.0, 600.0, len(rows)))  # up to e^600: no overflow in log space
    out = batch_mean_weights(rows.weight, rows.pair, 4, batch_unit="prefix-pairs", seed=3)
    assert np.isfinite(out).all()
    ds = PairExamples(rm, pairs, rows, batch_unit="prefix-pairs", batch_size=4, seed=3)
    collate = PairCollator(rm, dense=True, weighting="batch-mean")
    from_training = []
    for i in range(len(ds)):
        batch = collate([ds[i]])
        from_training += batch["weight"][batch["present"]].tolist()
    assert sorted(from_training) == pytest.approx(sorted(out.tolist()), rel=1e-5)
    with pytest.raises(ConfigError, match="batch_unit"):
        batch_mean_weights(rows.weight, rows.pair, 4, batch_unit="tokens")


@pytest.mark.parametrize("dense", [True, False])
def test_collator_batch_mean_equals_a_naive_per_batch_mean(dense):
    """Each batch's weights over that batch's plain mean, for batches of pairs and of prefix pairs."""
    rm = tiny_rm(seed=1)
    pairs = toy_pairs(9)
    rows = prefix_pairs(rm, pairs, TrainConfig(objective="sc", K=3))
    rows["weight"] = np.random.default_rng(0).uniform(1.44, 30.0, len(rows))
    rows["log_weight"] = np.log(rows.weight)
    collate = PairCollator(rm, dense, weighting="batch-mean")
    for unit, size in (("pairs", 4), ("prefix-pairs", 5)):
        ds = PairExamples(rm, pairs, rows, batch_unit=unit, batch_size=size, seed=2)
        items = [ds[i] for i in range(len(ds))]
        batches = [items[i : i + size] for i in range(0, len(items), size)] if unit == "pairs" else [[x] for x in items]
        for batch_items in batches:
            raw = [w for item in batch_items for part in item["parts"] for w in part["weight"]]
            batch = collate(batch_items)
            got = batch["weight"][batch["present"]].numpy()
            np.testing.assert_allclose(np.sort(got), np.sort(np.array(raw) / np.mean(raw)), rtol=1e-6)
            assert (batch["weight"][~batch["present"]] == 0).all()
        raw = [w for item in batches[0] for part in item["parts"] for w in part["weight"]]
        unscaled = PairCollator(rm, dense, weighting="raw")(batches[0])
        np.testing.assert_allclose(unscaled["weight"][unscaled["present"]].numpy(), raw, rtol=1e-6)

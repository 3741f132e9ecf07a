"""Bradley-Terry training: objectives, weights, dense == materialised, resume, bad input."""

import numpy as np
import pandas as pd
import pytest
import torch
from transformers import TrainerCallback

from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.models.tiny import tiny_model
from sp_prm_lib.scoring.reward_model import RewardModel, forward_rewards
from sp_prm_lib.training.trainer import (
    PairCollator,
    PairExamples,
    TrainConfig,
    bradley_terry_loss,
    entropy_weights,
    prefix_pairs,
    train_reward_model,
    weigh_rows,
)

GOOD = "good great fine nice helpful".split()
BAD = "bad awful rude wrong poor".split()


def toy_pairs(n=32, seed=0) -> pd.DataFrame:
    """Separable pairs: chosen responses use 'good' words, rejected ones 'bad' words."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        [
            {
                "prompt": f"\n\nHuman: question {i}\n\nAssistant:",
                "chosen": " ".join(rng.choice(GOOD, rng.integers(4, 9))),
                "rejected": " ".join(rng.choice(BAD, rng.integers(4, 9))),
            }
            for i in range(n)
        ]
    )


def accuracy(rm, pairs) -> float:
    return (rm.score(pairs.prompt, pairs.chosen) > rm.score(pairs.prompt, pairs.rejected)).float().mean().item()


def test_entropy_weights_follow_eq3():
    w = entropy_weights(np.array([0.0 + 1e-9, 5.0, 1.0, 10.0]), np.array([0.0, 0.0, 2.0, 0.0]))
    assert w[0] == pytest.approx(1 / np.log(2), rel=1e-6)  # gap 0: p = 1/2, H = ln 2
    assert w[1] == pytest.approx(25.2, rel=0.02)  # the unbounded growth noted in paper-facts
    assert w[2] == 0.0  # reference disagrees with the label: dropped
    assert w[3] > 1000


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
        ds = PairExamples(rm, pairs, rows, dense=dense)
        batch = PairCollator(rm, dense)([ds[i] for i in range(len(ds))])
        with torch.no_grad():
            losses.append(bradley_terry_loss(forward_rewards(model, batch["packed"]), batch["weight"], "raw"))
    assert len(PairExamples(rm, pairs, rows, True)) == 12 < len(rows)
    assert losses[0].item() == pytest.approx(losses[1].item(), abs=1e-5)


def test_orm_training_learns_a_separable_preference(tmp_path):
    model, tok = tiny_model("llama-reward", seed=1)
    rm = RewardModel(model, tok, convention="closed")
    pairs = toy_pairs(40)
    before = accuracy(rm, pairs)
    result = train_reward_model(
        rm, pairs, TrainConfig(objective="orm", batch_size=4, learning_rate=1e-3, epochs=2), tmp_path
    )
    assert result.steps == 20 and result.rows.full.all()
    assert accuracy(rm, pairs) >= max(before, 0.9)
    assert (tmp_path / "model" / "config.json").is_file()


def test_bidirectional_model_trains_on_materialised_prefixes(tmp_path):
    model, tok = tiny_model("deberta-v2-reward", seed=1)
    rm = RewardModel(model, tok)
    pairs = toy_pairs(16)
    result = train_reward_model(rm, pairs, TrainConfig(objective="sc", K=2, batch_size=8, learning_rate=1e-3), tmp_path)
    assert result.steps == -(-len(result.rows) // 8)
    with pytest.raises(ConfigError, match="dense loss needs a causal"):
        train_reward_model(rm, pairs, TrainConfig(objective="orm", dense=True), tmp_path / "x")


class _Interrupt(TrainerCallback):
    def __init__(self, at_step):
        self.at_step = at_step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.at_step:
            raise KeyboardInterrupt


def test_interrupted_run_resumes_to_the_same_weights(tmp_path):
    pairs = toy_pairs(40)
    config = TrainConfig(objective="sc", K=2, batch_size=4, learning_rate=5e-4, save_steps=3, seed=3)

    def fresh():
        model, tok = tiny_model("llama-reward", seed=7)
        return RewardModel(model, tok, convention="open")

    whole = fresh()
    train_reward_model(whole, pairs, config, tmp_path / "whole")
    cut = fresh()
    with pytest.raises(KeyboardInterrupt):
        train_reward_model(cut, pairs, config, tmp_path / "cut", callbacks=[_Interrupt(at_step=7)])
    resumed = fresh()  # a new process would start from the initial weights and the checkpoint
    result = train_reward_model(resumed, pairs, config, tmp_path / "cut")
    assert result.steps == 10
    for a, b in zip(whole.model.parameters(), resumed.model.parameters()):
        assert torch.allclose(a, b, atol=1e-6)


def _reference(seed=5):
    model, tok = tiny_model("llama-reward", seed=seed)
    return RewardModel(model, tok, convention="open")


def test_sp_prm_filters_and_weights_with_the_reference(tmp_path):
    pairs = toy_pairs(16)
    ref = _reference()
    rm = _reference(seed=6)
    clamp = train_reward_model(
        rm,
        pairs,
        TrainConfig(objective="sp-prm", K=3, weighting="clamp", weight_clamp=2.0, batch_size=8),
        tmp_path / "a",
        reference=ref,
    )
    rows = clamp.rows
    assert (rows.ref_chosen > rows.ref_rejected).all()  # disagreeing prefix pairs removed
    assert rows.weight.max() <= 2.0 and rows.weight.min() >= 1 / np.log(2) - 1e-9  # 1/H >= 1/ln 2
    assert np.allclose(rows.weight, np.minimum(rows.raw_weight, 2.0))
    released = train_reward_model(
        _reference(seed=6),
        pairs,
        TrainConfig(objective="sp-prm-released", K=3, batch_size=8),
        tmp_path / "b",
        reference=ref,
    )
    assert set(released.rows.weight) == {1.0}
    assert len(released.rows) == len(rows)


def test_reference_scores_via_text_when_tokenizers_differ(tmp_path):
    from sp_prm_lib.training.trainer import reference_scores

    pairs = toy_pairs(6)
    rm = _reference(seed=1)
    ref_model, ref_tok = tiny_model("llama-reward", seed=2)
    ref_tok.add_tokens(["<extra>"])  # a different vocabulary forces the text path
    ref_model.resize_token_embeddings(len(ref_tok))
    ref = RewardModel(ref_model, ref_tok, convention="open")
    rows = prefix_pairs(rm, pairs, TrainConfig(objective="sc", K=2))
    text_w, _ = reference_scores(ref, rm, pairs, rows)
    ref_same = RewardModel(*tiny_model("llama-reward", seed=2), convention="open")
    same_w, _ = reference_scores(ref_same, rm, pairs, rows)
    assert np.allclose(text_w, same_w, atol=1e-4)  # extra token unused: same scores either way


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


def test_sp_prm_without_reference_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="needs a reference"):
        train_reward_model(_reference(), toy_pairs(4), TrainConfig(objective="sp-prm"), tmp_path)


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({"K": 0}, "K: must be >= 1"),
        ({"K": -2}, "K: must be >= 1"),
        ({"objective": "dpo"}, "objective"),
        ({"weighting": "softmax"}, "weighting"),
        ({"batch_size": 0}, "batch_size"),
        ({"truncation": "random"}, "truncation"),
        ({"warmup_ratio": 1.5}, "warmup_ratio"),
    ],
)
def test_bad_train_config(kwargs, needle):
    with pytest.raises(ConfigError, match=needle):
        TrainConfig(**kwargs)


def test_batch_mean_weighting_normalises_weights():
    rewards = torch.tensor([[1.0, 0.5], [0.0, 0.0]])
    w = torch.tensor([[2.0, 6.0]])
    normalised = bradley_terry_loss(rewards, w, "batch-mean")
    raw = bradley_terry_loss(rewards, w, "raw")
    assert normalised.item() == pytest.approx(raw.item() / 4.0)


def test_batch_mean_weights_divide_by_the_mean_of_each_batch_of_pairs():
    from sp_prm_lib.training.trainer import batch_mean_weights

    weights = pd.Series([1.0, 3.0, 2.0, 2.0, 5.0])
    pairs = pd.Series([0, 0, 1, 2, 2])  # batches of 2 pairs: {0, 1} and {2}
    out = batch_mean_weights(weights, pairs, batch_size=2)
    np.testing.assert_allclose(out, [0.5, 1.5, 1.0, 2 / 3.5, 5 / 3.5])
    with pytest.raises(ConfigError, match="batch_size"):
        batch_mean_weights(weights, pairs, 0)

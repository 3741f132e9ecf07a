"""Bradley-Terry training: objectives, weights, dense == materialised, resume, bad input."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import torch
from transformers import TrainerCallback

from sp_prm_lib.core.errors import ConfigError, ModelError
from sp_prm_lib.models.tiny import deberta_tokenizer, tiny_model
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
        ds = PairExamples(rm, pairs, rows)
        batch = PairCollator(rm, dense)([ds[i] for i in range(len(ds))])
        with torch.no_grad():
            losses.append(bradley_terry_loss(forward_rewards(model, batch["packed"]), batch["weight"], "raw"))
    assert len(PairExamples(rm, pairs, rows)) == 12 < len(rows)
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
    """A DeBERTa-v2 RM with its own text-pair tokenizer (no chat template), left padding asked for."""
    model, tok = tiny_model("deberta-v2-reward", deberta_tokenizer(padding_side="left"), seed=1)
    rm = RewardModel(model, tok)
    assert rm.padding_side == "right"
    pairs = toy_pairs(16)
    config = TrainConfig(objective="sc", K=2, batch_size=8, learning_rate=1e-3, batch_unit="prefix-pairs")
    result = train_reward_model(rm, pairs, config, tmp_path / "rows")
    assert result.steps == -(-len(result.rows) // 8)  # batches of 8 prefix pairs
    by_pairs = train_reward_model(
        RewardModel(*tiny_model("deberta-v2-reward", deberta_tokenizer(), seed=1)),
        pairs,
        TrainConfig(objective="sc", K=2, batch_size=8, learning_rate=1e-3),
        tmp_path / "pairs",
    )
    assert by_pairs.steps == 2  # batches of 8 preference pairs, all their cuts
    with pytest.raises(ConfigError, match="dense loss needs a causal"):
        train_reward_model(rm, pairs, TrainConfig(objective="orm", dense=True), tmp_path / "x")


class _Interrupt(TrainerCallback):
    def __init__(self, at_step):
        self.at_step = at_step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.at_step:
            raise KeyboardInterrupt


@pytest.fixture(scope="module")
def interrupted_run(tmp_path_factory):
    """An uninterrupted run's weights, and a run interrupted at step 7 (checkpoints 3 and 6)."""
    root = tmp_path_factory.mktemp("resume")
    pairs = toy_pairs(40)
    config = TrainConfig(objective="sc", K=2, batch_size=4, learning_rate=5e-4, save_steps=3, seed=3)

    def fresh():
        model, tok = tiny_model("llama-reward", seed=7)
        return RewardModel(model, tok, convention="open")

    whole = fresh()
    train_reward_model(whole, pairs, config, root / "whole")
    with pytest.raises(KeyboardInterrupt):
        train_reward_model(fresh(), pairs, config, root / "cut", callbacks=[_Interrupt(at_step=7)])
    return whole, root / "cut", pairs, config, fresh


def test_interrupted_run_resumes_to_the_same_weights(interrupted_run, tmp_path):
    whole, cut, pairs, config, fresh = interrupted_run
    shutil.copytree(cut, tmp_path / "cut")
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


# --- issue #12 ---------------------------------------------------------------
def long_pairs(n=12, seed=0) -> pd.DataFrame:
    """Pairs with responses of 60+ byte tokens, so SST's k ~ U{0..2K} is never capped by length."""
    pairs = toy_pairs(n, seed)
    return pairs.assign(chosen=(pairs.chosen + " ") * 4, rejected=(pairs.rejected + " ") * 4)


def test_sst_is_not_capped_by_tlt_max_cuts():
    rm = _reference(seed=1)
    pairs = long_pairs(40)
    capped = prefix_pairs(rm, pairs, TrainConfig(objective="sc", truncation="sst", K=5, tlt_max_cuts=2))
    plain = prefix_pairs(rm, pairs, TrainConfig(objective="sc", truncation="sst", K=5))
    cuts = capped[~capped.full].groupby("pair").size()
    assert cuts.max() > 2  # k ~ U{0..10}: some pair draws more than 2 cuts
    pd.testing.assert_frame_equal(capped, plain)  # tlt_max_cuts does not touch SST
    tlt = prefix_pairs(rm, pairs, TrainConfig(objective="sc", truncation="tlt", tlt_max_cuts=2))
    assert tlt[~tlt.full].groupby("pair").size().max() == 2


def test_entropy_weights_do_not_overflow_from_a_gap_of_37():
    w = entropy_weights(np.array([40.0, 37.0, 0.0]), np.array([0.0, 0.0, 37.0]))
    assert np.isfinite(w).all() and w[0] == pytest.approx(np.exp(40) / 41, rel=1e-6) and w[2] == 0.0
    assert entropy_weights(np.array([-3.0]), np.array([-3.0]))[0] == 0.0  # tie: no order, no weight


def test_entropy_weights_are_finite_and_exact_for_any_gap():
    from sp_prm_lib.training.trainer import binary_entropy, log_inverse_entropy

    small = np.array([0.0, 1e-6, 0.3, 1.0, 5.0, 10.0, 15.0, 20.0])
    p = 1.0 / (1.0 + np.exp(-small))
    naive = -(p * np.log(p) + (1 - p) * np.log(1 - p))
    np.testing.assert_allclose(binary_entropy(small), naive, rtol=1e-6)
    big = np.array([17.0, 37.0, 40.0, 100.0, 700.0, 1e3, 1e4])
    h, log_w = binary_entropy(big), log_inverse_entropy(big)
    assert np.isfinite(h).all() and (h >= 0).all()
    assert np.isfinite(log_w).all() and (np.diff(log_w) > 0).all()
    np.testing.assert_allclose(log_w, big - np.log1p(big), rtol=1e-6)  # 1/H ~ e^g / (1 + g)


def _rows(n):
    return pd.DataFrame(
        {
            "pair": range(n),
            "t": [3] * n,
            "chosen_len": [3] * n,
            "rejected_len": [3] * n,
            "full": [True] * n,
            "weight": [1.0] * n,
        }
    )


def test_huge_reference_gaps_give_finite_weights_or_a_clear_error():
    ref_w, ref_l = np.array([1e4, 50.0, 0.5, 0.0]), np.zeros(4)  # the last one: a tie, dropped
    clamp = weigh_rows(_rows(4), ref_w, ref_l, TrainConfig(objective="sp-prm", weighting="clamp", weight_clamp=10.0))
    assert np.allclose(clamp.weight, [10.0, 10.0, np.minimum(entropy_weights(0.5, 0.0), 10.0)])
    mean = weigh_rows(_rows(4), ref_w, ref_l, TrainConfig(objective="sp-prm", weighting="batch-mean"))
    assert np.isfinite(mean.weight).all() and mean.weight.mean() == pytest.approx(1.0)
    assert np.isfinite(mean.log_weight).all() and mean.attrs["dropped_by_reference"] == 1
    with pytest.raises(ConfigError, match=r"weighting raw: .*pair 0, t 3.*beyond float32") as err:
        weigh_rows(_rows(4), ref_w, ref_l, TrainConfig(objective="sp-prm", weighting="raw"))
    assert "\n" not in str(err.value)
    raw = weigh_rows(_rows(2), np.array([30.0, 1.0]), np.zeros(2), TrainConfig(objective="sp-prm", weighting="raw"))
    assert np.isfinite(raw.weight).all() and raw.weight[0] == pytest.approx(np.exp(30) / 31, rel=1e-6)


def _steep_reference(seed=5, scale=2e4):
    """A reference RM whose reward gaps are in the hundreds to thousands."""
    model, tok = tiny_model("llama-reward", seed=seed)
    with torch.no_grad():
        model.score.weight.mul_(scale)
    return RewardModel(model, tok, convention="open")


def test_batch_mean_training_with_huge_reference_gaps_stays_finite(tmp_path):
    rm = _reference(seed=6)
    result = train_reward_model(
        rm,
        toy_pairs(16),
        TrainConfig(objective="sp-prm", K=3, weighting="batch-mean", batch_size=4, save_steps=1, learning_rate=1e-3),
        tmp_path,
        reference=_steep_reference(),
    )
    assert (result.rows.ref_chosen - result.rows.ref_rejected).max() > 100
    assert all(np.isfinite(e["loss"]) and e["loss"] > 0 for e in result.log)
    assert all(torch.isfinite(p).all() for p in rm.model.parameters())
    with pytest.raises(ConfigError, match="weighting raw"):
        train_reward_model(
            _reference(seed=6),
            toy_pairs(16),
            TrainConfig(objective="sp-prm", K=3, weighting="raw", batch_size=4),
            tmp_path / "raw",
            reference=_steep_reference(),
        )


def test_non_finite_loss_stops_training_naming_the_step(tmp_path):
    model, tok = tiny_model("llama-reward", seed=1)
    rm = RewardModel(model, tok, convention="open")

    class Poison(TrainerCallback):
        def on_step_end(self, args, state, control, model=None, **kwargs):
            if state.global_step == 2:
                with torch.no_grad():
                    model.score.weight.fill_(float("nan"))

    with pytest.raises(ModelError, match=r"training step 3: .*not finite|training step 3: the loss is nan") as err:
        train_reward_model(
            rm, toy_pairs(24), TrainConfig(objective="orm", batch_size=4), tmp_path, callbacks=[Poison()]
        )
    assert "\n" not in str(err.value)


def test_finite_guard_names_a_non_finite_parameter():
    from transformers import TrainerControl, TrainerState

    from sp_prm_lib.training.trainer import _finite_guard

    model, _ = tiny_model("llama-reward")
    with torch.no_grad():
        model.score.weight[0, 0] = float("inf")
    state = TrainerState()
    state.global_step = 4
    with pytest.raises(ModelError, match="training step 4: parameter score.weight is not finite"):
        _finite_guard().on_step_end(None, state, TrainerControl(), model=model)
    with pytest.raises(ModelError, match="training step 4: loss is nan"):
        _finite_guard().on_log(None, state, TrainerControl(), logs={"loss": float("nan")})


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize(
    "damage",
    [
        lambda c: _truncate(c / "model.safetensors"),
        lambda c: (c / "trainer_state.json").unlink(),
        lambda c: _truncate(c / "trainer_state.json"),
        lambda c: _truncate(c / "optimizer.pt"),
    ],
    ids=["weights-truncated", "state-missing", "state-truncated", "optimizer-truncated"],
)
def test_resume_skips_a_half_written_checkpoint(interrupted_run, damage, tmp_path, caplog):
    whole, cut, pairs, config, fresh = interrupted_run
    out = tmp_path / "run"
    shutil.copytree(cut, out)
    newest = out / "checkpoints" / "checkpoint-6"
    damage(newest)  # as a kill -9 during the save leaves it
    resumed = fresh()
    result = train_reward_model(resumed, pairs, config, out)  # resumes from checkpoint-3
    assert result.steps == 10
    assert "incomplete checkpoint" in caplog.text and "checkpoint-6" in caplog.text
    for a, b in zip(whole.model.parameters(), resumed.model.parameters()):
        assert torch.allclose(a, b, atol=1e-6)


def test_checkpoint_problem_names_what_is_incomplete(interrupted_run, tmp_path):
    from sp_prm_lib.training.trainer import checkpoint_problem, last_complete_checkpoint

    shutil.copytree(interrupted_run[1] / "checkpoints", tmp_path / "c")
    newest = tmp_path / "c" / "checkpoint-6"
    assert checkpoint_problem(newest) is None
    _truncate(newest / "model.safetensors")
    assert checkpoint_problem(newest).startswith("model.safetensors: ")
    assert last_complete_checkpoint(tmp_path / "c", remove_incomplete=False) == str(tmp_path / "c" / "checkpoint-3")
    assert newest.is_dir()
    shutil.copy(interrupted_run[1] / "checkpoints" / "checkpoint-6" / "model.safetensors", newest)
    assert checkpoint_problem(newest) is None
    (newest / "scheduler.pt").unlink()
    assert "scheduler.pt" in checkpoint_problem(newest)
    (newest / "trainer_state.json").unlink()
    assert checkpoint_problem(newest) == "trainer_state.json is missing"
    assert last_complete_checkpoint(tmp_path / "c") == str(tmp_path / "c" / "checkpoint-3")
    assert not newest.exists()  # removed, so it neither crashes a resume nor counts in the rotation


def test_output_folder_of_another_run_is_refused(tmp_path):
    pairs = toy_pairs(8)
    sc = TrainConfig(objective="sc", K=2, batch_size=4, save_steps=1)
    train_reward_model(_reference(seed=1), pairs, sc, tmp_path)
    recorded = json.loads((tmp_path / "run.json").read_text())
    assert recorded["train"]["objective"] == "sc" and recorded["data"]["pairs"] == 8
    again = train_reward_model(_reference(seed=1), pairs, sc, tmp_path)  # the same run: resumes, finished
    assert again.steps == 2
    other = TrainConfig(objective="sc", K=3, batch_size=4, save_steps=1)
    with pytest.raises(ConfigError, match=r"holds another training run \(differs in train\.K \(2 -> 3\)") as err:
        train_reward_model(_reference(seed=1), pairs, other, tmp_path)
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="differs in data.sha256"):
        train_reward_model(_reference(seed=1), toy_pairs(8, seed=1), sc, tmp_path)
    with pytest.raises(ConfigError, match="differs in model"):
        train_reward_model(_reference(seed=2), pairs, sc, tmp_path)
    (tmp_path / "run.json").unlink()
    with pytest.raises(ConfigError, match="checkpoints or a model without run.json"):
        train_reward_model(_reference(seed=1), pairs, sc, tmp_path)
    fresh_start = train_reward_model(_reference(seed=1), pairs, other, tmp_path, resume=False)
    assert fresh_start.steps == 2 and json.loads((tmp_path / "run.json").read_text())["train"]["K"] == 3
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["checkpoint-1", "checkpoint-2"]
    # a run that stopped before saving anything leaves only run.json: another run may take the folder
    stopped = tmp_path / "stopped"
    stopped.mkdir()
    (stopped / "run.json").write_text(json.dumps({"train": {"objective": "orm"}}))
    assert train_reward_model(_reference(seed=1), pairs, sc, stopped).steps == 2
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(ConfigError, match="is a file, not a folder"):
        train_reward_model(_reference(seed=1), pairs, sc, tmp_path / "a-file")


def test_prefix_pair_batches_hold_batch_size_rows():
    rm = _reference(seed=1)
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
                losses.append(bradley_terry_loss(rewards, batch["weight"], "raw", batch["present"]).item())
        assert losses[0] == pytest.approx(losses[1], abs=1e-5)


def test_batch_unit_sets_the_number_of_steps(tmp_path):
    from sp_prm_lib.training.trainer import expected_steps

    pairs = toy_pairs(12)
    by_rows = TrainConfig(objective="sc", K=3, batch_size=4, batch_unit="prefix-pairs")
    result = train_reward_model(_reference(seed=1), pairs, by_rows, tmp_path / "rows")
    assert result.steps == -(-len(result.rows) // 4) == expected_steps(len(result.rows), by_rows)
    by_pairs = TrainConfig(objective="sc", K=3, batch_size=4, batch_unit="pairs")
    assert train_reward_model(_reference(seed=1), pairs, by_pairs, tmp_path / "pairs").steps == 3
    with pytest.raises(ConfigError, match="batch_unit"):
        TrainConfig(batch_unit="tokens")


def test_profiles_state_their_batch_unit():
    from sp_prm_lib.config.profile import load_profile

    assert load_profile("paper").reward.prm.batch_unit == "prefix-pairs"
    for name in ("tiny", "smoke"):
        assert load_profile(name).reward.prm.batch_unit == "pairs"


def test_identical_prefix_pairs_are_ties_and_dropped(tmp_path):
    pairs = pd.DataFrame(
        {
            "prompt": ["\n\nHuman: q\n\nAssistant:"] * 3,
            "chosen": ["good answer, fine", "nice and helpful", "same words"],
            "rejected": ["good answer, rude", "awful and rude", "same words"],
        }
    )
    rm = _reference(seed=1)
    config = TrainConfig(objective="sc", truncation="tlt")
    rows = prefix_pairs(rm, pairs, config)
    common = [len("good answer, "), 0, len("same words")]  # shared leading bytes (= tokens)
    expected = sum(int(a == b and a <= common[p]) for p, a, b in zip(rows.pair, rows.chosen_len, rows.rejected_len))
    result = train_reward_model(rm, pairs, config, tmp_path / "sc")
    assert result.dropped_identical == expected == common[0] + common[2]
    assert len(result.rows) == len(rows) - expected
    ref = _reference(seed=5)
    sp = train_reward_model(
        _reference(seed=1), pairs, TrainConfig(objective="sp-prm", truncation="tlt"), tmp_path / "sp", reference=ref
    )
    assert sp.dropped_identical == expected
    kept = sp.rows
    assert not (kept.pair == 2).any() and not ((kept.pair == 0) & (kept.t <= common[0])).any()
    assert sp.dropped_by_reference + len(kept) + expected == len(rows)
    # weigh_rows on its own drops ties however the reference scores them
    identical = np.array([True, False])
    kept = weigh_rows(_rows(2), np.array([1.0, 1.0]), np.zeros(2), TrainConfig(objective="sp-prm"), identical)
    assert list(kept.pair) == [1] and kept.attrs["dropped_identical"] == 1


def test_batch_mean_weights_follow_the_training_batches_of_prefix_pairs():
    from sp_prm_lib.training.trainer import batch_mean_weights

    rm = _reference(seed=1)
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


@pytest.mark.parametrize("arch", ["llama-reward", "deberta-v2-reward"])
def test_train_top_layers_leaves_the_lower_layers_and_embeddings_untouched(tmp_path, arch):
    from sp_prm_lib.training.trainer import head_parameter_names, transformer_layers

    model, tok = tiny_model(arch, deberta_tokenizer() if arch.startswith("deberta") else None, seed=1)
    rm = RewardModel(model, tok, convention="closed") if arch.startswith("llama") else RewardModel(model, tok)
    layers = transformer_layers(model)
    assert len(layers) == model.config.num_hidden_layers >= 2
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    config = TrainConfig(objective="orm", batch_size=4, learning_rate=1e-2, train_top_layers=1)
    train_reward_model(rm, toy_pairs(8), config, tmp_path)
    changed = {n for n, p in model.named_parameters() if not torch.equal(p.detach(), before[n])}
    head = set(head_parameter_names(model))
    top_ids = {id(q) for q in layers[-1].parameters()}
    top = {n for n, p in model.named_parameters() if id(p) in top_ids}
    assert head and head <= changed  # the head learns
    assert changed & top  # the top layer learns
    assert changed <= head | top
    with pytest.raises(ConfigError, match="train_top_layers is 9"):
        train_reward_model(
            _reference(), toy_pairs(4), TrainConfig(objective="orm", train_top_layers=9), tmp_path / "too-many"
        )


def test_head_learning_rate_is_its_own_parameter_group(tmp_path):
    from sp_prm_lib.training.trainer import head_parameter_names

    rm = _reference(seed=2)
    seen = {}

    class Peek(TrainerCallback):
        def on_step_end(self, args, state, control, optimizer=None, model=None, **kwargs):
            head = {id(p) for n, p in model.named_parameters() if n in head_parameter_names(model)}
            for g in optimizer.param_groups:
                seen[all(id(p) in head for p in g["params"])] = g["initial_lr"]

    config = TrainConfig(objective="orm", batch_size=4, learning_rate=1e-4, head_learning_rate=1e-2)
    train_reward_model(rm, toy_pairs(8), config, tmp_path, callbacks=[Peek()])
    assert seen == {False: 1e-4, True: 1e-2}
    with pytest.raises(ConfigError, match="head_learning_rate"):
        TrainConfig(head_learning_rate=0.0)


def test_bf16_trains_under_autocast_with_float32_weights(tmp_path):
    """bf16: the forward runs in bfloat16 (the body is called directly, past accelerate's wrapper),
    the weights and the loss stay float32, and the ORM still learns."""
    model, tok = tiny_model("llama-reward", seed=1)
    rm = RewardModel(model, tok, convention="closed")
    seen = []
    hook = model.base_model.layers[0].mlp.down_proj.register_forward_hook(
        lambda module, args, out: seen.append(out.dtype) if module.training else None
    )
    pairs = toy_pairs(40)
    config = TrainConfig(objective="orm", batch_size=4, learning_rate=1e-3, epochs=2, bf16=True)
    result = train_reward_model(rm, pairs, config, tmp_path)
    hook.remove()
    assert seen and set(seen) == {torch.bfloat16}
    assert all(p.dtype == torch.float32 for p in rm.model.parameters())
    assert all(np.isfinite(e["loss"]) for e in result.log) and accuracy(rm, pairs) >= 0.9


def test_bf16_setting_defaults_to_the_model_dtype():
    from sp_prm_lib.config.training import OptimSettings
    from sp_prm_lib.experiments.reward_models import _mixed_precision

    assert TrainConfig().bf16 is False and TrainConfig(bf16=None).bf16 is False
    assert _mixed_precision(OptimSettings(), "bfloat16") and not _mixed_precision(OptimSettings(), "float32")
    assert _mixed_precision(OptimSettings(bf16=True), "float32")
    assert not _mixed_precision(OptimSettings(bf16=False), "bfloat16")

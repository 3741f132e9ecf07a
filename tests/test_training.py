"""Bradley-Terry training (``training/trainer.py``): the objectives learn, dense == materialised in a
run, resume to the same weights, freezing, mixed precision, non-finite values stopped, bad input."""

import shutil

import numpy as np
import pandas as pd
import pytest
import torch
from training_fixtures import accuracy, steep_reference, tiny_rm, toy_pairs
from transformers import TrainerCallback

from sp_prm_lib.config.training import TrainConfig
from sp_prm_lib.core.errors import ConfigError, ModelError
from sp_prm_lib.models.tiny import deberta_tokenizer, tiny_model
from sp_prm_lib.scoring.reward_model import RewardModel
from sp_prm_lib.training.objective import prefix_pairs
from sp_prm_lib.training.trainer import train_reward_model


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


def test_sp_prm_filters_and_weights_with_the_reference(tmp_path):
    pairs = toy_pairs(16)
    ref = tiny_rm()
    rm = tiny_rm(seed=6)
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
        tiny_rm(seed=6),
        pairs,
        TrainConfig(objective="sp-prm-released", K=3, batch_size=8),
        tmp_path / "b",
        reference=ref,
    )
    assert set(released.rows.weight) == {1.0}
    assert len(released.rows) == len(rows)


def test_sp_prm_without_reference_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="needs a reference"):
        train_reward_model(tiny_rm(), toy_pairs(4), TrainConfig(objective="sp-prm"), tmp_path)


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


def test_batch_mean_training_with_huge_reference_gaps_stays_finite(tmp_path):
    rm = tiny_rm(seed=6)
    result = train_reward_model(
        rm,
        toy_pairs(16),
        TrainConfig(objective="sp-prm", K=3, weighting="batch-mean", batch_size=4, save_steps=1, learning_rate=1e-3),
        tmp_path,
        reference=steep_reference(),
    )
    assert (result.rows.ref_chosen - result.rows.ref_rejected).max() > 100
    assert all(np.isfinite(e["loss"]) and e["loss"] > 0 for e in result.log)
    assert all(torch.isfinite(p).all() for p in rm.model.parameters())
    with pytest.raises(ConfigError, match="weighting raw"):
        train_reward_model(
            tiny_rm(seed=6),
            toy_pairs(16),
            TrainConfig(objective="sp-prm", K=3, weighting="raw", batch_size=4),
            tmp_path / "raw",
            reference=steep_reference(),
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


def test_batch_unit_sets_the_number_of_steps(tmp_path):
    from sp_prm_lib.training.trainer import expected_steps

    pairs = toy_pairs(12)
    by_rows = TrainConfig(objective="sc", K=3, batch_size=4, batch_unit="prefix-pairs")
    result = train_reward_model(tiny_rm(seed=1), pairs, by_rows, tmp_path / "rows")
    assert result.steps == -(-len(result.rows) // 4) == expected_steps(len(result.rows), by_rows)
    by_pairs = TrainConfig(objective="sc", K=3, batch_size=4, batch_unit="pairs")
    assert train_reward_model(tiny_rm(seed=1), pairs, by_pairs, tmp_path / "pairs").steps == 3
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
    rm = tiny_rm(seed=1)
    config = TrainConfig(objective="sc", truncation="tlt")
    rows = prefix_pairs(rm, pairs, config)
    common = [len("good answer, "), 0, len("same words")]  # shared leading bytes (= tokens)
    expected = sum(int(a == b and a <= common[p]) for p, a, b in zip(rows.pair, rows.chosen_len, rows.rejected_len))
    result = train_reward_model(rm, pairs, config, tmp_path / "sc")
    assert result.dropped_identical == expected == common[0] + common[2]
    assert len(result.rows) == len(rows) - expected
    ref = tiny_rm(seed=5)
    sp = train_reward_model(
        tiny_rm(seed=1), pairs, TrainConfig(objective="sp-prm", truncation="tlt"), tmp_path / "sp", reference=ref
    )
    assert sp.dropped_identical == expected
    kept = sp.rows
    assert not (kept.pair == 2).any() and not ((kept.pair == 0) & (kept.t <= common[0])).any()
    assert sp.dropped_by_reference + len(kept) + expected == len(rows)


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
            tiny_rm(), toy_pairs(4), TrainConfig(objective="orm", train_top_layers=9), tmp_path / "too-many"
        )


def test_head_learning_rate_is_its_own_parameter_group(tmp_path):
    from sp_prm_lib.training.trainer import head_parameter_names

    rm = tiny_rm(seed=2)
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


def test_the_training_code_version_covers_every_training_module():
    """The cache key of a trained reward model hashes the trainer's import closure: every module of
    ``training`` (the objective, batches, runs, checkpoints, truncation) must be in it."""
    import pkgutil

    from sp_prm_lib import training
    from sp_prm_lib.core.artifacts import code_modules
    from sp_prm_lib.experiments import reward_models
    from sp_prm_lib.training import trainer

    modules = {f"training.{m.name}" for m in pkgutil.iter_modules(training.__path__)}
    assert {"training.objective", "training.batches", "training.runs", "training.checkpoints"} <= modules
    assert {f"sp_prm_lib.{m}" for m in modules} <= set(code_modules(trainer))
    assert "sp_prm_lib.training.trainer" in code_modules(reward_models)

"""Checkpoint files (``training/checkpoints.py``): which checkpoints of a run are complete enough to
resume from, on the files the ``Trainer`` really writes, damaged as a kill during a save leaves them."""

import json
import shutil

import pytest
from training_fixtures import tiny_rm, toy_pairs

from sp_prm_lib.config.training import TrainConfig
from sp_prm_lib.training.checkpoints import checkpoint_problem, last_complete_checkpoint
from sp_prm_lib.training.trainer import train_reward_model


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """The ``checkpoints`` folder of a two-step ORM run saving every step (checkpoint-1, checkpoint-2)."""
    out = tmp_path_factory.mktemp("run")
    train_reward_model(tiny_rm(seed=1), toy_pairs(8), TrainConfig(objective="orm", batch_size=4, save_steps=1), out)
    return out / "checkpoints"


@pytest.fixture
def folder(saved, tmp_path):
    shutil.copytree(saved, tmp_path / "c")
    return tmp_path / "c"


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_checkpoint_problem_names_what_is_incomplete(folder):
    newest = folder / "checkpoint-2"
    assert checkpoint_problem(newest) is None and checkpoint_problem(folder / "checkpoint-1") is None
    _truncate(newest / "model.safetensors")
    assert checkpoint_problem(newest).startswith("model.safetensors: ")
    assert last_complete_checkpoint(folder, remove_incomplete=False) == str(folder / "checkpoint-1")
    assert newest.is_dir()
    shutil.copy(folder / "checkpoint-1" / "model.safetensors", newest)
    assert checkpoint_problem(newest) is None
    (newest / "scheduler.pt").unlink()
    assert "scheduler.pt" in checkpoint_problem(newest)
    (newest / "trainer_state.json").unlink()
    assert checkpoint_problem(newest) == "trainer_state.json is missing"
    assert last_complete_checkpoint(folder) == str(folder / "checkpoint-1")
    assert not newest.exists()  # removed, so it neither crashes a resume nor counts in the rotation


@pytest.mark.parametrize(
    "damage, problem",
    [
        (lambda c: _truncate(c / "optimizer.pt"), "optimizer.pt: not a complete torch archive (BadZipFile)"),
        (lambda c: (c / "optimizer.pt").unlink(), "optimizer.pt is missing"),
        (lambda c: next(c.glob("rng_state*")).unlink(), "rng_state.pth is missing"),
        (lambda c: (c / "model.safetensors").unlink(), "no model weights"),  # training_args.bin is not weights
        (lambda c: (c / "model.safetensors").write_bytes(b"\x01"), "model.safetensors: shorter than its header"),
        (lambda c: _truncate(c / "trainer_state.json"), "trainer_state.json: unreadable JSON"),
        (lambda c: (c / "trainer_state.json").write_text("{}"), "trainer_state.json has no global_step"),
        (
            lambda c: (c / "model.safetensors.index.json").write_text(
                json.dumps({"weight_map": {"score.weight": "model-00002-of-00002.safetensors"}})
            ),
            "model.safetensors.index.json names missing shard model-00002-of-00002.safetensors",
        ),
    ],
    ids=[
        "optimizer-truncated",
        "optimizer-missing",
        "rng-missing",
        "weights-missing",
        "header-cut",
        "state-cut",
        "no-step",
        "shard-missing",
    ],
)
def test_each_damage_is_named(folder, damage, problem):
    newest = folder / "checkpoint-2"
    damage(newest)
    assert checkpoint_problem(newest) == problem


def test_no_checkpoints_means_no_resume(tmp_path):
    assert last_complete_checkpoint(tmp_path / "absent") is None
    (tmp_path / "checkpoint-x").mkdir()  # not a checkpoint-N folder: ignored
    (tmp_path / "checkpoint-3").write_text("a file")
    assert last_complete_checkpoint(tmp_path) is None

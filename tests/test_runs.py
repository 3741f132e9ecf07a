"""A training run's folder (``training/runs.py``): the ``run.json`` fingerprint, and folders of
another run refused rather than resumed."""

import json

import pytest
from training_fixtures import tiny_rm, toy_pairs

from sp_prm_lib.config.training import TrainConfig
from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.training.runs import RUN_FILE, check_deepspeed, check_output, data_fingerprint
from sp_prm_lib.training.trainer import train_reward_model


def test_output_folder_of_another_run_is_refused(tmp_path):
    pairs = toy_pairs(8)
    sc = TrainConfig(objective="sc", K=2, batch_size=4, save_steps=1)
    train_reward_model(tiny_rm(seed=1), pairs, sc, tmp_path)
    recorded = json.loads((tmp_path / "run.json").read_text())
    assert recorded["train"]["objective"] == "sc" and recorded["data"]["pairs"] == 8
    again = train_reward_model(tiny_rm(seed=1), pairs, sc, tmp_path)  # the same run: resumes, finished
    assert again.steps == 2
    other = TrainConfig(objective="sc", K=3, batch_size=4, save_steps=1)
    with pytest.raises(ConfigError, match=r"holds another training run \(differs in train\.K \(2 -> 3\)") as err:
        train_reward_model(tiny_rm(seed=1), pairs, other, tmp_path)
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match=r"differs in train\.K"):
        check_output(tmp_path, other)  # the same refusal before any model loads
    check_output(tmp_path, TrainConfig(objective="sc", K=2, batch_size=4, save_steps=7))  # save_steps: same run
    with pytest.raises(ConfigError, match="differs in data.sha256"):
        train_reward_model(tiny_rm(seed=1), toy_pairs(8, seed=1), sc, tmp_path)
    with pytest.raises(ConfigError, match="differs in model"):
        train_reward_model(tiny_rm(seed=2), pairs, sc, tmp_path)
    (tmp_path / "run.json").unlink()
    with pytest.raises(ConfigError, match="checkpoints or a model without run.json"):
        train_reward_model(tiny_rm(seed=1), pairs, sc, tmp_path)
    fresh_start = train_reward_model(tiny_rm(seed=1), pairs, other, tmp_path, resume=False)
    assert fresh_start.steps == 2 and json.loads((tmp_path / "run.json").read_text())["train"]["K"] == 3
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["checkpoint-1", "checkpoint-2"]
    # a run that stopped before saving anything leaves only run.json: another run may take the folder
    stopped = tmp_path / "stopped"
    stopped.mkdir()
    (stopped / "run.json").write_text(json.dumps({"train": {"objective": "orm"}}))
    assert train_reward_model(tiny_rm(seed=1), pairs, sc, stopped).steps == 2
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(ConfigError, match="is a file, not a folder"):
        train_reward_model(tiny_rm(seed=1), pairs, sc, tmp_path / "a-file")


def test_check_output_refuses_an_unreadable_run_file_with_training_state(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / RUN_FILE).write_text("{not json")
    with pytest.raises(ConfigError, match=f"{RUN_FILE} unreadable"):
        check_output(tmp_path, TrainConfig(), where="--output x")
    check_output(tmp_path / "new", TrainConfig())  # a folder that does not exist yet is fine


def test_data_fingerprint_sees_order_and_text_boundaries():
    pairs = toy_pairs(4)
    assert data_fingerprint(pairs) == data_fingerprint(pairs.copy())
    assert data_fingerprint(pairs) != data_fingerprint(pairs.iloc[::-1])
    moved = pairs.copy()
    moved.loc[0, "prompt"] += moved.loc[0, "chosen"][:1]
    moved.loc[0, "chosen"] = moved.loc[0, "chosen"][1:]  # the same characters, another boundary
    assert data_fingerprint(moved) != data_fingerprint(pairs)


def test_check_deepspeed_names_what_is_missing(tmp_path, monkeypatch):
    import importlib.util

    check_deepspeed(None)  # no DeepSpeed asked for: nothing to check
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(ConfigError, match="--deepspeed z.json: the deepspeed package is not installed"):
        check_deepspeed("z.json", where="--deepspeed")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object())
    with pytest.raises(ConfigError, match="no such file"):
        check_deepspeed(str(tmp_path / "z.json"))
    (tmp_path / "z.json").write_text("{}")
    check_deepspeed(str(tmp_path / "z.json"))

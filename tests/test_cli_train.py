"""`sp-prm train`: one-line errors for a bad --output or --deepspeed, and no resuming another run."""

import importlib.util
import json

import pytest

from sp_prm_lib import cli
from sp_prm_lib.config.profile import load_profile
from sp_prm_lib.experiments import reward_models
from sp_prm_lib.models.tiny import tiny_model
from sp_prm_lib.scoring.reward_model import RewardModel


def run(capsys, *argv):
    code = cli.main(["train", *argv])
    out, err = capsys.readouterr()
    return code, out, err.strip()


def test_output_that_is_a_file_is_a_one_line_error(tmp_path, capsys):
    target = tmp_path / "results.txt"
    target.write_text("not a folder")
    code, _, err = run(capsys, "--profile", "smoke", "--output", str(target))
    assert code == 2 and "\n" not in err
    assert err == f"error: --output {target} is a file, not a folder"


@pytest.mark.skipif(importlib.util.find_spec("deepspeed") is not None, reason="deepspeed is installed here")
def test_deepspeed_without_the_package_is_a_one_line_error(tmp_path, capsys):
    config = tmp_path / "zero3.json"
    config.write_text("{}")
    code, _, err = run(capsys, "--profile", "smoke", "--output", str(tmp_path / "out"), "--deepspeed", str(config))
    assert code == 2 and "\n" not in err
    assert "deepspeed package is not installed" in err and "--deepspeed" in err


def test_missing_deepspeed_config_is_a_one_line_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object() if name == "deepspeed" else None)
    code, _, err = run(capsys, "--output", str(tmp_path / "out"), "--deepspeed", str(tmp_path / "nope.json"))
    assert code == 2 and "\n" not in err and "no such file" in err


@pytest.fixture
def offline_profile(monkeypatch):
    """`sp-prm train` on the smoke profile with tiny random reward models and toy pairs."""
    from training_fixtures import toy_pairs

    profile = load_profile("smoke")

    class Trained:
        def __init__(self, seed):
            self.seed = seed

        def load(self, profile):
            model, tok = tiny_model("llama-reward", seed=self.seed)
            return RewardModel(model, tok, convention="open")

    monkeypatch.setattr("sp_prm_lib.notebook.start", lambda name: profile)
    monkeypatch.setattr(reward_models, "ensure_orm", lambda profile: Trained(1))
    monkeypatch.setattr(reward_models, "ensure_reference", lambda profile: Trained(5))
    monkeypatch.setattr(reward_models, "training_pairs", lambda profile, n, where: toy_pairs(8))
    return profile


def test_a_folder_of_another_variant_is_refused_not_resumed(offline_profile, tmp_path, capsys):
    out = tmp_path / "run"
    code, printed, _ = run(capsys, "--variant", "sc", "--output", str(out))
    assert code == 0 and "train: sc on 8 pairs" in printed
    assert json.loads((out / "run.json").read_text())["train"]["objective"] == "sc"
    code, printed, err = run(capsys, "--variant", "sp-prm", "--output", str(out))
    assert code == 2 and printed == "" and "\n" not in err
    assert f"--output {out} holds another training run" in err and "train.objective ('sc' -> 'sp-prm')" in err
    code, printed, _ = run(capsys, "--variant", "sp-prm", "--output", str(tmp_path / "other"))
    assert code == 0 and "train: sp-prm on 8 pairs" in printed

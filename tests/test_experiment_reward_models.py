"""ensure_* reward models (``experiments/reward_models.py``): trained once, cached, PRMs start
from the ORM, metrics attached."""

from pathlib import Path

import pytest
import torch
import yaml

from sp_prm_lib.config.profile import load_profile
from sp_prm_lib.core.artifacts import ArtifactStore
from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.experiments.reward_models import (
    PRM_VARIANTS,
    ensure_orm,
    ensure_prm,
    ensure_reference,
    prm_train_config,
    summary_table,
)
from sp_prm_lib.models.tiny import tiny_model

pytestmark = pytest.mark.slow


def _profile(tmp_path: Path, mutate=None):
    raw = yaml.safe_load(load_profile("smoke").path.read_text())
    raw["data"].update(train_pairs=24, eval_pairs=12)
    raw["reward"]["orm"]["train"]["train_pairs"] = 12
    raw["reward"]["reference"]["train"]["train_pairs"] = 16
    raw["reward"]["prm"]["train_pairs"] = 12
    raw["reward"]["max_length"] = 96
    if mutate:
        mutate(raw)
    path = tmp_path / "test-profile.yaml"
    path.write_text(yaml.safe_dump(raw))
    return load_profile(path)


def test_orm_is_trained_once_then_cached(tmp_path):
    profile, store = _profile(tmp_path), ArtifactStore(tmp_path / "cache")
    first = ensure_orm(profile, store)
    assert first.facts["trained"] and first.facts["train_pairs"] == 12
    assert (Path(first.location) / "config.json").is_file()
    assert 0.0 <= first.metrics["accuracy"] <= 1.0 and set(first.metrics["ar_rm_sc"]) == {"5", "10", "20", "50"}
    again = ensure_orm(profile, store)
    assert again.artifact.manifest["created"] == first.artifact.manifest["created"]


def test_prm_starts_from_the_orm_and_keeps_d_partial(tmp_path):
    profile, store = _profile(tmp_path), ArtifactStore(tmp_path / "cache")
    orm = ensure_orm(profile, store)
    prm = ensure_prm(profile, "sp-prm", store)
    assert prm.artifact.manifest["inputs"]["orm"] == orm.artifact.key
    assert prm.facts["layers"] == orm.facts["layers"] and prm.facts["train_rows"] >= prm.facts["partial_rows"]
    rows = __import__("pandas").read_csv(Path(prm.artifact.path) / "d_partial.csv.gz")
    assert (rows.ref_chosen > rows.ref_rejected).all()
    assert rows.weight.max() <= profile.reward.prm.weight_clamp
    orm_rm, prm_rm = orm.load(profile), prm.load(profile)
    changed = [not torch.equal(a, b) for a, b in zip(orm_rm.model.parameters(), prm_rm.model.parameters())]
    assert any(changed)
    assert torch.equal(orm_rm.model.get_input_embeddings().weight, prm_rm.model.get_input_embeddings().weight)


def test_sc_ablation_needs_no_reference(tmp_path):
    profile, store = _profile(tmp_path), ArtifactStore(tmp_path / "cache")
    sc = ensure_prm(profile, "sc", store)
    assert sc.artifact.manifest["inputs"]["reference"] is None
    assert not (tmp_path / "cache" / "rm-reference").exists()
    table = summary_table({"sc": sc})
    assert list(table.columns[-4:]) == ["AR_RM-SC@5", "AR_RM-SC@10", "AR_RM-SC@20", "AR_RM-SC@50"]


def test_a_released_hub_or_local_rm_is_used_as_it_is(tmp_path):
    model, tok = tiny_model("llama-reward", seed=1)
    folder = tmp_path / "released-rm"
    model.save_pretrained(folder)
    tok.save_pretrained(folder)

    def use_local(raw):
        raw["reward"]["reference"] = {"model": {"id": str(folder), "source": "local"}, "train": {"train_pairs": 0}}

    profile, store = _profile(tmp_path, use_local), ArtifactStore(tmp_path / "cache")
    ref = ensure_reference(profile, store)
    assert not ref.facts["trained"] and ref.location == str(folder)
    assert ref.load(profile).score(["\n\nHuman: hi\n\nAssistant:"], ["hello"]).shape == (1,)


def test_bad_variant_and_too_many_pairs(tmp_path):
    profile = _profile(tmp_path)
    with pytest.raises(ConfigError, match="unknown PRM variant 'magic'"):
        prm_train_config(profile, "magic")
    big = _profile(tmp_path, lambda raw: raw["reward"]["orm"]["train"].update(train_pairs=500))
    with pytest.raises(ConfigError, match="reward.orm.train.train_pairs = 500 is more than the 24 train pairs"):
        ensure_orm(big, ArtifactStore(tmp_path / "cache2"))


def test_every_variant_has_a_valid_config(tmp_path):
    profile = _profile(tmp_path)
    for variant in PRM_VARIANTS:
        cfg = prm_train_config(profile, variant)
        assert cfg.partial and cfg.K == profile.reward.prm.K

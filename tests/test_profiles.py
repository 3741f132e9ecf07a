"""Profiles: shipped ones load; bad files give one-line errors naming file and key."""

from pathlib import Path

import pytest
import yaml

from sp_prm_lib.config.profile import Profile, available_profiles, load_profile
from sp_prm_lib.core.errors import ConfigError

SHIPPED = ["lab", "paper", "paper-rehearsal", "smoke", "smoke-lab", "tiny"]


def test_shipped_profiles_load():
    assert available_profiles() == SHIPPED
    for name in SHIPPED:
        p = load_profile(name)
        assert isinstance(p, Profile) and p.name == name
        assert p.path.name == f"{name}.yaml"
    assert load_profile("smoke").policy.num_layers == 2
    assert load_profile("paper").policy.source == "hub"


def test_each_track_names_its_gold_lab():
    for name, lab in (("smoke", "smoke-lab"), ("tiny", "lab")):
        base, gold = load_profile(name), load_profile(lab)
        assert base.lab == lab and gold.lab is None
        assert gold.data.labels == "gold" and gold.analysis.judge == "gold"
        assert base.data.labels == "human" and base.track != gold.track
        # the lab inherits everything else from its base profile
        assert gold.policy == base.policy and gold.reward.orm.model == base.reward.orm.model
        assert "14_gold_lab" in gold.notebooks


def test_extends_merges_mappings_and_replaces_the_rest(tmp_path):
    (tmp_path / "base.yaml").write_text(load_profile("smoke").path.read_text())
    (tmp_path / "child.yaml").write_text(
        "extends: base\nname: child\ndata: {train_pairs: 7}\nanalysis: {prefix_tokens: [3]}\n"
    )
    child, base = load_profile(tmp_path / "child.yaml"), load_profile(tmp_path / "base.yaml")
    assert child.name == "child" and child.data.train_pairs == 7
    assert child.data.eval_pairs == base.data.eval_pairs  # merged key by key
    assert child.analysis.prefix_tokens == [3]  # lists replace


def test_bad_extends_is_one_line(tmp_path):
    (tmp_path / "a.yaml").write_text("extends: b\nname: a\n")
    (tmp_path / "b.yaml").write_text("extends: a\nname: b\n")
    _expect(tmp_path / "a.yaml", "extends:", "cycle")
    (tmp_path / "c.yaml").write_text("extends: nowhere\nname: c\n")
    _expect(tmp_path / "c.yaml", "extends:", "nowhere")
    (tmp_path / "d.yaml").write_text("extends: [x]\nname: d\n")
    _expect(tmp_path / "d.yaml", "extends:", "name of a shipped profile")


def test_sizes_grow_from_smoke_to_paper():
    smoke, tiny, paper = (load_profile(n).data for n in ("smoke", "tiny", "paper"))
    assert smoke.train_pairs < tiny.train_pairs < paper.train_pairs


def _write(tmp_path: Path, mutate) -> Path:
    raw = yaml.safe_load(load_profile("smoke").path.read_text())
    mutate(raw)
    path = tmp_path / "custom.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _expect(path: Path, *needles: str):
    with pytest.raises(ConfigError) as info:
        load_profile(path)
    msg = str(info.value)
    assert "\n" not in msg
    assert str(path) in msg
    for needle in needles:
        assert needle in msg
    return msg


def test_custom_profile_by_path(tmp_path):
    path = _write(tmp_path, lambda r: r["data"].update(train_pairs=10))
    assert load_profile(path).data.train_pairs == 10


def test_response_budget_is_checked_against_the_window(tmp_path):
    assert load_profile("smoke").reward.response_budget is None  # max_length // 2
    path = _write(tmp_path, lambda r: r["reward"].update(response_budget=40))
    assert load_profile(path).reward.response_budget == 40
    _expect(_write(tmp_path, lambda r: r["reward"].update(response_budget=128)), "reward.response_budget", "128")
    _expect(_write(tmp_path, lambda r: r["reward"].update(response_budget=0)), "reward.response_budget")


def test_unknown_top_level_key(tmp_path):
    _expect(_write(tmp_path, lambda r: r.update(learning_rte=1)), "unknown key learning_rte")


def test_unknown_nested_key_named_with_its_path(tmp_path):
    _expect(_write(tmp_path, lambda r: r["data"].update(trian_pairs=5)), "data.trian_pairs")


def test_negative_size(tmp_path):
    _expect(_write(tmp_path, lambda r: r["data"].update(eval_pairs=-3)), "data.eval_pairs", ">= 1", "-3")


def test_bad_choice(tmp_path):
    _expect(_write(tmp_path, lambda r: r["policy"].update(source="ftp")), "policy.source", "ftp")


def test_wrong_type_and_bool_for_int(tmp_path):
    _expect(_write(tmp_path, lambda r: r["data"].update(train_pairs="many")), "data.train_pairs", "integer")
    _expect(_write(tmp_path, lambda r: r["data"].update(train_pairs=True)), "data.train_pairs", "integer")


def test_missing_required_key(tmp_path):
    _expect(_write(tmp_path, lambda r: r.pop("policy")), "missing required key policy")
    _expect(_write(tmp_path, lambda r: r["policy"].pop("id")), "policy.id")


def test_nested_section_not_a_mapping(tmp_path):
    _expect(_write(tmp_path, lambda r: r.update(data=[1, 2])), "data", "mapping")


def test_invalid_yaml_and_not_a_mapping(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    _expect(bad, "not valid YAML")
    bad.write_text("- just\n- a list\n")
    _expect(bad, "mapping")


def test_unknown_profile_name_lists_known():
    with pytest.raises(ConfigError, match="unknown profile 'huge'.*smoke, smoke-lab, tiny"):
        load_profile("huge")


def test_missing_profile_file(tmp_path):
    _expect(tmp_path / "absent.yaml", "not found")


def test_profile_file_is_not_modified_by_a_failed_load(tmp_path):
    path = _write(tmp_path, lambda r: r.update(bogus=1))
    before = path.read_bytes()
    with pytest.raises(ConfigError):
        load_profile(path)
    assert path.read_bytes() == before


def test_to_dict_is_plain_and_stable():
    d = load_profile("tiny").to_dict()
    assert "path" not in d and d["data"]["train_pairs"] == load_profile("tiny").data.train_pairs


def test_unknown_data_set_name(tmp_path):
    _expect(_write(tmp_path, lambda r: r["data"].update(train_set="imagenet")), "data.train_set", "imagenet", "hh-rlhf")


def test_unknown_split_of_a_known_set(tmp_path):
    _expect(_write(tmp_path, lambda r: r["data"].update(eval_split="validation")), "data.eval_split", "validation")


def _set(path: str, value):
    def mutate(raw):
        *parents, leaf = path.split(".")
        node = raw
        for key in parents:
            node = node[key]
        node[leaf] = value

    return mutate


@pytest.mark.parametrize(
    "key, value, needle",
    [
        ("seed", -1, "seed: must be >= 0"),
        ("reward.prm.epochs", float("inf"), "reward.prm.epochs: must be a finite number"),
        ("reward.prm.learning_rate", float("inf"), "reward.prm.learning_rate: must be a finite number"),
        ("decoding.seeds", [], "decoding.seeds: must not be empty"),
        ("analysis.prefix_tokens", [], "analysis.prefix_tokens: must not be empty"),
        ("data.train_pairs", 1e24, "data.train_pairs: expected an integer"),
        ("name", "../../x", "name: '../../x' must be letters"),
        ("name", "", "name: '' must be letters"),
    ],
)
def test_values_that_would_fail_later_are_refused_on_load(tmp_path, key, value, needle):
    _expect(_write(tmp_path, _set(key, value)), needle)


def test_yaml_errors_keep_line_and_column(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: smoke\ndata: [1, 2\nseed: 0\n")
    _expect(path, "not valid YAML: line 3, column 5")


def test_duplicate_keys_are_refused_with_their_line(tmp_path):
    text = load_profile("smoke").path.read_text() + "\nseed: 3\n"
    path = tmp_path / "dup.yaml"
    path.write_text(text)
    _expect(path, "duplicate key 'seed'", "line ")


def test_a_file_that_is_not_utf8_is_one_line(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: caf\xe9\n".encode("latin-1"))
    _expect(path, "not UTF-8")


def test_field_help_is_in_the_metadata():
    from sp_prm_lib.config.profile import DecodingSpec
    from sp_prm_lib.config.schema import field_help
    from sp_prm_lib.config.training import TrainConfig

    assert "Base/SFT row" in field_help(DecodingSpec)["base"]
    assert all(field_help(TrainConfig).values()), "every training field documents itself"


def test_train_config_is_derived_from_the_profile_fields():
    from sp_prm_lib.config.training import TrainConfig
    from sp_prm_lib.experiments.reward_models import prm_train_config

    profile = load_profile("tiny")
    config = prm_train_config(profile, "sp-prm")
    prm = profile.reward.prm
    assert (config.learning_rate, config.K, config.batch_size, config.weight_clamp) == (
        prm.learning_rate,
        prm.K,
        prm.batch_size,
        prm.weight_clamp,
    )
    assert TrainConfig().learning_rate == type(prm)().learning_rate  # one default, not two


def test_the_data_set_names_a_profile_may_use_match_the_data_registry():
    from sp_prm_lib.config.datasets import DATASET_SPLITS
    from sp_prm_lib.data import REGISTRY

    assert DATASET_SPLITS == {name: (spec.kind, tuple(spec.splits())) for name, spec in REGISTRY.items()}


# -- issue 24: gold without a recipe, extends from anywhere, shipped names with other settings --


@pytest.mark.parametrize("key", ["labels", "judge"])
def test_gold_without_a_gold_section_is_refused(tmp_path, key):
    def use_gold(raw):
        raw.pop("gold", None)
        (raw["data"] if key == "labels" else raw.setdefault("analysis", {}))[key] = "gold"
        raw["name"] = "mine"

    path = _write(tmp_path, use_gold)
    before = path.read_bytes()
    field = "data.labels" if key == "labels" else "analysis.judge"
    _expect(path, f"{field}: gold needs a gold: section")
    assert path.read_bytes() == before
    # with a section, or inheriting the shipped lab's, it loads
    path.write_text(path.read_text() + "gold:\n  components: {relevance: 1.0}\n")
    assert load_profile(path).gold.components == {"relevance": 1.0}
    (tmp_path / "child.yaml").write_text("extends: lab\nname: child\n")
    assert load_profile(tmp_path / "child.yaml").gold == load_profile("lab").gold


def test_a_custom_profile_anywhere_can_extend_a_shipped_one(tmp_path):
    (tmp_path / "far" / "away").mkdir(parents=True)
    path = tmp_path / "far" / "away" / "mine.yaml"
    path.write_text("extends: smoke\nname: mine\ndata: {train_pairs: 5}\n")
    mine, smoke = load_profile(path), load_profile("smoke")
    assert mine.name == "mine" and mine.data.train_pairs == 5 and mine.policy == smoke.policy
    # a file next to it still wins over the shipped one of that name
    (tmp_path / "far" / "away" / "smoke.yaml").write_text(smoke.path.read_text().replace("seed: 0", "seed: 7"))
    assert load_profile(path).seed == 7


def test_a_shipped_name_with_other_settings_is_filed_apart(tmp_path):
    """``name: tiny`` with other sizes wrote into figures/tiny/, mixing with the real tiny run."""
    from sp_prm_lib.config.profile import content_hash

    shipped = load_profile("smoke")
    copy = tmp_path / "copy.yaml"
    copy.write_text(shipped.path.read_text())
    assert load_profile(copy).name == "smoke"  # an exact copy is the shipped profile
    changed = _write(tmp_path, lambda r: r["data"].update(train_pairs=10))
    other = load_profile(changed)
    assert other.name == f"smoke-{content_hash(other)}" and other.name != "smoke"
    assert other.name == load_profile(changed).name  # stable
    (tmp_path / "ext.yaml").write_text("extends: smoke\ndata: {train_pairs: 11}\n")  # inherits name: smoke
    assert load_profile(tmp_path / "ext.yaml").name.startswith("smoke-")
    assert load_profile(tmp_path / "ext.yaml").name != other.name


def test_figures_of_a_shipped_name_with_other_settings_go_to_their_own_folder(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sp_prm_lib.report.plots import save_figure

    monkeypatch.setenv("SP_PRM_HOME", str(tmp_path / "home"))
    fig = plt.figure()
    real = save_figure(fig, "fig", load_profile("smoke"))
    other = save_figure(fig, "fig", load_profile(_write(tmp_path, lambda r: r["data"].update(train_pairs=10))))
    plt.close(fig)
    assert real.parent.name == "smoke" and other.parent.name.startswith("smoke-") and real != other

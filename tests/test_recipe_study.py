"""The reward-model recipe study: recipes change only the ORM, the length rule, the table and its page."""

import math

import pandas as pd
import pytest
import yaml

from sp_prm_lib.config.profile import load_profile
from sp_prm_lib.core.artifacts import ArtifactStore
from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.experiments.recipe_study import longer_wins, recipe_profile, run_recipe_study
from sp_prm_lib.report.recipe_page import LENGTH_RULE, recipe_study_markdown


def test_a_recipe_changes_only_the_orm():
    base = load_profile("smoke")
    changed = recipe_profile(base, {"num_layers": 2, "epochs": 2.0, "train_top_layers": 1})
    assert changed.reward.orm.model.num_layers == 2 and changed.reward.orm.train.epochs == 2.0
    assert changed.reward.orm.train.train_top_layers == 1
    assert changed.reward.orm.train.learning_rate == base.reward.orm.train.learning_rate
    assert changed.reward.reference == base.reward.reference and changed.reward.prm == base.reward.prm
    assert changed.data == base.data and recipe_profile(base, {}) == base


@pytest.mark.parametrize(
    "recipe, message",
    [
        ({"layers": 3}, "recipe 'r': unknown key(s) layers"),
        ({"train_pairs": 0}, "recipe 'r': train_pairs must be >= 1"),
        ({"epochs": -1.0}, "epochs"),
    ],
)
def test_bad_recipes_are_one_line_errors(recipe, message):
    with pytest.raises(ConfigError, match=None) as err:
        recipe_profile(load_profile("smoke"), recipe, "r")
    assert message in str(err.value) and "\n" not in str(err.value)


def test_longer_wins_matches_a_naive_count():
    pairs = pd.DataFrame({"chosen": ["a b c", "a", "one two", "x  y"], "rejected": ["a b", "a b c", "three four", "z"]})
    naive = []
    for win, lose in zip(pairs.chosen, pairs.rejected):
        a, b = len(win.split()), len(lose.split())
        naive.append(0.5 if a == b else float(a > b))
    assert longer_wins(pairs).tolist() == naive == [1.0, 0.0, 0.5, 1.0]


@pytest.mark.slow
def test_study_trains_each_recipe_once_and_pairs_the_intervals(tmp_path):
    raw = yaml.safe_load(load_profile("smoke").path.read_text())
    raw["data"].update(train_pairs=16, eval_pairs=12)
    raw["reward"]["orm"]["train"]["train_pairs"] = 8
    raw["reward"]["max_length"] = 96
    path = tmp_path / "study-profile.yaml"
    path.write_text(yaml.safe_dump(raw))
    profile, store = load_profile(path), ArtifactStore(tmp_path / "cache")
    recipes = {"base": {}, "two passes": {"epochs": 2.0}}
    table = run_recipe_study(profile, recipes, store)
    assert table.recipe.tolist() == ["base", "two passes", LENGTH_RULE]
    assert (table.eval_pairs == 12).all() and table.pairs.iloc[0] == 8
    for r in table.itertuples():
        assert r.accuracy_low <= r.accuracy <= r.accuracy_high
    rule = table.set_index("recipe").loc[LENGTH_RULE]
    for r in table[table.recipe != LENGTH_RULE].itertuples():
        assert math.isclose(r.accuracy - rule.accuracy, table.loc[r.Index, "margin over length rule"])
    assert math.isnan(rule["margin over length rule"])
    entries = sorted(p.name for p in (tmp_path / "cache").iterdir())
    again = run_recipe_study(profile, recipes, store)
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == entries  # nothing retrained
    pd.testing.assert_frame_equal(again.drop(columns=["train seconds"]), table.drop(columns=["train seconds"]))


def _record(best_low: float) -> dict:
    row = {
        "recipe": "r1",
        "layers": 3,
        "trained layers": 2,
        "pairs": 100,
        "epochs": 1.0,
        "lr": 0.001,
        "head lr": 0.01,
        "train seconds": 12.3,
        "final loss": 0.61,
        "accuracy": 0.7,
        "accuracy_low": 0.65,
        "accuracy_high": 0.75,
        "eval_pairs": 300,
        "margin over length rule": 0.1,
        "margin_low": best_low,
        "margin_high": 0.2,
    }
    rule = {
        **{k: None for k in row},
        "recipe": LENGTH_RULE,
        "accuracy": 0.6,
        "accuracy_low": 0.55,
        "accuracy_high": 0.65,
        "eval_pairs": 300,
        "margin over length rule": float("nan"),
    }
    return {
        "profile": "tiny",
        "labels": "human",
        "date": "2026-12-01",
        "machine": "x86_64, 2 cores",
        "commit": "abc123",
        "command": "python scripts/recipe_study.py --profile tiny",
        "rows": [row, rule],
    }


def test_page_names_the_best_recipe_and_where_the_numbers_come_from():
    page = recipe_study_markdown([_record(0.02)])
    assert "*r1*, reaches 0.700 [0.650, 0.750] on 300 held-out pairs, above the length rule" in page
    assert "commit `abc123`" in page and "`python scripts/recipe_study.py --profile tiny`" in page
    assert (
        "| r1 | 3 | 2 | 100 | 1 | 0.001 | 0.01 | 12 | 0.610 | 0.700 [0.650, 0.750] | +0.100 [+0.020, +0.200] |" in page
    )
    assert f"| {LENGTH_RULE} |" in page
    unsure = recipe_study_markdown([_record(-0.01)])
    assert "not distinguishable from the length rule" in unsure
    assert "No study results" in recipe_study_markdown([])


@pytest.mark.parametrize("name", ["tiny", "lab"])
def test_the_first_recipe_of_the_study_file_is_the_profiles_own(name):
    """The book says the first row of each table is the recipe the notebooks train."""
    from pathlib import Path

    study = yaml.safe_load((Path(__file__).parents[1] / "configs" / "recipe_study.yaml").read_text())
    profile = load_profile(name)
    first = next(iter(study[name].values()))
    assert recipe_profile(profile, first) == profile

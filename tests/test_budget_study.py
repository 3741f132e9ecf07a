"""The SP-PRM training-budget study: budgets change only reward.prm, the Fig. 5 rows, the page."""

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from sp_prm_lib.config.profile import load_profile
from sp_prm_lib.core.artifacts import ArtifactStore
from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.experiments import comparison
from sp_prm_lib.experiments.budget_study import budget_profile, paper_effect, run_budget_study, study_summary
from sp_prm_lib.experiments.prefix_analysis import pair_quantities
from sp_prm_lib.report.budget_page import budget_figure, budget_study_markdown

STUDY = Path(__file__).parents[1] / "configs" / "budget_study.yaml"


def test_a_budget_changes_only_the_prm_training():
    base = load_profile("smoke-lab")
    changed = budget_profile(base, {"train_pairs": 8, "epochs": 3.0, "learning_rate": 1e-3, "train_top_layers": None})
    prm = changed.reward.prm
    assert (prm.train_pairs, prm.epochs, prm.learning_rate, prm.train_top_layers) == (8, 3.0, 1e-3, None)
    assert prm.K == base.reward.prm.K and prm.batch_size == base.reward.prm.batch_size
    assert changed.reward.orm == base.reward.orm and changed.reward.reference == base.reward.reference
    assert changed.data == base.data and changed.analysis == base.analysis
    assert budget_profile(base, {}) == base


@pytest.mark.parametrize(
    "budget, message",
    [
        ({"pairs": 10}, "budget 'b': unknown key(s) pairs"),
        ({"epochs": -1.0}, "budget 'b'"),
        ({"train_pairs": 0}, "train_pairs"),
        ({"train_pairs": 10**6}, "exceeds the profile's data.train_pairs"),
        ({"truncation": "every"}, "truncation"),
    ],
)
def test_bad_budgets_are_one_line_errors(budget, message):
    base = load_profile("smoke-lab")
    with pytest.raises(ConfigError) as err:
        budget_profile(base, budget, "b")
    assert message in str(err.value) and "\n" not in str(err.value)


def test_a_bad_budget_stops_the_study_before_anything_is_trained(tmp_path):
    store = ArtifactStore(tmp_path / "cache")
    with pytest.raises(ConfigError, match="budget 'bad'"):
        run_budget_study(load_profile("smoke-lab"), {"ok": {}, "bad": {"lr": 1.0}}, store=store)
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


@pytest.mark.parametrize(
    "study, message",
    [
        ("smoke-lab:\n  bad: {pairs: 3}\n", "budget 'bad': unknown key(s) pairs"),
        ("smoke-lab: [1]\n", "give a mapping of budget name"),
        ("lab: {own: {}}\n", "no budgets for profile 'smoke-lab'"),
        (None, "no such study file"),
    ],
)
def test_the_script_stops_on_a_bad_study_with_one_line_and_writes_nothing(tmp_path, study, message):
    path = tmp_path / "study.yaml"
    if study is not None:
        path.write_text(study)
    out = tmp_path / "out"
    script = Path(__file__).parents[1] / "scripts" / "budget_study.py"
    cmd = [sys.executable, str(script), "--profile", "smoke-lab", "--study", str(path), "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and message in proc.stderr
    assert proc.stderr.count("\n") == 1 and not out.exists()


@pytest.mark.parametrize("name", ["lab", "smoke-lab"])
def test_the_first_budget_of_the_study_file_is_the_profiles_own(name):
    study = yaml.safe_load(STUDY.read_text())
    profile = load_profile(name)
    budgets = [budget_profile(profile, b, n) for n, b in study[name].items()]  # every budget is valid
    assert budgets[0] == profile and len(budgets) >= 2


def test_the_paper_effect_is_the_claims_own():
    assert paper_effect() == comparison.claim_test("fig5").paper_effect > 0


def _row(budget, variant, t, mean, low, high, **extra):
    return {"budget": budget, "variant": variant, "t": t, "mean": mean, "ci_low": low, "ci_high": high,
            "n": 300, "pairs": 800, "epochs": 1.0, "lr": 0.0002, "trained layers": 2, "rows kept": 3439,
            "steps": 100, "train seconds": 61.4, "verdict": "inconclusive", **extra}  # fmt: skip


def _record(pooled_low: float) -> dict:
    rows = []
    for budget, shift in (("own", 0.0), ("3000 pairs", 0.01)):
        for variant in ("sp-prm", "sc"):
            for t in ("5", "10", "50", "pooled", "full"):
                if t == "pooled" and variant == "sp-prm":  # the row the answer is about
                    low = pooled_low + shift
                    rows.append(_row(budget, variant, t, low + 0.01, low, low + 0.03))
                else:
                    rows.append(_row(budget, variant, t, -0.003, -0.02, 0.02))
    return {
        "profile": "lab",
        "labels": "gold",
        "date": "2026-12-06",
        "machine": "x86_64, 2 cores",
        "commit": "abc123",
        "command": "python scripts/budget_study.py --profile lab",
        "wall seconds": 1234.0,
        "load average at start": [1.0, 1.1, 1.2],
        "load average at end": [2.0, 2.1, 2.2],
        "prefix_tokens": [5, 10, 50],
        "claim": "fig5",
        "paper_effect": 0.05,
        "pooled_mde": 0.023,
        "pairs": 300,
        "rows": rows,
    }


def test_the_page_answers_from_the_numbers():
    none = budget_study_markdown([_record(-0.019)])
    assert "SP-PRM's largest pooled effect is +0.001 [-0.009, +0.021] (*3000 pairs*)" in none
    assert "At none of the 2 budgets does its pooled interval exclude 0" in none
    assert "smaller than the paper's" in none and "+0.050" in none
    assert "commit `abc123`" in none and "`python scripts/budget_study.py --profile lab`" in none
    assert "1.0, 1.1, 1.2 at the start" in none and "about 0.023" in none
    assert (
        "| own | sp-prm | 800 | 1 | 0.0002 | 2 | 3439 | 100 | 61 | -0.009 [-0.019, +0.011] | "
        "-0.003 [-0.020, +0.020] | -0.003 [-0.020, +0.020] | -0.003 [-0.020, +0.020] | inconclusive |" in none
    )
    assert "![" in none and "(budget_study_lab.png)" in none
    moved = budget_study_markdown([_record(0.001)])
    assert "lies above 0 at 2 of 2 budgets (*own* and *3000 pairs*)" in moved
    assert "At none of the 2 budgets" not in moved.split("SC's")[0]
    one = budget_study_markdown([_record(-0.005)])
    assert "lies above 0 at 1 of 2 budgets (*3000 pairs*)" in one
    reached = budget_study_markdown([_record(0.04)])
    assert "Its mean reaches the paper's effect, +0.050, at *own* and *3000 pairs*" in reached
    assert "No study results" in budget_study_markdown([])
    png = budget_figure(_record(0.001))
    assert png.startswith(b"\x89PNG") and png == budget_figure(_record(0.001))  # reproducible bytes


@pytest.mark.slow
def test_the_study_on_the_smoke_lab_matches_a_naive_recomputation(tmp_path):
    small = {  # the smoke lab, smaller still: seconds of training per model
        "extends": "smoke-lab",
        "data": {"train_pairs": 24, "eval_pairs": 12},
        "analysis": {"pairs": 12},
        "reward": {
            "max_length": 96,
            "gold": {"train": {"train_pairs": 20}},
            "orm": {"train": {"train_pairs": 12}},
            "reference": {"train": {"train_pairs": 16}},
            "prm": {"train_pairs": 12},
        },
    }
    (tmp_path / "small-lab.yaml").write_text(yaml.safe_dump(small))
    profile = load_profile(tmp_path / "small-lab.yaml")
    store = ArtifactStore(tmp_path / "cache")
    budgets = yaml.safe_load(STUDY.read_text())["smoke-lab"]
    table = run_budget_study(profile, budgets, store=store)  # the profile's resampling, as notebook 06
    ts = [str(t) for t in profile.analysis.prefix_tokens]
    assert set(table.t) == {*ts, "pooled", "full"}
    assert len(table) == len(budgets) * 2 * (len(ts) + 2)
    orm = pair_quantities(profile, "orm", store=store)["ar_rm_sc"]
    for (name, variant), rows in table.groupby(["budget", "variant"], sort=False):
        setting = budget_profile(profile, budgets[name], name)
        diff = pair_quantities(setting, variant, store=store)["ar_rm_sc"] - orm
        got = rows.set_index("t")
        for j, t in enumerate(ts):
            assert math.isclose(got.loc[t, "mean"], float(np.mean(diff[:, j])), abs_tol=1e-12)
        assert math.isclose(got.loc["full", "mean"], float(np.mean(diff[:, -1])), abs_tol=1e-12)
        assert math.isclose(got.loc["pooled", "mean"], float(np.mean(diff[:, :-1].mean(axis=1))), abs_tol=1e-12)
        assert (rows.ci_low <= rows["mean"] + 1e-12).all() and (rows["mean"] <= rows.ci_high + 1e-12).all()
        assert (rows.n == diff.shape[0]).all() and rows["rows kept"].iloc[0] > 0
        assert rows.pairs.iloc[0] == setting.reward.prm.train_pairs
    # the first budget is the profile's own: its rows are notebook 06's test of Fig. 5
    q = {r: pair_quantities(profile, r, store=store)["ar_rm_sc"] for r in ("orm", "sp-prm")}
    res = comparison.check(profile, "fig5", {f"t={t}": q["sp-prm"][:, j] - q["orm"][:, j] for j, t in enumerate(ts)})
    first = table[(table.budget == next(iter(budgets))) & (table.variant == "sp-prm")].set_index("t")
    assert (first.verdict == res.verdict).all()
    for r in res.table.itertuples():
        key = r.part[2:] if r.part.startswith("t=") else r.part
        assert (first.loc[key, "ci_low"], first.loc[key, "ci_high"]) == (r.ci_low, r.ci_high)
    summary = study_summary(table)
    assert summary["paper_effect"] == paper_effect() and summary["pairs"] == profile.analysis.pairs

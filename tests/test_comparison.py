"""The paper's typed-in numbers, side-by-side tables, verdicts, and the results overview."""

import json
import math
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.experiments import comparison

ROOT = Path(__file__).resolve().parent.parent
TABLES = ("table1", "table2", "table3", "table4", "table5")
METHODS = {"base", "args", "tbs", "cbs", "cards", "bon-8", "bon-16", "bon-64"}
VARIANTS = {"none", "orm", "sp-prm", "sc"}


def _cell(key, column, **where):
    t = comparison.paper_table(key)
    for c, v in where.items():
        t = t[t[c] == v]
    assert len(t) == 1, f"{key} {where}: {len(t)} rows"
    return t[column].iloc[0]


# --- the typed-in values --------------------------------------------------------
def test_every_entry_loads_with_rows_matching_columns():
    raw = yaml.safe_load(comparison.VALUES_FILE.read_text(encoding="utf-8"))
    raw.pop(comparison.CLAIMS)
    for key in raw:
        entry = comparison.paper_entry(key)
        assert entry["ref"] and entry["setting"] and entry.get("claim"), key
        assert set(entry) <= set(comparison.FIELDS), key
        assert all(len(row) == len(entry["columns"]) for row in entry["rows"]), key
        assert len(comparison.paper_table(key)) == len(entry["rows"])
    assert {"obs1", "obs2", "obs3", "obs4", "fig5", "theorem1", "table9", *TABLES} <= set(raw)


@pytest.mark.parametrize("key", TABLES)
def test_tables_use_the_long_format(key):
    t = comparison.paper_table(key)
    assert {"model", "method", "variant", "reward"} <= set(t.columns)
    assert set(t.method) <= METHODS
    assert set(t.variant) <= VARIANTS
    assert set(t.variant[t.method == "base"]) <= {"none"}
    assert not t.duplicated(["model", "method", "variant"] + (["truncation"] if key == "table5" else [])).any()
    assert t.reward.notna().all()


def test_table_sizes_and_models():
    sizes = {"table1": 38, "table2": 26, "table3": 26, "table4": 26, "table5": 12}
    for key, n in sizes.items():
        assert len(comparison.paper_table(key)) == n, key
    assert set(comparison.paper_table("table1").model) == {"Llama-3.2-3B-Instruct", "Llama-3-8B-Instruct"}
    assert set(comparison.paper_table("table4").method) == {"base", "args", "tbs", "cbs", "cards", "bon-8", "bon-16"}
    assert set(comparison.paper_table("table5").truncation) == {"sst", "tlt"}


@pytest.mark.parametrize(
    "key,column,where,value",
    [
        ("table1", "reward", dict(model="Llama-3.2-3B-Instruct", method="cbs", variant="sp-prm"), 3.19),
        ("table1", "win_tie", dict(model="Llama-3.2-3B-Instruct", method="args", variant="orm"), 56.33),
        ("table1", "reward_sd", dict(model="Llama-3-8B-Instruct", method="bon-64", variant="orm"), 0.61),
        ("table1", "diversity", dict(model="Llama-3.2-3B-Instruct", method="tbs", variant="sc"), 0.78),
        ("table1", "diversity", dict(model="Llama-3-8B-Instruct", method="tbs", variant="sp-prm"), 0.87),
        ("table1", "win_tie", dict(model="Llama-3-8B-Instruct", method="bon-64", variant="sp-prm"), 75.00),
        ("table2", "rouge_l", dict(model="Llama-3.2-3B-Instruct", method="cbs", variant="sp-prm"), 0.3787),
        ("table2", "reward", dict(model="Llama-3.2-1B-Instruct", method="base", variant="none"), -0.16),
        ("table3", "asr", dict(model="Llama-3.2-3B", method="bon-64", variant="sp-prm"), 31.5),
        ("table3", "asr", dict(model="Llama-3.2-1B", method="args", variant="orm"), 52.1),
        ("table4", "accuracy", dict(model="Llama-3.2-1B", method="base", variant="none"), 54.00),
        ("table4", "reward", dict(model="Llama-3.2-3B", method="cbs", variant="sp-prm"), 1.68),
        ("table5", "reward", dict(method="bon-64", truncation="tlt"), 3.29),
        ("table9", "samples", dict(dataset="HH-RLHF"), 291371),
    ],
)
def test_spot_checks_against_the_paper(key, column, where, value):
    assert _cell(key, column, **where) == pytest.approx(value)


def test_unreadable_cells_are_null_and_noted():
    t1 = comparison.paper_table("table1")
    assert t1.diversity.isna().sum() == 21
    assert t1.coherence.isna().sum() == 5
    assert t1.win_tie.isna().sum() == 2
    assert math.isnan(_cell("table1", "diversity", model="Llama-3.2-3B-Instruct", method="cbs", variant="orm"))
    assert comparison.paper_table("table2").diversity.isna().sum() == 4
    for key in ("table1", "table2"):
        assert any("Null" in n for n in comparison.paper_entry(key)["notes"])


def test_table5_sst_rows_are_table1_ours_rows():
    t1 = comparison.paper_table("table1")
    ours = t1[(t1.model == "Llama-3-8B-Instruct") & (t1.variant == "sp-prm")].set_index("method")
    sst = comparison.paper_table("table5").query("truncation == 'sst'").set_index("method")
    for col in ("reward", "diversity", "coherence", "win_tie"):
        assert (ours.loc[sst.index, col] == sst[col]).all(), col


def test_text_quotes_agree_with_the_tables():
    # section 5.3.2: CBS reward drops by 0.11 (3B) and 0.18 (8B) without the reference RM
    for model, drop in (("Llama-3.2-3B-Instruct", 0.11), ("Llama-3-8B-Instruct", 0.18)):
        ours = _cell("table1", "reward", model=model, method="cbs", variant="sp-prm")
        abl = _cell("table1", "reward", model=model, method="cbs", variant="sc")
        assert ours - abl == pytest.approx(drop)
    # section 5.2.3: CBS accuracy +3.5 (1B) and +2.5 (3B)
    for model, gain in (("Llama-3.2-1B", 3.5), ("Llama-3.2-3B", 2.5)):
        d = _cell("table4", "accuracy", model=model, method="cbs", variant="sp-prm") - _cell(
            "table4", "accuracy", model=model, method="cbs", variant="orm"
        )
        assert d == pytest.approx(gain)


# --- side_by_side ------------------------------------------------------------------
def _ours_table3():
    return pd.DataFrame(
        {
            "method": ["base", "cbs", "cbs", "greedy"],
            "variant": ["none", "orm", "sp-prm", "none"],
            "reward": [-3.0, -1.5, -1.0, -2.0],
            "asr": [60.0, 40.0, 30.0, 50.0],
        }
    )


def test_side_by_side_joins_and_computes_diffs_only_where_asked():
    out = comparison.side_by_side(
        "table3",
        _ours_table3(),
        on=["method", "variant"],
        metrics=["reward", "asr"],
        paper_where={"model": "Llama-3.2-1B"},
        diff=["asr"],
    )
    # rewards of different models are on different scales: no "reward diff" column
    assert list(out.columns) == [
        "method",
        "variant",
        "reward paper",
        "reward ours",
        "asr paper",
        "asr ours",
        "asr diff",
    ]
    row = out[(out.method == "cbs") & (out.variant == "sp-prm")].iloc[0]
    assert row["asr paper"] == pytest.approx(40.1)
    assert row["asr diff"] == pytest.approx(30.0 - 40.1)
    assert row["reward ours"] == -1.0 and row["reward paper"] == pytest.approx(-1.52)
    # rows only one side has are kept, with a NaN diff
    assert len(out) == 13 + 1
    assert math.isnan(out[out.method == "greedy"]["reward paper"].iloc[0])
    assert out[(out.method == "tbs") & (out.variant == "orm")]["asr diff"].isna().all()
    with pytest.raises(ConfigError, match="diff names rouge_l, not among the metrics"):
        comparison.side_by_side("table3", _ours_table3(), on=["method", "variant"], metrics=["asr"], diff=["rouge_l"])


def test_side_by_side_null_paper_cell_gives_nan_diff():
    ours = pd.DataFrame({"method": ["cbs"], "variant": ["orm"], "diversity": [0.5]})
    out = comparison.side_by_side(
        "table1",
        ours,
        on=["method", "variant"],
        metrics=["diversity"],
        paper_where={"model": "Llama-3.2-3B-Instruct"},
        diff=["diversity"],
    )
    row = out[(out.method == "cbs") & (out.variant == "orm")].iloc[0]
    assert math.isnan(row["diversity diff"])


def test_side_by_side_bad_inputs():
    ours = _ours_table3()
    with pytest.raises(ConfigError, match="no entry 'table99'.*known: obs1"):
        comparison.side_by_side("table99", ours, on=["method"], metrics=["asr"])
    with pytest.raises(ConfigError, match="our table lacks column.*accuracy"):
        comparison.side_by_side("table3", ours, on=["method", "variant"], metrics=["accuracy"])
    with pytest.raises(ConfigError, match="table3 lacks column.*win_tie"):
        comparison.side_by_side("table3", ours.assign(win_tie=1.0), on=["method", "variant"], metrics=["win_tie"])
    with pytest.raises(ConfigError, match="no column 'size' to select on"):
        comparison.side_by_side("table3", ours, on=["method", "variant"], metrics=["asr"], paper_where={"size": "1B"})
    # without selecting a model, the paper's rows repeat per model: an error, not a silent cross join
    with pytest.raises(ConfigError, match="the paper's rows are not unique on method, variant"):
        comparison.side_by_side("table3", ours, on=["method", "variant"], metrics=["asr"])
    with pytest.raises(ConfigError, match="our rows are not unique"):
        comparison.side_by_side(
            "table3",
            pd.concat([ours, ours]),
            on=["method", "variant"],
            metrics=["asr"],
            paper_where={"model": "Llama-3.2-1B"},
        )


# --- the values file's own validation ---------------------------------------------------
@pytest.fixture
def values_file(tmp_path, monkeypatch):
    """Point the module at a temporary values file (the cache is cleared around the test)."""
    path = tmp_path / "paper_values.yaml"
    monkeypatch.setattr(comparison, "VALUES_FILE", path)
    comparison._load.cache_clear()
    yield path
    comparison._load.cache_clear()


@pytest.mark.parametrize(
    "text,message",
    [
        (
            "t:\n  ref: T\n  setting: s\n  columns: [a, b]\n  rows:\n    - [1]\n",
            r"t\.rows\[0\]: 1 values for 2 columns",
        ),
        ("t:\n  ref: T\n  columns: [a]\n  rows: []\n", "t: missing 'setting'"),
        ("t:\n  ref: T\n  setting: s\n  colums: [a]\n  rows: []\n", "t: unknown key 'colums'"),
        ("t:\n  ref: T\n  setting: s\n  columns: [a]\n  rows: [3]\n", r"t\.rows\[0\]: expected a list"),
        ("t: 3\n", "t: expected a mapping"),
        ("- 1\n", "expected a mapping of entries"),
    ],
)
def test_bad_values_file_raises_config_error(values_file, text, message):
    values_file.write_text(text)
    with pytest.raises(ConfigError, match=message):
        comparison.paper_entry("t")


def test_good_values_file(values_file):
    values_file.write_text("t:\n  ref: T\n  setting: s\n  columns: [a, b]\n  rows:\n    - [x, null]\n")
    t = comparison.paper_table("t")
    assert list(t.columns) == ["a", "b"] and t.b.isna().all()
    with pytest.raises(ConfigError, match="no entry 'u'"):
        comparison.paper_entry("u")


# --- verdicts and records -------------------------------------------------------------
def _profile(name="smoke"):
    return types.SimpleNamespace(name=name)  # record() only reads the name


# the claims the tests below file: id -> (ref, notebook, words)
TEST_CLAIMS = {
    "t1": ("Table 1", "07_decoding_hh_rlhf", "SP-PRM helps."),
    "other": ("Table 1", "07_decoding_hh_rlhf", "SP-PRM helps."),
    "a": ("Table 1", "09_decoding_advbench", "SP-PRM helps."),
    "b": ("Table 1", "09_decoding_advbench", "SP-PRM helps."),
    "z": ("Table 1", "01_theorem1_toy", "SP-PRM helps."),
    "theorem1": ("Table 1", "01_theorem1_toy", "SP-PRM helps."),
    "obs1": ("Table 1", "02_obs1_score_consistency", "SP-PRM helps."),
    "table3": ("Table 3", "09_decoding_advbench", "ASR | drops $5"),
    "table4": ("Table 1", "10_decoding_gsm8k", "SP-PRM helps."),
    "gold-only": ("Table 1", "14_gold_lab", "SP-PRM helps."),
}


@pytest.fixture
def claims(values_file):
    """A values file with one entry (``t``, whose claim ``from-entry`` borrows) and TEST_CLAIMS."""
    lines = ["t:", "  ref: T", "  setting: s", "  claim: The entry's   words.", "  columns: [a]", "  rows: []"]
    test = ["    test:", "      estimand: an effect", "      paper_effect_from: not given"]
    lines += [
        "claims:",
        "  from-entry:",
        "    ref: T",
        "    notebook: 03_obs2_3_human_preference",
        "    values: t",
        *test,
    ]
    for key, (ref, notebook, words) in TEST_CLAIMS.items():
        lines += [f"  {key}:", f"    ref: {ref}", f"    notebook: {notebook}", f"    claim: {json.dumps(words)}", *test]
    values_file.write_text("\n".join(lines) + "\n")
    return values_file


@pytest.fixture
def home(tmp_path, monkeypatch, claims):
    monkeypatch.setenv("SP_PRM_HOME", str(tmp_path))
    return tmp_path


def _record(profile, claim_id="t1", verdict="inconclusive", **kw):
    return comparison.record(profile, claim_id, verdict=verdict, evidence="our numbers", setting="tiny models", **kw)


def test_record_writes_json_atomically_under_home(home):
    table = pd.DataFrame({"method": ["cbs"], "reward": [1.5]})
    shown = _record(_profile(), table=table)
    path = home / "build" / "results" / "smoke" / "t1.json"
    entry = json.loads(path.read_text())
    assert entry["verdict"] == "inconclusive" and entry["profile"] == "smoke" and entry["ref"] == "Table 1"
    assert entry["table"] == {"columns": ["method", "reward"], "data": [["cbs", 1.5]]}
    assert "Table 1: inconclusive" in shown.data
    _record(_profile(), verdict="reproduced")  # a rerun replaces the file
    assert json.loads(path.read_text())["verdict"] == "reproduced"
    assert sorted(p.name for p in path.parent.iterdir()) == ["t1.json"]  # no temporary files left


def test_record_rejects_unknown_verdict_and_writes_nothing(home):
    with pytest.raises(ConfigError, match="verdict must be one of reproduced, contradicted"):
        _record(_profile(), verdict="yes")
    assert not (home / "build").exists()


def test_record_takes_ref_words_and_notebook_from_the_claims(home):
    _record(_profile(), "table3")
    entry = json.loads((home / "build" / "results" / "smoke" / "table3.json").read_text())
    assert (entry["ref"], entry["notebook"], entry["claim"]) == TEST_CLAIMS["table3"]
    shown = _record(_profile(), "from-entry")
    entry = json.loads((home / "build" / "results" / "smoke" / "from-entry.json").read_text())
    assert entry["claim"] == "The entry's words." and entry["notebook"] == "03_obs2_3_human_preference"
    assert "*Paper:* The entry's words." in shown.data


def test_record_of_an_unknown_claim_names_it_and_writes_nothing(home):
    with pytest.raises(ConfigError, match="no claim 'nope' under claims; known: from-entry, t1"):
        _record(_profile(), "nope")
    assert not (home / "build").exists()


def test_record_not_run_says_why(home):
    shown = comparison.record_not_run(_profile(), "t1", "the profile leaves out sc")
    entry = json.loads((home / "build" / "results" / "smoke" / "t1.json").read_text())
    assert entry["verdict"] == "not run here" and entry["evidence"] == "not run: the profile leaves out sc."
    assert entry["setting"] == "profile smoke" and "Table 1: not run here" in shown.data
    comparison.record_not_run(_profile(), "t1", "no hub", setting="policy x")
    assert json.loads((home / "build" / "results" / "smoke" / "t1.json").read_text())["setting"] == "policy x"


@pytest.mark.parametrize(
    "claims_text,message",
    [
        ("claims:\n  c:\n    notebook: n\n    claim: w\n", r"claims\.c: missing 'ref'"),
        ("claims:\n  c:\n    ref: R\n    claim: w\n", r"claims\.c: missing 'notebook'"),
        ("claims:\n  c:\n    ref: R\n    notebook: n\n", r"claims\.c: missing 'claim'"),
        ("claims:\n  c:\n    ref: R\n    notebook: n\n    values: u\n", "values names no entry 'u'"),
        ("claims:\n  c:\n    ref: R\n    notebook: n\n    claim: w\n    nb: x\n", "unknown key 'nb'"),
        ("claims:\n  c:\n    ref: R\n    notebook: n\n    claim: w\n", "needs exactly one of test, tests or view_of"),
        (
            "claims:\n  c:\n    ref: R\n    notebook: n\n    claim: w\n    test: {kind: x}\n",
            r"claims\.c\.test: test\.estimand must say",
        ),
        ("claims:\n  c:\n    ref: R\n    notebook: n\n    claim: w\n    view_of: nope\n", "view_of must name a tested"),
        ("claims:\n  c: 3\n", r"claims\.c: expected a mapping"),
        ("claims: [1]\n", "claims: expected a mapping of claim ids"),
    ],
)
def test_bad_claims_section_raises_config_error(values_file, claims_text, message):
    values_file.write_text("t:\n  ref: T\n  setting: s\n  columns: [a]\n  rows: []\n" + claims_text)
    with pytest.raises(ConfigError, match=message):
        comparison.claim_entry("c")


def test_every_claim_a_notebook_files_is_in_the_values_file_with_that_notebook():
    """Each id passed to record/record_not_run in notebooks/src names a claim of that notebook,
    and every claim of the values file is filed by its notebook."""
    import ast

    filed = set()
    for path in sorted((ROOT / "notebooks" / "src").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            name = getattr(node, "func", None)
            name = getattr(name, "attr", getattr(name, "id", None))
            if isinstance(node, ast.Call) and name in ("record", "record_not_run"):
                claim_id = ast.literal_eval(node.args[1])
                assert comparison.claim_entry(claim_id)["notebook"] == path.stem, (path.stem, claim_id)
                assert not {k.arg for k in node.keywords} & {"ref", "claim", "notebook"}, (path.stem, claim_id)
                filed.add(claim_id)
    raw = yaml.safe_load(comparison.VALUES_FILE.read_text(encoding="utf-8"))
    assert filed == set(raw[comparison.CLAIMS])


def test_collected_in_notebook_order(home):
    _record(_profile(), "b")
    _record(_profile(), "z")
    _record(_profile(), "a")
    _record(_profile("tiny"), "other")
    assert [e["id"] for e in comparison.collected("smoke")] == ["z", "a", "b"]
    assert comparison.collected("paper") == []


def test_record_refuses_estimates_whose_test_names_are_not_the_claims(home):
    from sp_prm_lib.experiments.verdicts import ClaimTest, evaluate

    test = ClaimTest(estimand="e", paper_effect_from="f")
    res = evaluate({"a": np.linspace(-1, 2, 12)}, test)
    shown = pd.DataFrame({"test": ["other"], "part": ["a"], "estimate": ["+0.5"]})
    with pytest.raises(ConfigError, match="names no rows of test 'growth'"):
        comparison.record(_profile(), "t1", results={"growth": res}, estimates=shown, evidence="e", setting="s")
    assert not (home / "build").exists()

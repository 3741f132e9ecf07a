"""The results overview (``report.results_page``) built from fabricated verdict records."""

import json
import math
from pathlib import Path

import pytest

from sp_prm_lib.experiments.verdicts import VERDICTS, rules_markdown
from sp_prm_lib.report import results_page as rp

WIDEST_TABLE_LINE = 200  # characters of Markdown: six short cells, no prose


def _test(name="", verdict="inconclusive", **kw):
    out = {
        "test": name,
        "estimand": "SP-PRM minus ORM reward per prompt",
        "kind": "difference",
        "direction": "higher",
        "over": "every",
        "paper_effect": 0.05,
        "paper_effect_from": "Table 1's mean relative gain times our ORM reward",
        "margin": 0.0,
        "verdict": verdict,
        "why": f"because {verdict}",
        "decided_on": "args +0.010 [-0.020, +0.040] (n=16); cbs +0.020 [-0.010, +0.050] (n=16)",
        "n": 16,
        "mde": 0.071,
        "n_needed": 120.0,
    }
    out.update(kw)
    return out


def _estimates(*rows, test=None):
    columns = ["part", "estimate", "role"] + (["test"] if test else [])
    return {"columns": columns, "data": [[*r, test] if test else list(r) for r in rows]}


def _entry(cid, ref, verdict, notebook="07_decoding_hh_rlhf", tests=None, **kw):
    tests = [_test(verdict=verdict)] if tests is None else tests
    needed = [t["n_needed"] for t in tests if t.get("n_needed") is not None]
    out = {
        "id": cid,
        "ref": ref,
        "claim": f"The paper's words for {ref}.",
        "verdict": verdict,
        "why": f"why {cid}",
        "evidence": f"our numbers for {cid}",
        "setting": "tiny models",
        "notebook": notebook,
        "profile": "smoke",
        "tests": tests,
        "n_needed": max(needed) if needed else None,
        "mde": 0.071,
        "estimates": _estimates(
            ("args", "+0.010 [-0.020, +0.040] (n=16)", "decides"),
            ("pooled", "+0.015 [-0.005, +0.035] (n=16)", "shown"),
        ),
    }
    out.update(kw)
    return out


def _write(home, profile, entries):
    folder = home / "build" / "results" / profile
    folder.mkdir(parents=True, exist_ok=True)
    for e in entries:
        (folder / f"{e['id']}.json").write_text(json.dumps(e))


def _run_file(folder, profile):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "profile.json").write_text(json.dumps({"profile": profile, "timings": {}}))


LAB = [
    _entry("obs1", "Fig. 1 (bottom), observation 1", "reproduced", "02_obs1_score_consistency"),
    _entry("obs2", "Fig. 2a, observation 2", "contradicted", "03_obs2_3_human_preference"),
    _entry(
        "fig5",
        "Fig. 5",
        "smaller than the paper's",
        "06_score_consistency_after_training",
        tests=[_test(verdict="smaller than the paper's", n_needed=None, n=300, mde=0.023)],
    ),
    _entry("table1-reward", "Table 1 (reward)", "inconclusive", tests=[_test(n_needed=2400.0)]),
    _entry(
        "table2",
        "Table 2",
        "inconclusive",
        "08_decoding_tldr",
        tests=[
            _test("reward", "inconclusive", n_needed=35.0),
            _test("rouge_l", "reproduced", paper_effect=0.0128, n_needed=None),
        ],
        estimates={
            "columns": ["part", "estimate", "role", "test"],
            "data": [
                ["args", "+0.1 [+0.0, +0.2] (n=16)", "decides", "reward"],
                ["pooled", "+0.200 [-0.100, +0.500] (n=16)", "shown", "reward"],
                ["args", "+0.011 [+0.004, +0.018] (n=16)", "decides", "rouge_l"],
                ["pooled", "+0.012 [+0.006, +0.018] (n=16)", "shown", "rouge_l"],
            ],
        },
    ),
    _entry("table3", "Table 3", "not run here", "09_decoding_advbench", tests=[], estimates=None),
    _entry("fig8", "Fig. 8 (appendix E)", "inconclusive", "12_case_studies", view_of="table1-reward"),
]


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("SP_PRM_HOME", str(tmp_path))
    return tmp_path


def _page(home, tracks):
    executed = home / "executed"
    for sub, profile, entries in tracks:
        _run_file(executed / sub, profile)
        _write(home, profile, entries)
    (executed / "lab").mkdir(parents=True, exist_ok=True)
    (executed / "lab" / "02_obs1_score_consistency.ipynb").write_text("{}")
    toc = home / "_toc.yml"
    toc.write_text("root: intro\nchapters:\n- file: book/executed/lab/02_obs1_score_consistency\n")
    return rp.results_markdown(executed, toc)


def _section(page, start, end):
    return page[page.index(start) : page.index(end, page.index(start) + len(start))]


def test_counts_exclude_views_and_list_them_apart():
    assert rp.counts_line(LAB) == (
        "6 claims tested: 1 reproduced, 1 contradicted, 1 smaller than the paper's, 2 inconclusive, "
        "1 not run here; 1 view of another claim not counted (Fig. 8 (appendix E))."
    )
    assert rp.counts_line([]) == "0 claims tested: none."
    assert rp.counts_line(LAB[:1]) == "1 claim tested: 1 reproduced."


@pytest.mark.parametrize(
    "verdicts, expected",
    [
        (
            {"fig5": "smaller than the paper's", "table1-reward": "inconclusive", "obs1": "reproduced"},
            [
                "None of SP-PRM's own claims (Fig. 5 and Tables 1-5: 2 tested) held "
                "(Fig. 5 smaller than the paper's; Table 1 inconclusive)",
                "What reproduced are only the paper's observations about outcome reward models "
                "(observation 1), not claims about SP-PRM.",
            ],
        ),
        (
            {"fig5": "reproduced", "table1-reward": "reproduced", "obs1": "inconclusive"},
            ["Every one of SP-PRM's own claims held (Fig. 5 and Table 1)."],
        ),
        (
            {"fig5": "reproduced", "table1-reward": "contradicted", "obs1": "reproduced"},
            [
                "1 of SP-PRM's 2 own claims held (Fig. 5). Of the others: Table 1 contradicted.",
                "Of the paper's observations about outcome reward models, observation 1 reproduced.",
            ],
        ),
        ({"obs1": "inconclusive"}, ["None of SP-PRM's own claims (Fig. 5, Tables 1-5) was tested here.", "Nothing"]),
    ],
)
def test_bottom_line_in_plain_words(verdicts, expected):
    refs = {"fig5": "Fig. 5", "table1-reward": "Table 1", "obs1": "Fig. 1 (bottom), observation 1"}
    entries = [_entry(k, refs[k], v) for k, v in verdicts.items()]
    entries.append(_entry("fig8", "Fig. 8", "reproduced", view_of="table1-reward"))  # a view never counts
    text = rp.bottom_line(entries)
    for words in expected:
        assert words in text, text
    assert "Fig. 8" not in text


def test_bottom_line_classifies_the_papers_claims():
    kinds = {
        "Fig. 5": "own",
        "Table 1 (+Ablation), section 5.3.2": "own",
        "Table 5": "own",
        "Table 9 (appendix C.3)": "other",
        "Theorem 1": "other",
        "Fig. 2c, observation 4": "observation",
        "Fig. 1 (bottom), observation 1": "observation",
    }
    assert {ref: rp._kind({"ref": ref}) for ref in kinds} == kinds
    assert rp.bottom_line([]) == "no claim was tested."
    refs = [{"ref": "Fig. 2a, observation 2"}, {"ref": "Table 1 (+Ablation), section 5.3.2"}, {"ref": "Table 2"}]
    assert rp._refs(refs) == "observation 2, Table 1 (+Ablation) and Table 2"


def test_the_page(home):
    page = _page(home, [("", "smoke", LAB[:2]), ("lab/", "smoke-lab", LAB)])
    lines = page.splitlines()
    assert lines[0] == "# Results overview: the paper's claims at our scale"
    order = ["## The bottom line", "## How to read a verdict", "## What each track can and cannot show"]
    order += ["## gold lab (profile `smoke-lab`)", "## gold lab: evidence, claim by claim", "## Notebook run times"]
    assert [page.index(h) for h in order] == sorted(page.index(h) for h in order)
    bottom = _section(page, "## The bottom line", "## How to read")
    assert "- **gold lab**: None of SP-PRM's own claims (Fig. 5 and Tables 1-5: 4 tested) held" in bottom
    assert "6 claims tested: 1 reproduced" in bottom and "2 claims tested: 1 reproduced, 1 contradicted." in bottom
    assert rules_markdown() in page  # the rules text comes from verdicts, not retyped
    lab = _section(page, "## gold lab (profile `smoke-lab`)", "## HH-RLHF")
    heads = [line for line in lab.splitlines() if line.startswith("**") and line.endswith("**")]
    assert heads == [
        "**Reproduced**",
        "**Contradicted**",
        "**Smaller than the paper's**",
        "**Inconclusive (needs n >= 35 to 2,400)**",
        "**Not run here**",
    ]
    assert "**The numbers** (gold lab)" in lab
    assert (
        "- **Table 1 (reward)** (needs n >= 2,400): why table1-reward (`07_decoding_hh_rlhf` (not in this build))"
        in lab
    )
    assert "- **Fig. 1 (bottom), observation 1**: why obs1 ({doc}`02_obs1_score_consistency <lab/02_obs1" in lab
    assert "- **Fig. 8 (appendix E)**: a view of Table 1 (reward); inconclusive" in lab
    group = _section(lab, "**Inconclusive", "**Not run here**")
    assert "Fig. 8" not in group  # a view is listed apart, not in a verdict group


def test_the_numbers_table_is_narrow(home):
    page = _page(home, [("lab/", "smoke-lab", LAB)])
    table = [line for line in page.splitlines() if line.startswith("|")]
    assert table[0] == "| Paper | Verdict | Our estimate | Paper's effect | Detectable at n | n for 80% power |"
    assert max(len(line) for line in table) <= WIDEST_TABLE_LINE
    assert all(line.count(" | ") == 5 for line in table if line.startswith("| "))  # no stray column breaks
    rows = {line.split(" | ")[0][2:]: line for line in table[2:]}
    assert rows["Table 1 (reward)"] == (
        "| Table 1 (reward) | inconclusive | args +0.010 [-0.020, +0.040] | +0.05 | 0.071 (n=16) | 2,400 |"
    )
    assert "| args +0.011 [+0.004, +0.018] | +0.0128 |" in rows["Table 2: rouge_l"]  # the deciding row, not the pool
    assert "| args +0.1 [+0.0, +0.2] |" in rows["Table 2: reward"]
    assert rows["Fig. 5"].endswith("| +0.05 | 0.023 (n=300) | - |")
    assert rows["Table 3"] == "| Table 3 | not run here | - | - | - | - |"
    assert "Fig. 8 (appendix E)" not in rows  # views are not counted again


def test_the_evidence_says_how_each_claim_was_tested(home):
    page = _page(home, [("lab/", "smoke-lab", LAB)])
    evidence = page[page.index("## gold lab: evidence, claim by claim") :]
    t2 = _section(evidence, "### Table 2 (gold lab): inconclusive", "### ")
    assert "**Why.** why table2" in t2 and "**Our evidence.** our numbers for table2" in t2
    assert (
        "- *reward*: SP-PRM minus ORM reward per prompt; a difference, every part must hold (intersection-union), "
        "the paper's side: higher; paper's effect +0.05 (Table 1's mean relative gain times our ORM reward); "
        "decided on args +0.010 [-0.020, +0.040] (n=16); cbs +0.020 [-0.010, +0.050] (n=16); detectable at n: "
        "0.071 (n=16); n for 80% power: 35; **inconclusive** (because inconclusive)." in t2
    )
    assert "A view of Table 1 (reward), shown again and not counted." in evidence
    bare = rp._how_tested({"verdict": "inconclusive"}, {})
    assert (
        bare
        == "- the effect; a difference; paper's effect -; detectable at n: -; n for 80% power: -; **inconclusive**."
    )


@pytest.mark.parametrize(
    "test, expected",
    [
        (_test(kind="bound", paper_effect=None), "a bound"),
        (_test(kind="non-inferiority", paper_effect=None, margin=0.021), "margin 0.021"),
        (_test(direction="lower", paper_effect=0.022), "-0.022"),
        (_test(paper_effect=None), "-"),
    ],
)
def test_papers_effect_cell(test, expected):
    assert rp._paper_effect(test) == expected


def test_a_bound_shows_the_levels_it_was_tested_against():
    rows = [["5", "decides", "+0.450"], ["50", "decides", "+0.650"], ["pooled", "shown", "+0.450"]]
    entry = {"estimates": {"columns": ["part", "role", "tested against"], "data": rows}}
    test = _test(kind="bound", direction="lower", paper_effect=None)
    assert rp._paper_effect(test, entry) == "below +0.450/+0.650"


def test_old_records_without_why_or_tests_do_not_break_the_page(home):
    old = {
        "id": "obs1",
        "ref": "Fig. 1 (bottom), observation 1",
        "claim": "c",
        "verdict": "reproduced",
        "evidence": "e",
        "setting": "s",
        "notebook": "02_obs1_score_consistency",
        "profile": "smoke",
        "estimates": {"columns": ["method", "estimate"], "data": [["a", "+1"], ["pooled", "+0.2 [+0.1, +0.3]"]]},
    }
    odd = {"id": "x", "ref": "Table 4", "verdict": "maybe", "notebook": "10_decoding_gsm8k", "tests": "?"}
    page = _page(home, [("", "smoke", [old, odd])])
    assert "| Fig. 1 (bottom), observation 1 | reproduced | pooled +0.2 [+0.1, +0.3] | - | - | - |" in page
    assert "- **Fig. 1 (bottom), observation 1**: no reason recorded" in page
    assert "**Maybe**" in page and "1 maybe" in page  # an unknown verdict word is shown, not dropped


def test_infinite_or_missing_numbers_read_as_dashes():
    assert rp._count(None) == "-" and rp._count(math.inf) == "-" and rp._count(34.2) == "35"
    assert rp._detectable({"mde": None}) == "-"


def test_every_verdict_word_has_a_group_heading():
    for v in VERDICTS:
        assert rp._group_heading(v, [{"n_needed": None}]).lower().startswith(v)
    assert rp._group_heading("inconclusive", [{"n_needed": 40.0}, {"n_needed": 40.0}]) == "Inconclusive (needs n >= 40)"


def test_a_record_with_units_needed_beyond_the_limit_is_written(home, monkeypatch):
    """units_needed is inf past 100,000 units: the record must still be valid JSON (null there)."""
    import numpy as np

    from sp_prm_lib.config.profile import load_profile
    from sp_prm_lib.experiments import comparison
    from sp_prm_lib.experiments.verdicts import ClaimTest, evaluate

    test = ClaimTest.parse({"estimand": "e", "paper_effect": 1e-4, "paper_effect_from": "tiny"}, "t")
    result = evaluate({"m": np.random.default_rng(0).normal(0, 1, 10)}, test, n_boot=199)
    assert result.units_needed == math.inf and "more than 100,000" in result.why
    claim = next(iter(comparison._load()[1]))
    comparison.record(load_profile("smoke"), claim, result=result, evidence="e", setting="s")
    entry = json.loads((home / "build" / "results" / "smoke" / f"{claim}.json").read_text())
    assert entry["tests"][0]["n_needed"] is None and entry["n_needed"] is None


# --- the pages scripts/build_book.py writes ---------------------------------------------------
def _build_book():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "scripts" / "build_book.py"
    spec = importlib.util.spec_from_file_location("build_book_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_build_book_writes_the_overview_and_its_companion_pages(home):
    executed = home / "executed"
    executed.mkdir()
    timings = {
        "01_theorem1_toy": {"seconds": 12.3, "cached": False, "commit": "abc1234", "finished": "2026-12-01 10:00 UTC"},
        "09_decoding_advbench": {"seconds": 4.0, "cached": True},
    }
    (executed / "profile.json").write_text(json.dumps({"profile": "smoke", "timings": timings}))
    (executed / "01_theorem1_toy.ipynb").write_text("{}")
    entries = [
        _entry("theorem1", "Theorem 1", "reproduced", "01_theorem1_toy", tests=[]),
        _entry("table3", "Table 3", "contradicted", "09_decoding_advbench", claim="ASR | drops $5"),
    ]
    entries[1]["evidence"] = "line one\nline two"
    _write(home, "smoke", entries)
    page = _build_book().write_results_page(executed).read_text()
    assert page.startswith("# Results overview")
    assert "profile `smoke`" in page and "SmolLM2-135M-Instruct" in page
    assert "2 claims tested: 1 reproduced, 1 contradicted." in page
    assert "{doc}`01_theorem1_toy <01_theorem1_toy>`" in page
    assert "`09_decoding_advbench` (not in this build)" in page  # no link to a page the build lacks
    assert "ASR \\| drops \\$5" in page and "**Our evidence.** line one line two" in page
    assert "### Table 3 (HH-RLHF, human labels): contradicted" in page
    assert "{doc}`execution`" in page  # run times on their own page
    execution = (executed / "execution.md").read_text()
    assert (
        execution.startswith("# How this build ran")
        and "| 12.3 | run | `abc1234` | 2026-12-01 10:00 UTC |" in execution
    )
    assert "This build ran no gold lab" in (executed / "lab" / "index.md").read_text()
    study = (executed / "recipe_study.md").read_text()
    assert study.startswith("# How good can a small reward model get?")
    budget = (executed / "budget_study.md").read_text()
    assert budget.startswith("# Does SP-PRM training move the PRM?")


def test_an_old_claim_over_two_metrics_shows_both_pooled_estimates(home):
    estimates = {
        "columns": ["metric", "method", "estimate"],
        "data": [
            ["reward", "bon", "-0.1 [-0.2, -0.0]"],
            ["reward", "pooled", "-0.003 [-0.008, -0.000]"],
            ["accuracy", "bon", "+0.0 [+0.0, +0.0]"],
            ["accuracy", "pooled", "+0.000 [+0.000, +0.000]"],
        ],
    }
    entry = _entry("table4", "Table 4", "contradicted", "10_decoding_gsm8k", tests=[], estimates=estimates)
    assert rp._estimate(entry) == "reward -0.003 [-0.008, -0.000]; accuracy +0.000 [+0.000, +0.000]"


def test_results_page_without_a_run(tmp_path):
    page = _build_book().results_page(tmp_path)
    assert page.startswith("# Results overview") and "make reproduce" in page


def test_every_claim_of_the_values_file_fits_the_numbers_table():
    """The worst case: every claim and test of paper_values.yaml with long estimates and numbers."""
    from sp_prm_lib.experiments import comparison

    entries = []
    for cid, claim in comparison._load()[1].items():
        if "view_of" in claim:
            continue
        names = list(claim.get("tests") or [""])
        tests = [
            _test(n, "smaller than the paper's", paper_effect=0.123456, mde=0.0123456, n=300, n_needed=99999.0)
            for n in names
        ]
        rows = [["pooled", "-0.012 [-0.045, +0.078] (n=300)", "shown", n] for n in names]
        estimates = {"columns": ["part", "estimate", "role", "test"], "data": rows}
        entries.append(_entry(cid, claim["ref"], "smaller than the paper's", tests=tests, estimates=estimates))
    table = rp._numbers_table(entries)
    assert len(table) == 2 + sum(max(1, len(e["tests"])) for e in entries)
    assert max(len(line) for line in table) <= WIDEST_TABLE_LINE - 50, max(table, key=len)


def test_the_page_reads_what_record_writes(home):
    """End to end: verdicts filed by comparison.record for real claims of the values file."""
    import numpy as np

    from sp_prm_lib.config.profile import load_profile
    from sp_prm_lib.experiments import comparison

    profile = load_profile("smoke")
    rng = np.random.default_rng(0)
    parts = {m: rng.normal(0.0, 1.0, 16) for m in ("args", "cbs")}
    results = {
        name: comparison.check(profile, "table2", parts, test=name, scale=2.0 if name == "reward" else None)
        for name in comparison.claim_test_names("table2")
    }
    comparison.record(profile, "table2", results=results, evidence="e", setting="s")
    levels = {"5": (rng.random(40) < 0.9).astype(float), "50": (rng.random(40) < 0.95).astype(float)}
    obs2 = comparison.check(profile, "obs2", levels)
    comparison.record(profile, "obs2", result=obs2, evidence="e", setting="s")
    comparison.record(profile, "fig8", verdict="inconclusive", why="as Table 1 (reward)", evidence="e", setting="s")
    executed = home / "executed"
    _run_file(executed, "smoke")
    page = rp.results_markdown(executed, home / "_toc.yml")
    table = {line.split(" | ")[0][2:]: line for line in page.splitlines() if line.startswith("| ")}
    assert set(table) >= {"Table 2: reward", "Table 2: rouge_l", "Fig. 2a, observation 2"}
    assert "Fig. 8 (appendix E)" not in table and "1 view of another claim not counted (Fig. 8" in page
    row = table["Table 2: reward"].split(" | ")
    deciding = results["reward"].deciding()
    weakest = deciding.loc[deciding.ci_low.idxmin(), "part"]  # the part closest to failing (higher is the paper's)
    assert row[2].startswith(f"weakest of {len(deciding)}: {weakest} ") and "(n=" not in row[2]
    assert row[3] == f"+{results['reward'].test.paper_effect:.3g}"  # the relative effect times the scale
    assert row[5].rstrip(" |") == f"{math.ceil(results['reward'].units_needed):,}"
    assert table["Fig. 2a, observation 2"].split(" | ")[3] == "above +0.650"
    assert f"**{obs2.verdict[0].upper() + obs2.verdict[1:]}" in page


def test_execution_page_shows_each_notebooks_load_and_says_what_it_means(tmp_path):
    from sp_prm_lib.report.execution_page import execution_markdown

    executed = tmp_path / "executed"
    executed.mkdir()
    timings = {
        "02_obs1_score_consistency": {"seconds": 70.3, "cached": False, "commit": "abc", "finished": "x", "load": 3.1},
        "03_obs2_3_human_preference": {"seconds": 12.0, "cached": True, "commit": "abc", "finished": "y"},
    }
    (executed / "profile.json").write_text(json.dumps({"profile": "smoke", "path": "smoke", "timings": timings}))
    toc = tmp_path / "_toc.yml"
    toc.write_text("format: jb-book\nroot: intro\n")
    page = execution_markdown(executed, toc)
    rows = [line for line in page.splitlines() if line.startswith("| `0")]
    assert rows[0].endswith("| 3.10 |")  # the load when 02 finished
    assert rows[1].endswith("| y |  |")  # no load recorded: an empty cell, not a made-up number
    assert "Load at the end" in page and "not a clean measurement" in page
    assert "| **total** | **82.3** | | | | |" in page


def test_execution_page_lists_the_fresh_clone_runs_against_the_budget(tmp_path):
    from sp_prm_lib.report.execution_page import execution_markdown, fresh_clone_markdown
    from sp_prm_lib.report.teaching_times import load_reference

    reference = {
        "budget": {"seconds": 2700},
        "runs": [
            {
                "date": "2026-12-01",
                "commit": "aaa",
                "reproduce_seconds": 2459,
                "cached_reproduce_seconds": 53,
                "machine": "quiet",
            },
            {"date": "2026-12-02", "commit": "bbb", "track_seconds": {"tiny": 1}},  # no whole-run time: left out
            {"date": "2026-12-07", "commit": "ccc", "reproduce_seconds": 3534, "machine": "load 1.0-2.1"},
        ],
    }
    page = "\n".join(fresh_clone_markdown(reference))
    assert "| 2026-12-01 | `aaa` | 40 min 59 s | 0 min 53 s | quiet |" in page
    assert "| 2026-12-07 | `ccc` | 58 min 54 s |  | load 1.0-2.1 |" in page and "`bbb`" not in page
    assert "the budget is 45 min 00 s cold" in page
    assert "The latest measured cold run (2026-12-07) is over the budget by 13 min 54 s." in page
    reference["runs"][-1]["reproduce_seconds"] = 2600
    assert "within the budget by 1 min 40 s" in "\n".join(fresh_clone_markdown(reference))
    assert fresh_clone_markdown({"runs": []}) == []
    # the page itself, with no notebook run in the build, still shows the committed record
    executed = tmp_path / "executed"
    executed.mkdir()
    committed = load_reference(Path(__file__).parents[1] / "results" / "run_times" / "reference.json")
    shown = execution_markdown(executed, tmp_path / "_toc.yml", committed)
    assert "No run is recorded in this build." in shown and "## Whole runs on fresh clones" in shown

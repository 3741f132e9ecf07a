"""The book's window-fix page (``report/window_page.py``) from the before/after records."""

import json
from pathlib import Path

from sp_prm_lib.report.window_page import record_command, record_markdown, window_markdown

RESULTS = Path(__file__).parents[1] / "results" / "window"


def _record(**over):
    record = {
        "profile": "lab",
        "pairs": 3,
        "judge": "gold",
        "max_length": 128,
        "response_budget": 64,
        "models": "current",
        "old_window_contexts": {"orm": {"pairs": 3, "different_contexts": 2 / 3, "mean_abs_token_difference": 12.5}},
        "rows": [
            {
                "quantity": "ar_rm_sc",
                "rm": "orm",
                "t": "5",
                "old": [0.5, 0.4, 0.6],
                "new": [0.6, 0.5, 0.7],
                "change": [0.1, 0.02, 0.18],
                "n": 3,
            },
            {
                "quantity": "ar_rm_sc sp-prm - orm",
                "rm": "sp-prm-orm",
                "t": "pooled t",
                "old": [0.0, -0.1, 0.1],
                "new": [0.01, -0.1, 0.1],
                "change": [0.01, -0.05, 0.07],
                "n": 3,
            },
        ],
        "seconds": 12.0,
    }
    return {**record, **over}


def test_a_change_whose_interval_excludes_zero_is_bold_and_others_are_not():
    text = record_markdown(_record())
    assert "| **+0.100 [+0.020, +0.180]** | 3 |" in text
    assert "| +0.010 [-0.050, +0.070] | 3 |" in text
    assert "AR_RM-SC, sp-prm - orm, pooled over t" in text
    assert "the two sides of 67% of 3 pairs got different contexts (by 12.5 tokens" in text


def test_the_command_says_which_models_were_scored():
    assert record_command(_record()) == "python scripts/window_before_after.py --profile lab --models current"
    old = _record(models={"orm": "abc"})
    assert record_command(old) == "python scripts/window_before_after.py --profile lab"
    assert "trained under the old window" in record_markdown(old)


def test_the_page_without_records_says_so():
    assert "No before/after results are in `results/window/` yet." in window_markdown([])


def test_every_committed_record_renders_one_table_row_per_result_row():
    records = [json.loads(p.read_text()) for p in sorted(RESULTS.glob("*.json"))]
    assert records, "results/window/ has no record"
    page = window_markdown(records)
    for record in records:
        assert f"## {record['profile']}: {record['pairs']} pairs" in page
        assert record_markdown(record).count("\n| ") == len(record["rows"]) + 1  # + the header row


def test_the_default_tracks_come_first():
    page = window_markdown([_record(profile="smoke"), _record(profile="lab"), _record(profile="tiny")])
    assert page.index("## tiny:") < page.index("## lab:") < page.index("## smoke:")

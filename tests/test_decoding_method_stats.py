"""CARDS statistics in the decoding tables: records' stats -> generation columns -> table means."""

from __future__ import annotations

import math

import pandas as pd

from sp_prm_lib.experiments.decoding_tables import STAT_COLUMNS, summarise, with_method_stats


def _generations(method: str, stats: list[dict]) -> pd.DataFrame:
    n = len(stats)
    rec = pd.DataFrame({"index": range(n), "stats": stats})
    frame = pd.DataFrame(
        {
            "index": range(n),
            "tokens": [8] * n,
            "time_s": [0.5] * n,
            "reward": [1.0] * n,
            "ref_reward": [0.5] * n,
            "diversity": [0.9] * n,
            "coherence": [0.6] * n,
            "accuracy": [100.0] * n,
        }
    )
    frame = with_method_stats(frame, rec)
    frame.insert(0, "variant", "orm")
    frame.insert(0, "ours", method)
    frame.insert(0, "method", method)
    return frame


def test_cards_acceptance_and_segment_length_reach_the_table():
    cards = _generations(
        "cards",
        [
            {"segments": 4, "acceptance": 0.5, "segment_tokens": 4.0, "tau_u": 2.5, "reward_threshold": 0.1},
            {"segments": 2, "acceptance": 1.0, "segment_tokens": 2.0, "tau_u": 2.5, "reward_threshold": 0.1},
        ],
    )
    assert set(STAT_COLUMNS) <= set(cards.columns)
    args = _generations("args", [{}, {}])
    assert not set(STAT_COLUMNS) & set(args.columns)
    table = summarise(pd.concat([args, cards], ignore_index=True), "gsm8k").set_index("method")
    assert table.loc["cards", "acceptance"] == 0.75 and table.loc["cards", "segment_tokens"] == 3.0
    assert table.loc["cards", "tau_u"] == 2.5 and table.loc["cards", "reward_threshold"] == 0.1
    assert math.isnan(table.loc["args", "acceptance"])
    # threshold: prefix uses no reward threshold (None in the stats)
    prefix = _generations("cards", [{"acceptance": 1.0, "segment_tokens": 3.0, "tau_u": 2.0, "reward_threshold": None}])
    row = summarise(prefix, "gsm8k").iloc[0]
    assert row.acceptance == 1.0 and "reward_threshold" not in row.index or math.isnan(row.reward_threshold)

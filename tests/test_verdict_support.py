"""A difference of 0/1 outcomes is signed (an unseen loss is possible), and a constant sample
decides nothing: the two ways the smoke runs read a verdict from two identical answers."""

from __future__ import annotations

import math

import numpy as np

from sp_prm_lib.core.intervals import mean_interval
from sp_prm_lib.experiments.verdicts import ClaimTest, evaluate

DIFF = ClaimTest(estimand="a difference", paper_effect=0.05, paper_effect_from="test")


def test_three_wins_five_ties_is_not_reproduced_and_its_interval_goes_below_zero():
    wins = np.array([1, 1, 1, 0, 0, 0, 0, 0], dtype=float)  # exact sign test: p = 0.25
    r = evaluate({"m": wins}, DIFF, n_boot=199)
    assert r.verdict == "inconclusive", r.why
    assert r.table.ci_low.iloc[0] < 0  # binary support would clip at 0
    bound = ClaimTest(estimand="a level", kind="bound", null=0.2, paper_effect_from="test")
    level = evaluate({"m": wins}, bound, n_boot=199)  # a level of 0/1 outcomes stays binary
    assert level.table.ci_low.iloc[0] >= 0


def test_identical_answers_decide_nothing():
    for values in (np.zeros(2), np.zeros(8), np.full(8, 0.3)):
        r = evaluate({"m": values}, DIFF, n_boot=199)
        assert r.verdict == "inconclusive", (values, r.verdict, r.why)
    iv = mean_interval(np.zeros(8), support="signed", n_boot=199)
    assert iv.low < 0 < iv.high and math.isclose(-iv.low, iv.high)  # all ties: symmetric, not [0, 0]
    assert math.isnan(mean_interval(np.full(5, 0.3), n_boot=199).low)  # no spread measured: no interval

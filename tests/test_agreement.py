"""Agreement rates and reward gap: toy scorers with known answers, CIs, both prefix units."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.evaluation.agreement import (
    DEFAULT_TS,
    agreement_table,
    evaluate_reward_model,
    judge_prefix_orders,
    prefix_score_table,
    prefix_texts,
    rm_per_pair,
    rm_prefix_scores,
    wide,
)
from sp_prm_lib.judge import Judge, Verdict
from sp_prm_lib.models.tiny import byte_tokenizer, tiny_model
from sp_prm_lib.scoring.reward_model import RewardModel


class ToyRM:
    """RewardModel-like: reward = sign * (#'a' - #'b') of the text; byte tokens as its tokens."""

    def __init__(self, sign: float = 1.0):
        self.sign, self.tokenizer = sign, byte_tokenizer()

    def _r(self, text):
        return self.sign * (text.count("a") - text.count("b"))

    def score(self, prompts, responses):
        assert len(prompts) == len(responses)
        return torch.tensor([float(self._r(r)) for r in responses])

    def response_ids(self, texts):
        return self.tokenizer(list(texts), add_special_tokens=False).input_ids

    def response_lengths(self, texts):
        return [len(ids) for ids in self.response_ids(texts)]

    def identical_prefixes(self, prompts, chosen, rejected, wanted):
        ids_w, ids_l = self.response_ids(chosen), self.response_ids(rejected)
        return np.array(
            [[w == r if t is None else w[:t] == r[:t] for t in cuts] for w, r, cuts in zip(ids_w, ids_l, wanted)]
        )

    def score_prefixes(self, prompts, responses, lengths):
        ids = self.tokenizer(list(responses), add_special_tokens=False).input_ids
        return [
            torch.tensor([float(self._r(self.tokenizer.decode(seq[:t]))) for t in ts]) for seq, ts in zip(ids, lengths)
        ]


class CountingJudge(Judge):
    """Prefers the answer with more 'a's (the toy RM's order); or a position-biased / garbage judge."""

    def __init__(self, mode="a"):
        self.mode, self.name = mode, f"counting-{mode}"

    def compare(self, items):
        out = []
        for c in items:
            if self.mode == "first":
                out.append(Verdict(1))
            elif self.mode == "garbage":
                out.append(Verdict(None, "???"))
            else:
                da, db = c.answer_a.count("a"), c.answer_b.count("a")
                out.append(Verdict(-1 if da == db else (1 if da > db else 2)))
        return out


def _pairs(n=12, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        rows.append(
            {
                "prompt": f"\n\nHuman: question {i}?\n\nAssistant:",
                "chosen": " ".join("a" * int(rng.integers(1, 4)) for _ in range(int(rng.integers(8, 30)))),
                "rejected": " ".join("b" * int(rng.integers(1, 4)) for _ in range(int(rng.integers(8, 30)))),
            }
        )
    return pd.DataFrame(rows)


def _value(table, metric, t):
    rows = table[(table.metric == metric) & (table.t.isna() if t is None else table.t == t)]
    assert len(rows) == 1
    return rows.iloc[0]


@pytest.mark.parametrize("unit", ["token", "word"])
def test_consistent_rm_scores_one_and_reversed_rm_zero(unit):
    pairs = _pairs()
    good = agreement_table(pairs, rm=ToyRM(), judge=CountingJudge(), unit=unit, n_boot=200)
    bad = agreement_table(pairs, rm=ToyRM(-1.0), judge=CountingJudge(), unit=unit, n_boot=200)
    for t in list(DEFAULT_TS) + [None]:
        assert _value(good, "ar_rm_sc", t).value == 1.0 and _value(bad, "ar_rm_sc", t).value == 0.0
        assert _value(good, "ar_rm_hp", t).value == 1.0 and _value(bad, "ar_rm_hp", t).value == 0.0
        assert _value(good, "ar_sc_hp", t).value == 1.0 and _value(bad, "ar_sc_hp", t).value == 1.0
        assert _value(good, "reward_gap", t).value == pytest.approx(_value(bad, "reward_gap", t).value)
    row = _value(good, "ar_rm_sc", 5)
    assert (row.ci_low, row.ci_high, row.n, row.excluded, row.unit) == (1.0, 1.0, len(pairs), 0, unit)
    assert set(good.metric) == {"ar_rm_sc", "ar_rm_own", "reward_gap", "ar_sc_hp", "ar_rm_hp"}
    for t in list(DEFAULT_TS) + [None]:  # both RMs keep their own full order on every prefix
        assert _value(good, "ar_rm_own", t).value == 1.0 and _value(bad, "ar_rm_own", t).value == 1.0


def test_reward_gap_values_and_cis():
    pairs = pd.DataFrame({"prompt": ["p", "q"], "chosen": ["aaaaaaaaaa", "aaaaa"], "rejected": ["bbbbbbbbbb", "bb"]})
    table = agreement_table(pairs, [1, 3, 6], rm=ToyRM(), n_boot=500)
    gaps = wide(table).reward_gap.tolist()
    assert gaps == pytest.approx([2.0, (6 + 5) / 2, (12 + 7) / 2, (20 + 7) / 2])  # t = 1, 3, 6, full
    row = _value(table, "reward_gap", 6)
    assert row.ci_low <= row.value <= row.ci_high and row.ci_low >= 7 and row.ci_high <= 12
    again = agreement_table(pairs, [1, 3, 6], rm=ToyRM(), n_boot=500)
    pd.testing.assert_frame_equal(table, again)  # seeded bootstrap


def test_judge_ties_and_unparseable_replies():
    pairs = _pairs(6)
    biased = agreement_table(pairs, [5, 10], rm=ToyRM(), judge=CountingJudge("first"), unit="word", n_boot=50)
    row = _value(biased, "ar_sc_hp", 5)
    assert row.value == 0.0 and row.hp_ties == len(pairs)  # order-dependent verdicts are ties
    garbage = agreement_table(pairs, [5], judge=CountingJudge("garbage"), unit="word", n_boot=50)
    row = _value(garbage, "ar_sc_hp", 5)
    assert np.isnan(row.value) and row.n == 0 and row.excluded == len(pairs)


def test_token_prefixes_follow_the_rm_tokenizer_and_match_metrics_module():
    model, tok = tiny_model("llama-reward", seed=1)
    rm = RewardModel(model, tok, convention="closed", batch_size=4)
    pairs = _pairs(4)
    ts = [5, 20]
    scores = rm_prefix_scores(rm, pairs, ts)
    reference = prefix_score_table(rm, pairs, ts)
    np.testing.assert_allclose(scores["chosen"], reference["chosen"])
    table = agreement_table(pairs, ts, rm=rm, n_boot=50)
    naive = [float(np.mean(reference["chosen"][:, j] > reference["rejected"][:, j])) for j in range(len(ts) + 1)]
    np.testing.assert_allclose(wide(table).ar_rm_sc.to_numpy(dtype=float), naive)
    summary = evaluate_reward_model(rm, pairs, ts)
    assert summary["accuracy"] == naive[-1] and [summary["ar_rm_sc"][t] for t in ts] == naive[:-1]
    assert prefix_texts(["hello world"], [5], "token", tok) == [["hello"]]
    orders = judge_prefix_orders(CountingJudge(), pairs, ts, "token", tok)
    assert orders.shape == (4, 3) and set(np.unique(orders)) <= {1.0}


def test_the_two_ar_rm_sc_quantities_differ_for_an_rm_at_odds_with_the_labels():
    # full order: the RM prefers y_w on pair 0 (agrees with the label) and y_l on pair 1 (does not)
    scores = {"chosen": np.array([[1.0, 2.0], [0.0, -3.0]]), "rejected": np.array([[0.0, 1.0], [1.0, 3.0]])}
    per_pair = rm_per_pair(scores)
    # against the label: pair 0 agrees at t and in full; pair 1 never
    assert per_pair["ar_rm_sc"].tolist() == [[1.0, 1.0], [0.0, 0.0]]
    # against the RM's own full order: both pairs keep it at t
    assert per_pair["ar_rm_own"].tolist() == [[1.0, 1.0], [1.0, 1.0]]


def test_identical_prefixes_are_ties_not_random_orders():
    pairs = pd.DataFrame({"prompt": ["p", "q"], "chosen": ["aab", "ab a"], "rejected": ["aaxbb", "ab b"]})
    scores = prefix_score_table(ToyRM(), pairs, [2, 3])
    assert scores["identical"].tolist() == [[True, False, False], [True, True, False]]
    scores["chosen"][:, 0] += 1e-8  # what packing noise does to two identical prefixes
    per_pair = rm_per_pair(scores)
    assert per_pair["ar_rm_sc"][:, 0].tolist() == [0.0, 0.0] and per_pair["reward_gap"][:, 0].tolist() == [0, 0]
    assert per_pair["ar_rm_own"][:, 0].tolist() == [0.0, 0.0]


def test_bad_input():
    pairs = _pairs(3)
    with pytest.raises(ConfigError, match="prefix unit must be one of token, word"):
        agreement_table(pairs, rm=ToyRM(), unit="chars")
    with pytest.raises(ConfigError, match="no pairs to measure"):
        agreement_table(pairs.head(0), rm=ToyRM())
    with pytest.raises(ConfigError, match="prefix lengths must be"):
        agreement_table(pairs, [0, 5], rm=ToyRM())
    with pytest.raises(ConfigError, match="nothing to measure"):
        agreement_table(pairs)
    with pytest.raises(ConfigError, match="token prefixes need a tokenizer"):
        agreement_table(pairs, judge=CountingJudge())
    with pytest.raises(ConfigError, match="lack column"):
        agreement_table(pairs.drop(columns="rejected"), rm=ToyRM())

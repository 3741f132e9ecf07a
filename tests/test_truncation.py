"""Prefix truncation for D_partial (TLT / SST): properties, units and bad inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.models.tiny import byte_tokenizer
from sp_prm_lib.training.truncation import (
    build_partial_pairs,
    prefix_text,
    response_lengths,
    summary,
)

FAST = settings(max_examples=60, deadline=None)

lengths = st.integers(min_value=0, max_value=60)
pairs = st.lists(st.tuples(lengths, lengths), min_size=0, max_size=12)
methods = st.sampled_from(["sst", "tlt"])


def split(ps):
    return [a for a, _ in ps], [b for _, b in ps]


def one_line(excinfo) -> str:
    message = str(excinfo.value)
    assert message and "\n" not in message, message
    return message


@pytest.fixture(scope="module")
def tok():
    return byte_tokenizer()


# ----------------------------------------------------------------- properties


@FAST
@given(pairs, methods, st.integers(1, 6), st.integers(0, 2**32), st.sampled_from([0, 1]))
def test_cuts_in_range_same_index_and_distinct(ps, method, K, seed, k_low):
    lw, ll = split(ps)
    df = build_partial_pairs(lw, ll, method=method, K=K, seed=seed, k_low=k_low)
    assert list(df.columns) == ["pair", "t", "chosen_len", "rejected_len", "full"]
    T = np.maximum(np.asarray(lw, dtype=int), np.asarray(ll, dtype=int))
    part = df[~df.full]
    for row in part.itertuples():
        assert 1 <= row.t <= T[row.pair] - 1
    if len(ps):
        assert (df.chosen_len == np.minimum(df.t, np.asarray(lw)[df.pair])).all()
        assert (df.rejected_len == np.minimum(df.t, np.asarray(ll)[df.pair])).all()
    assert not part.duplicated(["pair", "t"]).any()
    # sorted by (pair, t)
    assert df.equals(df.sort_values(["pair", "t"], kind="stable").reset_index(drop=True))
    if method == "sst":
        counts = part.groupby("pair").size()
        assert (counts <= 2 * K).all()


@FAST
@given(pairs, methods, st.integers(1, 6), st.integers(0, 1000))
def test_include_full_adds_exactly_one_full_row_per_pair(ps, method, K, seed):
    lw, ll = split(ps)
    with_full = build_partial_pairs(lw, ll, method=method, K=K, seed=seed, include_full=True)
    without = build_partial_pairs(lw, ll, method=method, K=K, seed=seed, include_full=False)
    full = with_full[with_full.full]
    assert list(full.pair) == list(range(len(ps)))
    assert list(full.chosen_len) == lw and list(full.rejected_len) == ll
    assert list(full.t) == [max(a, b) for a, b in ps]
    assert not without.full.any()
    assert with_full[~with_full.full].reset_index(drop=True).equals(without)


@FAST
@given(pairs, st.integers(0, 1000))
def test_tlt_row_count_and_every_position(ps, seed):
    lw, ll = split(ps)
    T = [max(a, b) for a, b in ps]
    df = build_partial_pairs(lw, ll, method="tlt", seed=seed)
    assert len(df) == sum(max(x - 1, 0) for x in T) + len(ps)
    for i, x in enumerate(T):
        assert list(df[(df.pair == i) & ~df.full].t) == list(range(1, x))


@FAST
@given(pairs, st.integers(1, 10))
def test_tlt_max_cuts_evenly_spaced_and_capped(ps, max_cuts):
    lw, ll = split(ps)
    df = build_partial_pairs(lw, ll, method="tlt", max_cuts=max_cuts, include_full=False)
    for i, (a, b) in enumerate(ps):
        T = max(a, b)
        ts = list(df[df.pair == i].t)
        assert len(ts) == min(max(T - 1, 0), max_cuts)
        assert len(set(ts)) == len(ts) and all(1 <= t <= T - 1 for t in ts)
    assert df.equals(build_partial_pairs(lw, ll, method="tlt", max_cuts=max_cuts, include_full=False))


def test_tlt_max_cuts_example():
    df = build_partial_pairs([100], [10], method="tlt", max_cuts=4, include_full=False)
    assert list(df.t) == [20, 40, 60, 80]
    assert list(df.rejected_len) == [10, 10, 10, 10]


@FAST
@given(pairs, pairs, methods, st.integers(1, 6), st.integers(0, 1000), st.sampled_from([0, 1]))
def test_adding_pairs_keeps_earlier_cuts(ps, extra, method, K, seed, k_low):
    lw, ll = split(ps)
    lw2, ll2 = split(ps + extra)
    small = build_partial_pairs(lw, ll, method=method, K=K, seed=seed, k_low=k_low)
    big = build_partial_pairs(lw2, ll2, method=method, K=K, seed=seed, k_low=k_low)
    assert big[big.pair < len(ps)].reset_index(drop=True).equals(small)


def test_determinism_and_seeds_differ():
    rng = np.random.default_rng(123)
    lw = rng.integers(0, 300, size=200).tolist()
    ll = rng.integers(0, 300, size=200).tolist()
    a = build_partial_pairs(lw, ll, method="sst", K=5, seed=7)
    b = build_partial_pairs(lw, ll, method="sst", K=5, seed=7)
    c = build_partial_pairs(lw, ll, method="sst", K=5, seed=8)
    assert a.equals(b)
    assert not a.equals(c)
    # TLT is deterministic and ignores the seed
    assert build_partial_pairs(lw, ll, "tlt", seed=1).equals(build_partial_pairs(lw, ll, "tlt", seed=2))


@pytest.mark.parametrize("K", [1, 5])
def test_sst_mean_cuts_is_K_independent_of_length(K):
    n = 3000
    means = []
    for length in (200, 2000):
        df = build_partial_pairs([length] * n, [length // 2] * n, method="sst", K=K, seed=0, include_full=False)
        counts = df.groupby("pair").size().reindex(range(n), fill_value=0)
        assert counts.max() <= 2 * K and counts.min() >= 0
        means.append(counts.mean())
        assert summary(df)["mean_cuts_per_pair"] == pytest.approx(counts.mean())
    for m in means:
        assert m == pytest.approx(K, abs=0.05 * K + 0.05)
    # released-code variant: k ~ U{1..2K}, mean K + 1/2, never zero cuts
    df = build_partial_pairs([500] * n, [500] * n, method="sst", K=K, k_low=1, include_full=False)
    counts = df.groupby("pair").size().reindex(range(n), fill_value=0)
    assert counts.min() >= 1
    assert counts.mean() == pytest.approx(K + 0.5, abs=0.05 * K + 0.05)


def test_short_pairs_and_zero_lengths():
    df = build_partial_pairs([0, 1, 0, 3], [0, 0, 1, 0], method="sst", K=5)
    assert list(df[~df.full].pair.unique()) in ([], [3])
    assert df[df.full].t.tolist() == [0, 1, 1, 3]
    tlt = build_partial_pairs([0, 1, 0, 3], [0, 0, 1, 0], method="tlt")
    assert tlt[~tlt.full][["t", "chosen_len", "rejected_len"]].values.tolist() == [[1, 1, 0], [2, 2, 0]]
    empty = build_partial_pairs([], [], method="sst")
    assert len(empty) == 0 and list(empty.columns) == ["pair", "t", "chosen_len", "rejected_len", "full"]


def test_accepts_numpy_and_pandas_lengths():
    lw, ll = [5, 9, 3], [7, 2, 4]
    ref = build_partial_pairs(lw, ll, seed=3)
    assert build_partial_pairs(np.array(lw), np.array(ll), seed=3).equals(ref)
    assert build_partial_pairs(pd.Series(lw), pd.Series(ll), seed=3).equals(ref)


def test_summary():
    df = build_partial_pairs([10, 4], [3, 8], method="tlt")
    s = summary(df)
    assert s["pairs"] == 2 and s["full_rows"] == 2 and s["partial_rows"] == 9 + 7
    assert s["mean_cuts_per_pair"] == pytest.approx(8.0)
    assert s["method"] == "tlt" and s["rows"] == len(df)
    assert s["median_t"] == float(df[~df.full].t.median())
    assert summary(build_partial_pairs([1], [1], include_full=False))["median_t"] is None


# ----------------------------------------------------------------- units

TEXT = "Sure!  Here's   a short answer:\n\tcafé au lait — 3 €, thanks."


def test_word_vs_token_units(tok):
    words = response_lengths([TEXT, "", "one"], unit="word")
    tokens = response_lengths([TEXT, "", "one"], unit="token", tokenizer=tok)
    assert words == [len(TEXT.split()), 0, 1] == [12, 0, 1]
    assert tokens == [len(TEXT.encode("utf-8")), 0, 3]  # byte tokenizer: one token per byte
    assert tokens[0] > words[0]
    assert response_lengths([], unit="token", tokenizer=tok) == []
    # cutting by word index vs token index gives different prefixes of the same text
    assert prefix_text(TEXT, 3, unit="word") == "Sure! Here's a"
    assert prefix_text(TEXT, 3, unit="token", tokenizer=tok) == "Sur"


def test_prefix_text_round_trips(tok):
    n_words = len(TEXT.split())
    assert prefix_text(TEXT, n_words, unit="word") == " ".join(TEXT.split())
    n_tok = response_lengths([TEXT], "token", tok)[0]
    assert prefix_text(TEXT, n_tok, unit="token", tokenizer=tok) == TEXT
    assert prefix_text(TEXT, 0, unit="token", tokenizer=tok) == ""
    assert prefix_text(TEXT, 0, unit="word") == ""


@settings(max_examples=40, deadline=None)
@given(st.text(alphabet=st.characters(codec="ascii"), max_size=40), st.data())
def test_prefix_text_properties(tok, text, data):
    # word unit: the prefix has exactly n words and they are the first n
    words = text.split()
    n = data.draw(st.integers(0, len(words)))
    p = prefix_text(text, n, unit="word")
    assert p.split() == words[:n]
    assert response_lengths([p], unit="word") == [n]
    # token unit, ASCII text, byte tokenizer: exactly the first n characters
    m = data.draw(st.integers(0, len(text)))
    assert prefix_text(text, m, unit="token", tokenizer=tok) == text[:m]


# ----------------------------------------------------------------- bad inputs


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        (dict(K=0), "K must be >= 1, got 0"),
        (dict(K=-1), "K must be >= 1, got -1"),
        (dict(K=2.5), "K must be"),
        (dict(method="random"), "unknown method 'random'; known: sst, tlt"),
        (dict(k_low=2), "k_low"),
        (dict(seed=-3), "seed"),
        (dict(max_cuts=0), "max_cuts"),
    ],
)
def test_bad_arguments(kwargs, needle):
    with pytest.raises(ConfigError) as excinfo:
        build_partial_pairs([5, 6], [4, 3], **kwargs)
    assert needle in one_line(excinfo)


def test_bad_lengths():
    with pytest.raises(ConfigError) as excinfo:
        build_partial_pairs([5, 6, 7], [4, 3])
    message = one_line(excinfo)
    assert "lengths_chosen has 3" in message and "lengths_rejected has 2" in message
    with pytest.raises(ConfigError) as excinfo:
        build_partial_pairs([5, -1], [4, 3])
    assert "lengths_chosen[1]" in one_line(excinfo) and "-1" in str(excinfo.value)
    with pytest.raises(ConfigError) as excinfo:
        build_partial_pairs([5, 1], [4, 2.5])
    assert "lengths_rejected[1]" in one_line(excinfo)
    with pytest.raises(ConfigError) as excinfo:
        build_partial_pairs([5, True], [4, 2])
    assert "lengths_chosen[1]" in one_line(excinfo)
    with pytest.raises(ConfigError) as excinfo:
        build_partial_pairs("12", [4, 2])
    assert "lengths_chosen" in one_line(excinfo)


def test_bad_unit_arguments(tok):
    with pytest.raises(ConfigError) as excinfo:
        prefix_text("a b c", 4, unit="word")
    assert "prefix length n=4 beyond the response's 3 units" in one_line(excinfo)
    with pytest.raises(ConfigError) as excinfo:
        prefix_text("abc", 4, unit="token", tokenizer=tok)
    assert "n=4" in one_line(excinfo) and "3 units" in str(excinfo.value)
    with pytest.raises(ConfigError) as excinfo:
        prefix_text("a b c", -1, unit="word")
    assert "n must be" in one_line(excinfo)
    with pytest.raises(ConfigError) as excinfo:
        prefix_text("a b c", 1)
    assert "tokenizer" in one_line(excinfo)
    with pytest.raises(ConfigError) as excinfo:
        response_lengths(["a b c"], unit="token")
    assert "tokenizer" in one_line(excinfo)
    with pytest.raises(ConfigError) as excinfo:
        response_lengths(["a"], unit="char")
    assert "unknown unit 'char'; known: token, word" in one_line(excinfo)
    with pytest.raises(ConfigError) as excinfo:
        response_lengths("a b c", unit="word")
    assert "texts" in one_line(excinfo)
    with pytest.raises(ConfigError) as excinfo:
        summary(pd.DataFrame({"pair": [0]}))
    assert "missing column" in one_line(excinfo)

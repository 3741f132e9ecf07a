"""Data loaders on small fake mirrors, the mirror copy, splits, and the real mirror."""

from __future__ import annotations

import os
import random

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from sp_prm_lib.core import settings
from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.data import (
    PairSet,
    dialogue_to_messages,
    ensure_local_copy,
    final_number,
    known_datasets,
    load_pairs,
    load_prompts,
    messages_to_dialogue,
    read_checksums,
    split_last_turn,
    split_train_eval,
)

from data_fixtures import (  # noqa: F401
    data_env,
    hh,
    jsonl,
    snapshot,
    tiny_files,
    tiny_mirror,
    use_dirs,
    write_mirror,
)

# --- dialogues -------------------------------------------------------------


def test_split_last_turn_keeps_marker_in_prompt_and_strips_reply():
    prompt, reply = split_last_turn(hh("a", "b", "c", "  d \n"))
    assert prompt == hh("a", "b", "c") + "\n\nAssistant:"
    assert reply == "d"
    assert split_last_turn("\n\nHuman: no reply") is None


def test_split_last_turn_with_windows_line_endings_in_the_last_marker():
    # issue #12: the last turn's "\r\n\r\nAssistant:" was missed, so the reply began at the
    # previous Assistant turn and held "Human: ..."
    prompt, reply = split_last_turn(hh("a", "b", "c") + "\r\n\r\nAssistant: d \r\n")
    assert (prompt, reply) == (hh("a", "b", "c") + "\n\nAssistant:", "d")
    crlf = "\r\n\r\nHuman: a\r\n\r\nAssistant: b\r\n\r\nHuman: c\r\n\r\nAssistant:"
    assert split_last_turn(crlf) == (hh("a", "b", "c") + "\n\nAssistant:", "")
    assert dialogue_to_messages(crlf) == dialogue_to_messages(hh("a", "b", "c") + "\n\nAssistant:")
    inner = hh("line one\r\nline two", "ok") + "\n\nAssistant: x"
    assert split_last_turn(inner)[0] == hh("line one\r\nline two", "ok") + "\n\nAssistant:"  # text kept as is


def test_hh_rows_whose_last_turn_uses_crlf(tiny_mirror):
    files = tiny_files()
    files["hh-rlhf/harmless-base-test.jsonl.gz"] = jsonl(
        [
            {
                "chosen": hh("hi", "hello", "how?") + "\r\n\r\nAssistant: fine",
                "rejected": hh("hi", "hello", "how?", "bad"),
            },
            {"chosen": hh("q") + "\r\n\r\nAssistant: yes", "rejected": hh("q") + "\r\n\r\nAssistant: no"},
        ]
    )
    write_mirror(tiny_mirror["mirror"], files)
    pairs = load_pairs("hh-harmless-base")
    assert pairs.dropped == {}
    assert pairs.frame[["chosen", "rejected"]].values.tolist() == [["fine", "bad"], ["yes", "no"]]
    assert pairs.frame.prompt.tolist() == [hh("hi", "hello", "how?") + "\n\nAssistant:", hh("q") + "\n\nAssistant:"]


def test_dialogue_to_messages_drops_open_slot_and_keeps_system_text():
    text = "Be kind." + hh("hi", "hello", "bye") + "\n\nAssistant:"
    assert dialogue_to_messages(text) == [
        {"role": "system", "content": "Be kind."},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "bye"},
    ]
    assert dialogue_to_messages("What is 2+2?") == [{"role": "user", "content": "What is 2+2?"}]


def test_dialogue_to_messages_merges_repeated_speakers():
    text = "\n\nHuman: a\n\nAssistant: b\n\nAssistant: c\n\nHuman: d\n\nAssistant:"
    assert [m["role"] for m in dialogue_to_messages(text)] == ["user", "assistant", "user"]
    assert dialogue_to_messages(text)[1]["content"] == "b\n\nc"
    assert len(dialogue_to_messages(text, merge=False)) == 4


_words = st.text(alphabet="abc xyz?!.", min_size=1, max_size=12).map(str.strip).filter(bool)


@hsettings(max_examples=60, deadline=None)
@given(st.lists(_words, min_size=1, max_size=6))
def test_messages_round_trip_through_dialogue_text(contents):
    messages = [{"role": ("user", "assistant")[i % 2], "content": c} for i, c in enumerate(contents)]
    text = messages_to_dialogue(messages)
    assert text.endswith("\n\nAssistant:")
    assert dialogue_to_messages(text) == messages


def test_messages_to_dialogue_rejects_unknown_role():
    with pytest.raises(ValueError, match="tool"):
        messages_to_dialogue([{"role": "tool", "content": "x"}])


# --- HH-RLHF ---------------------------------------------------------------


def test_hh_subset_pairs_and_drop_counts(tiny_mirror):
    pairs = load_pairs("hh-harmless-base")
    assert isinstance(pairs, PairSet) and pairs.origin == "mirror" and pairs.split == "test"
    assert list(pairs.frame.columns) == ["prompt", "chosen", "rejected", "source", "row"]
    assert pairs.dropped == {"empty_response": 1, "equal_responses": 1, "prompt_mismatch": 1}
    assert pairs.frame["row"].tolist() == [1, 5]
    first = pairs.frame.iloc[0]
    assert first.prompt == hh("hi", "hello", "how are you?") + "\n\nAssistant:"
    assert (first.chosen, first.rejected) == ("fine, thanks", "go away")
    assert set(pairs.frame.source) == {"hh-rlhf/harmless-base-test.jsonl.gz"}
    assert pairs.files == (str(tiny_mirror["local"] / "hh-rlhf/harmless-base-test.jsonl.gz"),)


def test_hh_all_subsets_and_limit(tiny_mirror):
    everything = load_pairs("hh-rlhf")
    assert len(everything) == 2 + 1 + 2 + 3
    assert everything.frame.source.nunique() == 4
    head = load_pairs("hh-rlhf", limit=3)
    assert len(head) == 3 and head.frame.equals(everything.frame.head(3))
    assert len(load_pairs("hh-rlhf", limit=0)) == 0


# --- GSM8K and AdvBench ----------------------------------------------------


@pytest.mark.parametrize(
    "text, number",
    [
        ("x\n#### 1,234", "1234"),
        ("#### -7", "-7"),
        ("#### $18.", "18"),
        ("work\nA: 2.5", "2.5"),
        ("A: -1.8 billion", None),
        ("no answer here", None),
    ],
)
def test_final_number(text, number):
    assert final_number(text) == number


def test_gsm8k_prompts(tiny_mirror):
    train = load_prompts("gsm8k", split="train")
    assert list(train.frame.columns) == ["prompt", "reference", "final_answer", "source", "row"]
    assert train.frame.final_answer.tolist() == ["1234", "-7"]
    assert train.frame.reference[0].endswith("#### 1,234")
    assert load_prompts("gsm8k").frame.prompt.tolist() == ["Ducks?"]  # default split: test


def test_gsm8k_pairs_first_correct_vs_first_incorrect(tiny_mirror):
    pairs = load_pairs("gsm8k-pairs")
    assert len(pairs) == 1 and pairs.dropped == {"no_contrast": 1}
    row = pairs.frame.iloc[0]
    assert row.prompt == "\n\nHuman: 1+1?\n\nAssistant:"
    assert (row.chosen, row.rejected) == ("1+1=2\nA: 2", "3\nA: 3")


def test_advbench_prompts(tiny_mirror):
    prompts = load_prompts("advbench")
    assert list(prompts.frame.columns) == ["prompt", "reference", "target", "source", "row"]
    assert prompts.frame.prompt.tolist() == ["Do a bad thing", "Another"]
    assert prompts.frame.target[0] == "Sure, here is a bad thing"
    assert prompts.frame.reference.isna().all()


def test_registry_lists_every_set():
    assert {"hh-rlhf", "gsm8k-pairs", "tldr", "pairwise-math", "harmless-redteam"} <= set(known_datasets("pairs"))
    assert known_datasets("prompts") == ["advbench", "gsm8k"]


# --- mirror copies -----------------------------------------------------------


def test_ensure_local_copy_copies_verifies_and_skips(tiny_mirror):
    paths = ensure_local_copy()
    local = tiny_mirror["local"]
    assert sorted(paths) == sorted(local / rel for rel in tiny_files())
    assert snapshot(local) == {rel: h for rel, h in read_checksums().items()}
    stamp = {p: p.stat().st_mtime_ns for p in paths}
    os.utime(tiny_mirror["mirror"] / "gsm8k/test.jsonl")
    ensure_local_copy()
    assert {p: p.stat().st_mtime_ns for p in paths} == stamp  # verified copies are not rewritten


def test_corrupt_local_copy_is_copied_again(tiny_mirror):
    ensure_local_copy()
    target = tiny_mirror["local"] / "gsm8k/test.jsonl"
    target.write_text("garbage")
    assert len(load_prompts("gsm8k", split="test")) == 1
    assert snapshot(tiny_mirror["local"])["gsm8k/test.jsonl"] == read_checksums()["gsm8k/test.jsonl"]
    assert not list(tiny_mirror["local"].rglob("*.part"))


# --- splits ------------------------------------------------------------------


def _frame(prompts: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "prompt": prompts,
            "chosen": [f"c{i}" for i in range(len(prompts))],
            "rejected": [f"r{i}" for i in range(len(prompts))],
            "source": "t",
            "row": range(1, len(prompts) + 1),
        }
    )


@hsettings(max_examples=80, deadline=None)
@given(
    prompts=st.lists(st.sampled_from("abcdefghij"), min_size=0, max_size=40),
    n_train=st.integers(0, 40),
    n_eval=st.integers(0, 40),
    seed=st.integers(0, 3),
    shuffle_seed=st.integers(0, 1000),
)
def test_split_is_prompt_disjoint_exact_and_order_free(prompts, n_train, n_eval, seed, shuffle_seed):
    frame = _frame(prompts)
    try:
        train, evaluation = split_train_eval(frame, n_train, n_eval, seed)
    except ConfigError as err:
        assert "n_train" in str(err) or "n_eval" in str(err)
        # too large outright, or rows cut off at a group boundary were lost
        assert n_train + n_eval > len(frame) or len(set(prompts)) < len(prompts)
        return
    assert (len(train), len(evaluation)) == (n_train, n_eval)
    assert not set(train.prompt) & set(evaluation.prompt)
    order = list(range(len(frame)))
    random.Random(shuffle_seed).shuffle(order)
    train2, eval2 = split_train_eval(frame.iloc[order], n_train, n_eval, seed)
    assert train2.equals(train) and eval2.equals(evaluation)


@hsettings(max_examples=40, deadline=None)
@given(n_eval=st.integers(0, 10), n_train=st.integers(0, 10), seed=st.integers(0, 5))
def test_split_fits_when_prompts_are_unique(n_eval, n_train, seed):
    frame = _frame([f"p{i}" for i in range(20)])
    train, evaluation = split_train_eval(frame, n_train, n_eval, seed)
    assert (len(train), len(evaluation)) == (n_train, n_eval)
    # eval does not depend on n_train
    assert evaluation.equals(split_train_eval(frame, 0, n_eval, seed)[1])


def test_split_keeps_the_pair_set_type_and_seed_matters(tiny_mirror):
    pairs = load_pairs("hh-rlhf")
    train, evaluation = split_train_eval(pairs, 3, 2, seed=0)
    assert isinstance(train, PairSet) and train.name == "hh-rlhf" and len(evaluation) == 2
    frame = _frame([f"p{i}" for i in range(50)])
    assert not split_train_eval(frame, 5, 5, 0)[1].equals(split_train_eval(frame, 5, 5, 1)[1])


# --- the real mirror -----------------------------------------------------------

REAL = settings.data_mirror()


@pytest.fixture(scope="module")
def real_mirror(tmp_path_factory):
    if REAL is None or not (REAL / "README.md").is_file():
        pytest.skip("the real data mirror is not present")
    with pytest.MonkeyPatch.context() as mp:
        use_dirs(mp, REAL, tmp_path_factory.mktemp("home"))
        yield REAL


@pytest.mark.parametrize(
    "name, kept, dropped",
    [
        ("hh-harmless-base", 2303, {"empty_response": 4, "prompt_mismatch": 5}),
        ("hh-helpful-base", 2339, {"empty_response": 4, "equal_responses": 2, "prompt_mismatch": 9}),
        ("hh-helpful-online", 1132, {"empty_response": 3, "equal_responses": 2}),
        ("hh-helpful-rejection-sampled", 2714, {"equal_responses": 32, "prompt_mismatch": 3}),
        ("hh-rlhf", 8488, {"empty_response": 11, "equal_responses": 36, "prompt_mismatch": 17}),
        ("gsm8k-pairs", 731, {"no_contrast": 588}),
    ],
)
def test_real_pair_counts(real_mirror, name, kept, dropped):
    pairs = load_pairs(name)
    assert (len(pairs), pairs.dropped) == (kept, dropped)
    assert pairs.frame.prompt.str.endswith("\n\nAssistant:").all()
    assert (pairs.frame.chosen != pairs.frame.rejected).all()
    assert (pairs.frame.chosen.str.len() > 0).all() and (pairs.frame.rejected.str.len() > 0).all()


@pytest.mark.parametrize(
    "name, split, rows", [("advbench", "train", 520), ("gsm8k", "train", 7473), ("gsm8k", "test", 1319)]
)
def test_real_prompt_counts(real_mirror, name, split, rows):
    prompts = load_prompts(name, split=split)
    assert len(prompts) == rows and prompts.dropped == {}
    if name == "gsm8k":
        assert prompts.frame.final_answer.str.fullmatch(r"-?\d+(\.\d+)?").all()


def test_real_tiny_profile_split_is_disjoint(real_mirror):
    pairs = load_pairs("hh-rlhf")
    train, evaluation = split_train_eval(pairs, 256, 64, seed=0)
    assert not set(train.frame.prompt) & set(evaluation.frame.prompt)
    again = split_train_eval(load_pairs("hh-rlhf"), 256, 64, seed=0)
    assert again[0].frame.equals(train.frame) and again[1].frame.equals(evaluation.frame)

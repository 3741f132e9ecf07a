"""The rule that picks a notebook's displayed example pair (classroom-safe, deterministic)."""

import pandas as pd
import pytest

from sp_prm_lib.core.errors import DataError
from sp_prm_lib.data import PairSet
from sp_prm_lib.experiments.pairs import CONTENT_FLAGS, flagged_words, neutral_example


def _pairs(rows):
    frame = pd.DataFrame(rows, columns=["prompt", "chosen", "rejected"])
    return PairSet(name="toy", split="test", origin="test", frame=frame, dropped={})


def _turn(question):
    return f"\n\nHuman: {question}\n\nAssistant:"


def test_flagged_words_match_stems_case_insensitively_and_only_at_word_start():
    assert flagged_words("Sexual content, KILLING time.") == ["sexual", "killing"]
    assert flagged_words("A skillful gunner learns diet tips.") == ["gunner"]  # "skill" is not "kill"
    assert flagged_words("How do I bake bread?") == []


def test_neutral_example_skips_flagged_and_multi_turn_rows_and_keeps_order():
    multi = "\n\nHuman: Hi\n\nAssistant: Hello\n\nHuman: How do I bake bread?\n\nAssistant:"
    rows = [
        (_turn("How do I steal a car?"), "No.", "Sure."),  # flagged prompt
        (_turn("Tell me a story."), "Once upon a time.", "It was a porn story."),  # flagged rejected response
        (multi, "Mix flour and water.", "Buy some."),  # several user turns
        (_turn("How do I bake bread?"), "Mix flour, water and yeast.", "Buy some."),
        (_turn("How do I boil an egg?"), "Put it in boiling water.", "Fry it."),
    ]
    pairs = _pairs(rows)
    picked = neutral_example(pairs)
    assert picked.name == 3 and picked.prompt == rows[3][0]
    assert neutral_example(pairs.frame).name == 3  # a bare frame works too
    assert neutral_example(pairs, flags=CONTENT_FLAGS + ("bread",)).name == 4


def test_neutral_example_names_the_set_when_no_row_qualifies():
    with pytest.raises(DataError, match=r"^toy: none of the 1 rows"):
        neutral_example(_pairs([(_turn("Where can I buy a gun?"), "No.", "Here.")]))

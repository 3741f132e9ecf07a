"""Anthropic HH-RLHF rows: two full dialogues that share all but the last reply.

Same schema in the mirror's ``*-test.jsonl.gz`` files and in the hub set
``Anthropic/hh-rlhf``: ``{"chosen": str, "rejected": str}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sp_prm_lib.data.dialogue import split_last_turn
from sp_prm_lib.data.rows import PROMPT_MISMATCH, Pair, RowError, Skip, text_field

SUBSETS = ("harmless-base", "helpful-base", "helpful-online", "helpful-rejection-sampled")


def mirror_file(subset: str, split: str = "test") -> str:
    """Path of a subset's file relative to the mirror."""
    return f"hh-rlhf/{subset}-{split}.jsonl.gz"


def pair_from_dialogues(chosen: str, rejected: str) -> Pair | Skip:
    """Split both dialogues at their last "\\n\\nAssistant:"; Skip when the prompts differ."""
    halves = {}
    for name, text in (("chosen", chosen), ("rejected", rejected)):
        split = split_last_turn(text)
        if split is None:
            raise RowError(name, "no '\\n\\nAssistant:' turn in the dialogue")
        halves[name] = split
    if halves["chosen"][0] != halves["rejected"][0]:
        return Skip(PROMPT_MISMATCH)
    return Pair(halves["chosen"][0], halves["chosen"][1], halves["rejected"][1])


def map_hh_row(record: Mapping[str, Any]) -> Pair | Skip:
    """One HH-RLHF record to a pair (pure)."""
    return pair_from_dialogues(text_field(record, "chosen"), text_field(record, "rejected"))

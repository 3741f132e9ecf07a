"""RLHFlow "standard format" preference rows: chosen and rejected message lists.

Assumed hub schema (RLHFlow/HH-RLHF-Harmless-and-RedTeam-standard is
documented so; RLHFlow/Deepseek-ORM-Data-Pairwise is assumed to follow the
same standard format, its card could not be checked offline)::

    {"chosen":   [{"role": "user", "content": ...}, ..., {"role": "assistant", "content": ...}],
     "rejected": [{"role": "user", "content": ...}, ..., {"role": "assistant", "content": ...}]}

Extra fields are ignored. The prompt is every message but the last, as
HH-style text; the two message lists must share it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sp_prm_lib.data.dialogue import messages_to_dialogue
from sp_prm_lib.data.rows import PROMPT_MISMATCH, Pair, RowError, Skip, text_field, type_name

_ROLES = ("system", "user", "assistant")


def _messages(record: Mapping[str, Any], name: str) -> list[dict[str, str]]:
    if name not in record:
        raise RowError(name, "missing")
    value = record[name]
    if not isinstance(value, list) or not value:
        raise RowError(name, f"expected a non-empty list of messages, got {type_name(value)}")
    messages = []
    for index, message in enumerate(value):
        label = f"{name}[{index}]"
        role = text_field(message, "role", label=f"{label}.role")
        if role not in _ROLES:
            raise RowError(f"{label}.role", f"unknown role {role!r} (expected one of {', '.join(_ROLES)})")
        if role == "system" and index:
            raise RowError(f"{label}.role", "a system message must come first")
        messages.append({"role": role, "content": text_field(message, "content", label=f"{label}.content")})
    if messages[-1]["role"] != "assistant":
        raise RowError(f"{name}[{len(messages) - 1}].role", "the last message must be the assistant's reply")
    return messages


def map_messages_pair_row(record: Mapping[str, Any]) -> Pair | Skip:
    """One standard-format record to a pair (pure)."""
    chosen = _messages(record, "chosen")
    rejected = _messages(record, "rejected")
    prompt = [(m["role"], m["content"].strip()) for m in chosen[:-1]]
    if prompt != [(m["role"], m["content"].strip()) for m in rejected[:-1]]:
        return Skip(PROMPT_MISMATCH)
    return Pair(messages_to_dialogue(chosen[:-1]), chosen[-1]["content"].strip(), rejected[-1]["content"].strip())

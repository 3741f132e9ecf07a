"""The two shapes every loader returns: preference pairs and prompt sets.

Prompt convention: in a :class:`PairSet` the ``prompt`` is an HH-style
dialogue ("\\n\\nHuman: ...\\n\\nAssistant: ...") ending with the
"\\n\\nAssistant:" marker that the responses continue; in a
:class:`PromptSet` the ``prompt`` is the plain text of one user turn.
:func:`sp_prm_lib.data.dialogue_to_messages` turns either into chat messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from sp_prm_lib.core.artifacts import digest

PAIR_COLUMNS = ("prompt", "chosen", "rejected", "source", "row")
PROMPT_COLUMNS = ("prompt", "reference", "source", "row")


@dataclass(frozen=True)
class _RowSet:
    name: str
    split: str
    frame: pd.DataFrame
    dropped: dict[str, int] = field(default_factory=dict)
    files: tuple[str, ...] = ()
    origin: str = "mirror"

    def __len__(self) -> int:
        return len(self.frame)


@dataclass(frozen=True)
class PairSet(_RowSet):
    """Preference pairs: ``frame`` has columns prompt, chosen, rejected, source, row.

    ``source`` names the file (path relative to the mirror) or hub set a row
    came from, ``row`` its 1-based line or row number there. ``dropped``
    counts the rows left out, by reason. ``files`` lists what was read;
    ``origin`` is "mirror", "hub" or "files".
    """


@dataclass(frozen=True)
class PromptSet(_RowSet):
    """Prompts with a reference: ``frame`` has columns prompt, reference,
    the set's own columns (``target`` for AdvBench, ``final_answer`` for
    GSM8K), source and row. ``reference`` is None where a set has none."""


def pairs_digest(pairs: pd.DataFrame) -> str:
    """Content hash of preference pairs (prompt, chosen, rejected): the data part of a cache key."""
    return digest(pairs[["prompt", "chosen", "rejected"]].values.tolist())

"""Row-level building blocks shared by the per-data-set mappers.

A mapper is a pure function from one raw record (a dict) to a :class:`Pair`,
a prompt dict, or a :class:`Skip` with the reason the row is left out. A
malformed record raises :class:`RowError`; :func:`collect` adds the file and
row to it and re-raises it as a one-line :class:`DataError`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sp_prm_lib.core.errors import DataError

PROMPT_MISMATCH = "prompt_mismatch"
EQUAL_RESPONSES = "equal_responses"
EMPTY_RESPONSE = "empty_response"


@dataclass(frozen=True)
class Pair:
    prompt: str
    chosen: str
    rejected: str


@dataclass(frozen=True)
class Skip:
    reason: str


class RowError(Exception):
    """A malformed field in one record (location is added by the caller)."""

    def __init__(self, field: str, problem: str):
        super().__init__(f"field '{field}': {problem}")
        self.field = field
        self.problem = problem


def type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def text_field(record: Mapping[str, Any], name: str, *, label: str | None = None) -> str:
    """The string field ``name`` of ``record``; RowError if absent or not a string."""
    label = label or name
    if not isinstance(record, Mapping):
        raise RowError(label, f"expected an object, got {type_name(record)}")
    if name not in record:
        raise RowError(label, "missing")
    value = record[name]
    if not isinstance(value, str):
        raise RowError(label, f"expected a string, got {type_name(value)}")
    return value


def nonempty_text(record: Mapping[str, Any], name: str, *, label: str | None = None) -> str:
    """Like :func:`text_field`, stripped, and RowError if empty."""
    value = text_field(record, name, label=label).strip()
    if not value:
        raise RowError(label or name, "empty")
    return value


def check_pair(pair: Pair | Skip, strict: bool) -> Pair | Skip:
    """Drop (or, when ``strict``, reject) empty and equal responses."""
    if isinstance(pair, Skip):
        return pair
    for name in ("chosen", "rejected"):
        if not getattr(pair, name):
            if strict:
                raise RowError(name, "empty response after the last Assistant turn")
            return Skip(EMPTY_RESPONSE)
    if pair.chosen == pair.rejected:
        return Skip(EQUAL_RESPONSES)
    return pair


def where(location: str, row: int) -> str:
    return f"{location} row {row}"


def collect(
    records: Iterable[tuple[int, Any]],
    mapper: Callable[[Any], Any],
    *,
    location: str,
    source: str,
    limit: int | None,
    dropped: Counter,
    out: list[dict],
    strict: bool | None = None,
) -> None:
    """Map ``records`` into ``out`` (row dicts), counting skips in ``dropped``.

    ``strict`` is None for prompt sets; for pair sets it is passed to
    :func:`check_pair`. Stops once ``out`` holds ``limit`` rows.
    """
    for row, record in records:
        if limit is not None and len(out) >= limit:
            return
        try:
            item = mapper(record)
            if strict is not None:
                item = check_pair(item, strict)
        except RowError as err:
            raise DataError(f"{where(location, row)}: {err}") from None
        if isinstance(item, Skip):
            dropped[item.reason] += 1
            continue
        if isinstance(item, Pair):
            item = {"prompt": item.prompt, "chosen": item.chosen, "rejected": item.rejected}
        out.append({**item, "source": source, "row": row})

"""Read JSON-lines and CSV files as (1-based row, record) pairs.

Errors name the file and the row; a missing file, a 0-byte file and a file
without a single record are DataErrors too. A UTF-8 byte-order mark at the
start of a file (as Excel and some editors write it) is skipped. A JSON
string with a lone UTF-16 surrogate escape (``"\\ud800"``) is not valid
Unicode text; it is reported with its row and field instead of failing
later, when the text is encoded or written to Arrow.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from sp_prm_lib.core.errors import DataError

ENCODING = "utf-8-sig"  # plain UTF-8, minus a leading byte-order mark
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def check_nonempty(path: Path) -> None:
    """DataError when ``path`` is missing or has 0 bytes."""
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: empty file (0 bytes)")


def open_text(path: Path) -> IO[str]:
    """A text handle on ``path`` (gunzipped for ``.gz``), after :func:`check_nonempty`."""
    check_nonempty(path)
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding=ENCODING, newline="")
    return open(path, encoding=ENCODING, newline="")


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def lone_surrogate(value: Any, label: str = "") -> str | None:
    """Where the first lone surrogate in a parsed JSON value is, as
    "field 'x.y[2]': ..." text, or None when there is none."""
    if isinstance(value, str):
        match = _SURROGATE.search(value)
        if match:
            code = f"U+{ord(match.group()):04X}"
            return f"field '{label or '.'}': lone surrogate {code} at character {match.start()} (not valid Unicode)"
        return None
    if isinstance(value, Mapping):
        items = ((f"{label}.{key}" if label else str(key), item) for key, item in value.items())
    elif isinstance(value, list):
        items = ((f"{label}[{index}]", item) for index, item in enumerate(value))
    else:
        return None
    for name, item in items:
        found = lone_surrogate(item, name)
        if found:
            return found
    return None


def check_record(path: Path, row: int, record: Any, line: str | None = None) -> dict[str, Any]:
    """``record`` if it is a JSON object of valid Unicode text; DataError naming
    file and row otherwise. ``line``, the raw JSON text, lets valid rows skip
    the surrogate search."""
    if not isinstance(record, dict):
        raise DataError(f"{path} row {row}: expected a JSON object, got {type(record).__name__}")
    if line is None or _SURROGATE_ESCAPE.search(line):
        problem = lone_surrogate(record)
        if problem:
            raise DataError(f"{path} row {row}: {problem}")
    return record


def iter_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-blank line of a .jsonl[.gz] file."""
    path = Path(path)
    with open_text(path) as handle:
        row = 0
        found = False
        try:
            for row, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as err:
                    raise DataError(f"{path} row {row}: not valid JSON ({err.msg}, column {err.colno})") from None
                found = True
                yield row, check_record(path, row, record, line)
        except (OSError, EOFError, UnicodeDecodeError) as err:
            raise DataError(f"{path} row {row + 1}: cannot read ({_first_line(err)})") from None
        if not found:
            raise DataError(f"{path}: no rows (no JSON object on any of its {row} lines)")


def iter_csv(path: Path, columns: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (record number, row dict) of a CSV file whose header has ``columns``.

    Records are numbered from 1 after the header line.
    """
    path = Path(path)
    with open_text(path) as handle:
        row = 0
        try:
            reader = csv.DictReader(handle, strict=True)
            header = reader.fieldnames or []
            missing = [c for c in columns if c not in header]
            if missing:
                raise DataError(
                    f"{path} row 0 (header): missing column '{missing[0]}' (found {', '.join(header) or 'none'})"
                )
            for row, record in enumerate(reader, start=1):
                if None in record or any(record[c] is None for c in columns):
                    raise DataError(f"{path} row {row}: expected {len(header)} columns")
                yield row, record
        except csv.Error as err:
            raise DataError(f"{path} row {reader.line_num}: malformed CSV ({_first_line(err)})") from None
        except (OSError, EOFError, UnicodeDecodeError) as err:
            raise DataError(f"{path}: cannot read ({_first_line(err)})") from None
        if not row:
            raise DataError(f"{path}: no rows after the header")


def check_json_file(path: Path) -> None:
    """Raise the DataError of the first bad row of a JSON or JSON-lines file, if any.

    Used to explain why ``datasets`` could not read a file. A file that parses
    as one JSON document is checked item by item (an array is one row per
    item, as ``datasets`` reads it); any other file line by line.
    """
    path = Path(path)
    try:
        with open_text(path) as handle:
            document = json.load(handle)
    except (ValueError, OSError, EOFError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        for _ in iter_jsonl(path):
            pass
        return
    records = document if isinstance(document, list) else [document]
    if not records:
        raise DataError(f"{path}: no rows (an empty JSON array)")
    for row, record in enumerate(records, start=1):
        check_record(path, row, record)

"""Read JSON-lines and CSV files as (1-based row, record) pairs.

Errors name the file and the row; a missing file is a DataError too.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from sp_prm_lib.core.errors import DataError


def _open_text(path: Path) -> IO[str]:
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def iter_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-blank line of a .jsonl[.gz] file."""
    path = Path(path)
    with _open_text(path) as handle:
        row = 0
        try:
            for row, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as err:
                    raise DataError(f"{path} row {row}: not valid JSON ({err.msg}, column {err.colno})") from None
                if not isinstance(record, dict):
                    raise DataError(f"{path} row {row}: expected a JSON object, got {type(record).__name__}")
                yield row, record
        except (OSError, EOFError, UnicodeDecodeError) as err:
            raise DataError(f"{path} row {row + 1}: cannot read ({_first_line(err)})") from None


def iter_csv(path: Path, columns: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (record number, row dict) of a CSV file whose header has ``columns``.

    Records are numbered from 1 after the header line.
    """
    path = Path(path)
    with _open_text(path) as handle:
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

"""Rows of a Hugging Face hub data set, or of local files in its schema.

``datasets`` is imported lazily: it is slow to import and only needed here.
Offline, set ``HF_HUB_OFFLINE=1`` so that a missing hub fails at once
instead of after the client's retries.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sp_prm_lib.core import settings
from sp_prm_lib.core.artifacts import file_sha256
from sp_prm_lib.core.errors import DataError
from sp_prm_lib.data.readers import check_json_file, check_nonempty


class HubUnavailable(DataError):
    """The hub set could not be loaded; ``reason`` is the first line of the cause."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class HubRef:
    """Where a data set lives on the hub: id, optional config or data_dir, split."""

    hub_id: str
    split: str
    config: str | None = None
    data_dir: str | None = None
    revision: str | None = None

    def label(self) -> str:
        extra = ", ".join(x for x in (self.config, self.data_dir, self.revision) if x)
        return f"hub {self.hub_id} ({extra + ', ' if extra else ''}split {self.split})"

    def load_kwargs(self) -> dict[str, str]:
        """Keyword arguments of ``datasets.load_dataset`` besides id, config and split."""
        return {k: v for k, v in (("data_dir", self.data_dir), ("revision", self.revision)) if v}


def first_line(err: BaseException) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return f"{type(err).__name__}: {lines[0]}" if lines else type(err).__name__


def _rows(dataset: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    yield from enumerate(dataset, start=1)


def hub_rows(ref: HubRef) -> Iterator[tuple[int, dict[str, Any]]]:
    """(1-based row, record) of ``datasets.load_dataset(hub_id, config, split=...)``."""
    import datasets

    try:
        dataset = datasets.load_dataset(ref.hub_id, ref.config, split=ref.split, **ref.load_kwargs())
    except Exception as err:  # the hub client raises many unrelated types
        reason = first_line(err)
        raise HubUnavailable(f"{ref.label()}: cannot load ({reason})", reason) from None
    return _rows(dataset)


def root_cause(err: BaseException) -> BaseException:
    """The innermost exception that ``err`` was raised from (``raise ... from``)."""
    while err.__cause__ is not None:
        err = err.__cause__
    return err


def file_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(1-based row, record) of one local JSON/JSON-lines file, read with
    ``datasets.load_dataset("json", ...)`` exactly as hub rows are.

    The ``datasets`` cache is keyed on the file's content (its sha256 is the
    config name): the cache's own key, path and mtime, would hand back the
    old rows of a file rewritten within the same second or with its mtime
    restored. When ``datasets`` fails, the file is scanned again to name
    the first bad row (invalid JSON, not an object, a lone surrogate).
    """
    import datasets

    path = Path(path)
    check_nonempty(path)
    cache = settings.cache_dir() / "hf-datasets"
    name = f"sha256-{file_sha256(path)[:16]}"
    try:
        dataset = datasets.load_dataset("json", name, data_files=str(path), split="train", cache_dir=str(cache))
    except Exception as err:  # arrow and json errors have many types
        check_json_file(path)
        raise DataError(f"{path}: cannot read as JSON in the hub schema ({first_line(root_cause(err))})") from None
    if len(dataset) == 0:
        raise DataError(f"{path}: no rows")
    return _rows(dataset)


def as_paths(data_files: str | Path | Sequence[str | Path]) -> list[Path]:
    if isinstance(data_files, (str, Path)):
        return [Path(data_files)]
    return [Path(p) for p in data_files]

"""The two public entry points: :func:`load_pairs` and :func:`load_prompts`.

``source`` picks where rows come from: ``"mirror"`` (verified local copies
of the mirror's files, taken from the mirror folder or made earlier by
``sp-prm data``, see :mod:`sp_prm_lib.data.mirror`), ``"hub"``
(``datasets.load_dataset``), or ``"auto"``: the mirror when it has the split
and is present, else the hub. ``data_files`` reads local JSON/JSON-lines
files written in the hub's schema instead of the hub itself.

Empty responses: a real corpus row whose final reply is empty (HH-RLHF test
has 11) is dropped and counted as ``empty_response``; with ``strict=True``
it raises a DataError naming file, row and field instead. Malformed rows
(bad JSON, missing or non-string field, no Assistant turn) always raise.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sp_prm_lib.core import settings
from sp_prm_lib.core.errors import ConfigError, DataError
from sp_prm_lib.data import mirror
from sp_prm_lib.data.hub import HubRef, HubUnavailable, as_paths, file_rows, hub_rows
from sp_prm_lib.data.registry import DatasetSpec, get_spec
from sp_prm_lib.data.rows import collect
from sp_prm_lib.data.schema import PAIR_COLUMNS, PROMPT_COLUMNS, PairSet, PromptSet

SOURCES = ("auto", "mirror", "hub")
DataFiles = str | Path | Sequence[str | Path]


@dataclass
class _Part:
    records: Iterator[tuple[int, Any]]
    mapper: Callable[[Any], Any]
    location: str
    source: str


def _check_args(spec: DatasetSpec, split: str | None, source: str, limit: int | None) -> str:
    if source not in SOURCES:
        raise ConfigError(f"source must be one of {', '.join(SOURCES)}, got {source!r}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ConfigError(f"limit must be None or a non-negative integer, got {limit!r}")
    split = split or spec.default_split
    if split not in spec.splits():
        raise DataError(f"{spec.name}: unknown split {split!r}; known: {', '.join(spec.splits())}")
    return split


def _hub_ref(spec: DatasetSpec, split: str) -> HubRef:
    assert spec.hub is not None
    hub = spec.hub
    return HubRef(hub.hub_id, hub.splits[split], hub.config, hub.data_dir, hub.revision)


def _hub_source(ref: HubRef) -> str:
    sub = f"[{ref.data_dir}]" if ref.data_dir else ""
    return f"{ref.hub_id}{sub}:{ref.split}"


def _mirror_parts(spec: DatasetSpec, split: str) -> list[_Part]:
    parts = []
    sums = mirror.read_checksums()
    for rel in spec.mirror[split]:
        path = mirror.ensure_file(rel, sums=sums)
        parts.append(_Part(spec.reader(path), spec.mapper, str(path), rel))
    return parts


def _hub_parts(spec: DatasetSpec, split: str, data_files: DataFiles | None) -> list[_Part]:
    if spec.hub is None or split not in spec.hub.splits:
        raise DataError(f"{spec.name}: split {split!r} has no hub source")
    ref = _hub_ref(spec, split)
    if data_files is not None:
        paths = as_paths(data_files)
        if not paths:
            raise ConfigError(f"{spec.name}: data_files is empty")
        return [_Part(file_rows(p), spec.hub.mapper, str(p), str(p)) for p in paths]
    return [_Part(hub_rows(ref), spec.hub.mapper, ref.label(), _hub_source(ref))]


def _mirror_problem(spec: DatasetSpec, split: str) -> str | None:
    """Why the mirror cannot serve this split, or None if it can: a mirror
    folder is present, or local copies of the split's files are (made by
    ``sp-prm data``; they are verified when read)."""
    if split not in spec.mirror:
        return f"the mirror has no copy of {spec.name} split {split!r}"
    root = settings.data_mirror()
    if root is not None and root.is_dir():
        return None
    if all((mirror.local_root() / rel).is_file() for rel in spec.mirror[split]):
        return None
    if root is None:
        return (
            "no mirror folder is configured (SP_PRM_DATA_MIRROR) or present (../shared/data) "
            "and there are no local copies (run `sp-prm data` to download them)"
        )
    return f"mirror folder {root} is absent"


def _parts(spec: DatasetSpec, split: str, source: str, data_files: DataFiles | None) -> tuple[str, list[_Part]]:
    if data_files is not None:
        return "files", _hub_parts(spec, split, data_files)
    if source == "hub":
        return "hub", _hub_parts(spec, split, None)
    problem = _mirror_problem(spec, split)
    if problem is None:
        return "mirror", _mirror_parts(spec, split)
    if source == "mirror":
        raise DataError(f"{spec.name}: {problem}")
    if spec.hub is None or split not in spec.hub.splits:
        raise DataError(f"{spec.name}: {problem} and split {split!r} has no hub source")
    try:
        return "hub", _hub_parts(spec, split, None)
    except HubUnavailable as err:
        raise DataError(f"{spec.name}: {problem} and hub {spec.hub.hub_id} failed ({err.reason})") from None


def _load(
    spec: DatasetSpec,
    split: str,
    source: str,
    limit: int | None,
    strict: bool | None,
    data_files: DataFiles | None,
    columns: tuple[str, ...],
) -> dict[str, Any]:
    origin, parts = _parts(spec, split, source, data_files)
    rows: list[dict] = []
    dropped: Counter = Counter()
    for part in parts:
        collect(
            part.records,
            part.mapper,
            location=part.location,
            source=part.source,
            limit=limit,
            dropped=dropped,
            out=rows,
            strict=strict,
        )
    frame = pd.DataFrame(rows, columns=list(columns)).astype({"row": "int64"})
    return {
        "name": spec.name,
        "split": split,
        "frame": frame,
        "dropped": dict(sorted(dropped.items())),
        "files": tuple(p.location for p in parts),
        "origin": origin,
    }


def load_pairs(
    name: str,
    *,
    split: str | None = None,
    source: str = "auto",
    limit: int | None = None,
    strict: bool = False,
    data_files: DataFiles | None = None,
) -> PairSet:
    """Preference pairs of the registered set ``name`` (see ``known_datasets("pairs")``).

    ``limit`` keeps the first pairs only (dropped counts then cover the rows
    read). ``strict`` turns an empty response into a DataError.
    """
    spec = get_spec(name, "pairs")
    split = _check_args(spec, split, source, limit)
    return PairSet(**_load(spec, split, source, limit, bool(strict), data_files, PAIR_COLUMNS))


def load_prompts(
    name: str,
    *,
    split: str | None = None,
    source: str = "auto",
    limit: int | None = None,
    data_files: DataFiles | None = None,
) -> PromptSet:
    """Prompts with references of the registered set ``name`` (see ``known_datasets("prompts")``)."""
    spec = get_spec(name, "prompts")
    split = _check_args(spec, split, source, limit)
    columns = PROMPT_COLUMNS[:2] + spec.columns + PROMPT_COLUMNS[2:]
    return PromptSet(**_load(spec, split, source, limit, None, data_files, columns))

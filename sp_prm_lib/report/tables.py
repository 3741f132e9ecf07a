"""Tables of the book: named and ordered as in the paper, and formatted for people (``show_table``)."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
from pandas.io.formats.style import Styler

from sp_prm_lib.experiments.decoding_tables import order_rows, row_label


def labelled(table: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """The table with a ``row`` column named as in the paper (``CBS +Ours``), rounded, paper order."""
    out = order_rows(table)
    out.insert(0, "row", [row_label(m, o, v) for m, o, v in zip(out.method, out.ours, out.variant)])
    return out.round(digits)


def as_run(frame: pd.DataFrame) -> pd.DataFrame:
    """Method names as run: ``ours`` (``bon-4``) becomes the ``method`` column and the paper's
    row key (``bon-16``) a separate ``paper row`` column next to it (frames without ``ours``:
    unchanged)."""
    if "ours" not in frame:
        return frame
    out = frame.rename(columns={"method": "paper row", "ours": "method"})
    first = ["method", "paper row"]
    return out[first + [c for c in out.columns if c not in first]]


#: shown for a missing value (NaN, None) in a table for people
MISSING = "–"


def readable_value(value) -> str:
    """A configuration as ``key=value, key=value`` text: a dict, a list, or a JSON string of
    either; anything else as ``str``."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            value = json.loads(value)
        except ValueError:
            return value
    if isinstance(value, dict):
        return ", ".join(f"{k}={readable_value(v)}" for k, v in value.items()) or MISSING
    if isinstance(value, list | tuple):
        return ", ".join(readable_value(v) for v in value) or MISSING
    return str(value)


def _decimals(values: pd.Series, digits: int) -> int:
    """Decimals for a float column: none for whole numbers, fewer for large magnitudes."""
    finite = values[np.isfinite(values)]
    if finite.empty or (finite == finite.round()).all():
        return 0
    top = float(finite.abs().max())
    return digits if top < 100 else min(digits, 1)


def _formatter(column: pd.Series, decimals: int | None):
    """A cell formatter for one column of a table for people."""
    if decimals is None:
        return lambda v: MISSING if _missing(v) else readable_value(v)
    return lambda v: MISSING if _missing(v) else f"{v:,.{decimals}f}"


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA


def show_table(
    table: pd.DataFrame,
    digits: int | dict[str, int] = 3,
    units: dict[str, str] | None = None,
    caption: str | None = None,
    keep_index: bool | None = None,
):
    """``table`` for people, as a pandas ``Styler``: no 0..n index, numbers rounded to ``digits``
    decimals (a dict gives them per column; whole-number columns get none), booleans as yes/no,
    configurations (dicts, JSON strings) as ``key=value`` text, missing values as a dash, a unit
    after a column's name (``units={"reward": "RM score"}``) and an optional caption.

    A named index (``t``, ``rm``) becomes leading columns; a plain 0..n index is dropped
    (``keep_index`` forces either)."""
    if isinstance(table, pd.Series):
        table = table.to_frame()
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"show_table: expected a pandas DataFrame, got {type(table).__name__}")
    if table.columns.duplicated().any():
        dup = sorted({str(c) for c in table.columns[table.columns.duplicated()]})
        raise ValueError(f"show_table: duplicate column names {', '.join(dup)}; rename them first")
    units = dict(units or {})
    per_column = digits if isinstance(digits, dict) else {}
    unknown = [c for c in [*units, *per_column] if c not in table.columns and c not in table.index.names]
    if unknown:
        raise ValueError(f"show_table: units/digits name {', '.join(map(str, unknown))}, not columns of the table")
    if keep_index is None:
        keep_index = not (isinstance(table.index, pd.RangeIndex) and table.index.name is None)
    out = table.reset_index() if keep_index else table.reset_index(drop=True)
    out.columns = [" ".join(map(str, c)).strip() if isinstance(c, tuple) else str(c) for c in out.columns]
    formats = {}
    for name in out.columns:
        column = out[name]
        if pd.api.types.is_bool_dtype(column) or _all_bool(column):
            formats[name] = lambda v: MISSING if _missing(v) else ("yes" if v else "no")
        elif pd.api.types.is_integer_dtype(column):
            formats[name] = _formatter(column, 0)
        elif pd.api.types.is_float_dtype(column):
            wanted = per_column.get(name, digits if isinstance(digits, int) else 3)
            formats[name] = _formatter(column, _decimals(column.astype(float), wanted))
        else:
            formats[name] = _formatter(column, None)
    out = out.rename(columns={c: f"{c} ({u})" for c, u in units.items()})
    formats = {(f"{c} ({units[c]})" if c in units else c): f for c, f in formats.items()}
    # ids from the content, not pandas' random uuid: two runs of a notebook store the same HTML
    uid = hashlib.sha256(f"{caption}\0{out.to_csv()}".encode()).hexdigest()[:5]
    styler = out.style.format(formats).hide(axis="index").set_uuid(uid)
    styler = styler.set_table_styles([{"selector": "th", "props": "text-align: left;"}])
    if caption:
        styler = styler.set_caption(caption)
    styler.__class__ = _BookTable
    return styler


class _BookTable(Styler):
    """A ``Styler`` whose plain-text form names the table instead of a memory address, so two
    runs of a notebook store the same outputs."""

    def __repr__(self) -> str:
        caption = f": {self.caption}" if getattr(self, "caption", None) else ""
        return f"<table{caption} ({len(self.data)} rows)>"


def _all_bool(column: pd.Series) -> bool:
    """An object column of True/False with gaps (None): shown as yes/no."""
    values = [v for v in column if not _missing(v)]
    return bool(values) and column.dtype == object and all(isinstance(v, bool | np.bool_) for v in values)


#: units of the decoding metrics (columns of ``DecodingResult.table``)
DECODING_UNITS = {
    "reward": "ORM score",
    "reward_sd": "ORM score",
    "ref_reward": "reference-RM score",
    "judge_reward": "judge score",
    "win": "%",
    "tie": "%",
    "win_tie": "%",
    "asr": "%",
    "accuracy": "%",
    "decode_s": "s",
    "policy_forward_tokens": "per prompt",
    "rm_forward_tokens": "per prompt",
    "rm_calls": "per prompt",
}


def show_decoding(table: pd.DataFrame, caption: str | None = None, digits: int = 3):
    """A decoding table (one row per method and guiding RM) for people: rows named and ordered
    as in the paper (``CBS +Ours``), the configuration actually run (``as run``), units."""
    out = labelled(table, digits=digits).drop(columns=["method", "variant"], errors="ignore")
    out = out.rename(columns={"ours": "as run"})
    units = {c: u for c, u in DECODING_UNITS.items() if c in out.columns}
    return show_table(out, digits=digits, units=units, caption=caption)


def show_side_by_side(table: pd.DataFrame, caption: str | None = None, digits: int = 3):
    """A paper-vs-ours table (``comparison.side_by_side``) for people: ``<metric> paper`` and
    ``<metric> ours`` each in its own unit (a reward is the paper's RM score on one side and our
    ORM's on the other: compare orders within a column, not values across)."""
    units = {}
    for column in table.columns:
        metric, _, side = str(column).rpartition(" ")
        if side not in ("paper", "ours") or metric not in DECODING_UNITS:
            continue
        unit = DECODING_UNITS[metric]
        if unit != "%" and unit != "s":
            unit = "paper's RM" if side == "paper" else unit
        units[column] = unit
    return show_table(table, digits=digits, units=units, caption=caption)

"""Tables of the book, named and ordered as in the paper."""

from __future__ import annotations

import pandas as pd

from sp_prm_lib.experiments.decoding import order_rows, row_label


def labelled(table: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """The table with a ``row`` column named as in the paper (``CBS +Ours``), rounded, paper order."""
    out = order_rows(table)
    out.insert(0, "row", [row_label(m, o, v) for m, o, v in zip(out.method, out.ours, out.variant)])
    return out.round(digits)

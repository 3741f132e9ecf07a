"""Prefix truncation for building D_partial (paper section 4.1.1).

SP-PRM trains a process reward model on *partial* preference pairs
``(x, y^w_{<t}, y^l_{<t})`` cut from a complete preference dataset D. This
module decides **where** to cut; it returns prefix *lengths* (a DataFrame of
integers), never copies of text, so D_partial can be materialised lazily by
whoever formats and tokenizes the rows.

Units
-----
A length counts either

* ``unit="token"`` (default): tokens of the reward model's tokenizer,
  ``len(tokenizer(text, add_special_tokens=False).input_ids)``. This is what
  the paper says ("t-token prefix").
* ``unit="word"``: whitespace words, ``text.split()``; the prefix of n words is
  ``" ".join(words[:n])``. This is what the authors' released code does (so
  whitespace inside a prefix is normalised to single spaces).

:func:`response_lengths` measures texts and :func:`prefix_text` renders one
prefix (for display, or to re-tokenize a prefix with another tokenizer).

Cut points
----------
For a pair with lengths ``(Lw, Ll)`` let ``T = max(Lw, Ll)``. A cut index ``t``
in ``1 .. T-1`` gives the prefix lengths ``(min(t, Lw), min(t, Ll))``: the
*same* index is applied to both responses, so the shorter one saturates at its
full length (as in the released code).

**TLT** (token-level truncation)::

    D_partial^TLT = U_{t=1}^{T} {(x, y^w_{<t}, y^l_{<t})}

Every cut index ``t = 1 .. T-1`` is used, so the dataset grows linearly with
response length. ``max_cuts`` caps the number of cuts per pair with evenly
spaced, deterministic indices (for CPU budgets; not in the paper).

**SST** (stochastic sampling truncation), per pair:

1. ``T = max(|y^w|, |y^l|)``;
2. ``k ~ U(0, 2K)``, drawn uniformly from the integers ``{0, ..., 2K}``;
3. ``t_1 .. t_k ~ U(1, T)``: here ``min(k, T-1)`` *distinct* indices drawn
   without replacement from ``[1, T)``;
4. emit ``(x, y^w_{<t_i}, y^l_{<t_i})`` for each ``t_i``.

The expected number of cuts per pair is K (for responses longer than 2K), so
the size of D_partial depends on K, not on response length. The paper uses K=5.

Differences from the released code, and the options that reproduce it:

* words vs tokens: the released code cuts whitespace words -> ``unit="word"``;
* k range: the released code draws ``k`` from ``{1, ..., 2K}`` (mean K + 1/2,
  never zero cuts) -> ``k_low=1``; the default ``k_low=0`` follows the paper;
* the released code also appends every full pair once -> ``include_full=True``
  (default). Full rows carry ``t = T`` and ``full = True``.

Randomness: each pair's draw uses ``np.random.default_rng([seed, i])`` where
``i`` is the pair's index, so results depend only on (lengths, method, K,
seed, k_low, max_cuts), and appending pairs never changes earlier pairs' cuts.

Zero-length responses are allowed (length 0 is an empty response): a pair
with ``T <= 1`` has no valid cut and contributes only its full row.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
import pandas as pd

from sp_prm_lib.core.errors import ConfigError

UNITS = ("token", "word")
METHODS = ("sst", "tlt")
COLUMNS = ("pair", "t", "chosen_len", "rejected_len", "full")

__all__ = [
    "UNITS",
    "METHODS",
    "COLUMNS",
    "response_lengths",
    "prefix_text",
    "build_partial_pairs",
    "summary",
]


# --------------------------------------------------------------------------- units


def _check_unit(unit: str, tokenizer) -> None:
    if unit not in UNITS:
        raise ConfigError(f"unknown unit {unit!r}; known: {', '.join(UNITS)}")
    if unit == "token" and tokenizer is None:
        raise ConfigError("unit='token' needs tokenizer= (the reward model's tokenizer); pass one or use unit='word'")


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def response_lengths(texts: Sequence[str], unit: str = "token", tokenizer=None) -> list[int]:
    """Length of each text in ``unit`` ("token": one batched tokenizer call, no
    special tokens; "word": ``len(text.split())``)."""
    _check_unit(unit, tokenizer)
    if isinstance(texts, str):
        raise ConfigError("texts must be a sequence of strings, got a single str; wrap it in a list")
    texts = list(texts)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise ConfigError(f"texts[{i}] must be a str, got {type(text).__name__}")
    if unit == "word":
        return [len(text.split()) for text in texts]
    if not texts:
        return []
    ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
    return [len(row) for row in ids]


def prefix_text(text: str, n: int, unit: str = "token", tokenizer=None) -> str:
    """The first ``n`` units of ``text``: decoded first n token ids ("token"), or
    the first n whitespace words joined by single spaces ("word").

    A token prefix can end inside a multi-byte character, which decodes as the
    replacement character; use it for display or cross-tokenizer re-encoding.
    """
    _check_unit(unit, tokenizer)
    if not isinstance(text, str):
        raise ConfigError(f"text must be a str, got {type(text).__name__}")
    if not _is_int(n) or n < 0:
        raise ConfigError(f"n must be an int >= 0, got {n!r}")
    if unit == "word":
        units = text.split()
    else:
        units = tokenizer(text, add_special_tokens=False)["input_ids"]
    if n > len(units):
        raise ConfigError(f"prefix length n={n} beyond the response's {len(units)} units (unit={unit!r})")
    if unit == "word":
        return " ".join(units[:n])
    return tokenizer.decode(units[:n], skip_special_tokens=False, clean_up_tokenization_spaces=False)


# --------------------------------------------------------------------------- cuts


def _check_lengths(name: str, lengths) -> np.ndarray:
    if isinstance(lengths, (str, bytes)) or not hasattr(lengths, "__len__"):
        raise ConfigError(f"{name} must be a sequence of non-negative ints, got {type(lengths).__name__}")
    values = list(lengths)
    for i, value in enumerate(values):
        if not _is_int(value) or value < 0:
            raise ConfigError(f"{name}[{i}] must be a non-negative int, got {value!r}")
    return np.asarray(values, dtype=np.int64).reshape(-1)


def _check_args(method, K, seed, k_low, max_cuts) -> None:
    if method not in METHODS:
        raise ConfigError(f"unknown method {method!r}; known: {', '.join(METHODS)}")
    if not _is_int(K):
        raise ConfigError(f"K must be an int >= 1, got {K!r}")
    if K < 1:
        raise ConfigError(f"K must be >= 1, got {K}")
    if not _is_int(seed) or seed < 0:
        raise ConfigError(f"seed must be an int >= 0, got {seed!r}")
    if not _is_int(k_low) or k_low not in (0, 1):
        raise ConfigError(
            f"k_low must be 0 (paper: k ~ U{{0..2K}}) or 1 (released code: k ~ U{{1..2K}}), got {k_low!r}"
        )
    if max_cuts is not None and (not _is_int(max_cuts) or max_cuts < 1):
        raise ConfigError(f"max_cuts must be None or an int >= 1, got {max_cuts!r}")


def _tlt_cuts(T: np.ndarray, max_cuts: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(pair, t) for TLT, vectorised: m = min(T-1, max_cuts) cuts per pair at
    t_j = floor((j+1) T / (m+1)), j = 0..m-1 (which is t_j = j+1 when m = T-1)."""
    m = np.clip(T - 1, 0, None)
    if max_cuts is not None:
        m = np.minimum(m, max_cuts)
    total = int(m.sum())
    pair = np.repeat(np.arange(len(T), dtype=np.int64), m)
    starts = np.cumsum(m) - m
    j = np.arange(total, dtype=np.int64) - np.repeat(starts, m)
    t = ((j + 1) * T[pair]) // (m[pair] + 1)
    return pair, t


def _sst_cuts(T: np.ndarray, K: int, seed: int, k_low: int, max_cuts: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(pair, t) for SST: per pair i, rng = default_rng([seed, i]); k uniform on
    {k_low..2K}; min(k, T-1[, max_cuts]) distinct cuts from [1, T)."""
    pairs, cuts = [], []
    for i, T_i in enumerate(T.tolist()):
        rng = np.random.default_rng([seed, i])
        k = int(rng.integers(k_low, 2 * K, endpoint=True))
        n = min(k, max(T_i - 1, 0))
        if max_cuts is not None:
            n = min(n, max_cuts)
        if n == 0:
            continue
        cuts.append(rng.choice(T_i - 1, size=n, replace=False) + 1)
        pairs.append(np.full(n, i, dtype=np.int64))
    if not cuts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(pairs), np.concatenate(cuts).astype(np.int64)


def build_partial_pairs(
    lengths_chosen: Sequence[int],
    lengths_rejected: Sequence[int],
    method: str = "sst",
    K: int = 5,
    seed: int = 0,
    include_full: bool = True,
    k_low: int = 0,
    max_cuts: int | None = None,
) -> pd.DataFrame:
    """Cut points of D_partial as a DataFrame, one row per (pair, cut).

    Columns: ``pair`` (index into the inputs), ``t`` (cut index; ``T`` for a
    full row), ``chosen_len = min(t, Lw)``, ``rejected_len = min(t, Ll)``,
    ``full`` (bool). Sorted by (pair, t). ``method`` is "sst" (paper default,
    K=5; ``k_low=1`` gives the released code's k ~ U{1..2K}) or "tlt" (every
    cut; K is ignored). ``include_full`` appends each full pair once;
    ``max_cuts`` caps cuts per pair (TLT: evenly spaced). See module docstring.
    """
    _check_args(method, K, seed, k_low, max_cuts)
    Lw = _check_lengths("lengths_chosen", lengths_chosen)
    Ll = _check_lengths("lengths_rejected", lengths_rejected)
    if len(Lw) != len(Ll):
        raise ConfigError(f"lengths_chosen has {len(Lw)} entries but lengths_rejected has {len(Ll)}; they must pair up")
    T = np.maximum(Lw, Ll)
    if method == "tlt":
        pair, t = _tlt_cuts(T, max_cuts)
    else:
        pair, t = _sst_cuts(T, K, seed, k_low, max_cuts)
    full = np.zeros(len(pair), dtype=bool)
    if include_full:
        pair = np.concatenate([pair, np.arange(len(T), dtype=np.int64)])
        t = np.concatenate([t, T])
        full = np.concatenate([full, np.ones(len(T), dtype=bool)])
    order = np.lexsort((t, pair))
    pair, t, full = pair[order], t[order], full[order]
    df = pd.DataFrame(
        {
            "pair": pair,
            "t": t,
            "chosen_len": np.minimum(t, Lw[pair]),
            "rejected_len": np.minimum(t, Ll[pair]),
            "full": full,
        }
    )
    df.attrs.update(
        method=method,
        K=int(K),
        seed=int(seed),
        k_low=int(k_low),
        max_cuts=max_cuts,
        include_full=bool(include_full),
        n_pairs=len(T),
    )
    return df


def summary(df: pd.DataFrame) -> dict:
    """Counts for notebooks: pairs, partial/full rows, mean cuts per pair, and
    median prefix lengths of the partial rows (None where there are none)."""
    if not isinstance(df, pd.DataFrame):
        raise ConfigError(f"df must be a DataFrame from build_partial_pairs, got {type(df).__name__}")
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise ConfigError(f"df is missing column(s) {', '.join(missing)}; expected the output of build_partial_pairs")
    n_pairs = int(df.attrs.get("n_pairs", df["pair"].nunique()))
    partial = df[~df["full"].astype(bool)]

    def median(column):
        return float(partial[column].median()) if len(partial) else None

    return {
        "method": df.attrs.get("method"),
        "K": df.attrs.get("K"),
        "seed": df.attrs.get("seed"),
        "pairs": n_pairs,
        "partial_rows": int(len(partial)),
        "full_rows": int(len(df) - len(partial)),
        "rows": int(len(df)),
        "mean_cuts_per_pair": (len(partial) / n_pairs) if n_pairs else None,
        "median_t": median("t"),
        "median_chosen_len": median("chosen_len"),
        "median_rejected_len": median("rejected_len"),
    }

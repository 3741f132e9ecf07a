"""Percentile bootstrap confidence intervals of means, resampling rows (pairs)."""

from __future__ import annotations

import warnings

import numpy as np

from sp_prm_lib.core.errors import ConfigError

_CHUNK = 200  # replicates per vectorised step, bounds memory for large tables


def bootstrap_mean_ci(
    values, *, n_boot: int = 1000, level: float = 0.95, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) percentile-bootstrap bounds of the column means of ``values``.

    ``values`` is (n,) or (n, k); rows are resampled with replacement, the
    same rows for every column (so columns that share pairs share draws).
    NaN entries (e.g. an unparseable judgement) are left out of each mean.
    Deterministic for a given ``seed``.
    """
    x = np.asarray(values, dtype=float)
    squeeze = x.ndim == 1
    x = x.reshape(len(x), -1)
    if len(x) == 0:
        raise ConfigError("bootstrap needs at least one row")
    if not 0 < level < 1:
        raise ConfigError(f"confidence level must be in (0, 1), got {level}")
    if n_boot < 1:
        raise ConfigError(f"n_boot must be >= 1, got {n_boot}")
    rng = np.random.default_rng(seed)
    means = []
    for start in range(0, n_boot, _CHUNK):
        idx = rng.integers(0, len(x), size=(min(_CHUNK, n_boot - start), len(x)))
        sample = x[idx]  # (b, n, k)
        with np.errstate(invalid="ignore"):
            counts = (~np.isnan(sample)).sum(axis=1)
            sums = np.nansum(sample, axis=1)
            means.append(np.where(counts > 0, sums / np.maximum(counts, 1), np.nan))
    means = np.concatenate(means)
    alpha = (1 - level) / 2
    with warnings.catch_warnings():  # a column with no countable row gives NaN bounds
        warnings.simplefilter("ignore", RuntimeWarning)
        low = np.nanquantile(means, alpha, axis=0)
        high = np.nanquantile(means, 1 - alpha, axis=0)
    return (float(low[0]), float(high[0])) if squeeze else (low, high)

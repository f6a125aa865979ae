"""Statistics for comparing agents over seeds: interquartile mean and percentile-bootstrap
confidence intervals (as recommended by Agarwal et al., 2021, "Deep RL at the edge of the
statistical precipice").

* :func:`iqm` -- the mean of the middle 50 % of the values (25 % trimmed from each end, the
  same trimming as ``scipy.stats.trim_mean(x, 0.25)``).
* :func:`bootstrap_ci` -- percentile bootstrap interval of any statistic over the runs.
* :func:`summarize` -- mean, std, IQM and the IQM's bootstrap interval of one agent's runs.
* :func:`curve_band` -- mean and bootstrap interval of the mean at every point of a curve
  (runs x points), for confidence bands in plots.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from natgym.errors import ConfigError


def _values(x: np.ndarray | list[float], field: str = "values") -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ConfigError(f"{field}: expected a non-empty 1-D sequence of numbers, got shape {arr.shape}")
    return arr


def iqm(x: np.ndarray | list[float], axis: int = -1) -> np.ndarray | float:
    """Interquartile mean along ``axis``: sort, drop ``floor(0.25 n)`` values at each end, average."""
    arr = np.sort(np.asarray(x, dtype=np.float64), axis=axis)
    n = arr.shape[axis]
    cut = int(0.25 * n)
    kept = np.take(arr, np.arange(cut, n - cut), axis=axis)
    out = kept.mean(axis=axis)
    return float(out) if np.ndim(out) == 0 else out


def bootstrap_ci(
    x: np.ndarray | list[float],
    statistic: Callable[..., np.ndarray] = iqm,
    confidence: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval ``(low, high)`` of ``statistic`` over the values ``x``.

    ``statistic`` must accept ``(array, axis=-1)`` (as :func:`iqm` and ``np.mean`` do); it is
    evaluated on ``n_boot`` resamples (with replacement, same size) drawn with ``seed``.
    """
    arr = _values(x)
    if not 0.0 < confidence < 1.0:
        raise ConfigError(f"confidence: expected a value in (0, 1), got {confidence!r}")
    if n_boot < 1:
        raise ConfigError(f"n_boot: expected a positive integer, got {n_boot!r}")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, arr.size, size=(n_boot, arr.size))
    stats = np.asarray(statistic(arr[idx], axis=-1), dtype=np.float64)
    tail = 100.0 * (1.0 - confidence) / 2.0
    lo, hi = np.percentile(stats, [tail, 100.0 - tail])
    return float(lo), float(hi)


def summarize(x: np.ndarray | list[float], confidence: float = 0.95, seed: int = 0) -> dict[str, float]:
    """``n``, ``mean``, ``std`` (ddof 0), ``iqm`` and its bootstrap interval ``iqm_lo``/``iqm_hi``."""
    arr = _values(x)
    lo, hi = bootstrap_ci(arr, iqm, confidence, seed=seed)
    return {
        "n": int(arr.size),
        "mean": float(arr.mean()),
        "std": float(arr.std()),
        "iqm": float(iqm(arr)),
        "iqm_lo": lo,
        "iqm_hi": hi,
    }


def curve_band(
    curves: np.ndarray, confidence: float = 0.95, n_boot: int = 1000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(mean, low, high)`` per column of ``curves`` (runs x points): the mean over runs and the
    percentile bootstrap interval of that mean."""
    arr = np.asarray(curves, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise ConfigError(f"curves: expected a 2-D array (runs x points), got shape {arr.shape}")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, arr.shape[0], size=(n_boot, arr.shape[0]))
    means = arr[idx].mean(axis=1)  # (n_boot, points)
    tail = 100.0 * (1.0 - confidence) / 2.0
    lo, hi = np.percentile(means, [tail, 100.0 - tail], axis=0)
    return arr.mean(axis=0), lo, hi

"""Statistics for comparing agents over seeds, from rliable (Agarwal et al., 2021, "Deep RL at
the edge of the statistical precipice"): interquartile mean, stratified-bootstrap confidence
intervals, performance profiles and the probability of improvement.

Scores are ``runs x tasks`` arrays (a 1-D array is one task): in ``natgym bench`` a run is a
seed and the task is the one input; in the amortized benchmark the tasks are the held-out
inputs. The stratified bootstrap resamples runs within each task. Every bootstrap is drawn
from a ``numpy.random.RandomState(seed)``, so a report is reproducible.

* :func:`summarize` -- n, mean, std, IQM and the IQM's stratified-bootstrap interval.
* :func:`interval` -- point estimate and interval of any aggregate.
* :func:`curve_band` -- mean and interval at every point of a curve (runs x points).
* :func:`performance_profile` -- fraction of scores above each threshold, with intervals.
* :func:`probability_of_improvement` -- P(X > Y) averaged over tasks, with its interval.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from rliable import library as rly
from rliable import metrics

from natgym.errors import ConfigError

REPS = 2000
"""Bootstrap replications (rliable's default of 50,000 is slow for per-point curve bands)."""


def scores_matrix(x: np.ndarray | list, field: str = "values") -> np.ndarray:
    """``x`` as a float ``runs x tasks`` array (1-D -> one task); ConfigError if empty or not 1-/2-D."""
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.size == 0:
        raise ConfigError(
            f"{field}: expected a non-empty 1-D (runs) or 2-D (runs x tasks) array of numbers, "
            f"got shape {np.shape(x)}"
        )
    return arr


def _bootstrap(
    score_dict: dict[str, Any], func: Callable[..., np.ndarray], reps: int, confidence: float, seed: int
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """rliable's stratified bootstrap with a seeded RandomState (arch's notice that it will
    prefer Generators is silenced: rliable passes the RandomState, not the user)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "random_state is deprecated", FutureWarning)
        return rly.get_interval_estimates(
            score_dict,
            func,
            reps=reps,
            confidence_interval_size=confidence,
            random_state=np.random.RandomState(seed),
        )


def interval(
    scores: np.ndarray | list,
    aggregate: Callable[[np.ndarray], float] = metrics.aggregate_iqm,
    confidence: float = 0.95,
    reps: int = REPS,
    seed: int = 0,
) -> tuple[float, float, float]:
    """``(estimate, low, high)`` of ``aggregate`` (a function of a runs x tasks array to a
    number, e.g. ``rliable.metrics.aggregate_iqm``) with its stratified percentile-bootstrap
    interval."""
    if not 0.0 < confidence < 1.0:
        raise ConfigError(f"confidence: expected a value in (0, 1), got {confidence!r}")
    if isinstance(reps, bool) or not isinstance(reps, int) or reps < 1:
        raise ConfigError(f"reps: expected a positive integer, got {reps!r}")
    point, ci = _bootstrap(
        {"x": scores_matrix(scores)}, lambda a: np.array([aggregate(a)]), reps, confidence, seed
    )
    return float(point["x"][0]), float(ci["x"][0, 0]), float(ci["x"][1, 0])


def summarize(x: np.ndarray | list, confidence: float = 0.95, seed: int = 0) -> dict[str, float]:
    """``n`` (runs), ``mean``, ``std`` (over runs of the per-run mean over tasks, ddof 0), ``iqm``
    (over all runs and tasks) and its stratified-bootstrap interval ``iqm_lo``/``iqm_hi``."""
    arr = scores_matrix(x)
    estimate, lo, hi = interval(arr, metrics.aggregate_iqm, confidence, seed=seed)
    per_run = arr.mean(axis=1)
    return {
        "n": int(arr.shape[0]),
        "mean": float(per_run.mean()),
        "std": float(per_run.std()),
        "iqm": estimate,
        "iqm_lo": lo,
        "iqm_hi": hi,
    }


def curve_band(
    curves: np.ndarray, confidence: float = 0.95, reps: int = 1000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(mean, low, high)`` per column of ``curves`` (runs x points): the mean over runs and the
    bootstrap interval of that mean (each point a stratum)."""
    arr = np.asarray(curves, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise ConfigError(f"curves: expected a 2-D array (runs x points), got shape {arr.shape}")
    point, ci = _bootstrap({"x": arr}, lambda a: a.mean(axis=0), reps, confidence, seed)
    return point["x"], ci["x"][0], ci["x"][1]


def performance_profile(
    score_dict: dict[str, np.ndarray], taus: np.ndarray, reps: int = 500, seed: int = 0
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per agent, the fraction of its (run, task) scores above each threshold in ``taus`` (the
    score distribution of rliable) and its ``2 x len(taus)`` stratified-bootstrap interval
    (``reps`` 500 by default: the bands are drawn, not tabulated)."""
    taus = np.asarray(taus, dtype=np.float64)
    scores = {k: scores_matrix(v, k) for k, v in score_dict.items()}
    return _bootstrap(scores, lambda a: rly.score_distributions(a, taus), reps, 0.95, seed)


def _improvement(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The statistic of ``rliable.metrics.probability_of_improvement``, vectorised: per task the
    Mann-Whitney U of X over Y (ties count half) divided by ``runs_x * runs_y``, averaged."""
    diff = x[:, None, :] - y[None, :, :]  # runs_x x runs_y x tasks
    per_task = ((diff > 0) + 0.5 * (diff == 0)).mean(axis=(0, 1))
    return np.array([per_task.mean()])


def probability_of_improvement(
    x: np.ndarray | list, y: np.ndarray | list, reps: int = REPS, seed: int = 0
) -> tuple[float, float, float]:
    """``(P(X > Y), low, high)``: per task the probability that a run of X scores above a run of
    Y (ties count half), averaged over tasks, with rliable's independent stratified bootstrap
    interval over both agents' runs. The point estimate is rliable's own function; the bootstrap
    evaluates an equal vectorised statistic (rliable's runs one scipy test per task and
    replication: 20 tasks x 2,000 replications took 47 s here)."""
    sx, sy = scores_matrix(x, "x"), scores_matrix(y, "y")
    if sx.shape[1] != sy.shape[1]:
        raise ConfigError(f"y: expected {sx.shape[1]} tasks like x, got {sy.shape[1]}")
    _, ci = _bootstrap({"p": [sx, sy]}, _improvement, reps, 0.95, seed)
    point = float(metrics.probability_of_improvement(sx, sy))
    return point, float(ci["p"][0, 0]), float(ci["p"][1, 0])

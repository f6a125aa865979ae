"""agents.stats (rliable underneath) against hand computations on small fixed arrays."""

import numpy as np
import pytest
from rliable import metrics

from agents.stats import (
    _improvement,
    curve_band,
    interval,
    performance_profile,
    probability_of_improvement,
    summarize,
)
from natgym.errors import ConfigError


def test_summary_equals_hand_computation():
    values = np.random.default_rng(0).normal(size=13)
    assert summarize(values)["iqm"] == pytest.approx(np.sort(values)[3:10].mean())  # 3 cut each end
    # 8 runs: IQM drops 2 at each end -> mean of 3, 4, 5, 6
    s = summarize([8.0, 1.0, 7.0, 2.0, 6.0, 3.0, 5.0, 4.0])
    assert s["n"] == 8 and s["mean"] == 4.5 and s["iqm"] == pytest.approx(4.5)
    assert s["std"] == pytest.approx(np.std(np.arange(1, 9)))
    # runs x tasks: the IQM is over all 8 scores, mean/std over the per-run means
    s2 = summarize([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 100.0]])
    assert s2["iqm"] == pytest.approx(np.mean([3, 4, 5, 6])) and s2["n"] == 4
    assert s2["mean"] == pytest.approx(np.mean([1.5, 3.5, 5.5, 53.5]))


def test_bootstrap_interval_equals_the_enumerated_distribution():
    # two runs {0, 1}: a resample of 2 has IQM (= mean, nothing trimmed) 0, 0.5 or 1 with
    # probabilities 1/4, 1/2, 1/4, so the 2.5th and 97.5th percentiles are exactly 0 and 1
    estimate, lo, hi = interval([0.0, 1.0], reps=4000)
    assert (estimate, lo, hi) == (0.5, 0.0, 1.0)
    # the 50 % interval is the middle value: [0.5, 0.5]
    assert interval([0.0, 1.0], confidence=0.4, reps=4000)[1:] == (0.5, 0.5)
    assert interval([2.5] * 7) == (2.5, 2.5, 2.5)  # no spread, no width


def test_stratified_bootstrap_resamples_runs_within_each_task():
    # task 0 scores 0 on every run, task 1 scores 10: any within-task resample keeps the
    # mean at exactly 5 (an unstratified resample of the 8 numbers would not)
    scores = np.array([[0.0, 10.0]] * 4)
    assert interval(scores, np.mean) == (5.0, 5.0, 5.0)


def test_probability_of_improvement_equals_hand_count():
    # pairs (x, y) with x > y: 1>0, 2>0, 3>0, 3>2, 3>2 -> 5; ties 2=2 twice -> 2 halves: 6/9
    p, lo, hi = probability_of_improvement([1.0, 2.0, 3.0], [0.0, 2.0, 2.0])
    assert p == pytest.approx(6 / 9) and lo <= p <= hi
    assert probability_of_improvement([1.0, 1.0], [1.0, 1.0])[0] == 0.5
    # averaged over tasks: task 0 certain (1.0), task 1 never (0.0)
    assert probability_of_improvement([[5.0, 0.0], [6.0, 0.0]], [[1.0, 9.0], [2.0, 9.0]])[0] == 0.5
    rng = np.random.default_rng(3)  # the vectorised bootstrap statistic equals rliable's function
    x, y = rng.integers(0, 4, size=(5, 7)).astype(float), rng.integers(0, 4, size=(4, 7)).astype(float)
    assert _improvement(x, y)[0] == pytest.approx(metrics.probability_of_improvement(x, y))
    with pytest.raises(ConfigError, match="y: expected 2 tasks"):
        probability_of_improvement(np.zeros((2, 2)), np.zeros((2, 3)))


def test_performance_profile_is_the_fraction_above_each_threshold():
    profiles, cis = performance_profile({"a": [0.0, 1.0, 2.0, 3.0]}, np.array([-1.0, 0.5, 2.5, 3.0]))
    np.testing.assert_allclose(profiles["a"], [1.0, 0.75, 0.25, 0.0])
    assert cis["a"].shape == (2, 4)
    assert (cis["a"][0] <= profiles["a"] + 1e-12).all() and (profiles["a"] <= cis["a"][1] + 1e-12).all()


def test_curve_band_brackets_the_mean():
    curves = np.random.default_rng(2).normal(size=(6, 10)) + np.arange(10)
    mean, lo, hi = curve_band(curves)
    np.testing.assert_allclose(mean, curves.mean(0))
    assert (lo <= mean).all() and (mean <= hi).all() and (lo < hi).all()


def test_bad_input_names_the_field():
    with pytest.raises(ConfigError, match="values"):
        summarize([])
    with pytest.raises(ConfigError, match="confidence"):
        interval([1.0, 2.0], confidence=1.5)
    with pytest.raises(ConfigError, match="reps"):
        interval([1.0, 2.0], reps=0)
    with pytest.raises(ConfigError, match="curves"):
        curve_band(np.zeros(3))

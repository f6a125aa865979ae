"""natgym pareto: the non-dominated front, the sweep's outputs, and the cost weight's effect."""

import csv

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.pareto import ParetoConfig, non_dominated, run_pareto
from natgym.errors import ConfigError
from natgym.reward import FunctionEvaluator


def skip_score(g) -> float:
    ops = [op for cell in g.cells for op in cell.ops]
    return 0.2 + 0.5 * sum(op in ("skip_connect", "max_pool_3x3") for op in ops) / len(ops)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), min_size=1, max_size=12))
def test_non_dominated_equals_brute_force(points):
    acc, cost = np.array(points, float).T
    mask = non_dominated(acc, cost)
    for i, (a, c) in enumerate(points):
        dominated = any(a2 >= a and c2 <= c and (a2 > a or c2 < c) for a2, c2 in points)
        assert mask[i] == (not dominated)


def test_pareto_sweep_writes_csv_and_png_and_the_weight_buys_cheaper_cells(tmp_path):
    cfg = ParetoConfig(
        agent="random", weights=(0.0, 0.2, 1.0), budget=40, seeds=2, out_dir=str(tmp_path), progress=False
    )
    result = run_pareto(cfg, FunctionEvaluator(skip_score))
    rows = result["rows"]
    assert len(rows) == 3 * 2 * 20  # every evaluated transformation kept
    best = {(r["cost_weight"], r["seed"]): r for r in rows if r["best"]}
    assert len(best) == 6
    for seed in range(2):  # random search evaluates the same candidates at every weight, so a
        ratios = [best[(w, seed)]["madds_ratio"] for w in cfg.weights]  # higher price never
        assert ratios == sorted(ratios, reverse=True)  # picks a costlier cell
    assert [r["kind"] for r in result["references"]] == ["input", "NAT", "NAT++"]
    with open(tmp_path / "pareto.csv") as fh:
        table = list(csv.DictReader(fh))
    assert len(table) == len(rows) + 3 and table[0]["kind"] == "input"
    assert any(r["on_front"] == "1" for r in table[3:])
    assert (tmp_path / "pareto.png").stat().st_size > 0
    run_pareto(cfg, FunctionEvaluator(skip_score))  # same settings: rerun in place
    other = ParetoConfig(agent="random", weights=(0.5,), budget=40, out_dir=str(tmp_path), progress=False)
    with pytest.raises(ConfigError, match="other settings"):
        run_pareto(other, FunctionEvaluator(skip_score))


def test_pareto_config_errors():
    with pytest.raises(ConfigError, match="agent"):
        ParetoConfig(agent="sgd").validate()
    with pytest.raises(ConfigError, match="weights"):
        ParetoConfig(weights=(0.1, -1.0)).validate()
    with pytest.raises(ConfigError, match="weights"):
        ParetoConfig(weights=()).validate()

"""The benchmark's statistics on synthetic inputs with known answers, and the benchmark itself:
every agent runs to the same query budget, results are written, a rerun skips finished runs."""

import json

import numpy as np
import pytest

from agents.benchmark import (
    AGENTS,
    BenchConfig,
    load_run,
    markdown_table,
    run_benchmark,
    run_path,
    summary_rows,
)
from natgym.errors import ConfigError
from natgym.reward import FunctionEvaluator

# ----------------------------------------------------------------------------- benchmark


def skip_score(g) -> float:
    ops = [op for cell in g.cells for op in cell.ops]
    return 0.2 + 0.5 * sum(op in ("skip_connect", "max_pool_3x3") for op in ops) / len(ops)


def test_every_agent_runs_to_the_same_budget(tmp_path):
    cfg = BenchConfig(seeds=1, budget=32, out_dir=str(tmp_path), progress=False)
    records = run_benchmark(cfg, FunctionEvaluator(skip_score))
    assert [r["agent"] for r in records] == list(AGENTS)
    for r in records:
        assert 16 <= r["queries"] <= 32, r["agent"]
        assert r["evaluations"] <= 32 + 2  # the greedy-policy check comes after the counters stop
        assert r["final_reward"] == max(t[1] for t in r["trace"])
        assert r["acc_after"] - r["acc_before"] == pytest.approx(r["final_reward"])
        assert np.isfinite(r["policy_reward"]) == (r["agent"] not in ("random", "evolution", "bo"))
    for name in ("results.csv", "results.json", "summary.md", "reward_vs_queries.png", "acc_vs_madds.png"):
        assert (tmp_path / name).stat().st_size > 0
    table = (tmp_path / "summary.md").read_text()
    assert all(f"| {a} |" in table for a in AGENTS)
    meta = json.loads((tmp_path / "results.json").read_text())
    assert meta["machine"]["cpu_count"] >= 1 and len(meta["runs"]) == len(AGENTS)
    assert meta["reward_spec"]["evaluator"] == "FunctionEvaluator"  # what the rewards came from


def test_the_path_env_benchmark_runs_its_agents_and_refuses_the_others(tmp_path):
    from agents.benchmark import ENVS

    cfg = BenchConfig(
        agents=ENVS["NAT-Path-v0"],
        seeds=1,
        budget=16,
        out_dir=str(tmp_path),
        progress=False,
        env="NAT-Path-v0",
    )
    records = run_benchmark(cfg, FunctionEvaluator(skip_score))
    assert [r["agent"] for r in records] == list(ENVS["NAT-Path-v0"])
    assert all(8 <= r["queries"] <= 16 for r in records)
    assert json.loads((tmp_path / "results.json").read_text())["config"]["env"] == "NAT-Path-v0"
    nat = next(r for r in records if r["agent"] == "nat")
    assert np.isfinite(nat["policy_reward"])  # the greedy policy acted on the path env
    with pytest.raises(ConfigError, match="agents: unknown or empty.*allowed: nat, maskable_ppo"):
        BenchConfig(agents=("dqn",), env="NAT-Path-v0").validate()
    with pytest.raises(ConfigError, match="env: unknown env"):
        BenchConfig(env="NAT-Bogus-v0").validate()


def test_a_resumed_benchmark_skips_finished_runs(tmp_path):
    cfg = BenchConfig(
        agents=("random", "evolution"), seeds=3, budget=20, out_dir=str(tmp_path), progress=False
    )
    ran = []
    first = run_benchmark(cfg, FunctionEvaluator(skip_score), on_run=ran.append)
    assert len(ran) == 6
    stamps = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "runs").iterdir()}
    ran.clear()
    again = run_benchmark(cfg, FunctionEvaluator(skip_score), on_run=ran.append)
    assert ran == [] and json.dumps(again) == json.dumps(first)
    assert stamps == {p.name: p.stat().st_mtime_ns for p in (tmp_path / "runs").iterdir()}
    run_path(tmp_path, "evolution", 1).unlink()  # as if killed during that run
    (tmp_path / "runs" / "random-seed2.json").write_text('{"trunc')  # a torn file is rerun too
    run_benchmark(cfg, FunctionEvaluator(skip_score), on_run=ran.append)
    assert sorted((r["agent"], r["seed"]) for r in ran) == [("evolution", 1), ("random", 2)]
    ran.clear()
    bigger = BenchConfig(agents=("random",), seeds=1, budget=24, out_dir=str(tmp_path), progress=False)
    stored = load_run(
        run_path(tmp_path, "random", 0), bigger.identity("random", first[0]["config"]["input_accuracy"])
    )
    assert stored is None  # another budget: not reused
    run_benchmark(bigger, FunctionEvaluator(skip_score), on_run=ran.append)
    assert [(r["agent"], r["seed"]) for r in ran] == [("random", 0)]
    assert json.loads(run_path(tmp_path, "random", 0).read_text())["config"]["budget"] == 20  # not over
    assert len(list((tmp_path / "runs").glob("random-seed0*.json"))) == 2
    ran.clear()  # another supernet (here: another scoring function) scores the input differently
    run_benchmark(bigger, FunctionEvaluator(lambda g: 0.5 * skip_score(g) + 0.01), on_run=ran.append)
    assert [(r["agent"], r["seed"]) for r in ran] == [("random", 0)]


def test_summary_rows_and_table():
    records = [
        {
            "agent": "random",
            "final_reward": r,
            "acc_before": 0.5,
            "acc_after": 0.5 + r,
            "madds_ratio": 0.4,
            "genotype": "g",
            "policy_reward": float("nan"),
            "wall_s": 1.0,
            "evaluations": 10,
            "queries": 20,
        }
        for r in (0.1, 0.2, 0.3, 0.4)
    ]
    (row,) = summary_rows(records, ["random", "ppo"])
    assert row["mean"] == pytest.approx(0.25) and row["best_acc_after"] == pytest.approx(0.9)
    assert "| random | 4 | +25.00 ± 11.18 |" in markdown_table([row])


def test_bad_config_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="agents"):
        run_benchmark(BenchConfig(agents=("sac",), out_dir=str(tmp_path)), FunctionEvaluator(skip_score))
    with pytest.raises(ConfigError, match="seeds"):
        run_benchmark(BenchConfig(seeds=0, out_dir=str(tmp_path)), FunctionEvaluator(skip_score))


def test_bench_command_runs_every_agent_on_a_real_supernet(tmp_path, capsys):
    from agents.cli import main
    from tests.tiny_supernet import tiny_supernet

    checkpoint = tiny_supernet(tmp_path)
    out = tmp_path / "bench"
    argv = ["bench", "--supernet", str(checkpoint), "--seeds", "1", "--budget", "32", "--out", str(out)]
    assert main([*argv, "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert all(f"| {a} |" in printed for a in AGENTS)
    assert len(list((out / "runs").glob("*.json"))) == len(AGENTS)
    stamp = (out / "runs" / "nat-seed0.json").stat().st_mtime_ns
    assert main([*argv, "--device", "cpu", "--agents", "random,nat"]) == 0  # reuses the stored runs
    assert (out / "runs" / "nat-seed0.json").stat().st_mtime_ns == stamp

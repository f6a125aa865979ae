"""``natgym bench`` on Ray: the same per-run files as the local runner, resumable under either."""

from __future__ import annotations

import pytest

from agents.benchmark import BenchConfig, run_benchmark, run_path
from natgym.files import strict
from natgym.reward import FunctionEvaluator

ray = pytest.importorskip("ray")

VOLATILE = ("wall_s", "evaluations")
"""What differs between runners: wall time, and cache misses (each Ray worker has its own cache);
NaN (no policy reward) is compared as JSON's null."""


def _same(a: list[dict], b: list[dict]) -> bool:
    strip = [[strict({k: v for k, v in r.items() if k not in VOLATILE}) for r in rs] for rs in (a, b)]
    return strip[0] == strip[1]


@pytest.mark.slow
def test_ray_runner_writes_the_local_runs_and_resumes_under_either(tmp_path):
    def score(genotype) -> float:  # defined here, free of module globals: shipped to workers by value
        return 0.3 + 0.05 * sum(op in ("skip_connect", "max_pool_3x3") for op in genotype.normal.ops)

    def cfg(out, seeds=2):
        return BenchConfig(
            agents=("random", "evolution"), seeds=seeds, budget=24, out_dir=str(out), progress=False
        )

    local = run_benchmark(cfg(tmp_path / "local"), FunctionEvaluator(score))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        ran: list[dict] = []
        on_ray = run_benchmark(
            cfg(tmp_path / "ray"), FunctionEvaluator(score), on_run=ran.append, ray="local"
        )
        assert len(ran) == 4 and _same(local, on_ray)
        # a sweep stopped half-way (seed 1 missing) finishes under the other runner, and back
        run_path(tmp_path / "ray", "evolution", 1).unlink()
        ran.clear()
        again = run_benchmark(cfg(tmp_path / "ray"), FunctionEvaluator(score), on_run=ran.append)
        assert [(r["agent"], r["seed"]) for r in ran] == [("evolution", 1)] and _same(local, again)
        run_path(tmp_path / "local", "random", 0).unlink()
        ran.clear()
        run_benchmark(cfg(tmp_path / "local"), FunctionEvaluator(score), on_run=ran.append, ray="local")
        assert [(r["agent"], r["seed"]) for r in ran] == [("random", 0)]
    finally:
        ray.shutdown()

"""The accuracy-cost frontier of one input (``natgym pareto``).

The env's reward is ``acc_after - acc_before + cost_weight * (1 - madds_after / madds_before)``
(MAdds of the DARTS CIFAR network). For every ``cost_weight`` in the sweep, one agent -- a
search method or an RL agent of ``natgym bench`` -- optimises the transformation of the input
for ``budget`` supernet queries per seed, exactly as in the per-architecture benchmark. Every
transformation it evaluates is kept (supernet accuracy, MAdds and params ratios, genotype);
the run's best by its reward is the result at that weight. Outputs in ``out_dir``:

* ``pareto.csv`` -- one row per evaluated transformation: ``cost_weight``, ``seed``, ``best``
  (1 for the run's result), ``acc_after``, ``madds_ratio``, ``params_ratio``, ``reward``,
  ``on_front`` (1 if no other evaluated transformation is both more accurate and cheaper),
  ``genotype``; plus rows for the input and the published NAT / NAT++ transformations of it
  (``kind``), scored by the same supernet;
* ``pareto.png`` -- supernet accuracy against MAdds ratio: everything evaluated (grey), the
  non-dominated front, each weight's results, the input and the published transformations;
* ``pareto.json`` -- the settings, the machine, the reference rows and each run's result.

The weight is a price, not a constraint: a point at weight ``w`` is the best trade of accuracy
against ``w`` x the fraction of MAdds saved that the agent found.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agents.benchmark import AGENTS, RUNNERS, BenchConfig, machine
from agents.ledger import Ledger
from natgym import zoo
from natgym.checks import finite, positive_int
from natgym.envs.core import genotype_cost
from natgym.errors import ConfigError
from natgym.files import atomic_write, read_json, write_json, write_text
from natgym.progress import progress_bar
from natgym.reward import Evaluator
from natgym.spec import EvaluatorSpec

WEIGHTS: tuple[float, ...] = (0.0, 0.1, 0.2, 0.5, 1.0, 2.0)
"""Default cost weights (accuracy is a fraction, so 0.1 trades 1 point for 10 % of MAdds)."""


@dataclass
class ParetoConfig:
    """One frontier sweep (see the module docstring)."""

    arch: str = "DARTS"
    agent: str = "evolution"
    weights: tuple[float, ...] = WEIGHTS
    budget: int = 1024
    seeds: int = 2
    reward: EvaluatorSpec = field(default_factory=EvaluatorSpec)
    threads: int = 1
    out_dir: str = "benchmarks/results/pareto"
    progress: bool = True

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first bad field."""
        if self.agent not in AGENTS:
            raise ConfigError(f"agent: unknown agent {self.agent!r}; allowed: {', '.join(AGENTS)}")
        if not self.weights:
            raise ConfigError("weights: expected at least one cost weight, e.g. 0,0.1,0.3")
        for w in self.weights:
            finite("weights", w, 0.0)
        for name in ("budget", "seeds", "threads"):
            positive_int(name, getattr(self, name))

    def bench(self, weight: float) -> BenchConfig:
        """The per-architecture benchmark configuration of one weight."""
        return BenchConfig(
            agents=(self.agent,),
            budget=self.budget,
            arch=self.arch,
            reward=self.reward,
            cost_weight=float(weight),
            threads=self.threads,
            progress=False,
        )


def non_dominated(acc: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """Mask of points no other point beats in both (higher ``acc``, lower ``cost``; at least as
    good in both and strictly better in one)."""
    acc, cost = np.asarray(acc, float), np.asarray(cost, float)
    better_eq = (acc[None, :] >= acc[:, None]) & (cost[None, :] <= cost[:, None])
    strictly = (acc[None, :] > acc[:, None]) | (cost[None, :] < cost[:, None])
    return ~(better_eq & strictly).any(axis=1)


def reference_rows(cfg: ParetoConfig, evaluator: Evaluator) -> list[dict[str, Any]]:
    """The input and its published NAT / NAT++ transformations (when the zoo has them), scored
    by ``evaluator`` in one call."""
    base = zoo.resolve(cfg.arch)
    named = [("input", cfg.arch, base)]
    for prefix, kind in (("NAT_", "NAT"), ("NATv2_", "NAT++")):
        if cfg.arch in zoo.names() and prefix + cfg.arch in zoo.names():
            named.append((kind, prefix + cfg.arch, zoo.get(prefix + cfg.arch)))
    acc = evaluator.accuracy([g for _, _, g in named])
    cost0 = genotype_cost(base)
    return [
        {
            "kind": kind,
            "name": name,
            "acc_after": float(a),
            "madds_ratio": genotype_cost(g).madds / cost0.madds,
            "params_ratio": genotype_cost(g).params / cost0.params,
            "genotype": g.to_darts(),
        }
        for (kind, name, g), a in zip(named, acc)
    ]


def settings(cfg: ParetoConfig) -> dict[str, Any]:
    """The sweep's settings as stored in ``pareto.json``."""
    return json.loads(json.dumps({**asdict(cfg), "weights": list(cfg.weights)}))


def check_out_dir(cfg: ParetoConfig) -> None:
    """Refuse an ``out_dir`` whose ``pareto.json`` holds a sweep of other settings (it would be
    overwritten); the same settings are rerun in place."""
    stored = Path(cfg.out_dir) / "pareto.json"
    if stored.is_file():
        old = read_json(stored, "--out", "delete it to run the sweep again")
        if not isinstance(old, dict) or old.get("config") != settings(cfg):
            raise ConfigError(
                f"--out: {cfg.out_dir} holds a sweep with other settings; pass another --out or delete "
                f"{stored}"
            )


def run_pareto(cfg: ParetoConfig, evaluator: Evaluator | None = None) -> dict[str, Any]:
    """Run the sweep, write the outputs and return ``{"rows", "references", "paths"}``."""
    cfg.validate()
    check_out_dir(cfg)
    threads = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    rows: list[dict[str, Any]] = []
    try:
        evaluator = evaluator if evaluator is not None else cfg.reward.build(cfg.progress)
        jobs = [(w, seed) for w in cfg.weights for seed in range(cfg.seeds)]
        bar = progress_bar(jobs, desc=f"pareto ({cfg.agent})", disable=not cfg.progress)
        for weight, seed in bar:
            bar.set_postfix(cost_weight=weight, seed=seed)
            np.random.seed(seed)
            torch.manual_seed(seed)
            ledger = Ledger(cfg.budget)
            RUNNERS[cfg.agent](cfg.agent, cfg.bench(weight), seed, evaluator, ledger)
            best = ledger.best()
            for e in ledger.episodes:
                rows.append(
                    {
                        "kind": "evaluated",
                        "cost_weight": float(weight),
                        "seed": seed,
                        "best": int(e is best),
                        "acc_after": e["acc_after"],
                        "madds_ratio": e["madds_ratio"],
                        "params_ratio": e["params_ratio"],
                        "reward": e["reward"],
                        "genotype": e["genotype_after"],
                    }
                )
        references = reference_rows(cfg, evaluator)
    finally:
        torch.set_num_threads(threads)
    front = non_dominated([r["acc_after"] for r in rows], [r["madds_ratio"] for r in rows])
    for r, on in zip(rows, front):
        r["on_front"] = int(on)
    paths = write_outputs(rows, references, cfg, evaluator.describe())
    return {"rows": rows, "references": references, "paths": paths}


def write_outputs(
    rows: Sequence[dict[str, Any]],
    references: Sequence[dict[str, Any]],
    cfg: ParetoConfig,
    reward_spec: dict[str, Any] | None = None,
) -> dict[str, Path]:
    """``pareto.csv``, ``pareto.json`` (with the machine and ``reward_spec``) and ``pareto.png``
    in ``cfg.out_dir``."""
    import csv
    import io

    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    columns = ["kind", "name", "cost_weight", "seed", "best", "on_front", "acc_after", "madds_ratio"]
    columns += ["params_ratio", "reward", "genotype"]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, restval="")
    writer.writeheader()
    writer.writerows([*references, *rows])
    paths = {"csv": out / "pareto.csv", "json": out / "pareto.json", "png": out / "pareto.png"}
    write_text(paths["csv"], buf.getvalue())
    results = [r for r in rows if r["best"]]  # every evaluated row is in the CSV
    meta = {
        "config": settings(cfg),
        "reward_spec": reward_spec,
        "machine": machine(),
        "references": references,
        "results": results,
    }
    write_json(paths["json"], meta)
    plot(rows, references, cfg, paths["png"])
    return paths


def plot(
    rows: Sequence[dict[str, Any]], references: Sequence[dict[str, Any]], cfg: ParetoConfig, path: Path
) -> None:
    """Supernet accuracy vs MAdds ratio (see the module docstring)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5))
    ax.scatter(
        [r["madds_ratio"] for r in rows],
        [100 * r["acc_after"] for r in rows],
        s=6,
        color="lightgrey",
        label="evaluated",
    )
    front = sorted((r["madds_ratio"], 100 * r["acc_after"]) for r in rows if r["on_front"])
    if front:
        ax.step(*zip(*front), where="post", color="black", lw=1, label="non-dominated front")
    cmap = plt.get_cmap("viridis")
    for i, w in enumerate(cfg.weights):
        best = [r for r in rows if r["best"] and r["cost_weight"] == w]
        ax.scatter(
            [r["madds_ratio"] for r in best],
            [100 * r["acc_after"] for r in best],
            s=45,
            color=cmap(i / max(1, len(cfg.weights) - 1)),
            edgecolor="black",
            label=f"best, cost_weight={w:g}",
            zorder=3,
        )
    markers = {"input": "*", "NAT": "s", "NAT++": "D"}
    for ref in references:
        ax.scatter(
            [ref["madds_ratio"]],
            [100 * ref["acc_after"]],
            marker=markers[ref["kind"]],
            s=160 if ref["kind"] == "input" else 80,
            color="crimson",
            edgecolor="black",
            label=f"{ref['kind']}: {ref['name']}",
            zorder=4,
        )
    ax.set(
        xlabel=f"MAdds after / before ({cfg.arch}, DARTS CIFAR network)",
        ylabel="supernet accuracy (%)",
        title=f"{cfg.agent} on {cfg.arch} ({cfg.reward.dataset}): "
        f"{cfg.seeds} seeds x {cfg.budget} queries per weight",
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)


def pareto_command(args: Any) -> None:
    """Body of ``natgym pareto`` (arguments in :mod:`agents.cli`)."""
    try:
        weights = (
            tuple(float(w) for w in args.cost_weights.split(",") if w.strip())
            if args.cost_weights is not None
            else WEIGHTS
        )
    except ValueError:
        raise ConfigError(
            f"--cost-weights: expected comma-separated numbers, got {args.cost_weights!r}"
        ) from None
    cfg = ParetoConfig(
        arch=args.arch,
        agent=args.agent,
        weights=weights,
        budget=args.budget,
        seeds=args.seeds,
        reward=EvaluatorSpec.from_args(args),
        threads=args.threads,
        out_dir=args.out,
    )
    start = time.perf_counter()
    result = run_pareto(cfg)
    print("| cost_weight | seed | supernet acc | MAdds ratio | params ratio | reward |")
    print("|---|---|---|---|---|---|")
    for r in (r for r in result["rows"] if r["best"]):
        print(
            f"| {r['cost_weight']:g} | {r['seed']} | {100 * r['acc_after']:.2f} % | {r['madds_ratio']:.3f} | "
            f"{r['params_ratio']:.3f} | {100 * r['reward']:+.2f} |"
        )
    for ref in result["references"]:
        print(
            f"{ref['kind']} {ref['name']}: {100 * ref['acc_after']:.2f} %, "
            f"MAdds ratio {ref['madds_ratio']:.3f}"
        )
    print(
        f"wrote {result['paths']['csv']} and {result['paths']['png']} ({time.perf_counter() - start:.0f} s)"
    )

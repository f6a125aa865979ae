"""The multi-seed comparison of agents on one env configuration (``natgym bench``,
``benchmarks/compare.py``).

Every (agent, seed) run optimises the transformation of one fixed input architecture (``arch``)
on ``NAT-Cell-v0`` (DQN: ``NAT-CellSeq-v0``) with the same supernet evaluator, and stops once it
has spent ``budget`` supernet queries (``evaluator.queries``; one episode = 2 queries, the input
and the transformed pair). A :class:`~agents.ledger.Ledger` records every episode the agent
finishes within the budget, whatever the agent, so all of them are measured the same way:

* **final reward** of a run: the reward of the best transformation it evaluated within the
  budget (its incumbent) -- what a user would keep;
* **policy reward** (RL agents only): the reward of the trained policy's greedy transformation
  of the input, measured after the run (not counted in the budget);
* curves over queries: the best reward so far, and the mean reward of the transformations the
  agent samples (its learning curve).

Per agent the report gives the mean +- std over seeds of the final reward, its IQM with a 95 %
stratified-bootstrap interval (rliable, :mod:`agents.stats`), the best transformed architecture over the
seeds (supernet accuracy and MAdds ratio after / before in the DARTS CIFAR network), the mean
wall time per run and the supernet evaluations actually computed (cache misses). Outputs in
``out_dir``: ``runs/<agent>-seed<k>.json`` (one per finished run with its per-episode trace,
written atomically; a rerun skips runs whose file holds the same configuration, and a run of
another configuration goes beside it, ``runs/<agent>-seed<k>-<hash>.json``, never over it),
``results.csv``, ``results.json`` (configuration, machine, summary, runs without traces),
``summary.md``, ``reward_vs_queries.png`` and ``acc_vs_madds.png``.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

import natgym  # noqa: F401  (registers the env ids)
from agents.ledger import Ledger, LedgerVectorWrapper, LedgerWrapper
from agents.stats import curve_band, summarize
from natgym import zoo
from natgym.checks import finite, positive_int
from natgym.errors import ConfigError
from natgym.files import atomic_write, write_json, write_text
from natgym.progress import progress_bar
from natgym.reward import Evaluator
from natgym.spec import EvaluatorSpec

AGENTS: tuple[str, ...] = ("nat", "maskable_ppo", "ppo", "a2c", "dqn", "random", "evolution", "bo")
"""Agents the benchmark knows, in report order."""
NAT_ENVS = 8
"""Episodes per NAT policy update in the benchmark."""
SEARCH: dict[str, dict[str, int]] = {
    "random": {},
    "evolution": {"population": 16, "sample": 4},
    "bo": {"initial": 8, "batch": 4, "candidates": 256},
    "importance": {},
}
"""Settings of the search baselines."""


def check_agents(agents: Sequence[str], allowed: Sequence[str]) -> None:
    """ConfigError naming the ``agents`` field unless ``agents`` is a non-empty subset of ``allowed``."""
    unknown = [a for a in agents if a not in allowed]
    if unknown or not agents:
        raise ConfigError(
            f"agents: unknown or empty {list(unknown or agents)}; allowed: {', '.join(allowed)}"
        )


ENVS: dict[str, tuple[str, ...]] = {
    "NAT-Cell-v0": AGENTS,
    "NAT-Path-v0": ("nat", "maskable_ppo", "ppo", "a2c", "random", "evolution", "bo"),
    "NAT-Depth-v0": ("maskable_ppo", "ppo", "a2c", "random", "evolution", "bo", "importance"),
}
"""The envs a per-arch benchmark runs on, with the agents that solve each (on NAT-Path-v0, ops
and wiring, the NAT agent uses its source head; DQN needs a one-choice-per-step env). On
NAT-Depth-v0 (stage depths, multi-step episodes) ``random`` plays random allowed episodes,
``evolution`` and ``bo`` search the final depths, and ``importance`` is the stage-importance
deepening (:mod:`agents.search.deepen`)."""


@dataclass
class BenchConfig:
    """One benchmark: ``agents`` x seeds ``0 .. seeds - 1``, each run to ``budget`` supernet
    queries on input ``arch`` of ``env`` (:data:`ENVS`), scored by the evaluator of ``reward``
    (its ``device`` is the agents' device too). ``threads`` caps torch's CPU threads (1 keeps
    timings stable on a shared machine)."""

    agents: tuple[str, ...] = AGENTS
    seeds: int = 5
    budget: int = 2048
    arch: str = "DARTS"
    reward: EvaluatorSpec = field(default_factory=EvaluatorSpec)
    cost_weight: float = 0.0
    """The env's compactness term (``natgym pareto`` sweeps it)."""
    threads: int = 1
    out_dir: str = "benchmarks/results/compare"
    progress: bool = True
    extra: dict[str, Any] = field(default_factory=dict)
    """Recorded with the results (e.g. ``{"mode": "quick"}``)."""
    env: str = "NAT-Cell-v0"

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first bad field."""
        if self.env not in ENVS:
            raise ConfigError(f"env: unknown env {self.env!r}; allowed: {', '.join(ENVS)}")
        check_agents(self.agents, ENVS[self.env])
        for name in ("seeds", "budget", "threads"):
            positive_int(name, getattr(self, name))
        finite("cost_weight", self.cost_weight, 0.0)
        if self.budget < 2 * NAT_ENVS and "nat" in self.agents:
            raise ConfigError(
                f"budget: the nat agent needs at least {2 * NAT_ENVS} queries (one update), got {self.budget}"
            )

    def identity(self, agent: str, probe: float | None = None) -> dict[str, Any]:
        """What a stored run of ``agent`` must match to be reused: that agent's hyperparameters,
        the config and ``probe`` (:func:`evaluator_probe`), which changes with the supernet's
        weights."""
        return {
            "input_accuracy": probe,
            "agents_sha": agents_fingerprint(agent),
            "budget": self.budget,
            "arch": self.arch,
            "dataset": self.reward.dataset,
            "preset": self.reward.preset,
            "supernet": self.reward.supernet,
            "supernet_seed": self.reward.seed,
            **({"cost_weight": self.cost_weight} if self.cost_weight else {}),
            **({"env": self.env} if self.env != "NAT-Cell-v0" else {}),
        }


def agents_fingerprint(agent: str) -> str:
    """Short hash of one agent's settings (its SB3 hyperparameters, the NAT defaults, or its
    search settings), so changing one agent's settings reruns only that agent."""
    import hashlib

    if agent in SEARCH:
        text = repr(SEARCH[agent])
    elif agent.startswith("nat"):
        from agents.nat import NATConfig

        text = repr((NATConfig(), NAT_ENVS))
    else:
        from agents.sb3.train import load_hyperparams

        text = repr(sorted(load_hyperparams(agent).items()))
    return hashlib.sha256(f"{agent}:{text}".encode()).hexdigest()[:12]


def evaluator_probe(evaluator: Evaluator, arch: str) -> float:
    """The evaluator's accuracy of the input ``arch``: a fingerprint of the supernet, so runs
    stored under another supernet (retrained, another seed or checkpoint) are not reused."""
    return round(float(evaluator.accuracy([zoo.resolve(arch)])[0]), 6)


# ----------------------------------------------------------------------------- runners
def _env_kwargs(cfg: BenchConfig, evaluator: Evaluator) -> dict[str, Any]:
    return {"reward": evaluator, "arch": cfg.arch, "cost_weight": cfg.cost_weight}


Greedy = Callable[[], tuple[float, dict[str, Any]]] | None
"""What a runner returns: None, or a function measuring the trained policy's greedy transformation."""


def search_method(agent: str, env: str = "NAT-Cell-v0") -> Callable[..., Any]:
    """The search function of a search baseline on ``env`` (``random``, ``evolution``, ``bo``;
    on NAT-Depth-v0 also ``importance``)."""
    from agents.search import (
        bayesian_optimization,
        bo_depths,
        deepen_by_importance,
        evolve_depths,
        random_depths,
        random_search,
        regularized_evolution,
    )

    if env == "NAT-Depth-v0":
        return {
            "random": random_depths,
            "evolution": evolve_depths,
            "bo": bo_depths,
            "importance": deepen_by_importance,
        }[agent]
    return {"random": random_search, "evolution": regularized_evolution, "bo": bayesian_optimization}[agent]


def _run_search(agent: str, cfg: BenchConfig, seed: int, evaluator: Evaluator, ledger: Ledger) -> Greedy:
    env = LedgerWrapper(gym.make(cfg.env, **_env_kwargs(cfg, evaluator)), ledger)
    search_method(agent, cfg.env)(env, cfg.budget, seed=seed, **SEARCH[agent])
    return None


def _run_sb3(agent: str, cfg: BenchConfig, seed: int, evaluator: Evaluator, ledger: Ledger) -> Greedy:
    from agents.sb3.train import greedy_episode, make_env, train

    kwargs = _env_kwargs(cfg, evaluator)
    overrides = {"env": cfg.env} if cfg.env != "NAT-Cell-v0" else None
    result = train(
        agent,
        kwargs,
        budget=cfg.budget,
        seed=seed,
        device=cfg.reward.device,
        progress=False,
        overrides=overrides,
    )
    ledger.episodes.extend(result.ledger.episodes)
    env_id = cfg.env if overrides else None
    return lambda: greedy_episode(result.model, make_env(agent, kwargs, env_id=env_id))


def _run_nat(agent: str, cfg: BenchConfig, seed: int, evaluator: Evaluator, ledger: Ledger) -> Greedy:
    from agents.nat import NATConfig, train

    kwargs = _env_kwargs(cfg, evaluator)
    envs = LedgerVectorWrapper(gym.make_vec(cfg.env, num_envs=NAT_ENVS, **kwargs), ledger)
    config = NATConfig(
        num_envs=NAT_ENVS,
        updates=cfg.budget // (2 * NAT_ENVS),
        seed=seed,
        device=cfg.reward.device,
        progress=False,
    )
    policy = train(config, envs=envs).policy

    def greedy() -> tuple[float, dict[str, Any]]:
        env = LedgerWrapper(gym.make(cfg.env, **kwargs))
        obs, _ = env.reset(seed=seed)
        obs = {k: np.asarray(v)[None] for k, v in obs.items()}
        with torch.no_grad():
            action = policy(obs).mode()[0].cpu().numpy()
        _, reward, _, _, info = env.step(action)
        return float(reward), info

    return greedy


RUNNERS: dict[str, Callable[[str, BenchConfig, int, Evaluator, Ledger], Greedy]] = {
    "nat": _run_nat,
    "maskable_ppo": _run_sb3,
    "ppo": _run_sb3,
    "a2c": _run_sb3,
    "dqn": _run_sb3,
    "random": _run_search,
    "evolution": _run_search,
    "bo": _run_search,
    "importance": _run_search,
}


def run_one(
    agent: str, seed: int, cfg: BenchConfig, evaluator: Evaluator, probe: float | None = None
) -> dict[str, Any]:
    """Run ``agent`` with ``seed`` to the budget and return its record (see the module docstring)."""
    np.random.seed(seed)
    torch.manual_seed(seed)
    ledger = Ledger(cfg.budget)
    evaluations0 = evaluator.evaluations
    start = time.perf_counter()
    greedy = RUNNERS[agent](agent, cfg, seed, evaluator, ledger)
    wall = time.perf_counter() - start
    evaluations = evaluator.evaluations - evaluations0
    extra = {}
    if greedy is not None:  # after the clock and the counters stop: not part of the budget
        reward, info = greedy()
        extra = {
            "policy_reward": reward,
            "policy_acc_after": info["acc_after"],
            "policy_madds_ratio": info["madds_ratio"],
        }
    if not ledger.episodes:
        raise ConfigError(f"budget: {cfg.budget} queries were not enough for one episode of {agent}")
    episodes = sorted(ledger.episodes, key=lambda e: e["queries"])
    best = max(episodes, key=lambda e: e["reward"])
    record = {
        "agent": agent,
        "seed": seed,
        "config": cfg.identity(agent, probe),
        "queries": max(e["queries"] for e in episodes),
        "episodes": len(episodes),
        "evaluations": evaluations,
        "wall_s": wall,
        "final_reward": best["reward"],
        "acc_before": best["acc_before"],
        "acc_after": best["acc_after"],
        "madds_ratio": best["madds_ratio"],
        "params_ratio": best["params_ratio"],
        "genotype": best["genotype_after"],
        "policy_reward": float("nan"),
        "policy_acc_after": float("nan"),
        "policy_madds_ratio": float("nan"),
        "trace": [[e["queries"], e["reward"]] for e in episodes],
    }
    record.update({k: float(v) for k, v in extra.items()})
    return record


QUICK = {"budget": 256, "out_dir": "benchmarks/results/compare/quick"}
"""What ``--quick`` changes (5 seeds still; under 10 minutes on 2 CPU cores)."""


def bench_command(args: Any) -> None:
    """Body of ``natgym bench`` (arguments defined in :mod:`agents.cli`)."""
    if args.inputs is not None:
        raise ConfigError("--inputs: only for --protocol amortized (held-out inputs)")
    cfg = BenchConfig(
        agents=tuple(a.strip() for a in args.agents.split(",") if a.strip())
        if args.agents
        else ENVS[args.env],
        seeds=args.seeds,
        budget=args.budget
        if args.budget is not None
        else (QUICK["budget"] if args.quick else BenchConfig.budget),
        arch=args.arch or BenchConfig.arch,
        reward=EvaluatorSpec.from_args(args),
        threads=args.threads,
        out_dir=args.out or (QUICK["out_dir"] if args.quick else BenchConfig.out_dir),
        extra={"mode": "quick" if args.quick else "default"},
        env=args.env,
    )
    start = time.perf_counter()
    records = run_benchmark(cfg, ray=args.ray)
    print(markdown_table(summary_rows(records, cfg.agents)), end="")
    print(
        f"{len(records)} runs in {cfg.out_dir} ({time.perf_counter() - start:.0f} s in this call; "
        "finished runs were reused)"
    )


# ----------------------------------------------------------------------------- storage
def run_path(
    out_dir: str | os.PathLike, agent: str, seed: int, identity: dict[str, Any] | None = None
) -> Path:
    """Where the record of (``agent``, ``seed``) is stored: ``runs/<agent>-seed<k>.json``, or --
    for a configuration (``identity``) other than the one that file holds --
    ``runs/<agent>-seed<k>-<hash of identity>.json`` beside it, so no run overwrites another's."""
    name = f"{agent}-seed{seed}"
    if identity is not None:
        import hashlib

        name += "-" + hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:10]
    return Path(out_dir) / "runs" / f"{name}.json"


def load_run(path: Path, identity: dict[str, Any]) -> dict[str, Any] | None:
    """The stored record at ``path`` if it exists and its ``config`` equals ``identity``, else
    None. Numbers stored as ``null`` (a run without a policy) come back as NaN."""
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except json.JSONDecodeError:
        return None
    if not isinstance(record, dict) or record.get("config") != identity:
        return None
    return {k: float("nan") if v is None and k.startswith("policy_") else v for k, v in record.items()}


def stored_runs(
    out_dir: str | os.PathLike, jobs: Sequence[tuple[int, str]], identity: Callable[[str], dict[str, Any]]
) -> tuple[dict[tuple[int, str], dict[str, Any]], dict[tuple[int, str], Path]]:
    """For (seed, agent) ``jobs``: the stored records that match ``identity(agent)`` (reused),
    and the path each job's record is (or will be) written to -- ``runs/<agent>-seed<k>.json``,
    or the keyed name beside it when that file holds another configuration (:func:`run_path`)."""
    (Path(out_dir) / "runs").mkdir(parents=True, exist_ok=True)
    records, paths = {}, {}
    for seed, agent in jobs:
        ident = identity(agent)
        plain, keyed = run_path(out_dir, agent, seed), run_path(out_dir, agent, seed, ident)
        stored = load_run(plain, ident) or load_run(keyed, ident)
        if stored is not None:
            records[(seed, agent)] = stored
        paths[(seed, agent)] = keyed if plain.exists() else plain
    return records, paths


def run_benchmark(
    cfg: BenchConfig,
    evaluator: Evaluator | None = None,
    on_run: Callable[[dict[str, Any]], None] | None = None,
    ray: str | None = None,
) -> list[dict[str, Any]]:
    """Run every missing (agent, seed) of ``cfg`` (stored runs are reused), write the report,
    and return all records. ``evaluator`` defaults to the evaluator of ``cfg.reward``;
    ``on_run(record)`` is called after each run that actually ran.

    ``ray``: run the missing runs as Ray tasks (:func:`run_on_ray`) -- ``"local"`` starts a local
    Ray, ``"auto"`` or an address joins a cluster. The files are the ones the local runner writes,
    so a sweep stopped under either runner resumes under either."""
    cfg.validate()
    threads = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    jobs = [(seed, agent) for seed in range(cfg.seeds) for agent in cfg.agents]
    try:
        if evaluator is None:  # also trains the supernet into the cache before any worker needs it
            evaluator = cfg.reward.build(cfg.progress)
        probe = evaluator_probe(evaluator, cfg.arch)
        records, paths = stored_runs(cfg.out_dir, jobs, lambda agent: cfg.identity(agent, probe))

        def finished(seed: int, agent: str, record: dict[str, Any]) -> None:
            write_json(paths[(seed, agent)], record, indent=None)
            records[(seed, agent)] = record
            if on_run is not None:
                on_run(record)

        todo = [job for job in jobs if job not in records]
        if ray is not None:
            run_on_ray(todo, cfg, evaluator, probe, ray, finished)
        else:
            bar = progress_bar(todo, desc="bench", disable=not (cfg.progress and todo))
            for seed, agent in bar:
                bar.set_postfix(agent=agent, seed=seed)
                finished(seed, agent, run_one(agent, seed, cfg, evaluator, probe))
    finally:
        torch.set_num_threads(threads)
    ordered = [records[job] for job in jobs]
    write_report(ordered, cfg, evaluator.describe())
    return ordered


def _ray_task(agent: str, seed: int, cfg: BenchConfig, evaluator: Evaluator | None, probe: float) -> dict:
    """One run inside a Ray worker: its own torch threads and evaluator (loaded from the cache)."""
    torch.set_num_threads(cfg.threads)
    evaluator = evaluator if evaluator is not None else cfg.reward.build(progress=False)
    return run_one(agent, seed, cfg, evaluator, probe)


def run_on_ray(
    todo: Sequence[tuple[int, str]],
    cfg: BenchConfig,
    evaluator: Evaluator,
    probe: float,
    address: str,
    finished: Callable[[int, str, dict[str, Any]], None],
) -> None:
    """Run ``todo`` (seed, agent) jobs as Ray tasks of ``cfg.threads`` CPUs (and one GPU each when
    the reward runs on CUDA); ``finished(seed, agent, record)`` stores each as it completes, with
    a progress bar over finished runs. A supernet evaluator is rebuilt in each worker from
    ``cfg.reward`` (the supernet is in the cache by then; on a cluster pass ``--supernet`` on a
    shared filesystem); any other evaluator (e.g. a test's function) is shipped to the workers."""
    import ray

    from natgym.reward import SupernetEvaluator

    if not todo:
        return
    if not ray.is_initialized():
        options = {"address": None} if address == "local" else {"address": address}
        ray.init(**options, include_dashboard=False, log_to_driver=False, configure_logging=False)
    gpus = 1 if cfg.reward.device.startswith("cuda") else 0
    task = ray.remote(num_cpus=cfg.threads, num_gpus=gpus)(_ray_task)
    shipped = None if isinstance(evaluator, SupernetEvaluator) else evaluator
    pending = {task.remote(agent, seed, cfg, shipped, probe): (seed, agent) for seed, agent in todo}
    bar = progress_bar(total=len(pending), desc="bench (ray)", disable=not cfg.progress)
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        seed, agent = pending.pop(done[0])
        finished(seed, agent, ray.get(done[0]))
        bar.update()
    bar.close()


# ----------------------------------------------------------------------------- report
def summary_rows(records: Sequence[dict[str, Any]], agents: Sequence[str]) -> list[dict[str, Any]]:
    """One row per agent: statistics of the final reward over seeds and the best architecture."""
    rows = []
    for agent in agents:
        runs = [r for r in records if r["agent"] == agent]
        if not runs:
            continue
        stats = summarize([r["final_reward"] for r in runs])
        best = max(runs, key=lambda r: r["final_reward"])
        policy = [r["policy_reward"] for r in runs if np.isfinite(r["policy_reward"])]
        rows.append(
            {
                "agent": agent,
                **stats,
                "best_acc_after": best["acc_after"],
                "best_madds_ratio": best["madds_ratio"],
                "best_genotype": best["genotype"],
                "acc_before": best["acc_before"],
                "policy_reward_mean": float(np.mean(policy)) if policy else float("nan"),
                "wall_s_mean": float(np.mean([r["wall_s"] for r in runs])),
                "evaluations_mean": float(np.mean([r["evaluations"] for r in runs])),
                "queries_mean": float(np.mean([r["queries"] for r in runs])),
            }
        )
    return rows


def markdown_table(rows: Sequence[dict[str, Any]]) -> str:
    """The README table of :func:`summary_rows` (rewards and accuracies in percentage points)."""
    lines = [
        "| agent | seeds | final reward (mean ± std) | IQM [95% CI] | best arch: supernet acc | "
        "best arch: MAdds ratio | greedy-policy reward | wall time / run | supernet evals / run |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        policy = f"{100 * r['policy_reward_mean']:+.2f}" if np.isfinite(r["policy_reward_mean"]) else "–"
        lines.append(
            f"| {r['agent']} | {r['n']} | {100 * r['mean']:+.2f} ± {100 * r['std']:.2f} | "
            f"{100 * r['iqm']:+.2f} [{100 * r['iqm_lo']:+.2f}, {100 * r['iqm_hi']:+.2f}] | "
            f"{100 * r['best_acc_after']:.2f} % | {r['best_madds_ratio']:.3f} | {policy} | "
            f"{r['wall_s_mean']:.1f} s | {r['evaluations_mean']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def _curves(
    records: Sequence[dict[str, Any]], grid: np.ndarray, bins: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    best, sampled = [], []
    for r in records:
        q = np.array([t[0] for t in r["trace"]], float)
        rew = np.array([t[1] for t in r["trace"]], float)
        best.append([rew[q <= g].max() if (q <= g).any() else np.nan for g in grid])
        which = np.digitize(q, bins[1:-1])
        sampled.append(
            [rew[which == i].mean() if (which == i).any() else np.nan for i in range(len(bins) - 1)]
        )
    return np.array(best), np.array(sampled)


def _band(ax: Any, x: np.ndarray, curves: np.ndarray, label: str, color: Any) -> None:
    ok = ~np.isnan(curves).any(axis=0)
    if not ok.any():
        return
    mean, lo, hi = curve_band(curves[:, ok])
    ax.plot(x[ok], 100 * mean, label=label, color=color)
    ax.fill_between(x[ok], 100 * lo, 100 * hi, color=color, alpha=0.2)


def plot(records: Sequence[dict[str, Any]], cfg: BenchConfig, out: Path) -> list[Path]:
    """``reward_vs_queries.png`` and ``acc_vs_madds.png`` in ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    agents = [a for a in cfg.agents if any(r["agent"] == a for r in records)]
    colors = {a: plt.get_cmap("tab10")(i) for i, a in enumerate((*AGENTS, "importance"))}
    grid = np.linspace(cfg.budget / 32, cfg.budget, 32)
    bins = np.linspace(0, cfg.budget, 17)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for agent in agents:
        best, sampled = _curves([r for r in records if r["agent"] == agent], grid, bins)
        _band(axes[0], grid, best, agent, colors[agent])
        _band(axes[1], (bins[:-1] + bins[1:]) / 2, sampled, agent, colors[agent])
    axes[0].set(
        xlabel="supernet queries",
        ylabel="best reward so far (accuracy points)",
        title="Incumbent (mean, 95% bootstrap CI over seeds)",
    )
    axes[1].set(
        xlabel="supernet queries",
        ylabel="mean reward of sampled transformations",
        title="What the agent samples (mean, 95% bootstrap CI)",
    )
    for ax in axes:
        ax.axhline(0.0, color="grey", lw=0.8, ls=":")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(
        f"{cfg.arch} on {cfg.reward.dataset}: {cfg.seeds} seeds, {cfg.budget} supernet queries per run"
    )
    fig.tight_layout()
    paths = [out / "reward_vs_queries.png", out / "acc_vs_madds.png"]
    atomic_write(paths[0], lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for agent in agents:
        runs = [r for r in records if r["agent"] == agent]
        ax.scatter(
            [r["madds_ratio"] for r in runs],
            [100 * r["acc_after"] for r in runs],
            label=agent,
            color=colors[agent],
            alpha=0.8,
            s=30,
        )
    if records:
        ax.scatter(
            [1.0],
            [100 * records[0]["acc_before"]],
            marker="*",
            s=200,
            color="black",
            label=f"input ({cfg.arch})",
        )
    ax.set(
        xlabel="MAdds after / before (DARTS CIFAR network)",
        ylabel="supernet accuracy (%)",
        title="Best transformation of each run",
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    atomic_write(paths[1], lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)
    return paths


def machine() -> dict[str, Any]:
    """Where the benchmark ran (torch threads are in the config)."""
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def write_report(
    records: Sequence[dict[str, Any]], cfg: BenchConfig, reward_spec: dict[str, Any] | None = None
) -> dict[str, Path]:
    """``results.csv``, ``results.json`` (with the machine and ``reward_spec``, what the rewards
    came from: :meth:`natgym.reward.Evaluator.describe`), ``summary.md`` and the plots in
    ``cfg.out_dir``."""
    import csv
    import io

    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = summary_rows(records, cfg.agents)
    columns = [k for k in records[0] if k not in ("trace", "config")] if records else []
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(records)
    write_text(out / "results.csv", buf.getvalue())
    meta = {
        "config": {**asdict(cfg), "agents": list(cfg.agents)},
        "reward_spec": reward_spec,
        "machine": machine(),
        "summary": rows,
    }
    runs = [{k: v for k, v in r.items() if k != "trace"} for r in records]  # traces stay in runs/
    write_json(out / "results.json", {**meta, "runs": runs}, indent=1)
    table = markdown_table(rows)
    write_text(out / "summary.md", table)
    paths = {"csv": out / "results.csv", "json": out / "results.json", "md": out / "summary.md"}
    if records:
        paths["reward_png"], paths["scatter_png"] = plot(records, cfg, out)
    return paths

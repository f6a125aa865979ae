"""The amortized-transformation benchmark (``natgym bench --protocol amortized``,
``benchmarks/amortized.py``): can a policy trained once transform architectures it has never
seen, and how does it compare with search that starts from scratch on every input?

Protocol, per (agent, seed):

* **held-out inputs** (:func:`held_out_inputs`): the zoo's inputs with the env's node count
  (DARTS, ResBlock, VGG, MobileNetV2, R1-R5 for 4 nodes) and ``inputs`` uniform samples drawn
  with a fixed seed; the same for every agent and seed. Training envs are made with
  ``exclude=`` those genotypes, so the uniform sampler never draws them, and every run checks
  its training episodes' inputs against them (``held_out_seen`` must be 0).
* **training** (RL agents only): the agent trains on uniform inputs until it has spent
  ``train_budget`` supernet queries (counted by a :class:`~agents.ledger.Ledger`, 2 per
  episode). Every ``train_budget / checkpoints`` queries the current policy transforms every
  held-out input once, greedily: the curve of held-out reward against training queries.
* **transforming the held-out inputs** with a per-input budget of ``b`` transformations for
  each ``b`` in ``per_input`` (default 1 and 10): an RL agent takes its greedy transformation
  (``b = 1``) or the best of ``b`` samples of its policy (the paper's derive); a search baseline
  runs on that input alone with ``b`` evaluations (random: best of ``b``; evolution: population
  ``min(16, max(2, b // 2))``; BO: ``min(8, max(1, b // 2))`` random starts, then one proposal
  per GP fit). Each input has its own ledger: nothing is evaluated once ``2 b`` queries are
  spent (``queries`` per input is stored and checked). Search baselines get no training budget.

An input's score is the reward (accuracy gain on the supernet's reward images) of its best
transformation. Per agent and ``b`` the report gives the mean over inputs (mean +- std over
seeds), the IQM over (seed, input) scores with a stratified-bootstrap 95 % interval (rliable,
:mod:`agents.stats`), the probability of improvement over random search, the mean MAdds ratio
(after / before, DARTS CIFAR network) and the wall time. Outputs in ``out_dir``:
``runs/<agent>-seed<k>.json`` (resumable like ``natgym bench``), ``results.json``,
``summary.md``, ``curve.png`` (held-out reward vs training queries) and ``profile.png``
(performance profiles, rliable).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from agents.benchmark import (
    NAT_ENVS,
    agents_fingerprint,
    check_agents,
    evaluator_probe,
    machine,
    search_method,
    stored_runs,
)
from agents.ledger import Ledger, LedgerVectorWrapper, LedgerWrapper
from agents.stats import curve_band, performance_profile, probability_of_improvement, summarize
from natgym import zoo
from natgym.checks import positive_int
from natgym.errors import ConfigError
from natgym.files import atomic_write, write_json, write_text
from natgym.genotype import Genotype
from natgym.progress import progress_bar
from natgym.reward import Evaluator
from natgym.spec import EvaluatorSpec

SB3: tuple[str, ...] = ("maskable_ppo", "ppo", "a2c", "dqn")
LEARNERS: tuple[str, ...] = ("nat", "nat_faithful", *SB3)
"""Agents that train (``nat``: the improved GCN, ``nat_faithful``: the paper's GCN)."""
SEARCHERS: tuple[str, ...] = ("random", "evolution", "bo")
AGENTS: tuple[str, ...] = LEARNERS + SEARCHERS
HELD_OUT_SEED = 20_240_611
"""Seed of the uniform held-out inputs (fixed: every run is judged on the same inputs)."""


@dataclass
class AmortizedConfig:
    """One amortized benchmark (see the module docstring)."""

    agents: tuple[str, ...] = AGENTS
    seeds: int = 5
    train_budget: int = 512
    inputs: int = 16
    zoo: bool = True
    """Whether the held-out inputs include the zoo's (besides ``inputs`` uniform ones)."""
    per_input: tuple[int, ...] = (1, 10)
    checkpoints: int = 4
    reward: EvaluatorSpec = field(default_factory=EvaluatorSpec)
    threads: int = 1
    out_dir: str = "benchmarks/results/amortized"
    progress: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first bad field."""
        check_agents(self.agents, AGENTS)
        for name in ("seeds", "train_budget", "inputs", "checkpoints", "threads"):
            positive_int(name, getattr(self, name))
        if not self.per_input:
            raise ConfigError("per_input: expected at least one per-input budget, e.g. (1, 10)")
        for b in self.per_input:
            positive_int("per_input", b)
        if self.train_budget < 2 * NAT_ENVS * self.checkpoints:
            raise ConfigError(
                f"train_budget: needs at least {2 * NAT_ENVS * self.checkpoints} queries "
                f"(one NAT update per checkpoint), got {self.train_budget}"
            )

    def identity(self, agent: str, probe: float | None = None) -> dict[str, Any]:
        """What a stored run of ``agent`` must match to be reused."""
        return {
            "protocol": "amortized",
            "input_accuracy": probe,
            "agents_sha": agents_fingerprint(agent),
            "train_budget": self.train_budget,
            "inputs": self.inputs,
            "zoo": self.zoo,
            "per_input": list(self.per_input),
            "checkpoints": self.checkpoints,
            "dataset": self.reward.dataset,
            "preset": self.reward.preset,
            "supernet": self.reward.supernet,
            "supernet_seed": self.reward.seed,
            "steps": self.reward.steps,
        }


def held_out_inputs(count: int, steps: int = 4, with_zoo: bool = True) -> list[tuple[str, Genotype]]:
    """The named held-out inputs: the zoo inputs with ``steps`` nodes (not the published
    transformations ``NAT_*``; none without ``with_zoo``), then ``count`` distinct uniform samples
    (``u0``, ``u1``, ...; the same first ones whatever ``count``)."""
    names = zoo.names() if with_zoo else ()
    named = [(n, zoo.get(n)) for n in names if not n.startswith("NAT") and zoo.get(n).steps == steps]
    rng = np.random.default_rng(HELD_OUT_SEED)
    seen = {g for _, g in named}
    uniform: list[tuple[str, Genotype]] = []
    while len(uniform) < count:
        g = zoo.sample(rng, steps)
        if g not in seen:
            seen.add(g)
            uniform.append((f"u{len(uniform)}", g))
    return named + uniform


# ----------------------------------------------------------------------------- policies
Episode = Callable[[gym.Env, Genotype, bool], tuple[float, dict[str, Any]]]
"""``episode(env, genotype, greedy)``: one episode of a trained policy from ``genotype``."""


def _nat_episode(policy: Any, seed: int) -> Episode:
    from agents.nat.policy import observe

    gen = torch.Generator(device=policy.device)
    gen.manual_seed(seed)

    def episode(env: gym.Env, genotype: Genotype, greedy: bool) -> tuple[float, dict[str, Any]]:
        env.reset(options={"genotype": genotype})
        obs = {k: np.asarray(v)[None] for k, v in observe(genotype).items()}
        with torch.no_grad():
            dist = policy(obs)
            action = dist.mode() if greedy else dist.sample(gen)
        _, reward, _, _, info = env.step(action[0].cpu().numpy())
        return float(reward), info

    return episode


def _sb3_episode(model: Any) -> Episode:
    from agents.sb3.train import greedy_episode

    return lambda env, genotype, greedy: greedy_episode(model, env, genotype, deterministic=greedy)


def transform_inputs(
    inputs: Sequence[tuple[str, Genotype]],
    budget: int,
    make_env: Callable[[], gym.Env],
    episode: Episode | None = None,
    search: str | None = None,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Transform every input with at most ``budget`` transformations (``2 budget`` queries, one
    ledger per input): with a trained policy's ``episode`` (greedy when ``budget`` is 1, else
    that many samples) or, for ``search``, that search method alone on the input. One row per
    input: its best reward, accuracies, MAdds ratio and the queries it spent."""
    rows = []
    for i, (name, genotype) in enumerate(inputs):
        ledger = Ledger(2 * budget)
        env = LedgerWrapper(make_env(), ledger)
        if search is not None:
            method = search_method(search)
            method(
                env, 2 * budget, seed=seed * 100_003 + i, genotype=genotype, **search_settings(search, budget)
            )
        else:
            while not ledger.exhausted:
                episode(env, genotype, budget == 1)
        best = ledger.best()
        rows.append(
            {
                "input": name,
                "reward": best["reward"],
                "acc_before": best["acc_before"],
                "acc_after": best["acc_after"],
                "madds_ratio": best["madds_ratio"],
                "queries": ledger.used,
                "transformations": len(ledger.episodes),
            }
        )
    return rows


def search_settings(search: str, budget: int) -> dict[str, int]:
    """A search baseline's settings for ``budget`` evaluations on one input (module docstring)."""
    if search == "evolution":
        population = min(16, max(2, budget // 2))
        return {"population": population, "sample": min(4, population)}
    if search == "bo":
        return {"initial": min(8, max(1, budget // 2)), "batch": 1, "candidates": 256}
    return {}


def _mean_reward(rows: Sequence[dict[str, Any]]) -> float:
    return float(np.mean([r["reward"] for r in rows]))


# ----------------------------------------------------------------------------- one run
def run_one(
    agent: str, seed: int, cfg: AmortizedConfig, evaluator: Evaluator, probe: float | None = None
) -> dict[str, Any]:
    """Train ``agent`` (if it learns), transform the held-out inputs, return the run's record."""
    np.random.seed(seed)
    torch.manual_seed(seed)
    inputs = held_out_inputs(cfg.inputs, cfg.reward.steps, cfg.zoo)
    held = [g for _, g in inputs]
    env_kwargs = {"reward": evaluator, "steps": cfg.reward.steps}
    if agent in SB3:
        from agents.sb3.train import make_env

        eval_env = lambda: make_env(agent, env_kwargs)  # noqa: E731
    else:
        eval_env = lambda: gym.make("NAT-Cell-v0", **env_kwargs)  # noqa: E731
    curve: list[list[float]] = []
    milestones = [cfg.train_budget * (k + 1) // cfg.checkpoints for k in range(cfg.checkpoints)]
    start = time.perf_counter()

    def checkpoint(ledger: Ledger, episode: Episode, final: bool = False) -> None:
        """Held-out greedy reward at every training milestone reached (all that remain if final)."""
        while milestones and (final or ledger.used >= milestones[0]):
            rows = transform_inputs(inputs, 1, eval_env, episode, seed=seed)
            curve.append([float(milestones.pop(0)), _mean_reward(rows)])

    episode: Episode | None = None
    ledger = Ledger(cfg.train_budget)
    if agent.startswith("nat"):
        from agents.nat import NATConfig, train

        envs = LedgerVectorWrapper(
            gym.make_vec("NAT-Cell-v0", num_envs=NAT_ENVS, exclude=held, **env_kwargs), ledger
        )
        config = NATConfig(
            num_envs=NAT_ENVS,
            updates=cfg.train_budget // (2 * NAT_ENVS),
            variant="faithful" if agent == "nat_faithful" else "improved",
            seed=seed,
            device=cfg.reward.device,
            progress=False,
        )
        policy = train(
            config, envs=envs, on_update=lambda u, row, p: checkpoint(ledger, _nat_episode(p, seed))
        ).policy
        episode = _nat_episode(policy, seed)
    elif agent in SB3:
        from stable_baselines3.common.callbacks import BaseCallback

        from agents.sb3.train import train

        class Checkpoints(BaseCallback):
            def _on_step(self) -> bool:
                checkpoint(self.training_env.envs[0].get_wrapper_attr("ledger"), _sb3_episode(self.model))
                return True

        result = train(
            agent,
            {**env_kwargs, "exclude": held},
            budget=cfg.train_budget,
            seed=seed,
            device=cfg.reward.device,
            progress=False,
            callbacks=[Checkpoints()],
        )
        ledger, episode = result.ledger, _sb3_episode(result.model)
    if episode is not None:
        checkpoint(ledger, episode, final=True)
    train_s = time.perf_counter() - start
    trained_on = {e["genotype_before"] for e in ledger.episodes}
    seen = sum(g.to_darts() in trained_on for g in held)
    if seen:  # cannot happen with exclude=; checked because the benchmark's claim rests on it
        raise ConfigError(f"exclude: {seen} held-out inputs appeared in {agent}'s training episodes")
    search = agent if agent in SEARCHERS else None
    per_input = {str(b): transform_inputs(inputs, b, eval_env, episode, search, seed) for b in cfg.per_input}
    return {
        "agent": agent,
        "seed": seed,
        "config": cfg.identity(agent, probe),
        "train_queries": ledger.used,
        "train_episodes": len(ledger.episodes),
        "train_inputs": len(trained_on),
        "held_out_seen": seen,
        "train_s": train_s,
        "wall_s": time.perf_counter() - start,
        "curve": curve,
        "per_input": per_input,
    }


# ----------------------------------------------------------------------------- sweep
def run_amortized(
    cfg: AmortizedConfig,
    evaluator: Evaluator | None = None,
    on_run: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Run every missing (agent, seed) of ``cfg`` (stored runs are reused), write the report and
    return all records (agents x seeds, seed-major)."""
    cfg.validate()
    threads = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    jobs = [(seed, agent) for seed in range(cfg.seeds) for agent in cfg.agents]
    try:
        evaluator = evaluator if evaluator is not None else cfg.reward.build(cfg.progress)
        probe = evaluator_probe(evaluator, "DARTS") if cfg.reward.steps == 4 else None
        records, paths = stored_runs(cfg.out_dir, jobs, lambda agent: cfg.identity(agent, probe))
        todo = [job for job in jobs if job not in records]
        bar = progress_bar(todo, desc="amortized", disable=not (cfg.progress and todo))
        for seed, agent in bar:
            bar.set_postfix(agent=agent, seed=seed)
            record = run_one(agent, seed, cfg, evaluator, probe)
            write_json(paths[(seed, agent)], record, indent=None)
            records[(seed, agent)] = record
            if on_run is not None:
                on_run(record)
    finally:
        torch.set_num_threads(threads)
    ordered = [records[job] for job in jobs]
    write_report(ordered, cfg, evaluator.describe())
    return ordered


# ----------------------------------------------------------------------------- report
def score_matrix(records: Sequence[dict[str, Any]], agent: str, b: int, key: str = "reward") -> np.ndarray:
    """``seeds x inputs`` array of ``key`` of ``agent``'s best transformations at budget ``b``."""
    runs = sorted((r for r in records if r["agent"] == agent), key=lambda r: r["seed"])
    return np.array([[row[key] for row in r["per_input"][str(b)]] for r in runs], dtype=float)


def summary_rows(records: Sequence[dict[str, Any]], cfg: AmortizedConfig) -> list[dict[str, Any]]:
    """One row per (budget, agent): statistics over seeds and inputs."""
    agents = [a for a in cfg.agents if any(r["agent"] == a for r in records)]
    rows = []
    for b in cfg.per_input:
        baseline = score_matrix(records, "random", b) if "random" in agents else None
        for agent in agents:
            scores = score_matrix(records, agent, b)
            runs = [r for r in records if r["agent"] == agent]
            poi = (
                probability_of_improvement(scores, baseline)
                if baseline is not None and agent != "random"
                else (float("nan"),) * 3
            )
            rows.append(
                {
                    "per_input": b,
                    "agent": agent,
                    **summarize(scores),
                    "p_improve_random": poi[0],
                    "p_improve_lo": poi[1],
                    "p_improve_hi": poi[2],
                    "madds_ratio": float(score_matrix(records, agent, b, "madds_ratio").mean()),
                    "train_queries": float(np.mean([r["train_queries"] for r in runs])),
                    "wall_s": float(np.mean([r["wall_s"] for r in runs])),
                }
            )
    return rows


def markdown_table(rows: Sequence[dict[str, Any]]) -> str:
    """The README tables (one per per-input budget; rewards in accuracy points)."""
    out = []
    for b in sorted({r["per_input"] for r in rows}):
        out += [
            f"Per-input budget b = {b} transformation{'s' if b > 1 else ''}:",
            "",
            "| agent | seeds | held-out reward (mean ± std) | IQM [95% CI] | P(better than random) "
            "| MAdds ratio | training queries | wall time / run |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in (r for r in rows if r["per_input"] == b):
            p = r["p_improve_random"]
            poi = f"{p:.2f} [{r['p_improve_lo']:.2f}, {r['p_improve_hi']:.2f}]" if np.isfinite(p) else "–"
            out.append(
                f"| {r['agent']} | {r['n']} | {100 * r['mean']:+.2f} ± {100 * r['std']:.2f} | "
                f"{100 * r['iqm']:+.2f} [{100 * r['iqm_lo']:+.2f}, {100 * r['iqm_hi']:+.2f}] | {poi} | "
                f"{r['madds_ratio']:.3f} | {r['train_queries']:.0f} | {r['wall_s']:.1f} s |"
            )
        out.append("")
    return "\n".join(out)


def plot(records: Sequence[dict[str, Any]], cfg: AmortizedConfig, out: Path) -> list[Path]:
    """``curve.png`` (held-out greedy reward vs training queries; search baselines, which do
    not train, as dashed levels at their b = 1 score) and ``profile.png`` (rliable performance
    profiles of the per-input scores at the largest budget)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from rliable import plot_utils

    agents = [a for a in cfg.agents if any(r["agent"] == a for r in records)]
    colors = {a: plt.get_cmap("tab10")(i) for i, a in enumerate(AGENTS)}
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for agent in agents:
        runs = [r for r in records if r["agent"] == agent]
        if agent in LEARNERS:
            x = np.array([q for q, _ in runs[0]["curve"]])
            curves = np.array([[v for _, v in r["curve"]] for r in runs])
            mean, lo, hi = curve_band(curves)
            ax.plot(x, 100 * mean, marker="o", ms=3, label=agent, color=colors[agent])
            ax.fill_between(x, 100 * lo, 100 * hi, color=colors[agent], alpha=0.15)
        else:
            level = 100 * score_matrix(records, agent, min(cfg.per_input)).mean()
            ax.axhline(level, ls="--", lw=1, color=colors[agent], label=f"{agent} (no training)")
    ax.axhline(0.0, color="grey", lw=0.8, ls=":")
    ax.set(
        xlabel="training supernet queries",
        ylabel="held-out reward, greedy (accuracy points)",
        title=f"Held-out inputs ({len(records[0]['per_input'][str(min(cfg.per_input))])}), "
        f"mean and 95% CI over {cfg.seeds} seeds",
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    paths = [out / "curve.png", out / "profile.png"]
    atomic_write(paths[0], lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)

    b = max(cfg.per_input)
    scores = {a: 100 * score_matrix(records, a, b) for a in agents}
    lo = min(float(s.min()) for s in scores.values())
    hi = max(float(s.max()) for s in scores.values())
    taus = np.linspace(lo - 1e-9, hi, 61)
    profiles, cis = performance_profile(scores, taus)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    plot_utils.plot_performance_profiles(
        profiles,
        taus,
        performance_profile_cis=cis,
        colors={a: colors[a] for a in agents},
        xlabel=r"held-out reward $\tau$ (accuracy points)",
        ylabel=r"fraction of (seed, input) scores $> \tau$",
        ax=ax,
    )
    handles = [Line2D([0], [0], color=colors[a], lw=2) for a in agents]  # lines, not the CI patches
    ax.legend(handles, agents, fontsize=7, ncol=2)
    ax.set_title(f"Performance profiles, per-input budget b = {b}")
    fig.tight_layout()
    atomic_write(paths[1], lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)
    return paths


def write_report(
    records: Sequence[dict[str, Any]], cfg: AmortizedConfig, reward_spec: dict[str, Any] | None = None
) -> dict[str, Path]:
    """``results.json`` (with the machine and ``reward_spec``), ``summary.md`` and the plots in
    ``cfg.out_dir``."""
    out = Path(cfg.out_dir)
    rows = summary_rows(records, cfg)
    inputs = [name for name, _ in held_out_inputs(cfg.inputs, cfg.reward.steps, cfg.zoo)]
    meta = {
        "config": {**asdict(cfg), "agents": list(cfg.agents), "per_input": list(cfg.per_input)},
        "held_out_inputs": inputs,
        "reward_spec": reward_spec,
        "machine": machine(),
        "summary": rows,
        "runs": [{k: v for k, v in r.items() if k != "per_input"} for r in records],
    }
    write_json(out / "results.json", meta, indent=1)
    write_text(out / "summary.md", markdown_table(rows))
    paths = {"json": out / "results.json", "md": out / "summary.md"}
    if records:
        paths["curve_png"], paths["profile_png"] = plot(records, cfg, out)
    return paths


QUICK = {
    "train_budget": 64,
    "inputs": 2,
    "zoo": False,
    "checkpoints": 2,
    "out_dir": "benchmarks/results/amortized/quick",
}
"""What ``--quick`` changes (the CI-size run)."""


def amortized_command(args: Any) -> None:
    """Body of ``natgym bench --protocol amortized`` (arguments in :mod:`agents.cli`)."""
    if args.ray:
        raise ConfigError("--ray: the amortized protocol runs locally; drop --ray")
    if args.env != "NAT-Cell-v0":
        raise ConfigError("--env: the amortized protocol runs on NAT-Cell-v0; drop --env")
    if args.arch is not None:
        raise ConfigError("--arch: the amortized protocol transforms its held-out inputs; drop --arch")
    quick = QUICK if args.quick else {}
    cfg = AmortizedConfig(
        agents=tuple(a.strip() for a in args.agents.split(",") if a.strip()) if args.agents else AGENTS,
        seeds=args.seeds,
        train_budget=args.budget or quick.get("train_budget", AmortizedConfig.train_budget),
        inputs=args.inputs or quick.get("inputs", AmortizedConfig.inputs),
        zoo=quick.get("zoo", AmortizedConfig.zoo),
        checkpoints=quick.get("checkpoints", AmortizedConfig.checkpoints),
        reward=EvaluatorSpec.from_args(args),
        threads=args.threads,
        out_dir=args.out or quick.get("out_dir", AmortizedConfig.out_dir),
        extra={"mode": "quick" if args.quick else "default"},
    )
    start = time.perf_counter()
    records = run_amortized(cfg)
    print(markdown_table(summary_rows(records, cfg)), end="")
    print(f"{len(records)} runs in {cfg.out_dir} ({time.perf_counter() - start:.0f} s in this call)")

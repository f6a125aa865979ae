"""Benchmark: the NAT agent (``improved`` and ``faithful`` GCN) against the uniform random
valid-transition policy and the identity policy, on NAT-Cell-v0 with the digits supernet.

Protocol (per seed, all policies on the same fixed, deterministic supernet evaluator):

* training phase -- each agent (variant x learning rate; ``--lrs``, default the paper's 3e-4 and a
  larger 1e-3 suited to the small budget) runs ``updates`` x ``num_envs`` episodes; the random
  policy runs the same episodes (same input genotypes: the env is reset from the same seeds),
  so both spend the same number of supernet queries; the per-update mean reward is the
  learning curve;
* held-out phase -- ``eval_inputs`` fresh uniform input genotypes (a stream disjoint from the
  training seeds); every policy transforms each once (one sample; agents also greedily) and is
  paid ``acc_after - acc_before``; identity returns the input (reward 0 by construction of the
  deterministic evaluator -- measured, not assumed).

Writes into ``--out`` (default ``benchmarks/results``): ``nat_agent.csv`` (per seed and policy),
``nat_agent_curve.csv`` (learning curves), ``nat_agent.md`` (table), ``nat_agent.png`` (curves)
and ``nat_agent.json`` (settings, wall time). ``--quick`` is a smoke run written to
``<out>/quick``.

    python benchmarks/nat_agent.py            # 5 seeds, default settings
    python benchmarks/nat_agent.py --quick    # a smoke run
"""

from __future__ import annotations

import argparse
import csv
import os
import time
from pathlib import Path

import numpy as np
import torch

import natgym  # noqa: F401  (registers NAT-Cell-v0)
from agents.nat.bmsoftmax import BMSoftmax
from agents.nat.policy import NATPolicy, observe
from agents.nat.trainer import NATConfig, action_masks, make_envs, train
from agents.stats import summarize
from natgym import zoo
from natgym.envs.core import genotype_cost
from natgym.files import atomic_write, write_json, write_text
from natgym.progress import progress_bar
from natgym.space import NUM_OPS
from natgym.spec import EvaluatorSpec
from natgym.supernet.train import default_config

VARIANTS = ("improved", "faithful")


def random_curve(cfg: NATConfig, evaluator) -> list[float]:
    """Mean reward per update of the uniform valid-transition policy on the trainer's episodes."""
    envs = make_envs(cfg, evaluator)
    gen = torch.Generator().manual_seed(cfg.seed)
    curve = []
    for update in range(cfg.updates):
        obs, _ = envs.reset(seed=cfg.seed * 1_000_003 + update * envs.num_envs)  # as in train()
        mask = torch.as_tensor(action_masks(envs, obs)).reshape(envs.num_envs, -1, NUM_OPS)
        actions = BMSoftmax(torch.zeros(mask.shape), mask).sample(gen)
        _, rewards, _, _, _ = envs.step(actions.numpy())
        curve.append(float(np.mean(rewards)))
    envs.close()
    return curve


def held_out(
    policy: NATPolicy | None, inputs, evaluator, seed: int, greedy: bool = False
) -> tuple[np.ndarray, float]:
    """Rewards of one transformation per input by ``policy`` (None = uniform random valid), and
    the mean MAdds ratio after/before in the DARTS CIFAR network."""
    obs = [observe(g) for g in inputs]
    batch = {k: np.stack([o[k] for o in obs]) for k in obs[0]}
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        if policy is None:
            mask = torch.as_tensor(batch["action_mask"]).reshape(len(inputs), -1, NUM_OPS)
            dist = BMSoftmax(torch.zeros(mask.shape), mask)
        else:
            dist = policy.cpu()(batch)
        actions = (dist.mode() if greedy else dist.sample(gen)).numpy()
    e = actions.shape[1] // 2
    outputs = [g.with_ops(a[:e], a[e:]) for g, a in zip(inputs, actions)]
    ratio = np.mean([genotype_cost(a).madds / genotype_cost(b).madds for b, a in zip(inputs, outputs)])
    return evaluator.reward(inputs, outputs), float(ratio)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--updates", type=int, default=200, help="policy updates per agent")
    parser.add_argument("--num-envs", type=int, default=8, help="episodes per update")
    parser.add_argument("--eval-inputs", type=int, default=100, help="held-out input genotypes per seed")
    parser.add_argument("--lrs", type=float, nargs="+", default=[3e-4, 1e-3], help="agent learning rates")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (1 avoids thrashing shared cores)"
    )
    parser.add_argument("--preset", default=None, help="supernet preset (default: the digits default)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 seeds, 4 updates, 8 inputs")
    args = parser.parse_args(argv)
    out = Path(args.out)
    if args.quick:
        args.seeds, args.updates, args.num_envs, args.eval_inputs = 2, 4, 4, 8
        out = out / "quick"
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(args.threads)
    agents = [(variant, lr) for lr in args.lrs for variant in VARIANTS]

    t0 = time.time()
    evaluator = EvaluatorSpec("digits", args.preset, device=args.device).build()
    t_supernet = time.time() - t0
    rows, curves = [], []
    bar = progress_bar(total=args.seeds * (len(agents) + 1), desc="nat benchmark")
    for seed in range(args.seeds):
        rng = np.random.default_rng((777, seed))
        inputs = [zoo.sample(rng) for _ in range(args.eval_inputs)]
        base = dict(updates=args.updates, num_envs=args.num_envs, seed=seed, device=args.device)
        train_curves: dict[str, list[float]] = {}
        train_queries: dict[str, int] = {}
        held: dict[str, tuple[np.ndarray, float]] = {}
        for variant, lr in agents:
            name = f"{variant} lr={lr:g}"
            q0 = evaluator.queries
            res = train(NATConfig(variant=variant, lr=lr, progress=False, **base), evaluator=evaluator)
            train_queries[name] = evaluator.queries - q0
            train_curves[name] = [h["reward"] for h in res.history]
            held[name] = held_out(res.policy, inputs, evaluator, seed)
            held[name + " (greedy)"] = held_out(res.policy, inputs, evaluator, seed, greedy=True)
            bar.update()
        q0 = evaluator.queries
        train_curves["random"] = random_curve(NATConfig(**base), evaluator)
        train_queries["random"] = evaluator.queries - q0
        held["random"] = held_out(None, inputs, evaluator, seed)
        held["identity"] = (evaluator.reward(inputs, inputs), 1.0)
        bar.update()
        for name, (rewards, madds_ratio) in held.items():
            curve = train_curves.get(name, [])
            tail = curve[-max(1, len(curve) // 10) :]
            rows.append(
                {
                    "policy": name,
                    "seed": seed,
                    "held_out_reward": float(np.mean(rewards)),
                    "held_out_madds_ratio": madds_ratio,
                    "train_reward_last10pct": float(np.mean(tail)) if tail else float("nan"),
                    "train_queries": train_queries.get(name.removesuffix(" (greedy)"), 0),
                    "eval_queries": 2 * len(inputs),
                }
            )
        for name, curve in train_curves.items():
            for u, r in enumerate(curve):
                curves.append(
                    {
                        "policy": name,
                        "seed": seed,
                        "update": u + 1,
                        "episodes": (u + 1) * args.num_envs,
                        "reward": r,
                    }
                )
    bar.close()
    wall = time.time() - t0

    with open(out / "nat_agent.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    with open(out / "nat_agent_curve.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(curves[0]))
        w.writeheader()
        w.writerows(curves)

    names = list(dict.fromkeys(r["policy"] for r in rows))
    lines = [
        f"NAT-Cell-v0, digits supernet, {args.seeds} seeds; training: {args.updates} updates x "
        f"{args.num_envs} episodes ({2 * args.updates * args.num_envs} supernet queries) "
        f"for each agent and for the random policy; held-out: {args.eval_inputs} fresh inputs per seed, "
        "one transformation each.",
        "",
        "| policy | held-out reward, mean ± std over seeds | IQM [95% CI] | held-out MAdds after/before "
        "| last 10% of training reward |",
        "|---|---|---|---|---|",
    ]
    summary = {}
    for name in names:
        held = [r["held_out_reward"] for r in rows if r["policy"] == name]
        tr = [r["train_reward_last10pct"] for r in rows if r["policy"] == name]
        madds = np.mean([r["held_out_madds_ratio"] for r in rows if r["policy"] == name])
        s = summarize(held)
        summary[name] = {
            "held_out": s,
            "train_last10pct_mean": float(np.nanmean(tr)) if not np.isnan(tr).all() else None,
        }
        trs = f"{np.mean(tr):+.4f} ± {np.std(tr):.4f}" if not np.isnan(tr).all() else "–"
        lines.append(
            f"| {name} | {s['mean']:+.4f} ± {s['std']:.4f} "
            f"| {s['iqm']:+.4f} [{s['iqm_lo']:+.4f}, {s['iqm_hi']:+.4f}] | {madds:.3f} | {trs} |"
        )
    write_text(out / "nat_agent.md", "\n".join(lines) + "\n")
    meta = {
        "args": {**vars(args), "out": os.path.relpath(out)},
        "wall_seconds": wall,
        "supernet_load_seconds": t_supernet,
        "evaluator": type(evaluator).__name__,
        "supernet": default_config("digits", args.preset).filename(),
        "total_queries": evaluator.queries,
        "summary": summary,
    }
    write_json(out / "nat_agent.json", meta)
    plot(curves, [f"{v} lr={lr:g}" for v, lr in agents] + ["random"], args, out / "nat_agent.png")
    print("\n".join(lines))
    print(f"\nwall time {wall:.0f} s; results in {out}")


def plot(curves: list[dict], names: list[str], args: argparse.Namespace, path: Path) -> None:
    """Learning curves (mean over seeds, band = ± std, smoothed over a few updates)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    window = max(1, args.updates // 20)
    kernel = np.ones(window) / window
    for i, name in enumerate(names):
        runs = [
            [c["reward"] for c in curves if c["policy"] == name and c["seed"] == s] for s in range(args.seeds)
        ]
        arr = np.array([np.convolve(r, kernel, mode="valid") for r in runs])
        x = (np.arange(arr.shape[1]) + window) * args.num_envs * 2
        m, sd = arr.mean(0), arr.std(0)
        ax.plot(x, m, color=f"C{i}", label=name if name == "random" else f"NAT agent, {name}")
        ax.fill_between(x, m - sd, m + sd, color=f"C{i}", alpha=0.15)
    ax.axhline(0.0, color="k", lw=1, ls="--", label="identity")
    ax.set_xlabel("supernet queries (2 per episode)")
    ax.set_ylabel(f"mean reward per update (moving avg {window})")
    ax.set_title(f"NAT-Cell-v0, digits supernet, {args.seeds} seeds (band: ± std)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)


if __name__ == "__main__":
    main()

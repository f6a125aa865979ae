"""Bodies of the ``natgym train-agent --algo nat``, ``natgym transform`` and ``natgym demo``
commands (the argument parser lives in :mod:`agents.cli`, which imports this module lazily)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from agents.nat.derive import DeriveResult, derive
from agents.nat.policy import NATPolicy
from agents.nat.trainer import NATConfig, load_policy, train
from natgym import zoo
from natgym.errors import ConfigError
from natgym.spec import EvaluatorSpec

DEMO_UPDATES = 100
"""Policy updates of the quick agent trained by ``demo`` (and ``transform`` without a checkpoint)."""
DEMO_ENVS = 8
DEMO_LR = 1e-3
"""Larger than the paper's 3e-4 (docs/method.md section 6), which needs far more than the demo's
800 episodes to move."""


def train_command(args: argparse.Namespace) -> None:
    """``natgym train-agent --algo nat`` (``--cotrain`` is the NAT trainer's alternation, so the
    evaluator itself does not co-train)."""
    env_id = getattr(args, "env", None) or "NAT-Cell-v0"
    if env_id == "NAT-Depth-v0":
        raise ConfigError(
            "--env: the NAT agent transforms cells (NAT-Cell-v0, NAT-Path-v0); use --algo maskable_ppo, "
            "ppo or a2c for NAT-Depth-v0"
        )
    spec = EvaluatorSpec.from_args(args)
    path = "-path" if env_id == "NAT-Path-v0" else ""
    out = Path(args.out or f"runs/nat{path}-{args.variant}-{spec.dataset.partition(':')[0]}-seed{args.seed}")
    cfg = NATConfig(
        env_id=env_id,
        num_envs=args.num_envs,
        updates=args.updates,
        variant=args.variant,
        lr=args.lr,
        entropy_coef=args.entropy_coef,
        reference_baseline=args.reference_baseline,
        seed=args.seed,
        device=spec.device,
        cotrain=args.cotrain,
        out_dir=str(out),
        checkpoint_every=args.checkpoint_every,
    )
    cfg.validate()  # before the supernet is loaded (or trained)
    result = train(cfg, evaluator=spec.build(), resume=not args.no_resume)
    last = result.history[-10:]
    mean = sum(h["reward"] for h in last) / max(len(last), 1)
    print(
        f"trained {cfg.variant} NAT agent for {cfg.updates} updates; "
        f"mean reward of the last {len(last)}: {mean:+.4f}"
    )
    print(f"checkpoint: {out / 'checkpoint.pt'}   log: {out / 'progress.csv'}   tensorboard: {out / 'tb'}")


def quick_agent(evaluator: Any, out: Path, seed: int = 0, device: str = "auto", steps: int = 4) -> NATPolicy:
    """Train (or resume) the short demo agent in ``out`` on uniform inputs of ``steps``
    intermediate nodes and return its policy."""
    cfg = NATConfig(
        env_kwargs={"steps": steps} if steps != 4 else {},
        num_envs=DEMO_ENVS,
        updates=DEMO_UPDATES,
        lr=DEMO_LR,
        seed=seed,
        device=device,
        out_dir=str(out),
        checkpoint_every=10,
    )
    return train(cfg, evaluator=evaluator).policy


def report(result: DeriveResult, out: Path, name: str) -> None:
    """Print a derive result and save its JSON/text/PNG files."""
    from natgym.render import ansi_table

    print(ansi_table(result.before, result.after), end="")
    print(result.summary())
    paths = result.save(out, name)
    print(f"saved: {paths['png']}  {paths['json']}  {paths['txt']}")


def transform_command(args: argparse.Namespace) -> None:
    """``natgym transform``."""
    genotype = zoo.resolve(args.arch)
    if args.samples < 1:
        raise ConfigError(f"samples: expected a positive integer, got {args.samples}")
    spec = EvaluatorSpec.from_args(args, steps=genotype.steps)  # a 5-node cell gets a 5-node supernet
    evaluator = spec.build()
    out = Path(args.out)
    if args.checkpoint:
        policy = load_policy(args.checkpoint, device=spec.device)
    else:
        ckpt = out / "agent" / "checkpoint.pt"
        print(f"no --checkpoint given: training a short NAT agent in {ckpt.parent} (reused next time)")
        policy = quick_agent(
            evaluator, out / "agent", seed=args.seed, device=spec.device, steps=genotype.steps
        )
    result = derive(genotype, policy, evaluator, samples=args.samples, greedy=args.greedy, seed=args.seed)
    name = args.arch if args.arch in {n.lower() for n in zoo.names()} | set(zoo.names()) else "transform"
    report(result, out, f"transform_{name}")


def demo(out: str | Path = "natgym-demo", seed: int = 0, device: str = "auto") -> None:
    """The main job on the embedded default (digits): supernet, short agent training, DARTS
    transformation printed and drawn into ``out``."""
    import torch

    # The digits supernet is tiny: one thread is as fast on an idle machine and avoids the
    # 10-100x slow-down of OpenMP threads fighting over busy shared cores.
    torch.set_num_threads(1)
    out = Path(out)
    print("\n[1/3] supernet on the embedded digits dataset (trained on first use, then cached)")
    spec = EvaluatorSpec(dataset="digits", device=device)
    evaluator = spec.build()
    print(
        f"\n[2/3] NAT agent (improved GCN + BMSoftmax, REINFORCE): "
        f"{DEMO_UPDATES} updates x {DEMO_ENVS} episodes, lr {DEMO_LR:g}"
    )
    policy = quick_agent(evaluator, out / "agent", seed=seed, device=spec.device)
    print("\n[3/3] transform DARTS: best of 10 sampled transformations by supernet accuracy (policy split)")
    result = derive(zoo.get("DARTS"), policy, evaluator, samples=10, seed=seed)
    report(result, out, "transform_DARTS")

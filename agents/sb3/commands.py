"""Body of ``natgym train-agent --algo maskable_ppo|ppo|a2c|dqn`` (the parser lives in
:mod:`agents.cli`, which imports this module lazily)."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from agents.sb3.train import train
from natgym.errors import ConfigError
from natgym.spec import EvaluatorSpec


def train_command(args: argparse.Namespace) -> None:
    """Train an SB3 agent on the supernet evaluator of the command's arguments (``--cotrain``:
    the evaluator keeps training the supernet as the agent queries it)."""
    if args.env == "NAT-Path-v0" and args.algo == "dqn":
        raise ConfigError(
            "--env: dqn runs on NAT-CellSeq-v0 (one edge per step); use maskable_ppo, ppo or a2c"
        )
    spec = EvaluatorSpec.from_args(args, cotrain=args.cotrain)
    evaluator = spec.build()
    out = Path(args.out or f"runs/{args.algo}-{spec.dataset.partition(':')[0]}-seed{args.seed}")
    result = train(
        args.algo,
        env_kwargs={"reward": evaluator},
        timesteps=args.timesteps,
        seed=args.seed,
        device=spec.device,
        out_dir=out,
        eval_freq=args.eval_freq,
        resume=not args.no_resume,
        overrides={"env": args.env} if args.env else None,
    )
    rewards = [e["reward"] for e in result.ledger.episodes[-100:]]
    mean = float(np.mean(rewards)) if rewards else float("nan")
    print(
        f"trained {args.algo} for {result.timesteps} steps; mean reward of the last {len(rewards)} "
        f"episodes: {mean:+.4f}"
    )
    print(f"model: {out / 'model.zip'}   log: {out / 'monitor.csv'}   tensorboard: {out / 'tb'}")

"""When do reward actors pay? Env episodes/s of 4 client processes sharing 1 or 2 Ray reward
actors, beside one process with its own evaluator, measured in one run (alternating rounds).

Each client is a Ray task running ``NAT-Cell-v0`` episodes (fresh uniform inputs, so every
reward is computed) on a :class:`natgym.remote.RemoteEvaluator`; the in-process row is the same
episodes in this process. Digits supernet, 1 torch thread everywhere. Writes
``benchmarks/results/reward_actors.{json,md}``.
Usage: ``python benchmarks/reward_actors.py [--episodes 40] [--rounds 3] [--cpus N]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import gymnasium as gym
import ray
import torch

import natgym  # noqa: F401  (registers the env ids)
from natgym.files import write_json, write_text
from natgym.remote import RemoteEvaluator
from natgym.spec import EvaluatorSpec

RESULTS = Path(__file__).resolve().parent / "results"
CLIENTS = 4


def episodes(reward, n: int, seed: int) -> float:
    """Seconds for ``n`` episodes of one env scoring with ``reward``."""
    torch.set_num_threads(1)
    env = gym.make("NAT-Cell-v0", reward=reward)
    start = time.perf_counter()
    for i in range(n):
        _, info = env.reset(seed=seed * 100_000 + i)
        env.step(env.action_space.sample(mask=info["action_mask"]))
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--episodes", type=int, default=40, help="episodes per client per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--cpus",
        type=int,
        default=3,
        help="logical CPUs Ray may hand out (3 actors of 1 CPU; default %(default)s)",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    spec = EvaluatorSpec("digits", device="cpu")
    local = spec.build()  # the supernet is in the cache before the actors start
    ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False, configure_logging=False)
    client = ray.remote(num_cpus=0)(episodes)  # clients use little besides the reward calls
    remotes = {n: RemoteEvaluator(spec, actors=n) for n in (1, 2)}
    rates: dict[str, list[float]] = {"1 process, in-process evaluator": []}
    rates.update({f"{CLIENTS} clients, {n} actor(s)": [] for n in remotes})
    for r in range(args.rounds):
        rates["1 process, in-process evaluator"].append(args.episodes / episodes(local, args.episodes, r))
        for n, remote in remotes.items():
            start = time.perf_counter()
            ray.get([client.remote(remote, args.episodes, 10 * r + c) for c in range(CLIENTS)])
            rates[f"{CLIENTS} clients, {n} actor(s)"].append(
                CLIENTS * args.episodes / (time.perf_counter() - start)
            )
    ray.shutdown()
    med = {k: statistics.median(v) for k, v in rates.items()}
    machine = {
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "ray_cpus": args.cpus,
    }
    lines = [
        f"# Reward actors ({machine['cpu']}, {machine['cpu_count']} cores, Ray with {args.cpus} CPUs)",
        "",
        f"Env episodes/s (fresh uniform inputs, digits supernet, 1 torch thread), median of {args.rounds} "
        f"alternating rounds of {args.episodes} episodes per client.",
        "",
        "| setting | episodes/s |",
        "|---|---:|",
        *[f"| {k} | {v:.1f} |" for k, v in med.items()],
        "",
    ]
    result = {
        "machine": machine,
        "episodes": args.episodes,
        "rounds": args.rounds,
        "median": med,
        "raw": rates,
    }
    write_json(RESULTS / "reward_actors.json", result)
    write_text(RESULTS / "reward_actors.md", "\n".join(lines))
    print("\n".join(lines))
    return result


if __name__ == "__main__":
    main()

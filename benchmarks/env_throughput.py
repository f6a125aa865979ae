"""Benchmark: NAT-Cell-v0 episodes per second on the digits supernet.

Measured side by side in one run, on the same evaluator (the process-shared supernet):

* ``single`` -- one env, a fixed input (DARTS) whose accuracy the evaluator has cached after the
  warm-up, random valid actions: the cost of one episode is the transformed genotype's
  evaluation plus the env's own work;
* ``single_sampled`` -- one env, a fresh uniform input every episode (both genotypes evaluated);
* ``batched`` -- ``gymnasium.make_vec("NAT-Cell-v0", num_envs=N)`` (the batched vector env: one
  evaluator call for the N episodes of a step), same fixed input, ``SAME_STEP`` autoreset so each
  call is N episodes;
* ``separate`` -- N separate envs stepped one after the other (``vectorization_mode="sync"``,
  ``SAME_STEP``), same fixed input and actions.

The digits supernet is tiny (8 channels, 3 cells, 8x8 images): torch's intra-op threads cost
more than they gain there, and on a loaded machine far more, so ``--threads`` defaults to 1.

Rounds alternate between the settings and each setting reports the median over rounds, so load
from other processes hits all of them alike. Writes ``env_throughput.json`` and
``env_throughput.md`` into ``--out`` (default ``benchmarks/results``).

    python benchmarks/env_throughput.py                 # digits preset, N=8
    python benchmarks/env_throughput.py --quick         # fewer rounds
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode

import natgym  # noqa: F401  (registers NAT-Cell-v0)
from natgym.envs.core import shared_evaluator

SETTINGS = ("single", "single_sampled", "batched", "separate")


def _single(env: gym.Env, episodes: int, rng: np.random.Generator, sampled: bool) -> float:
    options = None if sampled else {"genotype": "DARTS"}
    start = time.perf_counter()
    for _ in range(episodes):
        _, info = env.reset(seed=int(rng.integers(2**31)), options=options)
        env.step(env.action_space.sample(mask=info["action_mask"]))
    return episodes / (time.perf_counter() - start)


def _vector(envs: gym.vector.VectorEnv, steps: int, rng: np.random.Generator) -> float:
    _, info = envs.reset(seed=int(rng.integers(2**31)), options={"genotype": "DARTS"})
    start = time.perf_counter()
    for _ in range(steps):
        actions = np.stack([envs.single_action_space.sample(mask=m) for m in info["action_mask"]])
        _, _, terminated, _, info = envs.step(actions)
        assert terminated.all()
    return steps * envs.num_envs / (time.perf_counter() - start)


def _write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=path.suffix)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark; returns the stored result dict."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default=None, help="supernet preset of the digits evaluator")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--num-envs", type=int, default=8)
    parser.add_argument("--episodes", type=int, default=40, help="episodes per setting per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="2 rounds of 16 episodes")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch intra-op threads (0: leave torch's default)"
    )
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    if args.quick:
        args.rounds, args.episodes = 2, 16
    n = args.num_envs
    evaluator = shared_evaluator(dataset="digits", preset=args.preset, device=args.device)
    kwargs = {"supernet": evaluator}
    single = gym.make("NAT-Cell-v0", **kwargs)
    batched = gym.make_vec("NAT-Cell-v0", num_envs=n, autoreset_mode=AutoresetMode.SAME_STEP, **kwargs)
    separate = gym.make_vec(
        "NAT-Cell-v0", num_envs=n, vectorization_mode="sync",
        vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP}, **kwargs,
    )  # fmt: skip
    rng = np.random.default_rng(0)
    steps = max(1, args.episodes // n)
    _single(single, 2, rng, sampled=False)  # warm-up: caches the input's accuracy, JIT/allocator
    _vector(batched, 1, rng)
    _vector(separate, 1, rng)
    rates: dict[str, list[float]] = {s: [] for s in SETTINGS}
    for _ in range(args.rounds):
        rates["single"].append(_single(single, args.episodes, rng, sampled=False))
        rates["single_sampled"].append(_single(single, args.episodes, rng, sampled=True))
        rates["batched"].append(_vector(batched, steps, rng))
        rates["separate"].append(_vector(separate, steps, rng))
    median = {s: float(np.median(v)) for s, v in rates.items()}
    result = {
        "episodes_per_s": median,
        "batched_over_separate": median["batched"] / median["separate"],
        "rounds": rates,
        "settings": {
            "dataset": "digits",
            "preset": args.preset,
            "device": str(getattr(evaluator, "device", args.device)),
            "evaluator": type(evaluator).__name__,
            "evaluator_steps": getattr(evaluator, "steps", None),
            "num_envs": n,
            "episodes_per_round": args.episodes,
            "vector_steps_per_round": steps,
            "rounds": args.rounds,
        },
        "machine": {
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
            "python": platform.python_version(),
            "torch": torch.__version__,
        },
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    _write(out / "env_throughput.json", json.dumps(result, indent=2) + "\n")
    rows = [
        ("single env, cached input (DARTS)", median["single"]),
        ("single env, fresh uniform input", median["single_sampled"]),
        (f"make_vec N={n}, batched path", median["batched"]),
        (f"{n} separate envs (sync)", median["separate"]),
    ]
    device = result["settings"]["device"]
    md = [
        f"NAT-Cell-v0 throughput, digits supernet (preset {args.preset or 'default'}), device {device}, "
        f"{os.cpu_count()} CPUs, {torch.get_num_threads()} torch thread(s); median of {args.rounds} "
        "interleaved rounds. Command: `python benchmarks/env_throughput.py`.",
        "",
        "| setting | episodes/s |",
        "|---|---:|",
        *[f"| {name} | {rate:.1f} |" for name, rate in rows],
        "",
        f"Batched / separate per-episode speed: {result['batched_over_separate']:.2f}x",
        "",
    ]
    _write(out / "env_throughput.md", "\n".join(md))
    print("\n".join(md))
    return result


if __name__ == "__main__":
    main()

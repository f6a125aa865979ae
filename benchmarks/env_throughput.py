"""Benchmark: NAT-Cell-v0 episodes per second on the digits supernet.

Measured side by side in one run, on the same evaluator (the process-shared supernet), with
random valid actions:

* ``single`` -- one env with a fixed input (``arch="DARTS"``) whose accuracy the evaluator has
  cached after the warm-up: an episode costs the transformed genotype's evaluation plus the
  env's own work;
* ``batched`` -- ``gymnasium.make_vec("NAT-Cell-v0", num_envs=N)``, the batched vector env (one
  evaluator call scores the N episodes of a step), same fixed input, ``SAME_STEP`` autoreset so
  each call is N episodes;
* ``separate`` -- N separate envs stepped one after the other (``vectorization_mode="sync"``,
  ``SAME_STEP``), same fixed input;
* ``*_sampled`` -- the same three with a fresh uniform input every episode (both genotypes of
  every episode are evaluated).

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
import os
import platform
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode

import natgym  # noqa: F401  (registers NAT-Cell-v0)
from natgym.files import write_json, write_text
from natgym.spec import EvaluatorSpec

SETTINGS = ("single", "batched", "separate", "single_sampled", "batched_sampled", "separate_sampled")


def _single(env: gym.Env, episodes: int, rng: np.random.Generator) -> float:
    start = time.perf_counter()
    for _ in range(episodes):
        _, info = env.reset(seed=int(rng.integers(2**31)))
        env.step(env.action_space.sample(mask=info["action_mask"]))
    return episodes / (time.perf_counter() - start)


def _vector(envs: gym.vector.VectorEnv, steps: int, rng: np.random.Generator) -> float:
    _, info = envs.reset(seed=int(rng.integers(2**31)))
    start = time.perf_counter()
    for _ in range(steps):
        actions = np.stack([envs.single_action_space.sample(mask=m) for m in info["action_mask"]])
        _, _, terminated, _, info = envs.step(actions)
        assert terminated.all()
    return steps * envs.num_envs / (time.perf_counter() - start)


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
    evaluator = EvaluatorSpec("digits", args.preset, device=args.device).build()
    same = {"autoreset_mode": AutoresetMode.SAME_STEP}
    envs: dict[str, object] = {}
    for suffix, arch in (("", "DARTS"), ("_sampled", None)):
        kwargs = {"reward": evaluator, "arch": arch}
        envs["single" + suffix] = gym.make("NAT-Cell-v0", **kwargs)
        envs["batched" + suffix] = gym.make_vec("NAT-Cell-v0", num_envs=n, **same, **kwargs)
        envs["separate" + suffix] = gym.make_vec(
            "NAT-Cell-v0", num_envs=n, vectorization_mode="sync", vector_kwargs=same, **kwargs
        )
    rng = np.random.default_rng(0)
    steps = max(1, args.episodes // n)

    def measure(name: str, scale: int) -> float:
        if name.startswith("single"):
            return _single(envs[name], max(1, args.episodes // scale), rng)
        return _vector(envs[name], max(1, steps // scale), rng)

    for name in SETTINGS:  # warm-up: caches the fixed input's accuracy, allocator, lazy imports
        measure(name, args.episodes)
    rates: dict[str, list[float]] = {s: [] for s in SETTINGS}
    for _ in range(args.rounds):
        for name in SETTINGS:
            rates[name].append(measure(name, 1))
    median = {s: float(np.median(v)) for s, v in rates.items()}
    result = {
        "episodes_per_s": median,
        "batched_over_separate": median["batched"] / median["separate"],
        "batched_over_separate_sampled": median["batched_sampled"] / median["separate_sampled"],
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
    write_json(out / "env_throughput.json", result)
    rows = [
        ("single env", "single"),
        (f"make_vec N={n}, batched path", "batched"),
        (f"{n} separate envs (sync)", "separate"),
    ]
    device = result["settings"]["device"]
    md = [
        f"NAT-Cell-v0 throughput, digits supernet (preset {args.preset or 'default'}), device {device}, "
        f"{os.cpu_count()} CPUs, {torch.get_num_threads()} torch thread(s); median of {args.rounds} "
        "interleaved rounds. Command: `python benchmarks/env_throughput.py`.",
        "",
        "| setting | fixed input (DARTS, accuracy cached) | fresh uniform input |",
        "|---|---:|---:|",
        *[f"| {label} | {median[key]:.1f} | {median[key + '_sampled']:.1f} |" for label, key in rows],
        "",
        f"Episodes per second. Batched / separate: {result['batched_over_separate']:.2f}x (fixed input), "
        f"{result['batched_over_separate_sampled']:.2f}x (fresh input).",
        "",
    ]
    write_text(out / "env_throughput.md", "\n".join(md))
    print("\n".join(md))
    return result


if __name__ == "__main__":
    main()

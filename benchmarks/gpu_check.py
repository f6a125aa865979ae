"""Run this first on your GPU: every CUDA path of natgym, timed, in one table (< 8 min on one GPU).

On synthetic images of the preset's shape (speed does not depend on pixel values), it checks:

* **supernet training** -- ``Trainer`` SGD steps at the ``cifar10`` supernet preset (8 cells x 20
  channels, 32 x 32, batch 64; bf16 autocast + channels-last on CUDA): images/s;
* **forward agreement** -- the reward evaluator's forward on the device (CUDA: the module forward
  in bf16 autocast, channels-last; CPU: the fast functional forward) against the fp32 module
  forward, on the same images and genotypes: the fraction of images with the same predicted
  class and the largest accuracy difference (tolerance: 0.95 agreement and 0.05 accuracy in
  bf16, 0.999 and 0.005 in fp32);
* **rewards/s** -- ``mode="minibatch"`` (a fresh 64-image batch per reward, the paper's mode, 8
  pairs per call) and the full policy split (``accuracy_on``);
* **env episodes/s** -- ``NAT-Cell-v0`` on that evaluator, and ``make_vec`` with 8 envs;
* **final training** -- ``natgym evaluate --preset cifar10 --epochs 1`` (the stand-alone DARTS
  network, 20 cells x 36 channels, batch 96): seconds per SGD step.

``--device cpu --tiny`` runs the same code at toy sizes in seconds (what CI runs). Prints the
table with the device name and stores it in ``benchmarks/results/gpu_check.{json,md}``.
Usage: ``python benchmarks/gpu_check.py [--device cuda:0] [--tiny] [--out PATH]``.
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import fake_dataset, timed, transformed  # noqa: E402  (the benchmarks' own helpers)

import natgym  # noqa: E402, F401  (registers the env ids)
from natgym import zoo  # noqa: E402
from natgym.device import resolve_device  # noqa: E402
from natgym.files import write_json, write_text  # noqa: E402
from natgym.final import make_config, train_seed  # noqa: E402
from natgym.reward import SupernetEvaluator  # noqa: E402
from natgym.supernet import Supernet  # noqa: E402
from natgym.supernet.train import Trainer, default_config  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def check(device: torch.device, tiny: bool) -> dict:
    """Run every check; returns the rows and the verdicts."""
    size, images = (8, 128) if tiny else (32, 2048)
    overrides = {"channels": 4, "layers": 3} if tiny else {}
    config = default_config(
        "cifar10", "cifar10", net={**default_config("cifar10").net.to_dict(), **overrides}
    )
    data = fake_dataset(3, size, 10, n=images)
    torch.manual_seed(0)
    model = Supernet(config.net).to(device, memory_format=torch.channels_last)
    rows: dict[str, dict] = {}

    # ---- supernet training
    trainer = Trainer(model, data, config, device)
    steps = 3 if tiny else 30
    trainer.step()
    seconds = timed(lambda: [trainer.step() for _ in range(steps)], device)
    rows["supernet training"] = {"value": steps * config.batch_size / seconds, "unit": "images/s"}

    # ---- forward agreement: the evaluator's device path vs the fp32 module forward
    evaluator = SupernetEvaluator(copy.deepcopy(model), data, config, device=str(device))
    rng = np.random.default_rng(0)
    genotypes = [zoo.sample(rng) for _ in range(4 if tiny else 16)]
    x = data.policy.images[:64].to(device).contiguous(memory_format=torch.channels_last)
    y = data.policy.labels[:64].to(device)
    with torch.inference_mode():
        reference = torch.stack([model.eval()(x, [g])[0] for g in genotypes]).argmax(-1)
        cuda = device.type == "cuda"
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
            if cuda:
                mine = torch.stack([evaluator.model(x, [g])[0] for g in genotypes]).argmax(-1)
            else:
                from natgym.supernet.fast import infer

                mine = infer(evaluator.model, x, genotypes).argmax(-1)
    agreement = float((mine == reference).float().mean())
    gap = float(((mine == y).float().mean(-1) - (reference == y).float().mean(-1)).abs().max())
    limits = (0.95, 0.05) if cuda else (0.999, 0.005)
    rows["forward agreement"] = {
        "value": agreement,
        "unit": f"same class (largest accuracy gap {gap:.4f}; {'bf16' if cuda else 'fp32'} vs fp32)",
        "ok": agreement >= limits[0] and gap <= limits[1],
    }

    # ---- rewards/s: minibatch mode (8 pairs per call) and the whole policy split
    mini = SupernetEvaluator(copy.deepcopy(model), data, config, device=str(device), mode="minibatch")
    pairs = 8 if tiny else 64
    before = [zoo.sample(rng) for _ in range(pairs)]
    after = [transformed(g, rng) for g in before]
    mini.reward(before[:2], after[:2])
    seconds = timed(
        lambda: [mini.reward(before[i : i + 8], after[i : i + 8]) for i in range(0, pairs, 8)], device
    )
    rows["rewards/s, minibatch 64"] = {"value": pairs / seconds, "unit": "rewards/s (8 pairs per call)"}
    few = before[: 2 if tiny else 8]
    seconds = timed(lambda: mini.accuracy_on(few + [transformed(g, rng) for g in few]), device)
    rows["rewards/s, full policy split"] = {
        "value": len(few) / seconds,
        "unit": f"rewards/s ({len(data.policy)} images each)",
    }

    # ---- env episodes/s
    env = gym.make("NAT-Cell-v0", reward=evaluator)
    episodes = 4 if tiny else 64

    def run_env() -> None:
        for seed in range(episodes):
            _, info = env.reset(seed=seed)
            env.step(env.action_space.sample(mask=info["action_mask"]))

    rows["env episodes/s"] = {
        "value": episodes / timed(run_env, device),
        "unit": "episodes/s (fresh inputs)",
    }
    envs = gym.make_vec("NAT-Cell-v0", num_envs=8, reward=evaluator)
    _, info = envs.reset(seed=0)

    def run_vec() -> None:
        for _ in range(max(1, episodes // 8)):
            _, info = envs.reset()
            actions = np.stack([envs.single_action_space.sample(mask=m) for m in info["action_mask"]])
            envs.step(actions)

    rows["make_vec(8) episodes/s"] = {
        "value": 8 * max(1, episodes // 8) / timed(run_vec, device),
        "unit": "episodes/s (one reward call per step)",
    }

    # ---- natgym evaluate --preset cifar10 --epochs 1: seconds per step
    final = make_config("cifar10", epochs=1, **({"channels": 4, "layers": 3} if tiny else {}))
    final_data = fake_dataset(3, size, 10, n=(2 if tiny else 10) * final.batch_size)
    with tempfile.TemporaryDirectory() as scratch:
        seconds = time.perf_counter()
        train_seed(zoo.get("DARTS"), final, final_data, 0, scratch, device=str(device), progress=False)
        seconds = time.perf_counter() - seconds
    steps = -(-len(final_data.train) // final.batch_size)
    rows["evaluate --preset cifar10"] = {
        "value": seconds / steps,
        "unit": f"s per step ({steps} steps, incl. test)",
    }
    return rows


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda, cuda:N or cpu (default %(default)s)")
    parser.add_argument("--tiny", action="store_true", help="toy sizes: the same code in seconds")
    parser.add_argument("--out", default=str(RESULTS / "gpu_check"), help="output path without suffix")
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    name = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else platform.processor() or platform.machine()
    )
    start = time.perf_counter()
    rows = check(device, args.tiny)
    wall = time.perf_counter() - start
    ok = all(r.get("ok", True) for r in rows.values())
    lines = [
        f"# natgym GPU check: {device} ({name}){' -- tiny sizes' if args.tiny else ''}",
        "",
        f"torch {torch.__version__}, {os.cpu_count()} CPU cores; {wall:.0f} s in all; "
        f"{'every check passed' if ok else 'A CHECK FAILED'}.",
        "",
        "| check | value | unit |",
        "|---|---:|---|",
    ]
    for key, row in rows.items():
        value = row["value"]
        text = f"{value:.4f}" if value < 10 else f"{value:,.0f}"
        mark = "" if row.get("ok", True) else " (FAILED)"
        lines.append(f"| {key} | {text}{mark} | {row['unit']} |")
    table = "\n".join(lines) + "\n"
    result = {
        "device": str(device),
        "device_name": name,
        "tiny": args.tiny,
        "wall_s": wall,
        "ok": ok,
        "rows": rows,
    }
    write_json(Path(args.out).with_suffix(".json"), result)
    write_text(Path(args.out).with_suffix(".md"), table)
    print(table)
    if not ok:
        raise SystemExit(1)
    return result


if __name__ == "__main__":
    main()

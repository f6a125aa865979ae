"""Supernet throughput: training images/s, architecture evaluations/s and rewards/s.

Measures, in one run and interleaved round by round (so load from other processes hits every
method alike; each number is the median over rounds):

* **plain loop** -- PyTorch written the obvious way: a ``DataLoader`` over the reward split
  (batch 64), the supernet in its default memory format, ``torch.no_grad()``, one architecture
  per forward; a reward is two such evaluations (before, after) on the same batch;
* **evaluator** -- :class:`natgym.reward.SupernetEvaluator` (fixed 64-image subset on the
  device, inference mode, batched and de-duplicated fast CPU forward) with 1 pair per call
  (one env) and 8 / 32 pairs per call (vector envs); cold (every genotype new) and cache hits;
* **2 threads** -- the evaluator with ``threads=2`` (a 32-pair call split over two worker
  threads; the plain loop and every other row use one torch thread, the plain loop's fastest);
* **module forward** -- the same evaluator running the supernet's module forward (channels-last),
  i.e. the evaluator before :mod:`natgym.supernet.fast`;
* **fixed subset size** -- the evaluator on 256 images instead of 64 (1 pair per call), and the
  reward noise at each size (std of a pair's reward over random subsets);
* **training** -- SGD steps of the supernet trainer (one sampled architecture per step, batch 64,
  augmentation) against a plain training loop (DataLoader, default memory format).

One reward = accuracy(after) - accuracy(before) on the same images = 2 architecture
evaluations. "after" is a random NAT++-allowed transformation of "before" (each edge a uniform
choice among its allowed targets), so pairs share topology and some ops, as in the env.

* **authors' supernet** (``--reference DIR``) -- the reward step of the authors' code: their
  ``search_model.NASNetwork`` imported from ``DIR``, a checkout of ``guoyongcs/NATv2`` (imported,
  never copied into this project; its unrelated ``torchvision`` and ``graphviz`` imports are
  stubbed), at the same size (C, cells, 4 nodes), random weights (speed does not depend on them),
  its two ``_inner_forward`` calls (before, after) on the same 64 images, in training mode as their
  reward runs, under ``torch.no_grad()`` (their loop also builds the autograd graph, so this is
  generous to it). Their stem takes 3 channels, so one-channel images are repeated to 3.

Writes ``benchmarks/results/throughput.json`` and ``.md``. Usage:
``python benchmarks/throughput.py [--rounds 5] [--threads 1] [--device cpu] [--preset digits]``;
``--fake-data --untrained`` measures a preset without its dataset or a trained supernet (e.g. the
cifar10 preset on a GPU machine without CIFAR files): throughput does not depend on pixel values
or weight values.
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import statistics
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from natgym import zoo
from natgym.data import Dataset, Split
from natgym.device import resolve_device
from natgym.files import write_json, write_text
from natgym.reward import SupernetEvaluator
from natgym.space import OP_INDEX
from natgym.supernet import Supernet
from natgym.supernet.train import Trainer, cached_supernet, default_config, load_supernet, supernet_data
from natgym.transitions import NATPP

RESULTS = Path(__file__).resolve().parent / "results"


def transformed(genotype, rng: np.random.Generator):
    """A random NAT++-allowed transformation of ``genotype``."""

    def ops(cell):
        return [NATPP.allowed(op)[rng.integers(len(NATPP.allowed(op)))] for op in cell.ops]

    return genotype.with_ops(ops(genotype.normal), ops(genotype.reduce))


class ModuleForwardEvaluator(SupernetEvaluator):
    """The evaluator with the supernet's module forward instead of the fast CPU forward (batched,
    de-duplicated, channels-last, inference mode): what the evaluator ran before it."""

    def _score(self, genotypes, images, labels):
        with torch.inference_mode():
            logits = self.model(images, genotypes)
            return (logits.argmax(-1) == labels).float().mean(-1).double().cpu().numpy()


NOISE_DRAWS = 6


def reward_noise(model, data, config, n: int, before, after, device) -> float:
    """Standard deviation of one pair's reward over random ``n``-image subsets of the reward
    split (``NOISE_DRAWS`` draws per pair), averaged over the pairs: how far a reward on a fixed
    subset of that size is from the reward on another."""
    ev = SupernetEvaluator(copy.deepcopy(model), data, config, mode="minibatch", batch_size=n, device=device)
    draws = np.array([ev.reward(before, after) for _ in range(NOISE_DRAWS)])
    return float(draws.std(axis=0, ddof=1).mean())


def reference_network(ref_dir: str, net_config, device: torch.device):
    """The authors' ``NASNetwork`` from checkout ``ref_dir`` at ``net_config``'s size, and a
    function ``(images, genotype) -> logits`` running its reward forward."""
    import sys
    import types

    root = Path(ref_dir).resolve()
    if not (root / "search_model.py").is_file():
        raise SystemExit(f"--reference: {root} has no search_model.py; pass a checkout of guoyongcs/NATv2")
    for name in ("torchvision", "torchvision.transforms", "graphviz"):  # imported by their utils.py
        if name not in sys.modules:
            sys.modules[name] = types.ModuleType(name)
    sys.modules["torchvision"].transforms = sys.modules["torchvision.transforms"]
    sys.modules["graphviz"].Digraph = object
    sys.path.insert(0, str(root))
    import search_model  # noqa: E402  (the authors' module, from ref_dir)

    torch.manual_seed(0)
    net = search_model.NASNetwork(
        net_config.channels,
        net_config.num_classes,
        net_config.layers,
        torch.nn.CrossEntropyLoss(),
        device,
        steps=net_config.steps,
        controller_hid=100,  # their train_search.py default (the controller is not timed)
    ).to(device)
    net.train()  # their reward is computed in training mode (batch statistics)

    def forward(images: torch.Tensor, genotype) -> torch.Tensor:
        x = images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images
        archs = [[(OP_INDEX[op], src, dst) for op, src, dst in cell.edges] for cell in genotype.cells]
        return net._inner_forward(x, archs[0], archs[1])

    return forward


def fake_dataset(in_channels: int, size: int, classes: int, n: int = 512) -> Dataset:
    gen = torch.Generator().manual_seed(0)

    def split() -> Split:
        return Split(
            torch.randn(n, in_channels, size, size, generator=gen),
            torch.randint(0, classes, (n,), generator=gen),
        )

    return Dataset("random", split(), split(), split(), in_channels, classes, size, 4, True)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, device: torch.device) -> float:
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="digits")
    parser.add_argument("--dataset", default=None, help="default: the preset's dataset")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads for every method")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pairs", type=int, default=32, help="reward pairs per round")
    parser.add_argument("--train-steps", type=int, default=20, help="training steps per round")
    parser.add_argument("--fake-data", action="store_true", help="random images of the dataset's shape")
    parser.add_argument("--untrained", action="store_true", help="random supernet weights")
    parser.add_argument("--out", default=str(RESULTS / "throughput"), help="output path without suffix")
    parser.add_argument(
        "--subsets", type=int, nargs="*", default=[256], help="larger fixed subsets to time (1 pair/call)"
    )
    parser.add_argument("--noise-pairs", type=int, default=12, help="pairs for the reward-noise estimate")
    parser.add_argument(
        "--reference",
        metavar="DIR",
        default=None,
        help="a checkout of guoyongcs/NATv2: time the authors' supernet reward step beside natgym's",
    )
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    dataset = args.dataset or {"digits": "digits", "cifar10": "cifar10"}[args.preset]
    config = default_config(dataset, args.preset)
    if args.untrained:
        torch.manual_seed(0)
        model, source = Supernet(config.net), "untrained (random weights)"
    else:
        path = cached_supernet(config, device)
        model, _ = load_supernet(path, "cpu")
        source = f"trained, {path.name}"
    if args.fake_data:
        size = {"digits": 8, "cifar10": 32}[args.preset]
        data = fake_dataset(config.net.in_channels, size, config.net.num_classes)
    else:
        data = supernet_data(config)
    bs = 64

    # ---- workload: `pairs` fresh (before, after) pairs per round, never repeated across rounds
    rng = np.random.default_rng(0)
    steps = config.net.steps

    def workload(n: int):
        before = [zoo.sample(rng, steps) for _ in range(n)]
        return before, [transformed(g, rng) for g in before]

    # ---- the plain loop
    plain_model = copy.deepcopy(model).to(device).eval()
    loader = DataLoader(TensorDataset(data.policy.images, data.policy.labels), batch_size=bs, shuffle=False)

    def plain_rewards(before, after) -> list[float]:
        out = []
        for b, a in zip(before, after):
            x, y = next(iter(loader))
            x, y = x.to(device), y.to(device)
            with torch.no_grad():
                acc_b = (plain_model(x, [b])[0].argmax(-1) == y).float().mean().item()
                acc_a = (plain_model(x, [a])[0].argmax(-1) == y).float().mean().item()
            out.append(acc_a - acc_b)
        return out

    # ---- the authors' supernet (optional)
    reference = reference_network(args.reference, config.net, device) if args.reference else None

    def reference_rewards(before, after) -> list[float]:
        x, y = next(iter(loader))
        x, y = x.to(device), y.to(device)
        out = []
        with torch.no_grad():
            for b, a in zip(before, after):
                acc_b = (reference(x, b).argmax(-1) == y).float().mean().item()
                acc_a = (reference(x, a).argmax(-1) == y).float().mean().item()
                out.append(acc_a - acc_b)
        return out

    # ---- the evaluator; the same with the module forward (the evaluator before the fast
    # CPU forward: batched, de-duplicated, channels-last); the same with larger fixed subsets
    ev = SupernetEvaluator(copy.deepcopy(model), data, config, batch_size=bs, device=device)
    ev_module = ModuleForwardEvaluator(copy.deepcopy(model), data, config, batch_size=bs, device=device)
    ev_threads = SupernetEvaluator(
        copy.deepcopy(model), data, config, batch_size=bs, device=device, threads=2
    )
    big = [n for n in args.subsets if n != bs and n <= len(data.policy)]
    ev_big = {
        n: SupernetEvaluator(copy.deepcopy(model), data, config, batch_size=n, device=device) for n in big
    }

    def ev_rewards(before, after, per_call: int, evaluator: SupernetEvaluator = ev) -> None:
        for i in range(0, len(before), per_call):
            evaluator.reward(before[i : i + per_call], after[i : i + per_call])

    # ---- training
    train_model = copy.deepcopy(model).to(device, memory_format=torch.channels_last)
    trainer = Trainer(train_model, data, config, device)
    plain_train_model = copy.deepcopy(model).to(device)
    plain_opt = torch.optim.SGD(plain_train_model.parameters(), lr=config.lr, momentum=0.9, weight_decay=3e-4)
    train_loader = DataLoader(
        TensorDataset(data.train.images, data.train.labels), batch_size=bs, shuffle=True, drop_last=True
    )
    arch_rng = np.random.default_rng(1)

    def plain_train(n: int) -> None:
        it = iter(train_loader)
        for _ in range(n):
            try:
                x, y = next(it)
            except StopIteration:
                it = iter(train_loader)
                x, y = next(it)
            x = data.augment(x.to(device))
            logits = plain_train_model(x, [zoo.sample(arch_rng, steps)])[0]
            loss = F.cross_entropy(logits, y.to(device))
            plain_opt.zero_grad()
            loss.backward()
            plain_opt.step()

    def ev_train(n: int) -> None:
        for _ in range(n):
            trainer.step()

    # warm-up (allocator, oneDNN kernels, cuDNN autotuning)
    wb, wa = workload(4)
    plain_rewards(wb, wa)
    if reference is not None:
        reference_rewards(wb, wa)
    for evaluator in (ev, ev_module, ev_threads, *ev_big.values()):
        ev_rewards(wb, wa, 4, evaluator)
    plain_train(2)
    ev_train(2)

    times: dict[str, list[float]] = {}
    per_call_options = (1, 8, 32)
    for _ in range(args.rounds):
        before, after = workload(args.pairs)
        times.setdefault("plain loop", []).append(timed(partial(plain_rewards, before, after), device))
        if reference is not None:
            before, after = workload(args.pairs)
            run = partial(reference_rewards, before, after)
            times.setdefault("authors' supernet", []).append(timed(run, device))
        for per_call in per_call_options:
            before, after = workload(args.pairs)
            name = f"evaluator, {per_call} pair(s)/call"
            times.setdefault(name, []).append(timed(partial(ev_rewards, before, after, per_call), device))
            last = before, after
        before, after = workload(args.pairs)
        run = partial(ev_rewards, before, after, 32, ev_threads)
        times.setdefault("evaluator, 32 pair(s)/call, 2 threads", []).append(timed(run, device))
        for per_call in (1, 8):
            before, after = workload(args.pairs)
            name = f"module forward, {per_call} pair(s)/call"
            run = partial(ev_rewards, before, after, per_call, ev_module)
            times.setdefault(name, []).append(timed(run, device))
        for n, evaluator in ev_big.items():
            before, after = workload(args.pairs)
            run = partial(ev_rewards, before, after, 1, evaluator)
            times.setdefault(f"subset {n}", []).append(timed(run, device))
        # cache hits: the last cold pairs again
        hits = timed(partial(ev_rewards, *last, 32), device)
        times.setdefault("evaluator, cache hits", []).append(hits)
        times.setdefault("train plain", []).append(timed(partial(plain_train, args.train_steps), device))
        times.setdefault("train natgym", []).append(timed(partial(ev_train, args.train_steps), device))

    med = {k: statistics.median(v) for k, v in times.items()}
    rewards = {k: args.pairs / v for k, v in med.items() if not k.startswith(("train", "subset"))}
    train = {k: args.train_steps * bs / v for k, v in med.items() if k.startswith("train")}
    plain = rewards["plain loop"]
    best_cold = max(v for k, v in rewards.items() if is_cold_one_thread(k))
    one_env = rewards["evaluator, 1 pair(s)/call"]
    subsets = {bs: {"rewards_per_s": one_env}}
    subsets.update({n: {"rewards_per_s": args.pairs / med[f"subset {n}"]} for n in big})
    noise_pairs = workload(args.noise_pairs)
    for n in subsets:
        subsets[n]["reward_noise_std"] = reward_noise(model, data, config, n, *noise_pairs, device)
    result = {
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "device": str(device)
            + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""),
            "torch": torch.__version__,
            "threads": args.threads,
            "load_average_1min": os.getloadavg()[0],
        },
        "config": {
            "preset": args.preset,
            "dataset": data.name,
            "channels": config.net.channels,
            "cells": config.net.layers,
            "batch": bs,
            "supernet": source,
            "rounds": args.rounds,
            "pairs_per_round": args.pairs,
            "train_steps_per_round": args.train_steps,
        },
        "one_reward": "accuracy(after) - accuracy(before) on the same 64 images = 2 architecture evaluations",
        "rewards_per_s": rewards,
        "evaluations_per_s": {k: 2 * v for k, v in rewards.items()},
        "train_images_per_s": train,
        "speedup_vs_plain": {k: v / plain for k, v in rewards.items()},
        "train_speedup_vs_plain": train["train natgym"] / train["train plain"],
        "cache_hit_speedup": rewards["evaluator, cache hits"] / rewards["evaluator, 32 pair(s)/call"],
        "reference": args.reference and "guoyongcs/NATv2 search_model.NASNetwork (random weights, no_grad)",
        "vs_reference": {
            "1 pair/call": one_env / rewards["authors' supernet"],
            "8 pairs/call": rewards["evaluator, 8 pair(s)/call"] / rewards["authors' supernet"],
            "best": best_cold / rewards["authors' supernet"],
        }
        if reference is not None
        else None,
        "subsets": {
            str(n): {**v, "images": n, "noise_pairs": args.noise_pairs, "noise_draws": NOISE_DRAWS}
            for n, v in subsets.items()
        },
        "raw_seconds": times,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json(out.with_suffix(".json"), result)
    md = markdown(result)
    write_text(out.with_suffix(".md"), md)
    print(md)


def reference_line(r: dict) -> str:
    """The sentence comparing natgym with the authors' supernet, measured in this run or not."""
    v, rate = r["vs_reference"], r["rewards_per_s"].get("authors' supernet")
    if v is None:
        return "The authors' supernet was not run (pass `--reference DIR`, a checkout of guoyongcs/NATv2)."
    return (
        f"Authors' supernet (`--reference`, {r['reference']}), measured in the same interleaved rounds: "
        f"{rate:.1f} rewards/s; natgym's evaluator is "
        f"{v['1 pair/call']:.2f}x it at 1 pair/call, {v['8 pairs/call']:.2f}x at 8 pairs/call and "
        f"{v['best']:.2f}x at its best cold setting."
    )


def is_cold_one_thread(name: str) -> bool:
    return name.startswith("evaluator, ") and "pair" in name and "threads" not in name


def markdown(r: dict) -> str:
    c, m = r["config"], r["machine"]
    cold = {k: v for k, v in r["speedup_vs_plain"].items() if is_cold_one_thread(k)}
    threaded = r["speedup_vs_plain"]["evaluator, 32 pair(s)/call, 2 threads"]
    best_plain, one_plain = max(cold.values()), cold["evaluator, 1 pair(s)/call"]
    fast_vs_module = (
        r["rewards_per_s"]["evaluator, 1 pair(s)/call"] / r["rewards_per_s"]["module forward, 1 pair(s)/call"]
    )
    lines = [
        f"# Supernet throughput ({c['preset']} preset: C={c['channels']}, {c['cells']} cells, "
        f"batch {c['batch']})",
        "",
        f"Device: {m['device']}, {m['threads']} torch thread(s), {m['cpu_count']} CPU cores, "
        f"torch {m['torch']}, "
        f"1-min load average {m['load_average_1min']:.1f}. Supernet: {c['supernet']}; data: {c['dataset']}. "
        f"Median of {c['rounds']} interleaved rounds of {c['pairs_per_round']} fresh pairs.",
        "",
        f'One reward = {r["one_reward"]}. "evaluator" rows: the fast CPU forward '
        '(natgym.supernet.fast.infer); "module forward" rows: the same evaluator with the supernet\'s '
        "module forward, as before that forward existed.",
        "",
        "| method | rewards/s | evaluations/s | vs plain loop |",
        "|---|---:|---:|---:|",
    ]
    for k, v in r["rewards_per_s"].items():
        lines.append(f"| {k} | {v:.1f} | {2 * v:.1f} | {r['speedup_vs_plain'][k]:.2f}x |")
    lines += [
        "",
        f"Cache hits vs cold (32 pairs/call): {r['cache_hit_speedup']:.1f}x. Fast forward vs module "
        f"forward (1 pair/call): {fast_vs_module:.2f}x.",
        "",
        reference_line(r),
        "",
        f"Evaluator vs the plain loop: best cold {best_plain:.2f}x ({one_plain:.2f}x at 1 pair/call). "
        f"With 2 worker threads (`threads=2`, 32 pairs/call): {threaded:.2f}x the plain loop, whose own "
        "best is 1 thread; this depends on how busy the second core is.",
        "",
        "| fixed subset | rewards/s (1 pair/call) | reward noise (std) |",
        "|---:|---:|---:|",
    ]
    for n, v in r["subsets"].items():
        lines.append(f"| {n} images | {v['rewards_per_s']:.1f} | {v['reward_noise_std']:.3f} |")
    some = next(iter(r["subsets"].values()))
    lines += [
        "",
        "Reward noise: std of one (before, after) pair's reward over random subsets of that size, "
        f"{some['noise_draws']} draws per pair, mean over {some['noise_pairs']} pairs.",
        "",
        "| training | images/s |",
        "|---|---:|",
    ]
    for k, v in r["train_images_per_s"].items():
        lines.append(f"| {k} | {v:.0f} |")
    lines += ["", f"Training speed-up vs plain loop: {r['train_speedup_vs_plain']:.2f}x.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()

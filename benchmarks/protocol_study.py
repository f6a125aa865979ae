"""Which stand-alone training protocol tells digits architectures apart?

A ground truth is only useful if the differences between architectures are large next to the
noise of training one of them. This script trains a fixed, varied set of architectures (four zoo
inputs, two uniform inputs, a random NAT++ transformation of one and a pool/skip-heavy one of the
other) under several candidate protocols, side by side in one run and with the same seeds, and
reports per protocol:

* ``range`` -- max minus min over the architectures' mean accuracies,
* ``median std`` -- the median over architectures of the std over seeds (ddof 1),
* ``range / median std`` (the issue's target is >= 10),
* ``split-half tau`` -- Kendall tau between the ranking of the architectures by seed 0 alone
  and by the mean of the other seeds (how reproducible one ranking is),
* the mean training time of one run.

Candidates differ in width, epochs and test split: ``split`` is the dataset's own 359-image test
split; ``cv5`` is 5-fold cross-validation over all 1,797 images (seed ``s`` tests on fold ``s``).
Runs are resumable (finished runs are skipped) and parallel over ``--workers`` processes.

    python benchmarks/protocol_study.py            # ~16 min on 2 cores
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau

from natgym import zoo
from natgym.files import write_json, write_text
from natgym.final import FinalConfig, make_config, train_runs
from natgym.transitions import random_transform

CHEAP = ("max_pool_3x3", "avg_pool_3x3", "max_pool_5x5", "avg_pool_5x5", "skip_connect", "null")

CANDIDATES: dict[str, dict] = {
    "C8-e20-split": {"channels": 8, "epochs": 20, "folds": 0},
    "C4-e20-split": {"channels": 4, "epochs": 20, "folds": 0},
    "C4-e20-cv5": {"channels": 4, "epochs": 20, "folds": 5},
    "C4-e10-cv5": {"channels": 4, "epochs": 10, "folds": 5},
}
"""Overrides of the ``digits`` preset, by candidate name (``C8-e20-split`` was the preset)."""


def architectures() -> dict[str, object]:
    """The study's architectures by name (fixed seeds)."""
    u1, u2 = zoo.sample(101), zoo.sample(102)
    return {
        "DARTS": zoo.get("DARTS"),
        "ResBlock": zoo.get("ResBlock"),
        "VGG": zoo.get("VGG"),
        "MobileNetV2": zoo.get("MobileNetV2"),
        "U101": u1,
        "U102": u2,
        "U101-random": random_transform(u1, 1),
        "U102-cheap": random_transform(u2, 2, prefer=CHEAP),
    }


def summarize(accs: dict[str, list[float]]) -> dict[str, float]:
    """Spread and noise of one candidate's accuracies ``{arch: [acc per seed]}``."""
    names = list(accs)
    values = np.array([accs[n] for n in names])
    means, stds = values.mean(1), values.std(1, ddof=1)
    tau = kendalltau(values[:, 0], values[:, 1:].mean(1)).statistic
    spread = float(means.max() - means.min())
    noise = float(np.median(stds))
    return {
        "min_mean": float(means.min()),
        "max_mean": float(means.max()),
        "range": spread,
        "median_std": noise,
        "max_std": float(stds.max()),
        "range_over_median_std": spread / noise if noise > 0 else float("inf"),
        "split_half_tau": float(tau),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", default="benchmarks/results/protocol_study")
    args = p.parse_args(argv)
    out = Path(args.out)
    archs = architectures()
    configs: dict[str, FinalConfig] = {n: make_config("digits", **o) for n, o in CANDIDATES.items()}
    for name, config in configs.items():
        runs = [
            (g, s, out / "runs" / name / a / f"seed_{s}") for a, g in archs.items() for s in range(args.seeds)
        ]
        train_runs(runs, config, workers=args.workers)
    rows, per_arch = [], {}
    for name in configs:
        accs, times = {}, []
        for a in archs:
            results = [
                json.loads((out / "runs" / name / a / f"seed_{s}" / "result.json").read_text())
                for s in range(args.seeds)
            ]
            accs[a] = [r["test_accuracy"] for r in results]
            times += [r["wall_time_s"] for r in results]
        per_arch[name] = accs
        rows.append(
            {"protocol": name, **CANDIDATES[name], **summarize(accs), "time_per_run_s": float(np.mean(times))}
        )
    machine = f"{platform.machine()} {platform.processor() or ''} {_cpu()}".strip()
    lines = [
        f"Digits stand-alone protocols, {len(archs)} architectures x {args.seeds} seeds each, "
        f"measured side by side on {machine} (1 torch thread per run, {args.workers} runs at a time). "
        "Accuracies in %.",
        "",
        "| protocol | channels | epochs | test split | mean acc range | range | median seed std "
        "| max seed std | range / median std | split-half tau | s / run |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['protocol']} | {r['channels']} | {r['epochs']} "
            f"| {'5-fold CV' if r['folds'] else 'fixed 359'} "
            f"| {100 * r['min_mean']:.1f}-{100 * r['max_mean']:.1f} | {100 * r['range']:.1f} "
            f"| {100 * r['median_std']:.2f} | {100 * r['max_std']:.2f} | {r['range_over_median_std']:.1f} "
            f"| {r['split_half_tau']:.2f} | {r['time_per_run_s']:.1f} |"
        )
    lines += ["", "Per architecture, mean ± std over seeds (%):", ""]
    lines.append("| architecture | " + " | ".join(configs) + " |")
    lines.append("|---|" + "---|" * len(configs))
    for a in archs:
        cells = [
            f"{100 * np.mean(per_arch[n][a]):.1f} ± {100 * np.std(per_arch[n][a], ddof=1):.1f}"
            for n in configs
        ]
        lines.append(f"| {a} | " + " | ".join(cells) + " |")
    table = "\n".join(lines) + "\n"
    write_text(out / "protocol_study.md", table)
    write_json(
        out / "protocol_study.json",
        {"machine": machine, "seeds": args.seeds, "rows": rows, "accuracies": per_arch},
    )
    print(table)
    return 0


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


if __name__ == "__main__":
    sys.exit(main())

"""Which stand-alone training protocol tells architectures apart, on digits or Fashion-MNIST?

A ground truth is only useful if the differences between architectures are large next to the
noise of training one of them. This script trains a fixed, varied set of architectures under
several candidate protocols, side by side in one run and with the same seeds, and reports per
protocol:

* ``range`` -- max minus min over the architectures' mean accuracies,
* ``median std`` -- the median over architectures of the std over seeds (ddof 1),
* ``range / median std``,
* ``test-retest tau`` -- Kendall tau between one seed's accuracies and another's over the whole
  set, and within the uniform inputs and within the transformations (how well one training run
  ranks the cells another training run of the same cells ranks; mean over seed pairs),
* ``2 vs 2`` -- the test-retest tau of a 2-seed mean: measured (the mean of seeds 0-1 against the
  mean of seeds 2-3) where a candidate has 4 seeds, and predicted from the seed-vs-seed rank
  correlation by Spearman-Brown (:func:`natgym.fidelity.spearman_brown_tau`) -- the check that
  the prediction holds -- and the predicted test-retest tau of the 3- and 4-seed means,
* the mean training time of one run.

Averaging seeds is one way to a reliable truth, training longer is another; the table puts their
costs side by side (a k-seed mean costs k runs).

``--dataset digits`` (the study behind the ``digits`` preset, 8 architectures): candidates
differ in width, epochs and test split (``split`` is the 359-image test split, ``cv5`` 5-fold
cross-validation over all 1,797 images).

``--dataset fashion`` (the study behind the ``fashion`` preset): candidates differ in resolution
(14 or 28 px), training subset, epochs and width; all test on the official 10,000-image test
set. The architectures are 26 members of the ground-truth set
(``benchmarks/results/ground_truth/architectures.json``: zoo inputs and published
transformations, uniform inputs, and their random, pool/skip-heavy and agent transformations),
so a run of the chosen protocol is also a run of the Fashion ground truth.

Runs are resumable (finished runs are skipped) and parallel over ``--workers`` processes;
``--candidates`` runs some candidates only, ``--seeds`` seeds each (the table covers every
candidate with at least 2 complete seeds, each with all the seeds it has).

    python benchmarks/protocol_study.py                      # digits, ~16 min on 2 cores
    python benchmarks/protocol_study.py --dataset fashion --seeds 2
    python benchmarks/protocol_study.py --dataset fashion --seeds 4 --candidates 14px-n10k-e3-C8-step
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import kendalltau

from natgym import zoo
from natgym.fidelity import seed_rho, spearman_brown_tau
from natgym.files import write_json, write_text
from natgym.final import PRESETS, FinalConfig, make_config, train_runs
from natgym.genotype import Genotype
from natgym.transitions import random_transform

CHEAP = ("max_pool_3x3", "avg_pool_3x3", "max_pool_5x5", "avg_pool_5x5", "skip_connect", "null")
GROUND_TRUTH_SET = Path(__file__).resolve().parent / "results" / "ground_truth" / "architectures.json"

CANDIDATES: dict[str, dict] = {
    "C8-e20-split": {"channels": 8, "epochs": 20, "folds": 0},
    "C4-e20-split": {"channels": 4, "epochs": 20, "folds": 0},
    "C4-e20-cv5": {"channels": 4, "epochs": 20, "folds": 5},
    "C4-e10-cv5": {"channels": 4, "epochs": 10, "folds": 5},
}
"""Overrides of the ``digits`` preset, by candidate name (``C8-e20-split`` was the preset)."""

FASHION_BASE = replace(
    PRESETS["digits"], dataset="fashion", epochs=3, channels=8, folds=0, image_size=14, train_subset=10_000
)
"""The Fashion candidates' common settings: the digits preset's recipe (SGD lr 0.05 cosine,
batch 96, 5 cells, no drop-path/cutout/auxiliary head) on Fashion-MNIST."""

FASHION_CANDIDATES: dict[str, dict] = {
    "14px-n10k-e3-C8": {},
    "14px-n10k-e3-C8-step": {"lr_schedule": "step"},
    "14px-n10k-e3-C4": {"channels": 4},
    "14px-n20k-e4-C8": {"train_subset": 20_000, "epochs": 4},
    "14px-n10k-e5-C16": {"epochs": 5, "channels": 16},
    "14px-n10k-e3-C8-step-data0": {"lr_schedule": "step", "data_seed": 0},
    "14px-n10k-e3-C8-step-bs32": {"lr_schedule": "step", "batch_size": 32},
    "14px-n10k-e3-C8-step-lr0.1": {"lr_schedule": "step", "lr": 0.1},
    "14px-n10k-e3-C16-step": {"channels": 16, "lr_schedule": "step"},
    "14px-n20k-e3-C8-step": {"train_subset": 20_000, "lr_schedule": "step"},
    "14px-n20k-e6-C8-step": {"train_subset": 20_000, "epochs": 6, "lr_schedule": "step"},
    "28px-n10k-e3-C8-step": {"image_size": 28, "lr_schedule": "step"},
}
"""Overrides of :data:`FASHION_BASE`, by candidate name (the first is the issue's first probe)."""

FASHION_PRESET = "14px-n10k-e3-C8-step"
"""The candidate that is natgym.final's ``fashion`` preset (tests/test_fashion.py checks it)."""

FASHION_IDS = (
    "DARTS", "ResBlock", "VGG", "MobileNetV2", "R1", "NAT_DARTS", "NATv2_DARTS", "NATv2_ResBlock",
    "U00", "U01", "U02", "U03", "U04", "U05", "U06", "U07",
    "U00/random", "U01/random", "U02/random", "U03/random", "U04/random", "U05/random",
    "U00/cheap", "U01/cheap", "U00/agent", "U01/agent",
)  # fmt: skip
"""The Fashion study's members of the ground-truth set."""


def digits_architectures() -> dict[str, Genotype]:
    """The digits study's architectures by name (fixed seeds)."""
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


def fashion_architectures() -> dict[str, Genotype]:
    """The Fashion study's architectures by ground-truth id."""
    entries = {e["id"]: e for e in json.loads(GROUND_TRUTH_SET.read_text())}
    return {i.replace("/", "-"): Genotype.parse(entries[i]["genotype"]) for i in FASHION_IDS}


def family(name: str) -> str:
    """``uniform`` (Uii), ``transformed`` (Uii-kind) or ``zoo``."""
    if name.startswith("U") and name[1:3].isdigit():
        return "uniform" if len(name) == 3 else "transformed"
    return "zoo"


def study(dataset: str) -> tuple[dict[str, FinalConfig], dict[str, dict], dict[str, Genotype]]:
    """(configs, overrides, architectures) of the study on ``dataset``."""
    if dataset == "digits":
        configs = {n: make_config("digits", **o) for n, o in CANDIDATES.items()}
        return configs, CANDIDATES, digits_architectures()
    configs = {n: replace(FASHION_BASE, **o) for n, o in FASHION_CANDIDATES.items()}
    return configs, FASHION_CANDIDATES, fashion_architectures()


def summarize(accs: dict[str, list[float]]) -> dict[str, Any]:
    """Spread, noise and test-retest reliability of one candidate's accuracies
    ``{arch: [acc per seed]}`` (at least 2 seeds)."""
    names = list(accs)
    values = np.array([accs[n] for n in names])
    k = values.shape[1]
    means, stds = values.mean(1), values.std(1, ddof=1)
    spread = float(means.max() - means.min())
    noise = float(np.median(stds))
    pairs = [(i, j) for i in range(k) for j in range(i)]

    def tau(rows: list[int]) -> float:
        return float(np.mean([kendalltau(values[rows, i], values[rows, j]).statistic for i, j in pairs]))

    retest = {"all": tau(list(range(len(names))))}
    for fam in ("uniform", "transformed"):
        rows = [i for i, n in enumerate(names) if family(n) == fam]
        if len(rows) >= 3:
            retest[fam] = tau(rows)
    rho = seed_rho(values)
    half = kendalltau(values[:, :2].mean(1), values[:, 2:4].mean(1)).statistic if k >= 4 else None
    return {
        "seeds": k,
        "min_mean": float(means.min()),
        "max_mean": float(means.max()),
        "range": spread,
        "median_std": noise,
        "max_std": float(stds.max()),
        "median_abs_seed_diff": float(np.median(np.abs(values[:, 0] - values[:, 1]))),
        "range_over_median_std": spread / noise if noise > 0 else float("inf"),
        "test_retest_tau": retest,
        "seed_rho": rho,
        "mean2_retest_tau_measured": None if half is None else float(half),
        "mean_retest_tau_predicted": {m: spearman_brown_tau(rho, m) for m in (2, 3, 4)},
    }


def _describe(config: FinalConfig) -> str:
    size = config.image_size or "native"
    subset = f"{config.train_subset:,}" if config.train_subset else "all"
    split = f"{config.folds}-fold CV" if config.folds else "test split"
    return (
        f"{size} px, {config.channels} ch, {config.epochs} ep, {subset} train images, {split}, "
        f"lr {config.lr} cosine per {config.lr_schedule}"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", choices=("digits", "fashion"), default="digits")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--candidates", nargs="*", default=None, help="train only these (default: all)")
    p.add_argument("--out", default=None, help="default benchmarks/results/protocol_study[_fashion]")
    args = p.parse_args(argv)
    suffix = "" if args.dataset == "digits" else f"_{args.dataset}"
    out = Path(args.out or f"benchmarks/results/protocol_study{suffix}")
    configs, overrides, archs = study(args.dataset)
    unknown = sorted(set(args.candidates or ()) - set(configs))
    if unknown:
        p.error(f"--candidates: unknown {unknown[0]!r}; allowed: {', '.join(configs)}")

    def run_dir(name: str, arch: str, seed: int) -> Path:
        return out / "runs" / name / arch / f"seed_{seed}"

    for name, config in configs.items():
        if args.candidates is None or name in args.candidates:
            runs = [(g, s, run_dir(name, a, s)) for a, g in archs.items() for s in range(args.seeds)]
            train_runs(runs, config, workers=args.workers)
    rows, per_arch = [], {}
    for name in configs:
        seeds = 0
        while all((run_dir(name, a, seeds) / "result.json").is_file() for a in archs):
            seeds += 1
        if seeds < 2:
            continue
        accs, times = {}, []
        for a in archs:
            results = [
                json.loads(run_dir(name, a, s).joinpath("result.json").read_text()) for s in range(seeds)
            ]
            accs[a] = [r["test_accuracy"] for r in results]
            times += [r["wall_time_s"] for r in results]
        per_arch[name] = accs
        rows.append(
            {
                "protocol": name,
                "settings": _describe(configs[name]),
                **overrides[name],
                **summarize(accs),
                "time_per_run_s": float(np.mean(times)),
            }
        )
    machine = f"{platform.machine()} {_cpu()}".strip()
    lines = [
        f"{args.dataset} stand-alone protocols, {len(archs)} architectures, measured side by side on "
        f"{machine} (1 torch thread per run, {args.workers} runs at a time). Accuracies in %; "
        "test-retest tau = Kendall tau of one seed vs another (mean over seed pairs; all / uniform "
        "inputs / transformations); 2 vs 2 = test-retest tau of a 2-seed mean, measured (seeds 0-1 "
        "vs 2-3, with 4 seeds) and predicted by Spearman-Brown from the seed-vs-seed rho; mean of "
        "3 / 4 = predicted test-retest tau of a 3- and 4-seed mean.",
        "",
        "| protocol | settings | seeds | mean acc range | range | median seed std | median abs seed diff "
        "| test-retest tau | 2 vs 2 measured / predicted | mean of 3 / 4 predicted | s / run |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        tau, pred = r["test_retest_tau"], r["mean_retest_tau_predicted"]
        taus = " / ".join(f"{tau[k]:.2f}" for k in ("all", "uniform", "transformed") if k in tau)
        measured = "–" if r["mean2_retest_tau_measured"] is None else f"{r['mean2_retest_tau_measured']:.2f}"
        lines.append(
            f"| {r['protocol']} | {r['settings']} | {r['seeds']} "
            f"| {100 * r['min_mean']:.1f}-{100 * r['max_mean']:.1f} | {100 * r['range']:.1f} "
            f"| {100 * r['median_std']:.2f} | {100 * r['median_abs_seed_diff']:.2f} "
            f"| {taus} | {measured} / {pred[2]:.2f} | {pred[3]:.2f} / {pred[4]:.2f} "
            f"| {r['time_per_run_s']:.1f} |"
        )
    lines += ["", "Per architecture, mean ± std over seeds (%):", ""]
    lines.append("| architecture | " + " | ".join(per_arch) + " |")
    lines.append("|---|" + "---|" * len(per_arch))
    for a in archs:
        cells = [
            f"{100 * np.mean(per_arch[n][a]):.1f} ± {100 * np.std(per_arch[n][a], ddof=1):.1f}"
            for n in per_arch
        ]
        lines.append(f"| {a} | " + " | ".join(cells) + " |")
    table = "\n".join(lines) + "\n"
    write_text(out / "protocol_study.md", table)
    write_json(
        out / "protocol_study.json",
        {
            "dataset": args.dataset,
            "machine": machine,
            "rows": rows,
            "accuracies": per_arch,
        },
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

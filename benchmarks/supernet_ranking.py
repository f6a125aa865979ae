"""How well a digits supernet ranks architectures against their stand-alone accuracy.

For every architecture with a stand-alone result under ``benchmarks/results/reproduce_digits/runs``
(``<name>/result.json``: mean test accuracy over seeds of the network trained from scratch), the
supernet accuracy averaged over the whole policy (reward) split
(:meth:`natgym.reward.SupernetEvaluator.accuracy_on`); then Kendall tau and Spearman rho between
the two, plus :func:`natgym.reward.ranking_check` (all-null vs all-conv cells, spread of 20 uniformly
sampled architectures against the noise of one 64-image query). Architectures the supernet cannot
score (another number of intermediate nodes, e.g. ENAS's 5) are listed as skipped.

Several supernets are measured side by side (``--supernet NAME=PATH``, repeatable; default: the
cached default digits supernet, trained first if missing). Writes
``benchmarks/results/supernet_ranking.json`` and ``.md``. Usage:
``python benchmarks/supernet_ranking.py [--supernet default=PATH --supernet mixed=PATH ...]
[--runs DIR] [--out DIR] [--threads 1]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch
from scipy import stats

from natgym.errors import GenotypeError
from natgym.files import write_json, write_text
from natgym.genotype import Genotype
from natgym.reward import ranking_check
from natgym.spec import EvaluatorSpec
from natgym.supernet.train import cached_supernet, default_config

ROOT = Path(__file__).resolve().parent
ZOO_INPUTS = ("DARTS", "ENAS", "ResBlock", "VGG", "MobileNetV2")


def stand_alone(runs: Path) -> list[dict]:
    """``[{label, genotype, accuracy, std, seeds}]`` for every finished run under ``runs``."""
    out = []
    for path in sorted(runs.glob("*/result.json")):
        data = json.loads(path.read_text())
        if "test_accuracy_mean" not in data:
            continue
        out.append(
            {
                "label": path.parent.name,
                "genotype": Genotype.parse(data["genotype"]),
                "accuracy": float(data["test_accuracy_mean"]),
                "std": float(data.get("test_accuracy_std", float("nan"))),
                "seeds": len(data.get("test_accuracy", [])),
            }
        )
    return out


def measure(name: str, path: Path, archs: list[dict]) -> dict:
    """Supernet accuracies of ``archs`` and the rank correlations, for the supernet at ``path``."""
    evaluator = EvaluatorSpec(supernet=path, device="cpu").build(progress=False)
    config = evaluator.train_config
    scorable, skipped = [], {}
    for arch in archs:
        try:
            evaluator.model.check([arch["genotype"]])
            scorable.append(arch)
        except GenotypeError as exc:
            skipped[arch["label"]] = str(exc)
    acc = evaluator.accuracy_on([a["genotype"] for a in scorable], "policy")
    truth = np.array([a["accuracy"] for a in scorable])
    tau, tau_p = stats.kendalltau(acc, truth)
    rho, rho_p = stats.spearmanr(acc, truth)
    meta = torch.load(path, map_location="cpu", weights_only=False)
    return {
        "name": name,
        "path": os.fspath(path),
        "config": config.to_dict(),
        "key": config.key(),
        "train_seconds": float(meta.get("train_seconds", float("nan"))),
        "train_accuracy": float(meta.get("train_accuracy", float("nan"))),
        "kendall_tau": float(tau),
        "kendall_p": float(tau_p),
        "spearman": float(rho),
        "spearman_p": float(rho_p),
        "zoo_min": float(min(a for a, s in zip(acc, scorable) if s["label"] in ZOO_INPUTS)),
        "check": ranking_check(evaluator),
        "archs": {a["label"]: float(v) for a, v in zip(scorable, acc)},
        "skipped": skipped,
    }


def markdown(results: list[dict], archs: list[dict]) -> str:
    names = [r["name"] for r in results]
    lines = [
        "Supernet ranking on digits: supernet accuracy on the whole policy split vs stand-alone mean test "
        "accuracy (`benchmarks/results/reproduce_digits/runs`, 20 epochs, C=8, 5 cells, 3 seeds).",
        "",
        "| supernet | archs | input prob | random concat | train s | Kendall tau (p) | Spearman (p) | "
        "min zoo input | null | conv | random mean ± std [min, max] | noise std (64 img) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        c, k = r["config"], r["check"]
        lines.append(
            f"| {r['name']} | {c.get('archs', 'inputs')} | "
            f"{c.get('input_prob', 0.5) if c.get('archs') == 'mixed' else '—'} | "
            f"{c.get('random_concat', False)} | {r['train_seconds']:.0f} | "
            f"{r['kendall_tau']:.3f} ({r['kendall_p']:.3f}) | {r['spearman']:.3f} ({r['spearman_p']:.3f}) | "
            f"{r['zoo_min']:.3f} | {k['null']:.3f} | {k['conv']:.3f} | "
            f"{k['random_mean']:.3f} ± {k['random_std']:.3f} "
            f"[{k['random_min']:.3f}, {k['random_max']:.3f}] | "
            f"{k['noise_std']:.3f} |"
        )
    lines += ["", "| architecture | stand-alone (%) | " + " | ".join(names) + " |"]
    lines.append("|---|---|" + "---|" * len(names))
    for a in sorted(archs, key=lambda a: -a["accuracy"]):
        cells = [f"{r['archs'][a['label']]:.3f}" if a["label"] in r["archs"] else "—" for r in results]
        lines.append(
            f"| {a['label']} | {100 * a['accuracy']:.2f} ± {100 * a['std']:.2f} | " + " | ".join(cells) + " |"
        )
    skipped = {k: v for r in results for k, v in r["skipped"].items()}
    for label, why in skipped.items():
        lines.append(f"\nSkipped {label}: {why}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--supernet", action="append", default=None, metavar="NAME=PATH", help="supernet to measure"
    )
    parser.add_argument("--runs", default=str(ROOT / "results" / "reproduce_digits" / "runs"))
    parser.add_argument("--out", default=str(ROOT / "results"))
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    specs = args.supernet or [f"default={cached_supernet(default_config('digits'), 'cpu')}"]
    archs = stand_alone(Path(args.runs))
    results = []
    for spec in specs:
        name, _, path = spec.partition("=")
        r = measure(name, Path(path), archs)
        print(
            f"{name}: tau {r['kendall_tau']:.3f} (p {r['kendall_p']:.3f}), spearman {r['spearman']:.3f}, "
            f"min zoo input {r['zoo_min']:.3f}, null {r['check']['null']:.3f}, "
            f"conv {r['check']['conv']:.3f}, "
            f"random {r['check']['random_mean']:.3f} ± {r['check']['random_std']:.3f}",
            flush=True,
        )
        results.append(r)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    command = "python benchmarks/supernet_ranking.py " + " ".join(argv if argv is not None else sys.argv[1:])
    payload = {
        "command": command,
        "stand_alone": {
            a["label"]: {
                "accuracy": a["accuracy"],
                "std": a["std"],
                "seeds": a["seeds"],
                "genotype": str(a["genotype"]),
            }
            for a in archs
        },
        "supernets": results,
    }
    write_json(out / "supernet_ranking.json", payload)
    md = markdown(results, archs) + f"\nCommand: `{command}`\n"
    write_text(out / "supernet_ranking.md", md)
    print(md)
    return results


if __name__ == "__main__":
    main()

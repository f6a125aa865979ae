"""Which supernet ranks architectures best? Train variants, score each against the ground truth.

Every variant is a supernet training configuration (:func:`natgym.supernet.train.default_config`
overrides of the dataset's default); each is trained into ``OUT/<variant>.pt`` (resumable,
reused when present) and scored with :func:`natgym.fidelity.fidelity` on the ground truth's
``fit`` part (two thirds), on at most :data:`natgym.fidelity.SCORE_IMAGES` policy images. The
``holdout`` third is scored too but is only for the final numbers of the chosen variant: choose on
``fit``. Also recorded: training time, the lowest policy-split accuracy of any zoo cell (no
standard cell should score near chance) and the env's 64-image scorer; the table starts with the
trivial scorers (params, MAdds, NASWOT) on the same ``fit`` cells, which a supernet must beat.

``--dataset digits`` (the study behind the digits default, :data:`VARIANTS`) or ``fashion``
(:data:`FASHION_VARIANTS`, against the Fashion ground truth; results in ``OUT_fashion``).

    python benchmarks/fidelity_study.py                  # every digits variant (~20 min on 2 cores)
    python benchmarks/fidelity_study.py --variants base pool
    python benchmarks/fidelity_study.py --variants base --speed   # + rewards/s of every trained one
    python benchmarks/fidelity_study.py --dataset fashion --variants base 32ep
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

from natgym import fidelity
from natgym.files import write_json, write_text
from natgym.reward import SupernetEvaluator
from natgym.supernet import PRESETS
from natgym.supernet.train import default_config, load_supernet, supernet_data, train_supernet

DIGITS_NET = {**PRESETS["digits"].to_dict(), "in_channels": 1, "num_classes": 10}


def _net(**changes: Any) -> dict[str, Any]:
    return {**DIGITS_NET, **changes}


VARIANTS: dict[str, dict[str, Any]] = {
    "base": {},
    "pool": {"net": _net(pool_norm=True)},
    "concat": {"random_concat": True},
    "pool+concat": {"net": _net(pool_norm=True), "random_concat": True},
    "pool+concat+mixed": {"net": _net(pool_norm=True), "random_concat": True, "archs": "mixed"},
    "5cells+pool+concat": {"net": _net(pool_norm=True, layers=5), "random_concat": True},
    "5cells+pool+concat+mixed": {
        "net": _net(pool_norm=True, layers=5),
        "random_concat": True,
        "archs": "mixed",
    },
    "pool+concat+300ep": {"net": _net(pool_norm=True), "random_concat": True, "epochs": 300},
}
"""Variant name -> ``default_config("digits", **overrides)``; ``base`` is the current default."""

FASHION_VARIANTS: dict[str, dict[str, Any]] = {
    "base": {},
    "32ep": {"epochs": 32},
    "32ep-lr0.01": {"epochs": 32, "lr": 0.01},
    "32ep-mixed": {"epochs": 32, "archs": "mixed"},
}
"""Variant name -> ``default_config("fashion", **overrides)`` (``base``: the current default, 8
epochs at a constant lr 0.05; the authors train 200 epochs at lr 0.01)."""


def trivial_rows(table: fidelity.GroundTruth) -> dict[str, dict[str, Any]]:
    """Params, MAdds and NASWOT on the table's ``fit`` part: the scorers a supernet must beat."""
    scores = {**fidelity.cost_scorers(table), "NASWOT (init)": fidelity.naswot_scores(table)}
    return {name: fidelity.fidelity(table, s, "fit") for name, s in scores.items()}


def score(path: Path, table: fidelity.GroundTruth) -> dict[str, Any]:
    """Fidelity rows (fit, holdout) of the supernet at ``path`` and its lowest zoo-cell score."""
    model, meta = load_supernet(path, "cpu")
    config = meta["config"]
    data = supernet_data(config)
    evaluator = SupernetEvaluator(model, data, config, device="cpu")
    scores = fidelity.supernet_scores(table, evaluator)
    whole, env = (
        scores["supernet (policy split)"],
        next(v for k, v in scores.items() if k.startswith("supernet (env")),
    )
    return {
        "train_seconds": meta["train_seconds"],
        "fit": fidelity.fidelity(table, whole, "fit"),
        "holdout": fidelity.fidelity(table, whole, "holdout"),
        "env_fit": fidelity.fidelity(table, env, "fit"),
        "zoo_min": min(whole[a.id] for a in table.archs if a.family == "zoo"),
        "zoo_min_id": min((whole[a.id], a.id) for a in table.archs if a.family == "zoo")[1],
    }


def speed(paths: dict[str, Path], pairs: int = 64, rounds: int = 3) -> dict[str, float]:
    """Env rewards per second of each supernet, measured interleaved in one run: ``pairs`` fresh
    (uniform input, random NAT++ transformation) pairs per round, scored one pair per call on the
    env's 64 fixed images; the median over ``rounds``."""
    from natgym import zoo
    from natgym.transitions import random_transform

    evaluators = {}
    for name, path in paths.items():
        model, meta = load_supernet(path, "cpu")
        data = supernet_data(meta["config"])
        evaluators[name] = SupernetEvaluator(model, data, meta["config"], device="cpu")
    times: dict[str, list[float]] = {name: [] for name in paths}
    for r in range(rounds):
        inputs = [zoo.sample(50_000 + r * pairs + i) for i in range(pairs)]
        outputs = [random_transform(g, i) for i, g in enumerate(inputs)]
        for name, evaluator in evaluators.items():
            t0 = time.perf_counter()
            for before, after in zip(inputs, outputs):
                evaluator.reward([before], [after])
            times[name].append(pairs / (time.perf_counter() - t0))
    return {name: float(sorted(t)[len(t) // 2]) for name, t in times.items()}


def markdown(rows: dict[str, dict[str, Any]], trivial: dict[str, dict[str, Any]] | None = None) -> str:
    """The study's table (choose on the ``fit`` columns), after the ``trivial`` scorers' rows."""

    def f(v: Any) -> str:
        return "–" if v is None else f"{v:+.2f}"

    lines = [
        "| variant | train s | tau (fit) | rho (fit) | sign agr. (fit) "
        "| tau zoo / uniform / transformed (fit) | tau env 64 (fit) | lowest zoo acc "
        "| tau (holdout) | sign agr. (holdout) | rewards/s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, fit in (trivial or {}).items():
        lines.append(
            f"| {name} | – | {f(fit['kendall_tau'])} | {f(fit['spearman_rho'])} "
            f"| {fit['sign_agreement']:.2f} ({fit['sign_pairs']}) | {f(fit['kendall_tau_zoo'])} / "
            f"{f(fit['kendall_tau_uniform'])} / {f(fit['kendall_tau_transformed'])} | – | – | – | – | – |"
        )
    for name, r in rows.items():
        fit, hold = r["fit"], r["holdout"]
        lines.append(
            f"| {name} | {r['train_seconds']:.0f} | {f(fit['kendall_tau'])} | {f(fit['spearman_rho'])} "
            f"| {fit['sign_agreement']:.2f} ({fit['sign_pairs']}) | {f(fit['kendall_tau_zoo'])} / "
            f"{f(fit['kendall_tau_uniform'])} / {f(fit['kendall_tau_transformed'])} "
            f"| {f(r['env_fit']['kendall_tau'])} | {r['zoo_min']:.3f} ({r['zoo_min_id']}) "
            f"| {f(hold['kendall_tau'])} | {hold['sign_agreement']:.2f} ({hold['sign_pairs']}) "
            f"| {r.get('rewards_per_s', float('nan')):.0f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", choices=("digits", "fashion"), default="digits")
    p.add_argument("--variants", nargs="+", default=None, help="default: every variant of the dataset")
    p.add_argument("--out", default=None, help="default benchmarks/results/fidelity_study[_fashion]")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--speed", action="store_true", help="also time every trained variant, interleaved")
    args = p.parse_args(argv)
    variants = VARIANTS if args.dataset == "digits" else FASHION_VARIANTS
    unknown = sorted(set(args.variants or ()) - set(variants))
    if unknown:
        p.error(f"--variants: unknown {unknown[0]!r}; allowed: {', '.join(variants)}")
    args.variants = args.variants or list(variants)
    torch.set_num_threads(args.threads)
    suffix = "" if args.dataset == "digits" else f"_{args.dataset}"
    out = Path(args.out or f"benchmarks/results/fidelity_study{suffix}")
    out.mkdir(parents=True, exist_ok=True)
    table = fidelity.load_table(dataset=args.dataset)
    results_path = out / "fidelity_study.json"
    rows = json.loads(results_path.read_text()) if results_path.is_file() else {}
    for name in args.variants:
        config = default_config(args.dataset, **variants[name])
        t0 = time.perf_counter()
        path = train_supernet(config, out / f"{name}.pt", "cpu", progress=False)
        rows[name] = {"config": config.to_dict(), **score(path, table)}
        print(
            f"{name}: {time.perf_counter() - t0:.0f} s; " + fidelity.summary_line(rows[name]["fit"]),
            flush=True,
        )
        write_json(results_path, rows, indent=1)
    if args.speed:
        measured = speed({k: out / f"{k}.pt" for k in variants if k in rows})
        for name, value in measured.items():
            rows[name]["rewards_per_s"] = value
        write_json(results_path, rows, indent=1)
    trivial = trivial_rows(table) if args.dataset != "digits" else None
    text = markdown({k: rows[k] for k in variants if k in rows}, trivial)
    write_text(out / "fidelity_study.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

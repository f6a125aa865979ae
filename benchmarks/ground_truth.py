"""Build a ground-truth table (digits or Fashion-MNIST) that ``natgym fidelity`` scores
supernets against.

The architecture set (fixed seeds, written once to
``benchmarks/results/ground_truth/architectures.json`` and reused, so a rerun trains the same
set; every dataset's table trains the same set, so the tables can be compared cell by cell):

* ``zoo``: every zoo input with 4 intermediate nodes (DARTS, ResBlock, VGG, MobileNetV2,
  R1-R5) and its published NAT / NAT++ transformations;
* ``uniform``: 50 inputs ``U00``..``U49`` = ``zoo.sample(10_000 + i)``;
* ``transformed``: for every uniform input a random valid NAT++ transformation
  (``Uii/random``, :func:`natgym.transitions.random_transform` seed ``20_000 + i``); for the first
  20 a pool/skip-heavy one (``Uii/cheap``, seed ``30_000 + i``, preferring pooling, skip and
  null); for the first 15 the best of 10 samples of the short demo NAT agent (``Uii/agent``,
  trained on the default digits supernet of the code version that built the set); for the
  first 30 a path-level one (``Uii/rewired``, :func:`natgym.wiring.random_rewire` seed
  ``40_000 + i``: every node's source pair redrawn among the allowed pairs, ops kept), added
  after the first tables were built (the digits table predates it) and in its input's holdout
  group.

A third of the groups (an input with all its transformations) is marked ``holdout`` by a
seeded draw (seed 2026) before any supernet is tuned on the table.

Every architecture trains stand-alone with the dataset's preset of :mod:`natgym.final`
(``digits`` or ``fashion``) for ``--seeds`` seeds; each run checkpoints per epoch and keeps its
``result.json``, so a killed build resumes where it stopped (commit finished run files as you
go), and ``--workers`` runs train at once. When all runs are done the table is written
(atomically) to ``natgym/data_files/ground_truth_<dataset>.json`` with the protocol, seeds, code
version and machine, and a summary with the test-retest reliability to ``OUT/summary.md``.
``--limit N`` stops after N more runs (a build in slices). Runs go seed by seed (every
architecture's seed 0, then seed 1, ...), so a build cut short leaves whole seeds: ``--seeds 2``
writes a 2-seed table as soon as seeds 0 and 1 are done, and a later ``--seeds 4`` adds to it.

    python benchmarks/ground_truth.py                    # digits: 2 seeds (~45 min on 2 cores)
    python benchmarks/ground_truth.py --dataset fashion --seeds 2   # then 4, 6, 8 (the default)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from natgym import fidelity, zoo
from natgym.cost import network_cost
from natgym.fidelity import FORMAT, VERSION, expected_protocol
from natgym.files import write_json, write_text
from natgym.final import load_data, make_config, train_runs
from natgym.genotype import Genotype
from natgym.transitions import random_transform
from natgym.wiring import random_rewire

UNIFORM, CHEAP_COUNT, AGENT_COUNT, REWIRED_COUNT = 50, 20, 15, 30
REWIRED_SEED = 40_000
HOLDOUT_SEED = 2026
CHEAP_OPS = ("max_pool_3x3", "avg_pool_3x3", "max_pool_5x5", "avg_pool_5x5", "skip_connect", "null")
ROOT = Path(__file__).resolve().parents[1]
SET = ROOT / "benchmarks" / "results" / "ground_truth" / "architectures.json"
DEFAULTS = {
    "digits": {"seeds": 2, "out": "benchmarks/results/ground_truth"},
    "fashion": {"seeds": 8, "out": "benchmarks/results/ground_truth_fashion"},
}


def _zoo_entries() -> list[dict[str, Any]]:
    out = []
    for name in zoo.INPUTS:
        base = zoo.get(name)
        if base.steps != 4:
            continue
        out.append({"id": name, "family": "zoo", "kind": "input", "parent": None, "genotype": base})
        for prefix, kind in (("NAT_", "NAT"), ("NATv2_", "NAT++")):
            if prefix + name in zoo.names():
                g = zoo.get(prefix + name)
                out.append(
                    {"id": prefix + name, "family": "zoo", "kind": kind, "parent": name, "genotype": g}
                )
    return out


def _agent_transforms(inputs: list[Genotype], out: Path) -> list[Genotype]:
    from agents.nat.commands import quick_agent
    from agents.nat.derive import derive
    from natgym.spec import EvaluatorSpec

    evaluator = EvaluatorSpec("digits", device="cpu").build()
    policy = quick_agent(evaluator, out / "agent", device="cpu")
    return [derive(g, policy, evaluator, samples=10, seed=0).after for g in inputs]


def _add_rewired(entries: list[dict[str, Any]]) -> bool:
    """Append the path-level transformations (``Uii/rewired``) of the first
    :data:`REWIRED_COUNT` uniform inputs when the set has none; each joins its input's holdout
    group. Returns whether anything was added."""
    if any(e["kind"] == "rewired" for e in entries):
        return False
    by_id = {e["id"]: e for e in entries}
    for i in range(REWIRED_COUNT):
        parent = by_id[f"U{i:02d}"]
        child = random_rewire(parent["genotype"], REWIRED_SEED + i)
        entries.append(
            {
                "id": f"U{i:02d}/rewired",
                "family": "transformed",
                "kind": "rewired",
                "parent": parent["id"],
                "genotype": child,
                "holdout": parent["holdout"],
            }
        )
    return True


def _write_set(path: Path, entries: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, [{**e, "genotype": e["genotype"].to_dict()} for e in entries], indent=1)


def build_set(path: Path = SET) -> list[dict[str, Any]]:
    """The architecture set (see the module docstring); read from ``path`` when it exists (and
    extended there by the rewired transformations if it predates them), else built and written
    there."""
    out = path.parent
    if path.is_file():
        entries = [{**e, "genotype": Genotype.parse(e["genotype"])} for e in json.loads(path.read_text())]
        if _add_rewired(entries):
            _write_set(path, entries)
        return entries
    entries = _zoo_entries()
    uniform = [zoo.sample(10_000 + i) for i in range(UNIFORM)]
    agent = _agent_transforms(uniform[:AGENT_COUNT], out)
    for i, g in enumerate(uniform):
        uid = f"U{i:02d}"
        entries.append({"id": uid, "family": "uniform", "kind": "uniform", "parent": None, "genotype": g})
        children = [("random", random_transform(g, 20_000 + i))]
        if i < CHEAP_COUNT:
            children.append(("cheap", random_transform(g, 30_000 + i, prefer=CHEAP_OPS)))
        if i < AGENT_COUNT:
            children.append(("agent", agent[i]))
        for kind, child in children:
            entries.append(
                {
                    "id": f"{uid}/{kind}",
                    "family": "transformed",
                    "kind": kind,
                    "parent": uid,
                    "genotype": child,
                }
            )
    groups = sorted({e["parent"] or e["id"] for e in entries})
    held = set(np.random.default_rng(HOLDOUT_SEED).permutation(groups)[: len(groups) // 3].tolist())
    for e in entries:
        e["holdout"] = (e["parent"] or e["id"]) in held
    _add_rewired(entries)
    _write_set(path, entries)
    return entries


def _run_dir(out: Path, arch_id: str, seed: int) -> Path:
    return out / "runs" / arch_id.replace("/", "-") / f"seed_{seed}"


def _code_version() -> str:
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return rev


def machine() -> str:
    """The CPU this ran on (model name from /proc/cpuinfo where there is one) and core count."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, torch 1 thread per run"


def reuse_runs(runs: list[tuple[Genotype, int, Path]], config: Any, folders: list[Path]) -> int:
    """Copy into each unfinished run the ``result.json`` of the same run (genotype, config,
    seed) from ``folders`` (laid out like ``runs/``); returns how many were copied."""
    copied = 0
    want_config = config.to_dict()
    for genotype, seed, run_dir in runs:
        if (run_dir / "result.json").is_file():
            continue
        for folder in folders:
            source = folder / run_dir.parent.name / run_dir.name / "result.json"
            if not source.is_file():
                continue
            result = json.loads(source.read_text())
            if (result.get("genotype"), result.get("config"), result.get("seed")) == (
                genotype.to_dict(),
                want_config,
                seed,
            ):
                write_json(run_dir / "result.json", result)
                copied += 1
                break
    return copied


def write_table(
    entries: list[dict[str, Any]], out: Path, seeds: list[int], path: Path, wall: float, preset: str
) -> dict:
    """Collect the finished runs into the ground-truth file and the summary."""
    config = make_config(preset)
    data = load_data(config)
    archs, times = [], []
    for e in entries:
        results = [json.loads((_run_dir(out, e["id"], s) / "result.json").read_text()) for s in seeds]
        times += [r["wall_time_s"] for r in results]
        cost = network_cost(
            e["genotype"], config.channels, config.layers, data.image_size, data.num_classes, data.in_channels
        )
        accs = [r["test_accuracy"] for r in results]
        archs.append(
            {
                "id": e["id"],
                "family": e["family"],
                "kind": e["kind"],
                "parent": e["parent"],
                "holdout": e["holdout"],
                "genotype": e["genotype"].to_dict(),
                "test_accuracy": accs,
                "mean": float(np.mean(accs)),
                "std": float(np.std(accs, ddof=1)),
                "params": results[0]["params"],
                "madds": cost.madds,
            }
        )
    table = {
        "format": FORMAT,
        "version": VERSION,
        "protocol": expected_protocol(preset),
        "seeds": seeds,
        "meta": {
            "code_version": _code_version(),
            "machine": machine(),
            "created": time.strftime("%Y-%m-%d"),
            "train_time_s_total": float(sum(times)),
            "wall_time_s_last_build": wall,
            "architecture_set": "benchmarks/ground_truth.py (seeds in its docstring)",
        },
        "architectures": archs,
    }
    assert table["protocol"]["config"] == config.to_dict()
    write_json(path, table, indent=1)
    return table


def summary(table: dict, path: Path) -> str:
    """Seed noise, spread and test-retest reliability of the table written at ``path``, per
    family and overall (Markdown)."""
    archs = table["architectures"]
    means = np.array([a["mean"] for a in archs])
    stds = np.array([a["std"] for a in archs])
    pooled = float(np.sqrt(np.mean(stds**2)))
    cfg, meta = table["protocol"]["config"], table["meta"]
    truth = fidelity.load_table(path)
    retest = fidelity.retest(truth)
    size = f"{cfg['image_size']} px" if cfg.get("image_size") else "native size"
    subset = f"{cfg['train_subset']:,} training images" if cfg.get("train_subset") else "all training images"
    test = f"{cfg['folds']}-fold cross-validation" if cfg["folds"] else "the official test split"
    lines = [
        f"Ground truth ({cfg['dataset']}): {len(archs)} architectures x seeds {table['seeds']} "
        f"({table['protocol']['preset']} preset: {cfg['channels']} channels, {cfg['layers']} cells, "
        f"{cfg['epochs']} epochs, {size}, {subset}, tested on {test}), on {meta['machine']}; "
        f"code {meta['code_version']}, {meta['train_time_s_total'] / 3600:.1f} h of training.",
        "",
        "| family | architectures | mean accuracy range (%) | median seed std (points) "
        "| test-retest tau (seed vs seed) | held out |",
        "|---|---|---|---|---|---|",
    ]
    for family in ("zoo", "uniform", "transformed", None):
        rows = [a for a in archs if family is None or a["family"] == family]
        m = np.array([a["mean"] for a in rows])
        s = np.array([a["std"] for a in rows])
        tau = retest["kendall_tau" if family is None else f"kendall_tau_{family}"]
        lines.append(
            f"| {family or 'all'} | {len(rows)} | {100 * m.min():.1f}-{100 * m.max():.1f} "
            f"| {100 * np.median(s):.2f} | {tau:.2f} | {sum(a['holdout'] for a in rows)} |"
        )
    pairs = truth.pairs(truth.archs)
    above = sum(abs(t.mean - p.mean) > 2 * truth.noise for p, t in pairs)
    lines += [
        "",
        f"Seed noise: pooled std {100 * pooled:.2f} points, median {100 * np.median(stds):.2f}; "
        f"range of means {100 * np.ptp(means):.1f} points = "
        f"{np.ptp(means) / np.median(stds):.0f}x the median seed std.",
        f"Test-retest: one run ranks the {len(archs)} cells like another seed's run at Kendall tau "
        f"{retest['kendall_tau']:.2f} (Spearman {retest['spearman_rho']:.2f}, mean over ordered seed "
        f"pairs); the {len(table['seeds'])}-seed mean's own test-retest (an independent rebuild): "
        f"tau {fidelity.mean_retest_tau(truth):.2f} (Spearman-Brown)"
        + (
            f", the mean of {len(table['seeds']) // 2} seeds against that of the other "
            f"{len(table['seeds']) // 2}: tau {fidelity.split_half_tau(truth):.2f} (measured)"
            if len(table["seeds"]) >= 4
            else ""
        )
        + f"; ceiling for a scorer against the mean: tau {fidelity.ceiling_tau(truth):.2f}. "
        f"{above} of {len(pairs)} (input, "
        f"transformation) pairs differ by more than twice the seed noise "
        f"({100 * 2 * truth.noise:.2f} points).",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", choices=tuple(DEFAULTS), default="digits", help="(default %(default)s)")
    p.add_argument(
        "--seeds", type=int, default=None, help="seeds 0..N-1 per architecture (digits 2, fashion 8)"
    )
    p.add_argument("--workers", type=int, default=2, help="parallel training processes (default %(default)s)")
    p.add_argument("--limit", type=int, default=None, help="train at most N more runs, then stop")
    p.add_argument(
        "--out", default=None, help="runs folder (default benchmarks/results/ground_truth[_fashion])"
    )
    p.add_argument("--table", default=None, help="where the table is written (default: the shipped one)")
    p.add_argument(
        "--reuse",
        nargs="*",
        default=(),
        metavar="DIR",
        help="run folders laid out like OUT/runs (ARCH/seed_S/result.json, e.g. a protocol-study "
        "candidate's): a finished run of the same genotype, config and seed is copied, not retrained",
    )
    args = p.parse_args(argv)
    defaults = DEFAULTS[args.dataset]
    out = Path(args.out or defaults["out"])
    table_path = Path(args.table) if args.table else ROOT / "natgym" / fidelity.TABLES[args.dataset]
    entries = build_set()
    seeds = list(range(args.seeds or defaults["seeds"]))
    config = make_config(args.dataset)
    runs = [(e["genotype"], s, _run_dir(out, e["id"], s)) for s in seeds for e in entries]  # seed by seed
    reused = reuse_runs(runs, config, [Path(d) for d in args.reuse])
    if reused:
        print(f"reused {reused} finished runs from {', '.join(args.reuse)}")
    todo = [r for r in runs if not (r[2] / "result.json").is_file()]
    wall = train_runs(todo[: args.limit] if args.limit is not None else todo, config, workers=args.workers)
    left = sum(not (r[2] / "result.json").is_file() for r in runs)
    if left:
        print(f"{len(runs) - left} of {len(runs)} runs done; rerun the same command to continue")
        return 0
    table = write_table(entries, out, seeds, table_path, wall, args.dataset)
    text = summary(table, table_path)
    write_text(out / "summary.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

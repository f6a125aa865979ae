"""Reproduction: does a transformation find a better architecture when trained from scratch?

For every input architecture (default: DARTS, ENAS, ResBlock, VGG, MobileNetV2) this script trains
from scratch, with :mod:`natgym.final` and the same preset and seeds,

* the input itself,
* the published NAT transformation (zoo ``NAT_<name>``),
* the published NAT++ transformation (zoo ``NATv2_<name>``),
* natgym's transformation (see below),

and writes the table in the layout of the paper (params, MAdds, test accuracy mean +- std over
seeds, for each column) as ``reproduce.md`` and ``reproduce.json`` in ``--out``. Identical
genotypes are trained once. Every seed of every architecture checkpoints each epoch and keeps
its result, so a killed run resumes and a finished one is skipped (rerunning rebuilds the table).

natgym's transformation comes from, in this order:

1. ``--natgym FILE`` -- a JSON object ``{"DARTS": <genotype>, ...}`` (any genotype dialect, or
   the ``transform_<name>.json`` dict written by ``natgym transform``, whose ``"after"`` is used),
   or a folder of ``transform_<name>.json`` files;
2. ``--agent CHECKPOINT`` -- a NAT agent checkpoint from ``natgym train-agent``;
3. otherwise the short demo agent (``natgym demo``'s, trained on the digits supernet on first use
   into ``<out>/agent`` and reused) -- ``--no-natgym`` skips the column.

With an agent, each input is transformed by :func:`agents.nat.derive.derive` (best of 10
samples by supernet accuracy on the policy split, seed 0); the chosen genotypes are written to
``<out>/natgym_transforms.json`` and reused on the next run.

Digits (default; runs on a laptop CPU)::

    python benchmarks/reproduce.py                         # 3 seeds, --workers 2
    python benchmarks/reproduce.py --seeds 1 --epochs 2    # smoke run

CIFAR-10 on a GPU (the paper's protocol: 600 epochs, batch 96, 36 channels, 20 cells;
docs/method.md section 6)::

    # data: the CIFAR-10 "python version" archive extracted so that
    #   /data/cifar-10-batches-py/{data_batch_1..5,test_batch} exist
    python benchmarks/reproduce.py --preset cifar10 --data-root /data --device cuda \\
        --workers 1 --seeds 3 --out benchmarks/results/reproduce_cifar10 \\
        --agent runs/nat-improved-cifar10-seed0/checkpoint.pt

Each architecture trains on the 50,000 training images and is tested on the 10,000 test images.
Time per architecture: not measured here (no GPU was available when this was written); the
network is launch-bound at batch 96 (~520 steps per epoch, 600 epochs), so expect hours per seed
on one modern GPU -- several hours, not minutes -- and ~20 architectures x 3 seeds in all. Measure
your own card first with ``natgym evaluate --genotype DARTS --preset cifar10 --epochs 1 --seeds 1``
(the result's ``wall_time_s`` x 600 is one seed). Runs resume, so the job can be split across
sessions; on several GPUs, start one process per GPU with ``--inputs`` (e.g. ``--inputs DARTS
ENAS``), ``--device cuda:N`` and the same ``--out``, then run once more with all inputs to
rebuild the whole table (finished runs are skipped).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from natgym import zoo
from natgym.errors import ConfigError, GenotypeError
from natgym.files import write_json, write_text
from natgym.final import evaluate, load_data, make_config, train_runs
from natgym.genotype import Genotype
from natgym.spec import EvaluatorSpec

INPUTS = ("DARTS", "ENAS", "ResBlock", "VGG", "MobileNetV2")
COLUMNS = ("input", "NAT", "NAT++", "natgym")
"""Table columns: the input, the published NAT and NAT++ transformations, natgym's."""
PREFIX = {"input": "", "NAT": "NAT_", "NAT++": "NATv2_", "natgym": "natgym_"}
"""Run-folder prefix per column (the zoo's names for the published ones)."""


@dataclass(frozen=True)
class Entry:
    """One architecture to train: table cell ``(input name, column)`` and its genotype."""

    name: str
    column: str
    genotype: Genotype

    @property
    def label(self) -> str:
        return PREFIX[self.column] + self.name


def _genotype_from(obj: Any) -> Genotype:
    if isinstance(obj, dict) and "after" in obj:
        obj = obj["after"]
    return Genotype.parse(obj)


def load_natgym_file(path: Path, inputs: list[str]) -> dict[str, Genotype]:
    """natgym transformations from a JSON file ``{name: genotype}`` or a folder of
    ``transform_<name>.json`` files; inputs without one are left out."""
    if path.is_dir():
        found = {n: path / f"transform_{n}.json" for n in inputs}
        return {n: _genotype_from(json.loads(p.read_text())) for n, p in found.items() if p.is_file()}
    if not path.is_file():
        raise ConfigError(f"natgym: no such file or folder {str(path)!r}")
    data = json.loads(path.read_text())
    lookup = {k.lower(): v for k, v in data.items()}
    return {
        n: _genotype_from(lookup[n.lower()])
        for n in inputs
        if n.lower() in lookup and "skipped" not in lookup[n.lower()]
    }


def derive_natgym(
    inputs: list[str], out: Path, args: argparse.Namespace, dataset: str
) -> dict[str, Genotype]:
    """Transform each input with a NAT agent (the demo agent unless ``args.agent`` is a
    checkpoint), scoring candidates with the ``dataset`` supernet (``args.supernet`` if given);
    cached in ``out/natgym_transforms.json``. Inputs with other cell sizes than 4 (ENAS: 5 nodes)
    get a default supernet and a demo agent of their own size (``out/agent_steps<N>``). An
    input that cannot be scored (a given 4-node supernet or agent for a 5-node cell) is recorded
    as ``{"skipped": reason}`` and retried on the next run."""
    agent, device = args.agent, args.device
    cache = out / "natgym_transforms.json"
    done: dict[str, Any] = json.loads(cache.read_text()) if cache.is_file() else {}
    todo = [n for n in inputs if n not in done or "skipped" in done[n]]
    by_steps: dict[int, list[str]] = {}
    for name in todo:
        by_steps.setdefault(zoo.get(name).steps, []).append(name)
    for steps, names in sorted(by_steps.items()):
        from agents.nat.commands import quick_agent
        from agents.nat.derive import derive
        from agents.nat.trainer import load_policy

        folder = out / ("agent" if steps == 4 else f"agent_steps{steps}")
        try:
            spec = EvaluatorSpec(
                dataset, supernet=args.supernet, steps=steps, device=device, data_root=args.data_root
            )
            evaluator = spec.build()
        except ConfigError as exc:
            done.update({name: {"skipped": str(exc)} for name in names})
            write_json(cache, done)
            continue
        if agent:
            policy = load_policy(agent, device=device)
        else:
            print(f"natgym column: training/reusing the short demo NAT agent in {folder}")
            policy = quick_agent(evaluator, folder, device=device, steps=steps)
        for name in names:
            try:
                result = derive(zoo.get(name), policy, evaluator, samples=10, seed=0)
            except (GenotypeError, ConfigError) as exc:
                done[name] = {"skipped": str(exc)}
            else:
                source = agent or str(folder / "checkpoint.pt")
                done[name] = {**result.to_dict(), "source": source, "steps": steps}
            write_json(cache, done)
    return {n: _genotype_from(done[n]) for n in inputs if "skipped" not in done[n]}


def entries(inputs: list[str], natgym: dict[str, Genotype]) -> list[Entry]:
    """Every table cell that has an architecture."""
    out: list[Entry] = []
    for name in inputs:
        out.append(Entry(name, "input", zoo.get(name)))
        for column in ("NAT", "NAT++"):
            if PREFIX[column] + name in zoo.names():
                out.append(Entry(name, column, zoo.get(PREFIX[column] + name)))
        if name in natgym:
            out.append(Entry(name, "natgym", natgym[name]))
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Train every entry (all seeds, in parallel workers), then write the tables."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    inputs = [_canonical(n) for n in args.inputs]
    config = make_config(args.preset, epochs=args.epochs)
    if args.no_natgym:
        natgym: dict[str, Genotype] = {}
    elif args.natgym:
        natgym = load_natgym_file(Path(args.natgym), inputs)
    else:
        natgym = derive_natgym(inputs, out, args, config.dataset)
    todo = entries(inputs, natgym)
    overrides = {"epochs": args.epochs}
    seeds = list(range(args.seeds))
    # identical genotypes train once: every entry points at the run folder of its first twin
    folder: dict[Genotype, Path] = {}
    for e in todo:
        folder.setdefault(e.genotype, out / "runs" / e.label)
    runs = [(g, s, d / f"seed_{s}") for g, d in folder.items() for s in seeds]
    elapsed = train_runs(runs, config, args.workers, args.threads, args.data_root, args.device)
    data = load_data(config, args.data_root)
    results = {
        g: evaluate(
            g,
            args.preset,
            seeds=seeds,
            out_dir=d,
            device=args.device,
            progress=False,
            data=data,
            **overrides,
        )
        for g, d in folder.items()
    }
    rows = [
        {
            "input": e.name,
            "column": e.column,
            "label": e.label,
            "run": str(folder[e.genotype]),
            **_numbers(results[e.genotype]),
        }
        for e in todo
    ]
    summary = {
        "preset": args.preset,
        "config": results[todo[0].genotype]["config"],
        "seeds": seeds,
        "inputs": inputs,
        "natgym_source": "none" if args.no_natgym else (args.natgym or args.agent or "demo agent"),
        "natgym_missing": _natgym_missing(
            Path(args.natgym) if args.natgym else out / "natgym_transforms.json",
            inputs,
            natgym,
            args.no_natgym,
        ),
        "rows": rows,
        "wall_time_s_this_run": elapsed,
        "train_time_s_all_seeds": sum(sum(r["wall_time_s"]) for r in results.values()),
        "distinct_architectures": len(folder),
    }
    write_json(out / "reproduce.json", summary)
    write_text(out / "reproduce.md", markdown(summary))
    return summary


def _natgym_missing(
    source: Path, inputs: list[str], natgym: dict[str, Genotype], off: bool
) -> dict[str, str]:
    if off:
        return {}
    stored = json.loads(source.read_text()) if source.is_file() else {}
    return {n: stored.get(n, {}).get("skipped", f"none given in {source}") for n in inputs if n not in natgym}


def _canonical(name: str) -> str:
    lookup = {n.lower(): n for n in zoo.names()}
    return lookup[name.lower()]


def _numbers(result: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "params",
        "madds",
        "params_cifar",
        "madds_cifar",
        "test_accuracy",
        "test_accuracy_mean",
        "test_accuracy_std",
        "wall_time_s",
        "genotype_text",
    )
    return {k: result[k] for k in keys}


def markdown(summary: dict[str, Any]) -> str:
    """The two tables (trained size with accuracy; CIFAR reference cost) as Markdown."""
    rows = {(r["input"], r["column"]): r for r in summary["rows"]}
    cols = [c for c in COLUMNS if any(col == c for _, col in rows)]
    cfg = summary["config"]
    head = "| Input | " + " | ".join(f"{c} params (K) | {c} MAdds (M) | {c} acc (%)" for c in cols) + " |"
    lines = [
        f"Test accuracy (%) over seeds {summary['seeds']} (mean ± std), preset `{summary['preset']}` "
        f"({cfg['dataset']}, {cfg['channels']} channels, {cfg['layers']} cells, {cfg['epochs']} epochs); "
        "params and MAdds of the trained network; in brackets the change of accuracy against the input.",
        "",
        head,
        "|" + "---|" * (1 + 3 * len(cols)),
    ]
    for name in summary["inputs"]:
        base = rows[(name, "input")]
        cells = []
        for c in cols:
            r = rows.get((name, c))
            if r is None:
                cells.append("— | — | —")
                continue
            acc = f"{100 * r['test_accuracy_mean']:.2f} ± {100 * r['test_accuracy_std']:.2f}"
            if c != "input":
                delta = round(100 * (r["test_accuracy_mean"] - base["test_accuracy_mean"]), 2) + 0.0
                acc += f" ({delta:+.2f})"
            cells.append(f"{r['params'] / 1e3:.1f} | {r['madds'] / 1e6:.2f} | {acc}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    for name, reason in summary.get("natgym_missing", {}).items():
        lines.append(f"\nNo natgym transformation of {name}: {reason}")
    lines += [
        "",
        "The same architectures at the CIFAR-10 reference size (36 channels, 20 cells, 32x32; "
        "natgym.cost, auxiliary head excluded): params (M) / MAdds (M).",
        "",
        "| Input | " + " | ".join(cols) + " |",
        "|" + "---|" * (1 + len(cols)),
    ]
    for name in summary["inputs"]:
        cells = [
            f"{rows[(name, c)]['params_cifar'] / 1e6:.2f} / {rows[(name, c)]['madds_cifar'] / 1e6:.0f}"
            if (name, c) in rows
            else "—"
            for c in cols
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def build_parser() -> argparse.ArgumentParser:
    """Command-line arguments."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--inputs", nargs="+", default=list(INPUTS), help="input architectures (zoo names)")
    p.add_argument("--preset", choices=("digits", "cifar10"), default="digits")
    p.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 per architecture (default %(default)s)")
    p.add_argument("--epochs", type=int, default=None, help="override the preset's epochs")
    p.add_argument("--out", default=None, help="output folder (default benchmarks/results/reproduce_PRESET)")
    p.add_argument("--natgym", default=None, help="JSON file or folder with natgym's transformations")
    p.add_argument("--agent", default=None, help="NAT agent checkpoint to derive natgym's transformations")
    p.add_argument("--supernet", default=None, help="supernet checkpoint that scores the agent's candidates")
    p.add_argument("--no-natgym", action="store_true", help="leave natgym's column out")
    p.add_argument("--workers", type=int, default=2, help="parallel training processes (default %(default)s)")
    p.add_argument("--threads", type=int, default=1, help="torch threads per worker (default %(default)s)")
    p.add_argument("--data-root", default=None, help="folder with the CIFAR files")
    p.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda:N")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.out = args.out or f"benchmarks/results/reproduce_{args.preset}"
    if args.workers < 1 or args.threads < 1 or args.seeds < 1:
        raise ConfigError("workers, threads, seeds: expected positive integers")
    summary = run(args)
    print((Path(args.out) / "reproduce.md").read_text())
    print(f"wall time of this run: {summary['wall_time_s_this_run']:.0f} s; results in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

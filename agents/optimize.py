"""``natgym optimize``: from your cell and your images to a report, in one resumable command.

Stages (each resumes from its own files in ``out``; a rerun skips what is done):

1. **data** -- load ``dataset`` (``folder:PATH``, ``npz:PATH`` or a built-in name);
2. **supernet** -- the default supernet for the data and the cell's size (``steps`` follows the
   input), trained once and cached (or, with ``supernet_epochs``, trained into
   ``out/supernet.pt``);
3. **agent** -- the NAT agent (improved GCN + BMSoftmax, REINFORCE) trained on transformations of
   *your* cell (``arch`` fixed: the search is about this input), ``updates`` x 8 episodes;
4. **transform** -- best of 10 sampled transformations by supernet accuracy on the policy split
   (the paper's derive), saved as ``transform.{json,txt,png}``;
5. **evaluate** -- the input and the result trained from scratch on the same data with the
   ``natgym evaluate`` protocol (the ``digits`` preset for images up to 16 x 16, else
   ``cifar10``; ``epochs`` overrides), seeds ``0 .. seeds-1``;

then ``report.md`` and ``report.json``: params, MAdds (at the trained size and the DARTS CIFAR
size), supernet accuracy and stand-alone test accuracy (mean +- std over seeds) before and after.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from agents.nat.commands import report as print_transform
from agents.nat.derive import derive
from agents.nat.trainer import NATConfig, train
from natgym import zoo
from natgym.checks import positive_int
from natgym.data import load_dataset, source_of
from natgym.files import check_writable, write_json, write_text
from natgym.final import evaluate
from natgym.genotype import Genotype
from natgym.spec import EvaluatorSpec

STAGES = ("data", "supernet", "agent", "transform", "evaluate")
AGENT_ENVS = 8
AGENT_LR = 1e-3
"""The demo agent's learning rate (the paper's 3e-4 needs far more episodes than a run here)."""


def _stage(k: int, name: str, start: float, note: str = "") -> None:
    elapsed = time.perf_counter() - start
    print(f"\n[{k}/{len(STAGES)}] {name}  (elapsed {elapsed:.0f} s){'  ' + note if note else ''}", flush=True)


def optimize(
    arch: str | Genotype,
    dataset: str = "digits",
    out: str | Path = "natgym-optimize",
    updates: int = 100,
    seeds: int = 3,
    epochs: int | None = None,
    supernet_epochs: int | None = None,
    image_size: int | None = None,
    data_root: str | None = None,
    device: str = "auto",
    seed: int = 0,
) -> dict[str, Any]:
    """Run every stage (see the module docstring) and return the report's numbers."""
    start = time.perf_counter()
    genotype = zoo.resolve(arch) if not isinstance(arch, Genotype) else arch
    positive_int("updates", updates)
    positive_int("seeds", seeds)
    out = Path(out)
    check_writable(out / "report.json", "out")
    spec = EvaluatorSpec(
        dataset, steps=genotype.steps, device=device, data_root=data_root, image_size=image_size
    )

    _stage(1, "data", start)
    data = load_dataset(spec.dataset, spec.data_root, spec.seed, spec.image_size)
    print(
        f"{data.name}: {len(data.train)} / {len(data.policy)} / {len(data.test)} images "
        f"(weight-train / policy / test), {data.num_classes} classes, {data.in_channels} x "
        f"{data.image_size} x {data.image_size}"
    )

    _stage(2, "supernet", start, f"cells of {genotype.steps} intermediate nodes")
    if supernet_epochs is not None:
        from natgym.supernet.train import default_config, train_supernet

        config = default_config(spec.dataset, data=data if source_of(spec.dataset) else None, seed=spec.seed,
                                steps=genotype.steps, epochs=supernet_epochs)  # fmt: skip
        path = train_supernet(config, out / "supernet.pt", spec.device, data=data, data_root=data_root)
        spec = spec.replace(supernet=str(path))
    evaluator = spec.build()

    _stage(3, "agent", start, f"{updates} updates x {AGENT_ENVS} episodes on transformations of the input")
    agent_config = NATConfig(
        env_kwargs={"arch": genotype.to_darts(), "steps": genotype.steps},
        num_envs=AGENT_ENVS,
        updates=updates,
        lr=AGENT_LR,
        seed=seed,
        device=spec.device,
        out_dir=str(out / "agent"),
    )
    policy = train(agent_config, evaluator=evaluator).policy

    _stage(4, "transform", start, "best of 10 sampled transformations by supernet accuracy")
    result = derive(genotype, policy, evaluator, samples=10, seed=seed)
    print_transform(result, out, "transform")

    preset = "digits" if data.image_size <= 16 else "cifar10"
    _stage(5, "evaluate", start, f"input and result from scratch, {seeds} seed(s), {preset} protocol")
    finals = {}
    for label, cell in (("input", result.before), ("result", result.after)):
        t0 = time.perf_counter()
        finals[label] = evaluate(
            cell, preset, seeds=seeds, out_dir=out / "evaluate" / label, device=spec.device, data=data,
            dataset=data.name, epochs=epochs,
        )  # fmt: skip
        if label == "input":
            spent = time.perf_counter() - t0
            print(f"input trained in {spent:.0f} s; the result should take about as long", flush=True)
    numbers = _report(result, finals, data, spec, time.perf_counter() - start)
    write_json(out / "report.json", numbers)
    write_text(out / "report.md", _markdown(numbers))
    print("\n" + _markdown(numbers))
    print(f"report: {out / 'report.md'}  {out / 'report.json'}  picture: {out / 'transform.png'}")
    return numbers


def _report(
    result: Any, finals: dict[str, dict], data: Any, spec: EvaluatorSpec, wall: float
) -> dict[str, Any]:
    rows = {}
    for label, cell, acc in (
        ("input", result.before, result.acc_before),
        ("result", result.after, result.acc_after),
    ):
        f = finals[label]
        rows[label] = {
            "genotype": cell.to_darts(),
            "params": f["params"],
            "madds": f["madds"],
            "params_cifar": f["params_cifar"],
            "madds_cifar": f["madds_cifar"],
            "supernet_accuracy": float(acc),
            "test_accuracy_mean": f["test_accuracy_mean"],
            "test_accuracy_std": f["test_accuracy_std"],
            "test_accuracy": f["test_accuracy"],
        }
    return {
        "dataset": data.name,
        "source": spec.dataset,
        "steps": result.before.steps,
        "seeds": finals["input"]["seeds"],
        "device": finals["input"]["device"],
        "wall_time_s": wall,
        **rows,
    }


def _markdown(r: dict[str, Any]) -> str:
    i, o = r["input"], r["result"]

    def pct(v: float) -> str:
        return f"{100 * v:.1f} %"

    lines = [
        f"# natgym optimize: {r['source']}",
        "",
        f"Data {r['dataset']}; cells of {r['steps']} intermediate nodes; stand-alone accuracy over seeds "
        f"{r['seeds']} on {r['device']}; {r['wall_time_s'] / 60:.1f} min in all.",
        "",
        "| | input | result | change |",
        "|---|---:|---:|---:|",
        f"| params (trained size) | {i['params'] / 1e3:.1f} k | {o['params'] / 1e3:.1f} k | "
        f"{o['params'] / i['params'] - 1:+.0%} |",
        f"| MAdds (trained size) | {i['madds'] / 1e6:.2f} M | {o['madds'] / 1e6:.2f} M | "
        f"{o['madds'] / i['madds'] - 1:+.0%} |",
        f"| MAdds (DARTS CIFAR size) | {i['madds_cifar'] / 1e6:.0f} M | {o['madds_cifar'] / 1e6:.0f} M | "
        f"{o['madds_cifar'] / i['madds_cifar'] - 1:+.0%} |",
        f"| supernet accuracy (policy split) | {pct(i['supernet_accuracy'])} | "
        f"{pct(o['supernet_accuracy'])} | "
        f"{100 * (o['supernet_accuracy'] - i['supernet_accuracy']):+.1f} pts |",
        f"| stand-alone test accuracy | {pct(i['test_accuracy_mean'])} +- "
        f"{100 * i['test_accuracy_std']:.1f} | "
        f"{pct(o['test_accuracy_mean'])} +- {100 * o['test_accuracy_std']:.1f} | "
        f"{100 * (o['test_accuracy_mean'] - i['test_accuracy_mean']):+.1f} pts |",
        "",
        f"Input: `{i['genotype']}`",
        "",
        f"Result: `{o['genotype']}`",
        "",
        'The supernet accuracy is a noisy proxy (see README, "How good is the reward?"); the '
        "stand-alone row is the measurement. Differences within the seed-to-seed spread are noise.",
        "",
    ]
    return "\n".join(lines)


def optimize_command(args: Any) -> None:
    """Body of ``natgym optimize`` (arguments in :mod:`agents.cli`)."""
    optimize(
        args.arch,
        args.dataset,
        args.out,
        updates=args.updates,
        seeds=args.seeds,
        epochs=args.epochs,
        supernet_epochs=args.supernet_epochs,
        image_size=args.image_size,
        data_root=args.data_root,
        device=args.device,
        seed=args.seed,
    )

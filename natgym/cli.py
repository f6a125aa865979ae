"""The ``natgym`` command. Each subcommand is one function ``cmd_<name>`` registered in
:func:`build_parser`; heavy modules are imported inside the command so ``natgym --help`` is fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from natgym.errors import ConfigError, GenotypeError


def _table_rules() -> str:
    from natgym.space import OPS
    from natgym.transitions import NATPP

    width = max(map(len, OPS))
    lines = [f"{'current':<{width}}  allowed targets (NAT++)"]
    lines += [f"{op:<{width}}  {' '.join(NATPP.allowed(op))}" for op in OPS]
    return "\n".join(lines)


def _cost_line(name: str, genotype) -> str:
    from natgym.cost import network_cost

    c = network_cost(genotype)
    return f"{name:<14} params {c.params / 1e6:6.3f} M   MAdds {c.madds / 1e6:8.1f} M"


def cmd_zoo(args: argparse.Namespace) -> None:
    """Print the zoo names, or one genotype in every dialect."""
    from natgym import zoo
    from natgym.cost import network_cost

    if args.name:
        g = zoo.resolve(args.name)
        c = network_cost(g)
        print(f"DARTS: {g.to_darts()}\nNAT:   {g.to_nat()}\nJSON:  {g.to_json()}")
        print(
            f"cost (36 channels, 20 cells, CIFAR): {c.params / 1e6:.3f} M params, {c.madds / 1e6:.1f} M MAdds"
        )
        return
    for name in zoo.names():
        print(_cost_line(name, zoo.get(name)))


def cmd_rules(args: argparse.Namespace) -> None:
    """Print the NAT++ transition table."""
    print(_table_rules())


def cmd_demo(args: argparse.Namespace) -> None:
    """The main job on the embedded default: zoo summary, supernet, NAT agent, DARTS transformed."""
    from natgym import zoo

    print("natgym zoo (DARTS CIFAR network, 36 channels, 20 cells):")
    for name in zoo.names():
        print("  " + _cost_line(name, zoo.get(name)))
    from agents.nat.commands import demo  # the distribution ships agents beside natgym

    demo(out=args.out, seed=args.seed, device=args.device)


TRAIN_ALGOS: dict[str, str] = {
    "nat": "agents.nat.commands:train_command",
    **{algo: "agents.sb3.commands:train_command" for algo in ("maskable_ppo", "ppo", "a2c", "dqn")},
}
"""``train-agent --algo`` values -> ``"module:function"`` taking the parsed arguments."""


def cmd_train_agent(args: argparse.Namespace) -> None:
    """Train an agent on NAT-Cell-v0 (dispatch on ``--algo``)."""
    import importlib

    module, _, func = TRAIN_ALGOS[args.algo].partition(":")
    getattr(importlib.import_module(module), func)(args)


def cmd_bench(args: argparse.Namespace) -> None:
    """Compare agents over seeds on one env configuration (agents/benchmark.py)."""
    from agents.benchmark import bench_command

    bench_command(args)


def cmd_evaluate(args: argparse.Namespace) -> None:
    """Train a genotype's stand-alone network from scratch (final evaluation) and report it."""
    import hashlib

    from natgym import zoo
    from natgym.final import evaluate

    genotype = zoo.resolve(args.genotype)
    names = {n.lower(): n for n in zoo.names()}
    label = (
        names.get(args.genotype.strip().lower())
        or "genotype-" + hashlib.sha1(genotype.to_json().encode()).hexdigest()[:10]
    )
    out = args.out or f"natgym-evaluate/{args.preset}/{label}"
    res = evaluate(
        genotype,
        args.preset,
        seeds=args.seeds,
        out_dir=out,
        data_root=args.data_root,
        device=args.device,
        epochs=args.epochs,
    )
    accs = ", ".join(f"{100 * a:.2f}" for a in res["test_accuracy"])
    print(
        f"test accuracy {100 * res['test_accuracy_mean']:.2f} +- {100 * res['test_accuracy_std']:.2f} % "
        f"(seeds {res['seeds']}: {accs})\n"
        f"params {res['params'] / 1e6:.4f} M, MAdds {res['madds'] / 1e6:.2f} M at the trained size; "
        f"{res['params_cifar'] / 1e6:.3f} M, {res['madds_cifar'] / 1e6:.1f} M at the CIFAR size "
        "(36 channels, 20 cells)\n"
        f"result: {out}/result.json"
    )


def cmd_transform(args: argparse.Namespace) -> None:
    """Transform an architecture with a trained NAT agent."""
    from agents.nat.commands import transform_command

    transform_command(args)


def cmd_train_supernet(args: argparse.Namespace) -> None:
    """Train (or load from the cache) a supernet and print where it is and how it ranks."""
    import torch

    from natgym.reward import SupernetEvaluator, ranking_check
    from natgym.supernet.train import default_config, load_supernet, train_supernet

    if args.threads:
        torch.set_num_threads(args.threads)
    config = default_config(
        args.dataset,
        args.preset,
        seed=args.seed,
        epochs=args.epochs,
        lr=args.lr,
        archs=args.archs,
        input_prob=args.input_prob,
        random_concat=args.random_concat or None,
    )
    path = train_supernet(
        config, args.out, args.device, data_root=args.data_root, checkpoint_seconds=args.checkpoint_seconds
    )
    model, meta = load_supernet(path, args.device)
    print(f"supernet: {path}")
    print(
        f"config: {args.dataset}/{config.preset} C={config.net.channels} cells={config.net.layers} "
        f"steps={config.net.steps} epochs={config.epochs} lr={config.lr} seed={config.seed}"
    )
    print(
        f"trained in {meta['train_seconds']:.1f} s on {meta['device']} ({meta['train_images']} images); "
        f"last epoch: loss {meta['train_loss']:.3f}, accuracy {meta['train_accuracy']:.3f}"
    )
    if args.check:
        from natgym.data import load_dataset

        data = load_dataset(config.dataset, args.data_root, config.seed)
        evaluator = SupernetEvaluator(model, data, config, device=args.device)
        report = ranking_check(evaluator)
        print("ranking on the policy split: " + ", ".join(f"{k} {v:.3f}" for k, v in report.items()))
        if config.dataset == "digits" and evaluator.steps == 4:
            from natgym import fidelity

            table = fidelity.load_table()
            scores = fidelity.supernet_scores(table, evaluator)["supernet (policy split)"]
            print(
                "fidelity (digits ground truth, `natgym fidelity`): "
                + fidelity.summary_line(fidelity.fidelity(table, scores))
            )


def cmd_fidelity(args: argparse.Namespace) -> None:
    """Score a supernet, params, MAdds and a zero-cost proxy against the ground-truth table."""
    import json

    import torch

    from natgym import fidelity
    from natgym.reward import load_evaluator

    if args.threads < 1:
        raise ConfigError(f"threads: expected a positive integer, got {args.threads}")
    torch.set_num_threads(args.threads)
    table = fidelity.load_table(args.table)
    evaluator = load_evaluator("digits", supernet=args.supernet, device=args.device, seed=args.supernet_seed)
    if evaluator.dataset != "digits":
        raise ConfigError(
            f"supernet: the ground truth is for digits architectures; {args.supernet} was trained on "
            f"{evaluator.dataset!r}"
        )
    scores = {
        **fidelity.supernet_scores(table, evaluator),
        **fidelity.cost_scorers(table),
        "NASWOT (init)": fidelity.naswot_scores(table),
    }
    report = {}
    for subset in ("all", "holdout"):
        rows = {name: fidelity.fidelity(table, s, subset) for name, s in scores.items()}
        report[subset] = rows
        print(fidelity.markdown(rows, table))
    if args.out:
        with open(args.out, "w") as fh:
            json.dump({"table_meta": table.meta, "report": report}, fh, indent=1, allow_nan=False)
        print(f"written: {args.out}")


def _evaluator_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default="digits", help="supernet dataset (default %(default)s)")
    p.add_argument("--preset", default=None, help="supernet size preset (default: the dataset's)")
    p.add_argument("--supernet", default=None, metavar="PATH", help="supernet checkpoint to load")
    p.add_argument("--supernet-seed", type=int, default=0, help="seed of the supernet (default %(default)s)")
    p.add_argument("--data-root", default=None, help="folder with CIFAR files")
    p.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda, ...")
    p.add_argument("--seed", type=int, default=0, help="seed of the agent (default %(default)s)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="natgym", description="Neural Architecture Transformer++ as a Gymnasium environment."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("demo", help="the main job on the embedded default dataset")
    p.add_argument("--out", default="natgym-demo", help="output folder (default %(default)s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.set_defaults(func=cmd_demo)
    p = sub.add_parser("train-agent", help="train an agent on NAT-Cell-v0")
    p.add_argument("--algo", choices=sorted(TRAIN_ALGOS), default="nat", help="agent (default %(default)s)")
    p.add_argument(
        "--out", default=None, help="run folder: checkpoint, CSV, TensorBoard (resumed if present)"
    )
    p.add_argument(
        "--cotrain",
        action="store_true",
        help="alternate supernet-weight and policy training (paper schedule)",
    )
    _evaluator_arguments(p)
    g = p.add_argument_group("--algo nat (GCN + BMSoftmax, REINFORCE; docs/method.md section 6 defaults)")
    g.add_argument("--variant", choices=("improved", "faithful"), default="improved", help="policy network")
    g.add_argument("--updates", type=int, default=200, help="policy updates (default %(default)s)")
    g.add_argument("--num-envs", type=int, default=8, help="episodes per update (default %(default)s)")
    g.add_argument("--lr", type=float, default=3e-4, help="Adam learning rate (default %(default)s)")
    g.add_argument("--entropy-coef", type=float, default=0.003, help="per cell type (default %(default)s)")
    g.add_argument("--reference-baseline", action="store_true", help="feed the advantage into the baseline")
    g.add_argument("--checkpoint-every", type=int, default=10, help="updates between checkpoints")
    g.add_argument("--no-resume", action="store_true", help="start afresh even if --out holds a checkpoint")
    g = p.add_argument_group("--algo maskable_ppo|ppo|a2c|dqn (SB3; agents/sb3/hyperparams.yaml)")
    g.add_argument("--timesteps", type=int, default=None, help="env steps (default: the YAML's n_timesteps)")
    g.add_argument("--eval-freq", type=int, default=0, help="evaluate every N steps (default: never)")
    p.set_defaults(func=cmd_train_agent)
    p = sub.add_parser("transform", help="transform an architecture with a trained NAT agent")
    p.add_argument(
        "--arch", default="DARTS", help="zoo name, genotype text or .json file (default %(default)s)"
    )
    p.add_argument(
        "--checkpoint", default=None, help="agent checkpoint.pt (default: train a short agent in OUT/agent)"
    )
    p.add_argument(
        "--samples", type=int, default=10, help="candidates sampled, best kept (default %(default)s)"
    )
    p.add_argument(
        "--greedy", action="store_true", help="take the most probable op per edge instead of sampling"
    )
    p.add_argument("--out", default="natgym-transform", help="output folder (default %(default)s)")
    _evaluator_arguments(p)
    p.set_defaults(func=cmd_transform)
    p = sub.add_parser("evaluate", help="train an architecture from scratch and report its test accuracy")
    p.add_argument("--genotype", required=True, help="zoo name, genotype text or .json file")
    p.add_argument("--preset", choices=("digits", "cifar10"), default="digits", help="(default %(default)s)")
    p.add_argument("--seeds", type=int, default=3, help="number of seeds 0..N-1 (default %(default)s)")
    p.add_argument("--epochs", type=int, default=None, help="override the preset's epochs")
    p.add_argument("--out", default=None, help="output folder, resumed (default natgym-evaluate/PRESET/NAME)")
    p.add_argument("--data-root", default=None, help="folder with CIFAR files")
    p.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda, ...")
    p.set_defaults(func=cmd_evaluate)
    p = sub.add_parser("bench", help="compare RL and search agents over seeds at equal query budgets")
    p.add_argument("--quick", action="store_true", help="small budget; results in OUT/quick")
    p.add_argument("--agents", default=None, help="comma-separated subset (default: all seven)")
    p.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 per agent (default %(default)s)")
    p.add_argument("--budget", type=int, default=None, help="supernet queries per run")
    p.add_argument("--arch", default="DARTS", help="input architecture (default %(default)s)")
    p.add_argument("--out", default=None, help="results folder (default benchmarks/results/compare[/quick])")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default %(default)s)")
    p.add_argument("--dataset", default="digits", help="supernet dataset (default %(default)s)")
    p.add_argument("--preset", default=None, help="supernet size preset (default: the dataset's)")
    p.add_argument("--supernet", default=None, metavar="PATH", help="supernet checkpoint to load")
    p.add_argument("--supernet-seed", type=int, default=0, help="seed of the supernet (default %(default)s)")
    p.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda, ...")
    p.set_defaults(func=cmd_bench)
    p = sub.add_parser("train-supernet", help="train the weight-sharing supernet (cached per config)")
    p.add_argument(
        "--dataset", default="digits", help="digits, cifar10, cifar100, synthetic (default %(default)s)"
    )
    p.add_argument("--preset", default=None, help="supernet size: digits or cifar10 (default: the dataset's)")
    p.add_argument("--epochs", type=int, default=None, help="epochs (default: the preset's)")
    p.add_argument("--lr", type=float, default=None, help="SGD learning rate (default: the preset's)")
    p.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda, ...")
    p.add_argument("--seed", type=int, default=0, help="seed of weights, data split and sampling")
    p.add_argument("--data-root", default=None, help="folder with the CIFAR python-version files")
    p.add_argument("--out", default=None, help="checkpoint path (default: the cache, keyed by config)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--checkpoint-seconds", type=float, default=30.0, help="seconds between checkpoints")
    p.add_argument("--check", action="store_true", help="also report how the supernet ranks architectures")
    p.add_argument(
        "--archs",
        choices=["inputs", "mixed"],
        default=None,
        help="training architectures: inputs (uniform, SPEC; default) or mixed (+ NAT++ transformations)",
    )
    p.add_argument(
        "--input-prob", type=float, default=None, help="mixed: probability of a plain input (default 0.5)"
    )
    p.add_argument(
        "--random-concat", action="store_true", help="train with random concat subsets of each cell's nodes"
    )
    p.set_defaults(func=cmd_train_supernet)
    p = sub.add_parser("fidelity", help="how well the supernet reward tracks stand-alone accuracy")
    p.add_argument(
        "--supernet", default=None, metavar="PATH", help="supernet checkpoint (default: the digits one)"
    )
    p.add_argument(
        "--supernet-seed", type=int, default=0, help="seed of the default supernet (default %(default)s)"
    )
    p.add_argument(
        "--table", default=None, metavar="PATH", help="ground-truth file (default: the shipped one)"
    )
    p.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda, ...")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default %(default)s)")
    p.add_argument("--out", default=None, metavar="FILE", help="also write the numbers as JSON")
    p.set_defaults(func=cmd_fidelity)
    p = sub.add_parser("zoo", help="list zoo architectures with their cost, or show one")
    p.add_argument("name", nargs="?", help="zoo name, genotype text or .json file")
    p.set_defaults(func=cmd_zoo)
    p = sub.add_parser("rules", help="print the NAT++ transition table")
    p.set_defaults(func=cmd_rules)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``natgym`` console script."""
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (GenotypeError, ConfigError) as exc:
        print(f"natgym: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

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
    """The main job on the embedded default."""
    from natgym import zoo
    from natgym.transitions import NATPP

    print("natgym zoo (DARTS CIFAR network, 36 channels, 20 cells):")
    for name in zoo.names():
        print("  " + _cost_line(name, zoo.get(name)))
    print("\nNAT++ transition rule:\n" + _table_rules())
    before, after = zoo.get("DARTS"), zoo.get("NATv2_DARTS")
    print("\nOne transformation (DARTS -> published NATv2_DARTS):")
    for cname, b, a in zip(("normal", "reduce"), before.cells, after.cells):
        for (ob, s, d), (oa, _, _) in zip(b.edges, a.edges):
            mark = "" if ob == oa else "  <- changed" + ("" if NATPP.is_allowed(ob, oa) else " (NOT allowed)")
            print(f"  {cname:<6} {s}->{d}  {ob:<13} -> {oa}{mark}")
    print("  " + _cost_line("before", before))
    print("  " + _cost_line("after", after))


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="natgym", description="Neural Architecture Transformer++ as a Gymnasium environment."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("demo", help="the main job on the embedded default dataset")
    p.set_defaults(func=cmd_demo)
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

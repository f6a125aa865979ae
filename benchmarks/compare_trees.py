"""The reward evaluator's speed in two source trees, measured side by side.

For a change to the supernet or evaluator code: ``BEFORE`` and ``AFTER`` are two checkouts of
this repository (e.g. ``git worktree add /tmp/before HEAD~1``). Every round runs one short
measurement process per tree, alternating (A, B, A, B, ...) so both see the same machine load;
each process imports natgym from its tree, loads the same cached digits supernet, and times the
evaluator on fresh (before, after) pairs -- the same pairs in both trees -- at 1 and 8 pairs per
call, one torch thread. Rewards are checked equal between the trees (a speed change must not
change results). Prints a table of medians and stores it.

Usage: ``python benchmarks/compare_trees.py BEFORE AFTER [--rounds 5] [--pairs 48]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"

PROBE = r"""
import json, sys, time
# import natgym from the tree on PYTHONPATH only, not from an editable install of another checkout
sys.meta_path = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
import numpy as np, torch
torch.set_num_threads(1)
from natgym import zoo
from natgym.transitions import NATPP
try:
    from natgym.spec import EvaluatorSpec
    build = lambda: EvaluatorSpec("digits", device="cpu").build(progress=False)
except ImportError:  # trees before natgym.spec
    from natgym.reward import load_evaluator
    build = lambda: load_evaluator("digits", device="cpu", progress=False)
rng = np.random.default_rng(int(sys.argv[1]))
pairs = int(sys.argv[2])
def transformed(g):
    pick = lambda cell: [NATPP.allowed(op)[rng.integers(len(NATPP.allowed(op)))] for op in cell.ops]
    return g.with_ops(pick(g.normal), pick(g.reduce))
ev = build()
ev.reward([zoo.sample(rng)], [zoo.sample(rng)])  # warm-up
out = {}
for per_call in (1, 8):
    before = [zoo.sample(rng) for _ in range(pairs)]
    after = [transformed(g) for g in before]
    start = time.perf_counter()
    rewards = []
    for i in range(0, pairs, per_call):
        rewards += [float(r) for r in ev.reward(before[i:i + per_call], after[i:i + per_call])]
    out[per_call] = {"rewards_per_s": pairs / (time.perf_counter() - start), "rewards": rewards}
print(json.dumps(out))
"""


def measure(tree: Path, seed: int, pairs: int) -> dict:
    """One measurement process importing natgym from ``tree``."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    cmd = [sys.executable, "-c", PROBE, str(seed), str(pairs)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=tree)
    if proc.returncode:
        raise SystemExit(f"measurement in {tree} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pairs", type=int, default=48, help="fresh pairs per setting per round")
    parser.add_argument("--out", default=str(RESULTS / "compare_trees"), help="output path without suffix")
    args = parser.parse_args(argv)
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    rates: dict[str, dict[str, list[float]]] = {name: {"1": [], "8": []} for name in trees}
    for round_ in range(args.rounds):
        order = list(trees.items()) if round_ % 2 == 0 else list(trees.items())[::-1]
        results = {name: measure(tree, round_, args.pairs) for name, tree in order}
        for per_call in ("1", "8"):
            if results["before"][per_call]["rewards"] != results["after"][per_call]["rewards"]:
                raise SystemExit(f"round {round_}, {per_call} pair(s)/call: the trees' rewards differ")
            for name in trees:
                rates[name][per_call].append(results[name][per_call]["rewards_per_s"])
    med = {name: {k: statistics.median(v) for k, v in r.items()} for name, r in rates.items()}
    result = {
        "machine": {"cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count()},
        "trees": {k: str(v) for k, v in trees.items()},
        "rounds": args.rounds,
        "pairs": args.pairs,
        "median_rewards_per_s": med,
        "raw": rates,
    }
    lines = [
        f"# Evaluator speed, two trees ({result['machine']['cpu']}, 1 torch thread, digits supernet)",
        "",
        f"Median of {args.rounds} alternating rounds of {args.pairs} fresh pairs; rewards equal in "
        "both trees.",
        "",
        "| pairs/call | before (rewards/s) | after (rewards/s) | after / before |",
        "|---:|---:|---:|---:|",
    ]
    for k in ("1", "8"):
        b, a = med["before"][k], med["after"][k]
        lines.append(f"| {k} | {b:.1f} | {a:.1f} | {a / b:.2f}x |")
    from natgym.files import write_json, write_text

    write_json(Path(args.out).with_suffix(".json"), result)
    write_text(Path(args.out).with_suffix(".md"), "\n".join(lines) + "\n")
    print("\n".join(lines))
    return result


if __name__ == "__main__":
    main()

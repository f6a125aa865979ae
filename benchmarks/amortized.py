"""The amortized-transformation benchmark: agents train once on uniform inputs, then transform
held-out inputs (the zoo's and 16 fixed uniform ones) with 1 or 10 transformations per input;
search baselines start from scratch on every input with the same per-input budget.

Same as ``natgym bench --protocol amortized`` (see ``natgym bench --help``); the work is done by
:mod:`agents.amortized`. Default results (README's tables) go to
``benchmarks/results/amortized/``, ``--quick`` ones to ``benchmarks/results/amortized/quick/``.
Rerunning skips finished runs.

    python benchmarks/amortized.py            # default: 9 agents x 5 seeds, 512 training queries
    python benchmarks/amortized.py --quick    # CI size: 64 training queries, 2 held-out inputs
"""

import sys

from agents.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "--protocol", "amortized", *sys.argv[1:]]))

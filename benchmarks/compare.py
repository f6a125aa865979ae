"""Compare the RL and search agents over seeds at equal supernet-query budgets.

Same as ``natgym bench`` (see ``natgym bench --help``); the work is done by
:mod:`agents.benchmark`. Default results (README's table) go to ``benchmarks/results/compare/``,
``--quick`` ones to ``benchmarks/results/compare/quick/``. Rerunning skips finished runs.

    python benchmarks/compare.py            # default mode
    python benchmarks/compare.py --quick    # under 10 minutes on 2 CPU cores
"""

import sys

from agents.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))

"""Test-session set-up: one torch intra-op thread.

The tests run tiny networks on a machine whose 2 cores are shared with other jobs; for tensors
this small a second intra-op thread only adds synchronisation and contention. Set before torch
is imported (``OMP_NUM_THREADS``, also inherited by the CLI subprocesses some tests start) and
again on torch itself in case something imported it first. An explicit ``OMP_NUM_THREADS`` in
the environment wins.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")


def pytest_configure(config) -> None:
    if "torch" in sys.modules and os.environ["OMP_NUM_THREADS"] == "1":
        sys.modules["torch"].set_num_threads(1)

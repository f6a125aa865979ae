"""The main job end to end, as a new user runs it: `natgym demo` on an empty supernet cache."""

import json
import os
import subprocess
import sys

import pytest

from natgym import Genotype, zoo
from natgym.cost import network_cost
from natgym.transitions import NATPP


@pytest.mark.slow
def test_demo_trains_supernet_and_agent_and_transforms_darts(tmp_path):
    env = {**os.environ, "NATGYM_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    out = tmp_path / "demo"
    run = subprocess.run(
        [sys.executable, "-m", "agents.cli", "demo", "--out", str(out)],
        env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    assert list((tmp_path / "cache" / "supernets").glob("supernet-digits-*.pt"))  # trained and cached
    assert (out / "transform_DARTS.png").stat().st_size > 10_000
    result = json.loads((out / "transform_DARTS.json").read_text())
    before, after = Genotype.parse(result["before"]), Genotype.parse(result["after"])
    assert before == zoo.get("DARTS")
    for cb, ca in zip(before.cells, after.cells):
        assert all(NATPP.is_allowed(ob, oa) for ob, oa in zip(cb.ops, ca.ops))
    assert result["madds_after"] == network_cost(after).madds
    assert 0.0 <= result["acc_before"] <= 1.0 and 0.0 <= result["acc_after"] <= 1.0
    assert "supernet accuracy" in run.stdout

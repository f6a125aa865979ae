"""benchmarks/gpu_check.py runs every check at toy sizes on the CPU (what a GPU run does at scale)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"


@pytest.mark.slow
def test_gpu_check_runs_tiny_on_cpu_and_prints_the_table(tmp_path):
    out = tmp_path / "check"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--device", "cpu", "--tiny", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "every check passed" in proc.stdout and "| forward agreement |" in proc.stdout
    result = json.loads(out.with_suffix(".json").read_text())
    assert result["ok"] and result["device"] == "cpu" and len(result["rows"]) == 7
    assert all(row["value"] > 0 for row in result["rows"].values())

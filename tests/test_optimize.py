"""``natgym optimize`` end to end on a generated image folder with 5-node cells (ENAS), small."""

from __future__ import annotations

import json

import pytest
from make_images import make_folder

from agents.cli import main
from natgym import zoo
from natgym.genotype import Genotype
from natgym.space import OP_INDEX
from natgym.transitions import NATPP


@pytest.mark.slow
def test_optimize_a_five_node_cell_on_an_image_folder_and_resume(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NATGYM_CACHE", str(tmp_path / "cache"))
    images = make_folder(tmp_path / "images", classes=3, per_class=14)
    out = tmp_path / "out"
    cell = tmp_path / "my_cell.json"  # a 5-node cell from a file, as a user would give it
    cell.write_text(zoo.get("ENAS").to_json())
    argv = ["optimize", "--arch", str(cell), "--dataset", f"folder:{images}", "--out", str(out), "--device",
            "cpu", "--updates", "3", "--seeds", "1", "--epochs", "2", "--supernet-epochs", "15"]  # fmt: skip
    assert main(argv) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["steps"] == 5 and report["dataset"].startswith("folder:")
    for side in ("input", "result"):
        row = report[side]
        assert 0 <= row["test_accuracy_mean"] <= 1 and 0 <= row["supernet_accuracy"] <= 1
        assert row["params"] > 0
    before, after = (Genotype.parse(report[k]["genotype"]) for k in ("input", "result"))
    assert before == zoo.get("ENAS")
    for cb, ca in zip(before.cells, after.cells):  # every edge moved along the NAT++ rule
        assert all(NATPP.matrix[OP_INDEX[a], OP_INDEX[b]] for a, b in zip(cb.ops, ca.ops))
    for name in ("report.md", "transform.png", "transform.json", "supernet.pt", "agent/checkpoint.pt"):
        assert (out / name).is_file(), name
    stamps = {p: p.stat().st_mtime_ns for p in (out / "supernet.pt", out / "agent" / "checkpoint.pt")}
    capsys.readouterr()
    assert main(argv) == 0  # everything is reused: same numbers, nothing retrained
    again = json.loads((out / "report.json").read_text())
    assert {k: v for k, v in again.items() if k != "wall_time_s"} == {
        k: v for k, v in report.items() if k != "wall_time_s"
    }
    assert stamps == {p: p.stat().st_mtime_ns for p in stamps}

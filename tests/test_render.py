"""natgym.render: the ANSI table, the before/after picture and the PNG writer."""

from __future__ import annotations

import numpy as np

from natgym import zoo
from natgym.render import CHANGED, ansi_table, draw_transformation, save_png, short_name


def _red_pixels(img: np.ndarray) -> int:
    r, g, b = (int(CHANGED[i : i + 2], 16) for i in (1, 3, 5))
    return int((np.abs(img.astype(int) - [r, g, b]).sum(-1) < 30).sum())


def test_short_names() -> None:
    assert [short_name(o) for o in ("sep_conv_3x3", "max_pool_5x5", "conv_1x1", "skip_connect", "null")] == [
        "sep3",
        "max5",
        "conv1",
        "skip",
        "null",
    ]


def test_ansi_table_marks_changed_edges() -> None:
    before, after = zoo.get("DARTS"), zoo.get("NATv2_DARTS")
    text = ansi_table(before, after)
    changed = sum(a != b for cb, ca in zip(before.cells, after.cells) for a, b in zip(cb.ops, ca.ops))
    assert text.count(" *\n") == changed > 0
    assert len(text.splitlines()) == 1 + 16
    assert " *" not in ansi_table(before)


def test_draw_highlights_only_changes() -> None:
    before, after = zoo.get("DARTS"), zoo.get("NATv2_DARTS")
    same = draw_transformation(before)
    diff = draw_transformation(before, after, title="DARTS -> NATv2")
    assert same.shape == diff.shape == (480, 960, 3) and same.dtype == np.uint8
    assert _red_pixels(same) == 0 and _red_pixels(diff[:, 480:]) > 50


def test_save_png(tmp_path) -> None:
    path = save_png(tmp_path / "sub" / "t.png", zoo.get("DARTS"), zoo.get("NAT_DARTS"))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in path.parent.iterdir()] == ["t.png"]

"""Text and image rendering of a transformation (a genotype before and after).

:func:`ansi_table` writes one line per edge; :func:`draw_transformation` draws both cells before
and after as an RGB array (matplotlib's Agg canvas, no display needed), changed edges highlighted;
:func:`save_png` writes that picture to a file. Used by the environments' ``render()`` and by the
``natgym transform`` command.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from natgym.files import atomic_write
from natgym.genotype import Cell, Genotype

CHANGED = "#d62728"
"""Colour of an edge whose op changed."""
_SHORT = {"skip_connect": "skip", "null": "null"}


def short_name(op: str) -> str:
    """A compact label: ``sep_conv_3x3`` -> ``sep3``, ``max_pool_5x5`` -> ``max5``."""
    if op in _SHORT:
        return _SHORT[op]
    prefix, size = op.rsplit("_", 1)
    return prefix.split("_")[0] + size.split("x")[0]


def ansi_table(before: Genotype, after: Genotype | None = None, info: Mapping[str, Any] | None = None) -> str:
    """A before/after table, one row per edge; ``*`` marks a changed edge.

    ``after`` None shows the input alone (before a step). ``info`` (an env's step info) adds the
    accuracy and cost lines.
    """
    after = after if after is not None else before
    width = 13
    lines = [f"{'cell':<7}{'edge':>4}  {'from->to':<8}  {'before':<{width}}  {'after':<{width}}"]
    for name, cb, ca in zip(("normal", "reduce"), before.cells, after.cells):
        for k, ((ob, src, dst), (oa, _, _)) in enumerate(zip(cb.edges, ca.edges)):
            mark = " *" if ob != oa else ""
            lines.append(f"{name:<7}{k:>4}  {f'{src}->{dst}':<8}  {ob:<{width}}  {oa:<{width}}{mark}")
    if info and "acc_before" in info:
        lines.append(
            f"accuracy {info['acc_before']:.4f} -> {info['acc_after']:.4f}   "
            f"params {info['params_before'] / 1e6:.3f}M -> {info['params_after'] / 1e6:.3f}M   "
            f"MAdds {info['madds_before'] / 1e6:.1f}M -> {info['madds_after'] / 1e6:.1f}M"
        )
        dead = {k: v for k, v in info.get("dead_nodes", {}).items() if v}
        if dead:
            lines.append("dead nodes: " + ", ".join(f"{k} {list(v)}" for k, v in dead.items()))
        if info.get("invalid_edges"):
            lines.append(f"invalid picks kept: {info['invalid_edges']}")
        for edge in info.get("cost_increasing_edges", ()):
            lines.append(f"MAdds increase: {edge}")
    return "\n".join(lines) + "\n"


def _positions(steps: int) -> dict[int, tuple[float, float]]:
    pos = {0: (0.0, 1.0), 1: (0.0, -1.0)}
    for i in range(steps):
        pos[2 + i] = (1.0 + i, 0.6 if i % 2 == 0 else -0.6)
    pos[-1] = (steps + 1.0, 0.0)
    return pos


def _draw_cell(ax: Any, cell: Cell, other: Cell, title: str, highlight: str) -> None:
    from matplotlib.patches import FancyArrowPatch

    pos = _positions(cell.steps)
    seen: dict[tuple[int, int], int] = {}
    for (op, src, dst), (op_other, _, _) in zip(cell.edges, other.edges):
        changed = op != op_other
        n = seen.get((src, dst), 0)
        seen[(src, dst)] = n + 1
        rad = (0.25 if (dst - src) > 1 else 0.1) * (1 if n == 0 else -1)
        (x0, y0), (x1, y1) = pos[src], pos[dst]
        color = highlight if changed else ("#bbbbbb" if op == "null" else "#444444")
        ax.add_patch(
            FancyArrowPatch(
                (x0, y0),
                (x1, y1),
                connectionstyle=f"arc3,rad={rad}",
                arrowstyle="-|>",
                mutation_scale=9,
                lw=2.2 if changed else 1.0,
                ls="--" if op == "null" else "-",
                color=color,
                shrinkA=9,
                shrinkB=9,
            )
        )
        mx, my = (x0 + x1) / 2, (y0 + y1) / 2
        ox, oy = (y1 - y0) * rad / 2, -(x1 - x0) * rad / 2  # midpoint of matplotlib's arc3 curve
        ax.text(
            mx + ox, my + oy, short_name(op), fontsize=7, ha="center", va="center", color=color,
            fontweight="bold" if changed else "normal",
            bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.8},
        )  # fmt: skip
    for node in cell.concat:
        (x0, y0), (x1, y1) = pos[node], pos[-1]
        ax.annotate("", (x1, y1), (x0, y0), arrowprops={"arrowstyle": "-", "color": "#dddddd", "lw": 0.8})
    dead = set(cell.dead_nodes())
    labels = {0: "k-2", 1: "k-1", -1: "out"}
    for node, (x, y) in pos.items():
        face = "#eeeeee" if node in dead else ("#cfe2f3" if node < 2 else "#fff2cc")
        ax.text(
            x, y, labels.get(node, str(node)), fontsize=7, ha="center", va="center", zorder=5,
            bbox={"boxstyle": "circle,pad=0.3", "fc": face, "ec": "#666666"},
        )  # fmt: skip
    ax.set_xlim(-0.5, cell.steps + 1.5)
    ax.set_ylim(-1.6, 1.6)
    ax.set_title(title, fontsize=9)
    ax.axis("off")


def _figure(before: Genotype, after: Genotype | None, title: str | None) -> Any:
    from matplotlib.figure import Figure

    after = after if after is not None else before
    fig = Figure(figsize=(12, 6), dpi=80)
    axes = fig.subplots(2, 2)
    for row, (name, cb, ca) in enumerate(zip(("normal", "reduce"), before.cells, after.cells)):
        changed = sum(ob != oa for ob, oa in zip(cb.ops, ca.ops))
        _draw_cell(axes[row, 0], cb, ca, f"{name} cell: before", "#ff7f0e")
        _draw_cell(axes[row, 1], ca, cb, f"{name} cell: after ({changed} edges changed)", CHANGED)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def draw_transformation(
    before: Genotype, after: Genotype | None = None, title: str | None = None
) -> np.ndarray:
    """Both cells before (left) and after (right), changed edges highlighted, as an RGB
    ``(480, 960, 3)`` uint8 array. ``after`` None draws the input on both sides."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = _figure(before, after, title)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def save_png(
    path: str | os.PathLike, before: Genotype, after: Genotype | None = None, title: str | None = None
) -> Path:
    """Write :func:`draw_transformation`'s picture to ``path`` (atomically) and return the path."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = _figure(before, after, title)
    FigureCanvasAgg(fig)
    return atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))

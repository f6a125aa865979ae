"""Derive: turn an input architecture into its transformed version with a trained NAT policy.

Sampling mode (the paper's): draw ``samples`` transformations from the policy and keep the one the
evaluator scores highest (the supernet evaluator scores on the policy/reward split, never the
test split); greedy mode takes every edge's most probable op (and pair). A policy with a source
head (``NAT-Path-v0``) also rewires: its source pairs apply to the new ops. Costs are those of the
final DARTS CIFAR network (:func:`natgym.cost.network_cost`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from agents.nat.policy import NATPolicy, observe
from natgym.cost import Cost, network_cost
from natgym.errors import ConfigError
from natgym.files import write_json, write_text
from natgym.genotype import Genotype
from natgym.reward import Evaluator
from natgym.transitions import TransitionRule
from natgym.wiring import rewire


@dataclass
class DeriveResult:
    """A derived transformation and its numbers."""

    before: Genotype
    after: Genotype
    acc_before: float
    acc_after: float
    cost_before: Cost
    cost_after: Cost
    candidates: list[tuple[Genotype, float]] = field(default_factory=list)
    """Every distinct candidate with its accuracy, in sampling order."""

    @property
    def changed_edges(self) -> list[tuple[str, int, str, str]]:
        """``(cell, edge, op_before, op_after)`` for every edge whose op changed."""
        return [
            (name, k, ob, oa)
            for name, cb, ca in zip(("normal", "reduce"), self.before.cells, self.after.cells)
            for k, (ob, oa) in enumerate(zip(cb.ops, ca.ops))
            if ob != oa
        ]

    @property
    def cost_increasing_edges(self) -> list[str]:
        """Changed edges whose op costs more MAdds (null -> skip_connect, skip on a stride-2 edge)."""
        from natgym.envs.core import cost_increasing_edges

        return cost_increasing_edges(self.before, self.after)

    def summary(self) -> str:
        """A human-readable report (genotype in every dialect, accuracy, cost, changed edges)."""
        lines = [
            f"transformed (DARTS): {self.after.to_darts()}",
            f"transformed (NAT):   {self.after.to_nat()}",
            f"transformed (JSON):  {self.after.to_json()}",
            f"supernet accuracy (reward split): {self.acc_before:.4f} -> {self.acc_after:.4f} "
            f"({self.acc_after - self.acc_before:+.4f}), best of {len(self.candidates)} candidate(s)",
            f"params (DARTS CIFAR, 36 ch, 20 cells): {self.cost_before.params / 1e6:.3f} M -> "
            f"{self.cost_after.params / 1e6:.3f} M",
            f"MAdds: {self.cost_before.madds / 1e6:.1f} M -> {self.cost_after.madds / 1e6:.1f} M",
            f"changed edges ({len(self.changed_edges)}):",
        ]
        lines += [f"  {c:<6} edge {k:>2}: {ob} -> {oa}" for c, k, ob, oa in self.changed_edges]
        lines += [f"  MAdds increase: {e}" for e in self.cost_increasing_edges]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """JSON-ready numbers and genotypes."""
        return {
            "before": self.before.to_dict(),
            "after": self.after.to_dict(),
            "after_darts": self.after.to_darts(),
            "after_nat": self.after.to_nat(),
            "acc_before": self.acc_before,
            "acc_after": self.acc_after,
            "params_before": self.cost_before.params,
            "params_after": self.cost_after.params,
            "madds_before": self.cost_before.madds,
            "madds_after": self.cost_after.madds,
            "changed_edges": [list(e) for e in self.changed_edges],
            "cost_increasing_edges": self.cost_increasing_edges,
            "candidates": [{"genotype": g.to_darts(), "accuracy": a} for g, a in self.candidates],
        }

    def save(self, out_dir: str | os.PathLike, name: str = "transform") -> dict[str, Path]:
        """Write ``<name>.json`` (all numbers), ``<name>.txt`` (the summary) and ``<name>.png``
        (both cells, changed edges marked) into ``out_dir``; returns the paths."""
        from natgym.render import save_png

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"json": out / f"{name}.json", "txt": out / f"{name}.txt", "png": out / f"{name}.png"}
        write_json(paths["json"], self.to_dict())
        write_text(paths["txt"], self.summary() + "\n")
        title = (
            f"acc {self.acc_before:.3f} -> {self.acc_after:.3f}   "
            f"MAdds {self.cost_before.madds / 1e6:.0f}M -> {self.cost_after.madds / 1e6:.0f}M"
        )
        save_png(paths["png"], self.before, self.after, title=title)
        return paths


def derive(
    genotype: Genotype,
    policy: NATPolicy,
    evaluator: Evaluator,
    samples: int = 10,
    greedy: bool = False,
    seed: int = 0,
    rule: str | TransitionRule = "natpp",
) -> DeriveResult:
    """Transform ``genotype`` with ``policy``: best of ``samples`` draws by ``evaluator``
    accuracy, or the argmax op per edge when ``greedy``. The input and all candidates are
    scored in one evaluator call (same images)."""
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise ConfigError(f"samples: expected a positive integer, got {samples!r}")
    e = len(genotype.normal.edges)
    with torch.no_grad():
        dist = policy(observe(genotype, rule, wiring=policy.wiring))
        if greedy:
            actions = dist.mode()
        else:
            gen = torch.Generator(device=policy.device)
            gen.manual_seed(seed)
            actions = torch.cat([dist.sample(gen) for _ in range(samples)])
    unique: list[Genotype] = []
    for a in actions.cpu().numpy():
        g = genotype.with_ops(a[:e], a[e : 2 * e])
        if policy.wiring:  # the source head's pairs (always allowed: sampled under the mask)
            g = rewire(g, a[2 * e :])
        if g not in unique:
            unique.append(g)
    acc = np.asarray(evaluator.accuracy([genotype, *unique]), dtype=float)
    best = int(np.argmax(acc[1:]))
    return DeriveResult(
        before=genotype,
        after=unique[best],
        acc_before=float(acc[0]),
        acc_after=float(acc[1 + best]),
        cost_before=network_cost(genotype),
        cost_after=network_cost(unique[best]),
        candidates=list(zip(unique, acc[1:].tolist())),
    )

"""The weight-sharing supernet: the DARTS macro structure where every edge position holds all 13
operations, each with its own weights; a genotype activates one op per edge.

Layout (docs/method.md section 6): stem Conv3x3(in -> 3C) + norm; ``layers`` cells with reductions at
:func:`natgym.cost.reduction_layers` doubling C; each cell preprocesses its two inputs to C
channels (FactorizedReduce after a reduction, else ReLU-Conv1x1-norm); global average pooling and
a linear classifier. Edge positions follow the DARTS search network: one position per (from, to)
pair -- 2 + 3 + ... + (steps + 1) positions per cell (14 for steps 4, 20 for steps 5) -- each
holding all 13 ops. An edge ``(op, from, to)`` of a genotype uses the ``op`` module at position
``(from, to)``; a node whose two inputs come from the same earlier node uses that position twice.
This is the layout whose size matches the paper's 15.0M parameters (8 cells, C = 20); one
position per edge slot instead would give about 8.5M. A cell outputs all its intermediate nodes
concatenated (fixed width ``steps * C``); nodes outside a genotype's ``concat`` contribute zeros.
With ``pool_norm`` every pooling op is followed by the supernet's norm (:class:`~natgym.ops.PoolBN`,
as in the DARTS search network); the stand-alone network keeps plain pooling either way.

**Batch normalisation.** No affine parameters (docs/method.md section 6) and **no running
statistics**: every norm layer normalises with the statistics of the current batch, computed
*separately for each architecture*. Running averages accumulated while training over thousands of sampled
architectures describe none of them, and a single genotype's activations can be far from that
mixture (e.g. a cell of pools vs. one of convolutions), so evaluating with them would score an
architecture partly by how typical it is. Batch statistics per architecture are what the network
was trained with. When G genotypes are evaluated in one forward on the same n images, the batch
is laid out as G blocks of n and each block is normalised with its own statistics, so an
architecture's output does not depend on which others it was batched with, nor on the order. The
price is that an architecture's prediction for one image depends on the other images in its
batch; the evaluator therefore always scores before/after on the same images.

**Batched forward.** ``forward(x, genotypes)`` runs several genotypes at once and stores
activations without duplicates: genotypes whose computation so far is identical share one block
(the stem, and whatever else does not depend on the genotype, runs once on the shared images; a
before/after pair that differs only in its reduce cell shares every normal cell before the first
reduction). At each edge slot every distinct (from, op, input block) is computed once, and the
genotypes using the same op at the same position run in one call. Null edges cost nothing and
skip connections are additions. Results equal one-genotype-at-a-time forwards. Which blocks exist
is worked out once, from the genotypes alone, by :func:`natgym.supernet.plan.plan_network`; this
module's forward and the reward evaluator's CPU forward :func:`natgym.supernet.fast.infer`
(functional, NHWC, same weights; equal up to float rounding) both execute that plan.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from numbers import Integral

import torch
import torch.nn.functional as F
from torch import nn

from natgym.cost import reduction_layers, stage_depths
from natgym.errors import ConfigError, GenotypeError
from natgym.genotype import Genotype
from natgym.ops import FactorizedReduce, Identity, ReLUConvBN, make_op
from natgym.space import OPS, edge_stride
from natgym.supernet.plan import AddPlan, CellPlan, ConcatPlan, SlotPlan, plan_network


@dataclass(frozen=True)
class SupernetConfig:
    """Shape of a supernet: initial ``channels``, number of cells ``layers``, intermediate
    nodes per cell ``steps``, image ``in_channels``, ``num_classes``."""

    channels: int = 20
    layers: int = 8
    steps: int = 4
    in_channels: int = 3
    num_classes: int = 10
    stem_multiplier: int = 3
    pool_norm: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.pool_norm, bool):
            raise ConfigError(f"pool_norm: expected True or False, got {self.pool_norm!r}")
        for name in ("channels", "layers", "steps", "in_channels", "num_classes", "stem_multiplier"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name}: expected a positive integer, got {value!r}")
        if self.channels % 2:
            raise ConfigError(
                f"channels: expected an even number (FactorizedReduce halves it), got {self.channels}"
            )

    def to_dict(self) -> dict[str, int]:
        """Plain dict (JSON-ready)."""
        return asdict(self)


PRESETS: dict[str, SupernetConfig] = {
    "digits": SupernetConfig(channels=8, layers=3, steps=4, in_channels=1, num_classes=10, pool_norm=True),
    "fashion": SupernetConfig(channels=8, layers=8, steps=4, in_channels=1, num_classes=10, pool_norm=True),
    "cifar10": SupernetConfig(channels=20, layers=8, steps=4, in_channels=3, num_classes=10, pool_norm=True),
    "fashion-depth": SupernetConfig(
        channels=8, layers=11, steps=4, in_channels=1, num_classes=10, stem_multiplier=4, pool_norm=True
    ),
}
"""Named supernet shapes: ``digits`` (C = 8, 3 cells: the reference's small config, fits 2 CPU
cores), ``fashion`` (C = 8 and the paper's 8 cells -- two normal cells per stage, two reductions
-- for Fashion-MNIST at 14 px on CPU), ``cifar10`` (the paper's 8 cells x 20 channels, 15.0M
parameters) and ``fashion-depth`` (the elastic-depth supernet of ``NAT-Depth-v0``: up to 3 normal
cells per stage, 11 cells, a stem as wide as a cell's output so that every stage can run 1 cell).
All follow every pooling op with a norm, as the reference supernet does (measured on digits:
``benchmarks/results/fidelity_study``)."""


class _Blocks:
    """Shared by all norm layers of one supernet: images per architecture block."""

    block: int = 0


class BlockBatchNorm(nn.Module):
    """Affine-free batch norm without running statistics whose statistics are computed
    separately for each block of ``blocks.block`` consecutive images (one block per
    architecture)."""

    def __init__(self, channels: int, blocks: _Blocks, eps: float = 1e-5) -> None:
        super().__init__()
        self.channels = channels
        self.blocks = blocks
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = self.blocks.block or x.shape[0]
        if x.shape[0] % n:
            raise ValueError(f"x: batch of {x.shape[0]} is not a whole number of {n}-image blocks")
        if x.shape[0] == n:
            return F.batch_norm(x, None, None, training=True, eps=self.eps)
        return torch.cat(
            [F.batch_norm(b, None, None, training=True, eps=self.eps) for b in x.split(n)], dim=0
        )

    def extra_repr(self) -> str:
        return f"{self.channels}, per-architecture batch statistics"


@dataclass
class _State:
    """Activations of G genotypes stored without duplicates: ``tensor`` holds k blocks of n
    images and genotype i's activations are block ``index[i]`` (-1: all zeros)."""

    tensor: torch.Tensor
    index: tuple[int, ...]

    def blocks(self, n: int) -> int:
        return self.tensor.shape[0] // n


def _gather(t: torch.Tensor, blocks: Sequence[int], n: int) -> torch.Tensor:
    """Blocks ``blocks`` of ``t`` (-1: a zero block), without a copy when they are a range."""
    first = blocks[0]
    if first >= 0 and list(blocks) == list(range(first, first + len(blocks))):
        return t[first * n : (first + len(blocks)) * n]
    zero = torch.zeros_like(t[:n]) if -1 in blocks else None
    return torch.cat([zero if b < 0 else t[b * n : (b + 1) * n] for b in blocks], dim=0)


class SuperCell(nn.Module):
    """One cell of the supernet: preprocessing and all 13 ops at every (from, to) position."""

    def __init__(
        self,
        steps: int,
        c_pp: int,
        c_p: int,
        c: int,
        reduction: bool,
        reduction_prev: bool,
        norm,
        pool_norm: bool = False,
    ) -> None:
        super().__init__()
        self.steps, self.reduction, self.channels = steps, reduction, c
        self.pre0 = FactorizedReduce(c_pp, c, norm) if reduction_prev else ReLUConvBN(c_pp, c, 1, 1, 0, norm)
        self.pre1 = ReLUConvBN(c_p, c, 1, 1, 0, norm)
        self.position: dict[tuple[int, int], int] = {}
        positions = []
        for dst in range(2, steps + 2):
            for src in range(dst):
                self.position[(src, dst)] = len(positions)
                stride = edge_stride(reduction, src)
                positions.append(nn.ModuleList(make_op(name, c, stride, norm, pool_norm) for name in OPS))
        self.ops = nn.ModuleList(positions)

    def forward(self, s0: _State, s1: _State, plan: CellPlan, n: int) -> _State:
        """Run the cell's :class:`~natgym.supernet.plan.CellPlan` on deduplicated inputs; each
        distinct (op, input block) is computed once."""
        states: list[_State | None] = [
            _State(self.pre0(s0.tensor), s0.index),
            _State(self.pre1(s1.tensor), s1.index),
        ]
        for node, node_plan in enumerate(plan.nodes, start=2):
            a, b = (None if sp is None else self._slot(states, node, sp, n) for sp in node_plan.slots)
            states.append(_add(a, b, node_plan.add, n))
        pre = states[1].tensor[:n]
        h, w = ((pre.shape[2] + 1) // 2, (pre.shape[3] + 1) // 2) if self.reduction else pre.shape[2:]
        zero = pre.new_zeros(n, self.channels, h, w)
        if not pre.is_contiguous() and pre.is_contiguous(memory_format=torch.channels_last):
            zero = zero.contiguous(memory_format=torch.channels_last)
        return _concat(states[2:], plan.concat, n, zero)

    def _slot(self, states: list[_State | None], node: int, plan: SlotPlan, n: int) -> _State:
        """Output of one edge slot: each op module run once on all the blocks that use it."""
        outputs = []
        for src, op_i, blocks in plan.runs:
            module = self.ops[self.position[(src, node)]][op_i]
            x = _gather(states[src].tensor, blocks, n)
            outputs.append(x if isinstance(module, Identity) else module(x))
        return _State(outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=0), plan.index)


def _add(a: _State | None, b: _State | None, plan: AddPlan | None, n: int) -> _State | None:
    """Sum of a node's two slot outputs per genotype, each distinct pair of blocks added once."""
    if a is None or b is None:
        return a if b is None else b
    if plan.aligned:
        return _State(a.tensor + b.tensor, plan.index)
    left = _gather(a.tensor, [p[0] for p in plan.pairs], n)
    summed = left + _gather(b.tensor, [p[1] for p in plan.pairs], n)
    return _State(summed, plan.index)


def _concat(nodes: list[_State | None], plan: ConcatPlan, n: int, zero: torch.Tensor) -> _State:
    """Cell output: the intermediate nodes side by side (zeros outside each ``concat``)."""
    parts = []
    for j, node in enumerate(nodes):
        blocks = [row[j] for row in plan.rows]
        if node is None or all(b < 0 for b in blocks):
            parts.append(zero if len(plan.rows) == 1 else torch.cat([zero] * len(plan.rows)))
        else:
            parts.append(_gather(node.tensor, blocks, n))
    return _State(torch.cat(parts, dim=1), plan.index)


class Supernet(nn.Module):
    """The weight-sharing network for :class:`SupernetConfig` ``config``.

    ``forward(x, genotypes, depths=None)`` returns logits ``[G, n, num_classes]`` for G
    genotypes: ``x`` is either ``[n, C, H, W]`` (every genotype sees the same images) or
    ``[G, n, C, H, W]`` (one batch per genotype); ``depths`` runs only the first ``depths[s]``
    normal cells of each stage (elastic depth, :meth:`active`). See the module docstring for the
    normalisation and batching.
    """

    def __init__(self, config: SupernetConfig) -> None:
        super().__init__()
        self.config = config
        self._blocks = _Blocks()
        norm = lambda c: BlockBatchNorm(c, self._blocks)
        c = config.channels
        c_curr = config.stem_multiplier * c
        stem_conv = nn.Conv2d(config.in_channels, c_curr, 3, padding=1, bias=False)
        self.stem = nn.Sequential(stem_conv, norm(c_curr))
        c_pp, c_p, c_curr = c_curr, c_curr, c
        reductions = reduction_layers(config.layers)
        cells, reduction_prev = [], False
        for i in range(config.layers):
            reduction = i in reductions
            if reduction:
                c_curr *= 2
            cells.append(
                SuperCell(config.steps, c_pp, c_p, c_curr, reduction, reduction_prev, norm, config.pool_norm)
            )
            reduction_prev = reduction
            c_pp, c_p = c_p, config.steps * c_curr
        self.cells = nn.ModuleList(cells)
        self.classifier = nn.Linear(c_p, config.num_classes)

    def check(self, genotypes: Sequence[Genotype]) -> list[Genotype]:
        """Raise ``GenotypeError`` unless every genotype has this supernet's ``steps``."""
        genotypes = list(genotypes)
        if not genotypes:
            raise GenotypeError("genotypes: expected at least one genotype")
        for i, gen in enumerate(genotypes):
            if not isinstance(gen, Genotype):
                raise GenotypeError(f"genotypes[{i}]: expected a Genotype, got {type(gen).__name__}")
            if gen.steps != self.config.steps:
                raise GenotypeError(
                    f"genotypes[{i}].steps: the supernet has {self.config.steps} intermediate nodes per "
                    f"cell, the genotype {gen.steps}; allowed: {self.config.steps}"
                )
        return genotypes

    def prepare(
        self, x: torch.Tensor, genotypes: Sequence[Genotype]
    ) -> tuple[list[Genotype], torch.Tensor, tuple[int, ...]]:
        """Checked genotypes, images as ``[1 or G, n, C, H, W]``, and each genotype's image
        block (all 0 when the n images are shared)."""
        genotypes = self.check(genotypes)
        g = len(genotypes)
        if x.dim() == 4:
            x5 = x.unsqueeze(0)
        elif x.dim() == 5 and x.shape[0] == g:
            x5 = x
        else:
            raise ConfigError(
                f"x: expected [n, C, H, W] or [{g}, n, C, H, W] for {g} genotypes, got {tuple(x.shape)}"
            )
        return genotypes, x5, tuple(range(g)) if x5.shape[0] > 1 else (0,) * g

    @property
    def max_depths(self) -> tuple[int, int, int]:
        """The normal cells each of the three stages holds (:func:`natgym.cost.stage_depths`)."""
        return stage_depths(self.config.layers)

    def active(self, depths: Sequence[int] | None = None) -> list[SuperCell]:
        """The cells a forward at stage ``depths`` runs, in order: the first ``depths[s]``
        normal cells of stage ``s`` and both reductions (all cells when ``depths`` is None).

        Elastic depth: a stage's remaining cells are skipped, so the next cell reads the last two
        cells that ran. Every depth from 1 to :attr:`max_depths` keeps the inputs' shapes --
        except a first stage of depth 1, whose reduction then reads the stem, which needs a stem
        as wide as a cell's output (``stem_multiplier == steps``)."""
        if depths is None:
            return list(self.cells)
        most = self.max_depths
        depths = tuple(depths)
        if len(depths) != 3 or any(
            isinstance(d, bool) or not isinstance(d, Integral) or not 1 <= d <= m
            for d, m in zip(depths, most)
        ):
            raise ConfigError(
                f"depths: expected three integers, stage s in 1..{list(most)}[s] (this supernet's "
                f"{self.config.layers} cells), got {depths!r}"
            )
        if depths[0] == 1 and self.config.stem_multiplier != self.config.steps:
            raise ConfigError(
                f"depths: a first stage of depth 1 needs stem_multiplier == steps ({self.config.steps}), "
                f"this supernet has {self.config.stem_multiplier}; allowed first-stage depths: 2..{most[0]}"
            )
        first, second = (i for i, cell in enumerate(self.cells) if cell.reduction)
        starts = (0, first + 1, second + 1)
        keep = {first, second} | {start + k for start, d in zip(starts, depths) for k in range(int(d))}
        return [cell for i, cell in enumerate(self.cells) if i in keep]

    def plan(
        self, genotypes: Sequence[Genotype], stem: tuple[int, ...], depths: Sequence[int] | None = None
    ) -> tuple[CellPlan, ...]:
        """The batching plan of every cell that runs at ``depths`` (:meth:`active`;
        :func:`natgym.supernet.plan.plan_network`)."""
        reductions = tuple(cell.reduction for cell in self.active(depths))
        return plan_network(tuple(genotypes), reductions, tuple(stem))

    def forward(
        self, x: torch.Tensor, genotypes: Sequence[Genotype], depths: Sequence[int] | None = None
    ) -> torch.Tensor:
        genotypes, x5, index = self.prepare(x, genotypes)
        g, n = len(genotypes), x5.shape[1]
        cells = self.active(depths)
        self._blocks.block = n
        s0 = s1 = _State(self.stem(x5.reshape(-1, *x5.shape[2:])), index)
        for cell, plan in zip(cells, self.plan(genotypes, index, depths)):
            s0, s1 = s1, cell(s0, s1, plan, n)
        logits = self.classifier(s1.tensor.mean(dim=(2, 3)))
        return _gather(logits, s1.index, n).view(g, n, -1)

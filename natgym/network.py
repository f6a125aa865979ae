"""The stand-alone DARTS CIFAR network for any genotype, trained from scratch for final evaluation.

Layout (docs/method.md section 3; DARTS ``model.py`` NetworkCIFAR): a stem Conv3x3(in -> 3C) +
BN, then ``layers`` cells with reduction cells at :func:`natgym.cost.reduction_layers` (or
``depths``: that many normal cells per stage, :func:`natgym.cost.layout`) doubling the channels;
each cell preprocesses its two inputs to C channels (FactorizedReduce for input 0 when the
previous cell reduced, otherwise ReLU-Conv1x1-BN; ReLU-Conv1x1-BN for input 1), runs every edge
of the genotype's cell with the op modules of :mod:`natgym.ops` (the same implementations as the
supernet, with affine BN) and outputs the concatenation of the cell's ``concat`` nodes. Global
average pooling and a linear classifier follow. Without the auxiliary head the parameter count
equals :func:`natgym.cost.network_cost` exactly.

Auxiliary head (training only; after the second reduction cell, cell ``2 * layers // 3``): ReLU,
average pooling to a 2x2 map, Conv1x1 -> 128 + BN + ReLU, Conv2x2 -> 768 + BN + ReLU, Linear. On
the 8x8 map that 32-pixel images leave at that depth, the pooling is DARTS's AvgPool(5, stride
3); on any other map size (e.g. the 2x2 map of 8x8 digits) it is adaptive average pooling to
2x2, which keeps the head's shape and parameter count independent of the image size.

Drop-path (regularisation during training): each edge's output is zeroed per sample with
probability ``drop_prob`` and rescaled by ``1 / (1 - drop_prob)``, except identity edges
(stride-1 ``skip_connect``), which are never dropped (as in DARTS).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from natgym.cost import layout
from natgym.errors import ConfigError
from natgym.genotype import Cell, Genotype
from natgym.ops import FactorizedReduce, Identity, ReLUConvBN, batch_norm, make_op
from natgym.space import edge_stride


def drop_path(x: torch.Tensor, drop_prob: float) -> torch.Tensor:
    """Zero whole samples of ``x`` with probability ``drop_prob``; rescale the kept ones."""
    if drop_prob <= 0.0:
        return x
    keep = 1.0 - drop_prob
    mask = torch.empty(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype).bernoulli_(keep)
    return x * mask / keep


class NetworkCell(nn.Module):
    """One cell of the stand-alone network: preprocessing, the genotype's edges, concat."""

    def __init__(
        self, cell: Cell, c_pp: int, c_p: int, c: int, reduction: bool, reduction_prev: bool
    ) -> None:
        super().__init__()
        norm = batch_norm(affine=True)
        self.reduction = reduction
        self.preprocess0 = (
            FactorizedReduce(c_pp, c, norm) if reduction_prev else ReLUConvBN(c_pp, c, 1, 1, 0, norm)
        )
        self.preprocess1 = ReLUConvBN(c_p, c, 1, 1, 0, norm)
        self.sources = [src for _, src, _ in cell.edges]
        self.targets = [dst for _, _, dst in cell.edges]
        self.ops = nn.ModuleList(
            make_op(op, c, edge_stride(reduction, src), norm) for op, src, _ in cell.edges
        )
        self.steps = cell.steps
        self.concat = list(cell.concat)
        self.multiplier = len(self.concat)

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, drop_prob: float = 0.0) -> torch.Tensor:
        states: list[torch.Tensor | None] = [self.preprocess0(s0), self.preprocess1(s1)]
        states += [None] * self.steps
        for op, src, dst in zip(self.ops, self.sources, self.targets):
            h = op(states[src])
            if self.training and drop_prob > 0.0 and not isinstance(op, Identity):
                h = drop_path(h, drop_prob)
            states[dst] = h if states[dst] is None else states[dst] + h
        return torch.cat([states[i] for i in self.concat], dim=1)


class AuxiliaryHead(nn.Module):
    """DARTS's auxiliary classifier; pools any map to 2x2 (see the module docstring)."""

    def __init__(self, c: int, num_classes: int, map_size: int) -> None:
        super().__init__()
        pool = (
            nn.AvgPool2d(5, stride=3, padding=0, count_include_pad=False)
            if map_size == 8
            else nn.AdaptiveAvgPool2d(2)
        )
        self.features = nn.Sequential(
            nn.ReLU(inplace=False),
            pool,
            nn.Conv2d(c, 128, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.ReLU(inplace=True),
            nn.Conv2d(128, 768, 2, bias=False),
            nn.BatchNorm2d(768),
            nn.ReLU(inplace=True),
        )
        self.classifier = nn.Linear(768, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))


class Network(nn.Module):
    """The DARTS CIFAR network built from ``genotype`` (see the module docstring).

    ``forward(x)`` returns ``(logits, aux_logits)``; ``aux_logits`` is ``None`` unless the
    network was built with ``auxiliary=True`` and is in training mode. Set ``drop_path_prob``
    (attribute) to the current drop-path probability before a training step.
    """

    def __init__(
        self,
        genotype: Genotype,
        channels: int = 36,
        layers: int = 20,
        num_classes: int = 10,
        in_channels: int = 3,
        image_size: int = 32,
        auxiliary: bool = False,
        stem_multiplier: int = 3,
        depths: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        for field, value, low in (
            ("channels", channels, 2),
            ("layers", layers, 1),
            ("num_classes", num_classes, 1),
            ("in_channels", in_channels, 1),
            ("image_size", image_size, 1),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"{field}: expected an integer >= {low}, got {value!r}")
        if channels % 2:
            raise ConfigError(f"channels: must be even (FactorizedReduce halves it), got {channels}")
        self.genotype = genotype
        self.drop_path_prob = 0.0
        c_curr = stem_multiplier * channels
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, c_curr, 3, padding=1, bias=False), nn.BatchNorm2d(c_curr)
        )
        c_pp, c_p, c_curr = c_curr, c_curr, channels
        layers, reductions = layout(layers, depths)
        self.aux_index = reductions[1]
        self.cells = nn.ModuleList()
        self.auxiliary_head: AuxiliaryHead | None = None
        reduction_prev, size = False, image_size
        for i in range(layers):
            reduction = i in reductions
            if reduction:
                c_curr *= 2
                size = (size + 1) // 2
            cell = NetworkCell(
                genotype.reduce if reduction else genotype.normal,
                c_pp,
                c_p,
                c_curr,
                reduction,
                reduction_prev,
            )
            self.cells.append(cell)
            reduction_prev = reduction
            c_pp, c_p = c_p, cell.multiplier * c_curr
            if auxiliary and i == self.aux_index:
                self.auxiliary_head = AuxiliaryHead(c_p, num_classes, size)
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_p, num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        aux = None
        s0 = s1 = self.stem(x)
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1, self.drop_path_prob)
            if i == self.aux_index and self.auxiliary_head is not None and self.training:
                aux = self.auxiliary_head(s1)
        logits = self.classifier(self.global_pooling(s1).flatten(1))
        return logits, aux


def count_params(model: nn.Module, include_auxiliary: bool = False) -> int:
    """Trainable parameters of ``model``; the auxiliary head is excluded unless asked for."""
    return sum(
        p.numel()
        for name, p in model.named_parameters()
        if include_auxiliary or not name.startswith("auxiliary_head.")
    )

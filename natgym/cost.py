"""Cost model: parameters and multiply-adds per operation and for the DARTS CIFAR network.

Per-op costs follow docs/method.md section 3 (BN and ReLU not counted): for C channels in and out and an
output map of H x W,

* ``conv_k``: params k^2 C^2, MAdds params * HW
* ``sep_conv_k``: params 2 (k^2 C + C^2), MAdds params * HW
* ``dil_conv_k``: params k^2 C + C^2, MAdds params * HW
* pooling k: no params, MAdds k^2 C HW
* ``skip_connect``: C HW at stride 1; at stride 2 a FactorizedReduce (two 1x1 convs to C/2):
  params C^2, MAdds C^2 HW -- as costly as ``conv_1x1``
* ``null``: 0

:func:`network_cost` sums the whole DARTS CIFAR network (stem, preprocessing, cells, classifier;
auxiliary head excluded), counting affine BN parameters so it equals the parameter count of
:class:`natgym.network.Network` exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from natgym.errors import ConfigError
from natgym.genotype import Cell, Genotype
from natgym.space import PRIMITIVES, edge_stride, op_index


@dataclass(frozen=True)
class Cost:
    """Parameters and multiply-adds."""

    params: int
    madds: int

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.params + other.params, self.madds + other.madds)


ZERO = Cost(0, 0)


def op_cost(op: str, channels: int, height: int, width: int, stride: int = 1, bn: bool = False) -> Cost:
    """Cost of ``op`` on a ``channels`` x ``height`` x ``width`` input map.

    ``stride`` 2 halves the output map, rounding up as a padded stride-2 op does (MAdds are
    counted on the output). ``bn=True`` adds the
    affine BN parameters the op's module holds (2 per BN channel), as in the final network.
    """
    if stride not in (1, 2):
        raise ValueError(f"stride: expected 1 or 2, got {stride!r}")
    prim = PRIMITIVES[op_index(op)]
    c, k = channels, prim.kernel
    hw = -(-height // stride) * -(-width // stride)
    if prim.family == "conv":
        params, bn_ch = k * k * c * c, c
    elif prim.family == "sep_conv":
        params, bn_ch = 2 * (k * k * c + c * c), 2 * c
    elif prim.family == "dil_conv":
        params, bn_ch = k * k * c + c * c, c
    elif prim.family == "pool":
        return Cost(0, k * k * c * hw)
    elif prim.family == "skip":
        if stride == 1:
            return Cost(0, c * hw)
        params, bn_ch = c * c, c
    else:
        return ZERO
    return Cost(params + (2 * bn_ch if bn else 0), params * hw)


def conv_cost(c_in: int, c_out: int, kernel: int, height: int, width: int, bn: bool = True) -> Cost:
    """A plain convolution (no bias) at stride 1 on an output map of ``height`` x ``width``."""
    params = kernel * kernel * c_in * c_out
    return Cost(params + (2 * c_out if bn else 0), params * height * width)


def factorized_reduce_cost(c_in: int, c_out: int, height: int, width: int) -> Cost:
    """FactorizedReduce: two 1x1 stride-2 convs ``c_in -> c_out/2`` concatenated, then BN."""
    half = c_out // 2
    hw = -(-height // 2) * -(-width // 2)
    params = 2 * c_in * half
    return Cost(params + 2 * c_out, params * hw)


def cell_cost(cell: Cell, channels: int, height: int, width: int, reduction: bool) -> Cost:
    """Cost of a cell's edges (preprocessing excluded) on ``height`` x ``width`` inputs."""
    total = ZERO
    for op, src, _ in cell.edges:
        stride = edge_stride(reduction, src)
        h, w = (height, width) if stride == 2 or not reduction else (-(-height // 2), -(-width // 2))
        total += op_cost(op, channels, h, w, stride, bn=True)
    return total


def reduction_layers(layers: int) -> tuple[int, ...]:
    """Indices of reduction cells in a network of ``layers`` cells (layers//3, 2*layers//3)."""
    return tuple(sorted({layers // 3, 2 * layers // 3}))


def stage_depths(layers: int) -> tuple[int, int, int]:
    """The normal cells of each of the three stages of a ``layers``-cell network (the cells
    before the first reduction, between the two, and after the second): 20 -> (6, 6, 6)."""
    first, second = layers // 3, 2 * layers // 3
    if first == second:
        raise ConfigError(f"layers: {layers} cells have fewer than two reduction cells; allowed: 3 or more")
    return first, second - first - 1, layers - second - 1


def layout(layers: int = 20, depths: Sequence[int] | None = None) -> tuple[int, tuple[int, int]]:
    """``(cells, (first reduction, second reduction))`` of a network with ``depths`` normal
    cells per stage, or, without ``depths``, of the usual ``layers``-cell network
    (:func:`reduction_layers`)."""
    if depths is None:
        return layers, tuple(reduction_layers(layers))
    depths = tuple(depths)
    if len(depths) != 3 or any(
        isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 0 for d in depths
    ):
        raise ConfigError(f"depths: expected three integers >= 0 (normal cells per stage), got {depths!r}")
    d1, d2, d3 = (int(d) for d in depths)
    return d1 + d2 + d3 + 2, (d1, d1 + 1 + d2)


def network_cost(
    genotype: Genotype,
    channels: int = 36,
    layers: int = 20,
    image_size: int = 32,
    num_classes: int = 10,
    in_channels: int = 3,
    stem_multiplier: int = 3,
    depths: Sequence[int] | None = None,
) -> Cost:
    """Params and MAdds of the DARTS CIFAR network built from ``genotype``.

    Stem Conv3x3(in -> 3C)+BN; ``layers`` cells with reductions at ``reduction_layers(layers)``
    (or, with ``depths``, ``depths[s]`` normal cells in stage ``s`` and a reduction between
    stages; :func:`layout`) doubling C and halving the map (rounding up, as a stride-2 3x3 conv
    does); each cell preprocesses its inputs to C (FactorizedReduce after a reduction, otherwise
    ReLU-Conv1x1-BN); global average pooling and a linear classifier. The auxiliary head is
    excluded.
    """
    size = image_size
    c_curr = stem_multiplier * channels
    total = conv_cost(in_channels, c_curr, 3, size, size)
    c_pp, c_p, c_curr = c_curr, c_curr, channels
    layers, reductions = layout(layers, depths)
    reduction_prev = False
    prev_size = size  # spatial size of the output of cell k-2
    for i in range(layers):
        reduction = i in reductions
        if reduction:
            c_curr *= 2
        cell = genotype.reduce if reduction else genotype.normal
        if reduction_prev:
            total += factorized_reduce_cost(c_pp, c_curr, prev_size, prev_size)
        else:
            total += conv_cost(c_pp, c_curr, 1, size, size)
        total += conv_cost(c_p, c_curr, 1, size, size)
        total += cell_cost(cell, c_curr, size, size, reduction)
        prev_size = size
        if reduction:
            size = (size + 1) // 2
        reduction_prev = reduction
        c_pp, c_p = c_p, len(cell.concat) * c_curr
    return total + Cost(c_p * num_classes + num_classes, c_p * num_classes)

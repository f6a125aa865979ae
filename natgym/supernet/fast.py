"""Fast inference forward of a :class:`~natgym.supernet.model.Supernet` for reward evaluation.

Same network, same weights, the same batching plan (:mod:`natgym.supernet.plan`: genotypes whose
computation so far is identical share one block of ``n`` images; every distinct (source, op,
block) at an edge slot is computed once, the genotypes using one op at one position in one call)
and the same per-architecture batch statistics as ``Supernet.forward`` -- but functional and laid
out for small CPU tensors, where the
module forward costs many times its arithmetic in kernel calls, copies and slow kernel paths:

* activations are NHWC tensors; convolutions run on their channels-last NCHW view (no copies),
  1x1 convolutions (pre-processing, pointwise halves of separable/dilated convs, ``conv_1x1``,
  ``FactorizedReduce``) are one matrix multiply;
* per-architecture batch norm is one group norm over all blocks (block = sample, one group per
  channel) instead of a loop over blocks and a concatenation;
* the ReLU that starts every convolution-type op is computed once per (node, block) and shared by
  all ops and both edge slots reading it; cell outputs that only feed the next cells' ReLU'd
  pre-processing are stored rectified;
* a node's blocks are kept as separate tensors (no concatenation of the outputs of different
  ops, no gathers for the node sums);
* stride-1 pools on maps of 8x8 and larger are separable window reductions over strided views
  (max pooling exactly equal; average pooling in a different summation order);
* dilated depthwise kernels lose the taps that only ever read zero padding (a dilated 5x5 on a
  2x2 or 4x4 map), which oneDNN otherwise runs ~50x slower (the same convolution).

Results equal ``Supernet.forward`` up to float rounding (tested); a genotype's output does not
depend on which others it is batched with. Works under autograd, but training uses the module
forward.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from natgym.genotype import Genotype
from natgym.ops import DilConv, FactorizedReduce, Identity, PoolBN, ReLUConvBN, SepConv, Zero
from natgym.supernet.model import BlockBatchNorm, SuperCell, Supernet
from natgym.supernet.plan import AddPlan, CellPlan, ConcatPlan, SlotPlan

_MIN_SEPARABLE_PIXELS = 64
"""Stride-1 pools use separable strided-view reductions from this many pixels per map (8x8) up;
below it the library kernel is as fast."""

_MIN_GROUP_NORM_PIXELS = 16
"""Batch norm runs as one group norm over all blocks from this many pixels per map (4x4) up."""


def _nchw(x: torch.Tensor) -> torch.Tensor:
    return x.permute(0, 3, 1, 2)


def _nhwc(x: torch.Tensor) -> torch.Tensor:
    return x.permute(0, 2, 3, 1).contiguous()


def _eps(norm: nn.Module) -> float:
    return norm.eps if isinstance(norm, BlockBatchNorm) else 1e-5


def _bn(x: torch.Tensor, eps: float, n: int) -> torch.Tensor:
    """Affine-free batch norm with the statistics of each block of ``n`` images: one group norm
    over the blocks as samples (one group per channel), or per-block batch norm on maps smaller
    than 4x4 (where that kernel is faster); which one depends only on the map size, so a block's
    result does not depend on how many blocks are normalised with it."""
    big, h, w, c = x.shape
    if h * w >= _MIN_GROUP_NORM_PIXELS:
        blocks = x.view(big // n, n * h, w, c).permute(0, 3, 1, 2)
        # the aten ops directly: F.group_norm / F.batch_norm add ~10 us of checks per call
        return torch.group_norm(blocks, c, None, None, eps, False).permute(0, 2, 3, 1).reshape(big, h, w, c)
    if big == n:
        return _nhwc(torch.batch_norm(_nchw(x), None, None, None, None, True, 0.0, eps, False))
    return torch.cat(
        [_nhwc(torch.batch_norm(_nchw(b), None, None, None, None, True, 0.0, eps, False)) for b in x.split(n)]
    )


Kernel = Callable[[torch.Tensor], torch.Tensor]


def _conv(conv: nn.Conv2d) -> Kernel:
    """``conv`` (no bias) on NHWC input; 1x1 convolutions as a matrix multiply. The weight is
    read at call time (training and ``.to()`` update it in place)."""
    stride, padding, dilation, groups = conv.stride, conv.padding, conv.dilation, conv.groups
    if conv.kernel_size == (1, 1) and groups == 1:
        s = stride[0]

        def pointwise(x: torch.Tensor) -> torch.Tensor:
            if s > 1:
                x = x[:, ::s, ::s]
            w = conv.weight
            out = x.reshape(-1, x.shape[3]) @ w.reshape(w.shape[0], -1).t()
            return out.view(x.shape[0], x.shape[1], x.shape[2], w.shape[0])

        return pointwise

    def run(x: torch.Tensor) -> torch.Tensor:
        w, pad = conv.weight, padding
        if groups > 1 and dilation[0] > 1:
            w, pad = _crop(w, x.shape[1], x.shape[2], padding, dilation)
        return _nhwc(F.conv2d(_nchw(x), w, None, stride, pad, dilation, groups))

    return run


def _crop(
    w: torch.Tensor, h: int, width: int, padding: tuple[int, int], dilation: tuple[int, int]
) -> tuple[torch.Tensor, tuple[int, int]]:
    """Drop the outer kernel taps that only ever read zero padding (a dilated 5x5 kernel on a
    2x2 or 4x4 map): the same convolution, but oneDNN's depthwise kernel is ~50x slower with
    them. Assumes "same" padding (symmetric taps), as every op here uses."""
    k = w.shape[-1]
    cut = [
        sum(1 for t in range(k) if t * d - p > size - 1) for size, p, d in zip((h, width), padding, dilation)
    ]
    if not any(cut):
        return w, padding
    ch, cw = cut
    w = w[:, :, ch : w.shape[2] - ch, cw : w.shape[3] - cw].contiguous()
    return w, (padding[0] - ch * dilation[0], padding[1] - cw * dilation[1])


def _pad(x: torch.Tensor, p: int, value: float) -> torch.Tensor:
    return F.pad(x, (0, 0, p, p, p, p), value=value)


def _max_pool(pool: nn.MaxPool2d) -> Kernel:
    k, stride, padding = pool.kernel_size, pool.stride, pool.padding

    def run(x: torch.Tensor) -> torch.Tensor:
        if stride != 1 or x.shape[1] * x.shape[2] < _MIN_SEPARABLE_PIXELS:
            return _nhwc(F.max_pool2d(_nchw(x), k, stride, padding))
        xp = _pad(x, k // 2, float("-inf"))
        return xp.unfold(2, k, 1).amax(-1).unfold(1, k, 1).amax(-1)

    return run


_INV_COUNTS: dict[tuple, torch.Tensor] = {}


def _avg_pool(pool: nn.AvgPool2d) -> Kernel:
    k, stride, padding = pool.kernel_size, pool.stride, pool.padding

    def run(x: torch.Tensor) -> torch.Tensor:
        if stride != 1 or x.shape[1] * x.shape[2] < _MIN_SEPARABLE_PIXELS:
            return _nhwc(F.avg_pool2d(_nchw(x), k, stride, padding, count_include_pad=False))
        h, w, p = x.shape[1], x.shape[2], k // 2
        key = (h, w, k, x.device, x.dtype)
        inv = _INV_COUNTS.get(key)
        if inv is None:  # 1 / (window pixels inside the image), per output pixel
            ones = torch.ones(1, 1, h, w, device=x.device, dtype=x.dtype)
            counts = F.avg_pool2d(ones, k, 1, p, count_include_pad=True, divisor_override=1)
            inv = _INV_COUNTS[key] = (1.0 / counts).view(1, h, w, 1)
        xp = _pad(x, p, 0.0)
        if k <= 3:
            rows = xp[:, :, 0:w]
            for d in range(1, k):
                rows = rows + xp[:, :, d : d + w]
            out = rows[:, 0:h]
            for d in range(1, k):
                out = out + rows[:, d : d + h]
            return out * inv
        return xp.unfold(2, k, 1).sum(-1).unfold(1, k, 1).sum(-1) * inv

    return run


Op = Callable[[torch.Tensor, "torch.Tensor | None", int], torch.Tensor]
"""A compiled edge op: ``(x, relu(x) or None, n) -> output``, all NHWC."""


def _compile(module: nn.Module) -> tuple[Op, bool]:
    """``module`` as a function of (x, relu(x), n) and whether it reads relu(x)."""
    if isinstance(module, SepConv):
        dw1, pw1 = _conv(module.depthwise1), _conv(module.pointwise1)
        dw2, pw2 = _conv(module.depthwise2), _conv(module.pointwise2)
        e1, e2 = _eps(module.norm1), _eps(module.norm2)

        def sep(x: torch.Tensor, xr: torch.Tensor | None, n: int) -> torch.Tensor:
            h = torch.relu_(_bn(pw1(dw1(xr)), e1, n))
            return _bn(pw2(dw2(h)), e2, n)

        return sep, True
    if isinstance(module, DilConv):
        dw, pw, e = _conv(module.depthwise), _conv(module.pointwise), _eps(module.norm)
        return (lambda x, xr, n: _bn(pw(dw(xr)), e, n)), True
    if isinstance(module, ReLUConvBN):
        conv, e = _conv(module.conv), _eps(module.norm)
        return (lambda x, xr, n: _bn(conv(xr), e, n)), True
    if isinstance(module, FactorizedReduce):
        c1, c2, e = _conv(module.conv_1), _conv(module.conv_2), _eps(module.norm)

        def reduce(x: torch.Tensor, xr: torch.Tensor | None, n: int) -> torch.Tensor:
            shifted = xr[:, 1:, 1:]
            if xr.shape[1] % 2 or xr.shape[2] % 2:  # the zero pad of the shifted map is read
                shifted = F.pad(shifted, (0, 0, 0, 1, 0, 1))
            return _bn(torch.cat([c1(xr), c2(shifted)], dim=3), e, n)

        return reduce, True
    if isinstance(module, PoolBN):
        (pool, _), e = _compile(module.pool), _eps(module.norm)
        return (lambda x, xr, n: _bn(pool(x, xr, n), e, n)), False
    if isinstance(module, nn.MaxPool2d):
        pool = _max_pool(module)
        return (lambda x, xr, n: pool(x)), False
    if isinstance(module, nn.AvgPool2d):
        pool = _avg_pool(module)
        return (lambda x, xr, n: pool(x)), False
    if isinstance(module, Identity):
        return (lambda x, xr, n: x), False
    if isinstance(module, Zero):  # never called: null edges are skipped
        return (lambda x, xr, n: module(x)), False
    raise TypeError(f"module: no fast kernel for {type(module).__name__}")


_TABLES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _table(cell: SuperCell) -> dict:
    """Compiled ops of ``cell``: (from, to) -> the 13 ops in ``OPS`` order."""
    table = _TABLES.get(cell)
    if table is None:
        table = {key: [_compile(m) for m in cell.ops[pos]] for key, pos in cell.position.items()}
        table["pre"] = [_compile(cell.pre0), _compile(cell.pre1)]
        _TABLES[cell] = table
    return table


class _Node:
    """Activations of G genotypes at one node, without duplicates: ``blocks`` are the distinct
    blocks of ``n`` images (NHWC), genotype i's is ``blocks[index[i]]`` (-1: all zeros).
    ``whole`` is all blocks as one tensor when they were computed as one; ``relus`` caches
    relu(block)."""

    __slots__ = ("blocks", "index", "whole", "relus", "relu_whole")

    def __init__(self, blocks: list[torch.Tensor], index: tuple[int, ...], whole: torch.Tensor | None = None):
        self.blocks, self.index, self.whole = blocks, index, whole
        self.relus: dict[int, torch.Tensor] = {}
        self.relu_whole: torch.Tensor | None = None

    @classmethod
    def of(cls, whole: torch.Tensor, index: tuple[int, ...], n: int) -> _Node:
        return cls(list(whole.split(n)) if whole.shape[0] > n else [whole], index, whole)

    def _run(self, ids: list[int]) -> bool:
        """Whether ``ids`` are several consecutive blocks of ``whole``."""
        return self.whole is not None and len(ids) > 1 and ids == list(range(ids[0], ids[0] + len(ids)))

    def batch(self, ids: list[int]) -> torch.Tensor:
        """Blocks ``ids`` as one tensor (a view when they are consecutive in ``whole``)."""
        if len(ids) == 1:
            return self.blocks[ids[0]]
        if self._run(ids):
            n = self.blocks[0].shape[0]
            return self.whole[ids[0] * n : (ids[-1] + 1) * n]
        return torch.cat([self.blocks[b] for b in ids])

    def relu(self, ids: list[int]) -> torch.Tensor:
        """relu(blocks ``ids``) as one tensor, each block rectified once per node."""
        if self._run(ids) and (self.relu_whole is not None or not any(b in self.relus for b in ids)):
            n = self.blocks[0].shape[0]
            if self.relu_whole is None:
                self.relu_whole = torch.relu(self.whole)
                self.relus.update(enumerate(self.relu_whole.split(n)))
            return self.relu_whole[ids[0] * n : (ids[-1] + 1) * n]
        for b in ids:
            if b not in self.relus:
                self.relus[b] = torch.relu(self.blocks[b])
        if len(ids) == 1:
            return self.relus[ids[0]]
        return torch.cat([self.relus[b] for b in ids])


def _slot(table: dict, nodes: list[_Node | None], node: int, plan: SlotPlan, n: int) -> _Node:
    """Output of one edge slot: each op run once on all the blocks that use it."""
    blocks: list[torch.Tensor] = []
    for src, op_i, ids in plan.runs:
        op, reads_relu = table[(src, node)][op_i]
        state, ids = nodes[src], list(ids)
        out = op(state.batch(ids), state.relu(ids) if reads_relu else None, n)
        blocks.extend(out.split(n) if len(ids) > 1 else (out,))
    return _Node(blocks, plan.index)


def _add(a: _Node | None, b: _Node | None, plan: AddPlan | None) -> _Node | None:
    """Sum of a node's two slot outputs per genotype, each distinct pair of blocks added once."""
    if a is None or b is None:
        return a if b is None else b
    blocks = [
        b.blocks[j] if i < 0 else a.blocks[i] if j < 0 else a.blocks[i] + b.blocks[j] for i, j in plan.pairs
    ]
    return _Node(blocks, plan.index)


def _concat(nodes: list[_Node | None], plan: ConcatPlan, n: int, zero: torch.Tensor, rectify: bool) -> _Node:
    """Cell output: the intermediate nodes side by side on the channel axis (zeros outside each
    genotype's ``concat``), all distinct outputs in one tensor; ``rectify``: of relu(nodes)."""
    rows = [
        [zero if b < 0 else node.relu([b]) if rectify else node.blocks[b] for b, node in zip(key, nodes)]
        for key in plan.rows
    ]
    if len(rows) == 1:
        return _Node.of(torch.cat(rows[0], dim=3), plan.index, n)
    if torch.is_grad_enabled():
        return _Node.of(torch.cat([torch.cat(parts, dim=3) for parts in rows]), plan.index, n)
    h, w = zero.shape[1:3]
    out = zero.new_empty(len(rows) * n, h, w, zero.shape[3] * len(nodes))
    for u, parts in enumerate(rows):
        torch.cat(parts, dim=3, out=out[u * n : (u + 1) * n])
    return _Node.of(out, plan.index, n)


def _cell(
    cell: SuperCell,
    s0: _Node,
    s1: _Node,
    rectified: tuple[bool, bool],
    plan: CellPlan,
    n: int,
    rectify: bool,
) -> _Node:
    """One cell; ``rectified``: whether each input is already ReLU'd; ``rectify``: return
    relu(output) (what the next cells' pre-processing reads; the nodes' ReLUs are mostly
    computed already)."""
    table = _table(cell)
    nodes: list[_Node | None] = []
    for (pre, _), s, done in zip(table["pre"], (s0, s1), rectified):
        x = s.whole
        xr = x if done else s.relu(list(range(len(s.blocks))))
        nodes.append(_Node.of(pre(x, xr, n), s.index, n))
    for node, node_plan in enumerate(plan.nodes, start=2):
        a, b = (None if sp is None else _slot(table, nodes, node, sp, n) for sp in node_plan.slots)
        nodes.append(_add(a, b, node_plan.add))
    pre = nodes[1].whole
    h, w = ((pre.shape[1] + 1) // 2, (pre.shape[2] + 1) // 2) if cell.reduction else pre.shape[1:3]
    zero = pre.new_zeros(n, h, w, cell.channels)
    return _concat(nodes[2:], plan.concat, n, zero, rectify)


def infer(
    model: Supernet, x: torch.Tensor, genotypes: Sequence[Genotype], depths: Sequence[int] | None = None
) -> torch.Tensor:
    """Logits ``[G, n, num_classes]`` of ``model`` for G genotypes, like ``model(x, genotypes,
    depths)`` (``x``: ``[n, C, H, W]`` shared by all genotypes, or ``[G, n, C, H, W]``) but
    faster; for evaluation (call it under ``torch.inference_mode()``)."""
    genotypes, x5, index = model.prepare(x, genotypes)
    cells = model.active(depths)
    g, n = len(genotypes), x5.shape[1]
    stem_conv, stem_norm = model.stem
    stem_op = _TABLES.get(stem_conv)
    if stem_op is None:
        stem_op = _TABLES[stem_conv] = _conv(stem_conv)
    stem = _Node.of(_bn(stem_op(_nhwc(x5.reshape(-1, *x5.shape[2:]))), _eps(stem_norm), n), index, n)
    s0 = s1 = stem
    last = len(cells) - 1
    for i, (cell, plan) in enumerate(zip(cells, model.plan(genotypes, index, depths))):
        # every cell output but the last is only read through a ReLU: keep it rectified
        out = _cell(cell, s0, s1, (i > 1, i > 0), plan, n, rectify=i < last)
        s0, s1 = s1, out
    logits = model.classifier(s1.whole.mean(dim=(1, 2)))
    logits = logits.view(-1, n, logits.shape[-1])
    if s1.index == tuple(range(g)):
        return logits
    return logits[list(s1.index)]

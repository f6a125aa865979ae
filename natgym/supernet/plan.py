"""The supernet's batching plan: which computations G genotypes share, worked out once.

A batched supernet forward scores G genotypes on the same ``n`` images. Genotypes whose
computation so far is identical share one *block* of ``n`` activations, and every distinct
(source node, op, input block) at an edge slot is computed once. Which blocks exist and which
genotype reads which depends only on the genotypes, not on any tensor, so :func:`plan_network`
works it out symbolically -- cell by cell, node by node -- and both executors run the same plan:
the module forward (:meth:`natgym.supernet.model.Supernet.forward`) and the CPU fast forward
(:func:`natgym.supernet.fast.infer`). Plans are cached, so a repeated batch (a fixed input, the
same candidates again) plans nothing.

An *index* is a tuple with one entry per genotype: the block that genotype's activations are
(-1: all zeros). Blocks of a slot are numbered in the order of its ``runs``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from natgym.genotype import Cell, Genotype
from natgym.space import NULL, OP_INDEX

Index = tuple[int, ...]


def dedupe(keys: Sequence) -> tuple[list, Index]:
    """Unique keys in order of first appearance and each key's position among them."""
    unique: dict = {}
    index = tuple(unique.setdefault(k, len(unique)) for k in keys)
    return list(unique), index


@dataclass(frozen=True)
class SlotPlan:
    """One edge slot of one node: ``runs`` are (source node, op index, input blocks), each op
    module run once on all the blocks that use it; ``index`` numbers the output blocks in run
    order."""

    runs: tuple[tuple[int, int, tuple[int, ...]], ...]
    index: Index


@dataclass(frozen=True)
class AddPlan:
    """A node's sum of its two slot outputs: ``pairs`` are the distinct (slot-a block, slot-b
    block) to add (-1: that side is zero), in output-block order. ``aligned``: both slots have
    the same index, so the sum is the two tensors added whole."""

    pairs: tuple[tuple[int, int], ...]
    index: Index
    aligned: bool


@dataclass(frozen=True)
class NodePlan:
    """One intermediate node: its two slots (None: zero for every genotype), their sum (None
    when at most one slot is computed) and the node's index (None: zero for every genotype)."""

    slots: tuple[SlotPlan | None, SlotPlan | None]
    add: AddPlan | None
    index: Index | None


@dataclass(frozen=True)
class ConcatPlan:
    """A cell's output: ``rows`` are the distinct outputs, each the block of every intermediate
    node to place side by side on the channel axis (-1: zeros, outside that genotype's
    ``concat``); ``index`` is the cell output's index."""

    rows: tuple[tuple[int, ...], ...]
    index: Index


@dataclass(frozen=True)
class CellPlan:
    """The plan of one cell: its intermediate nodes in order and its output."""

    nodes: tuple[NodePlan, ...]
    concat: ConcatPlan


def plan_slot(indices: Sequence[Index | None], cells: Sequence[Cell], slot: int) -> SlotPlan | None:
    """Plan of edge ``slot`` for every genotype (None when every edge is null or reads a zero
    node); ``indices[src]`` is the index of node ``src``."""
    keys = []
    for i, cell in enumerate(cells):
        op, src, _ = cell.edges[slot]
        state, op_i = indices[src], OP_INDEX[op]
        block = -1 if state is None or op_i == NULL else state[i]
        keys.append(None if block < 0 else (src, op_i, block))
    unique, index = dedupe(keys)
    if unique == [None]:
        return None
    groups: dict[tuple[int, int], list[int]] = {}
    for key in unique:
        if key is not None:
            groups.setdefault(key[:2], []).append(key[2])
    where: dict[tuple[int, int, int], int] = {}
    for (src, op_i), blocks in groups.items():
        for b in blocks:
            where[(src, op_i, b)] = len(where)
    runs = tuple((src, op_i, tuple(blocks)) for (src, op_i), blocks in groups.items())
    return SlotPlan(runs, tuple(-1 if unique[k] is None else where[unique[k]] for k in index))


def plan_add(a: Index, b: Index) -> AddPlan:
    """Plan of the sum of two slot outputs with indices ``a`` and ``b``."""
    if a == b:
        return AddPlan(tuple((k, k) for k in range(max(a) + 1)), a, True)
    unique, index = dedupe(list(zip(a, b)))
    kept = [p for p in unique if p != (-1, -1)]
    remap = {p: i for i, p in enumerate(kept)}
    return AddPlan(tuple(kept), tuple(remap.get(unique[k], -1) for k in index), False)


def plan_concat(nodes: Sequence[Index | None], cells: Sequence[Cell]) -> ConcatPlan:
    """Plan of a cell's output from the indices of its intermediate nodes."""
    keys = [
        tuple(node[i] if node is not None and j + 2 in cell.concat else -1 for j, node in enumerate(nodes))
        for i, cell in enumerate(cells)
    ]
    unique, index = dedupe(keys)
    return ConcatPlan(tuple(unique), index)


def plan_cell(cells: Sequence[Cell], s0: Index, s1: Index) -> CellPlan:
    """Plan of one cell for genotype cells ``cells`` whose two inputs have indices ``s0``, ``s1``."""
    indices: list[Index | None] = [s0, s1]
    nodes = []
    for node in range(2, cells[0].steps + 2):
        a, b = (plan_slot(indices, cells, slot) for slot in (2 * node - 4, 2 * node - 3))
        if a is None or b is None:
            add, index = None, (b if a is None else a).index if (a or b) else None
        else:
            add = plan_add(a.index, b.index)
            index = add.index
        nodes.append(NodePlan((a, b), add, index))
        indices.append(index)
    return CellPlan(tuple(nodes), plan_concat(indices[2:], cells))


@lru_cache(maxsize=4096)
def plan_network(
    genotypes: tuple[Genotype, ...], reductions: tuple[bool, ...], stem: Index
) -> tuple[CellPlan, ...]:
    """Plans of every cell of a supernet whose cells are reduction cells where ``reductions``
    says so, for ``genotypes`` whose stem output has index ``stem`` (all 0: one shared image
    batch). Cell k reads the outputs of cells k-2 and k-1 (the stem for the first two)."""
    normals = [g.normal for g in genotypes]
    reduces = [g.reduce for g in genotypes]
    plans = []
    s0 = s1 = stem
    for reduction in reductions:
        plan = plan_cell(reduces if reduction else normals, s0, s1)
        plans.append(plan)
        s0, s1 = s1, plan.concat.index
    return tuple(plans)

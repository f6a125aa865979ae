"""Path-level moves: which earlier nodes each intermediate node reads (``NAT-Path-v0``).

Path-level network transformation (Cai et al., ICML 2018) changes a cell's topology, not only
its operations. In natgym a cell's wiring is, per intermediate node ``j`` (``2 .. steps + 1``),
the ordered pair of source nodes its two edges read: edge slot 0 (the node's first edge) reads
``a``, slot 1 reads ``b``. A wiring action picks that pair as one index ``a * S + b`` with
``S = steps + 1`` (the possible sources ``0 .. steps``), one choice per node, normal cell then
reduce cell -- so the constraint that couples a node's two edges is a per-choice mask:

* both sources are earlier nodes (``a, b < j``), so the cell stays a DAG in node order;
* the two sources are distinct (``a != b``), except that a node's current pair is always
  allowed, so "keep the wiring" is a valid action also for an input whose node reads one source
  twice (the uniform sampler draws such inputs).

Every node still has exactly two inputs, so every node of ``concat`` is computed from the
cell's inputs; ``concat`` itself never changes. An edge keeps its operation when it is rewired.
"""

from __future__ import annotations

import numpy as np

from natgym.genotype import Cell, Genotype


def sources(steps: int) -> int:
    """``S``: the number of possible source nodes of a cell with ``steps`` intermediate nodes."""
    return steps + 1


def cell_pairs(cell: Cell) -> np.ndarray:
    """The pair index ``a * S + b`` of each intermediate node, in node order."""
    s = sources(cell.steps)
    edges = cell.edges
    return np.array([edges[2 * i][1] * s + edges[2 * i + 1][1] for i in range(cell.steps)], dtype=np.int64)


def pairs(genotype: Genotype) -> np.ndarray:
    """:func:`cell_pairs` of the normal cell, then of the reduce cell (the action's order)."""
    return np.concatenate([cell_pairs(c) for c in genotype.cells])


def cell_mask(cell: Cell) -> np.ndarray:
    """``(steps, S * S)`` bool: the pairs each node may read (see the module docstring)."""
    steps, s = cell.steps, sources(cell.steps)
    a, b = np.divmod(np.arange(s * s), s)
    node = np.arange(2, steps + 2)[:, None]
    mask = (a[None] < node) & (b[None] < node) & (a[None] != b[None])
    mask[np.arange(steps), cell_pairs(cell)] = True
    return mask


def mask(genotype: Genotype) -> np.ndarray:
    """``(2 * steps, S * S)`` bool: :func:`cell_mask` of the normal cell, then the reduce cell."""
    return np.concatenate([cell_mask(c) for c in genotype.cells])


def rewire_cell(cell: Cell, node_pairs: np.ndarray) -> Cell:
    """``cell`` with node ``2 + i`` reading the pair ``node_pairs[i]`` (ops and concat kept).
    The pairs must be allowed by :func:`cell_mask`; this is not checked here."""
    s = sources(cell.steps)
    edges = []
    for i, index in enumerate(np.asarray(node_pairs, dtype=np.int64)):
        a, b = divmod(int(index), s)
        (op0, _, node), (op1, _, _) = cell.edges[2 * i], cell.edges[2 * i + 1]
        edges += [(op0, a, node), (op1, b, node)]
    return Cell(tuple(edges), cell.concat)


def rewire(genotype: Genotype, all_pairs: np.ndarray) -> Genotype:
    """``genotype`` with both cells rewired by :func:`rewire_cell` (normal pairs first)."""
    steps = genotype.steps
    normal = rewire_cell(genotype.normal, all_pairs[:steps])
    reduce = rewire_cell(genotype.reduce, all_pairs[steps:])
    return Genotype(normal, reduce)


def describe(before: Genotype, after: Genotype) -> list[str]:
    """The nodes whose inputs changed, in words (``"normal node 3: (0, 2) -> (1, 2)"``)."""
    out = []
    s = sources(before.steps)
    for name, cb, ca in zip(("normal", "reduce"), before.cells, after.cells):
        for i, (p, q) in enumerate(zip(cell_pairs(cb), cell_pairs(ca))):
            if p != q:
                out.append(f"{name} node {i + 2}: {divmod(int(p), s)} -> {divmod(int(q), s)}")
    return out


def random_rewire(genotype: Genotype, seed: int | np.random.Generator) -> Genotype:
    """``genotype`` with every intermediate node's source pair drawn uniformly among the pairs
    :func:`mask` allows (ops and concat kept): a random path-level transformation, redrawn until
    at least one node reads other sources."""
    rng = np.random.default_rng(seed)
    allowed = mask(genotype)
    current = pairs(genotype)
    for _ in range(100):
        chosen = np.array([rng.choice(np.flatnonzero(row)) for row in allowed], dtype=np.int64)
        if (chosen != current).any():
            return rewire(genotype, chosen)
    raise ValueError("genotype: no node of this cell can be rewired")

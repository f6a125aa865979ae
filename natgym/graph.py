"""Graph encoding of genotypes: fixed-size arrays for Gymnasium/SB3, and torch_geometric batches.

For a genotype with ``steps`` = S intermediate nodes per cell, each cell is a graph of
``N = S + 2`` nodes (0, 1 = cell inputs; 2..S+1 intermediate) and ``E = 2S`` edges, edge ``k``
ending at node ``2 + k // 2`` (the canonical node order of :class:`natgym.Cell`). Cells are
stacked normal first, then reduce. Every array is flat (1-D), as SB3 recommends for vector
observations; ``reshape(2, N, F)`` / ``reshape(2, N, N)`` recovers the per-cell layout. The
observation arrays (:func:`encode`) are:

``node_features`` float32 ``(2 * N * F,)`` = ``(2, N, F)`` flattened, F = 5 + 13:
    columns 0-1 one-hot for input node 0 / 1, column 2 intermediate node, column 3 the
    cell-type flag (1 in the reduce cell), column 4 "in concat" (node is part of the cell
    output), columns 5..17 how many incoming edges carry each op (0, 1 or 2).
``adjacency`` float32 ``(2 * N * N,)`` = ``(2, N, N)`` flattened:
    ``A[c, to, from]`` = number of edges from ``from`` to ``to`` in cell ``c`` (2 for a doubled
    edge); no self-loops, no normalisation.
``edge_from`` int64 ``(2E,)``:
    source node of every edge, normal cell then reduce; edge ``k`` of a cell can only come from
    nodes ``0 .. 1 + k // 2``, so this is ``MultiDiscrete`` with ``nvec = 2 + k // 2``.
``edge_ops`` int64 ``(2E,)``:
    current op index (into :data:`natgym.OPS`) of every edge, normal then reduce -- the order
    of the env's action vector.

:func:`to_pyg_batch` turns a (batched) observation into a torch_geometric ``Batch`` of
``2 * batch`` graphs with directed edges ``from -> to``, built without per-sample loops.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from gymnasium import spaces

from natgym.genotype import Cell, Genotype
from natgym.space import NUM_OPS, OPS

NODE_FEATURES = 5 + NUM_OPS
"""Width F of a node feature vector."""
KEYS: tuple[str, ...] = ("node_features", "adjacency", "edge_from", "edge_ops")
"""Keys of the graph part of an observation."""


def sizes(steps: int) -> tuple[int, int]:
    """``(N, E)``: nodes and edges per cell for ``steps`` intermediate nodes."""
    return steps + 2, 2 * steps


def edge_targets(steps: int) -> np.ndarray:
    """Target node of each of a cell's ``2 * steps`` edges (``2 + k // 2``)."""
    return 2 + np.arange(2 * steps) // 2


def observation_space(steps: int) -> spaces.Dict:
    """The Gymnasium space of :func:`encode` for genotypes with ``steps`` intermediate nodes."""
    n, e = sizes(steps)
    return spaces.Dict(
        {
            "node_features": spaces.Box(0.0, 2.0, (2 * n * NODE_FEATURES,), np.float32),
            "adjacency": spaces.Box(0.0, 2.0, (2 * n * n,), np.float32),
            "edge_from": spaces.MultiDiscrete(np.tile(edge_targets(steps), 2)),
            "edge_ops": spaces.MultiDiscrete(np.full(2 * e, NUM_OPS)),
        }
    )


def _cell(cell: Cell, reduce: bool, feats: np.ndarray, adj: np.ndarray) -> None:
    feats[0, 0] = feats[1, 1] = 1.0
    feats[2:, 2] = 1.0
    feats[:, 3] = float(reduce)
    feats[list(cell.concat), 4] = 1.0
    ops = cell.op_indices
    src = np.array([s for _, s, _ in cell.edges])
    dst = np.array([d for _, _, d in cell.edges])
    np.add.at(feats, (dst, 5 + ops), 1.0)
    np.add.at(adj, (dst, src), 1.0)


def encode(genotype: Genotype) -> dict[str, np.ndarray]:
    """The observation arrays of ``genotype`` (see the module docstring)."""
    n, e = sizes(genotype.steps)
    feats = np.zeros((2, n, NODE_FEATURES), np.float32)
    adj = np.zeros((2, n, n), np.float32)
    for c, cell in enumerate(genotype.cells):
        _cell(cell, c == 1, feats[c], adj[c])
    return {
        "node_features": feats.reshape(-1),
        "adjacency": adj.reshape(-1),
        "edge_from": np.array([s for cell in genotype.cells for _, s, _ in cell.edges], np.int64),
        "edge_ops": np.concatenate([cell.op_indices for cell in genotype.cells]),
    }


def decode(
    obs: Mapping[str, np.ndarray], concat: tuple[tuple[int, ...], tuple[int, ...]] | None = None
) -> Genotype:
    """Rebuild the genotype of an (unbatched) observation.

    ``concat`` defaults to the nodes flagged "in concat" in ``node_features``.
    """
    feats = np.asarray(obs["node_features"]).reshape(2, -1, NODE_FEATURES)
    steps = feats.shape[1] - 2
    e = 2 * steps
    src = np.asarray(obs["edge_from"]).reshape(2, e)
    ops = np.asarray(obs["edge_ops"]).reshape(2, e)
    dst = edge_targets(steps)
    cells = []
    for c in range(2):
        nodes = concat[c] if concat else tuple(int(i) for i in np.flatnonzero(feats[c, :, 4]))
        edges = tuple((OPS[int(o)], int(s), int(d)) for o, s, d in zip(ops[c], src[c], dst))
        cells.append(Cell(edges, nodes))
    return Genotype(*cells)


def to_pyg_batch(obs: Mapping[str, np.ndarray | torch.Tensor], device: torch.device | str = "cpu"):
    """A torch_geometric ``Batch`` of ``2 * B`` cell graphs from a (batched) observation.

    Graph ``2 * b + c`` is cell ``c`` (0 normal, 1 reduce) of sample ``b``. Attributes: ``x``
    (node features), ``edge_index`` (``from -> to``, offset per graph), ``edge_op`` (current op
    per edge), ``edge_slot`` (edge position 0..E-1 within its cell), ``cell_type`` (per graph),
    ``batch`` and ``ptr``. Edges are ordered sample, cell, edge -- the action order.
    """
    from torch_geometric.data import Batch

    def tensor(key: str, dtype: torch.dtype) -> torch.Tensor:
        return torch.as_tensor(
            np.asarray(obs[key]) if not torch.is_tensor(obs[key]) else obs[key], device=device
        ).to(dtype)

    x = tensor("node_features", torch.float32)
    if x.dim() == 1:
        x = x.unsqueeze(0)
    b, f = x.shape[0], NODE_FEATURES
    n = x.shape[1] // (2 * f)
    e = 2 * (n - 2)
    graphs = 2 * b
    src = tensor("edge_from", torch.long).reshape(graphs, e)
    dst = torch.as_tensor(edge_targets(n - 2), device=device).expand(graphs, e)
    offset = (torch.arange(graphs, device=device) * n).unsqueeze(1)
    edge_index = torch.stack([(src + offset).reshape(-1), (dst + offset).reshape(-1)])
    return Batch(
        x=x.reshape(graphs * n, f),
        edge_index=edge_index,
        edge_op=tensor("edge_ops", torch.long).reshape(-1),
        edge_slot=torch.arange(e, device=device).repeat(graphs),
        cell_type=torch.arange(2, device=device).repeat(b),
        batch=torch.arange(graphs, device=device).repeat_interleave(n),
        ptr=torch.arange(graphs + 1, device=device) * n,
    )

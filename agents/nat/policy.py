"""The NAT policy: a two-layer graph convolutional network over each cell, a per-edge head with
13 logits, and :class:`~agents.nat.bmsoftmax.BMSoftmax` over the targets the rule allows.

The same network scores the normal and the reduce cell (both are graphs in one
``torch_geometric`` batch from :func:`natgym.graph.to_pyg_batch`). Two variants:

``"improved"`` (default)
    Node features (the 18 columns of :func:`natgym.graph.encode`) -> Linear -> two ``GCNConv``
    layers with self-loops and symmetric degree normalisation on the undirected cell graph.
    Each edge's logits come from an MLP over ``[h_from, h_to, emb(own op), emb(position),
    emb(cell type)]``, so every edge sees its own current op and where it sits.
``"faithful"``
    The reference network (docs/method.md section 5): input nodes get a learned 200-d id embedding,
    an intermediate node the concatenation of its two incoming ops' 100-d embeddings; Linear
    200 -> 1024; two graph convolutions 1024 -> 100 -> 100 (ReLU between) over the raw
    adjacency ``A[to, from]`` without self-loops or normalisation; Linear 100 -> 2 * 13 per
    intermediate node gives the logits of its two incoming edges. Without self-loops a node's
    logits never see its own incoming ops -- the reference quirk this variant keeps.

``wiring=True`` adds the source head for ``NAT-Path-v0`` (path-level moves, :mod:`natgym.wiring`):
a masked categorical over each intermediate node's ordered source pair ``(a, b)``, whose logit is
``g(h_j, h_a, slot 0) + g(h_j, h_b, slot 1)`` -- ``g`` an MLP over the node embeddings the GCN
computed (target node ``j``, candidate source), the edge slot and the cell type -- with
``obs["wiring_mask"]`` (required: the env's, or :func:`observe` with ``wiring=True``) masking pairs
exactly as BMSoftmax masks ops. ``forward`` then returns a :class:`~agents.nat.bmsoftmax.Joint` of the op
distribution and the pair distribution, in the env's action order (ops, then pairs).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import nn
from torch_geometric.nn import GCNConv

from agents.nat.bmsoftmax import BMSoftmax, Joint
from natgym.errors import ConfigError
from natgym.genotype import Genotype
from natgym.graph import NODE_FEATURES, encode, to_pyg_batch
from natgym.space import NUM_OPS
from natgym.transitions import TransitionRule, get_rule
from natgym.wiring import mask as wiring_mask
from natgym.wiring import sources

VARIANTS: tuple[str, ...] = ("improved", "faithful")


def observe(
    genotype: Genotype, rule: str | TransitionRule = "natpp", wiring: bool = False
) -> dict[str, np.ndarray]:
    """The env's observation of ``genotype``: :func:`natgym.graph.encode` plus the flat
    ``action_mask`` (``2E * 13``, 1 = allowed) of ``rule``, and with ``wiring`` NAT-Path-v0's
    ``wiring_mask`` (:func:`natgym.wiring.mask`)."""
    obs = encode(genotype)
    obs["action_mask"] = get_rule(rule).mask(obs["edge_ops"]).reshape(-1).astype(np.int8)
    if wiring:
        obs["wiring_mask"] = wiring_mask(genotype).astype(np.int8)
    return obs


def _tensor(value: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
    return torch.as_tensor(value if torch.is_tensor(value) else np.asarray(value)).to(device)


class NATPolicy(nn.Module):
    """GCN + BMSoftmax policy over both cells of a genotype observation.

    ``forward(obs)`` takes an (optionally batched) observation dict -- the :mod:`natgym.graph`
    keys, plus ``action_mask`` if present (otherwise the mask of ``rule`` is computed from
    ``edge_ops``) -- and returns a :class:`BMSoftmax` of shape ``(B, 2E, 13)`` in the env's
    action order (normal edges, then reduce edges); with ``wiring`` a :class:`Joint` of that
    and the source-pair head's ``(B, 2 * steps, S * S)`` distribution (module docstring).
    """

    def __init__(
        self,
        variant: str = "improved",
        hidden: int = 64,
        max_steps: int = 8,
        rule: str | TransitionRule = "natpp",
        wiring: bool = False,
    ) -> None:
        super().__init__()
        if variant not in VARIANTS:
            raise ConfigError(f"variant: unknown policy variant {variant!r}; allowed: {', '.join(VARIANTS)}")
        self.variant = variant
        self.wiring = wiring
        self.max_steps = max_steps
        self.rule = get_rule(rule)
        self.register_buffer("rule_matrix", torch.tensor(self.rule.matrix), persistent=False)
        if variant == "improved":
            self.inp = nn.Linear(NODE_FEATURES, hidden)
            self.conv1 = GCNConv(hidden, hidden)
            self.conv2 = GCNConv(hidden, hidden)
            emb = hidden // 2
            self.op_emb = nn.Embedding(NUM_OPS, emb)
            self.slot_emb = nn.Embedding(2 * max_steps, emb)
            self.cell_emb = nn.Embedding(2, emb)
            self.head = nn.Sequential(
                nn.Linear(2 * hidden + 3 * emb, hidden), nn.ReLU(), nn.Linear(hidden, NUM_OPS)
            )
        else:
            self.op_emb = nn.Embedding(NUM_OPS, 100)
            self.input_emb = nn.Embedding(2, 200)
            self.inp = nn.Linear(200, 1024)
            self.conv1 = GCNConv(1024, 100, add_self_loops=False, normalize=False)
            self.conv2 = GCNConv(100, 100, add_self_loops=False, normalize=False)
            self.head = nn.Linear(100, 2 * NUM_OPS)
        heads = [self.head[-1] if isinstance(self.head, nn.Sequential) else self.head]
        if wiring:
            width = hidden if variant == "improved" else 100
            self.source_slot = nn.Embedding(2 * 2, width)  # per (cell type, edge slot of the node)
            self.source_head = nn.Sequential(nn.Linear(3 * width, hidden), nn.ReLU(), nn.Linear(hidden, 1))
            heads.append(self.source_head[-1])
        for last in heads:  # start close to the uniform valid policy
            nn.init.normal_(last.weight, std=0.01)
            nn.init.zeros_(last.bias)

    @property
    def device(self) -> torch.device:
        """Where the parameters live."""
        return next(self.parameters()).device

    def forward(self, obs: Mapping[str, np.ndarray | torch.Tensor]) -> BMSoftmax:
        device = self.device
        batch = to_pyg_batch(obs, device=device)
        graphs = batch.num_graphs
        n = batch.x.shape[0] // graphs
        steps = n - 2
        e = 2 * steps
        if steps > self.max_steps:
            raise ConfigError(
                f"steps: policy built for at most {self.max_steps} intermediate nodes, got {steps}"
            )
        logits, h = (
            self._improved(batch, graphs, n, e)
            if self.variant == "improved"
            else self._faithful(batch, graphs, n, e)
        )
        logits = logits.reshape(graphs // 2, 2 * e, NUM_OPS)
        ops = BMSoftmax(logits, self._mask(obs, batch.edge_op.reshape(graphs // 2, 2 * e)))
        if not self.wiring:
            return ops
        if "wiring_mask" not in obs:
            raise ConfigError("obs: a wiring policy needs the observation's wiring_mask (NAT-Path-v0)")
        pair_logits = self._pairs(h.reshape(graphs, n, -1), steps)
        pair_mask = _tensor(obs["wiring_mask"], device).reshape(pair_logits.shape).bool()
        return Joint(ops, BMSoftmax(pair_logits, pair_mask))

    def _pairs(self, h: torch.Tensor, steps: int) -> torch.Tensor:
        """``(B, 2 * steps, S * S)`` pair logits from node embeddings ``h`` ``(2B, n, d)``."""
        graphs, s = h.shape[0], sources(steps)
        target = h[:, 2:].unsqueeze(2).unsqueeze(3).expand(-1, -1, 2, s, -1)  # (G, steps, slot, src, d)
        source = h[:, :s].unsqueeze(1).unsqueeze(2).expand(-1, steps, 2, -1, -1)
        cell = torch.arange(graphs, device=h.device) % 2  # graph 2b + c is cell c of sample b
        kind = cell[:, None] * 2 + torch.arange(2, device=h.device)  # (cell type, edge slot)
        slot = self.source_slot(kind)[:, None, :, None, :].expand_as(target)
        score = self.source_head(torch.cat([target, source, slot], dim=-1)).squeeze(-1)  # (G, steps, 2, S)
        pair = score[:, :, 0, :, None] + score[:, :, 1, None, :]  # (G, steps, a, b)
        return pair.reshape(graphs // 2, 2 * steps, s * s)

    def _mask(self, obs: Mapping, edge_ops: torch.Tensor) -> torch.Tensor:
        if "action_mask" in obs:
            return _tensor(obs["action_mask"], self.device).reshape(edge_ops.shape + (NUM_OPS,)).bool()
        return self.rule_matrix[edge_ops]

    def _improved(self, batch, graphs: int, n: int, e: int) -> tuple[torch.Tensor, torch.Tensor]:
        ei = batch.edge_index
        undirected = torch.cat([ei, ei.flip(0)], dim=1)
        h = torch.relu(self.inp(batch.x))
        h = torch.relu(self.conv1(h, undirected))
        h = torch.relu(self.conv2(h, undirected))
        cell = batch.cell_type.repeat_interleave(e)
        feats = torch.cat(
            [
                h[ei[0]],
                h[ei[1]],
                self.op_emb(batch.edge_op),
                self.slot_emb(batch.edge_slot),
                self.cell_emb(cell),
            ],
            dim=-1,
        )
        return self.head(feats), h

    def _faithful(self, batch, graphs: int, n: int, e: int) -> tuple[torch.Tensor, torch.Tensor]:
        ops = self.op_emb(batch.edge_op).reshape(graphs, e // 2, 200)  # two incoming ops per node
        inputs = self.input_emb.weight.unsqueeze(0).expand(graphs, 2, 200)
        x = self.inp(torch.cat([inputs, ops], dim=1).reshape(graphs * n, 200))
        h = torch.relu(self.conv1(x, batch.edge_index))
        h = self.conv2(h, batch.edge_index)
        return self.head(h.reshape(graphs, n, -1)[:, 2:]).reshape(graphs * e, NUM_OPS), h

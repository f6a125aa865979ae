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
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import nn
from torch_geometric.nn import GCNConv

from agents.nat.bmsoftmax import BMSoftmax
from natgym.errors import ConfigError
from natgym.genotype import Genotype
from natgym.graph import NODE_FEATURES, encode, to_pyg_batch
from natgym.space import NUM_OPS
from natgym.transitions import TransitionRule, get_rule

VARIANTS: tuple[str, ...] = ("improved", "faithful")


def observe(genotype: Genotype, rule: str | TransitionRule = "natpp") -> dict[str, np.ndarray]:
    """The env's observation of ``genotype``: :func:`natgym.graph.encode` plus the flat
    ``action_mask`` (``2E * 13``, 1 = allowed) of ``rule``."""
    obs = encode(genotype)
    obs["action_mask"] = get_rule(rule).mask(obs["edge_ops"]).reshape(-1).astype(np.int8)
    return obs


class NATPolicy(nn.Module):
    """GCN + BMSoftmax policy over both cells of a genotype observation.

    ``forward(obs)`` takes an (optionally batched) observation dict -- the :mod:`natgym.graph`
    keys, plus ``action_mask`` if present (otherwise the mask of ``rule`` is computed from
    ``edge_ops``) -- and returns a :class:`BMSoftmax` of shape ``(B, 2E, 13)`` in the env's
    action order (normal edges, then reduce edges).
    """

    def __init__(
        self,
        variant: str = "improved",
        hidden: int = 64,
        max_steps: int = 8,
        rule: str | TransitionRule = "natpp",
    ) -> None:
        super().__init__()
        if variant not in VARIANTS:
            raise ConfigError(f"variant: unknown policy variant {variant!r}; allowed: {', '.join(VARIANTS)}")
        self.variant = variant
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
        last = self.head[-1] if isinstance(self.head, nn.Sequential) else self.head
        nn.init.normal_(last.weight, std=0.01)  # start close to the uniform valid-transition policy
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
        logits = (
            self._improved(batch, graphs, n, e)
            if self.variant == "improved"
            else self._faithful(batch, graphs, n, e)
        )
        logits = logits.reshape(graphs // 2, 2 * e, NUM_OPS)
        return BMSoftmax(logits, self._mask(obs, batch.edge_op.reshape(graphs // 2, 2 * e)))

    def _mask(self, obs: Mapping, edge_ops: torch.Tensor) -> torch.Tensor:
        if "action_mask" in obs:
            mask = torch.as_tensor(
                np.asarray(obs["action_mask"])
                if not torch.is_tensor(obs["action_mask"])
                else obs["action_mask"]
            )
            return mask.to(self.device).reshape(edge_ops.shape + (NUM_OPS,)).bool()
        return self.rule_matrix[edge_ops]

    def _improved(self, batch, graphs: int, n: int, e: int) -> torch.Tensor:
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
        return self.head(feats)

    def _faithful(self, batch, graphs: int, n: int, e: int) -> torch.Tensor:
        ops = self.op_emb(batch.edge_op).reshape(graphs, e // 2, 200)  # two incoming ops per node
        inputs = self.input_emb.weight.unsqueeze(0).expand(graphs, 2, 200)
        x = self.inp(torch.cat([inputs, ops], dim=1).reshape(graphs * n, 200))
        h = torch.relu(self.conv1(x, batch.edge_index))
        h = self.conv2(h, batch.edge_index)
        return self.head(h.reshape(graphs, n, -1)[:, 2:]).reshape(graphs * e, NUM_OPS)

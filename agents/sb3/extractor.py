"""A graph features extractor for SB3's ``MultiInputPolicy`` on natgym observations.

A dense graph convolutional network over the padded observation (no torch_geometric needed, so
it runs batched on any device): node features -> Linear -> ``layers`` GCN layers with
self-loops and symmetric degree normalisation on the undirected cell graph, shared by the
normal and the reduce cell. Every edge then gets an embedding from an MLP over
``[h_from, h_to, one-hot(current op), learned embedding of its slot]``. The features are the
per-edge embeddings in action order (so the policy head can tell the edges apart), the mean
node state of each cell, and every other observation key flattened (``action_mask``, the
sequential env's current-edge marker, ...).

Inputs arrive preprocessed by SB3: ``Box`` keys as floats, ``MultiDiscrete`` keys one-hot and
concatenated (``edge_ops`` as ``2E * 13`` columns; ``edge_from`` as segments of ``2 + k // 2``
columns, decoded back to node indices with a fixed matrix).

Use: ``policy_kwargs=dict(features_extractor_class=GraphFeaturesExtractor,
features_extractor_kwargs=dict(hidden=64, edge_dim=16))``.
"""

from __future__ import annotations

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.preprocessing import get_flattened_obs_dim
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

from natgym import graph
from natgym.errors import ConfigError
from natgym.space import NUM_OPS


class GraphFeaturesExtractor(BaseFeaturesExtractor):
    """Dense GCN features for natgym ``Dict`` observations (see the module docstring).

    ``hidden``: node state width; ``edge_dim``: per-edge embedding width; ``layers``: GCN layers.
    """

    def __init__(
        self, observation_space: spaces.Dict, hidden: int = 64, edge_dim: int = 16, layers: int = 2
    ) -> None:
        missing = [k for k in graph.KEYS if k not in observation_space.spaces]
        if missing:
            raise ConfigError(f"observation_space: missing key(s) {missing}; expected {list(graph.KEYS)}")
        for name, value in (("hidden", hidden), ("edge_dim", edge_dim), ("layers", layers)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name}: expected a positive integer, got {value!r}")
        sp = observation_space.spaces
        e2 = int(sp["edge_ops"].shape[0])
        n, f = e2 // 4 + 2, graph.NODE_FEATURES
        self.extra_keys = tuple(sorted(k for k in sp if k not in graph.KEYS))
        extra = sum(get_flattened_obs_dim(sp[k]) for k in self.extra_keys)
        super().__init__(observation_space, features_dim=e2 * edge_dim + 2 * hidden + extra)
        self.n, self.e = n, e2 // 2
        self.inp = nn.Linear(f, hidden)
        self.convs = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(layers))
        self.slot = nn.Parameter(torch.zeros(2, self.e, hidden // 4 or 1))
        nn.init.normal_(self.slot, std=0.1)
        self.edge_mlp = nn.Sequential(
            nn.Linear(2 * hidden + NUM_OPS + self.slot.shape[-1], hidden),
            nn.ReLU(),
            nn.Linear(hidden, edge_dim),
        )
        # one-hot segments of edge_from -> node index: column j of segment k has weight j
        nvec = np.asarray(sp["edge_from"].nvec, dtype=np.int64)
        decode = torch.zeros(int(nvec.sum()), e2)
        offsets = np.concatenate([[0], np.cumsum(nvec)[:-1]])
        for k, (off, size) in enumerate(zip(offsets, nvec)):
            decode[off : off + size, k] = torch.arange(size, dtype=torch.float32)
        self.register_buffer("from_decode", decode, persistent=False)
        self.register_buffer("edge_to", torch.as_tensor(graph.edge_targets(self.e // 2)), persistent=False)
        self.register_buffer("eye", torch.eye(n), persistent=False)

    def forward(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        b = obs["node_features"].shape[0]
        x = obs["node_features"].float().view(b, 2, self.n, -1)  # (B, 2, N, F)
        adj = obs["adjacency"].float().view(b, 2, self.n, self.n)  # (B, 2, N, N), A[to, from]
        a = adj + adj.transpose(-1, -2) + self.eye
        d = a.sum(-1).rsqrt()
        a_hat = d.unsqueeze(-1) * a * d.unsqueeze(-2)
        h = torch.relu(self.inp(x))
        for conv in self.convs:
            h = torch.relu(a_hat @ conv(h))  # (B, 2, N, H)
        src = (obs["edge_from"].float() @ self.from_decode).round().long().view(b, 2, self.e)
        h_from = torch.gather(h, 2, src.unsqueeze(-1).expand(-1, -1, -1, h.shape[-1]))
        h_to = h[:, :, self.edge_to]
        ops = obs["edge_ops"].float().view(b, 2, self.e, NUM_OPS)
        slot = self.slot.expand(b, -1, -1, -1)
        edges = self.edge_mlp(torch.cat([h_from, h_to, ops, slot], dim=-1))  # (B, 2, E, edge_dim)
        parts = [edges.flatten(1), h.mean(2).flatten(1)]
        parts += [obs[k].float().flatten(1) for k in self.extra_keys]
        return torch.cat(parts, dim=1)

"""Graph encoding: arrays fit the space, decode inverts encode, PyG batches line up."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from natgym import graph, zoo


@pytest.mark.parametrize("name", zoo.names())
def test_encode_fits_space_and_decodes(name):
    g = zoo.get(name)
    obs = graph.encode(g)
    assert graph.observation_space(g.steps).contains(obs)
    assert graph.decode(obs) == g
    n, e = graph.sizes(g.steps)
    assert obs["adjacency"].sum() == 2 * e  # every edge counted once per cell
    feats = obs["node_features"].reshape(2, n, -1)
    assert all(v.ndim == 1 for v in obs.values())  # flat vectors, as SB3 recommends
    assert (feats[:, 2:, 5:].sum(axis=-1) == 2).all()  # two incoming ops per node
    assert feats[1, :, 3].all() and not feats[0, :, 3].any()


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10**6), st.sampled_from([4, 5]), st.integers(1, 4))
def test_pyg_batch_matches_genotypes(seed, steps, batch):
    gs = [zoo.sample(seed + i, steps=steps) for i in range(batch)]
    obs = {k: np.stack([graph.encode(g)[k] for g in gs]) for k in graph.KEYS}
    b = graph.to_pyg_batch(obs)
    n, e = graph.sizes(steps)
    assert b.num_graphs == 2 * batch and b.x.shape == (2 * batch * n, graph.NODE_FEATURES)
    edges = [edge for g in gs for cell in g.cells for edge in cell.edges]
    src, dst = b.edge_index.numpy()
    graph_of_edge = np.repeat(np.arange(2 * batch), e)
    assert (src - graph_of_edge * n == [s for _, s, _ in edges]).all()
    assert (dst - graph_of_edge * n == [d for _, _, d in edges]).all()
    assert (b.edge_op.numpy() == obs["edge_ops"].reshape(-1)).all()
    assert (b.batch[src] == b.batch[dst]).all()  # edges never cross graphs

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from natgym import zoo
from natgym.cost import layout, network_cost, stage_depths
from natgym.errors import ConfigError
from natgym.genotype import Cell, Genotype
from natgym.network import Network, NetworkCell, count_params
from natgym.ops import Identity


@pytest.mark.parametrize("name", zoo.names())
def test_params_equal_cost_model_small(name):
    g = zoo.get(name)
    net = Network(g, channels=6, layers=5, num_classes=7, in_channels=1, image_size=8, auxiliary=True)
    assert count_params(net) == network_cost(g, 6, 5, image_size=8, num_classes=7, in_channels=1).params
    assert count_params(net, include_auxiliary=True) > count_params(net)


@pytest.mark.parametrize("name", zoo.names())
def test_params_equal_cost_model_cifar_reference(name):
    g = zoo.get(name)
    assert count_params(Network(g)) == network_cost(g).params


def test_darts_reference_size():
    assert count_params(Network(zoo.get("DARTS"), auxiliary=True), include_auxiliary=True) > 3_349_342
    assert count_params(Network(zoo.get("DARTS"))) == 3_349_342


@pytest.mark.parametrize("image_size", [8, 32])
def test_forward_shapes_and_auxiliary(image_size):
    net = Network(zoo.get("ENAS"), channels=4, layers=3, num_classes=5, image_size=image_size, auxiliary=True)
    x = torch.randn(2, 3, image_size, image_size)
    logits, aux = net(x)
    assert logits.shape == (2, 5) and aux.shape == (2, 5)
    net.eval()
    logits, aux = net(x)
    assert logits.shape == (2, 5) and aux is None


def _mixed_cell() -> Cell:
    # node 2 = skip(0) + skip(1) (identity edges only); nodes 3..5 use parametric ops
    edges = [
        ("skip_connect", 0, 2),
        ("skip_connect", 1, 2),
        ("sep_conv_3x3", 0, 3),
        ("conv_1x1", 2, 3),
        ("skip_connect", 2, 4),
        ("dil_conv_3x3", 3, 4),
        ("avg_pool_3x3", 1, 5),
        ("conv_3x3", 4, 5),
    ]
    return Cell(tuple(edges), (2, 3, 4, 5))


def test_drop_path_leaves_identity_edges_untouched():
    torch.manual_seed(0)
    c = 4
    cell = NetworkCell(_mixed_cell(), c, c, c, reduction=False, reduction_prev=False).train()
    assert sum(isinstance(op, Identity) for op in cell.ops) == 3
    s0, s1 = torch.randn(16, c, 6, 6), torch.randn(16, c, 6, 6)
    clean = cell(s0, s1, drop_prob=0.0)
    dropped = cell(s0, s1, drop_prob=0.5)
    # node 2 is the sum of two identity edges: never dropped
    torch.testing.assert_close(dropped[:, :c], clean[:, :c])
    # node 3 has only non-identity edges: drop-path changes it
    assert not torch.allclose(dropped[:, c : 2 * c], clean[:, c : 2 * c])
    # evaluation mode ignores drop-path entirely
    cell.eval()
    torch.testing.assert_close(cell(s0, s1, drop_prob=0.5), cell(s0, s1, drop_prob=0.0))


def test_drop_path_applies_to_strided_skip():
    cell = Cell((("skip_connect", 0, 2), ("skip_connect", 1, 2)), (2,))
    net_cell = NetworkCell(cell, 4, 4, 4, reduction=True, reduction_prev=False).train()
    assert not any(isinstance(op, Identity) for op in net_cell.ops)  # FactorizedReduce at stride 2
    s = torch.randn(16, 4, 8, 8)
    torch.manual_seed(1)
    assert not torch.allclose(net_cell(s, s, 0.5), net_cell(s, s, 0.0))


def test_dead_nodes_and_loose_ends_run():
    g = Genotype(
        Cell((("null", 0, 2), ("null", 1, 2), ("conv_3x3", 2, 3), ("max_pool_3x3", 1, 3)), (3,)),
        Cell((("skip_connect", 0, 2), ("null", 1, 2), ("sep_conv_5x5", 1, 3), ("null", 0, 3)), (2, 3)),
    )
    net = Network(g, channels=4, layers=4, image_size=8, in_channels=1)
    assert count_params(net) == network_cost(g, 4, 4, image_size=8, in_channels=1).params
    logits, _ = net(torch.randn(3, 1, 8, 8))
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize(
    "kwargs,field",
    [({"channels": 5}, "channels"), ({"layers": 0}, "layers"), ({"image_size": 0}, "image_size")],
)
def test_bad_config(kwargs, field):
    with pytest.raises(ConfigError, match=field):
        Network(zoo.get("DARTS"), **kwargs)


@pytest.mark.parametrize("layers", [3, 5, 8, 14, 20])
def test_stage_depths_round_trip_to_the_usual_layout(layers):
    depths = stage_depths(layers)
    assert layout(depths=depths) == layout(layers)
    g = zoo.get("DARTS")
    assert network_cost(g, 8, depths=depths) == network_cost(g, 8, layers)
    assert stage_depths(20) == (6, 6, 6)


@given(
    st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 3)),
    st.integers(0, 500),
    st.sampled_from([8, 14]),
)
@settings(max_examples=25, deadline=None)
def test_params_equal_cost_model_for_any_stage_depths(depths, seed, size):
    g = zoo.sample(seed)
    net = Network(g, channels=4, num_classes=10, in_channels=1, image_size=size, depths=depths)
    assert len(net.cells) == sum(depths) + 2
    assert (
        count_params(net)
        == network_cost(g, 4, image_size=size, num_classes=10, in_channels=1, depths=depths).params
    )
    logits, _ = net.eval()(torch.zeros(2, 1, size, size))
    assert logits.shape == (2, 10)


def test_bad_depths_are_refused():
    for bad in [(1, 2), (1, -1, 2), (1.5, 1, 1), "abc"]:
        with pytest.raises(ConfigError, match="depths"):
            layout(depths=bad)
    with pytest.raises(ConfigError, match="layers: 1 cells"):
        stage_depths(1)

"""Cost model: docs/method.md section 3 numbers and the DARTS network anchor."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from natgym import zoo
from natgym.cost import network_cost, op_cost
from natgym.space import OPS
from natgym.transitions import NATPP

# docs/method.md section 3: MAdds (M) / params (K) at C=128, 32x32, stride 1.
SPEC_COSTS = {
    "conv_5x5": (419.4, 409.6), "conv_3x3": (151.0, 147.5), "sep_conv_5x5": (40.1, 39.2),
    "sep_conv_3x3": (35.9, 35.1), "dil_conv_5x5": (20.1, 19.6), "dil_conv_3x3": (18.0, 17.5),
    "conv_1x1": (16.8, 16.4), "max_pool_5x5": (3.3, 0), "avg_pool_5x5": (3.3, 0),
    "max_pool_3x3": (1.2, 0), "avg_pool_3x3": (1.2, 0), "skip_connect": (0.1, 0), "null": (0, 0),
}  # fmt: skip


@pytest.mark.parametrize("op", OPS)
def test_op_cost_matches_spec(op):
    c = op_cost(op, 128, 32, 32)
    madds, params = SPEC_COSTS[op]
    assert c.madds / 1e6 == pytest.approx(madds, abs=0.051)
    assert c.params / 1e3 == pytest.approx(params, abs=0.051)


def test_stride_two_costs():
    # FactorizedReduce skip costs as much as a 1x1 conv; MAdds counted on the halved map.
    assert op_cost("skip_connect", 64, 16, 16, stride=2) == op_cost("conv_1x1", 64, 16, 16, stride=2)
    assert op_cost("conv_3x3", 64, 16, 16, stride=2).madds * 4 == op_cost("conv_3x3", 64, 16, 16).madds
    assert op_cost("null", 64, 16, 16, stride=2).madds == 0
    with pytest.raises(ValueError, match="stride"):
        op_cost("conv_3x3", 64, 16, 16, stride=3)


def test_darts_network_params_anchor():
    c = network_cost(zoo.get("DARTS"))
    assert c.params == pytest.approx(3.35e6, rel=0.01)
    assert 4e8 < c.madds < 6e8


@given(
    st.sampled_from(OPS),
    st.data(),
    st.sampled_from([8, 16, 36, 128]),
    st.sampled_from([4, 8, 32]),
)
def test_allowed_transitions_never_raise_madds_at_stride_one(src, data, c, hw):
    dst = data.draw(st.sampled_from(NATPP.allowed(src)))
    before, after = op_cost(src, c, hw, hw), op_cost(dst, c, hw, hw)
    if (src, dst) == ("null", "skip_connect"):
        assert after.madds > before.madds  # the one documented exception
    else:
        assert after.madds <= before.madds and after.params <= before.params

"""Primitives and transition rules: exhaustive over the 13 ops."""

import numpy as np
import pytest

import natgym
from natgym.errors import ConfigError, GenotypeError
from natgym.space import FAMILIES, OPS, PRIMITIVES
from natgym.transitions import NAT, NATPP, get_rule

# docs/method.md section 2, verbatim.
SPEC_TABLE = {
    "conv_5x5": "conv_5x5 conv_3x3 conv_1x1 sep_conv_5x5 sep_conv_3x3 dil_conv_5x5 dil_conv_3x3 "
    "max_pool_5x5 max_pool_3x3 avg_pool_5x5 avg_pool_3x3 skip_connect null",
    "conv_3x3": "conv_3x3 conv_1x1 sep_conv_3x3 dil_conv_3x3 max_pool_3x3 avg_pool_3x3 skip_connect null",
    "conv_1x1": "conv_1x1 skip_connect null",
    "sep_conv_5x5": "sep_conv_5x5 sep_conv_3x3 dil_conv_5x5 dil_conv_3x3 max_pool_5x5 max_pool_3x3 "
    "avg_pool_5x5 avg_pool_3x3 skip_connect null",
    "sep_conv_3x3": "sep_conv_3x3 dil_conv_3x3 max_pool_3x3 avg_pool_3x3 skip_connect null",
    "dil_conv_5x5": "dil_conv_5x5 dil_conv_3x3 max_pool_5x5 max_pool_3x3 avg_pool_5x5 avg_pool_3x3 "
    "skip_connect null",
    "dil_conv_3x3": "dil_conv_3x3 max_pool_3x3 avg_pool_3x3 skip_connect null",
    "avg_pool_5x5": "avg_pool_5x5 avg_pool_3x3 max_pool_5x5 max_pool_3x3 skip_connect null",
    "avg_pool_3x3": "avg_pool_3x3 max_pool_3x3 skip_connect null",
    "max_pool_5x5": "max_pool_5x5 max_pool_3x3 avg_pool_5x5 avg_pool_3x3 skip_connect null",
    "max_pool_3x3": "max_pool_3x3 avg_pool_3x3 skip_connect null",
    "skip_connect": "skip_connect null",
    "null": "skip_connect null",
}


def test_ops_in_reference_order():
    assert natgym.OPS == (
        "max_pool_3x3", "max_pool_5x5", "avg_pool_3x3", "avg_pool_5x5", "skip_connect",
        "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5",
        "conv_1x1", "conv_3x3", "conv_5x5", "null",
    )  # fmt: skip
    families = {p.name: (p.family, p.kernel) for p in PRIMITIVES}
    assert families["dil_conv_5x5"] == ("dil_conv", 5)
    assert families["avg_pool_3x3"] == ("pool", 3)
    assert families["conv_1x1"] == ("conv", 1)
    assert families["skip_connect"] == ("skip", 0) and families["null"] == ("null", 0)
    assert {p.family for p in PRIMITIVES} == set(FAMILIES)


@pytest.mark.parametrize("op", OPS)
def test_natpp_equals_spec_table(op):
    assert set(NATPP.allowed(op)) == set(SPEC_TABLE[op].split())
    assert len(NATPP.allowed(op)) == len(SPEC_TABLE[op].split())
    assert NATPP.matrix[OPS.index(op)].sum() == len(SPEC_TABLE[op].split())


@pytest.mark.parametrize("op", OPS)
def test_nat_rule(op):
    assert set(NAT.allowed(op)) == {op, "skip_connect", "null"}


def test_rules_are_read_only_and_consistent():
    for rule in (NAT, NATPP):
        assert rule.matrix.shape == (13, 13) and rule.matrix.dtype == bool
        assert rule.matrix.diagonal().all()
        with pytest.raises(ValueError):
            rule.matrix[0, 0] = False
        ops = np.array([[0, 12], [5, 11]])
        assert rule.mask(ops).shape == (2, 2, 13)
        assert (rule.mask(ops)[1, 0] == rule.matrix[5]).all()
    assert (NAT.matrix <= NATPP.matrix).all()  # NAT++ only adds moves


def test_rule_lookup_and_errors():
    assert get_rule("NATPP") is NATPP and get_rule(NAT) is NAT
    with pytest.raises(ConfigError, match="rule: .*natpp, nat"):
        get_rule("bogus")
    with pytest.raises(GenotypeError, match="unknown operation 'conv_7x7'.*allowed: max_pool_3x3"):
        NATPP.allowed("conv_7x7")
    assert NATPP.is_allowed("conv_5x5", "avg_pool_3x3")
    assert not NATPP.is_allowed("avg_pool_3x3", "conv_3x3")

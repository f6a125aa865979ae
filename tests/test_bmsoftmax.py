"""BMSoftmax: masked ops get exactly zero probability and zero gradient."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.nat.bmsoftmax import BMSoftmax
from natgym.space import NUM_OPS
from natgym.transitions import NAT, NATPP


@pytest.mark.parametrize("rule", [NATPP, NAT], ids=lambda r: r.name)
def test_zero_probability_on_every_masked_op_for_every_current_op(rule):
    torch.manual_seed(0)
    mask = torch.tensor(rule.matrix)  # row o = mask of current op o
    logits = torch.randn(NUM_OPS, NUM_OPS) * 5
    dist = BMSoftmax(logits, mask)
    assert (dist.probs[~mask] == 0).all()
    assert (dist.probs[mask] > 0).all()
    torch.testing.assert_close(dist.probs.sum(-1), torch.ones(NUM_OPS))
    samples = torch.stack([dist.sample() for _ in range(200)])
    assert mask.gather(1, samples.T).all()
    assert torch.isneginf(dist.logits[~mask]).all()


def test_matches_softmax_over_valid_ops_and_entropy_over_valid_ops():
    logits = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    mask = torch.tensor([[True, False, True, False]])
    dist = BMSoftmax(logits, mask)
    ref = torch.softmax(torch.tensor([1.0, 3.0]), 0)
    torch.testing.assert_close(dist.probs[0, [0, 2]], ref)
    torch.testing.assert_close(dist.entropy()[0], -(ref * ref.log()).sum())
    torch.testing.assert_close(dist.log_prob(torch.tensor([2]))[0], ref[1].log())
    assert dist.mode().item() == 2


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_no_gradient_into_masked_logits(seed):
    rng = np.random.default_rng(seed)
    ops = torch.as_tensor(rng.integers(0, NUM_OPS, size=8))
    mask = torch.as_tensor(NATPP.mask(ops.numpy()))
    logits = torch.as_tensor(rng.normal(size=(8, NUM_OPS)) * 3, dtype=torch.float32).requires_grad_()
    dist = BMSoftmax(logits, mask)
    actions = dist.sample()
    loss = -(dist.log_prob(actions).sum() * 0.7) - 0.003 * dist.entropy().sum() + dist.probs.pow(2).sum()
    loss.backward()
    assert torch.isfinite(logits.grad).all()
    assert (logits.grad[~mask] == 0).all()
    assert (logits.grad[mask] != 0).any()


def test_bad_mask_raises():
    with pytest.raises(ValueError, match="mask"):
        BMSoftmax(torch.zeros(2, 3), torch.zeros(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="mask"):
        BMSoftmax(torch.zeros(2, 3), torch.tensor([[True, False, False], [False, False, False]]))

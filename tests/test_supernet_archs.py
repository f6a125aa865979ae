"""The supernet's training-architecture distribution (TrainConfig.archs / random_concat)."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from natgym import zoo
from natgym.errors import ConfigError
from natgym.space import NULL, OP_INDEX
from natgym.supernet.train import FORMAT, default_config, sample_training_arch
from natgym.transitions import NATPP

SKIP = OP_INDEX["skip_connect"]


def _draw(config, n=200, seed=0):
    rng = np.random.default_rng(seed)
    return [sample_training_arch(config, rng) for _ in range(n)]


def test_inputs_mode_is_the_uniform_input_sampler():
    config = default_config("digits")
    rng = np.random.default_rng(3)
    assert _draw(config, 20, 3) == [zoo.sample(rng, 4) for _ in range(20)]


def test_mixed_mode_trains_null_and_skip_heavy_transformations():
    inputs = _draw(default_config("digits"))
    mixed = _draw(default_config("digits", archs="mixed"))

    def nulls(gs):
        return sum(int((c.op_indices == NULL).sum()) for g in gs for c in g.cells)

    def skips(gs):
        return np.mean([(c.op_indices == SKIP).mean() for g in gs for c in g.cells])

    assert nulls(inputs) == 0
    assert nulls(mixed) > 50
    assert skips(mixed) > skips(inputs) + 0.05
    assert any(c.dead_nodes() for g in mixed for c in g.cells)
    assert all(c.concat == (2, 3, 4, 5) for g in mixed for c in g.cells)


def test_mixed_transformations_follow_the_natpp_rule():
    config = default_config("digits", archs="mixed", input_prob=0.0)
    changed = 0
    for seed in range(30):
        source = zoo.sample(np.random.default_rng(seed), 4)  # the input drawn first from the same seed
        out = sample_training_arch(config, np.random.default_rng(seed))
        for cell_in, cell_out in zip(source.cells, out.cells):
            assert [e[1:] for e in cell_in.edges] == [e[1:] for e in cell_out.edges]
            assert NATPP.mask(cell_in.op_indices)[np.arange(8), cell_out.op_indices].all()
            changed += int((cell_in.op_indices != cell_out.op_indices).sum())
    assert changed > 100


def test_random_concat_draws_non_empty_subsets():
    archs = _draw(default_config("digits", random_concat=True))
    concats = {c.concat for g in archs for c in g.cells}
    assert all(c and set(c) <= {2, 3, 4, 5} for c in concats)
    assert (5,) in concats and len(concats) > 8


def test_new_fields_at_defaults_keep_the_cache_key():
    config = default_config("digits")
    data = {k: v for k, v in config.to_dict().items() if k not in ("archs", "input_prob", "random_concat")}
    data["net"] = {k: v for k, v in data["net"].items() if k != "pool_norm"}  # as format 1 wrote it
    old = hashlib.sha256(json.dumps({"format": FORMAT, **data}, sort_keys=True).encode()).hexdigest()[:12]
    assert config.key() == old
    assert default_config("digits", archs="mixed").key() != old
    assert default_config("digits", random_concat=True).key() != old
    assert default_config("digits", net={**config.net.to_dict(), "pool_norm": True}).key() != old


@pytest.mark.parametrize("overrides", [{"archs": "all"}, {"input_prob": 1.5}])
def test_bad_options_raise(overrides):
    with pytest.raises(ConfigError, match=next(iter(overrides))):
        default_config("digits", **overrides)

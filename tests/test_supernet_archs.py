"""The supernet's training-architecture distribution (TrainConfig.archs / random_concat)."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from natgym import zoo
from natgym.errors import ConfigError
from natgym.space import NULL, OP_INDEX
from natgym.supernet.train import FORMAT, SUPERNET_VERSION, default_config, sample_training_arch
from natgym.transitions import NATPP

SKIP = OP_INDEX["skip_connect"]


def _draw(config, n=200, seed=0):
    rng = np.random.default_rng(seed)
    return [sample_training_arch(config, rng) for _ in range(n)]


def test_inputs_mode_is_the_uniform_input_sampler():
    config = default_config("digits", random_concat=False)
    rng = np.random.default_rng(3)
    assert _draw(config, 20, 3) == [zoo.sample(rng, 4) for _ in range(20)]


def test_mixed_mode_trains_null_and_skip_heavy_transformations():
    inputs = _draw(default_config("digits", random_concat=False))
    mixed = _draw(default_config("digits", archs="mixed", random_concat=False))

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
    net = {**default_config("digits").net.to_dict(), "pool_norm": False}
    config = default_config("digits", net=net, random_concat=False)
    data = {
        k: v
        for k, v in config.to_dict().items()
        if k not in ("archs", "input_prob", "random_concat", "image_size", "elastic_depth")
    }
    data["net"] = {k: v for k, v in data["net"].items() if k != "pool_norm"}  # as format 1 wrote it
    text = json.dumps({"format": FORMAT, "version": SUPERNET_VERSION, **data}, sort_keys=True)
    assert config.key() == hashlib.sha256(text.encode()).hexdigest()[:12]
    assert default_config("digits", archs="mixed").key() != config.key()
    assert (
        default_config("fashion", preset="fashion-depth").key()
        != default_config("fashion", preset="fashion-depth", elastic_depth=False).key()
    )


def test_the_cache_key_changes_with_the_supernet_version(tmp_path, monkeypatch):
    """A supernet cached by an older natgym is not loaded: the version is part of the file name."""
    from natgym.supernet import train as train_module

    config = default_config("synthetic", epochs=1)
    monkeypatch.setattr(train_module, "SUPERNET_VERSION", 1)
    old_name = config.filename()
    monkeypatch.setattr(train_module, "SUPERNET_VERSION", 2)
    assert config.filename() != old_name
    monkeypatch.setenv("NATGYM_CACHE", str(tmp_path))
    (tmp_path / "supernets").mkdir()
    (tmp_path / "supernets" / old_name).write_bytes(b"an old supernet")
    path = train_module.cached_supernet(config, "cpu", progress=False)
    assert path.name == config.filename() and path.read_bytes() != b"an old supernet"


def test_digits_default_is_the_measured_recipe():
    config = default_config("digits")
    assert config.net.pool_norm and config.random_concat and config.archs == "inputs"


@pytest.mark.parametrize("overrides", [{"archs": "all"}, {"input_prob": 1.5}])
def test_bad_options_raise(overrides):
    with pytest.raises(ConfigError, match=next(iter(overrides))):
        default_config("digits", **overrides)

"""Supernet evaluator: determinism, batching, cache, co-training, modes, factory, ranking."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from natgym import zoo
from natgym.data import load_dataset
from natgym.errors import ConfigError, GenotypeError
from natgym.reward import FunctionEvaluator, SupernetEvaluator, ranking_check
from natgym.spec import EvaluatorSpec
from natgym.supernet import Supernet, SupernetConfig
from natgym.supernet.train import default_config, train_supernet

TINY = SupernetConfig(channels=4, layers=3, steps=4, in_channels=1, num_classes=10)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def _evaluator(data, **kwargs) -> SupernetEvaluator:
    torch.manual_seed(0)
    config = default_config("digits", net=TINY.to_dict())
    return SupernetEvaluator(Supernet(TINY), data, config, device="cpu", **kwargs)


def test_fixed_mode_is_deterministic(digits):
    gs = [zoo.sample(i) for i in range(5)]
    a = _evaluator(digits)
    first = a.accuracy(gs)
    a._cache.clear()
    assert np.array_equal(first, a.accuracy(gs))
    assert np.array_equal(first, _evaluator(digits).accuracy(gs))
    assert a.deterministic and first.dtype == np.float64 and ((first >= 0) & (first <= 1)).all()
    assert a.steps == 4 and a.dataset == "digits"


def test_batch_composition_independence(digits):
    ev = _evaluator(digits)
    gs = [zoo.sample(i) for i in range(6)]
    together = ev.accuracy(gs)
    ev._cache.clear()
    alone = np.array([ev.accuracy([g])[0] for g in gs])
    ev._cache.clear()
    reordered = ev.accuracy(gs[::-1])[::-1]
    assert np.array_equal(together, alone) and np.array_equal(together, reordered)


def test_cache_hits_cost_nothing(digits):
    ev = _evaluator(digits)
    gs = [zoo.sample(i) for i in range(3)]
    first = ev.accuracy(gs + [gs[0]])
    assert ev.queries == 4 and ev.evaluations == 3 and first[0] == first[3]
    again = ev.accuracy(gs)
    assert ev.queries == 7 and ev.evaluations == 3
    assert np.array_equal(again, first[:3])


def test_reward_is_after_minus_before_on_the_same_images(digits):
    ev = _evaluator(digits, mode="minibatch", seed=3)
    assert not ev.deterministic
    gs = [zoo.sample(i) for i in range(4)]
    assert np.array_equal(ev.reward(gs, gs), np.zeros(4))  # same images for before and after
    r = ev.reward(gs[:2], gs[2:])
    assert r.shape == (2,)
    with pytest.raises(ValueError, match="after"):
        ev.reward(gs[:2], gs[:1])


def test_minibatch_mode_draws_new_images_each_call(digits):
    ev = _evaluator(digits, mode="minibatch", batch_size=16)
    g = zoo.sample(0)
    values = {float(ev.accuracy([g])[0]) for _ in range(8)}
    assert len(values) > 1 and ev.evaluations == 8


def test_cotrain_bumps_version_and_invalidates_cache(digits):
    ev = _evaluator(digits, cotrain=True, cotrain_steps=2)
    assert not ev.deterministic
    g = zoo.sample(0)
    weights = ev.model.stem[0].weight.detach().clone()
    ev.accuracy([g])  # one query: half a reward, no training yet
    assert ev.version == 0
    ev.accuracy([g])
    assert ev.version == 1 and ev.evaluations == 1  # the second query hit the cache
    assert not torch.equal(weights, ev.model.stem[0].weight)
    ev.accuracy([g, g])
    assert ev.evaluations == 2 and ev.version == 2  # the stale entry was not reused


def test_cotrain_steps_follow_rewards_not_callers(digits):
    """One call with 4 rewards trains as much as 4 calls with one reward each (N envs sharing
    an evaluator vs one vector env of N)."""
    pairs = [zoo.sample(i) for i in range(8)]
    batched, separate = (_evaluator(digits, cotrain=True, cotrain_every=2) for _ in range(2))
    batched.accuracy(pairs)
    for i in range(0, 8, 2):
        separate.accuracy(pairs[i : i + 2])
    assert batched.version == 1 and separate.version == 2  # one block of 2 steps vs two of 1
    assert batched._get_trainer().steps_done == separate._get_trainer().steps_done == 2


def test_train_weights_and_state_dict_roundtrip(digits):
    a = _evaluator(digits)
    a.train_weights(3)
    assert a.version == 1
    state = a.state_dict()
    gs = [zoo.sample(i) for i in range(3)]
    a.train_weights(2)
    after_a = a.accuracy(gs)
    b = _evaluator(digits)
    b.load_state_dict(state)
    b.train_weights(2)
    assert np.array_equal(after_a, b.accuracy(gs))
    with pytest.raises(ConfigError, match="steps"):
        a.train_weights(-1)


def test_bad_arguments(digits):
    with pytest.raises(ConfigError, match="mode.*fixed, minibatch"):
        _evaluator(digits, mode="random")
    with pytest.raises(ConfigError, match="batch_size"):
        _evaluator(digits, batch_size=10_000)
    ev = _evaluator(digits)
    with pytest.raises(GenotypeError, match="steps"):
        ev.accuracy([zoo.sample(0, steps=5)])
    with pytest.raises(ConfigError, match="split"):
        ev.accuracy_on([zoo.sample(0)], "val")
    assert FunctionEvaluator(lambda g: 0.5).accuracy([zoo.sample(0)]).tolist() == [0.5]


def test_max_genotypes_chunks_give_the_same_numbers(digits):
    gs = [zoo.sample(i) for i in range(5)]
    assert np.array_equal(_evaluator(digits).accuracy(gs), _evaluator(digits, max_genotypes=2).accuracy(gs))


@pytest.mark.parametrize("count", [1, 2, 7])
def test_worker_threads_give_the_same_numbers_and_pickle(digits, count):
    import pickle

    gs = [zoo.sample(i) for i in range(count)]
    threaded = _evaluator(digits, threads=2)
    assert np.array_equal(_evaluator(digits).accuracy(gs), threaded.accuracy(gs))
    copy = pickle.loads(pickle.dumps(threaded))
    copy._cache.clear()
    assert np.array_equal(copy.accuracy(gs), threaded.accuracy(gs))
    with pytest.raises(ConfigError, match="threads"):
        _evaluator(digits, threads=0)


def test_spec_builds_from_checkpoint(tmp_path, digits):
    config = default_config("digits", epochs=1, net=TINY.to_dict())
    path = train_supernet(config, tmp_path / "s.pt", "cpu", data=digits, progress=False)
    ev = EvaluatorSpec(supernet=path, device="cpu").build(progress=False)
    assert isinstance(ev, SupernetEvaluator) and ev.device.type == "cpu" and ev.steps == 4
    with pytest.warns(UserWarning, match="digits"):
        ev = EvaluatorSpec("synthetic", supernet=path, device="cpu").build()
    assert ev.dataset == "digits" and ev.spec.dataset == "digits"
    with pytest.raises(ConfigError, match="mode"):
        EvaluatorSpec(supernet=path, mode="paper")


def test_spec_trains_into_the_cache_once(tmp_path, monkeypatch):
    monkeypatch.setenv("NATGYM_CACHE", str(tmp_path))
    ev = EvaluatorSpec("synthetic", device="cpu", seed=0, batch_size=16).build(progress=False)
    files = list((tmp_path / "supernets").glob("*.pt"))
    assert len(files) == 1 and ev.dataset == "synthetic"


@pytest.mark.slow
def test_training_until_convs_learn_ranks_null_at_chance_and_spreads(digits):
    """A real training run of the digits preset, stopped by a criterion rather than a fixed
    budget (float rounding differs between CPUs, so a fixed budget ends at different points):
    train until all-conv_3x3 cells score at least 0.5 on the policy split (chance is 0.1). Then
    the all-null pair -- whose output does not depend on the image -- predicts one class for
    every image, so it can score no more than that class's share; and random architectures
    spread over more than twice the evaluation noise."""
    from natgym.supernet.train import Trainer

    config = default_config("digits")
    torch.manual_seed(0)
    model = Supernet(config.net).to(memory_format=torch.channels_last)
    trainer = Trainer(model, digits, config, torch.device("cpu"))
    evaluator = SupernetEvaluator(model, digits, config, device="cpu")
    for epoch in range(1, 121):
        trainer.epoch()
        if epoch % 5 == 0:
            report = ranking_check(evaluator, samples=12, repeats=6)
            if report["conv"] >= 0.5:
                break
    assert report["conv"] >= 0.5, f"all-conv cells still at {report['conv']:.3f} after {epoch} epochs"
    largest_class = np.bincount(digits.policy.labels.numpy()).max() / len(digits.policy)
    assert report["null"] <= largest_class + 1e-9
    assert report["random_max"] - report["random_min"] > 2 * report["noise_std"]


def test_accuracy_on_a_limit_scores_the_first_images_of_the_split(digits):
    ev = _evaluator(digits)
    gs = [zoo.get("DARTS"), zoo.sample(1)]
    first = ev.accuracy_on(gs, "policy", limit=100)
    images, labels = ev._to_device(digits.policy.images[:100]), digits.policy.labels[:100]
    b = ev.batch_size  # scored in batches of batch_size, weighted by their sizes
    parts = [
        ev._score(gs, images[i : i + b], labels[i : i + b]) * len(labels[i : i + b]) for i in range(0, 100, b)
    ]
    assert np.allclose(first, sum(parts) / 100)
    assert np.allclose(ev.accuracy_on(gs, "policy", limit=10**6), ev.accuracy_on(gs, "policy"))
    with pytest.raises(ConfigError, match="limit: expected a positive number"):
        ev.accuracy_on(gs, "policy", limit=0)

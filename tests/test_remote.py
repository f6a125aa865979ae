"""Reward actors on Ray give the in-process evaluator's rewards, episode by episode."""

from __future__ import annotations

import pickle

import gymnasium as gym
import numpy as np
import pytest

import natgym  # noqa: F401  (registers the ids)
from natgym import zoo
from natgym.errors import ConfigError
from natgym.spec import EvaluatorSpec

ray = pytest.importorskip("ray")


@pytest.mark.slow
def test_reward_actors_match_the_in_process_evaluator(tmp_path, monkeypatch):
    from natgym.remote import RemoteEvaluator

    monkeypatch.setenv("NATGYM_CACHE", str(tmp_path))
    spec = EvaluatorSpec("synthetic", device="cpu", batch_size=16)
    local = gym.make("NAT-Cell-v0", reward=spec)  # trains the supernet into the cache first
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        remote = RemoteEvaluator(spec, actors=2)
        served = gym.make(
            "NAT-Cell-v0", reward=pickle.loads(pickle.dumps(remote))
        )  # as another process would
        for seed in range(6):  # consecutive episodes alternate between the two actors
            rewards = []
            for env in (local, served):
                _, info = env.reset(seed=seed)
                env.action_space.seed(seed)
                _, reward, _, _, info = env.step(env.action_space.sample(mask=info["action_mask"]))
                rewards.append((reward, info["genotype_after"]))
            assert rewards[0] == rewards[1]
        assert served.unwrapped.evaluator.queries == 12
        batch = [zoo.sample(i) for i in range(5)]
        np.testing.assert_array_equal(remote.accuracy(batch), local.unwrapped.evaluator.accuracy(batch))
        with pytest.raises(ConfigError, match="^actors: "):
            RemoteEvaluator(spec.replace(cotrain=True), actors=2)
    finally:
        ray.shutdown()

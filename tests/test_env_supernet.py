"""NAT-Cell-v0 on a real (tiny) supernet evaluator: rewards, determinism, batching, checkers."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch
from env_toys import sb3_check_env_warnings
from gymnasium.utils.env_checker import check_env, data_equivalence
from gymnasium.vector import AutoresetMode

import natgym  # noqa: F401  (registers the ids)
from natgym.data import load_dataset
from natgym.errors import ConfigError
from natgym.genotype import Genotype
from natgym.reward import SupernetEvaluator
from natgym.spec import EvaluatorPool, EvaluatorSpec
from natgym.supernet import Supernet, SupernetConfig


def tiny_evaluator(mode: str = "fixed", cotrain: bool = False) -> SupernetEvaluator:
    """An untrained 4-channel, 3-cell supernet on 16 digits images: the real scoring path, fast."""
    torch.manual_seed(0)
    model = Supernet(SupernetConfig(channels=4, layers=3, steps=4, in_channels=1, num_classes=10))
    data = load_dataset("digits", seed=0)
    return SupernetEvaluator(model, data, mode=mode, cotrain=cotrain, batch_size=16, device="cpu")


@pytest.fixture(scope="module")
def evaluator() -> SupernetEvaluator:
    return tiny_evaluator()


def test_spec_and_steps_follow_the_supernet(evaluator: SupernetEvaluator) -> None:
    env = gym.make("NAT-Cell-v0", reward=evaluator)
    assert env.unwrapped.evaluator is evaluator and not env.spec.nondeterministic
    assert gym.make("NAT-Cell-v0", reward=tiny_evaluator("minibatch")).spec.nondeterministic
    assert gym.make("NAT-CellSeq-v0", reward=tiny_evaluator(cotrain=True)).spec.nondeterministic
    with pytest.raises(ConfigError, match="steps.*4 intermediate nodes"):
        gym.make("NAT-Cell-v0", reward=evaluator, steps=5)


@pytest.mark.parametrize("env_id", ["NAT-Cell-v0", "NAT-CellSeq-v0"])
def test_checkers_pass_on_supernet(evaluator: SupernetEvaluator, env_id: str) -> None:
    env = gym.make(env_id, reward=evaluator)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped, skip_render_check=True)
    assert [str(w.message) for w in caught] == []
    assert sb3_check_env_warnings(env.unwrapped) == []


def test_rewards_equal_direct_evaluator_call_and_repeat(evaluator: SupernetEvaluator) -> None:
    env = gym.make("NAT-Cell-v0", reward=evaluator)
    episodes = []
    for seed in range(4):
        _, info = env.reset(seed=seed)
        env.action_space.seed(seed)
        _, reward, _, _, info = env.step(env.action_space.sample(mask=info["action_mask"]))
        before, after = Genotype.parse(info["genotype_before"]), Genotype.parse(info["genotype_after"])
        assert reward == evaluator.reward([before], [after])[0]
        assert 0.0 <= info["acc_after"] <= 1.0
        episodes.append((reward, info["genotype_after"]))
    fresh = gym.make("NAT-Cell-v0", reward=tiny_evaluator())  # same seed, same episode, new cache
    for seed in range(4):
        _, info = fresh.reset(seed=seed)
        fresh.action_space.seed(seed)
        _, reward, _, _, info = fresh.step(fresh.action_space.sample(mask=info["action_mask"]))
        assert (reward, info["genotype_after"]) == episodes[seed]


def test_batched_vector_env_matches_sync_on_supernet(evaluator: SupernetEvaluator) -> None:
    mode = AutoresetMode.SAME_STEP
    batched = gym.make_vec("NAT-Cell-v0", num_envs=3, autoreset_mode=mode, reward=evaluator)
    sync = gym.make_vec(
        "NAT-Cell-v0", num_envs=3, vectorization_mode="sync", vector_kwargs={"autoreset_mode": mode},
        reward=evaluator,
    )  # fmt: skip
    assert data_equivalence(batched.reset(seed=1)[0], sync.reset(seed=1)[0])
    rng = np.random.default_rng(0)
    for _ in range(2):
        actions = rng.integers(0, 13, size=(3, 16))
        calls = evaluator.calls
        rb = batched.step(actions)
        assert evaluator.calls == calls + 1  # the three episodes in one evaluator call
        rs = sync.step(actions)
        assert data_equivalence(rb[:4], rs[:4])
        np.testing.assert_array_equal(rb[4]["final_info"]["acc_after"], rs[4]["final_info"]["acc_after"])


@pytest.mark.slow
def test_checkpoint_path_goes_through_the_spec(tmp_path) -> None:
    from tiny_supernet import tiny_supernet

    path = tiny_supernet(tmp_path)
    pool = EvaluatorPool(progress=False)
    a = gym.make("NAT-Cell-v0", reward={"supernet": path, "device": "cpu"}, pool=pool)
    b = gym.make("NAT-CellSeq-v0", reward=EvaluatorSpec(supernet=str(path), device="cpu"), pool=pool)
    assert isinstance(a.unwrapped.evaluator, SupernetEvaluator)
    assert a.unwrapped.evaluator is b.unwrapped.evaluator  # one supernet per pool and spec
    assert gym.make("NAT-Cell-v0", reward=path).unwrapped.evaluator is not a.unwrapped.evaluator
    _, info = a.reset(seed=0)
    _, reward, terminated, _, info = a.step(a.action_space.sample(mask=info["action_mask"]))
    assert terminated and np.isfinite(reward)


def test_reward_spec_names_the_dataset_supernet_and_reward_images() -> None:
    env = gym.make("NAT-Cell-v0", reward=tiny_evaluator())
    spec = env.unwrapped.reward_spec
    assert spec["evaluator"] == "SupernetEvaluator" and spec["dataset"] == "digits"
    assert (spec["mode"], spec["batch_size"], spec["seed"], spec["steps"]) == ("fixed", 16, 0, 4)
    assert spec["supernet_version"] >= 2 and len(spec["supernet_key"]) == 12 and spec["deterministic"]
    vec = gym.make_vec("NAT-Cell-v0", num_envs=2, reward=tiny_evaluator("minibatch"))
    assert vec.reward_spec["mode"] == "minibatch" and vec.reward_spec["deterministic"] is False

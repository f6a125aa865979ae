"""Vector use of NAT-Cell-v0: the batched make_vec path, shared evaluators, SB3 DummyVecEnv."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from env_toys import RandomEvaluator, toy_accuracy, toy_evaluator
from gymnasium.utils.env_checker import data_equivalence
from gymnasium.vector import AutoresetMode

import natgym  # noqa: F401  (registers the ids)
from natgym.envs.vector import NATCellVectorEnv
from natgym.errors import ConfigError
from natgym.reward import FunctionEvaluator
from natgym.spec import EvaluatorPool, EvaluatorSpec


class CountingEvaluator(FunctionEvaluator):
    """Records the size of every accuracy() call."""

    def __init__(self) -> None:
        super().__init__(toy_accuracy)
        self.calls: list[int] = []

    def accuracy(self, genotypes):
        genotypes = list(genotypes)
        self.calls.append(len(genotypes))
        return super().accuracy(genotypes)


def _strip(info: dict) -> dict:
    return {k: v for k, v in info.items() if k not in ("action_mask", "_action_mask")}


def test_make_vec_uses_batched_env_with_one_evaluator_call_per_step() -> None:
    evaluator = CountingEvaluator()
    envs = gym.make_vec("NAT-Cell-v0", num_envs=4, reward=evaluator)
    assert isinstance(envs.unwrapped, NATCellVectorEnv)
    assert envs.unwrapped.evaluator is evaluator
    obs, info = envs.reset(seed=0)
    assert envs.observation_space.contains(obs)
    masks = info["action_mask"]
    actions = np.stack([envs.single_action_space.sample(mask=m) for m in masks])
    obs, rewards, terminated, truncated, info = envs.step(actions)
    assert evaluator.calls == [8]
    assert terminated.all() and not truncated.any() and rewards.shape == (4,)
    assert info["genotype_after"].shape == (4,) and info["invalid_edges"].tolist() == [0] * 4
    # NEXT_STEP autoreset: the next call resets every env, pays 0 and evaluates nothing
    obs, rewards, terminated, _, info = envs.step(actions)
    assert evaluator.calls == [8] and not rewards.any() and not terminated.any()
    assert envs.unwrapped.action_masks().shape == (4, 16 * 13)


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
def test_batched_equals_sync_vector_env(mode: AutoresetMode) -> None:
    n = 3
    batched = gym.make_vec("NAT-Cell-v0", num_envs=n, reward=toy_evaluator(), autoreset_mode=mode)
    sync = gym.make_vec(
        "NAT-Cell-v0", num_envs=n, vectorization_mode="sync", vector_kwargs={"autoreset_mode": mode},
        reward=toy_evaluator(),
    )  # fmt: skip
    assert batched.metadata["autoreset_mode"] == sync.metadata["autoreset_mode"] == mode
    ob, ib = batched.reset(seed=5)
    os_, is_ = sync.reset(seed=5)
    assert data_equivalence(ob, os_)
    rng = np.random.default_rng(0)
    for _ in range(4):
        actions = rng.integers(0, 13, size=(n, 16))  # unmasked: invalid picks are kept
        rb = batched.step(actions)
        rs = sync.step(actions)
        assert data_equivalence(rb[:4], rs[:4], exact=True)
        assert data_equivalence(_strip(rb[4]), _strip(rs[4]))


def test_vector_env_arguments_and_spec() -> None:
    with pytest.raises(ConfigError, match="num_envs"):
        NATCellVectorEnv(num_envs=0, reward=toy_evaluator())
    with pytest.raises(ConfigError, match="autoreset_mode"):
        NATCellVectorEnv(num_envs=2, reward=toy_evaluator(), autoreset_mode="Disabled")
    with pytest.raises(ConfigError, match="seed"):
        NATCellVectorEnv(num_envs=2, reward=toy_evaluator()).reset(seed=[1, 2, 3])
    assert gym.make_vec("NAT-Cell-v0", num_envs=2, reward=toy_evaluator()).spec.nondeterministic is False
    assert gym.make_vec("NAT-Cell-v0", num_envs=2, reward=RandomEvaluator()).spec.nondeterministic is True


def test_vector_reset_with_genotype_option_and_render() -> None:
    envs = NATCellVectorEnv(num_envs=2, reward=toy_evaluator(), render_mode="ansi")
    obs, _ = envs.reset(options={"genotype": "DARTS"})
    assert (obs["edge_ops"][0] == obs["edge_ops"][1]).all()
    frames = envs.render()
    assert isinstance(frames, tuple) and len(frames) == 2 and all(isinstance(f, str) for f in frames)


@pytest.fixture
def fake_factory(monkeypatch):
    """Replace EvaluatorSpec.build with a counting fake that records the specs it builds."""
    calls: list[EvaluatorSpec] = []

    def build(self, progress=True):
        calls.append(self)
        return toy_evaluator()

    monkeypatch.setattr(EvaluatorSpec, "build", build)
    return calls


def test_pool_shares_one_evaluator_per_spec(fake_factory) -> None:
    from stable_baselines3.common.vec_env import DummyVecEnv

    pool = EvaluatorPool()
    spec = {"dataset": "digits", "device": "cpu"}
    vec = DummyVecEnv([lambda: gym.make("NAT-Cell-v0", reward=spec, pool=pool)] * 3)
    evaluators = {id(e) for e in vec.get_attr("evaluator")}
    assert len(evaluators) == 1 and len(fake_factory) == 1 and len(pool) == 1
    assert fake_factory[0].dataset == "digits" and fake_factory[0].mode == "fixed"
    envs = gym.make_vec("NAT-Cell-v0", num_envs=4, reward=EvaluatorSpec(device="cpu"), pool=pool)
    assert {id(envs.unwrapped.evaluator)} == evaluators and len(fake_factory) == 1
    gym.make("NAT-Cell-v0", reward={**spec, "mode": "minibatch"}, pool=pool)
    gym.make("NAT-Cell-v0", reward={**spec, "seed": 1}, pool=pool)
    assert len(fake_factory) == 3
    gym.make("NAT-Cell-v0", reward={**spec, "batch_size": 256}, pool=pool)
    assert len(fake_factory) == 4 and fake_factory[3].batch_size == 256
    vec.reset()
    vec.step(np.zeros((3, 16), np.int64))


def test_without_a_pool_each_env_builds_its_own(fake_factory) -> None:
    a = gym.make("NAT-Cell-v0", reward={"device": "cpu"})
    b = gym.make("NAT-Cell-v0", reward={"device": "cpu"})
    assert a.unwrapped.evaluator is not b.unwrapped.evaluator and len(fake_factory) == 2
    with pytest.raises(ConfigError, match="reward: unknown field 'batchsize'; allowed: dataset"):
        gym.make("NAT-Cell-v0", reward={"batchsize": 3})
    with pytest.raises(ConfigError, match="pool: expected an EvaluatorPool"):
        gym.make("NAT-Cell-v0", reward={"device": "cpu"}, pool={})


@pytest.mark.slow
def test_async_vector_env_spawn() -> None:
    envs = gym.make_vec(
        "NAT-Cell-v0", num_envs=2, vectorization_mode="async", vector_kwargs={"context": "spawn"},
        reward=toy_evaluator(),
    )  # fmt: skip
    try:
        _, info = envs.reset(seed=0)
        actions = np.stack([envs.single_action_space.sample(mask=m) for m in info["action_mask"]])
        _, rewards, terminated, _, info = envs.step(actions)
        assert terminated.all() and info["acc_after"].shape == (2,)
    finally:
        envs.close()


ASYNC_SCRIPT = """
import sys
from pathlib import Path
import gymnasium as gym
import torch
import natgym
sys.path.insert(0, {tests!r})
from tiny_supernet import tiny_supernet

torch.set_num_threads(2)  # the parent runs torch's thread pool before forking, as a user's would
path = tiny_supernet(Path({folder!r}))
env = gym.make_vec("NAT-Cell-v0", num_envs=2, vectorization_mode="async", reward=str(path))
env.reset(seed=0)
_, reward, *_ = env.step(env.action_space.sample())
env.close()
print("stepped", reward.shape)
"""


def test_async_make_vec_with_the_default_fork_start_reaches_its_first_step(tmp_path) -> None:
    """Gymnasium's AsyncVectorEnv builds one env in the parent, then forks: the children must
    not hang in torch's (not fork-safe) thread pool. A subprocess, so a hang is a timeout."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    script = ASYNC_SCRIPT.format(tests=str(Path(__file__).parent), folder=str(tmp_path))
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the parent and its forked workers
        out, err = proc.communicate()
        raise AssertionError(f"async make_vec hung (killed after 240 s); stderr: {err[-3000:]}") from None
    assert proc.returncode == 0 and "stepped (2,)" in out, err[-3000:]

"""SB3 agents: the graph features extractor, the allowed-ops action wrapper, every algorithm for
a tiny budget on a toy evaluator, MaskablePPO never taking a masked action, resume, the YAML."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from stable_baselines3.common.preprocessing import preprocess_obs

import natgym  # noqa: F401
from agents.cli import build_parser
from agents.sb3 import (
    ALGOS,
    AllowedOpsWrapper,
    GraphFeaturesExtractor,
    greedy_episode,
    load_hyperparams,
    make_env,
    map_to_allowed,
    train,
)
from natgym import zoo
from natgym.errors import ConfigError
from natgym.reward import FunctionEvaluator
from natgym.space import NUM_OPS
from natgym.transitions import NATPP


def sep_score(g) -> float:
    """Toy accuracy: the fraction of sep_conv edges."""
    ops = [op for cell in g.cells for op in cell.ops]
    return sum(op.startswith("sep") for op in ops) / len(ops)


def env_kwargs(**extra):
    return {"reward": FunctionEvaluator(sep_score), "invalid_action": "raise", **extra}


def batch(space: gym.spaces.Dict, obs: dict) -> dict:
    tensors = {k: torch.as_tensor(np.asarray(v)[None]) for k, v in obs.items()}
    return preprocess_obs(tensors, space)


@pytest.mark.parametrize("env_id", ["NAT-Cell-v0", "NAT-CellSeq-v0"])
def test_extractor_shapes_and_edge_sensitivity(env_id):
    env = gym.make(env_id, **env_kwargs())
    space = env.observation_space
    fx = GraphFeaturesExtractor(space, hidden=16, edge_dim=4)
    obs, _ = env.reset(seed=0)
    feats = fx(batch(space, obs))
    assert feats.shape == (1, fx.features_dim) and torch.isfinite(feats).all()
    # changing one edge's op changes that edge's embedding (edges are told apart)
    g = env.unwrapped.genotype
    ops = g.normal.ops
    other = "null" if ops[3] != "null" else "skip_connect"
    g2 = g.with_ops([*ops[:3], other, *ops[4:]], g.reduce.ops)
    obs2, _ = env.reset(options={"genotype": g2})
    feats2 = fx(batch(space, obs2))
    edge_block = feats[0, : 16 * 4].view(16, 4)
    edge_block2 = feats2[0, : 16 * 4].view(16, 4)
    assert not torch.allclose(edge_block[3], edge_block2[3])
    with pytest.raises(ConfigError, match="hidden"):
        GraphFeaturesExtractor(space, hidden=0)


def test_extractor_decodes_edge_sources():
    env = gym.make("NAT-Cell-v0", **env_kwargs())
    obs, _ = env.reset(seed=3)
    fx = GraphFeaturesExtractor(env.observation_space)
    pre = batch(env.observation_space, obs)
    src = (pre["edge_from"].float() @ fx.from_decode).round().long()[0]
    assert np.array_equal(src.numpy(), obs["edge_from"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, NUM_OPS - 1), min_size=1, max_size=20), st.integers(0, 2**31 - 1))
def test_map_to_allowed_is_always_valid_and_covers_every_allowed_op(current, seed):
    masks = NATPP.mask(np.array(current))
    choice = np.random.default_rng(seed).integers(0, NUM_OPS, size=len(current))
    ops = map_to_allowed(choice, masks)
    assert masks[np.arange(len(current)), ops].all()
    for mask in masks:  # choices 0..12 reach every allowed op of the edge
        reached = {int(map_to_allowed(np.array([c]), mask[None])[0]) for c in range(NUM_OPS)}
        assert reached == set(np.flatnonzero(mask).tolist())


@pytest.mark.parametrize("env_id", ["NAT-Cell-v0", "NAT-CellSeq-v0"])
def test_allowed_ops_wrapper_never_produces_an_invalid_action(env_id):
    env = AllowedOpsWrapper(gym.make(env_id, **env_kwargs()))  # "raise": an invalid op would raise
    env.action_space.seed(0)
    for episode in range(20):
        env.reset(seed=episode)
        done = False
        while not done:
            _, _, done, _, info = env.step(env.action_space.sample())
        assert info["invalid_edges"] == 0


@pytest.mark.parametrize("algo", ALGOS)
def test_every_algorithm_trains_to_a_budget(algo, tmp_path):
    result = train(algo, env_kwargs(arch="DARTS"), budget=16, seed=0, progress=False, out_dir=tmp_path)
    ledger = result.ledger
    assert ledger.exhausted and ledger.used <= 16 + 2
    assert 1 <= len(ledger.episodes) <= 8
    assert all(e["queries"] <= 16 for e in ledger.episodes)
    header = (tmp_path / "monitor.csv").read_text().splitlines()[1]
    for key in ("acc_before", "acc_after", "madds_ratio"):
        assert key in header
    assert (tmp_path / "model.zip").exists()
    reward, info = greedy_episode(result.model, make_env(algo, env_kwargs(arch="DARTS")))
    assert info["invalid_edges"] == 0 and np.isfinite(reward)


def test_maskable_ppo_never_takes_a_masked_action():
    result = train("maskable_ppo", env_kwargs(), timesteps=64, seed=0, progress=False)
    model = result.model
    env = gym.make("NAT-Cell-v0", **env_kwargs())
    checked = 0
    for i in range(200):
        obs, _ = env.reset(seed=i)  # uniform random inputs: every kind of mask
        masks = env.unwrapped.action_masks()
        action, _ = model.predict(obs, action_masks=masks, deterministic=i % 2 == 0)
        per_edge = masks.reshape(-1, NUM_OPS)
        assert per_edge[np.arange(len(action)), action].all()
        checked += len(action)
    assert checked == 200 * 16


def test_maskable_ppo_on_the_sequential_env():
    result = train(
        "maskable_ppo",
        env_kwargs(),
        timesteps=32,
        seed=0,
        progress=False,
        overrides={"env": "NAT-CellSeq-v0"},
    )
    assert result.timesteps >= 32


def test_resume_continues_from_the_checkpoint(tmp_path):
    train("a2c", env_kwargs(arch="DARTS"), timesteps=16, seed=0, progress=False, out_dir=tmp_path)
    first = (tmp_path / "model.zip").stat().st_mtime_ns
    result = train("a2c", env_kwargs(arch="DARTS"), timesteps=32, seed=0, progress=False, out_dir=tmp_path)
    assert result.timesteps == 32 and (tmp_path / "model.zip").stat().st_mtime_ns != first
    rows = (tmp_path / "monitor.csv").read_text().splitlines()
    assert len(rows) == 2 + 32  # header lines + one row per one-step episode, across both calls


def test_resume_with_other_settings_is_refused_naming_them(tmp_path):
    train("a2c", env_kwargs(arch="DARTS"), timesteps=8, seed=0, progress=False, out_dir=tmp_path)
    with pytest.raises(ConfigError, match="seed: 0 stored, 1 now"):
        train("a2c", env_kwargs(arch="DARTS"), timesteps=16, seed=1, progress=False, out_dir=tmp_path)
    with pytest.raises(ConfigError, match="hyperparams.learning_rate"):
        train(
            "a2c", env_kwargs(arch="DARTS"), 16, seed=0, progress=False, out_dir=tmp_path,
            overrides={"learning_rate": 0.5},
        )  # fmt: skip
    with pytest.raises(ConfigError, match="env_kwargs.arch: .DARTS. stored, .ResBlock. now"):
        train("a2c", env_kwargs(arch="ResBlock"), timesteps=16, seed=0, progress=False, out_dir=tmp_path)
    fresh = train("a2c", env_kwargs(arch="DARTS"), 8, seed=1, progress=False, out_dir=tmp_path, resume=False)
    assert fresh.timesteps == 8  # started afresh with the new settings, which now resume
    assert (
        train("a2c", env_kwargs(arch="DARTS"), 16, seed=1, progress=False, out_dir=tmp_path).timesteps == 16
    )


def test_hyperparams_yaml_and_overrides():
    for algo in ALGOS:
        hp = load_hyperparams(algo)
        assert hp["env"] in ("NAT-Cell-v0", "NAT-CellSeq-v0") and hp["policy"] == "MultiInputPolicy"
    assert load_hyperparams("dqn")["env"] == "NAT-CellSeq-v0"
    hp = load_hyperparams(
        "ppo", {"learning_rate": 1e-3, "policy_kwargs": {"features_extractor_kwargs": {"hidden": 8}}}
    )
    assert hp["learning_rate"] == 1e-3
    assert hp["policy_kwargs"]["features_extractor_kwargs"] == {"hidden": 8, "edge_dim": 16}
    with pytest.raises(ConfigError, match="algo"):
        load_hyperparams("sac")


def test_cli_dispatches_every_sb3_algorithm():
    parser = build_parser()
    for algo in ALGOS:
        args = parser.parse_args(["train-agent", "--algo", algo, "--timesteps", "8"])
        assert args.algo == algo and args.timesteps == 8
    assert zoo.get("DARTS").steps == 4


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    from tests.tiny_supernet import tiny_supernet

    return tiny_supernet(tmp_path_factory.mktemp("supernet"))


@pytest.mark.parametrize("algo", ALGOS)
def test_train_agent_command_on_a_real_supernet(algo, tiny_checkpoint, tmp_path, capsys):
    from agents.cli import main

    out = tmp_path / algo
    argv = ["train-agent", "--algo", algo, "--supernet", str(tiny_checkpoint)]
    assert main([*argv, "--timesteps", "32", "--out", str(out), "--device", "cpu"]) == 0
    assert "mean reward" in capsys.readouterr().out
    assert (out / "model.zip").exists() and (out / "monitor.csv").exists()


@pytest.mark.parametrize("algo", ["maskable_ppo", "ppo"])
def test_evaluation_callback_writes_results(algo, tmp_path):
    train(
        algo,
        env_kwargs(arch="DARTS"),
        timesteps=64,
        eval_freq=32,
        eval_episodes=2,
        progress=False,
        out_dir=tmp_path,
    )
    results = np.load(tmp_path / "evaluations.npz")
    assert results["results"].shape == (2, 2) and (tmp_path / "best_model.zip").exists()

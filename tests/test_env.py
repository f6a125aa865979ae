"""NAT-Cell-v0 and NAT-CellSeq-v0: API checks, masks, transitions, rewards, resets, rendering."""

from __future__ import annotations

import subprocess
import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest
from env_toys import RandomEvaluator, sb3_check_env_warnings, toy_evaluator
from gymnasium.utils.env_checker import check_env

import natgym
from natgym import zoo
from natgym.envs.cell import NATCellEnv
from natgym.envs.core import genotype_cost
from natgym.envs.seq import NATCellSeqEnv
from natgym.errors import ConfigError, GenotypeError, InvalidActionError
from natgym.genotype import Cell, Genotype
from natgym.space import NULL, NUM_OPS, OPS, SKIP
from natgym.transitions import get_rule

IDS = ("NAT-Cell-v0", "NAT-CellSeq-v0")


def uniform_genotype(op: str, steps: int = 4) -> Genotype:
    """Every edge carries ``op``; node i reads nodes i-2 and i-1 (so reduce edges 0-2 are stride 2)."""
    edges = tuple((op, max(node - 2 + j, 0), node) for node in range(2, steps + 2) for j in range(2))
    cell = Cell(edges, tuple(range(2, steps + 2)))
    return Genotype(cell, cell)


# ----------------------------------------------------------------- registration and checkers
def test_registered_on_import_without_torch() -> None:
    code = (
        "import sys, gymnasium as gym, natgym\n"
        "assert 'torch' not in sys.modules, 'registration imported torch'\n"
        "assert {'NAT-Cell-v0', 'NAT-CellSeq-v0'} <= set(gym.registry)\n"
        "assert gym.spec('NAT-Cell-v0').nondeterministic is False\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_module_prefixed_id_imports_natgym() -> None:
    # The constructor runs (it rejects the bad argument) although natgym was never imported.
    code = (
        "import sys, gymnasium as gym\n"
        "assert 'natgym' not in sys.modules\n"
        "try:\n"
        "    gym.make('natgym:NAT-Cell-v0', invalid_action='bogus')\n"
        "except Exception as exc:\n"
        "    assert type(exc).__name__ == 'ConfigError' and 'invalid_action' in str(exc), exc\n"
        "else:\n"
        "    raise SystemExit('no error')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("env_id", IDS)
def test_gymnasium_check_env_no_warnings(env_id: str) -> None:
    env = gym.make(env_id, reward=toy_evaluator())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped)
    assert [str(w.message) for w in caught] == []


@pytest.mark.parametrize("env_id", IDS)
def test_sb3_check_env_no_avoidable_warnings(env_id: str) -> None:
    env = gym.make(env_id, reward=toy_evaluator())
    assert sb3_check_env_warnings(env.unwrapped) == []


def test_spec_nondeterministic_follows_evaluator() -> None:
    assert gym.make("NAT-Cell-v0", reward=toy_evaluator()).spec.nondeterministic is False
    assert gym.make("NAT-Cell-v0", reward=RandomEvaluator()).spec.nondeterministic is True
    assert gym.make("NAT-CellSeq-v0", reward=RandomEvaluator()).spec.nondeterministic is True
    assert gym.spec("NAT-Cell-v0").nondeterministic is False


# ----------------------------------------------------------------- masks
@pytest.mark.parametrize("rule", ["natpp", "nat"])
def test_masks_equal_rule_for_every_op(rule: str) -> None:
    env = NATCellEnv(reward=toy_evaluator(), rule=rule)
    seq = NATCellSeqEnv(reward=toy_evaluator(), rule=rule)
    matrix = get_rule(rule).matrix
    for op in OPS:
        g = uniform_genotype(op)
        obs, info = env.reset(options={"genotype": g})
        expected = np.tile(matrix[OPS.index(op)], (16, 1))
        assert obs["action_mask"].dtype == np.int8
        np.testing.assert_array_equal(obs["action_mask"].astype(bool), expected)
        assert all(m.dtype == np.int8 and m.shape == (NUM_OPS,) for m in info["action_mask"])
        np.testing.assert_array_equal(np.stack(info["action_mask"]).astype(bool), expected)
        assert env.action_masks().dtype == bool
        np.testing.assert_array_equal(env.action_masks(), expected.reshape(-1))
        for _ in range(5):
            a = env.action_space.sample(mask=info["action_mask"])
            assert expected[np.arange(16), a].all()
        obs, info = seq.reset(options={"genotype": g})
        np.testing.assert_array_equal(obs["action_mask"].astype(bool), matrix[OPS.index(op)])
        np.testing.assert_array_equal(info["action_mask"], obs["action_mask"])
        np.testing.assert_array_equal(seq.action_masks(), matrix[OPS.index(op)])


# ----------------------------------------------------------------- transitions and rewards
def _edge_stride(cell_index: int, src: int) -> int:
    return 2 if cell_index == 1 and src < 2 else 1


def test_random_masked_episodes_are_valid_and_cheaper() -> None:
    evaluator = toy_evaluator()
    env = NATCellEnv(reward=evaluator)
    seen_increase = 0
    for seed in range(300):
        obs, info = env.reset(seed=seed)
        env.action_space.seed(seed)
        before = env.genotype
        action = env.action_space.sample(mask=info["action_mask"])
        obs, reward, terminated, truncated, info = env.step(action)
        assert terminated and not truncated
        after = Genotype.parse(info["genotype_after"])
        assert Genotype.parse(info["genotype_before"]) == before
        assert info["invalid_edges"] == 0
        for cb, ca in zip(before.cells, after.cells):
            assert [(s, d) for _, s, d in cb.edges] == [(s, d) for _, s, d in ca.edges]
            assert all(natgym.transitions.NATPP.is_allowed(ob, oa) for ob, oa in zip(cb.ops, ca.ops))
        # costlier ops only where the rule allows it: null -> skip, or skip on a stride-2 edge
        for c, (cb, ca) in enumerate(zip(before.cells, after.cells)):
            for (ob, src, _), (oa, _, _) in zip(cb.edges, ca.edges):
                stride = _edge_stride(c, src)
                cost = natgym.cost.op_cost
                if cost(oa, 36, 32, 32, stride).madds > cost(ob, 36, 32, 32, stride).madds:
                    assert oa == "skip_connect" and (ob == "null" or stride == 2)
        if not info["cost_increasing_edges"]:
            assert info["madds_after"] <= info["madds_before"]
        else:
            seen_increase += 1
            for text in info["cost_increasing_edges"]:
                assert "-> skip_connect" in text and ("null ->" in text or "stride 2" in text)
        assert info["madds_increased"] == (info["madds_after"] > info["madds_before"])
        assert reward == evaluator.reward([before], [after])[0]
        assert (info["acc_before"], info["acc_after"]) == tuple(evaluator.accuracy([before, after]))
        c_before, c_after = genotype_cost(before), genotype_cost(after)
        assert (info["params_before"], info["madds_after"]) == (c_before.params, c_after.madds)
        assert info["dead_nodes"] == {
            "normal": after.normal.dead_nodes(),
            "reduce": after.reduce.dead_nodes(),
        }
        np.testing.assert_array_equal(obs["edge_ops"], np.concatenate([c.op_indices for c in after.cells]))
    assert seen_increase > 0  # stride-2 skips occur in uniform inputs; they must be reported


def test_null_to_skip_is_reported() -> None:
    env = NATCellEnv(reward=toy_evaluator())
    env.reset(options={"genotype": uniform_genotype("null")})
    _, _, _, _, info = env.step(np.full(16, SKIP))
    assert info["madds_increased"] and len(info["cost_increasing_edges"]) == 16
    assert info["dead_nodes"] == {"normal": (), "reduce": ()}
    env.reset(options={"genotype": uniform_genotype("skip_connect")})
    _, _, _, _, info = env.step(np.full(16, NULL))
    assert info["dead_nodes"] == {"normal": (2, 3, 4, 5), "reduce": (2, 3, 4, 5)}
    assert info["cost_increasing_edges"] == []


def test_cost_weight_adds_compactness_term() -> None:
    evaluator = toy_evaluator()
    env = NATCellEnv(reward=evaluator, cost_weight=0.5)
    env.reset(seed=3)
    _, reward, _, _, info = env.step(np.full(16, NULL))
    expected = info["acc_after"] - info["acc_before"] + 0.5 * (1 - info["madds_after"] / info["madds_before"])
    assert reward == pytest.approx(expected, abs=1e-12)
    assert reward > info["acc_after"] - info["acc_before"]


@pytest.mark.parametrize("mode", ["keep", "penalty"])
def test_unmasked_random_actions_keep_invalid_edges(mode: str) -> None:
    evaluator = toy_evaluator()
    env = NATCellEnv(reward=evaluator, invalid_action=mode, invalid_penalty=0.05)
    for seed in range(100):
        _, info = env.reset(seed=seed)
        env.action_space.seed(seed)
        before = env.genotype
        action = env.action_space.sample()
        allowed = np.stack(info["action_mask"]).astype(bool)[np.arange(16), action]
        _, reward, _, _, info = env.step(action)
        after = Genotype.parse(info["genotype_after"])
        ops_before = np.concatenate([c.op_indices for c in before.cells])
        ops_after = np.concatenate([c.op_indices for c in after.cells])
        np.testing.assert_array_equal(ops_after, np.where(allowed, action, ops_before))
        assert info["invalid_edges"] == int((~allowed).sum())
        base = evaluator.reward([before], [after])[0]
        assert reward == pytest.approx(base - (0.05 * info["invalid_edges"] if mode == "penalty" else 0.0))


def test_raise_mode() -> None:
    env = NATCellEnv(reward=toy_evaluator(), invalid_action="raise")
    env.reset(options={"genotype": uniform_genotype("max_pool_3x3")})
    with pytest.raises(
        InvalidActionError, match=r"action\[0\].*max_pool_3x3 cannot become conv_5x5.*allowed"
    ):
        env.step(np.full(16, OPS.index("conv_5x5")))
    env.reset(options={"genotype": uniform_genotype("max_pool_3x3")})
    env.step(np.full(16, OPS.index("avg_pool_3x3")))  # all valid: no error


@pytest.mark.parametrize(
    "action", [np.zeros(15, np.int64), np.full(16, 13), np.full(16, -1), np.zeros(16) + 0.5, "conv", None]
)
def test_malformed_actions_raise(action) -> None:
    env = NATCellEnv(reward=toy_evaluator())
    env.reset(seed=0)
    with pytest.raises(InvalidActionError, match="action"):
        env.step(action)


def test_step_order_is_enforced() -> None:
    env = NATCellEnv(reward=toy_evaluator())
    with pytest.raises(gym.error.ResetNeeded):
        env.step(np.zeros(16, np.int64))
    env.reset(seed=0)
    env.step(env.action_space.sample(mask=env.reset(seed=0)[1]["action_mask"]))
    with pytest.raises(gym.error.ResetNeeded):
        env.step(np.zeros(16, np.int64))


# ----------------------------------------------------------------- reset
@pytest.mark.parametrize("steps", [4, 5])
def test_reset_with_every_zoo_name(steps: int) -> None:
    env = NATCellEnv(reward=toy_evaluator(), steps=steps)
    matched = 0
    for name in zoo.names():
        g = zoo.get(name)
        if g.steps == steps:
            obs, _ = env.reset(options={"genotype": name})
            assert env.genotype == g
            assert natgym.graph.decode({k: obs[k] for k in natgym.graph.KEYS}) == g
            assert env.observation_space.contains(obs)
            matched += 1
        else:
            with pytest.raises(GenotypeError, match=rf"{g.steps} intermediate nodes.*steps={steps}"):
                env.reset(options={"genotype": name})
    assert matched > 0


def test_reset_options_and_arch() -> None:
    darts = zoo.get("DARTS")
    env = NATCellEnv(reward=toy_evaluator())
    for form in (darts, darts.to_darts(), darts.to_nat(), darts.to_json(), darts.to_dict(), "darts"):
        env.reset(options={"genotype": form})
        assert env.genotype == darts
    fixed = NATCellEnv(reward=toy_evaluator(), arch="ResBlock")
    assert all(fixed.reset(seed=s) and fixed.genotype == zoo.get("ResBlock") for s in range(3))
    env.reset(options={})
    with pytest.raises(ConfigError, match="options.*'genotype'"):
        env.reset(options={"arch": "DARTS"})


@pytest.mark.parametrize(
    "bad, pattern",
    [
        ("NoSuchNet", "neither a zoo name"),
        ("NAONet", "outside the 13 NAT"),
        ("Genotype(normal=[('sep_conv_3x3', 0)], normal_concat=[2], reduce=[], reduce_concat=[])", "normal"),
        ('{"normal": [["warp_drive", 0, 2], ["null", 1, 2]], "normal_concat": [2],'
         ' "reduce": [["null", 0, 2], ["null", 1, 2]], "reduce_concat": [2]}', "unknown operation 'warp"),
    ],
)  # fmt: skip
def test_reset_with_bad_genotype(bad: str, pattern: str) -> None:
    env = NATCellEnv(reward=toy_evaluator())
    with pytest.raises(GenotypeError, match=pattern):
        env.reset(options={"genotype": bad})
    with pytest.raises(GenotypeError):
        NATCellEnv(reward=toy_evaluator(), arch=bad)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"invalid_action": "ignore"}, "invalid_action"),
        ({"rule": "greedy"}, "rule"),
        ({"steps": 0}, "steps"),
        ({"cost_weight": -1.0}, "cost_weight"),
        ({"render_mode": "human"}, "render_mode"),
        ({"reward": 3}, "reward"),
        ({"cost_weight": "abc"}, "cost_weight"),
        ({"cost_weight": None}, "cost_weight"),
    ],
)
def test_bad_arguments(kwargs: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        NATCellEnv(**{"reward": toy_evaluator(), **kwargs})


def test_bad_mode_names_allowed_values() -> None:
    with pytest.raises(ConfigError, match="mode.*fixed, minibatch"):
        NATCellEnv(reward={"mode": "batch"})


# ----------------------------------------------------------------- determinism
@pytest.mark.parametrize("cls", [NATCellEnv, NATCellSeqEnv])
def test_same_seed_same_episode(cls) -> None:
    def episode(env, seed):
        obs, info = env.reset(seed=seed)
        env.action_space.seed(seed)
        out = [obs]
        done = False
        while not done:
            obs, reward, done, _, info = env.step(env.action_space.sample(mask=info["action_mask"]))
            out.append((obs, reward, {k: v for k, v in info.items() if k != "action_mask"}))
        return out

    a, b = cls(reward=toy_evaluator()), cls(reward=toy_evaluator())
    from gymnasium.utils.env_checker import data_equivalence

    assert data_equivalence(episode(a, 7), episode(b, 7), exact=True)
    assert data_equivalence(episode(a, 7), episode(a, 7), exact=True)
    assert not data_equivalence(episode(a, 7), episode(a, 8))


# ----------------------------------------------------------------- rendering
@pytest.mark.parametrize("cls", [NATCellEnv, NATCellSeqEnv])
def test_render_modes(cls) -> None:
    env = cls(reward=toy_evaluator(), render_mode="ansi")
    assert cls(reward=toy_evaluator()).render() is None
    obs, info = env.reset(seed=1)
    text = env.render()
    assert isinstance(text, str) and text.count("\n") >= 17 and "*" not in text
    done = False
    while not done:
        _, _, done, _, info = env.step(env.action_space.sample(mask=info["action_mask"]))
    text = env.render()
    assert "accuracy" in text and "MAdds" in text
    env = cls(reward=toy_evaluator(), render_mode="rgb_array")
    env.reset(seed=1)
    frame = env.render()
    assert isinstance(frame, np.ndarray) and frame.dtype == np.uint8 and frame.shape == (480, 960, 3)


# ----------------------------------------------------------------- NAT-CellSeq-v0
def test_seq_env_matches_one_step_env() -> None:
    evaluator = toy_evaluator()
    seq, cell = NATCellSeqEnv(reward=evaluator), NATCellEnv(reward=evaluator)
    for seed in range(20):
        obs, info = seq.reset(seed=seed)
        cell.reset(seed=seed)
        assert seq.genotype == cell.genotype
        rng = np.random.default_rng(seed)
        actions = []
        for t in range(16):
            np.testing.assert_array_equal(obs["current_edge"], np.eye(16, dtype=np.int8)[t])
            a = int(rng.integers(NUM_OPS))  # unmasked: invalid picks are kept, as in NAT-Cell-v0
            actions.append(a)
            obs, reward, done, truncated, info = seq.step(a)
            assert done == (t == 15) and not truncated
            if not done:
                assert reward == 0.0 and info["edge"] == t + 1
                assert seq.observation_space.contains(obs)
        _, cell_reward, _, _, cell_info = cell.step(np.array(actions))
        assert reward == cell_reward
        assert {k: v for k, v in info.items() if k != "action_mask"} == {
            k: v for k, v in cell_info.items() if k != "action_mask"
        }
        assert not obs["current_edge"].any() and not obs["action_mask"].any()


def test_seq_env_penalty_is_paid_on_the_step() -> None:
    env = NATCellSeqEnv(reward=toy_evaluator(), invalid_action="penalty", invalid_penalty=0.1)
    env.reset(options={"genotype": uniform_genotype("max_pool_3x3")})
    _, reward, _, _, _ = env.step(OPS.index("conv_5x5"))
    assert reward == pytest.approx(-0.1)
    _, reward, _, _, _ = env.step(OPS.index("avg_pool_3x3"))
    assert reward == 0.0
    with pytest.raises(InvalidActionError):
        env.step(13)


# ----------------------------------------------------------------- MaskablePPO
@pytest.mark.slow
@pytest.mark.parametrize("env_id", IDS)
def test_maskable_ppo_learns_without_error(env_id: str, request: pytest.FixtureRequest) -> None:
    import torch
    from sb3_contrib import MaskablePPO

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny MLP: intra-op threads only add overhead on a shared machine
    request.addfinalizer(lambda: torch.set_num_threads(threads))
    env = gym.make(env_id, reward=toy_evaluator())
    model = MaskablePPO(
        "MultiInputPolicy", env, n_steps=256, batch_size=128, n_epochs=2, seed=0, device="cpu",
        policy_kwargs={"net_arch": [32, 32]},
    )  # fmt: skip
    model.learn(total_timesteps=2048)
    obs, _ = env.reset(seed=0)
    action, _ = model.predict(obs, action_masks=env.unwrapped.action_masks(), deterministic=True)
    assert env.action_space.contains(action)

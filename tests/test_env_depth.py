"""NAT-Depth-v0 and the elastic-depth supernet: depths within bounds, costs equal to
natgym.cost and natgym.network, masks, the checkers, and a real elastic supernet end to end."""

from __future__ import annotations

import itertools
import warnings

import gymnasium as gym
import pytest
import torch
from env_toys import sb3_check_env_warnings
from gymnasium.utils.env_checker import check_env
from hypothesis import given, settings
from hypothesis import strategies as st

import natgym  # noqa: F401  (registers the ids)
from natgym import zoo
from natgym.cost import network_cost
from natgym.envs.depth import depth_cost
from natgym.errors import ConfigError, InvalidActionError
from natgym.genotype import Genotype
from natgym.reward import FunctionEvaluator
from natgym.supernet.model import Supernet, SupernetConfig


def deeper_is_better(genotype: Genotype, depths: tuple[int, ...]) -> float:
    """Toy accuracy: stage 3 matters most, then stage 2; stage 1 not at all."""
    return 0.5 + 0.04 * depths[2] + 0.01 * depths[1]


def make(**kw):
    kw.setdefault("reward", FunctionEvaluator(lambda g: 0.5, deeper_is_better))
    return gym.make("NAT-Depth-v0", **kw)


def test_both_checkers_pass_without_warnings():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(make(render_mode="ansi").unwrapped, skip_render_check=False)
    assert [str(w.message) for w in caught] == []
    assert sb3_check_env_warnings(make()) == []


@given(st.integers(0, 10_000), st.integers(0, 2**31 - 1), st.integers(1, 4), st.booleans())
@settings(max_examples=60, deadline=None)
def test_masked_episodes_keep_depths_in_bounds_and_costs_equal_the_cost_model(arch_seed, seed, most, budget):
    genotype = zoo.sample(arch_seed)
    limit = depth_cost(genotype, (2, 2, 2)).madds if budget else None
    env = make(max_depth=most, madds_budget=limit)
    obs, info = env.reset(seed=seed, options={"genotype": genotype})
    env.action_space.seed(seed)
    done, steps, total = False, 0, 0.0
    while not done:
        action = env.action_space.sample(mask=info["action_mask"])
        obs, reward, terminated, truncated, info = env.step(action)
        done, steps = terminated or truncated, steps + 1
        d = info["depths_after"]
        assert all(1 <= x <= most for x in d) and tuple(obs["depths"]) == d
        assert info["invalid"] == 0
        cost = network_cost(genotype, 36, depths=d)
        assert (info["params_after"], info["madds_after"]) == (cost.params, cost.madds)
        if limit is not None and d != (1, 1, 1):
            assert info["madds_after"] <= limit
        total += reward
        assert info["queries"] == len({info["depths_start"], info["depths_before"], d})
        if action == 0:
            assert terminated and reward == 0 and d == info["depths_before"]
        else:
            assert reward == pytest.approx(
                deeper_is_better(genotype, d) - deeper_is_better(genotype, info["depths_before"])
            )
    assert steps <= 3 * (most - 1) + 1
    # the last info summarises the episode, and the rewards sum to its accuracy gain
    assert info["depths_start"] == (1, 1, 1) and total == pytest.approx(
        info["acc_after"] - info["acc_before"]
    )
    start = network_cost(genotype, 36, depths=(1, 1, 1))
    assert (info["params_before"], info["madds_before"]) == (start.params, start.madds)


def test_the_stand_alone_network_of_a_depth_choice_has_the_params_the_env_reports():
    from natgym.network import Network

    g = zoo.get("DARTS")
    for depths in [(1, 1, 1), (2, 1, 3), (3, 3, 3)]:
        net = Network(g, 36, 20, 10, 3, 32, depths=depths)
        assert sum(p.numel() for p in net.parameters()) == depth_cost(g, depths).params


def test_masked_actions_follow_the_invalid_action_policy_and_episodes_end():
    env = make(max_depth=1, invalid_action="penalty", invalid_penalty=0.25)
    _, info = env.reset(seed=0)
    assert info["action_mask"].tolist() == [1, 0, 0, 0]
    _, reward, terminated, truncated, info = env.step(2)
    assert reward == -0.25 and info["invalid"] == 1 and truncated and not terminated  # 1 step max
    env = make(invalid_action="raise")
    env.reset(seed=0, options={"depths": (3, 1, 1)})
    with pytest.raises(InvalidActionError, match="deepening stage 1 is masked"):
        env.step(1)
    with pytest.raises(InvalidActionError, match="expected one integer in 0..3"):
        env.step(7)
    env = make(cost_weight=0.5)
    env.reset(seed=0)
    _, reward, _, _, info = env.step(3)
    expected = 0.04 + 0.5 * (1 - info["madds_after"] / info["madds_before"])
    assert info["madds_after"] > info["madds_before"] and reward == pytest.approx(expected)


def test_bad_arguments_name_the_field():
    with pytest.raises(ConfigError, match="start_depths: expected three integers in 1..3"):
        make(start_depths=(0, 1, 1))
    with pytest.raises(ConfigError, match="max_depth"):
        make(max_depth=0)
    with pytest.raises(ConfigError, match="madds_budget"):
        make(madds_budget=-1)
    with pytest.raises(ConfigError, match="reward: NAT-Depth-v0 needs an elastic-depth supernet"):
        make(reward=FunctionEvaluator(lambda g: 0.5))
    with pytest.raises(ConfigError, match="scores cells at one fixed depth"):
        FunctionEvaluator(lambda g: 0.5).depth_accuracy(zoo.get("DARTS"), [(1, 1, 1)])


# ----------------------------------------------------------------------------- elastic supernet
def tiny_elastic() -> Supernet:
    torch.manual_seed(0)
    return Supernet(
        SupernetConfig(channels=4, layers=8, in_channels=1, stem_multiplier=4, pool_norm=True)
    ).eval()


def test_every_depth_runs_the_right_cells_and_the_fast_forward_agrees():
    from natgym.supernet.fast import infer

    net = tiny_elastic()
    x = torch.randn(5, 1, 8, 8)
    genotypes = [zoo.get("DARTS"), zoo.sample(3)]
    for depths in itertools.product(*(range(1, m + 1) for m in net.max_depths)):
        cells = net.active(depths)
        assert len(cells) == sum(depths) + 2 and sum(c.reduction for c in cells) == 2
        with torch.no_grad():
            module = net(x, genotypes, depths)
        with torch.inference_mode():
            fast = infer(net, x, genotypes, depths)
        assert torch.allclose(module, fast, atol=1e-4)
    with torch.no_grad():
        assert torch.equal(net(x, genotypes), net(x, genotypes, net.max_depths))
    with pytest.raises(ConfigError, match="depths: expected three integers"):
        net.active((1, 3, 1))
    narrow = Supernet(SupernetConfig(channels=4, layers=8, in_channels=1))
    with pytest.raises(ConfigError, match="first stage of depth 1 needs stem_multiplier"):
        narrow.active((1, 2, 2))


def test_elastic_training_samples_depths_and_the_env_scores_with_it(tmp_path):
    from natgym.supernet.train import default_config, train_supernet

    net = SupernetConfig(channels=4, layers=8, in_channels=1, stem_multiplier=4, pool_norm=True)
    config = default_config("digits", epochs=1, net=net.to_dict(), elastic_depth=True)
    path = train_supernet(config, tmp_path / "elastic.pt", "cpu", progress=False)
    env = gym.make("NAT-Depth-v0", reward={"supernet": str(path), "device": "cpu"}, max_depth=2)
    obs, info = env.reset(seed=0)
    _, reward, _, _, info = env.step(1)
    ev = env.unwrapped.evaluator
    acc = ev.depth_accuracy(Genotype.parse(env.unwrapped.genotype.to_darts()), [(1, 1, 1), (2, 1, 1)])
    assert reward == pytest.approx(acc[1] - acc[0]) and 0 <= acc.min() <= acc.max() <= 1
    with pytest.raises(ConfigError, match="elastic_depth: needs a supernet"):
        default_config("digits", elastic_depth=True)
    with pytest.raises(ConfigError, match="max_depth: the supernet holds"):
        gym.make("NAT-Depth-v0", reward={"supernet": str(path), "device": "cpu"}, max_depth=3)


# ----------------------------------------------------------------------------- importance baseline
def test_importance_deepening_grows_the_stages_that_matter_and_stops_when_none_gains():
    from agents.search import deepen_by_importance

    env = make()
    result = deepen_by_importance(env, seed=0)
    # stage 3 gains 0.04 per cell, stage 2 0.01, stage 1 nothing: stage 1 stays shallow
    assert result.depths == (1, 3, 3)
    assert result.reward == pytest.approx(
        deeper_is_better(None, (1, 3, 3)) - deeper_is_better(None, (1, 1, 1))
    )
    first = result.decisions[0]
    assert first["stage_3"] > first["stage_2"] > first["stage_1"] == 0
    capped = deepen_by_importance(make(), budget=20, seed=0)
    assert capped.queries <= 20 and sum(capped.depths) < sum(result.depths)
    budgeted = deepen_by_importance(
        make(madds_budget=depth_cost(zoo.get("DARTS"), (1, 1, 2)).madds, arch="DARTS")
    )
    assert budgeted.depths == (1, 1, 2)


def test_the_depth_benchmark_runs_its_agents_and_the_random_episodes_stay_in_budget(tmp_path):
    import json

    from agents.benchmark import ENVS, BenchConfig, run_benchmark
    from agents.search import random_depths

    evaluator = FunctionEvaluator(lambda g: 0.5, deeper_is_better)
    cfg = BenchConfig(agents=ENVS["NAT-Depth-v0"], seeds=1, budget=24, out_dir=str(tmp_path), progress=False,
                      env="NAT-Depth-v0")  # fmt: skip
    records = run_benchmark(cfg, evaluator)
    assert [r["agent"] for r in records] == list(ENVS["NAT-Depth-v0"])
    by_agent = {r["agent"]: r for r in records}
    assert by_agent["importance"]["queries"] < 24  # one greedy episode, far below the budget
    assert json.loads((tmp_path / "results.json").read_text())["config"]["env"] == "NAT-Depth-v0"
    best = random_depths(make(), budget=30, seed=0)
    assert 30 <= best.queries <= 30 + 3 * 7 and all(1 <= d <= 3 for d in best.depths)


@pytest.mark.parametrize("search", ["evolve_depths", "bo_depths"])
def test_evolution_and_bo_over_depths_find_the_best_triple_within_budget(search):
    import agents.search as searches

    result = getattr(searches, search)(make(), budget=400, seed=0)
    # the toy pays 0.04 per stage-3 cell and 0.01 per stage-2 cell: (any, 3, 3) is best
    assert result.depths[1:] == (3, 3) and result.queries <= 400 + 3 * 7
    assert result.reward == pytest.approx(
        deeper_is_better(None, (1, 3, 3)) - deeper_is_better(None, (1, 1, 1))
    )

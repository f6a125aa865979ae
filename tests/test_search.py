"""Search baselines: the uniform valid-transition policy, random search and regularised evolution
run through the env API on a toy evaluator and spend exactly their supernet-query budget."""

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import natgym  # noqa: F401
from agents.ledger import Ledger, LedgerWrapper
from agents.search import RandomPolicy, mutate, random_search, regularized_evolution, uniform_action
from natgym import zoo
from natgym.cost import network_cost
from natgym.errors import ConfigError
from natgym.reward import FunctionEvaluator
from natgym.space import NULL, NUM_OPS
from natgym.transitions import NATPP


def null_fraction(g) -> float:
    """Toy accuracy: the fraction of null edges (optimum: every edge null, always allowed)."""
    ops = [op for cell in g.cells for op in cell.ops]
    return sum(op == "null" for op in ops) / len(ops)


def make_env(fn=null_fraction, **kwargs):
    return gym.make(
        "NAT-Cell-v0", reward=FunctionEvaluator(fn), arch="DARTS", invalid_action="raise", **kwargs
    )


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 4))
def test_uniform_action_only_picks_allowed_ops(seed, batch):
    rng = np.random.default_rng(seed)
    ops = rng.integers(0, NUM_OPS, size=(batch, 16))
    mask = NATPP.mask(ops)  # (batch, 16, 13)
    action = uniform_action(mask, rng)
    assert action.shape == (batch, 16)
    assert mask[np.arange(batch)[:, None], np.arange(16), action].all()
    flat = uniform_action(mask.reshape(batch, -1).astype(np.int8), rng)  # the env's flat layout
    assert flat.shape == (batch, 16) and mask[np.arange(batch)[:, None], np.arange(16), flat].all()


def test_uniform_action_is_uniform_over_allowed_ops():
    mask = NATPP.mask(np.arange(NUM_OPS))  # one edge per current op
    rng = np.random.default_rng(0)
    draws = uniform_action(np.broadcast_to(mask, (20000, *mask.shape)), rng)
    for edge in range(NUM_OPS):
        allowed = np.flatnonzero(mask[edge])
        freq = np.bincount(draws[:, edge], minlength=NUM_OPS)[allowed] / len(draws)
        assert np.allclose(freq, 1 / len(allowed), atol=0.015), (edge, freq)
        assert np.bincount(draws[:, edge], minlength=NUM_OPS)[~mask[edge]].sum() == 0


def test_random_policy_is_seeded_and_valid():
    env = make_env()
    obs, _ = env.reset(seed=0)
    a1, a2 = RandomPolicy(3)(obs), RandomPolicy(3)(obs)
    assert np.array_equal(a1, a2)
    _, _, _, _, info = env.step(a1)  # invalid_action="raise": an invalid op would raise
    assert info["invalid_edges"] == 0
    with pytest.raises(ConfigError, match="action_mask"):
        uniform_action(np.zeros((2, 13), bool), np.random.default_rng(0))


@pytest.mark.parametrize("budget", [2, 20, 21])
def test_random_search_spends_the_budget_and_keeps_the_best(budget):
    env = make_env()
    result = random_search(env, budget, seed=1)
    assert result.queries == budget + (budget % 2)  # one episode = 2 queries (input + transformed)
    assert len(result.history) == (budget + 1) // 2
    assert result.best_reward == max(r for _, r in result.history)
    assert result.input_genotype == zoo.get("DARTS")
    assert result.best_info["acc_after"] == pytest.approx(
        null_fraction(natgym.Genotype.parse(result.best_info["genotype_after"]))
    )
    assert len(random_search(env, 100, seed=1, k=3).history) == 3  # best of K


def test_search_uses_the_given_input_on_a_sampling_env():
    env = gym.make("NAT-Cell-v0", reward=FunctionEvaluator(null_fraction))
    g = zoo.sample(5)
    result = regularized_evolution(env, 12, seed=0, population=3, sample=2, genotype=g)
    assert result.input_genotype == g
    assert natgym.Genotype.parse(result.best_info["genotype_before"]) == g


def test_mutate_changes_one_edge_to_another_allowed_op():
    rng = np.random.default_rng(0)
    ops = zoo.get("DARTS")
    current = np.concatenate([c.op_indices for c in ops.cells])
    mask = NATPP.mask(current)
    parent = current.copy()
    for _ in range(200):
        child = mutate(parent, mask, rng)
        assert (child != parent).sum() == 1
        assert mask[np.arange(len(child)), child].all()
        parent = child
    only_null = np.zeros((4, NUM_OPS), bool)
    only_null[:, NULL] = True
    assert np.array_equal(mutate(np.full(4, NULL), only_null, rng), np.full(4, NULL))


def test_evolution_improves_on_its_initial_population_and_on_random_search():
    evo = [regularized_evolution(make_env(), 240, seed=s, population=10, sample=3) for s in range(3)]
    rnd = [random_search(make_env(), 240, seed=s) for s in range(3)]
    for result in evo:
        assert result.queries == 240
        initial = max(r for _, r in result.history[:10])
        assert result.best_reward > initial
    assert np.mean([r.best_reward for r in evo]) > np.mean([r.best_reward for r in rnd])


def test_search_through_a_ledger_records_every_episode():
    env = make_env()
    ledger = Ledger(budget=30)
    result = regularized_evolution(LedgerWrapper(env, ledger), 30, seed=0, population=4, sample=2)
    assert len(ledger.episodes) == 15 and ledger.used == 30 and ledger.exhausted
    assert ledger.best()["reward"] == pytest.approx(result.best_reward)
    best = ledger.best()
    after = natgym.Genotype.parse(best["genotype_after"])
    assert best["madds_ratio"] == pytest.approx(
        network_cost(after).madds / network_cost(zoo.get("DARTS")).madds
    )


def test_ledgers_of_envs_sharing_an_evaluator_count_only_their_own_queries():
    shared = FunctionEvaluator(null_fraction)
    a, b = (LedgerWrapper(gym.make("NAT-Cell-v0", reward=shared)) for _ in range(2))
    for env, episodes in ((a, 3), (b, 2)):
        for seed in range(episodes):
            _, info = env.reset(seed=seed)
            env.step(env.action_space.sample(mask=info["action_mask"]))
    assert (a.ledger.used, b.ledger.used, shared.queries) == (6, 4, 10)


def test_bad_arguments_are_config_errors():
    with pytest.raises(ConfigError, match="budget"):
        random_search(make_env(), 0)
    with pytest.raises(ConfigError, match="sample"):
        regularized_evolution(make_env(), 10, population=2, sample=3)
    with pytest.raises(ConfigError, match="k"):
        random_search(make_env(), 10, k=0)
    seq = gym.make("NAT-CellSeq-v0", reward=FunctionEvaluator(null_fraction))
    with pytest.raises(ConfigError, match="NAT-Cell-v0"):
        random_search(seq, 10)

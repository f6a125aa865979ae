"""The amortized benchmark: held-out inputs never reach training, per-input budgets hold, the
sweep resumes; the env's ``exclude``; the BO baseline proposes only masked-valid transformations."""

import json

import gymnasium as gym
import numpy as np
import pytest

import agents.amortized as amortized
from agents.amortized import AGENTS, LEARNERS, AmortizedConfig, held_out_inputs, run_amortized
from agents.search import bayesian_optimization, random_search
from agents.search.bo import embed
from natgym import zoo
from natgym.errors import ConfigError, GenotypeError
from natgym.reward import FunctionEvaluator
from natgym.space import NUM_OPS


def skip_score(g) -> float:
    ops = [op for cell in g.cells for op in cell.ops]
    return 0.2 + 0.5 * sum(op in ("skip_connect", "max_pool_3x3") for op in ops) / len(ops)


def test_held_out_inputs_are_fixed_distinct_and_include_the_zoo():
    a, b = held_out_inputs(4), held_out_inputs(6)
    assert a == b[: len(a)]  # the same inputs whatever the run
    names = [n for n, _ in b]
    assert "DARTS" in names and "VGG" in names and not any(n.startswith("NAT") for n in names)
    assert len({g for _, g in b}) == len(b)
    assert [n for n, _ in held_out_inputs(3, with_zoo=False)] == ["u0", "u1", "u2"]


def test_exclude_redraws_held_out_genotypes(monkeypatch):
    held = [g for _, g in held_out_inputs(2, with_zoo=False)]
    original = zoo.sample

    def biased(rng, steps=4):  # every other draw is a held-out input
        return held[int(rng.integers(2))] if rng.random() < 0.5 else original(rng, steps)

    monkeypatch.setattr(zoo, "sample", biased)
    ev = FunctionEvaluator(skip_score)
    plain = gym.make("NAT-Cell-v0", reward=ev)
    drawn = [plain.reset(seed=s)[1]["genotype"] for s in range(40)]
    assert {g.to_darts() for g in held} & set(drawn)  # the biased sampler does draw them...
    env = gym.make("NAT-Cell-v0", reward=ev, exclude=held)
    drawn = [env.reset(seed=s)[1]["genotype"] for s in range(40)]
    assert not {g.to_darts() for g in held} & set(drawn)  # ...and exclude= redraws them
    vec = gym.make_vec("NAT-Cell-v0", num_envs=4, reward=ev, exclude=held)
    _, info = vec.reset(seed=0)
    assert not {g.to_darts() for g in held} & set(info["genotype"])
    # an explicit genotype is not affected
    assert env.reset(options={"genotype": held[0]})[1]["genotype"] == held[0].to_darts()


def test_exclude_bad_input():
    ev = FunctionEvaluator(skip_score)
    with pytest.raises(ConfigError, match="exclude: expected a list"):
        gym.make("NAT-Cell-v0", reward=ev, exclude="DARTS")
    with pytest.raises(GenotypeError, match=r"exclude\[0\]"):
        gym.make("NAT-Cell-v0", reward=ev, exclude=["ENAS"])  # 5 nodes in a 4-node env


@pytest.mark.slow
def test_amortized_run_keeps_held_out_inputs_out_and_enforces_budgets(tmp_path, monkeypatch):
    cfg = AmortizedConfig(
        seeds=1,
        train_budget=32,
        inputs=2,
        zoo=False,
        per_input=(1, 3),
        checkpoints=2,
        out_dir=str(tmp_path),
        progress=False,
    )
    held = held_out_inputs(2, with_zoo=False)
    original = zoo.sample
    trained_on = []

    def biased(rng, steps=4):  # half the training draws would be held-out inputs
        g = held[int(rng.integers(2))][1] if rng.random() < 0.5 else original(rng, steps)
        trained_on.append(g)
        return g

    monkeypatch.setattr(zoo, "sample", biased)
    monkeypatch.setattr(amortized, "held_out_inputs", lambda *a: held)
    ran = []
    records = run_amortized(cfg, FunctionEvaluator(skip_score), on_run=ran.append)
    assert [r["agent"] for r in records] == list(AGENTS)
    assert any(g in {h for _, h in held} for g in trained_on)  # the sampler offered them
    for r in records:
        assert r["held_out_seen"] == 0, r["agent"]
        learner = r["agent"] in LEARNERS
        assert r["train_queries"] == (32 if learner else 0), r["agent"]
        assert len(r["curve"]) == (2 if learner else 0)
        for b in (1, 3):
            rows = r["per_input"][str(b)]
            assert [row["input"] for row in rows] == ["u0", "u1"]
            for row in rows:  # exactly b transformations, 2 b queries, per input
                assert (row["transformations"], row["queries"]) == (b, 2 * b), (r["agent"], b)
                assert row["reward"] == pytest.approx(row["acc_after"] - row["acc_before"])
    for name in ("results.json", "summary.md", "curve.png", "profile.png"):
        assert (tmp_path / name).stat().st_size > 0
    table = (tmp_path / "summary.md").read_text()
    assert "b = 1 transformation" in table and all(f"| {a} |" in table for a in AGENTS)
    meta = json.loads((tmp_path / "results.json").read_text())
    assert meta["held_out_inputs"] == ["u0", "u1"] and len(meta["summary"]) == 2 * len(AGENTS)
    assert meta["reward_spec"]["evaluator"] == "FunctionEvaluator"
    ran.clear()
    run_amortized(cfg, FunctionEvaluator(skip_score), on_run=ran.append)
    assert ran == []  # every run reused


def test_amortized_config_errors():
    with pytest.raises(ConfigError, match="agents"):
        AmortizedConfig(agents=("nope",)).validate()
    with pytest.raises(ConfigError, match="per_input"):
        AmortizedConfig(per_input=(1, 0)).validate()
    with pytest.raises(ConfigError, match="train_budget"):
        AmortizedConfig(train_budget=16).validate()


class ActionLog(gym.Wrapper):
    """Records every action stepped, with the mask of the state it was taken in."""

    def __init__(self, env):
        super().__init__(env)
        self.log = []

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        self.mask = np.asarray(obs["action_mask"]).reshape(-1, NUM_OPS).astype(bool)
        return obs, info

    def step(self, action):
        self.log.append((np.asarray(action).copy(), self.mask))
        return self.env.step(action)


def test_bo_proposes_only_masked_valid_transformations():
    ev = FunctionEvaluator(skip_score)
    env = ActionLog(gym.make("NAT-Cell-v0", arch="DARTS", reward=ev, invalid_action="raise"))
    result = bayesian_optimization(env, 80, seed=0, initial=6, batch=2, candidates=64)
    assert result.queries == 80 and len(env.log) == 40
    for action, mask in env.log:
        assert mask[np.arange(len(action)), action].all()
    assert len({a.tobytes() for a, _ in env.log}) == len(env.log)  # never the same twice
    assert result.best_reward == max(r for _, r in result.history)


def test_bo_finds_better_transformations_than_random_on_a_toy_reward():
    ev = FunctionEvaluator(skip_score)
    bo, rnd = [], []
    for seed in range(3):
        env = gym.make("NAT-Cell-v0", arch="DARTS", reward=ev)
        bo.append(bayesian_optimization(env, 80, seed=seed, candidates=128).best_reward)
        rnd.append(random_search(env, 80, seed=seed).best_reward)
    # skip/max-pool fraction: the GP learns which edges to move; random keeps ~1/3 of them
    assert np.mean(bo) > np.mean(rnd)


def test_embedding_is_bounded_and_tells_transformations_apart():
    g = zoo.get("DARTS")
    ops = np.concatenate([c.op_indices for c in g.cells])
    other = ops.copy()
    other[0] = 12 if ops[0] != 12 else 11
    x = embed(g, np.stack([ops, ops, other]))
    assert x.min() >= 0.0 and x.max() <= 1.0
    assert np.array_equal(x[0], x[1]) and not np.array_equal(x[0], x[2])
    with pytest.raises(ConfigError, match="candidates"):
        bayesian_optimization(
            gym.make("NAT-Cell-v0", reward=FunctionEvaluator(skip_score)), 10, batch=8, candidates=4
        )

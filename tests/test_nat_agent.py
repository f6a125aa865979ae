"""The NAT agent: the policy samples only allowed ops, REINFORCE learns a toy problem, resume
reproduces the next update exactly, derive returns valid cheaper genotypes, the CLI runs."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import natgym  # noqa: F401  (registers NAT-Cell-v0)
from agents.nat import NATConfig, NATPolicy, derive, load_policy, observe, train
from natgym import zoo
from natgym.errors import ConfigError
from natgym.reward import FunctionEvaluator
from natgym.space import SKIP
from natgym.transitions import NATPP


def skip_fraction(g):
    """Toy accuracy: the fraction of skip_connect edges -- best transformation: every edge -> skip."""
    return float(np.mean(np.concatenate([c.op_indices for c in g.cells]) == SKIP))


def batch(genotypes):
    obs = [observe(g) for g in genotypes]
    return {k: np.stack([o[k] for o in obs]) for k in obs[0]}


@pytest.fixture(scope="module")
def policies():
    torch.manual_seed(0)
    return {v: NATPolicy(v) for v in ("improved", "faithful")}


@settings(max_examples=25, deadline=None)
@given(
    st.integers(0, 2**31 - 1),
    st.sampled_from([4, 5]),
    st.integers(1, 3),
    st.sampled_from(["improved", "faithful"]),
)
def test_policy_samples_only_allowed_ops(policies, seed, steps, size, variant):
    gs = [zoo.sample(seed + i, steps=steps) for i in range(size)]
    obs = batch(gs)
    dist = policies[variant](obs)
    current = torch.as_tensor(obs["edge_ops"])
    allowed = torch.tensor(NATPP.matrix)[current]
    assert dist.probs.shape == (size, 4 * steps, 13)
    assert (dist.probs[~allowed] == 0).all()
    torch.testing.assert_close(dist.probs.sum(-1), torch.ones(size, 4 * steps))
    gen = torch.Generator().manual_seed(seed)
    for _ in range(5):
        a = dist.sample(gen)
        assert allowed.gather(-1, a.unsqueeze(-1)).all()
    # masks computed by the policy itself (no action_mask key) agree with the env's
    obs.pop("action_mask")
    torch.testing.assert_close(policies[variant](obs).probs, dist.probs)


def test_unknown_variant_and_bad_config_raise():
    with pytest.raises(ConfigError, match="variant"):
        NATPolicy("bogus")
    with pytest.raises(ConfigError, match="num_envs"):
        train(NATConfig(num_envs=0))
    with pytest.raises(ConfigError, match="cotrain"):
        train(NATConfig(cotrain=True), evaluator=FunctionEvaluator(skip_fraction))


@pytest.mark.parametrize("variant", ["improved", "faithful"])
def test_training_improves_reward_on_toy_problem(variant):
    ev = FunctionEvaluator(skip_fraction)
    cfg = NATConfig(num_envs=16, updates=30, lr=3e-3, variant=variant, progress=False, seed=1)
    res = train(cfg, evaluator=ev)
    rewards = [h["reward"] for h in res.history]
    assert np.mean(rewards[-5:]) > np.mean(rewards[:3]) + 0.1
    assert all(h["invalid_rate"] == 0 for h in res.history)
    assert ev.queries == 2 * 16 * 30


class Killed(Exception):
    pass


def test_resume_after_kill_reproduces_next_update(tmp_path):
    """Killed after update 3 (last checkpoint at 2): the resumed run redoes update 3 and continues
    exactly as an uninterrupted run."""
    ev = FunctionEvaluator(skip_fraction)
    kw = dict(num_envs=4, updates=6, lr=1e-2, progress=False, checkpoint_every=2)
    full = train(NATConfig(out_dir=str(tmp_path / "full"), **kw), evaluator=ev)

    def kill(update, row, policy):
        if update == 3:
            raise Killed

    with pytest.raises(Killed):
        train(NATConfig(out_dir=str(tmp_path / "run"), **kw), evaluator=ev, on_update=kill)
    resumed = train(NATConfig(out_dir=str(tmp_path / "run"), **kw), evaluator=ev)
    assert [h["reward"] for h in resumed.history] == [h["reward"] for h in full.history]
    assert resumed.baseline == full.baseline
    for a, b in zip(full.policy.state_dict().values(), resumed.policy.state_dict().values()):
        assert torch.equal(a, b)
    lines = (tmp_path / "run" / "progress.csv").read_text().splitlines()
    assert len(lines) == 1 + 6 and lines[-1].startswith("6,")
    loaded = load_policy(tmp_path / "run" / "checkpoint.pt", device="cpu")
    for a, b in zip(full.policy.state_dict().values(), loaded.state_dict().values()):
        assert torch.equal(a, b)


@pytest.mark.parametrize("name", ["DARTS", "ENAS", "VGG", "ResBlock", "R1"])
@pytest.mark.parametrize("greedy", [False, True])
def test_derive_returns_valid_genotype_with_no_more_madds(policies, name, greedy, tmp_path):
    g = zoo.get(name)
    ev = FunctionEvaluator(skip_fraction)
    res = derive(g, policies["improved"], ev, samples=6, greedy=greedy, seed=3)
    after = res.after
    assert [(s, d) for _, s, d in after.normal.edges] == [(s, d) for _, s, d in g.normal.edges]
    assert after.normal.concat == g.normal.concat and after.reduce.concat == g.reduce.concat
    for cb, ca in zip(g.cells, after.cells):
        assert all(NATPP.is_allowed(ob, oa) for ob, oa in zip(cb.ops, ca.ops))
    assert res.acc_after == max(a for _, a in res.candidates)
    assert len(res.candidates) == 1 if greedy else 1 <= len(res.candidates) <= 6
    if not res.cost_increasing_edges:
        assert res.cost_after.madds <= res.cost_before.madds
    paths = res.save(tmp_path)
    assert paths["png"].stat().st_size > 1000
    assert natgym.Genotype.parse(res.to_dict()["after_darts"]) == after


def test_derive_keeps_best_candidate():
    g = zoo.get("DARTS")
    policy = NATPolicy()
    res = derive(g, policy, FunctionEvaluator(skip_fraction), samples=10, seed=0)
    assert res.acc_after == max(skip_fraction(c) for c, _ in res.candidates)
    assert res.acc_before == skip_fraction(g)


def test_cli_train_agent_and_transform(tmp_path, monkeypatch, capsys):
    from agents.cli import main
    from natgym.spec import EvaluatorSpec

    monkeypatch.setattr(EvaluatorSpec, "build", lambda self, progress=True: FunctionEvaluator(skip_fraction))
    run = tmp_path / "run"
    argv = [
        "train-agent",
        "--algo",
        "nat",
        "--updates",
        "3",
        "--num-envs",
        "2",
        "--out",
        str(run),
        "--device",
        "cpu",
    ]
    assert main(argv) == 0
    assert (run / "checkpoint.pt").is_file() and (run / "progress.csv").is_file()
    out = tmp_path / "t"
    argv = ["transform", "--arch", "DARTS", "--checkpoint", str(run / "checkpoint.pt"), "--samples", "3"]
    assert main([*argv, "--out", str(out), "--device", "cpu"]) == 0
    assert (out / "transform_DARTS.png").is_file() and (out / "transform_DARTS.json").is_file()
    assert "transformed (DARTS)" in capsys.readouterr().out
    assert main(["transform", "--arch", "NoSuchNet", "--checkpoint", str(run / "checkpoint.pt")]) == 2
    assert main(["transform", "--checkpoint", str(tmp_path / "missing.pt"), "--out", str(out)]) == 2


def test_cli_parser_does_not_import_the_agents():
    import subprocess
    import sys

    code = (
        "import sys, natgym, agents.cli; agents.cli.build_parser(); "
        "print(any(m.startswith(('agents.nat', 'agents.sb3', 'agents.benchmark')) for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


class CountingEvaluator(FunctionEvaluator):
    """A toy evaluator with the supernet evaluator's co-training hooks."""

    def __init__(self):
        super().__init__(skip_fraction)
        self.weight_steps = []

    def train_weights(self, steps):
        self.weight_steps.append(steps)

    def state_dict(self):
        return {"weight_steps": list(self.weight_steps)}

    def load_state_dict(self, state):
        self.weight_steps = list(state["weight_steps"])


def test_cotrain_alternates_weight_and_policy_phases_and_resumes(tmp_path):
    kw = dict(num_envs=2, updates=5, cotrain=True, cotrain_every=2, cotrain_steps=3, progress=False)
    ev = CountingEvaluator()
    train(NATConfig(out_dir=str(tmp_path), checkpoint_every=2, **kw), evaluator=ev, on_update=None)
    assert ev.weight_steps == [3, 3, 3]  # before updates 1, 3 and 5
    fresh = CountingEvaluator()
    train(NATConfig(out_dir=str(tmp_path), checkpoint_every=2, **kw), evaluator=fresh)
    assert fresh.weight_steps == [3, 3, 3]  # restored from the checkpoint, nothing left to do

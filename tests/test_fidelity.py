"""Fidelity metrics, the ground-truth table loader, the zero-cost proxy and k-fold evaluation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from natgym import fidelity, zoo
from natgym.data import load_dataset
from natgym.errors import ConfigError
from natgym.final import FinalConfig, make_config, train_runs, train_seed, train_test_split
from natgym.proxies import naswot
from natgym.transitions import NATPP, random_transform


def test_perfect_reversed_and_tied_rankings():
    truth = [0.1, 0.5, 0.3, 0.9, 0.7]
    assert fidelity.kendall_tau(truth, truth) == pytest.approx(1.0)
    assert fidelity.spearman_rho(truth, truth) == pytest.approx(1.0)
    assert fidelity.kendall_tau([-t for t in truth], truth) == pytest.approx(-1.0)
    assert fidelity.spearman_rho([-t for t in truth], truth) == pytest.approx(-1.0)
    assert np.isnan(fidelity.kendall_tau([1, 1, 1, 1, 1], truth))
    assert np.isnan(fidelity.spearman_rho([1, 1, 1, 1, 1], truth))
    # one discordant pair of 10: tau = (9 - 1) / 10
    assert fidelity.kendall_tau([1, 2, 3, 5, 4], [1, 2, 3, 4, 5]) == pytest.approx(0.8)


def test_too_few_items_or_bad_values_are_clear_errors():
    with pytest.raises(ConfigError, match="at least 3"):
        fidelity.kendall_tau([1, 2], [1, 2])
    with pytest.raises(ConfigError, match="equal length"):
        fidelity.spearman_rho([1, 2, 3], [1, 2])
    with pytest.raises(ConfigError, match="finite"):
        fidelity.kendall_tau([1, 2, float("nan")], [1, 2, 3])
    with pytest.raises(ConfigError, match="no pair"):
        fidelity.sign_agreement([0.1, -0.1], [0.001, -0.001], threshold=0.01)
    with pytest.raises(ConfigError, match="fraction"):
        fidelity.top_fraction_precision([1, 2, 3], [1, 2, 3], 0)


def test_top_fraction_precision_and_sign_agreement_known_values():
    truth = np.arange(20.0)
    pred = truth.copy()
    assert fidelity.top_fraction_precision(pred, truth, 0.1) == 1.0
    pred[[19, 0]] = pred[[0, 19]]  # the best one is predicted worst
    assert fidelity.top_fraction_precision(pred, truth, 0.1) == 0.5
    share, used = fidelity.sign_agreement([0.2, -0.1, 0.3, 0.0, 5.0], [0.1, 0.2, 0.3, -0.4, 0.001], 0.05)
    assert used == 4 and share == pytest.approx((1 + 0 + 1 + 0.5) / 4)


@given(st.lists(st.floats(-1, 1), min_size=3, max_size=30, unique=True), st.integers(0, 2**31 - 1))
@settings(max_examples=40, deadline=None)
def test_metrics_are_invariant_to_monotone_transforms_and_bounded(values, seed):
    truth = np.array(values)
    pred = truth + np.random.default_rng(seed).normal(0, 0.3, len(truth))
    tau, rho = fidelity.kendall_tau(pred, truth), fidelity.spearman_rho(pred, truth)
    assert -1 <= tau <= 1 and -1 <= rho <= 1
    assert fidelity.kendall_tau(np.exp(3 * pred), truth) == pytest.approx(tau)
    assert fidelity.spearman_rho(pred * 7 + 1, truth) == pytest.approx(rho)


def _table_dict(n_inputs: int = 6, seeds: int = 2) -> dict:
    rng = np.random.default_rng(0)
    archs = []
    for i in range(n_inputs):
        g = zoo.sample(i)
        base = 0.5 + 0.05 * i
        for kind, parent, acc, genotype in (
            ("uniform", None, base, g),
            ("random", f"U{i}", base + (0.1 if i % 2 else -0.1), random_transform(g, i)),
        ):
            archs.append(
                {
                    "id": f"U{i}" if parent is None else f"U{i}/{kind}",
                    "family": "uniform" if parent is None else "transformed",
                    "kind": kind,
                    "parent": parent,
                    "holdout": i % 3 == 0,
                    "genotype": genotype.to_dict(),
                    "test_accuracy": (acc + rng.normal(0, 0.005, seeds)).tolist(),
                    "params": 1000 + i,
                    "madds": 10_000 + i,
                }
            )
    return {
        "format": fidelity.FORMAT,
        "version": fidelity.VERSION,
        "protocol": fidelity.expected_protocol(),
        "seeds": list(range(seeds)),
        "architectures": archs,
    }


def test_table_loads_and_an_oracle_scores_perfectly(tmp_path):
    path = tmp_path / "t.json"
    path.write_text(json.dumps(_table_dict()))
    table = fidelity.load_table(path)
    assert len(table.archs) == 12 and table.seeds == (0, 1) and 0 < table.noise < 0.02
    assert len(table.pairs(table.archs)) == 6 and {a.holdout for a in table.subset("holdout")} == {True}
    oracle = {a.id: a.mean for a in table.archs}
    row = fidelity.fidelity(table, oracle)
    assert row["kendall_tau"] == pytest.approx(1) and row["sign_agreement"] == 1 and row["sign_pairs"] == 6
    assert row["delta_pearson"] == pytest.approx(1) and row["kendall_tau_zoo"] is None
    worst = fidelity.fidelity(table, {k: -v for k, v in oracle.items()})
    assert worst["kendall_tau"] == pytest.approx(-1) and worst["sign_agreement"] == 0
    assert "Kendall tau 1.00" in fidelity.summary_line(row)
    assert "| oracle |" in fidelity.markdown({"oracle": row}, table)
    with pytest.raises(ConfigError, match="no score"):
        fidelity.fidelity(table, {"U0": 1.0})
    with pytest.raises(ConfigError, match="subset"):
        table.subset("test")


def test_retest_averages_every_ordered_seed_pair_and_the_ceiling_follows_spearman_brown(tmp_path):
    from scipy.stats import kendalltau, spearmanr

    path = tmp_path / "t.json"
    path.write_text(json.dumps(_table_dict(n_inputs=9, seeds=3)))
    table = fidelity.load_table(path)
    values = np.array([a.accuracy for a in table.archs])
    row = fidelity.retest(table)
    taus = [kendalltau(values[:, i], values[:, j]).statistic for i in range(3) for j in range(3) if i != j]
    assert row["kendall_tau"] == pytest.approx(np.mean(taus)) and row["n"] == 18
    rho = np.mean([spearmanr(values[:, i], values[:, j]).statistic for i in range(3) for j in range(i)])
    r = 2 * np.sin(np.pi * rho / 6)
    expected = 2 / np.pi * np.arcsin(np.sqrt(3 * r / (1 + 2 * r)))
    assert fidelity.ceiling_tau(table) == pytest.approx(expected)
    assert fidelity.mean_retest_tau(table) == pytest.approx(2 / np.pi * np.arcsin(3 * r / (1 + 2 * r)))
    assert row["kendall_tau"] <= fidelity.mean_retest_tau(table) <= fidelity.ceiling_tau(table) <= 1
    text = fidelity.markdown({"another training run (test-retest)": row}, table)
    assert "test-retest" in text and "the mean of 3 seeds ranks them like an independent rebuild" in text


def test_identical_seeds_have_a_perfect_ceiling_and_one_seed_has_none(tmp_path):
    raw = _table_dict(seeds=2)
    for a in raw["architectures"]:
        a["test_accuracy"] = [a["test_accuracy"][0]] * 2
    (tmp_path / "same.json").write_text(json.dumps(raw))
    table = fidelity.load_table(tmp_path / "same.json")
    assert fidelity.retest(table)["kendall_tau"] == pytest.approx(1)
    assert fidelity.ceiling_tau(table) == pytest.approx(1)
    for a in raw["architectures"]:
        a["test_accuracy"] = a["test_accuracy"][:1]
    (tmp_path / "one.json").write_text(json.dumps({**raw, "seeds": [0]}))
    with pytest.raises(ConfigError, match="at least 2 seeds"):
        fidelity.retest(fidelity.load_table(tmp_path / "one.json"))


def test_unknown_dataset_table_is_a_clear_error():
    with pytest.raises(ConfigError, match="allowed: digits, fashion"):
        fidelity.load_table(dataset="cifar10")


@pytest.mark.parametrize(
    "change, field",
    [
        ({"version": 99}, "version"),
        ({"format": "something-else"}, "format"),
        ({"protocol": {"preset": "digits", "config": make_config("digits", epochs=3).to_dict()}}, "epochs=3"),
        ({"architectures": [{"id": "x"}]}, "malformed"),
    ],
)
def test_table_of_another_protocol_or_version_is_refused(tmp_path, change, field):
    path = tmp_path / "t.json"
    path.write_text(json.dumps({**_table_dict(), **change}))
    with pytest.raises(ConfigError, match=field) as info:
        fidelity.load_table(path)
    assert str(path) in str(info.value)


def test_unreadable_table_names_the_file(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="broken.json"):
        fidelity.load_table(path)
    with pytest.raises(ConfigError, match="missing.json"):
        fidelity.load_table(tmp_path / "missing.json")


def test_the_shipped_table_meets_its_own_contract():
    table = fidelity.load_table()
    assert len(table.archs) >= 120 and len(table.seeds) >= 2
    assert all(len(a.accuracy) == len(table.seeds) and a.genotype.steps == 4 for a in table.archs)
    families = {f: sum(a.family == f for a in table.archs) for f in fidelity.FAMILIES}
    assert families["uniform"] >= 50 and families["transformed"] >= 50
    assert 0.25 <= len(table.subset("holdout")) / len(table.archs) <= 0.42
    # held-out groups are whole: a transformation is held out exactly when its input is
    assert all(a.holdout == table.by_id[a.parent].holdout for a in table.archs if a.parent)
    cost = fidelity.cost_scorers(table)
    assert fidelity.fidelity(table, cost["params"])["n"] == len(table.archs)


def test_random_transform_is_valid_and_prefer_narrows():
    for seed in range(20):
        g = zoo.sample(seed)
        t = random_transform(g, seed)
        assert t.normal.edges != () and [e[1:] for e in t.normal.edges] == [e[1:] for e in g.normal.edges]
        for before, after in zip(g.normal.ops + g.reduce.ops, t.normal.ops + t.reduce.ops):
            assert NATPP.is_allowed(before, after)
        cheap = random_transform(g, seed, prefer=["skip_connect", "null"])
        assert set(cheap.normal.ops + cheap.reduce.ops) <= {"skip_connect", "null"}
    assert random_transform(g, 3) == random_transform(g, 3)
    with pytest.raises(ValueError, match="prefer"):
        random_transform(g, 0, prefer=["conv_7x7"])


def test_naswot_is_seeded_finite_and_low_for_identical_images():
    data = load_dataset("digits")
    images = data.train.images[:32]
    g = zoo.get("DARTS")
    a = naswot(g, images, 4, 5, 10, seed=0)
    assert np.isfinite(a) and a == naswot(g, images, 4, 5, 10, seed=0)
    same = images[:1].repeat(32, 1, 1, 1)
    assert naswot(g, same, 4, 5, 10, seed=0) < a - 10  # one code repeated: K is (near) singular


def test_folds_partition_every_image_once():
    data = load_dataset("synthetic")
    n = len(data.train) + len(data.policy) + len(data.test)
    seen = []
    for seed in range(4):
        (xtr, ytr), (xte, yte) = train_test_split(data, 4, seed)
        assert len(ytr) + len(yte) == n and abs(len(yte) - n / 4) <= 1
        seen.append({tuple(x.flatten()[:6].tolist()) for x in xte})
    assert sum(map(len, seen)) == n and len(set().union(*seen)) == n
    assert train_test_split(data, 4, 5)[1][1].tolist() == train_test_split(data, 4, 1)[1][1].tolist()
    (xtr, _), (xte, _) = train_test_split(data, 0, 0)
    assert len(xte) == len(data.test) and torch.equal(xte, data.test.images)
    with pytest.raises(ConfigError, match="folds"):
        FinalConfig(folds=1)


def test_a_killed_batch_of_runs_resumes_and_skips_finished_runs(tmp_path):
    config = FinalConfig(
        dataset="synthetic", epochs=3, batch_size=32, channels=2, layers=2, cutout=0, drop_path=0.0,
        auxiliary=0.0, folds=4,
    )  # fmt: skip
    data = load_dataset("synthetic")
    g = zoo.sample(0)
    straight = train_seed(g, config, data, 1, tmp_path / "straight", device="cpu", progress=False)
    assert train_seed(g, config, data, 1, tmp_path / "a", device="cpu", progress=False, stop_after=1) is None
    runs = [(g, 1, tmp_path / "a"), (g, 0, tmp_path / "b")]
    train_runs(runs, config, workers=1, progress=False)
    resumed = json.loads((tmp_path / "a" / "result.json").read_text())
    assert resumed["test_accuracy"] == straight["test_accuracy"]
    stamp = (tmp_path / "b" / "result.json").stat().st_mtime_ns
    train_runs(runs, config, workers=1, progress=False)
    assert (tmp_path / "b" / "result.json").stat().st_mtime_ns == stamp
    with pytest.raises(ConfigError, match="workers"):
        train_runs(runs, config, workers=0)


def test_fidelity_command_scores_every_scorer_on_the_shipped_table(tmp_path, capsys):
    from agents.cli import main
    from natgym.supernet import SupernetConfig
    from natgym.supernet.train import default_config, train_supernet

    tiny = SupernetConfig(channels=4, layers=3, steps=4, in_channels=1, num_classes=10)
    path = train_supernet(default_config("digits", epochs=1, net=tiny.to_dict()), tmp_path / "s.pt", "cpu",
                          progress=False)  # fmt: skip
    assert main(["fidelity", "--supernet", str(path), "--out", str(tmp_path / "f.json")]) == 0
    text = capsys.readouterr().out
    for scorer in (
        "supernet (policy split)",
        "supernet (env, 64 images)",
        "params",
        "MAdds",
        "NASWOT (init)",
    ):
        assert f"| {scorer} |" in text
    report = json.loads((tmp_path / "f.json").read_text())["report"]
    assert set(report) == {"all", "holdout"} and report["all"]["params"]["n"] == len(
        fidelity.load_table().archs
    )


@given(st.floats(-0.99, 0.99), st.integers(1, 8))
def test_spearman_brown_tau_is_monotone_in_seeds_and_one_seed_gives_the_seed_correlation_back(rho, k):
    one = fidelity.spearman_brown_tau(rho, 1)
    r = 2 * np.sin(np.pi * rho / 6)
    assert one == pytest.approx(2 / np.pi * np.arcsin(min(max(r, 0.0), 1.0)), abs=1e-12)
    more = fidelity.spearman_brown_tau(rho, k + 1)
    assert fidelity.spearman_brown_tau(rho, k) <= more + 1e-12
    assert 0 <= more <= fidelity.spearman_brown_tau(rho, k + 1, scorer=True) <= 1


def test_split_half_is_the_tau_of_the_two_halves_means_and_is_printed_from_four_seeds(tmp_path):
    from scipy.stats import kendalltau

    path = tmp_path / "t.json"
    path.write_text(json.dumps(_table_dict(n_inputs=9, seeds=4)))
    table = fidelity.load_table(path)
    values = np.array([a.accuracy for a in table.archs])
    expected = kendalltau(values[:, :2].mean(1), values[:, 2:].mean(1)).statistic
    assert fidelity.split_half_tau(table) == pytest.approx(expected)
    row = fidelity.retest(table)
    text = fidelity.markdown({"another training run (test-retest)": row}, table)
    assert f"the mean of 2 seeds like that of 2 others at {expected:.2f} (measured)" in text

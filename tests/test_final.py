import json

import pytest
import torch

from agents.cli import main
from natgym import zoo
from natgym.cost import network_cost
from natgym.data import load_dataset
from natgym.errors import ConfigError
from natgym.final import PRESETS, cutout, evaluate, make_config, train_seed

TINY = dict(epochs=2, batch_size=64, channels=4, layers=3, auxiliary=0.4, drop_path=0.2, cutout=2)
RESULT_FIELDS = {
    "genotype",
    "genotype_text",
    "preset",
    "config",
    "dataset",
    "device",
    "seeds",
    "test_accuracy",
    "test_accuracy_mean",
    "test_accuracy_std",
    "params",
    "madds",
    "params_cifar",
    "madds_cifar",
    "wall_time_s",
    "wall_time_s_total",
}


@pytest.fixture(scope="module")
def data():
    return load_dataset("synthetic")


def _config(**kw):
    return make_config("digits", **{**TINY, "dataset": "synthetic", **kw})


def test_cifar10_preset_is_the_darts_protocol():
    c = PRESETS["cifar10"]
    assert (c.epochs, c.batch_size, c.channels, c.layers) == (600, 96, 36, 20)
    assert (c.lr, c.momentum, c.weight_decay, c.cutout, c.drop_path, c.auxiliary, c.grad_clip) == (
        0.025,
        0.9,
        3e-4,
        16,
        0.2,
        0.4,
        5.0,
    )


def test_interrupted_run_resumes_to_the_same_weights(data, tmp_path):
    g = zoo.get("DARTS")
    cfg = _config()
    straight = train_seed(g, cfg, data, 0, tmp_path / "straight", device="cpu", progress=False)
    assert train_seed(g, cfg, data, 0, tmp_path / "cut", device="cpu", progress=False, stop_after=1) is None
    state = torch.load(tmp_path / "cut" / "checkpoint.pt", weights_only=False)
    assert state["epoch"] == 1 and len(state["history"]) == 1
    state["history"][0]["from_checkpoint"] = True  # proves epoch 0 is not retrained on resume
    torch.save(state, tmp_path / "cut" / "checkpoint.pt")
    resumed = train_seed(g, cfg, data, 0, tmp_path / "cut", device="cpu", progress=False)
    assert [h["epoch"] for h in resumed["history"]] == [0, 1]
    assert resumed["history"][0].pop("from_checkpoint") is True
    assert resumed["history"] == straight["history"]
    assert resumed["test_accuracy"] == straight["test_accuracy"]
    a = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=False)["model"]
    b = torch.load(tmp_path / "cut" / "checkpoint.pt", weights_only=False)["model"]
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)


def test_finished_seed_is_not_retrained_and_other_config_is_refused(data, tmp_path):
    g = zoo.get("ResBlock")
    cfg = _config(epochs=1)
    first = train_seed(g, cfg, data, 3, tmp_path, device="cpu", progress=False)
    mtime = (tmp_path / "checkpoint.pt").stat().st_mtime_ns
    assert train_seed(g, cfg, data, 3, tmp_path, device="cpu", progress=False) == first
    assert (tmp_path / "checkpoint.pt").stat().st_mtime_ns == mtime
    with pytest.raises(ConfigError, match="config"):
        train_seed(g, _config(epochs=2), data, 3, tmp_path, device="cpu", progress=False)
    with pytest.raises(ConfigError, match="genotype"):
        train_seed(zoo.get("VGG"), cfg, data, 3, tmp_path, device="cpu", progress=False)


def test_result_file_has_documented_fields(data, tmp_path):
    g = zoo.get("MobileNetV2")
    res = evaluate(
        g,
        "digits",
        seeds=2,
        out_dir=tmp_path,
        device="cpu",
        progress=False,
        data=data,
        **{**TINY, "epochs": 1},
    )
    stored = json.loads((tmp_path / "result.json").read_text())
    assert set(stored) == RESULT_FIELDS
    assert stored == json.loads(json.dumps(res))
    assert stored["seeds"] == [0, 1] and len(stored["test_accuracy"]) == 2
    assert all(0.0 <= a <= 1.0 for a in stored["test_accuracy"])
    mean = sum(stored["test_accuracy"]) / 2
    assert stored["test_accuracy_mean"] == pytest.approx(mean)
    cost = network_cost(g, 4, 3, image_size=8, num_classes=4, in_channels=3)
    assert (stored["params"], stored["madds"]) == (cost.params, cost.madds)
    assert (stored["params_cifar"], stored["madds_cifar"]) == (network_cost(g).params, network_cost(g).madds)
    assert stored["wall_time_s_total"] > 0
    for s in (0, 1):
        assert (tmp_path / f"seed_{s}" / "result.json").is_file()


def test_cutout_zeroes_at_most_a_square():
    x = torch.ones(50, 2, 8, 8)
    out = cutout(x, 3, torch.Generator().manual_seed(0))
    zeros = (out == 0).all(1).sum((1, 2))
    assert ((zeros >= 1) & (zeros <= 9)).all() and (zeros == 9).any()
    assert torch.equal(cutout(x, 0), x)


@pytest.mark.parametrize(
    "kw,field",
    [
        ({"epochs": 0}, "epochs"),
        ({"drop_path": 1.0}, "drop_path"),
        ({"channels": 7}, "channels"),
        ({"foo": 1}, "foo"),
        ({"lr_schedule": "linear"}, "lr_schedule.*epoch, step"),
        ({"image_size": 2}, "image_size"),
        ({"train_subset": -1}, "train_subset"),
        ({"train_subset": 100}, "train_subset: only with folds=0"),
        ({"data_seed": -1}, "data_seed"),
    ],
)
def test_bad_config(kw, field):
    with pytest.raises(ConfigError, match=field):
        make_config("digits", **kw)


@pytest.mark.parametrize("epochs", [1, 3, 10])
def test_step_schedule_anneals_within_epochs_and_epoch_schedule_keeps_the_old_identity(epochs):
    from natgym.final import _lr

    step = make_config("digits", epochs=epochs, lr_schedule="step")
    rates = [_lr(step, e, i / 50) for e in range(epochs) for i in range(50)]
    assert rates[0] == step.lr and all(a > b for a, b in zip(rates, rates[1:]))
    assert rates[-1] < step.lr * 0.01  # the last steps train at a small rate
    per_epoch = make_config("digits", epochs=epochs)
    assert {_lr(per_epoch, epochs - 1, f) for f in (0.0, 0.5, 0.99)} == {_lr(per_epoch, epochs - 1)}
    assert "lr_schedule" not in per_epoch.to_dict() and step.to_dict()["lr_schedule"] == "step"


def test_data_seed_fixes_the_data_stream_across_seeds(data, tmp_path, monkeypatch):
    """With ``data_seed`` every seed sees the same minibatch order and augmentation; only the
    initialisation follows the seed."""
    seen: dict[int, list[torch.Tensor]] = {}
    real = type(data).augment

    def spy(self, images, generator=None):
        seen.setdefault(current, []).append(images.clone())
        return real(self, images, generator)

    monkeypatch.setattr(type(data), "augment", spy)
    for current in (0, 1):
        train_seed(
            zoo.get("DARTS"),
            _config(epochs=1, folds=0, data_seed=7),
            data,
            current,
            tmp_path / f"s{current}",
            progress=False,
        )
    assert len(seen[0]) == len(seen[1]) and all(torch.equal(a, b) for a, b in zip(seen[0], seen[1]))
    assert "data_seed" not in _config().to_dict() and _config(data_seed=7).to_dict()["data_seed"] == 7


def test_train_subset_is_fixed_across_seeds_and_the_image_size_is_checked(data, tmp_path):
    from natgym.final import train_test_split

    (a, _), (b, _) = train_test_split(data, 0, 0, subset=30), train_test_split(data, 0, 1, subset=30)
    assert len(a[1]) == 30 and torch.equal(a[0], b[0])
    with pytest.raises(ConfigError, match="train_subset: 1000 images"):
        train_test_split(data, 0, 0, subset=1000)
    with pytest.raises(ConfigError, match="image_size: the config trains on 16 px"):
        train_seed(zoo.get("DARTS"), _config(image_size=16), data, 0, tmp_path / "x", progress=False)


def test_unknown_preset():
    with pytest.raises(ConfigError, match="preset"):
        make_config("imagenet")


def test_cli_evaluate_rejects_bad_preset(capsys):
    with pytest.raises(SystemExit):
        main(["evaluate", "--genotype", "DARTS", "--preset", "imagenet"])
    assert main(["evaluate", "--genotype", "NoSuchNet", "--out", "/nonexistent"]) == 2
    assert "arch" in capsys.readouterr().err

"""Your own images (folder:PATH, npz:PATH) and cells of any size."""

from __future__ import annotations

import shutil
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from make_images import make_folder

import natgym  # noqa: F401  (registers the ids)
from natgym import zoo
from natgym.data import load_dataset
from natgym.errors import ConfigError
from natgym.reward import SupernetEvaluator
from natgym.spec import EvaluatorSpec
from natgym.supernet import SupernetConfig
from natgym.supernet.train import default_config, load_supernet, train_supernet

TINY = SupernetConfig(channels=4, layers=3, steps=4, in_channels=1, num_classes=3).to_dict()


@pytest.fixture
def folder(tmp_path) -> Path:
    return make_folder(tmp_path / "images")


def test_folder_dataset_loads_splits_and_names_its_content(folder, tmp_path):
    data = load_dataset(f"folder:{folder}")
    assert (data.in_channels, data.num_classes, data.image_size) == (1, 3, 8)
    assert (len(data.train), len(data.policy), len(data.test)) == (18, 11, 7)
    assert data.name.startswith("folder:") and str(folder) not in data.name
    moved = tmp_path / "elsewhere"
    shutil.copytree(folder, moved)
    assert load_dataset(f"folder:{moved}").name == data.name  # the path is not part of the key
    from PIL import Image

    first = moved / "class_0" / "000.png"
    pixels = np.asarray(Image.open(first)).copy()
    pixels[0, 0] ^= 1
    Image.fromarray(pixels).save(first)
    changed = load_dataset(f"folder:{moved}")
    assert changed.name != data.name
    a = default_config(f"folder:{folder}", data=data).filename()
    b = default_config(f"folder:{moved}", data=changed).filename()
    assert a != b and ":" not in a


def test_npz_dataset_and_rgb_folders(tmp_path):
    x = np.random.default_rng(1).integers(0, 255, (40, 8, 8, 3)).astype(np.uint8)
    y = np.arange(40) % 4
    np.savez(tmp_path / "d.npz", x=x, y=y)
    data = load_dataset(f"npz:{tmp_path / 'd.npz'}")
    assert (data.in_channels, data.num_classes, len(data.train) + len(data.policy) + len(data.test)) == (
        3,
        4,
        40,
    )
    rgb = load_dataset(f"folder:{make_folder(tmp_path / 'rgb', rgb=True)}")
    assert rgb.in_channels == 3


def _write_npz(path: Path, **arrays) -> str:
    np.savez(path, **arrays)
    return f"npz:{path}"


@pytest.mark.parametrize(
    "build, pattern",
    [
        (lambda t: f"folder:{t / 'nothing'}", "is not a folder"),
        (lambda t: (t / "empty").mkdir() or f"folder:{t / 'empty'}", "0 class sub-folder"),
        (lambda t: f"folder:{make_folder(t / 'one', classes=1)}", "1 class sub-folder"),
        (lambda t: f"npz:{t / 'missing.npz'}", "no .npz file"),
        (lambda t: _write_npz(t / "a.npz", x=np.zeros((30, 8, 8))), "no array 'y'"),
        (lambda t: _write_npz(t / "b.npz", x=np.zeros((30, 8)), y=np.zeros(30, int)), "N x H x W"),
        (lambda t: _write_npz(t / "c.npz", x=np.zeros((30, 8, 8)), y=np.zeros(29, int)), "30 integer labels"),
        (lambda t: _write_npz(t / "d.npz", x=np.zeros((30, 8, 8)), y=np.arange(30) % 3 * 2), "0..K-1"),
        (lambda t: _write_npz(t / "e.npz", x=np.zeros((30, 8, 8)), y=-np.ones(30, int)), "0..K-1"),
        (lambda t: _write_npz(t / "f.npz", x=np.zeros((30, 8, 6)), y=np.arange(30) % 2), "square"),
        (lambda t: _write_npz(t / "g.npz", x=np.zeros((6, 8, 8)), y=np.arange(6) % 2), "at least 20"),
    ],
)  # fmt: skip
def test_bad_data_errors(tmp_path, build, pattern):
    with pytest.raises(ConfigError, match=f"^dataset: .*{pattern}"):
        load_dataset(build(tmp_path))


def test_mixed_sizes_and_unreadable_images_name_the_files(folder):
    from PIL import Image

    Image.fromarray(np.zeros((10, 10), np.uint8)).save(folder / "class_1" / "big.png")
    with pytest.raises(ConfigError, match=r"^dataset: images of different sizes .*big\.png.*--image-size"):
        load_dataset(f"folder:{folder}")
    assert load_dataset(f"folder:{folder}", image_size=8).image_size == 8
    (folder / "class_2" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(ConfigError, match=r"^dataset: cannot read image .*broken\.png"):
        load_dataset(f"folder:{folder}", image_size=8)


def test_a_supernet_on_your_images_trains_and_scores(folder, tmp_path):
    data = load_dataset(f"folder:{folder}")
    config = default_config(f"folder:{folder}", data=data, epochs=2, net=TINY)
    assert config.batch_size == 18 and config.dataset == data.name
    path = train_supernet(config, tmp_path / "s.pt", "cpu", data=data, progress=False)
    model, meta = load_supernet(path)
    ev = SupernetEvaluator(model, data, meta["config"], device="cpu", batch_size=8)
    acc = ev.accuracy([zoo.sample(0), zoo.sample(1)])
    assert acc.shape == (2,) and ((0 <= acc) & (acc <= 1)).all()
    spec = EvaluatorSpec(f"folder:{folder}", supernet=str(path), device="cpu", batch_size=8)
    assert spec.build(progress=False).dataset == data.name
    with pytest.raises(ConfigError, match="^supernet: .*trained on your own images"):
        EvaluatorSpec("digits", supernet=str(path), device="cpu").build(progress=False)


def test_a_five_node_supernet_is_trained_when_the_env_needs_it(tmp_path, monkeypatch):
    monkeypatch.setenv("NATGYM_CACHE", str(tmp_path))
    env = gym.make(
        "NAT-Cell-v0",
        steps=5,
        arch="ENAS",
        reward={"dataset": "synthetic", "device": "cpu", "batch_size": 16},
    )
    assert env.unwrapped.evaluator.steps == 5
    _, info = env.reset(seed=0)
    _, reward, terminated, _, info = env.step(env.action_space.sample(mask=info["action_mask"]))
    assert terminated and np.isfinite(reward) and "steps5" not in info  # a plain episode
    four = gym.make("NAT-Cell-v0", reward={"dataset": "synthetic", "device": "cpu", "batch_size": 16})
    assert four.unwrapped.evaluator.steps == 4
    assert len(list((tmp_path / "supernets").glob("*.pt"))) == 2  # one per cell size

"""Checkpoints are read with ``weights_only=True``: a hostile pickle is refused without running,
and a truncated file gives one error that names it -- for every loader."""

from __future__ import annotations

import os

import pytest
import torch

from agents.nat.trainer import NATConfig, load_policy, train
from natgym import zoo
from natgym.data import load_dataset
from natgym.errors import ConfigError
from natgym.final import FinalConfig, train_seed
from natgym.reward import FunctionEvaluator
from natgym.supernet import SupernetConfig
from natgym.supernet.train import default_config, load_supernet, train_supernet


class Payload:
    """Unpickling this would run a shell command that creates ``marker``."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _loaders(tmp_path):
    tiny = SupernetConfig(channels=4, layers=3, steps=4, in_channels=3, num_classes=4)
    sconfig = default_config("synthetic", epochs=1, net=tiny.to_dict())
    fconfig = FinalConfig(
        dataset="synthetic", epochs=1, channels=2, layers=2, cutout=0, drop_path=0.0, auxiliary=0.0
    )
    data = load_dataset("synthetic")
    return {
        "supernet": (tmp_path / "s.pt", lambda p: load_supernet(p)),
        "supernet partial": (
            tmp_path / "r.pt.partial",
            lambda p: train_supernet(sconfig, tmp_path / "r.pt", "cpu", data=data, progress=False),
        ),
        "final seed": (
            tmp_path / "seed" / "checkpoint.pt",
            lambda p: train_seed(zoo.sample(0), fconfig, data, 0, p.parent, device="cpu", progress=False),
        ),
        "policy": (tmp_path / "policy.pt", lambda p: load_policy(p, device="cpu")),
        "agent resume": (
            tmp_path / "agent" / "checkpoint.pt",
            lambda p: train(
                NATConfig(num_envs=2, updates=1, progress=False, out_dir=str(p.parent)),
                evaluator=FunctionEvaluator(lambda g: 0.5),
            ),
        ),
    }


@pytest.mark.parametrize("loader", ["supernet", "supernet partial", "final seed", "policy", "agent resume"])
def test_hostile_pickle_is_refused_and_never_run(tmp_path, loader):
    path, load = _loaders(tmp_path)[loader]
    path.parent.mkdir(parents=True, exist_ok=True)
    marker = tmp_path / "pwned"
    torch.save({"format": "natgym-supernet", "model": Payload(str(marker))}, path)
    with pytest.raises(ConfigError, match=str(path.name)):
        load(path)
    assert not marker.exists()


@pytest.mark.parametrize("loader", ["supernet", "supernet partial", "final seed", "policy", "agent resume"])
def test_truncated_checkpoint_names_the_file_and_the_way_out(tmp_path, loader):
    path, load = _loaders(tmp_path)[loader]
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": torch.zeros(1000)}, path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ConfigError, match=str(path.name)) as info:
        load(path)
    assert "\n" not in str(info.value) and any(w in str(info.value) for w in ("delete", "pass", "retrain"))

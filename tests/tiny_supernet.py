"""A tiny supernet checkpoint on the embedded digits dataset (seconds to train), for end-to-end tests of
commands that load a real supernet evaluator."""

from pathlib import Path

from natgym.supernet.model import SupernetConfig
from natgym.supernet.train import default_config, train_supernet


def tiny_supernet(folder: Path) -> Path:
    """Train (1 epoch) and save a 4-channel, 3-cell supernet on ``digits``; return its path."""
    net = SupernetConfig(channels=4, layers=3, steps=4, in_channels=1, num_classes=10)
    config = default_config("digits", epochs=1, net=net.to_dict())
    return Path(train_supernet(config, folder / "tiny.pt", "cpu", progress=False))

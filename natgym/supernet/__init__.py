"""The weight-sharing supernet (:mod:`natgym.supernet.model`) and its training, checkpoints and
cache (:mod:`natgym.supernet.train`)."""

from natgym.supernet.model import PRESETS, BlockBatchNorm, Supernet, SupernetConfig

__all__ = ["PRESETS", "BlockBatchNorm", "Supernet", "SupernetConfig"]

"""The weight-sharing supernet (:mod:`natgym.supernet.model`), its training, checkpoints and
cache (:mod:`natgym.supernet.train`) and the reward evaluator's fast CPU forward
(:mod:`natgym.supernet.fast`)."""

from natgym.supernet.model import PRESETS, BlockBatchNorm, Supernet, SupernetConfig

__all__ = ["PRESETS", "BlockBatchNorm", "Supernet", "SupernetConfig"]

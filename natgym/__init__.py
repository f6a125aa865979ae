"""natgym: Neural Architecture Transformer++ as a Gymnasium environment.

Public names: :data:`OPS`, :class:`Genotype`, :class:`Cell`, :class:`EvaluatorSpec` and
:class:`EvaluatorPool` (the reward configuration and explicit sharing, :mod:`natgym.spec`),
:class:`ConfigError`, :class:`GenotypeError`, :class:`InvalidActionError`; modules
:mod:`natgym.transitions`, :mod:`natgym.cost`, :mod:`natgym.zoo`, :mod:`natgym.graph`,
:mod:`natgym.network` (stand-alone DARTS network), :mod:`natgym.final` (from-scratch training,
``natgym evaluate``).
"""

from natgym.envs import register_envs
from natgym.errors import ConfigError, GenotypeError, InvalidActionError
from natgym.genotype import Cell, Genotype
from natgym.space import OPS
from natgym.spec import EvaluatorPool, EvaluatorSpec

register_envs()  # NAT-Cell-v0, NAT-CellSeq-v0 (see natgym.envs); imports no torch

__version__ = "0.1.0"
__all__ = [
    "OPS",
    "Cell",
    "ConfigError",
    "EvaluatorPool",
    "EvaluatorSpec",
    "Genotype",
    "GenotypeError",
    "InvalidActionError",
]

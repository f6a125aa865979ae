"""natgym: Neural Architecture Transformer++ as a Gymnasium environment.

Public names: :data:`OPS`, :class:`Genotype`, :class:`Cell`, :class:`GenotypeError`,
:class:`InvalidActionError`; modules :mod:`natgym.transitions`, :mod:`natgym.cost`,
:mod:`natgym.zoo`, :mod:`natgym.graph`.
"""

from natgym.errors import ConfigError, GenotypeError, InvalidActionError
from natgym.genotype import Cell, Genotype
from natgym.space import OPS

__version__ = "0.1.0"
__all__ = ["OPS", "Cell", "ConfigError", "Genotype", "GenotypeError", "InvalidActionError"]

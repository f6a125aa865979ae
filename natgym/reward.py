"""Reward evaluators: how accurate is an architecture, and how much did a transformation gain.

:class:`Evaluator` is the interface the environments use; :class:`FunctionEvaluator` wraps any
Python scoring function (handy for tests and toy problems).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

import numpy as np

from natgym.genotype import Genotype


class Evaluator(ABC):
    """Scores genotypes by accuracy (a fraction in [0, 1]).

    ``queries`` counts genotype accuracies requested, ``evaluations`` those actually computed
    (cache misses) -- budgets in benchmarks are counted in ``queries``.
    """

    deterministic: bool = True

    def __init__(self) -> None:
        self.queries = 0
        self.evaluations = 0

    @abstractmethod
    def accuracy(self, genotypes: Sequence[Genotype]) -> np.ndarray:
        """Accuracy of each genotype (float64 array, same order), all on the same images."""

    def reward(self, before: Sequence[Genotype], after: Sequence[Genotype]) -> np.ndarray:
        """``accuracy(after) - accuracy(before)`` pairwise, both measured in one call on the
        same images."""
        before, after = list(before), list(after)
        if len(before) != len(after):
            raise ValueError(f"after: expected {len(before)} genotypes (one per input), got {len(after)}")
        acc = self.accuracy(before + after)
        return acc[len(before) :] - acc[: len(before)]


class FunctionEvaluator(Evaluator):
    """An evaluator backed by a function ``genotype -> accuracy``."""

    def __init__(self, fn: Callable[[Genotype], float]) -> None:
        super().__init__()
        self.fn = fn

    def accuracy(self, genotypes: Sequence[Genotype]) -> np.ndarray:
        genotypes = list(genotypes)
        self.queries += len(genotypes)
        self.evaluations += len(genotypes)
        return np.array([float(self.fn(g)) for g in genotypes], dtype=np.float64)

"""Fast deterministic evaluators for the environment tests (no supernet needed)."""

from __future__ import annotations

import warnings

from natgym.genotype import Genotype
from natgym.reward import FunctionEvaluator
from natgym.space import OP_INDEX

# Toy accuracy: separable convs help, nulls hurt, a little weight on every op so most changes
# move the score.
_WEIGHT = {op: 0.001 * (i + 1) for op, i in OP_INDEX.items()}
_WEIGHT.update({"sep_conv_3x3": 0.03, "sep_conv_5x5": 0.02, "null": -0.02})


def toy_accuracy(genotype: Genotype) -> float:
    """A deterministic score in (0, 1) that depends on every edge's op."""
    score = 0.5 + sum(_WEIGHT[op] for cell in genotype.cells for op in cell.ops) / 4
    return min(max(score, 0.01), 0.99)


def toy_evaluator() -> FunctionEvaluator:
    """A fresh deterministic evaluator backed by :func:`toy_accuracy`."""
    return FunctionEvaluator(toy_accuracy)


class RandomEvaluator(FunctionEvaluator):
    """A nondeterministic evaluator (like mode="minibatch")."""

    deterministic = False

    def __init__(self) -> None:
        import random

        super().__init__(lambda g: random.random())


def sb3_check_env_warnings(env) -> list[str]:
    """Run SB3's ``check_env`` and return every warning it raised."""
    from stable_baselines3.common.env_checker import check_env

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env, warn=True)
    return [f"{w.category.__name__}: {w.message}" for w in caught]

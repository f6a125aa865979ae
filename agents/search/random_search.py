"""Uniform random valid transformations: a policy, and random search (best of K).

:func:`uniform_action` is the one implementation of "pick, for every edge independently, a
target op uniformly among the ops the transition rule allows"; :class:`RandomPolicy` wraps it
for observations, and :func:`random_search` evaluates K such transformations of one input and
keeps the best.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np

from agents.search.problem import SearchResult, TransformProblem
from natgym.errors import ConfigError
from natgym.genotype import Genotype
from natgym.space import NUM_OPS


def _as_edge_masks(mask: Any) -> np.ndarray:
    arr = np.asarray(mask).astype(bool)
    if arr.ndim == 0 or arr.shape[-1] % NUM_OPS:
        raise ConfigError(
            f"action_mask: expected a last dimension that is a multiple of {NUM_OPS}, got {arr.shape}"
        )
    if arr.shape[-1] != NUM_OPS:
        arr = arr.reshape(*arr.shape[:-1], -1, NUM_OPS)
    if not arr.any(-1).all():
        raise ConfigError("action_mask: every edge must allow at least one op")
    return arr


def uniform_action(mask: Any, rng: np.random.Generator) -> np.ndarray:
    """One target op per edge, uniform over the allowed ops.

    ``mask`` is ``(..., 13)`` or flat ``(..., 2E * 13)`` (1 = allowed), e.g. ``obs["action_mask"]``
    or ``env.action_masks()``, batched or not; the result has shape ``(..., 2E)`` (int64).
    """
    return uniform_choice(_as_edge_masks(mask), rng)


def uniform_choice(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One choice per action dimension, uniform over the allowed ones: ``mask`` is
    ``(..., dims, width)`` bool (e.g. :attr:`TransformProblem.mask`), the result ``(..., dims)``."""
    keys = np.where(mask, rng.random(mask.shape), -1.0)
    return keys.argmax(-1).astype(np.int64)


class RandomPolicy:
    """The uniform random valid-transition policy, seeded: ``policy(obs)`` -> action(s)."""

    def __init__(self, seed: int | np.random.Generator | None = 0) -> None:
        self.rng = np.random.default_rng(seed)

    def __call__(self, obs: Mapping[str, Any]) -> np.ndarray:
        """Actions for an observation (or a batch of them) holding ``action_mask``."""
        return uniform_action(obs["action_mask"], self.rng)


def random_search(
    env: gym.Env, budget: int, seed: int = 0, k: int | None = None, genotype: Genotype | None = None
) -> SearchResult:
    """Best of ``k`` uniform random valid transformations of one input (``genotype``, or the
    env's first reset), stopping early when ``budget`` supernet queries are spent."""
    if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 1):
        raise ConfigError(f"k: expected a positive number of samples or None, got {k!r}")
    problem = TransformProblem(env, budget, seed, genotype)
    rng = np.random.default_rng(seed)
    samples = 0
    while not problem.exhausted and (k is None or samples < k):
        problem.evaluate(uniform_choice(problem.mask, rng))
        samples += 1
    return problem.result()

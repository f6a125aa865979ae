"""Regularised (aging) evolution over transformations (Real et al., 2019), through the env API.

An individual is a full action (target op per edge) for one fixed input genotype. The population
starts with ``population`` uniform random valid transformations; each cycle draws ``sample``
individuals at random, mutates the best of them (one edge that has another allowed op moves to
a different allowed op, uniformly), evaluates the child, adds it and removes the oldest member.
The best transformation ever evaluated is returned.
"""

from __future__ import annotations

from collections import deque

import gymnasium as gym
import numpy as np

from agents.search.problem import SearchResult, TransformProblem
from agents.search.random_search import uniform_choice
from natgym.errors import ConfigError
from natgym.genotype import Genotype


def mutate(action: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``action`` with one dimension (an edge's op, or a node's source pair) moved to another
    allowed choice (unchanged if no dimension has one); ``mask`` is ``(dims, width)``."""
    child = np.array(action, dtype=np.int64)
    free = np.flatnonzero(mask.sum(-1) > 1)
    if free.size == 0:
        return child
    edge = int(rng.choice(free))
    options = np.flatnonzero(mask[edge])
    child[edge] = int(rng.choice(options[options != child[edge]]))
    return child


def regularized_evolution(
    env: gym.Env,
    budget: int,
    seed: int = 0,
    population: int = 16,
    sample: int = 4,
    genotype: Genotype | None = None,
) -> SearchResult:
    """Regularised evolution on one input (``genotype`` or the env's first reset) until
    ``budget`` supernet queries are spent; see the module docstring."""
    for name, value in (("population", population), ("sample", sample)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name}: expected a positive integer, got {value!r}")
    if sample > population:
        raise ConfigError(f"sample: must be at most population ({population}), got {sample}")
    problem = TransformProblem(env, budget, seed, genotype)
    rng = np.random.default_rng(seed)
    members: deque[tuple[np.ndarray, float]] = deque()
    while len(members) < population and not problem.exhausted:
        action = uniform_choice(problem.mask, rng)
        members.append((action, problem.evaluate(action)))
    while not problem.exhausted:
        picks = rng.choice(len(members), size=min(sample, len(members)), replace=False)
        parent = max((members[i] for i in picks), key=lambda m: m[1])[0]
        child = mutate(parent, problem.mask, rng)
        members.append((child, problem.evaluate(child)))
        members.popleft()
    return problem.result()

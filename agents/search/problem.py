"""A transformation search problem: one input genotype, evaluated through the env API.

:class:`TransformProblem` resets the env to the same input before every evaluation
(``reset(options={"genotype": input})``) and steps once with a full action, so search baselines
use exactly the reward, rule and evaluator an RL agent sees, and their cost is counted from the
steps' ``info["queries"]`` like everyone else's. It works on any one-step env with a
``MultiDiscrete`` action whose reset ``info["action_mask"]`` holds one mask per action
dimension: NAT-Cell-v0 (a target op per edge) and NAT-Path-v0 (also a source pair per node).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

from natgym import graph, wiring
from natgym.errors import ConfigError
from natgym.genotype import Genotype


@dataclass
class SearchResult:
    """What a search returns: the input, the best action (target op per edge), its reward and
    end-of-episode ``info``, the ``(queries spent, reward)`` of every evaluation, and the
    total queries spent."""

    input_genotype: Genotype
    best_action: np.ndarray
    best_reward: float
    best_info: dict[str, Any]
    history: list[tuple[int, float]] = field(default_factory=list)
    queries: int = 0


class TransformProblem:
    """Evaluate full transformations of one input genotype on a ``NAT-Cell-v0`` env.

    The input is ``genotype`` if given, else whatever the first ``env.reset(seed=seed)`` draws
    (the env's fixed ``arch`` or its sampler). ``budget`` is in supernet queries.
    """

    def __init__(self, env: gym.Env, budget: int, seed: int = 0, genotype: Genotype | None = None) -> None:
        if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < 1:
            raise ConfigError(f"budget: expected a positive number of supernet queries, got {budget!r}")
        if not isinstance(env.action_space, gym.spaces.MultiDiscrete):
            raise ConfigError(
                "env: search baselines need the one-step NAT-Cell-v0 interface (MultiDiscrete action, "
                f"one target op per edge), got action space {env.action_space}"
            )
        self.env = env
        self.budget = int(budget)
        options = {"genotype": genotype} if genotype is not None else None
        obs, info = env.reset(seed=seed, options=options)
        self.genotype = genotype if genotype is not None else graph.decode(obs)
        self.mask = padded_masks(info["action_mask"])
        self.used = 0  # supernet queries spent so far
        self.history: list[tuple[int, float]] = []
        self.best: tuple[float, np.ndarray, dict[str, Any]] | None = None
        self._fresh = True  # the env has just been reset to the input

    @property
    def exhausted(self) -> bool:
        """Whether the budget is spent."""
        return self.used >= self.budget

    def evaluate(self, action: np.ndarray) -> float:
        """The reward of ``action`` (one env episode); updates the incumbent and the history."""
        if not self._fresh:
            self.env.reset(options={"genotype": self.genotype})
        self._fresh = False
        action = np.asarray(action, dtype=np.int64)
        _, reward, _, _, info = self.env.step(action)
        self.used += int(info.get("queries", 0))
        reward = float(reward)
        self.history.append((self.used, reward))
        if self.best is None or reward > self.best[0]:
            self.best = (reward, action.copy(), info)
        return reward

    def result(self) -> SearchResult:
        """The :class:`SearchResult` so far (needs at least one evaluation)."""
        if self.best is None:
            raise ConfigError("budget: too small for a single evaluation")
        reward, action, info = self.best
        return SearchResult(self.genotype, action, reward, info, list(self.history), self.used)


def padded_masks(masks: Any) -> np.ndarray:
    """``(dims, width)`` bool: one row per action dimension (``info["action_mask"]``'s arrays),
    padded with False to the widest dimension, so row ``d`` allows choices ``flatnonzero(row)``."""
    rows = [np.asarray(m).astype(bool).reshape(-1) for m in masks]
    out = np.zeros((len(rows), max(len(r) for r in rows)), dtype=bool)
    for d, row in enumerate(rows):
        out[d, : len(row)] = row
    if not out.any(-1).all():
        raise ConfigError("action_mask: every action dimension must allow at least one choice")
    return out


def transformed(genotype: Genotype, action: np.ndarray) -> Genotype:
    """The genotype a masked-valid ``action`` makes of ``genotype``: its first ``4 * steps``
    entries are target ops (normal cell, then reduce cell); any further entries are NAT-Path-v0's
    source pairs (:func:`natgym.wiring.rewire`)."""
    action = np.asarray(action, dtype=np.int64)
    e = 2 * genotype.steps
    after = genotype.with_ops(action[:e], action[e : 2 * e])
    return wiring.rewire(after, action[2 * e :]) if len(action) > 2 * e else after

"""Depth-search baselines of ``NAT-Depth-v0``: incremental deepening by stage importance (the
seed method's own search) and random episodes.

From the episode's starting depths, every allowed one-cell deepening is scored (one
:meth:`~natgym.reward.Evaluator.depth_accuracy` call: the current depths and each candidate on the
same images); the stage whose extra cell gains the most accuracy per added MAdd (its
**importance**) is deepened through the env, and the search stops when no allowed deepening
gains accuracy -- deepening the stages whose extra cells matter and keeping the others shallow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

from natgym.envs.depth import STOP, depth_cost
from natgym.errors import ConfigError


@dataclass
class DeepenResult:
    """What :func:`deepen_by_importance` found: the final ``depths``, the episode's summed
    reward, the supernet queries spent and, per decision, each candidate stage's importance."""

    depths: tuple[int, int, int]
    reward: float
    queries: int
    decisions: list[dict[str, Any]] = field(default_factory=list)


def deepen_by_importance(
    env: gym.Env, budget: int | None = None, seed: int = 0, min_gain: float = 0.0
) -> DeepenResult:
    """Run one episode of ``env`` (``NAT-Depth-v0``) with the importance rule (module docstring);
    ``min_gain`` is the accuracy gain a deepening must exceed, ``budget`` caps the queries
    (the search stops before a decision it cannot pay for)."""
    if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int) or budget < 1):
        raise ConfigError(f"budget: expected a positive number of supernet queries or None, got {budget!r}")
    base = env.unwrapped
    obs, info = env.reset(seed=seed)
    genotype, evaluator = base.genotype, base.evaluator
    depths, total, queries, decisions = tuple(int(d) for d in obs["depths"]), 0.0, 0, []
    while True:
        stages = [s for s in (1, 2, 3) if info["action_mask"][s]]
        candidates = [tuple(d + (s == i + 1) for i, d in enumerate(depths)) for s in stages]
        cost = 1 + len(candidates) + 3 + 2  # this decision, the env's step, and the final stop
        if not candidates or (budget is not None and queries + cost > budget):
            break
        acc = evaluator.depth_accuracy(genotype, [depths, *candidates])
        queries += 1 + len(candidates)
        madds = depth_cost(genotype, depths).madds
        gains = acc[1:] - acc[0]
        extra = np.array([depth_cost(genotype, c).madds - madds for c in candidates], dtype=np.float64)
        importance = gains / np.maximum(extra, 1.0)
        decisions.append({"depths": depths, **{f"stage_{s}": float(v) for s, v in zip(stages, importance)}})
        best = int(np.argmax(importance))
        if gains[best] <= min_gain:
            break
        obs, reward, terminated, truncated, info = env.step(stages[best])
        total, queries = total + reward, queries + int(info["queries"])
        depths = tuple(int(d) for d in obs["depths"])
        if terminated or truncated:
            return DeepenResult(depths, total, queries, decisions)
    _, reward, _, _, info = env.step(STOP)
    return DeepenResult(depths, total + reward, queries + int(info["queries"]), decisions)


def random_depths(env: gym.Env, budget: int, seed: int = 0) -> DeepenResult:
    """Episodes of uniformly random allowed actions (stop included) until ``budget`` supernet
    queries are spent; returns the episode with the highest return (the earliest among ties)."""
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise ConfigError(f"budget: expected a positive number of supernet queries, got {budget!r}")
    rng = np.random.default_rng(seed)
    queries, best = 0, None
    episode = 0
    while queries < budget:
        obs, info = env.reset(seed=seed + episode)
        episode += 1
        total, done = 0.0, False
        while not done:
            action = int(rng.choice(np.flatnonzero(info["action_mask"])))
            obs, reward, terminated, truncated, info = env.step(action)
            total, queries, done = total + reward, queries + int(info["queries"]), terminated or truncated
        if best is None or total > best.reward:
            best = DeepenResult(tuple(int(d) for d in obs["depths"]), total, queries)
    best.queries = queries
    return best

"""Depth-search baselines of ``NAT-Depth-v0``: incremental deepening by stage importance (the
seed method's own search), random episodes, and regularised evolution and BoTorch BO over the
final stage depths (each candidate realised by :func:`play`).

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

from natgym.checks import positive_int
from natgym.envs.depth import STOP, depth_cost


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
    if budget is not None:
        positive_int("budget", budget)
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
    positive_int("budget", budget)
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


def play(env: gym.Env, target: tuple[int, ...], seed: int = 0) -> DeepenResult:
    """One episode that deepens stage 1, then 2, then 3 toward ``target`` (each as far as the
    mask allows: ``max_depth``, the MAdds budget), then stops; the depths it reached."""
    obs, info = env.reset(seed=seed)
    total, queries = 0.0, 0
    for stage in (1, 2, 3):
        while obs["depths"][stage - 1] < target[stage - 1] and info["action_mask"][stage]:
            obs, reward, _, _, info = env.step(stage)
            total, queries = total + reward, queries + int(info["queries"])
    obs, reward, _, _, info = env.step(STOP)
    return DeepenResult(tuple(int(d) for d in obs["depths"]), total + reward, queries + int(info["queries"]))


def _triples(most: int) -> list[tuple[int, int, int]]:
    return [(a, b, c) for a in range(1, most + 1) for b in range(1, most + 1) for c in range(1, most + 1)]


def _search(env: gym.Env, budget: int, seed: int, propose: Any) -> DeepenResult:
    """Play ``propose(history, rng)``'s targets until ``budget`` queries are spent; the best."""
    positive_int("budget", budget)
    rng = np.random.default_rng(seed)
    history: list[DeepenResult] = []
    queries = 0
    while queries < budget:
        target = propose(history, rng)
        if target is None:  # every configuration is evaluated
            break
        result = play(env, target, seed)
        queries += result.queries
        history.append(result)
    best = max(history, key=lambda r: r.reward)  # the earliest among ties
    return DeepenResult(best.depths, best.reward, queries)


def evolve_depths(
    env: gym.Env, budget: int, seed: int = 0, population: int = 16, sample: int = 4
) -> DeepenResult:
    """Regularised evolution over stage depths: ``population`` random depth triples, then
    rounds that copy the best of ``sample`` random members, change one stage by +-1 (within
    1..``max_depth``), play it and drop the oldest member."""
    most = env.unwrapped.max_depth

    def propose(history: list[DeepenResult], rng: np.random.Generator) -> tuple[int, ...]:
        if len(history) < population:
            return tuple(int(d) for d in rng.integers(1, most + 1, 3))
        alive = history[-population:]
        parent = max((alive[int(i)] for i in rng.choice(len(alive), min(sample, len(alive)), replace=False)),
                     key=lambda r: r.reward)  # fmt: skip
        child = list(parent.depths)
        stage = int(rng.integers(3))
        child[stage] = int(np.clip(child[stage] + rng.choice((-1, 1)), 1, most))
        return tuple(child)

    return _search(env, budget, seed, propose)


def bo_depths(
    env: gym.Env, budget: int, seed: int = 0, initial: int = 8, batch: int = 4, candidates: int = 256
) -> DeepenResult:
    """Bayesian optimisation over stage depths: ``initial`` random triples, then the
    unevaluated triple with the highest log-EI of a GP on the depths scaled to [0, 1]
    (:func:`agents.search.bo.rank_by_ei`; at most ``candidates`` random unevaluated triples
    are ranked, ``batch`` played per fit); ends early once every triple is evaluated."""
    import torch

    from agents.search.bo import rank_by_ei

    most = env.unwrapped.max_depth
    space = _triples(most)
    queue: list[tuple[int, ...]] = []
    proposed: set[tuple[int, ...]] = set()  # targets the mask may stop short of count as tried

    def scale(triples: list[tuple[int, ...]]) -> torch.Tensor:
        return (torch.tensor(triples, dtype=torch.float64) - 1) / max(most - 1, 1)

    def choose(history: list[DeepenResult], rng: np.random.Generator) -> tuple[int, ...] | None:
        if queue:
            return queue.pop(0)
        seen = {r.depths for r in history} | proposed
        fresh = [t for t in space if t not in seen]
        if not fresh:
            return None
        if len(history) < initial:
            return fresh[int(rng.integers(len(fresh)))]
        pool = [fresh[int(i)] for i in rng.permutation(len(fresh))[:candidates]]
        order = rank_by_ei(
            scale([r.depths for r in history]), [r.reward for r in history], scale(pool), batch
        )
        picks = [pool[int(i)] for i in order] if order is not None else pool[:batch]
        queue.extend(picks[1:])
        return picks[0]

    def propose(history: list[DeepenResult], rng: np.random.Generator) -> tuple[int, ...] | None:
        target = choose(history, rng)
        if target is not None:
            proposed.add(target)
        return target

    return _search(env, budget, seed, propose)

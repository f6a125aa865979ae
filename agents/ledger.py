"""Counting supernet queries and recording finished episodes, for every kind of agent alike.

A :class:`Ledger` counts the supernet queries of the envs it is attached to -- from each
step's ``info["queries"]`` (what that step asked the evaluator), so several consumers of one
shared evaluator never count each other's queries. :class:`LedgerWrapper` wraps any natgym env
(``NAT-Cell-v0``, ``NAT-CellSeq-v0``) and appends one row per finished episode to its ledger:
the queries spent so far, the reward,
the accuracies, the MAdds and parameter ratios (after / before), the input and the transformed
genotype.
It also adds ``madds_ratio`` and ``params_ratio`` to the final ``info`` (so ``Monitor`` can
record them with ``info_keywords``). Several wrapped envs may share one ledger;
:class:`LedgerVectorWrapper` does the same for a Gymnasium vector env (batched ``info``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

from natgym.errors import ConfigError


@dataclass
class Ledger:
    """Supernet queries spent by the attached envs (``used``), and the episodes they finished
    within ``budget`` (None = unlimited). Episodes that end after the budget is spent are not
    recorded."""

    budget: int | None = None
    used: int = 0
    episodes: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.budget is not None and (isinstance(self.budget, bool) or int(self.budget) < 1):
            raise ConfigError(f"budget: expected a positive number of supernet queries, got {self.budget!r}")

    @property
    def exhausted(self) -> bool:
        """Whether the budget is spent."""
        return self.budget is not None and self.used >= self.budget

    def record(self, reward: float, info: dict[str, Any]) -> None:
        """Append a finished episode (ignored once past the budget)."""
        if self.budget is not None and self.used > self.budget:
            return
        self.episodes.append(
            {
                "queries": self.used,
                "reward": float(reward),
                "acc_before": float(info["acc_before"]),
                "acc_after": float(info["acc_after"]),
                "madds_ratio": float(info["madds_ratio"]),
                "params_ratio": float(info["params_ratio"]),
                "genotype_before": str(info["genotype_before"]),
                "genotype_after": str(info["genotype_after"]),
            }
        )

    def best(self) -> dict[str, Any] | None:
        """The episode with the highest reward (the earliest among ties), or None."""
        if not self.episodes:
            return None
        return self.episodes[int(np.argmax([e["reward"] for e in self.episodes]))]


def add_ratios(info: dict[str, Any]) -> dict[str, Any]:
    """Add ``madds_ratio`` and ``params_ratio`` (after / before) to an end-of-episode ``info``."""
    if "madds_before" in info and "madds_ratio" not in info:
        info["madds_ratio"] = info["madds_after"] / max(info["madds_before"], 1)
        info["params_ratio"] = info["params_after"] / max(info["params_before"], 1)
    return info


class LedgerWrapper(gym.Wrapper):
    """Records every finished episode of ``env`` in ``ledger`` (see the module docstring).

    ``ledger`` defaults to a new unlimited ledger.
    """

    def __init__(self, env: gym.Env, ledger: Ledger | None = None) -> None:
        super().__init__(env)
        self.ledger = ledger if ledger is not None else Ledger()
        self._return = 0.0

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        self._return = 0.0
        return self.env.reset(**kwargs)

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.ledger.used += int(info.get("queries", 0))
        self._return += float(reward)
        if "acc_after" in info:
            add_ratios(info)
            if terminated or truncated:  # the episode's return: its one reward, or (NAT-Depth-v0) their sum
                self.ledger.record(self._return, info)
        return obs, reward, terminated, truncated, info


class LedgerVectorWrapper(gym.vector.VectorWrapper):
    """:class:`LedgerWrapper` for a vector env: records each sub-env's finished episode from the
    batched ``info`` (``info[key][i]`` valid where ``info["_" + key][i]``)."""

    def __init__(self, env: gym.vector.VectorEnv, ledger: Ledger) -> None:
        super().__init__(env)
        self.ledger = ledger

    def step(self, actions: Any) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        obs, rewards, terminated, truncated, infos = self.env.step(actions)
        done = np.asarray(terminated) | np.asarray(truncated)
        if "queries" in infos:
            self.ledger.used += int(np.sum(np.asarray(infos["queries"])[infos["_queries"]]))
        valid = infos.get("_acc_after", np.zeros(len(done), bool))
        keys = (
            "acc_before",
            "acc_after",
            "madds_before",
            "madds_after",
            "params_before",
            "params_after",
            "genotype_before",
            "genotype_after",
        )
        for i in np.flatnonzero(done & valid):
            self.ledger.record(float(rewards[i]), add_ratios({k: infos[k][i] for k in keys}))
        return obs, rewards, terminated, truncated, infos

"""NAT-Depth-v0: stage-wise depth search -- how many normal cells each stage stacks."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from natgym import graph
from natgym.checks import finite, positive_int
from natgym.cost import Cost, network_cost
from natgym.envs.core import HonestSpec, Transform, bind_evaluator
from natgym.errors import ConfigError, InvalidActionError
from natgym.genotype import Genotype
from natgym.reward import Evaluator
from natgym.spec import EvaluatorPool, EvaluatorSpec

STOP = 0
"""The action that ends the episode; action ``s`` (1, 2, 3) deepens stage ``s``."""
DEFAULT_REWARD: dict[str, str] = {"dataset": "fashion", "preset": "fashion-depth"}
"""The elastic-depth supernet the env scores with when no ``reward`` is given."""
COST_CHANNELS = 36
"""Costs are those of the DARTS CIFAR-10 network (36 channels, 32 x 32 images) at the given depths."""


def depth_cost(genotype: Genotype, depths: Sequence[int]) -> Cost:
    """Params and MAdds of the CIFAR-size network of ``genotype`` with ``depths`` normal cells
    per stage (:func:`natgym.cost.network_cost`; equal to :class:`natgym.network.Network`'s
    parameter count), cached: the env asks for the same few every step."""
    return _depth_cost(genotype, tuple(int(d) for d in depths))


@lru_cache(maxsize=1 << 14)
def _depth_cost(genotype: Genotype, depths: tuple[int, ...]) -> Cost:
    return network_cost(genotype, COST_CHANNELS, depths=depths)


class NATDepthEnv(HonestSpec, gym.Env):
    """Stage-wise depth search: start from shallow stages and deepen them one cell at a time.

    The cell pair is fixed for the episode (a uniform input, ``arch`` or
    ``options={"genotype": g}``); the state is that genotype plus the number of normal cells of
    each of the network's three stages (the reduction cells between stages are always there).

    ## Observation

    The :mod:`natgym.graph` arrays of the genotype, ``depths`` (``MultiDiscrete([D + 1] * 3)``,
    the current normal cells per stage) and ``action_mask`` (``MultiBinary(4)``, the allowed
    actions; also :meth:`action_masks` for sb3-contrib's ``MaskablePPO`` and
    ``info["action_mask"]`` for ``env.action_space.sample(mask=...)``).

    ## Action

    ``Discrete(4)``: ``0`` stops; ``s`` in 1..3 adds one normal cell to stage ``s``. Deepening a
    stage is masked once it holds ``max_depth`` cells and, with ``madds_budget``, when the deeper
    network would cost more MAdds than the budget; stopping is always allowed. A masked action
    follows ``invalid_action``: ``"keep"`` (the depths stay, reward 0), ``"penalty"`` (the same,
    minus ``invalid_penalty``) or ``"raise"`` (:class:`natgym.InvalidActionError`).

    ## Reward

    ``acc(depths after) - acc(depths before)`` on the elastic-depth supernet (scored in one
    call on the same images, :meth:`natgym.reward.Evaluator.depth_accuracy`) plus
    ``cost_weight * (1 - madds_after / madds_before)`` of the step -- as NAT-Cell-v0's cost term,
    so a positive weight charges every added cell for its MAdds. Stopping (or a masked action)
    changes nothing and pays 0 (``"penalty"``: minus ``invalid_penalty``). On the fixed reward
    images the rewards of an episode sum to its accuracy gain plus the cost terms.

    ## Episode end

    Terminated when the agent stops; truncated after ``3 * (max_depth - 1) + 1`` steps (enough
    to reach ``max_depth`` everywhere and stop), so an agent repeating masked actions under
    ``"keep"`` still ends. ``info`` after every step describes the **episode so far**, as the
    one-step envs' final ``info`` does: ``acc_before`` / ``params_before`` / ``madds_before``
    at the episode's start depths (``depths_start``), ``acc_after`` / ``params_after`` /
    ``madds_after`` at the depths after this step (the CIFAR-size network at those depths,
    :func:`depth_cost`), ``genotype_before`` = ``genotype_after`` (the cells never change, so
    ``invalid_edges`` is 0); and this step: ``depths_before``, ``depths_after``,
    ``step_acc_before``, ``step_acc_after``, ``step_madds_before``, ``invalid`` (and
    ``invalid_actions`` so far), ``queries`` (the distinct depths scored: start, before, after)
    and ``action_mask``.

    ## Starting state

    ``start_depths`` (default one cell per stage), or ``options={"depths": (a, b, c)}``; the
    genotype as described above.

    ## Arguments

    ``steps`` (intermediate nodes per cell), ``arch``, ``max_depth`` (``D``, default 3: the
    ``fashion-depth`` supernet's), ``start_depths``, ``madds_budget`` (None or MAdds of the
    CIFAR-size network), ``cost_weight``, ``invalid_action``, ``invalid_penalty``, ``exclude``,
    ``reward`` (an elastic-depth evaluator or spec; default :data:`DEFAULT_REWARD`), ``pool``,
    ``render_mode`` (``"ansi"``).
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 1}

    def __init__(
        self,
        steps: int = 4,
        arch: Any = None,
        max_depth: int = 3,
        start_depths: Sequence[int] = (1, 1, 1),
        madds_budget: float | None = None,
        cost_weight: float = 0.0,
        invalid_action: str = "keep",
        invalid_penalty: float = 0.01,
        exclude: Iterable[Any] = (),
        reward: Evaluator | EvaluatorSpec | Mapping[str, Any] | str | os.PathLike | None = None,
        pool: EvaluatorPool | None = None,
        render_mode: str | None = None,
    ) -> None:
        self.transform = Transform.build(
            steps, "natpp", arch, invalid_action, invalid_penalty, cost_weight, exclude
        )
        self.max_depth = positive_int("max_depth", max_depth)
        self.start_depths = self._check_depths(start_depths, "start_depths")
        self.madds_budget = (
            None if madds_budget is None else finite("madds_budget", madds_budget, 0.0, open_low=True)
        )
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ConfigError(f"render_mode: unknown mode {render_mode!r}; allowed: ansi")
        self.render_mode = render_mode
        self.evaluator = bind_evaluator(
            DEFAULT_REWARD if reward is None else reward, pool, self.transform.steps
        )
        if not self.evaluator.elastic:
            raise ConfigError(
                f"reward: NAT-Depth-v0 needs an elastic-depth supernet, and {self.evaluator.describe()} was "
                "not trained with elastic_depth; pass reward={'dataset': 'fashion', "
                "'preset': 'fashion-depth'} "
                "(the default) or a supernet trained with elastic_depth=True"
            )
        model = getattr(self.evaluator, "model", None)
        most = getattr(model, "max_depths", None)
        if most is not None and min(most) < self.max_depth:
            raise ConfigError(
                f"max_depth: the supernet holds {list(most)} normal cells per stage; allowed: 1..{min(most)}"
            )
        self.observation_space = spaces.Dict(
            {
                **graph.observation_space(self.transform.steps).spaces,
                "depths": spaces.MultiDiscrete([self.max_depth + 1] * 3),
                "action_mask": spaces.MultiBinary(4),
            }
        )
        self.action_space = spaces.Discrete(4)
        self.max_steps = 3 * (self.max_depth - 1) + 1
        self.genotype: Genotype | None = None
        self.depths: tuple[int, int, int] = self.start_depths
        self.episode_start = self.start_depths
        self.steps_taken = self.invalid_actions = 0
        self.last_info: dict[str, Any] = {}

    def _check_depths(self, depths: Any, field: str) -> tuple[int, int, int]:
        values = tuple(depths) if isinstance(depths, (list, tuple, np.ndarray)) else None
        if (
            values is None
            or len(values) != 3
            or any(isinstance(d, bool) or not isinstance(d, (int, np.integer)) for d in values)
            or not all(1 <= d <= self.max_depth for d in values)
        ):
            raise ConfigError(
                f"{field}: expected three integers in 1..{self.max_depth} (normal cells per stage), "
                f"got {depths!r}"
            )
        return tuple(int(d) for d in values)

    def mask(self) -> np.ndarray:
        """``(4,)`` bool: stop, then each stage's deepening (module docstring)."""
        allowed = [True]
        for s in range(3):
            deeper = list(self.depths)
            deeper[s] += 1
            ok = deeper[s] <= self.max_depth
            if ok and self.madds_budget is not None:
                ok = depth_cost(self.genotype, deeper).madds <= self.madds_budget
            allowed.append(ok)
        return np.array(allowed)

    def action_masks(self) -> np.ndarray:
        """The current ``action_mask`` as bools (sb3-contrib ``MaskablePPO``)."""
        if self.genotype is None:
            raise gym.error.ResetNeeded("call reset() before step() or action_masks()")
        return self.mask()

    def _observe(self) -> dict[str, np.ndarray]:
        obs = graph.encode(self.genotype)
        obs["depths"] = np.array(self.depths, dtype=np.int64)
        obs["action_mask"] = self.mask().astype(np.int8)
        return obs

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed)
        if options is not None and not isinstance(options, dict):
            raise ConfigError(f"options: expected a dict or None, got {type(options).__name__}")
        options = dict(options or {})
        depths = options.pop("depths", None)
        self.genotype = self.transform.start(options, self.np_random)
        self.depths = self.start_depths if depths is None else self._check_depths(depths, "options['depths']")
        self.episode_start = self.depths
        self.steps_taken, self.invalid_actions, self.last_info = 0, 0, {}
        obs = self._observe()
        return obs, {
            "genotype": self.genotype.to_darts(),
            "depths": self.depths,
            "action_mask": obs["action_mask"],
        }

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        if self.genotype is None:
            raise gym.error.ResetNeeded("call reset() before step() or action_masks()")
        if self.last_info.get("done"):
            raise gym.error.ResetNeeded("step: the episode is over; call reset()")
        arr = np.asarray(action)
        if (
            arr.shape not in ((), (1,))
            or not np.issubdtype(arr.dtype, np.integer)
            or not 0 <= int(arr.reshape(-1)[0]) < 4
        ):
            raise InvalidActionError(
                f"action: expected one integer in 0..3 (0 stops, s deepens stage s), got {action!r}"
            )
        a = int(arr.reshape(-1)[0])
        before = self.depths
        cost_before = depth_cost(self.genotype, before)
        valid = bool(self.mask()[a])
        if not valid and self.transform.invalid_action == "raise":
            raise InvalidActionError(
                f"action: deepening stage {a} is masked (depths {list(before)}, max_depth {self.max_depth}"
                + (f", madds_budget {self.madds_budget:g}" if self.madds_budget is not None else "")
                + f"); allowed now: {np.flatnonzero(self.mask()).tolist()}"
            )
        after = before
        if valid and a != STOP:
            deeper = list(before)
            deeper[a - 1] += 1
            after = tuple(deeper)
        # the episode's start, this step's before and after, scored in one call on the same images
        unique = list(dict.fromkeys([self.episode_start, before, after]))
        scores = dict(zip(unique, self.evaluator.depth_accuracy(self.genotype, unique).tolist()))
        start_cost, cost_after = (
            depth_cost(self.genotype, self.episode_start),
            depth_cost(self.genotype, after),
        )
        reward = scores[after] - scores[before]
        if self.transform.cost_weight:
            reward += self.transform.cost_weight * (1.0 - cost_after.madds / cost_before.madds)
        if not valid and self.transform.invalid_action == "penalty":
            reward -= self.transform.invalid_penalty
        self.depths = after
        self.steps_taken += 1
        self.invalid_actions += int(not valid)
        terminated = valid and a == STOP
        truncated = not terminated and self.steps_taken >= self.max_steps
        obs = self._observe()
        info = {
            "depths_start": self.episode_start,
            "depths_before": before,
            "depths_after": after,
            "step_acc_before": scores[before],
            "step_acc_after": scores[after],
            "acc_before": scores[self.episode_start],
            "acc_after": scores[after],
            "params_before": start_cost.params,
            "params_after": cost_after.params,
            "madds_before": start_cost.madds,
            "madds_after": cost_after.madds,
            "step_madds_before": cost_before.madds,
            "genotype_before": self.genotype.to_darts(),
            "genotype_after": self.genotype.to_darts(),
            "queries": len(unique),
            "invalid": int(not valid),
            "invalid_actions": self.invalid_actions,
            "invalid_edges": 0,
            "action_mask": obs["action_mask"],
        }
        self.last_info = {**info, "done": terminated or truncated}
        return obs, float(reward), terminated, truncated, info

    def render(self) -> str | None:
        if self.render_mode is None or self.genotype is None:
            return None
        cost = depth_cost(self.genotype, self.depths)
        return (
            f"genotype {self.genotype.to_darts()}\n"
            f"depths {list(self.depths)} (max {self.max_depth}): {cost.params / 1e6:.3f} M params, "
            f"{cost.madds / 1e6:.1f} M MAdds at CIFAR size\n"
        )

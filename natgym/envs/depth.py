"""NAT-Depth-v0: stage-wise depth search -- how many normal cells each stage stacks."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from natgym import graph
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
    parameter count)."""
    return network_cost(genotype, COST_CHANNELS, depths=tuple(int(d) for d in depths))


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

    For a deepening, ``acc(depths') - acc(depths)`` on the elastic-depth supernet (both scored in
    one call on the same images, :meth:`natgym.reward.Evaluator.depth_accuracy`) plus
    ``cost_weight * (1 - madds' / madds)`` -- as NAT-Cell-v0's cost term, so a positive weight
    charges every added cell for its MAdds. Stopping pays 0.

    ## Episode end

    Terminated when the agent stops; truncated after ``3 * (max_depth - 1) + 1`` steps (enough
    to reach ``max_depth`` everywhere and stop), so an agent repeating masked actions under
    ``"keep"`` still ends. ``info`` after a step: ``depths_before``, ``depths_after``,
    ``acc_before`` and ``acc_after`` (after a deepening), ``params_before``, ``params_after``, ``madds_before``,
    ``madds_after`` (the CIFAR-size network at those depths, :func:`depth_cost`), ``queries``
    (2 for a deepening, 0 for stop), ``invalid`` and ``action_mask``.

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
        self.transform = Transform.build(steps, "natpp", arch, invalid_action, invalid_penalty, cost_weight, exclude)
        if isinstance(max_depth, bool) or not isinstance(max_depth, (int, np.integer)) or max_depth < 1:
            raise ConfigError(f"max_depth: expected a positive integer, got {max_depth!r}")
        self.max_depth = int(max_depth)
        self.start_depths = self._check_depths(start_depths, "start_depths")
        if madds_budget is not None and not (isinstance(madds_budget, (int, float)) and madds_budget > 0):
            raise ConfigError(f"madds_budget: expected None or a positive number of MAdds, got {madds_budget!r}")
        self.madds_budget = madds_budget
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ConfigError(f"render_mode: unknown mode {render_mode!r}; allowed: ansi")
        self.render_mode = render_mode
        self.evaluator = bind_evaluator(DEFAULT_REWARD if reward is None else reward, pool, self.transform.steps)
        if not self.evaluator.elastic:
            raise ConfigError(
                f"reward: NAT-Depth-v0 needs an elastic-depth supernet, and {self.evaluator.describe()} was "
                "not trained with elastic_depth; pass reward={'dataset': 'fashion', 'preset': 'fashion-depth'} "
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
        self.steps_taken = 0
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
                f"{field}: expected three integers in 1..{self.max_depth} (normal cells per stage), got {depths!r}"
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
        self.steps_taken, self.last_info = 0, {}
        obs = self._observe()
        return obs, {"genotype": self.genotype.to_darts(), "depths": self.depths, "action_mask": obs["action_mask"]}

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        if self.genotype is None:
            raise gym.error.ResetNeeded("call reset() before step() or action_masks()")
        if self.last_info.get("done"):
            raise gym.error.ResetNeeded("step: the episode is over; call reset()")
        arr = np.asarray(action)
        if arr.shape not in ((), (1,)) or not np.issubdtype(arr.dtype, np.integer) or not 0 <= int(arr.reshape(-1)[0]) < 4:
            raise InvalidActionError(f"action: expected one integer in 0..3 (0 stops, s deepens stage s), got {action!r}")
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
        reward, queries, acc = 0.0, 0, None
        after = before
        if valid and a != STOP:
            deeper = list(before)
            deeper[a - 1] += 1
            after = tuple(deeper)
            scores = self.evaluator.depth_accuracy(self.genotype, [before, after])
            acc, queries = (float(scores[0]), float(scores[1])), 2
            cost_after = depth_cost(self.genotype, after)
            reward = acc[1] - acc[0]
            if self.transform.cost_weight:
                reward += self.transform.cost_weight * (1.0 - cost_after.madds / cost_before.madds)
        if not valid and self.transform.invalid_action == "penalty":
            reward -= self.transform.invalid_penalty
        self.depths = after
        self.steps_taken += 1
        cost_after = depth_cost(self.genotype, after)
        terminated = valid and a == STOP
        truncated = not terminated and self.steps_taken >= self.max_steps
        obs = self._observe()
        info = {
            "depths_before": before,
            "depths_after": after,
            **({} if acc is None else {"acc_before": acc[0], "acc_after": acc[1]}),
            "params_before": cost_before.params,
            "params_after": cost_after.params,
            "madds_before": cost_before.madds,
            "madds_after": cost_after.madds,
            "queries": queries,
            "invalid": int(not valid),
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

"""NAT-CellSeq-v0: the same transformation problem, one edge per step, for ``Discrete`` agents."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from natgym import graph
from natgym.envs.core import RENDER_MODES, HonestSpec, build_parts, flat_ops
from natgym.errors import InvalidActionError
from natgym.genotype import Genotype
from natgym.render import ansi_table, draw_transformation
from natgym.reward import Evaluator
from natgym.space import NUM_OPS
from natgym.spec import EvaluatorPool, EvaluatorSpec


class NATCellSeqEnv(HonestSpec, gym.Env):
    """Neural Architecture Transformer as a multi-step MDP: one edge per step.

    The input pair and its ``2E`` edges (normal cell then reduce cell, ``E = 2 * steps``) are
    as in :class:`~natgym.envs.cell.NATCellEnv`; the agent decides the edges one at a time in
    that fixed order, so value-based agents with ``Discrete`` actions (DQN) apply.

    ## Observation

    The :class:`NATCellEnv` graph arrays of the pair *as transformed so far* (edges before the
    current one already carry their new op), plus ``current_edge`` (``MultiBinary(2E)`` int8,
    one-hot of the edge being decided; all zero in the final observation) and ``action_mask``
    (``MultiBinary(13)`` int8, allowed targets of the current edge; all zero at the end).

    ## Action

    ``Discrete(13)``: the target op of the current edge. The mask comes as
    ``obs["action_mask"]``, ``info["action_mask"]`` (int8, for
    ``env.action_space.sample(mask=...)``) and :meth:`action_masks` (bool, for ``MaskablePPO``).
    A masked choice is handled by ``invalid_action`` as in ``NATCellEnv`` (``"penalty"`` pays the
    penalty on that step).

    ## Reward

    0 on every step but the last (less the penalty of a masked pick in ``"penalty"`` mode); at the
    last edge, the ``NATCellEnv`` reward of the whole transformation.

    ## Episode end

    ``terminated=True`` after ``2E`` steps; never truncated. The last ``info`` is the
    ``NATCellEnv`` end-of-episode info (``invalid_edges`` counts the whole episode); earlier infos
    hold ``action_mask`` and ``edge`` (the index of the next edge).

    ## Arguments

    Those of :class:`~natgym.envs.cell.NATCellEnv`. The reset ``info`` holds ``action_mask``,
    ``edge`` (0) and ``genotype`` (the input, as a DARTS string).
    """

    metadata = {"render_modes": RENDER_MODES, "render_fps": 1}

    def __init__(
        self,
        steps: int = 4,
        rule: str = "natpp",
        arch: Any = None,
        invalid_action: str = "keep",
        invalid_penalty: float = 0.01,
        cost_weight: float = 0.0,
        exclude: Iterable[Any] = (),
        reward: Evaluator | EvaluatorSpec | Mapping[str, Any] | str | os.PathLike | None = None,
        pool: EvaluatorPool | None = None,
        render_mode: str | None = None,
    ) -> None:
        self.transform, self.evaluator, self.render_mode = build_parts(
            steps,
            rule,
            arch,
            invalid_action,
            invalid_penalty,
            cost_weight,
            exclude,
            reward,
            pool,
            render_mode,
        )
        self.steps = self.transform.steps
        n_edges = self.transform.n_edges
        self.observation_space = spaces.Dict(
            {
                **graph.observation_space(self.steps).spaces,
                "current_edge": spaces.MultiBinary(n_edges),
                "action_mask": spaces.MultiBinary(NUM_OPS),
            }
        )
        self.action_space = spaces.Discrete(NUM_OPS)
        self.input: Genotype | None = None
        self.genotype: Genotype | None = None
        self.done = False
        self.last_info: dict[str, Any] = {}
        self.edge = 0
        self.targets = np.zeros(n_edges, np.int64)
        self.invalid = 0

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed)
        self.input = self.genotype = self.transform.start(options, self.np_random)
        self.targets = flat_ops(self.genotype)
        self.edge, self.invalid, self.done, self.last_info = 0, 0, False, {}
        obs = self._observation()
        return obs, {"action_mask": obs["action_mask"].copy(), "edge": 0, "genotype": self.input.to_darts()}

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        self._require_reset()
        if self.done:
            raise gym.error.ResetNeeded("step: the episode is over; call reset()")
        target = self._check(action)
        if self.transform.check_op(self.edge, int(self.targets[self.edge]), target):
            self.targets[self.edge] = target
            penalty = 0.0
        else:
            self.invalid += 1
            penalty = self.transform.invalid_penalty if self.transform.invalid_action == "penalty" else 0.0
        e = 2 * self.steps
        self.genotype = self.input.with_ops(self.targets[:e], self.targets[e:])
        self.edge += 1
        obs = self._observation()
        if self.edge < self.transform.n_edges:
            return obs, -penalty, False, False, {"action_mask": obs["action_mask"].copy(), "edge": self.edge}
        acc = self.evaluator.accuracy([self.input, self.genotype])
        reward, info = self.transform.outcome(self.input, self.genotype, float(acc[0]), float(acc[1]), 0)
        info["invalid_edges"] = self.invalid
        info["action_mask"] = obs["action_mask"].copy()
        self.done, self.last_info = True, info
        return obs, reward - penalty, True, False, info

    def action_masks(self) -> np.ndarray:
        """Bool mask of the current edge's 13 targets (for sb3-contrib ``MaskablePPO``)."""
        self._require_reset()
        return self._mask().astype(bool)

    def _require_reset(self) -> None:
        if self.genotype is None:
            raise gym.error.ResetNeeded("call reset() before step() or action_masks()")

    def render(self) -> str | np.ndarray | None:
        if self.render_mode is None or self.genotype is None:
            return None
        if self.render_mode == "ansi":
            return ansi_table(self.input, self.genotype, self.last_info) + f"next edge: {self.edge}\n"
        return draw_transformation(self.input, self.genotype)

    def _mask(self) -> np.ndarray:
        if self.edge >= self.transform.n_edges:
            return np.zeros(NUM_OPS, np.int8)
        return self.transform.mask(self.targets[self.edge]).astype(np.int8)

    def _observation(self) -> dict[str, np.ndarray]:
        obs = graph.encode(self.genotype)
        current = np.zeros(self.transform.n_edges, np.int8)
        if self.edge < self.transform.n_edges:
            current[self.edge] = 1
        obs["current_edge"] = current
        obs["action_mask"] = self._mask()
        return obs

    @staticmethod
    def _check(action: Any) -> int:
        arr = np.asarray(action)
        if arr.shape not in ((), (1,)) or not np.issubdtype(arr.dtype, np.integer):
            raise InvalidActionError(f"action: expected one integer in 0..{NUM_OPS - 1}, got {action!r}")
        value = int(arr.reshape(-1)[0])
        if not 0 <= value < NUM_OPS:
            raise InvalidActionError(f"action: op index must be in 0..{NUM_OPS - 1}, got {value}")
        return value

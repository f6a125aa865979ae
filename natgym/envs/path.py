"""NAT-Path-v0: the NAT-Cell-v0 episode whose action also rewires the cells (path-level moves)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from natgym import graph, wiring
from natgym.envs.core import RENDER_MODES, HonestSpec, build_parts, flat_ops, genotype_cost, mask_tuple
from natgym.errors import ConfigError, InvalidActionError
from natgym.genotype import Genotype
from natgym.render import ansi_table, draw_transformation
from natgym.reward import Evaluator
from natgym.space import NUM_OPS
from natgym.spec import EvaluatorPool, EvaluatorSpec

WIRING_COSTS: tuple[str, ...] = ("charge", "neutral")
"""How ``cost_weight`` treats a rewiring: ``charge`` its MAdds change like an op change's,
``neutral`` prices only the op changes (the cost term compares the input with the new ops on
the input's wiring)."""


class NATPathEnv(HonestSpec, gym.Env):
    """Neural Architecture Transformer with path-level moves: one step per episode that picks a
    target op for every edge (NAT++ rule) and the two source nodes of every intermediate node.

    ## Observation

    The NAT-Cell-v0 dictionary (:class:`~natgym.envs.cell.NATCellEnv`: the :mod:`natgym.graph`
    arrays and ``action_mask``, the ``(2E, 13)`` op mask) plus ``wiring_mask``: a
    ``MultiBinary((2 * steps, S * S))`` int8 array, ``S = steps + 1``, the source pairs each
    intermediate node may read (:func:`natgym.wiring.mask`). The current sources are in
    ``edge_from``.

    ## Action

    ``MultiDiscrete([13] * 2E + [S * S] * (2 * steps))``: first the target op of every edge (the
    ``edge_ops`` order, masked by the transition rule as in NAT-Cell-v0), then one choice per
    intermediate node, normal cell then reduce cell: the ordered source pair ``(a, b)`` as
    ``a * S + b`` -- the node's first edge reads node ``a``, its second edge node ``b``, each
    keeping its (new) op. A node may read two distinct earlier nodes, or keep its current pair
    (:mod:`natgym.wiring`), so the cell stays a DAG whose nodes all have two inputs and
    ``concat`` is unchanged. The masks come as ``info["action_mask"]`` (a tuple with one int8
    array per action dimension, for ``env.action_space.sample(mask=...)``) and
    :meth:`action_masks` (their concatenation, ``2E * 13 + 2 * steps * S * S`` bools, for
    sb3-contrib's ``MaskablePPO``). A masked op keeps that edge's op, a masked pair keeps that
    node's sources; both are counted (``info["invalid_edges"]``, ``info["invalid_nodes"]``) with
    ``invalid_action="keep"``, raise :class:`natgym.InvalidActionError` with ``"raise"``, and
    cost ``invalid_penalty`` each with ``"penalty"``. An action of the wrong shape or out of
    range always raises.

    ## Reward

    ``acc_after - acc_before`` on the same images, as in NAT-Cell-v0, plus
    ``cost_weight * (1 - madds_after / madds_ref)``: ``madds_ref`` is the input's MAdds with
    ``wiring_cost="charge"`` (rewiring is priced like an op change) and, with ``"neutral"``, the
    MAdds of the new ops on the input's wiring, so a rewiring is neither rewarded nor charged for
    what it changes in cost.

    ## Episode end

    One step: ``terminated=True``; never truncated. The final ``info`` has NAT-Cell-v0's keys
    (accuracies, params and MAdds before and after, both genotypes, dead nodes, invalid edges,
    ``madds_increased``, ``cost_increasing_edges``, ``queries``) plus ``rewired`` (the nodes
    whose sources changed, in words), ``invalid_nodes`` and ``action_mask``. Rewiring can raise
    MAdds -- a reduce-cell edge moved onto input 0 or 1 becomes a stride-2 edge (a skip there is
    a FactorizedReduce), and a dead node can come alive -- which ``madds_increased`` reports.

    ## Starting state

    As NAT-Cell-v0: a uniform input, ``options={"genotype": g}``, or a fixed ``arch``.

    ## Arguments

    NAT-Cell-v0's (``steps``, ``rule``, ``arch``, ``invalid_action``, ``invalid_penalty``,
    ``cost_weight``, ``exclude``, ``reward``, ``pool``, ``render_mode``) and ``wiring_cost``
    (``"charge"``; see Reward and :data:`WIRING_COSTS`).
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
        wiring_cost: str = "charge",
    ) -> None:
        if wiring_cost not in WIRING_COSTS:
            raise ConfigError(
                f"wiring_cost: unknown value {wiring_cost!r}; allowed: {', '.join(WIRING_COSTS)}"
            )
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
        self.steps, self.wiring_cost = self.transform.steps, wiring_cost
        self.n_edges, self.n_nodes = self.transform.n_edges, 2 * self.steps
        choices = wiring.sources(self.steps) ** 2
        self.observation_space = spaces.Dict(
            {
                **graph.observation_space(self.steps).spaces,
                "action_mask": spaces.MultiBinary((self.n_edges, NUM_OPS)),
                "wiring_mask": spaces.MultiBinary((self.n_nodes, choices)),
            }
        )
        nvec = np.concatenate([np.full(self.n_edges, NUM_OPS), np.full(self.n_nodes, choices)])
        self.action_space = spaces.MultiDiscrete(nvec)
        self.genotype: Genotype | None = None
        self.before: Genotype | None = None
        self.last_info: dict[str, Any] = {}

    def _observe(self, genotype: Genotype) -> dict[str, np.ndarray]:
        obs = self.transform.observe(genotype)
        obs["wiring_mask"] = wiring.mask(genotype).astype(np.int8)
        return obs

    def _info_masks(self, obs: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
        return mask_tuple(obs["action_mask"]) + mask_tuple(obs["wiring_mask"])

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed)
        self.genotype = self.transform.start(options, self.np_random)
        self.before, self.last_info = None, {}
        obs = self._observe(self.genotype)
        return obs, {"action_mask": self._info_masks(obs), "genotype": self.genotype.to_darts()}

    def apply(self, before: Genotype, action: Any) -> tuple[Genotype, Genotype, int, int]:
        """``(new ops on the input's wiring, the rewired result, invalid edges, invalid nodes)``."""
        arr = np.asarray(action)
        if arr.shape != (self.n_edges + self.n_nodes,) or not np.issubdtype(arr.dtype, np.integer):
            raise InvalidActionError(
                f"action: expected {self.n_edges + self.n_nodes} integers ({self.n_edges} target ops, "
                f"then {self.n_nodes} source pairs), got shape {arr.shape} and dtype {arr.dtype}"
            )
        ops_only, invalid_edges = self.transform.apply(before, arr[: self.n_edges])
        chosen, current = arr[self.n_edges :].astype(np.int64), wiring.pairs(before)
        s = wiring.sources(self.steps)
        if chosen.min() < 0 or chosen.max() >= s * s:
            raise InvalidActionError(f"action: source pairs must be in 0..{s * s - 1}, got {chosen.tolist()}")
        ok = wiring.mask(before)[np.arange(self.n_nodes), chosen]
        if not ok.all() and self.transform.invalid_action == "raise":
            k = int(np.flatnonzero(~ok)[0])
            cell, node = ("normal", "reduce")[k // self.steps], 2 + k % self.steps
            raise InvalidActionError(
                f"action[{self.n_edges + k}] ({cell} node {node}): sources {divmod(int(chosen[k]), s)} not "
                f"allowed; a node reads two distinct earlier nodes (0..{node - 1}) or keeps "
                f"{divmod(int(current[k]), s)}"
            )
        after = wiring.rewire(ops_only, np.where(ok, chosen, current))
        return ops_only, after, invalid_edges, int((~ok).sum())

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        if self.genotype is None:
            raise gym.error.ResetNeeded("call reset() before step() or action_masks()")
        if self.before is not None:
            raise gym.error.ResetNeeded("step: the episode is over (one step per episode); call reset()")
        before = self.genotype
        ops_only, after, invalid_edges, invalid_nodes = self.apply(before, action)
        acc = self.evaluator.accuracy([before, after])
        invalid = invalid_edges + invalid_nodes
        reward, info = self.transform.outcome(before, after, float(acc[0]), float(acc[1]), invalid)
        info["invalid_edges"], info["invalid_nodes"] = invalid_edges, invalid_nodes
        if self.transform.cost_weight and self.wiring_cost == "neutral":  # price the op changes only
            rewiring = info["madds_after"] - genotype_cost(ops_only).madds
            reward += self.transform.cost_weight * rewiring / info["madds_before"]
        info["rewired"] = wiring.describe(before, after)
        self.before, self.genotype, self.last_info = before, after, info
        obs = self._observe(after)
        info["action_mask"] = self._info_masks(obs)
        return obs, reward, True, False, info

    def action_masks(self) -> np.ndarray:
        """Flat bool mask for sb3-contrib ``MaskablePPO``: the ``2E * 13`` op mask (edge-major),
        then the ``2 * steps * S * S`` wiring mask (node-major)."""
        if self.genotype is None:
            raise gym.error.ResetNeeded("call reset() before step() or action_masks()")
        ops = self.transform.mask(flat_ops(self.genotype)).reshape(-1)
        return np.concatenate([ops, wiring.mask(self.genotype).reshape(-1)])

    def render(self) -> str | np.ndarray | None:
        if self.render_mode is None or self.genotype is None:
            return None
        before = self.before if self.before is not None else self.genotype
        if self.render_mode == "ansi":
            return ansi_table(before, self.genotype, self.last_info)
        return draw_transformation(before, self.genotype)

"""NAT-Cell-v0: transform a (normal, reduce) cell pair in one step, paid the supernet accuracy gain."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from natgym import graph
from natgym.envs.core import RENDER_MODES, HonestSpec, build_parts, flat_ops, mask_tuple
from natgym.genotype import Genotype
from natgym.render import ansi_table, draw_transformation
from natgym.reward import Evaluator
from natgym.space import NUM_OPS
from natgym.spec import EvaluatorPool, EvaluatorSpec


class NATCellEnv(HonestSpec, gym.Env):
    """Neural Architecture Transformer as a one-step MDP (the paper's formulation).

    Each episode starts from an input architecture, a (normal, reduce) pair of cells with
    ``steps`` intermediate nodes and ``E = 2 * steps`` edges each. The agent picks a target op
    for every edge at once; the topology never changes.

    ## Observation

    A ``Dict`` of fixed-size arrays (see :mod:`natgym.graph` for the layout):

    | key | space | meaning |
    |---|---|---|
    | ``node_features`` | ``Box(0, 2, (2 * N * 18,), float32)`` | per-node flags and incoming-op counts |
    | ``adjacency`` | ``Box(0, 2, (2 * N * N,), float32)`` | ``A[cell, to, from]`` edge counts |
    | ``edge_from`` | ``MultiDiscrete`` ``(2E,)`` | source node of every edge |
    | ``edge_ops`` | ``MultiDiscrete([13] * 2E)`` | current op of every edge |
    | ``action_mask`` | ``MultiBinary((2E, 13))`` int8 | allowed targets per edge (the rule) |

    Edges are ordered normal cell then reduce cell, in node order (edge ``k`` of a cell ends at
    node ``2 + k // 2``); ``N = steps + 2``.

    ## Action

    ``MultiDiscrete([13] * 2E)``: the target op index (into :data:`natgym.OPS`) of every edge, in
    the ``edge_ops`` order. The mask comes three ways: ``obs["action_mask"]``,
    ``info["action_mask"]`` (a tuple of per-edge int8 arrays, so
    ``env.action_space.sample(mask=info["action_mask"])`` samples valid actions) and
    :meth:`action_masks` (the flat bool vector sb3-contrib's ``MaskablePPO`` reads). A masked
    choice keeps that edge's op and is counted in ``info["invalid_edges"]``
    (``invalid_action="keep"``); ``"raise"`` raises :class:`natgym.InvalidActionError`;
    ``"penalty"`` keeps the op and subtracts ``invalid_penalty`` per invalid edge. An action of
    the wrong shape or with ops outside 0..12 always raises ``InvalidActionError``.

    ## Reward

    ``acc_after - acc_before``: the supernet top-1 accuracies (fractions) of the transformed and
    the input pair, measured in one evaluator call on the same images, plus
    ``cost_weight * (1 - madds_after / madds_before)`` (0 by default, as in the paper), minus the
    invalid-edge penalty in ``"penalty"`` mode. MAdds are those of the final DARTS CIFAR network
    (36 channels, 20 cells, 32x32), from :func:`natgym.cost.network_cost`.

    ## Episode end

    Every episode is one step: ``terminated=True`` after the first :meth:`step`; never truncated.
    The final ``info`` holds ``acc_before``, ``acc_after``, ``params_before``, ``params_after``,
    ``madds_before``, ``madds_after``, ``genotype_before``, ``genotype_after`` (DARTS strings),
    ``dead_nodes`` (per cell, after the step), ``invalid_edges`` (count), ``madds_increased``,
    ``cost_increasing_edges`` (edges whose op got costlier: null -> skip_connect, or
    skip_connect on a stride-2 reduce edge -- the rule's only cost-raising moves), ``queries``
    (2: the supernet queries this episode spent, for per-consumer budgets) and ``action_mask``.

    ## Starting state

    ``reset()`` draws a uniform input (:func:`natgym.zoo.sample`, from ``self.np_random``);
    ``reset(options={"genotype": g})`` starts from ``g`` (a zoo name, any genotype dialect, a JSON
    path, or a :class:`natgym.Genotype`); a fixed ``arch`` argument replaces the sampler. A
    genotype with the wrong number of nodes raises :class:`natgym.GenotypeError`. The reset
    ``info`` holds ``action_mask`` and ``genotype`` (the input, as a DARTS string).

    ## Arguments

    * ``steps`` (4): intermediate nodes per cell (4 DARTS-like, 5 ENAS-like).
    * ``rule`` (``"natpp"``): the transition rule, ``"natpp"`` (NAT++) or ``"nat"`` (NAT).
    * ``arch`` (None): a fixed input architecture for every reset.
    * ``invalid_action`` (``"keep"``), ``invalid_penalty`` (0.01): see Action.
    * ``cost_weight`` (0.0): weight of the compactness term.
    * ``exclude`` (()): genotypes the uniform sampler never returns (redrawn), e.g. the held-out
      inputs of a generalisation benchmark; a fixed ``arch`` and ``options["genotype"]`` ignore it.
    * ``reward`` (None): what scores architectures -- an :class:`natgym.spec.EvaluatorSpec`
      (dataset, preset, supernet checkpoint, seed, device, ``mode``: ``"fixed"`` image subset,
      deterministic, or ``"minibatch"`` as in the paper, ``cotrain``, batch size...), a dict of
      its fields (``reward={"mode": "minibatch"}``), a supernet checkpoint path, an
      :class:`natgym.reward.Evaluator` object (used as given, so envs handed the same object
      share it), or None for the default spec (the digits supernet, trained on first use, then
      loaded from the cache).
    * ``pool`` (None): an :class:`natgym.spec.EvaluatorPool`; envs given the same pool and equal
      specs share one evaluator. Without a pool each env builds its own.
    * ``render_mode``: ``"ansi"`` (a before/after table per edge) or ``"rgb_array"`` (both cells
      before and after, changed edges highlighted).

    With ``mode="minibatch"`` or ``cotrain=True`` (or any evaluator whose ``deterministic`` is
    False) the env's ``spec.nondeterministic`` is set to True.
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
                "action_mask": spaces.MultiBinary((n_edges, NUM_OPS)),
            }
        )
        self.action_space = spaces.MultiDiscrete(np.full(n_edges, NUM_OPS))
        self.genotype: Genotype | None = None
        self.before: Genotype | None = None
        self.last_info: dict[str, Any] = {}

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed)
        self.genotype = self.transform.start(options, self.np_random)
        self.before, self.last_info = None, {}
        obs = self.transform.observe(self.genotype)
        return obs, {"action_mask": mask_tuple(obs["action_mask"]), "genotype": self.genotype.to_darts()}

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        if self.genotype is None:
            raise gym.error.ResetNeeded("call reset() before step() or action_masks()")
        if self.before is not None:
            raise gym.error.ResetNeeded("step: the episode is over (one step per episode); call reset()")
        before = self.genotype
        after, invalid = self.transform.apply(before, action)
        acc = self.evaluator.accuracy([before, after])
        reward, info = self.transform.outcome(before, after, float(acc[0]), float(acc[1]), invalid)
        self.before, self.genotype, self.last_info = before, after, info
        obs = self.transform.observe(after)
        info["action_mask"] = mask_tuple(obs["action_mask"])
        return obs, reward, True, False, info

    def action_masks(self) -> np.ndarray:
        """Flat bool mask of length ``2E * 13`` (edge-major) for sb3-contrib ``MaskablePPO``."""
        if self.genotype is None:
            raise gym.error.ResetNeeded("call reset() before step() or action_masks()")
        return self.transform.mask(flat_ops(self.genotype)).reshape(-1)

    def render(self) -> str | np.ndarray | None:
        if self.render_mode is None or self.genotype is None:
            return None
        before = self.before if self.before is not None else self.genotype
        if self.render_mode == "ansi":
            return ansi_table(before, self.genotype, self.last_info)
        return draw_transformation(before, self.genotype)

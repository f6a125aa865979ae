"""NAT-Cell-v0: transform a (normal, reduce) cell pair in one step, paid the supernet accuracy gain."""

from __future__ import annotations

import os
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from natgym import graph, zoo
from natgym.envs.core import Transform, honest_spec, mask_tuple, resolve_genotype, shared_evaluator
from natgym.errors import ConfigError
from natgym.genotype import Genotype
from natgym.render import ansi_table, draw_transformation
from natgym.reward import Evaluator
from natgym.space import NUM_OPS


class NATCellEnv(gym.Env):
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
    ``dead_nodes`` (per cell, after the step), ``invalid_edges`` (count), ``madds_increased``
    and ``cost_increasing_edges`` (edges whose op got costlier: null -> skip_connect, or
    skip_connect on a stride-2 reduce edge -- the rule's only cost-raising moves), plus
    ``action_mask``.

    ## Starting state

    ``reset()`` draws a uniform input (:func:`natgym.zoo.sample`, from ``self.np_random``);
    ``reset(options={"genotype": g})`` starts from ``g`` (a zoo name, any genotype dialect, a JSON
    path, or a :class:`natgym.Genotype`); a fixed ``arch`` argument replaces the sampler. A
    genotype with the wrong number of nodes raises :class:`natgym.GenotypeError`.

    ## Arguments

    * ``steps`` (4): intermediate nodes per cell (4 DARTS-like, 5 ENAS-like).
    * ``rule`` (``"natpp"``): the transition rule, ``"natpp"`` (NAT++) or ``"nat"`` (NAT).
    * ``arch`` (None): a fixed input architecture for every reset.
    * ``invalid_action`` (``"keep"``), ``invalid_penalty`` (0.01): see Action.
    * ``cost_weight`` (0.0): weight of the compactness term.
    * ``supernet`` (None): an :class:`natgym.reward.Evaluator`, or a supernet checkpoint path;
      None builds the default for ``dataset``/``preset`` (trained on first use, then loaded from
      the cache). Evaluators are shared by every env of the process with the same configuration.
    * ``dataset`` (``"digits"``), ``preset`` (None), ``device`` (``"auto"``), ``mode``
      (``"fixed"``: a fixed validation subset, deterministic; ``"minibatch"``: a fresh random
      minibatch per evaluation, as in the paper), ``cotrain`` (False: keep training the supernet
      while the agent learns), ``supernet_seed`` (0), ``data_root`` (None), ``progress`` (True):
      passed to :func:`natgym.reward.load_evaluator`; ``evaluator_kwargs`` (None): further
      :class:`~natgym.reward.SupernetEvaluator` options, e.g. ``{"batch_size": 256}``.
    * ``render_mode``: ``"ansi"`` (a before/after table per edge) or ``"rgb_array"`` (both cells
      before and after, changed edges highlighted).

    With ``mode="minibatch"`` or ``cotrain=True`` (or any evaluator whose ``deterministic`` is
    False) the env's ``spec.nondeterministic`` is set to True.
    """

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 1}
    _spec = None

    def __init__(
        self,
        steps: int = 4,
        rule: str = "natpp",
        arch: Any = None,
        invalid_action: str = "keep",
        invalid_penalty: float = 0.01,
        cost_weight: float = 0.0,
        supernet: Evaluator | str | os.PathLike | None = None,
        dataset: str = "digits",
        preset: str | None = None,
        device: str = "auto",
        mode: str = "fixed",
        cotrain: bool = False,
        supernet_seed: int = 0,
        data_root: str | None = None,
        progress: bool = True,
        evaluator_kwargs: dict[str, Any] | None = None,
        render_mode: str | None = None,
    ) -> None:
        self.transform = Transform.build(steps, rule, invalid_action, invalid_penalty, cost_weight)
        self.steps = self.transform.steps
        self.arch = resolve_genotype(arch, self.steps, "arch") if arch is not None else None
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            modes = ", ".join(self.metadata["render_modes"])
            raise ConfigError(f"render_mode: unknown mode {render_mode!r}; allowed: {modes}")
        self.render_mode = render_mode
        self.evaluator = shared_evaluator(
            supernet,
            dataset,
            preset,
            device,
            mode,
            cotrain,
            supernet_seed,
            data_root,
            progress,
            evaluator_kwargs,
        )
        supported = getattr(self.evaluator, "steps", None)
        if supported is not None and supported != self.steps:
            raise ConfigError(
                f"steps: the supernet scores cells with {supported} intermediate nodes, the env was made "
                f"with steps={self.steps}; allowed: {supported}"
            )
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

    # --------------------------------------------------------------- spec honesty
    @property
    def spec(self):
        """The registration spec; ``nondeterministic`` is forced True for a nondeterministic evaluator."""
        return self._spec

    @spec.setter
    def spec(self, value) -> None:
        self._spec = honest_spec(value, self.evaluator)

    # --------------------------------------------------------------- API
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed)
        self._start(options)
        obs = self._observation(self.genotype)
        return obs, {"action_mask": mask_tuple(obs["action_mask"])}

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        before, after, invalid = self._transform(action)
        acc = self.evaluator.accuracy([before, after])
        return self._finish(before, after, float(acc[0]), float(acc[1]), invalid)

    def action_masks(self) -> np.ndarray:
        """Flat bool mask of length ``2E * 13`` (edge-major) for sb3-contrib ``MaskablePPO``."""
        self._require_reset()
        return self.transform.mask(self._ops(self.genotype)).reshape(-1)

    def render(self) -> str | np.ndarray | None:
        if self.render_mode is None or self.genotype is None:
            return None
        before = self.before if self.before is not None else self.genotype
        if self.render_mode == "ansi":
            return ansi_table(before, self.genotype, self.last_info)
        return draw_transformation(before, self.genotype)

    def _start(self, options: dict[str, Any] | None) -> None:
        options = options or {}
        unknown = sorted(set(options) - {"genotype"})
        if unknown:
            raise ConfigError(f"options: unknown key {unknown[0]!r}; allowed: 'genotype'")
        if options.get("genotype") is not None:
            self.genotype = resolve_genotype(options["genotype"], self.steps, "options['genotype']")
        elif self.arch is not None:
            self.genotype = self.arch
        else:
            self.genotype = zoo.sample(self.np_random, self.steps)
        self.before = None
        self.last_info = {}

    # --------------------------------------------------------------- halves of step (vector env)
    def _transform(self, action: Any) -> tuple[Genotype, Genotype, int]:
        self._require_reset()
        if self.before is not None:
            raise gym.error.ResetNeeded("step: the episode is over (one step per episode); call reset()")
        after, invalid = self.transform.apply(self.genotype, action)
        return self.genotype, after, invalid

    def _finish(
        self, before: Genotype, after: Genotype, acc_before: float, acc_after: float, invalid: int
    ) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        reward, info = self.transform.outcome(before, after, acc_before, acc_after, invalid)
        self.before, self.genotype, self.last_info = before, after, info
        obs = self._observation(after)
        info["action_mask"] = mask_tuple(obs["action_mask"])
        return obs, reward, True, False, info

    def _observation(self, genotype: Genotype) -> dict[str, np.ndarray]:
        obs = graph.encode(genotype)
        obs["action_mask"] = self.transform.mask(obs["edge_ops"]).astype(np.int8)
        return obs

    @staticmethod
    def _ops(genotype: Genotype) -> np.ndarray:
        return np.concatenate([cell.op_indices for cell in genotype.cells])

    def _require_reset(self) -> None:
        if self.genotype is None:
            raise gym.error.ResetNeeded("call reset() before step() or action_masks()")

"""The pure MDP that NAT-Cell-v0, NAT-CellSeq-v0 and the vector env are built from.

:class:`Transform` holds one env configuration's rules -- the starting state, the masks, applying
an action, the reward and the end-of-episode ``info`` -- with no evaluator and no episode state;
each env composes a ``Transform`` with an evaluator (:func:`bind_evaluator`) and keeps its own
episode state. None of the envs inherits from another.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from natgym import graph, zoo
from natgym.checks import finite
from natgym.cost import Cost, network_cost, op_cost
from natgym.errors import ConfigError, GenotypeError, InvalidActionError
from natgym.genotype import Genotype
from natgym.reward import Evaluator
from natgym.space import NUM_OPS, OPS, edge_stride
from natgym.spec import EvaluatorPool, EvaluatorSpec, resolve_reward
from natgym.transitions import TransitionRule, get_rule

INVALID_ACTIONS: tuple[str, ...] = ("keep", "raise", "penalty")
"""Allowed values of the envs' ``invalid_action`` argument."""
CELLS: tuple[str, str] = ("normal", "reduce")


class HonestSpec:
    """Mixin for envs with an ``evaluator``: the registration ``spec`` gets
    ``nondeterministic=True`` when the evaluator is not deterministic (the minibatch and cotrain
    modes), so Gymnasium's checker and users are told the truth; :attr:`reward_spec` says what
    the rewards come from."""

    evaluator: Evaluator
    _spec = None

    @property
    def spec(self) -> Any:
        """The registration spec; ``nondeterministic`` is forced True for a nondeterministic evaluator."""
        return self._spec

    @spec.setter
    def spec(self, value: Any) -> None:
        if value is not None and not value.nondeterministic and not self.evaluator.deterministic:
            value = dataclasses.replace(value, nondeterministic=True)
        self._spec = value

    @property
    def reward_spec(self) -> dict[str, Any]:
        """What the env's rewards come from (:meth:`natgym.reward.Evaluator.describe`): for a
        supernet, the dataset, supernet version and preset, and the reward images' settings."""
        return self.evaluator.describe()


def bind_evaluator(reward: Any, pool: EvaluatorPool | None, steps: int) -> Evaluator:
    """The env's evaluator (:func:`natgym.spec.resolve_reward`), checked to score ``steps``-node
    cells. A spec (or anything :meth:`~natgym.spec.EvaluatorSpec.of` reads) takes the env's
    ``steps``, so a 5-node env gets a 5-node supernet, trained and cached on first use."""
    if not isinstance(reward, Evaluator):
        reward = EvaluatorSpec.of(reward).replace(steps=steps)
    evaluator = resolve_reward(reward, pool)
    supported = getattr(evaluator, "steps", None)
    if supported is not None and supported != steps:
        raise ConfigError(
            f"steps: the supernet scores cells with {supported} intermediate nodes, the env was made "
            f"with steps={steps}; allowed: {supported}"
        )
    return evaluator


RENDER_MODES = ["ansi", "rgb_array"]
"""The envs' render modes: a before/after table per edge, or a picture of both cells."""


def build_parts(
    steps: int,
    rule: str,
    arch: Any,
    invalid_action: str,
    invalid_penalty: float,
    cost_weight: float,
    exclude: Iterable[Any],
    reward: Any,
    pool: EvaluatorPool | None,
    render_mode: str | None,
) -> tuple[Transform, Evaluator, str | None]:
    """What every natgym env is built from, its arguments checked: the :class:`Transform`, the
    evaluator (:func:`bind_evaluator`) and the render mode."""
    transform = Transform.build(steps, rule, arch, invalid_action, invalid_penalty, cost_weight, exclude)
    if render_mode is not None and render_mode not in RENDER_MODES:
        raise ConfigError(f"render_mode: unknown mode {render_mode!r}; allowed: {', '.join(RENDER_MODES)}")
    return transform, bind_evaluator(reward, pool, transform.steps), render_mode


@lru_cache(maxsize=1 << 16)
def genotype_cost(genotype: Genotype) -> Cost:
    """Final-network cost at the DARTS CIFAR defaults (36 channels, 20 cells, 32x32), cached."""
    return network_cost(genotype)


def resolve_genotype(arch: Any, steps: int, field: str) -> Genotype:
    """A genotype from a zoo name, any dialect or a JSON path, checked to have ``steps`` nodes."""
    genotype = zoo.resolve(arch)
    if genotype.steps != steps:
        raise GenotypeError(
            f"{field}: has {genotype.steps} intermediate nodes per cell but this env was made with "
            f"steps={steps}; pass a genotype with {steps} nodes or make the env with "
            f"steps={genotype.steps}"
        )
    return genotype


def cost_increasing_edges(before: Genotype, after: Genotype) -> list[str]:
    """Edges whose new op costs more MAdds than the old one (null -> skip_connect, and
    skip_connect on a stride-2 edge, which is a FactorizedReduce), described in words."""
    out = []
    for c, (cb, ca) in enumerate(zip(before.cells, after.cells)):
        for k, ((ob, src, dst), (oa, _, _)) in enumerate(zip(cb.edges, ca.edges)):
            if ob == oa:
                continue
            stride = edge_stride(c == 1, src)
            if op_cost(oa, 36, 32, 32, stride).madds > op_cost(ob, 36, 32, 32, stride).madds:
                out.append(f"{CELLS[c]}[{k}] {src}->{dst}: {ob} -> {oa} (stride {stride})")
    return out


@dataclass
class Transform:
    """The rule-checked transformation problem of one env configuration (no evaluator, no state).

    ``rule``, ``invalid_action``, ``invalid_penalty`` and ``cost_weight`` are as in
    :class:`~natgym.envs.cell.NATCellEnv`; ``arch`` is the fixed input (None: sample one per
    episode); the sampler redraws any genotype in ``exclude``.
    """

    steps: int
    rule: TransitionRule
    invalid_action: str = "keep"
    invalid_penalty: float = 0.01
    cost_weight: float = 0.0
    arch: Genotype | None = None
    exclude: frozenset[Genotype] = frozenset()

    @classmethod
    def build(
        cls,
        steps: int,
        rule: str,
        arch: Any,
        invalid_action: str,
        invalid_penalty: float,
        cost_weight: float,
        exclude: Iterable[Any] = (),
    ) -> Transform:
        """Check the arguments (ConfigError naming the field) and build."""
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
            raise ConfigError(
                f"steps: expected a positive integer (4 DARTS-like, 5 ENAS-like), got {steps!r}"
            )
        if invalid_action not in INVALID_ACTIONS:
            raise ConfigError(
                f"invalid_action: unknown value {invalid_action!r}; allowed: {', '.join(INVALID_ACTIONS)}"
            )
        for name, value in (("invalid_penalty", invalid_penalty), ("cost_weight", cost_weight)):
            finite(name, value, 0.0)
        fixed = resolve_genotype(arch, int(steps), "arch") if arch is not None else None
        if isinstance(exclude, (str, Genotype)):
            raise ConfigError("exclude: expected a list of genotypes, got a single one; wrap it in a list")
        held = frozenset(resolve_genotype(g, int(steps), f"exclude[{i}]") for i, g in enumerate(exclude))
        return cls(
            int(steps),
            get_rule(rule),
            invalid_action,
            float(invalid_penalty),
            float(cost_weight),
            fixed,
            held,
        )

    def start(self, options: dict[str, Any] | None, rng: np.random.Generator) -> Genotype:
        """The input of a new episode: ``options["genotype"]``, else the fixed ``arch``, else a
        uniform sample (:func:`natgym.zoo.sample`) from ``rng`` that is not in ``exclude``."""
        options = options or {}
        if not isinstance(options, dict):
            raise ConfigError(f"options: expected a dict or None, got {type(options).__name__}")
        unknown = sorted(set(options) - {"genotype"})
        if unknown:
            raise ConfigError(f"options: unknown key {unknown[0]!r}; allowed: 'genotype'")
        if options.get("genotype") is not None:
            return resolve_genotype(options["genotype"], self.steps, "options['genotype']")
        if self.arch is not None:
            return self.arch
        for _ in range(1000):
            genotype = zoo.sample(rng, self.steps)
            if genotype not in self.exclude:
                return genotype
        raise ConfigError(
            f"exclude: 1000 uniform draws in a row were excluded ({len(self.exclude)} genotypes)"
        )

    def observe(self, genotype: Genotype) -> dict[str, np.ndarray]:
        """The graph arrays of ``genotype`` (:func:`natgym.graph.encode`) plus its per-edge
        ``action_mask`` (``(2E, 13)`` int8)."""
        obs = graph.encode(genotype)
        obs["action_mask"] = self.mask(obs["edge_ops"]).astype(np.int8)
        return obs

    @property
    def n_edges(self) -> int:
        """Edges of both cells (the action length)."""
        return 4 * self.steps

    def mask(self, ops: np.ndarray) -> np.ndarray:
        """Per-edge allowed targets, ``ops.shape + (13,)`` bool."""
        return self.rule.mask(ops)

    def check_op(self, edge: int, current: int, target: int) -> bool:
        """Whether ``current`` may become ``target`` on action dimension ``edge``; raises
        :class:`~natgym.errors.InvalidActionError` when not allowed and ``invalid_action="raise"``."""
        if self.rule.matrix[current, target]:
            return True
        if self.invalid_action == "raise":
            e = 2 * self.steps
            allowed = ", ".join(self.rule.allowed(OPS[current]))
            raise InvalidActionError(
                f"action[{edge}] ({CELLS[edge // e]} edge {edge % e}): {OPS[current]} cannot become "
                f"{OPS[target]} under rule {self.rule.name!r}; allowed: {allowed}"
            )
        return False

    def apply(self, before: Genotype, action: Any) -> tuple[Genotype, int]:
        """The transformed genotype and the number of invalid (kept) edges."""
        action = check_action(action, self.n_edges)
        current = flat_ops(before)
        ok = self.rule.matrix[current, action]
        if not ok.all() and self.invalid_action == "raise":
            k = int(np.flatnonzero(~ok)[0])
            self.check_op(k, int(current[k]), int(action[k]))
        new = np.where(ok, action, current)
        e = 2 * self.steps
        return before.with_ops(new[:e], new[e:]), int((~ok).sum())

    def outcome(
        self, before: Genotype, after: Genotype, acc_before: float, acc_after: float, invalid: int
    ) -> tuple[float, dict[str, Any]]:
        """The reward and the end-of-episode ``info`` (without ``action_mask``); ``queries`` (2)
        is what the episode spent on the evaluator."""
        cb, ca = genotype_cost(before), genotype_cost(after)
        reward = acc_after - acc_before
        if self.cost_weight:
            reward += self.cost_weight * (1.0 - ca.madds / cb.madds)
        if self.invalid_action == "penalty":
            reward -= self.invalid_penalty * invalid
        info = {
            "queries": 2,
            "acc_before": float(acc_before),
            "acc_after": float(acc_after),
            "params_before": cb.params,
            "params_after": ca.params,
            "madds_before": cb.madds,
            "madds_after": ca.madds,
            "genotype_before": before.to_darts(),
            "genotype_after": after.to_darts(),
            "dead_nodes": {name: cell.dead_nodes() for name, cell in zip(CELLS, after.cells)},
            "invalid_edges": invalid,
            "madds_increased": ca.madds > cb.madds,
            "cost_increasing_edges": cost_increasing_edges(before, after),
        }
        return float(reward), info


def check_action(action: Any, n: int) -> np.ndarray:
    """``action`` as an int64 vector of ``n`` op indices, or InvalidActionError."""
    try:
        arr = np.asarray(action)
    except (TypeError, ValueError):
        arr = np.asarray(None)
    if arr.shape != (n,) or not np.issubdtype(arr.dtype, np.integer):
        raise InvalidActionError(
            f"action: expected {n} integers in 0..{NUM_OPS - 1} (one target op per edge, normal cell "
            f"then reduce cell), got {type(action).__name__} of shape {arr.shape} and dtype {arr.dtype}"
        )
    if arr.min() < 0 or arr.max() >= NUM_OPS:
        raise InvalidActionError(f"action: op indices must be in 0..{NUM_OPS - 1}, got {arr.tolist()}")
    return arr.astype(np.int64)


def flat_ops(genotype: Genotype) -> np.ndarray:
    """The op index of every edge, normal cell then reduce cell (the action order)."""
    return np.concatenate([cell.op_indices for cell in genotype.cells])


def mask_tuple(mask: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per-dimension int8 masks for ``MultiDiscrete.sample(mask=...)``."""
    return tuple(row.astype(np.int8) for row in mask)

"""What NAT-Cell-v0, NAT-CellSeq-v0 and the vector env share: the process-wide evaluator cache,
argument checks, applying an action to a genotype, cost caching and the step ``info``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from natgym import zoo
from natgym.cost import Cost, network_cost, op_cost
from natgym.errors import ConfigError, GenotypeError, InvalidActionError
from natgym.genotype import Genotype
from natgym.reward import MODES, Evaluator
from natgym.space import NUM_OPS, OPS
from natgym.transitions import TransitionRule, get_rule

INVALID_ACTIONS: tuple[str, ...] = ("keep", "raise", "penalty")
"""Allowed values of the envs' ``invalid_action`` argument."""
CELLS: tuple[str, str] = ("normal", "reduce")

_EVALUATORS: dict[tuple, Evaluator] = {}


def shared_evaluator(
    supernet: Evaluator | str | os.PathLike | None = None,
    dataset: str = "digits",
    preset: str | None = None,
    device: str = "auto",
    mode: str = "fixed",
    cotrain: bool = False,
    seed: int = 0,
    data_root: str | None = None,
    progress: bool = True,
    evaluator_kwargs: Mapping[str, Any] | None = None,
) -> Evaluator:
    """The evaluator for this configuration, built once per process and then shared.

    An :class:`~natgym.reward.Evaluator` object passes through unchanged. Otherwise the arguments
    go to :func:`natgym.reward.load_evaluator` (``supernet`` as a checkpoint path), and the result
    is cached under its configuration, so N environments in one process (``make_vec``, SB3's
    ``DummyVecEnv``) hold one supernet, not N. ``evaluator_kwargs`` go to the
    :class:`~natgym.reward.SupernetEvaluator` (e.g. ``{"batch_size": 256}`` for lower-noise
    rewards at a quarter of the speed).
    """
    if isinstance(supernet, Evaluator):
        return supernet
    if supernet is not None and not isinstance(supernet, (str, os.PathLike)):
        raise ConfigError(
            f"supernet: expected an Evaluator, a checkpoint path or None, got {type(supernet).__name__}"
        )
    if mode not in MODES:
        raise ConfigError(f"mode: unknown evaluator mode {mode!r}; allowed: {', '.join(MODES)}")
    if device == "auto":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    path = os.path.abspath(os.fspath(supernet)) if supernet is not None else None
    extra = dict(evaluator_kwargs or {})
    key = (
        path,
        dataset,
        preset,
        device,
        mode,
        bool(cotrain),
        int(seed),
        data_root,
        tuple(sorted(extra.items())),
    )
    if key not in _EVALUATORS:
        from natgym import reward

        _EVALUATORS[key] = reward.load_evaluator(
            dataset=dataset,
            preset=preset,
            device=device,
            supernet=path,
            mode=mode,
            cotrain=bool(cotrain),
            seed=int(seed),
            data_root=data_root,
            progress=progress,
            **extra,
        )
    return _EVALUATORS[key]


def honest_spec(spec: Any, evaluator: Evaluator) -> Any:
    """``spec`` with ``nondeterministic=True`` when ``evaluator`` is not deterministic (the
    minibatch and cotrain modes), so Gymnasium's checker and users are told the truth."""
    if spec is not None and not spec.nondeterministic and not evaluator.deterministic:
        return dataclasses.replace(spec, nondeterministic=True)
    return spec


def clear_evaluator_cache() -> None:
    """Forget every cached evaluator (the next env builds or loads its own)."""
    _EVALUATORS.clear()


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
            stride = 2 if c == 1 and src < 2 else 1
            if op_cost(oa, 36, 32, 32, stride).madds > op_cost(ob, 36, 32, 32, stride).madds:
                out.append(f"{CELLS[c]}[{k}] {src}->{dst}: {ob} -> {oa} (stride {stride})")
    return out


@dataclass
class Transform:
    """The rule-checked application of target ops to a genotype (one env's configuration).

    ``rule``, ``invalid_action`` and ``invalid_penalty`` are as in :class:`NATCellEnv`.
    """

    steps: int
    rule: TransitionRule
    invalid_action: str = "keep"
    invalid_penalty: float = 0.01
    cost_weight: float = 0.0

    @classmethod
    def build(
        cls, steps: int, rule: str, invalid_action: str, invalid_penalty: float, cost_weight: float
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
            if not np.isfinite(value) or value < 0:
                raise ConfigError(f"{name}: expected a finite number >= 0, got {value!r}")
        return cls(int(steps), get_rule(rule), invalid_action, float(invalid_penalty), float(cost_weight))

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
        current = np.concatenate([cell.op_indices for cell in before.cells])
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
        """The reward and the end-of-episode ``info`` (without ``action_mask``)."""
        cb, ca = genotype_cost(before), genotype_cost(after)
        reward = acc_after - acc_before
        if self.cost_weight:
            reward += self.cost_weight * (1.0 - ca.madds / cb.madds)
        if self.invalid_action == "penalty":
            reward -= self.invalid_penalty * invalid
        info = {
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


def mask_tuple(mask: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per-dimension int8 masks for ``MultiDiscrete.sample(mask=...)``."""
    return tuple(row.astype(np.int8) for row in mask)

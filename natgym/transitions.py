"""Transition rules: which operation each edge may become (the action masks).

``NATPP`` is derived from two rules rather than pasted as a table, so new primitives extend it:

* level 1 (as NAT): any op may become skip_connect or null; skip and null may only become each
  other (or stay);
* level 2: a parametric op may become another parametric op whose *type* is reachable by
  conv -> sep_conv -> dil_conv -> pool (transitively, max and avg pooling interchange) and whose
  *kernel* is reachable by 5x5 -> 3x3 -> 1x1 (transitively), provided that primitive exists.

``NAT`` is the original rule: every op may become {itself, skip_connect, null}.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from natgym.errors import ConfigError
from natgym.genotype import Genotype
from natgym.space import NUM_OPS, OP_INDEX, OPS, PRIMITIVES, Primitive, op_index

TYPE_ORDER: tuple[str, ...] = ("conv", "sep_conv", "dil_conv", "pool")
"""Type rule: each family may become itself or any family after it."""
KERNEL_ORDER: tuple[int, ...] = (5, 3, 1)
"""Kernel rule: each kernel size may become itself or any smaller one in this order."""


@dataclass(frozen=True)
class TransitionRule:
    """A transition rule: ``matrix[i, j]`` is True when op ``OPS[i]`` may become ``OPS[j]``."""

    name: str
    matrix: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        self.matrix.setflags(write=False)

    def allowed(self, op: str) -> tuple[str, ...]:
        """The ops ``op`` may become, in :data:`natgym.OPS` order."""
        row = self.matrix[op_index(op)]
        return tuple(OPS[j] for j in np.flatnonzero(row))

    def is_allowed(self, current: str, target: str) -> bool:
        """Whether ``current`` may become ``target``."""
        return bool(self.matrix[op_index(current), op_index(target, "target")])

    def mask(self, ops: np.ndarray) -> np.ndarray:
        """Boolean masks of shape ``ops.shape + (13,)`` for an array of current op indices."""
        return self.matrix[np.asarray(ops, dtype=np.int64)]


def _level2(src: Primitive, dst: Primitive) -> bool:
    if src.family not in TYPE_ORDER or dst.family not in TYPE_ORDER:
        return False
    type_ok = TYPE_ORDER.index(dst.family) >= TYPE_ORDER.index(src.family)
    kernel_ok = KERNEL_ORDER.index(dst.kernel) >= KERNEL_ORDER.index(src.kernel)
    return type_ok and kernel_ok


def _build(level2: bool) -> np.ndarray:
    m = np.zeros((NUM_OPS, NUM_OPS), dtype=bool)
    skip, null = OP_INDEX["skip_connect"], OP_INDEX["null"]
    for i, src in enumerate(PRIMITIVES):
        m[i, i] = True
        m[i, skip] = m[i, null] = True
        if level2:
            for j, dst in enumerate(PRIMITIVES):
                m[i, j] |= _level2(src, dst)
    return m


NATPP = TransitionRule("natpp", _build(level2=True))
"""The NAT++ two-level rule (default)."""
NAT = TransitionRule("nat", _build(level2=False))
"""The original NAT rule: {same, skip_connect, null}."""

RULES: dict[str, TransitionRule] = {"natpp": NATPP, "nat": NAT}


def get_rule(name: str | TransitionRule) -> TransitionRule:
    """Look up a rule by name (``"natpp"`` or ``"nat"``); rule objects pass through."""
    if isinstance(name, TransitionRule):
        return name
    try:
        return RULES[str(name).lower()]
    except KeyError:
        raise ConfigError(f"rule: unknown rule {name!r}; allowed: {', '.join(RULES)}") from None


def random_transform(
    genotype: Genotype,
    rng: np.random.Generator | int | None = None,
    rule: str | TransitionRule = "natpp",
    prefer: Sequence[str] = (),
) -> Genotype:
    """A random valid transformation of ``genotype``: every edge of both cells independently
    becomes an op drawn uniformly from the ops ``rule`` allows for it.

    ``prefer`` (op names) narrows each edge's draw to the allowed ops among them when there are
    any (e.g. pooling, skip and null ops for cheap, pool- and skip-heavy cells); an edge with no
    preferred op allowed draws from all its allowed ops.
    """
    rule = get_rule(rule)
    rng = np.random.default_rng(rng)
    preferred = np.zeros(NUM_OPS, dtype=bool)
    for name in prefer:
        preferred[op_index(name, "prefer")] = True

    def draw(ops: tuple[str, ...]) -> list[str]:
        out = []
        for op in ops:
            allowed = rule.matrix[op_index(op)]
            narrowed = allowed & preferred
            choices = np.flatnonzero(narrowed if narrowed.any() else allowed)
            out.append(OPS[int(rng.choice(choices))])
        return out

    return genotype.with_ops(draw(genotype.normal.ops), draw(genotype.reduce.ops))

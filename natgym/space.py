"""The NAT++ primitives: the 13 operations in reference order, their family and kernel size."""

from __future__ import annotations

from dataclasses import dataclass

from natgym.errors import GenotypeError

OPS: tuple[str, ...] = (
    "max_pool_3x3",
    "max_pool_5x5",
    "avg_pool_3x3",
    "avg_pool_5x5",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
    "conv_1x1",
    "conv_3x3",
    "conv_5x5",
    "null",
)
"""The 13 NAT++ operation names in the reference order (indices are action values)."""

NUM_OPS = len(OPS)
OP_INDEX: dict[str, int] = {name: i for i, name in enumerate(OPS)}
NULL = OP_INDEX["null"]
SKIP = OP_INDEX["skip_connect"]

FAMILIES: tuple[str, ...] = ("conv", "sep_conv", "dil_conv", "pool", "skip", "null")
"""Operation families from most to least expensive (the NAT++ type order)."""


@dataclass(frozen=True)
class Primitive:
    """One operation: its name, family and kernel size (0 for skip and null)."""

    name: str
    family: str
    kernel: int
    pool: str = ""  # "max" or "avg" for pooling, "" otherwise


def _describe(name: str) -> Primitive:
    if name == "null":
        return Primitive(name, "null", 0)
    if name == "skip_connect":
        return Primitive(name, "skip", 0)
    prefix, size = name.rsplit("_", 1)
    kernel = int(size.split("x")[0])
    if prefix in ("max_pool", "avg_pool"):
        return Primitive(name, "pool", kernel, prefix.split("_")[0])
    return Primitive(name, prefix, kernel)


PRIMITIVES: tuple[Primitive, ...] = tuple(_describe(name) for name in OPS)
"""One :class:`Primitive` per entry of :data:`OPS`, same order."""


def op_index(name: str, field: str = "op") -> int:
    """Index of operation ``name`` in :data:`OPS`; raises ``GenotypeError`` naming ``field``."""
    try:
        return OP_INDEX[name]
    except (KeyError, TypeError):
        raise GenotypeError(f"{field}: unknown operation {name!r}; allowed: {', '.join(OPS)}") from None


def edge_stride(reduction: bool, src: int) -> int:
    """Stride of an edge from node ``src``: 2 for edges leaving a reduction cell's two input
    nodes (0 and 1), 1 everywhere else (docs/method.md section 1)."""
    return 2 if reduction and src < 2 else 1

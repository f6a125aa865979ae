"""Named architectures and the uniform input sampler.

``names()`` lists the reference inputs (DARTS, ENAS, ResBlock, VGG, MobileNetV2, R1-R5) and the
published NAT / NATv2 transformations of them (``NAT_DARTS``, ``NATv2_DARTS``, ...). Look-ups are
case-insensitive. NAONet is refused: it uses operations outside the 13 NAT++ primitives.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

import numpy as np

from natgym.errors import GenotypeError
from natgym.genotype import MAX_TEXT, Cell, Genotype
from natgym.space import NULL, OPS

INPUTS: tuple[str, ...] = ("DARTS", "ENAS", "ResBlock", "VGG", "MobileNetV2", "R1", "R2", "R3", "R4", "R5")
"""The reference input architectures."""

_RENAME = {"mobilenetv2": "MobileNetV2"}


def _canonical(key: str) -> str:
    prefix, _, base = key.rpartition("_")
    base = _RENAME.get(base.lower(), base)
    return f"{prefix}_{base}" if prefix else base


@lru_cache(maxsize=1)
def _raw() -> dict[str, dict]:
    text = resources.files("natgym").joinpath("data_files/genotypes.json").read_text()
    return {_canonical(k): v for k, v in json.loads(text).items()}


def _unsupported(raw: dict) -> list[str]:
    used = {e[0] for cell in ("normal", "reduce") for e in raw[cell]}
    return sorted(used - set(OPS) - {"none"})


def names() -> tuple[str, ...]:
    """Every supported zoo name: inputs first, then their NAT and NATv2 transformations."""
    keys = [k for k, v in _raw().items() if not _unsupported(v)]
    order = {n: i for i, n in enumerate(INPUTS)}
    return tuple(sorted(keys, key=lambda k: (k.count("_") > 0, order.get(k.split("_")[-1], 99), k)))


def get(name: str) -> Genotype:
    """The zoo genotype called ``name`` (case-insensitive)."""
    lookup = {k.lower(): k for k in _raw()}
    key = lookup.get(str(name).lower())
    if key is None:
        raise GenotypeError(f"arch: unknown zoo name {name!r}; allowed: {', '.join(names())}")
    bad = _unsupported(_raw()[key])
    if bad:
        raise GenotypeError(
            f"arch: {key} uses operations outside the 13 NAT++ primitives ({', '.join(bad)}); "
            f"allowed ops: {', '.join(OPS)}"
        )
    return Genotype.parse(_raw()[key])


def sample(rng: np.random.Generator | int | None = None, steps: int = 4) -> Genotype:
    """A uniformly random input genotype (docs/method.md section 4).

    Each intermediate node picks both inputs uniformly among earlier nodes and each edge an op
    uniformly among the 12 non-null primitives; normal and reduce are independent; every
    intermediate node is concatenated. Reproducible from an integer seed or a Generator.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise GenotypeError(f"steps: expected a positive integer (4 DARTS-like, 5 ENAS-like), got {steps!r}")
    rng = np.random.default_rng(rng)
    choices = [op for i, op in enumerate(OPS) if i != NULL]

    def cell() -> Cell:
        edges = [
            (choices[rng.integers(len(choices))], int(rng.integers(node)), node)
            for node in range(2, steps + 2)
            for _ in range(2)
        ]
        return Cell(tuple(edges), tuple(range(2, steps + 2)))

    return Genotype(cell(), cell())


def resolve(arch: str | Genotype | dict) -> Genotype:
    """A zoo name, any genotype dialect (text or structure), or a ``.json`` file path."""
    if isinstance(arch, str):
        text = arch.strip()
        if text.lower() in {k.lower() for k in _raw()}:
            return get(text)
        if text.endswith(".json") and "{" not in text:
            try:
                with open(text, encoding="utf-8") as fh:
                    content = fh.read(MAX_TEXT + 1)
            except OSError as exc:
                raise GenotypeError(f"arch: cannot read genotype file {text!r} ({exc.strerror})") from None
            except UnicodeDecodeError:
                raise GenotypeError(f"arch: genotype file {text!r} is not UTF-8 text") from None
            return Genotype.from_json(content)
        if not text.startswith(("Genotype", "{", "[")):
            raise GenotypeError(
                f"arch: {text!r} is neither a zoo name ({', '.join(names())}) nor genotype text"
            )
    return Genotype.parse(arch)

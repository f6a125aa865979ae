"""Cell and genotype types, and reading/writing them in every dialect natgym accepts.

Dialects:

* **DARTS string** -- ``Genotype(normal=[('sep_conv_3x3', 0), ...], normal_concat=[2, 3, 4, 5],
  reduce=[...], reduce_concat=[...])``: 2-tuples ``(op, from)``, two per intermediate node in node
  order, ``'none'`` for the zero op. ``str(genotype)`` writes this form.
* **NAT string** -- the same call with 3-tuples ``(op, from, to)`` and ``'null'``.
* **JSON** -- ``{"normal": [[op, from, to], ...], "normal_concat": [...], "reduce": ...,
  "reduce_concat": [...]}`` (the layout of the reference ``genotypes.json``).

:meth:`Genotype.parse` accepts any of these as text, or as an already-loaded dict, list, tuple or
DARTS ``Genotype`` namedtuple. Text is parsed with :mod:`ast`/:mod:`json`; it is never evaluated.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from natgym.errors import GenotypeError
from natgym.space import NULL, OP_INDEX, OPS, op_index

Edge = tuple[str, int, int]
"""An edge ``(op, from_node, to_node)``."""

_ALIASES = {"none": "null", "zero": "null", "identity": "skip_connect"}
MAX_STEPS = 32
"""Most intermediate nodes a cell may have (the paper's cells have 4 or 5)."""
MAX_TEXT = 100_000
"""Longest genotype text (characters) the parser reads."""
MAX_DEPTH = 16
"""Deepest bracket nesting the parser reads (a genotype needs 4)."""
_FIELDS = ("normal", "normal_concat", "reduce", "reduce_concat")


def _short(value: Any) -> str:
    """``repr(value)``, cut to 80 characters (a hostile value may be huge)."""
    try:
        text = repr(value)
    except ValueError:  # an int too long to print
        return f"<{type(value).__name__} too large to show>"
    return text if len(text) <= 80 else text[:77] + "..."


def _int(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise GenotypeError(f"{field}: expected an integer node index, got {_short(value)}")
    return int(value)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object's pairs as a dict; a repeated key is an error (JSON allows it silently)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise GenotypeError(f"{_short(key)}: repeated key in JSON genotype")
        out[key] = value
    return out


def _loads(text: str) -> Any:
    """Strict JSON: no repeated keys, bounded nesting and size."""
    return json.loads(text, object_pairs_hook=_unique_keys)


def _check_size(text: str) -> None:
    """Refuse text longer than ``MAX_TEXT`` or nested deeper than ``MAX_DEPTH`` brackets."""
    if len(text) > MAX_TEXT:
        raise GenotypeError(f"text: {len(text)} characters; a genotype text has at most {MAX_TEXT}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise GenotypeError(
            "text: holds bytes that are not valid text (an undecodable file or argument)"
        ) from None
    depth = deepest = 0
    for ch in text:
        if ch in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in ")]}":
            depth -= 1
    if deepest > MAX_DEPTH:
        raise GenotypeError(f"text: brackets nested {deepest} deep; a genotype needs at most {MAX_DEPTH}")


@dataclass(frozen=True)
class Cell:
    """One cell: ``edges`` ``(op, from, to)`` in node order (two per node), and ``concat``.

    Nodes 0 and 1 are the cell's inputs (outputs of cells k-2 and k-1); intermediate nodes are
    ``2 .. steps + 1``. ``concat`` lists the intermediate nodes whose outputs form the cell output.
    """

    edges: tuple[Edge, ...]
    concat: tuple[int, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "edges", tuple(tuple(e) for e in self.edges))
        object.__setattr__(self, "concat", tuple(self.concat))
        self._validate("cell")

    @classmethod
    def build(cls, edges: Sequence[Sequence[Any]], concat: Sequence[Any], name: str) -> Cell:
        """Validate raw ``(op, from, to)`` edges and ``concat`` for the cell called ``name``."""
        if isinstance(edges, (str, bytes)) or not isinstance(edges, Sequence) or not edges:
            raise GenotypeError(f"{name}: expected a non-empty list of edges, got {_short(edges)}")
        if len(edges) > 2 * MAX_STEPS:
            raise GenotypeError(
                f"{name}: {len(edges)} edges; a cell has at most {2 * MAX_STEPS} ({MAX_STEPS} nodes)"
            )
        if isinstance(concat, (str, bytes)) or not isinstance(concat, (Sequence, range)):
            raise GenotypeError(f"{name}_concat: expected a list of node indices, got {_short(concat)}")
        clean: list[Edge] = []
        for k, edge in enumerate(edges):
            field = f"{name}[{k}]"
            if isinstance(edge, (str, bytes)) or not isinstance(edge, Sequence) or len(edge) != 3:
                raise GenotypeError(f"{field}: expected (op, from, to), got {_short(edge)}")
            op = _ALIASES.get(edge[0], edge[0]) if isinstance(edge[0], str) else edge[0]
            op_index(op, f"{field}.op")
            clean.append((op, _int(edge[1], f"{field}.from"), _int(edge[2], f"{field}.to")))
        order = sorted(range(len(clean)), key=lambda k: clean[k][2])
        cell = cls.__new__(cls)
        object.__setattr__(cell, "edges", tuple(clean[k] for k in order))
        object.__setattr__(
            cell, "concat", tuple(_int(c, f"{name}_concat[{i}]") for i, c in enumerate(concat))
        )
        cell._validate(name)
        return cell

    def _validate(self, name: str) -> None:
        if not self.edges:
            raise GenotypeError(f"{name}: a cell needs at least one intermediate node")
        last = len(self.edges) + 1  # no node can be higher (two edges per node): bounds the checks
        for k, (op, src, dst) in enumerate(self.edges):
            if op not in OP_INDEX:
                op_index(op, f"{name}[{k}].op")
            if dst > last:
                raise GenotypeError(
                    f"{name}[{k}].to: node {_short(dst)} out of range for {len(self.edges)} edges; "
                    f"allowed: 2..{len(self.edges) // 2 + 1}"
                )
            if dst < 2:
                raise GenotypeError(
                    f"{name}[{k}].to: node {dst} out of range; edges must end at an "
                    "intermediate node (2 or more)"
                )
            if src < 0:
                raise GenotypeError(f"{name}[{k}].from: node {src} out of range; allowed: 0..{dst - 1}")
            if src >= dst:
                raise GenotypeError(
                    f"{name}[{k}]: from ({src}) >= to ({dst}); an edge must come from an earlier "
                    f"node, allowed from: 0..{dst - 1}"
                )
        steps = max(dst for _, _, dst in self.edges) - 1
        counts = np.bincount([dst for _, _, dst in self.edges], minlength=steps + 2)
        for node in range(2, steps + 2):
            if counts[node] != 2:
                raise GenotypeError(
                    f"{name}: node {node} has {counts[node]} incoming edges; every intermediate "
                    f"node (2..{steps + 1}) needs exactly 2"
                )
        if [e[2] for e in self.edges] != sorted(e[2] for e in self.edges):
            raise GenotypeError(f"{name}: edges must be listed in node order")
        if not self.concat:
            raise GenotypeError(f"{name}_concat: must list at least one node in 2..{steps + 1}")
        for i, node in enumerate(self.concat):
            if not 2 <= node <= steps + 1:
                raise GenotypeError(f"{name}_concat[{i}]: node {node} out of range; allowed: 2..{steps + 1}")
        if len(set(self.concat)) != len(self.concat):
            raise GenotypeError(f"{name}_concat: repeated node in {list(self.concat)}")

    @property
    def steps(self) -> int:
        """Number of intermediate nodes."""
        return len(self.edges) // 2

    @property
    def ops(self) -> tuple[str, ...]:
        """The op of every edge, in edge order."""
        return tuple(op for op, _, _ in self.edges)

    @property
    def op_indices(self) -> np.ndarray:
        """The op of every edge as indices into :data:`natgym.OPS` (int64 array)."""
        return np.array([OP_INDEX[op] for op, _, _ in self.edges], dtype=np.int64)

    def with_ops(self, ops: Sequence[str] | np.ndarray) -> Cell:
        """The same topology with new ops (names or indices 0..12), one per edge."""
        if len(ops) != len(self.edges):
            raise GenotypeError(f"ops: expected {len(self.edges)} ops, got {len(ops)}")
        names = []
        for k, o in enumerate(ops):
            if isinstance(o, str):
                names.append(o)
            elif isinstance(o, (int, np.integer)) and not isinstance(o, bool) and 0 <= o < len(OPS):
                names.append(OPS[int(o)])
            else:
                raise GenotypeError(
                    f"ops[{k}]: expected an op name or an index in 0..{len(OPS) - 1}, got {_short(o)}"
                )
        return Cell.build([(n, s, d) for n, (_, s, d) in zip(names, self.edges)], self.concat, "cell")

    def dead_nodes(self) -> tuple[int, ...]:
        """Intermediate nodes whose output is always zero (every input null or dead)."""
        dead: set[int] = set()
        for node in range(2, self.steps + 2):
            ins = [(op, src) for op, src, dst in self.edges if dst == node]
            if all(OP_INDEX[op] == NULL or src in dead for op, src in ins):
                dead.add(node)
        return tuple(sorted(dead))


@dataclass(frozen=True)
class Genotype:
    """A (normal, reduce) pair of cells with the same number of intermediate nodes."""

    normal: Cell
    reduce: Cell

    def __post_init__(self) -> None:
        if self.normal.steps != self.reduce.steps:
            raise GenotypeError(
                f"reduce: has {self.reduce.steps} intermediate nodes but normal has "
                f"{self.normal.steps}; both cells need the same number"
            )

    @property
    def steps(self) -> int:
        """Number of intermediate nodes per cell."""
        return self.normal.steps

    @property
    def cells(self) -> tuple[Cell, Cell]:
        """``(normal, reduce)``."""
        return (self.normal, self.reduce)

    def with_ops(self, normal_ops: Sequence[Any], reduce_ops: Sequence[Any]) -> Genotype:
        """The same topology with new ops for each cell."""
        return Genotype(self.normal.with_ops(normal_ops), self.reduce.with_ops(reduce_ops))

    # ----------------------------------------------------------------- writing
    def to_dict(self) -> dict[str, list]:
        """JSON-ready dict in the reference layout (3-element edge lists, ``'null'``)."""
        out: dict[str, list] = {}
        for name, cell in zip(("normal", "reduce"), self.cells):
            out[name] = [list(e) for e in cell.edges]
            out[f"{name}_concat"] = list(cell.concat)
        return out

    def to_json(self, indent: int | None = None) -> str:
        """JSON text; ``Genotype.from_json(g.to_json()) == g``."""
        return json.dumps(self.to_dict(), indent=indent)

    def to_darts(self) -> str:
        """The DARTS string: 2-tuples ``(op, from)``, ``'none'`` for null."""

        def edges(cell: Cell) -> str:
            names = ("none" if op == "null" else op for op, _, _ in cell.edges)
            return ", ".join(f"({n!r}, {src})" for n, (_, src, _) in zip(names, cell.edges))

        return self._call(edges)

    def to_nat(self) -> str:
        """The NAT string: 3-tuples ``(op, from, to)``, ``'null'`` for the zero op."""
        return self._call(lambda cell: ", ".join(f"({op!r}, {s}, {d})" for op, s, d in cell.edges))

    def _call(self, edges: Any) -> str:
        return (
            f"Genotype(normal=[{edges(self.normal)}], normal_concat={list(self.normal.concat)}, "
            f"reduce=[{edges(self.reduce)}], reduce_concat={list(self.reduce.concat)})"
        )

    def __str__(self) -> str:
        return self.to_darts()

    # ----------------------------------------------------------------- reading
    @classmethod
    def from_json(cls, text: str) -> Genotype:
        """Read the JSON dialect."""
        if not isinstance(text, str):
            raise GenotypeError(f"text: expected a JSON string, got {type(text).__name__}")
        _check_size(text)
        try:
            data = _loads(text)
        except (json.JSONDecodeError, ValueError, RecursionError) as exc:
            raise GenotypeError(f"text: malformed JSON genotype ({str(exc)[:200]})") from None
        return cls.parse(data)

    @classmethod
    def parse(cls, obj: Any) -> Genotype:
        """Read a genotype from any dialect, as text or as a loaded structure.

        Accepts a :class:`Genotype`, DARTS/NAT ``Genotype(...)`` text, JSON text, a dict with
        ``normal``/``normal_concat``/``reduce``/``reduce_concat``, or a 4-sequence in that
        order (e.g. a DARTS namedtuple). Raises :class:`GenotypeError` on bad input.
        """
        if isinstance(obj, Genotype):
            return obj
        if isinstance(obj, str):
            return cls.parse(_parse_text(obj))
        if hasattr(obj, "_asdict"):
            obj = obj._asdict()
        if isinstance(obj, Mapping):
            missing = [f for f in _FIELDS if f not in obj]
            if missing:
                raise GenotypeError(
                    f"{missing[0]}: missing; a genotype needs the fields {', '.join(_FIELDS)}"
                )
            extra = sorted(set(obj) - set(_FIELDS))
            if extra:
                raise GenotypeError(f"{extra[0]}: unknown field; allowed: {', '.join(_FIELDS)}")
            return cls(
                _cell(obj["normal"], obj["normal_concat"], "normal"),
                _cell(obj["reduce"], obj["reduce_concat"], "reduce"),
            )
        if isinstance(obj, Sequence) and len(obj) == 4:
            return cls.parse(dict(zip(_FIELDS, obj)))
        raise GenotypeError(
            f"genotype: cannot read {type(obj).__name__}; expected DARTS/NAT text, JSON, a dict "
            f"with fields {', '.join(_FIELDS)}, or a 4-sequence"
        )


def _cell(edges: Any, concat: Any, name: str) -> Cell:
    """Build a cell from DARTS 2-tuples or NAT 3-tuples (all edges of one dialect)."""
    if isinstance(edges, (str, bytes)) or not isinstance(edges, Sequence) or not edges:
        raise GenotypeError(f"{name}: expected a non-empty list of edges, got {edges!r}")
    lengths = {len(e) if isinstance(e, Sequence) and not isinstance(e, str) else -1 for e in edges}
    if lengths == {2}:
        if len(edges) % 2:
            raise GenotypeError(
                f"{name}: {len(edges)} edges in the DARTS (op, from) form; every intermediate "
                "node needs exactly 2, so the count must be even"
            )
        edges = [(op, src, 2 + k // 2) for k, (op, src) in enumerate(edges)]
    elif lengths != {3}:
        raise GenotypeError(
            f"{name}: every edge must be (op, from) [DARTS] or (op, from, to) [NAT], "
            f"not a mix; got lengths {sorted(lengths)}"
        )
    return Cell.build(edges, concat, name)


def _literal(node: ast.AST, field: str) -> Any:
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "range"
        and not node.keywords
    ):
        args = [_literal(a, field) for a in node.args]
        if len(args) > 3 or not all(isinstance(a, int) and not isinstance(a, bool) for a in args):
            raise GenotypeError(f"{field}: range() takes 1 to 3 integers, got {_short(args)}")
        values = range(*args) if args else None
        if values is None or len(values) > 2 * MAX_STEPS:
            raise GenotypeError(f"{field}: range() of 1 to {2 * MAX_STEPS} node indices expected")
        return list(values)
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
        raise GenotypeError(f"{field}: not a literal value: {_short(ast.unparse(node))}") from None


def _parse_text(text: str) -> Any:
    stripped = text.strip()
    _check_size(stripped)
    if stripped[:1] in "{[":
        try:
            return _loads(stripped)
        except (json.JSONDecodeError, ValueError):
            try:
                return ast.literal_eval(stripped)
            except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
                raise GenotypeError(f"text: malformed genotype literal: {stripped[:80]!r}") from None
    try:
        tree = ast.parse(stripped, mode="eval").body
    except SyntaxError as exc:
        raise GenotypeError(f"text: malformed genotype text ({exc.msg}): {stripped[:80]!r}") from None
    func = getattr(tree, "func", None)
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
    if not (isinstance(tree, ast.Call) and name == "Genotype"):
        raise GenotypeError(
            f"text: expected 'Genotype(normal=..., normal_concat=..., reduce=..., "
            f"reduce_concat=...)' or JSON, got {stripped[:80]!r}"
        )
    if len(tree.args) > 4:
        raise GenotypeError(f"text: Genotype(...) takes at most 4 arguments, got {len(tree.args)}")
    values: dict[str, Any] = {f: _literal(a, f) for f, a in zip(_FIELDS, tree.args)}
    for kw in tree.keywords:
        if kw.arg not in _FIELDS:
            raise GenotypeError(f"{kw.arg}: unknown field; allowed: {', '.join(_FIELDS)}")
        values[kw.arg] = _literal(kw.value, kw.arg)
    return values

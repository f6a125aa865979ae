"""Genotypes: every dialect round-trips, bad input names its field, zoo and sampler."""

import json
from collections import namedtuple

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from natgym import Cell, Genotype, GenotypeError, zoo

ZOO = zoo.names()
DartsGenotype = namedtuple("Genotype", "normal normal_concat reduce reduce_concat")


@pytest.mark.parametrize("name", ZOO)
def test_round_trip_every_dialect(name):
    g = zoo.get(name)
    for form in (g.to_darts(), g.to_nat(), g.to_json(), g.to_json(indent=1), g.to_dict(), str(g)):
        assert Genotype.parse(form) == g
    assert Genotype.from_json(g.to_json()) == g
    assert Genotype.from_json(g.to_json()).to_json() == g.to_json()
    assert hash(Genotype.parse(g.to_darts())) == hash(g)
    # The DARTS namedtuple a user may already hold (2-tuples, 'none').
    darts = [[(("none" if op == "null" else op), s) for op, s, _ in c.edges] for c in g.cells]
    nt = DartsGenotype(darts[0], list(g.normal.concat), darts[1], list(g.reduce.concat))
    assert Genotype.parse(nt) == g and Genotype.parse(tuple(nt)) == g


def test_zoo_matches_reference_file():
    ref = json.load(open(__file__.rsplit("/", 2)[0] + "/natgym/data_files/genotypes.json"))
    assert zoo.get("DARTS").to_dict() == ref["DARTS"]
    assert zoo.get("mobilenetv2").to_dict() == ref["Mobilenetv2"]
    assert zoo.get("NAT_MobileNetV2") == Genotype.parse(ref["NAT_MobileNetv2"])
    assert set(zoo.INPUTS) <= set(ZOO) and "NATv2_DARTS" in ZOO and "NAONet" not in ZOO
    assert zoo.get("ENAS").steps == 5 and zoo.get("ENAS").reduce.concat == (2, 3, 6)


def test_darts_string_format():
    g = zoo.get("DARTS")
    s = str(g)
    assert s.startswith("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1),")
    assert "normal_concat=[2, 3, 4, 5]" in s
    assert "'none'" in str(zoo.get("NAT_DARTS")) and "'null'" not in str(zoo.get("NAT_DARTS"))
    assert "('null', 2, 4)" in zoo.get("NAT_DARTS").to_nat()
    ranged = s.replace("normal_concat=[2, 3, 4, 5]", "normal_concat=range(2, 6)")
    assert Genotype.parse(ranged) == g


def test_naonet_refused_with_its_ops():
    with pytest.raises(GenotypeError, match="NAONet.*conv_1x3_3x1.*conv_1x7_7x1.*max_pool_2x2"):
        zoo.get("NAONet")
    with pytest.raises(GenotypeError, match="unknown zoo name 'nope'.*DARTS"):
        zoo.get("nope")


def _darts_text(**changes):
    d = zoo.get("DARTS").to_dict()
    d.update(changes)
    return d


@pytest.mark.parametrize(
    "structure, pattern",
    [
        (_darts_text(normal=[["conv_7x7", 0, 2]] + zoo.get("DARTS").to_dict()["normal"][1:]),
         r"normal\[0\]\.op: unknown operation 'conv_7x7'; allowed: max_pool_3x3"),
        (_darts_text(normal=zoo.get("DARTS").to_dict()["normal"][:-1]),
         r"normal: node 5 has 1 incoming edges; every intermediate node \(2..5\) needs exactly 2"),
        (_darts_text(reduce=[["skip_connect", 3, 3]] + zoo.get("DARTS").to_dict()["reduce"][1:]),
         r"reduce\[\d\]: from \(3\) >= to \(3\).*allowed from: 0..2"),
        (_darts_text(normal=[["skip_connect", -1, 2]] + zoo.get("DARTS").to_dict()["normal"][1:]),
         r"normal\[0\]\.from: node -1 out of range; allowed: 0..1"),
        (_darts_text(normal=[["skip_connect", 0, 1]] + zoo.get("DARTS").to_dict()["normal"][1:]),
         r"normal\[0\]\.to: node 1 out of range"),
        (_darts_text(normal_concat=[2, 3, 9]), r"normal_concat\[2\]: node 9 out of range; allowed: 2..5"),
        (_darts_text(reduce_concat=[]), r"reduce_concat: must list at least one node in 2..5"),
        ({"normal": []}, r"normal_concat: missing; a genotype needs the fields normal, normal_concat"),
        (_darts_text(extra=1), r"extra: unknown field; allowed: normal, normal_concat"),
        (_darts_text(normal=[["sep_conv_3x3", 0]] * 3), r"normal: 3 edges in the DARTS \(op, from\) form"),
        (_darts_text(normal=[["sep_conv_3x3", 0], ["sep_conv_3x3", 0, 2]]), r"normal: every edge must be"),
        (_darts_text(normal=[["sep_conv_3x3", "0", 2], ["sep_conv_3x3", 0, 2]]),
         r"normal\[0\]\.from: expected an integer node index, got '0'"),
    ],
)  # fmt: skip
def test_bad_structure_errors(structure, pattern):
    with pytest.raises(GenotypeError, match=pattern):
        Genotype.parse(structure)
    with pytest.raises(ValueError):  # GenotypeError is a ValueError
        Genotype.parse(json.dumps(structure))


@pytest.mark.parametrize(
    "text, pattern",
    [
        ("Genotype(normal=[('sep_conv_3x3', 0)", r"text: malformed genotype text"),
        ('{"normal": [', r"text: malformed genotype literal"),
        ("hello world", r"text: malformed genotype text"),
        ("print('hi')", r"text: expected 'Genotype\(normal="),
        ("Genotype(normal=__import__('os').system('true'))", r"normal: not a literal value"),
        ("Genotype(bogus=[])", r"bogus: unknown field"),
        ("42", r"text: expected 'Genotype"),
    ],
)
def test_bad_text_errors_and_no_eval(text, pattern):
    with pytest.raises(GenotypeError, match=pattern):
        Genotype.parse(text)


def test_mismatched_steps_and_resolve(tmp_path):
    enas = zoo.get("ENAS")
    with pytest.raises(GenotypeError, match="reduce: has 5 intermediate nodes but normal has 4"):
        Genotype(zoo.get("DARTS").normal, enas.reduce)
    path = tmp_path / "g.json"
    path.write_text(enas.to_json())
    assert zoo.resolve(str(path)) == enas
    assert zoo.resolve("vgg") == zoo.get("VGG")
    assert zoo.resolve(enas.to_nat()) == enas
    with pytest.raises(GenotypeError, match="cannot read genotype file"):
        zoo.resolve(str(tmp_path / "missing.json"))
    with pytest.raises(GenotypeError, match="neither a zoo name"):
        zoo.resolve("DARTZ")


def test_cells_are_immutable_and_dead_nodes():
    g = zoo.get("DARTS")
    with pytest.raises(AttributeError):
        g.normal = g.reduce
    dead = g.with_ops(["null"] * 8, g.reduce.ops)
    assert dead.normal.dead_nodes() == (2, 3, 4, 5)
    # Node 2 of DARTS normal reads 0 and 1 only; nulling both kills it, and node 5 reads 2 and 0.
    ops = list(g.normal.ops)
    ops[0] = ops[1] = "null"
    assert g.with_ops(ops, g.reduce.ops).normal.dead_nodes() == (2,)
    assert Cell(g.normal.edges, g.normal.concat) == g.normal


@given(st.integers(0, 2**32 - 1), st.sampled_from([1, 2, 4, 5, 7]))
def test_sampled_genotypes_valid_and_reproducible(seed, steps):
    g = zoo.sample(seed, steps=steps)
    assert g == zoo.sample(np.random.default_rng(seed), steps=steps)
    assert g.steps == steps
    assert Genotype.parse(g.to_json()) == g
    for cell in g.cells:
        assert "null" not in cell.ops
        assert cell.concat == tuple(range(2, steps + 2))
        assert all(0 <= s < d for _, s, d in cell.edges)


def test_sampler_is_uniform_enough():
    rng = np.random.default_rng(0)
    ops = [op for _ in range(300) for c in zoo.sample(rng).cells for op in c.ops]
    counts = np.unique(ops, return_counts=True)[1]
    assert len(counts) == 12 and counts.min() > 0.8 * len(ops) / 12
    with pytest.raises(GenotypeError, match="steps: expected a positive integer"):
        zoo.sample(0, steps=0)

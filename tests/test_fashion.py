"""Fashion-MNIST: the IDX reader on files the tests write (hostile ones included), where the files
are looked for, splits and resampling; and, where the real files are installed, the real data."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from natgym.data import DATASETS, MissingDataError, dataset_info, load_dataset
from natgym.data import fashion as fm
from natgym.data.base import resize
from natgym.errors import ConfigError


def idx_bytes(array: np.ndarray, magic: bytes | None = None, dims: tuple[int, ...] | None = None) -> bytes:
    """An IDX file's bytes for a uint8 array (``magic``/``dims`` override the header)."""
    dims = array.shape if dims is None else dims
    head = magic if magic is not None else bytes([0, 0, 0x08, len(dims)])
    return head + struct.pack(f">{len(dims)}I", *dims) + array.astype(np.uint8).tobytes()


def write_fashion(folder, n_train=50, n_test=20, compress=True, seed=0):
    """Four small Fashion-MNIST-like files (tests set fm.COUNTS to the same counts)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for part, n in (("train", n_train), ("test", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        arrays[part] = (images, labels)
        for name, array in zip(fm.FILES[part], (images, labels)):
            data = idx_bytes(array)
            if compress:
                (folder / f"{name}.gz").write_bytes(gzip.compress(data))
            else:
                (folder / name).write_bytes(data)
    return arrays


@pytest.fixture
def small_counts(monkeypatch):
    monkeypatch.setattr(fm, "COUNTS", {"train": 50, "test": 20})
    monkeypatch.setattr(fm, "DEBIAN", fm.DEBIAN.parent / "natgym-test-absent")


def test_registry_lists_fashion():
    assert DATASETS == ("digits", "fashion", "cifar10", "cifar100", "synthetic")
    info = dataset_info("fashion")
    assert (info.in_channels, info.num_classes, info.image_size, info.flip) == (1, 10, 28, True)
    with pytest.raises(ConfigError, match="allowed: digits, fashion, .*folder:PATH, npz:PATH"):
        dataset_info("mnist")


@pytest.mark.parametrize("compress", [True, False])
def test_read_idx_round_trip(tmp_path, compress):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    data = idx_bytes(array)
    path = tmp_path / ("a.gz" if compress else "a")
    path.write_bytes(gzip.compress(data) if compress else data)
    assert np.array_equal(fm.read_idx(path, (2, 3, 4)), array)


HOSTILE = {
    "wrong magic": (idx_bytes(np.zeros((2, 3, 4)), magic=b"\x00\x00\x0d\x03"), "magic number"),
    "wrong dimensions": (idx_bytes(np.zeros((2, 12))), "magic number"),
    "empty": (b"", "magic number missing"),
    "cut header": (bytes([0, 0, 8, 3, 0, 0]), "header is cut short"),
    "huge count": (idx_bytes(np.zeros((0,)), dims=(4_294_967_295, 3, 4)), "declares dimensions"),
    "other count": (idx_bytes(np.zeros((3, 3, 4))), "declares dimensions"),
    "truncated": (idx_bytes(np.zeros((2, 3, 4)))[:-5], "truncated: 19 of 24"),
    "overlong": (idx_bytes(np.zeros((2, 3, 4))) + b"\x00", "more than the 24 data bytes"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
@pytest.mark.parametrize("compress", [True, False])
def test_read_idx_refuses_bad_files_naming_them(tmp_path, case, compress):
    data, reason = HOSTILE[case]
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(gzip.compress(data) if compress else data)
    with pytest.raises(fm.IDXError) as info:
        fm.read_idx(path, (2, 3, 4))
    message = str(info.value)
    assert str(path) in message and reason in message and "reinstall" in message


def test_read_idx_refuses_broken_gzip(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros((2, 3, 4))))[:-12])
    with pytest.raises(fm.IDXError, match=r"x\.gz.*reinstall"):
        fm.read_idx(path, (2, 3, 4))


@given(st.binary(max_size=64))
@settings(max_examples=200, deadline=None)
def test_read_idx_any_bytes_is_an_array_or_a_clear_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("idx") / "f"
    path.write_bytes(data)
    try:
        out = fm.read_idx(path, (2, 3))
    except fm.IDXError as exc:
        assert str(path) in str(exc)
    else:
        assert out.shape == (2, 3) and out.dtype == np.uint8


@pytest.mark.parametrize("layout", [".", "fashion-mnist", "FashionMNIST/raw"])
def test_files_found_in_every_layout(tmp_path, small_counts, layout):
    arrays = write_fashion(tmp_path / layout)
    data = load_dataset("fashion", root=tmp_path, seed=0)
    assert (len(data.train), len(data.policy), len(data.test)) == (20, 30, 20)
    assert data.image_size == 28 and data.in_channels == 1 and data.augment_pad == 3
    assert data.test.labels.tolist() == arrays["test"][1].tolist()  # the official test set, in order
    seen = sorted(torch.cat([data.train.labels, data.policy.labels]).tolist())
    assert seen == sorted(arrays["train"][1].tolist())


def test_found_through_natgym_data(tmp_path, small_counts, monkeypatch):
    write_fashion(tmp_path / "fashion-mnist", compress=False)
    monkeypatch.setenv("NATGYM_DATA", str(tmp_path))
    assert len(load_dataset("fashion").test) == 20


def test_missing_and_partial_files_say_how_to_get_them(tmp_path, small_counts, monkeypatch):
    monkeypatch.setenv("NATGYM_DATA", str(tmp_path / "nothing"))
    with pytest.raises(MissingDataError) as info:
        load_dataset("fashion")
    assert "apt-get install dataset-fashion-mnist" in str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    write_fashion(tmp_path / "part")
    (tmp_path / "part" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(MissingDataError, match="missing: t10k-labels-idx1-ubyte"):
        load_dataset("fashion", root=tmp_path / "part")


def test_label_outside_0_9_is_refused(tmp_path, small_counts):
    write_fashion(tmp_path)
    labels = np.full(50, 10, dtype=np.uint8)
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(labels)))
    with pytest.raises(fm.IDXError, match="label 10.*0..9"):
        load_dataset("fashion", root=tmp_path)


def test_split_follows_the_seed_and_resampling_is_2x2_means(tmp_path, small_counts):
    write_fashion(tmp_path)
    a, b = load_dataset("fashion", root=tmp_path, seed=1), load_dataset("fashion", root=tmp_path, seed=2)
    assert not torch.equal(a.policy.labels, b.policy.labels)
    assert torch.equal(a.test.images, load_dataset("fashion", root=tmp_path, seed=1).test.images)
    small = load_dataset("fashion", root=tmp_path, image_size=14)
    assert small.train.images.shape[1:] == (1, 14, 14) and small.augment_pad == 1
    x = np.random.default_rng(0).random((3, 1, 28, 28)).astype(np.float32)
    expected = x.reshape(3, 1, 14, 2, 14, 2).mean(axis=(3, 5))
    assert np.allclose(resize(x, 14), expected, atol=1e-6)
    with pytest.raises(ConfigError, match="image_size"):
        load_dataset("fashion", root=tmp_path, image_size=2)


def _installed() -> bool:
    try:
        fm.find()
    except MissingDataError:
        return False
    return True


REAL = _installed()


@pytest.mark.fashion
@pytest.mark.skipif(
    not REAL, reason="Fashion-MNIST files are not installed (apt-get install dataset-fashion-mnist)"
)
def test_real_fashion_mnist():
    data = load_dataset("fashion")
    assert (len(data.train), len(data.policy), len(data.test)) == (24_000, 36_000, 10_000)
    assert np.bincount(data.test.labels.numpy()).tolist() == [1000] * 10  # the official test set
    train = torch.cat([data.train.labels, data.policy.labels]).numpy()
    assert np.bincount(train).tolist() == [6000] * 10
    assert abs(float(data.train.images.mean())) < 1e-4


def test_the_fashion_preset_is_the_protocol_study_candidate_it_names():
    import importlib.util
    from dataclasses import replace
    from pathlib import Path

    from natgym.final import PRESETS

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "protocol_study.py"
    spec = importlib.util.spec_from_file_location("protocol_study", path)
    study = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(study)
    chosen = study.FASHION_CANDIDATES[study.FASHION_PRESET]
    assert PRESETS["fashion"] == replace(study.FASHION_BASE, **chosen)


@pytest.mark.fashion
@pytest.mark.skipif(
    not REAL, reason="Fashion-MNIST files are not installed (apt-get install dataset-fashion-mnist)"
)
def test_evaluate_with_the_fashion_preset_trains_on_the_real_files(tmp_path):
    from natgym import zoo
    from natgym.final import evaluate

    result = evaluate(
        zoo.get("DARTS"), "fashion", seeds=1, out_dir=tmp_path, epochs=1, train_subset=4800, progress=False
    )
    assert result["dataset"] == "fashion" and result["config"]["image_size"] == 14
    assert 0.25 < result["test_accuracy"][0] < 1.0  # well above chance (0.1) after 50 steps
    assert result["params"] > 0 and result["params_cifar"] > result["params"]


def test_the_shipped_fashion_truth_is_the_preset_on_the_ground_truth_set():
    import json
    from pathlib import Path

    from natgym import fidelity
    from natgym.genotype import Genotype

    table = fidelity.load_table(dataset="fashion")  # refuses a table of another protocol
    assert table.protocol["preset"] == "fashion" and len(table.seeds) >= 2 and len(table.archs) >= 150
    path = (
        Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "ground_truth" / "architectures.json"
    )
    members = {e["id"]: Genotype.parse(e["genotype"]) for e in json.loads(path.read_text())}
    assert all(members[a.id] == a.genotype for a in table.archs)
    assert all(0.1 < min(a.accuracy) <= max(a.accuracy) < 1 for a in table.archs)
    row = fidelity.retest(table)
    assert 0 < row["kendall_tau"] <= fidelity.mean_retest_tau(table) <= fidelity.ceiling_tau(table) <= 1

"""Datasets: splits, normalisation, CIFAR reading and its error, augmentation."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from natgym.data import DATASETS, MissingDataError, augment, load_dataset
from natgym.errors import ConfigError


def _rows(split) -> set[bytes]:
    return {row.numpy().tobytes() for row in split.images.reshape(len(split), -1)}


@pytest.mark.parametrize("name", ["digits", "synthetic"])
def test_splits_disjoint_and_complete(name):
    data = load_dataset(name, seed=0)
    train, policy, test = _rows(data.train), _rows(data.policy), _rows(data.test)
    assert not train & policy and not train & test and not policy & test
    sizes = len(data.train) + len(data.policy) + len(data.test)
    assert sizes == {"digits": 1797, "synthetic": 240}[name]
    for split in (data.train, data.policy, data.test):
        assert split.images.dtype == torch.float32 and split.labels.dtype == torch.int64
        assert split.images.shape[1:] == (data.in_channels, data.image_size, data.image_size)
        assert int(split.labels.max()) < data.num_classes


def test_digits_proportions_and_normalisation():
    data = load_dataset("digits")
    assert (len(data.train), len(data.policy), len(data.test)) == (898, 540, 359)
    assert abs(float(data.train.images.mean())) < 1e-4
    assert abs(float(data.train.images.std()) - 1.0) < 1e-3
    assert data.augment_flip is False  # digits are not mirror-symmetric


def test_splits_reproducible_and_seeded():
    a, b, c = load_dataset("digits", seed=3), load_dataset("digits", seed=3), load_dataset("digits", seed=4)
    assert torch.equal(a.policy.images, b.policy.images) and torch.equal(a.policy.labels, b.policy.labels)
    assert not torch.equal(a.policy.labels, c.policy.labels)


def test_unknown_dataset():
    with pytest.raises(ConfigError, match="dataset.*cifar10"):
        load_dataset("mnist")
    assert DATASETS == ("digits", "fashion", "cifar10", "cifar100", "synthetic")


def test_missing_cifar_files_clear_error(tmp_path):
    (tmp_path / "cifar-10-batches-py").mkdir()
    with pytest.raises(MissingDataError) as info:
        load_dataset("cifar10", root=tmp_path)
    msg = str(info.value)
    assert "data_batch_1" in msg and "test_batch" in msg and "python version" in msg
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, ValueError)
    with pytest.raises(MissingDataError, match="train, test"):
        load_dataset("cifar100", root=tmp_path)


def _write_batch(path, n, rng, label_key):
    data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n).tolist()
    with open(path, "wb") as fh:
        pickle.dump({b"data": data, label_key: labels}, fh)
    return data


@pytest.mark.parametrize("parent", [True, False])
def test_cifar10_reads_pickled_batches(tmp_path, parent):
    rng = np.random.default_rng(0)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for i in range(1, 6):
        _write_batch(folder / f"data_batch_{i}", 20, rng, b"labels")
    test = _write_batch(folder / "test_batch", 10, rng, b"labels")
    data = load_dataset("cifar10", root=tmp_path if parent else folder)
    assert (len(data.train), len(data.policy), len(data.test)) == (40, 60, 10)
    assert data.in_channels == 3 and data.image_size == 32 and data.num_classes == 10
    assert data.augment_pad == 4 and data.augment_flip
    # the test split is the official test batch, in order, normalised with train statistics
    assert data.test.images.shape == (10, 3, 32, 32)
    corr = np.corrcoef(data.test.images.reshape(10, -1)[0].numpy(), test[0].astype(float))[0, 1]
    assert corr > 0.99


def test_cifar100_fine_labels(tmp_path):
    rng = np.random.default_rng(1)
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    _write_batch(folder / "train", 50, rng, b"fine_labels")
    _write_batch(folder / "test", 5, rng, b"fine_labels")
    data = load_dataset("cifar100", root=tmp_path)
    assert data.num_classes == 100 and (len(data.train), len(data.policy)) == (20, 30)


@settings(max_examples=25, deadline=None)
@given(pad=st.integers(0, 3), flip=st.booleans(), seed=st.integers(0, 1000))
def test_augment_is_a_shifted_flipped_crop(pad, flip, seed):
    images = torch.randn(6, 2, 5, 5) + 10.0  # no zeros inside, so padding is recognisable
    out = augment(images, torch.Generator().manual_seed(seed), pad=pad, flip=flip)
    assert out.shape == images.shape
    padded = torch.nn.functional.pad(images, (pad,) * 4)
    for i in range(len(images)):
        candidates = [
            padded[i, :, dy : dy + 5, dx : dx + 5] for dy in range(2 * pad + 1) for dx in range(2 * pad + 1)
        ]
        candidates += [c.flip(2) for c in candidates] if flip else []
        assert any(torch.equal(out[i], c) for c in candidates)


def test_augment_reproducible_and_random():
    images = torch.randn(64, 1, 8, 8)
    a = augment(images, torch.Generator().manual_seed(0))
    b = augment(images, torch.Generator().manual_seed(0))
    c = augment(images, torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and not torch.equal(a, c)
    with pytest.raises(ConfigError, match="images"):
        augment(images[0])

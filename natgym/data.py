"""Datasets as tensors, split into weight-train / policy (reward) / test parts with a fixed seed.

* ``digits`` -- the embedded default: scikit-learn's 1,797 8x8 digit images (1 channel,
  10 classes), no download. Split 50% weight-train / 30% policy / 20% test.
* ``cifar10`` / ``cifar100`` -- read with numpy + pickle from a local folder in the standard
  "python version" layout (``cifar-10-batches-py/data_batch_1..5, test_batch`` or
  ``cifar-100-python/train, test``; ``root`` may be that folder or its parent). The official
  train set is split 40% weight-train / 60% policy (docs/method.md section 6); test is the official test set.
* ``synthetic`` -- 240 tiny (3 x 8 x 8, 4 classes) generated images whose classes differ by a
  fixed pattern; for tests only.
* ``folder:PATH`` / ``npz:PATH`` -- your own images (:mod:`natgym.userdata`).

Images are float32 ``[n, C, H, W]``, normalised per channel with the weight-train split's mean
and standard deviation; labels are int64. ``seed`` fixes which images go to which split.

Augmentation (:func:`augment`, or :meth:`Dataset.augment` with the dataset's own settings):
random crop after zero padding (zero = the channel mean after normalisation) and a random
horizontal flip. CIFAR uses pad 4 + flip (the DARTS recipe); digits use pad 1 and no flip (an
8x8 digit shifted by 4 pixels is half gone, and digits are not mirror-symmetric); synthetic
uses pad 1 + flip.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from natgym.errors import ConfigError

DATASETS: tuple[str, ...] = ("digits", "cifar10", "cifar100", "synthetic")
"""Names accepted by :func:`load_dataset`."""


class MissingDataError(ConfigError, FileNotFoundError):
    """Dataset files are missing; the message lists them and says where to get them."""


_CIFAR_FILES = {
    "cifar10": ("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], "test_batch", b"labels"),
    "cifar100": ("cifar-100-python", ["train"], "test", b"fine_labels"),
}
_AUGMENT = {"digits": (1, False), "cifar10": (4, True), "cifar100": (4, True), "synthetic": (1, True)}


@dataclass(frozen=True)
class Split:
    """Normalised images (float32 ``[n, C, H, W]``) and their labels (int64 ``[n]``)."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])


@dataclass(frozen=True)
class Dataset:
    """A dataset split three ways: ``train`` trains the supernet weights w, ``policy`` gives the
    rewards the policy theta learns from, ``test`` is held out."""

    name: str
    train: Split
    policy: Split
    test: Split
    in_channels: int
    num_classes: int
    image_size: int
    augment_pad: int = 4
    augment_flip: bool = True

    def augment(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """:func:`augment` with this dataset's padding and flip setting."""
        return augment(images, generator, pad=self.augment_pad, flip=self.augment_flip)


def default_root() -> Path:
    """Where CIFAR is looked for when no ``root`` is given: ``$NATGYM_DATA`` or
    ``~/.cache/natgym/data``."""
    return Path(os.environ.get("NATGYM_DATA") or Path.home() / ".cache" / "natgym" / "data")


def augment(
    images: torch.Tensor, generator: torch.Generator | None = None, pad: int = 4, flip: bool = True
) -> torch.Tensor:
    """Random crop of each image after zero-padding by ``pad`` pixels, then (if ``flip``) a
    horizontal flip with probability 1/2. Batched on tensors; the result is a new tensor on the
    images' device. Random numbers come from ``generator`` (on the CPU)."""
    if images.dim() != 4:
        raise ConfigError(f"images: expected a [n, C, H, W] tensor, got shape {tuple(images.shape)}")
    if pad < 0:
        raise ConfigError(f"pad: expected a non-negative integer, got {pad}")
    n, c, h, w = images.shape
    out = images
    if pad:
        padded = torch.nn.functional.pad(images, (pad, pad, pad, pad))
        offsets = torch.randint(0, 2 * pad + 1, (2, n), generator=generator).to(images.device)
        rows = (offsets[0, :, None] + torch.arange(h, device=images.device))[:, None, :, None]
        cols = (offsets[1, :, None] + torch.arange(w, device=images.device))[:, None, None, :]
        batch = torch.arange(n, device=images.device)[:, None, None, None]
        chan = torch.arange(c, device=images.device)[None, :, None, None]
        out = padded[batch, chan, rows, cols]
    if flip:
        mask = (torch.rand(n, generator=generator) < 0.5).to(images.device)
        out = torch.where(mask[:, None, None, None], out.flip(3), out)
    return out


def _split_indices(n: int, fractions: tuple[float, ...], seed: int) -> list[np.ndarray]:
    perm = np.random.default_rng(seed).permutation(n)
    bounds = np.round(np.cumsum(fractions) * n).astype(int)
    return np.split(perm, bounds[:-1])


def _make(
    name: str,
    parts: list[tuple[np.ndarray, np.ndarray]],
    num_classes: int,
    augment: tuple[int, bool] | None = None,
) -> Dataset:
    """Normalise every part with the first part's per-channel statistics; ``augment`` is
    (pad, flip), default the built-in dataset's own."""
    train_x = parts[0][0].astype(np.float64)
    mean = train_x.mean(axis=(0, 2, 3), keepdims=True)
    std = train_x.std(axis=(0, 2, 3), keepdims=True) + 1e-8
    splits = [
        Split(
            torch.from_numpy(((x - mean) / std).astype(np.float32)),
            torch.from_numpy(np.asarray(y, dtype=np.int64)),
        )
        for x, y in parts
    ]
    pad, flip = augment or _AUGMENT[name]
    c, size = parts[0][0].shape[1], parts[0][0].shape[2]
    return Dataset(name, *splits, c, num_classes, size, pad, flip)


def _digits(seed: int) -> Dataset:
    from sklearn.datasets import load_digits

    raw = load_digits()
    x = raw.images.astype(np.float32)[:, None]  # [1797, 1, 8, 8], values 0..16
    y = raw.target.astype(np.int64)
    idx = _split_indices(len(y), (0.5, 0.3, 0.2), seed)
    return _make("digits", [(x[i], y[i]) for i in idx], 10)


def _synthetic(seed: int, n: int = 240, classes: int = 4, size: int = 8, channels: int = 3) -> Dataset:
    rng = np.random.default_rng(1000 + seed)
    templates = rng.normal(size=(classes, channels, size, size))
    y = np.arange(n) % classes
    x = templates[y] + 0.8 * rng.normal(size=(n, channels, size, size))
    idx = _split_indices(n, (0.5, 0.25, 0.25), seed)
    return _make("synthetic", [(x[i], y[i]) for i in idx], classes)


_PICKLE_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
}
"""The only callables a CIFAR batch file's pickle may name (to rebuild its numpy arrays)."""


class _CifarUnpickler(pickle.Unpickler):
    """Unpickles plain data and numpy arrays only: a batch file that names any other function
    or class is refused before anything in it runs (files from users are untrusted)."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _PICKLE_ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refused to load {module}.{name} (not part of a CIFAR batch)")


_UNREADABLE = (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError, KeyError, AttributeError)
"""What reading a truncated, empty, garbage or hostile batch file can raise."""


def _unpickle(path: Path, label_key: bytes) -> dict:
    """A CIFAR batch file, read safely and checked; any problem is a ConfigError naming it."""
    try:
        with open(path, "rb") as fh:
            batch = _CifarUnpickler(fh, encoding="bytes").load()
        if not isinstance(batch, dict) or b"data" not in batch or label_key not in batch:
            raise ValueError(f"not a CIFAR batch (needs the keys data and {label_key.decode()})")
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        labels = np.asarray(batch[label_key], dtype=np.int64)
        if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or labels.shape != (len(data),):
            raise ValueError(
                f"data of shape {data.shape} and {labels.shape[0] if labels.ndim else 0} labels; "
                "expected N x 3072 and N labels"
            )
    except (
        OSError,
        EOFError,
        pickle.UnpicklingError,
        ValueError,
        TypeError,
        KeyError,
        AttributeError,
    ) as exc:
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise ConfigError(
            f"data_root: cannot read the CIFAR batch file {path} ({reason}); replace it with the "
            "file from the official python-version archive"
        ) from None
    return {b"data": data, label_key: labels}


def _cifar(name: str, root: str | os.PathLike | None, seed: int) -> Dataset:
    folder, train_files, test_file, label_key = _CIFAR_FILES[name]
    base = Path(root) if root is not None else default_root()
    directory = base if (base / test_file).is_file() else base / folder
    needed = [*train_files, test_file]
    missing = [f for f in needed if not (directory / f).is_file()]
    if missing:
        archive = "CIFAR-10" if name == "cifar10" else "CIFAR-100"
        raise MissingDataError(
            f"data_root: {name} needs the {archive} 'python version' batch files in {directory} "
            f"(or in {base}); missing: {', '.join(missing)}. Download the {archive} python version "
            f"archive from the official CIFAR page (Alex Krizhevsky's website at the University of "
            f"Toronto), extract it so that {base / folder} holds {', '.join(needed)}, and pass that "
            f"folder's parent as data_root (or set NATGYM_DATA)."
        )

    def read(files: list[str]) -> tuple[np.ndarray, np.ndarray]:
        batches = [_unpickle(directory / f, label_key) for f in files]
        x = np.concatenate([b[b"data"] for b in batches])
        y = np.concatenate([b[label_key] for b in batches])
        if y.size and (y.min() < 0 or y.max() >= classes):
            raise ConfigError(
                f"data_root: labels in {', '.join(files)} outside 0..{classes - 1} "
                f"(found {y.min()}..{y.max()})"
            )
        return x.reshape(-1, 3, 32, 32), y

    classes = 10 if name == "cifar10" else 100
    x, y = read(train_files)
    test = read([test_file])
    w_idx, p_idx = _split_indices(len(y), (0.4, 0.6), seed)
    return _make(name, [(x[w_idx], y[w_idx]), (x[p_idx], y[p_idx]), test], classes)


def load_dataset(
    name: str = "digits", root: str | os.PathLike | None = None, seed: int = 0, image_size: int | None = None
) -> Dataset:
    """Load dataset ``name`` (one of :data:`DATASETS`, or your own ``folder:PATH`` /
    ``npz:PATH``, see :mod:`natgym.userdata`; ``image_size`` resizes a folder's images) split
    with ``seed``.

    ``root`` is only used by CIFAR (default :func:`default_root`); missing files raise
    :class:`MissingDataError` (a ``ConfigError`` and a ``FileNotFoundError``) listing them and
    saying where to get them.
    """
    from natgym import userdata

    if userdata.parse(name) is not None:
        return userdata.load(name, seed, image_size)
    if name not in DATASETS:
        raise ConfigError(
            f"dataset: unknown dataset {name!r}; allowed: {', '.join(DATASETS)}, folder:PATH, npz:PATH"
        )
    if name == "digits":
        return _digits(seed)
    if name == "synthetic":
        return _synthetic(seed)
    return _cifar(name, root, seed)

"""Every dataset natgym knows, behind one registry, split into weight-train / policy / test.

Built-in datasets (:data:`REGISTRY`, names in :data:`DATASETS`):

* ``digits`` -- the embedded default: scikit-learn's 1,797 8 x 8 digits, no files needed
  (:mod:`natgym.data.builtin`). Split 50 % weight-train / 30 % policy / 20 % test.
* ``fashion`` -- Fashion-MNIST, 70,000 real 28 x 28 grey images of clothing, from the four
  original IDX files (Debian's ``dataset-fashion-mnist`` package, a folder, or torchvision's
  layout; :mod:`natgym.data.fashion`). The official 60,000 training images are split 40 %
  weight-train / 60 % policy; ``test`` is the official 10,000-image test set.
* ``cifar10`` / ``cifar100`` -- from a local folder of the "python version" batch files
  (:mod:`natgym.data.cifar`); official train set split 40 / 60, official test set.
* ``synthetic`` -- 240 generated 3 x 8 x 8 images of 4 classes; for tests only.

Your own images: ``folder:PATH`` and ``npz:PATH`` (:mod:`natgym.data.user`).

``seed`` fixes which images go to which split. ``image_size`` resamples a built-in dataset's
images to N x N before normalisation (:func:`~natgym.data.base.resize`: area averaging when
shrinking -- Fashion-MNIST at 14 px is the mean of each 2 x 2 block -- bilinear when enlarging)
and resizes a folder's images as they are read. Augmentation: a random crop with
``max(1, size // 8)`` pixels of padding, plus a horizontal flip except for digits (not
mirror-symmetric).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from natgym.checks import positive_int
from natgym.data.base import (
    Dataset,
    MissingDataError,
    Split,
    augment,
    default_root,
    make_dataset,
    resize,
)
from natgym.data.builtin import load_digits, load_synthetic
from natgym.data.cifar import load_cifar
from natgym.data.fashion import load_fashion
from natgym.data.user import KINDS, load_user, parse_user, source_of
from natgym.errors import ConfigError

__all__ = [
    "DATASETS",
    "REGISTRY",
    "Dataset",
    "DatasetInfo",
    "MissingDataError",
    "Split",
    "augment",
    "dataset_info",
    "default_root",
    "load_dataset",
    "parse_user",
    "source_of",
]


@dataclass(frozen=True)
class DatasetInfo:
    """What natgym knows about a built-in dataset before loading it."""

    name: str
    in_channels: int
    num_classes: int
    image_size: int
    """Native side length in pixels."""
    flip: bool
    """Whether augmentation flips images horizontally."""
    supernet_preset: str
    """The supernet shape (:data:`natgym.supernet.model.PRESETS`) trained on it by default."""
    load: Callable[[str | os.PathLike | None, int], list]
    """``(root, seed) -> [(images, labels)] * 3`` raw weight-train, policy and test parts."""


REGISTRY: dict[str, DatasetInfo] = {
    "digits": DatasetInfo("digits", 1, 10, 8, False, "digits", lambda root, seed: load_digits(seed)),
    "fashion": DatasetInfo("fashion", 1, 10, 28, True, "fashion", load_fashion),
    "cifar10": DatasetInfo("cifar10", 3, 10, 32, True, "cifar10", lambda r, s: load_cifar("cifar10", r, s)),
    "cifar100": DatasetInfo(
        "cifar100", 3, 100, 32, True, "cifar10", lambda r, s: load_cifar("cifar100", r, s)
    ),
    "synthetic": DatasetInfo("synthetic", 3, 4, 8, True, "digits", lambda root, seed: load_synthetic(seed)),
}
"""The built-in datasets by name."""

DATASETS: tuple[str, ...] = tuple(REGISTRY)
"""Names accepted by :func:`load_dataset` (besides ``folder:PATH`` and ``npz:PATH``)."""

ALLOWED = f"{', '.join(DATASETS)}, {', '.join(f'{k}:PATH' for k in KINDS)}"
"""Every accepted form of a dataset name, for error messages."""


def dataset_info(name: str) -> DatasetInfo:
    """The registry entry of built-in dataset ``name``; a :class:`ConfigError` listing the
    allowed names otherwise."""
    if name not in REGISTRY:
        raise ConfigError(f"dataset: unknown dataset {name!r}; allowed: {ALLOWED}")
    return REGISTRY[name]


def load_dataset(
    name: str = "digits", root: str | os.PathLike | None = None, seed: int = 0, image_size: int | None = None
) -> Dataset:
    """Load dataset ``name`` (one of :data:`DATASETS`, or your own ``folder:PATH`` /
    ``npz:PATH``) split with ``seed``, at ``image_size`` pixels (default: native).

    ``root`` is where CIFAR or Fashion-MNIST files are looked for (default
    :func:`~natgym.data.base.default_root`; Fashion-MNIST also in Debian's folder); missing
    files raise :class:`MissingDataError` (a ``ConfigError`` and a ``FileNotFoundError``)
    saying how to get them.
    """
    if parse_user(name) is not None:
        return load_user(name, seed, image_size)
    info = dataset_info(name)
    if image_size is not None and positive_int("image_size", image_size) < 4:
        raise ConfigError(f"image_size: expected an integer >= 4, got {image_size!r}")
    parts = info.load(root, seed)
    if image_size is not None and image_size != info.image_size:
        parts = [(resize(x, image_size), y) for x, y in parts]
    return make_dataset(info.name, parts, info.num_classes, info.flip)

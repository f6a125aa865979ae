"""The dataset types every natgym dataset is made of, and the helpers that build them.

Images are float32 ``[n, C, H, W]``, normalised per channel with the weight-train split's mean
and standard deviation; labels are int64.

Augmentation (:func:`augment`, or :meth:`Dataset.augment` with the dataset's own settings):
random crop after zero padding (zero = the channel mean after normalisation) and, where the
dataset allows it, a random horizontal flip.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from natgym.errors import ConfigError


class MissingDataError(ConfigError, FileNotFoundError):
    """Dataset files are missing; the message lists them and says where to get them."""


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
    """Where dataset files are looked for when no ``root`` is given: ``$NATGYM_DATA`` or
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
        padded = F.pad(images, (pad, pad, pad, pad))
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


def split_indices(n: int, fractions: Sequence[float], seed: int) -> list[np.ndarray]:
    """A seeded random partition of ``range(n)`` into parts of the given fractions."""
    perm = np.random.default_rng(seed).permutation(n)
    bounds = np.round(np.cumsum(fractions) * n).astype(int)
    return np.split(perm, bounds[:-1])


def resize(images: np.ndarray, size: int) -> np.ndarray:
    """``[n, C, H, W]`` images resampled to ``size`` x ``size`` (float32): shrinking averages
    the input pixels each output pixel covers (area resampling; 28 -> 14 is the mean of each
    2 x 2 block), enlarging is bilinear."""
    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
    if x.shape[-1] == size and x.shape[-2] == size:
        return x.numpy()
    mode = "area" if size < x.shape[-1] else "bilinear"
    options = {} if mode == "area" else {"align_corners": False}
    return F.interpolate(x, size=(size, size), mode=mode, **options).numpy()


def augment_pad(image_size: int) -> int:
    """Crop padding for images of ``image_size`` pixels: an eighth of the side, at least 1
    (4 for 32 px CIFAR, the DARTS recipe; 1 for 8 px digits; 3 for 28 px Fashion-MNIST)."""
    return max(1, image_size // 8)


def make_dataset(
    name: str, parts: Sequence[tuple[np.ndarray, np.ndarray]], num_classes: int, flip: bool
) -> Dataset:
    """A :class:`Dataset` from (images ``[n, C, H, W]``, labels) for weight-train, policy and
    test, normalised with the first part's per-channel statistics and augmented with
    :func:`augment_pad` of the image size and ``flip``."""
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
    c, size = parts[0][0].shape[1], parts[0][0].shape[2]
    return Dataset(name, *splits, c, num_classes, size, augment_pad(size), flip)

"""Fashion-MNIST (Zalando Research, MIT licence) from its four original IDX files.

70,000 grey 28 x 28 images of 10 kinds of clothing: 60,000 official training images and 10,000
official test images. No download: Debian and Ubuntu ship the files in the package
``dataset-fashion-mnist`` (``apt-get install dataset-fashion-mnist`` puts them in
``/usr/share/datasets/fashion-mnist``), and torchvision users have them under
``FashionMNIST/raw/``. Each file may be gzip-compressed (``.gz``) or not.

Where the files are looked for, first match wins: with ``root`` given, only ``root``,
``root/fashion-mnist`` and ``root/FashionMNIST/raw``; without it, the same three under
:func:`~natgym.data.base.default_root` (``$NATGYM_DATA`` or ``~/.cache/natgym/data``), then
Debian's folder.

Every file is checked before its body is read: the IDX magic number (unsigned bytes, the right
number of dimensions), the declared counts (exactly the official 60,000 / 10,000) and image size
(28 x 28), then the length of the body (a truncated or overlong file is refused) and the labels
(0..9, as many as images). A bad file is a :class:`~natgym.errors.ConfigError` that names it and
says to reinstall it.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from natgym.data.base import MissingDataError, default_root, split_indices
from natgym.errors import ConfigError

Parts = list[tuple[np.ndarray, np.ndarray]]

FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
COUNTS = {"train": 60_000, "test": 10_000}
"""The official number of images in each part; a file declaring another count is refused."""
SIZE = 28
CLASSES = 10
DEBIAN = Path("/usr/share/datasets/fashion-mnist")
"""Where Debian's ``dataset-fashion-mnist`` package installs the files."""
SPLIT = (0.4, 0.6)
"""Weight-train / policy fractions of the official training set (the paper's CIFAR split)."""
HOW_TO_GET = (
    "on Debian or Ubuntu run `apt-get install dataset-fashion-mnist` (as root); elsewhere put the "
    "four files train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and "
    "t10k-labels-idx1-ubyte (each may end in .gz) from the Fashion-MNIST repository of Zalando "
    "Research into $NATGYM_DATA/fashion-mnist, or pass their folder as data_root"
)


class IDXError(ConfigError):
    """An IDX file is not what natgym expects; the message names it and what is wrong."""


def read_idx(path: str | os.PathLike, dims: tuple[int, ...]) -> np.ndarray:
    """The unsigned-byte array stored in IDX file ``path`` (gzip-compressed or not), which must
    declare exactly the dimensions ``dims`` (checked before any allocation, so a file declaring
    a huge count costs nothing) and hold exactly that many bytes after its header."""
    path = Path(path)
    try:
        with open(path, "rb") as raw:
            compressed = raw.read(2) == b"\x1f\x8b"
        with gzip.open(path, "rb") if compressed else open(path, "rb") as fh:
            magic = fh.read(4)
            if len(magic) < 4 or magic[:2] != b"\x00\x00" or magic[2] != 0x08 or magic[3] != len(dims):
                raise IDXError(
                    f"magic number {magic.hex() or 'missing'}; expected 000008{len(dims):02x} "
                    f"(unsigned bytes, {len(dims)} dimension{'s' if len(dims) > 1 else ''})"
                )
            header = fh.read(4 * len(dims))
            if len(header) < 4 * len(dims):
                raise IDXError("the header is cut short")
            declared = struct.unpack(f">{len(dims)}I", header)
            if declared != dims:
                raise IDXError(f"it declares dimensions {declared}; expected {dims}")
            size = int(np.prod(dims))
            body = fh.read(size)
            if len(body) < size:
                raise IDXError(f"it is truncated: {len(body):,} of {size:,} data bytes")
            if fh.read(1):
                raise IDXError(f"it holds more than the {size:,} data bytes its header declares")
    except IDXError as exc:
        raise IDXError(f"data_root: {path} is not a valid Fashion-MNIST file ({exc}); {_REINSTALL}") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise IDXError(f"data_root: cannot read {path} ({exc}); {_REINSTALL}") from None
    return np.frombuffer(body, dtype=np.uint8).reshape(dims)


_REINSTALL = (
    "reinstall it (`apt-get install --reinstall dataset-fashion-mnist`) or replace it with the original file"
)


def _file(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def candidate_folders(root: str | os.PathLike | None = None) -> list[Path]:
    """The folders searched for the files, in order (see the module docstring)."""
    base = Path(root) if root is not None else default_root()
    folders = [base, base / "fashion-mnist", base / "FashionMNIST" / "raw"]
    return folders if root is not None else [*folders, DEBIAN]


def find(root: str | os.PathLike | None = None) -> Path:
    """The first folder of :func:`candidate_folders` that holds all four files; else
    :class:`~natgym.data.base.MissingDataError` saying how to get them."""
    names = [n for pair in FILES.values() for n in pair]
    folders = candidate_folders(root)
    for folder in folders:
        found = [_file(folder, n) for n in names]
        if all(found):
            return folder
        if any(found):
            missing = [n for n, f in zip(names, found) if f is None]
            raise MissingDataError(
                f"data_root: {folder} holds only some Fashion-MNIST files (missing: "
                f"{', '.join(missing)}); {HOW_TO_GET}"
            )
    raise MissingDataError(
        f"dataset: Fashion-MNIST is not installed (looked in {', '.join(map(str, folders))}); {HOW_TO_GET}"
    )


def read_part(folder: Path, part: str) -> tuple[np.ndarray, np.ndarray]:
    """Images ``[n, 1, 28, 28]`` (uint8) and labels (int64) of ``part`` (``train``/``test``)."""
    images_name, labels_name = FILES[part]
    n = COUNTS[part]
    images = read_idx(_file(folder, images_name), (n, SIZE, SIZE))
    labels_path = _file(folder, labels_name)
    labels = read_idx(labels_path, (n,)).astype(np.int64)
    if labels.max(initial=0) >= CLASSES:
        raise IDXError(
            f"data_root: {labels_path} holds label {labels.max()}; Fashion-MNIST labels are "
            f"0..{CLASSES - 1}; {_REINSTALL}"
        )
    return images[:, None], labels


def load_fashion(root: str | os.PathLike | None, seed: int) -> Parts:
    """The official training set split :data:`SPLIT` (weight-train / policy) with ``seed``, and
    the official test set (raw uint8 images)."""
    folder = find(root)
    x, y = read_part(folder, "train")
    w_idx, p_idx = split_indices(len(y), SPLIT, seed)
    return [(x[w_idx], y[w_idx]), (x[p_idx], y[p_idx]), read_part(folder, "test")]

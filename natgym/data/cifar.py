"""CIFAR-10 / CIFAR-100 from a local folder in the standard "python version" layout.

``cifar-10-batches-py/data_batch_1..5, test_batch`` or ``cifar-100-python/train, test``; the
root may be that folder or its parent. Batch files are unpickled with an allowlist (numpy array
reconstruction only), so a hostile file is refused before anything in it runs.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from natgym.data.base import MissingDataError, default_root, split_indices
from natgym.errors import ConfigError

Parts = list[tuple[np.ndarray, np.ndarray]]

FILES = {
    "cifar10": ("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], "test_batch", b"labels"),
    "cifar100": ("cifar-100-python", ["train"], "test", b"fine_labels"),
}

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
    except _UNREADABLE as exc:
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise ConfigError(
            f"data_root: cannot read the CIFAR batch file {path} ({reason}); replace it with the "
            "file from the official python-version archive"
        ) from None
    return {b"data": data, label_key: labels}


def load_cifar(name: str, root: str | os.PathLike | None, seed: int) -> Parts:
    """CIFAR-10/100's official train set split 40 % weight-train / 60 % policy with ``seed``, and
    its official test set (raw uint8 images ``[n, 3, 32, 32]``)."""
    folder, train_files, test_file, label_key = FILES[name]
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
    w_idx, p_idx = split_indices(len(y), (0.4, 0.6), seed)
    return [(x[w_idx], y[w_idx]), (x[p_idx], y[p_idx]), test]

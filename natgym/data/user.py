"""Your own images as a natgym dataset: ``folder:PATH`` and ``npz:PATH``.

* ``folder:PATH`` -- one sub-folder per class holding PNG/JPEG images (class labels are the
  sub-folder names in sorted order), read with Pillow (the ``images`` extra). Grey-scale images
  give one channel, others three. All images must have one size, or ``image_size`` resizes every
  image to ``image_size`` x ``image_size`` (bilinear).
* ``npz:PATH`` -- a NumPy ``.npz`` file with ``x`` (``N x H x W`` or ``N x H x W x C``, any
  numeric type) and ``y`` (``N`` integer labels in ``0..K-1``).

Both are split 50 % weight-train / 30 % policy / 20 % test with the seed (the digits split),
normalised per channel with the weight-train split's statistics, and augmented with a random
crop of ``max(1, size // 8)`` pixels of padding and a horizontal flip. The dataset's ``name`` is
``folder:<content hash>`` / ``npz:<content hash>`` -- a hash of the pixels and labels, not of the
path -- so a supernet trained on the data is cached under its content: moving the folder keeps
the cache, changing an image retrains.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from natgym.checks import positive_int
from natgym.data.base import Dataset, make_dataset, split_indices
from natgym.errors import ConfigError

KINDS: tuple[str, ...] = ("folder", "npz")
"""The prefixes of user datasets: ``folder:PATH`` and ``npz:PATH``."""
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
SPLIT = (0.5, 0.3, 0.2)
"""Weight-train / policy / test fractions."""


def parse_user(name: str) -> tuple[str, Path] | None:
    """``(kind, path)`` of a user dataset name, or None for a built-in name. A missing path
    raises :class:`~natgym.errors.ConfigError` naming ``dataset``."""
    kind, sep, rest = str(name).partition(":")
    if not sep or kind not in KINDS:
        return None
    if not rest:
        raise ConfigError(f"dataset: {name!r} needs a path after '{kind}:'")
    path = Path(rest).expanduser()
    if kind == "folder" and not path.is_dir():
        raise ConfigError(f"dataset: {path} is not a folder (folder:PATH needs one sub-folder per class)")
    if kind == "npz" and not path.is_file():
        raise ConfigError(f"dataset: no .npz file at {path}")
    return kind, path


def _read_folder(path: Path, image_size: int | None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    try:
        from PIL import Image
    except ImportError:
        raise ConfigError("dataset: folder datasets need Pillow: pip install 'natgym[images]'") from None
    classes = sorted(d.name for d in path.iterdir() if d.is_dir() and not d.name.startswith("."))
    if len(classes) < 2:
        raise ConfigError(
            f"dataset: {path} has {len(classes)} class sub-folder(s); folder:PATH needs at least 2 "
            "(one sub-folder of images per class)"
        )
    images, labels, sizes = [], [], {}
    for label, name in enumerate(classes):
        files = sorted(f for f in (path / name).iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise ConfigError(f"dataset: class folder {path / name} holds no PNG or JPEG images")
        for file in files:
            try:
                with Image.open(file) as im:
                    im.load()
                    mode = "L" if im.mode in ("1", "L", "I", "I;16", "F") else "RGB"
                    im = im.convert(mode)
                    if image_size is not None and im.size != (image_size, image_size):
                        im = im.resize((image_size, image_size), Image.Resampling.BILINEAR)
                    array = np.asarray(im, dtype=np.uint8)
            except (OSError, ValueError, Image.DecompressionBombError) as exc:
                raise ConfigError(f"dataset: cannot read image {file} ({exc})") from None
            sizes.setdefault(array.shape, file)
            images.append(array)
            labels.append(label)
    if len(sizes) > 1:
        (a, fa), (b, fb) = list(sizes.items())[:2]
        raise ConfigError(
            f"dataset: images of different sizes ({fa}: {a}, {fb}: {b}); pass image_size "
            "(--image-size N) to resize them all to N x N"
        )
    return np.stack(images), np.asarray(labels, dtype=np.int64), classes


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: np.asarray(data[k]) for k in ("x", "y") if k in data.files}
    except (OSError, ValueError) as exc:
        raise ConfigError(f"dataset: cannot read {path} as .npz ({exc})") from None
    missing = [k for k in ("x", "y") if k not in arrays]
    if missing:
        raise ConfigError(f"dataset: {path} has no array {missing[0]!r}; needs x (images) and y (labels)")
    x, y = arrays["x"], arrays["y"]
    if x.ndim not in (3, 4) or not np.issubdtype(x.dtype, np.number):
        raise ConfigError(f"dataset: x in {path} must be numeric N x H x W [x C], got {x.dtype} {x.shape}")
    if y.shape != (len(x),) or not np.issubdtype(y.dtype, np.integer):
        raise ConfigError(f"dataset: y in {path} must be {len(x)} integer labels, got {y.dtype} {y.shape}")
    return x, y.astype(np.int64)


def load_user(name: str, seed: int = 0, image_size: int | None = None) -> Dataset:
    """The :class:`~natgym.data.base.Dataset` of user dataset ``name`` (see the module docstring)."""
    parsed = parse_user(name)
    if parsed is None:
        raise ConfigError(f"dataset: {name!r} is not folder:PATH or npz:PATH")
    kind, path = parsed
    if image_size is not None and positive_int("image_size", image_size) < 4:
        raise ConfigError(f"image_size: expected an integer >= 4, got {image_size!r}")
    if kind == "folder":
        x, y, _ = _read_folder(path, image_size)
    else:
        x, y = _read_npz(path)
    x = x[..., None] if x.ndim == 3 else x  # N x H x W x C
    n, h, w, c = x.shape
    if h != w:
        raise ConfigError(f"dataset: images are {h} x {w}; natgym's networks need square images")
    if h < 4:
        raise ConfigError(f"dataset: images are {h} x {w}; at least 4 x 4 is needed (two reductions)")
    if c not in (1, 3):
        raise ConfigError(f"dataset: images have {c} channels; allowed: 1 or 3")
    classes = int(y.max()) + 1 if n else 0
    if n == 0 or y.min() < 0 or len(np.unique(y)) != classes:
        raise ConfigError(
            f"dataset: labels must be 0..K-1 with every class present, got {np.unique(y)[:10].tolist()}"
        )
    if classes < 2:
        raise ConfigError("dataset: only one class; at least 2 are needed")
    if n < 10 * classes:
        raise ConfigError(f"dataset: {n} images for {classes} classes; at least {10 * classes} are needed")
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(x).tobytes())
    digest.update(str(x.shape).encode())
    digest.update(y.tobytes())
    x = np.transpose(x, (0, 3, 1, 2)).astype(np.float32)  # N x C x H x W
    idx = split_indices(n, SPLIT, seed)
    parts = [(x[i], y[i]) for i in idx]
    return make_dataset(f"{kind}:{digest.hexdigest()[:12]}", parts, classes, flip=True)


def source_of(name: str) -> str | None:
    """The ``kind`` of a user dataset name (``folder`` or ``npz``), also for a loaded dataset's
    ``kind:<hash>`` name; None for a built-in dataset."""
    kind, sep, _ = str(name).partition(":")
    return kind if sep and kind in KINDS else None

"""A small image folder in the ``folder:PATH`` layout, generated: ``python tests/make_images.py DIR``.

Class k's images are noise with a bright k-th horizontal band, so a network can learn them and
architectures differ in how well. Used by the tests and by README's "Your own cell on your own
data" walk-through.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np


def make_folder(root: Path, classes: int = 3, per_class: int = 12, size: int = 8, rgb: bool = False) -> Path:
    """Write ``classes`` sub-folders of ``per_class`` PNG images of ``size`` x ``size`` into
    ``root`` and return it."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for k in range(classes):
        folder = Path(root) / f"class_{k}"
        folder.mkdir(parents=True)
        for i in range(per_class):
            img = rng.integers(0, 60, (size, size)).astype(np.uint8)
            img[k * size // classes : (k + 1) * size // classes] += np.uint8(120 + rng.integers(0, 60))
            img = np.roll(img, rng.integers(-1, 2), axis=0)
            pixels = np.stack([img] * 3, -1) if rgb else img
            Image.fromarray(pixels).save(folder / f"{i:03d}.png")
    return Path(root)


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "natgym-images")
    make_folder(target, classes=4, per_class=60, size=8)
    print(f"wrote 4 classes x 60 PNG images (8 x 8) to {target}")

"""The two datasets that need no files: ``digits`` (the embedded default) and ``synthetic``.

* ``digits`` -- scikit-learn's 1,797 8 x 8 digit images (1 channel, 10 classes), split 50 %
  weight-train / 30 % policy / 20 % test.
* ``synthetic`` -- 240 tiny (3 x 8 x 8, 4 classes) generated images whose classes differ by a
  fixed pattern, split 50 / 25 / 25 %; for tests only.
"""

from __future__ import annotations

import numpy as np

from natgym.data.base import split_indices

Parts = list[tuple[np.ndarray, np.ndarray]]


def load_digits(seed: int) -> Parts:
    """The digits images (values 0..16) split with ``seed``."""
    from sklearn.datasets import load_digits as sklearn_digits

    raw = sklearn_digits()
    x = raw.images.astype(np.float32)[:, None]  # [1797, 1, 8, 8]
    y = raw.target.astype(np.int64)
    return [(x[i], y[i]) for i in split_indices(len(y), (0.5, 0.3, 0.2), seed)]


def load_synthetic(seed: int, n: int = 240, classes: int = 4, size: int = 8, channels: int = 3) -> Parts:
    """The synthetic images split with ``seed`` (the images themselves also follow the seed)."""
    rng = np.random.default_rng(1000 + seed)
    templates = rng.normal(size=(classes, channels, size, size))
    y = np.arange(n) % classes
    x = templates[y] + 0.8 * rng.normal(size=(n, channels, size, size))
    return [(x[i], y[i]) for i in split_indices(n, (0.5, 0.25, 0.25), seed)]

"""Fashion-MNIST from Debian's ``dataset-fashion-mnist``: 70,000 28×28 images, 10 classes."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Literal

import numpy as np

from ._common import LabelledImages, Source, require_path

ROOT = Path("/usr/share/datasets/fashion-mnist")
INSTALL = "apt-get install dataset-fashion-mnist"
CLASS_NAMES = ("t-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt",
               "sneaker", "bag", "ankle boot")


def load_fashion_mnist(
    split: Literal["train", "test"] = "test", *, limit: int | None = None, root: Path = ROOT
) -> Source[LabelledImages]:
    """Load a split (``train``: 60,000, ``test``: 10,000); ``limit`` keeps the first N.

    Example:
        >>> data = load_fashion_mnist("test", limit=5)
        >>> data.items[0].images.shape, data.items[0].class_names[9]
        ((5, 28, 28), 'ankle boot')
    """
    prefix = {"train": "train", "test": "t10k"}[split]
    images = _read_idx(require_path(root / f"{prefix}-images-idx3-ubyte.gz", "Fashion-MNIST",
                                    INSTALL), offset=16)
    labels = _read_idx(require_path(root / f"{prefix}-labels-idx1-ubyte.gz", "Fashion-MNIST",
                                    INSTALL), offset=8)
    images = images.reshape(-1, 28, 28)  # (n, 28, 28)
    if images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"Fashion-MNIST {split}: {images.shape[0]} images but {labels.shape[0]} labels"
        )
    n = images.shape[0] if limit is None else min(limit, images.shape[0])
    item = LabelledImages(images=images[:n].copy(), labels=labels[:n].astype(np.int64),
                          class_names=CLASS_NAMES)
    return Source(name="fashion-mnist", items=(item,), origin="Debian dataset-fashion-mnist",
                  license="MIT")


def _read_idx(path: Path, *, offset: int) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)

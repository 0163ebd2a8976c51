"""Zero-shot classification: classes as text prompts, the nearest class embedding wins.

CLIP's recipe (Radford et al. 2021, §3.1.4): each class name is put into several prompt
templates ("a photo of a {}."), the template embeddings are averaged and re-normalised (prompt
ensembling: +1–5 points over a single template in CLIP's tables), and an item's class is the
one whose embedding has the highest cosine with the item's.

Example:
    >>> import numpy as np
    >>> class Toy:  # an encoder whose text vectors are one-hot by the first letter
    ...     def encode_text(self, texts, batch_size=32):
    ...         out = np.zeros((len(texts), 3), np.float32)
    ...         for i, t in enumerate(texts):
    ...             out[i, "abc".index(t.split()[-1][0])] = 1
    ...         return out
    ...     def encode_image(self, items, batch_size=32):
    ...         return np.eye(3, dtype=np.float32)[items]
    >>> r = zero_shot_classify(Toy(), [2, 0], ["apple", "bee", "cat"], labels=[2, 1],
    ...                        templates=("{}",))
    >>> r.predictions.tolist(), r.accuracy, r.balanced_accuracy
    ([2, 0], 0.5, 0.5)
    >>> r.confusion.tolist()  # rows: true class, columns: predicted
    [[0, 0, 0], [1, 0, 0], [0, 0, 1]]

Beside top-1 accuracy the result holds top-5 accuracy (NaN with fewer than 5 classes, as in
CLIP_benchmark), balanced accuracy (mean per-class recall over the classes that occur in the
labels, = scikit-learn's ``balanced_accuracy_score``) and the confusion matrix. Ties in score go
to the lower class index, for the prediction and for the top 5 alike. Items may be images,
audio clips or texts (``modality=``); the encoder needs the matching ``encode_<modality>``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from xmodal.modalities import Modality

DEFAULT_TEMPLATES: tuple[str, ...] = (
    "a photo of a {}.",
    "a picture of a {}.",
    "an image of a {}.",
    "a drawing of a {}.",
    "an icon of a {}.",
    "a {}.",
    "a photo of the {}.",
    "a close-up photo of a {}.",
)
"""A small ensemble in the style of CLIP's ImageNet templates (photos, drawings, icons)."""


@dataclass(frozen=True)
class ZeroShotResult:
    """Predictions of a zero-shot classifier, and its accuracy when labels were given."""

    predictions: np.ndarray  # (n,) int64 class index per item
    scores: np.ndarray  # (n, C) float32 cosine of each item with each class embedding
    accuracy: float | None  # top-1, when labels were given
    per_class_accuracy: tuple[float, ...] | None  # recall of each class, when labels were given
    chance: float  # accuracy of always guessing the majority class (1/C when balanced)
    top5_accuracy: float | None = None  # true class among the 5 best; NaN with < 5 classes
    balanced_accuracy: float | None = None  # mean recall over classes present in the labels
    confusion: np.ndarray | None = None  # (C, C) int64: rows true class, columns predicted


def class_embeddings(encoder: Any, class_names: Sequence[str],
                     templates: Sequence[str] = DEFAULT_TEMPLATES) -> np.ndarray:
    """``(C, d)`` unit vectors: each class's template embeddings averaged, re-normalised."""
    if not class_names or not templates:
        raise ValueError("need at least one class name and one template")
    bad = [t for t in templates if "{}" not in t]
    if bad:
        raise ValueError(f"every template needs a '{{}}' for the class name; not {bad[0]!r}")
    prompts = [t.format(c) for c in class_names for t in templates]
    vectors = np.asarray(encoder.encode_text(prompts, batch_size=64), np.float64)  # (C·T, d)
    per_class = vectors.reshape(len(class_names), len(templates), -1).mean(axis=1)  # (C, d)
    return (per_class / np.linalg.norm(per_class, axis=1, keepdims=True)).astype(np.float32)


def zero_shot_classify(
    encoder: Any,
    items: Sequence[Any],
    class_names: Sequence[str],
    *,
    labels: Sequence[int] | np.ndarray | None = None,
    templates: Sequence[str] = DEFAULT_TEMPLATES,
    modality: Modality = "image",
    batch_size: int = 64,
) -> ZeroShotResult:
    """Classify ``items`` by the nearest class-prompt embedding (see the module docstring).

    Args:
        encoder: Any xmodal encoder with ``encode_text`` and ``encode_<modality>``.
        items: Images (paths, PIL images), audio clips, or texts.
        class_names: One name per class, put into each template.
        labels: Optional true class index per item, for the accuracies and confusion matrix.
        templates: Prompt templates with ``{}`` for the class name.
        modality: What the items are.
        batch_size: Encoding batch size.

    Returns:
        A :class:`ZeroShotResult`.
    """
    classes = class_embeddings(encoder, class_names, templates)  # (C, d)
    embed = getattr(encoder, f"encode_{modality}")
    vectors = np.asarray(embed(list(items), batch_size=batch_size), np.float32)  # (n, d)
    scores = vectors @ classes.T  # (n, C)
    predictions = scores.argmax(axis=1).astype(np.int64)  # (n,)
    n_classes = len(class_names)
    accuracy = per_class = top5 = balanced = confusion = None
    chance = 1.0 / n_classes
    if labels is not None:
        y = np.asarray(labels, dtype=np.int64)
        if y.shape != predictions.shape:
            raise ValueError(f"labels has shape {y.shape}, expected {predictions.shape}")
        if y.size and (y.min() < 0 or y.max() >= n_classes):
            raise ValueError(f"labels must lie in 0..{n_classes - 1}")
        accuracy = float((predictions == y).mean())
        per_class = tuple(float((predictions[y == c] == c).mean()) if (y == c).any()
                          else float("nan") for c in range(n_classes))
        chance = float(np.bincount(y, minlength=n_classes).max() / len(y))
        confusion = np.zeros((n_classes, n_classes), dtype=np.int64)  # (C, C)
        np.add.at(confusion, (y, predictions), 1)
        balanced = float(np.nanmean(per_class))
        top5 = _top_k_accuracy(scores, y, 5) if n_classes >= 5 else float("nan")
    return ZeroShotResult(predictions=predictions, scores=scores, accuracy=accuracy,
                          per_class_accuracy=per_class, chance=chance, top5_accuracy=top5,
                          balanced_accuracy=balanced, confusion=confusion)


def _top_k_accuracy(scores: np.ndarray, y: np.ndarray, k: int) -> float:
    """Share of items whose true class is among the ``k`` best (ties: lower index first)."""
    true = np.take_along_axis(scores, y[:, None], axis=1)  # (n, 1)
    cols = np.arange(scores.shape[1])[None, :]  # (1, C)
    better = (scores > true) | ((scores == true) & (cols < y[:, None]))  # (n, C)
    return float((better.sum(axis=1) < k).mean())

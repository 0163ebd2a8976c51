"""Zero-shot classification against a hand-built encoder and a float64 oracle."""

from __future__ import annotations

import numpy as np
import pytest

from xmodal.eval import class_embeddings, zero_shot_classify


class Lookup:
    """Texts and items embed to fixed random unit vectors (by string)."""

    def __init__(self, dim: int = 8, seed: int = 0) -> None:
        self.rng, self.dim, self.table = np.random.default_rng(seed), dim, {}

    def _vec(self, key: str) -> np.ndarray:
        if key not in self.table:
            v = self.rng.standard_normal(self.dim)
            self.table[key] = v / np.linalg.norm(v)
        return self.table[key]

    def encode_text(self, texts, batch_size=32):
        return np.stack([self._vec(t) for t in texts]).astype(np.float32)

    def encode_image(self, items, batch_size=32):
        return np.stack([self._vec(f"img:{i}") for i in items]).astype(np.float32)


def test_class_embeddings_average_the_templates_then_renormalise():
    enc = Lookup()
    got = class_embeddings(enc, ["cat", "dog"], templates=("a {}.", "the {}!"))
    for c, name in enumerate(["cat", "dog"]):
        mean = (enc.table[f"a {name}."] + enc.table[f"the {name}!"]) / 2  # float64 oracle
        np.testing.assert_allclose(got[c], mean / np.linalg.norm(mean), atol=1e-6)


def test_predictions_scores_and_accuracy_match_the_oracle():
    enc = Lookup(seed=3)
    names, templates = ["cat", "dog", "car"], ("a {}.", "a photo of a {}.")
    items = list(range(12))
    labels = np.array([0, 1, 2] * 4)
    result = zero_shot_classify(enc, items, names, labels=labels, templates=templates)
    classes = class_embeddings(enc, names, templates).astype(np.float64)
    scores = np.stack([enc.table[f"img:{i}"] for i in items]) @ classes.T
    np.testing.assert_allclose(result.scores, scores, atol=1e-5)
    assert result.predictions.tolist() == scores.argmax(1).tolist()
    assert result.accuracy == pytest.approx((scores.argmax(1) == labels).mean())
    per_class = [(scores.argmax(1)[labels == c] == c).mean() for c in range(3)]
    np.testing.assert_allclose(result.per_class_accuracy, per_class)
    assert result.chance == pytest.approx(1 / 3)


def test_bad_templates_and_labels_are_refused():
    with pytest.raises(ValueError, match=r"needs a '\{\}'"):
        class_embeddings(Lookup(), ["cat"], templates=("a photo",))
    with pytest.raises(ValueError, match="labels has shape"):
        zero_shot_classify(Lookup(), [0, 1], ["cat", "dog"], labels=[0], templates=("{}",))

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


class Planted:
    """Class names embed one-hot (class c -> e_c); items are given as their vectors, so an
    item's scores against the classes are its vector itself."""

    def __init__(self, names):
        self.names = list(names)

    def encode_text(self, texts, batch_size=32):
        return np.eye(len(self.names), dtype=np.float32)[[self.names.index(t) for t in texts]]

    def _items(self, items, batch_size=32):
        v = np.asarray(items, np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    encode_image = encode_audio = _items


NAMES = ["a", "b", "c", "d", "e", "f"]
# each row: an item's (unnormalised) scores against the 6 classes
ITEMS = [
    [9, 1, 1, 1, 1, 1],  # true 0, predicted 0
    [1, 9, 8, 1, 1, 1],  # true 1, predicted 1
    [1, 8, 9, 1, 1, 1],  # true 1, predicted 2 (true class 2nd)
    [1, 2, 3, 4, 5, 9],  # true 0, predicted 5 (true class 6th: outside the top 5)
    [1, 1, 9, 1, 1, 1],  # true 2, predicted 2
    [1, 1, 1, 1, 1, 9],  # true 5, predicted 5
    [2, 2, 2, 2, 2, 2],  # true 4, all tied: predicted 0; class 4 is 5th by index -> in top 5
    [2, 2, 2, 2, 2, 2],  # true 5, all tied: class 5 is 6th by index -> not in top 5
]
LABELS = [0, 1, 1, 0, 2, 5, 4, 5]


@pytest.mark.parametrize("modality", ["image", "audio"])
def test_new_fields_against_a_hand_computed_confusion_matrix(modality):
    r = zero_shot_classify(Planted(NAMES), ITEMS, NAMES, labels=LABELS, templates=("{}",),
                           modality=modality)
    assert r.predictions.tolist() == [0, 1, 2, 5, 2, 5, 0, 0]
    want = np.zeros((6, 6), np.int64)
    for true, pred in [(0, 0), (1, 1), (1, 2), (0, 5), (2, 2), (5, 5), (4, 0), (5, 0)]:
        want[true, pred] += 1
    assert r.confusion.dtype == np.int64 and r.confusion.shape == (6, 6)
    np.testing.assert_array_equal(r.confusion, want)
    assert r.accuracy == pytest.approx(4 / 8)
    # per-class recall: 0 -> 1/2, 1 -> 1/2, 2 -> 1, 4 -> 0, 5 -> 1/2; class 3 absent (NaN)
    assert r.balanced_accuracy == pytest.approx((0.5 + 0.5 + 1 + 0 + 0.5) / 5)
    assert np.isnan(r.per_class_accuracy[3])
    assert r.top5_accuracy == pytest.approx(6 / 8)  # all but items 3 and 7


def test_new_fields_without_labels_and_with_few_classes():
    r = zero_shot_classify(Planted(NAMES), ITEMS, NAMES, templates=("{}",))
    assert r.confusion is None and r.top5_accuracy is None and r.balanced_accuracy is None
    three = NAMES[:3]
    r = zero_shot_classify(Planted(three), [row[:3] for row in ITEMS[:3]], three,
                           labels=[0, 1, 1], templates=("{}",), modality="audio")
    assert np.isnan(r.top5_accuracy)  # fewer than 5 classes, as CLIP_benchmark reports
    assert r.confusion.tolist() == [[1, 0, 0], [0, 1, 1], [0, 0, 0]]
    with pytest.raises(ValueError, match="labels must lie"):
        zero_shot_classify(Planted(three), [[1, 0, 0]], three, labels=[3], templates=("{}",))

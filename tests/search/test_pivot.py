"""Pivots (``search/pivot.py``): an image query reaches sounds through text where no model embeds
both, and its list is never taken for a direct similarity.

Oracle: a hand-built index of two toy models (``img`` embeds images and text, ``aud`` audio and
text) whose vectors are written out here; the pivot list's raw scores are computed in float64
from those numbers (``Σ_j w_j cos(t_j, d)``, ``w = softmax(scale · s)``), independently of
``pivot_vector``; RRF ranks by hand (k = 60)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from xmodal.calibration import Calibrator
from xmodal.index import Index, open_index
from xmodal.index.types import CollectionInfo
from xmodal.search.hits import ListName, RankedList
from xmodal.search.lists import SearchedList, SearchedLists
from xmodal.search.pivot import (
    PIVOT_TEXTS,
    direct_route,
    pivot_routes,
    pivot_texts,
    pivot_vector,
)
from xmodal.search.searcher import Searcher

SCALE = 10.0
QUERY = np.array([1.0, 0.0])  # every image, as img embeds it
CAPTIONS = {  # img.text: document id -> (caption, cosine to the query)
    "i1": ("dog", 0.9), "i2": ("cat", 0.6), "i3": ("dog", 0.5), "i4": ("cow", 0.1)}
WORDS = {"dog": [1.0, 0.0, 0.0], "cat": [0.0, 1.0, 0.0], "cow": [0.0, 0.0, 1.0]}  # aud's text
SOUNDS = {"a1": [0.6, 0.8, 0.0], "a2": [0.8, 0.0, 0.6], "a3": [0.0, 0.6, 0.8],
          "a4": [0.0, 0.0, 1.0]}  # aud.audio: unit rows


def at(cosine: float) -> np.ndarray:
    """A unit 2-d vector at ``cosine`` to :data:`QUERY`."""
    return np.array([cosine, np.sqrt(1 - cosine**2)])


class Img:
    """The image model: every image is :data:`QUERY`."""

    def encode_image(self, items: Sequence[Any]) -> np.ndarray:
        return np.tile(QUERY, (len(items), 1)).astype(np.float32)


class Aud:
    """The audio model's text side: :data:`WORDS`; it records what it was asked."""

    def __init__(self) -> None:
        self.asked: list[list[str]] = []

    def encode_query(self, texts: Sequence[str]) -> np.ndarray:
        self.asked.append(list(texts))
        return np.array([WORDS[t] for t in texts], dtype=np.float32)


def card(model: str, *modalities: str) -> dict[str, Any]:
    return {"name": model, "family": "lit", "modalities": ["text", *modalities],
            "logit_scale": SCALE}


def fill(index: Index) -> None:
    img = card("img", "image")
    pics = index.create_collection("img.image", dim=2, model="img", modality="image", card=img)
    pics.upsert(["p1"], at(0.2)[None], [{"path": "/x/p1.png", "modality": "image"}])
    texts = index.create_collection("img.text", dim=2, model="img", modality="text", card=img)
    ids = [*CAPTIONS, "doc"]
    vecs = [at(c) for _, c in CAPTIONS.values()] + [at(1.0)]
    pays = [{"path": f"/x/{i}.png", "modality": "image", "representation": "caption",
             "caption": cap} for i, (cap, _) in CAPTIONS.items()]
    # a text document nearer the query than any caption: not a pivot text (not a caption)
    pays.append({"path": "/x/doc.txt", "modality": "text", "representation": "text",
                 "caption": None})
    texts.upsert(ids, np.stack(vecs), pays)
    aud = card("aud", "audio")
    sounds = index.create_collection("aud.audio", dim=3, model="aud", modality="audio", card=aud)
    sounds.upsert(list(SOUNDS), np.array(list(SOUNDS.values())),
                  [{"path": f"/x/{i}.ogg", "modality": "audio"} for i in SOUNDS])


@pytest.fixture
def index(tmp_path: Path) -> Iterator[Index]:
    with open_index("exact:" + str(tmp_path / "i")) as idx:
        fill(idx)
        yield idx


def searcher(index: Index, aud: Aud | None = None) -> Searcher:
    models = {"img": Img(), "aud": aud or Aud()}
    return Searcher(index, load=models.__getitem__, router_model=None)


def expected() -> dict[str, float]:
    """Hand computation: distinct captions by best cosine (dog 0.9, cat 0.6, cow 0.1), their
    softmax weights at scale 10, and each sound's weighted sum of cosines to the three words."""
    texts = [("dog", 0.9), ("cat", 0.6), ("cow", 0.1)]
    e = [np.exp(SCALE * s) for _, s in texts]
    w = [x / sum(e) for x in e]
    return {d: sum(wj * float(np.dot(WORDS[t], v)) for wj, (t, _) in zip(w, texts, strict=True))
            for d, v in SOUNDS.items()}


def test_the_pivot_list_is_the_hand_computed_weighted_sum(index):
    aud = Aud()
    result = searcher(index, aud).search(image="q.png", modalities=["audio"], k=4)
    oracle = expected()
    order = sorted(oracle, key=oracle.__getitem__, reverse=True)
    name = "pivot:img→aud.audio"
    assert [h.id for h in result.hits] == order
    for rank, hit in enumerate(result.hits, 1):
        assert dict(hit.ranks) == {name: rank}
        assert hit.raw_scores[name] == pytest.approx(oracle[hit.id], abs=1e-6)
        # even alone, a pivot list is fused by rank: its score is never shown as a cosine
        assert hit.fused and hit.score == pytest.approx(1 / (60 + rank))
        assert hit.calibrated is None
    assert aud.asked == [["dog", "cat", "cow"]]  # the distinct captions, the document left out
    line = next(t for t in result.trace if t.startswith("pivot image → audio"))
    assert "img.text → aud.audio" in line and "3 pivot texts" in line
    assert "'dog' 0.900 (w 0.95)" in line and "'cow' 0.100 (w 0.00)" in line
    assert "not a similarity to the query" in line
    got = result.to_json()["hits"][0]
    assert (got["collection"], got["modality"], got["path"]) == (
        "aud.audio", "audio", f"/x/{order[0]}.ogg")


def test_pivots_can_be_turned_off(index):
    result = searcher(index).search(image="q.png", modalities=["audio"], pivot=False)
    assert result.hits == ()
    assert not any(t.startswith("pivot") for t in result.trace)


def test_a_pivot_needs_both_its_collections_in_scope(index):
    s = searcher(index)
    scoped = s.search(image="q.png", modalities=["audio"], collections=["img.text", "aud.audio"])
    assert {h.id for h in scoped.hits} == set(SOUNDS)
    for names in (["img.text"], ["img.image", "aud.audio"]):
        assert s.search(image="q.png", modalities=["audio"], collections=names).hits == ()


def test_a_filter_applies_to_the_documents_not_to_the_captions(index):
    result = searcher(index).search(image="q.png", modalities=["audio"],
                                    filter={"must_not": [{"key": "path",
                                                          "match": {"value": "/x/a2.ogg"}}]})
    oracle = expected()
    del oracle["a2"]
    assert [h.id for h in result.hits] == sorted(oracle, key=oracle.__getitem__, reverse=True)


def test_a_calibrated_threshold_neither_filters_nor_marks_pivot_hits(index):
    # the audio collection is calibrated for text (and image) queries: a calibrator that calls
    # everything relevant, and a threshold no pivot score reaches
    cal = Calibrator.from_pairs([0.01, 0.02, 0.03], [-0.9, -0.8, -0.7], model="aud").to_dict()
    index.collection("aud.audio").set_calibration({"text": {**cal, "threshold": 0.99},
                                                   "image": {**cal, "threshold": 0.99}})
    s = searcher(index)
    for fusion in ("rrf", "calibrated"):
        result = s.search(image="q.png", modalities=["audio"], k=4, fusion=fusion)
        assert len(result.hits) == 4  # every sound: none filtered by the threshold
        assert all(h.calibrated is None and h.fused for h in result.hits)
        assert max(h.raw_scores["pivot:img→aud.audio"] for h in result.hits) < 0.99
        assert not any("fallback" in t for t in result.trace)
    assert any("no calibration for ['pivot:img→aud.audio']" in t for t in result.trace)


def test_mixed_fuses_the_pivot_with_the_direct_lists_by_rank(index):
    result = searcher(index).search(image="q.png", mixed=True, k=10)
    name = "pivot:img→aud.audio"
    held = {h.id for h in result.hits if name in h.raw_scores}
    assert held == set(SOUNDS)
    # the image list leads (an image query's own modality); the pivot list never does
    assert result.hits[0].id == "p1"
    assert any("img.image weighted" in t for t in result.trace)


def test_a_weight_may_name_the_pivot_list(index):
    result = searcher(index).search(image="q.png", modalities=["audio"],
                                    weights={"pivot:img→aud.audio": 2.0}, k=1)
    assert result.hits[0].score == pytest.approx(2.0 / 61)
    with pytest.raises(ValueError, match="no such collection"):
        searcher(index).search(image="q.png", weights={"pivot:img→nothing": 2.0})


def test_the_fallback_reads_the_direct_lists_only():
    info = CollectionInfo("m.image", 2, "m", "image")

    def lst(name: str, top: float, pivot: bool = False) -> SearchedList:
        return SearchedList(ListName(name), info, RankedList(name, ("a",), (top,)), None,
                            pivot=pivot)

    low_direct = SearchedLists((lst("m.image", 0.1), lst("pivot:n→m.image", 0.9, True)),
                               {}, (), ())
    assert low_direct.unconfident(lambda _: 0.3) == "m.image 0.100 < 0.300"
    high_direct = SearchedLists((lst("m.image", 0.5), lst("pivot:n→m.image", 0.0, True)),
                                {}, (), ())
    assert high_direct.unconfident(lambda _: 0.3) is None
    only_pivot = SearchedLists((lst("pivot:n→m.image", 0.9, True),), {}, (), ())
    assert only_pivot.unconfident(lambda _: 0.3) == "no hits"


def infos(*models: tuple[str, tuple[str, ...], tuple[str, ...]]) -> list[CollectionInfo]:
    """Collections per (model, what it embeds besides text, the collections it holds)."""
    return [CollectionInfo(f"{m}.{c}", 2, m, c, card={"modalities": ["text", *embeds]})
            for m, embeds, cols in models for c in cols]


def test_the_route_rule():
    cols = infos(("img", ("image",), ("image", "text")), ("aud", ("audio",), ("audio", "text")),
                 ("minilm", (), ("text",)))
    names = {(a, b): [r.name for r in pivot_routes(cols, a, b)]
             for a in ("text", "image", "audio") for b in ("text", "image", "audio")}
    assert names == {
        ("text", "text"): [], ("text", "image"): [], ("text", "audio"): [],
        ("image", "text"): [], ("image", "image"): [], ("image", "audio"): ["pivot:img→aud.audio"],
        ("audio", "text"): [], ("audio", "image"): ["pivot:aud→img.image"], ("audio", "audio"): []}
    assert direct_route(cols, "image", "text") and not direct_route(cols, "image", "audio")
    # a model that embeds both: direct, no pivot
    both = cols + infos(("clap-clip", ("image", "audio"), ("image",)))
    assert pivot_routes(both, "image", "audio") == ()
    # no text collection of the query's model, or no audio collection: no pivot
    assert pivot_routes(infos(("img", ("image",), ("image",)),
                              ("aud", ("audio",), ("audio", "text"))), "image", "audio") == ()
    assert pivot_routes(infos(("img", ("image",), ("image", "text")),
                              ("aud", ("audio",), ("text",))), "image", "audio") == ()
    # two image models: one pivot each
    two = cols + infos(("img2", ("image",), ("text",)))
    assert [r.name for r in pivot_routes(two, "image", "audio")] == [
        "pivot:img→aud.audio", "pivot:img2→aud.audio"]


def test_pivot_texts_are_the_best_distinct_captions_with_softmax_weights():
    caps = ["a", "b", "a", "c", "d", "e", "f", "g", " "]
    scores = [0.9, 0.8, 0.85, 0.7, 0.6, 0.5, 0.4, 0.3, 0.95]
    got = pivot_texts(caps, scores, scale=SCALE)
    assert [t.text for t in got] == ["a", "b", "c", "d", "e"][:PIVOT_TEXTS]
    assert [t.score for t in got] == [0.9, 0.8, 0.7, 0.6, 0.5]
    e = [np.exp(SCALE * s) for s in (0.9, 0.8, 0.7, 0.6, 0.5)]
    assert [t.weight for t in got] == pytest.approx([x / sum(e) for x in e], abs=1e-12)
    assert [t.text for t in pivot_texts(caps, scores, n=2, scale=1.0)] == ["a", "b"]
    assert pivot_texts([], [], scale=1.0) == ()
    with pytest.raises(ValueError, match="n must be"):
        pivot_texts(caps, scores, n=0)
    with pytest.raises(ValueError, match="scale must be"):
        pivot_texts(caps, scores, scale=float("nan"))
    with pytest.raises(ValueError, match="9 captions but 2 scores"):
        pivot_texts(caps, scores[:2])


def test_the_pivot_vector_scores_as_the_weighted_sum():
    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(3, 5))
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    docs = rng.normal(size=(7, 5))
    docs /= np.linalg.norm(docs, axis=1, keepdims=True)
    w = [0.5, 0.3, 0.2]
    direction, length = pivot_vector(vecs, w)
    assert np.linalg.norm(direction) == pytest.approx(1.0)
    slow = [sum(wj * float(v @ d) for wj, v in zip(w, vecs, strict=True)) for d in docs]
    assert (docs @ direction * length).tolist() == pytest.approx(slow, abs=1e-12)
    with pytest.raises(ValueError, match="zero vector"):
        pivot_vector(np.array([[1.0, 0.0], [-1.0, 0.0]]), [0.5, 0.5])
    with pytest.raises(ValueError, match="one weight per pivot vector"):
        pivot_vector(vecs, [1.0])

"""Searcher over an ingested exact index with the deterministic toy encoders of
``tests/api/toy.py``: routing, raw vs RRF-fused hits, restriction, fallback, query by example,
JSON shape, and error collection."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.toy import ToyEncoder, loader, toy_encoders, write_corpus
from xmodal.index import Index, open_index
from xmodal.index.ingest import ingest
from xmodal.search.hits import RankedList
from xmodal.search.rrf import rrf_fuse
from xmodal.search.searcher import Searcher

HIT_KEYS = {"id", "path", "modality", "collection", "rank", "score", "fused", "raw_scores",
            "ranks"}


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "corpus")


@pytest.fixture
def encoders() -> dict[str, ToyEncoder]:
    return toy_encoders()


@pytest.fixture
def idx(tmp_path: Path, corpus: Path, encoders: dict[str, ToyEncoder]) -> Iterator[Index]:
    with open_index("exact:" + str(tmp_path / "idx")) as index:
        # dense lists only: the lexical list is tested in tests/search/test_lexical.py
        ingest(index, [corpus], encoders=encoders, lexical=False)
        yield index


@pytest.fixture
def searcher(idx: Index, encoders: dict[str, ToyEncoder]) -> Searcher:
    return Searcher(idx, load=loader(encoders), router_model=None)


def own_search(idx: Index, enc: ToyEncoder, list_name: str, query: str, k: int = 10):
    """What one list's collection returns by itself: ``{id: (raw cosine, 1-based rank)}``."""
    name, _, rest = list_name.partition("[")
    filt = {"modality": rest.rstrip("]")} if rest else None
    got = idx.collection(name).search(enc.encode_query([query])[0], k=k, filter=filt)[0]
    return {i: (float(s), r) for r, (i, s) in enumerate(zip(got.ids, got.scores, strict=True), 1)}


def break_collection(monkeypatch: pytest.MonkeyPatch, idx: Index, broken: str) -> None:
    """Make ``idx.collection(broken).search`` raise RuntimeError("disk on fire")."""
    real = idx.collection

    class Broken:
        def __init__(self, col: Any) -> None:
            self.col = col

        def __getattr__(self, name: str) -> Any:
            return getattr(self.col, name)

        def search(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("disk on fire")

    monkeypatch.setattr(idx, "collection",
                        lambda name: Broken(real(name)) if name == broken else real(name))


def name_of(hit: Any) -> str:
    return Path(hit.payload["path"]).name


def test_text_query_routed_to_images_fuses_image_and_caption_lists(idx, searcher, encoders):
    query = "a photo of a red heart"
    result = searcher.search(query, k=5)
    assert any(step.startswith("router: image") for step in result.trace)
    assert "fused 2 lists with RRF (k=60, 1-based ranks)" in result.trace
    assert result.errors == ()
    top = result.hits[0]
    assert name_of(top) == "heart.png" and top.fused and top.collection is None
    assert {h.payload["modality"] for h in result.hits} == {"image"}
    lists = ("toy-image.image", "toy-image.text[image]")
    own = {n: own_search(idx, encoders["image"], n, query, k=5) for n in lists}
    for hit in result.hits:
        assert set(hit.raw_scores) == set(hit.ranks) and set(hit.raw_scores) <= set(lists)
        for n in hit.raw_scores:
            assert hit.raw_scores[n] == pytest.approx(own[n][hit.id][0])
            assert hit.ranks[n] == own[n][hit.id][1]
    expected = rrf_fuse([RankedList(n, tuple(own[n]), tuple(s for s, _ in own[n].values()))
                         for n in lists], k=60, limit=5)
    assert [(h.id, h.score) for h in result.hits] == [(h.id, pytest.approx(h.score))
                                                       for h in expected]
    assert top.score == pytest.approx(2 / 61)  # first in both lists


def test_single_list_gives_raw_cosine(tmp_path, corpus):
    encoders = toy_encoders()
    with open_index("exact:" + str(tmp_path / "nocap")) as idx:
        ingest(idx, [corpus], encoders=encoders, captions=False, lexical=False)
        result = Searcher(idx, load=loader(encoders), router_model=None).search(
            "a photo of a red heart", k=3)
        own = own_search(idx, encoders["image"], "toy-image.image", "a photo of a red heart")
    assert len(result.hits) == 3 and not any("fused" in s for s in result.trace)
    for rank, hit in enumerate(result.hits, 1):
        assert not hit.fused and hit.collection == "toy-image.image"
        assert hit.score == hit.raw_scores["toy-image.image"] == pytest.approx(own[hit.id][0])
        assert hit.ranks == {"toy-image.image": rank} and own[hit.id][1] == rank
    assert name_of(result.hits[0]) == "heart.png"
    assert result.hits[0].score == pytest.approx(2 / 6**0.5)  # {red, heart} · {heart, red, love}


def test_modalities_restricts_the_search(searcher):
    result = searcher.search("drum beat", modalities=["audio"], k=5)
    assert result.trace[0] == "modalities given: ['audio']"
    assert [name_of(h) for h in result.hits] == ["drum.wav", "violin.wav"]
    assert all(h.payload["modality"] == "audio" and not h.fused for h in result.hits)
    assert result.hits[0].collection == "toy-audio.audio"
    assert not any(s.startswith("fallback") for s in result.trace)


def test_mixed_fuses_every_modality(searcher):
    result = searcher.search("red heart drum python", mixed=True, k=20)
    assert result.trace[0].startswith("mixed:")
    assert {h.payload["modality"] for h in result.hits} == {"image", "audio", "text"}
    assert all(h.fused for h in result.hits)
    lists = set().union(*(h.raw_scores for h in result.hits))
    assert lists == {"toy-image.image", "toy-image.text[image]", "toy-audio.audio",
                     "toy-text.text[text]"}
    assert len({h.id for h in result.hits}) == len(result.hits) == 7


def test_fallback_when_no_list_is_confident(idx, encoders):
    for name in ("toy-image.image", "toy-image.text"):
        idx.collection(name).set_calibration({"threshold": 0.99})
    result = Searcher(idx, load=loader(encoders), router_model=None).search(
        "a photo of a heart", k=10)
    fallback = [s for s in result.trace if s.startswith("fallback")]
    assert len(fallback) == 1 and "< 0.990" in fallback[0]
    assert {h.payload["modality"] for h in result.hits} == {"image", "audio", "text"}
    assert name_of(result.hits[0]) == "heart.png"


def test_no_fallback_when_a_list_is_confident(searcher):
    result = searcher.search("a photo of a heart", k=10)
    assert not any(s.startswith("fallback") for s in result.trace)
    assert {h.payload["modality"] for h in result.hits} == {"image"}


def test_query_by_example(searcher, corpus):
    by_image = searcher.search(image=str(corpus / "images/cat.png"), k=3)
    assert by_image.trace[0] == "image query: documents of modality ['image']"
    assert name_of(by_image.hits[0]) == "cat.png"
    by_audio = searcher.search(audio=str(corpus / "sounds/violin.wav"), k=3)
    assert name_of(by_audio.hits[0]) == "violin.wav"
    assert not by_audio.hits[0].fused and by_audio.hits[0].score == pytest.approx(1.0)


def test_to_json_shape(idx, searcher):
    collections = {c.name for c in idx.collections()}
    for kwargs in ({"modalities": ["audio"]}, {}):
        data = searcher.search("a photo of a red heart drum", k=4, **kwargs).to_json()
        assert set(data) == {"hits", "trace", "errors"} and data["hits"]
        for rank, hit in enumerate(data["hits"], 1):
            assert set(hit) >= HIT_KEYS
            assert hit["rank"] == rank and Path(hit["path"]).is_file()
            assert hit["collection"] in collections
            assert set(hit["raw_scores"]) == set(hit["ranks"])
            assert isinstance(hit["fused"], bool) and isinstance(hit["score"], float)


def test_errors_of_a_broken_collection_are_collected(idx, encoders, monkeypatch):
    break_collection(monkeypatch, idx, "toy-image.text")
    result = Searcher(idx, load=loader(encoders), router_model=None).search(
        "a photo of a red heart", k=3)
    assert "toy-image.text: disk on fire" in result.errors
    assert name_of(result.hits[0]) == "heart.png" and not result.hits[0].fused


def test_unloadable_model_is_an_error_not_a_crash(idx, encoders):
    def load(name: str) -> ToyEncoder:
        if name == "toy-audio":
            raise OSError("weights missing")
        return loader(encoders)(name)

    result = Searcher(idx, load=load, router_model="nope").search("drum beat", mixed=True)
    assert any(e.startswith("toy-audio.audio: weights missing") for e in result.errors)
    assert result.hits and all(h.payload["modality"] != "audio" for h in result.hits)


def test_bad_arguments(searcher):
    with pytest.raises(ValueError, match="exactly one"):
        searcher.search("a", image="b.png")
    with pytest.raises(ValueError, match="exactly one"):
        searcher.search()
    with pytest.raises(ValueError, match="k must be"):
        searcher.search("a", k=0)


def test_to_json_collection_of_a_fused_hit_is_a_collection_name():
    from xmodal.search.hits import Hit
    from xmodal.search.searcher import SearchResult

    hit = Hit("d1", 0.03, None, {"toy-image.image": 0.2, "toy-image.text[image]": 0.9},
              {"toy-image.image": 3, "toy-image.text[image]": 1}, fused=True,
              payload={"path": "/x/heart.png", "modality": "image", "caption": "a red heart"})
    data = SearchResult((hit,), ("t",), ()).to_json()
    assert data["hits"][0]["collection"] == "toy-image.text"  # its best list, as a collection
    assert data["hits"][0]["ranks"] == {"toy-image.image": 3, "toy-image.text[image]": 1}


def test_errors_are_reported_once_even_after_fallback(idx, encoders, monkeypatch):
    for name in ("toy-image.image", "toy-image.text"):
        idx.collection(name).set_calibration({"threshold": 0.99})
    break_collection(monkeypatch, idx, "toy-text.text")
    result = Searcher(idx, load=loader(encoders), router_model=None).search(
        "a photo of a heart", k=5)
    assert any(s.startswith("fallback") for s in result.trace)
    assert result.errors == ("toy-text.text: disk on fire",)
    assert name_of(result.hits[0]) == "heart.png"

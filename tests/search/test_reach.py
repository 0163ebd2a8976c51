"""The reachability matrix: every cell of hand-built indexes (direct with its lists, pivot with
its model pairs, none with the reason and the models to add), then the same cells on a toy index
built by ingest, checked against what a search actually searches and against float64 cosines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.api.toy import ToyEncoder, embed, loader, toy_encoders, write_texts
from xmodal.index import open_index
from xmodal.index.ingest import ingest
from xmodal.index.types import CollectionInfo
from xmodal.modalities import MODALITIES
from xmodal.search.lexical import SUPPORT_WEIGHT
from xmodal.search.reach import SUGGESTED, Reach, probe_holds, reachability
from xmodal.search.searcher import Searcher

IMAGE = {"modalities": ["text", "image"]}
AUDIO = {"modalities": ["text", "audio"]}
TEXT = {"modalities": ["text"]}


def infos(*rows: tuple[str, dict]) -> list[CollectionInfo]:
    """CollectionInfo per (name, card): the model and modality read from ``MODEL.MODALITY``."""
    return [CollectionInfo(name, 4, name.split(".")[0], name.split(".")[1], card=card, count=1)
            for name, card in rows]


ALL = infos(("ti.image", IMAGE), ("ti.text", IMAGE), ("ta.audio", AUDIO), ("ta.text", AUDIO),
            ("tt.text", TEXT))


def routes(cols: list[CollectionInfo], holds: dict[str, set[str]]) -> dict[tuple[str, str], Reach]:
    matrix = reachability(cols, holds)
    assert [(c.query, c.documents) for c in matrix.cells] == [
        (q, d) for q in MODALITIES for d in MODALITIES]
    return {(c.query, c.documents): c for c in matrix.cells}


def test_every_cell_with_documents_in_every_space():
    """Text documents back-filled in both starters' text collections, images captioned."""
    r = routes(ALL, {"ti.image": {"image"}, "ti.text": {"image", "text"}, "ta.audio": {"audio"},
                     "ta.text": {"text"}, "tt.text": {"text"}})
    direct = {
        ("text", "text"): ("ti.text[text]", "ta.text[text]", "tt.text[text]"),
        ("text", "image"): ("ti.image", "ti.text[image]"),
        ("text", "audio"): ("ta.audio",),
        ("image", "text"): ("ti.text[text]",),
        ("image", "image"): ("ti.image", "ti.text[image]"),
        ("audio", "text"): ("ta.text[text]",),
        ("audio", "audio"): ("ta.audio",),
    }
    for cell, lists in direct.items():
        assert (r[cell].route, r[cell].lists, r[cell].add) == ("direct", lists, ()), cell
    assert r["text", "text"].models == ("ta", "ti", "tt")
    assert (r["image", "audio"].route, r["image", "audio"].pivots) == ("pivot", (("ti", "ta"),))
    # the audio model's text collection holds documents but no captions: a pivot goes
    # through captions only (what pivot.add_pivots searches)
    audio_image = r["audio", "image"]
    assert (audio_image.route, audio_image.pivots, audio_image.add) == ("none", (), ())
    assert "ta stores no captions to pivot through" in audio_image.reason


def test_every_cell_with_documents_in_the_text_model_only():
    """Before back-filling: text documents in tt alone; the audio model's texts are empty."""
    r = routes(ALL, {"ti.image": {"image"}, "ti.text": {"image"}, "ta.audio": {"audio"},
                     "ta.text": set(), "tt.text": {"text"}})
    assert r["text", "text"].lists == ("tt.text[text]",)
    image_text = r["image", "text"]  # ti embeds both: back-filling opens the direct route
    assert (image_text.route, image_text.pivots) == ("none", ())
    assert "not in the text collection of ti" in image_text.reason
    audio_text = r["audio", "text"]
    assert (audio_text.route, audio_text.add) == ("none", ())
    assert "not in the text collection of ta" in audio_text.reason
    assert "back-fill" in audio_text.reason
    audio_image = r["audio", "image"]  # both models are here, but ta stores no texts
    assert (audio_image.route, audio_image.add) == ("none", ())
    assert "ta stores no captions to pivot through" in audio_image.reason
    assert (r["image", "audio"].route, r["image", "audio"].pivots) == ("pivot", (("ti", "ta"),))
    for cell in (("text", "image"), ("text", "audio"), ("image", "image"), ("audio", "audio")):
        assert r[cell].route == "direct", cell


def test_every_cell_of_a_text_only_index():
    r = routes(infos(("tt.text", TEXT)), {"tt.text": {"text"}})
    assert (r["text", "text"].route, r["text", "text"].lists) == ("direct", ("tt.text[text]",))
    for q in ("image", "audio"):
        assert (r[q, "text"].route, r[q, "text"].add) == ("none", (SUGGESTED[q],))
        assert r[q, "text"].reason == f"no model in this index embeds {q} queries"
    for q in MODALITIES:
        for d in ("image", "audio"):
            assert (r[q, d].route, r[q, d].add) == ("none", ()), (q, d)
            assert r[q, d].reason == f"no {d} documents in this index (index some)"


def test_every_cell_of_an_image_index_without_captions():
    r = routes(infos(("ti.image", IMAGE)), {"ti.image": {"image"}})
    assert r["text", "image"].lists == ("ti.image",)
    assert r["image", "image"].lists == ("ti.image",)
    assert (r["audio", "image"].route, r["audio", "image"].add) == ("none", ("starter-audio",))
    for q in MODALITIES:
        for d in ("text", "audio"):
            assert r[q, d].route == "none" and r[q, d].reason.startswith(f"no {d} documents")


def test_audio_only_model_needs_an_audio_text_model_for_a_pivot():
    cols = infos(("ti.image", IMAGE), ("ti.text", IMAGE), ("aa.audio", {"modalities": ["audio"]}))
    r = routes(cols, {"ti.image": {"image"}, "ti.text": {"image"}, "aa.audio": {"audio"}})
    assert (r["image", "audio"].route, r["image", "audio"].add) == ("none", ("starter-audio",))
    assert r["audio", "audio"].lists == ("aa.audio",)
    assert (r["audio", "image"].route, r["audio", "image"].add) == ("none", ("starter-audio",))
    assert (r["text", "audio"].route, r["text", "audio"].add) == ("none", ("starter-audio",))


def test_table_and_json_show_every_cell():
    matrix = reachability(infos(("tt.text", TEXT)), {"tt.text": {"text"}})
    table = matrix.table()
    assert len(table) == 1 + 9 and table[0].startswith("query")
    assert "image → text   none    no model in this index embeds image queries (add: " \
        "starter-image)" in table
    data = matrix.to_json()
    assert data[3] == {"query": "image", "documents": "text", "route": "none", "models": [],
                       "lists": [], "pivots": [], "reason": "no model in this index embeds "
                       "image queries", "add": ["starter-image"]}


# -- on a toy index built by ingest ----------------------------------------------------------

def write(root: Path) -> Path:
    files = {"images/heart.png": "heart red love", "images/heart.txt": "a red heart",
             "images/cat.png": "cat kitten whiskers", "sounds/drum.wav": "drum beat loop",
             "docs/valentine.txt": "red heart love letter", "docs/pets.txt": "cat and dog",
             "docs/music.txt": "drum beat and violin note"}
    return write_texts(root, files)


@pytest.fixture
def toy_index(tmp_path: Path):
    corpus = write(tmp_path / "corpus")
    encoders = toy_encoders()
    with open_index(f"exact:{tmp_path / 'idx'}") as index:
        ingest(index, [corpus], encoders=encoders, spaces=[encoders["image"], encoders["audio"]])
        yield index, encoders, corpus


def test_probe_reads_what_each_collection_holds(toy_index):
    index, _, _ = toy_index
    assert probe_holds(index, index.collections()) == {
        "toy-image.image": {"image"}, "toy-image.text": {"image", "text"},
        "toy-audio.audio": {"audio"}, "toy-audio.text": {"text"}, "toy-text.text": {"text"}}


QUERIES = {"text": "red heart", "image": "images/heart.png", "audio": "sounds/drum.wav"}


def test_each_cell_is_what_a_search_searches(toy_index):
    index, encoders, corpus = toy_index
    searcher = Searcher(index, load=loader(encoders), router_model=None)
    matrix = searcher.reach()
    for q in MODALITIES:
        value = QUERIES[q] if q == "text" else str(corpus / QUERIES[q])
        for d in MODALITIES:
            cell = matrix.cell(q, d)
            result = searcher.search(**{"query" if q == "text" else q: value},
                                     modalities=[d], k=10)
            dense = {n for h in result.hits for n in h.raw_scores if n != "bm25"}
            if cell.route == "direct":  # every list the cell names is searched, no other
                assert dense == set(cell.lists), (q, d)
                assert all(h.payload["modality"] == d for h in result.hits)
                assert not result.errors
            elif cell.route == "pivot":  # the list pivot.py searches per pair, in the trace
                assert dense == {f"pivot:{a}→{b}.{d}" for a, b in cell.pivots}, (q, d)
                assert any(line.startswith(f"{q} → {d}: no model embeds both")
                           for line in result.trace)
            else:  # nothing reaches them: said in the errors, never a silent empty list
                assert not dense, (q, d)
                assert f"unreachable: {q} → {d}: {cell.reason}" in result.errors


def test_image_query_reaches_documents_with_their_cosines(toy_index):
    index, encoders, corpus = toy_index
    result = Searcher(index, load=loader(encoders), router_model=None).search(
        image=str(corpus / "images/heart.png"), modalities=["text"], k=10)
    query = embed("heart red love").astype(np.float64)
    docs = {p: (corpus / "docs" / p).read_text() for p in ("valentine.txt", "pets.txt",
                                                            "music.txt")}
    want = sorted(((float(query @ embed(t).astype(np.float64)), p) for p, t in docs.items()),
                  key=lambda x: (-x[0], x[1]))
    got = [(h.raw_scores["toy-image.text[text]"], Path(h.payload["path"]).name)
           for h in result.hits]
    assert [p for _, p in got][:1] == [want[0][1]] == ["valentine.txt"]
    for (s, p), (w, wp) in zip(got, want, strict=True):
        assert p == wp or abs(s - w) < 1e-6
        assert s == pytest.approx(w, abs=1e-6)
    assert all(h.payload["modality"] == "text" and h.payload["representation"] == "text"
               for h in result.hits)


def test_text_query_fuses_the_text_model_and_the_shared_spaces_by_rank(toy_index):
    index, encoders, _ = toy_index
    result = Searcher(index, load=loader(encoders), router_model=None).search(
        "red heart love letter", modalities=["text"], k=3)
    top = result.hits[0]
    assert Path(top.payload["path"]).name == "valentine.txt" and top.fused
    assert set(top.ranks) == {"toy-text.text[text]", "toy-image.text[text]",
                              "toy-audio.text[text]", "bm25"}
    weight = {name: SUPPORT_WEIGHT if name == "bm25" else 1.0 for name in top.ranks}
    assert top.score == pytest.approx(sum(weight[n] / (60 + r) for n, r in top.ranks.items()),
                                      abs=1e-12)  # 3/61 + 0.01/61: every list ranks it first
    assert top.ranks == dict.fromkeys(top.ranks, 1)


def test_unreachable_documents_name_the_models_to_add(tmp_path: Path):
    corpus = write(tmp_path / "corpus")
    text = ToyEncoder("toy-text", ("text",))
    with open_index(f"exact:{tmp_path / 'idx'}") as index:
        ingest(index, [corpus / "docs"], encoders={"text": text})
        searcher = Searcher(index, load=loader({"text": text}), router_model=None)
        result = searcher.search("drum", modalities=["audio"], k=3)
        line = "unreachable: text → audio: no audio documents in this index (index some)"
        assert result.hits == () and line in result.trace and line in result.errors
        with pytest.raises(ValueError, match="embeds image queries: add one "
                           r"\(xmodal index FOLDER --image-model starter-image\)"):
            searcher.search(image=str(corpus / "images/heart.png"), modalities=["text"])

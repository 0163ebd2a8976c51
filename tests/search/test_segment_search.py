"""Search over time segments (``search/segments.py``): query by example finds places in long
recordings, a document counts once per list (grouping) unless asked per segment, filters apply
to segments, RRF fuses segmented lists by document; on the exact store and Qdrant Edge.

Oracle: recordings built from tones of known bands and times (``tests/index/recordings.py``):
an excerpt of a part must bring its recording first, with ``t_start`` / ``t_end`` inside the
part widened by one window."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tests.index.conftest import uri_for
from tests.index.recordings import (
    DIM,
    WINDOW_S,
    ToneEncoder,
    write_excerpt,
    write_recording,
)
from xmodal.index import open_index
from xmodal.index.ingest import ingest, manifest_path
from xmodal.search.hits import Hit, SegmentHit
from xmodal.search.searcher import Searcher
from xmodal.search.segments import ListSegments, search_documents, with_times

RECORDINGS = {  # name -> parts (band, seconds); every band once
    "talk": [(2, 25.0), (5, 35.0), (8, 22.0)],
    "walk": [(11, 40.0), (14, 27.0)],
    "song": [(17, 31.0), (20, 20.0), (23, 33.0)],
    "drone": [(27, 330.0)],  # 33 windows of one tone
}
SHORT = {"mix-a": [(27, 5.0), (4, 5.0)], "mix-b": [(27, 4.0), (12, 6.0)],
         "mix-c": [(27, 3.0), (30, 7.0)], "beep": [(6, 4.0)]}


@pytest.fixture(scope="module", params=["exact", "qdrant-edge"])
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """(uri, corpus, spans per recording, encoders by model) for each backend."""
    root = tmp_path_factory.mktemp(request.param)
    spans = {name: write_recording(root / "c" / f"{name}.wav", parts, seed=n)
             for n, (name, parts) in enumerate({**RECORDINGS, **SHORT}.items())}
    uri = uri_for(request.param, root)
    encoders = {"tone": ToneEncoder(), "tone20": ToneEncoder("tone20", window_s=20.0)}
    with open_index(uri) as index:
        ingest(index, [root / "c"], encoders={"audio": encoders["tone"]},
               manifest=manifest_path(uri))
    return uri, root / "c", spans, encoders


@pytest.fixture
def searcher(built):
    uri, _, _, encoders = built
    with open_index(uri) as index:
        yield Searcher(index, load=encoders.__getitem__, router_model=None)


def path_of(hit: Hit) -> str:
    return Path(str(hit.payload["path"])).stem


@pytest.mark.parametrize("name", ["talk", "walk", "song"])
def test_an_excerpt_finds_its_recording_and_its_place(built, searcher, tmp_path, name):
    _, corpus, spans, _ = built
    for t0, t1 in spans[name]:
        start = round((t0 + t1) / 2 - 5)  # 10 s from the middle of the part
        query = write_excerpt(tmp_path / f"q{start}.wav", corpus / f"{name}.wav", start)
        hits = searcher.search(audio=str(query), k=3).hits
        assert path_of(hits[0]) == name
        best = hits[0]
        assert best.t_start is not None and best.t_end is not None
        assert t0 - WINDOW_S <= best.t_start < best.t_end <= t1 + WINDOW_S
        assert 0 < len(best.segments) <= 5
        assert all(s.list_name == "tone.audio" for s in best.segments)
        assert len({path_of(h) for h in hits}) == len(hits)  # one hit per document


def test_one_document_never_crowds_the_top_k(built, searcher, tmp_path):
    _, corpus, _, _ = built
    query = write_excerpt(tmp_path / "q.wav", corpus / "drone.wav", 100.0)
    result = searcher.search(audio=str(query), k=4)
    assert [path_of(h) for h in result.hits][:1] == ["drone"]
    assert sorted(path_of(h) for h in result.hits[1:]) == ["mix-a", "mix-b", "mix-c"]
    assert result.hits[0].raw_scores["tone.audio"] == pytest.approx(1.0, abs=1e-3)
    assert len(result.hits[0].segments) == 5
    per = searcher.search(audio=str(query), k=6, per_segment=True)
    assert [path_of(h) for h in per.hits] == ["drone"] * 6  # 33 windows match: every hit
    data = per.to_json()["hits"]
    assert len({h["id"] for h in data}) == 6 and {h["document_id"] for h in data} == {
        per.hits[0].payload["document_id"]}
    assert all(h["t_end"] - h["t_start"] == 10.0 and h["segments"] == [] for h in data)


def test_filters_apply_to_segments(built, searcher, tmp_path):
    _, corpus, _, _ = built
    query = write_excerpt(tmp_path / "q.wav", corpus / "drone.wav", 100.0)
    short = searcher.search(audio=str(query), k=3,
                            filter={"must": [{"key": "duration_s", "range": {"lt": 200}}]})
    assert "drone" not in [path_of(h) for h in short.hits]  # nor any of its 33 segments
    late = searcher.search(audio=str(query), k=5, per_segment=True,
                           filter={"must": [{"key": "t_start", "range": {"gte": 200}}]})
    assert len(late.hits) == 5 and all(h.t_start >= 200 for h in late.hits)


def test_rrf_fuses_segmented_lists_by_document(built, tmp_path):
    _uri, corpus, spans, encoders = built
    fused_uri = uri_for("exact", tmp_path)
    with open_index(fused_uri) as index:  # two models, one with 20 s windows
        for model in ("tone", "tone20"):
            ingest(index, [corpus], encoders={"audio": encoders[model]},
                   manifest=manifest_path(fused_uri))
        s = Searcher(index, load=encoders.__getitem__, router_model=None)
        t0, t1 = spans["song"][2]
        query = write_excerpt(tmp_path / "q.wav", corpus / "song.wav", t0 + 10)
        hits = s.search(audio=str(query), k=3).hits
    best = hits[0]
    assert path_of(best) == "song" and best.fused
    assert set(best.ranks) == {"tone.audio", "tone20.audio"}
    assert t0 - 20 <= best.t_start < best.t_end <= t1 + 20
    assert {x.list_name for x in best.segments} == {"tone.audio", "tone20.audio"}


def test_the_times_come_from_the_best_segment_even_below_the_whole_file(tmp_path):
    with open_index(uri_for("exact", tmp_path)) as index:
        col = index.create_collection("m.audio", dim=3, model="m", modality="audio")
        seg = {"path": "/a.wav", "modality": "audio", "representation": "window",
               "document_id": "a"}
        col.upsert(["a", "a0", "a1", "b"], np.array([[1, 0, 0], [0.6, 0.8, 0], [0.8, 0.6, 0],
                                                     [0.5, 0, 0.866]]),
                   [{"path": "/a.wav", "modality": "audio"},
                    {**seg, "t_start": 0.0, "t_end": 10.0, "segment": 0},
                    {**seg, "t_start": 10.0, "t_end": 14.0, "segment": 1},
                    {"path": "/b.wav", "modality": "audio"}], normalize=True)
        s = Searcher(index, router_model=None)
        hits = s.search(vector=[1.0, 0, 0], collection="m.audio", k=2).hits
        per = s.search(vector=[1.0, 0, 0], collection="m.audio", k=2, per_segment=True).hits
    assert [h.id for h in hits] == ["a", "b"] and hits[0].score == pytest.approx(1.0)
    assert (hits[0].t_start, hits[0].t_end) == (10.0, 14.0)  # a1 ranked 2nd, after a itself
    assert [(x.t_start, x.score) for x in hits[0].segments] == [(0.0, pytest.approx(0.6))]
    assert (hits[1].t_start, hits[1].segments) == (None, ())
    assert [h.id for h in per] == ["a1", "a0"]  # a's places stand for it
    assert [(h.t_start, h.t_end) for h in per] == [(10.0, 14.0), (0.0, 10.0)]


def test_a_tie_goes_to_the_higher_weight_list():
    hit = Hit("d", 0.1, None, {"x": 0.5, "y": 0.5}, {"x": 1, "y": 1}, fused=True)
    a, b = SegmentHit(0.0, 10.0, "x", 0.5, 2), SegmentHit(30.0, 40.0, "y", 0.4, 2)
    got = with_times([hit], [ListSegments({"d": (a,)}, 1.0), ListSegments({"d": (b,)}, 2.0)])
    assert (got[0].t_start, got[0].segments) == (30.0, (a,))


def test_grouping_searches_deeper_until_k_documents(tmp_path):
    with open_index(uri_for("exact", tmp_path)) as index:
        col = index.create_collection("m.audio", dim=2, model="m", modality="audio")
        ids, vecs, pays = [], [], []
        for d in range(6):  # 6 documents of 40 segments each, document d below d - 1
            for n in range(40):
                ids.append(f"{d}-{n}")
                angle = d * 0.1 + n * 0.001
                vecs.append([np.cos(angle), np.sin(angle)])
                pays.append({"representation": "window", "document_id": f"doc{d}",
                             "t_start": 10.0 * n, "t_end": 10.0 * n + 10})
            ids.append(f"doc{d}")  # the whole file, below its segments
            vecs.append([np.cos(d * 0.1 + 0.05), np.sin(d * 0.1 + 0.05)])
            pays.append({"representation": "audio"})
        col.upsert(ids, np.array(vecs), pays, normalize=True)
        got = search_documents(col, np.array([1.0, 0.0]), k=5, list_name="m.audio")
    assert got.ids == ("doc0", "doc1", "doc2", "doc3", "doc4")
    assert got.points >= 4 * 41 + 1  # four documents' 164 points, and one more
    assert [s.rank for s in got.segments["doc1"]][:2] == [42, 43]


class TextTone(ToneEncoder):
    """With a text side: the words ``b7`` embed as band 7's tone."""

    def __init__(self) -> None:
        super().__init__("ttone")
        self.card = replace(self.card, modalities=("text", "audio"))

    def _embed_texts(self, texts, *, prompt, batch_size, progress):
        rows = []
        for text in texts:
            v = np.full(DIM, 1e-3)
            for band in re.findall(r"\bb(\d+)\b", text):
                v[int(band)] += 1.0
            rows.append(v / np.linalg.norm(v))
        return np.stack(rows).astype(np.float32)


def test_a_quoted_phrase_keeps_the_segments_of_the_documents_holding_it(tmp_path):
    corpus = tmp_path / "c"
    for name in ("walk", "talk"):
        write_recording(corpus / f"{name}.wav", RECORDINGS[name])
    encoder, uri = TextTone(), uri_for("exact", tmp_path)
    with open_index(uri) as index:
        ingest(index, [corpus], encoders={"audio": encoder}, manifest=manifest_path(uri))
        s = Searcher(index, load=lambda name: encoder, router_model=None)
        hits = s.search('"walk" b14', k=4, modalities=["audio"], per_segment=True).hits
        plain = s.search("b14", k=4, modalities=["audio"], per_segment=True).hits
    assert {path_of(h) for h in hits} == {"walk"}  # the file name holds the phrase
    places = [h for h in hits if h.t_start is not None]
    assert len(places) >= 3 and all(30.0 <= h.t_start < 67.0 for h in places)  # band 14
    assert [h.id for h in plain if h.t_start is not None][:3] == [h.id for h in places][:3]


@pytest.mark.parametrize("kind", ["exact", "qdrant-edge"])
def test_segments_without_their_documents_vector_are_no_hit(tmp_path, kind):
    """A kill between an ingest's segments and its commit mark leaves segments without their
    whole-file point: they are not a document yet, in either search mode."""
    with open_index(uri_for(kind, tmp_path)) as index:
        col = index.create_collection("m.audio", dim=2, model="m", modality="audio")
        seg = {"path": "/ghost.wav", "modality": "audio", "representation": "window",
               "document_id": "ghost"}
        ids = [f"g{n}" for n in range(12)] + ["real", "r0", "r1"]
        angles = [0.001 * n for n in range(12)] + [0.5, 0.3, 0.4]
        pays = [{**seg, "t_start": 10.0 * n, "t_end": 10.0 * n + 10} for n in range(12)] + [
            {"path": "/real.wav", "modality": "audio"},
            *({"path": "/real.wav", "modality": "audio", "representation": "window",
               "document_id": "real", "t_start": 10.0 * n, "t_end": 10.0 * n + 10}
              for n in range(2))]
        col.upsert(ids, np.array([[np.cos(a), np.sin(a)] for a in angles]), pays,
                   normalize=True)
        s = Searcher(index, router_model=None)
        hits = s.search(vector=[1.0, 0.0], collection="m.audio", k=2).hits
        per = s.search(vector=[1.0, 0.0], collection="m.audio", k=2, per_segment=True).hits
    assert [h.id for h in hits] == ["real"] and hits[0].t_start == 0.0
    assert [h.id for h in per] == ["r0", "r1"]

"""``POST /collections/{name}/delete`` of a document with time segments
(``index/deletion.py``): a video indexed with its frames, soundtrack and subtitles, deleted by
its id from its image collection, leaves no point of it anywhere, no manifest entry, and no hit
(its subtitles' words found it before); a raw point's delete deletes that point only.

Oracle: the store read back collection by collection, the manifest file, and the same searches
before and after."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("av", reason="PyAV is not installed (pip install 'xmodal[video]')")
pytest.importorskip("fastapi")

from fastapi.testclient import TestClient

from tests.api.served import BASE
from tests.api.toy import embed, loader
from tests.index.video_toys import video_encoders, write_video
from xmodal.api.http import create_app
from xmodal.api.service import SearchService
from xmodal.index import open_index
from xmodal.index.ingest import ingest, load_manifest, manifest_path
from xmodal.index.lexical_store import open_lexical

SPANS = 2 + 1 + 2 + 2  # soundtrack spans: one tone per shot of 12, 9, 14, 11 s, cut at <= 10 s
SUBTITLE_QUERY = "violin string note"  # the last shot's subtitle: in no other document


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[TestClient, SearchService, dict, Path]]:
    folder = tmp_path / "c"
    write_video(folder / "clip.mp4")
    (folder / "note.md").write_text("red heart")
    encoders = video_encoders()
    uri = f"exact:{tmp_path / 'idx'}"
    with open_index(uri) as index:
        report = ingest(index, [folder], encoders=encoders, manifest=manifest_path(uri))
    assert report.indexed == 2
    with SearchService(uri, load=loader(encoders), router_model=None) as service, \
            TestClient(create_app(service), base_url=BASE) as client:
        yield client, service, encoders, folder


def points_of(service: SearchService, doc: str) -> dict[str, int]:
    """Per collection, the points of document ``doc`` (its own and its segments')."""
    out = {}
    for info in service.index.collections():
        col = service.index.collection(info.name)
        hits = col.search(np.ones(col.dim, np.float32), k=10_000, normalize=True)[0]
        n = sum(1 for i, p in zip(hits.ids, hits.payloads, strict=True)
                if i == doc or p.get("document_id") == doc)
        if n:
            out[info.name] = n
    return out


def hit_ids(client: TestClient, **body) -> set[str]:
    r = client.post("/search", json={"k": 10, **body})
    assert r.status_code == 200, r.text
    return {h["document_id"] for h in r.json()["hits"]}


def test_deleting_a_video_deletes_its_segments_and_manifest_entry(served):
    client, service, _, folder = served
    key = str((folder / "clip.mp4").resolve())
    doc = load_manifest(manifest_path(service.index_uri))[key]["doc"]
    assert points_of(service, doc) == {"thumb.image": 5, "tone.audio": SPANS, "toy-text.text": 4}
    assert doc in hit_ids(client, query=SUBTITLE_QUERY)  # by its subtitles (and lexically)
    vector = embed(SUBTITLE_QUERY).tolist()
    assert doc in hit_ids(client, vector=vector, collection="toy-text.text")

    r = client.post("/collections/thumb.image/delete", json={"ids": [doc, "absent"]})
    assert r.status_code == 200 and r.json() == {"deleted": 1}

    assert points_of(service, doc) == {}
    assert open_lexical(service.index).get([doc]) == [None]
    assert key not in load_manifest(manifest_path(service.index_uri))
    assert doc not in hit_ids(client, query=SUBTITLE_QUERY)
    assert doc not in hit_ids(client, vector=vector, collection="toy-text.text")
    assert doc not in hit_ids(client, vector=vector, collection="toy-text.text",
                              per_segment=True)
    assert client.get(f"/media/{doc}").status_code == 404
    assert client.get("/health").json()["documents"] == 1  # the note


def test_a_deleted_file_is_indexed_again_by_the_next_run(served):
    client, service, encoders, folder = served
    doc = load_manifest(manifest_path(service.index_uri))[str((folder / "clip.mp4").resolve())]
    # not a point of toy-text.text (only its subtitles are): nothing deleted
    assert client.post("/collections/toy-text.text/delete",
                       json={"ids": [doc["doc"]]}).json() == {"deleted": 0}
    r = client.post("/collections/thumb.image/delete", json={"ids": [doc["doc"]]})
    assert r.json() == {"deleted": 1}
    report = ingest(service.index, [folder], encoders=encoders,
                    manifest=manifest_path(service.index_uri))
    assert (report.indexed, report.unchanged) == (1, 1)
    assert points_of(service, doc["doc"]) == {"thumb.image": 5, "tone.audio": SPANS,
                                              "toy-text.text": 4}


def test_a_segment_id_or_a_raw_point_deletes_that_point_only(served):
    client, service, _, folder = served
    doc = load_manifest(manifest_path(service.index_uri))[str((folder / "clip.mp4").resolve())]
    from xmodal.index.segments import segment_id

    seg = segment_id(doc["doc"], "subtitle", 0)
    r = client.post("/collections/toy-text.text/delete", json={"ids": [seg]})
    assert r.json() == {"deleted": 1}
    assert points_of(service, doc["doc"]) == {"thumb.image": 5, "tone.audio": SPANS,
                                              "toy-text.text": 3}
    assert str((folder / "clip.mp4").resolve()) in load_manifest(
        manifest_path(service.index_uri))
    client.post("/collections/tone.audio/upsert", json={"items": [
        {"id": "raw", "vector": [1.0] + [0.0] * (service.index.collection("tone.audio").dim - 1),
         "payload": {}}]})
    assert client.post("/collections/tone.audio/delete", json={"ids": ["raw"]}).json() == \
        {"deleted": 1}
    assert points_of(service, doc["doc"])["tone.audio"] == SPANS

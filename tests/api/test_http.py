"""Each HTTP route against an independent oracle: ``xmodal search --json`` on the same index,
the Searcher called directly, numpy cosines, the files on disk, and the index read back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import xmodal.encoders
from tests.api.served import BASE, build_index, loader, png, wav
from tests.api.toy import DIM, embed
from xmodal.api.http import WEB_DIR, create_app
from xmodal.api.service import SearchService
from xmodal.cli import app as cli
from xmodal.index.ingest import load_manifest, manifest_path
from xmodal.search.searcher import Searcher


@pytest.fixture
def built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    uri, encoders, corpus = build_index(tmp_path)
    monkeypatch.setattr(xmodal.encoders, "load_encoder", loader(encoders))  # for the CLI
    return uri, encoders, corpus


@pytest.fixture
def service(built) -> Iterator[SearchService]:
    uri, encoders, _ = built
    with SearchService(uri, load=loader(encoders)) as s:  # router "minilm": not a toy
        yield s


@pytest.fixture
def client(service) -> Iterator[TestClient]:
    with TestClient(create_app(service), base_url=BASE) as c:
        yield c


def docs(service: SearchService) -> dict[str, str]:
    """File name → document id, from the manifest ``xmodal index`` wrote."""
    manifest = load_manifest(manifest_path(service.index_uri))
    return {Path(p).name: e["doc"] for p, e in manifest.items()}


def test_search_json_equals_the_cli(client, built):
    uri = built[0]
    for args, body in ((["a photo of a red heart"], {"query": "a photo of a red heart"}),
                       (["drum", "--modality", "audio", "--k", "1"],
                        {"query": "drum", "modalities": ["audio"], "k": 1}),
                       (["python", "--mixed", "--k", "3"],
                        {"query": "python", "mixed": True, "k": 3})):
        out = CliRunner().invoke(cli, ["search", *args, "--index", uri, "--json"])
        assert out.exit_code == 0, out.output
        r = client.post("/search", json=body)
        assert r.status_code == 200
        assert r.json() == json.loads(out.stdout) and r.json()["hits"]
        if body["query"] == "a photo of a red heart":
            assert Path(r.json()["hits"][0]["path"]).name == "heart.png"


def test_search_options_reach_the_searcher(client, service):
    """collections, fusion and filter: the HTTP answer equals the searcher's own."""
    for body in ({"query": "heart", "mixed": True, "filter": {"modality": "text"}},
                 {"query": "heart", "collections": ["toy-image.image"], "k": 2},
                 {"query": "drum", "mixed": True, "fusion": "calibrated"},
                 {"query": "drum", "mixed": True, "rrf_k": 5,
                  "weights": {"toy-audio.audio": 3.0}}):
        r = client.post("/search", json=body)
        assert r.status_code == 200, r.text
        opts = {k: v for k, v in body.items() if k != "query"}
        want = service.searcher.search(body["query"], **opts).to_json()
        assert r.json() == want and want["hits"]
    only_text = client.post("/search", json={"query": "heart", "mixed": True,
                                             "filter": {"modality": "text"}}).json()["hits"]
    assert {h["modality"] for h in only_text} == {"text"}
    r = client.post("/search", json={"query": "heart", "filter": {"x": 1.5}})
    assert r.status_code == 422 and "filter x: value 1.5" in r.json()["detail"]
    r = client.post("/search", json={"query": "heart", "mixed": True, "weights": {"nope": 1}})
    assert r.status_code == 422 and "no such collection" in r.json()["detail"]


def test_search_vector_equals_numpy(client, service):
    ids = sorted(docs(service).values())
    recs = [r for r in service.index.collection("toy-audio.text").get(ids) if r is not None]
    q = embed("violin string drum")
    r = client.post("/search", json={"vector": q.tolist(), "collection": "toy-audio.text",
                                     "k": 5})
    assert r.status_code == 200, r.text
    scores = {rec.id: float(rec.vector @ q) for rec in recs}
    want = sorted(scores, key=lambda i: (-scores[i], i))
    hits = r.json()["hits"]
    assert [h["id"] for h in hits] == want
    assert [h["score"] for h in hits] == pytest.approx([scores[i] for i in want], abs=1e-5)
    assert all(h["raw_scores"] == {"toy-audio.text": h["score"]} for h in hits)


def test_search_file_equals_the_searcher(client, service, built):
    oracle = Searcher(service.index, load=loader(built[1]))
    image, audio = png("cat kitten whiskers"), wav("violin string note")
    r = client.post("/search/file", files={"file": ("q.png", image, "image/png")},
                    data={"k": "2"})
    assert r.status_code == 200, r.text
    assert r.json() == oracle.search(image=image, k=2).to_json()
    assert Path(r.json()["hits"][0]["path"]).name == "cat.png"
    # no content type, no extension: the modality is guessed from the bytes
    r = client.post("/search/file", files={"file": ("blob", audio, "application/octet-stream")})
    assert r.json() == oracle.search(audio=audio, k=10).to_json()
    assert Path(r.json()["hits"][0]["path"]).name == "violin.wav"
    r = client.post("/search/file", files={"file": ("x.bin", image)},
                    data={"modality": "image", "modalities": ["text"], "k": "3"})
    assert r.json() == oracle.search(image=image, k=3, modalities=["text"]).to_json()


def test_collections_routes(client, service):
    body = client.get("/collections").json()
    assert [c["name"] for c in body["collections"]] == [i.name for i in
                                                        service.index.collections()]
    routes = {(r["query"], r["documents"]): r["route"] for r in body["routes"]}
    assert body["routes"] == service.routes() and routes["audio", "audio"] == "direct"
    assert (routes["image", "audio"], routes["text", "text"]) == ("pivot", "direct")
    one = client.get("/collections/toy-image.image").json()
    info = service.index.collection("toy-image.image").info
    assert (one["model"], one["modality"], one["dim"], one["count"]) == ("toy-image", "image",
                                                                         DIM, 3)
    assert one["card"] == info.card and one["stats"]["count"] == 3
    diag = client.get("/collections/toy-image.image/diagnostics").json()
    assert diag == service.diagnostics("toy-image.image") and diag["n"] == 3
    health = client.get("/health").json()
    assert health == {"status": "ok", "collections": 5, "documents": 7}  # 7 files indexed
    for path in ("/collections/nope", "/collections/nope/diagnostics"):
        r = client.get(path)
        assert r.status_code == 404 and r.json()["error"] == "collection_not_found"


def test_items_and_media(client, service, built):
    corpus = built[2]
    heart = docs(service)["heart.png"]
    r = client.get(f"/items/toy-image.image/{heart}")
    assert r.status_code == 200 and set(r.json()) == {"id", "payload"}
    assert r.json()["payload"]["caption"] == "a red heart"
    vec = client.get(f"/items/toy-image.image/{heart}", params={"vector": "true"}).json()
    assert np.allclose(vec["vector"], embed("heart red love"), atol=1e-6)
    r = client.get("/items/toy-image.image/nope")
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    r = client.get(f"/media/{heart}")
    assert r.status_code == 200 and r.content == (corpus / "images/heart.png").read_bytes()
    assert r.headers["content-type"] == "image/png"
    drum = client.get(f"/media/{docs(service)['drum.wav']}")
    assert drum.headers["content-type"] in ("audio/x-wav", "audio/wav")
    r = client.get("/media/..%2F..%2Fetc%2Fpasswd")
    assert r.status_code == 404


def test_upsert_and_delete(client, service):
    v = embed("blue star")
    r = client.post("/collections/toy-text.text/upsert", json={
        "items": [{"id": "n1", "vector": v.tolist(), "payload": {"caption": "blue star"}}],
        "model": "toy-text"})
    assert r.status_code == 200 and r.json() == {"inserted": 1, "updated": 0}
    rec = service.index.collection("toy-text.text").get(["n1"])[0]
    assert rec.payload == {"caption": "blue star"} and np.allclose(rec.vector, v)
    r = client.post("/collections/toy-text.text/delete", json={"ids": ["n1", "n2"]})
    assert r.json() == {"deleted": 1}
    assert service.index.collection("toy-text.text").get(["n1"]) == [None]


def test_page_and_schema(client):
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    if (WEB_DIR / "index.html").is_file():
        assert r.text == (WEB_DIR / "index.html").read_text("utf-8")
    else:
        assert "not installed" in r.text
    paths = client.get("/openapi.json").json()["paths"]
    assert set(paths) == {"/health", "/collections", "/collections/{name}",
                          "/collections/{name}/diagnostics", "/search", "/search/file",
                          "/items/{collection}/{id}", "/media/{doc_id}", "/media/{doc_id}/frame",
                          "/collections/{name}/upsert", "/collections/{name}/delete",
                          "/index"}
    r = client.get("/no/such/route")
    assert r.status_code == 404 and r.json()["error"] == "http_404"

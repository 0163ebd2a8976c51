"""SearchService against independent oracles: the Searcher called directly, numpy cosines over
the stored vectors, ``diagnose`` on the same vectors, and the manifest ``xmodal index`` wrote."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.api.served import build_index, loader, png, stored, wav
from tests.api.toy import DIM, embed
from xmodal.api.limits import (
    BadInput,
    InputTooLarge,
    NotFound,
    Overloaded,
    ReadOnly,
    ServeLimits,
    error_status,
)
from xmodal.api.service import SearchService
from xmodal.diagnostics import diagnose
from xmodal.index.ingest import load_manifest, manifest_path
from xmodal.index.types import CollectionMismatchError, CollectionNotFoundError, VectorError
from xmodal.search.searcher import Searcher


@pytest.fixture
def built(tmp_path: Path):
    return build_index(tmp_path)


@pytest.fixture
def service(built) -> Iterator[SearchService]:
    uri, encoders, _ = built
    with SearchService(uri, load=loader(encoders), router_model=None,
                       limits=ServeLimits(max_concurrency=2)) as s:
        yield s




def test_text_search_equals_the_searcher(service, built):
    _, encoders, _ = built
    oracle = Searcher(service.index, load=loader(encoders), router_model=None)
    for query, kw in (("a photo of a red heart", {}), ("drum", {"modalities": ["audio"]}),
                      ("python copy file", {"mixed": True}), ("cat", {"route": False})):
        got = service.search(query=query, k=4, **kw)
        assert got == oracle.search(query, k=4, **kw).to_json()
        assert got["hits"] and len(got["hits"]) <= 4


def test_upload_search_finds_the_matching_file(service):
    hits = service.search(image=png("cat kitten whiskers"), k=3)["hits"]
    assert Path(hits[0]["path"]).name == "cat.png"
    hits = service.search(audio=wav("drum beat loop"), k=2)["hits"]
    assert [Path(h["path"]).name for h in hits] == ["drum.wav", "violin.wav"]


def test_vector_search_equals_numpy_cosines(service):
    ids, vectors = stored(service, "toy-image.image")
    q = embed("red heart love cat")
    got = service.search(vector=(3.0 * q).tolist(), collection="toy-image.image", k=2)
    scores = vectors @ q  # oracle: brute force
    order = sorted(range(len(ids)), key=lambda i: (-scores[i], ids[i]))[:2]
    assert [h["id"] for h in got["hits"]] == [ids[i] for i in order]
    assert np.allclose([h["score"] for h in got["hits"]], scores[order], atol=1e-5)


def test_inputs_are_checked_before_any_model_runs(service, built):
    _, encoders, _ = built
    before = sum(sum(e.items.values()) for e in encoders.values())
    bad = [
        (dict(query="cat", k=0), BadInput), (dict(query="cat", k=101), BadInput),
        (dict(query="x" * 2001), InputTooLarge), (dict(query="  "), BadInput),
        (dict(), BadInput), (dict(query="cat", image=b"x"), BadInput),
        (dict(query="cat", modalities=["smell"]), BadInput),
        (dict(vector=[1.0] * DIM), BadInput),  # no collection
        (dict(vector=[float("nan")] + [0.0] * (DIM - 1), collection="toy-image.image"),
         VectorError),
        (dict(vector=[float("inf")] * DIM, collection="toy-image.image"), VectorError),
        (dict(vector=[0.0] * DIM, collection="toy-image.image"), VectorError),
        (dict(vector=[1.0] * 3, collection="toy-image.image"), VectorError),
        (dict(vector=[1.0] * DIM, collection="nope"), CollectionNotFoundError),
        (dict(vector=[1.0] * DIM, collection="toy-image.image", model="other"),
         CollectionMismatchError),
        (dict(image=b"not an image"), BadInput),
        (dict(image=png(size=(10_000, 10_000), mode="P")), InputTooLarge),
        (dict(audio=b"RIFF nonsense"), BadInput),
        (dict(audio=wav(seconds=3.0)), None),  # fine under the default limit
    ]
    for kwargs, kind in bad:
        if kind is None:
            service.search(**kwargs)
            continue
        with pytest.raises(kind) as info:
            service.search(**kwargs)
        assert error_status(info.value) is not None, kwargs
    after = sum(sum(e.items.values()) for e in encoders.values())
    assert after - before == 1  # only the valid clip was encoded


def test_limits_are_configurable(built):
    uri, encoders, _ = built
    limits = ServeLimits(max_audio_seconds=1.0, max_image_pixels=100, max_k=3,
                         max_text_chars=5)
    with SearchService(uri, load=loader(encoders), router_model=None, limits=limits) as s:
        with pytest.raises(InputTooLarge, match=r"lasts 2\.0 s; the limit is 1 s"):
            s.search(audio=wav(seconds=2.0), k=1)
        with pytest.raises(InputTooLarge, match="11 × 10 = 110 pixels"):
            s.search(image=png(size=(11, 10)), k=1)
        with pytest.raises(BadInput, match=r"k must be in \[1, 3\]"):
            s.search(query="cat", k=4)
        with pytest.raises(InputTooLarge, match="6 characters"):
            s.search(query="kitten", k=1)


def test_pil_bomb_error_is_too_large_not_bad_input(service, monkeypatch):
    from PIL import Image

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # PIL refuses above 2 × this
    with pytest.raises(InputTooLarge, match="decompression bomb"):
        service.search(image=png(size=(100, 100)))


def test_collections_health_and_diagnostics(service):
    infos = service.index.collections()
    got = service.collections()
    assert [c["name"] for c in got] == [i.name for i in infos]
    for c, i in zip(got, infos, strict=True):
        assert (c["model"], c["modality"], c["dim"], c["count"]) == (i.model, i.modality,
                                                                      i.dim, i.count)
        assert c["card"]["modalities"] == list(i.card["modalities"])
    one = service.collection("toy-image.image")
    assert one["count"] == 3 and one["stats"]["count"] == 3
    manifest = load_manifest(manifest_path(service.index_uri))
    assert service.health() == {"status": "ok", "collections": len(infos),
                                "documents": len(manifest)}
    _, vectors = stored(service, "toy-image.text")
    d = diagnose(vectors)
    got = service.diagnostics("toy-image.text")
    assert got["sampled"] == got["n"] == 3 and got["dim"] == DIM
    assert got["random_pair_mean"] == pytest.approx(d.random_pair_mean)
    assert got["effective_rank"] == pytest.approx(d.effective_rank)
    assert [f["code"] for f in got["findings"]] == [f.code for f in d.findings]
    with pytest.raises(CollectionNotFoundError):
        service.diagnostics("nope")


def test_get_upsert_delete_round_trip(service):
    name = "toy-text.text"
    v = embed("blue star")
    assert service.upsert(name, [{"id": "new", "vector": (2 * v).tolist(),
                                  "payload": {"caption": "blue star"}}], normalize=True) \
        == {"inserted": 1, "updated": 0}
    got = service.get(name, ["new", "absent"], with_vectors=True)
    assert got[1] is None and got[0]["payload"] == {"caption": "blue star"}
    assert np.allclose(got[0]["vector"], v, atol=1e-6)
    assert "vector" not in service.get(name, ["new"])[0]
    hits = service.search(vector=v.tolist(), collection=name, k=1)["hits"]
    assert hits[0]["id"] == "new" and hits[0]["score"] == pytest.approx(1.0, abs=1e-5)
    assert service.delete(name, ["new", "absent"]) == {"deleted": 1}
    assert service.get(name, ["new"]) == [None]


def test_write_refusals(service, built):
    name, v = "toy-text.text", embed("star").tolist()
    with pytest.raises(CollectionMismatchError):
        service.upsert(name, [{"id": "x", "vector": v}], model="another-model")
    with pytest.raises(VectorError, match="x"):
        service.upsert(name, [{"id": "x", "vector": [float("nan")] * DIM}])
    with pytest.raises(VectorError):
        service.upsert(name, [{"id": "x", "vector": [0.5] * DIM}])  # not unit, no normalize
    with pytest.raises(BadInput, match="not plain JSON"):
        service.upsert(name, [{"id": "x", "vector": v, "payload": {"n": float("nan")}}])
    with pytest.raises(BadInput):
        service.get(name, [])
    uri, encoders, _ = built
    with SearchService(uri, load=loader(encoders), router_model=None, read_only=True) as ro:
        with pytest.raises(ReadOnly):
            ro.upsert(name, [{"id": "x", "vector": v}])
        with pytest.raises(ReadOnly):
            ro.delete(name, ["x"])
    assert error_status(ReadOnly("r")) == (403, "read_only")


def test_media_path_only_serves_manifest_files(service, built):
    _, _, corpus = built
    manifest = load_manifest(manifest_path(service.index_uri))
    path, entry = next((p, e) for p, e in manifest.items() if p.endswith("heart.png"))
    assert service.media_path(entry["doc"]) == Path(path)
    assert service.media_path(entry["doc"]).read_bytes() == (corpus / "images/heart.png")\
        .read_bytes()
    with pytest.raises(NotFound):
        service.media_path("no-such-doc")
    # a payload written through the API never makes a file servable
    secret = corpus.parent / "secret.txt"
    secret.write_text("private")
    service.upsert("toy-text.text", [{"id": "evil", "vector": embed("star").tolist(),
                                      "payload": {"path": str(secret)}}])
    with pytest.raises(NotFound):
        service.media_path("evil")
    Path(path).unlink()  # a file gone since indexing
    with pytest.raises(NotFound, match="gone"):
        service.media_path(entry["doc"])


def test_slots_refuse_instead_of_queueing(service):
    with service.slot(), service.slot():
        with pytest.raises(Overloaded) as info:
            service.try_acquire()
        assert error_status(info.value) == (429, "overloaded")
    with service.slot():  # released again
        pass


def test_routes_follow_upserts_and_deletes(tmp_path):
    from xmodal.index import open_index

    card = {"modalities": ["text", "image"], "family": "lit"}
    uri = "exact:" + str(tmp_path / "idx")
    with open_index(uri) as index:
        index.create_collection("m.image", dim=DIM, model="m", modality="image", card=card)
        index.create_collection("m.text", dim=DIM, model="m", modality="text", card=card)
    with SearchService(uri, router_model=None) as service:
        def route(q: str, d: str) -> str:
            return next(r["route"] for r in service.routes()
                        if (r["query"], r["documents"]) == (q, d))

        assert route("image", "text") == "none"
        service.upsert("m.text", [{"id": "doc", "vector": embed("red heart").tolist(),
                                   "payload": {"modality": "text", "path": "/d.txt"}}])
        assert route("image", "text") == "direct" and route("image", "image") == "none"
        service.delete("m.text", ["doc"])
        assert route("image", "text") == "none"
@pytest.mark.parametrize("batch_size, steps", [(None, 3), (8, 3), (100, 2)])
def test_index_paths_stores_batch_size_files_a_step(built, tmp_path, batch_size, steps):
    """``POST /index`` and the MCP ``index_paths`` store ``max(64, --batch-size)`` files a
    step, as ``xmodal index`` does: 130 text files are encoded in ceil(130 / that) calls."""
    from tests.api.test_mcp_media import call

    uri, encoders, corpus = built
    for n in range(130):
        (corpus / "many" / f"{n:03d}.txt").parent.mkdir(exist_ok=True)
        (corpus / "many" / f"{n:03d}.txt").write_text(f"a blue star {n}", "utf-8")
    text = encoders["text"]
    with SearchService(uri, load=loader(encoders), router_model=None, index_root=corpus,
                       batch_size=batch_size) as s:
        before = text.calls["document"]
        assert s.index_paths(["many"])["indexed"] == 130
        assert text.calls["document"] - before == steps
        (corpus / "more").mkdir()
        for n in range(130):
            (corpus / "more" / f"{n:03d}.txt").write_text(f"a red heart {n}", "utf-8")
        before = text.calls["document"]
        _, got = call(s, [("index_paths", {"paths": ["more"]})], allow_index=True)
        assert got[0].structured_content["indexed"] == 130
        assert text.calls["document"] - before == steps

"""``POST /index`` (folder indexing confined to ``xmodal serve --root``) against an oracle: the
same folder indexed by ``xmodal index --json`` into a second index gives the same JSON and the
same search hits. Every refusal names the path; nothing refused reaches an encoder.

Refusals: no root configured 403 ``indexing_disabled``; read-only 403 ``read_only``; ``..``,
a symbolic link (the path or any component), an absolute path outside the root, a missing path,
no path at all: 422 ``bad_input``; more than ``MAX_INDEX_PATHS`` paths: 413 ``too_large`` (like
every other batch limit of the API)."""

from __future__ import annotations

import json
import os
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import xmodal.encoders
from tests.api.served import BASE, loader
from tests.api.toy import ToyEncoder, toy_encoders, write_corpus
from xmodal.api.folders import MAX_INDEX_PATHS, confine
from xmodal.api.http import create_app
from xmodal.api.limits import ServeLimits
from xmodal.api.service import SearchService
from xmodal.cli import app as cli
from xmodal.index import open_index
from xmodal.index.ingest import ingest, load_manifest, manifest_path
from xmodal.search.searcher import Searcher

NEW = {  # a folder added after the index was built: 3 good files and 3 bad ones
    "star.png": "blue star", "star.txt": "a blue star",
    "rain.wav": "rain loop",
    "dogs.md": "a dog will bark",
    "bad.png": "BAD not an image",  # undecodable: failed
    "data.bin": "binary",  # unsupported: skipped
    "empty.md": "",  # empty: skipped
}
QUERIES = ("blue star", "rain", "dog bark", "a red heart")


def write_new(folder: Path, files: dict[str, str] = NEW) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_bytes(text.encode())
    return folder


def base_index(uri: str, base: Path, encoders: dict[str, ToyEncoder]) -> None:
    with open_index(uri) as index:
        ingest(index, [base], encoders=encoders, manifest=manifest_path(uri))


class Setup:
    """A root folder ``files/`` (``base/``: the toy corpus, indexed; ``new/``: not yet), the
    served index, its toy encoders and a loader that counts the loads per model."""

    def __init__(self, tmp: Path) -> None:
        self.tmp, self.root = tmp, tmp / "files"
        self.base = write_corpus(self.root / "base")
        self.new = write_new(self.root / "new")
        self.uri = "exact:" + str(tmp / "idx")
        self.encoders = toy_encoders()
        base_index(self.uri, self.base, self.encoders)
        self.loads: Counter[str] = Counter()

        def load(name: str) -> Any:  # looked up at each load: a test may swap an encoder
            self.loads[name] += 1
            return loader(self.encoders)(name)

        self.load = load

    def service(self, **kw: Any) -> SearchService:
        kw.setdefault("index_root", self.root)
        return SearchService(self.uri, load=self.load, router_model=None, **kw)

    def calls(self) -> int:
        return sum(sum(e.calls.values()) for e in self.encoders.values())


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    return Setup(tmp_path)


@pytest.fixture
def client(setup: Setup) -> Iterator[TestClient]:
    with setup.service() as service, TestClient(create_app(service), base_url=BASE) as c:
        yield c


def err(r: Any, status: int, code: str, *words: str) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error", "detail"} and body["error"] == code, body
    for w in words:
        assert w in body["detail"], body


def no_seconds(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k != "seconds"}


def test_index_route_equals_the_cli(setup, client, monkeypatch):
    os.mkfifo(setup.new / "pipe.wav")  # never opened (reading it would block forever)
    r = client.post("/index", json={"paths": ["new"]})
    assert r.status_code == 200, r.text
    got = r.json()
    # the oracle: the same base, then `xmodal index new --json`, into a second index
    oracle_uri, oracle_enc = "exact:" + str(setup.tmp / "oracle"), toy_encoders()
    base_index(oracle_uri, setup.base, oracle_enc)
    monkeypatch.setattr(xmodal.encoders, "load_encoder", loader(oracle_enc))
    out = CliRunner().invoke(cli, ["index", str(setup.new), "--index", oracle_uri, "--json",
                                   "--image-model", "toy-image", "--audio-model", "toy-audio",
                                   "--text-model", "toy-text"])
    assert out.exit_code == 0, out.output
    want = json.loads(out.stdout)
    assert no_seconds(got) == no_seconds(want)
    assert (got["indexed"], got["unchanged"]) == (3, 0)
    assert [Path(p["path"]).name for p in got["failed"]] == ["bad.png"]
    assert {Path(p["path"]).name for p in got["skipped"]} == {"data.bin", "empty.md",
                                                              "pipe.wav"}
    # searchable at once, with the oracle's hits
    with open_index(oracle_uri) as index:
        oracle = Searcher(index, load=loader(oracle_enc), router_model=None)
        for q in QUERIES:
            hits = client.post("/search", json={"query": q, "k": 5}).json()
            assert hits == oracle.search(q, k=5).to_json() and hits["hits"]
    top = client.post("/search", json={"query": "blue star"}).json()["hits"][0]
    assert top["path"] == str(setup.new.resolve() / "star.png")
    assert client.get("/health").json()["documents"] == 7 + 3  # the manifest cache re-read
    assert all(n == 1 for n in setup.loads.values()), setup.loads  # each model loaded once


def test_reposting_encodes_nothing(setup, client):
    first = client.post("/index", json={"paths": ["new"]}).json()
    calls = setup.calls()
    again = client.post("/index", json={"paths": [str(setup.root.resolve() / "new")]})
    assert again.status_code == 200, again.text
    body = again.json()
    assert (body["indexed"], body["unchanged"], body["replaced"]) == (0, 3, 0)
    assert body["failed"] == first["failed"]  # a bad file is retried, and fails again
    assert setup.calls() == calls + 1  # that one encode_image call of bad.png, nothing else


def test_prune_deletes_only_under_the_given_paths(setup, client):
    client.post("/index", json={"paths": ["new"]})
    (setup.new / "dogs.md").unlink()
    (setup.base / "docs" / "copy.md").unlink()  # gone too, but not under the path given
    body = client.post("/index", json={"paths": ["new"], "prune": True}).json()
    assert (body["pruned"], body["unchanged"]) == (1, 2)
    kept = load_manifest(manifest_path(setup.uri))
    assert str(setup.base.resolve() / "docs" / "copy.md") in kept
    assert str(setup.new.resolve() / "dogs.md") not in kept


def test_new_collections_become_searchable(tmp_path):
    """A modality the index did not hold: the default model is loaded (through the searcher's
    cache) and its new collection is searched right after."""
    from xmodal.commands.index import DEFAULT_MODELS

    root = tmp_path / "files"
    corpus = write_corpus(root / "c")
    encoders = toy_encoders()
    uri = "exact:" + str(tmp_path / "idx")
    base_index(uri, corpus / "images", encoders)
    by_name = {**{e.card.name: e for e in encoders.values()},
               DEFAULT_MODELS["audio"]: encoders["audio"]}
    with SearchService(uri, load=by_name.__getitem__, router_model=None,
                       index_root=root) as service, \
            TestClient(create_app(service), base_url=BASE) as c:
        assert "toy-audio.audio" not in [x["name"] for x in c.get("/collections").json()[
            "collections"]]
        body = c.post("/index", json={"paths": ["c/sounds"]}).json()
        assert body["indexed"] == 2 and "toy-audio.audio" in body["collections"]
        hits = c.post("/search", json={"query": "violin", "modalities": ["audio"]}).json()
        assert Path(hits["hits"][0]["path"]).name == "violin.wav"


def test_a_model_that_will_not_load_skips_only_its_files(setup):
    """Its files are skipped with the load error, and never pruned; the rest is indexed."""
    def load(name: str) -> Any:
        if name == "toy-audio":
            raise OSError("weights missing")
        return loader(setup.encoders)(name)

    with SearchService(setup.uri, load=load, router_model=None,
                       index_root=setup.root) as service:
        body = service.index_paths(["new", "base/sounds"], prune=True)
    assert (body["indexed"], body["pruned"]) == (2, 0)  # star.png, dogs.md
    why = {Path(p["path"]).name: p["reason"] for p in body["skipped"]}
    assert why["rain.wav"] == why["drum.wav"] == ("no encoder for audio (toy-audio would not "
                                                  "load: weights missing)")
    kept = load_manifest(manifest_path(setup.uri))
    assert str(setup.base.resolve() / "sounds" / "drum.wav") in kept


def test_refusals_name_the_path(setup, client, tmp_path):
    outside = tmp_path / "elsewhere"
    write_new(outside)
    (setup.root / "out").symlink_to(outside, target_is_directory=True)
    (setup.root / "alias").symlink_to(setup.new, target_is_directory=True)
    (setup.root / "star-link.png").symlink_to(setup.new / "star.png")
    calls = setup.calls()
    for path, words in (("new/../base", ["'..'"]), ("../elsewhere", ["'..'"]),
                        ("out", ["symbolic link"]), ("alias", ["symbolic link"]),
                        ("alias/star.png", ["alias is a symbolic link"]),
                        ("star-link.png", ["symbolic link"]),
                        (str(outside), ["outside the root"]), ("/etc/passwd", ["outside"]),
                        ("nope", ["no such file"]), ("new/nope.png", ["no such file"]),
                        ("", ["non-empty"])):
        err(client.post("/index", json={"paths": ["new", path]}), 422, "bad_input",
            repr(path), *words)
    err(client.post("/index", json={"paths": []}), 422, "bad_input", "at least one path")
    err(client.post("/index", json={"paths": ["new"] * (MAX_INDEX_PATHS + 1)}), 413,
        "too_large", f"{MAX_INDEX_PATHS + 1} paths", f"limit is {MAX_INDEX_PATHS}")
    err(client.post("/index", json={"paths": "new"}), 422, "invalid_request", "paths")
    assert setup.calls() == calls  # nothing refused reached an encoder
    assert str(setup.new.resolve() / "star.png") not in load_manifest(manifest_path(setup.uri))


def test_off_without_a_root_and_when_read_only(setup):
    calls = setup.calls()
    for kw, code, words in (({"index_root": None}, "indexing_disabled", ["--root"]),
                            ({"read_only": True}, "read_only", ["read-only"])):
        with setup.service(**kw) as service, \
                TestClient(create_app(service), base_url=BASE) as c:
            err(c.post("/index", json={"paths": ["new"]}), 403, code, *words)
    assert setup.calls() == calls and not setup.loads


def test_confine_checks_every_component(tmp_path):
    root = tmp_path.resolve()
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "f.md").write_text("x")
    assert confine(root, "a/b/f.md") == root / "a/b/f.md"
    assert confine(root, ".") == root and confine(root, str(root / "a")) == root / "a"
    (root / "l").symlink_to(root / "a")
    with pytest.raises(ValueError, match="'l/b': l is a symbolic link"):
        confine(root, "l/b")


class SlowImages(ToyEncoder):
    """``encode_image`` waits for :attr:`go` (and says it arrived through :attr:`entered`),
    checking that it runs under the searcher's lock of its model."""

    def __init__(self, lock_of: Any = None) -> None:
        super().__init__("toy-image", ("text", "image"))
        self.go, self.entered, self.lock_of = threading.Event(), threading.Semaphore(0), lock_of
        self.locked: list[bool] = []

    def encode_image(self, items: Any, errors: str | None = None, workers: int = 0) -> Any:
        if self.lock_of is not None:
            self.locked.append(self.lock_of().locked())
        self.entered.release()
        self.go.wait(timeout=30)
        return super().encode_image(items, errors, workers)


def test_searches_run_while_indexing(setup):
    """Indexing holds one work slot: searches keep working (a search needing the model the
    ingest is using waits for its lock); when every slot is busy: 429, never a 500."""
    slow = setup.encoders["image"] = SlowImages()
    service = setup.service(limits=ServeLimits(max_concurrency=2))
    slow.lock_of = lambda: service.searcher._encode_locks["toy-image"]
    answers: dict[str, Any] = {}
    with service, TestClient(create_app(service), base_url=BASE) as c:
        def post(key: str, path: str, body: dict[str, Any]) -> threading.Thread:
            def run() -> None:  # a client retrying on 429 (the probes below take slots too)
                for _ in range(500):
                    answers[key] = c.post(path, json=body)
                    if answers[key].status_code != 429:
                        return
                    threading.Event().wait(0.02)

            t = threading.Thread(target=run)
            t.start()
            return t

        threads = [post("index", "/index", {"paths": ["new"]})]
        try:
            assert slow.entered.acquire(timeout=20)  # the ingest is inside encode_image
            r = c.post("/search", json={"query": "dog", "collections": ["toy-text.text"]})
            assert r.status_code == 200 and r.json()["hits"]  # another model: not blocked
            # a search needing toy-image waits for its lock, holding the second slot
            threads.append(post("search", "/search", {"query": "heart", "k": 1}))
            for _ in range(500):
                if (r := c.get("/health")).status_code == 429:
                    break
                threading.Event().wait(0.02)
            err(r, 429, "overloaded", "2 work slots")
        finally:
            slow.go.set()
            for t in threads:
                t.join(timeout=30)
        assert answers["index"].status_code == 200, answers["index"].text
        assert answers["index"].json()["indexed"] == 3
        assert answers["search"].status_code == 200, answers["search"].text
        assert slow.locked and all(slow.locked)  # the ingest encoded under the model's lock


@pytest.mark.parametrize("index_timeout_s", [30.0, 0.2])
def test_index_has_its_own_timeout(setup, index_timeout_s):
    """``POST /index`` runs within ``index_timeout_s``, not the (shorter) request timeout; past
    it: 504, and the ingest finishes in the background, in its slot."""
    slow = setup.encoders["image"] = SlowImages()
    limits = ServeLimits(request_timeout_s=0.2, index_timeout_s=index_timeout_s)
    with setup.service(limits=limits) as service, \
            TestClient(create_app(service), base_url=BASE) as c:
        release = threading.Timer(1.0, slow.go.set)  # longer than request_timeout_s
        release.start()
        try:
            r = c.post("/index", json={"paths": ["new"]})
        finally:
            slow.go.set()
            release.cancel()
        if index_timeout_s > 1:
            assert r.status_code == 200 and r.json()["indexed"] == 3, r.text
        else:
            err(r, 504, "timeout", "0.2 s")
            assert slow.entered.acquire(timeout=20)  # the ingest had started
        with service._write_lock:  # the abandoned ingest finishes before the index closes
            pass
    assert str(setup.new.resolve() / "star.png") in load_manifest(manifest_path(setup.uri))


def test_shared_encoder_is_the_cached_one_under_its_lock(setup):
    with open_index(setup.uri) as index:
        searcher = Searcher(index, load=setup.load, router_model=None)
        shared = searcher.shared_encoder("toy-image")
        assert shared.card is setup.encoders["image"].card
        assert searcher.shared_encoder("toy-image").card is shared.card
        assert setup.loads["toy-image"] == 1
        lock = searcher._encode_locks["toy-image"]
        seen: list[bool] = []
        real = setup.encoders["image"].encode_text
        setup.encoders["image"].encode_text = lambda t, **kw: seen.append(lock.locked()) or \
            real(t, **kw)
        shared.encode_text(["red heart"])
        assert seen == [True] and not lock.locked()


def test_serve_root_option(setup, monkeypatch):
    import xmodal.api.http as http

    seen: list[Any] = []

    class FakeUvicorn:
        @staticmethod
        def run(app: Any, **kw: Any) -> None:
            seen.append(app.state.service.index_root)

    monkeypatch.setattr(http, "require_uvicorn", lambda: FakeUvicorn)
    out = CliRunner().invoke(cli, ["serve", "--index", setup.uri, "--router-model", "",
                                   "--root", str(setup.root)])
    assert out.exit_code == 0, out.output
    assert seen == [setup.root.resolve()] and "POST /index under" in out.output
    out = CliRunner().invoke(cli, ["serve", "--index", setup.uri, "--root",
                                   str(setup.root / "nope")])
    assert out.exit_code == 2 and "is not a folder" in out.output and len(seen) == 1
    out = CliRunner().invoke(cli, ["serve", "--index", setup.uri, "--router-model", ""])
    assert out.exit_code == 0 and seen[-1] is None


def test_index_route_quantization(setup, client):
    cols = client.get("/collections").json()["collections"]
    assert cols and {c["quantization"] for c in cols} == {"none"}  # the base index's setting
    r = client.post("/index", json={"paths": ["new"], "quantization": "int4"})
    assert r.status_code == 422, r.text
    err(client.post("/index", json={"paths": ["new"], "quantization": "scalar"}), 409,
        "collection_mismatch", "stored with quantization 'none'; asked for 'scalar'")
    assert client.get("/health").json()["documents"] == 7  # nothing stored
    r = client.post("/index", json={"paths": ["new"], "quantization": "none"})
    assert r.status_code == 200 and r.json()["indexed"] == 3, r.text


def test_index_route_stores_text_documents_in_every_shared_space(setup, client):
    r = client.post("/index", json={"paths": ["new"]})
    assert r.status_code == 200, r.text
    assert {"toy-image.text", "toy-audio.text"} <= set(r.json()["collections"])
    dogs = str((setup.new / "dogs.md").resolve())
    entry = load_manifest(manifest_path(setup.uri))[dogs]
    assert entry["collections"] == ["toy-audio.text", "toy-image.text", "toy-text.text"]
    with open_index(setup.uri) as index:
        for name in entry["collections"]:
            (rec,) = index.collection(name).get([entry["doc"]])
            assert (rec.payload["path"], rec.payload["modality"]) == (dogs, "text")
    routes = {(c["query"], c["documents"]): c for c in client.get("/collections").json()[
        "routes"]}  # refreshed after the ingest
    assert routes["audio", "text"]["lists"] == ["toy-audio.text[text]"]

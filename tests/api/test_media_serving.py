"""``GET /media/{doc_id}`` apart from the search work: no work slot, its own bounded places with
a short queue, ETag and 304, Cache-Control, and ranges for audio.

Oracles: the files' bytes on disk; the document ids of a manifest written here (content
addressed with :func:`~xmodal.index.validate.document_id`, or not); searches held inside a
slow encoder (so every work slot is provably taken: ``/health`` answers 429); and a counter of
the files open at once, patched into Starlette's ``FileResponse`` (the only place the route
reads a file)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")

import anyio
from fastapi.responses import FileResponse
from fastapi.testclient import TestClient

from tests.api.served import BASE, png, slow_index, wav
from xmodal.api import http
from xmodal.api.guard import Lane
from xmodal.api.http import create_app
from xmodal.api.limits import ServeLimits
from xmodal.api.media import IMMUTABLE, REVALIDATE, media_lane
from xmodal.api.service import SearchService
from xmodal.index.ingest import manifest_path
from xmodal.index.manifest import save_manifest
from xmodal.index.validate import document_id

N_FILES = 20


def _write_manifest(uri: str, root: Path) -> dict[str, Path]:
    """``N_FILES`` PNGs (content-addressed ids), a 1 s WAV (``sound``) and a PNG under a plain
    id (``plain``) listed in the index's manifest: doc id → file."""
    files: dict[str, Path] = {}
    for i in range(N_FILES):
        path = root / f"img{i:02d}.png"
        path.write_bytes(png(f"image {i}", size=(16 + i, 16)))
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        files[document_id(str(path), sha)] = path
    (root / "sound.wav").write_bytes(wav("a tone", seconds=1.0))
    (root / "plain.png").write_bytes(png("plain"))
    files["sound"], files["plain"] = root / "sound.wav", root / "plain.png"
    manifest = {str(p): {"doc": doc, "collections": [],
                         "sha256": hashlib.sha256(p.read_bytes()).hexdigest()}
                for doc, p in files.items()}
    save_manifest(manifest_path(uri), manifest)
    return files


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[TestClient, Any, dict[str, Path]]]:
    """(client, slow encoder, doc id → file) of an app with 2 work slots and 4 media places."""
    uri, enc = slow_index(tmp_path)
    files = _write_manifest(uri, tmp_path)
    limits = ServeLimits(max_concurrency=2, max_media_streams=4)
    with SearchService(uri, load=lambda name: enc, router_model=None, limits=limits) as s, \
            TestClient(create_app(s), base_url=BASE) as client:
        yield client, enc, files
        enc.go.set()


def images(files: dict[str, Path]) -> dict[str, Path]:
    return {doc: p for doc, p in files.items() if doc not in ("sound", "plain")}


@contextlib.contextmanager
def open_files_counted(monkeypatch: pytest.MonkeyPatch, hold_s: float = 0.0,
                       release: threading.Event | None = None) -> Iterator[dict[str, int]]:
    """Count the files FileResponse holds open at once (``now``, ``most``, ``opened``); each
    stays open ``hold_s`` seconds longer (and until ``release`` is set), so concurrent
    requests overlap."""
    original = FileResponse._open_file
    count = {"now": 0, "most": 0, "opened": 0}

    @contextlib.asynccontextmanager
    async def counted(self: FileResponse) -> AsyncIterator[Any]:
        count["now"] += 1  # one event loop: no lock needed
        count["opened"] += 1
        count["most"] = max(count["most"], count["now"])
        try:
            await anyio.sleep(hold_s)
            while release is not None and not release.is_set():
                await anyio.sleep(0.01)
            async with original(self) as file:
                yield file
        finally:
            count["now"] -= 1

    monkeypatch.setattr(FileResponse, "_open_file", counted)
    yield count


def fetch_all(client: TestClient, docs: list[str], **kw: Any) -> list[Any]:
    with ThreadPoolExecutor(len(docs)) as pool:
        return list(pool.map(lambda d: client.get(f"/media/{d}", **kw), docs))


def test_media_are_served_while_searches_hold_every_work_slot(served):
    client, enc, files = served
    searches = ThreadPoolExecutor(2)
    pending = [searches.submit(client.post, "/search", json={"query": "cat", "k": 1})
               for _ in range(2)]
    assert enc.entered.acquire(timeout=10)  # a search is inside the encoder
    for _ in range(200):  # both searches hold their slot: work is refused
        if client.get("/health").status_code == 429:
            break
        threading.Event().wait(0.05)
    assert client.get("/health").status_code == 429
    docs = list(images(files))
    answers = fetch_all(client, docs)  # 20 at once: over the 4 places and the 8 requests
    assert [r.status_code for r in answers] == [200] * N_FILES
    assert [r.content for r in answers] == [files[d].read_bytes() for d in docs]
    assert client.get("/health").status_code == 429  # the searches still hold the slots
    enc.go.set()
    assert [f.result(timeout=10).status_code for f in pending] == [200, 200]


def test_media_places_bound_the_files_open_at_once(served, monkeypatch):
    client, _, files = served
    docs = list(images(files))[:12]
    with open_files_counted(monkeypatch, hold_s=0.15) as count:
        answers = fetch_all(client, docs)
    assert [r.status_code for r in answers] == [200] * 12  # queued, not refused
    assert count["opened"] == 12
    assert count["most"] == 4  # max_media_streams: reached, never passed


def test_a_full_media_queue_answers_429_with_retry_after(tmp_path, monkeypatch):
    uri, enc = slow_index(tmp_path)
    files = _write_manifest(uri, tmp_path)
    lanes: list[Lane] = []
    monkeypatch.setattr(http, "media_lane", lambda limits: lanes.append(media_lane(limits))
                        or lanes[-1])
    release = threading.Event()
    limits = ServeLimits(max_media_streams=1)  # 1 place + 4 waiting
    with SearchService(uri, load=lambda name: enc, router_model=None, limits=limits) as s, \
            TestClient(create_app(s), base_url=BASE) as client, \
            open_files_counted(monkeypatch, release=release), ThreadPoolExecutor(8) as pool:
        pending = [pool.submit(client.get, f"/media/{d}") for d in list(images(files))[:8]]
        done: list[Any] = []
        for _ in range(200):  # until 1 is inside, 4 wait and the 3 others have their answer
            done = [f for f in pending if f.done()]
            if len(done) == 3 and lanes[0].waiting == 4:
                break
            threading.Event().wait(0.02)
        refused = [f.result() for f in done]
        assert (lanes[0].inside, lanes[0].waiting) == (1, 4)
        release.set()
        admitted = [f.result(timeout=10) for f in pending if f not in done]
    assert [r.status_code for r in refused] == [429] * 3
    assert refused[0].headers["retry-after"] == "1"
    assert refused[0].json()["error"] == "overloaded" and "/media/" in refused[0].json()["detail"]
    assert [r.status_code for r in admitted] == [200] * 5  # the queue waited its turn
    assert (lanes[0].inside, lanes[0].waiting) == (0, 0)


def test_etag_and_if_none_match(served):
    client, _, files = served
    doc = next(iter(images(files)))
    first = client.get(f"/media/{doc}")
    tag = first.headers["etag"]
    assert first.status_code == 200 and tag.startswith('"') and tag.endswith('"')
    sha = hashlib.sha256(files[doc].read_bytes()).hexdigest()
    assert tag.startswith(f'"{sha[:16]}-')
    for given in (tag, f'"other", {tag}', f"W/{tag}", "*"):
        again = client.get(f"/media/{doc}", headers={"If-None-Match": given})
        assert again.status_code == 304 and again.content == b"", given
        assert again.headers["etag"] == tag
        assert again.headers["cache-control"] == IMMUTABLE
    assert client.get(f"/media/{doc}", headers={"If-None-Match": '"old"'}).status_code == 200
    st = files[doc].stat()  # the file changes on disk: a new ETag, the old one no longer 304
    os.utime(files[doc], ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    changed = client.get(f"/media/{doc}", headers={"If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["etag"] != tag


def test_cache_control_is_immutable_only_for_content_addressed_ids(served):
    client, _, files = served
    for doc in images(files):
        assert client.get(f"/media/{doc}").headers["cache-control"] == IMMUTABLE
    assert client.get("/media/plain").headers["cache-control"] == REVALIDATE
    missing = client.get("/media/nope")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"


def test_audio_range_requests(served):
    client, _, files = served
    data = files["sound"].read_bytes()
    n = len(data)
    full = client.get("/media/sound")
    assert full.status_code == 200 and full.headers["accept-ranges"] == "bytes"
    assert full.headers["content-type"] in ("audio/x-wav", "audio/wav")
    for header, (a, b) in (("bytes=0-43", (0, 43)), ("bytes=1000-1999", (1000, 1999)),
                           ("bytes=-100", (n - 100, n - 1)), (f"bytes={n - 5}-", (n - 5, n - 1))):
        r = client.get("/media/sound", headers={"Range": header})
        assert r.status_code == 206, header
        assert r.content == data[a:b + 1] and r.headers["content-range"] == f"bytes {a}-{b}/{n}"
        assert r.headers["etag"] == full.headers["etag"]
    r = client.get("/media/sound", headers={"Range": f"bytes={n}-{n + 10}"})
    assert r.status_code == 416 and r.headers["content-range"] == f"bytes */{n}"
    stale = client.get("/media/sound", headers={"Range": "bytes=0-9", "If-Range": '"old"'})
    assert stale.status_code == 200 and stale.content == data  # If-Range mismatch: whole file
    fresh = client.get("/media/sound", headers={"Range": "bytes=0-9",
                                                "If-Range": full.headers["etag"]})
    assert fresh.status_code == 206 and fresh.content == data[:10]

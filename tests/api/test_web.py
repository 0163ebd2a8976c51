"""The web page (``GET /``) end to end in headless Chromium, against the real app under uvicorn.

The oracle for every result list is the HTTP API itself, called directly with the same query:
the page must show the same hits in the same order, with media that load, the router's trace,
scores labelled by kind, the server's error details, and captions as text (never HTML).
Screenshots of each state go to a per-run temporary folder, and to ``$XMODAL_ARTIFACTS`` too
when that is set.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.api.served import png, wav
from tests.api.toy import loader, toy_encoders
from xmodal.index import open_index
from xmodal.index.ingest import ingest, manifest_path

CHROMIUM = Path("/usr/bin/chromium")
pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
pytest.importorskip("uvicorn", reason="uvicorn is not installed (pip install 'xmodal[serve]')")
httpx = pytest.importorskip("httpx", reason="httpx is not installed")
pytestmark = pytest.mark.skipif(not CHROMIUM.is_file(), reason=f"no Chromium at {CHROMIUM}")

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402

from xmodal.api.http import create_app  # noqa: E402
from xmodal.api.service import SearchService  # noqa: E402

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
XSS = '<img src=x onerror="window.__xss=1"> blue star'
TIMEOUT_MS = 10_000


# -- the served index --------------------------------------------------------------------


def _draw_png(path: Path, words: str, color: str) -> None:
    """A real 96×96 PNG (a coloured disc); ``words`` in a text chunk, for the toy encoder."""
    from PIL import Image, ImageDraw, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("c", words)
    image = Image.new("RGB", (96, 96), "white")
    ImageDraw.Draw(image).ellipse((12, 12, 84, 84), fill=color)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, "PNG", pnginfo=info)


def _write_wav(path: Path, words: str, hz: float) -> None:
    """Half a second of a sine tone; ``words`` in its title, for the toy encoder."""
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(4000) / 8000
    with sf.SoundFile(path, "w", 8000, 1, format="WAV") as f:
        f.title = words
        f.write(0.3 * np.sin(2 * np.pi * hz * t))


def _corpus(root: Path) -> Path:
    """3 captioned images (one caption is an XSS attempt), 2 sounds, 2 text documents."""
    for name, words, color, caption in (("heart", "heart red love", "red", "a red heart"),
                                        ("cat", "cat kitten whiskers", "orange",
                                         "a cat with whiskers"),
                                        ("star", "blue star", "royalblue", XSS)):
        _draw_png(root / "images" / f"{name}.png", words, color)
        (root / "images" / f"{name}.txt").write_text(caption)
    _write_wav(root / "sounds" / "drum.wav", "drum beat loop", 110)
    _write_wav(root / "sounds" / "violin.wav", "violin string note", 440)
    (root / "docs").mkdir()
    (root / "docs" / "copy.md").write_text("how to copy a file in python")
    (root / "docs" / "sorting.txt").write_text("sort a list in python")
    return root


class Served:
    """The running app: its base URL and a client for oracle calls."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=10)

    def search(self, **body: Any) -> httpx.Response:
        return self.http.post("/search", json=body)

    def search_file(self, name: str, data: bytes, mime: str, **form: Any) -> httpx.Response:
        return self.http.post("/search/file", files={"file": (name, data, mime)},
                              data={k: str(v) for k, v in form.items()})


@contextlib.contextmanager
def _serving(app: Any) -> Iterator[str]:
    """uvicorn serving ``app`` in a thread on a free loopback port; yields the base URL."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # a free port, held until uvicorn takes the socket
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SearchService]:
    """The toy corpus, ingested (with its manifest, for /media), behind a SearchService."""
    root = tmp_path_factory.mktemp("web")
    corpus, encoders, uri = _corpus(root / "corpus"), toy_encoders(), "exact:" + str(root / "idx")
    with open_index(uri) as index:
        ingest(index, [corpus], encoders=encoders, manifest=manifest_path(uri))
    with SearchService(uri, load=loader(encoders), router_model=None) as s:
        yield s


@pytest.fixture(scope="module")
def served(service: SearchService) -> Iterator[Served]:
    """The app without a token."""
    with _serving(create_app(service)) as url:
        s = Served(url)
        yield s
        s.http.close()


@contextlib.contextmanager
def launched() -> Iterator[Browser]:
    """Chromium, with room for a busy CI machine in every ``expect``."""
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@contextlib.contextmanager
def loaded_page(browser: Browser, url: str, health: str | re.Pattern[str]) -> Iterator[Page]:
    """The page at ``url``, loaded when its health line reads ``health``; fails the test on any
    uncaught script error."""
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    pg = context.new_page()
    crashes: list[str] = []
    pg.on("pageerror", lambda exc: crashes.append(str(exc)))
    pg.goto(url + "/")
    expect(pg.get_by_test_id("health")).to_have_text(health)
    yield pg
    context.close()
    assert not crashes, crashes


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launched() as b:
        yield b


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("web-artifacts")


@pytest.fixture
def page(browser: Browser, served: Served) -> Iterator[Page]:
    """The page, loaded; fails the test on any uncaught script error."""
    with loaded_page(browser, served.url, "7 documents in 5 collections") as pg:
        yield pg


def shot(page: Page, artifacts: Path, name: str, **options: Any) -> Path:
    """Save a screenshot (and copy it to ``$XMODAL_ARTIFACTS`` when set); checks it is a PNG."""
    path = artifacts / f"{name}.png"
    page.screenshot(path=str(path), full_page=True, **options)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 1000
    if os.environ.get("XMODAL_ARTIFACTS"):
        out = Path(os.environ["XMODAL_ARTIFACTS"])
        out.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, out / path.name)
    return path


# -- helpers -----------------------------------------------------------------------------


def text_search(page: Page, query: str) -> None:
    page.get_by_test_id("query").fill(query)
    page.get_by_test_id("query").press("Enter")
    expect(page.get_by_test_id("status")).to_have_text(re.compile(f"hits? for “{query}”$"))


def shown(page: Page) -> list[dict[str, Any]]:
    """What each result card shows: id, rank, score label, the lists in its score table."""
    return page.eval_on_selector_all("[data-testid=hit]", """cards => cards.map(c => ({
        id: c.dataset.id, rank: Number(c.dataset.rank), modality: c.dataset.modality,
        label: c.querySelector('[data-testid=score-label]').textContent,
        collection: c.querySelector('[data-testid=collection]').textContent,
        lists: [...c.querySelectorAll('[data-testid=raw-scores] tr:not([data-testid])')]
                 .map(r => r.dataset.list)}))""")


def assert_same_hits(page: Page, oracle: dict[str, Any]) -> None:
    """The cards equal the API's hits: ids, order, collection, score kind, lists."""
    want = [{"id": h["id"], "rank": h["rank"], "modality": h["modality"],
             "label": "fused (RRF)" if h["fused"] else "cosine", "collection": h["collection"],
             "lists": list(h["raw_scores"])} for h in oracle["hits"]]
    assert want, "the oracle found nothing: the test would prove nothing"
    assert shown(page) == want


def assert_media_load(page: Page, oracle: dict[str, Any]) -> None:
    """Image hits show loaded thumbnails; audio hits a player over /media/ID."""
    images = [h["id"] for h in oracle["hits"] if h["modality"] == "image"]
    page.wait_for_function("""() => [...document.querySelectorAll('[data-testid=thumb]')]
        .every(i => i.complete && i.naturalWidth > 0)""")
    thumbs = page.eval_on_selector_all(
        "[data-testid=thumb]", "imgs => imgs.map(i => [i.closest('[data-id]').dataset.id,"
        " new URL(i.src).pathname, i.naturalWidth])")
    assert thumbs == [[i, f"/media/{i}", 96] for i in images]
    audio = [h["id"] for h in oracle["hits"] if h["modality"] == "audio"]
    players = page.eval_on_selector_all(
        "[data-testid=player]", "els => els.map(a => [a.closest('[data-id]').dataset.id,"
        " new URL(a.src).pathname, a.controls])")
    assert players == [[i, f"/media/{i}", True] for i in audio]
    page.wait_for_function("""() => [...document.querySelectorAll('[data-testid=player]')]
        .every(a => a.readyState >= 1 && a.duration > 0.4)""")  # the WAV's header was read


# -- tests -------------------------------------------------------------------------------


def test_text_query_shows_the_api_hits_media_and_trace(page: Page, served: Served,
                                                       artifacts: Path):
    text_search(page, "red heart")
    oracle = served.search(query="red heart", k=10).json()
    assert_same_hits(page, oracle)
    assert_media_load(page, oracle)
    trace = page.get_by_test_id("trace").locator("li").all_text_contents()
    assert trace == oracle["trace"] and any("router: image leads" in t for t in trace)
    expect(page.get_by_test_id("trace")).to_be_visible()
    shot(page, artifacts, "1-text-images")

    # a cosine (one list, not fused) and an audio player: "beat" is in no file name, caption or
    # text, so the bm25 list is empty and the audio list alone answers
    text_search(page, "beat")
    oracle = served.search(query="beat", k=10).json()
    assert not any(h["fused"] for h in oracle["hits"])
    assert_same_hits(page, oracle)
    assert_media_load(page, oracle)
    assert page.get_by_test_id("score-label").all_text_contents() == ["cosine"] * 2

    # every modality at once (mixed, k=5): thumbnails, players and text snippets
    page.get_by_test_id("mixed").check()
    page.get_by_test_id("k").fill("5")
    text_search(page, "heart drum python")
    oracle = served.search(query="heart drum python", k=5, mixed=True).json()
    assert {h["modality"] for h in oracle["hits"]} == {"image", "audio", "text"}
    assert_same_hits(page, oracle)
    assert_media_load(page, oracle)
    for h in oracle["hits"]:  # a text hit shows the start of its file (fetched from /media)
        if h["modality"] == "text":
            card = page.locator(f"[data-id='{h['id']}']")
            expect(card.get_by_test_id("snippet")).to_have_text(Path(h["path"]).read_text())
    shot(page, artifacts, "1-text-mixed")


def test_upload_an_image_equals_search_file(page: Page, served: Served, artifacts: Path):
    image = png("cat kitten whiskers", size=(32, 32))
    page.get_by_test_id("file-input").set_input_files(
        {"name": "query.png", "mimeType": "image/png", "buffer": image})
    expect(page.get_by_test_id("status")).to_have_text(re.compile("hits? for file query.png"))
    oracle = served.search_file("query.png", image, "image/png", modality="image", k=10).json()
    assert oracle["hits"][0]["path"].endswith("cat.png")
    assert_same_hits(page, oracle)
    assert_media_load(page, oracle)
    shot(page, artifacts, "2-upload-image")


def test_drop_an_audio_clip_equals_search_file(page: Page, served: Served, artifacts: Path):
    clip = wav("violin string note")
    page.get_by_test_id("k").fill("3")
    page.evaluate("""({b64, name, type}) => {
        const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
        const dt = new DataTransfer();
        dt.items.add(new File([bytes], name, {type}));
        const zone = document.querySelector('[data-testid=dropzone]');
        for (const t of ['dragenter', 'dragover', 'drop'])
            zone.dispatchEvent(new DragEvent(t, {bubbles: true, cancelable: true,
                                                 dataTransfer: dt}));
    }""", {"b64": base64.b64encode(clip).decode(), "name": "violin.wav", "type": "audio/wav"})
    expect(page.get_by_test_id("status")).to_have_text(re.compile("hits? for file violin.wav"))
    oracle = served.search_file("violin.wav", clip, "audio/wav", modality="audio", k=3).json()
    assert oracle["hits"][0]["path"].endswith("violin.wav")
    assert_same_hits(page, oracle)
    assert_media_load(page, oracle)
    shot(page, artifacts, "3-drop-audio")


def test_errors_show_the_server_detail(page: Page, served: Served, artifacts: Path):
    error = page.get_by_test_id("error")
    expect(error).to_be_hidden()
    page.get_by_test_id("k").fill("1000")
    page.get_by_test_id("query").fill("red heart")
    page.get_by_test_id("search-button").click()
    r = served.search(query="red heart", k=1000)
    assert 400 <= r.status_code < 500
    expect(error).to_be_visible()
    expect(error).to_contain_text(r.json()["detail"])
    expect(error).to_contain_text(f"HTTP {r.status_code}")
    assert page.get_by_test_id("hit").count() == 0
    shot(page, artifacts, "4-error-k")

    # an oversize text query: the limit's own message, then a good search clears the box
    page.get_by_test_id("k").fill("10")
    long = "heart " * 400
    text = served.search(query=long.strip(), k=10)
    assert 400 <= text.status_code < 500
    page.get_by_test_id("query").fill(long)
    page.get_by_test_id("search-button").click()
    expect(error).to_contain_text(text.json()["detail"])
    text_search(page, "python")
    expect(error).to_be_hidden()


def test_captions_are_text_not_html(page: Page, served: Served, artifacts: Path):
    text_search(page, "blue star")
    oracle = served.search(query="blue star", k=10).json()
    assert oracle["hits"][0]["caption"] == XSS
    assert_same_hits(page, oracle)
    star = page.locator(f"[data-id='{oracle['hits'][0]['id']}']")
    expect(star.get_by_test_id("caption")).to_have_text(XSS)
    assert_media_load(page, oracle)  # every <img> on the page is a loaded thumbnail
    assert page.locator("img[src='x']").count() == 0
    assert page.evaluate("window.__xss") is None
    shot(page, artifacts, "5-xss-caption")


def test_calibrated_probability_and_warnings(page: Page, artifacts: Path):
    """Rendering of what the toy index cannot produce: calibrated probabilities, warnings."""
    canned = {"hits": [{"id": "d1", "path": "/x/a.md", "modality": "text",
                        "collection": "m.text", "rank": 1, "score": 0.71, "fused": False,
                        "raw_scores": {"m.text": 0.71}, "ranks": {"m.text": 1},
                        "calibrated": {"m.text": 0.875}, "caption": "<b>not bold</b>"}],
              "trace": ["router: text"], "errors": ["other.text: model failed to load"]}
    page.route("**/search", lambda route: route.fulfill(json=canned))
    text_search(page, "anything")
    hit = page.get_by_test_id("hit")
    expect(hit.get_by_test_id("score")).to_have_text("cosine: 0.710")
    expect(hit.get_by_test_id("calibrated")).to_have_text("P(match)87.5%")
    expect(hit.get_by_test_id("snippet")).to_have_text("<b>not bold</b>")
    assert hit.locator("b").count() == 0
    expect(page.get_by_test_id("warnings")).to_have_text("other.text: model failed to load")
    shot(page, artifacts, "6-calibrated-warning")


def test_token_from_the_url(browser: Browser, service: SearchService, artifacts: Path):
    """With a token: ``/?token=T`` opens the page; fetches send it as a Bearer header, media
    requests carry the cookie the server set; without it the page is refused."""
    with _serving(create_app(service, token="s3cret")) as url:
        context = browser.new_context(viewport={"width": 1100, "height": 900})
        try:
            pg = context.new_page()
            pg.goto(url + "/?token=s3cret")
            expect(pg.get_by_test_id("health")).to_have_text("7 documents in 5 collections")
            text_search(pg, "red heart")
            with httpx.Client(base_url=url, headers={"Authorization": "Bearer s3cret"}) as c:
                oracle = c.post("/search", json={"query": "red heart", "k": 10}).json()
            assert_same_hits(pg, oracle)
            assert_media_load(pg, oracle)  # <img> sends the cookie /?token= set
            assert pg.evaluate("location.search") == ""  # the token left the address bar
            shot(pg, artifacts, "7-token")
            context.clear_cookies()  # fetches still carry the token, as a Bearer header
            text_search(pg, "drum")
            assert pg.get_by_test_id("hit").count() == 2
            expect(pg.get_by_test_id("error")).to_be_hidden()
            assert pg.goto(url + "/").status == 401  # no token, no page
        finally:
            context.close()


def test_screenshots_of_each_state(page: Page, artifacts: Path):
    """Empty page, results, a phone-width layout and an error: each a non-empty PNG."""
    shots = [shot(page, artifacts, "0-empty")]
    text_search(page, "heart drum python")
    shots.append(shot(page, artifacts, "6-results"))
    page.set_viewport_size({"width": 390, "height": 800})
    columns = page.eval_on_selector("[data-testid=results]",
                                    "g => getComputedStyle(g).gridTemplateColumns.split(' ')"
                                    ".length")
    assert columns == 1  # the grid reflows to one column on a narrow screen
    shots.append(shot(page, artifacts, "6-results-narrow"))
    page.get_by_test_id("k").fill("0")
    page.get_by_test_id("search-button").click()
    expect(page.get_by_test_id("error")).to_be_visible()
    shots.append(shot(page, artifacts, "6-error-narrow"))
    assert all(p.is_file() and p.stat().st_size > 1000 for p in shots)
    print(f"screenshots: {artifacts}")

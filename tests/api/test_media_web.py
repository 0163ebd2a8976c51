"""The page's media never starve, in headless Chromium against the real app under uvicorn.

A results page of 50 thumbnails loads completely (every ``<img>`` decoded, ``naturalWidth``
> 0) while a thread fires searches in a loop at the same server, with 2 work slots and only 2
media places (so the media queue is used). And the page's own retry: ``/media`` answers
refused for a moment (429, injected with ``page.route``) are asked again after Retry-After; a
file refused every time shows a placeholder, after a bounded number of tries."""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.test_web import (
    CHROMIUM,
    _draw_png,
    _serving,
    httpx,
    launched,
    loaded_page,
)

pytestmark = pytest.mark.skipif(not CHROMIUM.is_file(), reason=f"no Chromium at {CHROMIUM}")

from playwright.sync_api import Browser, Page, Route, expect  # noqa: E402

from tests.api.toy import loader, toy_encoders  # noqa: E402
from xmodal.api.http import create_app  # noqa: E402
from xmodal.api.limits import ServeLimits  # noqa: E402
from xmodal.api.service import SearchService  # noqa: E402
from xmodal.index import open_index  # noqa: E402
from xmodal.index.ingest import ingest, manifest_path  # noqa: E402

N_IMAGES = 50
COLOURS = ["red", "orange", "gold", "green", "teal", "royalblue", "purple", "black"]
RETRIES = 4  # the page's MEDIA_RETRIES


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app over 50 images of red hearts (2 work slots, 2 media places)."""
    root = tmp_path_factory.mktemp("media-web")
    for i in range(N_IMAGES):
        _draw_png(root / "corpus" / f"heart{i:02d}.png", "heart red love",
                  COLOURS[i % len(COLOURS)])
    encoders, uri = toy_encoders(), "exact:" + str(root / "idx")
    with open_index(uri) as index:
        ingest(index, [root / "corpus"], encoders=encoders, manifest=manifest_path(uri))
    limits = ServeLimits(max_concurrency=2, max_media_streams=2)
    with SearchService(uri, load=loader(encoders), router_model=None, limits=limits) as s, \
            _serving(create_app(s)) as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launched() as b:
        yield b


@pytest.fixture
def page(browser: Browser, url: str) -> Iterator[Page]:
    health = re.compile(f"^{N_IMAGES} documents in [0-9]+ collections?$")
    with loaded_page(browser, url, health) as pg:
        yield pg


def search_hearts(page: Page, k: int) -> None:
    page.get_by_test_id("k").fill(str(k))
    page.get_by_test_id("query").fill("red heart")
    page.get_by_test_id("query").press("Enter")
    expect(page.get_by_test_id("status")).to_have_text(f"{k} hits for “red heart”")


def thumbs_loaded(page: Page) -> list[int]:
    """Wait until every thumbnail is decoded; their natural widths."""
    page.wait_for_function("""() => [...document.querySelectorAll('[data-testid=thumb]')]
        .every(i => i.complete && i.naturalWidth > 0)""", timeout=30_000)
    return page.eval_on_selector_all("[data-testid=thumb]", "imgs => imgs.map(i => i.naturalWidth)")


class Hammer:
    """A thread firing ``POST /search`` in a loop at the server until stopped."""

    def __init__(self, url: str) -> None:
        self.codes: Counter[int] = Counter()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(url,), daemon=True)

    def _run(self, url: str) -> None:
        with httpx.Client(base_url=url, timeout=10) as http:
            while not self.stop.is_set():
                body = {"query": "red heart", "k": 5}
                self.codes[http.post("/search", json=body).status_code] += 1

    def __enter__(self) -> Hammer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=10)


def test_fifty_thumbnails_load_while_searches_run(page: Page, url: str):
    media: Counter[int] = Counter()
    page.on("response", lambda r: media.update([r.status]) if "/media/" in r.url else None)
    with Hammer(url) as hammer:
        search_hearts(page, N_IMAGES)
        widths = thumbs_loaded(page)
        before = sum(hammer.codes.values())
        page.wait_for_timeout(200)
    assert widths == [96] * N_IMAGES  # the 96 px PNGs, every one decoded
    assert page.get_by_test_id("media-unavailable").count() == 0
    assert hammer.codes[200] > 0 and sum(hammer.codes.values()) >= before  # searches ran
    assert set(media) == {200} and media[200] >= N_IMAGES, media  # none refused, none retried


def _refuse(times: int | None, seen: Counter[str]) -> Any:
    """A route handler: ``/media`` answered 429 (Retry-After: 0) the first ``times`` times
    per file (None: always), then passed on to the server."""
    def handle(route: Route) -> None:
        path = route.request.url.split("?")[0]
        seen[path] += 1
        if times is None or seen[path] <= times:
            route.fulfill(status=429, headers={"Retry-After": "0"},
                          json={"error": "overloaded", "detail": "busy"})
        else:
            route.continue_()
    return handle


def test_thumbnails_refused_for_a_moment_are_retried(page: Page):
    seen: Counter[str] = Counter()
    page.route("**/media/**", _refuse(3, seen))
    search_hearts(page, 8)
    assert thumbs_loaded(page) == [96] * 8
    assert page.get_by_test_id("media-unavailable").count() == 0
    assert len(seen) == 8 and all(n >= 4 for n in seen.values()), seen  # retried, then loaded
    srcs = page.eval_on_selector_all("[data-testid=thumb]", "imgs => imgs.map(i => i.src)")
    assert all("/media/" in s for s in srcs)


def test_a_file_refused_every_time_shows_a_placeholder(page: Page):
    seen: Counter[str] = Counter()
    page.route("**/media/**", _refuse(None, seen))
    search_hearts(page, 5)
    expect(page.get_by_test_id("media-unavailable")).to_have_count(5, timeout=30_000)
    expect(page.get_by_test_id("media-unavailable").first).to_have_text(
        "file not available (HTTP 429)")
    assert page.get_by_test_id("thumb").count() == 0
    page.wait_for_timeout(300)  # nothing asks again once the placeholder is shown
    assert len(seen) == 5 and set(seen.values()) == {2 * (RETRIES + 1)}, seen

"""The web page plays a video (or a long recording) hit from its best segment, in headless
Chromium against the real app under uvicorn.

The search answer is injected (``page.route``), as video ingest is not what is tested here: a
video hit (``modality: "video"``, a WebM composed at test time, listed in the index's
manifest so ``/media`` serves it) with ``t_start`` / ``t_end`` and two more segments, and an
audio hit with times. Oracle: the injected times (the player's ``currentTime`` after load, the
``mm:ss–mm:ss`` text, the seek of each segment button), and the frame route answering the
poster's URL with the colour of the shot at ``t_start``."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("av", reason="PyAV is not installed (pip install 'xmodal[video]')")

from tests.api.test_web import (
    CHROMIUM,
    TIMEOUT_MS,
    _serving,
    httpx,
    launched,
    shot,
)

pytestmark = pytest.mark.skipif(not CHROMIUM.is_file(), reason=f"no Chromium at {CHROMIUM}")

from PIL import Image  # noqa: E402
from playwright.sync_api import Page, expect  # noqa: E402

from xmodal.api.http import create_app  # noqa: E402
from xmodal.api.service import SearchService  # noqa: E402
from xmodal.data.video_compose import compose_video  # noqa: E402
from xmodal.index import open_index  # noqa: E402
from xmodal.index.ingest import manifest_path  # noqa: E402
from xmodal.index.manifest import save_manifest  # noqa: E402

COLOURS = ["red", "green", "blue", "yellow", "magenta", "cyan"]  # 1 s shots
T_START, T_END = 2.0, 3.0  # the blue shot
AUDIO_START = 1.5


def _write_wav(path: Path, seconds: float) -> Path:
    import soundfile as sf

    t = np.arange(int(seconds * 8000)) / 8000
    sf.write(path, 0.2 * np.sin(2 * np.pi * 330 * t), 8000)
    return path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Any]]]:
    """(base URL, the canned search answer) of the app over a manifest listing a WebM video
    (doc ``vid``) and a 4 s WAV (doc ``rec``)."""
    root = tmp_path_factory.mktemp("video-web")
    video = compose_video(root / "walk.webm", [(Image.new("RGB", (8, 8), c), 1.0)
                                               for c in COLOURS], fps=10, size=(160, 120),
                          grain=0)
    sound = _write_wav(root / "talk.wav", 4.0)
    uri = "exact:" + str(root / "idx")
    with open_index(uri):
        pass
    save_manifest(manifest_path(uri), {
        str(video): {"doc": "vid", "sha256": "0" * 64, "collections": []},
        str(sound): {"doc": "rec", "sha256": "0" * 64, "collections": []}})
    hit = {"collection": "m.image", "fused": False, "calibrated": None, "caption": None}
    canned = {"hits": [
        {**hit, "id": "vid", "document_id": "vid", "path": str(video), "modality": "video",
         "rank": 1, "score": 0.41, "raw_scores": {"m.image": 0.41}, "ranks": {"m.image": 1},
         "t_start": T_START, "t_end": T_END,
         "segments": [{"t_start": 4.0, "t_end": 5.0, "list": "m.image", "score": 0.33},
                      {"t_start": 0.0, "t_end": 1.0, "list": "m.image", "score": 0.21}]},
        {**hit, "id": "rec", "document_id": "rec", "path": str(sound), "modality": "audio",
         "collection": "m.audio", "rank": 2, "score": 0.30, "raw_scores": {"m.audio": 0.30},
         "ranks": {"m.audio": 1}, "t_start": AUDIO_START, "t_end": 2.5, "segments": []}],
        "trace": ["router: image"], "errors": []}
    with SearchService(uri, router_model=None) as service, _serving(create_app(service)) as url:
        yield url, canned


@pytest.fixture
def page(served: tuple[str, dict[str, Any]]) -> Iterator[Page]:
    url, canned = served
    with launched() as browser:
        context = browser.new_context(viewport={"width": 1100, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        pg = context.new_page()
        crashes: list[str] = []
        pg.on("pageerror", lambda exc: crashes.append(str(exc)))
        pg.route("**/search", lambda route: route.fulfill(json=canned))
        pg.goto(url + "/")
        expect(pg.get_by_test_id("health")).to_have_text("2 documents in 0 collections")
        pg.get_by_test_id("query").fill("a blue room")
        pg.get_by_test_id("query").press("Enter")
        expect(pg.get_by_test_id("status")).to_have_text("2 hits for “a blue room”")
        yield pg
    assert not crashes, crashes


def current_time(page: Page, selector: str) -> float:
    """The player's ``currentTime`` once its metadata is loaded and no seek is pending."""
    page.wait_for_function("""sel => { const v = document.querySelector(sel);
        return v && v.readyState >= 1 && !v.seeking && v.duration > 0; }""", arg=selector)
    return float(page.eval_on_selector(selector, "v => v.currentTime"))


def test_video_hit_plays_from_its_segment(page: Page, served, tmp_path: Path):
    url = served[0]
    card = page.locator("[data-id='vid']")
    expect(card.get_by_test_id("time-span")).to_have_text("00:02–00:03")
    expect(card.get_by_test_id("segment")).to_have_text(["00:04–00:05", "00:00–00:01"])
    video = "[data-id='vid'] [data-testid=video-player]"
    src, poster, controls = page.eval_on_selector(
        video, "v => [new URL(v.src).pathname, new URL(v.poster).pathname + new URL("
               "v.poster).search, v.controls]")
    assert (src, controls) == ("/media/vid", True)
    assert abs(current_time(page, video) - T_START) <= 0.1
    assert abs(page.eval_on_selector(video, "v => v.duration") - len(COLOURS)) <= 0.2

    # the poster: the frame at t_start, which is the blue shot
    assert poster == f"/media/vid/frame?t={T_START:.3f}"
    frame = httpx.get(url + poster)
    assert frame.status_code == 200 and frame.headers["content-type"] == "image/jpeg"
    mean = np.asarray(Image.open(io.BytesIO(frame.content)).convert("RGB"), float).mean((0, 1))
    assert mean[2] > 180 and mean[0] < 60 and mean[1] < 60, mean

    # a segment button seeks the player to its start
    card.get_by_test_id("segment").first.click()
    page.wait_for_function("sel => Math.abs(document.querySelector(sel).currentTime - 4.0)"
                           " <= 0.1", arg=video)
    assert abs(current_time(page, video) - 4.0) <= 0.1
    shot(page, tmp_path, "video-hit")


def test_audio_hit_with_times_starts_there(page: Page):
    card = page.locator("[data-id='rec']")
    expect(card.get_by_test_id("time-span")).to_have_text("00:01–00:03")
    assert card.get_by_test_id("segment").count() == 0
    player = "[data-id='rec'] [data-testid=player]"
    assert abs(current_time(page, player) - AUDIO_START) <= 0.1

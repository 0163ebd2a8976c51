"""``GET /media/{doc_id}`` for videos (content types, Range requests) and
``GET /media/{doc_id}/frame?t=`` (the frame at a time), against a video composed at test time.

Oracle: the composed video's shots (shot k spans ``[k, k + 1)`` s and is one solid colour:
the frame at a time inside shot k has that colour), the file's bytes on disk, and the
document ids of a manifest written here (the route serves only files the manifest lists)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("av", reason="PyAV is not installed (pip install 'xmodal[video]')")
pytest.importorskip("fastapi")

from fastapi.testclient import TestClient
from PIL import Image

from tests.api.served import BASE, wav
from xmodal.api.frames import MAX_WIDTH, BadVideo, NotAVideo, video_frame
from xmodal.api.http import create_app
from xmodal.api.service import SearchService
from xmodal.data.video_compose import compose_video
from xmodal.index import open_index
from xmodal.index.ingest import manifest_path
from xmodal.index.manifest import save_manifest

COLOURS = [(220, 30, 30), (30, 200, 40), (30, 40, 220)]  # red, green, blue: 1 s each
SIZE = (160, 120)
TYPES = {".mp4": "video/mp4", ".webm": "video/webm", ".mkv": "video/x-matroska",
         ".mov": "video/quicktime", ".ogv": "video/ogg", ".avi": "video/x-msvideo"}


def write_video(path: Path, gop: int = 4) -> Path:
    """Three 1 s shots of solid colour at 10 fps, a keyframe every ``gop`` frames."""
    shots = [(Image.new("RGB", SIZE, c), 1.0) for c in COLOURS]
    return compose_video(path, shots, fps=10, size=SIZE, grain=0, options={"g": str(gop)})


def mean_colour(jpeg: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(jpeg))
    assert image.format == "JPEG"
    return np.asarray(image.convert("RGB"), dtype=float).reshape(-1, 3).mean(axis=0)


def shot_of(jpeg: bytes) -> int:
    """The shot whose colour the frame has (asserting it is close to it)."""
    mean = mean_colour(jpeg)
    dist = [float(np.abs(mean - c).max()) for c in COLOURS]
    assert min(dist) < 25, (mean, dist)
    return int(np.argmin(dist))


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The served files: the video (and copies of it under every video suffix), a WAV, a
    corrupt ``.mp4`` and a truncated one."""
    root = tmp_path_factory.mktemp("video-media")
    video = write_video(root / "shots.mp4")
    out = {"shots.mp4": video}
    for suffix in TYPES:
        if suffix != ".mp4":
            out[f"copy{suffix}"] = root / f"copy{suffix}"
            out[f"copy{suffix}"].write_bytes(video.read_bytes())
    out["beep.wav"] = root / "beep.wav"
    out["beep.wav"].write_bytes(wav("beep", seconds=0.5))
    out["noise.mp4"] = root / "noise.mp4"
    out["noise.mp4"].write_bytes(np.random.default_rng(0).bytes(5000))
    out["cut.mp4"] = root / "cut.mp4"
    out["cut.mp4"].write_bytes(video.read_bytes()[: video.stat().st_size // 3])
    return out


@pytest.fixture(scope="module")
def client(files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[TestClient]:
    """The app over an empty index whose manifest lists each file as document ``doc-NAME``."""
    uri = "exact:" + str(tmp_path_factory.mktemp("video-idx"))
    with open_index(uri):
        pass
    manifest = {str(p): {"doc": f"doc-{name}", "sha256": "0" * 64, "collections": []}
                for name, p in files.items()}
    save_manifest(manifest_path(uri), manifest)
    with SearchService(uri, router_model=None) as service, \
            TestClient(create_app(service), base_url=BASE) as c:
        yield c


def test_media_serves_videos_with_their_type(client, files):
    for suffix, kind in TYPES.items():
        name = "shots.mp4" if suffix == ".mp4" else f"copy{suffix}"
        r = client.get(f"/media/doc-{name}")
        assert r.status_code == 200 and r.headers["content-type"] == kind, (suffix, r.headers)
        assert r.content == files["shots.mp4"].read_bytes()
        assert r.headers["accept-ranges"] == "bytes"


def test_media_answers_range_requests(client, files):
    data = files["shots.mp4"].read_bytes()
    n = len(data)
    for header, (a, b) in (("bytes=100-199", (100, 199)), ("bytes=0-0", (0, 0)),
                           (f"bytes={n - 10}-", (n - 10, n - 1)), ("bytes=-50", (n - 50, n - 1)),
                           (f"bytes=10-{n + 99}", (10, n - 1))):
        r = client.get("/media/doc-shots.mp4", headers={"Range": header})
        assert r.status_code == 206, (header, r.status_code)
        assert r.content == data[a:b + 1], header
        assert r.headers["content-range"] == f"bytes {a}-{b}/{n}"
        assert r.headers["content-type"] == "video/mp4"
    r = client.get("/media/doc-shots.mp4", headers={"Range": f"bytes={n}-{n + 10}"})
    assert r.status_code == 416


def test_frame_has_the_colour_of_its_shot(client):
    for t, shot in ((0.0, 0), (0.45, 0), (0.95, 0), (1.05, 1), (1.6, 1), (2.35, 2),
                    (2.95, 2), (3.0, 2)):
        r = client.get("/media/doc-shots.mp4/frame", params={"t": t})
        assert r.status_code == 200, (t, r.text)
        assert r.headers["content-type"] == "image/jpeg"
        assert shot_of(r.content) == shot, t
    size = Image.open(io.BytesIO(client.get("/media/doc-shots.mp4/frame",
                                            params={"t": 1.5}).content)).size
    assert size == SIZE  # the default width (640) does not enlarge a 160 px video
    small = client.get("/media/doc-copy.mkv/frame", params={"t": 2.5, "width": 80})
    assert Image.open(io.BytesIO(small.content)).size == (80, 60)
    assert shot_of(small.content) == 2


def test_frame_refusals(client):
    def refused(doc: str, status: int, code: str, **params: object) -> str:
        r = client.get(f"/media/{doc}/frame", params=params)
        assert r.status_code == status, (doc, params, r.text)
        body = r.json()
        assert body["error"] == code and body["detail"], body
        assert "Traceback" not in body["detail"]
        return str(body["detail"])

    assert "outside the video's [0, 3] s" in refused("doc-shots.mp4", 422, "bad_time", t=3.5)
    refused("doc-shots.mp4", 422, "invalid_request", t="nan")
    refused("doc-shots.mp4", 422, "invalid_request", t=-1)
    refused("doc-shots.mp4", 422, "invalid_request")  # no t
    refused("doc-shots.mp4", 422, "invalid_request", t=1, width=MAX_WIDTH + 1)
    assert "not a video" in refused("doc-beep.wav", 422, "not_a_video", t=0)
    assert "noise.mp4" in refused("doc-noise.mp4", 422, "bad_video", t=0)
    refused("doc-cut.mp4", 422, "bad_video", t=0.5)
    refused("doc-nope", 404, "not_found", t=0)


def test_frame_etag_answers_304_without_decoding(client, monkeypatch):
    from xmodal.api.routes import media

    first = client.get("/media/doc-shots.mp4/frame", params={"t": 1.5})
    tag = first.headers["etag"]
    assert first.status_code == 200 and "cache-control" in first.headers
    other = client.get("/media/doc-shots.mp4/frame", params={"t": 2.5}).headers["etag"]
    smaller = client.get("/media/doc-shots.mp4/frame", params={"t": 1.5, "width": 80})
    assert len({tag, other, smaller.headers["etag"]}) == 3  # one ETag per frame and size

    def no_decoding(*args: object, **kw: object) -> bytes:
        raise AssertionError("a 304 must not decode the video")

    monkeypatch.setattr(media, "video_frame", no_decoding)
    r = client.get("/media/doc-shots.mp4/frame", params={"t": 1.5},
                   headers={"If-None-Match": tag})
    assert r.status_code == 304 and r.content == b"" and r.headers["etag"] == tag


def test_video_frame_directly(files, tmp_path):
    """The function behind the route: a long GOP (one keyframe) decodes forward from it."""
    long_gop = write_video(tmp_path / "one-key.webm", gop=100)
    assert [shot_of(video_frame(long_gop, t)) for t in (0.5, 1.5, 2.5)] == [0, 1, 2]
    with pytest.raises(NotAVideo):
        video_frame(files["beep.wav"], 0)
    with pytest.raises(BadVideo, match="not found"):
        video_frame(tmp_path / "missing.mp4", 0)


def test_frame_route_is_in_the_schema(client):
    op = client.get("/openapi.json").json()["paths"]["/media/{doc_id}/frame"]["get"]
    assert "image/jpeg" in op["responses"]["200"]["content"]
    assert {p["name"] for p in op["parameters"]} == {"doc_id", "t", "width"}
    media = client.get("/openapi.json").json()["paths"]["/media/{doc_id}"]["get"]
    assert "206" in media["responses"] and "video/*" in media["responses"]["200"]["content"]


def test_frame_without_pyav_names_the_extra(client, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "av", None)  # as if the video extra were not installed
    r = client.get("/media/doc-shots.mp4/frame", params={"t": 0.5})
    assert r.status_code == 501, r.text
    assert r.json()["error"] == "missing_dependency"
    assert "xmodal[video]" in r.json()["detail"]

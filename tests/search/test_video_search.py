"""Search over videos: query by a shot's image, by its sound, by its subtitle's words finds the
video with that shot's times; frames, soundtrack and subtitles fuse by RRF as one document;
``per_segment``; the CLI end to end (``xmodal index`` + ``xmodal search --image --json``); on
the exact store and Qdrant Edge.

Oracle: the composed shots' spans (``tests/index/video_toys.py``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.index.conftest import uri_for
from tests.index.recordings import band_hz, tone, write_wave
from tests.index.video_toys import BANDS, SUBTITLES, shot_query, video_encoders, write_video
from xmodal.index import open_index
from xmodal.index.ingest import ingest, manifest_path
from xmodal.search.request import SearchRequest
from xmodal.search.searcher import Searcher

pytest.importorskip("av")
SLACK = 0.5


@pytest.fixture(scope="module", params=["exact", "qdrant-edge"])
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp(request.param)
    spans = write_video(root / "c" / "clip.mp4")
    write_wave(root / "c" / "other.wav", tone(band_hz(28), 4.0))
    uri = uri_for(request.param, root)
    encoders = video_encoders()
    with open_index(uri) as index:
        ingest(index, [root / "c"], encoders=encoders, manifest=manifest_path(uri))
    return uri, root, spans, encoders


def search(built, request: SearchRequest):
    uri, _, _, encoders = built
    by_name = {e.card.name: e for e in encoders.values()}
    with open_index(uri) as index:
        return Searcher(index, load=by_name.__getitem__, router_model=None).search(request)


def inside(hit, span, slack=SLACK) -> bool:
    return span[0] - slack <= hit.t_start < hit.t_end <= span[1] + slack


@pytest.mark.parametrize("k", range(4))
def test_image_query_finds_the_shot(built, k):
    _, root, spans, _ = built
    hits = search(built, SearchRequest(image=str(shot_query(root / f"q{k}.png", k)), k=3)).hits
    assert Path(hits[0].payload["path"]).name == "clip.mp4"
    assert hits[0].payload["modality"] == "video"
    assert inside(hits[0], spans[k])
    assert len(hits) == 1  # the other segments never crowd the top k


@pytest.mark.parametrize("k", [0, 2])
def test_audio_query_finds_the_soundtrack_place(built, k):
    _, root, spans, _ = built
    q = write_wave(root / f"a{k}.wav", tone(band_hz(BANDS[k]), 5.0))
    hit = search(built, SearchRequest(audio=str(q), k=3)).hits[0]
    assert Path(hit.payload["path"]).name == "clip.mp4"
    assert inside(hit, spans[k], slack=10.0)  # a 10 s window overlapping the shot


@pytest.mark.parametrize("k", range(4))
def test_text_query_finds_the_subtitle_cue(built, k):
    _, _, spans, _ = built
    hits = search(built, SearchRequest(query=SUBTITLES[k], k=3)).hits
    assert Path(hits[0].payload["path"]).name == "clip.mp4"
    assert inside(hits[0], spans[k])


def test_lists_fuse_as_one_document_and_per_segment_splits(built):
    _, root, spans, _ = built
    img = shot_query(root / "mixed.png", 1)
    fused = search(built, SearchRequest(image=str(img), k=5, mixed=True)).hits
    assert [Path(h.payload["path"]).name for h in fused].count("clip.mp4") == 1
    split = search(built, SearchRequest(image=str(img), k=5, per_segment=True)).hits
    assert len(split) >= 3 and inside(split[0], spans[1])
    assert all(h.t_start is not None for h in split)
    assert len({(h.t_start, h.t_end) for h in split}) == len(split)


def test_modality_filter_video(built):
    only = {"must": [{"key": "modality", "match": {"value": "video"}}]}
    hits = search(built, SearchRequest(query="violin string", k=5, filter=only)).hits
    assert hits and {h.payload["modality"] for h in hits} == {"video"}


@pytest.mark.parametrize("kind", ["exact", "qdrant-edge"])
def test_cli_index_and_search_image_json(tmp_path, kind, monkeypatch):
    from typer.testing import CliRunner

    import xmodal.encoders
    from xmodal.cli import app

    encoders = video_encoders()
    by_spec = {"starter-image": encoders["image"], "starter-audio": encoders["audio"],
               "minilm": encoders["text"], **{e.card.name: e for e in encoders.values()}}
    monkeypatch.setattr(xmodal.encoders, "load_encoder", lambda spec, **kw: by_spec[spec])
    spans = write_video(tmp_path / "c" / "clip.mp4", (6.0, 5.0, 7.0), fps=4)
    write_wave(tmp_path / "c" / "long.wav", tone(band_hz(27), 25.0))
    (tmp_path / "c" / "clip.srt").write_text("1\n00:00:11,500 --> 00:00:17,000\nviolin\n")
    uri = uri_for(kind, tmp_path)
    runner = CliRunner()
    done = runner.invoke(app, ["index", str(tmp_path / "c"), "--index", uri, "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["indexed"] == 2
    q = shot_query(tmp_path / "q.png", 2)
    done = runner.invoke(app, ["search", "--image", str(q), "--index", uri, "--json"])
    assert done.exit_code == 0, done.output
    hit = json.loads(done.stdout)["hits"][0]
    assert Path(hit["path"]).name == "clip.mp4"
    assert spans[2][0] - SLACK <= hit["t_start"] < hit["t_end"] <= spans[2][1] + SLACK
    q = write_wave(tmp_path / "a.wav", tone(band_hz(27), 8.0))
    done = runner.invoke(app, ["search", "--audio", str(q), "--index", uri, "--json"])
    hit = json.loads(done.stdout)["hits"][0]
    assert Path(hit["path"]).name == "long.wav" and hit["t_start"] is not None
    done = runner.invoke(app, ["search", "violin", "--index", uri, "--json"])
    hit = json.loads(done.stdout)["hits"][0]
    assert Path(hit["path"]).name == "clip.mp4" and hit["t_start"] == pytest.approx(11.5)

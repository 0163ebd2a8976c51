"""Ingest of videos (``index/video_ingest.py``): frames, soundtrack and subtitles stored as time
segments with the shots' times, the frame mean as whole-file point; unchanged re-runs, a changed
side-car, a metadata-only change (the lexical text keeps the subtitles), replacement,
prune and hostile files; on the exact store and Qdrant Edge.

Oracle: the composed shots' spans (``tests/index/video_toys.py``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.index.conftest import uri_for
from tests.index.recordings import part_spans
from tests.index.video_toys import video_encoders, write_video
from xmodal.data.corpus import scan_corpus
from xmodal.index import open_index
from xmodal.index.ingest import ingest, load_manifest, manifest_path
from xmodal.index.lexical_store import open_lexical

pytest.importorskip("av")


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[float, float]]]:
    root = tmp_path_factory.mktemp("clip")
    return root / "clip.mp4", write_video(root / "clip.mp4")


@pytest.fixture(params=["exact", "qdrant-edge"])
def uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return uri_for(request.param, tmp_path)


def corpus(tmp_path: Path, clip: Path) -> Path:
    folder = tmp_path / "c"
    folder.mkdir(exist_ok=True)
    (folder / "clip.mp4").write_bytes(clip.read_bytes())
    (folder / "clip.txt").write_text("a clip of shots")
    (folder / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 not really a video")
    (folder / "note.md").write_text("red heart")
    return folder


def run(uri: str, folder: Path, encoders: dict | None = None, **kw):
    with open_index(uri) as index:
        return ingest(index, [folder], encoders=encoders or video_encoders(),
                      manifest=manifest_path(uri), **kw)


def test_scan_reads_videos_with_their_side_cars(tmp_path, clip):
    folder = corpus(tmp_path, clip[0])
    (folder / "clip.srt").write_text("1\n00:00:01,000 --> 00:00:02,000\nhello\n")
    scan = scan_corpus([folder])
    kinds = {f.path.name: (f.modality, f.caption) for f in scan.files}
    assert kinds["clip.mp4"] == ("video", "a clip of shots")
    assert "clip.srt" not in kinds and "clip.txt" not in kinds
    assert not [p for p in scan.skipped if p.item.endswith(".srt")]
    before = next(f.sha256 for f in scan.files if f.path.name == "clip.mp4")
    (folder / "clip.srt").write_text("1\n00:00:01,000 --> 00:00:02,000\nbye\n")
    after = next(f.sha256 for f in scan_corpus([folder]).files if f.path.name == "clip.mp4")
    assert before != after  # an edited side-car changes the video's content key


def test_video_stored_as_frames_soundtrack_subtitles_with_shot_times(uri, tmp_path, clip):
    folder = corpus(tmp_path, clip[0])
    report = run(uri, folder)
    assert report.indexed == 2  # the video and the note
    assert [Path(p.item).name for p in report.failed] == ["broken.mp4"]
    entry = load_manifest(Path(manifest_path(uri)))[str((folder / "clip.mp4").resolve())]
    assert entry["segments"] == {"thumb.image": {"frame": 4}, "tone.audio": {"soundtrack": 7},
                                 "toy-text.text": {"subtitle": 4}}
    with open_index(uri) as index:
        from xmodal.index.segments import segment_id

        frames = index.collection("thumb.image").get(
            [segment_id(entry["doc"], "frame", n) for n in range(4)])
        spans = [(r.payload["t_start"], r.payload["t_end"]) for r in frames]
        assert [t for s in spans for t in s] == pytest.approx([t for s in clip[1] for t in s],
                                                          abs=0.25)
        assert {r.payload["modality"] for r in frames} == {"video"}
        subs = index.collection("toy-text.text").get(
            [segment_id(entry["doc"], "subtitle", n) for n in range(4)])
        for r, (a, b) in zip(subs, clip[1], strict=True):
            assert a - 0.1 <= r.payload["t_start"] < r.payload["t_end"] <= b + 0.1
        sound = index.collection("tone.audio").get(
            [segment_id(entry["doc"], "soundtrack", n) for n in range(7)])
        got = [(r.payload["t_start"], r.payload["t_end"]) for r in sound]
        assert np.allclose(got, part_spans(clip[1]), atol=0.1)  # a tone a shot, cut at <= 10 s
        (main,) = index.collection("thumb.image").get([entry["doc"]])
        assert main.payload["modality"] == "video" and main.payload["width"] == 160
        assert main.payload["duration_s"] == pytest.approx(46.0, abs=0.3)


def test_unchanged_rerun_encodes_nothing_and_prune_deletes_segments(uri, tmp_path, clip):
    folder = corpus(tmp_path, clip[0])
    run(uri, folder)
    encoders = video_encoders()
    again = run(uri, folder, encoders)
    assert (again.indexed, again.unchanged) == (0, 2)
    assert encoders["image"].items == 0 and encoders["audio"].items == 0
    (folder / "clip.mp4").unlink()
    (folder / "clip.txt").unlink()  # else a text document now
    pruned = run(uri, folder, prune=True)
    assert pruned.pruned == 1
    with open_index(uri) as index:
        for name in ("thumb.image", "tone.audio", "toy-text.text"):
            assert index.collection(name).count() == (1 if name == "toy-text.text" else 0)


def test_replaced_video_drops_the_old_segments(uri, tmp_path, clip):
    folder = corpus(tmp_path, clip[0])
    run(uri, folder)
    write_video(folder / "clip.mp4", (12.0, 9.0), subtitles=False)
    report = run(uri, folder)
    assert report.replaced == 1
    with open_index(uri) as index:
        assert index.collection("thumb.image").count() == 2 + 1  # 2 frames + the video
        assert index.collection("tone.audio").count() == 3  # 21 s: 3 windows
        assert index.collection("toy-text.text").count() == 1  # the note only


def test_video_without_an_image_encoder_is_skipped(tmp_path, clip):
    folder = corpus(tmp_path, clip[0])
    encoders = video_encoders()
    del encoders["image"]
    with open_index(f"exact:{tmp_path / 'i'}") as index:
        report = ingest(index, [folder], encoders=encoders)
    assert any(p.reason.startswith("no encoder for image") for p in report.skipped)
    assert json.dumps(report.to_json(seconds=0.0))  # serialisable as ever


@pytest.mark.parametrize("subtitles", ["stream", "side-car"])
def test_metadata_change_keeps_the_subtitles_in_the_lexical_text(uri, tmp_path, clip,
                                                                 subtitles):
    folder = corpus(tmp_path, clip[0])
    word = "violin"  # the stream's last cue: in no file name, caption or other document
    if subtitles == "side-car":
        write_video(folder / "clip.mp4", subtitles=False)
        (folder / "clip.srt").write_text("1\n00:00:01,000 --> 00:00:04,000\nquokka zither\n")
        word = "quokka"
    run(uri, folder)
    doc = load_manifest(Path(manifest_path(uri)))[str((folder / "clip.mp4").resolve())]["doc"]
    with open_index(uri) as index:
        assert open_lexical(index).search(word, k=5).ids == (doc,)
    (folder / "clip.json").write_text(json.dumps({"rating": 4}))  # metadata only
    encoders = video_encoders()
    report = run(uri, folder, encoders)
    assert (report.indexed, report.unchanged) == (0, 2)
    assert [Path(p.item).name for p in report.failed] == ["broken.mp4"]  # as ever
    assert encoders["image"].items == 0  # not decoded again, not re-encoded
    with open_index(uri) as index:
        lex = open_lexical(index)
        hits = lex.search(word, k=5)
        assert hits.ids == (doc,) and hits.payloads[0]["rating"] == 4
        assert lex.search("clip", k=5).ids == (doc,)  # the file name's words kept too
        (main,) = index.collection("thumb.image").get([doc])
        assert main.payload["rating"] == 4


def test_a_truncated_video_is_indexed_with_its_decode_warnings(uri, tmp_path):
    folder = tmp_path / "c"
    write_video(folder / "cut.mkv")
    data = (folder / "cut.mkv").read_bytes()
    (folder / "cut.mkv").write_bytes(data[: len(data) // 2])
    report = run(uri, folder)
    path = str((folder / "cut.mkv").resolve())
    assert (report.indexed, report.failed) == (1, ())
    assert {p.item for p in report.warnings} == {path}
    assert any(p.reason.startswith("truncated: ") for p in report.warnings)
    assert report.to_json(seconds=0)["warnings"] == [
        {"path": path, "reason": p.reason} for p in report.warnings]
    assert f"warnings {len(report.warnings)}" in report.summary()
    entry = load_manifest(Path(manifest_path(uri)))[path]
    assert 1 <= entry["segments"]["thumb.image"]["frame"] < 4  # the shots that decoded
    again = run(uri, folder)
    assert (again.unchanged, again.warnings) == (1, ())  # not decoded again: nothing to say

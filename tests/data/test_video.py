"""xmodal.data.video against composed videos whose shots, sounds and cues are known (the oracle),
and against hostile files."""

from __future__ import annotations

import itertools
import os
import struct
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from tests.data.videos import (
    DURATIONS,
    RATE,
    SIZE,
    compose,
    edges,
    nearest_shot,
    peak_hz,
    shot_at,
    tone_hz,
)
from xmodal._optional import MissingDependencyError
from xmodal.data.subtitles import TimedText, format_srt
from xmodal.data.video import (
    DecodedVideo,
    SegmentConfig,
    VideoDecodeError,
    VideoLimits,
    load_videos,
    probe_video,
    read_video,
)
from xmodal.data.video_compose import compose_video, letterbox
from xmodal.data.video_decode import video_subtitles

av = pytest.importorskip("av")

TOL = 0.5  # the tolerance on cut times, seconds
SUFFIXES = (".mp4", ".mkv", ".webm", ".mov", ".avi", ".ogv")


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> dict[str, Path]:
    """One composed video per container (sound, and a subtitle stream where one exists)."""
    folder = tmp_path_factory.mktemp("videos")
    return {s: compose(folder / f"shots{s}", subtitles=s not in (".avi", ".ogv"))
            for s in SUFFIXES}


def check_against_oracle(video: DecodedVideo, durations=DURATIONS) -> None:
    bounds = edges(durations)
    segs = video.segments
    assert video.info.duration_s == pytest.approx(bounds[-1], abs=0.1)
    assert segs[0].t_start == 0.0 and segs[-1].t_end == video.info.duration_s
    assert all(a.t_end == b.t_start for a, b in itertools.pairwise(segs))
    assert [s.index for s in segs] == list(range(len(segs)))
    starts = np.array([s.t_start for s in segs[1:]])  # (segments - 1,)
    # no cut missed and none invented: one boundary per true cut, within ±0.5 s
    assert len(starts) == len(bounds) - 2
    assert np.abs(starts - bounds[1:-1]).max() <= TOL
    for k, seg in enumerate(segs):
        (key,) = seg.keyframes
        assert seg.t_start <= key.t < seg.t_end
        assert key.image.mode == "RGB" and key.image.size == SIZE
        assert shot_at(key.t, durations) == k and nearest_shot(key.image, len(durations)) == k
        assert min(abs(key.t - bounds[k]), abs(key.t - bounds[k + 1])) > 0.2  # not at the cut


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_shots_keyframes_and_sound_match_the_oracle(videos, suffix):
    video = read_video(videos[suffix], sample_rate=RATE)
    check_against_oracle(video)
    assert video.warnings == () and video.info.has_video and video.info.has_audio
    assert video.sample_rate == RATE and video.audio.dtype == np.float32
    assert abs(video.audio.size - edges()[-1] * RATE) <= 0.07 * RATE  # codec padding at most
    bounds = edges()
    for k in range(len(DURATIONS)):  # each shot's stretch of sound is its tone
        a, b = (round(x * RATE) for x in (bounds[k] + 0.25, bounds[k + 1] - 0.25))
        assert abs(peak_hz(video.audio[a:b], RATE) - tone_hz(k)) < 10


def test_fast_path_agrees_with_the_naive_one_and_converts_only_keyframes(videos):
    fast = read_video(videos[".mp4"])
    naive = read_video(videos[".mp4"], segments=SegmentConfig(decode="naive"))
    check_against_oracle(naive)
    assert len(fast.segments) == len(naive.segments)
    for a, b in zip(fast.segments, naive.segments, strict=True):
        assert abs(a.t_start - b.t_start) <= TOL
    frames = round(edges()[-1] * 25)
    assert naive.stats.frames_decoded == naive.stats.frames_converted == frames
    assert fast.stats.frames_decoded < frames  # non-reference frames skipped
    assert fast.stats.frames_converted == sum(len(s.keyframes) for s in fast.segments)
    assert fast.stats.frames_analysed <= edges()[-1] * 10 + 1  # 10 analysed frames a second


def test_segment_rules_and_keyframe_options(tmp_path):
    # a 7 s shot, a 0.6 s shot (shorter than the minimum), a 2 s shot
    path = compose(tmp_path / "rules.mp4", (7.0, 0.6, 2.0), audio=False)
    cfg = SegmentConfig(min_segment_s=1.0, max_segment_s=3.0, keyframes_per_segment=2,
                        keyframe_max_pixels=80 * 60)
    video = read_video(path, segments=cfg)
    lengths = [s.t_end - s.t_start for s in video.segments]
    assert all(1.0 <= n <= 3.0 for n in lengths)
    # the 7 s shot: a piece of the maximum while over twice it remains, then the rest evenly
    assert [round(n, 1) for n in lengths[:3]] == [3.0, 2.0, 2.0]
    assert len(video.segments) == 4  # the 0.6 s shot joined one beside it
    for seg in video.segments:
        assert len(seg.keyframes) == 2 and seg.keyframes[0].t < seg.keyframes[1].t
        assert all(k.image.size == (80, 60) for k in seg.keyframes)  # 4:3 kept
    short = read_video(compose(tmp_path / "short.mkv", (0.6,), audio=False))
    assert [(s.t_start, s.t_end) for s in short.segments] == [(0.0, short.info.duration_s)]
    assert len(short.segments[0].keyframes) == 1


def test_no_audio_stream_and_no_sound_wanted(tmp_path, videos):
    silent = read_video(compose(tmp_path / "silent.mp4", audio=False), sample_rate=RATE)
    assert silent.audio is None and silent.sample_rate is None and not silent.info.has_audio
    check_against_oracle(silent)
    unasked = read_video(videos[".mkv"])  # sample_rate=None: the sound is not decoded
    assert unasked.audio is None and unasked.info.has_audio


def test_audio_only_file_has_segments_without_keyframes(tmp_path):
    path = tmp_path / "sound.mkv"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=22050)
        stream.layout = "stereo"
        t = np.arange(22050 * 7) / 22050
        wave = np.stack([np.sin(2 * np.pi * 440 * t), np.zeros_like(t)]).astype(np.float32)
        frame = av.AudioFrame.from_ndarray(wave, format="fltp", layout="stereo")
        frame.sample_rate, frame.pts = 22050, 0
        out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    video = read_video(path, sample_rate=RATE, segments=SegmentConfig(max_segment_s=3.0))
    assert not video.info.has_video and video.info.width is None
    assert [round(s.t_end - s.t_start, 1) for s in video.segments] == [3.0, 2.0, 2.0]
    assert all(s.keyframes == () for s in video.segments)
    assert abs(video.audio.size - 7 * RATE) < 0.05 * RATE
    middle = video.audio[RATE : 6 * RATE]
    assert abs(peak_hz(middle, RATE) - 440) < 5
    assert np.sqrt(2 * np.mean(middle**2)) == pytest.approx(0.5, abs=0.03)  # channel mean
    assert read_video(path).segments[-1].t_end == pytest.approx(7.0, abs=0.05)  # not decoded


CUES = [TimedText(b, c, f"shot {k}") for k, (b, c) in enumerate(zip(edges()[:-1], edges()[1:],
                                                                    strict=True))]


@pytest.mark.parametrize("suffix", [".mp4", ".mkv", ".webm", ".mov"])
def test_subtitle_streams_become_timed_text(videos, suffix):
    got = read_video(videos[suffix]).subtitles
    assert [c.text for c in got] == [c.text for c in CUES]  # "<i>" stripped
    for a, b in zip(got, CUES, strict=True):
        assert a.t_start == pytest.approx(b.t_start, abs=0.01)
        assert a.t_end == pytest.approx(b.t_end, abs=0.01)
    assert read_video(videos[suffix], subtitles=False).subtitles == ()


def test_a_side_car_wins_over_the_stream(tmp_path, videos):
    path = tmp_path / "movie.mkv"
    path.write_bytes(videos[".mkv"].read_bytes())
    (tmp_path / "movie.srt").write_text(format_srt([TimedText(0.5, 1.0, "from the side-car")]))
    assert read_video(path).subtitles == (TimedText(0.5, 1.0, "from the side-car"),)
    (tmp_path / "movie.srt").unlink()
    (tmp_path / "movie.vtt").write_text("WEBVTT\n\n00:01.000 --> 00:02.000\n<b>vtt</b>\n")
    assert read_video(path).subtitles == (TimedText(1.0, 2.0, "vtt"),)
    (tmp_path / "movie.vtt").unlink()
    (tmp_path / "movie.vtt").symlink_to(tmp_path / "elsewhere.vtt")  # dangling: not followed
    video = read_video(path)
    assert video.subtitles == () and "side-car subtitles not read" in video.warnings[0]


@pytest.mark.parametrize("suffix", [".mp4", ".mkv", ".webm", ".mov", ".avi"])
def test_subtitles_alone_are_read_as_read_video_reads_them(tmp_path, videos, suffix):
    assert video_subtitles(videos[suffix]) == read_video(videos[suffix]).subtitles
    path = tmp_path / f"movie{suffix}"
    path.write_bytes(videos[suffix].read_bytes())
    (tmp_path / "movie.srt").write_text(format_srt([TimedText(0.5, 1.0, "from the side-car")]))
    assert video_subtitles(path) == (TimedText(0.5, 1.0, "from the side-car"),)
    with pytest.raises(VideoDecodeError, match="not found"):
        video_subtitles(tmp_path / "gone.mp4")


def test_probe_reads_the_header(videos):
    info = probe_video(videos[".mp4"])
    assert (info.width, info.height, info.fps) == (*SIZE, 25.0)
    assert info.duration_s == pytest.approx(edges()[-1], abs=0.05)
    assert info.has_video and info.has_audio and info.subtitle_streams == 1
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")


# -- limits ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("limits", "reason"), [
    (VideoLimits(max_bytes=1000), "too large"),
    (VideoLimits(max_seconds=5.0), "too long: 10.0 s"),
    (VideoLimits(max_pixels=160 * 119), "frames of 160×120"),
    (VideoLimits(max_streams=2), "3 streams"),
])
def test_limits_refuse_from_the_header(videos, limits, reason):
    for call in (probe_video, read_video):
        with pytest.raises(VideoDecodeError, match=reason):
            call(videos[".mkv"], limits=limits)


def mkv_with_duration(source: Path, dest: Path, seconds: float) -> Path:
    """A copy of a Matroska file whose header declares ``seconds`` (its Duration element)."""
    data = bytearray(source.read_bytes())
    at = data.find(b"\x44\x89\x88")  # Duration, an 8-byte float in milliseconds
    assert at > 0
    data[at + 3 : at + 11] = struct.pack(">d", seconds * 1000)
    dest.write_bytes(bytes(data))
    return dest


def test_a_header_that_understates_the_length_does_not_get_past_the_limit(tmp_path, videos):
    liar = mkv_with_duration(videos[".mkv"], tmp_path / "liar.mkv", 1.0)
    assert probe_video(liar).duration_s == pytest.approx(1.0)
    video = read_video(liar, sample_rate=RATE, limits=VideoLimits(max_seconds=4.0))
    assert video.info.duration_s <= 4.0 and video.segments[-1].t_end <= 4.0
    assert video.audio.size <= 4 * RATE
    assert any("limit of 4 s" in w for w in video.warnings)
    assert any("longer than" in w for w in read_video(liar).warnings)


def test_a_frame_over_the_pixel_limit_is_refused_while_decoding(videos):
    from xmodal.data.video_decode import VideoPass

    with av.open(str(videos[".mp4"])) as container:  # the header check bypassed
        decoder = VideoPass(container, {"video": container.streams.video[0]},
                            config=SegmentConfig(), max_seconds=60, max_pixels=100,
                            sample_rate=None, fail=lambda r: VideoDecodeError("x", r))
        with pytest.raises(VideoDecodeError, match="a frame of 160×120"):
            decoder.run()


# -- hostile files -----------------------------------------------------------------------------


def avi_declaring(tmp_path: Path, width: int, height: int) -> Path:
    """An uncompressed AVI whose headers declare ``width × height`` (its frames are 32×24)."""
    from PIL import Image

    path = compose_video(tmp_path / f"raw{width}.avi", [(Image.new("RGB", (4, 4), "red"), 0.5)],
                         fps=10, size=(32, 24), codec="rawvideo")
    data = bytearray(path.read_bytes())
    strf, avih = data.find(b"strf"), data.find(b"avih")
    data[strf + 12 : strf + 20] = struct.pack("<ii", width, height)  # BITMAPINFOHEADER
    data[avih + 40 : avih + 48] = struct.pack("<II", width, height)  # the main header
    path.write_bytes(bytes(data))
    return path


def test_hostile_files_are_reported_never_crash(tmp_path, videos):
    good = videos[".mp4"].read_bytes()
    cases = {
        "zero.mp4": b"",
        "random.mp4": np.random.default_rng(0).integers(0, 256, 50_000, np.uint8).tobytes(),
        "half.mp4": good[: len(good) // 2],  # mp4 keeps its index at the end: nothing to read
        "text.mp4": b"hello, I am not a video\n" * 100,
        # a playlist and a concat script in disguise: their demuxers are not allowed
        "playlist.mp4": b"#EXTM3U\n#EXTINF:10,\nhttp://example.invalid/a.ts\n#EXTINF:10,\n"
                        b"/etc/passwd\n#EXT-X-ENDLIST\n",
        "concat.mp4": f"ffconcat version 1.0\nfile '{videos['.mkv']}'\n".encode(),
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
    paths = [tmp_path / n for n in cases]
    paths += [avi_declaring(tmp_path, 10_000, 10_000), avi_declaring(tmp_path, 60_000, 60_000),
              tmp_path / "missing.mp4", tmp_path]
    out = load_videos(paths)
    assert out.videos == () and [p.index for p in out.failed] == list(range(len(paths)))
    reasons = [p.reason for p in out.failed]
    assert reasons[0] == "empty: 0 bytes"
    assert all("not a video file, or truncated or corrupt" in r for r in reasons[1:6])
    assert "frames of 10000×10000" in reasons[6]  # refused from the header
    assert "nothing decodes" in reasons[7]  # FFmpeg drops the size; no frame decodes
    assert reasons[8:] == ["not found", "not a regular file (folder, FIFO, socket or device)"]


def test_a_truncated_matroska_file_gives_what_is_there(tmp_path, videos):
    data = videos[".mkv"].read_bytes()
    (tmp_path / "cut.mkv").write_bytes(data[: len(data) // 2])
    video = read_video(tmp_path / "cut.mkv", sample_rate=RATE)
    assert 1.0 < video.info.duration_s < edges()[-1] - 1
    assert any(w.startswith("truncated:") for w in video.warnings)
    assert video.segments[-1].t_end == video.info.duration_s
    k = len(video.segments)
    check_against_oracle(video, (*DURATIONS[: k - 1], video.info.duration_s - edges()[k - 1]))


def test_damaged_packets_are_skipped(tmp_path, videos):
    data = bytearray(videos[".mp4"].read_bytes())
    at = len(data) // 3
    data[at : at + 2000] = np.random.default_rng(1).integers(0, 256, 2000, np.uint8).tobytes()
    (tmp_path / "damaged.mp4").write_bytes(bytes(data))
    video = read_video(tmp_path / "damaged.mp4", sample_rate=RATE)  # decodes, with a warning
    assert video.segments[-1].t_end == video.info.duration_s > 0


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    errors: list[BaseException] = []
    worker = threading.Thread(target=lambda: errors.append(_catch(fifo)), daemon=True)
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), "opening a FIFO blocked"
    assert "not a regular file" in str(errors[0])


def _catch(path: Path) -> BaseException | None:
    try:
        read_video(path)
    except VideoDecodeError as exc:
        return exc
    return None


def test_load_videos_finishes_the_batch(tmp_path, videos):
    (tmp_path / "bad.mp4").write_bytes(b"junk" * 100)
    out = load_videos([videos[".webm"], tmp_path / "bad.mp4", videos[".ogv"]])
    assert out.indices == (0, 2) and [v.path for v in out.videos] == [
        str(videos[".webm"]), str(videos[".ogv"])]
    assert [p.index for p in out.failed] == [1]


def test_missing_pyav_names_the_extra(monkeypatch, videos):
    monkeypatch.setitem(sys.modules, "av", None)
    with pytest.raises(MissingDependencyError, match=r"xmodal\[video\]"):
        read_video(videos[".mp4"])
    with pytest.raises(MissingDependencyError, match=r"xmodal\[video\]"):
        compose_video("x.mp4", [])


def test_bad_arguments(videos):
    with pytest.raises(ValueError, match="sample_rate"):
        read_video(videos[".mp4"], sample_rate=0)
    with pytest.raises(ValueError, match="positive"):
        VideoLimits(max_seconds=0)


@pytest.mark.parametrize("rotation", [90, -90, 180])
def test_a_display_rotation_is_applied_to_keyframes(tmp_path, rotation):
    pixels = np.zeros((48, 64, 3), np.uint8)  # (H, W, 3): blue, a red block top left
    pixels[..., 2] = 255
    pixels[:12, :16] = (255, 0, 0)
    path = tmp_path / "phone.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.set_display_rotation(rotation)  # counter-clockwise degrees, as phones write it
        for i in range(10):
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    image = np.asarray(read_video(path).segments[0].keyframes[0].image)  # (H', W', 3)
    rows, cols = np.nonzero((image[..., 0] > 200) & (image[..., 2] < 60))
    corner = (rows.mean() > image.shape[0] / 2, cols.mean() > image.shape[1] / 2)
    # counter-clockwise: the top-left corner goes to the bottom left (90), top right (-90)...
    assert corner == {90: (True, False), -90: (False, True), 180: (True, True)}[rotation]
    assert image.shape[:2] == ((64, 48) if rotation != 180 else (48, 64))


def test_packaged_emoji_and_sounds(tmp_path):
    """The issue's test data: emoji and system sounds from the installed sources."""
    from PIL import Image

    from xmodal.data.audio import load_audio
    from xmodal.data.sources import SourceMissingError, load_freedesktop_sounds, load_source

    try:
        emoji = load_source("emoji-datasource").items
        sounds = load_freedesktop_sounds().items
    except SourceMissingError as exc:
        pytest.skip(str(exc))
    picks = [emoji[k] for k in (0, 400, 800, 1200)]  # far apart: different kinds of emoji
    images = []
    for item in picks:
        rgba = Image.open(item.path).convert("RGBA")
        images.append(Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
                      .convert("RGB"))
    clips = [load_audio(s.path, sample_rate=RATE) for s in sounds[:4]]
    durations = (1.5, 2.0, 1.5, 2.0)
    path = compose_video(tmp_path / "emoji.avi", list(zip(images, durations, strict=True)),
                         size=SIZE, audio=[(c, RATE) for c in clips], audio_rate=RATE)
    video = read_video(path, sample_rate=RATE)
    bounds = edges(durations)
    assert len(video.segments) == 4
    assert np.abs(np.array([s.t_start for s in video.segments[1:]]) - bounds[1:-1]).max() <= TOL
    thumbs = [np.asarray(Image.fromarray(letterbox(i, SIZE)).resize((32, 24)), np.float32)
              for i in images]
    for k, seg in enumerate(video.segments):
        key = np.asarray(seg.keyframes[0].image.resize((32, 24)), np.float32)  # (24, 32, 3)
        assert int(np.argmin([np.abs(key - t).mean() for t in thumbs])) == k
        start = round(bounds[k] * RATE)
        n = min(clips[k].size, round(durations[k] * RATE))
        assert np.allclose(video.audio[start : start + n], clips[k][:n], atol=2e-4)  # PCM

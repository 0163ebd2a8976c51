"""xmodal.data.video_compose, checked with PyAV directly (not through read_video)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from PIL import Image

from tests.data.videos import DURATIONS, FPS, SIZE, compose, edges, nearest_shot, peak_hz, tone_hz
from xmodal.data.video_compose import CONTAINERS, compose_video

av = pytest.importorskip("av")

STREAMS = {  # suffix -> (video codec, audio codec, subtitle codec) as FFmpeg reads them back
    ".mp4": ("h264", "aac", "mov_text"), ".mov": ("h264", "aac", "mov_text"),
    ".mkv": ("h264", "aac", "subrip"), ".webm": ("vp8", "opus", "webvtt"),
    ".avi": ("h264", "pcm_s16le", None), ".ogv": ("vp8", "opus", None),
}


@pytest.mark.parametrize("suffix", sorted(CONTAINERS))
def test_every_container_holds_its_streams_frames_and_shots(tmp_path, suffix):
    path = compose(tmp_path / f"v{suffix}", subtitles=STREAMS[suffix][2] is not None)
    with av.open(str(path)) as c:
        video, sound = c.streams.video[0], c.streams.audio[0]
        names = (video.codec_context.name, sound.codec_context.name,
                 c.streams.subtitles[0].codec_context.name if c.streams.subtitles else None)
        assert names == STREAMS[suffix] or (suffix == ".mkv" and names[2] == "srt")
        frames = [(f.time, f.to_ndarray(format="rgb24")) for f in c.decode(video)]  # (H, W, 3)
    assert (frames[0][1].shape[1], frames[0][1].shape[0]) == SIZE
    assert len(frames) == round(edges()[-1] * FPS)
    bounds = edges()
    for k in range(len(DURATIONS)):  # the frame in the middle of each shot shows its image
        middle = (bounds[k] + bounds[k + 1]) / 2
        _, rgb = min(frames, key=lambda f: abs(f[0] - middle))
        assert nearest_shot(Image.fromarray(rgb), len(DURATIONS)) == k
    # no two consecutive frames are identical: the encoder has real work
    assert all(not np.array_equal(a[1], b[1]) for a, b in itertools.pairwise(frames))


def test_audio_is_one_tone_per_shot_at_the_stream_rate(tmp_path):
    path = compose(tmp_path / "a.mkv", audio_rate=48000)
    with av.open(str(path)) as c:
        stream = c.streams.audio[0]
        assert stream.rate == 48000
        wave = np.concatenate([f.to_ndarray()[0] for f in c.decode(stream)])  # (n,)
    assert abs(wave.size - edges()[-1] * 48000) <= 2048  # AAC frames of 1,024 samples
    bounds = edges()
    for k in range(len(DURATIONS)):
        a, b = (round(x * 48000) for x in (bounds[k] + 0.2, bounds[k + 1] - 0.2))
        assert abs(peak_hz(wave[a:b], 48000) - tone_hz(k)) < 5


def test_a_short_sound_is_padded_and_a_long_one_cut(tmp_path):
    silence_then = [(np.full(800, 0.5, np.float32), 8000), (np.full(80000, 0.5, np.float32), 8000)]
    path = compose_video(tmp_path / "p.avi", [(Image.new("RGB", (4, 4)), 1.0)] * 2, fps=10,
                         size=(32, 32), audio=silence_then, audio_rate=8000)
    with av.open(str(path)) as c:
        wave = np.concatenate([f.to_ndarray().reshape(-1) for f in c.decode(audio=0)])  # (n,)
    wave = wave.astype(np.float32) / 32768
    assert wave.size == 16000
    assert np.allclose(wave[100:700], 0.5, atol=0.01) and np.allclose(wave[900:7900], 0, atol=0.01)
    assert np.allclose(wave[8100:15900], 0.5, atol=0.01)  # the 10 s sound cut to its 1 s shot


def test_bad_requests_are_refused(tmp_path):
    img = Image.new("RGB", (4, 4))
    with pytest.raises(ValueError, match="unknown video suffix"):
        compose_video(tmp_path / "x.gif", [(img, 1.0)])
    with pytest.raises(ValueError, match="seconds > 0"):
        compose_video(tmp_path / "x.mp4", [(img, 0.0)])
    with pytest.raises(ValueError, match="one per shot"):
        compose_video(tmp_path / "x.mp4", [(img, 1.0)], subtitles=["a", "b"])
    with pytest.raises(ValueError, match="side-car"):
        compose_video(tmp_path / "x.avi", [(img, 1.0)], subtitles=["a"])

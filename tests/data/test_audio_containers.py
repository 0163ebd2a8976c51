"""xmodal.data.audio_containers (through :func:`xmodal.data.audio.load_audio`) against files
composed here with PyAV: a known chirp in ``.m4a .opus .aac`` and in video containers holding
only sound. Oracle: the decoded wave correlates with the chirp at lag 0 (a frame at most: ADTS
keeps its encoder's priming samples), its spectrum peaks where the chirp's does, and its
length is the chirp's within a frame or two (codec padding); hostile files raise the module's
error naming the file."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from tests.data.videos import peak_hz
from xmodal._optional import MissingDependencyError
from xmodal.data import corpus, video
from xmodal.data.audio import AudioDecodeError, load_audio, load_audios
from xmodal.data.audio_containers import (
    CONTAINER_AUDIO_EXTENSIONS,
    decodes_with_pyav,
    header_seconds,
    sound_only,
)
from xmodal.data.video_compose import compose_audio, compose_video

av = pytest.importorskip("av")

RATE_IN, RATE, SECONDS = 22050, 16000, 3.0
# suffix -> (stream rate, samples per codec frame)
STREAMS = {".m4a": (44100, 1024), ".opus": (48000, 960), ".aac": (44100, 1024),
           ".mkv": (44100, 1024), ".webm": (48000, 960), ".mp4": (22050, 1024)}


def chirp(rate: int, seconds: float = SECONDS, amplitude: float = 0.4) -> np.ndarray:
    """300 → 900 Hz over ``seconds``: no two lags look alike, unlike a pure tone."""
    t = np.arange(round(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * (300 * t + 100 * t**2))).astype(np.float32)


def lag_of(wave: np.ndarray, ref: np.ndarray, reach: int) -> tuple[int, float]:
    """The shift of ``wave`` against ``ref`` within ±``reach`` samples, and their correlation."""
    scores = np.correlate(np.pad(wave, (reach, reach)), ref, "valid")  # (wave + 2 reach - ref,)
    lag = int(np.argmax(scores[: 2 * reach + 1])) - reach
    n = min(wave.size - max(lag, 0), ref.size - max(-lag, 0))
    a, b = wave[max(lag, 0) :][:n], ref[max(-lag, 0) :][:n]
    return lag, float(np.corrcoef(a, b)[0, 1])


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("sounds")
    return {s: compose_audio(root / f"chirp{s}", chirp(RATE_IN), RATE_IN, audio_rate=rate)
            for s, (rate, _) in STREAMS.items()}


@pytest.mark.parametrize("suffix", list(STREAMS))
def test_the_decoded_wave_is_the_known_sound(files, suffix):
    rate, frame = STREAMS[suffix]
    wave = load_audio(files[suffix], sample_rate=RATE)
    assert wave.dtype == np.float32 and wave.ndim == 1 and np.abs(wave).max() <= 1.0
    frame_n = round(frame / rate * RATE)  # a codec frame, in output samples
    ref = chirp(RATE)
    lag, corr = lag_of(wave, ref, reach=4 * frame_n)
    assert abs(lag) <= (frame_n if suffix == ".aac" else 2)  # ADTS: the priming is kept
    assert corr > 0.98
    frames = 2 if suffix == ".aac" else 1  # ADTS: priming and padding both
    assert abs(wave.size - SECONDS * RATE) <= frames * frame_n
    middle = wave[lag + RATE : lag + 2 * RATE]  # 1..2 s: 500 -> 700 Hz
    assert abs(peak_hz(middle, RATE) - 600) < 60
    assert np.sqrt(2 * np.mean(middle**2)) == pytest.approx(0.4, abs=0.03)
    assert header_seconds(files[suffix]) == pytest.approx(SECONDS, abs=0.05)


def test_channels_are_averaged_and_a_video_gives_its_soundtrack(tmp_path):
    stereo = compose_audio(tmp_path / "both.m4a", chirp(RATE_IN), RATE_IN, layout="stereo")
    assert lag_of(load_audio(stereo, sample_rate=RATE), chirp(RATE), 2000)[1] > 0.98
    from PIL import Image

    clip = compose_video(tmp_path / "clip.mkv", [(Image.new("RGB", (8, 8), "red"), SECONDS)],
                         fps=5, size=(32, 24), audio=[(chirp(RATE_IN), RATE_IN)])
    wave = load_audio(clip, sample_rate=RATE)
    assert lag_of(wave, chirp(RATE), 2000)[1] > 0.98
    assert not sound_only(clip)


def test_sound_only_reads_the_header(files, tmp_path):
    assert all(sound_only(p) for p in files.values())
    from PIL import Image

    silent = compose_video(tmp_path / "silent.mp4", [(Image.new("RGB", (8, 8), "red"), 0.4)],
                           fps=5, size=(32, 24))
    (tmp_path / "junk.mkv").write_bytes(b"junk" * 100)
    assert not sound_only(silent) and not sound_only(tmp_path / "junk.mkv")
    assert not sound_only(tmp_path / "missing.webm")
    with pytest.raises(AudioDecodeError, match=r"silent\.mp4: no audio stream"):
        load_audio(silent, sample_rate=RATE)


def test_hostile_files_give_the_error_naming_the_file(files, tmp_path):
    m4a, mkv = files[".m4a"].read_bytes(), files[".mkv"].read_bytes()
    cases = {
        "empty.m4a": b"",
        "half.m4a": m4a[: len(m4a) // 2],  # its index (moov) is at the end: nothing to read
        "cut.mkv": mkv[: len(mkv) * 3 // 4],  # the header declares 3 s, 2.2 s are there
        "random.opus": np.random.default_rng(0).integers(0, 256, 20_000, np.uint8).tobytes(),
        "text.aac": b"not a sound at all\n" * 100,
        # a playlist in disguise: its demuxer is not allowed, nothing is fetched
        "playlist.m4a": b"#EXTM3U\n#EXTINF:10,\nhttp://example.invalid/a.aac\n#EXT-X-ENDLIST\n",
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
    reasons = {}
    for name in [*cases, "missing.m4a"]:
        with pytest.raises(AudioDecodeError) as caught:
            load_audio(tmp_path / name, sample_rate=RATE)
        assert str(caught.value).startswith(f"{tmp_path / name}: ")
        reasons[name] = caught.value.reason
    assert reasons["empty.m4a"] == "empty: 0 bytes"
    assert reasons["missing.m4a"] == "not found"
    assert reasons["cut.mkv"].startswith("truncated or corrupt: 2.")
    assert "of the 3.0 s its header declares" in reasons["cut.mkv"]
    for name in ("half.m4a", "random.opus", "text.aac", "playlist.m4a"):
        assert reasons[name].startswith("not an audio file or unsupported format"), name
    out = load_audios([tmp_path / "half.m4a", files[".opus"]], sample_rate=RATE)
    assert out.indices == (1,) and [p.index for p in out.failed] == [0]


def test_the_duration_limit_holds_from_the_header_and_while_decoding(files, tmp_path):
    with pytest.raises(AudioDecodeError, match=r"too long: 3\.0 s, over the limit of 2 s"):
        load_audio(files[".webm"], sample_rate=RATE, max_seconds=2.0)
    liar = bytearray(files[".mkv"].read_bytes())  # its header declares 1 s
    at = liar.find(b"\x44\x89\x88")  # Matroska's Duration: an 8-byte float in milliseconds
    liar[at + 3 : at + 11] = np.array([1000.0], ">f8").tobytes()
    (tmp_path / "liar.mkv").write_bytes(bytes(liar))
    assert header_seconds(tmp_path / "liar.mkv") == pytest.approx(1.0)
    with pytest.raises(AudioDecodeError, match="too long: more than 2 s decoded"):
        load_audio(tmp_path / "liar.mkv", sample_rate=RATE, max_seconds=2.0)


def test_missing_pyav_names_the_extra(files, monkeypatch):
    monkeypatch.setitem(sys.modules, "av", None)
    with pytest.raises(MissingDependencyError, match=r"xmodal\[video\]"):
        load_audio(files[".m4a"], sample_rate=RATE)
    out = load_audios([files[".m4a"], files[".opus"]], sample_rate=RATE)  # Opus: libsndfile
    assert out.indices == (1,) and "xmodal[video]" in out.failed[0].reason
    assert not decodes_with_pyav("x.opus") and decodes_with_pyav("x.webm")
    assert not sound_only(files[".mkv"])  # a video then: its reader names the extra


def test_the_extension_lists_agree():
    assert CONTAINER_AUDIO_EXTENSIONS <= corpus.AUDIO_EXTENSIONS
    assert corpus.VIDEO_EXTENSIONS == video.VIDEO_EXTENSIONS

"""The demo's time-based documents: a short video and a long recording, composed from packaged
images and sounds (so their content per segment is known), and the two queries by example that
show a time-stamped hit."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

VIDEO_SOURCE = "scratch-images"
"""Shots of the demo video: the first image of each distinct name (animals, things)."""
VIDEO_SHOTS, SHOT_S = 8, 4.0
RECORDING_SOURCE = "openttd-sounds"
"""Parts of the demo recording: vehicles and machines, each looped to :data:`PART_S`."""
RECORDING_PARTS, PART_S = 9, 20.0
RATE = 16_000


@dataclass(frozen=True)
class DemoMedia:
    """The composed files and one query by example for each, with the span it should find."""

    folder: Path
    video: Path
    recording: Path
    image_query: Path  # the source image of one shot
    image_span: tuple[float, float]
    audio_query: Path  # an excerpt of one part of the recording
    audio_span: tuple[float, float]


def _distinct(source: str, n: int) -> list[tuple[Path, str]]:
    """The first item of each of the first ``n`` distinct captions of a packaged source."""
    from xmodal.data.sources import load_source

    out: dict[str, Path] = {}
    for item in load_source(source).items:
        if item.caption and item.caption not in out:
            out[item.caption] = Path(item.path)
        if len(out) == n:
            break
    return [(path, caption) for caption, path in out.items()]


def _looped(path: Path, seconds: float) -> np.ndarray:
    """A sound repeated (with 0.5 s of silence between) to exactly ``seconds``."""
    from xmodal.data.audio import load_audio

    wave = load_audio(path, sample_rate=RATE)  # (n,)
    gap = np.zeros(RATE // 2, dtype=np.float32)
    n = round(seconds * RATE)
    reps = int(np.ceil(n / (len(wave) + len(gap))))
    return np.tile(np.concatenate([wave, gap]), reps)[:n]  # (n,)


def compose_demo_media(root: Path) -> DemoMedia:
    """Write ``root/demo-media`` (once: existing files are kept, so a second run re-encodes
    nothing): ``animals.mp4`` (:data:`VIDEO_SHOTS` shots of :data:`SHOT_S` s, each an image with
    its name as a subtitle and a sound under it) and ``machines-recording.wav``
    (:data:`RECORDING_PARTS` parts of :data:`PART_S` s), plus the two query files."""
    import soundfile
    from PIL import Image

    from xmodal.data.video_compose import compose_video

    folder = root / "demo-media"
    queries = root / "demo-queries"  # outside the indexed folder
    folder.mkdir(parents=True, exist_ok=True)
    queries.mkdir(parents=True, exist_ok=True)
    shots = _distinct(VIDEO_SOURCE, VIDEO_SHOTS)
    parts = _distinct(RECORDING_SOURCE, RECORDING_PARTS)
    video, recording = folder / "animals.mp4", folder / "machines-recording.wav"
    if not video.is_file():
        images = [(Image.open(p).convert("RGB"), SHOT_S) for p, _ in shots]
        sounds = [(_looped(p, SHOT_S), RATE) for p, _ in parts[: len(shots)]]
        tmp = video.with_name(".animals.tmp.mp4")
        compose_video(tmp, images, size=(320, 240), audio=sounds,
                      subtitles=[f"a {c}" for _, c in shots], audio_rate=RATE)
        tmp.replace(video)
    if not recording.is_file():
        wave = np.concatenate([_looped(p, PART_S) for p, _ in parts])  # (n,)
        tmp = recording.with_name(".machines.tmp.wav")
        soundfile.write(tmp, wave, RATE, subtype="PCM_16", format="WAV")
        tmp.replace(recording)
    shot, part = min(5, len(shots) - 1), min(3, len(parts) - 1)
    image_query = queries / f"shot-{shot}{shots[shot][0].suffix}"
    if not image_query.is_file():
        image_query.write_bytes(shots[shot][0].read_bytes())
    audio_query = queries / f"part-{part}.wav"
    if not audio_query.is_file():
        excerpt = _looped(parts[part][0], PART_S)[: round(6 * RATE)]  # 6 s of the part
        soundfile.write(audio_query, excerpt, RATE, subtype="PCM_16", format="WAV")
    return DemoMedia(folder, video, recording, image_query, (shot * SHOT_S, (shot + 1) * SHOT_S),
                     audio_query, (part * PART_S, (part + 1) * PART_S))

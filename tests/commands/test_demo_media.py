"""The demo's composed video and recording: their segments are where the composition put them."""

from __future__ import annotations

import numpy as np
import soundfile

from xmodal.commands.demo_media import (
    PART_S,
    RECORDING_PARTS,
    SHOT_S,
    VIDEO_SHOTS,
    _distinct,
    compose_demo_media,
)
from xmodal.data.video import read_video


def test_demo_media_are_composed_once_with_known_times(tmp_path):
    media = compose_demo_media(tmp_path)
    video = read_video(media.video, sample_rate=16_000)
    cuts = [s.t_start for s in video.segments[1:]]
    assert len(video.segments) == VIDEO_SHOTS
    assert np.allclose(cuts, [SHOT_S * k for k in range(1, VIDEO_SHOTS)], atol=0.5)
    shots = _distinct("scratch-images", VIDEO_SHOTS)
    assert [c.text for c in video.subtitles] == [f"a {c}" for _, c in shots]
    assert abs(video.audio.size / 16_000 - VIDEO_SHOTS * SHOT_S) < 0.1
    info = soundfile.info(media.recording)
    assert info.duration == RECORDING_PARTS * PART_S
    assert media.image_query.read_bytes() == shots[5][0].read_bytes()
    assert media.image_span == (5 * SHOT_S, 6 * SHOT_S)
    assert media.audio_span == (3 * PART_S, 4 * PART_S)
    # the excerpt is the start of part 3 of the recording
    excerpt, _ = soundfile.read(media.audio_query, dtype="float32")
    start = round(3 * PART_S * 16_000)
    part, _ = soundfile.read(media.recording, dtype="float32", start=start,
                             stop=start + excerpt.size)
    assert np.allclose(excerpt, part, atol=1e-4)
    # a second run keeps the files (so the index re-encodes nothing)
    stamps = [p.stat().st_mtime_ns for p in (media.video, media.recording)]
    again = compose_demo_media(tmp_path)
    assert [p.stat().st_mtime_ns for p in (again.video, again.recording)] == stamps

"""Test videos with known content: distinct drawn images, tones, and the oracle of their times."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from xmodal.data.video_compose import compose_video, letterbox

SIZE = (160, 120)
FPS = 25
RATE = 16000
PALETTE = [(220, 40, 40), (40, 170, 60), (40, 60, 220), (240, 220, 40), (30, 200, 210),
           (200, 60, 200), (120, 120, 120), (250, 150, 60)]
DURATIONS = (1.6, 2.4, 1.3, 3.0, 1.7)  # seconds per shot: every shot over min_segment_s


def shot_image(k: int) -> Image.Image:
    """Shot ``k``'s picture: a colour of the palette with a white disc in a place of its own."""
    img = Image.new("RGB", (64, 48), PALETTE[k % len(PALETTE)])
    x, y = 8 + 9 * (k % 5), 6 + 7 * (k % 4)
    ImageDraw.Draw(img).ellipse([x, y, x + 16, y + 16], fill=(255, 255, 255))
    return img


def tone(k: int, seconds: float = 3.0, rate: int = 22050) -> tuple[np.ndarray, int]:
    """Shot ``k``'s sound: a sine at ``300 + 150 k`` Hz (a rate other than RATE: resampled)."""
    t = np.arange(round(seconds * rate)) / rate
    return (0.4 * np.sin(2 * np.pi * tone_hz(k) * t)).astype(np.float32), rate


def tone_hz(k: int) -> float:
    return 300.0 + 150.0 * k


def edges(durations=DURATIONS) -> np.ndarray:
    """Shot boundaries in seconds: shot k spans ``[edges[k], edges[k + 1])``."""
    return np.cumsum([0.0, *durations])  # (shots + 1,)


def compose(path: Path, durations=DURATIONS, *, audio: bool = True, subtitles: bool = False,
            **kw) -> Path:
    shots = [(shot_image(k), d) for k, d in enumerate(durations)]
    return compose_video(
        path, shots, fps=kw.pop("fps", FPS), size=kw.pop("size", SIZE),
        audio=[tone(k) for k in range(len(durations))] if audio else None,
        subtitles=[f"<i>shot</i> {k}" for k in range(len(durations))] if subtitles else None,
        **kw)


def nearest_shot(image: Image.Image, n: int, size=SIZE) -> int:
    """Which of the first ``n`` shot images ``image`` looks like (mean absolute difference of
    32×24 thumbnails: a pixel query-by-example)."""
    probe = np.asarray(image.convert("RGB").resize((32, 24)), np.float32)  # (24, 32, 3)
    refs = [letterbox(shot_image(k), size) for k in range(n)]
    costs = [np.abs(np.asarray(Image.fromarray(r).resize((32, 24)), np.float32) - probe).mean()
             for r in refs]
    return int(np.argmin(costs))


def shot_at(t: float, durations=DURATIONS) -> int:
    return int(np.searchsorted(edges(durations), t, side="right") - 1)


def peak_hz(wave: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(wave * np.hanning(len(wave))))
    return float(np.fft.rfftfreq(len(wave), 1 / rate)[np.argmax(spectrum)])

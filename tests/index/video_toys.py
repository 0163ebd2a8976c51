"""Small videos with known shots, and toy encoders that see and hear them (no model loaded).

A video is composed of still shots (``tests/data/videos.py``'s drawn images), each with its
own tone and a subtitle of toy-vocabulary words, so a query by a shot's image, an excerpt of
its tone or its subtitle's words has one right answer: that shot's span. :class:`ThumbEncoder`
embeds an image as its 4×4 RGB thumbnail (centred, unit norm); audio uses
:class:`~tests.index.recordings.ToneEncoder` (10 s windows, a tone per band), text the toy
bag-of-words encoder of ``tests/api/toy.py``.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
from PIL import Image

from tests.api.toy import ToyEncoder
from tests.data.videos import shot_image
from tests.index.recordings import RATE, ToneEncoder, band_hz, tone
from xmodal.data.video_compose import compose_video
from xmodal.encoders.base import EncoderBase
from xmodal.encoders.card import ModelCard

SUBTITLES = ("red heart love", "cat kitten whiskers", "drum beat loop", "violin string note")
BANDS = (3, 9, 15, 21)  # the tone of shot k: band BANDS[k]


class ThumbEncoder(EncoderBase):
    """Images only: the 4×4 RGB thumbnail, centred, unit norm (48-d); counts the images."""

    def __init__(self, name: str = "thumb") -> None:
        self.card = ModelCard(name=name, family="lit", dim=48, modalities=("image",))
        self.items = 0

    def _embed_images(self, images: list[Image.Image], *, batch_size: int) -> np.ndarray:
        self.items += len(images)
        rows = [np.asarray(im.convert("RGB").resize((4, 4), Image.BILINEAR),
                           np.float32).ravel() - 128.0 for im in images]  # (48,) each
        x = np.stack(rows)  # (n, 48)
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def video_encoders() -> dict[str, object]:
    return {"image": ThumbEncoder(), "audio": ToneEncoder(),
            "text": ToyEncoder("toy-text", ("text",))}


def write_video(path: Path, durations: tuple[float, ...] = (12.0, 9.0, 14.0, 11.0), *,
                subtitles: bool = True, fps: float = 5) -> list[tuple[float, float]]:
    """A 160×120 video of ``len(durations)`` shots; returns each shot's span."""
    path.parent.mkdir(parents=True, exist_ok=True)
    shots = [(shot_image(k), d) for k, d in enumerate(durations)]
    audio = [(tone(band_hz(BANDS[k]), d, seed=k), RATE) for k, d in enumerate(durations)]
    compose_video(path, shots, fps=fps, size=(160, 120), audio=audio,
                  subtitles=list(SUBTITLES[: len(durations)]) if subtitles else None)
    edges = np.cumsum([0.0, *durations])
    return [(float(a), float(b)) for a, b in itertools.pairwise(edges)]


def shot_query(path: Path, k: int) -> Path:
    """Shot ``k``'s source image as a PNG (a query by example)."""
    shot_image(k).save(path)
    return path

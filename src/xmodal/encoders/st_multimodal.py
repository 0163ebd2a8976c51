"""Images and audio through a multimodal sentence-transformers model (CLIP, CLAP, ... loaded by
sentence-transformers >= 5.4 as a ``Transformer`` module with a processor).

sentence-transformers lists what a model embeds in ``SentenceTransformer.modalities`` (the input
module's ``modality_config``: ``["text", "image"]`` for a CLIP, ``["text", "audio"]`` for a
CLAP) and checks one with ``SentenceTransformer.supports``. Its ``encode`` takes PIL images,
``{"array": wave, "sampling_rate": rate}`` audio dicts and ``{"text": ...}`` dicts, and routes
each batch to the model's ``get_image_features`` / ``get_audio_features`` / text method.

xmodal keeps its own decoding and limits in front of it: images arrive here already decoded by
:func:`xmodal.data.images.load_images` (EXIF orientation, pixel limits, RGB), audio by
:func:`xmodal.data.audio.load_audios` at the model's sampling rate, mono float32. Audio is
deterministic: each clip is cut into consecutive windows no longer than the feature extractor's
maximum (so its truncation never crops at random), the windows embedded and averaged by their
real length (:func:`~xmodal.encoders.audio_windows.pool_windows`, as for
:class:`~xmodal.encoders.hf_clap.ClapEncoder`).

Example:
    >>> from sentence_transformers import SentenceTransformer
    >>> model = SentenceTransformer("tiny-clip-folder")  # doctest: +SKIP
    >>> xmodal_modalities(model)  # doctest: +SKIP
    ('text', 'image')
"""

from __future__ import annotations

from typing import Any

import numpy as np

from xmodal.modalities import MODALITIES, Modality

from .audio_windows import pool_windows
from .base import EncoderLoadError

DEFAULT_WINDOW_S = 10.0
"""Audio window when the feature extractor states no maximum length (wav2vec2-like models)."""


def xmodal_modalities(model: Any) -> tuple[Modality, ...]:
    """The modalities of ``MODALITIES`` the sentence-transformers ``model`` embeds, in order.

    Uses ``model.supports`` (sentence-transformers >= 5.4); an older model with no
    ``supports`` is text-only. Video and chat-style ``"message"`` inputs have no xmodal
    modality and are left out.

    Example:
        >>> class TextOnly:
        ...     def supports(self, modality):
        ...         return modality == "text"
        >>> xmodal_modalities(TextOnly())
        ('text',)
    """
    supports = getattr(model, "supports", None)
    if supports is None:
        return ("text",)
    found = tuple(m for m in MODALITIES if supports(m))
    return found or ("text",)


def _input_modules(model: Any) -> list[Any]:
    """The input module(s): the first module, or each route's first module of a ``Router``."""
    first = model[0]
    routes = getattr(first, "sub_modules", None)
    if routes:
        return [route[0] for route in routes.values()]
    return [first]


def _feature_extractor(model: Any) -> Any | None:
    """The audio feature extractor of the model's input module(s), if any."""
    for module in _input_modules(model):
        processor = getattr(module, "processor", None)
        extractor = getattr(processor, "feature_extractor", processor)
        if getattr(extractor, "sampling_rate", None):
            return extractor
    return None


def audio_settings(model: Any) -> tuple[int, float]:
    """The sampling rate audio is decoded at and the window each clip is cut into.

    The window is the feature extractor's longest input (``nb_max_samples`` for CLAP,
    ``n_samples`` for Whisper), or :data:`DEFAULT_WINDOW_S` when it states none.

    Raises:
        EncoderLoadError: The model embeds audio but has no feature extractor with a rate.

    Example:
        >>> class Extractor:
        ...     sampling_rate, nb_max_samples = 48000, 480000
        >>> class Module:
        ...     processor = Extractor()
        >>> audio_settings([Module()])
        (48000, 10.0)
    """
    extractor = _feature_extractor(model)
    if extractor is None:
        raise EncoderLoadError(
            "st: the model embeds audio but its processor has no feature extractor with a "
            "sampling_rate; xmodal cannot tell the rate to decode audio at"
        )
    rate = int(extractor.sampling_rate)
    longest = getattr(extractor, "nb_max_samples", None) or getattr(extractor, "n_samples", None)
    return rate, (float(longest) / rate if longest else DEFAULT_WINDOW_S)


def text_inputs(texts: list[str], modalities: tuple[Modality, ...]) -> list[Any]:
    """Texts as ``encode`` should get them: plain strings for a text-only model, else
    ``{"text": ...}`` dicts, so that a text that looks like an image path or URL is embedded as
    text, never opened or fetched as an image (sentence-transformers guesses from the string).

    Example:
        >>> text_inputs(["cat.png"], ("text", "image"))
        [{'text': 'cat.png'}]
        >>> text_inputs(["cat.png"], ("text",))
        ['cat.png']
    """
    if modalities == ("text",):
        return list(texts)
    return [{"text": t} for t in texts]


def embed_images(model: Any, images: list[Any], *, batch_size: int) -> np.ndarray:
    """Embed decoded RGB PIL images with ``model.encode``: ``(n, d)`` float32, L2-normalised."""
    return _encode(model, images, batch_size)


def embed_audio(
    model: Any, waves: list[np.ndarray], *, sample_rate: int, window_s: float, batch_size: int
) -> np.ndarray:
    """Embed mono waves at ``sample_rate``: each cut into consecutive ``window_s`` windows,
    every window embedded whole, the window vectors averaged by their real length
    (:func:`~xmodal.encoders.audio_windows.pool_windows`).

    Returns:
        ``(n_clips, d)`` float32 (normalised by the caller's checks).
    """
    def embed(parts: list[np.ndarray]) -> np.ndarray:  # (total_windows, d)
        return _encode(model, [{"array": p, "sampling_rate": sample_rate} for p in parts],
                       batch_size)

    state = np.random.get_state()  # feature extractors may draw from numpy's global RNG
    try:
        return pool_windows(waves, sample_rate=sample_rate, window_s=window_s, embed=embed)
    finally:
        np.random.set_state(state)


def _encode(model: Any, inputs: list[Any], batch_size: int) -> np.ndarray:
    return model.encode(inputs, batch_size=batch_size, show_progress_bar=False,
                        convert_to_numpy=True, normalize_embeddings=True)

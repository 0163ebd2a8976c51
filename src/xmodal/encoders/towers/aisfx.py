"""aisfx (sound-effect embeddings, CrossNet "X-Sequential-CE") as a frozen audio tower: 512-d.

The weights ship in the PyPI package ``aisfx`` (install it with ``pip install --no-deps aisfx``:
its pins do not install on Python 3.11). Nothing is downloaded. The checkpoint is a pickled
``(state_dict, {dataset: (np.int64, classes)})`` tuple; it is read with ``weights_only=True``,
allowing only the numpy globals it holds (:data:`CHECKPOINT_GLOBALS`).

Pipeline per clip (mono float32 at 44.1 kHz, from :mod:`xmodal.data.audio`):

1. :func:`log_mel`: aisfx's librosa spectrogram (``compute_spectrogram``) computed on the array
   instead of a file: peak-normalise, 96-band HTK mel power spectrogram (2048-sample window,
   1024 hop), ``log10(1 + 10^4 · S)``, transposed to ``(frames, 96)``; then aisfx's
   ``spectrogram_normalize(..., "original")``.
2. aisfx's ``blocking``: 100-frame blocks (≈ 2.32 s), hop 50 frames (the paper's 1 s hop), the
   last partial block kept and zero-padded (zero is silence after normalisation); a clip shorter
   than one block becomes one zero-padded block.
3. The embedding net gives one 512-d vector per block; the clip's vector is their plain mean,
   L2-normalised. Deterministic: no random crop, no sampling.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import torch

from ..._optional import require
from ..base import EncoderBase
from ..card import ModelCard

SAMPLE_RATE = 44100
"""aisfx's ``SAMPLE_RATE`` (44.1 kHz), as the int the decoder takes."""
BLOCK_FRAMES = 100
"""Spectrogram frames per embedded block (aisfx's ``EMB_BLOCK_LENGTH``)."""
HOP_FRAMES = 50
"""Frames between block starts (``emb_hop_size=0.5``, the paper's 1 s hop)."""
HOP_SAMPLES = 1024
"""Samples between spectrogram frames (aisfx's ``SPEC_HOP_LENGTH``)."""
BLOCK_S = BLOCK_FRAMES * HOP_SAMPLES / SAMPLE_RATE
"""Length of one block in seconds (≈ 2.32 s)."""


def checkpoint_globals() -> list[Any]:
    """The numpy globals the aisfx checkpoint pickles, for ``torch.serialization.safe_globals``.

    Example:
        >>> [g[1] if isinstance(g, tuple) else g.__name__ for g in checkpoint_globals()]
        ['numpy.core.multiarray.scalar', 'dtype', 'Int64DType']
    """
    try:  # numpy 2 moved numpy.core to numpy._core; the pickle names the old path
        from numpy._core.multiarray import scalar
    except ImportError:  # pragma: no cover - numpy 1
        from numpy.core.multiarray import scalar
    return [(scalar, "numpy.core.multiarray.scalar"), np.dtype, np.dtypes.Int64DType]


def log_mel(wave: np.ndarray) -> np.ndarray:
    """aisfx's librosa spectrogram of an in-memory mono wave at 44.1 kHz, not yet normalised.

    Equal (to float32 rounding) to ``compute_spectrogram(path, ...).T`` of aisfx for a 44.1 kHz
    file holding ``wave``: peak-normalised, centred zero-padded frames of 2048 samples every
    1024 with a periodic Hann window, power spectrum, librosa's 96-band HTK mel filters,
    ``log10(1 + 10^4 · S)``. The STFT is computed here in float32 with ``scipy.fft`` (2.6× faster
    than ``librosa.feature.melspectrogram``; decoding runs beside the model, so it counts); the
    filter bank is librosa's own.

    Args:
        wave: ``(n,)`` float mono wave at :data:`SAMPLE_RATE`.

    Returns:
        ``(frames, 96)`` float32, ``frames = n // 1024 + 1``.

    Example:
        >>> log_mel(np.zeros(44100, dtype=np.float32)).shape
        (44, 96)
    """
    fft = require("scipy.fft", "audio")
    mel, window = _mel_filters()  # (96, 1025), (2048,)
    y = np.asarray(wave, dtype=np.float32).reshape(-1)  # (n,)
    peak = np.max(np.abs(y)) if y.size else 0.0
    y = y / (peak if peak != 0 else 1)  # aisfx normalises each file to peak 1
    n_fft = window.shape[0]
    padded = np.pad(y, n_fft // 2)  # (n + 2048,): librosa's centred frames, zero padding
    frames = 1 + (padded.shape[0] - n_fft) // HOP_SAMPLES
    step = padded.strides[0]
    framed = np.lib.stride_tricks.as_strided(  # (frames, 2048), a view
        padded, (frames, n_fft), (step * HOP_SAMPLES, step), writeable=False
    )
    spectrum = fft.rfft(framed * window, axis=-1)  # (frames, 1025) complex64
    power = spectrum.real**2 + spectrum.imag**2  # (frames, 1025)
    return np.log10(power @ mel.T * 10000.0 + 1).astype(np.float32)  # (frames, 96)


@functools.lru_cache(maxsize=1)
def _mel_filters() -> tuple[np.ndarray, np.ndarray]:
    """aisfx's mel filter bank ``(96, 1025)`` (librosa's, HTK, area-normalised) and window."""
    librosa = require("librosa", "models")
    inference = require("aisfx.inference", "models")
    signal = require("scipy.signal", "audio")
    n_fft = inference.SPEC_BLOCK_LENGTH  # librosa's n_fft default (2048) = aisfx's window
    mel = librosa.filters.mel(
        sr=inference.SAMPLE_RATE, n_fft=n_fft, n_mels=inference.MEL_BINS, norm=1.0,
        fmin=inference.F_MIN, fmax=inference.F_MAX, htk=True,
    )  # (96, 1025)
    window = signal.get_window("hann", n_fft, fftbins=True)  # (2048,) periodic, as librosa
    return mel.astype(np.float32), window.astype(np.float32)


def blocks(wave: np.ndarray) -> np.ndarray:
    """Normalised spectrogram blocks of one clip, as aisfx cuts them.

    Args:
        wave: ``(n,)`` float mono wave at :data:`SAMPLE_RATE`.

    Returns:
        ``(n_blocks, 100, 96)`` float32; ``n_blocks = max(1, ceil((frames - 100) / 50 + 1))``.

    Example:
        >>> blocks(np.zeros(1000, dtype=np.float32)).shape  # short clip: one padded block
        (1, 100, 96)
    """
    pre = require("aisfx.preprocessing", "models")
    spec = pre.spectrogram_normalize(log_mel(wave), "original")  # (frames, 96)
    cut = pre.blocking(spec, block_size=BLOCK_FRAMES, hop_size=HOP_FRAMES,
                       drop_partial_block=False)  # (n_blocks, 100, 96)
    return cut.astype(np.float32)


def load_model(device: str = "cpu", dtype: Any = None) -> torch.nn.Module:
    """aisfx's best model (CrossNet), loaded with ``weights_only=True``, in eval mode.

    Raises:
        MissingDependencyError: aisfx (or librosa) is not installed (extra ``models``;
            aisfx itself with ``pip install --no-deps aisfx``).
    """
    require("librosa", "models")
    inference = require("aisfx.inference", "models")
    with torch.serialization.safe_globals(checkpoint_globals()):
        weights, datasets = torch.load(inference.get_path_modelWeights(), map_location="cpu",
                                       weights_only=True)
    model = inference.load_bestModel(weights, datasets, "cpu")
    return model.to(device=device, dtype=dtype).eval()


class AisfxEncoder(EncoderBase):
    """Frozen aisfx audio tower: one 512-d vector per clip, the mean of its ≈2.32 s blocks.

    Audio only; clips are decoded to mono 44.1 kHz (``card.sample_rate``). ``card.audio_window_s``
    is the block length; blocks overlap by half. See the module docstring for the pipeline.
    Load with ``load_encoder("aisfx")``.

    Example:
        >>> from xmodal.encoders import load_encoder
        >>> enc = load_encoder("aisfx")
        >>> t = np.arange(44100, dtype=np.float32) / 44100
        >>> v = enc.encode_audio([np.sin(2 * np.pi * 440 * t)])
        >>> enc.card.sample_rate, round(enc.card.audio_window_s, 2), v.shape
        (44100, 2.32, (1, 512))
    """

    graph: Any = None
    """The network on ONNX Runtime (:mod:`xmodal.encoders.runtime`), or None: torch."""

    def __init__(self, model: torch.nn.Module, *, name: str = "aisfx") -> None:
        self.model = model
        self.card = ModelCard(name=name, family="aisfx", dim=512, modalities=("audio",),
                              audio_window_s=BLOCK_S, sample_rate=SAMPLE_RATE)

    @classmethod
    def load(cls, *, name: str = "aisfx", device: str = "cpu", dtype: Any = None) -> AisfxEncoder:
        """Load the packaged weights; never downloads."""
        return cls(load_model(device, dtype), name=name)

    def embed_blocks(self, cut: np.ndarray) -> np.ndarray:
        """Block embeddings of ``(n_blocks, 100, 96)`` spectrogram blocks → ``(n_blocks, 512)``."""
        if self.graph is not None:  # ONNX Runtime (xmodal.encoders.runtime)
            return self.graph.run({"blocks": cut})  # (n_blocks, 512)
        param = next(self.model.parameters())
        x = torch.from_numpy(cut).to(param.device, param.dtype)  # (n_blocks, 100, 96)
        with torch.inference_mode():
            return self.model.get_embedding(x).float().cpu().numpy()  # (n_blocks, 512)

    prepare_audio = staticmethod(blocks)  # spectrogram blocks, computed where decoding runs

    def _embed_audio(self, cuts: list[np.ndarray], *, batch_size: int) -> np.ndarray:
        """Embed clips given as their spectrogram blocks (``prepare_audio``), each
        ``(n_blocks_i, 100, 96)``: block embeddings, mean-pooled per clip."""
        every = np.concatenate(cuts)  # (total_blocks, 100, 96)
        vectors = np.concatenate([  # (total_blocks, 512)
            self.embed_blocks(every[s : s + batch_size]) for s in range(0, len(every), batch_size)
        ])
        out, at = [], 0
        for cut in cuts:
            out.append(vectors[at : at + len(cut)].mean(axis=0))  # (512,)
            at += len(cut)
        return np.stack(out)  # (n_clips, 512): normalised by the base's checks

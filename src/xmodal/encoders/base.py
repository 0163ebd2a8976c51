"""The ``Encoder`` protocol and the shared batching, checking and error reporting."""

from __future__ import annotations

import atexit
import functools
import multiprocessing
import os
import warnings
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from typing import Any, Literal, Protocol, overload, runtime_checkable

import numpy as np

from xmodal.data.batches import decode_batch
from xmodal.data.images import DEFAULT_MAX_PIXELS

from .card import Modality, ModelCard
from .pipeline import BatchTrace, Pipeline
from .report import EncodeReport, ItemProblem, describe
from .text import prepare_texts

Errors = Literal["raise", "report"]
PROGRESS_MIN_ITEMS = 1000
"""A progress bar is shown by default from this many items on."""


class EncoderLoadError(RuntimeError):
    """Weights could not be loaded; the message says how to provide them."""


class UnsupportedModalityError(ValueError):
    """The model does not embed this modality."""


@runtime_checkable
class Encoder(Protocol):
    """Turns text, images and audio into comparable float32 L2-normalised vectors.

    ``encode_*`` take lists and return ``(n, d)`` arrays; with ``errors="report"`` they return an
    :class:`EncodeReport` with the vectors of the good items and the reasons for the others.
    A modality the model does not support raises :class:`UnsupportedModalityError`.
    """

    card: ModelCard

    def encode_text(
        self, texts: Sequence[str], *, batch_size: int = ..., progress: bool | None = ...,
        errors: Errors = ...,
    ) -> np.ndarray | EncodeReport: ...

    def encode_query(
        self, texts: Sequence[str], *, batch_size: int = ..., progress: bool | None = ...,
        errors: Errors = ...,
    ) -> np.ndarray | EncodeReport: ...

    def encode_document(
        self, texts: Sequence[str], *, batch_size: int = ..., progress: bool | None = ...,
        errors: Errors = ...,
    ) -> np.ndarray | EncodeReport: ...

    def encode_image(
        self, images: Sequence[object], *, batch_size: int = ..., progress: bool | None = ...,
        errors: Errors = ..., workers: int = ...,
    ) -> np.ndarray | EncodeReport: ...

    def encode_audio(
        self, clips: Sequence[object], *, batch_size: int = ..., progress: bool | None = ...,
        errors: Errors = ..., workers: int = ...,
    ) -> np.ndarray | EncodeReport: ...


class EncoderBase:
    """Shared encode path for every modality: validation, decoding, batching, error reports and
    output checks.

    Subclasses set ``card`` and implement the ``_embed_*`` hooks of the modalities the card lists
    (``_embed_texts`` and ``_token_counts`` to report truncation; ``_embed_images`` gets decoded
    RGB PIL images; ``_embed_audio`` gets mono float32 waves at ``card.sample_rate``). A modality
    missing from ``card.modalities`` raises :class:`UnsupportedModalityError`.
    """

    card: ModelCard
    prepare_image: Callable[[Any], Any] | None = None
    """Optional per-image preprocessing (a picklable top-level function) run where decoding runs
    (worker processes with ``workers > 0``); ``_embed_images`` then gets its outputs."""
    prepare_audio: Callable[[np.ndarray], Any] | None = None
    """Likewise for audio (e.g. a spectrogram); ``_embed_audio`` then gets its outputs."""
    decode_overlap: Literal["auto", "never", "always"] = "auto"
    """Decode batch k+1 beside the network on batch k: when measured faster (``"auto"``), never
    or always (:class:`~xmodal.encoders.pipeline.Pipeline`)."""
    last_pipeline: tuple[BatchTrace, ...] = ()
    """How the last ``encode_image`` / ``encode_audio`` call ran its batches (decoded beside the
    network or not, torch threads): :class:`~xmodal.encoders.pipeline.BatchTrace` per batch."""
    max_pixels: int = DEFAULT_MAX_PIXELS
    """Largest image (width × height) ``encode_image`` decodes; larger ones are refused from
    their header. A server sets its own limit here (``ServeLimits.max_image_pixels``)."""
    image_min_side: int | None = None
    """The shorter side the encoder resizes images to, if any: image files are then decoded only
    that large (JPEG DCT scaling, integer reduction; :mod:`xmodal.data.image_scale`)."""

    def _embed_texts(
        self, texts: list[str], *, prompt: str | None, batch_size: int, progress: bool
    ) -> np.ndarray:
        raise NotImplementedError

    def _token_counts(self, texts: list[str], prompt: str | None) -> list[int] | None:
        return None

    def _embed_images(self, images: list[Any], *, batch_size: int) -> np.ndarray:
        raise NotImplementedError

    def _embed_audio(self, waves: list[np.ndarray], *, batch_size: int) -> np.ndarray:
        raise NotImplementedError

    @overload
    def encode_text(self, texts: Sequence[str], *, batch_size: int = ...,
                    progress: bool | None = ..., errors: Literal["raise"] = ...) -> np.ndarray: ...
    @overload
    def encode_text(self, texts: Sequence[str], *, batch_size: int = ...,
                    progress: bool | None = ..., errors: Literal["report"]) -> EncodeReport: ...

    def encode_text(self, texts, *, batch_size=32, progress=None, errors="raise"):
        """Embed texts as they are (no query/document prompt).

        Args:
            texts: A list of strings.
            batch_size: Texts per forward pass.
            progress: Show a progress bar (default: from 1,000 texts on).
            errors: ``"raise"`` on the first bad text, or ``"report"`` to skip and list them.

        Returns:
            ``(n, d)`` float32 L2-normalised array, or an :class:`EncodeReport`.
        """
        return self._encode(texts, None, batch_size, progress, errors)

    def encode_query(self, texts, *, batch_size=32, progress=None, errors="raise"):
        """Embed search queries, with the model's query prompt (BGE/E5 instructions), if any."""
        return self._encode(texts, self.card.query_prompt, batch_size, progress, errors)

    def encode_document(self, texts, *, batch_size=32, progress=None, errors="raise"):
        """Embed documents, with the model's document prompt if it has one."""
        return self._encode(texts, self.card.document_prompt, batch_size, progress, errors)

    def encode_image(self, images, *, batch_size=32, progress=None, errors="raise", workers=0):
        """Embed images: paths, file ``bytes`` or PIL images (decoded by
        :func:`xmodal.data.images.load_images`, refusing images over :attr:`max_pixels`).

        Args:
            images: A list of images.
            batch_size: Images decoded and embedded per forward pass.
            progress: Show a progress bar (default: from 1,000 images on).
            errors: ``"raise"`` (a ``ValueError`` naming the first bad items), or ``"report"``.
            workers: Decode in this many worker processes, a few batches ahead of the model
                (the network then runs on that many torch threads fewer). 0: decode in a thread
                of this process, one batch ahead of the network when that is measured to be
                faster (:mod:`xmodal.encoders.pipeline`).

        Returns:
            ``(n, d)`` float32 L2-normalised array, or an :class:`EncodeReport`.
        """
        if not self.card.supports("image"):
            raise self._unsupported("image")
        return self._encode_media("image", images, batch_size, progress, errors, workers)

    def encode_audio(self, clips, *, batch_size=32, progress=None, errors="raise", workers=0):
        """Embed audio clips: paths, file ``bytes``, ``(array, rate)`` tuples or arrays at the
        model's rate (decoded by :func:`xmodal.data.audio.load_audios` at ``card.sample_rate``).

        Args:
            clips: A list of clips.
            batch_size: Clips decoded per step (the model batches their windows).
            progress: Show a progress bar (default: from 1,000 clips on).
            errors: ``"raise"`` (a ``ValueError`` naming the first bad items), or ``"report"``.
            workers: Decode in this many worker processes, ahead of the model (0: in process).

        Returns:
            ``(n, d)`` float32 L2-normalised array, or an :class:`EncodeReport`.
        """
        if not self.card.supports("audio"):
            raise self._unsupported("audio")
        return self._encode_media("audio", clips, batch_size, progress, errors, workers)

    def _unsupported(self, modality: Modality) -> UnsupportedModalityError:
        return UnsupportedModalityError(
            f"{self.card.name} ({self.card.family}) embeds {', '.join(self.card.modalities)}, "
            f"not {modality}"
        )

    def _encode(self, texts, prompt, batch_size, progress, errors):
        if not self.card.supports("text"):
            raise self._unsupported("text")
        _check_options(batch_size, errors)
        prepared = prepare_texts(texts)
        if prepared.failed and errors == "raise":
            raise ValueError(_summary("cannot embed", prepared.failed))
        good = list(prepared.texts)
        truncated = self._truncated(good, prepared.indices, prompt)
        if truncated and errors == "raise":
            warnings.warn(_summary("truncated", truncated), stacklevel=3)
        show = progress if progress is not None else len(good) >= PROGRESS_MIN_ITEMS
        if good:
            vectors = self._embed_texts(good, prompt=prompt, batch_size=batch_size, progress=show)
        else:
            vectors = np.zeros((0, self.card.dim), dtype=np.float32)
        vectors = _checked(vectors, good, self.card)
        if errors == "raise":
            return vectors
        return EncodeReport(
            vectors=vectors, indices=np.asarray(prepared.indices, dtype=np.int64),
            failed=prepared.failed, truncated=truncated,
        )

    def _encode_media(self, modality: Modality, items, batch_size, progress, errors, workers=0):
        _check_options(batch_size, errors)
        if workers < 0:
            raise ValueError(f"workers must be >= 0, got {workers}")
        if isinstance(items, (str, bytes, os.PathLike)):
            raise TypeError(f"pass a list of {modality} items, not a single one")
        if modality == "audio" and self.card.sample_rate is None:
            raise RuntimeError(f"{self.card.name} embeds audio but its card has no sample_rate")
        items = list(items)
        show = progress if progress is not None else len(items) >= PROGRESS_MIN_ITEMS
        parts: list[np.ndarray] = []
        indices: list[int] = []
        failed: list[ItemProblem] = []
        step = _pipeline_step(len(items), batch_size)
        starts = range(0, len(items), step)
        prepare = self.prepare_image if modality == "image" else self.prepare_audio
        batches = _decoded_batches(
            modality, items, starts, step, self.card.sample_rate, workers, prepare,
            max_pixels=self.max_pixels,
            min_side=self.image_min_side if modality == "image" else None,
        )  # decoded a batch at a time (bounded memory), by workers ahead of the model if asked
        embed = self._embed_images if modality == "image" else self._embed_audio
        plans = vars(self).setdefault("_overlap_plans", {})  # modality → measured once
        with Pipeline(batches, overlap=self.decode_overlap, reserved=workers,
                      items_of=lambda b: len(b[1][0]), decided=plans.get(modality)) as pipe:
            for start, (decoded, where, bad) in _progress(pipe, show, len(items), step,
                                                          modality, len(starts)):
                chunk = items[start : start + step]
                bad = [replace(p, index=p.index + start) for p in bad]
                if bad and errors == "raise":
                    raise ValueError(_summary("cannot embed", bad))
                failed.extend(bad)
                if decoded:
                    vectors = pipe.run(functools.partial(embed, decoded, batch_size=batch_size),
                                       items=len(decoded))  # (n_decoded, d)
                    parts.append(_checked(vectors, [chunk[i] for i in where], self.card))
                    indices.extend(start + i for i in where)
        self.last_pipeline = tuple(pipe.trace)
        if pipe.decided is not None:
            plans[modality] = pipe.decided
        vectors = np.concatenate(parts) if parts else np.zeros((0, self.card.dim), np.float32)
        if errors == "raise":
            return vectors
        return EncodeReport(vectors=vectors, indices=np.asarray(indices, dtype=np.int64),
                            failed=tuple(failed))

    def _truncated(
        self, texts: list[str], indices: Sequence[int], prompt: str | None
    ) -> tuple[ItemProblem, ...]:
        limit = self.card.max_text_tokens
        counts = self._token_counts(texts, prompt) if limit and texts else None
        if counts is None or limit is None:
            return ()
        return tuple(
            ItemProblem(index=i, item=describe(t), reason=f"{c} tokens, truncated to {limit}")
            for i, t, c in zip(indices, texts, counts, strict=True)
            if c > limit
        )


def _check_options(batch_size: int, errors: str) -> None:
    if errors not in ("raise", "report"):
        raise ValueError(f"errors must be 'raise' or 'report', got {errors!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")


def _pipeline_step(n: int, batch_size: int) -> int:
    """Items decoded (and embedded) per step: ``batch_size``, or fewer for a call of under four
    batches, so that it still has four steps to overlap (per-item network cost is flat in the
    batch size on CPU; results do not depend on it).

    Example:
        >>> _pipeline_step(24, 32), _pipeline_step(1000, 32), _pipeline_step(2, 32)
        (6, 32, 1)
    """
    return max(1, min(batch_size, -(-n // 4)))


def _decoded_batches(modality, items, starts, batch_size, sample_rate, workers, prepare=None,
                     *, max_pixels=DEFAULT_MAX_PIXELS, min_side=None):
    """Yield ``(start, decoded batch)`` in order; with ``workers`` > 0, worker processes decode
    up to ``workers + 1`` batches ahead while the caller runs the model (bounded memory).

    Each batch is split into ``workers`` parts decoded side by side, so even the first batch,
    which nothing can hide, waits for a fraction of its decoding time only.
    """
    chunks = ((s, items[s : s + batch_size]) for s in starts)
    if workers == 0:
        for start, chunk in chunks:
            yield start, decode_batch(modality, chunk, sample_rate, prepare, max_pixels, min_side)
        return
    pool = _worker_pool(workers)
    pending: deque = deque()
    try:
        for start, chunk in chunks:
            step = -(-len(chunk) // workers)
            parts = [
                (at, pool.submit(decode_batch, modality, chunk[at : at + step], sample_rate,
                                 prepare, max_pixels, min_side))
                for at in range(0, len(chunk), step)
            ]
            pending.append((start, parts))
            if len(pending) > workers:
                start0, parts0 = pending.popleft()
                yield start0, _joined(parts0)
        while pending:
            start0, parts0 = pending.popleft()
            yield start0, _joined(parts0)
    except BrokenProcessPool as exc:  # a decoder crashed its process: never reuse that pool
        _POOLS.pop(workers, None)
        raise RuntimeError(
            f"a decoding worker process died ({exc}); decode with workers=0 to find the item"
        ) from exc


def _joined(parts: list) -> tuple[list[Any], list[int], list[ItemProblem]]:
    """One batch's ``decode_batch`` result from its parts' futures (positions re-based)."""
    decoded: list[Any] = []
    where: list[int] = []
    bad: list[ItemProblem] = []
    for at, future in parts:
        items, idx, problems = future.result()
        decoded.extend(items)
        where.extend(at + i for i in idx)
        bad.extend(replace(p, index=at + p.index) for p in problems)
    return decoded, where, bad


_POOLS: dict[int, ProcessPoolExecutor] = {}


def _worker_pool(workers: int) -> ProcessPoolExecutor:
    """A decoding pool of ``workers`` processes, started once and reused by every call (starting
    one costs seconds: a fresh interpreter importing the decoders); shut down at exit."""
    pool = _POOLS.get(workers)
    if pool is None:
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
        pool = _POOLS[workers] = ProcessPoolExecutor(max_workers=workers, mp_context=ctx)
        if len(_POOLS) == 1:
            atexit.register(_shutdown_pools)
    return pool


def _shutdown_pools() -> None:
    for pool in _POOLS.values():
        pool.shutdown(cancel_futures=True)
    _POOLS.clear()


def _progress(batches, show: bool, total: int, batch_size: int, what: str, n_batches: int):
    if not show:
        return batches
    from tqdm.auto import tqdm

    return tqdm(batches, total=n_batches, desc=f"{what} ({total} items, {batch_size}/batch)")


def _summary(what: str, problems: Sequence[ItemProblem], shown: int = 3) -> str:
    head = "; ".join(f"item {p.index} ({p.item!r}): {p.reason}" for p in problems[:shown])
    more = f"; and {len(problems) - shown} more" if len(problems) > shown else ""
    return f"{what} {len(problems)} item(s): {head}{more}"


def _checked(vectors: np.ndarray, items: Sequence[object], card: ModelCard) -> np.ndarray:
    """float32, finite, right dimension, L2-normalised — or an error naming the item."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape != (len(items), card.dim):
        raise RuntimeError(
            f"{card.name} returned shape {vectors.shape}, expected ({len(items)}, {card.dim})"
        )
    bad = ~np.isfinite(vectors).all(axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise RuntimeError(f"{card.name} produced a NaN/Inf vector for {describe(items[i])!r}")
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    if (norms == 0).any():
        i = int(np.flatnonzero(norms[:, 0] == 0)[0])
        raise RuntimeError(f"{card.name} produced a zero vector for {describe(items[i])!r}")
    return vectors / norms

"""The ``Encoder`` protocol and the shared batching, checking and error reporting."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Literal, Protocol, overload, runtime_checkable

import numpy as np

from .card import Modality, ModelCard
from .report import EncodeReport, ItemProblem, describe
from .text import prepare_texts

Errors = Literal["raise", "report"]
PROGRESS_MIN_ITEMS = 1000
"""A progress bar is shown by default from this many items on."""


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
        errors: Errors = ...,
    ) -> np.ndarray | EncodeReport: ...

    def encode_audio(
        self, clips: Sequence[object], *, batch_size: int = ..., progress: bool | None = ...,
        errors: Errors = ...,
    ) -> np.ndarray | EncodeReport: ...


class TextEncoderBase:
    """Shared text path: validation, prompts, truncation reports, output checks.

    Subclasses set ``card`` and implement ``_embed_texts`` (and ``_token_counts`` to report
    truncation); image and audio raise unless a subclass overrides them.
    """

    card: ModelCard

    def _embed_texts(
        self, texts: list[str], *, prompt: str | None, batch_size: int, progress: bool
    ) -> np.ndarray:
        raise NotImplementedError

    def _token_counts(self, texts: list[str], prompt: str | None) -> list[int] | None:
        return None

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

    def encode_image(self, images, *, batch_size=32, progress=None, errors="raise"):
        """Embed images; raises :class:`UnsupportedModalityError` for text-only models."""
        raise self._unsupported("image")

    def encode_audio(self, clips, *, batch_size=32, progress=None, errors="raise"):
        """Embed audio clips; raises :class:`UnsupportedModalityError` for text-only models."""
        raise self._unsupported("audio")

    def _unsupported(self, modality: Modality) -> UnsupportedModalityError:
        return UnsupportedModalityError(
            f"{self.card.name} ({self.card.family}) embeds {', '.join(self.card.modalities)}, "
            f"not {modality}"
        )

    def _encode(self, texts, prompt, batch_size, progress, errors):
        if errors not in ("raise", "report"):
            raise ValueError(f"errors must be 'raise' or 'report', got {errors!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
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


def _summary(what: str, problems: Sequence[ItemProblem], shown: int = 3) -> str:
    head = "; ".join(f"item {p.index} ({p.item!r}): {p.reason}" for p in problems[:shown])
    more = f"; and {len(problems) - shown} more" if len(problems) > shown else ""
    return f"{what} {len(problems)} item(s): {head}{more}"


def _checked(vectors: np.ndarray, items: list[str], card: ModelCard) -> np.ndarray:
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

"""Deterministic toy encoders for the ingest, search and command tests (no model is loaded).

Every modality is embedded the same way: a bag of words over a fixed vocabulary, L2-normalised.
An image or audio file's "content" is its bytes read as text, so ``heart.png`` holding
``b"heart red love"`` and its caption ``"a red heart"`` land near the query ``"red heart"``.
A file whose bytes start with ``b"BAD"`` is undecodable (reported with ``errors="report"``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from xmodal.encoders.card import ModelCard
from xmodal.encoders.report import EncodeReport, ItemProblem

VOCAB = (
    "heart", "red", "love", "cat", "kitten", "whiskers", "smile", "sunglasses", "face", "drum",
    "beat", "violin", "string", "note", "crow", "bird", "caw", "python", "copy", "file", "dog",
    "bark", "rain", "loop", "list", "sort", "blue", "star",
)
DIM = 32
_INDEX = {w: i for i, w in enumerate(VOCAB)}


def embed(text: str) -> np.ndarray:
    """Bag-of-words unit vector of ``text``, shape (DIM,) float32 (unknown words ignored)."""
    v = np.zeros(DIM, dtype=np.float32)
    for word in re.findall(r"[a-z]+", text.lower()):
        if word in _INDEX:
            v[_INDEX[word]] += 1.0
    if not v.any():
        v[DIM - 1] = 1.0
    return v / np.linalg.norm(v)


class ToyEncoder:
    """A toy encoder with a real :class:`ModelCard`; counts the items it encodes per method.

    Args:
        name: The model name (collections are ``<name>.<modality>``).
        modalities: What it embeds (``"text"`` plus optionally ``"image"`` or ``"audio"``).
        interrupt_on: ``{method: n}``: raise KeyboardInterrupt on the n-th call of ``method``.
    """

    def __init__(self, name: str, modalities: tuple[str, ...],
                 interrupt_on: dict[str, int] | None = None) -> None:
        family = "lit" if len(modalities) > 1 else "sentence-transformers"
        self.card = ModelCard(name=name, family=family, dim=DIM, modalities=modalities)
        self.calls: Counter[str] = Counter()  # calls per method
        self.items: Counter[str] = Counter()  # items encoded per method
        self.interrupt_on = dict(interrupt_on or {})

    def _count(self, method: str, n: int) -> None:
        self.calls[method] += 1
        if self.interrupt_on.get(method) == self.calls[method]:
            raise KeyboardInterrupt(f"{method} call {self.calls[method]}")
        self.items[method] += n

    @staticmethod
    def _report(texts: list[str | None], errors: str | None, items: Sequence[Any]) -> Any:
        good = [i for i, t in enumerate(texts) if t is not None]
        vectors = (np.stack([embed(texts[i]) for i in good]) if good
                   else np.zeros((0, DIM), np.float32))
        if errors != "report":
            if len(good) != len(texts):
                raise ValueError("undecodable item")
            return vectors
        failed = tuple(ItemProblem(index=i, item=str(items[i]), reason="undecodable (toy)")
                       for i, t in enumerate(texts) if t is None)
        return EncodeReport(vectors, np.asarray(good, dtype=np.int64), failed=failed)

    def encode_query(self, texts: Sequence[str], errors: str | None = None) -> Any:
        self._count("query", len(texts))
        return self._report(list(texts), errors, texts)

    def encode_text(self, texts: Sequence[str], errors: str | None = None) -> Any:
        self._count("text", len(texts))
        return self._report(list(texts), errors, texts)

    def encode_document(self, texts: Sequence[str], errors: str | None = None) -> Any:
        self._count("document", len(texts))
        return self._report(list(texts), errors, texts)

    def _files(self, method: str, items: Sequence[Any], errors: str | None) -> Any:
        if not self.card.supports(method):  # type: ignore[arg-type]
            raise ValueError(f"{self.card.name} does not embed {method}")
        self._count(method, len(items))
        texts: list[str | None] = []
        for item in items:
            data = item if isinstance(item, bytes) else Path(item).read_bytes()
            texts.append(None if data.startswith(b"BAD") else data.decode("utf-8", "replace"))
        return self._report(texts, errors, items)

    def encode_image(self, items: Sequence[Any], errors: str | None = None,
                     workers: int = 0) -> Any:
        return self._files("image", items, errors)

    def encode_audio(self, items: Sequence[Any], errors: str | None = None,
                     workers: int = 0) -> Any:
        return self._files("audio", items, errors)


def toy_encoders(**interrupt: dict[str, int]) -> dict[str, ToyEncoder]:
    """Fresh encoders per document modality: ``{"image": ..., "audio": ..., "text": ...}``."""
    return {
        "image": ToyEncoder("toy-image", ("text", "image"), interrupt.get("image")),
        "audio": ToyEncoder("toy-audio", ("text", "audio"), interrupt.get("audio")),
        "text": ToyEncoder("toy-text", ("text",), interrupt.get("text")),
    }


def loader(encoders: dict[str, ToyEncoder]):
    """A ``Searcher(load=...)`` over the toy encoders, by model name (KeyError otherwise)."""
    by_name = {e.card.name: e for e in encoders.values()}
    return lambda name, **how: by_name[name]  # how: load_encoder's device=, ignored


def write_texts(root: Path, files: dict[str, str]) -> Path:
    """Write ``{relative path: text}`` under ``root`` (toy "images" and "sounds" are texts
    too: the toy encoders embed a file's words); returns ``root``."""
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(text.encode())  # the same bytes on every platform
    return root


def write_corpus(root: Path) -> Path:
    """A small corpus: 3 captioned images, a bad image, 2 sounds, 2 text docs, 1 .bin file."""
    files = {
        "images/heart.png": "heart red love", "images/heart.txt": "a red heart",
        "images/cat.png": "cat kitten whiskers", "images/cat.txt": "a cat with whiskers",
        "images/sun.png": "smile sunglasses face", "images/sun.txt": "a face with sunglasses",
        "images/broken.png": "BAD not an image",
        "sounds/drum.wav": "drum beat loop", "sounds/violin.wav": "violin string note",
        "docs/copy.md": "how to copy a file in python",
        "docs/sorting.txt": "sort a list in python",
        "misc/data.bin": "binary",
    }
    return write_texts(root, files)

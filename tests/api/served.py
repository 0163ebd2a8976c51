"""Helpers of the service / HTTP tests: a toy index built by ``ingest`` (with its manifest), toy
uploads the toy encoders understand, and a slow encoder to fill the work slots on purpose."""

from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import Any

import numpy as np

from tests.api.toy import DIM, ToyEncoder, embed, loader, toy_encoders, write_corpus
from xmodal.index import open_index
from xmodal.index.ingest import ingest, manifest_path

BASE = "http://127.0.0.1"
"""TestClient base URL: a Host the guard accepts by default."""


def build_index(root: Path) -> tuple[str, dict[str, ToyEncoder], Path]:
    """An exact index of the toy corpus, ingested with a manifest: (uri, encoders, corpus)."""
    corpus = write_corpus(root / "corpus")
    encoders = toy_encoders()
    uri = "exact:" + str(root / "idx")
    with open_index(uri) as index:
        ingest(index, [corpus], encoders=encoders, manifest=manifest_path(uri))
    return uri, encoders, corpus


def png(words: str = "", size: tuple[int, int] = (8, 8), mode: str = "RGB") -> bytes:
    """A real PNG; ``words`` go into a text chunk, so the toy encoder embeds them."""
    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    if words:
        info.add_text("c", words)
    buf = io.BytesIO()
    Image.new(mode, size).save(buf, "PNG", pnginfo=info)
    return buf.getvalue()


def wav(words: str = "", seconds: float = 0.1, rate: int = 8000) -> bytes:
    """A real WAV of silence; ``words`` go into its title, so the toy encoder embeds them."""
    import soundfile as sf

    buf = io.BytesIO()
    with sf.SoundFile(buf, "w", rate, 1, format="WAV") as f:
        if words:
            f.title = words
        f.write(np.zeros(int(seconds * rate)))
    return buf.getvalue()


class SlowEncoder(ToyEncoder):
    """A toy text encoder whose ``encode_query`` waits until :attr:`go` is set; ``entered``
    counts the calls that are waiting (a semaphore the test acquires to know they arrived)."""

    def __init__(self, name: str = "slow") -> None:
        super().__init__(name, ("text",))
        self.go = threading.Event()
        self.entered = threading.Semaphore(0)

    def encode_query(self, texts: Any, errors: str | None = None) -> Any:
        self.entered.release()
        self.go.wait(timeout=30)
        return super().encode_query(texts, errors)


def slow_index(root: Path) -> tuple[str, SlowEncoder]:
    """An exact index with one text collection ``slow.text`` of 3 docs, and its slow encoder."""
    enc = SlowEncoder()
    uri = "exact:" + str(root / "slow-idx")
    with open_index(uri) as index:
        col = index.create_collection("slow.text", dim=DIM, model="slow", modality="text",
                                      card={"family": "sentence-transformers",
                                            "modalities": ["text"]})
        col.upsert(["a", "b", "c"], np.stack([embed(t) for t in ("cat", "dog", "rain")]),
                   [{"modality": "text", "caption": t} for t in ("cat", "dog", "rain")])
    return uri, enc


__all__ = ["BASE", "build_index", "loader", "png", "slow_index", "wav"]


def stored(service: Any, name: str) -> tuple[list[str], np.ndarray]:
    """Every (id, vector) of a served collection, read back through the manifest's doc ids."""
    from xmodal.index.ingest import load_manifest, manifest_path

    docs = sorted({e["doc"] for e in load_manifest(manifest_path(service.index_uri)).values()})
    recs = [r for r in service.index.collection(name).get(docs) if r is not None]
    return [r.id for r in recs], np.stack([r.vector for r in recs])

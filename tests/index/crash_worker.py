"""Kill an ingest with SIGKILL at random points, then check the store: shared by
``tests/index/test_ingest_crash.py`` and ``benchmarks/crash_ingest.py``.

The worker (``python -m tests.index.crash_worker CORPUS INDEX_URI BATCH``) ingests a folder
with :class:`LiteEncoder` (a bag of words like ``tests/api/toy.py``'s, without importing
``xmodal.encoders``, which loads torch: a worker starts in under a second). It prints
``ACK <doc id>`` (flushed) for each file of a batch once ``ingest`` acknowledges it
(``on_stored``: stored and in the manifest), then ``DONE``. :func:`kill_rounds` starts it again
and again and kills it after a random number of acknowledgements plus a random delay; after
each kill :func:`check_store` reopens the index and counts what is lost, duplicated or partial.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
MAIN = {"image": "toy-image.image", "audio": "toy-audio.audio", "text": "toy-text.text"}
CAPTION = {"image": "toy-image.text", "audio": "toy-audio.text"}


DIM = 32
VOCAB = ("heart", "red", "love", "cat", "kitten", "smile", "drum", "beat", "violin", "crow",
         "bird", "python", "copy", "file", "dog", "bark", "rain", "sort", "blue", "star")


@dataclass(frozen=True)
class LiteCard:
    """The fields of a model card that ingest reads."""

    name: str
    dim: int
    modalities: tuple[str, ...]
    family: str = "lit"

    def supports(self, modality: str) -> bool:
        """Whether the model embeds ``modality``."""
        return modality in self.modalities


@dataclass(frozen=True)
class LiteReport:
    """An encode report: vectors of every item (none fails here)."""

    vectors: np.ndarray = field(repr=False)
    indices: np.ndarray = field(repr=False)
    failed: tuple[Any, ...] = ()


class LiteEncoder:
    """Embeds text (and an image or audio file's bytes read as text) by hashed bag of words;
    counts the items it encodes per method."""

    def __init__(self, name: str, modalities: tuple[str, ...]) -> None:
        self.card = LiteCard(name, DIM, modalities)
        self.items: Counter[str] = Counter()

    def _embed(self, method: str, texts: Sequence[str]) -> LiteReport:
        self.items[method] += len(texts)
        out = np.full((len(texts), DIM), 1e-3, np.float32)
        for row, text in zip(out, texts, strict=True):
            for word in text.split():
                row[hashlib.md5(word.encode()).digest()[0] % DIM] += 1.0
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        return LiteReport(out, np.arange(len(texts), dtype=np.int64))

    def encode_document(self, texts: Sequence[str], errors: str = "raise") -> LiteReport:
        return self._embed("document", texts)

    def encode_image(self, items: Sequence[str], errors: str = "raise",
                     workers: int = 0) -> LiteReport:
        return self._embed("image", [Path(i).read_text() for i in items])

    def encode_audio(self, items: Sequence[str], errors: str = "raise",
                     workers: int = 0) -> LiteReport:
        return self._embed("audio", [Path(i).read_text() for i in items])


def lite_encoders() -> dict[str, LiteEncoder]:
    """Encoders named like the toys: collections ``toy-image.image`` and so on."""
    return {"image": LiteEncoder("toy-image", ("text", "image")),
            "audio": LiteEncoder("toy-audio", ("text", "audio")),
            "text": LiteEncoder("toy-text", ("text",))}


def encoded_files(encoders: dict[str, LiteEncoder]) -> int:
    """Files encoded (captions not counted)."""
    return (encoders["image"].items["image"] + encoders["audio"].items["audio"]
            + encoders["text"].items["document"])


@dataclass(frozen=True)
class CrashFile:
    """One corpus file and where its representations belong."""

    path: Path
    modality: str
    doc: str
    captioned: bool


@dataclass(frozen=True)
class StoreCheck:
    """The state of the store after a kill (see :func:`check_store`)."""

    acknowledged: int  # distinct docs acknowledged so far
    found: int  # docs whose main representation is stored
    lost: int  # acknowledged docs not (completely) stored
    duplicates: int  # points counted beyond the distinct known ids
    partial: int  # docs with a main vector but not their caption, or in the manifest but
    # missing from a collection the manifest names
    manifest: int  # manifest entries
    unrecorded: int  # docs with some representation stored but no manifest entry (a kill
    # between the store and the manifest: adopted or completed by the next ingest)
    search_ok: bool  # a search of every main collection returned hits


def write_crash_corpus(root: Path, n: int, *, seed: int = 0) -> list[CrashFile]:
    """``n`` files the toy encoders read (images and sounds, half captioned; text documents)."""
    from xmodal.data.corpus import file_sha256
    from xmodal.index import document_id

    rng = random.Random(seed)
    out = []
    for i in range(n):
        modality = ("image", "audio", "text")[i % 3]
        ext = {"image": "png", "audio": "wav", "text": "md"}[modality]
        path = (root / modality / f"f{i:05d}.{ext}").resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(" ".join(rng.choices(VOCAB, k=6)) + f" {i}")
        captioned = modality != "text" and i % 2 == 0
        if captioned:
            path.with_suffix(".txt").write_text(" ".join(rng.choices(VOCAB, k=4)))
        out.append(CrashFile(path, modality, document_id(str(path), file_sha256(path)),
                             captioned))
    return out


def check_store(index_uri: str, files: list[CrashFile], acked: set[str]) -> StoreCheck:
    """Reopen the index and compare it with the acknowledgements and the manifest."""
    import numpy as np

    from xmodal.index import open_index
    from xmodal.index.ingest import load_manifest, manifest_path

    manifest = load_manifest(manifest_path(index_uri))
    with open_index(index_uri) as index:
        names = {c.name for c in index.collections()}
        present: dict[str, set[str]] = {}
        duplicates = 0
        for name in names:
            col = index.collection(name)
            ids = [f.doc for f in files]
            present[name] = {i for i, r in zip(ids, col.get(ids), strict=True) if r is not None}
            duplicates += col.count() - len(present[name])
        has = lambda name, doc: doc in present.get(name, set())  # noqa: E731
        complete = {f.doc for f in files if has(MAIN[f.modality], f.doc)
                    and (not f.captioned or has(CAPTION[f.modality], f.doc))}
        found = {f.doc for f in files if has(MAIN[f.modality], f.doc)}
        partial = len(found - complete) + sum(  # a caption collection holds captioned docs
            not has(name, entry["doc"]) for entry in manifest.values()
            for name in entry["collections"]
            if entry.get("caption") or name not in CAPTION.values())
        recorded = {entry["doc"] for entry in manifest.values()}
        anywhere = set().union(*present.values()) if present else set()
        search_ok = True
        for name in sorted(n for n in names if n in MAIN.values()):
            col = index.collection(name)
            query = np.full(col.info.dim, col.info.dim ** -0.5, np.float32)
            search_ok &= col.count() == 0 or len(col.search(query, k=5)[0].ids) > 0
    return StoreCheck(acknowledged=len(acked), found=len(found), lost=len(acked - complete),
                      duplicates=duplicates, partial=partial, manifest=len(manifest),
                      unrecorded=len(anywhere - recorded), search_ok=search_ok)


def run_worker(corpus: Path, index_uri: str, batch: int, kill_after: tuple[int, float] | None,
               timeout: float = 120.0) -> tuple[set[str], bool]:
    """Run the worker; with ``kill_after=(acks, seconds)`` SIGKILL it after that many
    acknowledgements plus that delay. Returns the acknowledged doc ids and whether it finished.
    """
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.index.crash_worker", str(corpus), index_uri, str(batch)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1)
    acked: set[str] = set()
    done = False
    deadline = time.monotonic() + timeout
    watchdog = threading.Timer(timeout, proc.kill)  # a silent hang ends too
    watchdog.start()
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            if line.startswith("ACK "):
                acked.add(line[4:].strip())
            elif line.startswith("DONE"):
                done = True
            if kill_after and len(acked) >= kill_after[0] and not done:
                time.sleep(kill_after[1])
                os.kill(proc.pid, signal.SIGKILL)
                break
            if time.monotonic() > deadline:
                raise TimeoutError("crash worker did not finish")
        for line in proc.stdout:  # what it acknowledged before the signal landed
            if line.startswith("ACK "):
                acked.add(line[4:].strip())
            done |= line.startswith("DONE")
    finally:
        watchdog.cancel()
        if proc.poll() is None and not done:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()
    if not done and not kill_after and time.monotonic() > deadline:
        raise TimeoutError(f"crash worker did not finish within {timeout:.0f} s")
    return acked, done


def kill_rounds(corpus: Path, index_uri: str, files: list[CrashFile], *, kills: int,
                batch: int, seed: int, max_delay: float = 0.005) -> list[StoreCheck]:
    """Start and SIGKILL the worker ``kills`` times (or until it finishes); check after each."""
    rng = random.Random(seed)
    acked: set[str] = set()
    checks = []
    for k in range(kills):  # spread the kills: on average 1/(left+1) of what remains each
        target = rng.randint(1, max(1, 2 * (len(files) - len(acked)) // (kills - k + 1)))
        got, done = run_worker(corpus, index_uri, batch, (target, rng.uniform(0, max_delay)))
        acked |= got
        checks.append(check_store(index_uri, files, acked))
        if done:
            break
    return checks


def main(corpus: str, index_uri: str, batch: str) -> int:
    """The worker: ingest ``corpus`` and acknowledge each stored doc on stdout."""
    from xmodal.index import document_id, open_index
    from xmodal.index.ingest import ingest, manifest_path

    def ack(stored: object) -> None:
        for f in stored:  # type: ignore[attr-defined]
            sys.stdout.write(f"ACK {document_id(str(f.path), f.sha256)}\n")
        sys.stdout.flush()

    encoders = lite_encoders()
    with open_index(index_uri) as index:
        ingest(index, [corpus], encoders=encoders, manifest=manifest_path(index_uri),
               batch_size=int(batch), on_stored=ack)
    print("DONE", json.dumps({m: dict(e.items) for m, e in encoders.items()}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))

"""A corpus folder full of malformed files, built in place (PIL, soundfile, numpy; no downloads),
and tiny encoders that decode through xmodal's real decoders (``data/images.py``,
``data/audio.py``) but embed with a few lines of NumPy (no model is loaded).

:func:`build_malformed_corpus` writes, under ``root/corpus``, at least ``per_kind`` files of each
malformed kind and ``good`` files of each modality, plus files *outside* the corpus that
symlinks and a ``captions.jsonl`` entry point at; it returns what a correct ingest must do with
each (:class:`Expected`).
"""

from __future__ import annotations

import io
import json
import os
import socket
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tests.api.toy import DIM, embed
from xmodal.encoders.base import EncoderBase
from xmodal.encoders.card import ModelCard

RATE = 16_000
KINDS = {  # kind → what its reason must say (a substring, case-sensitive)
    "truncated-png": "truncated or corrupt",
    "truncated-jpeg": "truncated or corrupt",
    "bomb": "decompression bomb",
    "zero-byte": "empty file",
    "wrong-extension": "not an image file",
    "broken-wav": "",  # "not an audio file…" or "truncated or corrupt…"
    "broken-flac": "",
    "broken-mp3": "",
    "nul-text": "NUL bytes",
    "symlink": "symbolic link (not followed)",
    "caption-traversal": "not a file name in this folder",
    "fifo": "FIFO",
    "socket": "socket",
    "unsupported": "unsupported file type",
}
AUDIO_REASONS = ("not an audio file", "truncated or corrupt")


@dataclass(frozen=True)
class Expected:
    """What a correct ingest does with the corpus built by :func:`build_malformed_corpus`."""

    corpus: Path  # the folder to index (resolved)
    outside: Path  # a folder beside it that nothing may read
    good: dict[str, tuple[Path, ...]]  # modality → files that must be indexed
    captions: dict[Path, str]  # good media file → its caption
    bad: dict[str, str] = field(default_factory=dict)  # reported item → kind

    def count(self, kind: str) -> int:
        """How many bad items of one kind."""
        return sum(k == kind for k in self.bad.values())


class DecodingEncoder(EncoderBase):
    """An :class:`EncoderBase` over xmodal's decoders with a NumPy "model": images are embedded
    as a 4×4 grey thumbnail, audio as a few wave statistics, text as the toy bag of words."""

    def __init__(self, name: str, modalities: tuple[str, ...]) -> None:
        self.card = ModelCard(name=name, family="lit", dim=DIM, modalities=modalities,
                              sample_rate=RATE, audio_window_s=10.0)  # type: ignore[arg-type]

    def _embed_texts(self, texts: list[str], *, prompt: str | None, batch_size: int,
                     progress: bool) -> np.ndarray:
        return np.stack([embed(t) for t in texts])

    def _embed_images(self, images: list[Any], *, batch_size: int) -> np.ndarray:
        rows = [np.asarray(im.convert("L").resize((4, 4)), np.float32).ravel() for im in images]
        return _unit(np.stack(rows))  # (n, 16) → padded to DIM

    def _embed_audio(self, waves: list[np.ndarray], *, batch_size: int) -> np.ndarray:
        rows = [np.array([np.abs(w).mean(), w.std(), np.abs(np.diff(w)).mean(), len(w) / RATE],
                         np.float32) for w in waves]
        return _unit(np.stack(rows))


def _unit(x: np.ndarray) -> np.ndarray:
    out = np.zeros((len(x), DIM), np.float32)
    out[:, : x.shape[1]] = x
    out[:, -1] = 1e-3  # never all zero
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def decoding_encoders() -> dict[str, DecodingEncoder]:
    """One decoding encoder per document modality."""
    return {"image": DecodingEncoder("dec-image", ("text", "image")),
            "audio": DecodingEncoder("dec-audio", ("text", "audio")),
            "text": DecodingEncoder("dec-text", ("text",))}


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def bomb_png(side: int = 20_000) -> bytes:
    """A valid 1-bit PNG of ``side``×``side`` pixels (400 MP at 20,000) in about 50 KB."""
    rows = zlib.compress(b"\0" * ((1 + (side + 7) // 8) * side), 9)
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", rows)
            + _png_chunk(b"IEND", b""))


def _image(rng: np.random.Generator, fmt: str, side: int = 32) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (side, side, 3), dtype=np.uint8)).save(buf, fmt)
    return buf.getvalue()


def _sound(rng: np.random.Generator, fmt: str, seconds: float = 0.5) -> bytes:
    import soundfile as sf

    t = np.arange(int(RATE * seconds)) / RATE
    wave = 0.3 * np.sin(2 * np.pi * rng.uniform(200, 900) * t).astype(np.float32)
    buf = io.BytesIO()
    sf.write(buf, wave, RATE, format=fmt)
    return buf.getvalue()


def _noise(rng: np.random.Generator, n: int) -> bytes:
    return rng.integers(0, 0xFF, n, dtype=np.uint8).tobytes()  # never 0xFF: no MP3 frame sync


WORDS = ("heart", "red", "love", "cat", "kitten", "drum", "beat", "violin", "crow", "bird",
         "python", "copy", "file", "dog", "bark", "rain", "loop", "list", "sort", "blue", "star")


def build_malformed_corpus(root: Path, *, per_kind: int = 20, good: int = 10,
                           seed: int = 0) -> Expected:
    """Write the corpus (``root/corpus``) and the files outside it (``root/outside``)."""
    rng = np.random.default_rng(seed)
    root = root.resolve()
    corpus, outside = root / "corpus", root / "outside"
    for d in ("good/img", "good/snd", "good/doc", "bad/img", "bad/snd", "bad/doc", "bad/links",
              "bad/special", "captioned"):
        (corpus / d).mkdir(parents=True, exist_ok=True)
    outside.mkdir(parents=True, exist_ok=True)
    bad: dict[str, str] = {}
    goods: dict[str, list[Path]] = {"image": [], "audio": [], "text": []}
    captions: dict[Path, str] = {}

    def put(rel: str, data: bytes, kind: str | None = None) -> Path:
        path = corpus / rel
        path.write_bytes(data)
        if kind:
            bad[str(path)] = kind
        return path

    for i in range(good):  # good files: captioned by side-car, by listing, or not at all
        fmt, ext = (("PNG", "png"), ("JPEG", "jpg"))[i % 2]
        img = put(f"good/img/pic{i:02d}.{ext}", _image(rng, fmt, 16 + i))
        goods["image"].append(img)
        fmt, ext = (("WAV", "wav"), ("FLAC", "flac"))[i % 2]
        snd = put(f"good/snd/tone{i:02d}.{ext}", _sound(rng, fmt))
        goods["audio"].append(snd)
        doc_ext = ("md", "txt", "rst")[i % 3]
        goods["text"].append(put(f"good/doc/doc{i:02d}.{doc_ext}",
                                 " ".join(rng.choice(WORDS, 12)).encode()))
        if i % 3 == 0:
            caption = f"a red heart number {i}"
            put(f"good/img/pic{i:02d}.txt", caption.encode())
            captions[img] = caption
            caption = f"a drum beat number {i}"
            put(f"good/snd/tone{i:02d}.txt", caption.encode())
            captions[snd] = caption
    listing = []
    for i in range(per_kind):  # captions.jsonl: good entries plus traversal attempts
        if i < good // 2:
            img = put(f"captioned/c{i:02d}.png", _image(rng, "PNG", 12))
            goods["image"].append(img)
            captions[img] = f"a blue star {i}"
            listing.append({"file": img.name, "caption": captions[img]})
        (outside / f"outside{i:02d}.png").write_bytes(_image(rng, "PNG", 8))
        listing.append({"file": f"../../outside/outside{i:02d}.png", "caption": "escaped"})
    listing_path = corpus / "captioned" / "captions.jsonl"
    listing_path.write_text("\n".join(json.dumps(row) for row in listing) + "\n")
    for n, row in enumerate(listing, 1):
        if row["file"].startswith(".."):
            bad[f"{listing_path}:{n}"] = "caption-traversal"

    png, jpg, wav, flac, mp3 = (_image(rng, "PNG", 64), _image(rng, "JPEG", 64),
                                _sound(rng, "WAV"), _sound(rng, "FLAC"), _sound(rng, "MP3"))
    bomb = bomb_png()
    for i in range(per_kind):
        frac = 0.05 + 0.9 * i / per_kind
        put(f"bad/img/trunc{i:02d}.png", png[: int(len(png) * frac)], "truncated-png")
        put(f"bad/img/trunc{i:02d}.jpg", jpg[: int(len(jpg) * frac)], "truncated-jpeg")
        put(f"bad/img/bomb{i:02d}.png", bomb, "bomb")
        put(f"bad/{('img', 'snd', 'doc')[i % 3]}/zero{i:02d}."
            f"{('png', 'wav', 'txt', 'jpg', 'flac', 'md')[i % 6]}", b"", "zero-byte")
        put(f"bad/img/wrong{i:02d}.png" if i % 2 else f"bad/img/wrong{i:02d}.jpg",
            wav if i % 2 else b"just some text, not a picture", "wrong-extension")
        put(f"bad/snd/broken{i:02d}.wav", (b"RIFF" + _noise(rng, 400)) if i % 3 == 0
            else wav[: max(4, int(len(wav) * frac / 2))] if i % 3 == 1 else _noise(rng, 300),
            "broken-wav")
        put(f"bad/snd/broken{i:02d}.flac", (b"fLaC" + _noise(rng, 400)) if i % 2
            else flac[: 4 + i], "broken-flac")
        put(f"bad/snd/broken{i:02d}.mp3", (b"ID3\x03\0\0\0\0\0\x10" + _noise(rng, 300))
            if i % 3 == 0 else mp3[: 4 + i] if i % 3 == 1
            else b"\xff\xfb\x90\x00" + bytes(200), "broken-mp3")
        put(f"bad/doc/nul{i:02d}.{('txt', 'md', 'rst')[i % 3]}",
            b"heart red" + b"\0" * (1 + i) + b"love", "nul-text")
        put(f"bad/doc/blob{i:02d}.{('bin', 'exe', 'pdf', 'docx')[i % 4]}", b"x", "unsupported")
        fifo = corpus / "bad" / "special" / f"pipe{i:02d}.{('png', 'wav', 'txt')[i % 3]}"
        os.mkfifo(fifo)
        bad[str(fifo)] = "fifo"
        link = corpus / "bad" / "links" / f"link{i:02d}.png"
        target = (outside / f"outside{i:02d}.png", outside, corpus / ".." / "outside",
                  corpus / "good" / "img" / "pic00.png", Path(".."))[i % 5]
        link.symlink_to(target)
        bad[str(link)] = "symlink"
    for name, target in (("up", ".."), ("self", "."), ("escape", str(outside))):
        (corpus / "bad" / name).symlink_to(target)  # folder links: up, loop, out
        bad[str(corpus / "bad" / name)] = "symlink"
    for i in range(2):  # sockets: a path under ~100 bytes is needed (AF_UNIX limit)
        sock_path = corpus / "bad" / "special" / f"s{i}.wav"
        if len(str(sock_path)) < 100:
            with socket.socket(socket.AF_UNIX) as s:
                s.bind(str(sock_path))
            bad[str(sock_path)] = "socket"
    return Expected(corpus=corpus, outside=outside,
                    good={m: tuple(p) for m, p in goods.items()}, captions=captions, bad=bad)


def reason_ok(kind: str, reason: str) -> bool:
    """Whether a reported reason fits the kind of malformed file."""
    if kind.startswith("broken-"):
        return any(r in reason for r in AUDIO_REASONS)
    return KINDS[kind] in reason

"""``benchmarks/encode.py``'s second part: xmodal against the naive pipeline, in the same run.

Workloads (generated deterministically, untimed, into a temporary folder):

- **camera JPEGs**: GCompris photos (256 px, the ``gcompris-images`` source) upscaled bicubic to
  4000×3000 with seeded sensor-like noise (σ = 6 grey levels), JPEG quality 92: 2.5–4 MB each,
  as a 12 MP camera's; every fourth carries EXIF orientation 6 (a portrait shot).
- **small PNGs**: Scratch costume PNGs as installed (RGBA, about 100–480 px).
- **long audio**: Sonic Pi clips concatenated to ``seconds`` per file, resampled to 48 kHz and
  written as stereo FLAC (so the encoder must resample to aisfx's 44.1 kHz).

Naive pipelines (what a user writes around the same packaged model):

- images: full Pillow decode, EXIF orientation, alpha on white, shorter side 256 bicubic,
  centre 224, [-1, 1], the EfficientNet-Lite0 in eager torch, batch 16;
- audio: full ``soundfile`` decode, channels averaged, ``resample_poly`` to 44.1 kHz, the aisfx
  tower (its spectrogram blocks, its network in batches of 32 blocks), mean-pooled, one file
  after the other.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np
import torch

NAIVE_BATCH = 16


def camera_jpegs(folder: Path, n: int, size: tuple[int, int] = (4000, 3000)) -> list[str]:
    from PIL import Image

    from xmodal.data.sources import load_source

    photos = load_source("gcompris-images", limit=max(400, 20 * n)).items
    paths = []
    for i in range(n):
        rng = np.random.default_rng(i)
        img = Image.open(photos[(i * 17) % len(photos)].path).convert("RGB")
        img = img.resize(size, Image.Resampling.BICUBIC)
        noisy = np.asarray(img, np.int16) + rng.normal(0, 6, (size[1], size[0], 1)).astype(np.int16)
        exif = Image.Exif()
        if i % 4 == 3:
            exif[0x0112] = 6  # rotate 90° clockwise when displayed
        path = folder / f"camera-{i:03d}.jpg"
        Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(path, quality=92, exif=exif)
        paths.append(str(path))
    return paths


def small_pngs(n: int) -> list[str]:
    from xmodal.data.sources import load_source

    return [str(item.path) for item in load_source("scratch-images", limit=n).items][:n]


def long_audio(folder: Path, n: int, seconds: float) -> list[str]:
    import soundfile as sf
    from scipy import signal

    from xmodal.data import load_audio
    from xmodal.data.sources import load_sonic_pi

    clips = [load_audio(str(c.path), sample_rate=44100) for c in load_sonic_pi().items]
    want = int(seconds * 44100)
    paths = []
    for i in range(n):
        parts, got, k = [], 0, i * 7
        while got < want:
            parts.append(clips[k % len(clips)])
            got += len(parts[-1])
            k += 1
        mono = np.concatenate(parts)[:want]
        wave = signal.resample_poly(mono, 160, 147).astype(np.float32)  # 44.1 → 48 kHz
        path = folder / f"long-{i:02d}.flac"
        sf.write(path, np.stack([wave, wave[::-1]], axis=1), 48000)  # stereo
        paths.append(str(path))
    return paths


def naive_images(enc, paths: list[str]) -> np.ndarray:
    from PIL import Image, ImageOps

    out = []
    for s in range(0, len(paths), NAIVE_BATCH):
        batch = []
        for p in paths[s : s + NAIVE_BATCH]:
            img = Image.open(p)
            img.load()  # the full image
            ImageOps.exif_transpose(img, in_place=True)
            if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
                rgba = img.convert("RGBA")
                img = Image.alpha_composite(Image.new("RGBA", rgba.size, (255,) * 4), rgba)
            img = img.convert("RGB")
            w, h = img.size
            scale = 256 / min(w, h)
            size = (max(224, round(w * scale)), max(224, round(h * scale)))
            img = img.resize(size, Image.Resampling.BICUBIC)
            left, top = (size[0] - 224) // 2, (size[1] - 224) // 2
            pixels = np.asarray(img.crop((left, top, left + 224, top + 224)), np.float32) / 255
            batch.append(((pixels - 0.5) / 0.5).transpose(2, 0, 1))  # (3, 224, 224)
        feats = enc.features(np.stack(batch))  # (b, 1280)
        out.append(torch.nn.functional.normalize(feats, dim=-1).numpy())
    return np.concatenate(out)  # (n, 1280)


def naive_audio(enc, paths: list[str]) -> np.ndarray:
    import soundfile as sf
    from scipy import signal

    from xmodal.encoders.towers.aisfx import blocks

    out = []
    for p in paths:
        wave, rate = sf.read(p, dtype="float32", always_2d=True)  # (n, channels), whole file
        mono = wave.mean(axis=1)
        g = np.gcd(44100, rate)
        mono = signal.resample_poly(mono, 44100 // g, rate // g).astype(np.float32)
        cut = blocks(mono)  # (n_blocks, 100, 96)
        emb = np.concatenate([enc.embed_blocks(cut[s : s + 32]) for s in range(0, len(cut), 32)])
        v = emb.mean(axis=0)
        out.append(v / np.linalg.norm(v))
    return np.stack(out)  # (n, 512)


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _trim() -> None:
    """Give freed heap memory back to the system (glibc), so that a run that follows another
    in the same process is not measured on the pages the first one left resident."""
    import contextlib
    import ctypes
    import gc

    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: a lower bound then
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class PeakMemory:
    """Peak resident memory above the start of the block, sampled every 5 ms (Linux)."""

    def __enter__(self) -> PeakMemory:
        _trim()
        self.start = self.peak = _rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, _rss())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss())

    @property
    def mb(self) -> float:
        return (self.peak - self.start) / 2**20


def measure(runs: dict, reps: int) -> dict[str, tuple[float, float, np.ndarray]]:
    """Median seconds, median peak MB and the output of each run, interleaved rep by rep."""
    for fn in runs.values():  # warm-up (and the outputs' first version)
        fn()
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
    outs = {}
    for _ in range(reps):
        for name, fn in runs.items():
            with PeakMemory() as mem:
                start = time.perf_counter()
                outs[name] = fn()
                seconds = time.perf_counter() - start
            times[name].append((seconds, mem.mb))
    return {name: (float(np.median([t for t, _ in ts])), float(np.median([m for _, m in ts])),
                   outs[name]) for name, ts in times.items()}

"""Benchmark: encoding throughput of the packaged towers, pipeline beside the raw model.

For each packaged tower, on real installed data, one table row per way of running it:

- ``raw``: the model alone on inputs decoded and preprocessed beforehand (untimed) — tokens for
  MiniLM, ``(N, 3, 224, 224)`` arrays for EfficientNet-Lite0, spectrogram blocks for aisfx;
- ``encode (workers=0)``: ``enc.encode_*`` on file paths / strings, decoding in process;
- ``encode (workers=W)``: the same with W worker processes decoding ahead of the model.

Overhead = pipeline time ÷ raw time − 1 (target: ≤ 10 % with 2 workers). Repetitions are
interleaved and the median is reported; the machine is shared, so read the ratios.

The workers can only hide decoding in cycles the model leaves idle: with torch using every core
(the default), they compete with its threads. ``--threads 1 --workers 1`` on a 2-core machine
measures the pipeline with a core to spare.

Run:
    python benchmarks/encode.py --images 256 --clips 24 --texts 512
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class Row:
    """One measured way of running one tower."""

    tower: str
    mode: str
    items: int
    seconds: float  # median wall time
    raw_seconds: float  # the raw model's median in the same run


def _median_time(fn: Callable[[], object], reps: int) -> float:
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _interleaved(runs: dict[str, Callable[[], object]], reps: int) -> dict[str, float]:
    """Median wall time of each run, the runs interleaved rep by rep (one warm-up each)."""
    for fn in runs.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(reps):
        for name, fn in runs.items():
            times[name].append(_median_time(fn, 1))
    return {name: statistics.median(t) for name, t in times.items()}


def _with_pipeline(
    raw: Callable[[], object], encode: Callable[[int], object], workers: int, reps: int
) -> dict[str, float]:
    """The raw model beside ``encode(0)`` and ``encode(workers)``, interleaved."""
    return _interleaved({
        "raw": raw,
        "encode (workers=0)": lambda: encode(0),
        f"encode (workers={workers})": lambda: encode(workers),
    }, reps)


def bench_minilm(n: int, batch: int, reps: int) -> dict[str, float]:
    from xmodal.data.sources import load_python_faq
    from xmodal.encoders import load_encoder

    pairs = load_python_faq().items
    texts = [t for p in pairs for t in (p.query, p.document[:400])][:n]
    enc = load_encoder("minilm")
    model = enc.model
    ordered = sorted(texts, key=len)  # as sentence-transformers does: less padding per batch
    features = [model.tokenize(ordered[s : s + batch]) for s in range(0, len(ordered), batch)]

    def raw() -> None:
        with torch.inference_mode():
            for f in features:
                model(f)

    return _interleaved({"raw": raw, "encode": lambda: enc.encode_text(texts, batch_size=batch)},
                        reps)


def bench_efficientnet(n: int, batch: int, reps: int, workers: int) -> dict[str, float]:
    from xmodal.data import load_images
    from xmodal.data.sources import load_source
    from xmodal.encoders import load_encoder
    from xmodal.encoders.towers.efficientnet import preprocess

    paths = [str(item.path) for item in load_source("emoji-datasource", limit=n).items]
    enc = load_encoder("efficientnet-lite0")
    images = list(load_images(paths).images)
    arrays = [preprocess(images[s : s + batch]) for s in range(0, len(images), batch)]

    def raw() -> None:
        for a in arrays:
            enc.features(a)

    return _with_pipeline(raw, lambda w: enc.encode_image(paths, batch_size=batch, workers=w),
                          workers, reps)


def bench_aisfx(n: int, batch: int, reps: int, workers: int) -> dict[str, float]:
    from xmodal.data import load_audio
    from xmodal.data.sources import load_sonic_pi
    from xmodal.encoders import load_encoder
    from xmodal.encoders.towers.aisfx import SAMPLE_RATE, blocks

    paths = [str(c.path) for c in load_sonic_pi(limit=n).items]
    enc = load_encoder("aisfx")
    every = np.concatenate([blocks(load_audio(p, sample_rate=SAMPLE_RATE)) for p in paths])

    def raw() -> None:
        for s in range(0, len(every), batch):
            enc.embed_blocks(every[s : s + batch])

    return _with_pipeline(raw, lambda w: enc.encode_audio(paths, batch_size=batch, workers=w),
                          workers, reps)


def render(rows: list[Row], workers: int) -> str:
    lines = [
        "| tower | mode | items | wall s | items/s | overhead vs raw |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        over = "" if r.mode == "raw" else f"{100 * (r.seconds / r.raw_seconds - 1):+.0f} %"
        lines.append(f"| {r.tower} | {r.mode} | {r.items} | {r.seconds:.3f} | "
                     f"{r.items / r.seconds:.1f} | {over} |")
    lines += ["", f"## Target: pipeline overhead ≤ 10 % of raw model time with {workers} workers",
              ""]
    for r in rows:
        if r.mode in (f"encode (workers={workers})", "encode"):
            over = r.seconds / r.raw_seconds - 1
            lines.append(f"{'PASS' if over <= 0.10 else 'FAIL'} {r.tower}: {100 * over:+.0f} %")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=512, help="emoji PNGs for EfficientNet-Lite0")
    ap.add_argument("--clips", type=int, default=48, help="Sonic Pi clips for aisfx")
    ap.add_argument("--texts", type=int, default=1000, help="Python FAQ texts for MiniLM")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0,
                    help="torch threads for the model (0: torch's default, one per core); "
                         "fewer than the cores leaves the decoding workers a core of their own")
    ap.add_argument("--towers", default="minilm,efficientnet-lite0,aisfx",
                    help="comma-separated subset of the towers")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    chosen = set(args.towers.split(","))
    rows: list[Row] = []
    jobs = [
        ("minilm", args.texts, lambda: bench_minilm(args.texts, args.batch_size, args.reps)),
        ("efficientnet-lite0", args.images,
         lambda: bench_efficientnet(args.images, args.batch_size, args.reps, args.workers)),
        ("aisfx", args.clips,
         lambda: bench_aisfx(args.clips, args.batch_size, args.reps, args.workers)),
    ]
    for tower, n, job in jobs:
        if tower not in chosen:
            continue
        print(f"benchmarking {tower} on {n} items…", file=sys.stderr)
        times = job()
        rows += [Row(tower, mode, n, t, times["raw"]) for mode, t in times.items()]
    print(f"# Encoding throughput (torch threads = {torch.get_num_threads()}, "
          f"batch {args.batch_size})\n")
    print(render(rows, args.workers))


if __name__ == "__main__":
    main()

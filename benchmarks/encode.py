"""Benchmark: encoding throughput of the packaged towers, pipeline beside the raw model.

For each packaged tower, on real installed data, one table row per way of running it:

- ``raw``: the model alone on inputs decoded and preprocessed beforehand (untimed) — tokens for
  MiniLM, ``(N, 3, 224, 224)`` arrays for EfficientNet-Lite0, spectrogram blocks for aisfx;
- ``encode (workers=0)``: ``enc.encode_*`` on file paths / strings, decoding in process;
- ``encode (workers=W)``: the same with W worker processes decoding ahead of the model.

Overhead = pipeline time ÷ raw time − 1 (target: ≤ 10 % with 2 workers). Repetitions are
interleaved and the median is reported; the machine is shared, so read the ratios.

Second part (issue 16), xmodal against the naive pipeline in the same run, on camera-sized
JPEGs, small PNGs and long audio (``benchmarks/encode_naive.py`` says how each is made and what
"naive" does): ``load_encoder("efficientnet-lite0").encode_image(paths)`` and
``load_encoder("aisfx").encode_audio(paths)`` with their defaults (runtime auto: ONNX Runtime
where installed; the naive path runs the same weights in eager torch), items/s, peak memory above
the start of the run, the ratio, the features' cosine to the naive ones, and how the pipeline
ran (batches decoded beside the network, torch threads meanwhile). Targets: JPEG ≥ 3×, small
images ≥ 1.5×, audio ≥ 1.5×, cosine ≥ 0.99.

The workers can only hide decoding in cycles the model leaves idle: with torch using every core
(the default), they compete with its threads. ``--threads 1 --workers 1`` on a 2-core machine
measures the pipeline with a core to spare.

Run:
    python benchmarks/encode.py --images 256 --clips 24 --texts 512
    python benchmarks/encode.py --towers "" --camera 24 --pngs 48 --long-audio 4
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

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
    ap.add_argument("--camera", type=int, default=24, help="4000×3000 JPEGs (vs naive)")
    ap.add_argument("--camera-size", default="4000x3000", help="their size, WxH")
    ap.add_argument("--pngs", type=int, default=48, help="small PNGs (vs naive)")
    ap.add_argument("--long-audio", type=int, default=4, help="long FLAC files (vs naive)")
    ap.add_argument("--audio-seconds", type=float, default=120.0, help="length of each")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    towers(args)
    if args.camera or args.pngs or args.long_audio:
        print(vs_naive(args))


def towers(args: argparse.Namespace) -> None:
    """The first part: each packaged tower's pipeline beside its raw model."""
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
    if rows:
        print(f"# Encoding throughput (torch threads = {torch.get_num_threads()}, "
              f"batch {args.batch_size})\n")
        print(render(rows, args.workers))


TARGETS = {"camera JPEG": 3.0, "small PNG": 1.5, "long audio": 1.5}


def _runtime(enc) -> str:
    """Where xmodal's network ran: the default runtime (auto: ONNX Runtime when installed)."""
    return "onnx" if getattr(enc, "graph", None) is not None else "torch"


def vs_naive(args: argparse.Namespace) -> str:
    """The second part: xmodal's default encode calls (default runtime: ONNX Runtime where
    installed) against the naive pipelines (full decode, eager torch)."""
    import encode_naive as naive
    from xmodal.encoders import load_encoder

    lines = [f"\n# xmodal against the naive pipeline (same run, torch threads = "
             f"{torch.get_num_threads()}, medians of {args.reps})\n",
             "| workload | items | naive items/s | xmodal items/s | ratio | naive peak MB | "
             "xmodal peak MB | cosine min | xmodal runtime; pipeline |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    verdicts = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        w, h = (int(v) for v in args.camera_size.split("x"))
        work = [
            ("camera JPEG", "efficientnet-lite0",
             lambda: naive.camera_jpegs(folder, args.camera, (w, h)),
             naive.naive_images, "encode_image", args.camera),
            ("small PNG", "efficientnet-lite0", lambda: naive.small_pngs(args.pngs),
             naive.naive_images, "encode_image", args.pngs),
            ("long audio", "aisfx",
             lambda: naive.long_audio(folder, args.long_audio, args.audio_seconds),
             naive.naive_audio, "encode_audio", args.long_audio),
        ]
        for name, spec, make, slow, method, n in work:
            if not n:
                continue
            print(f"benchmarking {name} × {n} against the naive pipeline…", file=sys.stderr)
            enc = load_encoder(spec)  # fresh: it measures its own pipeline plan (warm-up call)
            eager = load_encoder(spec, runtime="torch")  # the naive pipeline's eager network
            paths = make()
            got = naive.measure({
                "naive": lambda eager=eager, slow=slow, paths=paths: slow(eager, paths),
                "xmodal": lambda enc=enc, method=method, paths=paths:
                    getattr(enc, method)(paths),
            }, args.reps)
            (t0, m0, v0), (t1, m1, v1) = got["naive"], got["xmodal"]
            cosine = float((v0 * v1).sum(axis=1).min())
            ratio = t0 / t1
            lines.append(f"| {name} | {len(paths)} | {len(paths) / t0:.2f} | "
                         f"{len(paths) / t1:.2f} | {ratio:.2f}× | {m0:.0f} | {m1:.0f} | "
                         f"{cosine:.4f} | {_runtime(enc)}; {_plan(enc.last_pipeline)} |")
            ok = ratio >= TARGETS[name] and cosine >= 0.99
            verdicts.append(f"{'PASS' if ok else 'FAIL'} {name}: {ratio:.2f}× "
                            f"(target ≥ {TARGETS[name]}×), cosine {cosine:.4f} (≥ 0.99)")
    return "\n".join([*lines, "", "## Targets (issue 16)", "", *verdicts])


def _plan(trace) -> str:
    """How the last encode call ran: batches overlapped, the network's torch threads."""
    over = [t for t in trace if t.mode == "overlapped"]
    threads = sorted({t.torch_threads for t in over}) or sorted({t.torch_threads for t in trace})
    return (f"{len(over)}/{len(trace)} batches decoded beside the network "
            f"(torch threads {', '.join(map(str, threads))} + {1 if over else 0} decoding)")


if __name__ == "__main__":
    main()

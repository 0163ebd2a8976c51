"""Benchmark: the packaged towers on torch, ONNX Runtime and ONNX Runtime int8, in one run.

Per tower, on the same real inputs decoded and preprocessed beforehand (untimed): emoji PNGs
as ``(N, 3, crop, crop)`` arrays for EfficientNet-Lite0/Lite2, Python FAQ questions and
answers for MiniLM (tokenised inside the timed call, as ``encode_text`` does), Sonic Pi clips
as spectrogram blocks for aisfx. Items/s is the median over interleaved repetitions (one
warm-up each); the machine is shared, so read the ratios to torch, measured in the same run.
"cos min / median" is each item's vector against torch's (target for fp32: >= 0.9999).

``--hit10 image,audio`` adds the retrieval cost: the starters (``starter-image``,
``starter-audio``) with their towers on each runtime, Hit@10 item→text and text→item on the
held-out captions (sha1 bucket, as ``python -m xmodal.train.starters`` reports them), over the
first ``--hit-items`` held-out items by a hash of their path (``0``: all of them), each item's
candidates being the distinct captions of those items.

Threads: torch and ONNX Runtime both use ``--threads`` intra-op threads (default: torch's,
the physical cores); ONNX Runtime with one inter-op thread and no spinning.

Run:
    python benchmarks/runtime.py --items 64 --texts 256 --clips 12 --hit10 image,audio
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

RUNTIMES = ("torch", "onnx", "onnx-int8")
TOWERS = ("efficientnet-lite0", "efficientnet-lite2", "minilm", "aisfx")


@dataclass(frozen=True)
class Row:
    """One tower on one runtime."""

    tower: str
    runtime: str
    items: int
    seconds: float  # median wall time of one pass over the items
    torch_seconds: float  # torch's median in the same run
    cos_min: float  # smallest cosine of an item's vector with torch's
    cos_median: float


@dataclass(frozen=True)
class HitRow:
    """A starter's held-out retrieval on one runtime."""

    modality: str
    runtime: str
    items: int
    captions: int
    to_text: float  # Hit@10 item→text
    from_text: float  # Hit@10 text→item


def interleaved(runs: dict[str, Callable[[], np.ndarray]], reps: int
                ) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Median wall time of each run (interleaved rep by rep, one warm-up each) and its output."""
    outputs = {name: fn() for name, fn in runs.items()}
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(reps):
        for name, fn in runs.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {n: statistics.median(t) for n, t in times.items()}, outputs


def tower_runs(tower: str, n: int, batch: int, threads: int | None
               ) -> tuple[int, dict[str, Callable[[], np.ndarray]]]:
    """How many items, and one pass over them per runtime (returning unit vectors)."""
    from xmodal.encoders import load_encoder
    from xmodal.encoders.runtime import use_runtime

    encoders = {rt: use_runtime(load_encoder(tower), rt, threads=threads) for rt in RUNTIMES}
    unit = lambda x: np.asarray(x) / np.linalg.norm(x, axis=1, keepdims=True)  # noqa: E731
    if tower.startswith("efficientnet"):
        from xmodal.data import load_images
        from xmodal.data.sources import load_source
        from xmodal.encoders.towers.efficientnet import preprocess

        paths = [str(i.path) for i in load_source("emoji-datasource", limit=n).items]
        images = list(load_images(paths).images)
        variant = encoders["torch"].variant
        arrays = [preprocess(images[s : s + batch], variant) for s in range(0, len(images), batch)]
        return len(images), {rt: (lambda e=e: unit(np.concatenate(
            [e.features(a).numpy() for a in arrays]))) for rt, e in encoders.items()}
    if tower == "minilm":
        from xmodal.data.sources import load_python_faq

        texts = [t for p in load_python_faq().items for t in (p.query, p.document[:400])][:n]
        return len(texts), {rt: (lambda e=e: e._embed_texts(texts, prompt=None, batch_size=batch,
                                                            progress=False))
                            for rt, e in encoders.items()}
    from xmodal.data import load_audio
    from xmodal.data.sources import load_sonic_pi
    from xmodal.encoders.towers.aisfx import SAMPLE_RATE, blocks

    cuts = [blocks(load_audio(c.path, sample_rate=SAMPLE_RATE))
            for c in load_sonic_pi(limit=n).items]
    return len(cuts), {rt: (lambda e=e: unit(e._embed_audio(cuts, batch_size=batch)))
                       for rt, e in encoders.items()}


def bench_tower(tower: str, n: int, batch: int, reps: int, threads: int | None) -> list[Row]:
    from xmodal.encoders.runtime.towers import row_cosines

    items, runs = tower_runs(tower, n, batch, threads)
    seconds, outputs = interleaved(runs, reps)
    rows = []
    for rt in RUNTIMES:
        cos = row_cosines(outputs[rt], outputs["torch"])  # (items,)
        rows.append(Row(tower, rt, items, seconds[rt], seconds["torch"], float(cos.min()),
                        float(np.median(cos))))
    return rows


def held_out_items(modality: str, limit: int) -> tuple[list[str], list[str], np.ndarray]:
    """The first ``limit`` held-out items (by a hash of their path), their distinct captions,
    and which caption is whose ``(items, captions)``."""
    from xmodal.train.evaluate import paired_layout
    from xmodal.train.starter_data import load_families
    from xmodal.train.starters import held_out

    pairs = [p for p in load_families(modality) if held_out(p.caption)]
    items = sorted({p.item for p in pairs}, key=lambda s: hashlib.sha1(s.encode()).hexdigest())
    chosen = set(items[:limit] if limit else items)
    pairs = [p for p in pairs if p.item in chosen]
    return paired_layout([p.item for p in pairs], [p.caption for p in pairs])


def bench_hit10(modality: str, limit: int, batch: int, threads: int | None) -> list[HitRow]:
    from xmodal.data import load_images
    from xmodal.data.audio import load_audios
    from xmodal.encoders import load_encoder
    from xmodal.encoders.runtime import use_runtime
    from xmodal.train.evaluate import figures_from_scores

    items, captions, own = held_out_items(modality, limit)
    rows = []
    for rt in RUNTIMES:
        starter = load_encoder(f"starter-{modality}")
        for tower in starter.model.towers.values():
            use_runtime(tower, rt, threads=threads)
        if modality == "image":
            decoded = load_images(items)
            keep = list(decoded.indices)
            vectors = starter.encode_image(list(decoded.images), batch_size=batch)
        else:
            decoded = load_audios(items, sample_rate=starter.model.towers["audio"].card.sample_rate)
            keep = list(decoded.indices)
            vectors = starter.encode_audio(list(decoded.waves), batch_size=batch)
        texts = starter.encode_text(captions, batch_size=batch)  # (n_cap, d)
        figures = figures_from_scores(vectors @ texts.T, own[keep], ks=(10,))
        rows.append(HitRow(modality, rt, len(keep), len(captions), figures.to_text[10],
                           figures.from_text[10]))
    return rows


def render(rows: list[Row]) -> str:
    lines = ["| tower | runtime | items | items/s | × torch | cos min / median |",
             "| --- | --- | ---: | ---: | ---: | --- |"]
    for r in rows:
        lines.append(f"| {r.tower} | {r.runtime} | {r.items} | {r.items / r.seconds:.1f} | "
                     f"{r.torch_seconds / r.seconds:.2f} | {r.cos_min:.6f} / {r.cos_median:.6f} |")
    return "\n".join(lines)


def render_hits(rows: list[HitRow]) -> str:
    lines = ["| starter | runtime | items | captions | Hit@10 item→text | Hit@10 text→item |",
             "| --- | --- | ---: | ---: | ---: | ---: |"]
    lines += [f"| {r.modality} | {r.runtime} | {r.items} | {r.captions} | {r.to_text:.3f} | "
              f"{r.from_text:.3f} |" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--towers", default=",".join(TOWERS))
    ap.add_argument("--items", type=int, default=64, help="images per image tower")
    ap.add_argument("--texts", type=int, default=256)
    ap.add_argument("--clips", type=int, default=12)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None,
                    help="intra-op threads for both runtimes (default: torch's)")
    ap.add_argument("--hit10", default="", help="starters to measure: image, audio or both")
    ap.add_argument("--hit-items", type=int, default=500, help="held-out items (0: all)")
    args = ap.parse_args(argv)
    try:
        from xmodal._optional import require

        require("onnxruntime", "onnx")
    except ImportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    counts = {"minilm": args.texts, "aisfx": args.clips}
    rows = [r for t in args.towers.split(",") if t
            for r in bench_tower(t, counts.get(t, args.items), args.batch_size, args.reps,
                                 threads)]
    print(f"## Runtimes ({threads} intra-op threads, batch {args.batch_size}, "
          f"median of {args.reps})\n")
    print(render(rows))
    hits = [r for m in args.hit10.split(",") if m
            for r in bench_hit10(m, args.hit_items, args.batch_size, threads)]
    if hits:
        print(f"\n## Retrieval cost (starters, held-out captions, first {args.hit_items or 'all'}"
              " items)\n")
        print(render_hits(hits))
    return 0


if __name__ == "__main__":
    sys.exit(main())

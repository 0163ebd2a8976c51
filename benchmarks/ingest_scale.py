"""Benchmark: ``xmodal index`` over many small files (new, then a re-run over the unchanged
files) and the time to open an index whose collections store gap projections.

What runs: ``run_index`` (the body of ``xmodal index``, ``--json``) over ``N`` tiny text files
(a few words each, 1,000 per folder) into the default store (Qdrant Edge, an index folder),
with a bag-of-words encoder (``tests/index/crash_worker.LiteEncoder``: hashed words, no
model), so the figures measure the scan, the store, the lexical list and the manifest, not a
network. Each size is run with the SQLite manifest (ours: the rows of each batch) and, as the
reference, the JSON manifest rewritten whole after every batch (what ``xmodal index`` did
before), up to ``--reference-max`` files: that one is quadratic (5,000 files spent 5.5 s of 7 s
writing JSON), so it is not run at 100,000.

The files are dated a day back, as a library's are (a file modified within 2 s of its read gets
no trusted stat). The re-run breakdown times the scan alone (walk, side-car look-ups, recorded
stats trusted) and the sha256 of every file alone, which a re-run no longer pays; the photo
table re-scans ``--photos`` files of ``--photo-mb`` MB reading every byte (before) against
trusting the recorded size and mtime (ours). The open table times
``open_index`` + ``collections()`` + reading each collection's stored calibration (what a
searcher does before its first query) with ``--open-collections`` collections, each with a
``--open-dim`` gap projection, stored as JSON lists of floats (before) or as a safetensors
blob (ours); and loading the manifest of the largest size, JSON against SQLite.

Usage: ``python benchmarks/ingest_scale.py --sizes 10000 100000``
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.index.crash_worker import VOCAB, lite_encoders  # noqa: E402

FLAT_MAX = 1.25
"""Target: in one new ingest of the largest size (ours), the time per file over its last tenth
≤ this × over files n/20 to 3n/20 (around file n/10: "flat from 10k to 100k files")."""
RERUN_MAX_S = 60.0
DAY_NS = 86_400 * 10**9
"""Target: a re-run over 100,000 unchanged files in under a minute."""


def write_corpus(root: Path, n: int, seed: int = 0) -> None:
    """``n`` tiny text documents, 1,000 per folder, last modified a day ago (a library's files
    are not written seconds before they are indexed: their stats are trusted)."""
    rng = random.Random(seed)
    past = time.time_ns() - DAY_NS
    for i in range(n):
        folder = root / f"{i // 1000:04d}"
        if i % 1000 == 0:
            folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{i:07d}.txt"
        path.write_text(" ".join(rng.choices(VOCAB, k=5)) + f" n{i}\n")
        os.utime(path, ns=(past, past))


def photo_rescan(root: Path, n: int, mb: float, repeats: int) -> dict[str, float]:
    """Median seconds to re-scan ``n`` photo-sized files (random bytes named ``.jpg``, a day
    old): reading every file (as before) against trusting the recorded stats (ours)."""
    from xmodal.data.corpus import scan_corpus

    root.mkdir(parents=True)
    rng = random.Random(1)
    past = time.time_ns() - DAY_NS
    for i in range(n):
        path = root / f"{i:05d}.jpg"
        path.write_bytes(rng.randbytes(int(mb * 2**20)))
        os.utime(path, ns=(past, past))
    first = scan_corpus([root])
    known = {str(f.path): (*f.stat, f.sha256) for f in first.files if f.stat}
    assert len(known) == n
    out = {}
    for name, given in (("read", None), ("trusted", known)):
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            again = scan_corpus([root], known=given)
            times.append(time.perf_counter() - started)
            assert [f.sha256 for f in again.files] == [f.sha256 for f in first.files]
        out[name] = statistics.median(times)
    return out


@contextlib.contextmanager
def json_manifest() -> Iterator[None]:
    """The reference: the manifest as one JSON file, rewritten whole at every save."""
    import xmodal.index.ingest as ingest_module
    from xmodal.index._meta import read_json, write_json_atomic
    from xmodal.index.manifest_store import Manifest, legacy_path

    def load(path: Path) -> Manifest:
        old = legacy_path(Path(path))
        return Manifest(read_json(old) if old.is_file() else {})

    def save(path: Path, manifest: Any) -> None:
        write_json_atomic(legacy_path(Path(path)), dict(manifest))

    saved = ingest_module.load_manifest, ingest_module._save_manifest
    ingest_module.load_manifest, ingest_module._save_manifest = load, save
    try:
        yield
    finally:
        ingest_module.load_manifest, ingest_module._save_manifest = saved


def index_once(corpus: Path, uri: str) -> dict[str, Any]:
    """``xmodal index CORPUS --index URI --json`` with the bag-of-words encoder; its JSON, the
    wall time and the acknowledgements (``(seconds, files stored so far)`` per batch)."""
    import xmodal.commands.index as index_command
    from xmodal.commands.index_progress import IndexProgress

    acks: list[tuple[float, int]] = []

    class Acks(IndexProgress):  # the display's on_stored: when each batch was acknowledged
        def on_stored(self, files: Any) -> None:
            acks.append((time.perf_counter(), (acks[-1][1] if acks else 0) + len(files)))

    encoders = lite_encoders()
    real = index_command._encoders, index_command.IndexProgress
    index_command._encoders = lambda models, wanted, **how: {m: encoders[m] for m in wanted}
    index_command.IndexProgress = Acks  # type: ignore[misc]
    out = io.StringIO()
    try:
        started = time.perf_counter()
        with contextlib.redirect_stdout(out):
            code = index_command.run_index([str(corpus)], index_uri=uri,
                                           models={"text": "lite"}, prune=False, workers=0,
                                           as_json=True)
        wall = time.perf_counter() - started
    finally:
        index_command._encoders, index_command.IndexProgress = real
    if code != 0:
        raise SystemExit(f"xmodal index exited {code}: {out.getvalue()[-500:]}")
    return {**json.loads(out.getvalue()), "wall": wall, "acks": acks,
            "encoded": encoders["text"].items["document"]}


def marginal(acks: list[tuple[float, int]], lo: int, hi: int) -> float:
    """Seconds per file stored from the last acknowledgement at or before file ``lo`` to the
    first at or after file ``hi`` (at least one batch apart)."""
    before = [(t, c) for t, c in acks if c <= lo]
    t0, c0 = before[-1] if before else acks[0]
    t1, c1 = next(((t, c) for t, c in acks if c >= hi and c > c0), acks[-1])  # >= 1 batch
    return (t1 - t0) / (c1 - c0)


def rerun_breakdown(corpus: Path) -> tuple[float, float]:
    """Seconds of a scan alone, and of the sha256 of every file alone."""
    from xmodal.data.corpus import file_sha256, scan_corpus

    started = time.perf_counter()
    files = scan_corpus([corpus]).files
    scan = time.perf_counter() - started
    started = time.perf_counter()
    for f in files:
        file_sha256(f.path)
    return scan, time.perf_counter() - started


def open_times(work: Path, *, dim: int, collections: int, repeats: int) -> dict[str, float]:
    """Median seconds to open an index and read every collection's stored projection, per
    storage form."""
    import numpy as np

    from xmodal.calibration import StoredCalibration
    from xmodal.diagnostics import GapProjection
    from xmodal.index import open_index

    rng = np.random.default_rng(0)
    a = rng.normal(size=(4 * dim, dim)) + 1.0  # (n, d)
    proj = GapProjection.fit(a, a @ np.linalg.qr(rng.normal(size=(dim, dim)))[0])
    new = proj.to_dict()
    old = {k: v for k, v in new.items() if k != "safetensors"}
    old.update(mu_a=proj.mu_a.tolist(), mu_b=proj.mu_b.tolist(), w_ab=proj.w_ab.tolist())
    out: dict[str, float] = {}
    for form, stored in (("json lists", old), ("safetensors", new)):
        uri = str(work / f"open-{form.replace(' ', '-')}")
        with open_index(uri) as index:
            for c in range(collections):
                col = index.create_collection(f"m{c}.image", dim=dim, model=f"m{c}",
                                              modality="image")
                col.set_calibration({"text": {"projection": stored}})
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            with open_index(uri) as index:
                for info in index.collections():
                    got = StoredCalibration.read(info.calibration, "text")
                    assert got.projection is not None and got.projection.dim == dim
            times.append(time.perf_counter() - started)
        out[form] = statistics.median(times)
    return out


def manifest_load_times(path_json: Path, path_db: Path, repeats: int) -> dict[str, float]:
    """Median seconds to load the same manifest from its JSON and from SQLite."""
    from xmodal.index._meta import read_json
    from xmodal.index.manifest_store import load_manifest

    out = {}
    for name, load in (("json", lambda: read_json(path_json)),
                       ("sqlite", lambda: load_manifest(path_db))):
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            load()
            times.append(time.perf_counter() - started)
        out[name] = statistics.median(times)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--reference-max", type=int, default=10_000,
                        help="largest size the quadratic JSON reference is run at")
    parser.add_argument("--open-dim", type=int, default=512)
    parser.add_argument("--open-collections", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--photos", type=int, default=300, help="photo-sized files re-scanned")
    parser.add_argument("--photo-mb", type=float, default=3.0)
    args = parser.parse_args(argv)
    rows: list[tuple[Any, ...]] = []
    per_file: dict[int, float] = {}
    ours_acks: list[tuple[float, int]] = []
    reruns: dict[int, float] = {}
    breakdown: dict[int, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for n in sorted(args.sizes):
            corpus = work / f"corpus-{n}"
            write_corpus(corpus, n)
            walls: dict[tuple[str, str], float] = {}
            kinds = ["sqlite", "json"] if n <= args.reference_max else ["sqlite"]
            for kind in kinds:
                uri = str(work / f"idx-{n}-{kind}")
                with json_manifest() if kind == "json" else contextlib.nullcontext():
                    first = index_once(corpus, uri)
                    again = index_once(corpus, uri)
                if kind == "sqlite":
                    ours_acks = first["acks"]
                assert (first["indexed"], again["unchanged"], again["encoded"]) == (n, n, 0)
                walls[kind, "new"], walls[kind, "re-run"] = first["wall"], again["wall"]
            for run in ("new", "re-run"):
                for kind in kinds:
                    ratio = (f"{walls['json', run] / walls['sqlite', run]:.2f}"
                             if kind == "sqlite" and "json" in kinds else "")
                    rows.append((f"{n:,}", "sqlite (ours)" if kind == "sqlite" else
                                 "json, whole (before)", run, f"{walls[kind, run]:.1f}",
                                 f"{walls[kind, run] / n * 1e6:.0f}", ratio))
            if n == max(args.sizes):  # around file n/10 and around file n, in the same run
                per_file = {n // 10: marginal(ours_acks, n // 20, 3 * n // 20),
                            n: marginal(ours_acks, 9 * n // 10, n)}
            reruns[n] = walls["sqlite", "re-run"]
            breakdown[n] = rerun_breakdown(corpus)
        largest = max(args.sizes)
        if largest <= args.reference_max:
            loads = manifest_load_times(work / f"idx-{largest}-json" / "xmodal-manifest.json",
                                        work / f"idx-{largest}-sqlite" /
                                        "xmodal-manifest.sqlite", args.repeats)
        else:
            from xmodal.index._meta import write_json_atomic
            from xmodal.index.manifest_store import load_manifest

            db = work / f"idx-{largest}-sqlite" / "xmodal-manifest.sqlite"
            write_json_atomic(work / "manifest.json", dict(load_manifest(db)))
            loads = manifest_load_times(work / "manifest.json", db, args.repeats)
        opens = open_times(work, dim=args.open_dim, collections=args.open_collections,
                           repeats=args.repeats)
        photos = photo_rescan(work / "photos", args.photos, args.photo_mb, args.repeats)
    print("# Ingest at scale (tiny text files, bag-of-words encoder, Qdrant Edge)\n")
    print("| files | manifest | run | wall s | µs/file | before ÷ ours |")
    print("|---:|---|---|---:|---:|---:|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print("\n## Re-run breakdown (ours)\n")
    print("| files | re-run s | scan alone s | sha256 of every file alone s |")
    print("|---:|---:|---:|---:|")
    for n in sorted(breakdown):
        scan, hashing = breakdown[n]
        print(f"| {n:,} | {reruns[n]:.1f} | {scan:.1f} | {hashing:.1f} |")
    print(f"\n## Opening (median of {args.repeats})\n")
    print("| what | before | ours | before ÷ ours |")
    print("|---|---:|---:|---:|")
    print(f"| open + read {args.open_collections} stored {args.open_dim}-d projections, ms | "
          f"{opens['json lists'] * 1e3:.1f} | {opens['safetensors'] * 1e3:.1f} | "
          f"{opens['json lists'] / opens['safetensors']:.1f} |")
    print(f"| load the manifest of {largest:,} files, ms | {loads['json'] * 1e3:.0f} | "
          f"{loads['sqlite'] * 1e3:.0f} | {loads['json'] / loads['sqlite']:.2f} |")
    print(f"\n## Re-scan of {args.photos} photo-sized files ({args.photo_mb:g} MB each, in the "
          f"page cache: a disk is slower; median of {args.repeats})\n")
    print("| scan | s | ms/file | per 100,000 files, s |")
    print("|---|---:|---:|---:|")
    for name, label in (("read", "reading every file (before, or --rehash)"),
                        ("trusted", "trusting recorded size + mtime (ours)")):
        per = photos[name] / args.photos
        print(f"| {label} | {photos[name]:.2f} | {per * 1e3:.2f} | {per * 1e5:.0f} |")
    print("\n## Targets\n")
    small, large = min(per_file), max(per_file)
    growth = per_file[large] / per_file[small]
    print(f"{'PASS' if growth <= FLAT_MAX else 'FAIL'} new ingest time per file flat (one run "
          f"of {large:,}, between acknowledgements): {per_file[large] * 1e6:.0f} µs/file at "
          f"files {9 * large // 10:,}-{large:,} ÷ {per_file[small] * 1e6:.0f} µs/file at files "
          f"{large // 20:,}-{3 * large // 20:,} = {growth:.2f} (≤ {FLAT_MAX})")
    if large >= 100_000:
        print(f"{'PASS' if reruns[large] < RERUN_MAX_S else 'FAIL'} re-run over {large:,} "
              f"unchanged files: {reruns[large]:.1f} s (< {RERUN_MAX_S:g} s)")
    else:
        print(f"SKIP re-run over 100,000 unchanged files < {RERUN_MAX_S:g} s: largest size run "
              f"is {large:,} ({reruns[large]:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

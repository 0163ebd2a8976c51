"""Benchmark: the vector index backends against exact search and a FAISS HNSW reference.

For each data set (clustered synthetic vectors at each ``--sizes`` N, and with ``--demo`` the
OpenMoji captions embedded by the packaged MiniLM) and each backend, one table row with:

- ingest seconds and points/s (``Collection.upsert`` in batches of ``--batch``; the exact
  backend rewrites its file on every write, so it ingests in batches of 100,000);
- build seconds (``Collection.optimize()``: Qdrant Edge builds its HNSW there; ingest never
  triggers it here because ``optimize_after`` is set above N; FAISS HNSW builds during ``add``,
  so its build is inside its ingest);
- p50 / p99 latency of single top-10 queries (``--queries``, or fewer when ``--time-cap`` runs
  out), after 10 warm-up queries;
- batch QPS: the collection's multi-query ``search`` (calls of at most 1e8 / N queries);
- recall@10 against the exact NumPy top-10 (computed once per data set), tie-aware: a hit
  counts when its true score reaches the 10th best true score;
- RSS Δ: resident memory held after the build minus before the backend was opened;
- ratios of p50 and QPS to the exact backend and to FAISS HNSW.

Backends: ``edge`` (Qdrant Edge, the embedded default ``open_index(folder)``), ``exact``
(``open_index("exact:PATH")``), ``faiss`` (``faiss.IndexHNSWFlat(d, 16, METRIC_INNER_PRODUCT)``,
efConstruction 128, efSearch 128: the same parameters as Edge's HNSW, m=16, ef_construct=128,
ef=128), and ``qdrant-local`` (``qdrant-client``'s in-process local mode, a brute-force Python
implementation), which is added automatically for N ≤ 20,000 and skipped above (it does not
finish at 100k).

Qdrant Edge only builds HNSW for segments above its indexing threshold and searches segments
under ``full_scan_threshold`` exactly. Qdrant's defaults (10,000 KB each) are kept when the
data is at least 40,000 KB (N × d × 4 bytes; 100k × 512 is 200,000 KB); for smaller data sets
both thresholds are lowered to 1 KB so that the HNSW is built and really searched
(``--edge-threshold-kb`` overrides). The notes column shows how many vectors Edge indexed.

Quantised collections (rows ``edge-scalar`` and ``edge-binary``: ``create_collection(...,
quantization="scalar" | "binary")``, int8 / 1-bit codes in RAM, float32 originals on disk,
oversampling and rescoring; see ``xmodal.index.quantization``) are measured like ``edge``, and
every xmodal row has a "vector MB" column: the bytes of the vectors the store searches in RAM,
measured from the store's own files (``benchmarks/index_quant.py`` says how). The row
``edge (filter 1 %)``: the ``edge`` collection's single queries with the legacy exact-match
filter ``{"bucket": 7}`` (every point's payload is ``{"bucket": row % 100}``; Edge makes the
payload index on the first filtered search), interleaved with unfiltered ones; recall against
the exact filtered top-10.

Two more measurements, on Qdrant Edge:

- xmodal's overhead: the same single queries through ``Collection.search`` and through the raw
  ``EdgeShard.query`` call that the collection wraps (same request: top-10, ef=128, payload, as
  xmodal needs the payload for the caller's id), interleaved query by query with the order
  alternating; ratio of medians between calls in the same position, "cold" (the first call of
  a query, the target) and "warm" (the second; row "edge (raw EdgeShard)").
- RRF cost: three Edge collections (three disjoint thirds of the data), per query the three
  ``search`` calls, alone and followed by the conversion to ``RankedList`` and ``rrf_fuse``,
  interleaved; ratio of medians.

Synthetic data: 1,000 gaussian centres on the unit sphere plus anisotropic noise (power-law
spectrum in a random rotation, as real embeddings have a lower intrinsic dimension), unit
norm; queries are fresh draws. At 100k × 512 the exact top-1 / top-10 / rank-100 similarities
average about 0.86 / 0.80 / 0.42, so neighbours are meaningful and ANN recall is not trivial.

Targets (Qdrant Edge at N = 100,000): recall@10 ≥ 0.95, p50 ≤ 2 ms, xmodal ÷ raw ≤ 1.10,
RRF over three collections ≤ 1.2 × the three searches; scalar quantisation: recall@10 ≥ 0.95
with ≥ 3× less vector memory; p50 with a 1 % filter ≤ 1.5 × unfiltered. The machine is
shared: read medians and ratios, not absolute times.

Run:
    python benchmarks/index.py                       # 100k × 512, ~10 min on 2 busy cores
    python benchmarks/index.py --sizes 100000,1000000 --demo
    python benchmarks/index.py --sizes 3000 --dim 64 --queries 50   # smoke size

1M is opt-in: each copy of the vectors is ~2 GB of RAM (the data, Edge's storage, the exact
backend's array, FAISS's index: several GB at once, plus the three RRF collections), and the
HNSW builds take a long time on 2 cores (tens of minutes per backend).
The quantised rows alone at 1M (``--sizes 1000000 --backends edge-scalar,edge-binary``) took
12 min here: their HNSW is built on the codes (scalar 295 s, binary 201 s at 1M; at 100k
scalar 28 s, binary 26 s, float32 ``edge`` 100 s, i.e. ~1,000 points/s, so a float32 build at
1M is ≳ 17 min before its RRF collections and filter row).
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from index_quant import (
    QUANTIZED_BACKENDS,
    bucket_payloads,
    filtered_vs_unfiltered,
    target_lines,
    vector_memory,
)

K = 10
HNSW_M = 16
EF_CONSTRUCT = 128
EF_SEARCH = 128
QDRANT_LOCAL_MAX = 20_000
DEFAULT_THRESHOLD_KB = 10_000
WARMUP = 10
EXACT_BATCH = 100_000
BATCH_CELLS = 100_000_000  # queries × N per multi-query call
TARGET_N = 100_000


@dataclass(frozen=True)
class Dataset:
    """Base vectors, queries and the exact top-k (row indices and the k-th best score)."""

    name: str
    base: np.ndarray  # (n, d) float32, unit rows
    queries: np.ndarray  # (q, d) float32, unit rows
    truth: np.ndarray  # (q, K) int64, exact top-K rows, best first
    kth: np.ndarray  # (q,) float32, the K-th best exact score

    @property
    def n(self) -> int:
        return int(self.base.shape[0])

    @property
    def dim(self) -> int:
        return int(self.base.shape[1])


@dataclass
class Row:
    """One backend on one data set."""

    data: str
    n: int
    dim: int
    backend: str
    ingest_s: float | None = None
    build_s: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    n_single: int = 0
    qps: float | None = None
    n_batch: int = 0
    recall: float | None = None
    rss_mb: float | None = None
    vector_mb: float | None = None  # measured bytes of the vectors searched in RAM
    ref_p50_ms: float | None = None  # filter row: the interleaved unfiltered p50
    notes: list[str] = field(default_factory=list)


@dataclass
class Extra:
    """The overhead and RRF measurements of one data set."""

    overhead: float | None = None  # xmodal p50 ÷ raw p50
    rrf_ratio: float | None = None  # (3 searches + fuse) ÷ (3 searches), medians
    rrf_detail: str = ""
    skipped: list[str] = field(default_factory=list)  # "backend: why", printed under the table


# -- data ---------------------------------------------------------------------------------------
def clustered(
    n: int, nq: int, dim: int, *, seed: int = 0, centres: int = 1000, sigma: float = 0.8,
    alpha: float = 1.5,
) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors around ``centres`` gaussian centres, anisotropic noise of total norm ~sigma.

    Returns:
        base (n, dim) and queries (nq, dim), float32, unit rows.
    """
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((centres, dim)).astype(np.float32)  # (C, d)
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    spectrum = (1.0 + np.arange(dim)) ** (-alpha / 2)  # (d,) power-law std per direction
    spectrum *= sigma / np.sqrt((spectrum**2).sum())
    rot, _ = np.linalg.qr(rng.standard_normal((dim, dim)))  # (d, d) random rotation
    basis = (spectrum[:, None] * rot.T).astype(np.float32)  # (d, d)

    def draw(m: int) -> np.ndarray:
        out = np.empty((m, dim), np.float32)
        for s in range(0, m, 100_000):
            e = min(m, s + 100_000)
            x = c[rng.integers(0, centres, e - s)]
            x += rng.standard_normal((e - s, dim), dtype=np.float32) @ basis
            out[s:e] = x / np.linalg.norm(x, axis=1, keepdims=True)
        return out

    return draw(n), draw(nq)


def exact_topk(base: np.ndarray, queries: np.ndarray, k: int = K) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k rows by inner product (chunked over the base), and the k-th best score."""
    q = queries.shape[0]
    best_s = np.full((q, k), -np.inf, np.float32)
    best_i = np.zeros((q, k), np.int64)
    for s in range(0, base.shape[0], 100_000):
        sc = queries @ base[s : s + 100_000].T  # (q, chunk)
        kk = min(k, sc.shape[1])
        part = np.argpartition(-sc, kk - 1, axis=1)[:, :kk]  # (q, kk)
        all_s = np.concatenate([best_s, np.take_along_axis(sc, part, axis=1)], axis=1)
        all_i = np.concatenate([best_i, part + s], axis=1)
        order = np.argsort(-all_s, axis=1, kind="stable")[:, :k]
        best_s = np.take_along_axis(all_s, order, axis=1)
        best_i = np.take_along_axis(all_i, order, axis=1)
    return best_i, best_s[:, -1]


def make_dataset(name: str, base: np.ndarray, queries: np.ndarray) -> Dataset:
    truth, kth = exact_topk(base, queries)
    return Dataset(name, base, queries, truth, kth)


def demo_dataset(nq: int, seed: int = 0) -> Dataset:
    """OpenMoji captions (documents) and tag strings of random emoji (queries), MiniLM 384-d."""
    from xmodal.data.sources.openmoji import load_openmoji
    from xmodal.encoders import load_encoder

    items = load_openmoji().items
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(items), size=min(nq, len(items)), replace=False)
    enc = load_encoder("minilm")
    docs = np.asarray(enc.encode_document([it.caption for it in items], progress=False), np.float32)
    texts = [" ".join(items[i].tags[:6]) or items[i].caption for i in picks]
    qs = np.asarray(enc.encode_query(texts, progress=False), np.float32)
    docs /= np.linalg.norm(docs, axis=1, keepdims=True)
    qs /= np.linalg.norm(qs, axis=1, keepdims=True)
    return make_dataset("OpenMoji captions, MiniLM", docs, qs)


# -- measurement helpers -----------------------------------------------------------------------
def rss_mb() -> float | None:
    """Resident set size of this process in MB (Linux), None elsewhere."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):
        return None


def recall_at_k(ds: Dataset, qrows: Sequence[int], found: Sequence[Sequence[int]]) -> float:
    """Tie-aware recall@K: a returned row counts when its exact score reaches the K-th best."""
    good = 0
    for qi, rows in zip(qrows, found, strict=True):
        rows = list(dict.fromkeys(rows))[:K]
        if rows:
            true = ds.base[np.asarray(rows)] @ ds.queries[qi]  # (≤K,)
            good += int((true >= ds.kth[qi] - 1e-5).sum())
    return good / (K * len(qrows)) if qrows else float("nan")


def pct(times: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(times), q)) * 1e3


def single_latency(
    search: Callable[[np.ndarray], list[int]], ds: Dataset, cap_s: float
) -> tuple[list[float], list[list[int]]]:
    """Per-query seconds and result rows, in query order until done or ``cap_s`` runs out."""
    for i in range(min(WARMUP, len(ds.queries))):
        search(ds.queries[i])
    times: list[float] = []
    found: list[list[int]] = []
    t_end = time.perf_counter() + cap_s
    for q in ds.queries:
        t0 = time.perf_counter()
        rows = search(q)
        times.append(time.perf_counter() - t0)
        found.append(rows)
        if time.perf_counter() > t_end:
            break
    return times, found


def interleaved(
    runs: dict[str, Callable[[np.ndarray], Any]], queries: np.ndarray, cap_s: float
) -> tuple[dict[str, list[float]], dict[str, list[Any]]]:
    """Per-query seconds of each run, the runs interleaved query by query (order alternating)."""
    names = list(runs)
    for i in range(min(WARMUP, len(queries))):
        for name in names:
            runs[name](queries[i])
    times: dict[str, list[float]] = {n: [] for n in names}
    outs: dict[str, list[Any]] = {n: [] for n in names}
    t_end = time.perf_counter() + cap_s
    for i, q in enumerate(queries):
        for name in names if i % 2 == 0 else names[::-1]:
            t0 = time.perf_counter()
            out = runs[name](q)
            times[name].append(time.perf_counter() - t0)
            outs[name].append(out)
        if time.perf_counter() > t_end:
            break
    return times, outs


# -- backends ----------------------------------------------------------------------------------
class Backend:
    """What the benchmark needs of a store."""

    name = ""

    def ingest(self, base: np.ndarray, batch: int) -> None:
        raise NotImplementedError

    def build(self) -> None:
        """Build the index (no-op when ingest already did)."""

    def search_one(self, q: np.ndarray) -> list[int]:
        raise NotImplementedError

    def search_many(self, qs: np.ndarray) -> list[list[int]]:
        raise NotImplementedError

    def notes(self) -> list[str]:
        return []

    def close(self) -> None:
        """Release the store."""


class XmodalBackend(Backend):
    """A collection of ``xmodal.index.open_index(uri, **options)``."""

    def __init__(self, name: str, uri: str, dim: int, quantization: str = "none",
                 **options: Any) -> None:
        from xmodal.index import open_index

        self.name = name
        self.index = open_index(uri, **options)
        self.col: Any = self.index.create_collection(
            "bench", dim=dim, model="synthetic", modality="vector", quantization=quantization
        )

    def ingest(self, base: np.ndarray, batch: int) -> None:
        for s in range(0, base.shape[0], batch):
            e = min(base.shape[0], s + batch)
            self.col.upsert([str(i) for i in range(s, e)], base[s:e], bucket_payloads(s, e))

    def build(self) -> None:
        self.col.optimize()

    def search_one(self, q: np.ndarray) -> list[int]:
        return [int(i) for i in self.col.search(q, K)[0].ids]

    def search_many(self, qs: np.ndarray) -> list[list[int]]:
        return [[int(i) for i in h.ids] for h in self.col.search(qs, K)]

    def notes(self) -> list[str]:
        st = self.col.stats()
        if st["backend"] == "qdrant-edge":
            return [f"HNSW indexed {st['indexed_vectors']:,}/{st['count']:,} in "
                    f"{st['segments']} segments"]
        return []

    def close(self) -> None:
        self.index.close()


class FaissBackend(Backend):
    """``faiss.IndexHNSWFlat`` with Edge's HNSW parameters (the reference)."""

    name = "faiss"

    def __init__(self, dim: int) -> None:
        import faiss

        self.index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        self.index.hnsw.efConstruction = EF_CONSTRUCT
        self.index.hnsw.efSearch = EF_SEARCH

    def ingest(self, base: np.ndarray, batch: int) -> None:
        for s in range(0, base.shape[0], batch):
            self.index.add(base[s : s + batch])

    def search_one(self, q: np.ndarray) -> list[int]:
        _, idx = self.index.search(q[None, :], K)
        return [int(i) for i in idx[0] if i >= 0]

    def search_many(self, qs: np.ndarray) -> list[list[int]]:
        _, idx = self.index.search(qs, K)
        return [[int(i) for i in row if i >= 0] for row in idx]

    def notes(self) -> list[str]:
        return ["build inside ingest (add)"]


def edge_options(n: int, dim: int, threshold_kb: int | None) -> tuple[dict[str, Any], str]:
    """Options of ``open_index(folder)`` for this size, and a note saying which thresholds."""
    data_kb = n * dim * 4 // 1024
    if threshold_kb is None:
        threshold_kb = DEFAULT_THRESHOLD_KB if data_kb >= 4 * DEFAULT_THRESHOLD_KB else 1
    opts: dict[str, Any] = {"optimize_after": n + 1}
    if threshold_kb != DEFAULT_THRESHOLD_KB:
        opts.update(indexing_threshold_kb=threshold_kb, full_scan_threshold_kb=threshold_kb)
        return opts, f"thresholds {threshold_kb} KB (data {data_kb:,} KB)"
    return opts, f"Qdrant default thresholds {DEFAULT_THRESHOLD_KB:,} KB (data {data_kb:,} KB)"


def edge_raw_search(col: Any) -> Callable[[np.ndarray], Any]:
    """The raw ``EdgeShard.query`` call behind ``col.search`` (same request, no xmodal code)."""
    import qdrant_edge as qe

    shard = col._shard  # the EdgeShard the collection wraps (private; fine in a benchmark)
    params = qe.SearchParams(hnsw_ef=EF_SEARCH)

    def run(q: np.ndarray) -> Any:
        return shard.query(qe.QueryRequest(
            limit=K, query=qe.Query.Nearest(q.tolist(), using="embedding"), with_payload=True,
            params=params,
        ))

    return run


# -- one data set --------------------------------------------------------------------------------
def batch_qps(be: Backend, ds: Dataset, n_batch: int) -> tuple[float, list[list[int]]]:
    """QPS of the multi-query search over the first ``n_batch`` queries, and its results."""
    per_call = max(1, BATCH_CELLS // ds.n)
    found: list[list[int]] = []
    t0 = time.perf_counter()
    for s in range(0, n_batch, per_call):
        found += be.search_many(ds.queries[s : min(n_batch, s + per_call)])
    return n_batch / (time.perf_counter() - t0), found


def measure(be_factory: Callable[[], Backend], ds: Dataset, args: argparse.Namespace,
            batch: int, extra_notes: Sequence[str] = ()) -> tuple[Row, Backend]:
    """Ingest, build, single and batch queries, recall of one backend. The backend stays open."""
    gc.collect()
    before = rss_mb()
    be = be_factory()
    row = Row(ds.name, ds.n, ds.dim, be.name, notes=list(extra_notes))
    t0 = time.perf_counter()
    be.ingest(ds.base, batch)
    row.ingest_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    be.build()
    row.build_s = time.perf_counter() - t0
    after = rss_mb()
    row.rss_mb = None if before is None or after is None else after - before
    print(f"  {be.name}: ingest {row.ingest_s:.1f} s, build {row.build_s:.1f} s", file=sys.stderr)
    times, _ = single_latency(be.search_one, ds, args.time_cap)
    row.p50_ms, row.p99_ms, row.n_single = pct(times, 50), pct(times, 99), len(times)
    mean_s = statistics.fmean(times)
    n_batch = min(len(ds.queries), max(WARMUP, int(args.time_cap / max(mean_s, 1e-9))))
    row.qps, found = batch_qps(be, ds, n_batch)
    row.n_batch = n_batch
    row.recall = recall_at_k(ds, range(n_batch), found)
    row.notes += be.notes()
    if isinstance(be, XmodalBackend):
        nbytes, how = vector_memory(be.col)
        row.vector_mb = None if nbytes is None else nbytes / 2**20
        row.notes += [f"vector MB: {how}"] if how else []
    return row, be


def run_dataset(ds: Dataset, args: argparse.Namespace) -> tuple[list[Row], Extra]:
    """Every chosen backend on one data set, plus the overhead and RRF measurements."""
    chosen = [b.strip() for b in args.backends.split(",") if b.strip()]
    if "qdrant-local" not in chosen:
        chosen.append("qdrant-local")  # automatic, and skipped (with the reason) above 20,000
    rows: list[Row] = []
    extra = Extra()
    with tempfile.TemporaryDirectory(prefix="xmodal-index-bench-") as tmp:
        for name in chosen:
            print(f"[{ds.name} N={ds.n:,}] {name}", file=sys.stderr)
            if name == "edge":
                opts, note = edge_options(ds.n, ds.dim, args.edge_threshold_kb)
                row, be = measure(lambda o=opts: XmodalBackend("edge", os.path.join(tmp, "edge"),
                                                               ds.dim, **o),
                                  ds, args, args.batch, [note])
                rows.append(row)
                rows.append(edge_overhead(be, ds, args, extra))
                rows.append(filter_row(be, ds, args))
                be.close()
                extra.rrf_ratio, extra.rrf_detail = rrf_cost(ds, args, os.path.join(tmp, "rrf"))
            elif name in QUANTIZED_BACKENDS:
                opts, note = edge_options(ds.n, ds.dim, args.edge_threshold_kb)
                row, be = measure(lambda o=opts, n=name: XmodalBackend(
                    n, os.path.join(tmp, n), ds.dim, QUANTIZED_BACKENDS[n], **o),
                    ds, args, args.batch, [note])
                rows.append(row)
                be.close()
            elif name == "exact":
                row, be = measure(lambda: XmodalBackend("exact", "exact:" + os.path.join(
                    tmp, "exact"), ds.dim), ds, args, min(EXACT_BATCH, ds.n))
                rows.append(row)
                be.close()
            elif name == "faiss":
                row, be = measure(lambda: FaissBackend(ds.dim), ds, args, args.batch)
                rows.append(row)
            elif name == "qdrant-local":
                if ds.n > QDRANT_LOCAL_MAX:
                    why = (f"qdrant-local skipped at N={ds.n:,} ({ds.name}): its local mode is "
                           f"a brute-force Python store, usable only up to {QDRANT_LOCAL_MAX:,} "
                           f"points (the store comparison stopped it at 100k after 9 min)")
                    print(f"  {why}", file=sys.stderr)
                    extra.skipped.append(why)
                    continue
                row, be = measure(lambda: XmodalBackend("qdrant-local", "qdrant-local::memory:",
                                                        ds.dim), ds, args, args.batch,
                                  ["brute force in Python"])
                rows.append(row)
                be.close()
            else:
                raise SystemExit(f"unknown backend {name!r} (edge, edge-scalar, edge-binary, "
                                 "exact, faiss, qdrant-local)")
            del be
            gc.collect()
    return rows, extra


def edge_overhead(be: Backend, ds: Dataset, args: argparse.Namespace, extra: Extra) -> Row:
    """xmodal ``Collection.search`` vs the raw ``EdgeShard.query``, interleaved per query.

    The order alternates query by query. The first call of a new query pays the cache misses of
    its part of the graph (a few hundred µs at 100k × 512), so the ratio is taken between calls
    in the same position: "cold" (first call of a query: a new query, what users see; the
    target) and "warm" (second call: nearly the pure per-call cost, so a stricter ratio).
    """
    assert isinstance(be, XmodalBackend)
    runs: dict[str, Callable[[np.ndarray], Any]] = {
        "xmodal": lambda q: be.col.search(q, K), "raw": edge_raw_search(be.col)
    }
    for q in ds.queries[-WARMUP:]:  # warm-up on queries measured last (if at all)
        for fn in runs.values():
            fn(q)
    times: dict[tuple[str, int], list[float]] = {(n, p): [] for n in runs for p in (0, 1)}
    found: list[list[int]] = []
    t_end = time.perf_counter() + args.time_cap
    for i, q in enumerate(ds.queries):
        order = ["xmodal", "raw"] if i % 2 == 0 else ["raw", "xmodal"]
        for pos, name in enumerate(order):
            t0 = time.perf_counter()
            out = runs[name](q)
            times[(name, pos)].append(time.perf_counter() - t0)
            if name == "raw":
                found.append([int(p.payload["_id"]) for p in out])
        if time.perf_counter() > t_end:
            break
    med = {key: pct(v, 50) for key, v in times.items()}
    extra.overhead = med[("xmodal", 0)] / med[("raw", 0)]
    warm = med[("xmodal", 1)] / med[("raw", 1)]
    raw_all = times[("raw", 0)] + times[("raw", 1)]
    return Row(ds.name, ds.n, ds.dim, "edge (raw EdgeShard)", p50_ms=pct(raw_all, 50),
               p99_ms=pct(raw_all, 99), n_single=len(found),
               recall=recall_at_k(ds, range(len(found)), found),
               notes=[f"interleaved with Collection.search, p50 xmodal / raw: "
                      f"cold {med[('xmodal', 0)]:.3f} / {med[('raw', 0)]:.3f} ms = "
                      f"{extra.overhead:.3f}×, warm {med[('xmodal', 1)]:.3f} / "
                      f"{med[('raw', 1)]:.3f} ms = {warm:.3f}×"])


def filter_row(be: Backend, ds: Dataset, args: argparse.Namespace) -> Row:
    """The ``edge`` collection with a 1 %-selective exact-match filter, vs unfiltered."""
    assert isinstance(be, XmodalBackend)
    r = filtered_vs_unfiltered(be.col, ds.base, ds.queries, K, args.time_cap, WARMUP)
    return Row(ds.name, ds.n, ds.dim, "edge (filter 1 %)", p50_ms=r.p50_ms, p99_ms=r.p99_ms,
               n_single=r.n, recall=r.recall, ref_p50_ms=r.unfiltered_p50_ms,
               notes=[f"filter {{'bucket': 7}} (1 %; Edge indexes the key on its first "
                      "filter), interleaved with "
                      f"unfiltered p50 {r.unfiltered_p50_ms:.3f} ms: "
                      f"{r.p50_ms / r.unfiltered_p50_ms:.2f}×; recall vs exact filtered top-10; "
                      f"{r.mean_hits:.1f} hits per query of {K} wanted"])


def rrf_cost(ds: Dataset, args: argparse.Namespace, folder: str) -> tuple[float, str]:
    """Three Edge collections (thirds of the data): (3 searches + rrf_fuse) ÷ (3 searches)."""
    from xmodal.index import open_index
    from xmodal.search.hits import RankedList
    from xmodal.search.rrf import rrf_fuse

    third = -(-ds.n // 3)
    opts, _ = edge_options(third, ds.dim, args.edge_threshold_kb)
    print(f"  rrf: building 3 Edge collections of ~{third:,}", file=sys.stderr)
    with open_index(folder, **opts) as index:
        cols = []
        for j in range(3):
            col = index.create_collection(f"part{j}", dim=ds.dim, model=f"m{j}", modality="vector")
            rows = np.arange(j, ds.n, 3)
            for s in range(0, len(rows), args.batch):
                r = rows[s : s + args.batch]
                col.upsert([str(i) for i in r], ds.base[r])
            col.optimize()
            cols.append(col)

        def plain(q: np.ndarray) -> Any:
            return [c.search(q, K)[0] for c in cols]

        def fused(q: np.ndarray) -> Any:
            hits = [c.search(q, K)[0] for c in cols]
            lists = [RankedList(c.name, h.ids, tuple(h.scores.tolist()))
                     for c, h in zip(cols, hits, strict=True)]
            return rrf_fuse(lists, limit=K)

        times, _ = interleaved({"3 searches": plain, "3 searches + RRF": fused}, ds.queries,
                               args.time_cap)
    p, f = pct(times["3 searches"], 50), pct(times["3 searches + RRF"], 50)
    detail = (f"3 Edge collections of ~{third:,}, {len(times['3 searches'])} queries: "
              f"3 searches p50 {p:.3f} ms, + RankedList + rrf_fuse p50 {f:.3f} ms")
    return f / p, detail


# -- report ----------------------------------------------------------------------------------------
def _f(x: float | None, digits: int = 2) -> str:
    return "—" if x is None or not np.isfinite(x) else f"{x:,.{digits}f}"


def _ratio(x: float | None, ref: float | None) -> str:
    return "—" if x is None or ref is None or ref == 0 else f"{x / ref:.3g}×"


def render_table(rows: list[Row]) -> str:
    """One markdown table: a row per (data set, backend)."""
    head = ["data", "N", "d", "backend", "ingest s", "points/s", "build s", "p50 ms", "p99 ms",
            "single q", "batch QPS", "recall@10", "RSS Δ MB", "vector MB", "p50 ÷ exact",
            "QPS ÷ exact", "p50 ÷ FAISS", "QPS ÷ FAISS", "notes"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    refs = {(r.data, r.n, r.backend): r for r in rows}
    for r in rows:
        ex = refs.get((r.data, r.n, "exact"))
        fa = refs.get((r.data, r.n, "faiss"))
        pps = None if not r.ingest_s else r.n / r.ingest_s
        cells = [
            r.data, f"{r.n:,}", str(r.dim), r.backend, _f(r.ingest_s, 1), _f(pps, 0),
            _f(r.build_s, 1), _f(r.p50_ms, 3), _f(r.p99_ms, 3), str(r.n_single or "—"),
            _f(r.qps, 0) + (f" (n={r.n_batch})" if r.n_batch else ""), _f(r.recall, 3),
            _f(r.rss_mb, 0), _f(r.vector_mb, 2),
            _ratio(r.p50_ms, ex.p50_ms if ex else None), _ratio(r.qps, ex.qps if ex else None),
            _ratio(r.p50_ms, fa.p50_ms if fa else None), _ratio(r.qps, fa.qps if fa else None),
            "; ".join(r.notes),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _verdict(cond: bool | None, text: str) -> str:
    word = "n.a." if cond is None else "PASS" if cond else "FAIL"
    return f"{word} {text}"


def render_targets(rows: list[Row], extras: dict[int, Extra], sizes: list[int]) -> list[str]:
    """PASS / FAIL lines for the seven targets, at N = 100,000 (else the largest size run)."""
    if not sizes:
        return ["n.a. targets: no synthetic size was run"]
    n = TARGET_N if TARGET_N in sizes else max(sizes)
    where = f"N={n:,}" + ("" if n == TARGET_N else f" (targets are for N={TARGET_N:,})")
    edge = next((r for r in rows if r.n == n and r.backend == "edge"
                 and not r.data.startswith("OpenMoji")), None)
    ex = extras.get(n, Extra())

    def check(value: float | None, ok: Callable[[float], bool], what: str, fmt: str) -> str:
        if value is None:
            return _verdict(None, f"{where} edge: {what} (not measured)")
        return _verdict(ok(value), f"{where} edge: {what} (got {fmt.format(value)})")

    return [
        check(edge.recall if edge else None, lambda v: v >= 0.95, "recall@10 ≥ 0.95", "{:.3f}"),
        check(edge.p50_ms if edge else None, lambda v: v <= 2.0, "p50 ≤ 2 ms", "{:.3f} ms"),
        check(ex.overhead, lambda v: v <= 1.10, "xmodal Collection.search ÷ raw EdgeShard ≤ 1.10×",
              "{:.3f}×"),
        check(ex.rrf_ratio, lambda v: v <= 1.2, "RRF over 3 collections ≤ 1.2 × the 3 searches",
              "{:.3f}×"),
        *target_lines(rows, n, where, _verdict),
    ]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default=str(TARGET_N),
                    help="comma-separated N of synthetic vectors (1000000 is opt-in: ~2 GB RAM "
                         "per copy of the vectors and a long HNSW build on 2 cores)")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--backends", default="edge,edge-scalar,edge-binary,exact,faiss",
                    help="comma-separated: edge, edge-scalar, edge-binary, exact, faiss "
                         f"(qdrant-local is added for N ≤ {QDRANT_LOCAL_MAX:,})")
    ap.add_argument("--demo", action="store_true",
                    help="also the real demo set: OpenMoji captions embedded by MiniLM (384-d)")
    ap.add_argument("--batch", type=int, default=10_000, help="upsert batch size")
    ap.add_argument("--time-cap", type=float, default=60.0,
                    help="seconds per single-query loop (and per batch run) of one backend")
    ap.add_argument("--edge-threshold-kb", type=int, default=None,
                    help="Edge indexing and full-scan thresholds (default: Qdrant's 10,000 KB "
                         "when the data is ≥ 40,000 KB, else 1 KB so HNSW is used)")
    ap.add_argument("--seed", type=int, default=0)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    rows: list[Row] = []
    extras: dict[int, Extra] = {}
    extras_demo = Extra()
    sets: list[tuple[int | None, Callable[[], Dataset]]] = [
        (n, lambda n=n: make_dataset(f"synthetic clustered (seed {args.seed})",
                                     *clustered(n, args.queries, args.dim, seed=args.seed)))
        for n in sizes
    ]
    if args.demo:
        sets.append((None, lambda: demo_dataset(args.queries, args.seed)))
    t_start = time.perf_counter()
    for n, make in sets:
        print(f"making data set{f' N={n:,}' if n else ' (demo)'}…", file=sys.stderr)
        ds = make()
        got, extra = run_dataset(ds, args)
        rows += got
        if n is not None:
            extras[n] = extra
        else:
            extras_demo = extra
        del ds
        gc.collect()
    import faiss

    print(f"# Vector index backends (top-{K}, HNSW m={HNSW_M}, ef_construct={EF_CONSTRUCT}, "
          f"ef={EF_SEARCH}; {os.cpu_count()} CPUs, faiss {faiss.__version__}, "
          f"{time.perf_counter() - t_start:.0f} s)\n")
    print(render_table(rows))
    print("\nSingle-query latency: median and 99th percentile per query (10 warm-up queries "
          "first); batch QPS: the collection's multi-query search; recall@10 vs exact NumPy "
          "top-10, tie-aware. Machine shared: read medians and ratios.")
    for ex in [*extras.values(), extras_demo]:
        for why in ex.skipped:
            print(f"\nSkipped: {why}.")
    for n, ex in extras.items():
        if ex.rrf_detail:
            print(f"\nRRF at N={n:,}: {ex.rrf_detail}: {ex.rrf_ratio:.3f}×")
    if extras_demo.rrf_detail:
        print(f"\nRRF on the demo set: {extras_demo.rrf_detail}: {extras_demo.rrf_ratio:.3f}×")
    print("\n## Targets\n")
    print("\n".join(render_targets(rows, extras, sizes)))


if __name__ == "__main__":
    main()

"""The quantisation and filter measurements of ``benchmarks/index.py`` (imported by it).

- Vector memory of a collection, **measured**: Qdrant Edge's own segment files
  (``Collection.stats()["vector_bytes"]``: disk blocks of ``matrix.dat`` / chunks for float32
  vectors, of ``quantized.data`` for codes, after ``optimize()`` flushed the replaced
  segments). A quantised collection keeps only its codes in RAM (``always_ram``) and its
  float32 originals memory-mapped on disk for rescoring, so its row counts the codes and names
  the originals' bytes in the notes; an unquantised one counts its float32 storage. The exact
  backend: ``nbytes`` of the array it searches.
- Filtered search: the same single queries with and without a 1 %-selective exact-match filter
  (legacy shorthand ``{"bucket": 7}``; every point's payload holds ``bucket = row % 100``),
  interleaved query by query with the order alternating; recall@10 of the filtered hits
  against the exact filtered top-10 (tie-aware).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

BUCKETS = 100
FILTER_BUCKET = 7
FILTER = {"bucket": FILTER_BUCKET}  # 1 % of the points
QUANTIZED_BACKENDS = {"edge-scalar": "scalar", "edge-binary": "binary"}


def bucket_payloads(start: int, end: int) -> list[dict[str, Any]]:
    """The payload of rows ``start..end-1``: ``{"bucket": row % 100}``."""
    return [{"bucket": i % BUCKETS} for i in range(start, end)]


def vector_memory(col: Any) -> tuple[int | None, str]:
    """Measured bytes of the vectors a collection searches in RAM, and how they were measured."""
    st = col.stats()
    if st["backend"] == "qdrant-edge":
        vb = st["vector_bytes"]
        if st["quantization"] == "none":
            return vb["original"], "float32 segment files"
        return vb["quantized"], (f"{st['quantization']} codes in RAM; float32 originals on disk "
                                 f"for rescoring {vb['original'] / 2**20:,.1f} MB")
    if st["backend"] == "exact":
        return int(col._vectors.nbytes), "float32 array searched"  # private: fine here
    return None, ""


@dataclass(frozen=True)
class FilterResult:
    """Single-query latency with and without the filter, and the filtered recall@10."""

    p50_ms: float
    p99_ms: float
    unfiltered_p50_ms: float
    n: int
    recall: float
    mean_hits: float  # filtered hits returned per query (k wanted; fewer exist only if < k match)


def filtered_vs_unfiltered(col: Any, base: np.ndarray, queries: np.ndarray, k: int,
                           cap_s: float, warmup: int = 10) -> FilterResult:
    """Interleaved single top-k queries with ``FILTER`` and without (order alternating)."""
    rows = np.flatnonzero(np.arange(base.shape[0]) % BUCKETS == FILTER_BUCKET)  # (n/100,)
    sub = base[rows]  # (n/100, d): the points the filter keeps
    runs = {"filtered": lambda q: col.search(q, k, filter=FILTER)[0],
            "plain": lambda q: col.search(q, k)[0]}
    for q in queries[-warmup:]:
        for fn in runs.values():
            fn(q)
    times: dict[str, list[float]] = {"filtered": [], "plain": []}
    good = total = hits_seen = 0
    t_end = time.perf_counter() + cap_s
    for i, q in enumerate(queries):
        for name in ("filtered", "plain") if i % 2 == 0 else ("plain", "filtered"):
            t0 = time.perf_counter()
            hits = runs[name](q)
            times[name].append(time.perf_counter() - t0)
            if name == "filtered":
                assert all(int(h) % BUCKETS == FILTER_BUCKET for h in hits.ids), "filter broken"
                scores = sub @ q  # (n/100,)
                kth = np.sort(scores)[-min(k, scores.size)]
                true = base[[int(h) for h in hits.ids]] @ q  # (≤k,)
                good += int((true >= kth - 1e-5).sum())
                total += k
                hits_seen += len(hits)
        if time.perf_counter() > t_end:
            break
    ms = {n: np.asarray(t) * 1e3 for n, t in times.items()}
    return FilterResult(p50_ms=float(np.median(ms["filtered"])),
                        p99_ms=float(np.percentile(ms["filtered"], 99)),
                        unfiltered_p50_ms=float(np.median(ms["plain"])),
                        n=len(times["filtered"]), recall=good / total if total else float("nan"),
                        mean_hits=hits_seen * k / total if total else float("nan"))


def target_lines(rows: list[Any], n: int, where: str,
                 verdict: Any) -> list[str]:
    """PASS / FAIL lines of the quantisation and filter targets at size ``n``.

    ``rows`` are ``index.Row``; ``verdict(cond, text)`` formats one line.
    """
    def row(backend: str) -> Any:
        return next((r for r in rows if r.n == n and r.backend == backend
                     and not r.data.startswith("OpenMoji")), None)

    plain, scalar, filt = row("edge"), row("edge-scalar"), row("edge (filter 1 %)")
    out = []
    if scalar is None or scalar.recall is None:
        out.append(verdict(None, f"{where} edge-scalar: recall@10 ≥ 0.95 (not measured)"))
    else:
        out.append(verdict(scalar.recall >= 0.95, f"{where} edge-scalar: recall@10 ≥ 0.95 "
                           f"(got {scalar.recall:.3f})"))
    mem = (plain.vector_mb / scalar.vector_mb if plain and scalar and plain.vector_mb
           and scalar.vector_mb else None)
    out.append(verdict(None if mem is None else mem >= 3.0,
                       f"{where} edge-scalar: ≥ 3× less vector memory than edge "
                       + ("(not measured)" if mem is None else f"(got {mem:.2f}×)")))
    ratio = filt.p50_ms / filt.ref_p50_ms if filt and filt.ref_p50_ms else None
    out.append(verdict(None if ratio is None else ratio <= 1.5,
                       f"{where} edge: p50 with a 1 % filter ≤ 1.5 × unfiltered "
                       + ("(not measured)" if ratio is None else f"(got {ratio:.2f}×)")))
    return out

"""Benchmark: filtered search against unfiltered, per backend (issue 13's target: at 100k points,
a 1 %-selective filter has p50 ≤ 1.5 × the unfiltered p50).

Data: N clustered unit vectors of dimension ``--dim`` (seeded), each point's payload
``{"tag": "t{i % 100}", "n": i % 100, "mtime": <a datetime>}``, so ``tag == "t7"`` and
``n in [7, 8)`` select 1 % of the points. The filters, in Qdrant's filter JSON:

- ``keyword 1%``: ``{"must": [{"key": "tag", "match": {"value": "t7"}}]}``;
- ``range 1%``: ``{"must": [{"key": "n", "range": {"gte": 7, "lt": 8}}]}``;
- ``datetime 10%``: a datetime range on ``mtime`` covering a tenth of the points.

Per backend (``edge``: Qdrant Edge, ``open_index(folder)``, HNSW built by ``optimize()``;
``exact``: NumPy, which evaluates the filter in Python on every payload) a row per query kind:
p50 and p99 of single top-10 queries (after a warm-up query per filter, which also creates the
payload index in Edge), the ratio to the unfiltered p50, and recall@10 against the exact
filtered top-10. Run::

    python benchmarks/filters.py --n 100000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta

import numpy as np

from xmodal.index import open_index

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def data(n: int, dim: int, seed: int = 0) -> tuple[np.ndarray, list[str], list[dict]]:
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((64, dim)).astype(np.float32)  # (64, d)
    x = centers[rng.integers(0, 64, n)] + 0.6 * rng.standard_normal((n, dim)).astype(
        np.float32)  # (n, d)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    ids = [f"p{i}" for i in range(n)]
    payloads = [{"tag": f"t{i % 100}", "n": i % 100,
                 "mtime": (T0 + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ")}
                for i in range(n)]
    return x, ids, payloads


def filters(n: int) -> dict[str, dict | None]:
    lo, hi = T0 + timedelta(minutes=n // 2), T0 + timedelta(minutes=n // 2 + n // 10)
    return {
        "unfiltered": None,
        "keyword 1%": {"must": [{"key": "tag", "match": {"value": "t7"}}]},
        "range 1%": {"must": [{"key": "n", "range": {"gte": 7, "lt": 8}}]},
        "datetime 10%": {"must": [{"key": "mtime", "range": {
            "gte": lo.strftime("%Y-%m-%dT%H:%M:%SZ"), "lt": hi.strftime("%Y-%m-%dT%H:%M:%SZ")}}]},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--exact-queries", type=int, default=20, help="queries on the exact backend")
    ap.add_argument("--index-first", action="store_true", help="create Edge's payload indexes "
                    "(one filtered search each) before the HNSW build, not after")
    args = ap.parse_args()
    x, ids, payloads = data(args.n, args.dim)
    queries = x[np.random.default_rng(1).choice(args.n, args.queries, replace=False)]  # (q, d)
    queries = queries + 0.1 * np.random.default_rng(2).standard_normal(queries.shape)
    queries = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)
    flts = filters(args.n)
    tmp = tempfile.mkdtemp()
    truth: dict[str, list[set[str]]] = {}
    print(f"# filtered search, N={args.n:,}, dim={args.dim}\n")
    print("| backend | query | p50 ms | p99 ms | × unfiltered p50 | recall@10 | hits/query |")
    print("|---|---|---|---|---|---|---|")
    results: dict[tuple[str, str], float] = {}
    for backend in ("exact", "edge"):
        uri = f"exact:{tmp}/exact" if backend == "exact" else f"{tmp}/edge"
        index = (open_index(uri) if backend == "exact"
                 else open_index(uri, optimize_after=args.n + 1))
        col = index.create_collection("c", dim=args.dim, model="m", modality="image")
        step = args.n if backend == "exact" else 10_000
        for s in range(0, args.n, step):
            col.upsert(ids[s:s + step], x[s:s + step], payloads[s:s + step])
        if args.index_first:
            for flt in flts.values():
                col.search(queries[0], k=10, filter=flt)
        col.optimize()
        nq = args.exact_queries if backend == "exact" else args.queries
        for name, flt in flts.items():
            col.search(queries[0], k=10, filter=flt)  # warm-up (creates Edge's payload index)
            times, found, counts = [], [], []
            for q in queries[:nq]:
                t = time.perf_counter()
                hits = col.search(q, k=10, filter=flt)[0]
                times.append((time.perf_counter() - t) * 1e3)
                found.append(set(hits.ids))
                counts.append(len(hits))
            if backend == "exact":
                truth[name] = found
            recall = np.mean([len(f & t) / max(len(t), 1)
                              for f, t in zip(found, truth[name], strict=False)])
            p50 = float(np.median(times))
            results[(backend, name)] = p50
            ratio = p50 / results[(backend, "unfiltered")]
            print(f"| {backend} | {name} | {p50:.2f} | {np.percentile(times, 99):.2f} | "
                  f"{ratio:.2f} | {recall:.3f} | {np.mean(counts):.1f} |", flush=True)
        index.close()
    print("\n## Target")
    worst = max(results[("edge", n)] / results[("edge", "unfiltered")]
                for n in ("keyword 1%", "range 1%"))
    verdict = "PASS" if worst <= 1.5 else "FAIL"
    print(f"{verdict} edge: 1%-selective filter p50 ≤ 1.5 × unfiltered p50 (worst {worst:.2f}×)")


if __name__ == "__main__":
    main()

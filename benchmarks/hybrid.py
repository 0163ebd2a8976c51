"""Benchmark: hybrid search, dense alone / BM25 alone / fused (issue 13, item 5).

Sets (all offline):

- ``python-faq``: the Python FAQ (Debian ``python3.11-doc``, 178 question → answer pairs).
  Each answer is a text document ``faq-NNN.txt`` (neutral file names, so the file-name words
  tell nothing); each question is a query, its answer the one relevant document. Text model:
  ``minilm`` (all-MiniLM-L6-v2), the text model ``xmodal index`` uses by default.
- ``emoji names``: emoji-datasource's 1,911 Google PNGs, the documents are the images
  *without* captions (the query text must not be in the document), so the lexical list sees
  only file names, which are code points (``1f62b.png``). Queries: the distinct names
  ("tired face"), relevant: every image of that name. Image model: ``starter-image``, the
  default image model. The starter was trained on these names except a held-out 10 % (by hash,
  ``xmodal.train.starters.held_out``): the row set ``emoji names (held-out)`` is those
  queries alone (same searches), the only out-of-training figure for the dense list here.
- ``planted keywords``: the FAQ corpus with a sentence planted into ``--planted`` answers
  (chosen by a seeded draw), each naming its own id and rare word made up for the run
  (``Internal reference qorvex-5521, also known as the zubrik case.``, after the answer's first
  sentence, where MiniLM's 256 word pieces still see it). Four queries per planted answer: the
  id, the word, the id + a few words, a few words + the word (fillers from a fixed list); the
  planted answer is the one relevant document. Dense models miss such tokens.

Everything goes through the real code path: the files are written to a temporary folder,
scanned with ``scan_corpus``, stored by ``xmodal.index.ingest`` into ``open_index(folder)``
(Qdrant Edge, the CLI's default; ``--backend exact`` for the NumPy store) with the CLI's default
models, and searched with ``xmodal.search.Searcher`` as ``xmodal search`` does (router on,
k = 10, RRF with k = 60).

Rows: each query is searched three times, with the same request except ``weights``:

- ``fused``: no weights, the searcher's own fusion of its lists (the dense list(s) and ``bm25``);
- ``dense``: weight 0 on ``bm25``; the hits the dense list holds (a ``ranks`` entry other than
  ``bm25``), in fused order, which is then that list's own order;
- ``bm25``: weight 0 on every dense collection and 1 on ``bm25`` (given, so the searcher's own
  weighting of the lexical list does not apply); the hits the ``bm25`` list holds.

A weight of 0 changes no list (the same lists, searched to the same depth, are fused), and RRF
with one list weighted 1 orders its hits as that list does (weight-0 documents score 0 and win
no ties), so the two single rows are exactly the ranked lists the fused row fuses (checked on
the planted set: the same ids, in order, as ``collections=["minilm.text"]`` and as
``xmodal.search.lexical.lexical_search``'s list). The queries' encodings are remembered per
model (:class:`QueryMemo`), so the three searches embed a query once.

Figures: Recall@10, MRR@10 and Hit@1 from ``xmodal.eval.retrieval_report`` (trec_eval
definitions); a run's scores are the hits' positions, so the metric's tie rule never reorders
the searcher's ranking. Targets (the issue's, fixed before running; the searcher's bm25 support
weight and its lead rule were revised after earlier runs of this benchmark showed FAQ losses,
see :mod:`xmodal.search.lexical`, so the FAQ rows are not an unseen test): fused ≥
the best single list (Recall@10 and MRR@10) on the FAQ and on the emoji names, fused Hit@1 ≥
0.95 on the planted set. Each target line gives the difference and its paired standard error
(per-query differences). Per set, the queries where the fused rank of the relevant document is
worse than the best single list's are counted and a few shown.

Run::

    python benchmarks/hybrid.py                 # full size: 28 min on 2 cores at load ~6
    python benchmarks/hybrid.py --limit 20      # smoke size
    python benchmarks/hybrid.py --json hybrid.json
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

K = 10
METRICS = ("recall@10", "mrr@10", "hit@1")
ROWS = ("dense", "bm25", "fused")
FILLERS_AFTER = ("error message", "how to configure it", "is it still supported", "example code")
FILLERS_BEFORE = ("how does", "what is the", "where can I find the", "problems with")


@dataclass
class QuerySet:
    """Documents to write (file name → text, or file name → image source) and the queries."""

    name: str
    texts: dict[str, str] = field(default_factory=dict)  # text documents: name -> text
    images: dict[str, Path] = field(default_factory=dict)  # image documents: name -> source
    queries: dict[str, str] = field(default_factory=dict)  # query id -> query text
    qrels: dict[str, dict[str, int]] = field(default_factory=dict)  # query id -> {file: 1}
    subsets: dict[str, set[str]] = field(default_factory=dict)  # extra set name -> query ids


def faq_set(limit: int | None) -> QuerySet:
    """The FAQ answers as ``faq-NNN.txt``, the questions as queries."""
    from xmodal.data.sources import load_python_faq

    out = QuerySet("python-faq")
    for n, pair in enumerate(load_python_faq(limit=limit).items):
        name = f"faq-{n:03d}.txt"
        out.texts[name] = pair.document
        out.queries[pair.id] = pair.query
        out.qrels[pair.id] = {name: 1}
    return out


def made_up_words(n: int, taken: set[str], seed: int) -> list[str]:
    """``n`` distinct pronounceable made-up words (CVCCVC, like ``zubrik``) not in ``taken``."""
    rng = np.random.default_rng(seed)
    cons, vows = "bdfgklmnprstvxzq", "aeiou"
    out: list[str] = []
    while len(out) < n:
        w = "".join(rng.choice(list(s)) for s in (cons, vows, cons, cons, vows, cons))
        if w not in taken and w not in out:
            out.append(w)
    return out


def planted_set(faq: QuerySet, count: int, seed: int = 13) -> QuerySet:
    """The FAQ documents, ``count`` of them with a planted id and rare word (module doc)."""
    from xmodal.index.lexical import terms

    vocab = {t for text in faq.texts.values() for t in terms(text)}
    names = sorted(faq.texts)
    picked = sorted(np.random.default_rng(seed).choice(len(names), min(count, len(names)),
                                                       replace=False))
    words = made_up_words(2 * len(picked), vocab, seed)
    out = QuerySet("planted keywords", texts=dict(faq.texts))
    for j, i in enumerate(picked):
        name = names[i]
        ident = f"{words[2 * j]}-{1000 + (7919 * (j + 1)) % 9000}"
        word = words[2 * j + 1]
        text = out.texts[name]
        cut = text.find(". ") + 2 if 0 < text.find(". ") < 400 else 0
        sentence = f"Internal reference {ident}, also known as the {word} case. "
        out.texts[name] = text[:cut] + sentence + text[cut:]
        for kind, query in (("id", ident), ("word", word),
                            ("id+", f"{ident} {FILLERS_AFTER[j % 4]}"),
                            ("+word", f"{FILLERS_BEFORE[j % 4]} {word}")):
            qid = f"{name}:{kind}"
            out.queries[qid] = query
            out.qrels[qid] = {name: 1}
    return out


def emoji_set(limit: int | None) -> QuerySet:
    """emoji-datasource images (no captions); each distinct name a query."""
    from xmodal.data.sources import load_emoji_datasource
    from xmodal.train.starters import held_out

    out = QuerySet("emoji names")
    held: set[str] = set()
    for item in load_emoji_datasource(limit=limit).items:
        out.images[item.path.name] = item.path
        qid = f"name:{item.caption}"
        out.queries[qid] = item.caption
        out.qrels.setdefault(qid, {})[item.path.name] = 1
        if held_out(item.caption):
            held.add(qid)
    out.subsets["emoji names (held-out)"] = held
    return out


def build_index(qs: QuerySet, root: Path, backend: str, load: Callable[[str], Any]) -> Any:
    """Write the documents, scan and ingest them as ``xmodal index`` does; the open index."""
    from xmodal.commands.index import DEFAULT_MODELS
    from xmodal.data.corpus import scan_corpus
    from xmodal.index import open_index
    from xmodal.index.ingest import ingest, manifest_path

    docs = root / "docs"
    docs.mkdir(parents=True)
    for name, text in qs.texts.items():
        (docs / name).write_text(text, encoding="utf-8")
    for name, src in qs.images.items():
        shutil.copyfile(src, docs / name)
    scan = scan_corpus([docs])
    wanted = {f.modality for f in scan.files}
    encoders = {m: load(spec) for m, spec in DEFAULT_MODELS.items() if m in wanted}
    uri = str(root / "index") if backend == "edge" else f"exact:{root / 'index'}"
    index = open_index(uri)
    report = ingest(index, files=list(scan.files), encoders=encoders,
                    manifest=manifest_path(uri))
    if report.failed or report.indexed != len(qs.texts) + len(qs.images):
        raise RuntimeError(f"{qs.name}: ingest did not store every document: {report.summary()}")
    return index


class QueryMemo:
    """An encoder whose text encodings are remembered per input: the three searches of a query
    (and the router's look at it) embed it once. Encoders are deterministic, so no list changes;
    every other attribute passes through."""

    def __init__(self, encoder: Any) -> None:
        self._encoder = encoder
        self._memo: dict[tuple[str, tuple[str, ...]], np.ndarray] = {}

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._encoder, name)
        if name not in ("encode_query", "encode_text"):
            return attr

        def remembered(values: Sequence[str]) -> np.ndarray:
            key = (name, tuple(values))
            if key not in self._memo:
                self._memo[key] = attr(list(values))
            return self._memo[key]

        return remembered


def row_lists(searcher: Any, query: str, dense: Sequence[str]) -> dict[str, list[str]]:
    """File names of the hits of each row, best first (module doc: the weights)."""
    got = {
        "fused": searcher.search(query, k=K),
        "dense": searcher.search(query, k=K, weights={"bm25": 0.0}),
        "bm25": searcher.search(query, k=K,
                                weights={**{name: 0.0 for name in dense}, "bm25": 1.0}),
    }
    keep: dict[str, Callable[[Any], bool]] = {
        "fused": lambda h: True,
        "dense": lambda h: any(name != "bm25" for name in h.ranks),
        "bm25": lambda h: "bm25" in h.ranks,
    }
    return {row: [Path(h.payload["path"]).name for h in got[row].hits if keep[row](h)]
            for row in ROWS}


def first_rank(hits: Sequence[str], relevant: dict[str, int]) -> int:
    """1-based rank of the first relevant hit; 0 when none is in the list."""
    return next((r for r, h in enumerate(hits, 1) if relevant.get(h, 0) > 0), 0)


def evaluate(qs: QuerySet, searcher: Any, dense: Sequence[str]) -> dict[str, Any]:
    """Search every query of ``qs``; figures per row (and per subset), ranks per query."""
    runs: dict[str, dict[str, dict[str, float]]] = {row: {} for row in ROWS}
    ranks: dict[str, dict[str, int]] = {}
    for qid, query in qs.queries.items():
        lists = row_lists(searcher, query, dense)
        for row, hits in lists.items():
            runs[row][qid] = {h: float(K - p) for p, h in enumerate(hits)}  # position order
        ranks[qid] = {row: first_rank(lists[row], qs.qrels[qid]) for row in ROWS}
    corpus = len(qs.texts) + len(qs.images)
    out = {qs.name: _figures(qs.qrels, runs, ranks, qs.queries, corpus)}
    for name, ids in qs.subsets.items():
        out[name] = _figures({q: qs.qrels[q] for q in ids}, runs, ranks, qs.queries, corpus)
    return out


def _figures(qrels: dict[str, dict[str, int]], runs: dict[str, dict[str, dict[str, float]]],
             ranks: dict[str, dict[str, int]], queries: dict[str, str],
             corpus: int) -> dict[str, Any]:
    from xmodal.eval import retrieval_report

    reports = {row: retrieval_report(qrels, runs[row], METRICS) for row in ROWS}
    return {
        "queries": len(qrels),
        "documents": corpus,
        "rows": {row: reports[row].means for row in ROWS},
        "per_query": {row: reports[row].per_query for row in ROWS},
        "ranks": {q: ranks[q] for q in qrels},
        "text": {q: queries[q] for q in qrels},
    }


def versus_best(fig: dict[str, Any], metric: str) -> tuple[str, float, float]:
    """The best single row on ``metric``, fused minus it, and the paired standard error."""
    best = max(("dense", "bm25"), key=lambda r: fig["rows"][r][metric])
    pq = fig["per_query"]
    diffs = [pq["fused"][metric][q] - pq[best][metric][q] for q in pq["fused"][metric]]
    se = statistics.stdev(diffs) / math.sqrt(len(diffs)) if len(diffs) > 1 else 0.0
    return best, fig["rows"]["fused"][metric] - fig["rows"][best][metric], se


def target_lines(results: dict[str, dict[str, Any]], real: Sequence[str]) -> list[str]:
    """PASS / FAIL per target."""
    lines = []
    for name in real:
        for metric in ("recall@10", "mrr@10"):
            best, delta, se = versus_best(results[name], metric)
            verdict = "PASS" if delta >= 0 else "FAIL"
            lines.append(f"{verdict} {name}: fused {metric} ≥ best single list ({best}): "
                         f"Δ = {delta:+.4f} (paired s.e. {se:.4f})")
    hit = results["planted keywords"]["rows"]["fused"]["hit@1"]
    lines.append(f"{'PASS' if hit >= 0.95 else 'FAIL'} planted keywords: fused Hit@1 ≥ 0.95 "
                 f"({hit:.3f})")
    return lines


def losses(fig: dict[str, Any], show: int) -> list[str]:
    """Where the fused rank is worse (better) than the best single list's, with examples."""
    def rr(r: int) -> float:
        return 1.0 / r if r else 0.0

    worse, better = [], 0
    for q, r in fig["ranks"].items():
        best = max(rr(r["dense"]), rr(r["bm25"]))
        if rr(r["fused"]) < best:
            worse.append(q)
        better += rr(r["fused"]) > best
    lines = [f"{len(worse)} of {fig['queries']} queries rank the relevant document lower fused "
             f"than in the better single list; {better} higher (rank 0: not in the top {K})"]
    for q in worse[:show]:
        r = fig["ranks"][q]
        lines.append(f"- {fig['text'][q][:70]!r}: dense {r['dense']}, bm25 {r['bm25']}, "
                     f"fused {r['fused']}")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=None, help="first N FAQ pairs and emoji only")
    ap.add_argument("--planted", type=int, default=40, help="FAQ answers given a keyword")
    ap.add_argument("--backend", choices=("edge", "exact"), default="edge")
    ap.add_argument("--examples", type=int, default=5, help="losing queries shown per set")
    ap.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = ap.parse_args()
    from xmodal.encoders import load_encoder
    from xmodal.search.searcher import Searcher

    load = functools.cache(load_encoder)  # one copy per model, shared by ingest and searcher
    started = time.perf_counter()
    faq = faq_set(args.limit)
    sets = [faq, planted_set(faq, min(args.planted, len(faq.texts))), emoji_set(args.limit)]
    results: dict[str, dict[str, Any]] = {}
    timings: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n, qs in enumerate(sets):
            t0 = time.perf_counter()
            index = build_index(qs, Path(tmp) / f"set{n}", args.backend, load)
            t1 = time.perf_counter()
            try:
                searcher = Searcher(index, load=lambda m: QueryMemo(load(m)))
                dense = [c.name for c in searcher.collections]
                results.update(evaluate(qs, searcher, dense))
            finally:
                index.close()
            timings[qs.name] = {"ingest_s": t1 - t0, "search_s": time.perf_counter() - t1,
                                "searches": 3 * len(qs.queries)}
    print(f"# hybrid search: dense, BM25 and fused (RRF), k = {K}, backend {args.backend}\n")
    print("| set | documents | queries | row | Recall@10 | MRR@10 | Hit@1 |")
    print("|---|---|---|---|---|---|---|")
    for name, fig in results.items():
        for row in ROWS:
            m = fig["rows"][row]
            print(f"| {name} | {fig['documents']} | {fig['queries']} | {row} | "
                  f"{m['recall@10']:.3f} | {m['mrr@10']:.3f} | {m['hit@1']:.3f} |")
    print("\n## Targets")
    targets = target_lines(results, ("python-faq", "emoji names"))
    print("\n".join(targets))
    print("\n## Where fusion ranks the relevant document lower than the better single list")
    for name, fig in results.items():
        print(f"\n{name}: " + "\n".join(losses(fig, args.examples)))
    print("\n## Timings (2 shared cores: read ratios)")
    for name, t in timings.items():
        print(f"- {name}: ingest {t['ingest_s']:.1f} s, {t['searches']} searches "
              f"{t['search_s']:.1f} s ({1e3 * t['search_s'] / max(t['searches'], 1):.1f} ms each)")
    total = time.perf_counter() - started
    print(f"- total {total:.1f} s")
    if args.json:
        slim = {name: {k: v for k, v in fig.items() if k not in ("per_query", "text")}
                for name, fig in results.items()}
        args.json.write_text(json.dumps({"results": slim, "targets": targets,
                                         "timings": timings, "total_s": total,
                                         "backend": args.backend, "limit": args.limit},
                                        indent=1))


if __name__ == "__main__":
    main()

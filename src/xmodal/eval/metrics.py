"""Ranked-retrieval metrics on trec-style dicts, defined as trec_eval / pytrec_eval define them.

``qrels[query][doc] = grade`` (int) and ``run[query][doc] = score`` (float). Definitions (the
numbers agree with ``pytrec_eval`` to 1e-9; ``tests/eval`` checks this on random runs):

* ``recall@k``: relevant documents in the top k ÷ all relevant documents (trec ``recall.k``).
* ``hit@k``: 1 if any relevant document is in the top k (trec ``success.k``). CLIP papers and
  CLIP_benchmark call *this* "R@K"; it is not recall, and the two are named separately here.
* ``mrr@k``: 1 / rank of the first relevant document within the top k, else 0 (trec
  ``recip_rank`` on a run truncated to its top k; trec's own ``recip_rank`` has no cutoff).
* ``ndcg@k``: gain = the grade (linear; negative grades count 0), discount log2(rank + 1); the
  ideal ranking holds *all* judged documents with grade > 0 (trec ``ndcg_cut.k``). The relevance
  level does not change the gain.
* ``map@k``: the sum of precision@i over relevant documents at ranks i ≤ k, ÷ \\|relevant\\| (not
  ÷ min(\\|relevant\\|, k); trec ``map_cut.k``).
* ``precision@k``: relevant documents in the top k ÷ k, also when the run is shorter (``P.k``).

A document is relevant when its grade ≥ ``relevance_level``. Ties in score are broken as
trec_eval does: score descending, then document id descending, compared as strings.

Which queries are averaged (this differs from pytrec_eval): every query in ``qrels`` with at
least one relevant document. A query missing from the run scores 0 on every metric;
``pytrec_eval`` silently drops such queries, which flatters a system that returns nothing.
Queries without any relevant judged document are skipped (as mteb does): no metric is defined
for them. :func:`retrieval_report` gives both means, ours and the trec-style one.

Example:
    >>> qrels = {"q1": {"d1": 1, "d2": 0}, "q2": {"d3": 2}}
    >>> run = {"q1": {"d1": 0.9, "d2": 0.8}}  # q2 returned nothing
    >>> retrieval_metrics(qrels, run, ["recall@1", "mrr@10"])
    {'recall@1': 0.5, 'mrr@10': 0.5}
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, overload

Qrels = Mapping[str, Mapping[str, int]]
Run = Mapping[str, Mapping[str, float]]
MetricKind = Literal["recall", "hit", "mrr", "ndcg", "map", "precision"]
KINDS: tuple[str, ...] = ("recall", "hit", "mrr", "ndcg", "map", "precision")
DEFAULT_METRICS: tuple[str, ...] = (
    "recall@10", "hit@10", "mrr@10", "ndcg@10", "map@10", "precision@10",
)
_NAME = re.compile(r"^(recall|hit|mrr|ndcg|map|precision)@([1-9][0-9]*)$")


def parse_metric(name: str) -> tuple[str, int]:
    """Split ``"ndcg@10"`` into ``("ndcg", 10)``; raise ``ValueError`` on unknown names.

    Example:
        >>> parse_metric("map@100")
        ('map', 100)
    """
    match = _NAME.match(name)
    if match is None:
        raise ValueError(f"unknown metric {name!r}; expected one of {KINDS} followed by @k")
    return match.group(1), int(match.group(2))


def rank_documents(scores: Mapping[str, float]) -> list[str]:
    """Document ids best first: score descending, then id descending (trec_eval's rule).

    Example:
        >>> rank_documents({"a": 1.0, "b": 2.0, "c": 1.0})
        ['b', 'c', 'a']
    """
    for doc, score in scores.items():
        if math.isnan(float(score)):
            raise ValueError(f"document {doc!r} has a NaN score")
    return [d for d, _ in sorted(scores.items(), key=lambda kv: (float(kv[1]), kv[0]),
                                 reverse=True)]


def _query_values(grades: Mapping[str, int], ranked: Sequence[str],
                  wanted: Sequence[tuple[str, int]], relevance_level: int) -> list[float]:
    """Every wanted metric for one query (``ranked``: doc ids best first)."""
    n_rel = sum(1 for g in grades.values() if g >= relevance_level)
    ideal = sorted((g for g in grades.values() if g > 0), reverse=True)
    depth = max(k for _, k in wanted)
    hits = 0
    first = 0  # 1-based rank of the first relevant document, 0: none yet
    ap = dcg = 0.0
    at: dict[int, tuple[int, int, float, float]] = {}  # k -> (hits, first, ap, dcg)
    cutoffs = {k for _, k in wanted}
    for i in range(depth):
        if i < len(ranked):
            grade = grades.get(ranked[i], 0)
            if grade >= relevance_level:
                hits += 1
                ap += hits / (i + 1)
                first = first or i + 1
            if grade > 0:
                dcg += grade / math.log2(i + 2)
        if i + 1 in cutoffs:
            at[i + 1] = (hits, first, ap, dcg)
    out = []
    for kind, k in wanted:
        h, f, a, d = at[k]
        if kind == "recall":
            out.append(h / n_rel)
        elif kind == "hit":
            out.append(1.0 if h else 0.0)
        elif kind == "mrr":
            out.append(1.0 / f if f else 0.0)
        elif kind == "map":
            out.append(a / n_rel)
        elif kind == "precision":
            out.append(h / k)
        else:
            idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal[:k]))
            out.append(d / idcg if idcg > 0 else 0.0)
    return out


@dataclass(frozen=True)
class RetrievalReport:
    """Means and per-query values of retrieval metrics (see the module docstring)."""

    means: dict[str, float]  # metric -> mean over evaluated queries (missing from run = 0)
    trec_means: dict[str, float]  # metric -> mean over evaluated queries present in the run
    per_query: dict[str, dict[str, float]]  # metric -> query -> value
    n_queries: int  # queries averaged: those in qrels with >= 1 relevant document
    missing: tuple[str, ...]  # evaluated queries absent from the run (scored 0)
    skipped: tuple[str, ...]  # queries in qrels without a relevant document (not averaged)


def retrieval_report(qrels: Qrels, run: Run, metrics: Iterable[str] = DEFAULT_METRICS, *,
                     relevance_level: int = 1) -> RetrievalReport:
    """Compute metrics with per-query values and both averaging conventions.

    Args:
        qrels: ``qrels[query][doc] = grade``.
        run: ``run[query][doc] = score``; queries may be missing (they score 0).
        metrics: Names like ``"ndcg@10"``: recall, hit, mrr, ndcg, map or precision @k.
        relevance_level: Smallest grade that counts as relevant.

    Returns:
        A :class:`RetrievalReport`.

    Example:
        >>> r = retrieval_report({"q1": {"a": 1}, "q2": {"b": 1}, "q3": {"c": 0}},
        ...                      {"q1": {"a": 1.0}}, ["hit@1"])
        >>> r.means, r.trec_means, r.missing, r.skipped
        ({'hit@1': 0.5}, {'hit@1': 1.0}, ('q2',), ('q3',))
    """
    names = list(dict.fromkeys(metrics))
    if not names:
        raise ValueError("no metrics asked for")
    wanted = [parse_metric(n) for n in names]
    per_query: dict[str, dict[str, float]] = {n: {} for n in names}
    missing, skipped = [], []
    for q, grades in qrels.items():
        if not any(g >= relevance_level for g in grades.values()):
            skipped.append(q)
            continue
        if q not in run:
            missing.append(q)
        ranked = rank_documents(run.get(q, {}))
        for name, value in zip(names, _query_values(grades, ranked, wanted, relevance_level),
                               strict=True):
            per_query[name][q] = value
    n = len(per_query[names[0]])
    absent = set(missing)
    means, trec = {}, {}
    for name in names:
        values = per_query[name]
        means[name] = sum(values.values()) / n if n else 0.0
        present = [v for q, v in values.items() if q not in absent]
        trec[name] = sum(present) / len(present) if present else 0.0
    return RetrievalReport(means=means, trec_means=trec, per_query=per_query, n_queries=n,
                           missing=tuple(missing), skipped=tuple(skipped))


@overload
def retrieval_metrics(qrels: Qrels, run: Run, metrics: Iterable[str] = ..., *,
                      relevance_level: int = ..., per_query: Literal[False] = ...,
                      ) -> dict[str, float]: ...
@overload
def retrieval_metrics(qrels: Qrels, run: Run, metrics: Iterable[str] = ..., *,
                      relevance_level: int = ..., per_query: Literal[True],
                      ) -> dict[str, dict[str, float]]: ...


def retrieval_metrics(qrels, run, metrics=DEFAULT_METRICS, *, relevance_level=1,
                      per_query=False):
    """Mean of each metric over the qrels' queries (a query missing from the run scores 0).

    Args:
        qrels: ``qrels[query][doc] = grade``.
        run: ``run[query][doc] = score``.
        metrics: Names like ``"recall@10"`` (recall, hit, mrr, ndcg, map, precision @k).
        relevance_level: Smallest grade that counts as relevant.
        per_query: Return ``{metric: {query: value}}`` instead of the means.

    Returns:
        ``{metric: mean}``, or per-query values with ``per_query=True``.

    Example:
        >>> qrels = {"q": {"a": 2, "b": 1, "z": 0}}
        >>> run = {"q": {"a": 0.5, "z": 0.5, "b": 0.1}}  # "z" wins the tie with "a"
        >>> retrieval_metrics(qrels, run, ["mrr@3", "recall@1"])
        {'mrr@3': 0.5, 'recall@1': 0.0}
    """
    report = retrieval_report(qrels, run, metrics, relevance_level=relevance_level)
    return report.per_query if per_query else report.means


@dataclass(frozen=True)
class CutoffRecall:
    """Recall at the cutoff a pipeline really returns, beside recall at a deep reference cutoff."""

    cutoff: int  # the k the search returns
    recall: float  # recall@cutoff: what users can ever see
    reference_k: int  # e.g. 1000, the depth papers quote
    reference_recall: float  # recall@reference_k
    shallow_queries: int  # queries whose run is shorter than reference_k (lower-bound recall)


def recall_at_cutoff(qrels: Qrels, run: Run, cutoff: int, *, reference_k: int = 1000,
                     relevance_level: int = 1) -> CutoffRecall:
    """Recall at the pipeline's cutoff and at ``reference_k`` from one (deep) run.

    Recall@1000 says what a first stage *could* feed a re-ranker; recall at the cutoff the
    search actually returns says what users get. Retrieve the run at depth ≥ ``reference_k``:
    ``shallow_queries`` counts the queries whose list is shorter (their deep recall is capped).

    Example:
        >>> r = recall_at_cutoff({"q": {"a": 1, "b": 1}}, {"q": {"a": 0.9, "x": 0.8, "b": 0.1}},
        ...                      1, reference_k=3)
        >>> r.recall, r.reference_recall, r.shallow_queries
        (0.5, 1.0, 0)
    """
    if cutoff < 1 or reference_k < 1:
        raise ValueError("cutoff and reference_k must be >= 1")
    means = retrieval_metrics(qrels, run, [f"recall@{cutoff}", f"recall@{reference_k}"],
                              relevance_level=relevance_level)
    shallow = sum(1 for q in qrels if len(run.get(q, {})) < reference_k)
    return CutoffRecall(cutoff=cutoff, recall=means[f"recall@{cutoff}"],
                        reference_k=reference_k, reference_recall=means[f"recall@{reference_k}"],
                        shallow_queries=shallow)

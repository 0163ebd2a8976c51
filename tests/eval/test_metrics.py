"""retrieval_metrics against pytrec_eval (trec_eval's C code) and hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from xmodal.eval import (
    rank_documents,
    recall_at_cutoff,
    retrieval_metrics,
    retrieval_report,
)

pytrec_eval = pytest.importorskip("pytrec_eval")

KS = (1, 3, 10)
TREC = {"recall": "recall", "hit": "success", "ndcg": "ndcg_cut", "map": "map_cut",
        "precision": "P"}


def _random_case(rng: np.random.Generator, ties: bool):
    """A few queries with graded qrels and a run over a pool of string doc ids."""
    pool = [f"d{rng.integers(0, 40)}" for _ in range(14)]
    pool = list(dict.fromkeys(pool))
    qrels, run = {}, {}
    for q in range(int(rng.integers(1, 4))):
        judged = rng.choice(pool, size=int(rng.integers(1, len(pool) + 1)), replace=False)
        grades = {str(d): int(rng.integers(-1, 4)) for d in judged}
        grades[str(judged[0])] = int(rng.integers(1, 4))  # at least one relevant document
        returned = rng.choice(pool, size=int(rng.integers(1, len(pool) + 1)), replace=False)
        if ties:
            scores = rng.integers(0, 3, size=len(returned)).astype(float)
        else:
            scores = rng.standard_normal(len(returned))
        qrels[f"q{q}"] = grades
        run[f"q{q}"] = {str(d): float(s) for d, s in zip(returned, scores, strict=True)}
    return qrels, run


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("level", [1, 2])
def test_matches_pytrec_eval_on_random_runs(ties, level):
    rng = np.random.default_rng(17 + 2 * level + ties)
    names = [f"{kind}@{k}" for k in KS for kind in (*TREC, "mrr")]
    measures = {f"{m}.{','.join(map(str, KS))}" for m in TREC.values()} | {"recip_rank"}
    compared = 0
    for _ in range(300):  # 4 parametrisations × 300 = 1,200 random qrels/runs
        qrels, run = _random_case(rng, ties)
        qrels = {q: g for q, g in qrels.items() if any(v >= level for v in g.values())}
        if not qrels:
            continue
        run = {q: run[q] for q in qrels}
        ours = retrieval_metrics(qrels, run, names, relevance_level=level, per_query=True)
        trec = pytrec_eval.RelevanceEvaluator(qrels, measures, relevance_level=level)
        theirs = trec.evaluate(run)
        for q in qrels:
            for kind, trec_name in TREC.items():
                for k in KS:
                    assert ours[f"{kind}@{k}"][q] == pytest.approx(
                        theirs[q][f"{trec_name}_{k}"], abs=1e-9), (kind, k, qrels[q], run[q])
            for k in KS:  # MRR@k = recip_rank of the run truncated to its top k (trec rule)
                top = rank_documents(run[q])[:k]
                cut = trec.evaluate({q: {d: run[q][d] for d in top}})[q]["recip_rank"]
                assert ours[f"mrr@{k}"][q] == pytest.approx(cut, abs=1e-9)
            compared += 1
    assert compared >= 250


def test_queries_missing_from_the_run_score_zero_where_pytrec_drops_them():
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}}
    run = {"q1": {"a": 1.0, "x": 0.5}}
    theirs = pytrec_eval.RelevanceEvaluator(qrels, {"recall.10", "success.10"}).evaluate(run)
    assert set(theirs) == {"q1"}  # q2 silently dropped
    ours = retrieval_metrics(qrels, run, ["recall@10", "hit@10"])
    assert ours == {"recall@10": 0.5, "hit@10": 0.5}
    report = retrieval_report(qrels, run, ["recall@10"])
    assert report.trec_means == {"recall@10": theirs["q1"]["recall_10"]}
    assert report.missing == ("q2",)
    assert report.per_query["recall@10"] == {"q1": 1.0, "q2": 0.0}


def test_queries_without_relevant_documents_are_skipped():
    qrels = {"q1": {"a": 1}, "q2": {"b": 0, "c": -1}}
    report = retrieval_report(qrels, {"q1": {"a": 1.0}, "q2": {"b": 1.0}}, ["hit@1"])
    assert report.means == {"hit@1": 1.0} and report.skipped == ("q2",)
    assert report.n_queries == 1


def test_graded_basic_by_hand():
    # three relevant docs with grades 2, 1, 1; the grade-2 doc is ranked second
    qrels = {"q": {"r2": 2, "r1a": 1, "r1b": 1, "n": 0}}
    run = {"q": {"x": 0.9, "r2": 0.8, "n": 0.7, "y": 0.6, "r1a": 0.5, "r1b": 0.4}}
    got = retrieval_metrics(qrels, run, ["recall@3", "mrr@3", "map@3", "ndcg@3", "hit@1",
                                         "precision@3"])
    idcg = 2 + 1 / math.log2(3) + 1 / math.log2(4)
    assert got["recall@3"] == pytest.approx(1 / 3)
    assert got["mrr@3"] == 0.5
    assert got["map@3"] == pytest.approx((1 / 2) / 3)  # ÷ |rel| = 3, not min(|rel|, k)
    assert got["ndcg@3"] == pytest.approx((2 / math.log2(3)) / idcg)
    assert got["ndcg@3"] == pytest.approx(0.40303, abs=5e-6)
    assert got["hit@1"] == 0.0 and got["precision@3"] == pytest.approx(1 / 3)


def test_ties_go_to_the_larger_doc_id_as_trec_eval_does():
    qrels = {"q": {"d_a": 1, "d_other": 1}}
    run = {"q": {"x1": 0.9, "x2": 0.8, "d_a": 0.5, "d_z": 0.5, "d_other": 0.1}}
    got = retrieval_metrics(qrels, run, ["recall@3", "mrr@3", "recall@4"])
    assert got == {"recall@3": 0.0, "mrr@3": 0.0, "recall@4": 0.5}
    # string comparison: "d9" > "d10"
    assert rank_documents({"d10": 1.0, "d9": 1.0, "d2": 2.0}) == ["d2", "d9", "d10"]
    # a 20-way tie: as strings d9 > d8 > ... > d2 > d19, so d19 is 9th, in any insertion order
    qrels = {"q": {"d19": 1}}
    docs = [f"d{i}" for i in range(20)]
    rng = np.random.default_rng(0)
    for _ in range(5):
        run = {"q": {d: 1.0 for d in rng.permutation(docs)}}
        theirs = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(run)
        ours = retrieval_metrics(qrels, run, ["mrr@20"])["mrr@20"]
        assert ours == pytest.approx(theirs["q"]["recip_rank"]) and ours == pytest.approx(1 / 9)


def test_negative_grades_count_zero_and_the_level_leaves_ndcg_gain_alone():
    qrels = {"q": {"g2": 2, "g1": 1, "neg": -1}}
    run = {"q": {"neg": 0.9, "g2": 0.8, "g1": 0.7}}
    got = retrieval_metrics(qrels, run, ["ndcg@3", "recall@3"], relevance_level=2)
    assert got["ndcg@3"] == pytest.approx(0.6697, abs=5e-5)
    assert got["recall@3"] == 1.0  # only g2 is relevant at level 2
    theirs = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.3"}, relevance_level=2)
    assert got["ndcg@3"] == pytest.approx(theirs.evaluate(run)["q"]["ndcg_cut_3"], abs=1e-12)


def test_run_shorter_than_k_and_bad_input():
    got = retrieval_metrics({"q": {"a": 1}}, {"q": {"a": 1.0}}, ["precision@10", "map@10"])
    assert got == {"precision@10": 0.1, "map@10": 1.0}
    with pytest.raises(ValueError, match="unknown metric"):
        retrieval_metrics({"q": {"a": 1}}, {}, ["recall@0"])
    with pytest.raises(ValueError, match="unknown metric"):
        retrieval_metrics({"q": {"a": 1}}, {}, ["R@5"])
    with pytest.raises(ValueError, match="NaN"):
        retrieval_metrics({"q": {"a": 1}}, {"q": {"a": float("nan")}})


def test_recall_at_cutoff_reports_both_depths():
    qrels = {"q1": {"a": 1, "b": 1}, "q2": {"c": 1}}
    run = {"q1": {"a": 3.0, "x": 2.0, "b": 1.0}, "q2": {"y": 2.0, "c": 1.0}}
    r = recall_at_cutoff(qrels, run, 1, reference_k=3)
    assert (r.cutoff, r.recall, r.reference_k, r.reference_recall) == (1, 0.25, 3, 1.0)
    assert r.shallow_queries == 1  # q2 returned only 2 documents

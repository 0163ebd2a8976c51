"""The tokenizer, exact BM25 against a float64 formula, and the Qdrant backends against it."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from xmodal.index import open_index
from xmodal.index.lexical import Bm25Params, filename_text, parse_query, terms, words
from xmodal.index.lexical_store import open_lexical
from xmodal.index.validate import check_filter

CORPUS = {
    "d1": "the red bicycle leans on the wall",
    "d2": "a bicycle shop sells red and blue bicycles",
    "d3": "invoice qorvex-5521 for the blue bicycle",
    "d4": "weather report rain and wind tomorrow rain",
    "d5": "the the the the the the the the wall",
}


def test_tokenizer_keeps_ids_and_codes_as_typed():
    assert terms(filename_text("scans/invoice_2024-03_qorvex-5521.pdf")) == [
        "invoice_2024-03_qorvex-5521", "2024-03", "qorvex-5521",
        "invoice", "2024", "03", "qorvex", "5521"]
    assert terms("Order QORVEX-5521, shipped.") == ["order", "qorvex-5521", "qorvex", "5521",
                                                   "shipped"]
    assert terms("v3.11 A/B") == ["v3.11", "v3", "11", "a/b", "a", "b"]
    assert terms("x" * 65 + " ok") == ["ok"]  # a hash-like run is dropped
    assert words("Red-Bicycle!") == ["red", "bicycle"]
    q = parse_query('find “red bicycle” and "qorvex-5521"')
    assert q.phrases == (("red", "bicycle"), ("qorvex", "5521"))
    assert "qorvex-5521" in q.terms and '"' not in " ".join(q.terms)


def _oracle(query: str, docs: dict[str, str], p: Bm25Params) -> dict[str, float]:
    """BM25 written out in float64 from the formula, independently of the module."""
    toks = {d: terms(t) for d, t in docs.items()}
    n = len(docs)
    out = {}
    for d, tk in toks.items():
        s = 0.0
        for t in parse_query(query).terms:  # stop words left out of queries
            tf = tk.count(t)
            if tf:
                df = sum(t in o for o in toks.values())
                idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
                s += idf * tf * (p.k1 + 1) / (tf + p.k1 * (1 - p.b + p.b * len(tk) / p.avg_len))
        if s > 0:
            out[d] = s
    return out


def _store(uri: str):
    index = open_index(uri)
    lex = open_lexical(index, create=True)
    ids = list(CORPUS)
    lex.upsert(ids, [CORPUS[i] for i in ids], [{"modality": "text", "n": k} for k, _ in
                                               enumerate(ids)])
    return index, lex


@pytest.mark.parametrize("query", ["red bicycle", "the wall", "qorvex-5521", "rain", "blue"])
def test_exact_bm25_equals_the_float64_formula(tmp_path: Path, query: str):
    index, lex = _store("exact:" + str(tmp_path / "i"))
    with index:
        got = lex.search(query, k=10)
    want = _oracle(query, CORPUS, Bm25Params())
    assert dict(zip(got.ids, got.scores.tolist(), strict=True)) == pytest.approx(want, rel=1e-6)
    assert list(got.ids) == sorted(want, key=lambda d: (-want[d], d))


@pytest.mark.parametrize("uri", ["edge", "qdrant-local::memory:"])
@pytest.mark.parametrize("query", ["red bicycle", "the wall", "qorvex-5521", "rain", "blue"])
def test_qdrant_backends_rank_as_the_exact_one(tmp_path: Path, uri: str, query: str):
    index, lex = _store(str(tmp_path / "e") if uri == "edge" else uri)
    exact_index, exact = _store("exact:" + str(tmp_path / "x"))
    with index, exact_index:
        got, want = lex.search(query, k=10), exact.search(query, k=10)
    assert set(got.ids) == set(want.ids)
    scores = dict(zip(want.ids, want.scores.tolist(), strict=True))
    assert dict(zip(got.ids, got.scores.tolist(), strict=True)) == pytest.approx(scores, rel=1e-4)
    # same order wherever the scores differ clearly
    for a, b in zip(got.ids, got.ids[1:], strict=False):
        assert scores[a] >= scores[b] - 1e-4


@pytest.mark.parametrize("uri", ["exact", "edge", "qdrant-local::memory:"])
def test_phrases_filters_payloads_and_deletes(tmp_path: Path, uri: str):
    where = {"exact": "exact:" + str(tmp_path / "x"), "edge": str(tmp_path / "e")}.get(uri, uri)
    index, lex = _store(where)
    with index:
        assert lex.search('"red bicycle"', k=10).ids == ("d1",)  # d2 has both words, apart
        assert set(lex.search("bicycle", k=10).ids) == {"d1", "d2", "d3"}
        assert lex.search("bicycle", k=10, filter={"n": 2}).ids == ("d3",)
        hit = lex.search("qorvex-5521", k=1)
        assert hit.ids == ("d3",) and hit.payloads[0] == {"modality": "text", "n": 2}
        assert lex.phrase_matches(["d1", "d2", "zz"], 'x "red bicycle"') == {"d1"}
        assert lex.delete(["d3", "nope"]) == 1 and lex.search("qorvex-5521", k=1).ids == ()
        assert lex.count() == 4 and lex.get(["d1", "d3"])[1] is None
        with pytest.raises(ValueError, match="filter"):
            lex.search("bicycle", filter={"n": 1.5})


def test_server_requests_use_the_servers_bm25(tmp_path: Path):
    from qdrant_client import models as m

    from xmodal.index.lexical_server import COLLECTION, ServerLexical, create_request

    lex = ServerLexical(client=None, params=Bm25Params(avg_len=100.0), local=False)
    req = lex.query_request(("qorvex-5521", "qorvex"), (("red", "bicycle"),), 5,
                            check_filter({"n": 1}))
    assert isinstance(req.query, m.Document) and req.query.model == "qdrant/bm25"
    assert req.query.text == "qorvex-5521 qorvex" and req.using == "bm25" and req.limit == 5
    opts = req.query.options
    assert (opts.tokenizer, opts.lowercase, opts.avg_len) == (m.TokenizerType.WHITESPACE,
                                                            False, 100.0)
    assert opts.stopwords.custom == [] and opts.stemmer.type == m.NoStemmer.NONE
    inner, phrase = req.filter.must
    assert inner.must[0].key == "n" and phrase.match.phrase == "red bicycle"
    doc = lex.document_vector(["a", "b"])
    assert isinstance(doc, m.Document) and doc.text == "a b"
    made = create_request(Bm25Params())
    assert made["collection_name"] == COLLECTION
    assert made["sparse_vectors_config"]["bm25"].modifier == m.Modifier.IDF


def test_lexical_collection_is_not_a_dense_collection(tmp_path: Path):
    for uri in ("exact:" + str(tmp_path / "x"), str(tmp_path / "e")):
        index, lex = _store(uri)
        with index:
            assert index.collections() == [] and lex.stats()["count"] == 5
        with open_index(uri) as again:  # reopened from disk
            assert open_lexical(again).search("rain", k=1).ids == ("d4",)
            assert np.isfinite(open_lexical(again).search("rain", k=1).scores).all()


def test_query_stop_words_are_left_out_unless_nothing_else_remains():
    assert parse_query("how do I copy a file in python").terms == ("copy", "file", "python")
    assert parse_query("the who").terms == ("the", "who")  # stop words alone: kept
    assert parse_query('"the wall" of it').phrases == (("the", "wall"),)  # phrases keep them


@pytest.mark.parametrize("uri", ["exact", "edge", "qdrant-local::memory:"])
def test_term_counts_are_document_counts_up_to_the_cap(tmp_path: Path, uri: str):
    where = {"exact": "exact:" + str(tmp_path / "x"), "edge": str(tmp_path / "e")}.get(uri, uri)
    index, lex = _store(where)
    query = "bicycle red qorvex-5521 rain zork"
    hand = {t: sum(t in terms(text) for text in CORPUS.values())
            for t in parse_query(query).terms}
    assert hand == {"bicycle": 3, "red": 2, "qorvex-5521": 1, "qorvex": 1, "5521": 1,
                    "rain": 1, "zork": 0}
    with index:
        assert lex.term_counts(query, cap=10) == hand
        assert lex.term_counts("bicycle red", cap=2) == {"bicycle": 2, "red": 2}

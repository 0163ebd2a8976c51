"""The bm25 list end to end: the issue's memo case through the CLI, phrases, old indexes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.api.toy import loader, toy_encoders
from tests.commands.conftest import encoders  # noqa: F401 (fixture)
from tests.commands.test_commands import invoke
from xmodal.index import open_index
from xmodal.index.ingest import ingest
from xmodal.index.lexical_store import open_lexical
from xmodal.search.searcher import Searcher

MEMO = "Shipping memo: order qorvex-5521 left the warehouse on Monday."


@pytest.fixture
def memo_corpus(corpus: Path) -> Path:
    (corpus / "docs/memo.txt").write_text(MEMO)
    return corpus


def test_a_product_code_finds_the_memo_first(encoders, memo_corpus, uri):  # noqa: F811
    assert invoke("index", str(memo_corpus), "--index", uri).exit_code == 0
    result = invoke("search", "qorvex-5521", "--index", uri, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    top = data["hits"][0]
    assert Path(top["path"]).name == "memo.txt"
    assert any("bm25" in name for name in top["raw_scores"]) and top["ranks"]["bm25"] == 1
    assert top["raw_scores"]["bm25"] > 0 and top["fused"] is True  # a BM25 score, never `score`
    assert any(t.startswith("lexical list bm25") for t in data["trace"])


def test_phrases_filter_every_list_and_prune_deletes(memo_corpus, tmp_path):
    toys = toy_encoders()
    with open_index("exact:" + str(tmp_path / "i")) as index:
        ingest(index, [memo_corpus], encoders=toys, manifest=tmp_path / "m.json")
        searcher = Searcher(index, load=loader(toys), router_model=None)
        hits = searcher.search('"a red heart"', mixed=True).hits
        assert [Path(h.payload["path"]).name for h in hits] == ["heart.png"]  # its caption
        loose = searcher.search("a red heart", mixed=True).hits
        assert len(loose) > 1  # without quotes the phrase is not required
        assert open_lexical(index).count() == 8  # 3 images, 2 sounds, 2 docs, the memo
        (memo_corpus / "docs/memo.txt").unlink()
        ingest(index, [memo_corpus], encoders=toys, manifest=tmp_path / "m.json", prune=True)
        assert open_lexical(index).count() == 7
        assert open_lexical(index).search("qorvex-5521", k=3).ids == ()


def test_an_index_without_lexical_lists_works_and_is_upgraded(memo_corpus, tmp_path):
    toys = toy_encoders()
    with open_index("exact:" + str(tmp_path / "i")) as index:
        ingest(index, [memo_corpus], encoders=toys, manifest=tmp_path / "m.json", lexical=False)
        result = Searcher(index, load=loader(toys), router_model=None).search("qorvex-5521")
        assert result.hits and not any("bm25" in h.raw_scores for h in result.hits)
        assert any("no bm25 list" in t for t in result.trace)
        report = ingest(index, [memo_corpus], encoders=toys, manifest=tmp_path / "m.json")
        assert report.indexed == 0 and open_lexical(index).count() == 8  # nothing re-encoded
        result = Searcher(index, load=loader(toys), router_model=None).search("qorvex-5521")
        assert Path(result.hits[0].payload["path"]).name == "memo.txt"


def test_lexical_list_is_never_a_cosine(memo_corpus, tmp_path):
    toys = toy_encoders()
    with open_index("exact:" + str(tmp_path / "i")) as index:
        ingest(index, [memo_corpus], encoders=toys)
        searcher = Searcher(index, load=loader(toys), router_model=None)
        result = searcher.search("qorvex-5521", fusion="calibrated", weights={"bm25": 2.0})
        top = result.hits[0]
        assert (top.fused and top.calibrated is None) or "bm25" not in (top.calibrated or {})
        # only the lexical list holds hits when the dense ones are restricted away: still RRF
        only = searcher.search("qorvex-5521", filter={"modality": "text"},
                               modalities=["audio"])
        assert all(h.fused for h in only.hits)
        assert searcher.search(image=str(memo_corpus / "images/cat.png")).hits
        assert not any("bm25" in h.raw_scores
                       for h in searcher.search(image=str(memo_corpus / "images/cat.png")).hits)


@pytest.mark.parametrize("flt", [
    {"must": [{"key": "ext", "match": {"value": "png"}}]},  # Qdrant's filter JSON
    {"ext": "png"},  # the shorthand
])
def test_a_filter_reaches_the_bm25_list_of_each_modality(memo_corpus, tmp_path, flt):
    """The lexical list searched per document modality combines the caller's filter with the
    modality like the text collections' lists do (a JSON filter once failed there)."""
    toys = toy_encoders()
    with open_index("exact:" + str(tmp_path / "i")) as index:
        ingest(index, [memo_corpus], encoders=toys, manifest=tmp_path / "m.json")
        searcher = Searcher(index, load=loader(toys), router_model=None)
        result = searcher.search("heart", modalities=["image", "text"], filter=flt)
        assert not result.errors, result.errors
        assert "bm25" in result.hits[0].raw_scores  # heart.png: its file name and caption
        assert {Path(h.payload["path"]).suffix for h in result.hits} == {".png"}


def _dense(ids: list[str]) -> list:
    from xmodal.index.types import CollectionInfo
    from xmodal.search.hits import ListName, RankedList
    from xmodal.search.lists import SearchedList

    ranked = RankedList("m.text", tuple(ids), tuple(1.0 - i / 10 for i in range(len(ids))))
    return [SearchedList(ListName("m.text"), CollectionInfo("m.text", 2, "m", "text"), ranked,
                         None)]


@pytest.mark.parametrize("n_docs", [150, 20])
def test_the_lexical_list_leads_on_a_rare_term_the_dense_hits_lack(tmp_path, n_docs):
    from xmodal.search.lexical import lexical_lead

    with open_index("exact:" + str(tmp_path / "i")) as index:
        lex = open_lexical(index, create=True)
        ids = [f"d{i}" for i in range(n_docs)]
        texts = [f"notes about the weather on day {i % 7}" for i in range(n_docs)]
        texts[5] = "the tizpud manual, order qorvex-5521"
        lex.upsert(ids, texts)
        others = _dense(["d1", "d2", "d3"])
        holder = _dense(["d5", "d1", "d2"])
        second = _dense(["d1", "d5", "d2"])
        # an id the dense hits lack leads in any collection, and so does one they hold
        assert "qorvex-5521" in lexical_lead("qorvex-5521 order", lex, others)
        assert "qorvex-5521" in lexical_lead("qorvex-5521", lex, holder)  # ids lead anyway
        assert lexical_lead("tizpud", lex, holder) is None  # a word the first hit holds does not
        lead = lexical_lead("tizpud", lex, second)  # held lower down: it leads (100+ docs)
        assert (lead is not None) == (n_docs >= 100)
        # a plain rare word leads only in a collection of RARE_MIN_DOCS documents or more
        lead = lexical_lead("where is the tizpud", lex, others)
        assert (lead is not None and "tizpud" in lead) == (n_docs >= 100)
        # common words never lead
        assert lexical_lead("the weather notes", lex, others) is None


def test_an_ordinary_query_weights_bm25_as_support_and_a_given_weight_stays(memo_corpus,
                                                                             tmp_path):
    from xmodal.search.lexical import SUPPORT_WEIGHT

    toys = toy_encoders()
    with open_index("exact:" + str(tmp_path / "i")) as index:
        ingest(index, [memo_corpus], encoders=toys, manifest=tmp_path / "m.json")
        searcher = Searcher(index, load=loader(toys), router_model=None)
        plain = searcher.search("heart", mixed=True)
        assert any(f"bm25 weighted ×{SUPPORT_WEIGHT:g}" in t for t in plain.trace)
        given = searcher.search("heart", mixed=True, weights={"bm25": 1.0})
        assert not any("bm25 weighted" in t for t in given.trace)
        code = searcher.search("qorvex-5521", mixed=True)
        assert any("so its order leads" in t for t in code.trace)
        assert Path(code.hits[0].payload["path"]).name == "memo.txt"


def test_a_rare_term_among_many_words_does_not_lead(tmp_path):
    """The share rule: the rare terms the dense hits lack must carry more than LEAD_SHARE of
    the query's IDF sum (document counts and IDF computed here from the texts, by hand)."""
    from xmodal.index.lexical import bm25_idf
    from xmodal.search.lexical import LEAD_SHARE, lexical_lead

    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"]
    n = 200
    texts = [f"{words[i % 6]} {words[(i + 1) % 6]} log {i % 5}" for i in range(n)]
    texts[7] = "the tizpud manual"
    df = {w: sum(w in t.split() for t in texts) for w in [*words, "tizpud"]}
    with open_index("exact:" + str(tmp_path / "i")) as index:
        lex = open_lexical(index, create=True)
        lex.upsert([f"d{i}" for i in range(n)], texts)
        assert lex.term_counts("tizpud alpha zork", cap=n) == {
            "tizpud": 1, "alpha": df["alpha"], "zork": 0}
        assert lex.term_counts("alpha", cap=10) == {"alpha": 10}  # counted up to the cap
        others = _dense(["d1", "d2", "d3"])
        leads = []
        for m in range(1, 7):
            query = " ".join(["tizpud", *words[:m]])
            idf = [bm25_idf(df[w], n) for w in ["tizpud", *words[:m]]]
            share = idf[0] / sum(idf)
            leads.append(lexical_lead(query, lex, others) is not None)
            assert leads[-1] == (share > LEAD_SHARE), (query, share)
        assert leads[0] and not leads[-1]  # both sides of the rule are exercised

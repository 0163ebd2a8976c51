"""Rerank with a cross-encoder: a tiny random-weight sentence-transformers ``CrossEncoder``
built offline rescores the toy index's text-bearing hits.

Oracle: the cross-encoder's own ``predict`` on the hits' texts (written here from the toy
corpus: captions and the text documents' words) gives the rerank list's order and raw scores;
the fused score is RRF computed by hand from each hit's ranks with the documented weights."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tests.api.toy import loader, toy_encoders
from tests.commands.conftest import encoders  # noqa: F401 (fixture)
from tests.commands.test_commands import invoke
from xmodal.index import open_index
from xmodal.index.ingest import ingest
from xmodal.search.lead import lead_weight
from xmodal.search.request import SearchRequest
from xmodal.search.rerank import RerankerLoadError, load_cross_encoder
from xmodal.search.searcher import Searcher

pytest.importorskip("sentence_transformers")

QUERY = "a red heart"
TEXTS = {  # what each toy document bears: its caption, or a text document's words
    "heart.png": "a red heart", "cat.png": "a cat with whiskers",
    "sun.png": "a face with sunglasses", "copy.md": "how to copy a file in python",
    "sorting.txt": "sort a list in python",
}
NAME = "rerank:ce"


def build_tiny_cross_encoder(folder: Path) -> Path:
    """A 1-layer BERT with one output (sequence classification), its tokenizer from a word
    list, saved with ``save_pretrained``: what ``CrossEncoder(folder)`` loads."""
    import torch
    from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordPiece
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    words = sorted({w for t in TEXTS.values() for w in t.split()} | {"sound", "drum"})
    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words])}
    tok = Tokenizer(WordPiece(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])])
    hf_tok = BertTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]",
                               cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=1,
                     num_attention_heads=2, intermediate_size=64, max_position_embeddings=64,
                     num_labels=1, initializer_range=1.0)  # wide weights: distinct scores
    BertForSequenceClassification(cfg).save_pretrained(folder)
    hf_tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_ce(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_cross_encoder(tmp_path_factory.mktemp("rerank") / "ce")


@pytest.fixture
def searcher(corpus: Path, tmp_path: Path):
    """A searcher over the toy corpus (exact store, lexical list), counting reranker loads."""
    toys = toy_encoders()
    loads: list[str] = []

    def load(spec: str):
        loads.append(spec)
        return load_cross_encoder(spec)

    with open_index("exact:" + str(tmp_path / "i")) as index:
        ingest(index, [corpus], encoders=toys, manifest=tmp_path / "m.json")
        s = Searcher(index, load=loader(toys), router_model=None, load_reranker=load)
        s.loads = loads  # type: ignore[attr-defined]
        yield s


def name_of(hit) -> str:
    return Path(hit.payload["path"]).name


def oracle_scores(folder: Path, names: list[str]) -> dict[str, float]:
    from sentence_transformers import CrossEncoder

    got = CrossEncoder(str(folder)).predict([(QUERY, TEXTS[n]) for n in names])
    return {n: float(s) for n, s in zip(names, got, strict=True)}


def test_the_rerank_list_is_the_cross_encoders_order_fused_by_hand(searcher, tiny_ce):
    base = searcher.search(QUERY, mixed=True, k=50, weights={"bm25": 0.5})
    result = searcher.search(QUERY, mixed=True, k=50, weights={"bm25": 0.5},
                             rerank=str(tiny_ce))
    scored = [h for h in result.hits if NAME in h.ranks]
    assert {name_of(h) for h in scored} == set(TEXTS)  # the sounds bear no text
    expected = oracle_scores(tiny_ce, sorted(TEXTS))
    assert sorted(scored, key=lambda h: h.ranks[NAME]) == sorted(
        scored, key=lambda h: -expected[name_of(h)])
    for h in scored:
        assert h.raw_scores[NAME] == pytest.approx(expected[name_of(h)], abs=1e-6)
    # the other lists stay in every hit, with the same ranks and raw scores
    before = {h.id: (dict(h.raw_scores), dict(h.ranks)) for h in base.hits}
    for h in result.hits:
        raw, ranks = before[h.id]
        assert {n: v for n, v in h.raw_scores.items() if n != NAME} == raw
        assert {n: v for n, v in h.ranks.items() if n != NAME} == ranks
    others = {n for h in base.hits for n in h.ranks}
    assert len(others) >= 3 and "bm25" in others  # dense lists and bm25
    weights = {n: 0.5 if n == "bm25" else 1.0 for n in others}
    weights[NAME] = lead_weight(weights.values())
    for h in result.hits:  # RRF, k = 60, 1-based ranks
        assert h.score == pytest.approx(
            math.fsum(weights[n] / (60 + r) for n, r in h.ranks.items()), rel=1e-12)
    assert [h.score for h in result.hits] == sorted((h.score for h in result.hits),
                                                    reverse=True)
    assert [name_of(h) for h in result.hits[:len(TEXTS)]] == sorted(
        TEXTS, key=lambda n: -expected[n])  # it leads: its order first
    assert any(t.startswith(f"{NAME} rescored 5 text-bearing hits") and
               f"×{weights[NAME]:g}" in t for t in result.trace)
    assert [t for t in base.trace if t.startswith("searched")] == [
        t for t in result.trace if t.startswith("searched")]


def test_a_given_weight_makes_it_an_equal_list(searcher, tiny_ce):
    result = searcher.search(QUERY, mixed=True, rerank=str(tiny_ce),
                             weights={NAME: 1.0, "bm25": 1.0})
    for h in result.hits:
        assert h.score == pytest.approx(math.fsum(1 / (60 + r) for r in h.ranks.values()))
    assert any(t.startswith(NAME) and "×1 as given" in t for t in result.trace)


def test_rerank_depth_and_one_load(searcher, tiny_ce):
    base = searcher.search(QUERY, mixed=True, k=10)
    first_two = [h.id for h in base.hits if name_of(h) in TEXTS][:2]
    result = searcher.search(QUERY, mixed=True, k=10, rerank=str(tiny_ce), rerank_depth=2)
    assert sorted(h.id for h in result.hits if NAME in h.ranks) == sorted(first_two)
    assert len(result.hits) == len(base.hits)  # the others' hits follow
    assert searcher.loads == [str(tiny_ce)]  # loaded once


def test_non_text_queries_are_refused(searcher, tiny_ce, corpus):
    with pytest.raises(ValueError, match=r"rerank needs a text query.*an image query"):
        SearchRequest(image=str(corpus / "images/cat.png"), rerank=str(tiny_ce))
    with pytest.raises(ValueError, match="a vector query"):
        searcher.search(vector=[1.0, 0.0], collection="x", rerank="ce")
    with pytest.raises(ValueError, match="rerank_depth"):
        SearchRequest(QUERY, rerank_depth=0)
    with pytest.raises(ValueError, match="weight for 'rerank:other'"):
        searcher.search(QUERY, rerank=str(tiny_ce), weights={"rerank:other": 1.0})
    assert searcher.loads == []


def test_a_text_document_is_read_as_written(tmp_path, tiny_ce):
    """The cross-encoder reads a text file as written (case, punctuation) while its words are
    the stored ones; a file changed since, or a payload naming another file, is read as the
    stored words. Oracle: ``predict`` on those texts."""
    from sentence_transformers import CrossEncoder

    from xmodal.index.lexical_store import open_lexical
    from xmodal.search.rerank import hit_text

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "copy.md").write_text("How to COPY a file, in Python?\n", "utf-8")
    (docs / "sorting.txt").write_text("Sort a list (in Python).", "utf-8")
    toys = toy_encoders()
    with open_index("exact:" + str(tmp_path / "i")) as index:
        ingest(index, [docs], encoders=toys, manifest=tmp_path / "m.json")
        (docs / "sorting.txt").write_text("Sort a list (in Python), changed.", "utf-8")
        s = Searcher(index, load=loader(toys), router_model=None)
        got = s.search("copy a file", k=5, mixed=True, rerank=str(tiny_ce))
        store = open_lexical(index)
        copy = next(h for h in got.hits if name_of(h) == "copy.md")
        stored = store.document_words([copy.id])[copy.id]
        (tmp_path / "other").mkdir()
        (tmp_path / "other/copy.md").write_text("Secret: a cat.", "utf-8")
        elsewhere = {**copy.payload, "path": str(tmp_path / "other/copy.md")}  # another file
        assert hit_text(elsewhere, stored) == "how to copy a file in python"
    texts = {"copy.md": "How to COPY a file, in Python?", "sorting.txt": "sort a list in python"}
    want = CrossEncoder(str(tiny_ce)).predict([("copy a file", t) for t in texts.values()])
    raw = {name_of(h): h.raw_scores[NAME] for h in got.hits if NAME in h.raw_scores}
    assert raw == pytest.approx(dict(zip(texts, map(float, want), strict=True)), abs=1e-6)
    assert len(set(raw.values())) == 2


def test_a_missing_cross_encoder_is_named(tmp_path):
    with pytest.raises(RerankerLoadError, match="no such folder"):
        load_cross_encoder(str(tmp_path / "absent"))
    with pytest.raises(RerankerLoadError, match="offline"):  # tests run with HF_HUB_OFFLINE=1
        load_cross_encoder("no-org/no-such-cross-encoder")
    (tmp_path / "pickled").mkdir()  # pickled weights only: refused, never loaded
    (tmp_path / "pickled/pytorch_model.bin").write_bytes(b"")
    with pytest.raises(RerankerLoadError, match="no safetensors"):
        load_cross_encoder(str(tmp_path / "pickled"))
    from xmodal.api.limits import error_status

    assert error_status(RerankerLoadError("x")) == (422, "bad_input")  # the caller's input


def test_cli_rerank(encoders, corpus, uri, tiny_ce):  # noqa: F811
    assert invoke("index", str(corpus), "--index", uri).exit_code == 0
    result = invoke("search", QUERY, "--index", uri, "--mixed", "--json", "--rerank",
                    str(tiny_ce), "--rerank-depth", "3")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert sum(NAME in h["ranks"] for h in data["hits"]) == 3
    assert all(h["fused"] for h in data["hits"])
    refused = invoke("search", "--image", str(corpus / "images/cat.png"), "--index", uri,
                     "--rerank", str(tiny_ce))
    assert refused.exit_code == 2 and "rerank needs a text query" in refused.output
    absent = invoke("search", QUERY, "--index", uri, "--rerank", str(corpus / "absent"))
    assert absent.exit_code == 2 and "no such folder" in absent.output

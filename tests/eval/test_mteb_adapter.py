"""Local BEIR-layout retrieval against pytrec_eval, and the mteb wrapper (only with mteb)."""

from __future__ import annotations

import json
import subprocess
import sys
import zlib

import numpy as np
import pytest

from xmodal._optional import MissingDependencyError
from xmodal.eval import MtebEncoder, evaluate_local_retrieval, load_beir_folder, run_mteb
from xmodal.eval.metrics import KINDS, rank_documents

pytrec_eval = pytest.importorskip("pytrec_eval")

WORDS = ["red", "green", "blue", "cat", "dog", "car", "tree", "sun", "moon", "boat"]


class BagOfWords:
    """Hashed bag of words; queries get a prefix word, as a query prompt would add."""

    dim = 16

    def _embed(self, texts):
        out = np.full((len(texts), self.dim), 1e-3, np.float32)
        for i, t in enumerate(texts):
            for w in t.split():
                out[i, zlib.crc32(w.encode()) % self.dim] += 1
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def encode_query(self, texts, *, batch_size=32):
        return self._embed(["query " + t for t in texts])

    def encode_document(self, texts, *, batch_size=32):
        return self._embed(list(texts))


def _write_task(root, rng, qrels_in_folder=False):
    corpus = [{"_id": f"doc{j}", "title": str(rng.choice(WORDS)),
               "text": " ".join(rng.choice(WORDS, size=4))} for j in range(25)]
    corpus += [{"_id": "dup1", "text": "red cat"}, {"_id": "dup2", "text": "red cat"}]  # a tie
    queries = [{"_id": f"q{i}", "text": " ".join(rng.choice(WORDS, size=2))} for i in range(12)]
    queries.append({"_id": "unjudged", "text": "sun"})
    (root / "corpus.jsonl").write_text("\n".join(json.dumps(c) for c in corpus) + "\n")
    (root / "queries.jsonl").write_text("\n".join(json.dumps(q) for q in queries) + "\n")
    lines = ["query-id\tcorpus-id\tscore"]
    ids = [c["_id"] for c in corpus]
    for i in range(12):
        for d in rng.choice(ids, size=int(rng.integers(1, 5)), replace=False):
            lines.append(f"q{i}\t{d}\t{rng.integers(0, 3)}")
        lines.append(f"q{i}\tdup1\t1")
    path = root / "qrels" / "test.tsv" if qrels_in_folder else root / "qrels.tsv"
    path.parent.mkdir(exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("qrels_in_folder", [False, True])
def test_local_task_matches_pytrec_eval_on_the_full_score_matrix(tmp_path, qrels_in_folder):
    _write_task(tmp_path, np.random.default_rng(3), qrels_in_folder)
    enc = BagOfWords()
    ks = (1, 3, 5)
    got = evaluate_local_retrieval(enc, tmp_path, k_values=ks, chunk_size=4)
    task = load_beir_folder(tmp_path)
    assert "unjudged" not in task.queries and task.corpus["dup1"] == "red cat"
    doc_ids = list(task.corpus)
    docs = enc.encode_document([task.corpus[d] for d in doc_ids])
    qids = list(task.queries)
    scores = enc.encode_query([task.queries[q] for q in qids]) @ docs.T  # (n, m) brute force
    run = {q: {d: float(s) for d, s in zip(doc_ids, row, strict=True)}
           for q, row in zip(qids, scores, strict=True)}
    qrels = {q: g for q, g in task.qrels.items() if any(v >= 1 for v in g.values())}
    trec = {"recall": "recall", "hit": "success", "ndcg": "ndcg_cut", "map": "map_cut",
            "precision": "P"}
    measures = {f"{m}.1,3,5" for m in trec.values()}
    theirs = pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(run)
    for kind, name in trec.items():
        for k in ks:
            want = np.mean([theirs[q][f"{name}_{k}"] for q in qrels])
            assert got[f"{kind}@{k}"] == pytest.approx(want, abs=1e-6), (kind, k)
    for k in ks:
        cut = {q: {d: run[q][d] for d in rank_documents(run[q])[:k]} for q in qrels}
        rr = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(cut)
        assert got[f"mrr@{k}"] == pytest.approx(np.mean([rr[q]["recip_rank"] for q in qrels]))
    assert set(got) == {f"{kind}@{k}" for kind in KINDS for k in ks}


def test_missing_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"corpus\.jsonl"):
        load_beir_folder(tmp_path)


def test_the_wrapper_encodes_mteb_batches_without_mteb():
    enc = MtebEncoder(BagOfWords(), batch_size=2)
    batches = [{"text": ["red cat", "dog"]}, {"text": ["sun"]}]
    q = enc.encode(batches, prompt_type="query")
    d = enc.encode(batches, prompt_type="document")
    np.testing.assert_allclose(q, BagOfWords().encode_query(["red cat", "dog", "sun"]))
    np.testing.assert_allclose(d, BagOfWords().encode_document(["red cat", "dog", "sun"]))
    np.testing.assert_allclose(enc.similarity(q, d), q @ d.T, rtol=1e-6)
    np.testing.assert_allclose(enc.similarity_pairwise(q, d), (q * d).sum(1), rtol=1e-6)


def test_importing_the_adapter_does_not_import_mteb(monkeypatch):
    code = "import sys; sys.modules['mteb'] = None; import xmodal.eval.mteb_adapter"
    subprocess.run([sys.executable, "-c", code], check=True)  # any mteb import would fail
    monkeypatch.setitem(sys.modules, "mteb", None)
    with pytest.raises(MissingDependencyError, match="mteb"):
        _ = MtebEncoder(BagOfWords()).mteb_model_meta
    with pytest.raises(MissingDependencyError, match="mteb"):
        run_mteb(BagOfWords(), [])


def test_model_meta_with_mteb_installed():
    pytest.importorskip("mteb", reason="mteb is not installed: the mteb-protocol wrapper's "
                        "ModelMeta is only tested where it is")
    meta = MtebEncoder(BagOfWords(), name="xmodal/bow").mteb_model_meta
    assert meta.name == "xmodal/bow"

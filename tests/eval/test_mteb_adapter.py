"""Local BEIR-layout retrieval against pytrec_eval, and the real mteb (2.x) run on local files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zlib

import numpy as np
import pytest

from xmodal._optional import MissingDependencyError
from xmodal.eval import MtebEncoder, evaluate_local_retrieval, load_beir_folder, run_mteb
from xmodal.eval.metrics import KINDS, rank_documents
from xmodal.eval.mteb_adapter import local_retrieval_task

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
    from mteb.models import EncoderProtocol, ModelMeta, SearchProtocol

    enc = MtebEncoder(BagOfWords(), name="xmodal/bow", languages=["eng-Latn"],
                      release_date="2026-01-01")
    meta = enc.mteb_model_meta
    assert isinstance(meta, ModelMeta)  # built and validated by mteb, not model_construct
    assert (meta.name, meta.revision, meta.embed_dim) == ("xmodal/bow", "local", 16)
    assert meta.languages == ["eng-Latn"] and meta.similarity_fn_name.value == "cosine"
    assert isinstance(enc, EncoderProtocol) and not isinstance(enc, SearchProtocol)
    with pytest.raises(ValueError, match="organisation/model"):
        MtebEncoder(BagOfWords(), name="no-slash")


# --- the real mteb on a local task ---------------------------------------------------------

K_VALUES = (1, 3, 5, 10)


class WordCounts:
    """One dimension per word of ``WORDS``, raw counts: every score is an exact small integer
    whatever the BLAS summation order, so tied scores are exactly tied in mteb's search and in
    xmodal's, and the tie rule (document id descending) is exercised, not float noise. (Unit-norm
    vectors give scores that differ in the last bit between the two searches' matrix shapes,
    which reorders mathematically tied documents.)"""

    dim = len(WORDS)

    def _embed(self, texts):
        return np.array([[t.split().count(w) for w in WORDS] for t in texts], np.float32)

    def encode_query(self, texts, *, batch_size=32):
        return self._embed(list(texts))

    encode_document = encode_query


def _write_judged_task(root, rng):
    """30 documents, 10 judged queries with 1-4 relevant documents (grades 1-2), one query
    judged only with grade 0, one without judgments; two identical documents (a score tie)."""
    corpus = [{"_id": f"doc{j:02d}", "title": str(rng.choice(WORDS)) if j % 3 else "",
               "text": " ".join(rng.choice(WORDS, size=3, replace=False))} for j in range(28)]
    corpus += [{"_id": "dupA", "text": "red cat tree"}, {"_id": "dupB", "text": "red cat tree"}]
    bags = {c["_id"]: set(f"{c.get('title', '')} {c['text']}".split()) for c in corpus}
    queries, lines = [], ["query-id\tcorpus-id\tscore"]
    for i in range(10):
        words = ["red", "cat"] if i == 0 else list(rng.choice(WORDS, size=2, replace=False))
        queries.append({"_id": f"q{i}", "text": " ".join(words)})
        both = [d for d, b in bags.items() if set(words) <= b][:3]
        one = [d for d, b in bags.items() if set(words) & b and d not in both]
        picked = {d: 2 for d in both}
        picked.update({str(d): 1 for d in rng.choice(one, size=min(2, len(one)), replace=False)})
        picked.update({str(d): 0 for d in rng.choice(list(bags), size=2) if d not in picked})
        lines += [f"q{i}\t{d}\t{g}" for d, g in picked.items()]
    queries += [{"_id": "only_zero", "text": "sun moon"}, {"_id": "unjudged", "text": "boat"}]
    lines += ["only_zero\tdoc01\t0"]
    (root / "corpus.jsonl").write_text("\n".join(json.dumps(c) for c in corpus) + "\n")
    (root / "queries.jsonl").write_text("\n".join(json.dumps(q) for q in queries) + "\n")
    (root / "qrels.tsv").write_text("\n".join(lines) + "\n")


def _writes_during(fn, *args, **kwargs):
    """Call ``fn``; return its result and every path opened for writing (and every socket
    connection, as ``"socket:<address>"``) meanwhile, seen by an audit hook."""
    written: list[str] = []
    active = [True]
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

    def hook(event, args):
        if active[0] and event == "socket.connect":
            written.append(f"socket:{args[1]}")
        if not active[0] or event != "open" or not isinstance(args[0], (str, bytes, os.PathLike)):
            return
        mode, flags = args[1], args[2]
        if (isinstance(mode, str) and set(mode) & set("wax+")) or (
                mode is None and isinstance(flags, int) and flags & write_flags):
            written.append(os.fsdecode(args[0]))

    sys.addaudithook(hook)  # hooks cannot be removed: this one switches itself off
    try:
        return fn(*args, **kwargs), written
    finally:
        active[0] = False


@pytest.fixture(scope="module")
def mteb_run(tmp_path_factory):
    """One real ``mteb.evaluate`` on a local task, offline, with cwd and output in a tmp dir."""
    root = tmp_path_factory.mktemp("mteb")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("HF_DATASETS_OFFLINE", "1")
        mp.setenv("MTEB_CACHE", str(root / "mteb_cache"))
        pytest.importorskip("mteb")
        task_dir, work = root / "task", root / "cwd"
        task_dir.mkdir()
        work.mkdir()
        _write_judged_task(task_dir, np.random.default_rng(7))
        mp.chdir(work)
        scores, written = _writes_during(
            run_mteb, WordCounts(), task_dir, name="XmodalToy", k_values=(*K_VALUES, 100),
            prediction_folder=root / "pred")
        cwd_files = sorted(os.listdir(work))
    predictions = json.loads((root / "pred" / "XmodalToy_predictions.json").read_text())
    return {"root": root, "task_dir": task_dir, "scores": scores, "written": written,
            "cwd_files": cwd_files, "predictions": predictions}


def _pytrec_means(qrels, run, ks):
    names = {"ndcg": "ndcg_cut", "map": "map_cut", "recall": "recall", "precision": "P",
             "hit_rate": "success"}
    cut = ",".join(map(str, ks))
    per_q = pytrec_eval.RelevanceEvaluator(qrels, {f"{m}.{cut}" for m in names.values()}
                                           ).evaluate(run)
    out = {f"{ours}_at_{k}": float(np.mean([per_q[q][f"{theirs}_{k}"] for q in qrels]))
           for ours, theirs in names.items() for k in ks}
    for k in ks:  # MRR@k: trec's recip_rank on the run cut to its trec-ordered top k
        top = {q: {d: run[q][d] for d in rank_documents(run[q])[:k]} for q in qrels}
        rr = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(top)
        out[f"mrr_at_{k}"] = float(np.mean([rr[q]["recip_rank"] for q in qrels]))
    return out


def test_mteb_run_is_the_exact_run_of_the_encoder(mteb_run):
    task = load_beir_folder(mteb_run["task_dir"])
    enc = WordCounts()
    doc_ids, qids = list(task.corpus), ["q" + str(i) for i in range(10)]
    scores = enc.encode_query([task.queries[q] for q in qids]) @ enc.encode_document(
        [task.corpus[d] for d in doc_ids]).T  # (10, 30): the exact run, every document
    run = mteb_run["predictions"]["default"]["test"]
    assert sorted(run) == sorted(qids)  # "only_zero" and "unjudged" were not searched
    for q, row in zip(qids, scores, strict=True):
        assert sorted(run[q]) == sorted(doc_ids)
        assert [run[q][d] for d in doc_ids] == row.tolist()  # exact
    assert run["q0"]["dupA"] == run["q0"]["dupB"]  # the tie reached mteb


def test_mteb_scores_equal_pytrec_eval_and_xmodal(mteb_run):
    scores, run = mteb_run["scores"], mteb_run["predictions"]["default"]["test"]
    task = load_beir_folder(mteb_run["task_dir"])
    qrels = {q: g for q, g in task.qrels.items() if any(v >= 1 for v in g.values())}
    assert sorted(qrels) == sorted(run) and any(sum(v >= 1 for v in g.values()) > 2
                                                for g in qrels.values())  # multi-relevant
    trec = _pytrec_means(qrels, run, K_VALUES)
    ours = evaluate_local_retrieval(WordCounts(), mteb_run["task_dir"], k_values=K_VALUES)
    kind = {"ndcg": "ndcg", "map": "map", "recall": "recall", "precision": "precision",
            "hit_rate": "hit", "mrr": "mrr"}
    for name, want in trec.items():
        got = scores[name]
        metric, k = name.rsplit("_at_", 1)
        if metric == "mrr":  # mteb's own MRR@k, not rounded
            assert got == pytest.approx(want, abs=1e-9), name
        else:  # pytrec_eval's mean, rounded by mteb to 5 decimals
            assert got == pytest.approx(round(want, 5), abs=1e-9), name
        assert ours[f"{kind[metric]}@{k}"] == pytest.approx(want, abs=1e-9), name
        assert ours[f"{kind[metric]}@{k}"] == pytest.approx(got, abs=5e-6), name
    assert scores["main_score"] == scores["ndcg_at_10"]
    assert 0.3 < scores["ndcg_at_10"] < 1.0 and scores["mrr_at_10"] > 0.3  # not a trivial run


def test_mteb_writes_only_into_the_tmp_dir_and_never_connects(mteb_run):
    root = os.path.realpath(mteb_run["root"])
    outside = [p for p in mteb_run["written"]
               if not os.path.realpath(p).startswith(root + os.sep) and p != os.devnull]
    assert outside == []
    assert mteb_run["cwd_files"] == []
    assert any(p.endswith("XmodalToy_predictions.json") for p in mteb_run["written"])


def test_local_task_reads_only_local_files(tmp_path, monkeypatch):
    pytest.importorskip("mteb")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    _write_judged_task(tmp_path, np.random.default_rng(7))
    task = local_retrieval_task(tmp_path, name="XmodalToy", k_values=(10, 1))
    assert task.k_values == (1, 10) and task.metadata.type == "Retrieval"
    assert task.metadata.dataset["path"] == str(tmp_path.resolve())
    task.load_data()
    split = task.dataset["default"]["test"]
    assert len(split["corpus"]) == 30 and split["top_ranked"] is None
    assert "only_zero" not in split["queries"]["id"] and "only_zero" not in split["relevant_docs"]
    assert sorted(split["queries"]["id"]) == sorted(split["relevant_docs"])
    with pytest.raises(FileNotFoundError, match="corpus"):
        local_retrieval_task(tmp_path / "missing")

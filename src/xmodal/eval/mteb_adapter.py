"""MTEB bridge: an xmodal text encoder as an mteb model, and local BEIR-layout retrieval tasks.

Two parts:

* :func:`evaluate_local_retrieval` runs a retrieval task stored in BEIR layout (``corpus.jsonl``,
  ``queries.jsonl``, ``qrels.tsv`` or ``qrels/<split>.tsv``) with xmodal's own exact search
  (:func:`~xmodal.eval.paired.exact_top_k`) and :func:`~xmodal.eval.metrics.retrieval_metrics`.
  It needs no mteb, and no network.
* :class:`MtebEncoder` wraps any encoder with ``encode_query`` / ``encode_document`` in mteb's
  ``EncoderProtocol`` (``encode(inputs, *, task_metadata, hf_split, hf_subset, prompt_type)``,
  ``similarity``, ``similarity_pairwise``, ``mteb_model_meta``) for ``mteb.evaluate``. Importing
  this module does not import mteb; only :attr:`MtebEncoder.mteb_model_meta` and
  :func:`run_mteb` do (``pip install mteb``). The wrapper's test runs only when mteb is installed.

Numbers differ from mteb's in one documented way: here a query the search returns nothing for
scores 0, and queries without a relevant document are skipped (mteb skips those too).

Example:
    >>> import json, pathlib, tempfile, numpy as np
    >>> class Letters:  # embeds a text by its letter counts
    ...     def _e(self, texts, **kw):
    ...         v = np.array([[t.count(c) for c in "abc"] for t in texts], np.float32) + 1e-3
    ...         return v / np.linalg.norm(v, axis=1, keepdims=True)
    ...     encode_query = encode_document = _e
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> docs = [{"_id": "d1", "text": "aaa"}, {"_id": "d2", "title": "b", "text": "b"}]
    >>> _ = (root / "corpus.jsonl").write_text("\\n".join(json.dumps(d) for d in docs))
    >>> _ = (root / "queries.jsonl").write_text(json.dumps({"_id": "q", "text": "b"}))
    >>> _ = (root / "qrels.tsv").write_text("query-id\\tcorpus-id\\tscore\\nq\\td2\\t1\\n")
    >>> evaluate_local_retrieval(Letters(), root, k_values=(1,))["recall@1"]
    1.0
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from xmodal._optional import require

from .metrics import KINDS, retrieval_metrics
from .paired import exact_top_k


@dataclass(frozen=True)
class LocalRetrievalTask:
    """A BEIR-layout retrieval task read from disk."""

    corpus: dict[str, str]  # doc id -> "title text" (BEIR joins them with a space)
    queries: dict[str, str]  # query id -> text
    qrels: dict[str, dict[str, int]]  # query id -> doc id -> grade


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load_beir_folder(folder: str | Path, split: str = "test") -> LocalRetrievalTask:
    """Read ``corpus.jsonl``, ``queries.jsonl`` and ``qrels.tsv`` (or ``qrels/<split>.tsv``).

    Corpus lines are ``{"_id", "title"?, "text"}``; the document text is ``title + " " + text``
    stripped, as BEIR builds it. The qrels TSV has a header (``query-id corpus-id score``).
    Queries without qrels are dropped (they cannot be scored).
    """
    root = Path(folder)
    qrels_path = root / "qrels.tsv"
    if not qrels_path.exists():
        qrels_path = root / "qrels" / f"{split}.tsv"
    for p in (root / "corpus.jsonl", root / "queries.jsonl", qrels_path):
        if not p.exists():
            raise FileNotFoundError(f"BEIR layout needs {p}")
    corpus = {str(r["_id"]): f"{r.get('title') or ''} {r.get('text') or ''}".strip()
              for r in _read_jsonl(root / "corpus.jsonl")}
    qrels: dict[str, dict[str, int]] = {}
    with qrels_path.open(encoding="utf-8") as f:
        for n, line in enumerate(f):
            fields = line.rstrip("\n").split("\t")
            if n == 0 and not fields[-1].lstrip("-").isdigit():
                continue  # the header
            if len(fields) < 3:
                continue
            qrels.setdefault(fields[0], {})[fields[1]] = int(fields[2])
    queries = {str(r["_id"]): str(r["text"]) for r in _read_jsonl(root / "queries.jsonl")
               if str(r["_id"]) in qrels}
    return LocalRetrievalTask(corpus=corpus, queries=queries, qrels=qrels)


def evaluate_local_retrieval(
    encoder: Any, folder: str | Path, k_values: Sequence[int] = (1, 5, 10), *,
    split: str = "test", batch_size: int = 32, chunk_size: int = 4096,
) -> dict[str, float]:
    """Run a local BEIR-layout retrieval task with exact search and return its metrics.

    Args:
        encoder: Any object with ``encode_query`` and ``encode_document`` returning ``(n, d)``
            vectors (xmodal encoders add the model's query/document prompts).
        folder: The task folder (see :func:`load_beir_folder`).
        k_values: Cutoffs; the run keeps the top ``max(k_values)`` documents per query.
        split: Which ``qrels/<split>.tsv`` to read when there is no ``qrels.tsv``.
        batch_size: Encoding batch size.
        chunk_size: Rows scored at a time by the exact search.

    Returns:
        ``{"recall@k", "hit@k", "mrr@k", "ndcg@k", "map@k", "precision@k": mean}`` for each k.
    """
    task = load_beir_folder(folder, split)
    run = search_local_task(encoder, task, max(k_values), batch_size=batch_size,
                            chunk_size=chunk_size)
    names = [f"{kind}@{k}" for k in sorted(set(k_values)) for kind in KINDS]
    return retrieval_metrics(task.qrels, run, names)


def search_local_task(encoder: Any, task: LocalRetrievalTask, k: int, *, batch_size: int = 32,
                      chunk_size: int = 4096) -> dict[str, dict[str, float]]:
    """The exact top-``k`` run ``{query: {doc: score}}`` of ``encoder`` on ``task``."""
    doc_ids, qids = list(task.corpus), list(task.queries)
    if not doc_ids or not qids:
        return {}
    docs = np.asarray(encoder.encode_document([task.corpus[d] for d in doc_ids],
                                              batch_size=batch_size), np.float32)  # (m, d)
    queries = np.asarray(encoder.encode_query([task.queries[q] for q in qids],
                                              batch_size=batch_size), np.float32)  # (n, d)
    idx, scores = exact_top_k(queries, docs, k, chunk_size=chunk_size, doc_ids=doc_ids)
    return {q: {doc_ids[j]: float(s) for j, s in zip(idx[i], scores[i], strict=True)}
            for i, q in enumerate(qids)}


def _texts(batch: Any) -> list[str]:
    """Texts of one mteb batch: a dict with ``"text"`` (mteb 2) or a list of strings."""
    if isinstance(batch, dict):
        return [str(t) for t in batch["text"]]
    return [str(t) for t in batch]


class MtebEncoder:
    """An xmodal text encoder seen by mteb (its ``EncoderProtocol``); vectors are unit-norm,
    so similarity is the cosine (inner product).

    Example:
        >>> import numpy as np
        >>> class Ones:
        ...     def encode_query(self, texts, batch_size=32): return np.ones((len(texts), 2))
        ...     encode_document = encode_query
        >>> MtebEncoder(Ones()).encode([{"text": ["a", "b"]}], prompt_type="query").shape
        (2, 2)
    """

    def __init__(self, encoder: Any, *, name: str = "xmodal/encoder", revision: str = "local",
                 batch_size: int = 32) -> None:
        self.encoder, self.name, self.revision = encoder, name, revision
        self.batch_size = batch_size

    def encode(self, inputs: Iterable[Any], *, task_metadata: Any = None, hf_split: str = "",
               hf_subset: str = "", prompt_type: Any = None, **kwargs: Any) -> np.ndarray:
        """Embed every batch of ``inputs`` (an mteb DataLoader); queries with ``encode_query``,
        everything else with ``encode_document``."""
        kind = getattr(prompt_type, "value", prompt_type)
        embed = self.encoder.encode_query if kind == "query" else self.encoder.encode_document
        parts = [np.asarray(embed(texts, batch_size=self.batch_size), np.float32)
                 for texts in map(_texts, inputs) if texts]
        return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)  # (n, d)

    def similarity(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``(n, m)`` inner products."""
        return np.asarray(a) @ np.asarray(b).T

    def similarity_pairwise(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``(n,)`` row-wise inner products."""
        return np.einsum("nd,nd->n", np.asarray(a), np.asarray(b))

    @property
    def mteb_model_meta(self) -> Any:
        """mteb's ``ModelMeta`` for this model (imports mteb)."""
        mteb = require("mteb", "eval")
        fields = dict(name=self.name, revision=self.revision, release_date=None, languages=None,
                      loader=None, n_parameters=None, memory_usage_mb=None, max_tokens=None,
                      embed_dim=None, license=None, open_weights=None,
                      public_training_code=None, public_training_data=None,
                      framework=["NumPy"], similarity_fn_name="cosine", use_instructions=False,
                      training_datasets=None)
        # model_construct skips validation: mteb's required fields change between releases
        return mteb.ModelMeta.model_construct(**fields)


def run_mteb(encoder: Any, tasks: Any, **kwargs: Any) -> Any:
    """``mteb.evaluate(MtebEncoder(encoder), tasks, cache=None, **kwargs)`` (imports mteb).

    ``cache=None`` keeps mteb away from ``~/.cache/mteb``; load tasks from local data (see the
    module docstring) so that nothing is downloaded.
    """
    mteb = require("mteb", "eval")
    kwargs.setdefault("cache", None)
    model = encoder if isinstance(encoder, MtebEncoder) else MtebEncoder(encoder)
    return mteb.evaluate(model, tasks, **kwargs)

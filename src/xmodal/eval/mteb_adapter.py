"""MTEB bridge: an xmodal text encoder as an mteb 2.x model, and local BEIR-layout retrieval tasks.

Three parts:

* :func:`evaluate_local_retrieval` runs a retrieval task stored in BEIR layout (``corpus.jsonl``,
  ``queries.jsonl``, ``qrels.tsv`` or ``qrels/<split>.tsv``) with xmodal's own exact search
  (:func:`~xmodal.eval.paired.exact_top_k`) and :func:`~xmodal.eval.metrics.retrieval_metrics`.
  It needs no mteb, and no network.
* :class:`MtebEncoder` wraps any encoder with ``encode_query`` / ``encode_document`` in mteb's
  ``EncoderProtocol`` (``encode(inputs, *, task_metadata, hf_split, hf_subset, prompt_type)``
  over mteb's DataLoader of ``{"text": [...]}`` batches, ``similarity``,
  ``similarity_pairwise``, and ``mteb_model_meta``: a validated ``mteb.models.ModelMeta``).
* :func:`local_retrieval_task` makes the same folder an mteb ``AbsTaskRetrieval`` whose
  ``load_data`` reads the local files (nothing is fetched from the Hugging Face Hub), and
  :func:`run_mteb` runs ``mteb.evaluate`` on it (``cache=None``, no CO2 tracker) and returns
  mteb's scores (``ndcg_at_10``, ``map_at_10``, ``recall_at_10``, ``mrr_at_10``, ...).

Importing this module does not import mteb; only :attr:`MtebEncoder.mteb_model_meta`,
:func:`local_retrieval_task` and :func:`run_mteb` do (``pip install 'xmodal[eval]'``).

How mteb's numbers relate to :func:`evaluate_local_retrieval` on the same folder (checked by
``tests/eval/test_mteb_adapter.py`` with mteb 2.26):

* mteb's search scores every document with :meth:`MtebEncoder.similarity` (the inner product,
  as xmodal's exact search) and keeps the top ``max(k_values)``; its ``ndcg``, ``map``
  (trec ``map_cut``: ÷ all relevant documents), ``recall``, ``precision`` and ``hit_rate``
  (trec ``success``) are pytrec_eval's, *rounded to 5 decimals* by mteb; xmodal's equal the
  unrounded pytrec_eval values (so the two agree to 5e-6). mteb's ``mrr_at_k`` is its own
  (not rounded): 1/rank of the first document with grade > 0 in the top k, ties by document id
  descending, which is xmodal's ``mrr@k`` exactly. Ties in score are broken by document id
  descending everywhere (trec_eval's rule); mteb's ``torch.topk`` may keep a different tied
  document at the ``max(k_values)`` boundary, so ask mteb for a cut deeper than the one you read.
* Queries: mteb drops queries with no judgments at all, but would average a query judged only
  with grade 0 as 0; xmodal skips it. :func:`local_retrieval_task` leaves such queries out, so
  both average over the same queries. A judged query missing from ``queries.jsonl`` scores 0 in
  xmodal's mean and is ignored by mteb (pytrec_eval evaluates only queries it has a run for).
* ``accuracy`` (mteb: recall@1) and the ``nauc_*`` abstention scores have no xmodal
  counterpart.

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

import hashlib
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
    if isinstance(batch, str):
        return [batch]
    return [str(t) for t in batch]


def _rows(x: Any) -> np.ndarray:
    """``x`` (numpy or a CPU torch tensor) as a 2-d float32 array."""
    a = np.asarray(x, np.float32)
    return a[None, :] if a.ndim == 1 else a


class MtebEncoder:
    """An xmodal text encoder seen by mteb 2.x (its ``EncoderProtocol``).

    mteb calls :meth:`encode` with a torch ``DataLoader`` whose batches are dicts (``"text"``: a
    list of strings; documents arrive as ``title + " " + text``, as BEIR joins them) and a
    ``prompt_type`` of ``PromptType.query`` or ``PromptType.document``; queries go to
    ``encode_query``, everything else to ``encode_document``. Similarity is the inner product:
    xmodal vectors are unit-norm, so it is the cosine (``similarity_fn_name="cosine"``).

    Args:
        encoder: Anything with ``encode_query(texts, batch_size=)`` and
            ``encode_document(texts, batch_size=)`` returning ``(n, d)`` vectors.
        name: The model name mteb records; it must look like ``"organisation/model"``.
        revision: The revision mteb records (results are keyed by name and revision).
        batch_size: Batch size handed to the encoder (mteb's own batches are re-batched).
        languages: ISO 639-3 + script codes (``"eng-Latn"``), or ``None`` for unknown.
        release_date: ``"YYYY-MM-DD"`` or ``None``.
        embed_dim: The vector size, or ``None`` to read ``encoder.dim`` when it has one.

    Example:
        >>> import numpy as np
        >>> class Ones:
        ...     def encode_query(self, texts, batch_size=32): return np.ones((len(texts), 2))
        ...     encode_document = encode_query
        >>> MtebEncoder(Ones()).encode([{"text": ["a", "b"]}], prompt_type="query").shape
        (2, 2)
    """

    def __init__(self, encoder: Any, *, name: str = "xmodal/encoder", revision: str = "local",
                 batch_size: int = 32, languages: Sequence[str] | None = None,
                 release_date: str | None = None, embed_dim: int | None = None) -> None:
        if "/" not in name:
            raise ValueError(f"mteb needs a model name like 'organisation/model', got {name!r}")
        self.encoder, self.name, self.revision = encoder, name, revision
        self.batch_size = batch_size
        self.languages = list(languages) if languages is not None else None
        self.release_date = release_date
        dim = embed_dim if embed_dim is not None else getattr(encoder, "dim", None)
        self.embed_dim = int(dim) if isinstance(dim, (int, np.integer)) else None

    def encode(self, inputs: Iterable[Any], *, task_metadata: Any = None, hf_split: str = "",
               hf_subset: str = "", prompt_type: Any = None, **kwargs: Any) -> np.ndarray:
        """Embed every batch of ``inputs`` (mteb's DataLoader).

        Args:
            inputs: Batches: dicts with a ``"text"`` list (mteb 2), or lists of strings.
            task_metadata: mteb's task metadata (unused: xmodal encoders own their prompts).
            hf_split: The split being encoded (unused).
            hf_subset: The subset being encoded (unused).
            prompt_type: ``PromptType.query`` (or ``"query"``) embeds with ``encode_query``;
                anything else (``document``, ``None``) with ``encode_document``.
            **kwargs: mteb's encode kwargs (``batch_size``, ``show_progress_bar``…); ignored.

        Returns:
            ``(n, d)`` float32 vectors, one per input text, in input order.
        """
        kind = getattr(prompt_type, "value", prompt_type)
        embed = self.encoder.encode_query if kind == "query" else self.encoder.encode_document
        parts = [np.asarray(embed(texts, batch_size=self.batch_size), np.float32)
                 for texts in map(_texts, inputs) if texts]
        return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)  # (n, d)

    def similarity(self, a: Any, b: Any) -> np.ndarray:
        """``(n, m)`` inner products: the cosine for xmodal's unit-norm vectors, and exactly
        what :func:`evaluate_local_retrieval`'s exact search computes."""
        return _rows(a) @ _rows(b).T

    def similarity_pairwise(self, a: Any, b: Any) -> np.ndarray:
        """``(n,)`` row-wise inner products."""
        return np.einsum("nd,nd->n", _rows(a), _rows(b))

    @property
    def mteb_model_meta(self) -> Any:
        """mteb's ``ModelMeta`` for this model, validated by mteb (imports mteb; no network)."""
        require("mteb", "eval")
        from mteb.models.model_meta import ModelMeta

        return ModelMeta(
            loader=None, name=self.name, revision=self.revision,
            release_date=self.release_date, languages=self.languages, n_parameters=None,
            memory_usage_mb=None, max_tokens=None, embed_dim=self.embed_dim, license=None,
            open_weights=None, public_training_code=None, public_training_data=None,
            framework=["NumPy"], similarity_fn_name="cosine", use_instructions=None,
            training_datasets=None, modalities=["text"], model_type=["dense"],
        )


def _files_digest(folder: Path, split: str) -> str:
    """A short content hash of a BEIR folder's files: the task's ``dataset.revision``."""
    h = hashlib.sha256()
    for name in ("corpus.jsonl", "queries.jsonl", "qrels.tsv", f"qrels/{split}.tsv"):
        p = folder / name
        if p.exists():
            h.update(name.encode())
            h.update(p.read_bytes())
    return h.hexdigest()[:16]


def local_retrieval_task(
    folder: str | Path, *, name: str = "XmodalLocalRetrieval", split: str = "test",
    k_values: Sequence[int] | None = None, languages: Sequence[str] = ("eng-Latn",),
    description: str = "A retrieval task read from local BEIR-layout files.",
    main_score: str = "ndcg_at_10",
) -> Any:
    """An mteb ``AbsTaskRetrieval`` whose data are the BEIR-layout files in ``folder``.

    The task never touches the Hugging Face Hub: ``load_data`` reads ``corpus.jsonl``,
    ``queries.jsonl`` and ``qrels.tsv`` (or ``qrels/<split>.tsv``) with
    :func:`load_beir_folder` and builds mteb's ``RetrievalSplitData`` (in-memory
    ``datasets.Dataset`` objects; columns ``id``, ``title``, ``text``). ``metadata.dataset`` holds
    the folder path and a content hash of its files as the revision. Queries without any judged
    document of grade ≥ 1 are left out, as :func:`evaluate_local_retrieval` leaves them out
    (mteb's own filter drops only queries with *no* judgments and would average the rest in as 0).

    Args:
        folder: The task folder.
        name: The task name mteb reports (and uses for prediction files).
        split: The split name; also which ``qrels/<split>.tsv`` to read.
        k_values: Cutoffs mteb reports (its default: 1, 3, 5, 10, 20, 100, 1000). mteb retrieves
            ``max(k_values)`` documents per query.
        languages: The task's languages (``"eng-Latn"`` style).
        description: The task description.
        main_score: The score mteb calls the main one.

    Returns:
        An instance of a fresh ``AbsTaskRetrieval`` subclass (imports mteb and datasets).
    """
    require("mteb", "eval")
    from datasets import Dataset
    from mteb.abstasks.retrieval import AbsTaskRetrieval
    from mteb.abstasks.retrieval_dataset_loaders import RetrievalSplitData
    from mteb.abstasks.task_metadata import TaskMetadata

    root = Path(folder).resolve()
    load_beir_folder(root, split)  # fail now, not inside mteb, when a file is missing
    metadata = TaskMetadata(
        name=name, description=description, type="Retrieval", category="t2t",
        modalities=["text"], eval_splits=[split], eval_langs=list(languages),
        main_score=main_score, dataset={"path": str(root), "revision": _files_digest(root, split)},
        reference=None, date=None, domains=None, task_subtypes=None, license=None,
        annotations_creators=None, dialect=None, sample_creation=None, bibtex_citation="",
    )

    def load_data(self: Any, num_proc: int | None = None, **kwargs: Any) -> None:
        if self.data_loaded:
            return
        data = load_beir_folder(root, split)
        titles = {str(r["_id"]): (r.get("title") or "", r.get("text") or "")
                  for r in _read_jsonl(root / "corpus.jsonl")}
        qids = [q for q in data.queries if any(g >= 1 for g in data.qrels[q].values())]
        corpus = Dataset.from_dict({"id": list(titles),
                                    "title": [t for t, _ in titles.values()],
                                    "text": [x for _, x in titles.values()]})
        queries = Dataset.from_dict({"id": qids, "text": [data.queries[q] for q in qids]})
        relevant = {q: dict(data.qrels[q]) for q in qids}
        self.dataset = {"default": {split: RetrievalSplitData(
            corpus=corpus, queries=queries, relevant_docs=relevant, top_ranked=None)}}
        self.data_loaded = True

    attrs: dict[str, Any] = {"metadata": metadata, "load_data": load_data,
                             "__doc__": f"Local BEIR-layout retrieval task read from {root}."}
    if k_values is not None:
        attrs["k_values"] = tuple(sorted({int(k) for k in k_values}))
    cls = type(f"LocalRetrieval_{name}", (AbsTaskRetrieval,), attrs)
    return cls()


def mteb_split_scores(result: Any, split: str = "test", subset: str = "default"
                      ) -> dict[str, float]:
    """The numeric scores of one split and subset of the first task in an mteb result."""
    task_result = result.task_results[0] if hasattr(result, "task_results") else result
    for row in task_result.scores[split]:
        if row.get("hf_subset", "default") == subset:
            return {k: float(v) for k, v in row.items()
                    if isinstance(v, (int, float)) and not isinstance(v, bool)}
    raise KeyError(f"no scores for split {split!r}, subset {subset!r}")


def run_mteb(encoder: Any, task_or_path: Any, *, name: str = "XmodalLocalRetrieval",
             split: str = "test", k_values: Sequence[int] | None = None,
             prediction_folder: str | Path | None = None, raw: bool = False,
             **kwargs: Any) -> Any:
    """Run mteb's evaluation of ``encoder`` on one task and return mteb's scores.

    Args:
        encoder: An xmodal encoder (wrapped in :class:`MtebEncoder`) or an ``MtebEncoder``.
        task_or_path: An mteb task (or list of tasks), or a BEIR-layout folder (made into a task
            by :func:`local_retrieval_task` with ``name``, ``split`` and ``k_values``).
        name: Task name for a folder.
        split: Split for a folder, and the split whose scores are returned.
        k_values: Cutoffs for a folder (mteb's defaults otherwise).
        prediction_folder: Where mteb writes its run (``<task>_predictions.json``); none if None.
        raw: Return mteb's ``ModelResult`` instead of the score dict.
        **kwargs: More ``mteb.evaluate`` options. ``cache=None`` (keeps mteb out of
            ``~/.cache/mteb``), ``co2_tracker=False`` and ``show_progress_bar=False`` are the
            defaults here.

    Returns:
        ``{"ndcg_at_10": …, "map_at_10": …, "recall_at_10": …, "mrr_at_10": …, …}`` for the
        split's ``default`` subset of the first task, or the ``ModelResult`` with ``raw=True``.
    """
    mteb = require("mteb", "eval")
    kwargs.setdefault("cache", None)
    kwargs.setdefault("co2_tracker", False)
    kwargs.setdefault("show_progress_bar", False)
    model = encoder if isinstance(encoder, MtebEncoder) else MtebEncoder(encoder)
    task = task_or_path
    if isinstance(task_or_path, (str, Path)):
        task = local_retrieval_task(task_or_path, name=name, split=split, k_values=k_values)
    result = mteb.evaluate(model, task, prediction_folder=prediction_folder, **kwargs)
    return result if raw else mteb_split_scores(result, split)

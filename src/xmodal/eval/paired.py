"""Retrieval metrics for paired embeddings, computed in chunks without a full score matrix.

Scores are inner products (cosines for unit vectors). The top k per query is found chunk by
chunk (``argpartition`` per chunk, then a merge) and is *exact* under trec_eval's tie rule:
score descending, then document id descending as strings. Ties at the k-th place are resolved
by the same rule, so the numbers equal :func:`xmodal.eval.metrics.retrieval_metrics` on the full
dict form (``tests/eval`` checks this with planted ties and chunks smaller than n).

Without ``doc_ids`` the documents are named by zero-padded indices (``"007"``), so among equal
scores the document with the *higher index* ranks first.

Example:
    >>> import numpy as np
    >>> images = np.eye(3, dtype=np.float32)
    >>> texts = np.array([[1, 0, 0], [0, 0, 1], [0, 1, 0]], np.float32)
    >>> r = both_directions(images, texts, ks=(1,))
    >>> r["i2t"]["hit@1"], r["t2i"]["recall@1"]
    (0.3333333333333333, 0.3333333333333333)
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import numpy as np

from .metrics import KINDS

Positives = Sequence[Collection[int]] | Mapping[int, Collection[int]]


def default_doc_ids(m: int) -> list[str]:
    """Zero-padded indices, so string order equals index order.

    Example:
        >>> default_doc_ids(11)[:2], default_doc_ids(11)[-1]
        (['00', '01'], '10')
    """
    width = len(str(max(m - 1, 0)))
    return [f"{j:0{width}d}" for j in range(m)]


def _tie_ranks(doc_ids: Sequence[str] | None, m: int) -> np.ndarray:
    """``(m,)`` int64: a higher value wins a score tie (id descending as strings)."""
    if doc_ids is None:
        return np.arange(m, dtype=np.int64)
    if len(doc_ids) != m:
        raise ValueError(f"doc_ids has {len(doc_ids)} ids for {m} documents")
    ids = [str(d) for d in doc_ids]
    if len(set(ids)) != m:
        raise ValueError("doc_ids must be unique")
    ranks = np.empty(m, dtype=np.int64)
    ranks[np.array(sorted(range(m), key=ids.__getitem__), dtype=np.int64)] = np.arange(m)
    return ranks


def _select(scores: np.ndarray, ties: np.ndarray, k: int) -> np.ndarray:
    """Column positions of the best ``k`` per row, best first. ``scores``, ``ties``: (r, c)."""
    r, c = scores.shape
    if c > k:
        # the k-th best score per row; everything above it is in, ties at it go by tie rank
        kth = np.partition(scores, c - k, axis=1)[:, c - k : c - k + 1]  # (r, 1)
        above, at = scores > kth, scores == kth
        top = int(ties.max()) + 1  # tie ranks are distinct per row, so keys at kth are too
        key = np.where(above, top, np.where(at, ties, -1))  # (r, c)
        cols = np.argpartition(-key, k - 1, axis=1)[:, :k]  # (r, k) unordered
    else:
        cols = np.broadcast_to(np.arange(c), (r, c))
    s = np.take_along_axis(scores, cols, axis=1)
    t = np.take_along_axis(ties, cols, axis=1)
    order = np.lexsort((-t, -s), axis=1)  # score descending, then tie rank descending
    return np.take_along_axis(cols, order, axis=1)


def exact_top_k(queries: np.ndarray, docs: np.ndarray, k: int, *, chunk_size: int = 4096,
                doc_ids: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Exact inner-product top ``k`` per query, in ``chunk_size`` blocks of queries and docs.

    Args:
        queries: ``(n, d)`` query vectors.
        docs: ``(m, d)`` document vectors.
        k: How many documents per query (fewer when ``m < k``).
        chunk_size: Rows of queries and of documents scored at a time.
        doc_ids: Document ids for the tie rule (default: zero-padded indices).

    Returns:
        ``(indices, scores)``, both ``(n, min(k, m))``, best first.

    Example:
        >>> import numpy as np
        >>> idx, s = exact_top_k(np.ones((1, 2)), np.ones((3, 2)), 2)
        >>> idx.tolist()  # all tied: the highest index first
        [[2, 1]]
    """
    q = np.asarray(queries)
    x = np.asarray(docs)
    if q.ndim != 2 or x.ndim != 2 or q.shape[1] != x.shape[1]:
        raise ValueError(f"need (n, d) queries and (m, d) docs, got {q.shape} and {x.shape}")
    if not (np.isfinite(q).all() and np.isfinite(x).all()):
        raise ValueError("embeddings must be finite")
    if k < 1 or chunk_size < 1:
        raise ValueError("k and chunk_size must be >= 1")
    n, m = q.shape[0], x.shape[0]
    ranks = _tie_ranks(doc_ids, m)  # (m,)
    kk = min(k, m)
    out_idx = np.zeros((n, kk), dtype=np.int64)
    out_s = np.zeros((n, kk), dtype=np.result_type(q.dtype, x.dtype, np.float32))
    for a in range(0, n, chunk_size):
        qc = q[a : a + chunk_size]  # (r, d)
        best_i = np.zeros((len(qc), 0), dtype=np.int64)
        best_s = np.zeros((len(qc), 0), dtype=out_s.dtype)
        for b in range(0, m, chunk_size):
            s = qc @ x[b : b + chunk_size].T  # (r, c)
            cand_i = np.concatenate([best_i, np.broadcast_to(
                np.arange(b, b + s.shape[1]), s.shape)], axis=1)  # (r, kk + c)
            cand_s = np.concatenate([best_s, s], axis=1)
            cols = _select(cand_s, ranks[cand_i], kk)
            best_i = np.take_along_axis(cand_i, cols, axis=1)
            best_s = np.take_along_axis(cand_s, cols, axis=1)
        out_idx[a : a + len(qc)] = best_i
        out_s[a : a + len(qc)] = best_s
    return out_idx, out_s


def _positive_sets(positives: Positives, n: int, m: int) -> list[frozenset[int]]:
    if isinstance(positives, Mapping):
        sets = [frozenset(int(j) for j in positives.get(i, ())) for i in range(n)]
    else:
        if len(positives) != n:
            raise ValueError(f"positives has {len(positives)} entries for {n} queries")
        sets = [frozenset(int(j) for j in p) for p in positives]
    for i, p in enumerate(sets):
        if any(j < 0 or j >= m for j in p):
            raise ValueError(f"query {i} has a positive outside 0..{m - 1}")
    return sets


def paired_retrieval_metrics(
    queries: np.ndarray, docs: np.ndarray, positives: Positives,
    ks: Sequence[int] = (1, 5, 10), *, chunk_size: int = 4096,
    doc_ids: Sequence[str] | None = None,
) -> dict[str, float]:
    """Recall, hit, MRR, nDCG, MAP and precision at each k, with binary relevance.

    Queries without positives are skipped, as in :func:`~xmodal.eval.metrics.retrieval_metrics`.

    Args:
        queries: ``(n, d)`` query vectors.
        docs: ``(m, d)`` document vectors.
        positives: For each query index, the set of relevant document indices (a sequence of
            length n, or a mapping; missing keys mean no positives).
        ks: Cutoffs.
        chunk_size: Rows of queries and documents scored at a time.
        doc_ids: Document ids for the tie rule (default: zero-padded indices).

    Returns:
        ``{"recall@1": ..., "hit@1": ..., ...}`` for every metric kind and k.

    Example:
        >>> import numpy as np
        >>> q = np.array([[1.0, 0.0]])
        >>> d = np.array([[0.0, 1.0], [1.0, 0.0], [0.9, 0.1]])
        >>> m = paired_retrieval_metrics(q, d, [{1, 0}], ks=(2,))
        >>> m["recall@2"], m["precision@2"], m["mrr@2"]
        (0.5, 0.5, 1.0)
    """
    ks = sorted(set(int(k) for k in ks))
    if not ks or ks[0] < 1:
        raise ValueError("ks must hold cutoffs >= 1")
    n, m = np.shape(queries)[0], np.shape(docs)[0]
    sets = _positive_sets(positives, n, m)
    top, _ = exact_top_k(queries, docs, ks[-1], chunk_size=chunk_size, doc_ids=doc_ids)
    keep = [i for i in range(n) if sets[i]]
    depth = ks[-1]
    rel = np.zeros((len(keep), depth), dtype=bool)  # (n', K) relevance of ranked docs
    for row, i in enumerate(keep):
        rel[row, : top.shape[1]] = [j in sets[i] for j in top[i]]
    n_rel = np.array([len(sets[i]) for i in keep], dtype=np.float64)  # (n',)
    ranks = np.arange(1, depth + 1, dtype=np.float64)  # (K,)
    hits = np.cumsum(rel, axis=1)  # (n', K)
    first = np.where(rel.any(axis=1), rel.argmax(axis=1) + 1, 0)  # (n',) 0: none
    prec_at_rel = np.cumsum(np.where(rel, hits / ranks, 0.0), axis=1)  # (n', K)
    dcg = np.cumsum(rel / np.log2(ranks + 1), axis=1)  # (n', K)
    ideal = np.cumsum(1.0 / np.log2(ranks + 1))  # (K,)
    out: dict[str, float] = {}
    if not keep:
        return {f"{kind}@{k}": 0.0 for k in ks for kind in KINDS}
    for k in ks:
        h = hits[:, k - 1]
        idcg = ideal[np.minimum(n_rel, k).astype(np.int64) - 1]
        values = {
            "recall": h / n_rel,
            "hit": (h > 0).astype(np.float64),
            "mrr": np.where((first > 0) & (first <= k), 1.0 / np.maximum(first, 1), 0.0),
            "ndcg": dcg[:, k - 1] / idcg,
            "map": prec_at_rel[:, k - 1] / n_rel,
            "precision": h / k,
        }
        for kind in KINDS:
            out[f"{kind}@{k}"] = float(values[kind].mean())
    return out


def both_directions(
    a: np.ndarray, b: np.ndarray, ks: Sequence[int] = (1, 5, 10), *,
    a_groups: Sequence[object] | None = None, b_groups: Sequence[object] | None = None,
    names: tuple[str, str] = ("i2t", "t2i"), chunk_size: int = 4096,
) -> dict[str, dict[str, float]]:
    """Retrieval metrics a→b and b→a for matched data (e.g. images ``a`` and texts ``b``).

    Item ``a[i]`` and ``b[j]`` are a positive pair when their group labels are equal. By default
    the groups are the row indices, i.e. ``a[i]`` matches ``b[i]`` only. With several captions
    per image pass ``b_groups`` = the image index of each caption; when captions repeat across
    images, give items that share a caption the same group so each query has all its positives.

    Args:
        a: ``(n, d)`` vectors (images, say).
        b: ``(m, d)`` vectors (texts, say).
        ks: Cutoffs.
        a_groups: Group label per row of ``a`` (default: ``range(n)``).
        b_groups: Group label per row of ``b`` (default: ``range(m)``).
        names: Keys for the a→b and b→a results.
        chunk_size: Rows scored at a time.

    Returns:
        ``{names[0]: metrics a→b, names[1]: metrics b→a}``.

    Example:
        >>> import numpy as np
        >>> imgs = np.eye(2)
        >>> caps = np.array([[1.0, 0.0], [0.8, 0.2], [0.0, 1.0]])
        >>> r = both_directions(imgs, caps, ks=(1,), b_groups=[0, 0, 1])
        >>> r["i2t"]["recall@1"], r["t2i"]["hit@1"]
        (0.75, 1.0)
    """
    ga = list(range(len(a))) if a_groups is None else list(a_groups)
    gb = list(range(len(b))) if b_groups is None else list(b_groups)
    if len(ga) != len(a) or len(gb) != len(b):
        raise ValueError("need one group label per row of a and of b")
    where_b: dict[object, set[int]] = {}
    for j, g in enumerate(gb):
        where_b.setdefault(g, set()).add(j)
    where_a: dict[object, set[int]] = {}
    for i, g in enumerate(ga):
        where_a.setdefault(g, set()).add(i)
    a2b = [where_b.get(g, set()) for g in ga]
    b2a = [where_a.get(g, set()) for g in gb]
    return {
        names[0]: paired_retrieval_metrics(a, b, a2b, ks, chunk_size=chunk_size),
        names[1]: paired_retrieval_metrics(b, a, b2a, ks, chunk_size=chunk_size),
    }

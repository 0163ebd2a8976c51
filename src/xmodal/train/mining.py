"""Hard-negative mining: for each query, pick corpus items that score high but are not positives.

What it is: exact cosine search of every query against the corpus (in chunks of queries, never the
full Q×C matrix at once), then, per query, the items ranked in ``[rank_min, rank_max]`` that are
not its positives, minus those that look like unlabelled positives, of which ``num_negatives`` are
kept: the best-ranked (``sampling="top"``) or a seeded random sample (``"random"``).

Why the margins: a corpus item that scores about as high as the labelled positive is often a
positive nobody labelled. Training a contrastive loss to push it away teaches the model the wrong
thing (false negatives hurt contrastive training), so a candidate is dropped when
``score > positive_score - absolute_margin``, ``score > positive_score * (1 - relative_margin)``
or ``score > max_score`` (each test only when its parameter is set). With several positives the
*lowest* positive score is used, which drops more candidates (the conservative choice).

Mirrors sentence-transformers' ``util.mine_hard_negatives`` (``range_min``/``range_max`` are
``rank_min``/``rank_max`` here, with 1-based ranks over the whole corpus, positives included).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = ["EXACT_MAX_CORPUS", "MinedNegatives", "mine_hard_negatives"]

_NORM_TOL = 1e-3
EXACT_MAX_CORPUS = 200_000
"""Above this many corpus items ``search="auto"`` mines with the index stage's ANN."""


@dataclass(frozen=True)
class MinedNegatives:
    """Mined negatives: ``indices`` (Q, k) int64 padded with -1, ``scores`` (Q, k) float32 padded
    with NaN, ``counts`` (Q,) int64 (how many were found per query) and
    ``dropped_as_false_negatives`` (candidates removed by the margins / ``max_score``)."""

    indices: np.ndarray
    scores: np.ndarray
    counts: np.ndarray
    dropped_as_false_negatives: int

    @property
    def num_short(self) -> int:
        """How many queries got fewer than ``num_negatives`` negatives."""
        return int((self.counts < self.indices.shape[1]).sum())


def _check_vectors(name: str, x: np.ndarray) -> None:
    if not isinstance(x, np.ndarray) or x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D numpy array (n, d)")
    if x.dtype != np.float32:
        raise ValueError(f"{name} must be float32, got {x.dtype}")
    bad = ~np.isfinite(x).all(axis=1)
    if bad.any():
        raise ValueError(f"{name} row {int(np.argmax(bad))} contains NaN or Inf")
    norms = np.linalg.norm(x.astype(np.float64), axis=1)  # (n,)
    off = np.abs(norms - 1.0) > _NORM_TOL
    if off.any():
        row = int(np.argmax(off))
        raise ValueError(f"{name} row {row} is not L2-normalised (norm {norms[row]:.6g})")


def mine_hard_negatives(
    query_vectors: np.ndarray,
    corpus_vectors: np.ndarray,
    positives: Sequence[int | Sequence[int]],
    *,
    num_negatives: int = 7,
    rank_min: int = 2,
    rank_max: int = 200,
    absolute_margin: float | None = None,
    relative_margin: float | None = 0.05,
    max_score: float | None = None,
    sampling: Literal["top", "random"] = "top",
    seed: int = 0,
    chunk_size: int = 4096,
    search: Literal["auto", "exact", "index"] = "auto",
) -> MinedNegatives:
    """Mine ``num_negatives`` hard negatives per query by exact cosine search.

    Args:
        query_vectors: (Q, d) float32, rows L2-normalised.
        corpus_vectors: (C, d) float32, rows L2-normalised. Score = cosine = dot product.
        positives: per query, the corpus index of its positive or a sequence of them (≥ 1).
        num_negatives: negatives per query (k); fewer when not enough candidates survive.
        rank_min, rank_max: 1-based rank window of candidates, inclusive. The corpus is ranked by
            score, ties broken by lower corpus index; positives are excluded from the window.
        absolute_margin: drop candidates with ``score > positive_score - absolute_margin``.
        relative_margin: drop candidates with ``score > positive_score * (1 - relative_margin)``.
        max_score: drop candidates with ``score > max_score``.
            ``positive_score`` is the lowest score among the query's positives.
        sampling: ``"top"`` keeps the best-ranked survivors; ``"random"`` a sample drawn with
            ``numpy.random.default_rng(seed)`` (queries in order), returned in rank order.
        chunk_size: queries scored at once (memory ~ chunk_size × C × 8 bytes).
        search: ``"exact"`` scores every query against the whole corpus; ``"index"`` finds each
            query's top ``rank_max`` with the index stage's ANN (a temporary Qdrant Edge
            collection, HNSW m=16, ef=max(128, rank_max)) and scores positives exactly;
            ``"auto"`` (default) is exact up to :data:`EXACT_MAX_CORPUS` corpus items.

    Example: query at 0°, corpus at 0°, 10°, 30°, 60°, 90°, positive 0. The item at 10° (cosine
    0.985 > 1 × 0.95) is dropped as a likely false negative.

    >>> a = np.deg2rad([0.0, 10.0, 30.0, 60.0, 90.0])
    >>> corpus = np.stack([np.cos(a), np.sin(a)], axis=1).astype(np.float32)
    >>> mined = mine_hard_negatives(corpus[:1], corpus, [0], num_negatives=2)
    >>> mined.indices.tolist(), mined.counts.tolist(), mined.dropped_as_false_negatives
    ([[2, 3]], [2], 1)
    """
    _check_vectors("query_vectors", query_vectors)
    _check_vectors("corpus_vectors", corpus_vectors)
    (q_n, dim), (c_n, c_dim) = query_vectors.shape, corpus_vectors.shape
    if dim != c_dim:
        raise ValueError(f"dimension mismatch: query_vectors d={dim}, corpus_vectors d={c_dim}")
    if len(positives) != q_n:
        raise ValueError(f"positives has {len(positives)} entries for {q_n} queries")
    if num_negatives < 1 or chunk_size < 1:
        raise ValueError("num_negatives and chunk_size must be >= 1")
    if not 1 <= rank_min <= rank_max:
        raise ValueError(f"need 1 <= rank_min <= rank_max, got {rank_min}, {rank_max}")
    if sampling not in ("top", "random"):
        raise ValueError(f"sampling must be 'top' or 'random', got {sampling!r}")
    for nm, m in (("absolute_margin", absolute_margin), ("relative_margin", relative_margin)):
        if m is not None and m < 0:
            raise ValueError(f"{nm} must be >= 0, got {m}")
    pos_lists: list[np.ndarray] = []
    for i, p in enumerate(positives):
        arr = np.atleast_1d(np.asarray(p, dtype=np.int64))  # (P_i,)
        if arr.size == 0 or arr.ndim != 1 or (arr < 0).any() or (arr >= c_n).any():
            raise ValueError(f"positives[{i}] must be >= 1 corpus index in [0, {c_n})")
        pos_lists.append(arr)

    k = num_negatives
    indices = np.full((q_n, k), -1, dtype=np.int64)  # (Q, k)
    scores = np.full((q_n, k), np.nan, dtype=np.float32)  # (Q, k)
    counts = np.zeros(q_n, dtype=np.int64)  # (Q,)
    dropped = 0
    rng = np.random.default_rng(seed)
    hi = min(rank_max, c_n)
    use_index = search == "index" or (search == "auto" and c_n > EXACT_MAX_CORPUS)
    ranked = (_ranked_by_index(query_vectors, corpus_vectors, hi, chunk_size) if use_index
              else _ranked_exactly(query_vectors, corpus_vectors, hi, chunk_size))
    corpus64 = corpus_vectors.astype(np.float64)  # (C, d)
    for qi, order, order_scores in ranked:  # the query's top-hi corpus items, best first
        pos = pos_lists[qi]
        window = order[rank_min - 1 :]
        keep = np.isin(window, pos, invert=True)
        cand, cs = window[keep], order_scores[rank_min - 1 :][keep]  # (W',)
        p_score = float((corpus64[pos] @ query_vectors[qi].astype(np.float64)).min())
        bad = np.zeros(cand.shape, dtype=bool)
        if absolute_margin is not None:
            bad |= cs > p_score - absolute_margin
        if relative_margin is not None:
            bad |= cs > p_score * (1.0 - relative_margin)
        if max_score is not None:
            bad |= cs > max_score
        dropped += int(bad.sum())
        elig, elig_s = cand[~bad], cs[~bad]  # (E,), rank order
        if sampling == "random" and elig.size > k:
            chosen = np.sort(rng.choice(elig.size, size=k, replace=False))
            elig, elig_s = elig[chosen], elig_s[chosen]
        n = min(k, elig.size)
        indices[qi, :n] = elig[:n]
        scores[qi, :n] = elig_s[:n]
        counts[qi] = n
    return MinedNegatives(indices, scores, counts, dropped)


def _ranked_exactly(queries: np.ndarray, corpus: np.ndarray, hi: int, chunk_size: int):
    """Yield (query index, top-``hi`` corpus indices, their scores): exact, ties by index."""
    corpus64 = corpus.astype(np.float64)  # (C, d)
    c_n = corpus.shape[0]
    for start in range(0, queries.shape[0], chunk_size):
        q64 = queries[start : start + chunk_size].astype(np.float64)  # (B, d)
        s = (q64 @ corpus64.T).astype(np.float32)  # (B, C)
        if hi < c_n:  # the top hi (plus every item tied with the hi-th), then a stable sort
            kth = -np.partition(-s, hi - 1, axis=1)[:, hi - 1 : hi]  # (B, 1)
        for b in range(s.shape[0]):
            row = s[b]
            cand = np.flatnonzero(row >= kth[b, 0]) if hi < c_n else np.arange(c_n)
            order = cand[np.lexsort((cand, -row[cand]))][:hi]  # score desc, then index
            yield start + b, order, row[order]


def _ranked_by_index(queries: np.ndarray, corpus: np.ndarray, hi: int, chunk_size: int):
    """Yield (query index, top-``hi`` corpus indices, their scores) from a temporary
    Qdrant Edge collection (approximate: HNSW)."""
    import tempfile

    from xmodal.index import open_index

    with tempfile.TemporaryDirectory(prefix="xmodal-mining-") as folder:
        index = open_index(folder, optimize_after=corpus.shape[0] + 1)
        try:
            col = index.create_collection("corpus", dim=corpus.shape[1], model="mining",
                                          modality="any")
            ids = [str(i) for i in range(corpus.shape[0])]
            for s in range(0, len(ids), 10_000):
                col.upsert(ids[s : s + 10_000], corpus[s : s + 10_000], normalize=True)
            col.optimize()
            for start in range(0, queries.shape[0], chunk_size):
                block = queries[start : start + chunk_size]
                for b, hits in enumerate(col.search(block, k=hi, normalize=True)):
                    order = np.array([int(i) for i in hits.ids], dtype=np.int64)
                    yield start + b, order, np.asarray(hits.scores, dtype=np.float32)
        finally:
            index.close()

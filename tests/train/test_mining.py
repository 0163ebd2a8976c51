"""Tests for xmodal.train.mining: hand-computed oracles on a 2-D corpus plus a brute-force check."""

from __future__ import annotations

import numpy as np
import pytest

from xmodal.train.mining import MinedNegatives, mine_hard_negatives

# Corpus on the unit circle; cosine to the query at 0° is cos(angle):
# idx:    0     1      2      3      4     5      6       7
# angle:  0°    5°     20°    40°    60°   80°    100°    180°
# cos:    1.0   .9962  .9397  .7660  .5    .1736  -.1736  -1.0   (rank = idx + 1)
ANGLES = [0.0, 5.0, 20.0, 40.0, 60.0, 80.0, 100.0, 180.0]


def _unit(deg: list[float]) -> np.ndarray:
    a = np.deg2rad(np.asarray(deg, dtype=np.float64))
    return np.stack([np.cos(a), np.sin(a)], axis=1).astype(np.float32)


CORPUS = _unit(ANGLES)
QUERY = _unit([0.0])


def _mine(positives: list = [0], **kw) -> MinedNegatives:  # noqa: B006
    kw.setdefault("relative_margin", None)
    return mine_hard_negatives(QUERY, CORPUS, positives, **kw)


def test_positives_excluded_and_rank_window() -> None:
    m = _mine(num_negatives=3, rank_min=1, rank_max=8)
    assert m.indices.tolist() == [[1, 2, 3]]  # 0 is the positive (rank 1)
    assert m.indices.dtype == np.int64 and m.scores.dtype == np.float32
    np.testing.assert_allclose(m.scores[0], np.cos(np.deg2rad([5, 20, 40])), atol=1e-6)
    m = _mine(num_negatives=7, rank_min=3, rank_max=5)  # ranks 3..5 = items 2, 3, 4
    assert m.indices.tolist() == [[2, 3, 4, -1, -1, -1, -1]]
    assert m.counts.tolist() == [3] and m.num_short == 1
    assert m.dropped_as_false_negatives == 0
    # positive inside the window (rank_min=1): excluded, not counted as dropped
    assert _mine(num_negatives=2, rank_min=1, rank_max=2).indices.tolist() == [[1, -1]]


def test_absolute_margin() -> None:
    m = _mine(num_negatives=3, absolute_margin=0.1)  # drop score > 0.9: items 1, 2
    assert m.indices.tolist() == [[3, 4, 5]] and m.dropped_as_false_negatives == 2
    m = _mine(num_negatives=3, absolute_margin=0.01)  # drop score > 0.99: item 1
    assert m.indices.tolist() == [[2, 3, 4]] and m.dropped_as_false_negatives == 1


def test_relative_margin() -> None:
    m = _mine(num_negatives=3, relative_margin=0.05)  # drop score > 0.95: item 1
    assert m.indices.tolist() == [[2, 3, 4]] and m.dropped_as_false_negatives == 1
    m = _mine(num_negatives=3, relative_margin=0.3)  # drop score > 0.7: items 1, 2, 3
    assert m.indices.tolist() == [[4, 5, 6]] and m.dropped_as_false_negatives == 3
    # default relative_margin is 0.05
    assert mine_hard_negatives(QUERY, CORPUS, [0], num_negatives=1).indices.tolist() == [[2]]


def test_max_score() -> None:
    m = _mine(num_negatives=3, max_score=0.6)  # drop .9962, .9397, .7660
    assert m.indices.tolist() == [[4, 5, 6]] and m.dropped_as_false_negatives == 3


def test_margins_combine_without_double_counting() -> None:
    m = _mine(num_negatives=2, absolute_margin=0.01, relative_margin=0.05, max_score=0.8)
    assert m.indices.tolist() == [[3, 4]] and m.dropped_as_false_negatives == 2  # items 1, 2


def test_padding_when_too_few() -> None:
    m = _mine(num_negatives=10)
    assert m.indices[0, :7].tolist() == [1, 2, 3, 4, 5, 6, 7]
    assert (m.indices[0, 7:] == -1).all() and np.isnan(m.scores[0, 7:]).all()
    assert not np.isnan(m.scores[0, :7]).any()
    assert m.counts.tolist() == [7] and m.num_short == 1


def test_multiple_positives_use_lowest_positive_score() -> None:
    # positives 0 (1.0) and 3 (.7660): threshold .7660 * .95 = .7277 drops items 1, 2
    m = _mine([[0, 3]], num_negatives=3, relative_margin=0.05)
    assert m.indices.tolist() == [[4, 5, 6]] and m.dropped_as_false_negatives == 2
    m = _mine([[0, 3]], num_negatives=3)  # no margin: both positives skipped
    assert m.indices.tolist() == [[1, 2, 4]]


def test_several_queries_and_int_or_sequence_positives() -> None:
    q = _unit([0.0, 180.0])  # query 1 ranks: 7, 6, 5, 4, 3, 2, 1, 0
    m = mine_hard_negatives(q, CORPUS, [0, (7,)], num_negatives=2, relative_margin=None)
    assert m.indices.tolist() == [[1, 2], [6, 5]]


def test_ties_broken_by_lower_index() -> None:
    e = np.eye(3, dtype=np.float32)
    corpus = e[[0, 1, 2, 1, 2, 1]]  # items 1..5 all score exactly 0 against e0
    m = mine_hard_negatives(e[:1], corpus, [0], num_negatives=3, relative_margin=None)
    assert m.indices.tolist() == [[1, 2, 3]]
    m = mine_hard_negatives(e[:1], corpus, [0], num_negatives=9, rank_min=4, relative_margin=None)
    assert m.indices[0, :3].tolist() == [3, 4, 5]


def test_random_sampling_seeded_and_from_eligible_set() -> None:
    eligible = {3, 4, 5, 6, 7}  # relative_margin=0.2: drop score > 0.8 (items 1, 2)
    draws = []
    for seed in range(10):
        kw = dict(num_negatives=3, relative_margin=0.2, sampling="random", seed=seed)
        a, b = _mine(**kw), _mine(**kw)
        np.testing.assert_array_equal(a.indices, b.indices)
        got = a.indices[0].tolist()
        assert set(got) <= eligible and len(set(got)) == 3 and got == sorted(got)
        assert a.dropped_as_false_negatives == 2
        draws.append(tuple(got))
    assert len(set(draws)) > 1  # seeds matter
    # not enough eligible: all of them, no sampling
    m = _mine(num_negatives=9, relative_margin=0.2, sampling="random")
    assert m.indices[0, :5].tolist() == [3, 4, 5, 6, 7] and m.counts.tolist() == [5]


def _random_problem(seed: int, q_n: int = 300, c_n: int = 500, d: int = 16):
    rng = np.random.default_rng(seed)
    corpus = rng.standard_normal((c_n, d))
    corpus /= np.linalg.norm(corpus, axis=1, keepdims=True)
    positives = [rng.choice(c_n, size=int(rng.integers(1, 4)), replace=False) for _ in range(q_n)]
    queries = np.stack([corpus[p[0]] for p in positives]) + 0.6 * rng.standard_normal((q_n, d))
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    pos = [int(p[0]) if len(p) == 1 else [int(x) for x in p] for p in positives]
    return queries.astype(np.float32), corpus.astype(np.float32), pos


@pytest.mark.parametrize("sampling", ["top", "random"])
def test_chunked_equals_unchunked(sampling: str) -> None:
    q, c, pos = _random_problem(0)
    kw = dict(num_negatives=5, rank_max=40, absolute_margin=0.02, sampling=sampling, seed=3)
    a = mine_hard_negatives(q, c, pos, chunk_size=7, **kw)
    b = mine_hard_negatives(q, c, pos, chunk_size=4096, **kw)
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.scores, b.scores)
    np.testing.assert_array_equal(a.counts, b.counts)
    assert a.dropped_as_false_negatives == b.dropped_as_false_negatives


def _reference(q, c, positives, k, rank_min, rank_max, abs_m, rel_m, max_s):
    s = (q.astype(np.float64) @ c.astype(np.float64).T).astype(np.float32)
    out, dropped = [], 0
    for i in range(q.shape[0]):
        pos = [positives[i]] if isinstance(positives[i], int) else list(positives[i])
        ranked = sorted(range(c.shape[0]), key=lambda j: (-float(s[i, j]), j))
        p = min(float(s[i, j]) for j in pos)
        chosen = []
        for rank, j in enumerate(ranked, start=1):
            if not rank_min <= rank <= rank_max or j in pos:
                continue
            x = float(s[i, j])
            if (
                (abs_m is not None and x > p - abs_m)
                or (rel_m is not None and x > p * (1 - rel_m))
                or (max_s is not None and x > max_s)
            ):
                dropped += 1
                continue
            if len(chosen) < k:
                chosen.append(j)
        out.append(chosen + [-1] * (k - len(chosen)))
    return out, dropped


@pytest.mark.parametrize(
    ("rank_min", "rank_max", "abs_m", "rel_m", "max_s"),
    [(2, 200, None, 0.05, None), (1, 30, 0.03, None, 0.8), (5, 60, 0.01, 0.1, 0.7)],
)
def test_matches_brute_force_reference(rank_min, rank_max, abs_m, rel_m, max_s) -> None:
    q, c, pos = _random_problem(1, q_n=60, c_n=150)
    m = mine_hard_negatives(
        q,
        c,
        pos,
        num_negatives=6,
        rank_min=rank_min,
        rank_max=rank_max,
        absolute_margin=abs_m,
        relative_margin=rel_m,
        max_score=max_s,
        chunk_size=11,
    )
    want, dropped = _reference(q, c, pos, 6, rank_min, rank_max, abs_m, rel_m, max_s)
    assert m.indices.tolist() == want
    assert m.dropped_as_false_negatives == dropped
    assert m.counts.tolist() == [sum(j >= 0 for j in row) for row in want]


def test_errors() -> None:
    bad = CORPUS.copy()
    bad[3] *= 2
    with pytest.raises(ValueError, match=r"corpus_vectors row 3 is not L2-normalised"):
        mine_hard_negatives(QUERY, bad, [0])
    nan = CORPUS.copy()
    nan[5, 1] = np.nan
    with pytest.raises(ValueError, match=r"corpus_vectors row 5 contains NaN or Inf"):
        mine_hard_negatives(QUERY, nan, [0])
    inf = np.array([[np.inf, 0.0]], dtype=np.float32)
    with pytest.raises(ValueError, match=r"query_vectors row 0 contains NaN or Inf"):
        mine_hard_negatives(inf, CORPUS, [0])
    with pytest.raises(ValueError, match="dimension mismatch"):
        mine_hard_negatives(np.eye(3, dtype=np.float32)[:1], CORPUS, [0])
    with pytest.raises(ValueError, match="float32"):
        mine_hard_negatives(QUERY.astype(np.float64), CORPUS, [0])
    with pytest.raises(ValueError, match="positives has 2 entries"):
        mine_hard_negatives(QUERY, CORPUS, [0, 1])
    with pytest.raises(ValueError, match=r"positives\[0\]"):
        mine_hard_negatives(QUERY, CORPUS, [8])
    with pytest.raises(ValueError, match=r"positives\[0\]"):
        mine_hard_negatives(QUERY, CORPUS, [[]])
    with pytest.raises(ValueError, match="rank_min"):
        mine_hard_negatives(QUERY, CORPUS, [0], rank_min=5, rank_max=3)
    with pytest.raises(ValueError, match="sampling"):
        mine_hard_negatives(QUERY, CORPUS, [0], sampling="bottom")  # type: ignore[arg-type]


def test_index_search_mines_what_exact_search_mines():
    # The ANN path through the index stage (a temporary Qdrant Edge collection) against exact
    # search, on a corpus small enough that Edge scans it exactly: the same negatives.
    rng = np.random.default_rng(5)
    corpus = rng.standard_normal((400, 24)).astype(np.float32)
    corpus /= np.linalg.norm(corpus, axis=1, keepdims=True)
    queries = corpus[:30] + 0.3 * rng.standard_normal((30, 24)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    kw = dict(num_negatives=5, rank_min=2, rank_max=50, relative_margin=0.05)
    exact = mine_hard_negatives(queries, corpus, list(range(30)), search="exact", **kw)
    ann = mine_hard_negatives(queries, corpus, list(range(30)), search="index", **kw)
    np.testing.assert_array_equal(ann.indices, exact.indices)
    np.testing.assert_allclose(ann.scores, exact.scores, atol=1e-5)
    assert ann.dropped_as_false_negatives == exact.dropped_as_false_negatives

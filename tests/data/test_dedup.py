"""Tests of dedup_pairs: hand-built cases with known answers, and a brute-force oracle."""

from __future__ import annotations

import math

import numpy as np
import pytest

from xmodal.data import dedup as dedup_module
from xmodal.data.dedup import DedupResult, Removal, dedup_pairs, normalize_caption


def _unit(rows: list[list[float]]) -> np.ndarray:
    a = np.asarray(rows, dtype=np.float64)
    return a / np.linalg.norm(a, axis=1, keepdims=True)  # (n, d)


def _partition(labels: list[int] | np.ndarray, index: list[int] | np.ndarray) -> set[frozenset]:
    """The sets of ``index`` entries sharing a label."""
    out: dict[int, set[int]] = {}
    for lab, i in zip(list(labels), list(index), strict=True):
        out.setdefault(int(lab), set()).add(int(i))
    return {frozenset(s) for s in out.values()}


def _items(n: int) -> list[np.ndarray]:
    return [np.full(3, float(i)) for i in range(n)]  # n different contents


# ---- exact duplicates, captions -------------------------------------------------------------


def test_exact_duplicates_text_items_with_normalised_captions():
    items = ["a dog", "a cat", "a dog", "a dog", "a bird"]
    caps = ["Café  au lait", "x", "cafe\u0301 AU LAIT\n", "other", "STRASSE"]
    r = dedup_pairs(items, caps, modality="text")
    # 0 and 2: same text, same normalised caption; 3: same text, another caption (conflict)
    assert r.keep.tolist() == [0, 1, 3, 4]
    assert r.removed == (Removal(2, 0, "exact duplicate of #0", None),)
    assert r.conflicts == ((0, 2, 3),)
    g = dict(zip(r.keep.tolist(), r.group_ids.tolist(), strict=True))
    assert g[0] == g[3]  # merge: one group
    assert len({g[0], g[1], g[4]}) == 3
    assert sorted(set(r.group_ids.tolist())) == list(range(3))  # dense


def test_normalize_caption():
    assert normalize_caption("  Stra\u00dfe\t\n X ") == "strasse x"
    assert normalize_caption("Cafe\u0301") == normalize_caption("CAFÉ") == "café"
    assert normalize_caption("a b") != normalize_caption("ab")


def test_array_items_exact_duplicates_need_same_bytes_and_caption():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    items = [a, a.copy(), a.astype(np.float64), a.reshape(3, 2), a.copy()]
    caps = ["red", "red", "red", "red", "Red "]
    r = dedup_pairs(items, caps)
    assert r.keep.tolist() == [0, 2, 3]
    assert [(x.index, x.kept_as, x.kind) for x in r.removed] == [(1, 0, "exact"), (4, 0, "exact")]
    # same caption, different content: kept, but one group (not each other's negatives)
    assert r.group_ids.tolist() == [0, 0, 0]
    assert r.conflicts == ()


def test_same_caption_different_content_gets_one_group():
    r = dedup_pairs(_items(4), ["a dog", "a cat", "A  dog", "a cow"])
    assert r.keep.tolist() == [0, 1, 2, 3]
    assert r.removed == () and r.conflicts == ()
    assert r.group_ids.tolist() == [0, 1, 0, 2]


def test_empty_input():
    r = dedup_pairs([], [], embeddings=np.zeros((0, 4)))
    assert r.keep.tolist() == [] and r.group_ids.tolist() == [] and r.removed == ()
    assert r.keep.dtype == np.int64 and r.group_ids.dtype == np.int64
    assert "kept 0 rows" in r.report()


def test_result_is_frozen():
    r = dedup_pairs(["a"], ["b"], modality="text")
    assert isinstance(r, DedupResult)
    with pytest.raises(AttributeError):
        r.keep = np.array([1])  # type: ignore[misc]
    with pytest.raises(ValueError):
        r.keep[0] = 5


# ---- near duplicates ------------------------------------------------------------------------


def test_near_duplicates_are_transitive_and_report_cosine():
    emb = _unit([[1, 0, 0], [0.96, 0.28, 0], [0.8432, 0.5376, 0], [0, 0, 1]])  # 0~1~2 (0.96), 0≁2
    r = dedup_pairs(_items(4), ["x", "x", "X", "y"], embeddings=emb, threshold=0.95)
    assert r.keep.tolist() == [0, 3]
    assert [(x.index, x.kept_as) for x in r.removed] == [(1, 0), (2, 0)]
    assert r.removed[0].reason == "near duplicate of #0 (cosine 0.960)"
    assert r.removed[1].similarity == pytest.approx(0.8432)  # to the kept row, not the link
    assert r.group_ids.tolist() == [0, 1]
    # just under the threshold: nothing links
    r2 = dedup_pairs(_items(4), ["x", "x", "x", "y"], embeddings=emb, threshold=0.9601)
    assert r2.keep.tolist() == [0, 1, 2, 3]
    assert r2.group_ids.tolist() == [0, 0, 0, 1]  # same caption: still one group


def test_threshold_one_links_only_identical_embeddings():
    emb = _unit([[1, 0], [1, 0], [1, 1e-3]])
    r = dedup_pairs(_items(3), ["a", "a", "a"], embeddings=emb, threshold=1.0)
    assert r.keep.tolist() == [0, 2]


def _oracle_clusters(items, emb, threshold):
    """Brute force: every pair in Python loops, same-content or cosine >= threshold, then BFS."""
    n = len(items)
    adj = [[] for _ in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            same = items[i].shape == items[j].shape and bool((items[i] == items[j]).all())
            cos = math.fsum(float(x) * float(y) for x, y in zip(emb[i], emb[j], strict=True))
            if same or cos >= threshold:
                adj[i].append(j)
                adj[j].append(i)
    label = [-1] * n
    for s in range(n):
        if label[s] < 0:
            label[s], stack = s, [s]
            while stack:
                for v in adj[stack.pop()]:
                    if label[v] < 0:
                        label[v] = s
                        stack.append(v)
    return label


def _planted(seed: int, n: int = 150, d: int = 24):
    rng = np.random.default_rng(seed)
    emb = rng.standard_normal((n, d))  # (n, d)
    items = [np.array([i], dtype=np.int64) for i in range(n)]
    for _ in range(40):  # near copies, some of copies (chains)
        src, dst = rng.choice(n, 2, replace=False)
        emb[dst] = emb[src] / np.linalg.norm(emb[src]) + 0.04 * rng.standard_normal(d)
    for _ in range(8):  # exact copies of the content (the embedding follows the first)
        src, dst = rng.choice(n, 2, replace=False)
        items[dst] = items[src].copy()
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    for i in range(n):
        for j in range(n):
            if items[i][0] == items[j][0]:
                emb[j] = emb[i]
    return items, emb


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("chunk_size", [1, 7, 64, 1000])
def test_blockwise_matches_brute_force_oracle(seed, chunk_size):
    items, emb = _planted(seed)
    threshold = 0.9
    sims = emb @ emb.T
    off = sims[~np.eye(len(items), dtype=bool)]
    assert np.abs(off - threshold).min() > 1e-6  # no float ties at the threshold
    labels = _oracle_clusters(items, emb, threshold)
    expected = _partition(labels, range(len(items)))
    assert len(expected) < len(items) - 20  # the planting made real clusters

    # distinct captions: every distinct content stays; the groups are the clusters
    caps = [f"caption {i}" for i in range(len(items))]
    r = dedup_pairs(items, caps, embeddings=emb, threshold=threshold, chunk_size=chunk_size)
    exact = {x.index for x in r.removed}
    assert all(x.kind == "exact" for x in r.removed)
    got = _partition(r.group_ids, r.keep)
    assert got == {s - exact for s in expected}

    # one caption for all: the first row of each cluster stays, and all share one group
    r2 = dedup_pairs(
        items, ["same"] * len(items), embeddings=emb, threshold=threshold, chunk_size=chunk_size
    )
    assert r2.keep.tolist() == sorted(min(s) for s in expected)
    assert set(r2.group_ids.tolist()) == {0}
    for x in r2.removed:
        assert labels[x.index] == labels[x.kept_as]


def test_never_builds_the_full_matrix(monkeypatch):
    shapes = []
    real = dedup_module._tile

    def spy(a, b):
        shapes.append((a.shape[0], b.shape[0]))
        return real(a, b)

    monkeypatch.setattr(dedup_module, "_tile", spy)
    items, emb = _planted(3, n=50)
    dedup_pairs(items, ["c"] * 50, embeddings=emb, threshold=0.9, chunk_size=8)
    assert shapes and max(max(s) for s in shapes) <= 8


# ---- conflicts ------------------------------------------------------------------------------

_CONFLICT = dict(  # rows 0,1,2,3 one cluster: captions a, a, b, a; 4 alone
    items=_items(5),
    captions=["a", "a", "b", "A", "c"],
    embeddings=_unit([[1, 0], [1, 0.01], [1, 0.02], [1, 0.03], [0, 1]]),
)


def test_conflicts_merge():
    r = dedup_pairs(**_CONFLICT, conflicts="merge")
    assert r.keep.tolist() == [0, 2, 4]
    assert r.group_ids.tolist() == [0, 0, 1]
    assert r.conflicts == ((0, 1, 2, 3),)
    assert [(x.index, x.kept_as, x.kind) for x in r.removed] == [(1, 0, "near"), (3, 0, "near")]


def test_conflicts_drop():
    r = dedup_pairs(**_CONFLICT, conflicts="drop")
    assert r.keep.tolist() == [4]
    assert r.group_ids.tolist() == [0]
    assert r.conflicts == ((0, 1, 2, 3),)
    assert [(x.index, x.kept_as) for x in r.removed] == [(0, None), (1, None), (2, None), (3, None)]
    assert [x.reason for x in r.removed] == ["conflicting captions with #2"] * 2 + [
        "conflicting captions with #0",
        "conflicting captions with #2",
    ]
    assert all(x.kind == "conflict" for x in r.removed)


def test_conflicts_keep():
    r = dedup_pairs(**_CONFLICT, conflicts="keep")
    assert r.keep.tolist() == [0, 2, 4]
    assert r.group_ids.tolist() == [0, 1, 2]  # separate groups
    assert r.conflicts == ((0, 1, 2, 3),)
    assert [x.index for x in r.removed] == [1, 3]  # same-caption duplicates still go


def test_keep_policy_still_groups_same_caption_across_clusters():
    items = _items(3)
    r = dedup_pairs(
        items, ["a", "b", "a"], embeddings=_unit([[1, 0], [1, 0.01], [0, 1]]), conflicts="keep"
    )
    assert r.keep.tolist() == [0, 1, 2]
    assert r.group_ids.tolist() == [0, 1, 0]


def test_same_content_different_caption_is_a_conflict_without_embeddings():
    r = dedup_pairs([b"img", b"img", b"other"], ["a cat", "a kitten", "a kitten"])
    assert r.conflicts == ((0, 1),)
    assert r.keep.tolist() == [0, 1, 2]
    assert r.group_ids.tolist() == [0, 0, 0]  # 0-1 conflict merged, 1-2 same caption


# ---- validation and report ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("emb", "match"),
    [
        (np.array([[1.0, 0], [0, 1], [np.nan, 0]]), "row 2 is not finite"),
        (np.array([[1.0, 0], [0, 1], [0, np.inf]]), "row 2 is not finite"),
        (np.array([[1.0, 0], [0, 1.01], [np.nan, 0]]), "row 1 has L2 norm 1.01"),
        (np.array([[1.0, 0], [0, 1]]), r"shape \(3, d\)"),
        (np.array([1.0, 0, 0]), r"shape \(3, d\)"),
        (np.zeros((3, 2)), "row 0 has L2 norm 0"),
    ],
)
def test_bad_embeddings(emb, match):
    with pytest.raises(ValueError, match=match):
        dedup_pairs(_items(3), ["a", "b", "c"], embeddings=emb)


def test_embeddings_tolerance_and_dtype():
    ok = np.array([[1.0005, 0], [0, 0.9995]], dtype=np.float32)
    assert dedup_pairs(_items(2), ["a", "b"], embeddings=ok).keep.tolist() == [0, 1]
    with pytest.raises(TypeError, match="float"):
        dedup_pairs(_items(2), ["a", "b"], embeddings=np.eye(2, dtype=np.int64))


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        (dict(captions=["a"]), ValueError, "2 items but 1 captions"),
        (dict(captions=["a", 3]), TypeError, r"captions\[1\] is a int"),
        (dict(threshold=0.0), ValueError, r"threshold must be in \(0, 1\]"),
        (dict(threshold=1.5), ValueError, "threshold"),
        (dict(threshold=float("nan")), ValueError, "threshold"),
        (dict(conflicts="bogus"), ValueError, "conflicts must be one of"),
        (dict(modality="video"), ValueError, "modality must be one of"),
        (dict(chunk_size=0), ValueError, "chunk_size"),
    ],
)
def test_bad_arguments(kwargs, exc, match):
    args = dict(items=_items(2), captions=["a", "b"]) | kwargs
    with pytest.raises(exc, match=match):
        dedup_pairs(**args)


def test_report_counts_and_lines():
    items = [b"x", b"x", b"y", b"z", b"z"]
    emb = _unit([[1, 0, 0], [1, 0, 0], [1, 0.01, 0], [0, 1, 0], [0, 1, 0]])
    r = dedup_pairs(items, ["a", "a", "a", "b", "c"], embeddings=emb)
    text = r.report()
    assert text.splitlines()[0] == (
        "dedup: kept 3 rows in 2 groups, removed 2 (exact 1, near 1, conflict 0); conflicts 1"
    )
    assert "  #1: exact duplicate of #0" in text and "  #2: near duplicate of #0" in text
    assert "  conflict: #3, #4" in text
    short = r.report(max_lines=1).splitlines()
    assert len(short) == 3 and short[-1] == "  ... and 2 more"
    dropped = dedup_pairs(items, ["a", "a", "a", "b", "c"], embeddings=emb, conflicts="drop")
    assert "conflict 2); conflicts 1" in dropped.report()

"""RRF against hand-computed sums and against ranx."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from xmodal.search import Hit, RankedList, rrf_fuse


def _lst(name: str, ids: str, weight: float = 1.0) -> RankedList:
    """A list from space-separated ids, with decreasing scores."""
    docs = tuple(ids.split())
    return RankedList(name, docs, tuple(1.0 - 0.1 * i for i in range(len(docs))), weight)


def _scores(hits: list[Hit]) -> dict[str, float]:
    return {h.id: h.score for h in hits}


def test_hand_computed_sums():
    hits = rrf_fuse([_lst("a", "d1 d2 d3"), _lst("b", "d3 d4 d1")])
    s = _scores(hits)
    assert s["d1"] == pytest.approx(1 / (60 + 1) + 1 / (60 + 3), abs=1e-15)
    assert s["d3"] == pytest.approx(1 / (60 + 3) + 1 / (60 + 1), abs=1e-15)
    assert s["d2"] == pytest.approx(1 / (60 + 2), abs=1e-15)
    assert s["d4"] == pytest.approx(1 / (60 + 2), abs=1e-15)
    assert [h.id for h in hits] == ["d1", "d3", "d2", "d4"]


def test_three_lists_and_missing_documents():
    hits = rrf_fuse([_lst("a", "x y"), _lst("b", "y z"), _lst("c", "z x y")])
    s = _scores(hits)
    assert s["x"] == pytest.approx(1 / 61 + 1 / 62)
    assert s["y"] == pytest.approx(1 / 62 + 1 / 61 + 1 / 63)
    assert s["z"] == pytest.approx(1 / 62 + 1 / 61)
    assert hits[0].id == "y"


def test_weights_multiply_contributions():
    hits = rrf_fuse([_lst("a", "p q", weight=2.0), _lst("b", "q p", weight=0.5)])
    s = _scores(hits)
    assert s["p"] == pytest.approx(2 / 61 + 0.5 / 62)
    assert s["q"] == pytest.approx(2 / 62 + 0.5 / 61)
    assert [h.id for h in hits] == ["p", "q"]


def test_zero_weight_list_keeps_documents_with_zero_contribution():
    hits = rrf_fuse([_lst("a", "p"), _lst("b", "q", weight=0.0)])
    assert _scores(hits) == {"p": pytest.approx(1 / 61), "q": 0.0}
    assert dict(hits[1].ranks) == {"b": 1}


def test_k_zero_and_other_k():
    s = _scores(rrf_fuse([_lst("a", "d1 d2"), _lst("b", "d2")], k=0))
    assert s == {"d1": 1.0, "d2": pytest.approx(1 / 2 + 1 / 1)}
    s = _scores(rrf_fuse([_lst("a", "d1 d2")], k=1))
    assert s == {"d1": 0.5, "d2": pytest.approx(1 / 3)}


def test_tie_broken_by_id_when_best_ranks_equal():
    # w: ranks 3, 1; x: ranks 1, 3 → both 1/61 + 1/63 exactly (fsum: list order does not
    # matter); u: ranks 2, 2 → 2/62, slightly less (1/(k+r) is convex).
    hits = rrf_fuse([_lst("a", "x u w"), _lst("b", "w u x")])
    s = _scores(hits)
    assert s["w"] == s["x"] == pytest.approx(1 / 61 + 1 / 63)
    assert s["u"] == pytest.approx(2 / 62) and s["u"] < s["w"]
    assert [h.id for h in hits] == ["w", "x", "u"]  # w, x: same best rank (1), so by id


def test_tie_on_score_prefers_best_rank():
    # k=0: m gets 1/2 + 1/2 = 1.0 with best rank 2; n, y and z get 1/1 = 1.0 with best rank 1.
    hits = rrf_fuse([_lst("a", "z m"), _lst("b", "y m"), _lst("c", "n")], k=0)
    assert {h.score for h in hits} == {1.0}
    assert [h.id for h in hits] == ["n", "y", "z", "m"]


def test_hits_carry_raw_scores_and_ranks():
    a = RankedList("text/minilm", ("d1", "d2"), (0.8, 0.6))
    b = RankedList("image/lit", ("d2",), (0.31,))
    hits = {h.id: h for h in rrf_fuse([a, b])}
    assert dict(hits["d2"].raw_scores) == {"text/minilm": 0.6, "image/lit": 0.31}
    assert dict(hits["d2"].ranks) == {"text/minilm": 2, "image/lit": 1}
    assert dict(hits["d1"].raw_scores) == {"text/minilm": 0.8}
    h = hits["d2"]
    assert h.fused and h.collection is None and h.calibrated is None
    assert h.raw_score is None and h.fused_score == h.score


def test_limit_and_empty():
    assert len(rrf_fuse([_lst("a", "a b c d")], limit=2)) == 2
    assert rrf_fuse([_lst("a", "a b")], limit=0) == []
    assert rrf_fuse([]) == []
    assert rrf_fuse([RankedList("a", (), ())]) == []


@pytest.mark.parametrize("k", [-1, math.nan, math.inf])
def test_bad_k(k):
    with pytest.raises(ValueError, match="k must be"):
        rrf_fuse([_lst("a", "x")], k=k)


def test_validation():
    with pytest.raises(ValueError, match="duplicate id 'x'"):
        RankedList("a", ("x", "y", "x"), (3.0, 2.0, 1.0))
    with pytest.raises(ValueError, match="weight"):
        RankedList("a", ("x",), (1.0,), weight=-0.5)
    with pytest.raises(ValueError, match="2 ids but 1 scores"):
        RankedList("a", ("x", "y"), (1.0,))
    with pytest.raises(ValueError, match="named 'a'"):
        rrf_fuse([_lst("a", "x"), _lst("a", "y")])
    with pytest.raises(ValueError, match="limit"):
        rrf_fuse([_lst("a", "x")], limit=-1)


def test_single_list_fused_score_is_not_the_cosine():
    lst = RankedList("a", ("x", "y"), (0.9, 0.2))
    assert [h.score for h in lst.to_hits()] == [0.9, 0.2]
    assert not lst.to_hits()[0].fused
    fused = rrf_fuse([lst])
    assert fused[0].score == pytest.approx(1 / 61) and fused[0].fused


# --- against ranx -----------------------------------------------------------------------------

def _random_lists(rng: np.random.Generator, n_lists: int) -> list[RankedList]:
    pool = [f"doc{i:03d}" for i in range(60)]
    lists = []
    for li in range(n_lists):
        n = int(rng.integers(1, 40))
        ids = tuple(rng.choice(pool, size=n, replace=False))
        # distinct scores in decreasing order, so ranx's score ranking equals list order
        scores = tuple(np.sort(rng.random(n))[::-1] + np.linspace(1e-3, 0, n))
        lists.append(RankedList(f"l{li}", ids, scores))
    return lists


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("k", [60, 1])
def test_matches_ranx(seed, k):
    ranx = pytest.importorskip("ranx")
    rng = np.random.default_rng(seed)
    lists = _random_lists(rng, n_lists=int(rng.integers(2, 5)))
    runs = [ranx.Run.from_dict({"q1": dict(zip(l.ids, l.scores, strict=True))}) for l in lists]
    ref = ranx.fuse(runs=runs, method="rrf", params={"k": k}).to_dict()["q1"]
    hits = rrf_fuse(lists, k=k)
    ours = _scores(hits)
    assert set(ours) == set(ref)
    for doc, score in ref.items():
        assert ours[doc] == pytest.approx(score, abs=1e-9)
    # same order up to exact ties: our scores never increase, and any strictly ordered pair
    # in ranx is ordered the same way by us
    got = [h.score for h in hits]
    assert all(a >= b for a, b in itertools.pairwise(got))
    pos = {h.id: i for i, h in enumerate(hits)}
    for d1, s1 in ref.items():
        for d2, s2 in ref.items():
            if s1 > s2 + 1e-12:
                assert pos[d1] < pos[d2]


def test_ranx_tie_order_differs_but_scores_agree():
    """ranx leaves exact fused ties in dict order; we order them by best rank, then id."""
    ranx = pytest.importorskip("ranx")
    lists = [_lst("a", "zz aa"), _lst("b", "aa zz")]
    runs = [ranx.Run.from_dict({"q1": dict(zip(l.ids, l.scores, strict=True))}) for l in lists]
    ref = ranx.fuse(runs=runs, method="rrf").to_dict()["q1"]
    assert ref["aa"] == pytest.approx(ref["zz"])
    hits = rrf_fuse(lists)
    assert [h.id for h in hits] == ["aa", "zz"]
    assert hits[0].score == pytest.approx(ref["aa"], abs=1e-12)

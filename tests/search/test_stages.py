"""The stages of a search one at a time, on hand-built inputs: plan (which collections and
modalities), the fallback test over searched lists, and fusion (hand-computed RRF sums)."""

from __future__ import annotations

import pytest

from xmodal.index.types import CollectionInfo, CollectionNotFoundError
from xmodal.search.fuse import fuse_lists
from xmodal.search.hits import ListName, RankedList
from xmodal.search.lists import SearchedList, SearchedLists
from xmodal.search.plan import plan_search
from xmodal.search.request import SearchRequest

LIT = {"family": "lit", "modalities": ["text", "image"]}
INFOS = [CollectionInfo("e.image", 4, "lit", "image", card=LIT),
         CollectionInfo("e.text", 4, "lit", "text", card=LIT),
         CollectionInfo("s.audio", 4, "aisfx", "audio", card={"modalities": ["audio"]})]


def route(query, reachable, doc_modalities):
    return ["image"], [f"router: {query} looks like an image"]


def test_plan_follows_the_four_rules():
    text = plan_search(SearchRequest("a cat"), INFOS, route=route)
    assert [c.name for c in text.reachable] == ["e.image", "e.text"]
    # audio documents are in scope: e.text's captions of them are searched for audio
    assert text.doc_modalities == ("audio", "image", "text") and text.chosen == ("image",)
    assert text.may_fall_back and text.trace == ("router: a cat looks like an image",)
    mixed = plan_search(SearchRequest("a cat", mixed=True), INFOS, route=route)
    assert mixed.chosen == ("audio", "image", "text") and not mixed.may_fall_back
    given = plan_search(SearchRequest("a cat", modalities=["text"]), INFOS, route=route)
    assert given.chosen == ("text",) and not given.may_fall_back
    unrouted = plan_search(SearchRequest("a cat", route=False), INFOS, route=route)
    assert unrouted.chosen == ("audio", "image", "text")
    audio = plan_search(SearchRequest(audio=b"wav"), INFOS, route=route)
    assert [c.name for c in audio.reachable] == ["s.audio"] and audio.chosen == ("audio",)


def test_plan_scope_and_refusals():
    scoped = plan_search(SearchRequest("a cat", collection="e.text"), INFOS, route=route)
    assert [c.name for c in scoped.reachable] == ["e.text"]
    assert scoped.trace[0] == "collections given: ['e.text']"
    with pytest.raises(CollectionNotFoundError, match="'nope'"):
        plan_search(SearchRequest("a", collections=["nope"]), INFOS, route=route)
    with pytest.raises(ValueError, match="no such collection"):
        plan_search(SearchRequest("a", weights={"nope[image]": 1}), INFOS, route=route)
    with pytest.raises(ValueError, match=r"no given collection .* embeds text queries"):
        plan_search(SearchRequest("a", collections=["s.audio"]), INFOS, route=route)


def searched(*lists: tuple[ListName, tuple[str, ...], tuple[float, ...]]) -> SearchedLists:
    info = {c.name: c for c in INFOS}
    return SearchedLists(
        tuple(SearchedList(name, info[name.collection], RankedList(str(name), ids, scores),
                           None) for name, ids, scores in lists),
        {doc: {"path": f"{doc}.png"} for _, ids, _ in lists for doc in ids}, (), ())


def test_fallback_fires_only_when_no_list_is_confident():
    lists = searched((ListName("e.image"), ("a",), (0.2,)),
                     (ListName("e.text", "image"), ("b",), (0.35,)))
    assert lists.unconfident(lambda info: 0.3) is None  # e.text[image] reaches 0.3
    assert lists.unconfident(lambda info: 0.5) == "e.image 0.200 < 0.500, " \
        "e.text[image] 0.350 < 0.500"
    assert searched().unconfident(lambda info: 0.3) == "no hits"


def test_fusion_of_one_and_of_several_lists():
    one = fuse_lists(searched((ListName("e.text", "image"), ("a", "b"), (0.9, 0.4))),
                     SearchRequest("q"))
    assert [(h.id, h.score, h.collection, h.fused) for h in one.hits] == [
        ("a", 0.9, "e.text", False), ("b", 0.4, "e.text", False)]
    assert one.trace == ()
    lists = searched((ListName("e.image"), ("a", "b", "c"), (0.5, 0.4, 0.3)),
                     (ListName("e.text", "image"), ("c", "a"), (0.9, 0.8)))
    both = fuse_lists(lists, SearchRequest("q", fusion="calibrated"))
    assert [h.id for h in both.hits] == ["a", "c", "b"]
    assert both.hits[0].score == pytest.approx(1 / (60 + 1) + 1 / (60 + 2))
    assert both.hits[1].score == pytest.approx(1 / (60 + 3) + 1 / (60 + 1))
    assert both.hits[0].ranks == {"e.image": 1, "e.text[image]": 2}
    assert both.trace[0].startswith("calibrated fusion unavailable: no calibration for "
                                    "['e.image', 'e.text[image]']")
    assert both.trace[1] == "fused 2 lists with RRF (k=60, 1-based ranks)"

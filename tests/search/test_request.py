"""SearchRequest: every refusal names its problem, and what it keeps is normalised (tuples,
read-only mappings, a read-only float64 vector)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from xmodal.index.types import VectorError
from xmodal.search.request import MAX_K, SearchRequest


@pytest.mark.parametrize(("fields", "words"), [
    ({}, "exactly one"),
    ({"query": "a", "image": b"x"}, "(got query, image)"),
    ({"query": "a", "k": 0}, "k must be in [1, 1000], got 0"),
    ({"query": "a", "k": MAX_K + 1}, "k must be in"),
    ({"query": "a", "k": True}, "k must be in"),
    ({"query": "a", "fusion": "max"}, "fusion must be 'rrf' or 'calibrated'"),
    ({"query": "a", "modalities": ["smell"]}, "unknown modalities ['smell']"),
    ({"query": "a", "modalities": "image"}, "a list of names"),
    ({"query": "a", "collections": "docs"}, "a list of names"),
    ({"query": "a", "rrf_k": -1}, "rrf_k must be"),
    ({"query": "a", "rrf_k": float("inf")}, "rrf_k must be"),
    ({"query": "a", "weights": {"x": -1.0}}, "weight for 'x' must be"),
    ({"query": "a", "weights": {"x": float("nan")}}, "weight for 'x' must be"),
    ({"query": "a", "filter": {"album": 1.5}}, "not a str, int or bool"),
    ({"vector": [1.0, 0.0]}, "give collection=NAME"),
    ({"vector": [1.0, 0.0], "collection": "c", "collections": ["c"]}, "not collections"),
])
def test_refusals_name_the_problem(fields, words):
    with pytest.raises(ValueError) as info:
        SearchRequest(**fields)
    assert words in str(info.value)


def test_a_vector_must_be_one_numeric_row():
    for bad in (np.ones((2, 3)), ["a", "b"], 1.0):
        with pytest.raises(VectorError):
            SearchRequest(vector=bad, collection="c")


def test_what_it_keeps_is_normalised_and_frozen():
    given = np.array([3.0, 4.0], dtype=np.float32)
    req = SearchRequest(vector=given, collection="c", filter={"album": "a"},
                        weights={"c": 2})
    assert req.kind == "vector" and req.value is req.vector
    assert req.vector.dtype == np.float64 and not req.vector.flags.writeable
    assert given.flags.writeable  # the caller's array is copied, not frozen
    assert dict(req.filter) == {"album": "a"} and dict(req.weights) == {"c": 2.0}
    with pytest.raises(TypeError):
        req.filter["album"] = "b"  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        req.k = 3  # type: ignore[misc]
    text = SearchRequest("a", collections=["x", "y"], collection="z", modalities=["audio"])
    assert text.collections == ("x", "y") and text.modalities == ("audio",)
    assert text.scope == {"x", "y", "z"} and text.kind == "text"
    assert SearchRequest(image=b"png", weights={}).weights is None

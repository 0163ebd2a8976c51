"""Segment ids, payloads and spans (``index/segments.py``), the segment keys as system keys, and
the store primitives segments need on every backend: ``delete_where`` and the id probe."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tests.index.conftest import unit
from xmodal.index.filters import FilterError
from xmodal.index.metadata import MetadataError, check_metadata, payload_metadata
from xmodal.index.segment_ingest import probe_segments
from xmodal.index.segments import (
    SEGMENT_KEYS,
    WINDOW,
    document_of,
    document_view,
    is_segment,
    segment_id,
    segment_payload,
    segment_window_s,
)
from xmodal.index.validate import check_ids, document_id
from xmodal.search.hits import Hit


def test_segment_id_is_stable_distinct_and_in_the_document_id_format():
    doc = document_id("/a.wav", "0" * 64)
    ids = [segment_id(doc, rep, n) for rep in ("window", "frame", "soundtrack", "subtitle")
           for n in range(50)]
    assert all(re.fullmatch(r"[0-9a-f]{16}", i) for i in ids)
    assert len(set(ids)) == len(ids) and doc not in ids
    assert check_ids(ids) == ids
    assert segment_id(doc, WINDOW, 3) == segment_id(doc, WINDOW, 3)
    assert segment_id(doc, WINDOW, 3) != segment_id(document_id("/b.wav", "0" * 64), WINDOW, 3)


@pytest.mark.parametrize(("args", "message"), [
    (("", "window", 0), "segment of document ''"),
    (("d1", "scene", 0), "representation 'scene'"),
    (("d1", "window", -1), "segment index -1 of document 'd1'"),
    (("d1", "window", True), "segment index True"),
])
def test_segment_id_refuses_bad_input_naming_it(args, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        segment_id(*args)


def test_segment_payload_is_the_documents_plus_the_segment_keys():
    doc = {"path": "/a.wav", "modality": "audio", "sha256": "ab", "representation": "audio",
           "caption": None, "ext": "wav", "album": "live"}
    p = segment_payload(doc, document_id="d1", representation=WINDOW, n=2, t_start=20.0,
                        t_end=27.5)
    assert p == {**doc, "representation": "window", "document_id": "d1", "t_start": 20.0,
                 "t_end": 27.5, "segment": 2}
    assert is_segment(p) and not is_segment(doc)
    assert document_of("seg", p) == "d1" and document_of("d1", doc) == "d1"
    assert document_view(p) == {**doc, "representation": "window"}
    assert payload_metadata(p) == {"ext": "wav", "album": "live"}  # hits never show the keys
    with pytest.raises(ValueError, match="segment 2 of document 'd1': bad time span"):
        segment_payload(doc, document_id="d1", representation=WINDOW, n=2, t_start=5.0,
                        t_end=4.0)


@pytest.mark.parametrize("key", SEGMENT_KEYS)
def test_a_side_car_cannot_set_a_segment_key(key):
    with pytest.raises(MetadataError, match=f"key '{key}' is a system key"):
        check_metadata({key: 1}, "a.json")


def test_hit_metadata_hides_the_segment_keys():
    hit = Hit("s", 0.5, "c", {"c": 0.5}, {"c": 1}, payload={
        "path": "/a.wav", "document_id": "d", "t_start": 0.0, "t_end": 10.0, "segment": 0,
        "representation": "window", "album": "x"})
    assert hit.metadata == {"album": "x"}


def test_segment_window_is_the_encoders_at_least_ten_seconds():
    from types import SimpleNamespace as NS

    assert segment_window_s(NS(audio_window_s=10.0)) == 10.0  # CLAP
    assert segment_window_s(NS(audio_window_s=100 * 1024 / 44100)) == 10.0  # aisfx blocks
    assert segment_window_s(NS(audio_window_s=30.0)) == 30.0
    assert segment_window_s(NS(audio_window_s=None)) is None


def _docs_collection(index):
    col = index.create_collection("m.audio", dim=3, model="m", modality="audio")
    ids = ["a", "a0", "a1", "b", "b0"]
    pays = [{"path": "/a"}, {"path": "/a", "document_id": "a", "segment": 0},
            {"path": "/a", "document_id": "a", "segment": 1}, {"path": "/b"},
            {"path": "/b", "document_id": "b", "segment": 0}]
    col.upsert(ids, unit(np.random.default_rng(0).normal(size=(5, 3))), pays)
    return col


def test_delete_where_on_every_backend(index):
    col = _docs_collection(index)
    by_doc = {"must": [{"key": "document_id", "match": {"value": "a"}}]}
    assert col.delete_where(by_doc) == 2
    assert col.delete_where(by_doc) == 0
    assert [r is None for r in col.get(["a", "a0", "a1", "b", "b0"])] == [
        False, True, True, False, False]
    others = {"must": [{"key": "path", "match": {"any": ["/b"]}}],
              "must_not": [{"key": "document_id", "match": {"any": ["zzz"]}}]}
    assert col.delete_where(others) == 2  # b too: a missing key passes must_not
    assert col.count() == 1 and col.get(["a"])[0] is not None
    for empty in ({}, {"must": []}):
        with pytest.raises(FilterError, match="delete_where needs a condition"):
            col.delete_where(empty)


def test_probe_counts_each_documents_segments(index):
    col = index.create_collection("m.audio", dim=3, model="m", modality="audio")
    counts = {"none": 0, "one": 1, "many": 70}  # 70: past the first step of 64 lookups
    ids = [segment_id(d, WINDOW, n) for d, c in counts.items() for n in range(c)]
    col.upsert(ids, unit(np.ones((len(ids), 3))))
    assert probe_segments(col, list(counts)) == {"one": 1, "many": 70}
    assert probe_segments(col, []) == {}

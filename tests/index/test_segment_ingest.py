"""Ingest of long recordings (``index/segment_ingest.py``): one point per span of sound (at
most 10 s, cut at the changes of tone) beside the unchanged whole-file vector, decoded once;
deletion, replacement, metadata refresh and the crash rule (segments before the main vector),
on the exact store and Qdrant Edge.

Oracles: the recording's known parts (each part cut evenly in spans of at most 10 s), the
encoder's own whole-file vector for the file's path, and the store's contents by id and by
payload filter."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import xmodal.data.audio
from tests.index.conftest import uri_for
from tests.index.recordings import RATE, ToneEncoder, part_spans, tone, write_recording, write_wave
from xmodal.data.corpus import file_sha256
from xmodal.index import Index, document_id, open_index
from xmodal.index import ingest as ingest_module
from xmodal.index.ingest import ingest, load_manifest, manifest_path
from xmodal.index.segment_ingest import probe_segments
from xmodal.index.segments import segment_id

COL = "tone.audio"
PARTS = [(3, 25.0), (9, 35.0), (15, 22.0)]  # 82 s: 3 + 4 + 3 spans, cut at the parts


class _Crash(BaseException):
    """Stands for a kill: nothing after it runs."""


@pytest.fixture(params=["exact", "qdrant-edge"])
def uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return uri_for(request.param, tmp_path)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    write_recording(tmp_path / "c" / "long.wav", PARTS)
    write_recording(tmp_path / "c" / "short.wav", [(20, 6.0)])
    return tmp_path / "c"


def run(uri: str, corpus: Path, encoder: ToneEncoder | None = None, **kw) -> object:
    with open_index(uri) as index:
        return ingest(index, [corpus], encoders={"audio": encoder or ToneEncoder()},
                      manifest=manifest_path(uri), **kw)


def doc(path: Path) -> str:
    path = path.resolve()
    return document_id(str(path), file_sha256(path))


@pytest.fixture
def opened(uri: str) -> Iterator[Index]:
    with open_index(uri) as index:
        yield index


def segments_in(index: Index, doc_id: str, n: int = 64) -> list:
    got = index.collection(COL).get([segment_id(doc_id, "window", i) for i in range(n)])
    return [r for r in got if r is not None]


def test_long_file_gets_window_segments_beside_its_unchanged_vector(uri, corpus, monkeypatch):
    decoded: list[str] = []
    real = xmodal.data.audio._decode_file
    monkeypatch.setattr(xmodal.data.audio, "_decode_file",
                        lambda item, *a: decoded.append(str(item)) or real(item, *a))
    encoder = ToneEncoder()
    report = run(uri, corpus, encoder)
    long, short = (corpus / "long.wav").resolve(), (corpus / "short.wav").resolve()
    assert (report.indexed, report.failed) == (2, ())
    assert sorted(decoded) == sorted([str(long), str(short)])  # each file decoded once
    assert encoder.items == 2 + 10  # two whole files, ten spans
    with open_index(uri) as index:
        col = index.collection(COL)
        assert col.count() == 2 + 10
        main = col.get([doc(long)])[0]
        segs = segments_in(index, doc(long))
        got = [(s.payload["t_start"], s.payload["t_end"]) for s in segs]
        assert np.allclose(got, part_spans([(0, 25), (25, 60), (60, 82)]), atol=0.05)
        for n, s in enumerate(segs):
            assert s.payload == {**main.payload, "representation": "window",
                                 "document_id": doc(long), "segment": n,
                                 "t_start": s.payload["t_start"], "t_end": s.payload["t_end"]}
        assert main.payload["representation"] == "audio" and main.payload["duration_s"] == 82.0
        whole = ToneEncoder().encode_audio([str(long)])[0]  # what ingest stored before segments
        assert np.allclose(main.vector, whole, atol=1e-6)
        assert segments_in(index, doc(short)) == []
    entries = load_manifest(manifest_path(uri))
    assert entries[str(long)]["segments"] == {COL: {"window": 10}}
    assert "segments" not in entries[str(short)]
    again = ToneEncoder()
    assert run(uri, corpus, again).unchanged == 2 and again.items == 0


def test_replacing_and_pruning_delete_the_segments(uri, corpus):
    run(uri, corpus)
    long = corpus / "long.wav"
    old = doc(long)
    write_recording(long, [(5, 31.0)])  # changed: 4 windows now
    report = run(uri, corpus)
    assert (report.indexed, report.replaced) == (1, 1)
    with open_index(uri) as index:
        assert segments_in(index, old) == [] and index.collection(COL).get([old]) == [None]
        assert len(segments_in(index, doc(long))) == 4
        assert index.collection(COL).count() == 2 + 4
    long.unlink()
    assert run(uri, corpus, prune=True).pruned == 1
    with open_index(uri) as index:
        assert index.collection(COL).count() == 1  # the short file's vector only


def test_a_metadata_change_rewrites_the_segments(uri, corpus):
    side_car = corpus / "long.json"
    side_car.write_text(json.dumps({"album": "live"}))
    run(uri, corpus)
    side_car.write_text(json.dumps({"album": "studio"}))
    again = ToneEncoder()
    assert run(uri, corpus, again).unchanged == 2 and again.items == 0  # no re-encoding
    with open_index(uri) as index:
        col = index.collection(COL)
        q = ToneEncoder().encode_audio([str(corpus / "long.wav")])[0]
        hits = col.search(q, k=20, filter={"album": "studio"})[0]
        assert len(hits) == 1 + 10 and col.search(q, k=20, filter={"album": "live"})[0].ids == ()
        segs = segments_in(index, doc(corpus / "long.wav"))
        assert {s.payload["album"] for s in segs} == {"studio"}
        assert segs[3].payload["t_start"] == pytest.approx(25.0, abs=0.05)  # segment keys kept


def test_kill_between_segments_and_main_vector_leaves_no_orphan(uri, corpus, monkeypatch):
    real = ingest_module.store_segments

    def killed(*args, **kwargs):
        real(*args, **kwargs)
        raise _Crash("killed after the segments, before the main vector")

    monkeypatch.setattr(ingest_module, "store_segments", killed)
    long = corpus / "long.wav"
    crashed = doc(long)
    with pytest.raises(_Crash):
        run(uri, corpus)
    monkeypatch.undo()
    with open_index(uri) as index:  # the segments are in, the commit mark is not
        assert len(segments_in(index, crashed)) == 10
        assert index.collection(COL).get([crashed]) == [None]
    assert str(long.resolve()) not in load_manifest(manifest_path(uri))

    write_recording(long, [(7, 21.0)])  # the file changed before the next ingest
    assert run(uri, corpus).indexed == 2
    with open_index(uri) as index:
        col = index.collection(COL)
        assert segments_in(index, crashed) == []  # the orphans of the lost version: gone
        assert len(segments_in(index, doc(long))) == 3
        assert col.count() == 2 + 3
        orphan = {"must": [{"key": "document_id", "match": {"value": crashed}}]}
        assert col.search(np.ones(32, np.float32), k=10, filter=orphan, normalize=True)[0].ids \
            == ()


def test_kill_then_same_file_overwrites_its_segments(uri, corpus, monkeypatch):
    real = ingest_module.store_segments
    monkeypatch.setattr(ingest_module, "store_segments",
                        lambda *a, **k: (real(*a, **k), (_ for _ in ()).throw(_Crash()))[1])
    with pytest.raises(_Crash):
        run(uri, corpus)
    monkeypatch.undo()
    assert run(uri, corpus).indexed == 2
    with open_index(uri) as index:
        assert index.collection(COL).count() == 2 + 10


def test_a_document_adopted_after_a_kill_keeps_its_segments_recorded(uri, corpus, monkeypatch):
    def lost(path, manifest):
        raise _Crash("killed before the manifest was written")

    monkeypatch.setattr(ingest_module, "_save_manifest", lost)
    with pytest.raises(_Crash):
        run(uri, corpus)
    monkeypatch.undo()
    encoder = ToneEncoder()
    report = run(uri, corpus, encoder)  # stored but unrecorded: adopted, not re-encoded
    assert (report.indexed, report.unchanged, encoder.items) == (0, 2, 0)
    long = str((corpus / "long.wav").resolve())
    assert load_manifest(manifest_path(uri))[long]["segments"] == {COL: {"window": 10}}
    (corpus / "long.wav").unlink()
    run(uri, corpus, prune=True)
    with open_index(uri) as index:
        assert index.collection(COL).count() == 1


def test_an_encoder_without_a_window_stores_no_segments(uri, corpus):
    encoder = ToneEncoder(window_s=None)  # type: ignore[arg-type]
    run(uri, corpus, encoder)
    with open_index(uri) as index:
        assert index.collection(COL).count() == 2
        assert probe_segments(index.collection(COL), [doc(corpus / "long.wav")]) == {}


def test_windows_are_at_least_ten_seconds(uri, corpus):
    run(uri, corpus, ToneEncoder(window_s=2.5))  # aisfx-like short blocks: 10 s segments
    with open_index(uri) as index:
        assert len(segments_in(index, doc(corpus / "long.wav"))) == 10  # spans up to 10 s


def test_silence_is_no_segment_and_a_sound_is_found_where_it_is(uri, tmp_path):
    """A 40 s file: 12 s of silence, a 6 s tone, silence; one segment, at the tone (± a frame)."""
    folder = tmp_path / "quiet"
    silence = np.zeros(12 * RATE, np.float32)
    write_wave(folder / "quiet.wav", np.concatenate([silence, tone(1000.0, 6.0), silence,
                                                     np.zeros(10 * RATE, np.float32)]))
    write_wave(folder / "silent.wav", np.zeros(40 * RATE, np.float32))
    report = run(uri, folder)
    assert (report.indexed, report.failed) == (2, ())
    with open_index(uri) as index:
        segs = segments_in(index, doc(folder / "quiet.wav"))
        assert len(segs) == 1
        assert (segs[0].payload["t_start"], segs[0].payload["t_end"]) == pytest.approx(
            (12.0, 18.0), abs=0.05)
        assert segments_in(index, doc(folder / "silent.wav")) == []
        assert index.collection(COL).get([doc(folder / "silent.wav")])[0] is not None


def test_a_recording_over_ten_minutes_is_indexed_pooled_from_its_windows(uri, tmp_path):
    """Up to LONG_RECORDING_MAX_S: the encoder refuses a clip over 10 minutes whole, so the
    whole-file vector is the length-weighted mean of the window vectors (float64 oracle)."""
    from xmodal.index.segment_ingest import LONG_RECORDING_MAX_S

    assert LONG_RECORDING_MAX_S >= 3600
    folder = tmp_path / "long"
    spans = write_recording(folder / "talk.wav", [(3, 300.0), (9, 305.0), (17, 61.0)])
    report = run(uri, folder)
    assert (report.indexed, report.failed) == (1, ()), report.failed
    path = (folder / "talk.wav").resolve()
    with open_index(uri) as index:
        segs = segments_in(index, doc(path), n=80)
        assert len(segs) == 30 + 31 + 7 and segs[-1].payload["t_end"] == spans[-1][1] == 666.0
        weights = np.array([s.payload["t_end"] - s.payload["t_start"] for s in segs])
        mean = (weights[:, None] * np.stack([s.vector for s in segs]).astype(np.float64)).sum(0)
        main = index.collection(COL).get([doc(path)])[0]
        assert np.allclose(main.vector, mean / np.linalg.norm(mean), atol=1e-5)

"""Crash safety of ingest: SIGKILL at random points loses nothing acknowledged, leaves no partial
or duplicated document behind a manifest entry, and a resumed ingest encodes only what is not
stored (``benchmarks/crash_ingest.py`` is the longer run).

Reconciliation is also checked deterministically, in process: a "crash" between storing a
batch and writing the manifest (the window a SIGKILL can hit) is simulated by raising from the
manifest writer.
"""

from __future__ import annotations

import pytest

from tests.index.crash_worker import (
    check_store,
    encoded_files,
    kill_rounds,
    lite_encoders,
    write_crash_corpus,
)
from xmodal.index import document_id, open_index
from xmodal.index import ingest as ingest_module
from xmodal.index.ingest import ingest, load_manifest, manifest_path

N = 90


@pytest.mark.parametrize("backend", ["edge", "exact"])
def test_sigkill_loses_nothing_acknowledged_and_resume_encodes_only_the_rest(tmp_path, backend):
    files = write_crash_corpus(tmp_path / "corpus", N, seed=3)
    uri = str(tmp_path / "edge") if backend == "edge" else f"exact:{tmp_path / 'exact'}"
    checks = kill_rounds(tmp_path / "corpus", uri, files, kills=4, batch=2, seed=7)
    assert any(c.found < N for c in checks)  # at least one kill landed before the end
    for c in checks:
        assert (c.lost, c.duplicates, c.partial) == (0, 0, 0), c
        assert c.search_ok and c.manifest <= c.found, c
    stored = checks[-1].found  # complete docs, recorded in the manifest or not

    encoders = lite_encoders()
    with open_index(uri) as index:
        report = ingest(index, [tmp_path / "corpus"], encoders=encoders,
                        manifest=manifest_path(uri), batch_size=8)
    assert encoded_files(encoders) == N - stored  # nothing stored is embedded again
    assert (report.indexed, report.unchanged, report.failed) == (N - stored, stored, ())
    final = check_store(uri, files, {f.doc for f in files})
    assert (final.found, final.lost, final.duplicates, final.partial) == (N, 0, 0, 0)
    assert (final.manifest, final.unrecorded) == (N, 0) and final.search_ok


class _Crash(BaseException):
    pass


def _crash_on_manifest_write(monkeypatch: pytest.MonkeyPatch, call: int) -> None:
    real = ingest_module._save_manifest
    calls = {"n": 0}

    def save(path, manifest):
        calls["n"] += 1
        if calls["n"] == call:
            raise _Crash("killed before the manifest was written")
        real(path, manifest)

    monkeypatch.setattr(ingest_module, "_save_manifest", save)


def test_stored_but_unrecorded_batch_is_adopted_not_reencoded(tmp_path, monkeypatch):
    files = write_crash_corpus(tmp_path / "corpus", 12)
    uri = f"exact:{tmp_path / 'idx'}"
    _crash_on_manifest_write(monkeypatch, call=2)  # batch 2 stored, its manifest write lost
    with open_index(uri) as index, pytest.raises(_Crash):
        ingest(index, [tmp_path / "corpus"], encoders=lite_encoders(),
               manifest=manifest_path(uri), batch_size=2)
    monkeypatch.undo()
    before = check_store(uri, files, set())
    assert (before.manifest, before.found, before.unrecorded) == (2, 4, 2)

    encoders = lite_encoders()
    with open_index(uri) as index:
        report = ingest(index, [tmp_path / "corpus"], encoders=encoders,
                        manifest=manifest_path(uri), batch_size=2)
    assert (report.indexed, report.unchanged) == (8, 4)
    assert encoded_files(encoders) == 8
    after = check_store(uri, files, {f.doc for f in files})
    assert (after.found, after.manifest, after.unrecorded, after.partial) == (12, 12, 0, 0)


def test_changed_file_crash_before_the_old_version_is_deleted(tmp_path, monkeypatch):
    files = write_crash_corpus(tmp_path / "corpus", 3)  # image, audio, text
    uri = f"exact:{tmp_path / 'idx'}"
    with open_index(uri) as index:
        ingest(index, [tmp_path / "corpus"], encoders=lite_encoders(),
               manifest=manifest_path(uri))
    image = files[0].path
    image.write_text("blue star changed")
    new_doc = document_id(str(image), ingest_module.scan_corpus([image]).files[0].sha256)
    monkeypatch.setattr(ingest_module, "_delete_doc", lambda index, entry: (_ for _ in ()).throw(
        _Crash("killed after the new version was stored")))
    with open_index(uri) as index, pytest.raises(_Crash):
        ingest(index, [tmp_path / "corpus"], encoders=lite_encoders(),
               manifest=manifest_path(uri))
    monkeypatch.undo()
    with open_index(uri) as index:  # both versions stored for now, the manifest names the old
        col = index.collection("toy-image.image")
        assert None not in col.get([files[0].doc, new_doc])
        encoders = lite_encoders()
        report = ingest(index, [tmp_path / "corpus"], encoders=encoders,
                        manifest=manifest_path(uri))
        assert (report.indexed, report.unchanged, report.replaced) == (0, 3, 1)
        assert encoded_files(encoders) == 0
        assert col.get([files[0].doc, new_doc])[0] is None and col.count() == 1
        assert index.collection("toy-image.text").get([files[0].doc]) == [None]
    assert load_manifest(manifest_path(uri))[str(image)]["doc"] == new_doc

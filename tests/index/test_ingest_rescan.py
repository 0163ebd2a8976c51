"""A re-run reads no file whose size and mtime the manifest recorded unchanged (``rehash``
reads them all); a touched file is read again and its stat recorded."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.api.toy import toy_encoders
from xmodal.data import content_keys
from xmodal.index import open_index
from xmodal.index.ingest import IngestReport, ingest, load_manifest, manifest_path
from xmodal.index.manifest import save_manifest

OLD_NS = 1_500_000_000 * 10**9


@pytest.fixture
def aged(corpus: Path) -> Path:
    """The toy corpus, every file last modified long ago (so its stat is trusted)."""
    for p in corpus.rglob("*"):
        if p.is_file():
            os.utime(p, ns=(OLD_NS, OLD_NS))
    return corpus


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files a scan opens to hash."""
    seen: list[str] = []
    real = content_keys.open_regular

    def counted(path: Path) -> tuple[int, int]:
        seen.append(Path(path).name)
        return real(path)

    monkeypatch.setattr(content_keys, "open_regular", counted)
    return seen


def run(uri: str, corpus: Path, **kw: object) -> IngestReport:
    with open_index(uri) as index:
        return ingest(index, [corpus], encoders=toy_encoders(), manifest=manifest_path(uri),
                      **kw)


def test_a_rerun_reads_no_unchanged_file(uri, aged, reads):
    first = run(uri, aged)
    hashed = sorted(reads)
    assert len(hashed) == first.indexed + len(first.failed)  # every document, broken.png too
    entries = load_manifest(manifest_path(uri))
    assert all(e["stat"][1] == OLD_NS for e in entries.values())
    reads.clear()
    again = run(uri, aged)
    assert (again.indexed, again.unchanged) == (0, first.indexed)
    assert reads == ["broken.png"]  # never recorded (it failed): hashed and tried again
    reads.clear()
    full = run(uri, aged, rehash=True)
    assert sorted(reads) == hashed and full.unchanged == first.indexed


def test_a_touched_file_is_read_again_and_its_new_stat_recorded(uri, aged, reads):
    run(uri, aged)
    note = next(p for p in aged.rglob("*.md"))
    os.utime(note, ns=(OLD_NS, OLD_NS + 5))
    reads.clear()
    report = run(uri, aged)
    assert sorted(reads) == sorted(["broken.png", note.name])
    assert (report.indexed, report.replaced) == (0, 0)  # same bytes: unchanged
    assert load_manifest(manifest_path(uri))[str(note.resolve())]["stat"][1] == OLD_NS + 5


def test_an_edit_that_restores_size_and_mtime_needs_rehash(uri, aged, reads):
    run(uri, aged)
    note = next(p for p in aged.rglob("*.md"))
    text = note.read_bytes()
    note.write_bytes(text.swapcase())  # same size; the time put back, as some tools do
    os.utime(note, ns=(OLD_NS, OLD_NS))
    assert run(uri, aged).replaced == 0  # trusted: not seen (the documented trade-off)
    assert run(uri, aged, rehash=True).replaced == 1


def test_entries_recorded_before_stats_get_them_on_the_next_run(uri, aged, reads):
    first = run(uri, aged)
    path = manifest_path(uri)
    entries = load_manifest(path)
    for key in list(entries):
        entries[key] = {k: v for k, v in entries[key].items() if k != "stat"}
    save_manifest(path, dict(entries))  # as an index made before
    reads.clear()
    run(uri, aged)
    assert len(reads) == first.indexed + 1  # all read once more
    assert all("stat" in e for e in load_manifest(path).values())
    reads.clear()
    run(uri, aged)
    assert reads == ["broken.png"]

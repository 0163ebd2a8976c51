"""Ingest: scan → toy encoders → ``<model>.<modality>`` collections, incremental via the manifest.

The encoders are the deterministic toys of ``tests/api/toy.py`` (no model is loaded).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.api.toy import ToyEncoder, toy_encoders
from xmodal.data.corpus import file_sha256, scan_corpus
from xmodal.index import Index, document_id, open_index
from xmodal.index.ingest import IngestReport, ingest, load_manifest, manifest_path

ALL = ("toy-audio.audio", "toy-audio.text", "toy-image.image", "toy-image.text",
       "toy-text.text")


@pytest.fixture
def idx(uri: str) -> Iterator[Index]:
    with open_index(uri) as index:
        yield index


@pytest.fixture
def encoders() -> dict[str, ToyEncoder]:
    return toy_encoders()


def run(idx: Index, uri: str, corpus: Path, encoders: dict[str, ToyEncoder], **kw) -> IngestReport:
    return ingest(idx, [corpus], encoders=encoders, manifest=manifest_path(uri), **kw)


def doc(path: Path) -> str:
    path = path.resolve()
    return document_id(str(path), file_sha256(path))


def everywhere(idx: Index, doc_id: str) -> list[str]:
    """The collections that hold ``doc_id``."""
    return [c.name for c in idx.collections() if idx.collection(c.name).get([doc_id])[0]]


def items_encoded(encoders: dict[str, ToyEncoder]) -> int:
    return sum(sum(e.items.values()) for e in encoders.values())


def test_first_ingest_counts_collections_and_payloads(idx, uri, corpus, encoders):
    report = run(idx, uri, corpus, encoders)
    assert (report.indexed, report.unchanged, report.replaced, report.pruned) == (7, 0, 0, 0)
    assert [Path(p.item).name for p in report.failed] == ["broken.png"]
    assert "undecodable" in report.failed[0].reason
    assert [(Path(p.item).name, p.reason) for p in report.skipped] == [
        ("data.bin", "unsupported file type .bin")]
    assert report.collections == ALL
    assert "indexed 7" in report.summary() and "failed 1" in report.summary()
    counts = {c.name: c.count for c in idx.collections()}
    assert counts == {"toy-audio.audio": 2, "toy-audio.text": 0, "toy-image.image": 3,
                      "toy-image.text": 3, "toy-text.text": 2}
    info = {c.name: c for c in idx.collections()}["toy-image.image"]
    assert (info.model, info.modality, info.dim) == ("toy-image", "image", 32)
    assert info.card["family"] == "lit" and info.card["modalities"] == ["text", "image"]

    heart = (corpus / "images/heart.png").resolve()
    hid = doc(heart)
    image = idx.collection("toy-image.image").get([hid])[0]
    assert image is not None
    stat = heart.stat()
    mtime = datetime.fromtimestamp(stat.st_mtime, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert image.payload == {"path": str(heart), "modality": "image",
                             "sha256": file_sha256(heart), "representation": "image",
                             "caption": "a red heart", "folder": "images", "ext": "png",
                             "size_bytes": stat.st_size, "mtime": mtime}  # toy bytes: no header
    caption = idx.collection("toy-image.text").get([hid])[0]  # same doc id, encoder's text col
    assert caption is not None
    assert caption.payload == {**image.payload, "representation": "caption"}
    text = idx.collection("toy-text.text").get([doc(corpus / "docs/copy.md")])[0]
    assert text is not None and text.payload["modality"] == "text"
    assert text.payload["representation"] == "text" and text.payload["caption"] is None
    assert idx.collection("toy-image.image").get([doc(corpus / "images/broken.png")]) == [None]


def test_reingest_skips_everything_unchanged(idx, uri, corpus, encoders):
    run(idx, uri, corpus, encoders)
    again = toy_encoders()
    report = run(idx, uri, corpus, again)
    assert (report.indexed, report.unchanged, report.replaced, report.pruned) == (0, 7, 0, 0)
    # the bad file is tried again (it was never stored) and reported again; nothing else is
    assert [Path(p.item).name for p in report.failed] == ["broken.png"]
    assert items_encoded(again) == 1 and again["image"].items["image"] == 1


def test_reingest_without_manifest_looks_up_the_index(idx, corpus, encoders):
    ingest(idx, [corpus], encoders=encoders)
    again = toy_encoders()
    report = ingest(idx, [corpus], encoders=again)
    assert (report.indexed, report.unchanged) == (0, 7)
    with pytest.raises(ValueError, match="prune needs a manifest"):
        ingest(idx, [corpus], encoders=again, prune=True)


def test_modified_file_replaces_its_old_document(idx, uri, corpus, encoders):
    run(idx, uri, corpus, encoders)
    heart = corpus / "images/heart.png"
    old = doc(heart)
    assert everywhere(idx, old) == ["toy-image.image", "toy-image.text"]
    heart.write_bytes(b"heart love blue star")
    report = run(idx, uri, corpus, toy_encoders())
    assert (report.indexed, report.unchanged, report.replaced, report.pruned) == (1, 6, 1, 0)
    assert everywhere(idx, old) == []
    assert everywhere(idx, doc(heart)) == ["toy-image.image", "toy-image.text"]
    assert idx.collection("toy-image.image").count() == 3


def test_deleted_file_is_pruned(idx, uri, corpus, encoders):
    run(idx, uri, corpus, encoders)
    drum = corpus / "sounds/drum.wav"
    old = doc(drum)
    drum.unlink()
    kept = run(idx, uri, corpus, toy_encoders())  # without prune the document stays
    assert kept.pruned == 0 and everywhere(idx, old) == ["toy-audio.audio"]
    report = run(idx, uri, corpus, toy_encoders(), prune=True)
    assert (report.indexed, report.unchanged, report.replaced, report.pruned) == (0, 6, 0, 1)
    assert everywhere(idx, old) == []
    assert str(drum.resolve()) not in load_manifest(manifest_path(uri))


def test_interrupted_ingest_resumes(tmp_path, idx, uri):
    folder = tmp_path / "pics"
    folder.mkdir()
    words = ["heart red", "cat kitten", "smile face", "drum beat", "crow bird"]
    for n, text in enumerate(words):
        (folder / f"{n}.png").write_text(text)
    broken = toy_encoders(image={"image": 2})  # KeyboardInterrupt on the 2nd batch
    with pytest.raises(KeyboardInterrupt):
        ingest(idx, [folder], encoders=broken, manifest=manifest_path(uri), batch_size=2)
    assert idx.collection("toy-image.image").count() == 2
    again = toy_encoders()
    report = ingest(idx, [folder], encoders=again, manifest=manifest_path(uri), batch_size=2)
    assert (report.indexed, report.unchanged, report.failed) == (3, 2, ())
    assert again["image"].items["image"] == 3
    assert idx.collection("toy-image.image").count() == 5
    done = ingest(idx, [folder], encoders=toy_encoders(), manifest=manifest_path(uri))
    assert (done.indexed, done.unchanged) == (0, 5)


def test_file_listed_twice_is_indexed_once_and_reported(idx, uri, corpus, encoders):
    files = list(scan_corpus([corpus]).files)
    heart = next(f for f in files if f.path.name == "heart.png")
    report = ingest(idx, files=[*files, heart], encoders=encoders, manifest=manifest_path(uri))
    assert report.indexed == 7
    assert [(p.item, p.reason.split(":")[0]) for p in report.skipped] == [
        (str(heart.path), "listed twice")]
    assert encoders["image"].items["image"] == 4  # heart, cat, sun, broken: each once


def test_modality_without_encoder_is_skipped(idx, uri, corpus):
    encoders = toy_encoders()
    del encoders["audio"]
    report = run(idx, uri, corpus, encoders)
    assert report.indexed == 5
    reasons = {Path(p.item).name: p.reason for p in report.skipped}
    assert reasons["drum.wav"] == reasons["violin.wav"] == "no encoder for audio"


def test_progress_is_reported_per_batch(idx, uri, corpus, encoders):
    seen: list[tuple[str, int, int]] = []
    run(idx, uri, corpus, encoders, batch_size=2, progress=lambda *a: seen.append(a))
    assert ("image", 2, 4) in seen and ("image", 4, 4) in seen
    assert ("text", 2, 2) in seen and ("audio", 2, 2) in seen


def test_edited_caption_is_reindexed(idx, uri, corpus, encoders):
    run(idx, uri, corpus, encoders)
    heart = corpus / "images/heart.png"
    (corpus / "images/heart.txt").write_text("a blue star")
    report = run(idx, uri, corpus, toy_encoders())
    assert (report.indexed, report.unchanged) == (1, 6)
    hid = doc(heart)
    assert idx.collection("toy-image.text").get([hid])[0].payload["caption"] == "a blue star"
    assert idx.collection("toy-image.image").get([hid])[0].payload["caption"] == "a blue star"


def test_removed_caption_leaves_no_stale_caption(idx, uri, corpus, encoders):
    run(idx, uri, corpus, encoders)
    (corpus / "images/heart.txt").unlink()
    report = run(idx, uri, corpus, toy_encoders())
    assert (report.indexed, report.unchanged) == (1, 6)
    hid = doc(corpus / "images/heart.png")
    assert idx.collection("toy-image.text").get([hid]) == [None]
    assert idx.collection("toy-image.image").get([hid])[0].payload["caption"] is None


def test_unreadable_text_and_empty_files_are_reported(idx, uri, corpus, encoders):
    (corpus / "docs/latin1.md").write_bytes(b"caf\xe9 \xff\xfe")
    (corpus / "docs/empty.txt").write_bytes(b"")
    report = run(idx, uri, corpus, encoders)
    assert report.indexed == 7
    failed = {Path(p.item).name: p.reason for p in report.failed}
    assert set(failed) == {"broken.png", "latin1.md"}
    assert failed["latin1.md"].startswith("unreadable text")
    assert {Path(p.item).name: p.reason for p in report.skipped}["empty.txt"] == "empty file"


def test_another_model_indexes_the_files_again(idx, uri, corpus, encoders):
    run(idx, uri, corpus, encoders)
    other = {**toy_encoders(), "image": ToyEncoder("toy-image2", ("text", "image"))}
    report = run(idx, uri, corpus, other)
    assert (report.indexed, report.unchanged) == (3, 4)
    assert report.collections == ("toy-image2.image", "toy-image2.text")
    heart = corpus / "images/heart.png"
    hid = doc(heart)
    assert everywhere(idx, hid) == ["toy-image.image", "toy-image.text", "toy-image2.image",
                                    "toy-image2.text"]
    heart.unlink()
    (corpus / "images/heart.txt").unlink()
    assert run(idx, uri, corpus, other, prune=True).pruned == 1
    assert everywhere(idx, hid) == []

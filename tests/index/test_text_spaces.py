"""Text documents in every shared space: stored by each cross-modal model's text side, marked
apart from captions, back-filled when a model joins, resumed after a kill (nothing encoded
twice), replaced and pruned with their file, and taken out with their model."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

import xmodal.index.text_spaces as text_spaces
from tests.api.toy import ToyEncoder, embed, toy_encoders, write_texts
from xmodal.index import document_id, open_index
from xmodal.index.ingest import ingest, load_manifest
from xmodal.index.text_spaces import remove_model


def write(root: Path) -> Path:
    files = {"images/heart.png": "heart red love", "images/heart.txt": "a red heart",
             "docs/a.txt": "red heart love letter", "docs/b.txt": "cat and dog",
             "docs/c.txt": "drum beat and violin note"}
    return write_texts(root, files)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return write(tmp_path / "corpus")


def doc(path: Path) -> str:
    return document_id(str(path), hashlib.sha256(path.read_bytes()).hexdigest())


def run(index, corpus: Path, encoders: dict[str, ToyEncoder], manifest: Path, **kw):
    return ingest(index, [corpus], encoders=encoders, manifest=manifest, **kw)


def test_documents_and_captions_in_the_image_models_text_collection(tmp_path, corpus):
    enc = toy_encoders()
    with open_index(f"exact:{tmp_path / 'idx'}") as index:
        report = run(index, corpus, enc, tmp_path / "m.json", spaces=[enc["image"], enc["audio"]])
        assert "toy-image.text" in report.collections and "toy-audio.text" in report.collections
        a, heart = corpus / "docs/a.txt", corpus / "images/heart.png"
        for name in ("toy-image.text", "toy-audio.text", "toy-text.text"):
            (rec,) = index.collection(name).get([doc(a)])
            assert (rec.payload["path"], rec.payload["modality"], rec.payload["representation"]) \
                == (str(a), "text", "text")
            np.testing.assert_allclose(rec.vector, embed("red heart love letter"), atol=1e-6)
        (caption,) = index.collection("toy-image.text").get([doc(heart)])  # the image's id
        assert (caption.payload["path"], caption.payload["modality"],
                caption.payload["representation"]) == (str(heart), "image", "caption")
        assert index.collection("toy-audio.text").count() == 3  # documents, no caption
        entry = load_manifest(tmp_path / "m.json")[str(a)]
        assert entry["collections"] == ["toy-audio.text", "toy-image.text", "toy-text.text"]
        assert enc["image"].items["document"] == 1 + 3 and enc["text"].items["document"] == 3


def test_a_model_that_joins_gets_the_documents_back_filled_once(tmp_path, corpus):
    enc = toy_encoders()
    uri, manifest = f"exact:{tmp_path / 'idx'}", tmp_path / "m.json"
    with open_index(uri) as index:
        run(index, corpus / "docs", {"text": enc["text"]}, manifest)
        assert [c.name for c in index.collections()] == ["toy-text.text"]
        report = run(index, corpus, enc, manifest, spaces=[enc["image"]])
        assert (report.indexed, report.unchanged) == (1, 3)  # the image; documents unchanged
        assert enc["text"].items["document"] == 3  # the text model encoded nothing again
        assert enc["image"].items["document"] == 1 + 3  # its caption, then the back-fill
        assert index.collection("toy-image.text").count() == 4
        again = run(index, corpus, enc, manifest, spaces=[enc["image"]])
        assert (again.indexed, again.unchanged) == (0, 4)
        assert enc["image"].items["document"] == 4 and "toy-image.text" not in again.collections


def test_back_fill_resumes_after_a_kill(tmp_path, corpus):
    uri, manifest = f"exact:{tmp_path / 'idx'}", tmp_path / "m.json"
    text = ToyEncoder("toy-text", ("text",))
    killed = ToyEncoder("toy-image", ("text", "image"), interrupt_on={"document": 2})
    with open_index(uri) as index:
        run(index, corpus / "docs", {"text": text}, manifest)
        with pytest.raises(KeyboardInterrupt):  # the second batch of one document dies
            run(index, corpus / "docs", {"text": text}, manifest, spaces=[killed], batch_size=1)
        assert killed.items["document"] == 1
        listed = [k for k, e in load_manifest(manifest).items()
                  if "toy-image.text" in e["collections"]]
        assert len(listed) == 1 == index.collection("toy-image.text").count()
        fresh = ToyEncoder("toy-image", ("text", "image"))
        run(index, corpus / "docs", {"text": text}, manifest, spaces=[fresh])
        assert fresh.items["document"] == 2  # the two that were not stored, nothing twice
        assert index.collection("toy-image.text").count() == 3


def test_stored_before_the_manifest_was_written_is_adopted(tmp_path, corpus, monkeypatch):
    uri, manifest = f"exact:{tmp_path / 'idx'}", tmp_path / "m.json"
    text, space = ToyEncoder("toy-text", ("text",)), ToyEncoder("toy-image", ("text", "image"))
    with open_index(uri) as index:
        run(index, corpus / "docs", {"text": text}, manifest)

        def killed(path, data):  # the vectors are stored; the kill comes before the manifest
            raise KeyboardInterrupt

        monkeypatch.setattr(text_spaces, "save_manifest", killed)
        with pytest.raises(KeyboardInterrupt):
            run(index, corpus / "docs", {"text": text}, manifest, spaces=[space])
        monkeypatch.undo()
        assert index.collection("toy-image.text").count() == 3
        assert not any("toy-image.text" in e["collections"]
                       for e in load_manifest(manifest).values())
        run(index, corpus / "docs", {"text": text}, manifest, spaces=[space])
        assert space.items["document"] == 3  # adopted: not encoded again
        assert all("toy-image.text" in e["collections"] for e in load_manifest(manifest).values())


def test_changed_and_pruned_documents_leave_every_space(tmp_path, corpus):
    enc = toy_encoders()
    uri, manifest = f"exact:{tmp_path / 'idx'}", tmp_path / "m.json"
    with open_index(uri) as index:
        run(index, corpus / "docs", enc, manifest, spaces=[enc["image"]])
        old = doc(corpus / "docs/a.txt")
        (corpus / "docs/a.txt").write_text("blue star")
        (corpus / "docs/b.txt").unlink()
        report = run(index, corpus / "docs", enc, manifest, spaces=[enc["image"]], prune=True)
        assert (report.replaced, report.pruned) == (1, 1)
        space = index.collection("toy-image.text")
        assert space.get([old]) == [None] and space.count() == 2
        (new,) = space.get([doc(corpus / "docs/a.txt")])
        np.testing.assert_allclose(new.vector, embed("blue star"), atol=1e-6)


def test_removing_a_model_removes_its_lists_and_its_records(tmp_path, corpus):
    enc = toy_encoders()
    uri, manifest = f"exact:{tmp_path / 'idx'}", tmp_path / "m.json"
    with open_index(uri) as index:
        run(index, corpus, enc, manifest, spaces=[enc["image"], enc["audio"]])
        assert remove_model(index, "toy-image", manifest_file=manifest) == [
            "toy-image.image", "toy-image.text"]
        assert sorted(c.name for c in index.collections()) == ["toy-audio.text", "toy-text.text"]
        entries = load_manifest(manifest)
        assert str(corpus / "images/heart.png") not in entries  # held by that model alone
        assert all("toy-image" not in c for e in entries.values() for c in e["collections"])
        with pytest.raises(ValueError, match="no collection of the index belongs to model "
                           "'toy-image'"):
            remove_model(index, "toy-image", manifest_file=manifest)
        again = run(index, corpus, enc, manifest, spaces=[enc["image"], enc["audio"]])
        assert again.indexed == 1 and index.collection("toy-image.text").count() == 4

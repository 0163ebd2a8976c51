"""The manifest's SQLite store: rows written per save, old JSON manifests read and migrated."""

from __future__ import annotations

import copy
import json
import sqlite3
from pathlib import Path

import pytest

from tests.api.toy import toy_encoders
from xmodal.index import manifest_store as store
from xmodal.index import open_index
from xmodal.index.ingest import ingest, manifest_path
from xmodal.index.manifest_store import (
    Manifest,
    legacy_path,
    load_manifest,
    manifest_stamp,
    save_manifest,
)


def entry(doc: str) -> dict[str, object]:
    return {"doc": doc, "sha256": doc * 4, "caption": None, "meta": "m",
            "collections": ["toy-image.image"]}


def rows(path: Path) -> dict[str, dict[str, object]]:
    """The table read with sqlite3 alone (the oracle for load_manifest)."""
    con = sqlite3.connect(path)
    try:
        return {p: json.loads(e) for p, e in con.execute("SELECT path, entry FROM entries")}
    finally:
        con.close()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "xmodal-manifest.sqlite"


def test_a_save_writes_only_the_changed_rows(path, monkeypatch):
    m = load_manifest(path)
    m.update({f"/f{i}.png": entry(f"d{i}") for i in range(100)})
    save_manifest(path, m)
    written: list[str] = []
    real = store._put
    monkeypatch.setattr(store, "_put", lambda con, man, keys: (
        written.extend(keys := list(keys)), real(con, man, keys)))
    m = load_manifest(path)
    m["/f3.png"] = entry("new")
    m.pop("/f7.png")
    del m["/f8.png"]
    m["/f9.png"]["meta"] = "changed in place"
    m.touch("/f9.png")
    save_manifest(path, m)
    assert written == ["/f3.png", "/f9.png"]
    expected = {f"/f{i}.png": entry(f"d{i}") for i in range(100) if i not in (7, 8)}
    expected["/f3.png"] = entry("new")
    expected["/f9.png"] = {**entry("d9"), "meta": "changed in place"}
    assert rows(path) == expected == load_manifest(path)
    assert m.changed() == []


def test_an_entry_changed_in_place_is_written(path):
    """Code that sets a key of an entry it holds (text_spaces: ``entry["collections"] = ...``)
    needs no touch; nested changes do."""
    m = load_manifest(path)
    m.update({"/a": entry("a"), "/b": entry("b"), "/c": entry("c")})
    save_manifest(path, m)
    m = load_manifest(path)
    held = m["/a"]
    held["collections"] = ["other.text"]
    m.get("/b").pop("caption")
    m["/c"]["collections"].append("nested.text")  # not seen without a touch
    assert m.changed() == ["/a", "/b"]
    save_manifest(path, m)
    assert rows(path)["/a"]["collections"] == ["other.text"]
    assert "caption" not in rows(path)["/b"]
    assert rows(path)["/c"] == entry("c")
    m.touch("/c")
    save_manifest(path, m)
    assert rows(path)["/c"]["collections"] == ["toy-image.image", "nested.text"]
    copied = copy.deepcopy(m)
    assert copied == m and json.loads(json.dumps(copied)) == rows(path)


def test_a_plain_dict_or_a_foreign_manifest_is_written_whole(path, tmp_path):
    save_manifest(path, {"/a": entry("a"), "/b": entry("b")})
    save_manifest(path, {"/b": entry("b2")})  # a plain dict: the whole manifest
    assert rows(path) == {"/b": entry("b2")}
    other = tmp_path / "other.sqlite"
    save_manifest(other, {"/x": entry("x")})
    m = load_manifest(other)  # read elsewhere: saving it to path writes it whole
    save_manifest(path, m)
    assert rows(path) == {"/x": entry("x")}


def test_a_failed_save_keeps_the_old_rows_and_the_changes_pending(path, monkeypatch):
    m = load_manifest(path)
    m["/a"] = entry("a")
    save_manifest(path, m)
    m["/b"] = entry("b")
    m.pop("/a")

    def torn(con, man, keys):
        con.execute("DELETE FROM entries")  # half a write, then the kill
        raise KeyboardInterrupt

    monkeypatch.setattr(store, "_put", torn)
    with pytest.raises(KeyboardInterrupt):
        save_manifest(path, m)
    assert rows(path) == {"/a": entry("a")}  # rolled back: the old rows
    assert m.changed() == ["/a", "/b"]
    monkeypatch.undo()
    save_manifest(path, m)
    assert rows(path) == {"/b": entry("b")}


def test_an_old_json_manifest_is_read_then_migrated_on_the_first_write(path):
    old = {f"/f{i}.png": entry(f"d{i}") for i in range(5)}
    legacy_path(path).write_text(json.dumps(old), "utf-8")
    assert legacy_path(path).name == "xmodal-manifest.json"
    m = load_manifest(path)
    assert m == old and not path.exists()
    m["/f0.png"] = entry("new")
    save_manifest(path, m)
    assert rows(path) == {**old, "/f0.png": entry("new")}
    assert not legacy_path(path).exists()  # one source of truth after the migration


def test_a_manifest_named_json_is_a_database_and_an_old_one_there_is_replaced(tmp_path):
    """A caller's own ``*.json`` name: the old JSON under it is read, then replaced in place
    by the database (not deleted as the 'old file' after the migration)."""
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"/a.txt": {"doc": "d1", "sha256": "s1"}}))
    known = load_manifest(path)
    assert dict(known) == {"/a.txt": {"doc": "d1", "sha256": "s1"}}
    known["/b.txt"] = {"doc": "d2", "sha256": "s2"}
    save_manifest(path, known)
    assert path.read_bytes().startswith(b"SQLite format 3")
    assert dict(load_manifest(path)) == {"/a.txt": {"doc": "d1", "sha256": "s1"},
                                         "/b.txt": {"doc": "d2", "sha256": "s2"}}
    fresh = tmp_path / "new.json"  # none yet: created, and still there
    save_manifest(fresh, {"/c.txt": {"doc": "d3"}})
    assert dict(load_manifest(fresh)) == {"/c.txt": {"doc": "d3"}}


def test_a_kill_during_the_migration_leaves_the_json_in_charge(path, monkeypatch):
    old = {"/a.png": entry("a")}
    legacy_path(path).write_text(json.dumps(old), "utf-8")

    def killed(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(store.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        save_manifest(path, {**old, "/b.png": entry("b")})
    assert not path.exists() and load_manifest(path) == old
    assert [p.name for p in path.parent.iterdir()] == ["xmodal-manifest.json"]  # no temp left


def test_the_stamp_follows_every_save_and_the_old_json(path):
    assert manifest_stamp(path) is None
    legacy_path(path).write_text(json.dumps({"/a": entry("a")}), "utf-8")
    st = legacy_path(path).stat()
    assert manifest_stamp(path) == (st.st_mtime_ns, st.st_size)
    m = load_manifest(path)
    save_manifest(path, m)
    first = manifest_stamp(path)
    m["/b"] = entry("b")
    save_manifest(path, m)
    assert first is not None and manifest_stamp(path) != first


def test_a_corrupt_database_is_a_value_error_naming_it(path):
    path.write_bytes(b"not a database at all" * 100)
    with pytest.raises(ValueError, match=r"xmodal-manifest\.sqlite: not a readable manifest"):
        load_manifest(path)


def test_ingest_over_an_index_with_an_old_json_manifest(tmp_path, corpus):
    """An index made before the SQLite manifest: its files stay unchanged (nothing encoded),
    the first write migrates, and later runs read the database."""
    uri = f"exact:{tmp_path / 'idx'}"
    with open_index(uri) as index:
        first = ingest(index, [corpus], encoders=toy_encoders(), manifest=manifest_path(uri))
    path = manifest_path(uri)
    entries = rows(path)
    path.unlink()  # back to how an older xmodal left it: the same entries as JSON
    legacy_path(path).write_text(json.dumps(entries), "utf-8")
    encoders = toy_encoders()
    (corpus / "new.md").write_text("# a new note about violins")
    with open_index(uri) as index:
        again = ingest(index, [corpus], encoders=encoders, manifest=manifest_path(uri))
    assert (again.indexed, again.unchanged) == (1, first.indexed)
    # encoded: the new note, and the broken image tried again (failed files are not recorded)
    assert [Path(p.item).name for p in again.failed] == ["broken.png"]
    assert sum(sum(e.items.values()) for e in encoders.values()) == 2
    assert not legacy_path(path).exists()
    assert set(rows(path)) == set(entries) | {str((corpus / "new.md").resolve())}
    assert isinstance(load_manifest(path), Manifest)

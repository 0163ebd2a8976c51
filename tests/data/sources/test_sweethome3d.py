"""Sweet Home 3D furniture icons (Debian sweethome3d-furniture + the jar's default catalog)."""

from __future__ import annotations

import hashlib
from collections import Counter

import pytest

from xmodal.data.images import load_images
from xmodal.data.sources._common import SourceMissingError, deb_root
from xmodal.data.sources.sweethome3d import (
    PKG,
    catalog_licenses,
    load_sweethome3d,
    parse_properties,
)


def test_every_catalog_counts_groups_and_licences():
    items = load_sweethome3d().items
    assert len(items) == 920  # 820 plugin models + 100 default; no icon repeats in 1.8-1
    groups = Counter(i.group for i in items)
    assert len(groups) == 12 and groups["Living room"] == 172 and groups["Vehicles"] == 28
    assert Counter(i.license for i in items) == {
        "CC-BY-3.0": 530, "CC0-1.0": 175, "CC-BY-3.0-US": 115, "GPL-2+": 100}
    assert all(i.origin.startswith("Debian sweethome3d") and "#" in i.origin for i in items)
    assert len({i.path for i in items}) == len(items)
    digests = {hashlib.sha1(i.path.read_bytes()).hexdigest() for i in items}
    assert len(digests) == len(items)  # no two items share an icon's bytes
    captions = {i.caption for i in items}
    assert {"Rubik's cube", "Scooter", "Teddy bear", "Bill 20€", "Bed"} <= captions
    assert "Bed 140x190" not in captions and "Red light bulb" in captions
    noise = {"Default", "Blend Swap", "Adjustable", "SCPTS"}
    assert not any(noise & set(i.tags) for i in items)


def test_rich_captions_and_decoding(tmp_path, monkeypatch):
    root = deb_root(PKG)
    monkeypatch.setenv("XMODAL_DATA_DIR", str(tmp_path))  # extract afresh into tmp
    items = load_sweethome3d(limit=40, root=root, caption="rich").items
    assert len(items) == 40 and items[0].path.is_relative_to(tmp_path)
    assert len(list(tmp_path.glob("sweethome3d/*/*/*/*.png"))) > 800  # all icons, once
    assert items[0].caption == "Armchair (Office; Seat)"
    assert items[1].caption == "Bed (Bedroom)"  # no tags left: no "; "
    everything = load_sweethome3d(root=root, caption="rich").items
    rubik = [i for i in everything if i.caption.startswith("Rubik")]
    assert [i.caption for i in rubik] == ["Rubik's cube (Bedroom; Toy, Game, Decoration)"]
    decoded = load_images([i.path for i in items[:10]])
    assert not decoded.failed and decoded.indices == tuple(range(10))
    assert decoded.images[0].size == (128, 128)


def test_licences_follow_the_copyright_file():
    assert catalog_licenses(deb_root(PKG)) == {
        "KatorLegaz": "CC-BY-3.0-US", "Reallusion": "CC-BY-3.0-US", "Scopia": "CC-BY-3.0",
        "BlendSwap-CC-BY": "CC-BY-3.0", "BlendSwap-CC-0": "CC0-1.0"}


def test_properties_parser():
    text = ("# comment\n! other\nname#1=Caf\\u00e9 \\\n    table\nkey\\=x : v\n"
            "tags#1 Toy, Game\nempty#1=\n")
    assert parse_properties(text) == {
        "name#1": "Café table", "key=x": "v", "tags#1": "Toy, Game", "empty#1": ""}
    assert parse_properties("a=\\ud83d\\ude00") == {"a": "\U0001f600"}


def test_missing_package(tmp_path, monkeypatch):
    with pytest.raises(SourceMissingError, match=r"scripts/install-data\.sh"):
        load_sweethome3d(root=tmp_path)
    monkeypatch.setenv("XMODAL_DATA_DIR", str(tmp_path))
    with pytest.raises(SourceMissingError, match=r"scripts/install-data\.sh"):
        load_sweethome3d()

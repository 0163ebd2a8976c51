"""Cataclysm DDA sprites (Debian cataclysm-dda-data): counts, captions, filters, files, build."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from PIL import Image

from xmodal.data.images import load_images
from xmodal.data.sources._common import SourceMissingError, deb_root
from xmodal.data.sources.cataclysm import (
    LICENSE,
    PKG,
    cataclysm_tilesets,
    load_cataclysm,
)


@pytest.fixture(scope="module")
def chibi():
    return load_cataclysm(tilesets=("ChibiUltica",)).items


def by_id(items):
    return {item.origin.rsplit("(", 1)[1].rstrip(")"): item for item in items}


def test_tilesets():
    names = cataclysm_tilesets()
    assert len(names) == 10 and "ChibiUltica" in names and "ASCIITileset" not in names


def test_counts_and_groups(chibi):
    assert 1200 <= len(chibi) <= 1400  # 1,283 measured
    groups = Counter(item.group for item in chibi)
    assert set(groups) <= {"item", "food", "tool", "gun", "furniture", "clothing", "terrain",
                           "ammo", "animal", "vehicle part", "book", "trap"}
    assert groups["food"] > 150 and groups["animal"] > 60 and groups["furniture"] > 100


def test_known_captions(chibi):
    items = by_id(chibi)
    assert items["jug_plastic"].caption == "gallon jug"
    assert items["jug_plastic"].tags[0].startswith("A standard plastic jug")
    assert (items["mon_cat_tabby"].caption, items["mon_cat_tabby"].group) == ("tabby cat",
                                                                              "animal")
    for animal in ("mon_dog", "mon_chicken", "mon_cow", "mon_deer", "mon_horse", "mon_sheep"):
        assert items[animal].group == "animal"
    assert items["f_armchair"].caption == "arm chair"
    captions = {item.caption for item in chibi}
    assert {"peach", "bicycle wheel", "gas mask", "oak tree", "fox"} <= captions


def test_monsters_ground_and_ui_are_dropped(chibi):
    ids = set(by_id(chibi))
    for prefix in ("mon_zombie", "mon_zomb", "mon_fungal", "mon_blob", "mon_triffid",
                   "mon_ant", "mon_mi_go", "overlay_", "cursor", "highlight",
                   "explosion", "fd_", "t_floor", "t_wall", "t_grass", "t_pavement", "corpse_"):
        assert not [i for i in ids if i.startswith(prefix)], prefix
    assert not any(i.endswith(("bot", "_giant", "_mega")) or "_mutant" in i for i in ids)
    captions = {item.caption.lower() for item in chibi}
    assert not any(w in c.split() for c in captions for w in ("zombie", "floor", "wall"))
    assert not any("casing" in c for c in captions)


def test_rich_caption_and_no_duplicates(chibi):
    rich = load_cataclysm(tilesets=("ChibiUltica",), caption="rich").items
    assert [r.path for r in rich] == [item.path for item in chibi]
    cat = by_id(rich)["mon_cat_tabby"]
    assert cat.caption.startswith("tabby cat — Marked with the characteristic 'M'")
    assert len({item.path for item in chibi}) == len(chibi)
    assert len({item.caption for item in chibi}) == len(chibi)  # one sprite per name


def test_files_licence_origin(chibi):
    sample = chibi[::50]
    decoded = load_images([item.path for item in sample])
    assert not decoded.failed and len(decoded.indices) == len(sample)
    for item in chibi:
        assert item.license == LICENSE
        assert item.origin.startswith("Debian cataclysm-dda-data 0.F-3-9: gfx/ChibiUltica/")
        assert "#" in item.origin
    with Image.open(sample[0].path) as image:
        assert image.size == (128, 128) and image.mode == "RGBA"


def test_limit_and_order():
    first = load_cataclysm(limit=5).items
    assert len(first) == 5 and all("gfx/BrownLikeBears/" in item.origin for item in first)
    ids = list(by_id(load_cataclysm(tilesets=("HoderTileset",)).items))
    assert ids == sorted(ids)


def test_build_once_then_fast(tmp_path, monkeypatch):
    root = deb_root(PKG)
    monkeypatch.setenv("XMODAL_DATA_DIR", str(tmp_path))
    cold = load_cataclysm(tilesets=("HoderTileset",), root=root, size=64).items
    assert 350 <= len(cold) <= 420  # 380 measured
    folder = tmp_path / "cataclysm" / "0.F-3-9-HoderTileset-64px"
    assert (folder / ".complete").is_file() and (folder / "manifest.json").is_file()
    with Image.open(cold[0].path) as image:
        assert image.size == (64, 64)
    start = time.perf_counter()
    warm = load_cataclysm(tilesets=("HoderTileset",), root=root, size=64).items
    assert time.perf_counter() - start < 1.0 and warm == cold


def test_missing_package(tmp_path, monkeypatch):
    with pytest.raises(SourceMissingError, match=r"scripts/install-data\.sh"):
        load_cataclysm(root=tmp_path)
    monkeypatch.setenv("XMODAL_DATA_DIR", str(tmp_path))
    with pytest.raises(SourceMissingError, match=r"scripts/install-data\.sh"):
        load_cataclysm(limit=1)

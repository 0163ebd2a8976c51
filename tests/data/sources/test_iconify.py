"""Iconify sets from npm rendered to PNG: Fluent Emoji (3D, flat) and Game Icons."""

from __future__ import annotations

from collections import Counter

import pytest

from xmodal.data.images import load_images
from xmodal.data.sources._common import SourceMissingError, data_dir
from xmodal.data.sources.iconify import (
    _categories,
    _read,
    load_fluent_emoji,
    load_fluent_emoji_flat,
    load_game_icons,
    load_iconify,
    select_icons,
)


def _root(collection: str):
    return data_dir() / "@iconify-json" / collection / "package"




def _kept(collection: str) -> dict[str, str]:
    _, _, icons, default = _read(collection, _root(collection))
    return select_icons(icons, default)


@pytest.mark.parametrize("collection, count", [
    ("fluent-emoji", 1590),
    ("fluent-emoji-flat", 1594),
    ("game-icons", 4129),
])
def test_full_selection_without_rendering(collection, count):
    kept = _kept(collection)
    assert len(kept) == count and list(kept) == sorted(kept)
    assert not [k for k in kept if k.endswith("-medium-dark")]  # whole tone families go
    if collection.startswith("fluent"):
        assert {"rabbit-face", "kiwi-fruit", "mountain-cableway", "flag-in-hole",
                "horizontal-traffic-light", "backhand-index-pointing-right"} <= set(kept)
        assert not {"waving-hand-dark", "waving-hand-light", "grinning-cat"} & set(kept)
        assert {"vertical-traffic-light", "police-car-light"} <= set(kept)  # not skin tones
        assert ("knot" in kept) == (collection == "fluent-emoji-flat")  # hidden in the 3D set
        groups = _categories(collection, _root(collection))
        assert Counter(groups[k] for k in kept if k in groups)["Food & Drink"] == 136
    else:
        assert {"saloon-doors", "jerrycan", "kiwi-fruit", "fog-light"} <= set(kept)
        assert not {"usa-flag", "brazil-flag", "female-vampire", "eskimo"} & set(kept)


def test_fluent_emoji_renders_only_the_limit(tmp_path, monkeypatch):
    root = _root("fluent-emoji")
    monkeypatch.setenv("XMODAL_DATA_DIR", str(tmp_path))
    src = load_fluent_emoji(limit=4, root=root, size=64)
    assert src.name == "fluent-emoji" and src.license == "MIT"
    assert [i.caption for i in src.items] == [
        "1st place medal", "2nd place medal", "3rd place medal", "a button blood type"]
    assert [i.group for i in src.items] == ["Activities"] * 3 + ["Symbols"]
    folder = tmp_path / "iconify" / "fluent-emoji-1.2.7-64px"
    assert sorted(p.name for p in folder.iterdir()) == sorted(i.path.name for i in src.items)
    decoded = load_images([i.path for i in src.items])
    assert not decoded.failed and decoded.images[0].size == (64, 64)
    assert all(i.origin == f"npm @iconify-json/fluent-emoji@1.2.7: {i.path.stem}"
               for i in src.items)
    mtime = src.items[0].path.stat().st_mtime_ns
    more = load_fluent_emoji(limit=6, root=root, size=64).items  # renders 2 more, reuses 4
    assert len(list(folder.iterdir())) == 6 and more[0].path.stat().st_mtime_ns == mtime


def test_fluent_emoji_flat(tmp_path, monkeypatch):
    root = _root("fluent-emoji-flat")
    monkeypatch.setenv("XMODAL_DATA_DIR", str(tmp_path))
    items = load_fluent_emoji_flat(limit=3, root=root).items
    assert [i.caption for i in items] == ["1st place medal", "2nd place medal", "3rd place medal"]
    image = load_images([items[0].path]).images[0]
    assert image.size == (128, 128)
    with open(items[0].path, "rb") as f:
        from PIL import Image

        assert Image.open(f).getpixel((0, 0))[3] == 0  # transparent corner


def test_game_icons(tmp_path, monkeypatch):
    root = _root("game-icons")
    monkeypatch.setenv("XMODAL_DATA_DIR", str(tmp_path))
    src = load_game_icons(limit=5, root=root)
    assert [i.caption for i in src.items] == [
        "3d glasses", "3d hammer", "3d meeple", "3d stairs", "abacus"]
    assert {i.group for i in src.items} == {"game-icons"}
    assert {i.license for i in src.items} == {"CC-BY-3.0"}
    assert not load_images([i.path for i in src.items]).failed


def test_errors(tmp_path):
    with pytest.raises(SourceMissingError, match=r"scripts/install-data\.sh"):
        load_iconify("game-icons", root=tmp_path)
    with pytest.raises(ValueError, match="unknown"):
        load_iconify("noto", root=tmp_path)  # type: ignore[arg-type]


def test_select_icons_flips_and_dedups():
    data = {"width": 10, "height": 12, "icons": {
        "a": {"body": "<p/>"}, "b": {"body": "<p/>"}, "c": {"body": "<q/>", "left": 1},
        "c-medium": {"body": "<r/>"}, "c-medium-dark": {"body": "<t/>"},
        "flag-de": {"body": "<s/>"}},
        "aliases": {"d": {"parent": "c", "hFlip": True}, "e": {"parent": "a"}}}
    kept = select_icons(data, {"width": 10, "height": 12})
    assert list(kept) == ["a", "c", "d"]  # b repeats a; tones, flags and plain aliases go
    assert 'viewBox="1 0 10 12"' in kept["c"]
    assert 'translate(12 0) scale(-1 1)' in kept["d"]
    assert kept["a"].format(size=32).startswith('<svg xmlns="http://www.w3.org/2000/svg"')

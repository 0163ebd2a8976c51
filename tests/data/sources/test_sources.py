"""The real dataset loaders on their installed packages (scripts/install-data.sh)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from xmodal.data.sources import (
    SourceMissingError,
    load_fashion_mnist,
    load_freedesktop_sounds,
    load_openmoji,
    load_python_faq,
    load_sonic_pi,
    load_source,
)


def test_fashion_mnist_is_the_known_dataset():
    test = load_fashion_mnist("test").items[0]
    assert test.images.shape == (10_000, 28, 28) and test.images.dtype == np.uint8
    assert Counter(test.labels.tolist()) == dict.fromkeys(range(10), 1000)  # balanced test set
    train = load_fashion_mnist("train", limit=10).items[0]
    assert train.labels.tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]  # the published first labels
    assert train.class_names[train.labels[0]] == "ankle boot"


def test_sonic_pi_samples_and_captions():
    clips = load_sonic_pi().items
    assert len(clips) == 165
    assert len({c.label for c in clips}) == 14
    by_name = {c.path.stem: c for c in clips}
    assert by_name["drum_cymbal_open"].caption == "drum cymbal open"
    assert by_name["bd_haus"].caption == "bass drum haus"
    assert all(c.path.suffix == ".flac" and c.path.exists() for c in clips)


def test_freedesktop_sounds():
    clips = load_freedesktop_sounds().items
    assert len(clips) >= 27
    bell = next(c for c in clips if c.label == "bell")
    assert bell.caption == "bell" and bell.path.suffix == ".oga"


def test_python_faq_pairs():
    pairs = load_python_faq().items
    assert len(pairs) > 150
    assert len({p.id for p in pairs}) == len(pairs)
    first = pairs[0]
    assert first.query == "Why does Python use indentation for grouping of statements?"
    assert first.document.startswith("Guido van Rossum believes that using indentation")
    assert all(p.query and p.document for p in pairs)
    assert sum(len(p.document) > 100 for p in pairs) > 140  # real answers, not fragments


def test_openmoji():
    items = load_openmoji().items
    assert len(items) > 4000
    first = items[0]
    assert (first.caption, first.group, first.path.name) == ("grinning face", "smileys-emotion",
                                                              "1F600.svg")
    assert "smile" in first.tags and len(first.tags) == len(set(first.tags))
    assert first.path.read_text(encoding="utf-8").lstrip().startswith("<svg")


def test_missing_package_names_the_install_command(tmp_path):
    with pytest.raises(SourceMissingError, match="apt-get install sonic-pi-samples"):
        load_sonic_pi(root=tmp_path / "nope")
    with pytest.raises(SourceMissingError, match="npm pack openmoji"):
        load_openmoji(root=tmp_path)
    with pytest.raises(SourceMissingError, match=r"install-data\.sh"):
        load_fashion_mnist(root=tmp_path)


def test_registry():
    assert load_source("python-faq", limit=2).name == "python-faq"
    assert len(load_source("sonic-pi", limit=4).items) == 4
    with pytest.raises(ValueError, match="known: cataclysm-dda, emoji-datasource, fashion"):
        load_source("imagenet")


def test_every_registered_source_loads_under_its_own_name():
    from xmodal.data.sources import SOURCES

    for name in SOURCES:
        loaded = load_source(name, limit=2)
        assert loaded.name == name and loaded.items, name
        assert loaded.license and loaded.origin, name

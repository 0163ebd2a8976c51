"""The starter models' families: every source loads, caps hold, nothing from the Open Clip Art
Library, licences on every pair, and the cross-family near-duplicate rule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from xmodal.train.starter_data import (
    AUDIO_FAMILIES,
    IMAGE_FAMILIES,
    StarterPair,
    caption_key,
    dedup_across,
    load_family,
)


@pytest.mark.parametrize(("modality", "family"),
                         [("image", f) for f in IMAGE_FAMILIES]
                         + [("audio", f) for f in AUDIO_FAMILIES])
def test_every_family_loads_within_its_caps(modality, family):
    pairs = load_family(family, modality)
    assert len(pairs) >= 30, (family, len(pairs))
    caps = (IMAGE_FAMILIES if modality == "image" else AUDIO_FAMILIES)[family]
    for source, cap in caps:
        n = sum(p.source == source for p in pairs)
        assert n > 0 and (cap is None or n <= cap), (source, n, cap)
    assert all(p.family == family and p.license and p.caption == caption_key(p.caption)
               for p in pairs)
    assert not any("openclipart" in f"{p.item} {p.license}".lower() for p in pairs)
    assert len({p.item for p in pairs}) == len(pairs)  # no file twice


def test_caps_sample_deterministically_across_the_source():
    def capped():  # General-MIDI renders: 768 files (128 programs × 3 notes × 2 levels), 250 kept
        return [p.item for p in load_family("instruments", "audio")
                if p.source == "gm-instruments"]

    a, b = capped(), capped()
    assert a == b and len(a) == 250
    # a hash-ordered sample, not the first 250 files of the listing (programs 000-041)
    assert any(Path(p).name.startswith("12") for p in a)


def test_image_families_are_uncapped():
    assert len(load_family("game-icons", "image")) == 4129


def test_cataclysm_pairs_leave_out_model_coded_guns():
    captions = {p.caption for p in load_family("cataclysm-dda", "image")}
    assert "ar-10" not in captions and "first aid kit" in captions


def _pairs(families):
    return [StarterPair(f"i{k}", "c", fam, "s", "x") for k, fam in enumerate(families)]


def test_dedup_across_drops_only_copies_in_other_families():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(4, 8))
    x = np.stack([base[0], base[0] + 1e-3, base[1], base[1] + 1e-3, base[2], base[3]])
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    # rows 0/1 are copies in the same family (kept: the trainer groups them), rows 2/3 are
    # copies across families (the later one goes)
    pairs = _pairs(["a", "a", "a", "b", "b", "c"])
    assert dedup_across(pairs, x).tolist() == [0, 1, 2, 4, 5]
    # chunking does not change the answer
    assert dedup_across(pairs, x, chunk=2).tolist() == [0, 1, 2, 4, 5]
    # three copies in three families: only the first stays
    y = np.stack([base[0], base[0], base[0]])
    y /= np.linalg.norm(y, axis=1, keepdims=True)
    assert dedup_across(_pairs(["a", "b", "c"]), y).tolist() == [0]

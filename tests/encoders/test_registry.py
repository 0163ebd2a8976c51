"""load_encoder's spec parsing: refused specs say why and what to do instead."""

from __future__ import annotations

import pytest

from xmodal.encoders import load_encoder
from xmodal.encoders.base import EncoderLoadError


def test_open_clip_spec_is_refused_with_the_reason_and_the_way_round(tmp_path):
    with pytest.raises(EncoderLoadError, match="torchvision") as info:
        load_encoder(f"open-clip:ViT-B-32:{tmp_path}")
    message = str(info.value)
    assert "hf-clip:OUT" in message and "ViT-B-32" in message
    assert "xmodal convert open-clip" in message


@pytest.mark.parametrize("spec", ["clip", "st:", "hf-clap:", "nope:x"])
def test_unknown_or_incomplete_specs_list_the_known_ones(spec):
    with pytest.raises(ValueError, match="unknown encoder spec") as info:
        load_encoder(spec)
    assert "minilm" in str(info.value) and "hf-clip" in str(info.value)

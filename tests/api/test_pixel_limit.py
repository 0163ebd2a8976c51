"""The served image-pixel limit is the decoder's: ``ServeLimits.max_image_pixels`` reaches
``EncoderBase.max_pixels``, so a 45 MP file under ``POST /index`` is refused with the default
40 MP limit (the decoder's own default, 50 MP, used to let it through), and a limit above 50 MP
is no longer capped by the decoder."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from xmodal.api.limits import InputTooLarge, ServeLimits, pixel_limited
from xmodal.api.service import SearchService
from xmodal.data.images import DEFAULT_MAX_PIXELS
from xmodal.encoders.base import EncoderBase
from xmodal.encoders.card import ModelCard


class PixelEncoder(EncoderBase):
    """Decodes images for real (``EncoderBase``), embeds every one to the same unit vector."""

    def __init__(self, name: str) -> None:
        self.card = ModelCard(name=name, family="clip", dim=2, modalities=("text", "image"))
        self.sizes: list[tuple[int, int]] = []  # (width, height) of each image embedded

    def _embed_texts(self, texts, *, prompt, batch_size, progress):
        return np.tile(np.float32([1.0, 0.0]), (len(texts), 1))

    def _embed_images(self, images, *, batch_size):
        self.sizes += [im.size for im in images]
        return np.tile(np.float32([0.0, 1.0]), (len(images), 1))


def png(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("1", (width, height)).save(buf, format="PNG")  # 1 bit per pixel: small and quick
    return buf.getvalue()


def test_the_encoder_decodes_under_its_max_pixels() -> None:
    enc = PixelEncoder("px")
    assert enc.max_pixels == DEFAULT_MAX_PIXELS
    enc.max_pixels = 100
    got = enc.encode_image([png(11, 10), png(10, 10)], errors="report")
    assert got.indices.tolist() == [1] and enc.sizes == [(10, 10)]
    assert "11×10 = 110 pixels, over the limit of 100" in got.failed[0].reason
    with pytest.raises(ValueError, match="over the limit of 100"):
        enc.encode_image([png(11, 10)])


@pytest.mark.parametrize("limit", [40_000_000, 60_000_000])
def test_served_encoders_decode_under_the_served_limit(limit: int) -> None:
    enc = pixel_limited(PixelEncoder, ServeLimits(max_image_pixels=limit))("px")
    assert enc.max_pixels == limit  # above the decoder's 50 MP default too


def test_index_route_refuses_a_45_mp_image_under_the_40_mp_limit(tmp_path: Path) -> None:
    root = tmp_path / "files"
    (root / "pics").mkdir(parents=True)
    big = png(7500, 6000)  # 45,000,000 pixels
    (root / "pics" / "big.png").write_bytes(big)
    (root / "pics" / "small.png").write_bytes(png(4, 4))
    encoders: dict[str, PixelEncoder] = {}

    def load(name: str) -> PixelEncoder:
        return encoders.setdefault(name, PixelEncoder(name))

    with SearchService("exact:" + str(tmp_path / "idx"), load=load, router_model=None,
                       limits=ServeLimits(), index_root=root) as service:
        assert service.limits.max_image_pixels == 40_000_000
        out = service.index_paths(["pics"])
        assert out["indexed"] == 1
        (failed,) = out["failed"]
        assert failed["path"].endswith("big.png")
        assert "45,000,000 pixels, over the limit of 40,000,000" in failed["reason"]
        assert [e.sizes for e in encoders.values()] == [[(4, 4)]]  # big.png never decoded
        with pytest.raises(InputTooLarge, match="the limit is 40000000"):
            service.search(image=big)  # a query is refused from its header, as before

"""Decoding only what the model sees (xmodal.data.image_scale through load_image(min_side=)).

The oracle is the full decode: ``load_image(path)`` then the model's resize (shorter side to
``min_side``, bicubic). The fast path must give nearly the same pixels after that resize, keep
EXIF orientation, alpha on white and the limits exactly, and leave small images untouched.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from xmodal.data.image_scale import draft_request, reduce_factor, reduce_to
from xmodal.data.images import ImageDecodeError, load_image, load_images

S = 256  # EfficientNet-Lite0's resize target


def _photo(width: int, height: int, seed: int = 0) -> Image.Image:
    """A photo-like RGB image: smooth random structure (asymmetric) plus sensor-like noise."""
    rng = np.random.default_rng(seed)
    coarse = Image.fromarray(rng.integers(0, 256, (9, 12, 3), dtype=np.uint8))
    smooth = np.asarray(coarse.resize((width, height), Image.Resampling.BICUBIC), np.float32)
    noisy = smooth + rng.normal(0, 4, (height, width, 1)).astype(np.float32)
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def _model_view(img: Image.Image, side: int = S) -> np.ndarray:
    """What the model's resize makes of ``img``: shorter side ``side``, bicubic, as float."""
    w, h = img.size
    scale = side / min(w, h)
    size = (max(side, round(w * scale)), max(side, round(h * scale)))
    return np.asarray(img.resize(size, Image.Resampling.BICUBIC), dtype=np.float64)


def _assert_same_view(fast: Image.Image, full: Image.Image, q99: float = 8) -> None:
    """Close after the model's resize: mean difference under 1.5 / 255, 99 % of values under
    ``q99`` (hard synthetic edges differ more: a box average does not ring as bicubic does)."""
    a, b = _model_view(fast), _model_view(full)
    assert a.shape == b.shape
    diff = np.abs(a - b)
    assert diff.mean() < 1.5, diff.mean()  # out of 255
    assert np.quantile(diff, 0.99) < q99, np.quantile(diff, 0.99)


def _jpeg(path: Path, img: Image.Image, orientation: int = 1) -> Path:
    exif = Image.Exif()
    if orientation != 1:
        exif[0x0112] = orientation
    img.save(path, quality=90, exif=exif)
    return path


@pytest.mark.parametrize(
    ("size", "asked", "decoded"),
    [
        ((1600, 1200), (342, 256), (400, 300)),  # 1200 // 256 = 4: DCT scale 1/4
        ((1200, 1600), (256, 342), (300, 400)),
        ((1100, 700), (403, 256), (550, 350)),  # 700 // 256 = 2: 1/2
        ((600, 500), None, (600, 500)),  # shorter side < 2 × 256: decoded whole
        ((4200, 2600), (414, 256), (525, 325)),  # 2600 // 256 = 10: capped at 1/8
    ],
)
def test_jpeg_is_dct_scaled_to_the_smallest_size_not_below_the_target(
    tmp_path: Path, size: tuple[int, int], asked: tuple[int, int] | None,
    decoded: tuple[int, int],
) -> None:
    assert draft_request(*size, S) == asked
    path = tmp_path / "p.jpg"
    Image.new("RGB", size, (10, 120, 200)).save(path, quality=80)
    out = load_image(path, min_side=S)
    assert out.size == decoded and min(out.size) >= S
    assert load_image(path).size == size  # without min_side: full size, as before


def test_reduce_factor_by_hand() -> None:
    assert reduce_factor(1300, 1000, S) == 3  # 1000 // 256
    assert reduce_factor(511, 2000, S) == 1
    assert reduce_factor(4000, 3000, 0) == 1
    assert reduce_to(Image.new("RGB", (1300, 1000)), S).size == (434, 334)  # ceil(1300 / 3)
    palette = Image.new("P", (1300, 1000))
    assert reduce_to(palette, S) is palette  # indices are not averaged


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_jpeg_fast_path_sees_the_same_pixels_with_exif_orientation(
    tmp_path: Path, orientation: int
) -> None:
    path = _jpeg(tmp_path / "o.jpg", _photo(1600, 1200), orientation)
    full, fast = load_image(path), load_image(path, min_side=S)
    assert fast.mode == "RGB" and (full.size[0] > full.size[1]) == (orientation in (1, 3))
    assert (fast.size[0] > fast.size[1]) == (full.size[0] > full.size[1])
    _assert_same_view(fast, full)


def test_the_check_would_catch_a_wrong_orientation(tmp_path: Path) -> None:
    path = _jpeg(tmp_path / "o.jpg", _photo(1600, 1600), 3)  # square: sizes cannot tell
    fast = load_image(path, min_side=S)
    with pytest.raises(AssertionError):
        _assert_same_view(fast.rotate(180), load_image(path))


def test_png_reduced_with_alpha_on_white(tmp_path: Path) -> None:
    rgba = _photo(1300, 1000, seed=1).convert("RGBA")
    alpha = np.zeros((1000, 1300), np.uint8)
    alpha[100:900, 200:1100] = 255
    alpha[400:600, :] = 128  # half transparent band
    rgba.putalpha(Image.fromarray(alpha))
    path = tmp_path / "a.png"
    rgba.save(path)
    full, fast = load_image(path), load_image(path, min_side=S)
    assert fast.size == (434, 334) and fast.getpixel((2, 2)) == (255, 255, 255)
    _assert_same_view(fast, full, q99=20)  # the alpha step is a hard edge
    # Averaged premultiplied, then put on white = put on white, then averaged (to rounding).
    full.save(tmp_path / "flat.png")
    flat = load_image(tmp_path / "flat.png", min_side=S)
    diff = np.abs(np.asarray(fast, np.int16) - np.asarray(flat, np.int16))
    assert diff.max() <= 2


@pytest.mark.parametrize("kind", ["palette+transparency", "16-bit grey", "webp"])
def test_other_rasters_match_the_full_decode(tmp_path: Path, kind: str) -> None:
    photo = _photo(1200, 900, seed=2)
    if kind == "palette+transparency":
        img = photo.quantize(64)
        path = tmp_path / "p.png"
        img.save(path, transparency=0)
    elif kind == "16-bit grey":
        grey = np.asarray(photo.convert("L"), np.uint16) * 257  # (900, 1200)
        path = tmp_path / "g.png"
        Image.fromarray(grey).save(path)
    else:
        path = tmp_path / "w.webp"
        photo.save(path, quality=90)
    full, fast = load_image(path), load_image(path, min_side=S)
    assert min(fast.size) >= S and max(fast.size) < max(full.size)
    _assert_same_view(fast, full)


def test_small_images_are_untouched(tmp_path: Path) -> None:
    for name, img in [("s.png", _photo(300, 400)), ("s.jpg", _photo(500, 300))]:
        path = tmp_path / name
        img.save(path)
        fast, full = load_image(path, min_side=S), load_image(path)
        np.testing.assert_array_equal(np.asarray(fast), np.asarray(full))


def test_limits_checked_on_the_full_header_size(tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    Image.new("RGB", (3000, 2000), (5, 5, 5)).save(path, quality=50)
    messages = []
    for min_side in (None, S):
        with pytest.raises(ImageDecodeError, match="decompression bomb") as err:
            load_image(path, max_pixels=5_000_000, min_side=min_side)
        messages.append(str(err.value))
    assert messages[0] == messages[1]
    assert "3000×2000 = 6,000,000 pixels, over the limit of 5,000,000" in messages[1]


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_large_files_still_refused(tmp_path: Path, fmt: str) -> None:
    buf = io.BytesIO()
    _photo(1200, 900).save(buf, fmt)
    path = tmp_path / f"cut.{fmt.lower()}"
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(ImageDecodeError, match=r"truncated or corrupt: "):
        load_image(path, min_side=S)


def test_load_images_passes_min_side_to_workers(tmp_path: Path) -> None:
    paths = [_jpeg(tmp_path / f"{i}.jpg", _photo(1100, 700, seed=i)) for i in range(2)]
    here = load_images(paths, min_side=S)
    there = load_images(paths, min_side=S, workers=2)
    assert [im.size for im in here.images] == [(550, 350)] * 2
    for a, b in zip(here.images, there.images, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    with pytest.raises(ValueError, match="min_side"):
        load_image(paths[0], min_side=0)

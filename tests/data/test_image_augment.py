"""Image augmentation: crop, flip and background against hand-computed oracles."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from xmodal.data.image_augment import ImageAugment, ImageAugmentDraw
from xmodal.data.images import WHITE, ImageDecodeError, load_image


def _gradient(w: int = 64, h: int = 48) -> Image.Image:
    x = np.arange(w, dtype=np.uint8)[None, :].repeat(h, 0)
    y = np.arange(h, dtype=np.uint8)[:, None].repeat(w, 1)
    return Image.fromarray(np.stack([x * 3, y * 5, (x + y) % 251], axis=-1), "RGB")


def test_sampled_boxes_respect_the_area_and_aspect_ranges():
    aug = ImageAugment(crop_scale=(0.3, 0.8), aspect=(0.5, 2.0))
    rng = np.random.default_rng(0)
    for _ in range(500):
        d = aug.sample(rng)
        left, top, right, bottom = d.box
        assert 0 <= left < right <= 1 + 1e-12 and 0 <= top < bottom <= 1 + 1e-12
        w, h = right - left, bottom - top
        if w < 1 and h < 1:  # unclipped: the area and ratio are the drawn ones
            assert 0.3 - 1e-9 <= w * h <= 0.8 + 1e-9
            assert 0.5 - 1e-9 <= w / h <= 2.0 + 1e-9


def test_flip_and_background_frequencies_follow_the_probabilities():
    aug = ImageAugment(flip=0.3, background_colour=0.6)
    rng = np.random.default_rng(1)
    draws = [aug.sample(rng) for _ in range(4000)]
    assert abs(np.mean([d.flip for d in draws]) - 0.3) < 0.03
    # a uniformly random colour is white with probability 256^-3: non-white ≈ the probability
    assert abs(np.mean([d.background != WHITE for d in draws]) - 0.6) < 0.03


def test_apply_crops_the_box_and_flips_against_numpy():
    img = _gradient()
    pixels = np.asarray(img)
    draw = ImageAugmentDraw(box=(0.25, 0.5, 0.75, 1.0), flip=False, background=WHITE)
    out = np.asarray(ImageAugment().apply(img, draw))
    np.testing.assert_array_equal(out, pixels[24:48, 16:48])  # rows top..bottom, cols left..right
    flipped = np.asarray(ImageAugment().apply(img, ImageAugmentDraw(draw.box, True, WHITE)))
    np.testing.assert_array_equal(flipped, pixels[24:48, 16:48][:, ::-1])


def test_background_fills_transparent_pixels_only():
    rgba = np.zeros((10, 10, 4), dtype=np.uint8)
    rgba[:5, :, :] = (200, 10, 20, 255)  # top half opaque red, bottom half transparent
    img = Image.fromarray(rgba, "RGBA")
    draw = ImageAugmentDraw(box=(0.0, 0.0, 1.0, 1.0), flip=False, background=(0, 128, 255))
    out = np.asarray(ImageAugment().apply(img, draw))
    assert (out[:5] == (200, 10, 20)).all() and (out[5:] == (0, 128, 255)).all()
    # the decoder's own default is white, as before
    assert (np.asarray(load_image(img))[5:] == 255).all()


def test_tiny_boxes_keep_at_least_one_pixel():
    img = _gradient(3, 3)
    draw = ImageAugmentDraw(box=(0.9, 0.9, 0.95, 0.95), flip=False, background=WHITE)
    assert ImageAugment().apply(img, draw).size == (1, 1)


def test_same_generator_same_variant_and_paths_work(tmp_path):
    path = tmp_path / "g.png"
    _gradient().save(path)
    aug = ImageAugment()
    a = aug(path, rng=np.random.default_rng([3, 1]))
    b = aug(str(path), rng=np.random.default_rng([3, 1]))
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    w, h = a.size
    assert 0.6 * 64 * 48 * 0.8 <= w * h <= 64 * 48  # rounding aside, the drawn area share


@pytest.mark.parametrize("kwargs", [{"crop_scale": (0.0, 0.5)}, {"crop_scale": (0.8, 0.5)},
                                    {"crop_scale": (0.5, 1.2)}, {"aspect": (2.0, 1.0)},
                                    {"flip": 1.5}, {"background_colour": -0.1}])
def test_bad_settings_fail_fast(kwargs):
    with pytest.raises(ValueError):
        ImageAugment(**kwargs)


def test_a_broken_file_is_named(tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(ImageDecodeError, match=r"broken\.png"):
        ImageAugment()(bad, rng=np.random.default_rng(0))


@pytest.mark.parametrize("background", [(0, 0), (0, 0, 256), (0.5, 0, 0)])
def test_load_image_refuses_a_bad_background(background):
    with pytest.raises(ValueError, match="background"):
        load_image(_gradient(), background=background)


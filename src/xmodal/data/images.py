"""Decoding images for encoders, with limits, so one bad file never crashes a batch job.

:func:`load_image` turns a path, ``bytes`` or a PIL image into an RGB image (EXIF orientation
applied, transparency composited on white, 16-bit scaled to 8-bit, SVG rendered), or raises
:class:`ImageDecodeError` naming the item and the problem. :func:`load_images` decodes a list,
keeps the good images and reports the bad ones instead of raising.

SVG is rendered by cairosvg with ``unsafe=False``: XML entities are refused, and every reference
that is not a ``data:`` URL (``http(s)://``, ``file://``, relative paths, CSS ``@import``) is
replaced by cairosvg with an empty 1×1 SVG, so nothing is fetched and nothing can hang.

``min_side`` decodes a file only as large as a model that resizes its shorter side to
``min_side`` needs (JPEG DCT scaling, integer reduction of other rasters:
:mod:`xmodal.data.image_scale`); the limits below are checked on the full size first.

Pixel limits: ``PIL.Image.MAX_IMAGE_PIXELS`` is a process global. While a file's header is read
it is set to ``None`` (reading a header allocates nothing), then ``width × height`` is checked
against ``max_pixels``; while pixels are decoded it is set to ``max_pixels``, with
``DecompressionBombWarning`` raised as an error. Both are restored at once. A module lock is held
meanwhile, so threads decode one at a time: for parallel decoding use ``load_images(workers=N)``,
which uses processes. Other code using PIL in another thread at that moment sees these settings.

Example:
    >>> import io
    >>> from PIL import Image
    >>> buf = io.BytesIO()
    >>> Image.new("RGBA", (4, 2), (255, 0, 0, 0)).save(buf, "PNG")
    >>> img = load_image(buf.getvalue())
    >>> img.mode, img.size, img.getpixel((0, 0))
    ('RGB', (4, 2), (255, 255, 255))
"""

from __future__ import annotations

import io
import os
import re
import stat
import threading
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

from xmodal._optional import require
from xmodal.data.image_scale import reduce_to, request_draft
from xmodal.data.problems import ItemProblem, describe

if TYPE_CHECKING:
    from PIL.Image import Image

    ImageItem = str | os.PathLike[str] | bytes | Image

# 50 megapixels: larger than common camera photos (a 48 MP 8000×6000 frame fits), yet one decode
# stays near 150 MB as RGB, so a few workers decoding at once fit in memory. Encoders resize to a
# few hundred pixels anyway; pass a larger ``max_pixels`` for scans or panoramas.
DEFAULT_MAX_PIXELS = 50_000_000

_PIL_LIMIT_LOCK = threading.Lock()  # PIL.Image.MAX_IMAGE_PIXELS is a module global
_ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}
RGB = tuple[int, int, int]
WHITE: RGB = (255, 255, 255)


class ImageDecodeError(ValueError):
    """An item could not be decoded as an image; the message names the item and the problem."""


@dataclass(frozen=True)
class DecodedImages:
    """The decoded images of a list, and what went wrong with the others.

    ``images[k]`` is input ``indices[k]``; ``failed`` lists the items that were not decoded.
    """

    images: tuple[Image, ...]
    indices: tuple[int, ...]
    failed: tuple[ItemProblem, ...] = ()


def _name(item: object) -> str:
    if isinstance(item, bytes | bytearray):
        return "<bytes>"
    if isinstance(item, str | os.PathLike):
        return os.fspath(item)  # type: ignore[return-value]
    pil = require("PIL.Image", "image")
    return "<PIL image>" if isinstance(item, pil.Image) else describe(item)


def _fail(item: object, problem: str) -> ImageDecodeError:
    return ImageDecodeError(f"{_name(item)}: {problem}")


def _bomb(width: int, height: int, max_pixels: int, what: str = "") -> str:
    return (
        f"decompression bomb: {what}{width}×{height} = {width * height:,} pixels, "
        f"over the limit of {max_pixels:,}"
    )


@contextmanager
def _pil_pixel_limit(limit: int | None) -> Iterator[None]:
    """Set ``PIL.Image.MAX_IMAGE_PIXELS`` for the block, restore it after (held under a lock)."""
    pil = require("PIL.Image", "image")
    saved = pil.MAX_IMAGE_PIXELS
    pil.MAX_IMAGE_PIXELS = limit
    try:
        yield
    finally:
        pil.MAX_IMAGE_PIXELS = saved


def _to_rgb(img: Image, background: RGB = WHITE, *, owned: bool = False) -> Image:
    """RGB version of a loaded image: EXIF orientation, alpha on ``background``, 16-bit scaled to
    8-bit. ``owned``: ``img`` was decoded here and may be changed or returned as it is (no copy);
    otherwise the input is never modified."""
    pil = require("PIL.Image", "image")
    ops = require("PIL.ImageOps", "image")
    if owned:
        ops.exif_transpose(img, in_place=True)
    else:
        img = ops.exif_transpose(img)  # a new image
    if img.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        import numpy as np

        # "I" decoded from a 16-bit file holds 0..65535; scale (not clip) to 0..255.
        arr = np.asarray(img, dtype=np.float64)
        img = pil.fromarray(np.clip(np.rint(arr / 257.0), 0, 255).astype(np.uint8), "L")
    rgba_palette = img.mode == "P" and img.palette is not None and img.palette.mode == "RGBA"
    if img.mode in _ALPHA_MODES or "transparency" in img.info or rgba_palette:
        rgba = img.convert("RGBA")
        img = pil.alpha_composite(pil.new("RGBA", rgba.size, (*background, 255)), rgba)
    return img if img.mode == "RGB" and owned else img.convert("RGB")


def _decode_raster(item: object, fp: BinaryIO, max_pixels: int,
                   background: RGB = WHITE, min_side: int | None = None) -> Image:
    pil = require("PIL.Image", "image")
    with _PIL_LIMIT_LOCK, warnings.catch_warnings():
        warnings.simplefilter("error", pil.DecompressionBombWarning)
        try:
            with _pil_pixel_limit(None):  # header only; our own check follows, with W×H
                img = pil.open(fp)
        except pil.UnidentifiedImageError:
            raise _fail(item, "not an image file (unrecognised format)") from None
        except Exception as exc:
            raise _fail(item, f"truncated or corrupt: {exc}") from exc
        width, height = img.size
        if max(1, width) * max(1, height) > max_pixels:
            raise _fail(item, _bomb(width, height, max_pixels))
        try:
            if min_side:
                request_draft(img, min_side)  # JPEG: DCT-scaled decode, limits checked above
            with _pil_pixel_limit(max_pixels):  # frames and tiles checked while decoding
                img.load()
        except (pil.DecompressionBombError, pil.DecompressionBombWarning) as exc:
            raise _fail(item, f"decompression bomb: {exc}") from exc
        except Exception as exc:
            raise _fail(item, f"truncated or corrupt: {exc}") from exc
    try:
        if min_side and "transparency" not in img.info:
            img = reduce_to(img, min_side)  # before any copy (alpha: premultiplied average)
        img = _to_rgb(img, background, owned=True)
        return reduce_to(img, min_side) if min_side else img  # palettes, colour keys, 16-bit
    except Exception as exc:
        raise _fail(item, f"truncated or corrupt: {exc}") from exc


def _render_svg(item: object, data: bytes, max_pixels: int, svg_size: int,
                background: RGB = WHITE) -> Image:
    cairosvg = require("cairosvg", "image")

    # cairosvg.svg2png is PNGSurface.convert; this subclass checks the size before allocating.
    class _LimitedPNGSurface(cairosvg.surface.PNGSurface):
        def _create_surface(self, width: float, height: float) -> Any:
            w, h = round(width), round(height)
            if w * h > max_pixels:
                raise _fail(item, _bomb(w, h, max_pixels, "SVG would render at "))
            return super()._create_surface(width, height)

    try:
        png = _LimitedPNGSurface.convert(bytestring=data, output_width=svg_size, unsafe=False)
    except ImageDecodeError:
        raise
    except Exception as exc:
        raise _fail(item, f"invalid SVG: {type(exc).__name__}: {exc}") from exc
    return _decode_raster(item, io.BytesIO(png), max_pixels, background)


def _is_svg(head: bytes) -> bool:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return text.startswith(b"<") and re.search(rb"<svg[\s>]", text[:4096].lower()) is not None


def load_image(
    item: ImageItem, *, max_pixels: int = DEFAULT_MAX_PIXELS, svg_size: int = 512,
    background: RGB = WHITE, min_side: int | None = None,
) -> Image:
    """Decode one image to RGB, with limits.

    Args:
        item: A file path (``str`` or ``pathlib.Path``), the file's ``bytes``, or a PIL image
            (converted the same way; it is not modified).
        max_pixels: Refuse images (and SVG renderings) with more pixels than this.
        svg_size: Width in pixels at which SVG is rendered; the aspect ratio is kept.
        background: The RGB colour under transparent pixels (white, as browsers show them).
        min_side: Decode only what a model that resizes the shorter side to ``min_side`` sees:
            a JPEG file is DCT-scaled while it is decoded, another raster file is averaged down
            by an integer factor before any copy, keeping the shorter side ≥ ``min_side``
            (:mod:`xmodal.data.image_scale`). Limits are checked on the full size first. SVG
            and PIL images are not scaled. ``None``: full size.

    Returns:
        A new RGB image, EXIF orientation applied and transparency composited on
        ``background``.

    Raises:
        ImageDecodeError: The item is missing, empty, not an image, truncated or corrupt,
            or over ``max_pixels``; the message names the item and the problem.
        MissingDependencyError: Pillow (or cairosvg, for SVG) is not installed.

    Example:
        >>> from PIL import Image
        >>> load_image(Image.new("L", (3, 5), 7)).getpixel((2, 4))
        (7, 7, 7)
        >>> load_image(b"hello")
        Traceback (most recent call last):
        ...
        xmodal.data.images.ImageDecodeError: <bytes>: not an image file (unrecognised format)
    """
    if max_pixels < 1 or svg_size < 1:
        raise ValueError(f"max_pixels and svg_size must be positive, got {max_pixels}, {svg_size}")
    if min_side is not None and min_side < 1:
        raise ValueError(f"min_side must be positive or None, got {min_side}")
    if len(background) != 3 or not all(isinstance(c, int) and 0 <= c <= 255 for c in background):
        raise ValueError(f"background must be three integers in 0..255, got {background!r}")
    pil = require("PIL.Image", "image")
    if isinstance(item, pil.Image):
        width, height = item.size
        if width * height > max_pixels:
            raise _fail(item, _bomb(width, height, max_pixels))
        try:
            return _to_rgb(item, background)
        except Exception as exc:
            raise _fail(item, f"truncated or corrupt: {exc}") from exc
    if isinstance(item, bytes | bytearray):
        data = bytes(item)
        if not data:
            raise _fail(item, "empty file")
        if _is_svg(data[:4096]):
            return _render_svg(item, data, max_pixels, svg_size, background)
        return _decode_raster(item, io.BytesIO(data), max_pixels, background, min_side)
    if not isinstance(item, str | os.PathLike):
        raise _fail(item, f"unsupported item type {type(item).__name__}")
    path = os.fspath(item)
    try:
        with _open_regular(item, path) as fp:
            head = fp.read(4096)
            if not head:
                raise _fail(item, "empty file")
            if str(path).lower().endswith(".svg") or _is_svg(head):
                return _render_svg(item, head + fp.read(), max_pixels, svg_size, background)
            fp.seek(0)
            # fully loaded before the file closes
            return _decode_raster(item, fp, max_pixels, background, min_side)
    except FileNotFoundError:
        raise _fail(item, "not found") from None
    except IsADirectoryError:
        raise _fail(item, "is a directory") from None
    except PermissionError:
        raise _fail(item, "permission denied") from None
    except OSError as exc:  # decode problems are ImageDecodeError (a ValueError), not OSError
        raise _fail(item, f"could not be read: {exc}") from exc


def _open_regular(item: object, path: str) -> BinaryIO:
    """Open a file for reading, refusing FIFOs, sockets and devices without blocking (opening
    a FIFO for reading waits for a writer forever; ``O_NONBLOCK`` returns at once)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(path)
        if not stat.S_ISREG(mode):
            raise _fail(item, "not a regular file (FIFO, socket or device): not read")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _decode_one(item: Any, kw: dict[str, Any]) -> tuple[Image | None, str]:
    try:
        return load_image(item, **kw), ""
    except ImageDecodeError as exc:
        return None, str(exc)


def load_images(
    items: Sequence[ImageItem],
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    svg_size: int = 512,
    workers: int = 0,
    min_side: int | None = None,
) -> DecodedImages:
    """Decode every item; keep the good images, report the bad ones, never raise for an item.

    Args:
        items: Paths, ``bytes`` or PIL images, as for :func:`load_image`.
        max_pixels: Passed to :func:`load_image`.
        svg_size: Passed to :func:`load_image`.
        workers: If > 0, decode in that many worker processes (order kept); 0 = in-process.
        min_side: Passed to :func:`load_image` (decode only what the model sees).

    Returns:
        The decoded images with their input positions, and one problem per failed item.

    Raises:
        MissingDependencyError: Pillow (or cairosvg, for an SVG item) is not installed.

    Example:
        >>> from PIL import Image
        >>> out = load_images([Image.new("RGB", (2, 2)), b"", Image.new("1", (1, 1))])
        >>> out.indices, [p.reason for p in out.failed]
        ((0, 2), ['<bytes>: empty file'])
    """
    if workers < 0:
        raise ValueError(f"workers must be >= 0, got {workers}")
    kw = {"max_pixels": max_pixels, "svg_size": svg_size, "min_side": min_side}
    items = list(items)
    if workers > 0 and len(items) > 1:
        with ProcessPoolExecutor(max_workers=min(workers, len(items))) as pool:
            results = list(pool.map(_decode_one, items, [kw] * len(items)))
    else:
        results = [_decode_one(item, kw) for item in items]
    images, indices, failed = [], [], []
    for index, (image, reason) in enumerate(results):
        if image is None:
            failed.append(ItemProblem(index=index, item=_name(items[index]), reason=reason))
        else:
            images.append(image)
            indices.append(index)
    return DecodedImages(tuple(images), tuple(indices), tuple(failed))

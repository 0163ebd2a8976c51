"""Content hashes: one key per item *content*, whatever form the item arrives in.

Two layers key items by what they contain rather than by where they come from: the feature cache
(features depend on a tower and an item's content, not on its path) and training-data dedup (the
same image listed twice under two names is one example, and as two rows of a contrastive batch
it would be its own negative). Both need the same answer to "is this the same item?", so the
hash lives here, in the data layer, which must not import the encoders.

What is hashed: the UTF-8 bytes of a text; the bytes of a file (not its path: a file rewritten in
place gets a new key, a renamed or copied one keeps its key) exactly like the same ``bytes``
given directly; the raw bytes of an array with its shape and dtype; a PIL image's pixels with its
mode and size. A text and a file holding the same bytes hash differently (they are different
modalities of content).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from xmodal.modalities import Modality


def content_hash(item: object, modality: Modality = "text") -> str:
    """The sha256 of an item's content, as the feature cache and dedup key it.

    Text (``modality="text"``) hashes its UTF-8 bytes; for images and audio a ``str`` or
    ``PathLike`` is a file and hashes the file's bytes, like ``bytes`` do; NumPy arrays,
    ``(array, rate)`` tuples and PIL images hash their raw data with its shape and type.

    Args:
        item: A text, a path, file bytes, an array, an ``(array, rate)`` tuple or a PIL image.
        modality: ``"text"``, ``"image"`` or ``"audio"``: says whether a ``str`` is a text or a
            path.

    Returns:
        A 64-character hex digest.

    Raises:
        TypeError: A text that is not a ``str``, or an item of a type it cannot hash.
        FileNotFoundError: A path (image or audio) that is not a file.

    Example:
        >>> content_hash("a dog") == content_hash("a dog") != content_hash("a cat")
        True
        >>> content_hash(b"abc", "image") == content_hash(b"abc", "audio")
        True
        >>> import numpy as np
        >>> a = np.zeros((2, 3), dtype=np.float32)
        >>> content_hash(a, "image") == content_hash(a.reshape(3, 2), "image")  # shape counts
        False
    """
    h = hashlib.sha256()
    if modality == "text":
        if not isinstance(item, str):
            raise TypeError(f"a text must be a str, got {type(item).__name__}")
        h.update(b"text\0" + item.encode("utf-8"))
    elif isinstance(item, (str, os.PathLike)):
        path = Path(item).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"cannot hash {modality} file {str(path)!r}: no such file")
        h.update(b"bytes\0")
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    elif isinstance(item, (bytes, bytearray, memoryview)):
        h.update(b"bytes\0" + bytes(item))
    elif isinstance(item, np.ndarray):
        _update_array(h, item)
    elif isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], np.ndarray):
        h.update(f"wave\0{int(item[1])}\0".encode())
        _update_array(h, item[0])
    elif hasattr(item, "tobytes") and hasattr(item, "mode") and hasattr(item, "size"):
        h.update(f"pil\0{item.mode}\0{item.size}\0".encode())  # type: ignore[attr-defined]
        h.update(item.tobytes())  # type: ignore[attr-defined]
    else:
        raise TypeError(f"cannot hash a {type(item).__name__} as {modality} content")
    return h.hexdigest()


def _update_array(h: hashlib._Hash, array: np.ndarray) -> None:
    """Feed an array's dtype, shape and C-ordered bytes to ``h``."""
    h.update(f"array\0{array.dtype.str}\0{array.shape}\0".encode())
    h.update(np.ascontiguousarray(array).tobytes())

"""A default batch size for every ``encode_*`` call of an encoder (``--batch-size``).

The encoders take ``batch_size`` per call (32 by default); the callers (ingest, the searcher,
the router) mostly leave it out. :func:`with_batch_size` wraps a loader so that the encoders it
returns use another default, while a caller that names a batch size keeps it.

Example:
    >>> class Toy:
    ...     card = "toy card"
    ...     def encode_text(self, texts, *, batch_size=32):
    ...         return batch_size
    >>> enc = with_batch_size(lambda spec: Toy(), 128)("toy")
    >>> enc.encode_text(["a"]), enc.encode_text(["a"], batch_size=4), enc.card
    (128, 4, 'toy card')
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

__all__ = ["BatchSized", "with_batch_size"]


class BatchSized:
    """``encoder`` whose ``encode_*`` calls default to ``batch_size``; every other attribute
    is the encoder's own.

    Args:
        encoder: The wrapped encoder.
        batch_size: Items per forward pass when a call gives none (>= 1).
    """

    def __init__(self, encoder: Any, batch_size: int) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self._encoder, self._batch_size = encoder, batch_size

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._encoder, name)
        if not (name.startswith("encode_") and callable(attr)):
            return attr
        return functools.partial(_call, attr, self._batch_size)

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            object.__setattr__(self, name, value)
        else:  # e.g. the served pixel limit (``max_pixels``): the encoder's own
            setattr(self._encoder, name, value)


def _call(method: Callable[..., Any], default: int, /, *args: Any, **kwargs: Any) -> Any:
    kwargs.setdefault("batch_size", default)
    return method(*args, **kwargs)


def with_batch_size(load: Callable[[str], Any], batch_size: int | None
                    ) -> Callable[[str], Any]:
    """``load``, its encoders wrapped in :class:`BatchSized` (``load`` itself when
    ``batch_size`` is None)."""
    if batch_size is None:
        return load

    def load_batched(spec: str) -> Any:
        return BatchSized(load(spec), batch_size)

    return load_batched

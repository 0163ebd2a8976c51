"""What a served index tells its observers (the ``/metrics`` endpoint, :mod:`xmodal.api.metrics`):
each search done and each encoder call timed. No dependency: without observers it only times.

:class:`ServiceHooks` belongs to a :class:`~xmodal.api.service.SearchService`; the service
reports each search through :meth:`ServiceHooks.searched` and loads its encoders through
:meth:`ServiceHooks.timed`, so every ``encode_*`` call (a query, the router's, a ``POST /index``
batch) reports its model, method and seconds. Observers subscribe at any time, even after the
encoders loaded.

Example:
    >>> hooks = ServiceHooks()
    >>> seen = []
    >>> hooks.on_encode.append(lambda model, method, seconds: seen.append((model, method)))
    >>> class Toy:
    ...     card = "toy"
    ...     def encode_query(self, texts):
    ...         return [[1.0]] * len(texts)
    >>> enc = hooks.timed(lambda spec: Toy())("toy-model")
    >>> enc.encode_query(["a"]), enc.card, seen
    ([[1.0]], 'toy', [('toy-model', 'encode_query')])
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

__all__ = ["EncodeObserver", "SearchObserver", "ServiceHooks", "TimedEncoder"]

SearchObserver = Callable[[Any, Any], None]
"""Called as ``observer(request, result_json)`` after each search."""
EncodeObserver = Callable[[str, str, float], None]
"""Called as ``observer(model, method, seconds)`` after each ``encode_*`` call."""


class ServiceHooks:
    """The observers of one service: of its searches and of its encoders' calls."""

    def __init__(self) -> None:
        self.on_search: list[SearchObserver] = []
        self.on_encode: list[EncodeObserver] = []

    def searched(self, request: Any, result: Any) -> Any:
        """Tell every search observer; returns ``result`` (so a caller can pass it on)."""
        for observer in self.on_search:
            observer(request, result)
        return result

    def encoded(self, model: str, method: str, seconds: float) -> None:
        """Tell every encode observer."""
        for observer in self.on_encode:
            observer(model, method, seconds)

    def timed(self, load: Callable[[str], Any]) -> Callable[[str], Any]:
        """``load``, its encoders wrapped in :class:`TimedEncoder` reporting here."""

        def load_timed(model: str) -> Any:
            return TimedEncoder(load(model), model, self)

        return load_timed


class TimedEncoder:
    """``encoder`` whose ``encode_*`` calls report their duration to ``hooks``; every other
    attribute is the encoder's own."""

    def __init__(self, encoder: Any, model: str, hooks: ServiceHooks) -> None:
        self._encoder, self._model, self._hooks = encoder, model, hooks

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._encoder, name)
        if not (name.startswith("encode_") and callable(attr)):
            return attr
        return functools.partial(self._timed, attr, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            object.__setattr__(self, name, value)
        else:  # e.g. the served pixel limit (``max_pixels``): the encoder's own
            setattr(self._encoder, name, value)

    def _timed(self, method: Callable[..., Any], name: str, /, *args: Any,
               **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            self._hooks.encoded(self._model, name, time.perf_counter() - started)

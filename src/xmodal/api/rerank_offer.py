"""The cross-encoders a server offers: a request's ``rerank`` picks one of them, nothing else.

``xmodal serve --rerank SPEC`` (repeatable; ``xmodal mcp`` too) names them: a folder or a Hub
id, loaded when the server starts (a Hub model fetched then, never at request time; one that
will not load stops the start). A request's ``rerank`` may name one by its spec as given or by
its list name's last part (``ms-marco-MiniLM-L6-v2`` for
``cross-encoder/ms-marco-MiniLM-L6-v2``); any other value, a local folder included, is
:class:`RerankNotOffered` (HTTP 400) naming what is offered. Without ``--rerank`` a server
offers none: a request cannot make it read a folder or load a model of its choosing.

Example (a stand-in scorer)::

    >>> class Overlap:
    ...     def predict(self, pairs, **kw):
    ...         return [len(set(q.split()) & set(t.split())) for q, t in pairs]
    >>> offer = RerankOffer(["/models/faq-ce"], load=lambda spec: Overlap())
    >>> offer.pick("faq-ce"), offer.pick("/models/faq-ce/")
    ('/models/faq-ce', '/models/faq-ce')
    >>> try:
    ...     offer.pick("/etc")
    ... except RerankNotOffered as exc:
    ...     print(exc.status, exc)
    400 rerank '/etc' is not offered by this server; it offers: '/models/faq-ce' (or 'faq-ce')
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from xmodal.api.limits import BadInput
from xmodal.search.rerank import RERANK_PREFIX, CrossScorer, rerank_name

__all__ = ["RerankNotOffered", "RerankOffer"]


class RerankNotOffered(BadInput):
    """A request's ``rerank`` names no cross-encoder the server offers (400)."""

    status, code = 400, "rerank_not_offered"


class RerankOffer:
    """The offered cross-encoders, loaded once at start.

    Args:
        specs: What ``--rerank`` named (folders or Hub ids), in order.
        load: Loads one spec (the server's: :func:`~xmodal.search.rerank.load_cross_encoder`,
            downloading unless offline); its errors propagate (the start fails).

    Raises:
        ValueError: two specs share a short name (a request could not tell them apart).
    """

    def __init__(self, specs: Sequence[str], load: Callable[[str], CrossScorer]) -> None:
        self.specs = tuple(dict.fromkeys(s.strip() for s in specs))
        self._names: dict[str, str] = {}
        for spec in self.specs:
            name = _short(spec)
            if self._names.setdefault(name, spec) != spec:
                raise ValueError(f"--rerank {self._names[name]!r} and {spec!r} share the name "
                                 f"{name!r}: give one of them")
        self._scorers = {spec: load(spec) for spec in self.specs}

    def pick(self, requested: str) -> str:
        """The offered spec ``requested`` names (itself, or its short name).

        Raises:
            RerankNotOffered: it names none (the message lists what is offered).
        """
        wanted = requested.strip()
        for spec in self.specs:
            if wanted in (spec, spec.rstrip("/")) or wanted.rstrip("/") == spec.rstrip("/"):
                return spec
        if wanted in self._names:
            return self._names[wanted]
        offered = (", ".join(f"{s!r} (or {_short(s)!r})" for s in self.specs) if self.specs
                   else "none (start it with --rerank SPEC to offer a cross-encoder)")
        raise RerankNotOffered(f"rerank {requested!r} is not offered by this server; it "
                               f"offers: {offered}")

    def scorer(self, spec: str) -> CrossScorer:
        """The loaded cross-encoder of an offered spec (:meth:`pick`'s answer)."""
        try:
            return self._scorers[spec]
        except KeyError:
            raise RerankNotOffered(f"rerank {spec!r} is not offered by this server") from None


def _short(spec: str) -> str:
    return rerank_name(spec).removeprefix(RERANK_PREFIX)

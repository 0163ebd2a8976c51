"""Which documents a query can reach: the reachability matrix of an index.

For each query modality × document modality (text, image, audio), a cell says how a search gets
there, computed from the index's collections alone (:func:`reachability`, a pure function over
``CollectionInfo`` and what each collection holds):

- ``direct``: a model embeds the query and holds documents of that modality, as item vectors
  (``starter-image.image``) or as texts in its text collection (``starter-image.text[text]``:
  text documents back-filled there, :mod:`xmodal.index.text_spaces`; ``starter-image.text[image]``:
  the images' captions). Its lists are named as a search names them.
- ``pivot``: no direct route, but a model M_A embeds the query and text and its text collection
  holds captions of media items, and a *different* model M_B embeds text and the document
  modality and holds such documents: the query's nearest texts in M_A's space, re-embedded by
  M_B's text side, reach them (:mod:`xmodal.search.pivot`). ``pivots`` lists the (M_A, M_B)
  pairs.
- ``none``: the reason, and ``add``: the packaged models whose indexing would open a route
  (:data:`SUGGESTED`), or nothing when what is missing is documents, or captions.

A search whose chosen document modality has no direct route says so in its trace, and, when
nothing reaches it, in its errors too (:meth:`Reachability.explain`): never a silent empty list.

Example:
    >>> from xmodal.index.types import CollectionInfo
    >>> card = {"modalities": ["text", "image"]}
    >>> infos = [CollectionInfo("si.image", 2, "si", "image", card=card),
    ...          CollectionInfo("si.text", 2, "si", "text", card=card),
    ...          CollectionInfo("lm.text", 2, "lm", "text", card={"modalities": ["text"]})]
    >>> reach = reachability(infos, {"si.image": {"image"}, "si.text": {"image", "text"},
    ...                              "lm.text": {"text"}})
    >>> reach.cell("image", "text").route, reach.cell("image", "text").lists
    ('direct', ('si.text[text]',))
    >>> cell = reach.cell("audio", "image")
    >>> cell.route, cell.add
    ('none', ('starter-audio',))
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from typing_extensions import TypedDict  # pydantic reads this one below Python 3.12

from xmodal.index.protocols import Index
from xmodal.index.types import CollectionInfo
from xmodal.modalities import MODALITIES

from .hits import ListName
from .options import list_filter
from .pivot import pivot_routes

__all__ = ["SUGGESTED", "Reach", "ReachJSON", "Reachability", "RouteKind", "probe_holds",
           "reachability"]

RouteKind = Literal["direct", "pivot", "none"]

SUGGESTED = {"text": "minilm", "image": "starter-image", "audio": "starter-audio"}
"""The packaged model to add for a modality (``xmodal index``'s defaults: no download)."""


class ReachJSON(TypedDict):
    """One cell of the matrix as JSON (``GET /collections``' ``routes``, the MCP
    ``describe_collections``, ``xmodal search --routes --json``)."""

    query: str
    documents: str
    route: str
    models: list[str]
    lists: list[str]
    pivots: list[list[str]]
    reason: str
    add: list[str]


@dataclass(frozen=True)
class Reach:
    """How queries of one modality reach documents of another.

    Attributes:
        query: The query modality.
        documents: The document modality.
        route: ``"direct"``, ``"pivot"`` or ``"none"``.
        models: The models the route uses (direct: those whose lists reach; pivot: every M_A
            and M_B).
        lists: Direct: the list names a search searches (``"si.text[text]"``).
        pivots: Pivot: the (M_A, M_B) pairs: query → M_A's texts → M_B's documents.
        reason: One line for people.
        add: None: the packaged models to add for a route (empty when documents or captions,
            not models, are missing).
    """

    query: str
    documents: str
    route: RouteKind
    models: tuple[str, ...] = ()
    lists: tuple[str, ...] = ()
    pivots: tuple[tuple[str, str], ...] = ()
    reason: str = ""
    add: tuple[str, ...] = ()

    def to_json(self) -> ReachJSON:
        """This cell as JSON."""
        return ReachJSON(query=self.query, documents=self.documents, route=self.route,
                         models=list(self.models), lists=list(self.lists),
                         pivots=[list(p) for p in self.pivots], reason=self.reason,
                         add=list(self.add))


@dataclass(frozen=True)
class Reachability:
    """The matrix: one :class:`Reach` per (query, document) modality pair, in
    :data:`~xmodal.modalities.MODALITIES` order."""

    cells: tuple[Reach, ...]

    def cell(self, query: str, documents: str) -> Reach:
        """The cell of a query modality and a document modality."""
        for c in self.cells:
            if (c.query, c.documents) == (query, documents):
                return c
        raise KeyError(f"no cell {query} → {documents}")

    def explain(self, query: str, documents: Sequence[str]) -> tuple[list[str], list[str]]:
        """Trace lines and errors for a search of ``query`` over ``documents`` modalities: a
        line per modality without a direct route, and an error per one nothing reaches."""
        lines, errors = [], []
        for d in documents:
            if d not in MODALITIES:
                continue
            c = self.cell(query, d)
            if c.route == "pivot":
                lines.append(f"{query} → {d}: {c.reason}")
            elif c.route == "none":
                line = f"unreachable: {query} → {d}: {c.reason}"
                lines.append(line)
                errors.append(line)
        return lines, errors

    def to_json(self) -> list[ReachJSON]:
        """Every cell as JSON."""
        return [c.to_json() for c in self.cells]

    def table(self) -> list[str]:
        """The matrix for people, one line per cell.

        Example:
            >>> Reachability((Reach("text", "text", "direct", ("lm",), ("lm.text[text]",),
            ...                     reason="lm"),)).table()[1]
            'text  → text   direct  lm'
        """
        lines = ["query → docs   route   how"]
        for c in self.cells:
            how = c.reason + (f" (add: {', '.join(c.add)})" if c.add else "")
            lines.append(f"{c.query:<5} → {c.documents:<6} {c.route:<7} {how}")
        return lines


def reachability(collections: Sequence[CollectionInfo],
                 holds: Mapping[str, Collection[str]]) -> Reachability:
    """The reachability matrix of an index (see the module docstring).

    Args:
        collections: Every collection of the index.
        holds: Per collection name, the document modalities it holds points of (a media
            collection: its own, when not empty; a text collection: ``"text"`` for text
            documents, ``"image"`` for images' captions…): :func:`probe_holds` reads them from
            the store. A collection missing here holds nothing.
    """
    return Reachability(tuple(_cell(q, d, collections, holds)
                              for q in MODALITIES for d in MODALITIES))


def _mods(info: CollectionInfo) -> set[str]:
    return set(info.card.get("modalities", ()))


def _cell(q: str, d: str, cols: Sequence[CollectionInfo],
          holds: Mapping[str, Collection[str]]) -> Reach:
    embeds_q = [c for c in cols if q in _mods(c)]
    direct = [c for c in embeds_q if d in holds.get(c.name, ())]
    if direct:
        lists = tuple(str(ListName(c.name, d) if c.modality == "text" else ListName(c.name))
                      for c in direct)
        models = tuple(sorted({c.model for c in direct}))
        return Reach(q, d, "direct", models, lists,
                     reason=f"{q} queries embedded by {', '.join(models)}: {', '.join(lists)}")
    docs = [c for c in cols if d in holds.get(c.name, ())]
    if not docs:
        return Reach(q, d, "none", reason=f"no {d} documents in this index (index some)")
    if not embeds_q:
        return Reach(q, d, "none", reason=f"no model in this index embeds {q} queries",
                     add=(SUGGESTED[q],))
    pairs = tuple(sorted({(r.source.model, r.target.model)  # the routes a search pivots on
                          for r in pivot_routes(cols, q, d)
                          if set(holds.get(r.source.name, ())) - {"text"}  # captions to go through
                          and d in holds.get(r.target.name, ())}))
    if pairs:
        shown = ", ".join(f"{a} texts → {b}" for a, b in pairs)
        return Reach(q, d, "pivot", tuple(sorted({m for p in pairs for m in p})),
                     pivots=pairs, reason=f"no model embeds both {q} and {d}; pivot through "
                     f"text: {shown}")
    return _none(q, d, embeds_q, docs)


def _none(q: str, d: str, embeds_q: Sequence[CollectionInfo],
          docs: Sequence[CollectionInfo]) -> Reach:
    """Why nothing reaches ``d`` documents (held by ``docs``) from ``q`` queries, and what to
    add."""
    q_text = sorted({c.model for c in embeds_q if "text" in _mods(c)})
    to = [c for c in docs if {d, "text"} <= _mods(c)]  # M_B: d and text
    if d == "text":  # a q–text model whose text side holds the documents would reach them
        if q_text:
            return Reach(q, d, "none", reason=f"the text documents are not in the text "
                         f"collection of {', '.join(q_text)}: re-run xmodal index on their "
                         "folder to back-fill them")
        return Reach(q, d, "none", reason=f"no model here embeds both {q} and text",
                     add=(SUGGESTED[q],))
    add = [] if q_text else [SUGGESTED[q]]
    if not to:
        add.append(SUGGESTED[d])
    if not add:  # both models are here: M_A has no texts to pivot through
        return Reach(q, d, "none", reason=f"no model embeds both {q} and {d}, and "
                     f"{', '.join(q_text)} stores no captions to pivot through: index {q} "
                     "documents with captions")
    return Reach(q, d, "none", reason=f"no model embeds both {q} and {d}, and no pivot "
                 f"through text ({q}–text and {d}–text models, {q} captions)", add=tuple(add))


def probe_holds(index: Index, collections: Sequence[CollectionInfo]) -> dict[str, set[str]]:
    """What each collection holds, read from the store: a media collection its modality when
    not empty; a text collection each modality it has a point of (one filtered top-1 search
    per modality: cheap at any size). A text collection that cannot be read is taken to hold
    every modality: the search's own error names the problem, never a false "unreachable".

    Example:
        >>> import tempfile, numpy as np
        >>> from xmodal.index import open_index
        >>> with open_index("exact:" + tempfile.mkdtemp()) as index:
        ...     col = index.create_collection("m.text", dim=2, model="m", modality="text")
        ...     _ = col.upsert(["a"], np.eye(2)[:1], [{"modality": "image"}])
        ...     probe_holds(index, index.collections())
        {'m.text': {'image'}}
    """
    out: dict[str, set[str]] = {}
    for info in collections:
        if info.modality != "text":
            out[info.name] = {info.modality} if info.count else set()
            continue
        probe = np.zeros(info.dim, np.float32)  # (d,)
        probe[0] = 1.0
        try:
            col = index.collection(info.name)
            out[info.name] = {m for m in MODALITIES if len(col.search(
                probe, k=1, filter=list_filter(None, ListName(info.name, m)))[0])}
        except Exception:  # a broken store: assume it holds all (its search says what failed)
            out[info.name] = set(MODALITIES)
    return out

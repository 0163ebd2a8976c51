"""A cross-encoder's list: the top text-bearing hits of a text query, rescored and fused.

``SearchRequest(query, rerank=SPEC)`` (``xmodal search --rerank SPEC``, the HTTP body's and
the MCP tool's ``rerank``) names a cross-encoder: a sentence-transformers ``CrossEncoder`` in a
local folder, or a Hub id ``ORG/NAME[@REVISION]`` resolved as the encoders resolve theirs
(:func:`xmodal.encoders.hub.resolve_location`: the Hugging Face cache, safetensors only; a local
folder of that name wins). It reads the query beside each hit's text, so it judges a pair
better than two separately embedded vectors can, at one model pass per pair.

What it rescores: the lists are searched ``rerank_depth`` deep (not ``k``), fused as usual (the
*first stage*), and the first ``rerank_depth`` hits of that ranking that bear text are scored
(:func:`hit_text`: a text document's own text, or a video's words, else an image's or a sound's
caption; a hit with neither is not scored). A text document's text is its file as written
(case, punctuation, code: what a cross-encoder was trained to read) when that file is still
the text the lexical list stored (:func:`source_text`: its words are the stored words); else
the stored words (lower case, no punctuation), which are all the index keeps: no payload holds
a document's text. Their scores, best first, make one more list, named
``rerank:NAME`` (:func:`rerank_name`), with its raw score (the cross-encoder's ``predict``
output) and rank in each hit's ``raw_scores`` / ``ranks``. It is fused with the other lists,
which stay in every hit and in the trace: the reranker never silently replaces them.

Its weight: it *leads* (:func:`~xmodal.search.lead.lead_weight`, as ``bm25`` does when it
leads): the hits it scored come in its order, the other lists break its ties and add, after
its hits, the ones it did not score (hits without text, hits below the depth). Asking for a
reranker is asking for its order, and a cross-encoder trained for relevance (MS MARCO's) beats
a bi-encoder on the pairs it sees; as an equal RRF list it would be one vote among the dense
and lexical lists, which already agree with each other and would mostly outvote it. The
benchmark (``benchmarks/rerank.py``) measures both weightings; a weight given in ``weights``
(``{"rerank:NAME": w}``) is kept as given. Measured with the only cross-encoder to be had
offline (MiniLM fine-tuned in 21 CPU minutes, ``scripts/train-reranker.py``) on the Python FAQ,
both lower MRR@10 (0.819: leading 0.545, equal 0.736 at depth 20): the lead suits a reranker
better than the first stage, which that one is not. Its scores are not cosines: no calibrator,
no part in the low-confidence fallback (it reranks the pass the fallback chose), and calibrated
fusion falls back to RRF (the trace says so).

Image, audio and vector queries are refused (``ValueError`` from the request): a cross-encoder
has no text to read on the query's side. The model is loaded once per process (the
:class:`~xmodal.search.searcher.Searcher` caches it per spec; a server resolves it from the
Hugging Face cache only, never downloading at request time).

Example (a stand-in scorer: the number of query words in the hit's text)::

    >>> from xmodal.search.hits import RankedList
    >>> class Overlap:
    ...     def predict(self, pairs, **kw):
    ...         return [len(set(q.split()) & set(t.split())) for q, t in pairs]
    >>> texts = {"d1": "a cat", "d2": "a red heart", "d3": None}
    >>> got = rerank_list("red heart", ["d1", "d2", "d3"], texts.get, Overlap(), "rerank:toy")
    >>> got.ids, got.scores
    (('d2', 'd1'), (2.0, 0.0))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

from xmodal.index.lexical import MAX_LEXICAL_CHARS, document_text, filename_text, words
from xmodal.index.segments import document_of
from xmodal.index.types import CollectionInfo

from .fuse import fuse_lists
from .hits import ListName, RankedList
from .lead import lead_weight
from .lists import SearchedList, SearchedLists
from .options import weighted
from .request import MAX_K, SearchRequest

__all__ = ["RERANK_PREFIX", "CrossScorer", "RerankerLoadError", "add_rerank", "hit_text",
           "load_cross_encoder", "rerank_list", "rerank_name", "source_text"]

RERANK_PREFIX = "rerank:"
"""The start of a rerank list's name (``rerank:NAME``)."""
_WORDY = ("text", "video")
"""Document kinds whose own words (text, subtitles) are their text, before any caption."""
MAX_SOURCE_BYTES = 1 << 20
"""Largest text file read for its own text (a larger one is read as its stored words)."""


class RerankerLoadError(ValueError):
    """A ``rerank`` spec that names no loadable cross-encoder: the caller's input (the CLI's
    exit 2, HTTP 422), not a server fault."""


class CrossScorer(Protocol):
    """What a reranker offers: sentence-transformers ``CrossEncoder.predict`` over pairs."""

    def predict(self, sentences: list[tuple[str, str]], **kwargs: Any) -> Any:
        """One relevance score per (query, text) pair, higher is better."""
        ...


def rerank_name(spec: str) -> str:
    """The list name of a cross-encoder spec: ``rerank:`` and its folder's or repository's
    last part (no revision).

    Example:
        >>> rerank_name("cross-encoder/ms-marco-MiniLM-L6-v2@main"), rerank_name("/m/ce/")
        ('rerank:ms-marco-MiniLM-L6-v2', 'rerank:ce')
    """
    location = spec.strip().rstrip("/")
    if not Path(location).expanduser().exists():
        location = location.partition("@")[0]
    return RERANK_PREFIX + location.rsplit("/", 1)[-1]


def load_cross_encoder(spec: str, *, offline: bool = False) -> CrossScorer:
    """A sentence-transformers ``CrossEncoder`` from a local folder or a Hub id.

    Args:
        spec: A folder, or ``ORG/NAME[@REVISION]`` (the Hugging Face cache; downloaded when
            missing unless offline).
        offline: Read the cache only (a server: models are never fetched at request time).

    Raises:
        RerankerLoadError: no such folder or Hub model, offline and not cached, no
            safetensors weights, not a cross-encoder (the message says which).
        MissingDependencyError: sentence-transformers is not installed.
    """
    from xmodal._optional import require
    from xmodal.encoders.base import EncoderLoadError
    from xmodal.encoders.hub import require_safetensors, resolve_location

    st = require("sentence_transformers", "text")
    label = f"rerank {spec}"
    try:
        folder = resolve_location(spec.strip(), prefix="rerank", offline=offline)
        if not folder.is_dir():
            raise RerankerLoadError(f"{label}: no such folder, and not a Hub id "
                                    "ORG/NAME[@REVISION]")
        require_safetensors(folder, label)
    except EncoderLoadError as exc:
        raise RerankerLoadError(str(exc)) from exc
    try:
        return st.CrossEncoder(str(folder), local_files_only=True,
                               model_kwargs={"use_safetensors": True})
    except Exception as exc:
        raise RerankerLoadError(f"{label}: not a cross-encoder ({exc})") from exc


def source_text(payload: Mapping[str, Any], words_of: Sequence[str] | None) -> str | None:
    """A text document's file as written, when it is the text the lexical list stored: its
    lexical text (file name, caption, text) has exactly the stored words. Else None: no stored
    words, not a text document, the file gone, unreadable, over :data:`MAX_SOURCE_BYTES`, or
    changed since it was indexed (a payload's ``path`` alone never makes a file read into a
    query: its words must be the index's own).

    Example:
        >>> import pathlib, tempfile
        >>> f = pathlib.Path(tempfile.mkdtemp()) / "faq_1.txt"
        >>> _ = f.write_text("Use sorted(), not list.sort().")
        >>> payload = {"modality": "text", "path": str(f)}
        >>> source_text(payload, ["faq", "1", "use", "sorted", "not", "list", "sort"])
        'Use sorted(), not list.sort().'
        >>> source_text(payload, ["faq", "1", "use", "max"]) is None  # not what was indexed
        True
    """
    if payload.get("modality") != "text" or not words_of:
        return None
    path = Path(str(payload.get("path", "")))
    try:
        if not path.is_file() or path.stat().st_size > MAX_SOURCE_BYTES:
            return None
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    caption = payload.get("caption")
    if words(document_text(str(path), caption=caption, text=text)) != list(words_of):
        return None
    text = text[:MAX_LEXICAL_CHARS].strip()
    return f"{caption}\n{text}" if caption and text else caption or text or None


def hit_text(payload: Mapping[str, Any], words_of: Sequence[str] | None) -> str | None:
    """The text a hit bears, for the cross-encoder: a text document's own text
    (:func:`source_text`), else its (or a video's) words as the lexical list stores them (lower
    case, punctuation dropped, its file name's words left out), else its caption, else None
    (nothing to read).

    Example:
        >>> hit_text({"modality": "text", "path": "/d/faq_1.txt"}, ["faq", "1", "use", "sorted"])
        'use sorted'
        >>> hit_text({"modality": "image", "caption": "A red heart"}, ["heart", "a", "red"])
        'A red heart'
        >>> hit_text({"modality": "image", "path": "/i/x.png"}, ["x"]) is None
        True
    """
    kind, caption = payload.get("modality"), payload.get("caption")
    if (own := source_text(payload, words_of)) is not None:
        return own
    if kind in _WORDY and words_of:
        name = words(filename_text(str(payload.get("path", ""))))
        body = list(words_of[len(name):] if list(words_of[:len(name)]) == name else words_of)
        if caption and body[:len(words(caption))] == words(caption):
            body = body[len(words(caption)):]  # the caption comes first, then the text
            return " ".join([caption, *body]) if body else caption
        if body:
            return " ".join(body)
    return caption or None


def rerank_list(query: str, ids: Sequence[str], text_of: Callable[[str], str | None],
                scorer: CrossScorer, name: str, *, weight: float = 1.0) -> RankedList:
    """The cross-encoder's list: each id that bears text (``text_of``), scored against
    ``query``, best first (ties: the order given).

    Raises:
        ValueError: the scorer returned another number of scores than pairs, or a NaN.
    """
    pairs = [(i, t) for i in ids if (t := text_of(i))]
    if not pairs:
        return RankedList(name, (), (), weight=weight)
    got = [float(s) for s in scorer.predict([(query, t) for _, t in pairs],
                                            show_progress_bar=False)]
    if len(got) != len(pairs):
        raise ValueError(f"{name}: {len(got)} scores for {len(pairs)} pairs")
    order = sorted(range(len(pairs)), key=lambda n: -got[n])  # stable: ties keep their order
    return RankedList(name, tuple(pairs[n][0] for n in order), tuple(got[n] for n in order),
                      weight=weight)


def add_rerank(searched: SearchedLists, request: SearchRequest, scorer: CrossScorer,
               store: Any) -> SearchedLists:
    """``searched`` plus the cross-encoder's list over its first-stage top hits (see the
    module docstring); unchanged, with a trace line, when no hit bears text.

    Args:
        searched: The lists of the pass (searched ``rerank_depth`` deep).
        request: The text search with ``rerank``.
        scorer: The loaded cross-encoder.
        store: The index's lexical collection (a text document's words), or None.
    """
    spec, depth = request.rerank or "", request.rerank_depth
    name = rerank_name(spec)
    first = fuse_lists(searched, replace(request, k=MAX_K, rerank=None)).hits
    docs = {h.id: document_of(h.id, h.payload) for h in first}
    wordy = [docs[h.id] for h in first if h.payload.get("modality") in _WORDY]
    stored = store.document_words(sorted(set(wordy))) if store is not None and wordy else {}
    texts = {h.id: hit_text(h.payload, stored.get(docs[h.id])) for h in first}
    ids = [i for i, t in texts.items() if t][:depth]
    given = weighted(request.weights, ListName(name))
    ranked = rerank_list(request.query or "", ids, texts.get, scorer, name,
                         weight=request.weights[name] if given and request.weights else 1.0)
    if not len(ranked):
        return replace(searched, trace=(*searched.trace, f"{name}: no hit bears text to rerank"))
    if not given:
        ranked = replace(ranked, weight=lead_weight(s.ranked.weight for s in searched.lists))
    info = CollectionInfo(name, 0, spec, "text", card={"family": "cross-encoder",
                                                        "modalities": []})
    line = (f"{name} rescored {len(ranked)} text-bearing hits of the first {len(first)} "
            f"(depth {depth}); weighted ×{ranked.weight:g}" + (
                " as given" if given else ": its order leads, the other lists break its ties "
                "and add the hits it did not score after its own"))
    own = SearchedList(ListName(name), info, ranked, None, lexical=True)
    return replace(searched, lists=(*searched.lists, own), trace=(*searched.trace, line))

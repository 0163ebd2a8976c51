"""Lexical text: the tokenizer every backend shares, and BM25 computed exactly (the oracle).

A document's lexical text is every text representation it has: its file name turned into words,
its caption, and for a text document its text (:func:`document_text`). Tokens are lower-cased
(NFKC) and never stemmed, so ids and product codes match *as typed*; a query leaves out English
stop words (:data:`STOP_WORDS`: documents keep them, for phrases):

- **parts**: runs of letters and digits (``"qorvex"``, ``"5521"``);
- **compounds**: a part sequence joined by ``- . / : # +`` inside one whitespace-separated chunk
  (``"qorvex-5521"``, ``"2024-03"``, ``"v1.2"``), and the whole chunk when it joins parts with
  ``_`` too (``"invoice_2024-03_qorvex-5521"``, ``"my_function"``).

:func:`terms` gives the BM25 terms (compounds, then parts, per chunk); :func:`words` gives the
parts alone, in order, which is what a quoted phrase must match (:func:`contains_phrase`).

BM25 (what Qdrant computes for a sparse vector with the IDF modifier, so the three backends
agree): a document term's weight is ``tf·(k1+1) / (tf + k1·(1 − b + b·len/avg_len))`` (``len``
its number of terms, ``avg_len`` a fixed collection setting, as in Qdrant's ``Bm25``), a query
term weighs 1 (each once), and the score is ``Σ idf(t)·weight(t, d)`` over the query terms,
``idf(t) = ln(1 + (N − df + 0.5) / (df + 0.5))`` with ``N`` the collection's documents.

Example:
    >>> terms("Invoice qorvex-5521, paid.")
    ['invoice', 'qorvex-5521', 'qorvex', '5521', 'paid']
    >>> filename_text("/scans/invoice_2024-03_qorvex-5521.pdf")
    'invoice_2024-03_qorvex-5521'
    >>> parse_query('the "red bicycle" at qorvex-5521')
    LexicalQuery(terms=('red', 'bicycle', 'qorvex-5521', 'qorvex', '5521'), \
phrases=(('red', 'bicycle'),))
    >>> round(bm25_idf(1, 4), 4), round(term_weights(["a", "a", "b"], Bm25Params())["a"], 4)
    (1.204, 1.9043)
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePath

__all__ = [
    "MAX_LEXICAL_CHARS",
    "MAX_TERM_CHARS",
    "Bm25Params",
    "LexicalQuery",
    "bm25_idf",
    "bm25_scores",
    "contains_phrase",
    "document_text",
    "filename_text",
    "parse_query",
    "term_weights",
    "terms",
    "words",
]

MAX_TERM_CHARS = 64
"""Longer tokens (hashes, base64 runs) are dropped."""

MAX_LEXICAL_CHARS = 200_000
"""Characters of a document's lexical text kept (the rest of a long text file is not indexed)."""

_PART = re.compile(r"[^\W_]+")
_COMPOUND = re.compile(r"[^\W_]+(?:[-./:#+][^\W_]+)+")
_EDGES = re.compile(r"^[\W_]+|[\W_]+$")
_PHRASE = re.compile(r"[\"“”]([^\"“”]+)[\"“”]")


@dataclass(frozen=True)
class Bm25Params:
    """BM25's constants (Qdrant's defaults): term saturation, length normalisation, and the
    fixed average document length (in terms) a document's length is compared with."""

    k1: float = 1.2
    b: float = 0.75
    avg_len: float = 256.0


@dataclass(frozen=True)
class LexicalQuery:
    """A text query read lexically: its BM25 terms and its quoted phrases (as word tuples)."""

    terms: tuple[str, ...]
    phrases: tuple[tuple[str, ...], ...]


def _normal(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def _keep(token: str) -> bool:
    return len(token) <= MAX_TERM_CHARS


def words(text: str) -> list[str]:
    """The parts of ``text`` in order (letters and digits; lower case): what phrases match.

    Example:
        >>> words("Red-bicycle_2 (ÉTÉ)")
        ['red', 'bicycle', '2', 'été']
    """
    return [w for w in _PART.findall(_normal(text)) if _keep(w)]


def terms(text: str) -> list[str]:
    """The BM25 terms of ``text``: per whitespace chunk, its compounds then its parts.

    Example:
        >>> terms("see my_function() and A-12/b")
        ['see', 'my_function', 'my', 'function', 'and', 'a-12/b', 'a', '12', 'b']
    """
    out: list[str] = []
    for chunk in _normal(text).split():
        parts = _PART.findall(chunk)
        if not parts:
            continue
        compounds = _COMPOUND.findall(chunk)
        whole = _EDGES.sub("", chunk)  # the chunk without leading / trailing punctuation
        if "_" in whole and len(parts) > 1 and whole not in compounds:
            out.append(whole)
        out.extend(compounds)
        out.extend(parts)
    return [t for t in out if _keep(t)]


def filename_text(path: str) -> str:
    """A file name as lexical text: its name without the extension (folders are left out).

    Example:
        >>> filename_text("a/b/Memo final.v2.txt")
        'Memo final.v2'
    """
    return PurePath(path).stem


def document_text(path: str, *, caption: str | None = None, text: str | None = None) -> str:
    """The lexical text of a document: file name, caption and (text documents) its text, one
    per line, cut at :data:`MAX_LEXICAL_CHARS`.

    Example:
        >>> document_text("x/cat_01.png", caption="a cat")
        'cat_01\\na cat'
    """
    pieces = [filename_text(path), caption or "", text or ""]
    return "\n".join(p for p in pieces if p)[:MAX_LEXICAL_CHARS]


STOP_WORDS = frozenset([
    "a", "about", "an", "and", "are", "as", "at", "be", "but", "by", "can", "could", "do",
    "does", "doing", "for", "from", "had", "has", "have", "how", "i", "if", "in", "into",
    "is", "it", "its", "me", "my", "no", "not", "of", "on", "or", "our", "so", "than",
    "that", "the", "their", "them", "then", "there", "these", "they", "this", "to", "was",
    "we", "were", "what", "when", "where", "which", "while", "who", "why", "will", "with",
    "would", "you", "your",
])
"""English function words left out of a query's BM25 terms (documents keep them, so a quoted
phrase still matches them; a query of stop words alone keeps them all)."""


def parse_query(query: str) -> LexicalQuery:
    """A query's BM25 terms (quotes removed) and its quoted phrases (``"…"`` or ``“…”``)."""
    phrases = tuple(tuple(w) for w in (words(p) for p in _PHRASE.findall(query)) if w)
    found = tuple(dict.fromkeys(terms(query)))
    kept = tuple(t for t in found if t not in STOP_WORDS)
    return LexicalQuery(kept or found, phrases)


def contains_phrase(doc_words: Sequence[str], phrase: Sequence[str]) -> bool:
    """Whether ``phrase`` occurs in ``doc_words`` as consecutive words.

    Example:
        >>> contains_phrase(["a", "red", "bicycle"], ["red", "bicycle"])
        True
        >>> contains_phrase(["red", "a", "bicycle"], ["red", "bicycle"])
        False
    """
    n = len(phrase)
    if n == 0:
        return True
    first = phrase[0]
    return any(doc_words[i] == first and list(doc_words[i:i + n]) == list(phrase)
               for i in range(len(doc_words) - n + 1))


def term_weights(doc_terms: Sequence[str], params: Bm25Params) -> dict[str, float]:
    """A document's BM25 term weights (its sparse vector before IDF)."""
    counts = Counter(doc_terms)
    norm = params.k1 * (1.0 - params.b + params.b * len(doc_terms) / params.avg_len)
    return {t: tf * (params.k1 + 1.0) / (tf + norm) for t, tf in counts.items()}


def bm25_idf(df: int, n: int) -> float:
    """Lucene's (and Qdrant's) BM25 IDF of a term in ``df`` of ``n`` documents."""
    return math.log(1.0 + (n - df + 0.5) / (df + 0.5))


def bm25_scores(query_terms: Sequence[str], docs: Sequence[Mapping[str, float]]
                ) -> list[float]:
    """BM25 score of every document (its :func:`term_weights`) for the query terms; the IDF
    statistics are those of ``docs`` (0 where no query term occurs)."""
    unique = list(dict.fromkeys(query_terms))
    n = len(docs)
    idf = {t: bm25_idf(sum(1 for d in docs if t in d), n) for t in unique}
    return [sum(idf[t] * d[t] for t in unique if t in d) for d in docs]

"""Text preprocessing with limits: Unicode NFC, NUL refused, over-long text reported."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from .report import ItemProblem, describe

MAX_TEXT_CHARS = 100_000
"""Texts longer than this (characters) are refused before tokenisation: no model reads them."""


@dataclass(frozen=True)
class PreparedTexts:
    """Texts ready for a tokenizer, with the positions of the usable ones."""

    texts: tuple[str, ...]  # NFC-normalised usable texts
    indices: tuple[int, ...]  # their positions in the input
    failed: tuple[ItemProblem, ...]  # unusable inputs and why


def prepare_texts(items: Sequence[object], *, max_chars: int = MAX_TEXT_CHARS) -> PreparedTexts:
    """Normalise to NFC and sort out unusable inputs (not a string, NUL, empty, too long).

    Example:
        >>> p = prepare_texts(["Cafe\\u0301", "bad\\x00", 3])
        >>> p.texts, p.indices, [f.reason for f in p.failed]
        (('Café',), (0,), ['contains a NUL character', 'not a string but int'])
    """
    if isinstance(items, str):
        raise TypeError("pass a list of strings, not a single string")
    texts: list[str] = []
    indices: list[int] = []
    failed: list[ItemProblem] = []
    for i, item in enumerate(items):
        reason = _problem(item, max_chars)
        if reason is not None:
            failed.append(ItemProblem(index=i, item=describe(item), reason=reason))
            continue
        texts.append(unicodedata.normalize("NFC", item))  # type: ignore[arg-type]
        indices.append(i)
    return PreparedTexts(texts=tuple(texts), indices=tuple(indices), failed=tuple(failed))


def _problem(item: object, max_chars: int) -> str | None:
    if not isinstance(item, str):
        return f"not a string but {type(item).__name__}"
    if "\x00" in item:
        return "contains a NUL character"
    if not item.strip():
        return "empty text"
    if len(item) > max_chars:
        return f"{len(item)} characters, over the limit of {max_chars}"
    return None

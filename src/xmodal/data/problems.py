"""What went wrong with one input item: shared by decoding (``data``) and encoding."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ItemProblem:
    """One input that could not be used as given."""

    index: int  # position in the input list
    item: str  # a short description of the item (text prefix, path)
    reason: str  # what was wrong, in words


def describe(item: object, limit: int = 60) -> str:
    """A short, printable description of an input item for error messages."""
    text = item if isinstance(item, str) else repr(item)
    text = text.replace("\x00", "\\x00")
    return text if len(text) <= limit else text[: limit - 1] + "…"

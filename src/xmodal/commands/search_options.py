"""``xmodal search``'s repeatable ``KEY=VALUE`` options read into request fields: ``--weight``
(a list's weight) and ``--filter`` (a payload filter, JSON or pairs).

Example:
    >>> option_pairs(["clip.image=2", "bm25=0.5"], "--weight", float)
    {'clip.image': 2.0, 'bm25': 0.5}
    >>> option_filter(["year=2024"])
    {'year': 2024}
    >>> len(option_filter(["year=2024", '{"kind": "photo"}'])["must"])
    2
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["json_value", "option_filter", "option_pairs"]

_T = TypeVar("_T")


def option_pairs(items: list[str] | None, option: str,
                 parse: Callable[[str], _T]) -> dict[str, _T] | None:
    """``["KEY=VALUE", ...]`` as ``{KEY: parse(VALUE)}`` (None when none is given)."""
    if not items:
        return None
    out = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq:
            raise ValueError(f"{option} {item!r}: use KEY=VALUE")
        try:
            out[key] = parse(value)
        except ValueError as exc:
            raise ValueError(f"{option} {item!r}: {exc}") from exc
    return out


def option_filter(items: list[str] | None) -> dict[str, Any] | None:
    """``--filter`` values as one filter: a JSON object each (``{...}``) or ``KEY=VALUE``
    pairs; several are combined with ``must`` (None when none is given)."""
    if not items:
        return None
    objects = []
    for item in items:
        if item.lstrip().startswith("{"):
            try:
                objects.append(json.loads(item))
            except json.JSONDecodeError as exc:
                raise ValueError(f"--filter {item!r:.80} is not JSON: {exc}") from exc
        else:
            objects.append(option_pairs([item], "--filter", json_value))
    if len(objects) == 1:
        return objects[0]
    from xmodal.index.filters import parse_filter, to_json

    return {"must": [to_json(parse_filter(o)) for o in objects]}


def json_value(text: str) -> Any:
    """``text`` read as JSON when it parses (a number, true, false), else the text itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text

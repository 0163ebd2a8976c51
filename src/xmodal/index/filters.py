"""Payload filters: Qdrant's filter JSON (a documented subset), parsed once into a typed
:class:`Filter`, evaluated here (the exact backend's evaluator, the oracle of the others) and
mapped to Qdrant Edge and ``qdrant-client`` by :mod:`xmodal.index.filter_qdrant`.

The subset (``K`` a payload key, ``[A-Za-z_][A-Za-z0-9_-]{0,63}``, not ``_id``)::

    {"must": [COND, ...], "should": [COND, ...], "must_not": [COND, ...]}
    COND = {"key": K, "match": {"value": str | int | bool}}
         | {"key": K, "match": {"any": [str, ...] | [int, ...]}}
         | {"key": K, "match": {"except": [str, ...] | [int, ...]}}   (non-empty)
         | {"key": K, "match": {"text": str}}
         | {"key": K, "range": {"gt" | "gte" | "lt" | "lte": number | ISO-8601 datetime}}
         | a nested filter (an object with must / should / must_not)

plus the legacy shorthand ``{"key": value, ...}`` (every key equals its value; str, int or
bool). Semantics, as measured on Qdrant Edge (qdrant-edge-py 0.9) with the payload indexes xmodal
creates:

- ``must``: every condition; ``should``: at least one (an empty ``should`` admits everything);
  ``must_not``: none. A missing key, ``null`` or ``[]`` fails every match and range (so it
  passes ``must_not``).
- A list-valued field matches when one of its elements does.
- ``value`` / ``any``: equal and of the same JSON type: ``3`` matches ``3``, never ``3.0``,
  ``"3"`` or ``true``; ``true`` matches only ``true``. Floats are not matched exactly (use a
  range).
- ``except``: the field has an element equal to none of the values (an element of another type
  counts: ``{"except": [3]}`` admits ``"a"``).
- ``text``: the text's tokens all appear among the field's tokens (over all string elements of
  a list). A token is a maximal run of letters and digits, lower-cased: ``"Foo-bar"`` is
  ``foo``, ``bar``. No token (``""``) matches nothing.
- ``range`` with numbers: numeric elements (not booleans) within the bounds. With ISO-8601
  datetimes (``"2026-12-06T08:00:00Z"``, ``"2026-12-06"``; no offset means UTC): elements that
  are datetime strings, compared as instants (microseconds). One range holds one kind of bound.

A key should hold one type across documents (xmodal's automatic keys do, and side-car lists
hold one type): Qdrant's payload index of a key follows its type, and a range of the other kind
on an indexed key matches nothing. Ranges on xmodal's typed keys (``mtime``, ``size_bytes``…)
of the wrong kind, and ``text`` on a numeric one, are refused.

Example:
    >>> f = parse_filter({"must": [{"key": "ext", "match": {"any": ["png", "jpg"]}},
    ...                            {"key": "size_bytes", "range": {"lt": 1000}}]})
    >>> matches(f, {"ext": "png", "size_bytes": 12}), matches(f, {"ext": "wav"})
    (True, False)
    >>> parse_filter({"must": [{"key": "mtime", "range": {"gte": "yesterday"}}]})
    Traceback (most recent call last):
    ...
    xmodal.index.filters.FilterError: filter must[0].range.gte: 'yesterday' is not a number or \
an ISO-8601 datetime (e.g. "2026-12-06T08:00:00Z")
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

__all__ = [
    "FILTER_HELP",
    "Condition",
    "DatetimeRange",
    "Filter",
    "FilterError",
    "MatchAny",
    "MatchExcept",
    "MatchText",
    "MatchValue",
    "Range",
    "index_kind",
    "leaves",
    "matches",
    "parse_datetime",
    "parse_filter",
    "to_json",
    "tokens",
]

MAX_DEPTH = 8
"""Nesting levels of filters inside filters."""
MAX_CONDITIONS = 100
"""Conditions (leaves) in one filter."""
MAX_VALUES = 1000
"""Values of one ``any`` / ``except`` list."""
MAX_STRING = 1000
"""Characters of one matched string or text."""

KEY_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")
"""A filterable (and metadata) key. No dots: Qdrant reads ``a.b`` as a nested path."""
CLAUSES = ("must", "should", "must_not")
BOUNDS = ("gt", "gte", "lt", "lte")
IndexKind = Literal["keyword", "float", "datetime", "text", "bool"]
"""The payload index a key gets in Qdrant (never ``integer``: it truncates floats)."""

TYPED_KEYS: Mapping[str, IndexKind] = {
    "path": "keyword", "modality": "keyword", "sha256": "keyword", "representation": "keyword",
    "caption": "text", "folder": "keyword", "ext": "keyword", "size_bytes": "float",
    "width": "float", "height": "float", "duration_s": "float", "mtime": "datetime",
    "taken_at": "datetime", "document_id": "keyword", "t_start": "float", "t_end": "float",
    "segment": "float",
}
"""The payload keys whose type xmodal sets (system and automatic metadata keys)."""

FILTER_HELP = (
    "A payload filter in Qdrant's filter JSON (a subset): {\"must\" | \"should\" | "
    "\"must_not\": [CONDITION, ...]} where a CONDITION is {\"key\": K, \"match\": "
    "{\"value\": V}} (str, int, bool), {\"key\": K, \"match\": {\"any\": [...]}}, "
    "{\"key\": K, \"match\": {\"except\": [...]}}, {\"key\": K, \"match\": {\"text\": "
    "\"words\"}} (every word among the field's words), {\"key\": K, \"range\": {\"gt\" | "
    "\"gte\" | \"lt\" | \"lte\": number or ISO-8601 datetime}}, or a nested filter; or the "
    "shorthand {\"key\": value} (exact match). Keys: the metadata of hits (ext, folder, "
    "size_bytes, mtime, width, height, duration_s, taken_at, side-car keys) and modality, path.")
FILTER_EXAMPLE = {"must": [{"key": "ext", "match": {"any": ["png", "jpg"]}},
                           {"key": "mtime", "range": {"gte": "2026-12-01T00:00:00Z"}}]}
"""The filter subset in one paragraph: the HTTP schema's and the MCP tool's description."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DATETIME = re.compile(
    r"\s*(\d{4})-(\d{1,2})-(\d{1,2})(?:[Tt ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?"
    r"\s*(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)?\s*")
_TOKEN = re.compile(r"[^\W_]+")


class FilterError(ValueError):
    """A filter outside the subset; the message names the condition (``must[1].range``)."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"filter {path}: {problem}" if path else f"filter: {problem}")
        self.path = path


@dataclass(frozen=True)
class MatchValue:
    """``key`` has an element equal to ``value`` (same JSON type)."""

    key: str
    value: str | int | bool


@dataclass(frozen=True)
class MatchAny:
    """``key`` has an element equal to one of ``values`` (all str, or all int)."""

    key: str
    values: tuple[str, ...] | tuple[int, ...]


@dataclass(frozen=True)
class MatchExcept:
    """``key`` has an element equal to none of ``values`` (all str, or all int)."""

    key: str
    values: tuple[str, ...] | tuple[int, ...]


@dataclass(frozen=True)
class MatchText:
    """Every token of ``text`` is a token of ``key``'s strings (see :func:`tokens`)."""

    key: str
    text: str


@dataclass(frozen=True)
class Range:
    """``key`` has a number (not a boolean) within the bounds (None: unbounded)."""

    key: str
    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None


@dataclass(frozen=True)
class DatetimeRange:
    """``key`` has a datetime string within the bounds (timezone-aware instants)."""

    key: str
    gt: datetime | None = None
    gte: datetime | None = None
    lt: datetime | None = None
    lte: datetime | None = None


@dataclass(frozen=True)
class Filter:
    """``must`` all, ``should`` at least one (when any), ``must_not`` none. Falsy when empty."""

    must: tuple[Condition, ...] = ()
    should: tuple[Condition, ...] = ()
    must_not: tuple[Condition, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.must or self.should or self.must_not)


Condition = MatchValue | MatchAny | MatchExcept | MatchText | Range | DatetimeRange | Filter
Leaf = MatchValue | MatchAny | MatchExcept | MatchText | Range | DatetimeRange


# -- parsing --------------------------------------------------------------------------------
def parse_filter(obj: Mapping[str, Any] | Filter | None) -> Filter:
    """A filter from Qdrant's filter JSON or the legacy ``{"key": value}`` shorthand.

    Args:
        obj: The JSON object (a :class:`Filter` is returned as is; None or ``{}``: no filter).

    Returns:
        The typed filter (falsy when it has no condition).

    Raises:
        FilterError: Outside the subset or a limit; the message names the condition.

    Example:
        >>> parse_filter({"album": "a"})
        Filter(must=(MatchValue(key='album', value='a'),), should=(), must_not=())
        >>> parse_filter({"must": [{"key": "n", "match": {"value": 1.5}}]})
        Traceback (most recent call last):
        ...
        xmodal.index.filters.FilterError: filter must[0].match.value: 1.5 is not a str, int or \
bool (floats are not matched exactly: use a range)
    """
    if isinstance(obj, Filter):
        return obj
    if obj is None:
        return Filter()
    if not isinstance(obj, Mapping):
        raise FilterError("", f"expected a JSON object, got {type(obj).__name__}")
    if not any(c in obj for c in CLAUSES):
        return _legacy(obj)
    count = [0]
    return _filter(obj, "", 1, count)


def _legacy(obj: Mapping[str, Any]) -> Filter:
    conds = []
    for key, value in obj.items():
        _key(key, repr(key) if not isinstance(key, str) else key)
        if isinstance(value, float) or not isinstance(value, str | int | bool):
            raise FilterError(key, f"value {value!r} is not a str, int or bool (the shorthand "
                              "is exact match; use {\"must\": [...]} for more)")
        conds.append(MatchValue(key, _string(value, key) if isinstance(value, str) else value))
    if len(conds) > MAX_CONDITIONS:
        raise FilterError("", f"{len(conds)} conditions, the limit is {MAX_CONDITIONS}")
    return Filter(must=tuple(conds))


def _filter(obj: Mapping[str, Any], path: str, depth: int, count: list[int]) -> Filter:
    if depth > MAX_DEPTH:
        raise FilterError(path, f"filters nested deeper than {MAX_DEPTH} levels")
    extra = [k for k in obj if k not in CLAUSES]
    if extra:
        raise FilterError(path, f"unknown field {extra[0]!r} next to must/should/must_not "
                          "(a filter holds only those)")
    parts: dict[str, tuple[Condition, ...]] = {}
    for clause in CLAUSES:
        items = obj.get(clause)
        if items is None:
            continue
        where = f"{path}.{clause}" if path else clause
        if not isinstance(items, list):
            raise FilterError(where, f"expected a list of conditions, got {_kind(items)}")
        parts[clause] = tuple(_condition(c, f"{where}[{i}]", depth, count)
                              for i, c in enumerate(items))
    return Filter(**parts)


def _condition(obj: Any, path: str, depth: int, count: list[int]) -> Condition:
    if not isinstance(obj, Mapping):
        raise FilterError(path, f"expected a condition object, got {_kind(obj)}")
    if any(c in obj for c in CLAUSES):
        return _filter(obj, path, depth + 1, count)
    count[0] += 1
    if count[0] > MAX_CONDITIONS:
        raise FilterError(path, f"more than {MAX_CONDITIONS} conditions")
    unknown = [k for k in obj if k not in ("key", "match", "range")]
    if unknown:
        raise FilterError(path, f"unknown field {unknown[0]!r} (supported: key with match or "
                          "range, or a nested must/should/must_not)")
    key = _key(obj.get("key"), f"{path}.key")
    if ("match" in obj) == ("range" in obj):
        raise FilterError(path, "give exactly one of match, range")
    if "match" in obj:
        return _match(key, obj["match"], f"{path}.match")
    return _range(key, obj["range"], f"{path}.range")


def _key(key: Any, path: str) -> str:
    if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key) or key == "_id":
        raise FilterError(path, f"{key!r} is not a payload key (letters, digits, _ and -, "
                          "starting with a letter or _, at most 64; not _id)")
    return key


def _match(key: str, obj: Any, path: str) -> Leaf:
    if not isinstance(obj, Mapping) or len(obj) != 1:
        raise FilterError(path, "expected an object with exactly one of value, any, except, "
                          "text")
    (kind, arg), = obj.items()
    where = f"{path}.{kind}"
    if kind == "value":
        if isinstance(arg, float) or not isinstance(arg, str | int | bool):
            raise FilterError(where, f"{arg!r} is not a str, int or bool (floats are not "
                              "matched exactly: use a range)")
        return MatchValue(key, _string(arg, where) if isinstance(arg, str) else arg)
    if kind in ("any", "except"):
        values = _values(arg, where, empty_ok=kind == "any")
        return MatchAny(key, values) if kind == "any" else MatchExcept(key, values)
    if kind == "text":
        if not isinstance(arg, str):
            raise FilterError(where, f"expected a string, got {_kind(arg)}")
        if TYPED_KEYS.get(key) not in (None, "text", "keyword"):
            raise FilterError(where, f"{key!r} holds {TYPED_KEYS[key]} values, not text")
        return MatchText(key, _string(arg, where))
    raise FilterError(path, f"unknown match {kind!r} (supported: value, any, except, text)")


def _values(arg: Any, path: str, *, empty_ok: bool) -> tuple[str, ...] | tuple[int, ...]:
    if not isinstance(arg, list):
        raise FilterError(path, f"expected a list, got {_kind(arg)}")
    if not arg and not empty_ok:
        raise FilterError(path, "needs at least one value")
    if len(arg) > MAX_VALUES:
        raise FilterError(path, f"{len(arg)} values, the limit is {MAX_VALUES}")
    if all(isinstance(v, str) for v in arg):
        return tuple(_string(v, f"{path}[{i}]") for i, v in enumerate(arg))
    if all(isinstance(v, int) and not isinstance(v, bool) for v in arg):
        return tuple(arg)
    raise FilterError(path, "values must be all strings or all integers (no floats, "
                      "booleans or mixes)")


def _range(key: str, obj: Any, path: str) -> Range | DatetimeRange:
    if not isinstance(obj, Mapping) or not obj:
        raise FilterError(path, "expected an object with gt, gte, lt and/or lte")
    bad = [k for k in obj if k not in BOUNDS]
    if bad:
        raise FilterError(path, f"unknown bound {bad[0]!r} (supported: gt, gte, lt, lte)")
    numbers: dict[str, float] = {}
    dates: dict[str, datetime] = {}
    for bound, v in obj.items():
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
            numbers[bound] = float(v)
        elif isinstance(v, str) and (dt := parse_datetime(v)) is not None:
            dates[bound] = dt
        else:
            raise FilterError(f"{path}.{bound}", f"{v!r} is not a number or an ISO-8601 "
                              "datetime (e.g. \"2026-12-06T08:00:00Z\")")
    if numbers and dates:
        raise FilterError(path, "mixes numbers and datetimes (one kind per range)")
    typed = TYPED_KEYS.get(key)
    if numbers and typed == "datetime":
        raise FilterError(path, f"{key!r} holds datetimes: bound it with ISO-8601 datetimes "
                          "(e.g. \"2026-12-06T08:00:00Z\"), not numbers")
    if dates and typed not in (None, "datetime"):
        raise FilterError(path, f"{key!r} holds {typed} values, not datetimes")
    if numbers and typed not in (None, "float"):
        raise FilterError(path, f"{key!r} holds {typed} values, not numbers")
    return DatetimeRange(key, **dates) if dates else Range(key, **numbers)


def _string(value: str, path: str) -> str:
    if len(value) > MAX_STRING:
        raise FilterError(path, f"string of {len(value)} characters, the limit is {MAX_STRING}")
    return value


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__)


@functools.lru_cache(maxsize=4096)
def parse_datetime(text: str) -> datetime | None:
    """An ISO-8601 datetime as a timezone-aware instant (no offset: UTC), or None.

    Accepts ``YYYY-MM-DD``, then optionally ``T`` (or a space) ``HH:MM[:SS[.fraction]]``, then
    optionally ``Z`` or ``±HH[:MM]``; the forms Qdrant parses in payloads.

    Example:
        >>> parse_datetime("2026-12-06T09:00:00+01:00") == parse_datetime("2026-12-06 08:00Z")
        True
        >>> parse_datetime("last week") is None
        True
    """
    m = _DATETIME.fullmatch(text)
    if m is None:
        return None
    y, mo, d, hh, mm, ss, frac, _z, sign, oh, om = m.groups()
    try:
        micro = int((frac or "0")[:6].ljust(6, "0"))
        dt = datetime(int(y), int(mo), int(d), int(hh or 0), int(mm or 0), int(ss or 0), micro,
                      tzinfo=UTC)
    except ValueError:
        return None
    if sign:
        offset = timedelta(hours=int(oh), minutes=int(om or 0))
        dt = dt - offset if sign == "+" else dt + offset
    return dt


def tokens(text: str) -> set[str]:
    """The tokens ``text`` match compares: maximal runs of letters and digits, lower-cased.

    Example:
        >>> sorted(tokens("Foo-bar, BAZ_2"))
        ['2', 'bar', 'baz', 'foo']
    """
    return set(_TOKEN.findall(text.lower()))


# -- evaluation -----------------------------------------------------------------------------
def matches(flt: Filter, payload: Mapping[str, Any]) -> bool:
    """Whether ``payload`` passes ``flt`` (Qdrant's semantics; see the module docstring).

    Example:
        >>> f = parse_filter({"should": [{"key": "tags", "match": {"value": "a"}}],
        ...                   "must_not": [{"key": "n", "range": {"gt": 2}}]})
        >>> matches(f, {"tags": ["b", "a"], "n": 1}), matches(f, {"tags": "a", "n": 3})
        (True, False)
    """
    if flt.must and not all(_holds(c, payload) for c in flt.must):
        return False
    if flt.should and not any(_holds(c, payload) for c in flt.should):
        return False
    return not any(_holds(c, payload) for c in flt.must_not)


def _same(have: Any, want: Any) -> bool:
    if isinstance(want, bool) or isinstance(have, bool):
        return isinstance(want, bool) and isinstance(have, bool) and have == want
    if isinstance(want, int):
        return type(have) is int and have == want
    return isinstance(have, str) and have == want


def _within(x: Any, c: Range | DatetimeRange) -> bool:
    return ((c.gt is None or x > c.gt) and (c.gte is None or x >= c.gte)
            and (c.lt is None or x < c.lt) and (c.lte is None or x <= c.lte))


def _micros(dt: datetime) -> int:
    return (dt - _EPOCH) // timedelta(microseconds=1)


def _holds(c: Condition, payload: Mapping[str, Any]) -> bool:
    if isinstance(c, Filter):
        return matches(c, payload)
    have = payload.get(c.key)
    values = [v for v in (have if isinstance(have, list) else [have]) if v is not None]
    if not values:
        return False
    if isinstance(c, MatchValue):
        return any(_same(v, c.value) for v in values)
    if isinstance(c, MatchAny):
        return any(_same(v, w) for v in values for w in c.values)
    if isinstance(c, MatchExcept):
        return any(not any(_same(v, w) for w in c.values) for v in values)
    if isinstance(c, MatchText):
        need = tokens(c.text)
        have_tokens = set().union(*(tokens(v) for v in values if isinstance(v, str)))
        return bool(need) and need <= have_tokens
    if isinstance(c, Range):
        return any(_within(v, c) for v in values
                   if isinstance(v, int | float) and not isinstance(v, bool))
    dts = [parse_datetime(v) for v in values if isinstance(v, str)]
    bounds = DatetimeRange(c.key, *(None if b is None else _micros(b)
                                    for b in (c.gt, c.gte, c.lt, c.lte)))
    return any(_within(_micros(d), bounds) for d in dts if d is not None)


def leaves(flt: Filter) -> Iterator[Leaf]:
    """Every condition of ``flt`` that is not a filter, nested ones included."""
    for c in (*flt.must, *flt.should, *flt.must_not):
        if isinstance(c, Filter):
            yield from leaves(c)
        else:
            yield c


def index_kind(c: Leaf) -> IndexKind | None:
    """The payload index that serves ``c``'s key: the key's own type when xmodal sets it, else
    the condition's. An integer match gets a float index (Qdrant's integer index truncates
    floats): :func:`~xmodal.index.filter_qdrant.to_edge` pairs the match with the equivalent
    range, which that index serves, so the admitted points are found and counted through it."""
    if c.key in TYPED_KEYS:
        return TYPED_KEYS[c.key]
    if isinstance(c, MatchText):
        return "text"
    if isinstance(c, Range):
        return "float"
    if isinstance(c, DatetimeRange):
        return "datetime"
    value = c.value if isinstance(c, MatchValue) else c.values[0] if c.values else None
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "keyword"
    return "float" if isinstance(value, int) else None


# -- JSON and the Qdrant mappings -----------------------------------------------------------
def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def to_json(flt: Filter) -> dict[str, Any]:
    """The canonical Qdrant JSON of ``flt`` (datetimes as UTC ``…Z`` strings).

    Example:
        >>> to_json(parse_filter({"album": "a"}))
        {'must': [{'key': 'album', 'match': {'value': 'a'}}]}
    """
    def cond(c: Condition) -> dict[str, Any]:
        if isinstance(c, Filter):
            return to_json(c)
        if isinstance(c, MatchValue):
            return {"key": c.key, "match": {"value": c.value}}
        if isinstance(c, MatchAny | MatchExcept):
            return {"key": c.key, "match": {
                "any" if isinstance(c, MatchAny) else "except": list(c.values)}}
        if isinstance(c, MatchText):
            return {"key": c.key, "match": {"text": c.text}}
        bounds = {b: getattr(c, b) for b in BOUNDS if getattr(c, b) is not None}
        if isinstance(c, DatetimeRange):
            bounds = {b: _iso(v) for b, v in bounds.items()}
        return {"key": c.key, "range": bounds}

    return {clause: [cond(c) for c in getattr(flt, clause)] for clause in CLAUSES
            if getattr(flt, clause)}

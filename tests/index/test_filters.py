"""Filters: the parser (errors naming the condition, limits), the evaluator against hand-computed
payloads (every operator, nesting, lists, datetimes, missing keys), the Qdrant mappings, and
Qdrant Edge against the exact backend (the oracle) on seeded random payloads and filters."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from xmodal.index import filters as F
from xmodal.index.filter_qdrant import to_qdrant_models
from xmodal.index.filters import FilterError, matches, parse_filter, to_json

DOCS = {
    "int3": {"v": 3}, "float3": {"v": 3.0}, "float35": {"v": 3.5}, "true": {"v": True},
    "one": {"v": 1}, "str3": {"v": "3"}, "a": {"v": "a"}, "ab": {"v": ["a", "b"]},
    "empty": {"v": []}, "null": {"v": None}, "missing": {}, "ints": {"v": [1, 5]},
    "text": {"v": "Hello World, foo-bar baz"}, "hello": {"v": "hello"},
    "d_utc": {"v": "2026-12-06T08:00:00Z"}, "d_plus1": {"v": "2026-12-06T08:00:00+01:00"},
    "d_date": {"v": "2026-12-06"}, "d_space": {"v": "2026-12-06 08:00:00"},
    "d_frac": {"v": "2026-12-06T08:00:00.500Z"},
    "d_list": {"v": ["2020-01-01T00:00:00Z", "2030-01-01T00:00:00Z"]},
}


def which(flt: dict) -> set[str]:
    f = parse_filter(flt)
    return {name for name, p in DOCS.items() if matches(f, p)}


def cond(**c) -> dict:
    return {"must": [{"key": "v", **c}]}


@pytest.mark.parametrize(("flt", "want"), [
    # value: same JSON type only (3 is not 3.0, "3" or true; true is not 1)
    (cond(match={"value": 3}), {"int3"}),
    (cond(match={"value": 1}), {"one", "ints"}),
    (cond(match={"value": True}), {"true"}),
    (cond(match={"value": "a"}), {"a", "ab"}),
    (cond(match={"any": ["a", "3"]}), {"a", "ab", "str3"}),
    (cond(match={"any": [3, 5]}), {"int3", "ints"}),
    (cond(match={"any": []}), set()),
    # except: some element equal to none of them; a missing / null / [] value fails
    (cond(match={"except": ["a"]}), set(DOCS) - {"a", "empty", "null", "missing"}),
    (cond(match={"except": [1, 5, 3]}), set(DOCS) - {"int3", "one", "ints", "empty", "null",
                                                     "missing"}),
    # text: every token among the field's tokens, lower-cased, split at non-alphanumerics
    (cond(match={"text": "hello"}), {"text", "hello"}),
    (cond(match={"text": "WORLD hello"}), {"text"}),
    (cond(match={"text": "foo-bar"}), {"text"}),
    (cond(match={"text": "ell"}), set()),
    (cond(match={"text": ""}), set()),
    (cond(match={"text": "a b"}), {"ab"}),  # tokens pooled over a list (the text index's way)
    # numeric ranges: numbers only (not booleans, not numeric strings)
    (cond(range={"gte": 3}), {"int3", "float3", "float35", "ints"}),
    (cond(range={"gt": 3}), {"float35", "ints"}),
    (cond(range={"lt": 2}), {"one", "ints"}),
    (cond(range={"gt": 3, "lt": 4}), {"float35"}),
    # datetime ranges: instants; no offset is UTC; a date is midnight
    (cond(range={"gte": "2026-12-06T08:00:00Z"}), {"d_utc", "d_space", "d_frac", "d_list"}),
    (cond(range={"gt": "2026-12-06T08:00:00Z"}), {"d_frac", "d_list"}),
    (cond(range={"lt": "2026-12-06T08:00:00Z"}), {"d_plus1", "d_date", "d_list"}),
    (cond(range={"gte": "2026-12-06T09:00:00.1+01:00"}), {"d_frac", "d_list"}),
    (cond(range={"gte": "2026-12-06"}), {k for k in DOCS if k.startswith("d_")}),
    # clauses and nesting
    ({"must_not": [{"key": "v", "match": {"value": "a"}}]}, set(DOCS) - {"a", "ab"}),
    ({"should": [{"key": "v", "match": {"value": "a"}}, {"key": "v", "match": {"value": 3}}]},
     {"a", "ab", "int3"}),
    ({"should": []}, set(DOCS)),
    ({"must": [{"should": [{"key": "v", "match": {"value": "b"}}]}]}, {"ab"}),
    ({"must_not": [{"must_not": [{"key": "v", "match": {"value": "a"}}]}]}, {"a", "ab"}),
    ({"must": [{"key": "v", "match": {"value": "a"}}],
      "must_not": [{"key": "v", "match": {"value": "b"}}]}, {"a"}),
    ({"v": "a"}, {"a", "ab"}),  # the legacy shorthand
])
def test_evaluator_by_hand(flt, want):
    assert which(flt) == want


def test_missing_key_fails_match_and_range():
    for c in ({"match": {"value": "x"}}, {"match": {"except": ["x"]}}, {"range": {"gte": 0}},
              {"range": {"lt": "2030-01-01"}}, {"match": {"text": "x"}}):
        f = parse_filter({"must": [{"key": "other", **c}]})
        assert not any(matches(f, p) for p in DOCS.values())
        assert all(matches(parse_filter({"must_not": [{"key": "other", **c}]}), p)
                   for p in DOCS.values())


@pytest.mark.parametrize(("flt", "where"), [
    ([1], "filter: expected a JSON object"),
    ({"must": {"key": "a"}}, "filter must: expected a list"),
    ({"must": [{"key": "a", "match": {"value": 1}}, {"key": "a", "range": {"gte": "x"}}]},
     "filter must[1].range.gte: 'x' is not a number or an ISO-8601 datetime"),
    ({"must": [{"key": "a", "match": {"value": 1.5}}]}, "must[0].match.value: 1.5"),
    ({"must": [{"key": "a", "match": {"like": "x"}}]}, "must[0].match: unknown match 'like'"),
    ({"must": [{"key": "a", "match": {"any": ["x", 1]}}]}, "must[0].match.any: values must"),
    ({"must": [{"key": "a", "match": {"except": []}}]}, "must[0].match.except: needs at least"),
    ({"must": [{"key": "a.b", "match": {"value": 1}}]}, "must[0].key: 'a.b' is not a payload"),
    ({"must": [{"key": "_id", "match": {"value": 1}}]}, "must[0].key: '_id'"),
    ({"must": [{"key": "a"}]}, "must[0]: give exactly one of match, range"),
    ({"must": [{"key": "a", "range": {"gte": 1, "lt": "2026-01-01"}}]}, "mixes numbers"),
    ({"must": [{"key": "a", "range": {"above": 1}}]}, "must[0].range: unknown bound 'above'"),
    ({"must": [{"key": "mtime", "range": {"gte": 5}}]}, "'mtime' holds datetimes"),
    ({"must": [{"key": "size_bytes", "range": {"gte": "2026-01-01"}}]}, "not datetimes"),
    ({"must": [{"key": "width", "match": {"text": "x"}}]}, "'width' holds float values"),
    ({"should": [{"must": [{"key": "a", "match": {"value": 1}}], "x": 1}]},
     "should[0]: unknown field 'x'"),
    ({"must": [{"key": "a", "match": {"value": 1}, "boost": 2}]}, "unknown field 'boost'"),
    ({"album": 1.5}, "filter album: value 1.5"),
    ({"must": [{"key": "a", "match": {"value": "x" * 1001}}]}, "the limit is 1000"),
])
def test_parser_names_the_condition(flt, where):
    with pytest.raises(FilterError, match=None) as err:
        parse_filter(flt)
    assert where in str(err.value)
    assert isinstance(err.value, ValueError)


def test_limits():
    leaf = {"key": "a", "match": {"value": 1}}
    deep: dict = {"must": [leaf]}
    for _ in range(F.MAX_DEPTH):
        deep = {"must": [deep]}
    with pytest.raises(FilterError, match="nested deeper than 8"):
        parse_filter(deep)
    with pytest.raises(FilterError, match="more than 100 conditions"):
        parse_filter({"should": [leaf] * 101})
    with pytest.raises(FilterError, match="1001 values"):
        parse_filter({"must": [{"key": "a", "match": {"any": list(range(1001))}}]})
    assert len(parse_filter({"should": [leaf] * 100}).should) == 100


def test_json_round_trip():
    flt = {"must": [{"key": "a", "match": {"any": ["x", "y"]}},
                    {"should": [{"key": "n", "range": {"gt": 1.0, "lte": 5.0}}]}],
           "must_not": [{"key": "t", "range": {"gte": "2026-12-06T08:00:00.000000Z"}},
                        {"key": "c", "match": {"except": [1, 2]}},
                        {"key": "c", "match": {"text": "hi there"}}]}
    assert to_json(parse_filter(flt)) == flt
    assert parse_filter(to_json(parse_filter(flt))) == parse_filter(flt)


def test_qdrant_models_mapping():
    models = pytest.importorskip("qdrant_client.models")
    got = to_qdrant_models(parse_filter({
        "must": [{"key": "a", "match": {"value": True}}, {"key": "b", "match": {"any": [1, 2]}},
                 {"must_not": [{"key": "c", "match": {"except": ["x"]}}]}],
        "should": [{"key": "d", "match": {"text": "hi"}}, {"key": "e", "range": {"lt": 2}},
                   {"key": "f", "range": {"gte": "2026-12-06T09:00:00+01:00"}}]}), models)
    assert isinstance(got, models.Filter) and got.must_not is None
    a, b, nested = got.must
    assert (a.key, a.match) == ("a", models.MatchValue(value=True))
    assert b.match == models.MatchAny(any=[1, 2])
    assert nested.must_not[0].match == models.MatchExcept(**{"except": ["x"]})
    d, e, f = got.should
    assert d.match == models.MatchText(text="hi") and e.range == models.Range(lt=2.0)
    assert f.range == models.DatetimeRange(gte=datetime(2026, 12, 6, 8, tzinfo=UTC))
    assert to_qdrant_models(parse_filter(None), models) is None


# -- Qdrant Edge against the exact backend -------------------------------------------------
TAGS = ["red", "green", "blue", "cat", "dog"]
WORDS = ["Hello", "world", "foo", "bar", "Baz", "qux"]
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def random_payload(rng: random.Random) -> dict:
    """One type per key, as ingest's metadata has them; sometimes missing, null or empty."""
    p: dict = {}
    if rng.random() < 0.9:
        p["tag"] = rng.choice(TAGS)
    if rng.random() < 0.8:
        p["tags"] = rng.sample(TAGS, rng.randint(0, 3))
    if rng.random() < 0.9:
        p["n"] = rng.randint(0, 20)
    if rng.random() < 0.8:
        p["x"] = rng.choice([round(rng.uniform(-5, 5), 2), rng.randint(-5, 5)])
    if rng.random() < 0.9:
        stamp = T0 + timedelta(minutes=rng.randint(0, 60 * 24 * 30))
        p["mtime"] = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    if rng.random() < 0.8:
        p["note"] = " ".join(rng.sample(WORDS, rng.randint(1, 4)))
    if rng.random() < 0.7:
        p["flag"] = rng.random() < 0.5
    if rng.random() < 0.05:
        p[rng.choice(["tag", "n", "note"])] = None
    return p


def random_leaf(rng: random.Random) -> dict:
    kind = rng.randrange(9)
    if kind == 0:
        return {"key": rng.choice(["tag", "tags"]), "match": {"value": rng.choice(TAGS)}}
    if kind == 1:
        return {"key": rng.choice(["tag", "tags"]), "match": {"any": rng.sample(TAGS, 2)}}
    if kind == 2:
        return {"key": rng.choice(["tag", "tags"]), "match": {"except": rng.sample(TAGS, 2)}}
    if kind == 3:
        return {"key": "n", "match": rng.choice([{"value": rng.randint(0, 20)},
                                                 {"any": [rng.randint(0, 20) for _ in "ab"]}])}
    if kind == 4:
        lo = rng.uniform(-6, 18)
        bounds = {rng.choice(["gt", "gte"]): round(lo, 1), rng.choice(["lt", "lte"]): lo + 6}
        return {"key": rng.choice(["n", "x"]), "range": bounds}
    if kind == 5:
        day = T0 + timedelta(days=rng.randint(0, 30), hours=rng.randint(0, 23))
        bound = rng.choice([day.strftime("%Y-%m-%dT%H:%M:%SZ"), day.strftime("%Y-%m-%d"),
                            (day + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S+02:00")])
        return {"key": "mtime", "range": {rng.choice(["gt", "gte", "lt", "lte"]): bound}}
    if kind == 6:
        return {"key": "note", "match": {"text": " ".join(
            w.upper() if rng.random() < 0.3 else w for w in rng.sample(WORDS, rng.randint(1, 2)))}}
    if kind == 7:
        return {"key": "flag", "match": {"value": rng.random() < 0.5}}
    return {"key": "tag", "match": {"value": rng.choice(TAGS)}}


def random_filter(rng: random.Random, depth: int = 0) -> dict:
    out: dict = {}
    for clause in ("must", "should", "must_not"):
        if rng.random() < 0.5:
            out[clause] = [random_filter(rng, depth + 1) if depth < 2 and rng.random() < 0.2
                           else random_leaf(rng) for _ in range(rng.randint(1, 3))]
    return out or {"must": [random_leaf(rng)]}


def test_edge_agrees_with_the_exact_oracle(tmp_path):
    pytest.importorskip("qdrant_edge")
    from xmodal.index import open_index

    rng = random.Random(13)
    n, dim = 600, 8
    vecs = np.random.default_rng(13).standard_normal((n, dim)).astype(np.float32)  # (n, d)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    ids = [f"d{i}" for i in range(n)]
    payloads = [random_payload(rng) for _ in range(n)]
    exact = open_index("exact:" + str(tmp_path / "exact"))
    edge = open_index(str(tmp_path / "edge"))
    cols = [ix.create_collection("c", dim=dim, model="m", modality="image") for ix in (exact, edge)]
    for col in cols:
        col.upsert(ids, vecs, payloads)
    query = vecs[:1]  # (1, d)
    seen_nonempty = 0
    for trial in range(150):
        flt = random_filter(rng)
        want, got = (set(c.search(query, k=n, filter=flt)[0].ids) for c in cols)
        oracle = {i for i, p in zip(ids, payloads, strict=True)
                  if matches(parse_filter(flt), p)}
        assert want == oracle
        assert got == want, (trial, flt, sorted(got ^ want)[:5])
        seen_nonempty += 0 < len(want) < n
    assert seen_nonempty > 60  # the filters select something, not everything
    indexes = cols[1].stats()["payload_indexes"]
    assert indexes == {"flag": "bool", "mtime": "datetime", "note": "text", "tag": "keyword",
                       "tags": "keyword", "x": "float", "n": "float"}
    exact.close()
    edge.close()
    with open_index(str(tmp_path / "edge")) as again:  # the indexes persist with the shard
        assert again.collection("c").stats()["payload_indexes"] == indexes


def test_edge_range_of_the_other_kind_on_an_indexed_key_matches_nothing(tmp_path):
    pytest.importorskip("qdrant_edge")
    from xmodal.index import open_index

    with open_index(str(tmp_path / "edge")) as ix:
        col = ix.create_collection("c", dim=2, model="m", modality="image")
        col.upsert(["a", "b"], np.eye(2, dtype=np.float32), [{"t": "2026-12-06"}, {"t": 5}])
        q = np.array([1.0, 0.0], np.float32)
        by_date = {"must": [{"key": "t", "range": {"gte": "2026-01-01"}}]}
        by_number = {"must": [{"key": "t", "range": {"gte": 0}}]}
        assert col.search(q, k=5, filter=by_date)[0].ids == ("a",)  # creates a datetime index
        assert col.search(q, k=5, filter=by_number)[0].ids == ()  # not "a" through the index


def test_the_server_backend_creates_a_payload_index_per_filtered_key(monkeypatch):
    """Issue 13 (3): payload indexes for filtered keys on the Qdrant server too, of the kind
    the Edge backend picks, once per key; results unchanged (local mode ignores them)."""
    import warnings

    from qdrant_client import models as m

    from xmodal.index.qdrant_server import QdrantServerIndex

    with QdrantServerIndex.connect(location=":memory:") as index:
        col = index.create_collection("c", dim=2, model="m", modality="image")
        col.upsert(["a", "b", "c"], np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]]),
                   payloads=[{"tag": "x", "n": 1.5, "ok": True}, {"tag": "y", "n": 3.0,
                             "ok": False}, {"tag": "x", "n": 7.0, "ok": True}])
        made = []
        real = index.client.create_payload_index

        def spy(name, key, field_schema=None, **kw):
            made.append((name, key, field_schema))
            return real(name, key, field_schema=field_schema, **kw)

        monkeypatch.setattr(index.client, "create_payload_index", spy)
        flt = {"must": [{"key": "tag", "match": {"value": "x"}},
                        {"key": "n", "range": {"gte": 1.0, "lt": 5.0}}],
               "must_not": [{"key": "ok", "match": {"value": False}}]}
        with warnings.catch_warnings():  # local mode says payload indexes have no effect
            warnings.simplefilter("ignore")
            first = col.search(np.array([[1.0, 0.0]]), k=3, filter=flt)[0]
            again = col.search(np.array([[0.0, 1.0]]), k=3, filter=flt)[0]
        assert first.ids == again.ids == ("a",)
        assert sorted((k, s) for _, k, s in made) == [
            ("n", m.PayloadSchemaType.FLOAT), ("ok", m.PayloadSchemaType.BOOL),
            ("tag", m.PayloadSchemaType.KEYWORD)]
        assert {name for name, _, _ in made} == {"c"}

"""End to end: ``xmodal index FOLDER`` with side-car captions and ``NAME.json`` metadata, then
``xmodal search QUERY --json --k N --filter JSON`` returns only matching hits, with their
``"metadata"``; a malformed filter exits 2 naming the condition (CLI) or answers 422 (HTTP)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.commands.test_commands import invoke


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    root.mkdir()
    for name, words, meta in (("heart", "heart red love", {"tags": ["love"], "year": 2024}),
                              ("cat", "cat kitten whiskers", {"tags": ["pet"], "year": 2025}),
                              ("star", "blue star", {"tags": ["sky", "love"], "year": 2026})):
        (root / f"{name}.png").write_bytes(words.encode())  # the toy encoder reads the bytes
        (root / f"{name}.txt").write_text(f"a {words}")
        (root / f"{name}.json").write_text(json.dumps(meta))
    return root


def test_index_then_filtered_search(encoders, folder, uri):
    result = invoke("index", str(folder), "--index", uri, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["skipped"] == []  # side-cars are neither docs nor skipped
    flt = {"must": [{"key": "tags", "match": {"value": "love"}}],
           "must_not": [{"key": "year", "range": {"gte": 2026}}]}
    result = invoke("search", "red heart", "--index", uri, "--json", "--k", "5",
                    "--filter", json.dumps(flt))
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)["hits"]
    assert [Path(h["path"]).name for h in hits] == ["heart.png"]
    meta = hits[0]["metadata"]
    assert (meta["tags"], meta["year"], meta["ext"], meta["folder"]) == (["love"], 2024, "png",
                                                                          ".")
    assert "path" not in meta and "caption" not in meta
    loved = invoke("search", "blue star", "--index", uri, "--json", "--k", "5", "--filter",
                   json.dumps({"must": [{"key": "tags", "match": {"any": ["love"]}}]}))
    assert {Path(h["path"]).name for h in json.loads(loved.stdout)["hits"]} == {"heart.png",
                                                                                "star.png"}


@pytest.mark.parametrize(("flt", "says"), [
    ('{"must": [{"key": "year", "range": {"gte": "soon"}}]}', "must[0].range.gte"),
    ('{"must": [', "is not JSON"),
    ('{"must": [{"key": "tags", "match": {"like": "x"}}]}', "unknown match 'like'"),
])
def test_malformed_filter_exits_2(encoders, folder, uri, flt, says):
    result = invoke("search", "cat", "--index", uri, "--filter", flt)
    assert result.exit_code == 2
    assert says in result.stderr and "Traceback" not in result.output


def test_http_answers_422_naming_the_condition(encoders, folder, uri):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from xmodal.api.http import create_app
    from xmodal.api.service import SearchService

    assert invoke("index", str(folder), "--index", uri).exit_code == 0
    with SearchService(uri, router_model=None) as service:
        client = TestClient(create_app(service), base_url="http://127.0.0.1")
        bad = client.post("/search", json={"query": "cat", "filter": {
            "should": [{"key": "year", "range": {"gte": 1, "lt": "2026-01-01"}}]}})
        assert bad.status_code == 422, bad.text
        assert "filter should[0].range: mixes numbers" in bad.json()["detail"]
        ok = client.post("/search", json={"query": "cat", "k": 5, "filter": {
            "must": [{"key": "tags", "match": {"text": "PET"}}]}})
        assert ok.status_code == 200, ok.text
        assert [h["metadata"]["tags"] for h in ok.json()["hits"]] == [["pet"]]

"""One field list: every field of :class:`SearchRequest` is accepted by every front end (the
HTTP body, the upload form, the MCP tool, ``xmodal search``) and reaches the request the searcher
receives. A new field fails here until each front end carries it.

Oracle: the ``SearchRequest`` the searcher is called with (a recording stand-in), compared field
by field with the values sent."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("mcp")
pytest.importorskip("fastapi")

import typer.main
from fastapi.testclient import TestClient
from mcp import Client
from typer.testing import CliRunner

import xmodal.commands.search
from tests.api.served import png
from xmodal.api import models
from xmodal.api.http import create_app
from xmodal.api.mcp import create_mcp_server
from xmodal.api.service import SearchService
from xmodal.cli import app as cli
from xmodal.index import open_index
from xmodal.search.hits import SearchResult
from xmodal.search.request import SearchRequest

FIELDS = {f.name for f in dataclasses.fields(SearchRequest)}
QUERIES = {"query", "image", "audio", "vector"}

OPTIONS: dict[str, Any] = {
    "collections": ["toy.image"], "k": 3, "modalities": ["image"], "mixed": True,
    "route": False, "fusion": "calibrated", "project": True, "filter": {"album": "a"},
    "rrf_k": 5.0, "weights": {"toy.image": 2.0}, "per_segment": True, "pivot": False,
}
"""A value other than the default for every field that is not a query or a vector's target
(nor text-only)."""
TEXT_ONLY: dict[str, Any] = {"rerank": "cross-encoder/ms-marco-MiniLM-L6-v2", "rerank_depth": 7}
"""Options of text queries alone (a cross-encoder reads the query's text): the upload form of
the query by example lacks them, and an image query with them is refused."""

VECTOR = {"vector": [0.0, 1.0], "collection": "toy.image"}  # unit: the service normalises


def front_end_fields() -> dict[str, set[str]]:
    """The field names of each front end, as its schema or signature declares them."""
    server = create_mcp_server(None)  # type: ignore[arg-type]  # only listed, never called
    tools = asyncio.run(server.list_tools())
    search = next(t for t in tools if t.name == "search")
    command = typer.main.get_command(cli).commands["search"]  # type: ignore[attr-defined]
    return {"http": set(models.SearchRequest.model_fields),
            "upload": set(models.SearchFileForm.model_fields),
            "mcp": set(search.input_schema["properties"]),
            "cli": {p.name for p in command.params}}


def test_every_front_end_declares_every_field():
    assert set(OPTIONS) | set(TEXT_ONLY) == FIELDS - QUERIES - {"collection"}
    defaults = {f.name: f.default for f in dataclasses.fields(SearchRequest)}
    assert all(v != defaults[name] for name, v in {**OPTIONS, **TEXT_ONLY}.items())
    got = front_end_fields()
    # image and audio travel as uploads: a multipart file, or base64 text over MCP
    assert got["http"] == FIELDS - {"image", "audio"} | {"model"}
    assert got["upload"] == FIELDS - QUERIES - {"collection"} - set(TEXT_ONLY) | {"file",
                                                                                "modality"}
    # MCP adds thumbnails: images of the top hits beside the answer (not a search field)
    assert got["mcp"] == FIELDS - {"image", "audio"} | {"image_base64", "audio_base64",
                                                         "model", "thumbnails"}
    # a raw vector is for programs (HTTP, MCP, Python); the CLI adds its index, output,
    # --offline (models from the Hugging Face cache only), --device, --batch-size, --runtime
    # and --routes (print the reachability matrix instead of searching)
    assert got["cli"] == FIELDS - {"vector", "collection"} | {
        "index", "as_json", "offline", "device", "batch_size", "runtime", "routes"}


@pytest.fixture
def service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
            ) -> Iterator[tuple[SearchService, list[SearchRequest]]]:
    """A served toy index whose searcher records the requests it gets (and finds nothing),
    offering the rerank spec sent (its loader a stand-in: only the request is looked at)."""
    uri = "exact:" + str(tmp_path / "idx")
    with open_index(uri) as index:
        col = index.create_collection("toy.image", dim=2, model="toy", modality="image")
        col.upsert(["a", "b"], np.eye(2), [{"modality": "image"}] * 2)
    monkeypatch.setattr("xmodal.search.rerank.load_cross_encoder", lambda spec: object())
    with SearchService(uri, router_model=None, rerankers=[TEXT_ONLY["rerank"]]) as s:
        seen: list[SearchRequest] = []

        def record(request: SearchRequest) -> SearchResult:
            seen.append(request)
            return SearchResult((), (), ())

        monkeypatch.setattr(s.searcher, "search", record)
        yield s, seen


def plain(value: Any) -> Any:
    """Tuples, read-only mappings and arrays as the JSON-like values a front end was sent."""
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list | np.ndarray):
        return [plain(v) for v in value]
    return value


def assert_reached(request: SearchRequest, sent: dict[str, Any]) -> None:
    for name, value in sent.items():
        assert plain(getattr(request, name)) == plain(value), name


def test_http_body_and_upload_reach_the_request(service):
    s, seen = service
    client = TestClient(create_app(s), base_url="http://127.0.0.1")
    for body in ({"query": "cat", **OPTIONS, **TEXT_ONLY}, {**VECTOR, "model": "toy", "k": 2}):
        r = client.post("/search", json=body)
        assert r.status_code == 200, r.text
        assert_reached(seen[-1], {k: v for k, v in body.items() if k != "model"})
    r = client.post("/search", json={**VECTOR, "model": "other"})
    assert r.status_code == 409 and "other" in r.json()["detail"]  # model reached the check
    form = {k: json.dumps(v) if isinstance(v, dict) else v if isinstance(v, list)
            else str(v).lower() for k, v in OPTIONS.items()}
    image = png("cat")
    r = client.post("/search/file", files={"file": ("q.png", image, "image/png")}, data=form)
    assert r.status_code == 200, r.text
    assert_reached(seen[-1], {"image": image, **OPTIONS})


def test_mcp_tool_reaches_the_request(service):
    s, seen = service
    image = png("cat")
    calls = [{"query": "cat", **OPTIONS, **TEXT_ONLY}, {**VECTOR, "model": "toy"},
             {"image_base64": base64.b64encode(image).decode(), **OPTIONS},
             {**VECTOR, "model": "other"}]

    async def ask() -> list[Any]:
        async with Client(create_mcp_server(s), mode="legacy") as client:
            return [await client.call_tool("search", args) for args in calls]

    got = asyncio.run(ask())
    assert [r.is_error for r in got] == [False, False, False, True]
    assert "other" in " ".join(getattr(c, "text", "") for c in got[3].content)
    assert_reached(seen[0], calls[0])
    assert_reached(seen[1], VECTOR)
    assert_reached(seen[2], {"image": image, **OPTIONS})


def test_cli_options_reach_the_request(monkeypatch):
    seen: list[SearchRequest] = []

    def run_search(request: SearchRequest, *, index_uri: str, as_json: bool, **how) -> int:
        seen.append(request)
        return 0

    monkeypatch.setattr(xmodal.commands.search, "run_search", run_search)
    command = typer.main.get_command(cli).commands["search"]  # type: ignore[attr-defined]
    params = {p.name: p for p in command.params}
    args = ["cat"]
    for name, value in {**OPTIONS, **TEXT_ONLY}.items():  # spelled as its flag takes it
        p = params[name]
        if p.is_flag:
            args.append(p.opts[0] if value else p.secondary_opts[0])
        elif isinstance(value, dict):
            for key, v in value.items():
                args += [p.opts[0], f"{key}={json.dumps(v)}"]
        else:
            for v in value if isinstance(value, list) else [value]:
                args += [p.opts[0], str(v)]
    result = CliRunner().invoke(cli, ["search", *args])
    assert result.exit_code == 0, result.output
    assert_reached(seen[0], {"query": "cat", **OPTIONS, **TEXT_ONLY})
    assert params["rerank_depth"].default == SearchRequest("cat").rerank_depth


def test_one_answer_schema_over_http_and_mcp(service):
    """A hit has one JSON schema: the OpenAPI response of both search routes and the MCP
    tool's output schema are generated from the same TypedDict."""
    s, _ = service
    spec = TestClient(create_app(s), base_url="http://127.0.0.1").get("/openapi.json").json()
    ops = {path: spec["paths"][path]["post"] for path in ("/search", "/search/file")}

    def ref(schema: dict[str, Any]) -> str:
        return schema["$ref"].rsplit("/", 1)[1]

    assert ref(ops["/search"]["requestBody"]["content"]["application/json"]["schema"]) == \
        "SearchRequest"
    assert ref(ops["/search/file"]["requestBody"]["content"]["multipart/form-data"]
               ["schema"]) == "SearchFileForm"
    for op in ops.values():
        assert ref(op["responses"]["200"]["content"]["application/json"]["schema"]) == \
            "SearchJSON"
    tools = asyncio.run(create_mcp_server(s).list_tools())
    output = next(t for t in tools if t.name == "search").output_schema
    assert output is not None
    def local(schema: dict[str, Any]) -> dict[str, Any]:  # OpenAPI's $ref root, as MCP's
        return json.loads(json.dumps(schema).replace("#/components/schemas/", "#/$defs/"))

    served, told = spec["components"]["schemas"]["HitJSON"], output["$defs"]["HitJSON"]
    assert local(served["properties"]) == told["properties"]
    assert local(spec["components"]["schemas"]["SegmentJSON"]) == output["$defs"]["SegmentJSON"]
    assert set(served["required"]) == set(told["required"]) == set(served["properties"])
    assert served["properties"]["calibrated"]["anyOf"][0]["additionalProperties"] == {
        "type": "number"}  # probabilities are numbers, never null

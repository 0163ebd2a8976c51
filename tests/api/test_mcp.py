"""The MCP server through the SDK's own client: in memory (initialize, tools, errors), over a
real stdio subprocess (``python -m xmodal mcp``), and over streamable HTTP on a loopback port.

Oracles: ``SearchService.search`` called directly on the same index, and numpy cosines over
the stored vectors for a vector query."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("mcp")

from mcp import Client
from mcp.client.stdio import StdioServerParameters

from tests.api.served import png, stored
from tests.api.toy import DIM, embed
from xmodal.api.limits import ServeLimits
from xmodal.api.mcp import DEFAULT_PORT, create_mcp_server, mcp_http_app
from xmodal.api.service import SearchService
from xmodal.index.ingest import load_manifest, manifest_path

IMAGES = "toy-image.image"




def text_of(result: Any) -> str:
    return " ".join(getattr(c, "text", "") for c in result.content)


async def in_memory(service: SearchService, calls: list[tuple[str, dict[str, Any]]]
                    ) -> tuple[Any, list[Any]]:
    """(list_tools result, one call_tool result per call) over one legacy session (with the
    initialize handshake)."""
    async with Client(create_mcp_server(service), mode="legacy") as client:
        assert client.server_info is not None and client.server_info.name == "xmodal"
        tools = await client.list_tools()
        return tools, [await client.call_tool(name, args) for name, args in calls]


def test_tools_answer_like_the_service(service, built):
    ids, vectors = stored(service, IMAGES)
    q = embed("red heart love cat")
    calls = [
        ("search", {"query": "a photo of a red heart", "k": 4}),
        ("search", {"query": "drum", "k": 3, "modalities": ["audio"]}),
        ("search", {"query": "python copy file", "k": 5, "mixed": True}),
        ("search", {"vector": (3.0 * q).tolist(), "collection": IMAGES, "k": 2}),
        ("search", {"image_base64": base64.b64encode(png("cat kitten whiskers")).decode(),
                    "k": 3}),
        ("search", {"query": "cat", "k": 3, "collections": ["toy-text.text"]}),
        ("describe_collections", {}),
    ]
    tools, got = asyncio.run(in_memory(service, calls))
    schemas = {t.name: t for t in tools.tools}
    assert set(schemas) == {"search", "describe_collections", "fetch_item"}
    props = schemas["search"].input_schema["properties"]
    assert {"query", "k", "modalities", "collections", "mixed", "image_base64",
            "audio_base64", "vector", "collection"} <= set(props)
    assert "image_path" not in props and "path" not in props  # never a server-side path
    assert set(schemas["fetch_item"].input_schema["required"]) == {"collection", "id"}
    assert all(t.output_schema for t in tools.tools)  # structured output
    assert all(t.description for t in tools.tools)
    assert not any(r.is_error for r in got), [text_of(r) for r in got if r.is_error]
    assert got[0].structured_content == service.search(query="a photo of a red heart", k=4)
    assert got[1].structured_content == service.search(query="drum", k=3,
                                                       modalities=["audio"])
    assert got[2].structured_content == service.search(query="python copy file", k=5,
                                                       mixed=True)
    # the vector search against a brute-force oracle, not only the service
    scores = vectors @ q
    order = sorted(range(len(ids)), key=lambda i: (-scores[i], ids[i]))[:2]
    hits = got[3].structured_content["hits"]
    assert [h["id"] for h in hits] == [ids[i] for i in order]
    assert np.allclose([h["score"] for h in hits], scores[order], atol=1e-5)
    assert Path(got[4].structured_content["hits"][0]["path"]).name == "cat.png"
    assert {h["collection"] for h in got[5].structured_content["hits"]} == {"toy-text.text"}
    described = got[6].structured_content
    by_name = {c["name"]: c for c in described["collections"]}
    assert set(by_name) == {c["name"] for c in service.collections()}
    image = by_name[IMAGES]
    assert (image["model"], image["family"], image["dim"], image["count"]) == (
        "toy-image", "lit", DIM, 3)
    assert image["quantization"] == "none"  # the setting stored with the collection
    assert set(image["calibration"]) == {"text", "image"}  # what the model embeds
    assert image["calibration"]["text"]["cross_modal"] is True
    # the routes: documents in the text model only (this index was built without spaces)
    routes = {(r["query"], r["documents"]): r for r in described["routes"]}
    assert len(routes) == 9 and routes["text", "text"]["lists"] == ["toy-text.text[text]"]
    image_text = routes["image", "text"]  # toy-image embeds both: back-filling is the route
    assert (image_text["route"], image_text["pivots"]) == ("none", [])
    assert "back-fill" in image_text["reason"]
    assert (routes["audio", "text"]["route"], routes["audio", "text"]["add"]) == ("none", [])
    assert routes["image", "image"]["lists"] == [IMAGES, "toy-image.text[image]"]
    assert image["calibration"]["text"]["threshold"] == pytest.approx(0.3)  # lit default
    assert described["limits"]["max_k"] == 20


def test_fetch_item_returns_the_record_and_text(service):
    ids, vectors = stored(service, "toy-text.text")
    manifest = load_manifest(manifest_path(service.index_uri))
    doc = next(e["doc"] for p, e in manifest.items() if p.endswith("copy.md"))
    calls = [("fetch_item", {"collection": "toy-text.text", "id": doc, "with_vector": True}),
             ("fetch_item", {"collection": IMAGES, "id": stored(service, IMAGES)[0][0]}),
             ("fetch_item", {"collection": IMAGES, "id": "no-such-id"}),
             ("fetch_item", {"collection": "nope", "id": doc})]
    _, got = asyncio.run(in_memory(service, calls))
    item = got[0].structured_content
    assert item["payload"]["modality"] == "text" and item["payload"]["path"].endswith("copy.md")
    assert item["text"] == "how to copy a file in python" and not item["text_truncated"]
    assert np.allclose(item["vector"], vectors[ids.index(doc)], atol=1e-6)
    assert got[1].structured_content["vector"] is None  # not asked for
    assert got[2].is_error and "no-such-id" in text_of(got[2])
    assert got[3].is_error and "nope" in text_of(got[3])


@pytest.mark.parametrize(("args", "words"), [
    ({"query": "  "}, "empty"),
    ({"query": "cat", "k": 0}, "k must be in [1, 20]"),
    ({"query": "cat", "k": 21}, "k must be in [1, 20]"),
    ({}, "exactly one"),
    ({"query": "cat", "vector": [1.0] * DIM, "collection": IMAGES}, "exactly one"),
    # JSON has no NaN: the SDK sends null, refused by the schema naming the element
    ({"vector": [float("nan")] + [0.0] * (DIM - 1), "collection": IMAGES}, "vector.0"),
    ({"vector": [0.0] * DIM, "collection": IMAGES}, "all zeros"),
    ({"vector": [1.0] * 3, "collection": IMAGES}, "dimension 3"),
    ({"vector": [1.0] * DIM}, "needs the collection"),
    ({"vector": [1.0] * DIM, "collection": "nope"}, "nope"),
    ({"query": "cat", "collections": ["nope"]}, "nope"),
    ({"image_base64": "not base64!"}, "not valid base64"),
    ({"image_base64": base64.b64encode(b"not an image").decode()}, "not a decodable image"),
    ({"query": "cat", "modalities": ["smell"]}, "modalities"),
    ({"vector": [1.0] * DIM, "collection": IMAGES, "collections": [IMAGES]},
     "not collections"),
])
def test_bad_input_is_a_tool_error(service, args, words):
    _, got = asyncio.run(in_memory(service, [("search", args),
                                             ("search", {"query": "cat", "k": 1})]))
    assert got[0].is_error, got[0]
    assert words in text_of(got[0])
    assert not got[1].is_error  # the session survives


def test_nan_and_inf_reach_the_service_check(service):
    """JSON cannot carry NaN, but a Python caller of the server can: the service refuses it."""
    from mcp.server.mcpserver.exceptions import ToolError

    server = create_mcp_server(service)
    for bad, words in ((float("nan"), "NaN"), (float("inf"), "infinite")):
        vector = [bad] + [0.0] * (DIM - 1)
        with pytest.raises(ToolError, match=words):
            asyncio.run(server.call_tool("search", {"vector": vector, "collection": IMAGES}))


def test_timeout_and_overload_are_tool_errors(tmp_path):
    """A call that outlives ``request_timeout_s`` answers a timeout error; while its work still
    holds the only slot, the next call is refused as overloaded, not queued."""
    from tests.api.served import slow_index

    uri, enc = slow_index(tmp_path)
    limits = ServeLimits(request_timeout_s=0.3, max_concurrency=1)
    with SearchService(uri, load=lambda name: enc, router_model=None, limits=limits) as s:
        async def talk() -> list[Any]:
            async with Client(create_mcp_server(s), mode="legacy") as client:
                first = await client.call_tool("search", {"query": "cat", "k": 1})
                second = await client.call_tool("search", {"query": "dog", "k": 1})
                enc.go.set()
                while True:  # the abandoned call finishes and frees its slot
                    third = await client.call_tool("search", {"query": "dog", "k": 1})
                    if not third.is_error:
                        return [first, second, third]
                    await asyncio.sleep(0.05)

        first, second, third = asyncio.run(asyncio.wait_for(talk(), 30))
    assert first.is_error and "timeout" in text_of(first)
    assert second.is_error and "overloaded" in text_of(second)
    assert third.structured_content["hits"][0]["id"] == "b"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_stdio_subprocess(built):
    """``python -m xmodal mcp`` for real: the toy models do not load in the subprocess, so it
    answers vector searches, and a text query reports the models it could not load."""
    uri, _, _ = built
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "xmodal", "mcp", "--index", uri, "--router-model", ""],
        env=dict(os.environ))  # the code under test (PYTHONPATH), not whatever is installed
    q = embed("drum beat")

    async def talk() -> list[Any]:
        async with Client(params, mode="legacy", read_timeout_seconds=60) as client:
            tools = await client.list_tools()
            assert len(tools.tools) == 3
            return [await client.call_tool("search", {"vector": q.tolist(), "k": 2,
                                                      "collection": "toy-audio.audio"}),
                    await client.call_tool("search", {"query": "drum"}),
                    await client.call_tool("describe_collections", {})]

    got = asyncio.run(talk())
    with SearchService(uri, router_model=None) as direct:
        assert got[0].structured_content == direct.search(
            vector=q.tolist(), collection="toy-audio.audio", k=2)
        assert got[2].structured_content["documents"] == direct.health()["documents"]
    assert Path(got[0].structured_content["hits"][0]["path"]).name == "drum.wav"
    # the toy models cannot load here: the lists that need them say so, the session goes on
    errors = got[1].structured_content["errors"]
    assert not got[1].is_error
    assert any("unknown encoder spec 'toy-audio'" in e for e in errors), errors
    # the lexical list needs no model: it alone answers, by the file name
    hits = got[1].structured_content["hits"]
    assert [Path(h["path"]).name for h in hits] == ["drum.wav"]
    assert all(set(h["raw_scores"]) == {"bm25"} for h in hits)


@contextlib.contextmanager
def serving(app: Any) -> Iterator[str]:
    """Run ``app`` with uvicorn on a free loopback port in a thread; yields its /mcp URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def initialize(url: str, **headers: str) -> int:
    """The status of a raw JSON-RPC ``initialize`` POST with extra ``headers``."""
    import httpx

    body = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "t", "version": "0"}}}
    return httpx.post(url, json=body, timeout=10, headers={
        "Accept": "application/json, text/event-stream", **headers}).status_code


def test_streamable_http_with_host_check(service):
    with serving(mcp_http_app(create_mcp_server(service), allowed_hosts=["mcp.test:*"])) as url:
        async def talk() -> Any:
            async with Client(url, mode="legacy") as client:
                return await client.call_tool("search", {"query": "red heart", "k": 3})

        got = asyncio.run(talk())
        assert not got.is_error, text_of(got)
        assert got.structured_content == service.search(query="red heart", k=3)
        # DNS rebinding: another Host or a foreign Origin is refused before any tool runs
        assert initialize(url, Host="evil.example") == 421
        assert initialize(url, Origin="http://evil.example") == 403
        assert initialize(url, Host="mcp.test:8080") == 200  # --allowed-host


def test_missing_sdk_names_the_extra(monkeypatch):
    import xmodal.api.mcp as module

    monkeypatch.setitem(sys.modules, "mcp.server", None)
    monkeypatch.setitem(sys.modules, "mcp.server.mcpserver", None)
    with pytest.raises(ImportError, match=r"xmodal\[serve\]"):
        module._require_mcp()


def test_http_token_is_required_on_every_request(service):
    with serving(mcp_http_app(create_mcp_server(service), token="s3cret")) as url:
        assert initialize(url) == 401
        assert initialize(url, Authorization="Bearer wrong") == 401
        assert initialize(url, Authorization="Bearer s3cret") == 200
        assert initialize(url, **{"X-XModal-Token": "s3cret"}) == 200


def test_non_loopback_http_without_a_token_is_refused(service, capsys):
    from xmodal.api.mcp import run_mcp

    assert run_mcp(service.index_uri, transport="http", host="0.0.0.0") == 2
    assert "give a token" in capsys.readouterr().err


def test_loopback_http_needs_no_token(service, monkeypatch, capsys):
    """``xmodal mcp --transport http --host 127.0.0.2`` is loopback, as for ``xmodal serve``:
    it serves without a token and answers that Host; a concurrency below 1 is refused."""
    import uvicorn

    from xmodal.api.mcp import run_mcp

    seen: list[tuple[str, int]] = []

    def run(app: Any, *, host: str, **kw: Any) -> None:
        with serving(app) as url:
            seen.append((host, initialize(url, Host=f"{host}:{DEFAULT_PORT}")))

    monkeypatch.setattr(uvicorn, "run", run)
    monkeypatch.delenv("XMODAL_TOKEN", raising=False)
    assert run_mcp(service.index_uri, transport="http", host="127.0.0.2",
                   router_model=None) == 0
    assert seen == [("127.0.0.2", 200)]
    assert run_mcp(service.index_uri, transport="http", max_concurrency=0) == 2
    assert "--max-concurrency must be at least 1" in capsys.readouterr().err
    with pytest.raises(ValueError, match="unknown transport"):
        run_mcp(service.index_uri, transport="sse")  # type: ignore[arg-type]

"""``xmodal serve`` answers MCP at ``/mcp`` (raw JSON-RPC through the app's own TestClient),
behind the app's guards; ``xmodal mcp`` on an index another process holds says so.

Oracles: ``POST /search`` of the same app for the same query, the Guard's answers on
``/search``, and a real Qdrant Edge index held open by this process."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

pytest.importorskip("mcp")

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.api.served import BASE, loader
from xmodal.api.http import create_app
from xmodal.api.service import SearchService

ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
PROTOCOL = "2025-06-18"


def rpc(method: str, params: dict[str, Any] | None = None, id: int | None = 1
        ) -> dict[str, Any]:
    """A JSON-RPC message (a notification when ``id`` is None)."""
    body: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params or {}}
    return body if id is None else {**body, "id": id}


def answer(response: Any) -> dict[str, Any]:
    """The JSON-RPC answer of a POST: a JSON body, or the last ``data:`` of an event stream."""
    if response.headers["content-type"].startswith("application/json"):
        return response.json()
    data = [line[5:].strip() for line in response.text.splitlines() if line.startswith("data:")]
    return json.loads([d for d in data if d][-1])


def initialize(client: TestClient, **headers: str) -> Any:
    """The raw response to an ``initialize`` POST at /mcp."""
    return client.post("/mcp", headers={**ACCEPT, **headers}, json=rpc("initialize", {
        "protocolVersion": PROTOCOL, "capabilities": {},
        "clientInfo": {"name": "test", "version": "0"}}))


class Session:
    """An initialized MCP session over ``client``: its id rides on every later request."""

    def __init__(self, client: TestClient, **headers: str) -> None:
        first = initialize(client, **headers)
        assert first.status_code == 200, first.text
        self.info = answer(first)["result"]
        self.client, self.ids = client, 1
        self.headers = {**ACCEPT, **headers, "Mcp-Protocol-Version": PROTOCOL,
                        "Mcp-Session-Id": first.headers["mcp-session-id"]}
        done = client.post("/mcp", headers=self.headers, json=rpc(
            "notifications/initialized", id=None))
        assert done.status_code == 202, done.text

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        self.ids += 1
        r = self.client.post("/mcp", headers=self.headers, json=rpc(method, params, self.ids))
        assert r.status_code == 200, r.text
        got = answer(r)
        assert got["id"] == self.ids and "error" not in got, got
        return got["result"]


def test_serve_answers_mcp_like_post_search(service):
    with TestClient(create_app(service), base_url=BASE) as client:
        session = Session(client)
        assert session.info["serverInfo"]["name"] == "xmodal"
        tools = {t["name"] for t in session.call("tools/list")["tools"]}
        assert tools == {"search", "describe_collections", "fetch_item"}  # no --root: no writes
        for query in ({"query": "a photo of a red heart", "k": 4},
                      {"query": "drum", "k": 2, "modalities": ["audio"]}):
            got = session.call("tools/call", {"name": "search", "arguments": query})
            assert not got.get("isError"), got
            posted = client.post("/search", json=query)
            assert posted.status_code == 200
            assert got["structuredContent"]["hits"] == posted.json()["hits"]
            assert got["structuredContent"]["hits"]
        described = session.call("tools/call", {"name": "describe_collections", "arguments": {}})
        assert described["structuredContent"]["documents"] == service.health()["documents"]


def test_the_token_guards_mcp(service):
    with TestClient(create_app(service, token="s3cret"), base_url=BASE) as client:
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            r = initialize(client, **headers)
            assert r.status_code == 401, r.text
            assert r.json()["error"] == "unauthorized"
        assert client.post("/search", json={"query": "cat"}).status_code == 401  # as /search
        session = Session(client, Authorization="Bearer s3cret")
        assert session.call("tools/list")["tools"]
        assert initialize(client, **{"X-XModal-Token": "s3cret"}).status_code == 200


def test_host_and_origin_are_checked_as_on_search(service):
    with TestClient(create_app(service, allowed_hosts=["127.0.0.1", "mcp.test"]),
                    base_url=BASE) as client:
        for host in ("evil.example", "evil.example:8000"):
            r, s = initialize(client, Host=host), client.post(
                "/search", json={"query": "cat"}, headers={"Host": host})
            assert (r.status_code, r.json()["error"]) == (400, "invalid_host")
            assert (s.status_code, s.json()) == (400, r.json())
        assert initialize(client, Host="mcp.test:8000").status_code == 200  # allowed host
        r = initialize(client, Origin="http://evil.example")
        assert (r.status_code, r.json()["error"]) == (403, "cross_origin")
        assert client.get("/mcp", headers={"Origin": "http://evil.example",
                                           "Accept": "text/event-stream"}).status_code == 403
        assert initialize(client, Origin=BASE).status_code == 200  # the app's own page


def test_index_paths_follows_serve_write_permission(built, tmp_path):
    uri, encoders, _ = built

    def tools(**options: Any) -> set[str]:
        with SearchService(uri, load=loader(encoders), router_model=None, **options) as s, \
                TestClient(create_app(s), base_url=BASE) as client:
            return {t["name"] for t in Session(client).call("tools/list")["tools"]}

    assert "index_paths" in tools(index_root=tmp_path)
    assert "index_paths" not in tools(index_root=tmp_path, read_only=True)
    assert "index_paths" not in tools()


def test_serve_goes_on_without_the_sdk(service, monkeypatch):
    """Without the ``mcp`` package the HTTP API is served as before, with no /mcp route."""
    import sys

    monkeypatch.setitem(sys.modules, "mcp.server", None)
    monkeypatch.setitem(sys.modules, "mcp.server.mcpserver", None)
    app = create_app(service)
    with TestClient(app, base_url=BASE) as client:
        assert app.state.mcp is False
        assert initialize(client).status_code in (404, 405)
        assert client.post("/search", json={"query": "cat"}).status_code == 200


def test_mcp_cli_on_a_held_index_names_serve_endpoint(tmp_path, monkeypatch):
    """A Qdrant Edge index held open by this process (a folder's lock is per open, so it
    stands for another process): ``xmodal mcp`` cannot open it, says that ``xmodal serve``
    answers MCP at /mcp, and exits 2 without a traceback; ``xmodal serve`` says the same."""
    pytest.importorskip("qdrant_edge")
    from xmodal.cli import app as cli
    from xmodal.index import open_index

    monkeypatch.delenv("XMODAL_TOKEN", raising=False)
    folder = str(tmp_path / "edge")
    with open_index(folder) as held:
        col = held.create_collection("t.text", dim=2, model="t", modality="text")
        col.upsert(["a"], np.array([[1.0, 0.0]]), [{"modality": "text"}])
        out = CliRunner().invoke(cli, ["mcp", "--index", folder, "--router-model", ""])
        served = CliRunner().invoke(cli, ["serve", "--index", folder, "--router-model", ""])
    assert out.exit_code == 2, out.output
    assert out.exception is None or isinstance(out.exception, SystemExit)
    assert "open in another process" in out.output
    assert "/mcp" in out.output and "xmodal serve" in out.output
    assert "Traceback" not in out.output
    # and serve, on an index `xmodal mcp` holds: stop it, serve answers MCP itself
    assert served.exit_code == 2 and "answers MCP itself, at /mcp" in served.output


def test_the_sdk_client_talks_to_serve(service):
    """The SDK's own client (which also opens the session's GET event stream) against the app
    under uvicorn, with a token: the same hits as ``POST /search``."""
    import asyncio

    import httpx
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    from tests.api.test_mcp import serving

    auth = {"Authorization": "Bearer s3cret"}
    with serving(create_app(service, token="s3cret")) as url:
        async def talk() -> Any:
            async with httpx2.AsyncClient(headers=auth, timeout=30) as http, \
                    Client(streamable_http_client(url, http_client=http),
                           mode="legacy") as client:
                return await client.call_tool("search", {"query": "red heart", "k": 3})

        got = asyncio.run(talk())
        posted = httpx.post(url.removesuffix("/mcp") + "/search", headers=auth,
                            json={"query": "red heart", "k": 3}, timeout=30)
    assert not got.is_error and got.structured_content["hits"]
    assert got.structured_content["hits"] == posted.json()["hits"]

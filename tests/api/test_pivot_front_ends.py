"""Pivots through every front end: an image upload asking for sounds (and a sound asking for
images) reaches them through the captions on ``POST /search/file``, the MCP ``search`` tool and
``xmodal search``, and ``pivot=false`` turns it off on each.

Oracle: the toy index (``tests/api/served.py``: captioned images, uncaptioned sounds; the toy
image and audio models share nothing but text) and the Searcher called directly on it; the
pivot's own arithmetic is checked in ``tests/search/test_pivot.py``."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("mcp")
pytest.importorskip("fastapi")

from fastapi.testclient import TestClient
from mcp import Client
from typer.testing import CliRunner

import xmodal.encoders
from tests.api.served import BASE, loader, png
from xmodal.api.http import create_app
from xmodal.api.mcp import create_mcp_server
from xmodal.api.service import SearchService
from xmodal.cli import app as cli
from xmodal.search.searcher import Searcher

PIVOT = "pivot:toy-image→toy-audio.audio"
QUERY = png("violin string note")


@pytest.fixture(scope="module")
def client(service: SearchService) -> Iterator[TestClient]:
    with TestClient(create_app(service), base_url=BASE) as c:
        yield c


def test_an_image_upload_finds_sounds_through_the_captions(client, service, built):
    r = client.post("/search/file", files={"file": ("q.png", QUERY, "image/png")},
                    data={"modalities": ["audio"], "k": "2"})
    assert r.status_code == 200, r.text
    got = r.json()
    oracle = Searcher(service.index, load=loader(built[1]), router_model=None)
    assert got == oracle.search(image=QUERY, modalities=["audio"], k=2).to_json()
    assert {Path(h["path"]).name for h in got["hits"]} == {"violin.wav", "drum.wav"}
    assert all(list(h["raw_scores"]) == [PIVOT] and h["fused"] and h["calibrated"] is None
               and h["collection"] == "toy-audio.audio" and h["modality"] == "audio"
               for h in got["hits"])
    assert any(t.startswith("pivot image → audio") for t in got["trace"])
    off = client.post("/search/file", files={"file": ("q.png", QUERY, "image/png")},
                      data={"modalities": ["audio"], "pivot": "false"})
    assert off.status_code == 200 and off.json()["hits"] == []


def test_the_mcp_tool_pivots_and_can_be_told_not_to(service):
    image = base64.b64encode(QUERY).decode()

    async def calls() -> list:
        async with Client(create_mcp_server(service), mode="legacy") as c:
            return [await c.call_tool("search", {"image_base64": image, "modalities": ["audio"],
                                                 **extra})
                    for extra in ({}, {"pivot": False})]

    on, off = asyncio.run(calls())
    assert on.structured_content == service.search(image=QUERY, modalities=["audio"])
    assert all(list(h["raw_scores"]) == [PIVOT] for h in on.structured_content["hits"])
    assert on.structured_content["hits"]
    assert off.structured_content["hits"] == []


def test_the_cli_pivots_and_can_be_told_not_to(built, tmp_path, monkeypatch):
    uri, encoders, _ = built
    monkeypatch.setattr(xmodal.encoders, "load_encoder", loader(encoders))
    query = tmp_path / "q.png"
    query.write_bytes(QUERY)
    args = ["search", "--image", str(query), "--index", uri, "--modality", "audio", "--json"]
    out = CliRunner().invoke(cli, args)
    assert out.exit_code == 0, out.output
    hits = json.loads(out.output)["hits"]
    assert len(hits) == 2 and all(list(h["raw_scores"]) == [PIVOT] for h in hits)
    out = CliRunner().invoke(cli, [*args, "--no-pivot"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["hits"] == []

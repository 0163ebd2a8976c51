"""Every front end carries the times of long recordings: ``xmodal index`` / ``xmodal search
--audio`` (JSON numbers, and ``mm:ss–mm:ss`` in the table), ``POST /search/file`` and
``POST /search``, and the MCP ``search`` tool. The index is a Qdrant Edge folder built by the
CLI with the tone encoder of ``tests/index/recordings.py``.

Oracle: the recording's known parts (an excerpt's times fall inside its part, widened by one
window) and the searcher's own JSON for the same request."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

import xmodal.encoders
from tests.api.served import BASE
from tests.index.recordings import WINDOW_S, ToneEncoder, write_excerpt, write_recording
from xmodal.cli import app
from xmodal.commands import index as index_command

PARTS = [(3, 65.0), (9, 45.0), (15, 22.0)]  # 132 s


@pytest.fixture
def indexed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """(index folder, excerpt of part 2, its part's span): ``xmodal index FOLDER --index DIR``
    on a folder holding a long WAV and a short one."""
    tone = ToneEncoder()
    monkeypatch.setattr(index_command, "_encoders", lambda models, wanted, **how: {"audio": tone})
    monkeypatch.setattr(xmodal.encoders, "load_encoder", lambda name, **how: tone)
    spans = write_recording(tmp_path / "c" / "walk.wav", PARTS)
    write_recording(tmp_path / "c" / "beep.wav", [(20, 3.0)])
    folder = tmp_path / "idx"
    result = CliRunner().invoke(app, ["index", str(tmp_path / "c"), "--index", str(folder),
                                      "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["indexed"] == 2
    query = write_excerpt(tmp_path / "q.wav", tmp_path / "c" / "walk.wav", 80.0)
    return folder, query, spans[1]


def inside(hit: dict, span: tuple[float, float]) -> bool:
    return (isinstance(hit["t_start"], float) and isinstance(hit["t_end"], float)
            and span[0] - WINDOW_S <= hit["t_start"] < hit["t_end"] <= span[1] + WINDOW_S)


def test_cli_search_by_example_prints_the_times(indexed):
    folder, query, span = indexed
    result = CliRunner().invoke(app, ["search", "--audio", str(query), "--index", str(folder),
                                      "--json", "--k", "2"])
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)["hits"]
    assert Path(hits[0]["path"]).name == "walk.wav" and inside(hits[0], span)
    assert hits[0]["segments"] and {"t_start", "t_end", "list", "score"} == set(
        hits[0]["segments"][0])
    assert (hits[1]["t_start"], hits[1]["t_end"], hits[1]["segments"]) == (None, None, [])
    table = CliRunner().invoke(app, ["search", "--audio", str(query), "--index", str(folder)])
    first = next(line for line in table.stdout.splitlines() if line.strip().startswith("1."))
    start, end = re.search(r"walk\.wav (\d\d):(\d\d)–(\d\d):(\d\d)", first).group(1, 3)
    assert int(start) == int(hits[0]["t_start"]) // 60 and int(end) >= int(start)
    per = CliRunner().invoke(app, ["search", "--audio", str(query), "--index", str(folder),
                                   "--json", "--per-segment", "--k", "3"])
    rows = json.loads(per.stdout)["hits"]
    assert len({h["id"] for h in rows}) == 3 and all(inside(h, span) for h in rows[:2])


def test_http_and_mcp_hits_carry_the_times(indexed):
    pytest.importorskip("fastapi")
    mcp = pytest.importorskip("mcp")
    from fastapi.testclient import TestClient

    from xmodal.api.http import create_app
    from xmodal.api.mcp import create_mcp_server
    from xmodal.api.service import SearchService

    folder, query, span = indexed
    data = query.read_bytes()
    with SearchService(str(folder), load=lambda name: ToneEncoder(),
                       router_model=None) as service:
        oracle = service.search(audio=data, k=2)
        client = TestClient(create_app(service), base_url=BASE)
        r = client.post("/search/file", files={"file": ("q.wav", data, "audio/wav")},
                        data={"k": "2"})
        assert r.status_code == 200, r.text
        assert r.json() == oracle and inside(r.json()["hits"][0], span)
        per = client.post("/search/file", files={"file": ("q.wav", data, "audio/wav")},
                          data={"k": "2", "per_segment": "true"}).json()["hits"]
        assert per[0]["id"] != per[0]["document_id"] == oracle["hits"][0]["document_id"]
        vector = ToneEncoder().encode_audio([str(query)])[0].tolist()
        body = client.post("/search", json={"vector": vector, "collection": "tone.audio",
                                            "k": 1}).json()
        assert inside(body["hits"][0], span)

        async def ask():
            async with mcp.Client(create_mcp_server(service), mode="legacy") as c:
                return await c.call_tool("search", {
                    "audio_base64": base64.b64encode(data).decode(), "k": 2})

        got = asyncio.run(ask())
    assert not got.is_error
    assert got.structured_content == oracle

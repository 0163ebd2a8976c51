"""A served request's ``rerank`` picks one of the cross-encoders ``--rerank`` offers, nothing
else: any other value (a local folder that holds a cross-encoder included) is a 400 naming what
is offered, and nothing is loaded for it. The offered ones load once, at start.

Oracle: the picked cross-encoder's list equals a plain :class:`Searcher`'s with the same model
(its own ``predict`` order), and the loads are counted."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.served import BASE, build_index, loader
from tests.search.test_rerank import build_tiny_cross_encoder
from xmodal.api.http import create_app
from xmodal.api.rerank_offer import RerankNotOffered, RerankOffer
from xmodal.api.service import SearchService
from xmodal.search import rerank as rerank_module
from xmodal.search.searcher import Searcher

pytest.importorskip("sentence_transformers")


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two tiny cross-encoders: ``ce`` (offered) and ``other`` (on disk, never offered)."""
    root = tmp_path_factory.mktemp("ces")
    return build_tiny_cross_encoder(root / "ce"), build_tiny_cross_encoder(root / "other")


@pytest.fixture(scope="module")
def offered(tmp_path_factory: pytest.TempPathFactory, folders: tuple[Path, Path],
            monkeypatch_module: pytest.MonkeyPatch):
    """A service offering ``ce``; the cross-encoder loads are counted."""
    uri, encoders, _ = build_index(tmp_path_factory.mktemp("toy"))
    loads: Counter[str] = Counter()
    real = rerank_module.load_cross_encoder

    def counted(spec: str, **kw):
        loads[spec] += 1
        return real(spec, **kw)

    monkeypatch_module.setattr(rerank_module, "load_cross_encoder", counted)
    with SearchService(uri, load=loader(encoders), router_model=None,
                       rerankers=[str(folders[0])]) as s:
        yield s, loads, uri, encoders


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def test_the_offered_cross_encoder_by_spec_or_name(offered, folders):
    service, loads, _, encoders = offered
    ce = str(folders[0])
    by_spec = service.search(query="a red heart", k=5, rerank=ce)
    by_name = service.search(query="a red heart", k=5, rerank="ce")
    assert by_spec == by_name and "rerank:ce" in by_spec["hits"][0]["ranks"]
    assert loads == Counter({ce: 1})  # loaded once, at start
    plain = Searcher(service.index, load=loader(encoders), router_model=None)  # the oracle
    want = plain.search("a red heart", k=5, rerank=ce).to_json()
    assert [h["id"] for h in want["hits"]] == [h["id"] for h in by_spec["hits"]]
    assert [h["raw_scores"]["rerank:ce"] for h in want["hits"] if "rerank:ce" in h["raw_scores"]
            ] == pytest.approx([h["raw_scores"]["rerank:ce"] for h in by_spec["hits"]
                                if "rerank:ce" in h["raw_scores"]], abs=1e-5)


def test_anything_else_is_400_and_loads_nothing(offered, folders):
    service, loads, _, _ = offered
    before = Counter(loads)
    other = str(folders[1])  # a real cross-encoder on disk, but not offered
    for bad in (other, "other", "/etc", "cross-encoder/ms-marco-MiniLM-L6-v2"):
        with pytest.raises(RerankNotOffered, match="not offered") as got:
            service.search(query="a red heart", k=5, rerank=bad)
        assert got.value.status == 400 and str(folders[0]) in str(got.value)
    with TestClient(create_app(service), base_url=BASE) as c:
        r = c.post("/search", json={"query": "a red heart", "k": 5, "rerank": other})
        assert r.status_code == 400 and r.json()["error"] == "rerank_not_offered"
        assert "offers: " + repr(str(folders[0])) in r.json()["detail"]
        ok = c.post("/search", json={"query": "a red heart", "k": 5, "rerank": "ce"})
        assert ok.status_code == 200 and "rerank:ce" in ok.json()["hits"][0]["ranks"]
    assert loads == before  # nothing loaded for a refused request


def test_mcp_search_refuses_an_unoffered_rerank(offered, folders):
    from mcp.server.mcpserver.exceptions import ToolError

    from xmodal.api.mcp import create_mcp_server

    service, _, _, _ = offered
    server = create_mcp_server(service)
    with pytest.raises(ToolError, match="not offered"):
        asyncio.run(server.call_tool("search", {"query": "a red heart",
                                                "rerank": str(folders[1])}))


def test_a_server_without_rerank_offers_none(service):
    with pytest.raises(RerankNotOffered, match=r"offers: none \(start it with --rerank"):
        service.search(query="a red heart", k=3, rerank="ce")


def test_offer_rules():
    loaded: list[str] = []

    def load(spec: str):
        loaded.append(spec)
        return object()

    offer = RerankOffer(["org/a", "/m/b/", "org/a"], load=load)
    assert loaded == ["org/a", "/m/b/"]  # once each, in order, duplicates dropped
    assert offer.pick("a") == "org/a" and offer.pick("b") == "/m/b/"
    assert offer.pick("/m/b") == "/m/b/" and offer.pick(" org/a ") == "org/a"
    with pytest.raises(RerankNotOffered):
        offer.pick("org/a@main")  # another revision is another model
    with pytest.raises(ValueError, match="share the name 'a'"):
        RerankOffer(["org/a", "other/a"], load=load)


def test_serve_and_mcp_rerank_option(tmp_path, folders, monkeypatch):
    """``--rerank`` reaches the server (offered, loaded at start); one that will not load
    stops serve and mcp at start (exit 2, named)."""
    from typer.testing import CliRunner

    import xmodal.api.http as http
    from xmodal.cli import app as cli

    uri, _, _ = build_index(tmp_path)
    seen: list[tuple[str, ...]] = []

    class FakeUvicorn:
        @staticmethod
        def run(app, **kw) -> None:
            seen.append(app.state.service.rerank.specs)

    monkeypatch.setattr(http, "require_uvicorn", lambda: FakeUvicorn)
    ce = str(folders[0])
    out = CliRunner().invoke(cli, ["serve", "--index", uri, "--router-model", "",
                                   "--rerank", ce])
    assert out.exit_code == 0, out.output
    assert seen == [(ce,)]
    for command in ("serve", "mcp"):
        out = CliRunner().invoke(cli, [command, "--index", uri, "--router-model", "",
                                       "--rerank", str(tmp_path / "absent")])
        assert out.exit_code == 2 and "absent: no such folder" in out.output, out.output
    assert len(seen) == 1

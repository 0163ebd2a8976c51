"""Every guard and limit of the HTTP API, each with the status and message it must give.

All clients here keep TestClient's default ``raise_server_exceptions=True``: an input reaching
the catch-all 500 handler would raise in the test, so a passing test proves it never does."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.served import BASE, build_index, loader, png, slow_index, wav
from tests.api.toy import DIM
from xmodal.api.http import create_app
from xmodal.api.limits import ServeLimits
from xmodal.api.service import SearchService


@pytest.fixture
def built(tmp_path: Path):
    return build_index(tmp_path)


def make(built, *, limits: ServeLimits | None = None, **app_kw) -> TestClient:
    uri, encoders, _ = built
    service = SearchService(uri, load=loader(encoders), router_model=None,
                            limits=limits or ServeLimits())
    return TestClient(create_app(service, **app_kw), base_url=BASE)


@pytest.fixture
def client(built) -> Iterator[TestClient]:
    with make(built, limits=ServeLimits(max_body_bytes=64 * 1024)) as c:
        yield c


def err(r, status: int, code: str, *words: str) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error", "detail"} and body["error"] == code, body
    for w in words:
        assert w in body["detail"], body


def vec_body(numbers: str) -> bytes:
    """A raw /search body (JSON cannot carry NaN or Infinity; Python's parser accepts them)."""
    return ('{"vector": [' + numbers + '], "collection": "toy-image.image"}').encode()


def test_body_size(client):
    big = b'{"query": "' + b"a" * (70 * 1024) + b'"}'
    err(client.post("/search", content=big, headers={"content-type": "application/json"}),
        413, "too_large", "limit is 65536")

    def chunks() -> Iterator[bytes]:  # no Content-Length: the streamed bytes are counted
        yield b'{"query": "'
        for _ in range(70):
            yield b"a" * 1024
        yield b'"}'

    err(client.post("/search", content=chunks(), headers={"content-type": "application/json"}),
        413, "too_large")
    err(client.post("/search/file", files={"file": ("x.png", b"\0" * 70 * 1024)}),
        413, "too_large")


def test_image_bomb_and_audio_length(built):
    encoders = built[1]
    encoded = encoders["image"].items["image"]  # by the ingest
    with make(built, limits=ServeLimits(max_audio_seconds=1.0)) as c:
        bomb = png(size=(10_000, 10_000), mode="P")
        assert len(bomb) < 50_000  # tiny on the wire, 100 M pixels decoded
        err(c.post("/search/file", files={"file": ("b.png", bomb, "image/png")}), 413,
            "too_large", "10000 × 10000", "limit is 40000000")
        assert encoders["image"].items["image"] == encoded  # refused before any decoding
        err(c.post("/search/file", files={"file": ("s.wav", wav(seconds=2.0), "audio/wav")}),
            413, "too_large", "2.0 s", "limit is 1 s")
        err(c.post("/search/file", files={"file": ("s.png", b"garbage", "image/png")}), 422,
            "bad_input", "not a decodable image")
        err(c.post("/search/file", files={"file": ("s", b"garbage")}), 422, "bad_input",
            "image or audio")
        err(c.post("/search/file", files={"file": ("e.png", b"", "image/png")}), 422,
            "bad_input", "empty")


def test_text_k_and_vectors(client):
    err(client.post("/search", json={"query": "x" * 2001}), 413, "too_large", "2001 characters")
    for k in (0, -1, 10**6):
        err(client.post("/search", json={"query": "cat", "k": k}), 422, "bad_input", "k must")
    err(client.post("/search", json={"query": "cat", "k": "many"}), 422, "invalid_request", "k")
    err(client.post("/search", json={}), 422, "bad_input", "exactly one")
    err(client.post("/search", json={"query": "cat", "smell": 1}), 422, "invalid_request")
    err(client.post("/search", content=b"{not json", headers={"content-type":
                                                              "application/json"}),
        422, "invalid_request")
    nan = ", ".join(["NaN"] + ["0.1"] * (DIM - 1))  # JSON cannot carry NaN: a raw body
    for raw in (nan, ", ".join(["1e400"] + ["0.1"] * (DIM - 1)),
                ", ".join(["Infinity"] * DIM)):
        err(client.post("/search", content=vec_body(raw),
                        headers={"content-type": "application/json"}),
            422, "bad_vector", "NaN or infinite")
    err(client.post("/search", json={"vector": [0.1] * 3, "collection": "toy-image.image"}),
        422, "bad_vector", "dimension 3", f"is {DIM}")
    err(client.post("/search", json={"vector": [0.0] * DIM, "collection": "toy-image.image"}),
        422, "bad_vector", "zeros")
    err(client.post("/search", json={"vector": [0.1] * DIM, "collection": "nope"}),
        404, "collection_not_found", "nope")
    err(client.post("/search", json={"vector": [0.1] * DIM, "collection": "toy-image.image",
                                     "model": "openai-clip"}),
        409, "collection_mismatch", "openai-clip")


def test_write_refusals(client, built):
    item = {"id": "x", "vector": [0.1] * DIM}
    err(client.post("/collections/nope/upsert", json={"items": [item]}), 404,
        "collection_not_found")
    err(client.post("/collections/toy-text.text/upsert", json={"items": [item],
                                                               "model": "other"}),
        409, "collection_mismatch")
    err(client.post("/collections/toy-text.text/upsert", json={"items": [item]}), 422,
        "bad_vector")  # not unit norm (and normalize not asked)
    nan = '{"items": [{"id": "x", "vector": [' + ", ".join(["NaN"] * DIM) + "]}]}"
    err(client.post("/collections/toy-text.text/upsert", content=nan.encode(),
                    headers={"content-type": "application/json"}), 422, "bad_vector")
    err(client.post("/collections/toy-text.text/upsert", json={"items": [item, item],
                                                               "normalize": True}),
        422, "duplicate_id", "twice")
    err(client.post("/collections/toy-text.text/delete", json={"ids": []}), 422, "bad_input")
    with make(built, limits=ServeLimits()) as c:
        c.app.state.service.read_only = True
        err(c.post("/collections/toy-text.text/delete", json={"ids": ["x"]}), 403,
            "read_only")


def test_token_on_every_route(built):
    with make(built, token="s3cret") as c:
        for path in ("/health", "/", "/openapi.json", "/collections", "/media/x"):
            r = c.get(path)
            err(r, 401, "unauthorized", "token")
            assert r.headers["www-authenticate"] == "Bearer"
        err(c.post("/search", json={"query": "cat"}), 401, "unauthorized")
        err(c.get("/health", headers={"Authorization": "Bearer wrong"}), 401, "unauthorized")
        err(c.get("/health", headers={"X-XModal-Token": "s3cre"}), 401, "unauthorized")
        err(c.get("/health", params={"token": "s3cret"}), 401, "unauthorized")  # not an API key
        assert c.get("/health", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert c.post("/search", json={"query": "cat"},
                      headers={"X-XModal-Token": "s3cret"}).status_code == 200
        page = c.get("/", params={"token": "s3cret"})  # the launch link sets the cookie
        assert page.status_code == 200
        assert "HttpOnly" in page.headers["set-cookie"]
        assert "SameSite=Strict" in page.headers["set-cookie"]
        assert c.get("/health").status_code == 200  # the cookie now authenticates
        c.cookies.clear()
        err(c.get("/health"), 401, "unauthorized")


def test_host_header(client):
    for host in ("evil.example", "127.0.0.1.nip.io", "localhost.evil.example"):
        err(client.get("/health", headers={"host": host}), 400, "invalid_host", host)
    for host in ("localhost:8000", "127.0.0.1", "[::1]:8000", "LOCALHOST"):
        assert client.get("/health", headers={"host": host}).status_code == 200


def test_origin_and_cors(client, built):
    evil = {"origin": "http://evil.example"}
    err(client.post("/search", json={"query": "cat"}, headers=evil), 403, "cross_origin")
    err(client.post("/collections/toy-text.text/delete", json={"ids": ["a"]}, headers=evil),
        403, "cross_origin")
    r = client.post("/search", json={"query": "cat"}, headers={"origin": BASE})
    assert r.status_code == 200
    r = client.get("/health", headers=evil)  # reads pass, but CORS stays closed
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
    app_origin = "http://app.example"
    with make(built, cors_origins=[app_origin], token="t") as c:
        pre = c.options("/search", headers={"origin": app_origin,
                                            "access-control-request-method": "POST",
                                            "access-control-request-headers":
                                                "authorization,content-type"})
        assert pre.status_code == 200
        assert pre.headers["access-control-allow-origin"] == app_origin
        r = c.post("/search", json={"query": "cat"},
                   headers={"origin": app_origin, "authorization": "Bearer t"})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == app_origin
        err(c.post("/search", json={"query": "cat"},
                   headers={**evil, "authorization": "Bearer t"}), 403, "cross_origin")


def test_overload_answers_429_with_retry_after(tmp_path):
    uri, enc = slow_index(tmp_path)
    service = SearchService(uri, load=lambda name: enc, router_model=None,
                            limits=ServeLimits(max_concurrency=2))
    with TestClient(create_app(service), base_url=BASE) as c:
        codes: list[int] = []
        threads = [threading.Thread(target=lambda: codes.append(
            c.post("/search", json={"query": "cat", "k": 1}).status_code)) for _ in range(2)]
        for t in threads:
            t.start()
        # one request is inside the encoder, the other waits for it (one encode per model at
        # a time: tokenizers are not thread-safe); both hold a slot
        assert enc.entered.acquire(timeout=10)
        for _ in range(200):
            if c.get("/health").status_code == 429:  # /health needs a slot too
                break
            threading.Event().wait(0.05)
        r = c.post("/search", json={"query": "dog"})
        err(r, 429, "overloaded", "2 work slots")
        assert r.headers["retry-after"] == "1"
        err(c.get("/health"), 429, "overloaded")
        enc.go.set()
        for t in threads:
            t.join(timeout=10)
        assert codes == [200, 200]
        assert c.get("/health").status_code == 200  # slots given back


def test_timeout_answers_504_and_frees_the_slot(tmp_path):
    uri, enc = slow_index(tmp_path)
    service = SearchService(uri, load=lambda name: enc, router_model=None,
                            limits=ServeLimits(max_concurrency=1, request_timeout_s=0.3))
    with TestClient(create_app(service), base_url=BASE) as c:
        err(c.post("/search", json={"query": "cat"}), 504, "timeout", "0.3 s")
        err(c.get("/health"), 429, "overloaded")  # the abandoned work still holds its slot
        enc.go.set()
        for _ in range(50):
            if c.get("/health").status_code == 200:
                break
            threading.Event().wait(0.05)
        assert c.post("/search", json={"query": "cat", "k": 1}).json()["hits"][0]["id"] == "a"


def test_only_real_bugs_reach_the_catch_all(built, caplog):
    with make(built) as c:
        def boom() -> dict:
            raise RuntimeError("a real bug")

        c.app.state.service.health = boom
        with pytest.raises(RuntimeError):  # the default client re-raises server errors
            c.get("/health")
    with TestClient(make(built).app, base_url=BASE, raise_server_exceptions=False) as c:
        c.app.state.service.health = boom
        r = c.get("/health")
        err(r, 500, "internal", "RuntimeError")
        assert "a real bug" not in r.text  # no internals in the answer
        assert "internal error on GET /health" in caplog.text


def test_serve_refuses_public_host_without_token(monkeypatch, built):
    from typer.testing import CliRunner

    import xmodal.api.http as http
    from xmodal.cli import app

    calls: list[dict] = []

    class FakeUvicorn:  # checks the app while it is "serving" (the service closes after)
        @staticmethod
        def run(app, **kw) -> None:
            with TestClient(app, base_url="http://my-box.lan") as c:
                kw["anonymous"] = c.get("/health").status_code
                kw["with_token"] = c.get("/health", headers={
                    "X-XModal-Token": "from-env"}).status_code
            calls.append({"limits": app.state.service.limits, **kw})

    monkeypatch.setattr(http, "require_uvicorn", lambda: FakeUvicorn)
    monkeypatch.delenv("XMODAL_TOKEN", raising=False)
    uri = built[0]
    out = CliRunner().invoke(app, ["serve", "--index", uri, "--host", "0.0.0.0"])
    assert out.exit_code == 2 and "give a token" in out.output and not calls
    out = CliRunner().invoke(app, ["serve", "--index", uri, "--router-model", "", "--port",
                                   "8123", "--max-concurrency", "3"])
    assert out.exit_code == 0, out.output
    assert (calls[-1]["host"], calls[-1]["port"]) == ("127.0.0.1", 8123)
    assert calls[-1]["limits"].max_concurrency == 3
    assert calls[-1]["anonymous"] == 400  # loopback only: another Host name is refused
    monkeypatch.setenv("XMODAL_TOKEN", "from-env")
    out = CliRunner().invoke(app, ["serve", "--index", uri, "--host", "0.0.0.0"])
    assert out.exit_code == 0, out.output
    assert (calls[-1]["anonymous"], calls[-1]["with_token"]) == (401, 200)


def test_serve_on_any_loopback_address_needs_no_token(monkeypatch, built):
    """127.0.0.0/8 is loopback (the rule ``xmodal mcp`` shares): no token needed, and the bound
    address is an accepted Host name; a concurrency below 1 is refused."""
    from typer.testing import CliRunner

    import xmodal.api.http as http
    from xmodal.cli import app

    calls: list[dict] = []

    class FakeUvicorn:
        @staticmethod
        def run(app, **kw) -> None:
            for name in ("127.0.0.2", "my-box.lan"):
                with TestClient(app, base_url=f"http://{name}:8000") as c:
                    kw[name] = c.get("/health").status_code
            calls.append(kw)

    monkeypatch.setattr(http, "require_uvicorn", lambda: FakeUvicorn)
    monkeypatch.delenv("XMODAL_TOKEN", raising=False)
    uri = built[0]
    out = CliRunner().invoke(app, ["serve", "--index", uri, "--router-model", "", "--host",
                                   "127.0.0.2"])
    assert out.exit_code == 0, out.output
    assert calls == [{"host": "127.0.0.2", "port": 8000, "log_level": "info",
                      "access_log": False, "127.0.0.2": 200, "my-box.lan": 400}]
    out = CliRunner().invoke(app, ["serve", "--index", uri, "--max-concurrency", "0"])
    assert out.exit_code == 2 and "--max-concurrency must be at least 1" in out.output
    assert len(calls) == 1


def test_missing_fastapi_names_the_extra(monkeypatch):
    from xmodal._optional import MissingDependencyError

    monkeypatch.setitem(sys.modules, "fastapi", None)
    monkeypatch.delitem(sys.modules, "xmodal.api.http", raising=False)
    with pytest.raises(MissingDependencyError, match=r"pip install 'xmodal\[serve\]'"):
        import xmodal.api.http  # noqa: F401
    monkeypatch.delitem(sys.modules, "xmodal.api.http", raising=False)


def test_cli_does_not_import_the_web_stack():
    import subprocess

    code = ("import sys, xmodal.cli, xmodal.api.service; "
            "print(sorted(m for m in ('fastapi', 'starlette', 'xmodal.api.http') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"

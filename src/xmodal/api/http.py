"""The HTTP API over a :class:`~xmodal.api.service.SearchService` (``xmodal serve``).

Routes (the OpenAPI schema is at ``/openapi.json``)::

    GET  /health                          {"status": "ok", "collections": n, "documents": m}
    GET  /collections                     {"collections": [...]}
    GET  /collections/{name}              one collection, with "stats"
    GET  /collections/{name}/diagnostics  xmodal diagnose --json of its stored vectors
    POST /search                          {"query": ...} or {"vector": [...], "collection": ...}
    POST /search/file                     multipart: file, modality?, and the search options
    GET  /items/{collection}/{id}         {"id", "payload", "vector"? (with ?vector=true)}
    GET  /media/{doc_id}                  the original file of an indexed document
    POST /collections/{name}/upsert       {"items": [{"id", "vector", "payload"}]}
    POST /collections/{name}/delete       {"ids": [...]}
    POST /index                           {"paths": [...], "prune"?}: xmodal index --json
                                          (only under ``--root``; 403 without one)
    GET  /                                the web page (``/static`` holds its files)

Hardening (:class:`Guard`, outermost): the Host header must name an allowed host (against DNS
rebinding) → 400; a token, when set, is checked on every route (``Authorization: Bearer T``,
``X-XModal-Token: T``, or the cookie set by opening ``/?token=T``) → 401; a non-GET request
from another origin is refused unless listed in ``cors_origins`` → 403; bodies above
``max_body_bytes`` → 413 (Content-Length and the bytes actually streamed). Work runs in a thread
pool, at most ``max_concurrency`` requests at once (more: 429 with Retry-After), each within
``request_timeout_s`` (504; ``POST /index``: ``index_timeout_s``). Every error body is
``{"error": code, "detail": message}``.

Example (in a test; ``xmodal serve`` runs the same app under uvicorn)::

    from fastapi.testclient import TestClient

    client = TestClient(create_app(SearchService("exact:idx")), base_url="http://127.0.0.1")
    hits = client.post("/search", json={"query": "a red heart", "k": 3}).json()["hits"]
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

from xmodal._optional import MissingDependencyError

try:
    import anyio
    from fastapi import FastAPI, Form, Query, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
    from starlette.exceptions import HTTPException as StarletteHTTPException
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise MissingDependencyError(
        f"the HTTP API needs fastapi ({exc.name} is missing): pip install 'xmodal[serve]'"
    ) from exc

from xmodal.api.guard import Admission, Guard
from xmodal.api.limits import Overloaded, error_status, guess_modality
from xmodal.api.models import (
    ERRORS,
    CollectionDetail,
    Collections,
    DeleteRequest,
    DeleteResponse,
    Health,
    IndexRequest,
    ItemResponse,
    SearchFileForm,
    SearchRequest,
    UpsertRequest,
    UpsertResponse,
)
from xmodal.api.service import CollectionDiagnosisJSON, SearchService, ServeLimits
from xmodal.index.ingest import IndexReportJSON
from xmodal.search.hits import SearchJSON

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).parent / "web"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
IN_FLIGHT_PER_SLOT = 4
"""Requests admitted into the app per work slot; beyond, 429 before any parsing."""

# -- errors ------------------------------------------------------------------------------


class ApiError(Exception):
    """An expected refusal, answered as ``{"error": code, "detail": message}``."""

    def __init__(self, status: int, code: str, detail: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.headers = status, code, detail, headers


def _error(status: int, code: str, detail: str,
           headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": code, "detail": detail}, status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for e in exc.errors()[:5]:
        where = ".".join(str(x) for x in e.get("loc", ()) if x != "body") or "body"
        parts.append(f"{where}: {e.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


# -- the app -----------------------------------------------------------------------------


def create_app(service: SearchService, *, token: str | None = None,
               allowed_hosts: Sequence[str] = LOCAL_HOSTS,
               cors_origins: Sequence[str] = ()) -> FastAPI:
    """The FastAPI app serving ``service`` (see the module docstring for routes and guards).

    Args:
        service: The served index.
        token: When set, every route needs it (401 otherwise).
        allowed_hosts: Host header names accepted (``"*"``: any).
        cors_origins: Other origins allowed to call the API from a browser (CORS opened
            for them only); none by default.
    """
    from xmodal._optional import require

    require("python_multipart", "serve")
    limits = service.limits
    app = FastAPI(title="xmodal", description="Multimodal search over one xmodal index.",
                  version=_version(), docs_url=None, redoc_url=None)

    async def work(fn: Callable[..., Any], *args: Any, timeout_s: float | None = None,
                   **kwargs: Any) -> Any:
        """Run ``fn`` in a thread, holding a work slot, within ``timeout_s`` (default: the
        request timeout)."""
        timeout = limits.request_timeout_s if timeout_s is None else timeout_s
        try:
            service.try_acquire()
        except Overloaded as exc:
            raise ApiError(429, exc.code, str(exc),
                           {"Retry-After": str(exc.retry_after)}) from exc
        state = {"started": False, "abandoned": False}
        lock = threading.Lock()

        def job() -> Any:
            with lock:
                if state["abandoned"]:
                    return None
                state["started"] = True
            try:
                return fn(*args, **kwargs)
            finally:
                service.release()

        try:
            with anyio.fail_after(timeout):
                return await anyio.to_thread.run_sync(job, abandon_on_cancel=True)
        except TimeoutError as exc:
            with lock:
                state["abandoned"] = True
                if not state["started"]:
                    service.release()
            raise ApiError(504, "timeout",
                           f"the request took longer than {timeout:g} s") from exc
        except ApiError:
            raise
        except Exception as exc:
            err = _api_error(exc)
            if err is None:
                raise  # a bug: the catch-all handler answers 500 and logs it
            raise err from exc

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.code, exc.detail, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(422, "invalid_request", _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, f"http_{exc.status_code}", str(exc.detail),
                      getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def bug(request: Request, exc: Exception) -> JSONResponse:
        log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
        return _error(500, "internal", f"internal error ({type(exc).__name__}); see the "
                      "server log")

    @app.get("/health", response_model=Health, responses=ERRORS)
    async def health() -> Any:
        """Is the service up, and how much does it hold."""
        return await work(service.health)

    @app.get("/collections", response_model=Collections, responses=ERRORS)
    async def collections() -> Any:
        """Every collection: model, modality, dimension, count, model card, calibration."""
        return {"collections": await work(service.collections)}

    @app.get("/collections/{name}", response_model=CollectionDetail, responses=ERRORS)
    async def collection(name: str) -> Any:
        """One collection, with backend statistics."""
        return await work(service.collection, name)

    @app.get("/collections/{name}/diagnostics", response_model=CollectionDiagnosisJSON,
             responses=ERRORS)
    async def diagnostics(name: str) -> Any:
        """Collapse, coverage and anisotropy of a collection's stored vectors."""
        return await work(service.diagnostics, name)

    @app.post("/search", response_model=SearchJSON, responses=ERRORS)
    async def search(body: SearchRequest) -> Any:
        """Search with a text query (routed, fused by rank) or one collection's vector."""
        return await work(service.search, model=body.model, **body.search_fields())

    @app.post("/search/file", response_model=SearchJSON, responses=ERRORS)
    async def search_file(
            form: Annotated[SearchFileForm, Form(media_type="multipart/form-data")]) -> Any:
        """Query by example: an uploaded image or audio file."""
        data = await form.file.read()

        def run() -> Any:
            kind = form.modality or guess_modality(data, content_type=form.file.content_type,
                                                   filename=form.file.filename)
            return service.search(**{kind: data}, **form.search_fields())

        return await work(run)

    @app.get("/items/{collection}/{id}", response_model=ItemResponse,
             response_model_exclude_unset=True, responses=ERRORS)
    async def item(collection: str, id: str, vector: Annotated[bool, Query()] = False) -> Any:
        """One stored record (its vector with ``?vector=true``)."""
        got = await work(service.get, collection, [id], vector)
        if got[0] is None:
            raise ApiError(404, "not_found", f"no item {id!r} in {collection}")
        return got[0]

    @app.get("/media/{doc_id}", response_class=FileResponse, responses={
        **ERRORS, 200: {"description": "The original file", "content": {
            "application/octet-stream": {}, "image/*": {}, "audio/*": {}, "text/*": {}}}})
    async def media(doc_id: str) -> Any:
        """The original file of an indexed document (for thumbnails and players)."""
        path = await work(service.media_path, doc_id)
        return FileResponse(path)

    @app.post("/collections/{name}/upsert", response_model=UpsertResponse, responses=ERRORS)
    async def upsert(name: str, body: UpsertRequest) -> Any:
        """Insert or replace vectors (with payloads) in an existing collection."""
        items = [it.model_dump() for it in body.items]
        return await work(service.upsert, name, items, model=body.model,
                          normalize=body.normalize)

    @app.post("/collections/{name}/delete", response_model=DeleteResponse, responses=ERRORS)
    async def delete(name: str, body: DeleteRequest) -> Any:
        """Delete ids from a collection."""
        return await work(service.delete, name, body.ids)

    @app.post("/index", response_model=IndexReportJSON, responses=ERRORS)
    async def index(body: IndexRequest) -> Any:
        """Index files and folders under the server's ``--root`` (off without one: 403)."""
        return await work(service.index_paths, body.paths, prune=body.prune,
                          timeout_s=limits.index_timeout_s)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> HTMLResponse:
        index = WEB_DIR / "index.html"
        if index.is_file():
            return HTMLResponse(index.read_text("utf-8"))
        return HTMLResponse("<!doctype html><title>xmodal</title><p>The xmodal web page is not "
                            "installed; the API is at <code>/openapi.json</code>.</p>")

    if WEB_DIR.is_dir():
        from fastapi.staticfiles import StaticFiles

        app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")
    if cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(cors_origins),
                           allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "X-XModal-Token", "Content-Type"])
    app.add_middleware(Guard, hosts=allowed_hosts, token=token, cors_origins=cors_origins,
                       max_body_bytes=limits.max_body_bytes)
    # outermost (added last): sheds overload before the Guard and FastAPI spend time on it
    app.add_middleware(Admission, max_in_flight=IN_FLIGHT_PER_SLOT * limits.max_concurrency)
    app.state.service = service
    return app


def _api_error(exc: BaseException) -> ApiError | None:
    """An :class:`ApiError` for an expected refusal; None for a bug."""
    mapped = error_status(exc)
    if mapped is None:
        return None
    status, code = mapped
    headers = {"Retry-After": str(getattr(exc, "retry_after", 1))} if status == 429 else None
    return ApiError(status, code, str(exc) or code, headers)


def _version() -> str:
    from xmodal import __version__

    return __version__


def is_loopback(host: str) -> bool:
    """True for a loopback address or name (127.0.0.0/8, ::1, localhost).

    Example:
        >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("0.0.0.0")
        (True, True, False)
    """
    import ipaddress

    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def run_serve(*, index_uri: str, host: str = "127.0.0.1", port: int = 8000,
              token: str | None = None, max_concurrency: int | None = None,
              router_model: str | None = "minilm", read_only: bool = False,
              allowed_hosts: Sequence[str] = (), cors_origins: Sequence[str] = (),
              root: str | None = None) -> int:
    """``xmodal serve``: refuse a non-loopback bind without a token, then run uvicorn.
    ``root``: the folder ``POST /index`` may index under (None: folder indexing is off).

    Returns the exit code (2: refused or the index would not open).
    """
    import dataclasses
    import sys

    if not is_loopback(host) and not token:
        print(f"error: --host {host} is reachable from other machines: give a token "
              "(--token or env XMODAL_TOKEN), or bind 127.0.0.1", file=sys.stderr)
        return 2
    if root is not None and not Path(root).expanduser().is_dir():
        print(f"error: --root {root} is not a folder", file=sys.stderr)
        return 2
    uvicorn = require_uvicorn()
    limits = ServeLimits()
    if max_concurrency is not None:
        if max_concurrency < 1:
            print("error: --max-concurrency must be at least 1", file=sys.stderr)
            return 2
        limits = dataclasses.replace(limits, max_concurrency=max_concurrency)
    try:
        service = SearchService(index_uri, router_model=router_model or None, limits=limits,
                                read_only=read_only, index_root=root)
    except (OSError, ValueError, RuntimeError) as exc:
        print(f"error: cannot open {index_uri}: {exc}", file=sys.stderr)
        return 2
    hosts = [*LOCAL_HOSTS, *allowed_hosts]
    if host in ("0.0.0.0", "::") and not allowed_hosts:
        hosts = ["*"]  # every interface: any Host name (the token still guards every route)
    elif not is_loopback(host):
        hosts.append(host)
    app = create_app(service, token=token, allowed_hosts=hosts, cors_origins=cors_origins)
    shown = f"[{host}]" if ":" in host else host
    print(f"xmodal: serving {index_uri} on http://{shown}:{port}/"
          + (" (token required)" if token else "")
          + (f"; POST /index under {service.index_root}" if service.index_root else ""),
          file=sys.stderr)
    try:
        # no access log: one line per request costs ~8 % of a loaded server (serve_load.py)
        uvicorn.run(app, host=host, port=port, log_level="info", access_log=False)
    finally:
        service.close()
    return 0


def require_uvicorn() -> Any:
    """The uvicorn module, or an error naming the extra."""
    from xmodal._optional import require

    return require("uvicorn", "serve")

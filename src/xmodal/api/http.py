"""The HTTP API over a :class:`~xmodal.api.service.SearchService` (``xmodal serve``).

Routes (the OpenAPI schema is at ``/openapi.json``)::

    GET  /health                          {"status": "ok", "collections": n, "documents": m}
    GET  /collections                     {"collections": [...]}
    GET  /collections/{name}              one collection, with "stats"
    GET  /collections/{name}/diagnostics  xmodal diagnose --json of its stored vectors
    POST /search                          {"query": ...} or {"vector": [...], "collection": ...}
    POST /search/file                     multipart: file, modality?, and the search options
    GET  /items/{collection}/{id}         {"id", "payload", "vector"? (with ?vector=true)}
    GET  /media/{doc_id}                  the original file of an indexed document (Range: 206,
                                          ETag: 304; no work slot, see :mod:`xmodal.api.media`)
    GET  /media/{doc_id}/frame?t=SECONDS  the frame of a video document at t, as a JPEG
    POST /collections/{name}/upsert       {"items": [{"id", "vector", "payload"}]}
    POST /collections/{name}/delete       {"ids": [...]}: a document's id deletes its time
                                          segments too, an indexed file's document goes whole
                                          (:mod:`xmodal.index.deletion`)
    POST /index                           {"paths": [...], "prune"?}: xmodal index --json
                                          (only under ``--root``; 403 without one)
    GET  /                                the web page (``/static`` holds its files)
    GET  /metrics                         Prometheus text format (:mod:`xmodal.api.metrics`)
    POST|GET|DELETE /mcp                  the MCP tools over streamable HTTP
                                          (:mod:`xmodal.api.mcp_mount`; index_paths only
                                          with ``--root`` and not ``--read-only``)

Hardening (:class:`Guard`, outermost): the Host header must name an allowed host (against DNS
rebinding) → 400; a token, when set, is checked on every route (``Authorization: Bearer T``,
``X-XModal-Token: T``, or the cookie set by opening ``/?token=T``) → 401; a non-GET request
from another origin is refused unless listed in ``cors_origins`` → 403; bodies above
``max_body_bytes`` → 413 (Content-Length and the bytes actually streamed). Work runs in a thread
pool, at most ``max_concurrency`` requests at once (more: 429 with Retry-After), each within
``request_timeout_s`` (504; ``POST /index``: ``index_timeout_s``). Stored media (``/media``)
take no work slot: ``max_media_streams`` places of their own, and a short queue before any 429
(:mod:`xmodal.api.media`). Every error body is ``{"error": code, "detail": message}``.

Each resource's routes are a module-level router in :mod:`xmodal.api.routes`; they get the
service, its limits and their runner (:func:`~xmodal.api.runner.run_blocking`, shared with the
MCP server) as dependencies, and :func:`create_app` only includes them and adds the guards.
``xmodal serve`` binds beyond loopback only with a token (:mod:`xmodal.api.binding`). ``/mcp``
is one more route behind the same guards, on the same service (one process serves both: an
embedded index opens in one process only).

Example (in a test; ``xmodal serve`` runs the same app under uvicorn)::

    from fastapi.testclient import TestClient

    client = TestClient(create_app(SearchService("exact:idx")), base_url="http://127.0.0.1")
    hits = client.post("/search", json={"query": "a red heart", "k": 3}).json()["hits"]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from xmodal._optional import MissingDependencyError

try:
    from fastapi import FastAPI
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise MissingDependencyError(
        f"the HTTP API needs fastapi ({exc.name} is missing): pip install 'xmodal[serve]'"
    ) from exc

from xmodal.api.binding import LOCAL_HOSTS, check_bind, host_names, is_loopback, serve_limits
from xmodal.api.guard import Admission, Guard
from xmodal.api.mcp_mount import MCP_PATH, mount_mcp
from xmodal.api.media import media_lane
from xmodal.api.metrics import RequestMetrics, add_metrics
from xmodal.api.routes import collections, diagnostics, health, index, items, media, search, web
from xmodal.api.routes.errors import add_error_handlers
from xmodal.api.routes.web import WEB_DIR
from xmodal.api.service import SearchService
from xmodal.index.types import IndexBusyError

__all__ = ["IN_FLIGHT_PER_SLOT", "LOCAL_HOSTS", "WEB_DIR", "create_app", "is_loopback",
           "require_uvicorn", "run_serve"]

IN_FLIGHT_PER_SLOT = 4
"""Requests admitted into the app per work slot; beyond, 429 before any parsing."""

ROUTERS = (health.router, collections.router, diagnostics.router, search.router, items.router,
           media.router, index.router, web.router)
"""Every route, one router per resource (:mod:`xmodal.api.routes`)."""


def create_app(service: SearchService, *, token: str | None = None,
               allowed_hosts: Sequence[str] = LOCAL_HOSTS,
               cors_origins: Sequence[str] = ()) -> FastAPI:
    """The FastAPI app serving ``service`` (see the module docstring for routes and guards).

    Args:
        service: The served index (the routes get it, its limits and their runner through
            :mod:`xmodal.api.routes.deps`).
        token: When set, every route needs it (401 otherwise).
        allowed_hosts: Host header names accepted (``"*"``: any).
        cors_origins: Other origins allowed to call the API from a browser (CORS opened
            for them only); none by default.

    Returns:
        The app, with ``app.state.service`` set (and ``/mcp`` when the ``mcp`` package is
        installed: ``app.state.mcp`` says whether; ``app.state.metrics``: the
        :class:`~xmodal.api.metrics.Metrics`, None without prometheus-client).
    """
    from xmodal import __version__
    from xmodal._optional import require

    require("python_multipart", "serve")
    app = FastAPI(title="xmodal", description="Multimodal search over one xmodal index.",
                  version=__version__, docs_url=None, redoc_url=None)
    app.state.service = service
    add_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    metrics = add_metrics(app, service)
    web.mount_static(app)
    app.state.mcp = mount_mcp(app, service, cors_origins=cors_origins)
    app.state.metrics = metrics
    if cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(cors_origins),
                           allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["Authorization", "X-XModal-Token", "Content-Type",
                                          "Mcp-Session-Id", "Mcp-Protocol-Version",
                                          "Last-Event-ID"],
                           expose_headers=["Mcp-Session-Id"])
    app.add_middleware(Guard, hosts=allowed_hosts, token=token, cors_origins=cors_origins,
                       max_body_bytes=service.limits.max_body_bytes)
    # outermost (added last): sheds overload before the Guard and FastAPI spend time on it
    slots = service.limits.max_concurrency
    app.add_middleware(Admission, max_in_flight=IN_FLIGHT_PER_SLOT * slots,
                       streams=(MCP_PATH,) if app.state.mcp else (),
                       lanes=(media_lane(service.limits),))
    if metrics is not None:  # outermost: counts the requests shed and refused too
        app.add_middleware(RequestMetrics, metrics=metrics, paths=(MCP_PATH,))
    return app


def run_serve(*, index_uri: str, host: str = "127.0.0.1", port: int = 8000,
              token: str | None = None, max_concurrency: int | None = None,
              router_model: str | None = "minilm", read_only: bool = False,
              allowed_hosts: Sequence[str] = (), cors_origins: Sequence[str] = (),
              root: str | None = None, device: str = "cpu",
              batch_size: int | None = None, rerankers: Sequence[str] = ()) -> int:
    """``xmodal serve``: refuse a non-loopback bind without a token, then run uvicorn.
    ``root``: the folder ``POST /index`` (and the MCP tool ``index_paths``, unless
    ``read_only``) may index under (None: folder indexing is off). MCP is answered at ``/mcp``.
    ``device`` (checked by the caller) and ``batch_size``: the models' (see SearchService);
    ``rerankers``: the cross-encoders requests may pick (``--rerank``; loaded at start).

    Returns the exit code (2: refused or the index would not open).
    """
    import sys
    from pathlib import Path

    from xmodal.search.rerank import RerankerLoadError

    try:
        check_bind(host, token=token)
        if root is not None and not Path(root).expanduser().is_dir():
            raise ValueError(f"--root {root} is not a folder")
        limits = serve_limits(max_concurrency)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    uvicorn = require_uvicorn()
    try:
        service = SearchService(index_uri, router_model=router_model or None, limits=limits,
                                read_only=read_only, index_root=root, device=device,
                                batch_size=batch_size, rerankers=rerankers)
    except IndexBusyError as exc:
        print(f"error: cannot open {index_uri}: {exc}; stop the other process (`xmodal "
              f"serve` answers MCP itself, at {MCP_PATH})", file=sys.stderr)
        return 2
    except RerankerLoadError as exc:  # an offered cross-encoder that will not load
        print(f"error: --rerank: {exc}", file=sys.stderr)
        return 2
    except (OSError, ValueError, RuntimeError) as exc:
        print(f"error: cannot open {index_uri}: {exc}", file=sys.stderr)
        return 2
    hosts = host_names(host, allowed_hosts)
    if host in ("0.0.0.0", "::") and not allowed_hosts:
        hosts = ["*"]  # every interface: any Host name (the token still guards every route)
    app = create_app(service, token=token, allowed_hosts=hosts, cors_origins=cors_origins)
    shown = f"[{host}]" if ":" in host else host
    print(f"xmodal: serving {index_uri} on http://{shown}:{port}/"
          + (" (token required)" if token else "")
          + (f"; POST /index under {service.index_root}" if service.index_root else "")
          + (f"; MCP at http://{shown}:{port}{MCP_PATH}" if app.state.mcp else ""),
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

"""``xmodal serve``'s MCP endpoint: the MCP tools over streamable HTTP at ``/mcp`` of the HTTP app.

One process serves both. An embedded index (a Qdrant Edge folder) opens in one process only, so
``xmodal mcp`` cannot run beside ``xmodal serve`` on the same folder (:func:`busy_hint` says
so). :func:`mount_mcp` adds the tools of :func:`~xmodal.api.mcp.create_mcp_server`, built on
the app's own :class:`~xmodal.api.service.SearchService` (no second open of the index), as one
route of the app. So ``/mcp`` is behind the middleware of every route:

- :class:`~xmodal.api.guard.Admission` counts its requests (an agent's long-lived ``GET /mcp``
  event stream, which does no work, is not counted: the SDK allows one per session and at most
  :data:`MAX_SESSIONS` sessions);
- :class:`~xmodal.api.guard.Guard` checks Host, Origin, the token and the body size (a search
  by example carries its file as base64: through ``/mcp`` the largest is about three quarters of
  ``max_body_bytes``). ``/mcp`` also refuses a foreign Origin on ``GET`` (an event stream);
- every tool runs in the service's work slots within ``request_timeout_s``
  (:func:`~xmodal.api.runner.run_blocking`), as the routes do.

The write tool ``index_paths`` follows serve's write permission: it is offered only when the
service is not read-only and has an index root (``xmodal serve --root DIR`` without
``--read-only``), like ``POST /index``.

The SDK's session manager runs once per start, so the endpoint makes a fresh one in each run
of the app's lifespan (uvicorn runs it once; each ``with TestClient(app)`` runs it again).

Example (in a test)::

    with TestClient(create_app(service), base_url="http://127.0.0.1") as client:
        client.post("/mcp", json=initialize_request, headers={
            "Accept": "application/json, text/event-stream"})
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from typing import TYPE_CHECKING, Any

from xmodal.api.guard import foreign_origin, send_error

if TYPE_CHECKING:
    from fastapi import FastAPI

    from xmodal.api.service import SearchService

__all__ = ["MAX_SESSIONS", "MCP_PATH", "McpEndpoint", "busy_hint", "mount_mcp"]

MCP_PATH = "/mcp"
"""Where ``xmodal serve`` answers MCP (the path ``xmodal mcp --transport http`` uses too)."""

MAX_SESSIONS = 256
"""MCP sessions open at once; beyond, a new ``initialize`` is answered 503 by the SDK."""


class McpEndpoint:
    """The ASGI endpoint of ``/mcp``: the SDK's streamable-HTTP handler of ``server``.

    Args:
        server: From :func:`~xmodal.api.mcp.create_mcp_server`.
        max_body_bytes: The Guard's body limit (the SDK's own is set to it, so the Guard's
            413 is the one a client sees).
        cors_origins: Origins allowed besides the app's own (serve's ``--cors-origin``).
    """

    def __init__(self, server: Any, *, max_body_bytes: int,
                 cors_origins: Sequence[str] = ()) -> None:
        self.server, self.max_body = server, max_body_bytes
        self.origins = set(cors_origins)
        self.manager: Any | None = None

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Run a fresh session manager for one lifespan of the app (the SDK's runs once)."""
        from mcp.server.transport_security import TransportSecuritySettings

        # the Guard in front checks Host and Origin with serve's own names; the SDK need not
        security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
        self.server.streamable_http_app(transport_security=security,
                                        max_request_body_size=self.max_body,
                                        max_sessions=MAX_SESSIONS)
        manager = self.server.session_manager
        async with manager.run():
            self.manager = manager
            try:
                yield
            finally:
                self.manager = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", ())}
        origin = headers.get("origin")
        if foreign_origin(origin, scope, headers.get("host", ""), self.origins):
            await send_error(send, 403, "cross_origin",
                             f"requests from origin {origin!r} are not allowed")
            return
        if self.manager is None:
            await send_error(send, 503, "unavailable", "the MCP endpoint runs within the app's "
                             "lifespan (uvicorn, or `with TestClient(app)`)")
            return
        await self.manager.handle_request(scope, receive, send)


def mount_mcp(app: FastAPI, service: SearchService, *,
              cors_origins: Sequence[str] = ()) -> bool:
    """Answer MCP at :data:`MCP_PATH` of ``app``, with the tools over ``service``.

    Args:
        app: The HTTP app (:func:`~xmodal.api.http.create_app`); its middleware guards the route.
        service: The app's service: the tools call it (its index, limits and work slots).
        cors_origins: Other origins allowed (as for the app).

    Returns:
        Whether it was mounted (False when the ``mcp`` package is not installed).
    """
    try:
        from xmodal.api.mcp import create_mcp_server

        server = create_mcp_server(service, allow_index=writes_allowed(service))
    except ImportError:
        return False
    endpoint = McpEndpoint(server, max_body_bytes=service.limits.max_body_bytes,
                           cors_origins=cors_origins)
    app.router.add_route(MCP_PATH, endpoint, include_in_schema=False)  # type: ignore[arg-type]
    app.router.lifespan_context = _with_endpoint(app.router.lifespan_context, endpoint)
    return True


def writes_allowed(service: SearchService) -> bool:
    """Whether serve offers ``index_paths``: not read-only, with an index root."""
    return not service.read_only and service.index_root is not None


def busy_hint(index_uri: str, exc: BaseException) -> str:
    """What ``xmodal mcp`` prints when another process holds the index: the one-process rule
    and serve's ``/mcp`` endpoint as the way to have both.

    Example:
        >>> print(busy_hint("idx", RuntimeError("idx is open in another process")))
        ... # doctest: +ELLIPSIS
        cannot open idx: idx is open in another process.
        One process serves an embedded index, and `xmodal serve` answers MCP too: ...
    """
    return (f"cannot open {index_uri}: {exc}.\n"
            "One process serves an embedded index, and `xmodal serve` answers MCP too: when "
            f"it holds this index, point the agent at its {MCP_PATH} endpoint (streamable "
            f"HTTP; http://127.0.0.1:8000{MCP_PATH} by default, with serve's --token) "
            "instead of running `xmodal mcp` beside it.")


def _with_endpoint(lifespan: Callable[[Any], Any], endpoint: McpEndpoint
                   ) -> Callable[[Any], contextlib.AbstractAsyncContextManager[Any]]:
    """``lifespan`` with ``endpoint``'s session manager running inside it."""

    @contextlib.asynccontextmanager
    async def combined(app: Any) -> AsyncIterator[Any]:
        async with lifespan(app) as state, endpoint.running():
            yield state

    return combined

"""``GET /metrics``: the served index in Prometheus' text format.

Needs ``prometheus-client`` (in the ``serve`` extra), imported when the app is built; without
it ``/metrics`` answers 501 ``missing_dependency`` naming the extra, and nothing is counted.
Each app has its own ``CollectorRegistry`` (never the global one), so several apps in one
process (tests) keep separate counts.

Metrics::

    xmodal_http_requests_total{route,method,status}           counter: requests answered
    xmodal_http_request_duration_seconds{route,method}        histogram: to the last byte
    xmodal_searches_total{fusion,fallback}                    counter: searches (HTTP and MCP)
    xmodal_encode_seconds{model,method}                       histogram: each encode_* call
    xmodal_collection_documents{collection,model,modality}    gauge: points stored, at scrape

``route`` is the path template of the route that answered (``/items/{collection}/{id}``,
``/static``, ``/mcp``); ``other`` when none did (an unknown path, or a request the guards
refused before routing). ``fusion`` is the request's (``rrf`` or ``calibrated``; ``none`` for
a vector search), ``fallback`` whether no list was confident and every reachable collection
was searched. Encode times come from the service's
encoders (:mod:`xmodal.api.hooks`): queries, the router's labels, ``POST /index`` batches.

``/metrics`` is behind the same guards as every route (the token, when set) but takes no work
slot: the text is rendered on a worker thread outside the service's slots, so a server whose
slots are all busy can still be watched.

Example (in a test)::

    client.post("/search", json={"query": "a red heart"})
    text = client.get("/metrics").text  # ... xmodal_searches_total{fallback="false",...} 1.0
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

from fastapi import FastAPI, Request, Response

from xmodal._optional import MissingDependencyError, require
from xmodal.api.routes.errors import error_response

__all__ = ["METRICS_PATH", "Metrics", "RequestMetrics", "add_metrics"]

METRICS_PATH = "/metrics"
OTHER_ROUTE = "other"
"""The ``route`` label of a request no route answered: an unknown path, or one the guards
refused before routing (Host, token, body size, shed with 429 by admission)."""


class Metrics:
    """The instruments of one app, in their own registry, fed by ``service``'s hooks.

    Args:
        prom: The ``prometheus_client`` module.
        service: The served :class:`~xmodal.api.service.SearchService`.
    """

    def __init__(self, prom: Any, service: Any) -> None:
        self.prom = prom
        self.registry = prom.CollectorRegistry(auto_describe=True)
        reg = self.registry
        self.requests = prom.Counter("xmodal_http_requests", "HTTP requests answered.",
                                     ["route", "method", "status"], registry=reg)
        self.latency = prom.Histogram("xmodal_http_request_duration_seconds",
                                      "Time to answer an HTTP request, to its last byte.",
                                      ["route", "method"], registry=reg)
        self.searches = prom.Counter("xmodal_searches", "Searches done (HTTP and MCP).",
                                     ["fusion", "fallback"], registry=reg)
        self.encode = prom.Histogram("xmodal_encode_seconds", "Duration of each encoder call.",
                                     ["model", "method"], registry=reg)
        reg.register(_Documents(service))
        service.hooks.on_search.append(self.searched)
        service.hooks.on_encode.append(self.encoded)

    def searched(self, request: Any, result: Any) -> None:
        """Count one search by its fusion and whether it fell back."""
        fusion = "none" if request.kind == "vector" else str(request.fusion)
        fallback = any(step.startswith("fallback:") for step in result.get("trace", ()))
        self.searches.labels(fusion, "true" if fallback else "false").inc()

    def encoded(self, model: str, method: str, seconds: float) -> None:
        """Record one encoder call's duration."""
        self.encode.labels(model, method).observe(seconds)

    def render(self) -> bytes:
        """The registry in Prometheus' text format (reads the index: call off the loop)."""
        return bytes(self.prom.generate_latest(self.registry))


class _Documents:
    """A collector: points stored per collection, read from the index at each scrape."""

    def __init__(self, service: Any) -> None:
        from prometheus_client.core import GaugeMetricFamily

        self.family, self.service = GaugeMetricFamily, service

    def _empty(self) -> Any:
        return self.family("xmodal_collection_documents",
                           "Points stored per collection (documents and time segments).",
                           labels=["collection", "model", "modality"])

    def describe(self) -> Iterator[Any]:
        yield self._empty()

    def collect(self) -> Iterator[Any]:
        gauge = self._empty()
        for info in self.service.index.collections():
            gauge.add_metric([info.name, info.model, info.modality], int(info.count))
        yield gauge


class RequestMetrics:
    """ASGI middleware, outermost: counts every HTTP request by route, method and status and
    times it (requests shed or refused by the guards included, as route ``other``).
    ``paths``: plain routes FastAPI does not name in the scope (``/mcp``), labelled as is."""

    def __init__(self, app: Any, *, metrics: Metrics, paths: Sequence[str] = ()) -> None:
        self.app, self.metrics, self.paths = app, metrics, frozenset(paths)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # unless a response starts
        started, root_path = time.perf_counter(), str(scope.get("root_path", ""))

        async def send_status(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route, method = self._route(scope, root_path), scope["method"]
            self.metrics.latency.labels(route, method).observe(time.perf_counter() - started)
            self.metrics.requests.labels(route, method, str(status)).inc()

    def _route(self, scope: Any, root_path: str) -> str:
        """The path template of the route that answered, the path of the mount that did
        (``/static``, ``/mcp``: it extends ``root_path``), or ``other``."""
        route = getattr(scope.get("route"), "path", None)
        if route is not None:
            return str(route)
        if scope["path"] in self.paths:
            return str(scope["path"])
        mounted = str(scope.get("root_path", ""))
        return mounted[len(root_path):] if mounted.startswith(root_path) and \
            len(mounted) > len(root_path) else OTHER_ROUTE


def add_metrics(app: FastAPI, service: Any) -> Metrics | None:
    """Add ``GET /metrics`` to ``app``; its :class:`Metrics`, or None without
    prometheus-client (the route then answers 501). The caller adds :class:`RequestMetrics`
    as the outermost middleware."""
    try:
        metrics: Metrics | None = Metrics(require("prometheus_client", "serve"), service)
        missing = ""
    except MissingDependencyError as exc:
        metrics, missing = None, f"GET /metrics needs prometheus-client: {exc}"

    async def prometheus_metrics(request: Request) -> Response:
        """The served index's metrics, in Prometheus' text format."""
        if metrics is None:
            return error_response(501, "missing_dependency", missing)
        import anyio.to_thread

        body = await anyio.to_thread.run_sync(metrics.render)
        return Response(body, media_type=metrics.prom.CONTENT_TYPE_LATEST)

    app.add_api_route(METRICS_PATH, prometheus_metrics, methods=["GET"],
                      include_in_schema=False)
    return metrics

"""The HTTP API's outermost guard: a plain ASGI middleware (no web framework needed).

In order, for every HTTP request:

1. **Host** must name an allowed host (default: the loopback names) — a page on another site
   that rebinds its DNS name to 127.0.0.1 still sends its own name → 400 ``invalid_host``.
2. **Origin**: a non-GET request from another origin (a browser on another site) is refused
   unless that origin is listed → 403 ``cross_origin``. Requests without Origin (curl, agents)
   pass.
3. **Token** (when set), on every route: ``Authorization: Bearer T``, ``X-XModal-Token: T``,
   or the HttpOnly SameSite=Strict cookie that opening ``/?token=T`` sets (so the web page
   works in a browser) → 401 ``unauthorized`` otherwise. Compared in constant time.
4. **Body size**: a declared Content-Length above the limit, or more bytes actually streamed
   (chunked bodies), → 413 ``too_large``, before any handler parses the body.

Example:
    >>> async def app(scope, receive, send): ...
    >>> guard = Guard(app, hosts=["localhost"], token="s3cret", cors_origins=(),
    ...               max_body_bytes=1024)
    >>> hostname("[::1]:8000"), hostname("LocalHost:80"), hostname("::1")
    ('::1', 'localhost', '::1')
"""

from __future__ import annotations

import hmac
import json
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import parse_qs

COOKIE = "xmodal_token"
"""The cookie holding the token once the page was opened with ``/?token=T``."""

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def send_error(send: Callable[..., Any], status: int, code: str, detail: str,
                     headers: dict[str, str] | None = None) -> None:
    """Answer ``{"error": code, "detail": detail}`` with ``status``."""
    body = json.dumps({"error": code, "detail": detail}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})



class Lane:
    """Requests under one path prefix that wait their turn apart from all others: at most
    ``slots`` inside the app at once, at most ``queue`` more waiting (each for up to
    ``wait_s`` seconds, first come first served); a request finding the queue full, or still
    waiting after ``wait_s``, is refused (429 + Retry-After). :class:`Admission` holds a
    request's place until its whole answer is sent (a streamed file included), so ``slots``
    bounds the files read at once.

    Args:
        prefix: The paths it takes (``"/media/"``).
        slots: Requests inside at once (>= 1).
        queue: Requests waiting at most (>= 0).
        wait_s: Seconds a request may wait for a place.
        methods: The methods it takes (others on those paths are counted as usual).
    """

    def __init__(self, prefix: str, *, slots: int, queue: int, wait_s: float,
                 methods: Sequence[str] = ("GET", "HEAD")) -> None:
        if slots < 1 or queue < 0:
            raise ValueError(f"a lane needs slots >= 1 and queue >= 0, got {slots}, {queue}")
        self.prefix, self.slots, self.queue, self.wait_s = prefix, slots, queue, wait_s
        self.methods = frozenset(methods)
        self.inside = 0
        self._waiting: deque[Any] = deque()  # one anyio.Event per waiting request

    def takes(self, scope: Any) -> bool:
        """Whether the request is this lane's."""
        return scope["method"] in self.methods and scope["path"].startswith(self.prefix)

    @property
    def waiting(self) -> int:
        """Requests waiting for a place."""
        return len(self._waiting)

    async def enter(self) -> bool:
        """Take a place, waiting up to ``wait_s`` in the queue; False: refused (queue full or
        waited too long)."""
        import anyio

        if self.inside < self.slots and not self._waiting:
            self.inside += 1  # one event loop: no lock needed
            return True
        if len(self._waiting) >= self.queue:
            return False
        turn = anyio.Event()
        self._waiting.append(turn)
        try:
            with anyio.move_on_after(self.wait_s):
                await turn.wait()
        except BaseException:  # cancelled (the client went away): give back what we got
            self._give_up(turn)
            raise
        if turn.is_set():
            return True  # :meth:`leave` handed its place over
        self._waiting.remove(turn)
        return False

    def leave(self) -> None:
        """Give a place back: to the first request waiting, else free."""
        if self._waiting:
            self._waiting.popleft().set()
        else:
            self.inside -= 1

    def _give_up(self, turn: Any) -> None:
        if turn.is_set():
            self.leave()
        else:
            self._waiting.remove(turn)


class Admission:
    """ASGI middleware, outermost: answers 429 + Retry-After at once when ``max_in_flight``
    HTTP requests are already inside the app, before any parsing, routing or validation — so
    an overload is shed for the cost of one small response, and the requests let in keep
    their latency. (The service's work slots bound the *work*; this bounds the *requests*.)

    ``streams``: paths whose ``GET`` holds an event stream open without doing work (an MCP
    session's, ``/mcp``): let in uncounted, so connected agents do not use up the requests.
    ``lanes``: requests that wait for a place of their own :class:`Lane` instead (stored
    media: a page's thumbnails neither take the searches' places nor are refused at once).
    """

    def __init__(self, app: Any, *, max_in_flight: int, streams: Sequence[str] = (),
                 lanes: Sequence[Lane] = ()) -> None:
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be >= 1, got {max_in_flight}")
        self.app, self.max_in_flight, self.in_flight = app, max_in_flight, 0
        self.streams = frozenset(streams)
        self.lanes = tuple(lanes)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or (scope["method"] == "GET"
                                       and scope["path"] in self.streams):
            await self.app(scope, receive, send)
            return
        lane = next((lane for lane in self.lanes if lane.takes(scope)), None)
        if lane is not None:
            await self._in_lane(lane, scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight:
            await send_error(send, 429, "overloaded", f"{self.in_flight} requests in flight; "
                             "retry shortly", headers={"Retry-After": "1"})
            return
        self.in_flight += 1  # one event loop: no lock needed
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1

    async def _in_lane(self, lane: Lane, scope: Any, receive: Any, send: Any) -> None:
        if not await lane.enter():
            await send_error(send, 429, "overloaded", f"{lane.inside} {lane.prefix} requests "
                             f"in flight and {lane.waiting} waiting; retry shortly",
                             headers={"Retry-After": "1"})
            return
        try:
            await self.app(scope, receive, send)
        finally:
            lane.leave()


class Guard:
    """ASGI middleware: Host check, token, same-origin writes, body size (in that order)."""

    def __init__(self, app: Any, *, hosts: Sequence[str], token: str | None,
                 cors_origins: Sequence[str], max_body_bytes: int) -> None:
        self.app, self.token = app, token
        self.hosts = {h.lower().strip("[]") for h in hosts}
        self.origins = set(cors_origins)
        self.max_body = max_body_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", ())}
        host = headers.get("host", "")
        if "*" not in self.hosts and hostname(host) not in self.hosts:
            allowed = ", ".join(sorted(self.hosts))
            await send_error(send, 400, "invalid_host",
                             f"Host {host!r} is not served here (allowed: {allowed})")
            return
        method, origin = scope["method"], headers.get("origin")
        if method not in SAFE_METHODS and foreign_origin(origin, scope, host, self.origins):
            await send_error(send, 403, "cross_origin",
                             f"requests from origin {origin!r} are not allowed")
            return
        set_cookie = False
        if self.token and not (method == "OPTIONS" and origin in self.origins):
            given, set_cookie = self._given_token(scope, headers)
            if given is None or not hmac.compare_digest(given.encode("utf-8", "replace"),
                                                         self.token.encode("utf-8")):
                await send_error(send, 401, "unauthorized", "missing or wrong token "
                                 "(Authorization: Bearer TOKEN or X-XModal-Token)",
                                 {"WWW-Authenticate": "Bearer"})
                return
        if method not in SAFE_METHODS:
            try:
                declared = int(headers.get("content-length", "0") or 0)
            except ValueError:
                declared = 0
            if declared > self.max_body:
                await self._too_large(declared, send)
                return
            chunks, total, more = [], 0, True
            while more:
                message = await receive()
                if message["type"] != "http.request":
                    break
                chunk = message.get("body", b"")
                total += len(chunk)
                if total > self.max_body:
                    await self._too_large(total, send)
                    return
                chunks.append(chunk)
                more = message.get("more_body", False)
            receive = _replay(b"".join(chunks), receive)
        if set_cookie:
            send = _with_cookie(send, self.token or "")
        await self.app(scope, receive, send)

    def _given_token(self, scope: Any, headers: dict[str, str]) -> tuple[str | None, bool]:
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip(), False
        if "x-xmodal-token" in headers:
            return headers["x-xmodal-token"], False
        for part in headers.get("cookie", "").split(";"):
            key, _, value = part.strip().partition("=")
            if key == COOKIE:
                return value, False
        if scope["method"] == "GET" and scope["path"] == "/":  # the page's launch link
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            if query.get("token"):
                return query["token"][0], True
        return None, False

    async def _too_large(self, size: int, send: Any) -> None:
        await send_error(send, 413, "too_large", f"the request body has at least {size} "
                         f"bytes; the limit is {self.max_body}")


def hostname(host: str) -> str:
    """The name in a Host header, without port or IPv6 brackets, lower-cased."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    return host.split(":")[0] if host.count(":") == 1 else host


def foreign_origin(origin: str | None, scope: Any, host: str, allowed: set[str]) -> bool:
    """True when an Origin header names another site than the one asked (``host``) and is not
    in ``allowed``; False without one (curl, agents).

    Example:
        >>> scope = {"scheme": "http"}
        >>> foreign_origin("http://evil.example", scope, "127.0.0.1:8000", set())
        True
        >>> foreign_origin("http://127.0.0.1:8000", scope, "127.0.0.1:8000", set())
        False
    """
    if not origin or origin in allowed:
        return False
    return origin.lower() != f"{scope.get('scheme', 'http')}://{host}"


def _replay(body: bytes, receive: Callable[..., Any]) -> Callable[..., Any]:
    sent = False

    async def replay() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _with_cookie(send: Callable[..., Any], token: str) -> Callable[..., Any]:
    async def wrapped(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            cookie = f"{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/"
            message = {**message, "headers": [*message.get("headers", []),
                                              (b"set-cookie", cookie.encode("latin-1"))]}
        await send(message)

    return wrapped

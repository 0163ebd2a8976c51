"""An MCP server over one index: three tools an agent can call to search it.

``search`` (text, an image or a clip as base64, or a raw vector; ``thumbnails=N`` adds the
images of its first N image or video hits), ``describe_collections`` (what each collection
holds and how its scores read) and ``fetch_item`` (one stored record, with the media an agent
can look at or hear: :mod:`xmodal.api.mcp_media`). A fourth, ``index_paths``, writes: it is
listed only when the server is started with it (``xmodal mcp --allow-index --root DIR``,
:mod:`xmodal.api.mcp_index`) and indexes under that root alone, as ``POST /index`` does.
Every tool calls :class:`~xmodal.api.service.SearchService`, so inputs meet the same limits and
refusals as the HTTP API; a refusal (empty query, k out of range, NaN vector, unknown
collection, wrong dimension, missing item) comes back as a tool error (``isError``) whose text
names the problem, and the session stays up. Tools run their work as the HTTP routes do
(:func:`~xmodal.api.runner.run_blocking`: a work slot, the request timeout);
``describe_collections`` and ``fetch_item`` answer :mod:`xmodal.api.catalog`.

Transports: stdio (``xmodal mcp --index DIR``, for a desktop agent) and streamable HTTP
(``--transport http``, bound to 127.0.0.1 with the SDK's DNS-rebinding protection on; the
loopback rule and the token requirement are ``xmodal serve``'s, :mod:`xmodal.api.binding`).
``xmodal serve`` answers the same tools at its own ``/mcp`` (:mod:`xmodal.api.mcp_mount`): an
embedded index opens in one process only, so on an index that ``xmodal serve`` holds,
``xmodal mcp`` exits 2 naming that endpoint.
Needs the ``serve`` extra: ``pip install 'xmodal[serve]'``.

Example (in-process, exact store, vectors only)::

    >>> import asyncio, tempfile, numpy as np
    >>> from mcp import Client
    >>> from xmodal.index import open_index
    >>> folder = tempfile.mkdtemp()
    >>> with open_index("exact:" + folder) as index:
    ...     col = index.create_collection("toy.image", dim=2, model="toy", modality="image")
    ...     _ = col.upsert(["a", "b"], np.eye(2), [{"modality": "image"}] * 2)
    >>> service = SearchService("exact:" + folder, router_model=None)
    >>> async def ask():
    ...     async with Client(create_mcp_server(service), mode="legacy") as client:
    ...         got = await client.call_tool("search", {"vector": [0.0, 2.0],
    ...                                                 "collection": "toy.image", "k": 1})
    ...         return got.structured_content["hits"][0]["id"]
    >>> asyncio.run(ask())
    'b'
    >>> service.close()
"""

from __future__ import annotations

import base64
import binascii
import sys
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Annotated, Any

try:  # pydantic comes with the SDK (the serve extra); create_mcp_server says so if missing
    from mcp_types import CallToolResult
    from pydantic import Field
except ImportError:  # pragma: no cover
    Field = CallToolResult = None  # type: ignore[assignment,misc]

from xmodal.api.binding import Transport, check_bind, check_transport, host_names, serve_limits
from xmodal.api.catalog import MAX_TEXT_CHARS, DescribeJSON, ItemJSON, describe, read_item
from xmodal.api.limits import BadInput, InputTooLarge, error_status
from xmodal.api.mcp_index import check_index_root, index_tool
from xmodal.api.mcp_media import MAX_THUMBNAILS, hit_blocks, item_blocks, tool_result
from xmodal.api.mcp_mount import busy_hint
from xmodal.api.runner import run_blocking
from xmodal.api.service import SearchService
from xmodal.index.filters import FILTER_HELP
from xmodal.index.types import IndexBusyError
from xmodal.modalities import Modality
from xmodal.search.hits import SearchJSON
from xmodal.search.request import PIVOT_HELP, RERANK_DEPTH, RERANK_HELP, Fusion

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

__all__ = ["DEFAULT_PORT", "MAX_TEXT_CHARS", "create_mcp_server", "mcp_http_app", "run_mcp"]

DEFAULT_PORT = 8765
"""Port of ``xmodal mcp --transport http`` (``xmodal serve`` uses 8000)."""

INSTRUCTIONS = (
    "Search a multimodal index (images, audio, text). Call describe_collections first to see "
    "the collections, their models, score thresholds and routes (which query modality reaches "
    "which documents); then search with a text query (it is "
    "routed to the right document modality), an image/audio example as base64, or a raw "
    "vector; fetch_item reads one stored record (an image or video comes with a picture, a "
    "sound with a short clip; search's thumbnails=N shows the top N images). Scores are raw "
    "cosines per list; a fused score (fused=true) ranks results but is not a similarity. A "
    "hit on a long recording carries t_start / t_end (seconds) of its best-matching segment."
)


def _require_mcp() -> Any:
    """The SDK's server module, or an ImportError naming the extra."""
    try:
        from mcp.server import mcpserver
    except ImportError as exc:  # pragma: no cover - exercised by the sys.modules test
        raise ImportError("the MCP server needs the 'mcp' package: pip install "
                          "'xmodal[serve]'") from exc
    return mcpserver


def _decode(data: str, what: str, limit: int) -> bytes:
    """Base64 text → bytes, refusing malformed or oversized content before decoding."""
    if len(data) > limit * 4 // 3 + 4:
        raise InputTooLarge(f"{what} holds about {len(data) * 3 // 4} bytes; the limit is "
                            f"{limit}")
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadInput(f"{what} is not valid base64 ({exc})") from exc


def _search_tool(service: SearchService,
                 call: Callable[[Callable[[], Any]], Awaitable[Any]]) -> Callable[..., Any]:
    """The ``search`` tool over ``service``: every field of
    :class:`~xmodal.search.request.SearchRequest` (image and audio as base64) plus ``model``;
    ``call`` runs its work in a slot and turns refusals into tool errors."""

    async def search(
        query: Annotated[str | None, Field(description="Text query, e.g. 'a dog barking' or "
                                           "'red heart emoji'.")] = None,
        k: Annotated[int, Field(description="Hits wanted (1..max_k, see "
                                "describe_collections).")] = 10,
        modalities: Annotated[list[Modality] | None, Field(
            description="Document modalities to search; default: the router decides "
            "from the query.")] = None,
        collections: Annotated[list[str] | None, Field(
            description="Search only these collections (names from "
            "describe_collections).")] = None,
        mixed: Annotated[bool, Field(description="Search every modality and fuse by "
                                     "rank.")] = False,
        image_base64: Annotated[str | None, Field(description="Query by example: an image "
                                                  "file, base64-encoded.")] = None,
        audio_base64: Annotated[str | None, Field(description="Query by example: an audio "
                                                  "file, base64-encoded.")] = None,
        vector: Annotated[list[float] | None, Field(
            description="A raw query vector of `collection`'s model (its dim).")] = None,
        collection: Annotated[str | None, Field(description="The collection `vector` "
                                                "searches (required with it).")] = None,
        filter: Annotated[dict[str, Any] | None, Field(description=FILTER_HELP)] = None,
        model: Annotated[str | None, Field(description="With `vector`: the model that made "
                                           "it (refused when not the collection's).")] = None,
        route: Annotated[bool, Field(description="Let the router pick the document modality "
                                     "of a text query (false: every modality).")] = True,
        fusion: Annotated[Fusion, Field(description="'rrf' fuses lists by rank; 'calibrated' "
                                        "by calibrated probability when every list searched "
                                        "is calibrated (else rrf).")] = "rrf",
        rrf_k: Annotated[float, Field(description="RRF rank constant: score = sum of weight / "
                                      "(rrf_k + rank).")] = 60.0,
        weights: Annotated[dict[str, float] | None, Field(
            description="RRF weight (>= 0, default 1) per collection name, or per list name "
            "'COLLECTION[modality]'.")] = None,
        project: Annotated[bool, Field(description="Apply the collection's stored gap "
                                       "projection to the query vector (for comparing raw "
                                       "cosines across modalities).")] = False,
        per_segment: Annotated[bool, Field(description="Return the time segments of long "
                                           "recordings as separate hits, instead of one hit "
                                           "per document with its best segments.")] = False,
        rerank: Annotated[str | None, Field(description=RERANK_HELP)] = None,
        rerank_depth: Annotated[int, Field(description="How many text-bearing hits the "
                                           "rerank cross-encoder rescores.")] = RERANK_DEPTH,
        pivot: Annotated[bool, Field(description=PIVOT_HELP)] = True,
        thumbnails: Annotated[int, Field(ge=0, le=MAX_THUMBNAILS, description=(
            "Attach the image of the first N image or video hits (a thumbnail, a video's "
            "keyframe), each after a line naming the hit; 0: none."))] = 0,
    ) -> Annotated[CallToolResult, SearchJSON]:
        """Search the index for images, sounds and text documents.

        Give exactly one of: query (text), image_base64 / audio_base64 (find similar), or
        vector + collection. Text queries are cross-modal: the router picks the document
        modality ('the sound of rain' → audio) unless modalities or mixed say otherwise.
        Each hit has raw cosine scores and ranks per list, calibrated probabilities when the
        collection is calibrated, and `score` (a raw cosine, or a rank-fusion score when
        fused=true: that one is not a similarity). A hit on a long recording has t_start /
        t_end (seconds) of its best segment and its next best `segments`; per_segment lists
        segments as hits. `trace` explains the routing; `errors` names the lists that failed.
        fusion, rrf_k and weights set how several lists are fused; collections / collection
        restrict the search. thumbnails=N shows the first N image or video hits as images.
        rerank names a cross-encoder that rescores a text query's top hits (its own list).
        An image or audio query reaches documents no model embeds with it (image → audio)
        through text (a list pivot:MODEL→COLLECTION, fused by rank; pivot=false: off).
        """
        def run() -> Any:
            limit = service.limits.max_body_bytes
            image = None if image_base64 is None else _decode(image_base64, "image_base64",
                                                              limit)
            audio = None if audio_base64 is None else _decode(audio_base64, "audio_base64",
                                                              limit)
            found = service.search(
                model=model, query=query, image=image, audio=audio, vector=vector,
                collection=collection, collections=collections, k=k, modalities=modalities,
                mixed=mixed, route=route, fusion=fusion, project=project, filter=filter,
                rrf_k=rrf_k, weights=weights, per_segment=per_segment, rerank=rerank,
                rerank_depth=rerank_depth, pivot=pivot)
            if not thumbnails:
                return found  # the SDK writes it as before: its JSON text, structured
            return tool_result(found, hit_blocks(service, found["hits"], thumbnails))

        return await call(run)

    return search


def create_mcp_server(service: SearchService, *, name: str = "xmodal",
                      allow_index: bool = False) -> MCPServer:
    """An MCP server (the SDK's ``MCPServer``) whose tools search ``service``'s index.

    Args:
        service: The open service every tool calls (the caller closes it).
        name: The server's name, as clients see it.
        allow_index: Also offer the write tool ``index_paths`` (the service's
            :meth:`~SearchService.index_paths`: only under its index root, refused when it is
            read-only or has none). Off: the tool is not listed.

    Returns:
        The server: ``server.run("stdio")``, or ``server.streamable_http_app()`` to mount.

    Example:
        >>> server = create_mcp_server(service)  # doctest: +SKIP
        >>> server.run("stdio")  # doctest: +SKIP
    """
    mcpserver = _require_mcp()
    from mcp.server.mcpserver.exceptions import ToolError
    from mcp_types import ToolAnnotations

    from xmodal import __version__

    server = mcpserver.MCPServer(name, version=__version__, instructions=INSTRUCTIONS)
    read_only = ToolAnnotations(read_only_hint=True, idempotent_hint=True,
                                open_world_hint=False)

    async def call(fn: Callable[[], Any], timeout_s: float | None = None) -> Any:
        """``fn`` run like an HTTP route's work (:func:`~xmodal.api.runner.run_blocking`); an
        expected refusal (overloaded, timeout, bad input…) becomes a tool error naming it."""
        try:
            return await run_blocking(service, fn,
                                      timeout_s=timeout_s or service.limits.request_timeout_s)
        except Exception as exc:
            status = error_status(exc)
            if status is None:
                raise
            raise ToolError(f"{status[1]}: {exc}") from exc

    server.tool(annotations=read_only, structured_output=True)(_search_tool(service, call))

    @server.tool(annotations=read_only, structured_output=True)
    async def describe_collections() -> DescribeJSON:
        """List every collection: its modality, size, model (family, modalities, dim,
        strengths), and per query modality the raw-cosine threshold above which a hit is
        likely relevant (calibrated, or the family default); and the routes: which query
        modality (text, image, audio) reaches which documents, directly, through a text pivot,
        or not at all (with the models to add). Call this first to choose collections,
        modalities and k."""
        return await call(partial(describe, service))

    @server.tool(annotations=read_only, structured_output=True)
    async def fetch_item(
        collection: Annotated[str, Field(description="The collection name (a hit's "
                                         "`collection`).")],
        id: Annotated[str, Field(description="The item id (a hit's `id`).")],
        with_vector: Annotated[bool, Field(description="Also return the stored unit "
                                           "vector.")] = False,
    ) -> Annotated[CallToolResult, ItemJSON]:
        """Read one stored item: its payload (path, modality, caption…), its stored vector if
        asked, and for a text document the document's text (as indexed, cut at 20,000
        characters). An image comes with a thumbnail (longest side 512 px), a video or video
        segment with its keyframe, an audio item with a clip (at most 30 s, 16 kHz mono WAV,
        from a segment's t_start)."""
        def run() -> Any:
            item = read_item(service, collection, id, with_vector=with_vector)
            blocks = item_blocks(service, collection, id, item["payload"])
            return tool_result(item, blocks) if blocks else item  # text: as before

        return await call(run)

    if allow_index:
        writes = ToolAnnotations(read_only_hint=False, destructive_hint=True,
                                 idempotent_hint=True, open_world_hint=False)
        server.tool(annotations=writes, structured_output=True)(index_tool(service, call))
    return server


def mcp_http_app(server: MCPServer, *, host: str = "127.0.0.1",
                 allowed_hosts: list[str] | None = None,
                 max_body_bytes: int = 25 * 1024 * 1024, token: str | None = None) -> Any:
    """The streamable-HTTP ASGI app of ``server`` (endpoint ``/mcp``), with the SDK's
    DNS-rebinding protection on: the Host header must be loopback, ``host`` itself, or one of
    ``allowed_hosts`` (``"name:*"`` for any port), and an Origin must match one of them.

    Args:
        server: From :func:`create_mcp_server`.
        host: The address the app is bound to.
        allowed_hosts: More Host header values to accept.
        max_body_bytes: Largest upload a tool call carries (base64 adds a third on top).
        token: When given, every request must carry it (``Authorization: Bearer TOKEN`` or
            ``X-XModal-Token``), as ``xmodal serve`` checks it; 401 otherwise.

    Example:
        >>> import uvicorn  # doctest: +SKIP
        >>> uvicorn.run(mcp_http_app(create_mcp_server(service)), port=8765)  # doctest: +SKIP
    """
    _require_mcp()
    from mcp.server.transport_security import TransportSecuritySettings

    hosts = [f"[{h}]:*" if ":" in h else f"{h}:*" for h in host_names(host)]
    hosts += allowed_hosts or []
    origins = [f"{scheme}://{h}" for h in hosts for scheme in ("http", "https")]
    security = TransportSecuritySettings(enable_dns_rebinding_protection=True,
                                         allowed_hosts=hosts, allowed_origins=origins)
    limit = max_body_bytes * 4 // 3 + 65536
    app = server.streamable_http_app(transport_security=security, host=host,
                                     max_request_body_size=limit)
    if token:
        from xmodal.api.guard import Guard

        # hosts "*": the SDK checks Host and Origin itself (above); Guard adds the token
        app = Guard(app, hosts=["*"], token=token, cors_origins=(), max_body_bytes=limit)
    return app


def run_mcp(index_uri: str, *, transport: Transport = "stdio",
            host: str = "127.0.0.1", port: int = DEFAULT_PORT,
            router_model: str | None = "minilm", max_concurrency: int | None = None,
            allowed_hosts: list[str] | None = None,
            load: Callable[[str], Any] | None = None, token: str | None = None,
            allow_index: bool = False, root: str | None = None, device: str = "cpu",
            batch_size: int | None = None, rerankers: Sequence[str] = ()) -> int:
    """Serve the MCP tools over one index until stopped; the exit status.

    Args:
        index_uri: What :func:`xmodal.index.open_index` opens.
        transport: ``"stdio"`` (stdin/stdout, for a local agent) or ``"http"`` (streamable
            HTTP at ``http://HOST:PORT/mcp``).
        host: Address to bind (HTTP). Loopback by default; the Host header is checked
            against it (DNS-rebinding protection) in every case.
        port: Port (HTTP).
        router_model: Text model of the query router ('' or None: rules only).
        max_concurrency: Tool calls worked on at once (default: 2 × cores; below 1: exit 2).
        allowed_hosts: More Host header values to accept (HTTP), e.g. ``"mcp.example:*"``.
        load: Encoder loader by model name (tests); default ``load_encoder``.
        token: Required on every HTTP request when given; binding HTTP to a non-loopback
            address without one is refused (exit 2), as for ``xmodal serve``.
        allow_index: Offer the write tool ``index_paths``, confined to ``root`` (required
            with it; exit 2 without, or when it is not a folder). Off: the index is opened
            read-only and the tool is not listed.
        root: The folder ``index_paths`` may index under (``xmodal serve --root``'s rule).
        device: Torch device of the models (checked by the caller); ignored with ``load``.
        batch_size: Items per encoder forward pass (None: the encoders' own).
        rerankers: The cross-encoders a search's ``rerank`` may pick (loaded at start).

    Raises:
        ValueError: ``transport`` is neither ``"stdio"`` nor ``"http"``.

    Example:
        >>> run_mcp("xmodal-index", transport="http", port=8765)  # doctest: +SKIP
    """
    check_transport(transport)
    try:
        if transport == "http":
            check_bind(host, token=token)
        limits = serve_limits(max_concurrency)
        check_index_root(allow_index, root)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _require_mcp()
    try:
        service = SearchService(index_uri, load=load, router_model=router_model or None,
                                limits=limits, read_only=not allow_index,
                                index_root=root if allow_index else None, device=device,
                                batch_size=batch_size, rerankers=rerankers)
    except IndexBusyError as exc:  # another process holds the embedded index
        print(f"error: {busy_hint(index_uri, exc)}", file=sys.stderr)
        return 2
    try:
        server = create_mcp_server(service, allow_index=allow_index)
        if transport == "stdio":
            server.run("stdio")
            return 0
        import uvicorn

        app = mcp_http_app(server, host=host, allowed_hosts=allowed_hosts,
                           max_body_bytes=limits.max_body_bytes, token=token)
        print(f"xmodal MCP server: http://{host}:{port}/mcp", file=sys.stderr)
        uvicorn.run(app, host=host, port=port, log_level="warning")
        return 0
    finally:
        service.close()

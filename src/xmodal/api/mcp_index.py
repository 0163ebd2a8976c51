"""The opt-in write tool of the MCP server: ``index_paths``, listed only when ``xmodal mcp`` is
started with ``--allow-index --root DIR``.

It calls :meth:`~xmodal.api.service.SearchService.index_paths`, the work of HTTP
``POST /index``: the same confinement to the root (:mod:`xmodal.api.folders`: no ``..``, no
symbolic link, nothing outside the root; each refusal names the path), the same report as
``xmodal index --json``, within ``index_timeout_s``. Without the flag the service is opened
read-only and the tool does not exist.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Annotated, Any

try:  # pydantic comes with the SDK (the serve extra)
    from pydantic import Field
except ImportError:  # pragma: no cover
    Field = None  # type: ignore[assignment,misc]

from xmodal.index.ingest import IndexReportJSON

if TYPE_CHECKING:
    from xmodal.api.service import SearchService

__all__ = ["check_index_root", "index_tool"]


def index_tool(service: SearchService,
                call: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
    """The opt-in ``index_paths`` tool: :meth:`SearchService.index_paths` (``POST /index``'s
    work, confined to the service's index root), within ``index_timeout_s``."""

    async def index_paths(
        paths: Annotated[list[str], Field(description="Files and folders under the server's "
                                          "--root (relative, or absolute inside it); no '..', "
                                          "no symbolic links.")],
        prune: Annotated[bool, Field(description="Delete the documents of files gone from "
                                     "these paths (never any other).")] = False,
    ) -> IndexReportJSON:
        """Index files and folders under the server's root folder into the index (new and
        changed files; unchanged ones are skipped), as `xmodal index --json` reports it:
        what was indexed, skipped and failed, with reasons. Paths outside the root are
        refused."""
        return await call(partial(service.index_paths, paths, prune=prune),
                          timeout_s=service.limits.index_timeout_s)

    return index_paths


def check_index_root(allow_index: bool, root: str | None) -> None:
    """ValueError unless ``--allow-index`` and ``--root DIR`` (a folder) come together."""
    from xmodal.api.folders import index_root

    if allow_index and root is None:
        raise ValueError("--allow-index needs --root DIR: the folder index_paths may index")
    if root is not None and not allow_index:
        raise ValueError("--root is the folder of the index_paths tool: add --allow-index")
    if root is not None:
        index_root(root)  # a folder, or ValueError naming it

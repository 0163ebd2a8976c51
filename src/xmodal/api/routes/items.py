"""Stored records and the files behind them.

::

    GET /items/{collection}/{id}  {"id", "payload", "vector"? (with ?vector=true)}
    GET /media/{doc_id}           the original file of an indexed document
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse

from xmodal.api.models import ERRORS, ItemResponse
from xmodal.api.routes.deps import RunnerDep, ServiceDep
from xmodal.api.routes.errors import ApiError

router = APIRouter(responses=ERRORS)

MEDIA = {"description": "The original file", "content": {
    "application/octet-stream": {}, "image/*": {}, "audio/*": {}, "text/*": {}}}


@router.get("/items/{collection}/{id}", response_model=ItemResponse,
            response_model_exclude_unset=True)
async def item(collection: str, id: str, service: ServiceDep, run: RunnerDep,
               vector: Annotated[bool, Query()] = False) -> Any:
    """One stored record (its vector with ``?vector=true``)."""
    got = await run(service.get, collection, [id], vector)
    if got[0] is None:
        raise ApiError(404, "not_found", f"no item {id!r} in {collection}")
    return got[0]


@router.get("/media/{doc_id}", response_class=FileResponse, responses={200: MEDIA})
async def media(doc_id: str, service: ServiceDep, run: RunnerDep) -> Any:
    """The original file of an indexed document (for thumbnails and players)."""
    return FileResponse(await run(service.media_path, doc_id))

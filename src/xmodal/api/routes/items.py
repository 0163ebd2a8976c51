"""Stored records and the files behind them.

::

    GET /items/{collection}/{id}  {"id", "payload", "vector"? (with ?vector=true)}
    GET /media/{doc_id}           the original file of an indexed document (Range requests
                                  answered 206; a video with its video/* type)
    GET /media/{doc_id}/frame     the frame of a video document at ?t=SECONDS, as a JPEG
                                  (&width=PIXELS, at most 1280; 640 by default)
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, Response

from xmodal.api.frames import DEFAULT_WIDTH, MAX_WIDTH, VIDEO_TYPES, video_frame
from xmodal.api.models import ERRORS, ItemResponse
from xmodal.api.routes.deps import RunnerDep, ServiceDep
from xmodal.api.routes.errors import ApiError

router = APIRouter(responses=ERRORS)

MEDIA = {"description": "The original file", "content": {
    "application/octet-stream": {}, "image/*": {}, "audio/*": {}, "video/*": {}, "text/*": {}}}
PARTIAL = {"description": "The requested byte range of the file (a ``Range`` request)",
           "content": {"application/octet-stream": {}, "audio/*": {}, "video/*": {}}}
FRAME = {"description": "The frame shown at ``t``, as a JPEG",
         "content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}}}


@router.get("/items/{collection}/{id}", response_model=ItemResponse,
            response_model_exclude_unset=True)
async def item(collection: str, id: str, service: ServiceDep, run: RunnerDep,
               vector: Annotated[bool, Query()] = False) -> Any:
    """One stored record (its vector with ``?vector=true``)."""
    got = await run(service.get, collection, [id], vector)
    if got[0] is None:
        raise ApiError(404, "not_found", f"no item {id!r} in {collection}")
    return got[0]


@router.get("/media/{doc_id}", response_class=FileResponse,
            responses={200: MEDIA, 206: PARTIAL, 416: {"description": "Range not satisfiable"}})
async def media(doc_id: str, service: ServiceDep, run: RunnerDep) -> Any:
    """The original file of an indexed document (for thumbnails and players).

    A ``Range: bytes=A-B`` request is answered ``206`` with those bytes (players seek with
    it); a video is served with its own type (``video/mp4``, ``video/webm``…).
    """
    path = await run(service.media_path, doc_id)
    return FileResponse(path, media_type=VIDEO_TYPES.get(path.suffix.lower()))


@router.get("/media/{doc_id}/frame", response_class=Response, responses={200: FRAME})
async def frame(doc_id: str, service: ServiceDep, run: RunnerDep,
                t: Annotated[float, Query(ge=0, description="Seconds from the start")],
                width: Annotated[int, Query(ge=1, le=MAX_WIDTH, description=(
                    "The widest the image may be, in pixels"))] = DEFAULT_WIDTH) -> Any:
    """The frame of a video document shown at ``t`` seconds (a segment's keyframe, a hit's
    poster), as a JPEG at most ``width`` pixels wide.

    ``t`` outside the video's duration is 422 ``bad_time``; a document that is no video (or
    holds no picture) 422 ``not_a_video``; a corrupt or truncated file 422 ``bad_video``.
    """
    path = await run(service.media_path, doc_id)
    jpeg = await run(video_frame, path, t, width=width)
    return Response(jpeg, media_type="image/jpeg",
                    headers={"Cache-Control": "private, max-age=3600"})

"""The files behind stored documents, served apart from the search work
(:mod:`xmodal.api.media`: their own places, ETag and 304, Cache-Control, ranges).

::

    GET /media/{doc_id}           the original file of an indexed document (Range requests
                                  answered 206; a video with its video/* type)
    GET /media/{doc_id}/frame     the frame of a video document at ?t=SECONDS, as a JPEG
                                  (&width=PIXELS, at most 1280; 640 by default)
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, Response

from xmodal.api.frames import DEFAULT_WIDTH, MAX_WIDTH, VIDEO_TYPES, video_frame
from xmodal.api.media import in_thread, not_modified, stored_file
from xmodal.api.models import ERRORS
from xmodal.api.routes.deps import ServiceDep

router = APIRouter(responses=ERRORS)

MEDIA = {"description": "The original file", "content": {
    "application/octet-stream": {}, "image/*": {}, "audio/*": {}, "video/*": {}, "text/*": {}}}
PARTIAL = {"description": "The requested byte range of the file (a ``Range`` request)",
           "content": {"application/octet-stream": {}, "audio/*": {}, "video/*": {}}}
FRAME = {"description": "The frame shown at ``t``, as a JPEG",
         "content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}}}
NOT_MODIFIED = {"description": "``If-None-Match`` names the current ETag: keep your copy"}

@router.get("/media/{doc_id}", response_class=FileResponse,
            responses={200: MEDIA, 206: PARTIAL, 304: NOT_MODIFIED,
                       416: {"description": "Range not satisfiable"}})
async def media(doc_id: str, request: Request, service: ServiceDep) -> Any:
    """The original file of an indexed document (for thumbnails and players).

    A ``Range: bytes=A-B`` request is answered ``206`` with those bytes (players seek with
    it); a video is served with its own type (``video/mp4``, ``video/webm``…). ``ETag`` and
    ``Cache-Control`` come with it; ``If-None-Match`` with that ETag answers ``304``.
    """
    found = await in_thread(stored_file, service, doc_id,
                            timeout_s=service.limits.request_timeout_s)
    if not_modified(request.headers.get("if-none-match"), found.etag):
        return Response(status_code=304, headers=found.headers)
    return FileResponse(found.path, media_type=VIDEO_TYPES.get(found.path.suffix.lower()),
                        headers=found.headers, stat_result=found.stat)


@router.get("/media/{doc_id}/frame", response_class=Response,
            responses={200: FRAME, 304: NOT_MODIFIED})
async def frame(doc_id: str, request: Request, service: ServiceDep,
                t: Annotated[float, Query(ge=0, description="Seconds from the start")],
                width: Annotated[int, Query(ge=1, le=MAX_WIDTH, description=(
                    "The widest the image may be, in pixels"))] = DEFAULT_WIDTH) -> Any:
    """The frame of a video document shown at ``t`` seconds (a segment's keyframe, a hit's
    poster), as a JPEG at most ``width`` pixels wide.

    ``t`` outside the video's duration is 422 ``bad_time``; a document that is no video (or
    holds no picture) 422 ``not_a_video``; a corrupt or truncated file 422 ``bad_video``.
    """
    timeout = service.limits.request_timeout_s
    found = await in_thread(stored_file, service, doc_id, timeout_s=timeout)
    headers = {**found.headers, "ETag": f'{found.etag[:-1]}-t{t:g}-w{width}"'}
    if not_modified(request.headers.get("if-none-match"), headers["ETag"]):
        return Response(status_code=304, headers=headers)
    jpeg = await in_thread(video_frame, found.path, t, width=width, timeout_s=timeout)
    return Response(jpeg, media_type="image/jpeg", headers=headers)

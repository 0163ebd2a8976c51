"""Search: by a text query or a raw vector (JSON), or by an example file (multipart).

::

    POST /search       {"query": ...} or {"vector": [...], "collection": ...}
    POST /search/file  multipart: file, modality?, and the search options

Both build the same :class:`~xmodal.search.request.SearchRequest` (through the service, which
adds the served limits) and answer :class:`~xmodal.search.hits.SearchJSON`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form

from xmodal.api.limits import guess_modality
from xmodal.api.models import ERRORS, SearchFileForm, SearchRequest
from xmodal.api.routes.deps import RunnerDep, ServiceDep
from xmodal.search.hits import SearchJSON

router = APIRouter(responses=ERRORS)


@router.post("/search", response_model=SearchJSON)
async def search(body: SearchRequest, service: ServiceDep, run: RunnerDep) -> Any:
    """Search with a text query (routed, fused by rank) or one collection's vector."""
    return await run(service.search, model=body.model, **body.search_fields())


@router.post("/search/file", response_model=SearchJSON)
async def search_file(form: Annotated[SearchFileForm, Form(media_type="multipart/form-data")],
                      service: ServiceDep, run: RunnerDep) -> Any:
    """Query by example: an uploaded image or audio file."""
    data = await form.file.read()

    def by_example() -> Any:
        kind = form.modality or guess_modality(data, content_type=form.file.content_type,
                                               filename=form.file.filename)
        return service.search(**{kind: data}, **form.search_fields())

    return await run(by_example)

"""Stored records (the files behind them: :mod:`xmodal.api.routes.media`).

::

    GET /items/{collection}/{id}  {"id", "payload", "vector"? (with ?vector=true)}
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from xmodal.api.models import ERRORS, ItemResponse
from xmodal.api.routes.deps import RunnerDep, ServiceDep
from xmodal.api.routes.errors import ApiError

router = APIRouter(responses=ERRORS)


@router.get("/items/{collection}/{id}", response_model=ItemResponse,
            response_model_exclude_unset=True)
async def item(collection: str, id: str, service: ServiceDep, run: RunnerDep,
               vector: Annotated[bool, Query()] = False) -> Any:
    """One stored record (its vector with ``?vector=true``)."""
    got = await run(service.get, collection, [id], vector)
    if got[0] is None:
        raise ApiError(404, "not_found", f"no item {id!r} in {collection}")
    return got[0]
